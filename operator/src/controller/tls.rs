//! The cluster's TLS Secrets (`docs/design.md`, "Gluster TLS"): `<name>-tls` (the CAs and every
//! certificate) and `<name>-client-tls` (what a client mounts with), both owned by the cluster.
//!
//! [`ensure_tls`] reads them with `get` (the operator may not list or watch Secrets): material
//! that exists is read back and used as it is (a restarted operator issues nothing new), new
//! nodes get a certificate, and a new cluster gets its CA. Whether a cluster has TLS at all is
//! [`crate::tls::tls_mode`]'s rule; the TLS Secret is made before the SSH key Secret, so an SSH
//! key Secret without a TLS Secret means a cluster built without TLS.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::api::GlusterCluster;
use crate::tls::{ClusterTls, TlsError, TlsMode, tls_mode};

use super::context::Context;
use super::error::ReconcileError;
use super::owner::Owner;

/// The names and owner of a cluster's Secrets.
#[derive(Clone, Debug)]
pub struct TlsSecrets<'a> {
    /// The cluster (`metadata.name`).
    pub cluster: &'a str,
    /// Its UID (in the CA's subject; the owner reference's UID).
    pub uid: &'a str,
    /// `<name>-tls`.
    pub tls: String,
    /// `<name>-client-tls`.
    pub client: String,
    /// `<name>-ssh` (only its existence is read).
    pub ssh: String,
    /// The owner reference both Secrets carry.
    pub owner: OwnerReference,
}

/// The cluster's TLS material with a certificate for each of `nodes` (`None`: the cluster has
/// no TLS); its Secrets are created or extended where needed ([`ensure_tls`]).
pub async fn cluster_tls(
    ctx: &Context,
    cluster: &GlusterCluster,
    owner: &Owner,
    nodes: &[&str],
) -> Result<Option<ClusterTls>, ReconcileError> {
    let owner_ref = cluster
        .controller_owner_ref(&())
        .ok_or(ReconcileError::MissingMetadata("metadata.uid"))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let names = TlsSecrets {
        cluster: &owner.name,
        uid: &owner.uid,
        tls: owner.tls_secret_name(),
        client: owner.client_tls_secret_name(),
        ssh: owner.keys_secret_name(),
        owner: owner_ref,
    };
    ensure_tls(&secrets, &names, cluster.spec.volume.tls_wanted(), nodes).await
}

/// The cluster's TLS material with a certificate for each of `nodes`, or `None` when the
/// cluster has no TLS ([`TlsMode`]): Secrets created or extended where needed.
pub async fn ensure_tls(
    secrets: &Api<Secret>,
    names: &TlsSecrets<'_>,
    spec_tls: bool,
    nodes: &[&str],
) -> Result<Option<ClusterTls>, ReconcileError> {
    let now = jiff::Timestamp::now();
    let existing = secrets.get_opt(&names.tls).await?;
    let ssh_exists = match &existing {
        Some(_) => true,
        None => secrets.get_opt(&names.ssh).await?.is_some(),
    };
    match tls_mode(spec_tls, existing.is_some(), ssh_exists) {
        TlsMode::On => {}
        TlsMode::Disabled => return Ok(None),
        TlsMode::PlainCluster => {
            tracing::info!(
                "the cluster was built without TLS: spec.volume.tls is not applied to it (docs/design.md, Gluster TLS)"
            );
            return Ok(None);
        }
    }
    let tls = match existing {
        Some(secret) => {
            check_owner(&names.tls, &secret, names.uid)?;
            let mut tls = ClusterTls::from_data(&names.tls, &secret.data.unwrap_or_default())?;
            if tls.add_missing_nodes(nodes, now)? {
                let patch = Secret {
                    data: Some(tls.to_data()),
                    ..Secret::default()
                };
                secrets
                    .patch(&names.tls, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            tls
        }
        None => {
            let tls = ClusterTls::generate(names.cluster, names.uid, nodes, now)?;
            match secrets
                .create(
                    &PostParams::default(),
                    &owned(names, &names.tls, &tls.to_data()),
                )
                .await
            {
                Ok(_) => {
                    tracing::info!(secret = %names.tls, "issued the cluster's CA and certificates");
                    tls
                }
                // Another replica (or an earlier attempt) created it meanwhile: use that one.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Box::pin(ensure_tls(secrets, names, spec_tls, nodes)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    ensure_client_secret(secrets, names, &tls).await?;
    Ok(Some(tls))
}

/// The client Secret with the client's current files: created when missing, rewritten when it
/// differs.
async fn ensure_client_secret(
    secrets: &Api<Secret>,
    names: &TlsSecrets<'_>,
    tls: &ClusterTls,
) -> Result<(), ReconcileError> {
    let data = tls.client_files().to_data();
    match secrets.get_opt(&names.client).await? {
        Some(secret) => {
            check_owner(&names.client, &secret, names.uid)?;
            if secret.data.as_ref() != Some(&data) {
                let patch = Secret {
                    data: Some(data),
                    ..Secret::default()
                };
                secrets
                    .patch(
                        &names.client,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
            }
        }
        None => {
            match secrets
                .create(&PostParams::default(), &owned(names, &names.client, &data))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// A Secret `name` owned by the cluster.
fn owned(
    names: &TlsSecrets<'_>,
    name: &str,
    data: &BTreeMap<String, k8s_openapi::ByteString>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            owner_references: Some(vec![names.owner.clone()]),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "gluster-operator".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(data.clone()),
        ..Secret::default()
    }
}

/// A Secret of that name that the cluster does not own is never read or written.
fn check_owner(name: &str, secret: &Secret, uid: &str) -> Result<(), TlsError> {
    let owned = secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == uid);
    if owned {
        Ok(())
    } else {
        Err(TlsError::Stored {
            secret: name.to_string(),
            key: "metadata.ownerReferences".into(),
            reason:
                "the Secret exists but is not owned by this GlusterCluster; rename or delete it"
                    .into(),
        })
    }
}

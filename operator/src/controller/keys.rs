//! The cluster's SSH keys, kept in a Secret owned by the cluster (`<name>-ssh`): the operator's
//! client key pair (`id_ed25519`) and one host key pair per node (`host-<node>`), generated once
//! and reused after a restart, so the host keys the nodes booted with stay pinned.
//!
//! [`ClusterKeys::from_data`] / [`ClusterKeys::to_data`] are pure; [`ensure_keys`] reads the
//! Secret with `get` (the operator may not list or watch Secrets) and creates or extends it.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::bootstrap::{KeyError, SshKeyPair};

use super::error::ReconcileError;

/// The Secret key of the operator's private key.
pub const OPERATOR_KEY: &str = "id_ed25519";
/// The prefix of each node's host key in the Secret.
pub const HOST_KEY_PREFIX: &str = "host-";

/// The operator's key pair and the nodes' host key pairs. `Debug` shows public halves only.
#[derive(Clone)]
pub struct ClusterKeys {
    /// The key the operator logs in with.
    pub operator: SshKeyPair,
    /// Host key pairs by node name.
    pub hosts: BTreeMap<String, SshKeyPair>,
    /// The cluster's TLS material, when it has TLS and nodes are being created (filled by
    /// [`super::tls::ensure_tls`], not kept in this Secret).
    pub tls: Option<crate::tls::ClusterTls>,
}

impl fmt::Debug for ClusterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterKeys")
            .field("operator", &self.operator)
            .field("hosts", &self.hosts.keys().collect::<Vec<_>>())
            .field("tls", &self.tls)
            .finish()
    }
}

impl ClusterKeys {
    /// Fresh keys: an operator key pair and a host key pair for each of `nodes`.
    pub fn generate(cluster: &str, nodes: &[&str]) -> Result<Self, KeyError> {
        let mut keys = ClusterKeys {
            operator: SshKeyPair::generate(&format!("gluster-operator@{cluster}"))?,
            hosts: BTreeMap::new(),
            tls: None,
        };
        keys.add_missing_hosts(nodes)?;
        Ok(keys)
    }

    /// Generates host keys for those of `nodes` that have none; returns whether any was added.
    pub fn add_missing_hosts(&mut self, nodes: &[&str]) -> Result<bool, KeyError> {
        let mut added = false;
        for node in nodes {
            if !self.hosts.contains_key(*node) {
                self.hosts.insert(
                    node.to_string(),
                    SshKeyPair::generate(&format!("root@{node}"))?,
                );
                added = true;
            }
        }
        Ok(added)
    }

    /// Reads keys from a Secret's data; `secret` names it in errors.
    pub fn from_data(secret: &str, data: &BTreeMap<String, ByteString>) -> Result<Self, KeyError> {
        let text = |key: &str, bytes: &ByteString| {
            String::from_utf8(bytes.0.clone()).map_err(|_| KeyError::Algorithm {
                what: format!("Secret {secret}, key {key}"),
                algorithm: "non-UTF-8 data".into(),
            })
        };
        let operator = match data.get(OPERATOR_KEY) {
            Some(bytes) => SshKeyPair::from_private_openssh(
                &format!("Secret {secret}, key {OPERATOR_KEY}"),
                &text(OPERATOR_KEY, bytes)?,
            )?,
            None => {
                return Err(KeyError::Algorithm {
                    what: format!("Secret {secret}, key {OPERATOR_KEY}"),
                    algorithm: "nothing (the key is missing)".into(),
                });
            }
        };
        let mut hosts = BTreeMap::new();
        for (key, bytes) in data {
            if let Some(node) = key.strip_prefix(HOST_KEY_PREFIX) {
                let pair = SshKeyPair::from_private_openssh(
                    &format!("Secret {secret}, key {key}"),
                    &text(key, bytes)?,
                )?;
                hosts.insert(node.to_string(), pair);
            }
        }
        Ok(ClusterKeys {
            operator,
            hosts,
            tls: None,
        })
    }

    /// The Secret's data for these keys.
    pub fn to_data(&self) -> BTreeMap<String, ByteString> {
        let mut data = BTreeMap::from([(
            OPERATOR_KEY.to_string(),
            ByteString(self.operator.private_openssh().as_bytes().to_vec()),
        )]);
        for (node, pair) in &self.hosts {
            data.insert(
                format!("{HOST_KEY_PREFIX}{node}"),
                ByteString(pair.private_openssh().as_bytes().to_vec()),
            );
        }
        data
    }
}

/// Whether `meta` (a Secret's) has an ownerReference to the object `owner` refers to (by UID:
/// a name can be reused, a UID cannot). Pure.
pub fn owned_by(meta: &ObjectMeta, owner: &OwnerReference) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == owner.uid)
}

/// `Ok` when Secret `name` (its `meta`) belongs to `owner`; else the error that stalls the
/// cluster with the Secret untouched.
fn check_owner(
    name: &str,
    meta: &ObjectMeta,
    owner: &OwnerReference,
) -> Result<(), ReconcileError> {
    if owned_by(meta, owner) {
        Ok(())
    } else {
        Err(ReconcileError::SecretNotOwned {
            name: name.to_string(),
            owner: format!("{} {}", owner.kind, owner.name),
        })
    }
}

/// The cluster's keys with a host key for each of `nodes`: read from Secret `name`, created
/// (owned by the cluster through `owner`) when missing, extended when nodes are new. A Secret
/// of that name without the cluster's ownerReference is someone else's: it is neither read
/// nor changed ([`ReconcileError::SecretNotOwned`]).
pub async fn ensure_keys(
    secrets: &Api<Secret>,
    name: &str,
    owner: OwnerReference,
    cluster: &str,
    nodes: &[&str],
) -> Result<ClusterKeys, ReconcileError> {
    if let Some(secret) = secrets.get_opt(name).await? {
        check_owner(name, &secret.metadata, &owner)?;
        let data = secret.data.unwrap_or_default();
        let mut keys = ClusterKeys::from_data(name, &data)?;
        if keys.add_missing_hosts(nodes)? {
            let patch = Secret {
                data: Some(keys.to_data()),
                ..Secret::default()
            };
            secrets
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        return Ok(keys);
    }
    let keys = ClusterKeys::generate(cluster, nodes)?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            owner_references: Some(vec![owner.clone()]),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "gluster-operator".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(keys.to_data()),
        ..Secret::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(keys),
        // Another replica (or an earlier attempt) created it meanwhile: use that one.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let secret = secrets.get(name).await?;
            check_owner(name, &secret.metadata, &owner)?;
            let mut keys = ClusterKeys::from_data(name, &secret.data.unwrap_or_default())?;
            if keys.add_missing_hosts(nodes)? {
                let patch = Secret {
                    data: Some(keys.to_data()),
                    ..Secret::default()
                };
                secrets
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            Ok(keys)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_secret_data() {
        let keys = ClusterKeys::generate("demo", &["demo-a-0", "demo-b-1"]).expect("keys");
        let data = keys.to_data();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["host-demo-a-0", "host-demo-b-1", "id_ed25519"]
        );
        let back = ClusterKeys::from_data("demo-ssh", &data).expect("parsed");
        assert_eq!(back.operator.public_key(), keys.operator.public_key());
        assert_eq!(
            back.hosts["demo-b-1"].public_key(),
            keys.hosts["demo-b-1"].public_key()
        );
    }

    #[test]
    fn missing_hosts_are_added_and_existing_kept() {
        let mut keys = ClusterKeys::generate("demo", &["n0"]).expect("keys");
        let n0 = keys.hosts["n0"].public_key().clone();
        assert!(keys.add_missing_hosts(&["n0", "n1"]).expect("added"));
        assert!(!keys.add_missing_hosts(&["n0", "n1"]).expect("nothing new"));
        assert_eq!(keys.hosts["n0"].public_key(), &n0);
        assert!(keys.hosts.contains_key("n1"));
    }

    #[test]
    fn secret_without_operator_key_is_an_error_naming_it() {
        let err = ClusterKeys::from_data("demo-ssh", &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("demo-ssh"), "{err}");
        assert!(err.to_string().contains(OPERATOR_KEY), "{err}");
    }

    #[test]
    fn a_secret_is_owned_only_through_the_clusters_uid() {
        let owner = OwnerReference {
            api_version: "storage.glusterops.dev/v1alpha1".into(),
            kind: "GlusterCluster".into(),
            name: "c".into(),
            uid: "uid-1".into(),
            controller: Some(true),
            ..OwnerReference::default()
        };
        let meta = |refs: Option<Vec<OwnerReference>>| ObjectMeta {
            owner_references: refs,
            ..ObjectMeta::default()
        };
        assert!(owned_by(&meta(Some(vec![owner.clone()])), &owner));
        assert!(!owned_by(&meta(None), &owner));
        assert!(!owned_by(&meta(Some(vec![])), &owner));
        // The same name, another UID: a deleted and recreated cluster, or another object.
        let other = OwnerReference {
            uid: "uid-2".into(),
            ..owner.clone()
        };
        assert!(!owned_by(&meta(Some(vec![other])), &owner));
        match check_owner("c-ssh", &meta(None), &owner) {
            Err(e @ ReconcileError::SecretNotOwned { .. }) => {
                assert!(e.is_terminal());
                assert_eq!(e.reason(), "SecretNotOwned");
                let text = e.to_string();
                assert!(
                    text.contains("c-ssh") && text.contains("GlusterCluster c"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_shows_no_private_key() {
        let keys = ClusterKeys::generate("demo", &["n0"]).expect("keys");
        let shown = format!("{keys:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}

//! The credentials Secret stays while a cluster needs it (`docs/design.md`, "Deletion that
//! cannot lose the cloud"): the operator keeps its own finalizer on the Secret that
//! `spec.cloud.secretName` names, so deleting the namespace (or pruning the cluster and the
//! Secret together) cannot remove the credentials before the cluster's cloud resources are
//! cleaned up. The finalizer is added when a pass reads the Secret and removed once the last
//! cluster that names it is gone from the cloud. The rules are pure ([`needs_hold`],
//! [`still_needed`], [`add_patch`], [`remove_patch`]); [`hold`] and [`release`] do the I/O.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::api::GlusterCluster;

use super::error::ReconcileError;

/// The finalizer the operator keeps on a credentials Secret while a cluster uses it.
pub const CREDENTIALS_FINALIZER: &str = "storage.glusterops.dev/credentials-in-use";

/// Whether `secret` still lacks the finalizer and may get it (no finalizer can be added to an
/// object being deleted).
pub fn needs_hold(secret: &Secret) -> bool {
    secret.metadata.deletion_timestamp.is_none()
        && !secret
            .finalizers()
            .iter()
            .any(|f| f == CREDENTIALS_FINALIZER)
}

/// Whether a cluster other than `releasing` (a UID) still names Secret `secret` (clusters
/// listed in its namespace; a cluster whose cleanup is done has no operator finalizer left).
pub fn still_needed(clusters: &[GlusterCluster], secret: &str, releasing: &str) -> bool {
    clusters.iter().any(|c| {
        c.spec.cloud.secret_name == secret
            && c.uid().as_deref() != Some(releasing)
            && c.finalizers().iter().any(|f| f == super::FINALIZER)
    })
}

/// The JSON patch adding the finalizer to `secret`, guarded by its resourceVersion (a change
/// meanwhile makes the API server refuse it; the next pass tries again).
pub fn add_patch(secret: &Secret) -> Value {
    let guard = json!({"op": "test", "path": "/metadata/resourceVersion",
        "value": secret.resource_version().unwrap_or_default()});
    let add = if secret.metadata.finalizers.is_some() {
        json!({"op": "add", "path": "/metadata/finalizers/-", "value": CREDENTIALS_FINALIZER})
    } else {
        json!({"op": "add", "path": "/metadata/finalizers", "value": [CREDENTIALS_FINALIZER]})
    };
    json!([guard, add])
}

/// The JSON patch removing the finalizer from `secret` (by its index, guarded by the
/// resourceVersion), or `None` when it does not carry it.
pub fn remove_patch(secret: &Secret) -> Option<Value> {
    let index = secret
        .finalizers()
        .iter()
        .position(|f| f == CREDENTIALS_FINALIZER)?;
    Some(json!([
        {"op": "test", "path": "/metadata/resourceVersion",
         "value": secret.resource_version().unwrap_or_default()},
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": CREDENTIALS_FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
    ]))
}

fn json_patch(value: Value) -> Result<Patch<()>, ReconcileError> {
    serde_json::from_value(value)
        .map(Patch::Json)
        .map_err(|e| ReconcileError::Finalizer(format!("credentials finalizer patch: {e}")))
}

/// Puts the finalizer on `secret` (as just read by the pass) if it lacks it.
pub async fn hold(client: &Client, namespace: &str, secret: &Secret) -> Result<(), ReconcileError> {
    if !needs_hold(secret) {
        return Ok(());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    secrets
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &json_patch(add_patch(secret))?,
        )
        .await?;
    tracing::info!(secret = %secret.name_any(), "credentials Secret held while the cluster uses it");
    Ok(())
}

/// Removes the finalizer from Secret `name` unless another cluster in `namespace` still names
/// it (`releasing` is the UID of the cluster whose cleanup is done). A Secret already gone is
/// fine.
pub async fn release(
    client: &Client,
    namespace: &str,
    name: &str,
    releasing: &str,
) -> Result<(), ReconcileError> {
    let clusters: Api<GlusterCluster> = Api::namespaced(client.clone(), namespace);
    let listed = clusters.list(&ListParams::default()).await?;
    if still_needed(&listed.items, name, releasing) {
        return Ok(());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok(());
    };
    if let Some(patch) = remove_patch(&secret) {
        secrets
            .patch(name, &PatchParams::default(), &json_patch(patch)?)
            .await?;
        tracing::info!(secret = %name, "credentials Secret released: no cluster uses it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(finalizers: Option<Vec<&str>>, deleting: bool) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("creds".into());
        s.metadata.resource_version = Some("7".into());
        s.metadata.finalizers = finalizers.map(|f| f.into_iter().map(String::from).collect());
        if deleting {
            s.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        }
        s
    }

    fn cluster(uid: &str, secret: &str, finalized: bool) -> GlusterCluster {
        let mut c: GlusterCluster = serde_yaml::from_str(&format!(
            "apiVersion: storage.glusterops.dev/v1alpha1\nkind: GlusterCluster\nmetadata: {{name: c, uid: {uid}}}\n\
             spec: {{cloud: {{secretName: {secret}, cloudName: x}}, image: debian-12, flavor: f, network: n,\n\
             zones: [{{name: a, nodes: 2}}], brick: {{size: 1Gi}}, volume: {{name: v, replicas: 2}}}}\n"
        ))
        .expect("a cluster");
        if finalized {
            c.metadata.finalizers = Some(vec![super::super::FINALIZER.to_string()]);
        }
        c
    }

    #[test]
    fn a_secret_is_held_once_and_never_while_it_is_being_deleted() {
        assert!(needs_hold(&secret(None, false)));
        assert!(needs_hold(&secret(Some(vec!["other/f"]), false)));
        assert!(!needs_hold(&secret(
            Some(vec![CREDENTIALS_FINALIZER]),
            false
        )));
        assert!(!needs_hold(&secret(None, true)));
        assert_eq!(
            add_patch(&secret(None, false))[1],
            json!({"op": "add", "path": "/metadata/finalizers", "value": [CREDENTIALS_FINALIZER]})
        );
        let p = add_patch(&secret(Some(vec!["other/f"]), false));
        assert_eq!(p[0]["value"], "7");
        assert_eq!(p[1]["path"], "/metadata/finalizers/-");
        json_patch(p).expect("a JSON patch");
    }

    #[test]
    fn only_our_finalizer_is_removed_and_only_when_no_other_cluster_names_the_secret() {
        let held = secret(Some(vec!["other/f", CREDENTIALS_FINALIZER]), true);
        let p = remove_patch(&held).expect("held");
        assert_eq!(
            p[2],
            json!({"op": "remove", "path": "/metadata/finalizers/1"})
        );
        assert_eq!(p[1]["value"], CREDENTIALS_FINALIZER);
        assert_eq!(remove_patch(&secret(Some(vec!["other/f"]), false)), None);

        let going = cluster("u1", "creds", true);
        let other = cluster("u2", "creds", true);
        let elsewhere = cluster("u3", "other-creds", true);
        let done = cluster("u4", "creds", false);
        assert!(!still_needed(std::slice::from_ref(&going), "creds", "u1"));
        assert!(still_needed(&[going.clone(), other], "creds", "u1"));
        assert!(!still_needed(&[going.clone(), elsewhere], "creds", "u1"));
        assert!(!still_needed(&[going, done], "creds", "u1"));
    }
}

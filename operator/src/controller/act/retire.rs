//! Act, cloud side of a scale-in: a node whose bricks left the volume and whose peer left the
//! pool (the planner's `DeleteNode`, taken only after every step before it ran) loses its
//! server and its port; its brick volume follows `spec.deletionPolicy`. Under `Retain` the
//! volume is detached first (its fate is never left to the server's deletion), then its node
//! metadata is replaced by [`META_RETIRED_NODE`]: it stays findable by the cluster's UID
//! metadata but is no longer a node of the cluster (the planner would count it as one, and a
//! later node of the same name must never adopt a brick that held old data). Every call is
//! idempotent: a pass that dies half way is finished by the next, which plans `DeleteNode`
//! again as long as the node's server or brick volume is seen (`docs/scale-in.md`).

use std::collections::BTreeMap;

use tracing::Instrument;

use crate::api::DeletionPolicy;
use crate::cloud::{Cloud, CloudError, VolumeStatus, WaitPolicy};
use crate::controller::decide::Done;
use crate::controller::observe::observe_owned;
use crate::controller::owner::{META_NODE, META_NODE_INDEX, Owner};

/// Metadata key set on a retained brick volume of a node removed by a scale-in: the node's
/// name (the volume keeps the cluster's UID metadata, so it is listed with the cluster's).
pub const META_RETIRED_NODE: &str = "gluster-operator:retired-node";

/// The metadata of a retained brick volume: the node keys replaced by [`META_RETIRED_NODE`].
pub fn retired_metadata(
    metadata: &BTreeMap<String, String>,
    node: &str,
) -> BTreeMap<String, String> {
    let mut m = metadata.clone();
    m.remove(META_NODE);
    m.remove(META_NODE_INDEX);
    m.insert(META_RETIRED_NODE.to_string(), node.to_string());
    m
}

/// Deletes the server and port of each node of `nodes`; their brick volumes per `policy`.
pub async fn retire_nodes(
    cloud: &Cloud,
    owner: &Owner,
    policy: DeletionPolicy,
    nodes: &[String],
) -> Result<Vec<Done>, CloudError> {
    let mut done = Vec::new();
    for node in nodes {
        let span = tracing::info_span!("retire", cluster = %owner.name, node = %node);
        done.extend(retire(cloud, owner, policy, node).instrument(span).await?);
    }
    Ok(done)
}

async fn retire(
    cloud: &Cloud,
    owner: &Owner,
    policy: DeletionPolicy,
    node: &str,
) -> Result<Vec<Done>, CloudError> {
    let observed = observe_owned(cloud, owner).await?;
    let mut done = Vec::new();
    let volume = observed.volume(node).cloned();
    if let Some(server) = observed.server(node) {
        if policy == DeletionPolicy::Retain
            && let Some(v) = &volume
            && server.attached_volume_ids().contains(&v.id.as_str())
        {
            cloud.compute().detach_volume(&server.id, &v.id).await?;
            cloud
                .volume()
                .wait_for_volume(&v.id, &[VolumeStatus::Available], WaitPolicy::default())
                .await?;
        }
        cloud.compute().delete_server(&server.id).await?;
        cloud
            .compute()
            .wait_for_server_deleted(&server.id, WaitPolicy::default())
            .await?;
        done.push(Done {
            reason: "ServerDeleted".into(),
            note: format!("server {} of retired node {node} deleted", server.name),
        });
    }
    if let Some(port) = observed.port(node) {
        cloud.network().delete_port(&port.id).await?;
        done.push(Done {
            reason: "PortDeleted".into(),
            note: format!("port {} of retired node {node} deleted", port.name),
        });
    }
    if let Some(v) = volume {
        let v = cloud
            .volume()
            .wait_for_volume(&v.id, &[VolumeStatus::Available], WaitPolicy::default())
            .await?;
        match policy {
            DeletionPolicy::Delete => {
                cloud.volume().delete_volume(&v.id).await?;
                done.push(Done {
                    reason: "BrickVolumeDeleted".into(),
                    note: format!("brick volume {} of retired node {node} deleted", v.name),
                });
            }
            DeletionPolicy::Retain => {
                cloud
                    .volume()
                    .replace_metadata(&v.id, &retired_metadata(&v.metadata, node))
                    .await?;
                done.push(Done {
                    reason: "BrickVolumeRetained".into(),
                    note: format!(
                        "brick volume {} ({}) of retired node {node} kept (deletionPolicy \
                         Retain; metadata {META_RETIRED_NODE}={node})",
                        v.name, v.id
                    ),
                });
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_volume_is_no_node_but_still_the_clusters() {
        let owner = Owner {
            namespace: "ns".into(),
            name: "c".into(),
            uid: "u-1".into(),
        };
        let m = retired_metadata(&owner.node_metadata("c-a-3", 2), "c-a-3");
        assert_eq!(crate::controller::owner::node_of(&m), None);
        assert!(
            owner
                .volume_query()
                .metadata
                .iter()
                .all(|(k, v)| m.get(k) == Some(v))
        );
        assert_eq!(m.get(META_RETIRED_NODE).map(String::as_str), Some("c-a-3"));
    }
}

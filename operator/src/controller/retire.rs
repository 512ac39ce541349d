//! Scale-in, cloud side: the servers of nodes the spec no longer has go only once the gluster
//! steps have taken their bricks out of the volume (data migrated, committed) and them out of
//! the pool; their brick volumes are detached first, then kept or deleted by
//! `spec.deletionPolicy` — and deleted only while every brick of the volume is on a planned
//! node, so a brick gluster still counts on is never deleted.
//!
//! [`leaving_servers`] and [`retired_volumes`] are pure; [`retire_nodes`] does the I/O.

use std::collections::BTreeSet;

use crate::api::{DeletionPolicy, VolumeStatus as ApiVolume};
use crate::cloud::{Cloud, CloudError, Server, Volume, VolumeStatus};
use crate::plan::ClusterPlan;

use super::act::Done;
use super::observe::Observed;
use super::owner::node_of;

fn planned(plan: &ClusterPlan) -> BTreeSet<&str> {
    plan.nodes.iter().map(|n| n.name.as_str()).collect()
}

/// Servers of the cluster whose node the plan no longer has, with the node's name.
pub fn leaving_servers<'a>(
    plan: &ClusterPlan,
    observed: &'a Observed,
) -> Vec<(String, &'a Server)> {
    let planned = planned(plan);
    observed
        .servers
        .iter()
        .filter_map(|s| node_of(&s.metadata).map(|(name, _)| (name, s)))
        .filter(|(name, _)| !planned.contains(name.as_str()))
        .collect()
}

/// Brick volumes to delete now under `policy`: `Delete` only, volumes of nodes the plan no
/// longer has and whose server is gone, detached (available, or in error) — and only when the
/// gluster volume, as just observed, has every brick on a planned node.
pub fn retired_volumes<'a>(
    plan: &ClusterPlan,
    observed: &'a Observed,
    volume: Option<&ApiVolume>,
    policy: DeletionPolicy,
) -> Vec<&'a Volume> {
    let planned = planned(plan);
    let Some(volume) = volume else {
        return Vec::new();
    };
    if policy != DeletionPolicy::Delete
        || !volume
            .bricks
            .iter()
            .all(|b| planned.contains(b.node.as_str()))
    {
        return Vec::new();
    }
    observed
        .volumes
        .iter()
        .filter(|v| {
            node_of(&v.metadata).is_some_and(|(name, _)| {
                !planned.contains(name.as_str()) && observed.server(&name).is_none()
            })
        })
        .filter(|v| matches!(v.status, VolumeStatus::Available | VolumeStatus::Error(_)))
        .collect()
}

/// Detaches the brick volumes of `nodes` and deletes their servers.
pub async fn retire_nodes(
    cloud: &Cloud,
    observed: &Observed,
    nodes: &[String],
) -> Result<Vec<Done>, CloudError> {
    let mut done = Vec::new();
    for node in nodes {
        let Some(server) = observed.server(node) else {
            continue;
        };
        if let Some(volume) = observed.volume(node)
            && server.attached_volume_ids().contains(&volume.id.as_str())
        {
            cloud
                .compute()
                .detach_volume(&server.id, &volume.id)
                .await?;
        }
        cloud.compute().delete_server(&server.id).await?;
        done.push(Done {
            reason: "NodeRetired",
            note: format!(
                "server {} ({}) of node {node} deleted: its brick left the volume and it left the pool",
                server.name, server.id
            ),
        });
    }
    Ok(done)
}

/// Deletes `volumes` (chosen by [`retired_volumes`]).
pub async fn delete_retired_volumes(
    cloud: &Cloud,
    volumes: &[&Volume],
) -> Result<Vec<Done>, CloudError> {
    let mut done = Vec::new();
    for volume in volumes {
        if cloud.volume().delete_volume(&volume.id).await? {
            done.push(Done {
                reason: "BrickVolumeDeleted",
                note: format!(
                    "brick volume {} ({}) of a retired node deleted (deletionPolicy: Delete)",
                    volume.name, volume.id
                ),
            });
        }
    }
    Ok(done)
}

//! Act, cloud side: the security group, then each missing node's brick volume and server
//! (concurrently, under a bounded limit, created-or-adopted under deterministic names with the
//! cluster's UID and the node's index), then the volumes attached to their active servers.
//! A server in ERROR is deleted so the next reconcile replaces it (its brick volume is kept and
//! reattached). Nothing here waits for a boot: the reconciler requeues.

use std::collections::BTreeMap;

use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::Instrument;

use crate::api::{BrickStorage, GlusterClusterSpec};
use crate::bootstrap::{BrickDevice, DistroFamily, NodeBootstrap, render_user_data};
use crate::cloud::{
    Cloud, CloudError, SecurityGroupSpec, ServerCreate, ServerStatus, VolumeCreate, VolumeStatus,
    network::gluster_rules,
};
use crate::plan::{ClusterPlan, PlannedNode};

use super::error::ReconcileError;
use super::keys::ClusterKeys;
use super::observe::Observed;
use super::owner::{Owner, brick_volume_name};

/// One thing the act step did (an Event each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// CamelCase reason (`ServerCreated`, `VolumeAttached`, …).
    pub reason: &'static str,
    /// What, naming the node and the cloud ID.
    pub note: String,
}

/// The CIDRs allowed to reach the nodes: `allowedClients`, or anywhere when it is empty (the
/// spec's default: any client).
pub fn allowed_cidrs(spec: &GlusterClusterSpec) -> Vec<String> {
    if spec.volume.allowed_clients.is_empty() {
        vec!["0.0.0.0/0".into(), "::/0".into()]
    } else {
        spec.volume.allowed_clients.clone()
    }
}

/// A brick size in whole GiB, rounded up (Cinder sizes volumes in GiB).
pub fn size_gib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 30).max(1)
}

/// The cloud side of the plan. `limit` bounds concurrent creations. The security group is
/// ensured (looked up, created or completed) only when `ensure_group` is set: once per
/// generation and on each drift check. The attachments made are noted in `observed` (as the
/// next listing would show them).
#[allow(clippy::too_many_arguments)]
pub async fn act_cloud(
    cloud: &Cloud,
    owner: &Owner,
    spec: &GlusterClusterSpec,
    plan: &ClusterPlan,
    observed: &mut Observed,
    keys: &ClusterKeys,
    limit: usize,
    ensure_group: bool,
) -> Result<Vec<Done>, ReconcileError> {
    let mut done = Vec::new();
    let group = SecurityGroupSpec {
        name: owner.security_group_name(),
        description: format!(
            "gluster-operator: GlusterCluster {}/{}",
            owner.namespace, owner.name
        ),
        tags: vec![owner.tag()],
        rules: gluster_rules(&allowed_cidrs(spec))?,
    };
    let missing: Vec<&PlannedNode> = plan
        .nodes
        .iter()
        .filter(|n| observed.server(&n.name).is_none())
        .collect();
    // The group and what the new servers need (image, network, flavors) are independent
    // lookups: made together, before any node is created.
    let ensure = async {
        if !ensure_group {
            return Ok::<_, ReconcileError>(None);
        }
        Ok(Some(cloud.network().ensure_security_group(&group).await?))
    };
    let resolve = async {
        if missing.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            Shared::resolve(cloud, spec, &group.name, &missing).await?,
        ))
    };
    let (ensured, shared) = futures::try_join!(ensure, resolve)?;
    if let Some(ensured) = ensured.filter(|e| !e.adopted) {
        done.push(Done {
            reason: "SecurityGroupCreated",
            note: format!("security group {} ({})", group.name, ensured.value),
        });
    }

    // Servers in ERROR go first (their volumes stay for the replacement).
    for server in &observed.servers {
        if server.status == ServerStatus::Error {
            cloud.compute().delete_server(&server.id).await?;
            done.push(Done {
                reason: "FailedServerDeleted",
                note: format!(
                    "server {} ({}) was in ERROR ({}); deleted, to be replaced",
                    server.name,
                    server.id,
                    server.fault_message().unwrap_or("no fault message")
                ),
            });
        }
    }

    let observed_now: &Observed = observed;
    if let Some(shared) = shared {
        let mut creations = Vec::with_capacity(missing.len());
        for node in missing {
            let span = tracing::info_span!("node", node = %node.name, index = node.index);
            creations.push(
                create_node(cloud, owner, spec, plan, observed_now, keys, &shared, node)
                    .instrument(span)
                    .boxed(),
            );
        }
        let created: Vec<Vec<Done>> = futures::stream::iter(creations)
            .buffer_unordered(limit.max(1))
            .try_collect()
            .await?;
        done.extend(created.into_iter().flatten());
    }

    let mut attach = Vec::new();
    for node in &plan.nodes {
        if node.storage.storage() != Some(BrickStorage::Volume) {
            continue;
        }
        let (Some(server), Some(volume)) =
            (observed.server(&node.name), observed.volume(&node.name))
        else {
            continue;
        };
        if server.status == ServerStatus::Active
            && volume.status == VolumeStatus::Available
            && !server.attached_volume_ids().contains(&volume.id.as_str())
        {
            attach.push((node.name.clone(), server.id.clone(), volume.id.clone()));
        }
    }
    // The observation (listed in this pass or noted after an attach) shows these volumes
    // available and not attached: attach at once, without looking at the attachments again.
    // A refusal (an attachment made meanwhile elsewhere) fails the pass; the next one
    // observes everything again.
    let mut attachments = Vec::with_capacity(attach.len());
    for (node, server, volume) in &attach {
        attachments.push(
            async move {
                cloud.compute().attach_volume(server, volume).await?;
                Ok::<_, CloudError>(Done {
                    reason: "VolumeAttached",
                    note: format!(
                        "brick volume {volume} attached to server {server} of node {node}"
                    ),
                })
            }
            .boxed(),
        );
    }
    let attached = futures::stream::iter(attachments)
        .buffer_unordered(limit.max(1))
        .try_collect::<Vec<_>>()
        .await?;
    done.extend(attached);
    for (_, server_id, volume_id) in &attach {
        if let Some(s) = observed.servers.iter_mut().find(|s| &s.id == server_id) {
            s.note_attached(volume_id);
        }
        if let Some(v) = observed.volumes.iter_mut().find(|v| &v.id == volume_id) {
            v.status = VolumeStatus::Attaching;
        }
    }
    Ok(done)
}

/// What every new server shares: image, network, flavor IDs, security group, distribution.
struct Shared {
    image_id: String,
    network_id: String,
    flavors: BTreeMap<String, String>,
    security_group: String,
    distro: DistroFamily,
}

impl Shared {
    async fn resolve(
        cloud: &Cloud,
        spec: &GlusterClusterSpec,
        security_group: &str,
        nodes: &[&PlannedNode],
    ) -> Result<Shared, ReconcileError> {
        let names: std::collections::BTreeSet<&str> =
            nodes.iter().filter_map(|n| n.storage.flavor()).collect();
        let flavor_ids = futures::future::try_join_all(names.iter().map(|name| async move {
            let flavor = cloud.compute().flavor(name).await?;
            Ok::<_, CloudError>((name.to_string(), flavor.id))
        }));
        let (image, network, flavors) = futures::try_join!(
            cloud.image().image(&spec.image),
            cloud.network().network(&spec.network),
            flavor_ids,
        )?;
        let flavors: BTreeMap<String, String> = flavors.into_iter().collect();
        let distro = DistroFamily::guess_from_image_name(&image.name)
            .or_else(|| DistroFamily::guess_from_image_name(&spec.image))
            .ok_or_else(|| ReconcileError::UnknownDistro(image.name.clone()))?;
        Ok(Shared {
            image_id: image.id,
            network_id: network.id,
            flavors,
            security_group: security_group.to_string(),
            distro,
        })
    }
}

/// One node: its brick volume (where its zone uses Cinder), then its server booting with
/// user-data that names that volume and carries the node's pinned host key.
#[allow(clippy::too_many_arguments)]
async fn create_node(
    cloud: &Cloud,
    owner: &Owner,
    spec: &GlusterClusterSpec,
    plan: &ClusterPlan,
    observed: &Observed,
    keys: &ClusterKeys,
    shared: &Shared,
    node: &PlannedNode,
) -> Result<Vec<Done>, ReconcileError> {
    let mut done = Vec::new();
    let metadata = owner.node_metadata(&node.name, node.index);
    let storage = node.storage.storage().ok_or_else(|| {
        // The observation always decides Auto zones (it lists Cinder's zones).
        ReconcileError::Plan(crate::plan::PlanError::InconsistentState {
            detail: format!("zone {} has no storage decision", node.zone),
        })
    })?;
    let device = match storage {
        BrickStorage::Ephemeral => BrickDevice::Ephemeral,
        BrickStorage::Volume => {
            let id = match observed.volume(&node.name) {
                Some(v) => v.id.clone(),
                None => {
                    let source = spec.brick.source.as_ref();
                    let create = VolumeCreate {
                        name: brick_volume_name(&node.name),
                        size_gib: size_gib(plan.brick_bytes),
                        availability_zone: Some(node.zone.clone()),
                        volume_type: spec.brick.volume_type.clone(),
                        source_volume_id: source.and_then(|s| s.volume_id.clone()),
                        snapshot_id: source.and_then(|s| s.snapshot_id.clone()),
                        metadata: metadata.clone(),
                        description: Some(format!(
                            "gluster brick of node {} of GlusterCluster {}/{}",
                            node.name, owner.namespace, owner.name
                        )),
                    };
                    let volume = cloud.volume().create_volume_or_adopt(&create).await?;
                    if !volume.adopted {
                        done.push(Done {
                            reason: "VolumeCreated",
                            note: format!(
                                "brick volume {} ({}) for node {}",
                                create.name, volume.value.id, node.name
                            ),
                        });
                    }
                    volume.value.id
                }
            };
            BrickDevice::Volume { id }
        }
    };
    let host_key = keys
        .hosts
        .get(&node.name)
        .cloned()
        .ok_or_else(|| ReconcileError::MissingHostKey(node.name.clone()))?;
    let bootstrap = NodeBootstrap::from_spec(
        spec,
        &owner.name,
        &node.name,
        shared.distro,
        device,
        keys.operator.public_key().clone(),
        host_key,
    );
    let user_data = render_user_data(&bootstrap)?;
    let flavor = node.storage.flavor().unwrap_or(&spec.flavor);
    let flavor_id = shared
        .flavors
        .get(flavor)
        .cloned()
        .ok_or_else(|| CloudError::NotFound {
            kind: "flavor",
            name: flavor.to_string(),
        })?;
    let create = ServerCreate {
        name: node.name.clone(),
        flavor_id,
        image_id: shared.image_id.clone(),
        availability_zone: Some(node.zone.clone()),
        networks: vec![shared.network_id.clone()],
        security_groups: vec![shared.security_group.clone()],
        key_name: spec.key_name.clone(),
        user_data: Some(user_data.into_string().into_bytes()),
        metadata,
        tags: vec![owner.tag()],
    };
    let server = cloud.compute().create_server_or_adopt(&create).await?;
    if !server.adopted {
        tracing::info!(server = %server.value, flavor, "server created");
        done.push(Done {
            reason: "ServerCreated",
            note: format!(
                "server {} ({}) in {} with flavor {flavor}",
                node.name, server.value, node.zone
            ),
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_whole_gib() {
        assert_eq!(size_gib(10 << 30), 10);
        assert_eq!(size_gib((10 << 30) + 1), 11);
        assert_eq!(size_gib(1), 1);
    }

    #[test]
    fn empty_allowed_clients_means_anywhere() {
        let mut spec: GlusterClusterSpec = serde_yaml::from_str(
            "cloud: {secretName: s, cloudName: c}\nimage: i\nflavor: f\nnetwork: n\nzones: [{name: a, nodes: 1}]\nbrick: {size: 1Gi}\nvolume: {name: v}\n",
        )
        .expect("spec");
        assert_eq!(allowed_cidrs(&spec), ["0.0.0.0/0", "::/0"]);
        spec.volume.allowed_clients = vec!["10.0.0.0/8".into()];
        assert_eq!(allowed_cidrs(&spec), ["10.0.0.0/8"]);
    }
}

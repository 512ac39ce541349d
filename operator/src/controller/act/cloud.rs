//! Act, cloud side: carries out decide's cloud actions — the security group, then servers in
//! ERROR deleted, then each new node's brick volume and server (concurrently, under a bounded
//! limit, created-or-adopted under deterministic names with the cluster's UID and the node's
//! index), then the volumes attached — and reports what it did. Nothing here chooses: which
//! node, which brick, which volume to attach was decided (see `docs/design.md`, "Act").

use std::collections::BTreeMap;

use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::Instrument;

use crate::api::GlusterClusterSpec;
use crate::bootstrap::{BrickDevice, DistroFamily, NodeBootstrap, render_user_data};
use crate::cloud::{
    Cloud, CloudError, PortCreate, SecurityGroupSpec, ServerCreate, VolumeCreate,
    network::gluster_rules,
};
use crate::plan::PlannedNode;

use crate::controller::decide::{Action, Done, NewBrick};
use crate::controller::error::ReconcileError;
use crate::controller::keys::ClusterKeys;
use crate::controller::owner::{META_BLANK_BRICK, Owner, brick_volume_name, port_name};

/// A new node as act receives it.
struct NewNode<'a> {
    node: &'a PlannedNode,
    brick: &'a NewBrick,
    returns_to: &'a [(String, String)],
}

/// Where SSH is allowed from when `spec.sshFrom` is empty: the subnets of the cluster's
/// network (where the nodes and, in the usual layout, the operator's cluster route from).
/// A network without subnets is an error naming `spec.sshFrom` (the world is never the
/// default).
async fn default_ssh_from(cloud: &Cloud, network: &str) -> Result<Vec<String>, ReconcileError> {
    let cidrs = cloud.network().network_cidrs(network).await?;
    if cidrs.is_empty() {
        return Err(CloudError::InvalidInput {
            field: "spec.sshFrom".into(),
            reason: format!(
                "network {network} has no subnets to allow SSH from; set spec.sshFrom to \
                 the operator's CIDR"
            ),
        }
        .into());
    }
    Ok(cidrs)
}

/// The cloud actions among `actions`, in their order of kind (group, duplicates, deletions, creations,
/// attachments); `keys` holds a host key for every node created. `limit` bounds concurrent
/// creations and attachments. Returns what was done and the attachments made.
pub async fn act_cloud(
    cloud: &Cloud,
    owner: &Owner,
    spec: &GlusterClusterSpec,
    actions: &[Action],
    keys: Option<&ClusterKeys>,
    limit: usize,
) -> Result<(Vec<Done>, Vec<(String, String)>), ReconcileError> {
    let mut done = Vec::new();
    let group_name = owner.security_group_name();
    let mut access = None;
    let mut deletions = Vec::new();
    let mut duplicates = Vec::new();
    let mut unused = Vec::new();
    let mut reboots = Vec::new();
    let mut creations = Vec::new();
    let mut attach = Vec::new();
    for action in actions {
        match action {
            Action::EnsureSecurityGroup { clients, ssh_from } => access = Some((clients, ssh_from)),
            Action::DeleteFailedServer {
                name,
                server_id,
                fault,
            } => deletions.push((name, server_id, fault)),
            Action::DeleteDuplicateServer {
                node,
                server_id,
                serving_id,
            } => duplicates.push((node, server_id, serving_id)),
            Action::DeleteUnusedVolume {
                node,
                volume_id,
                server_id,
                state,
            } => unused.push((node, volume_id, server_id, state)),
            Action::RebootServer {
                name,
                server_id,
                fault,
            } => reboots.push((name, server_id, fault)),
            Action::CreateNode {
                node,
                brick,
                returns_to,
                ..
            } => creations.push(NewNode {
                node,
                brick,
                returns_to,
            }),
            Action::AttachVolume {
                node,
                server_id,
                volume_id,
            } => attach.push((node, server_id, volume_id)),
            Action::Gluster { .. }
            | Action::RestartBricks { .. }
            | Action::RejoinNodes { .. }
            | Action::ReplaceBricks { .. } => {}
        }
    }
    // The group and what the new servers need (image, network, flavors) are independent
    // lookups: made together, before any node is created.
    let ensure = async {
        let Some((clients, ssh_from)) = access else {
            return Ok::<_, ReconcileError>(None);
        };
        let ssh_from = if ssh_from.is_empty() {
            default_ssh_from(cloud, &spec.network).await?
        } else {
            ssh_from.clone()
        };
        let group = SecurityGroupSpec {
            name: group_name.clone(),
            // The UID tag in the description too: a group whose tagging was interrupted is
            // still known as the cluster's (see `owns_group`).
            description: format!(
                "gluster-operator: GlusterCluster {}/{} {}",
                owner.namespace,
                owner.name,
                owner.tag()
            ),
            tags: vec![owner.tag()],
            rules: gluster_rules(clients, &ssh_from)?,
        };
        let ensured = cloud.network().ensure_security_group(&group).await?;
        let done = (!ensured.adopted).then(|| Done {
            reason: "SecurityGroupCreated".into(),
            note: format!("security group {} ({})", group.name, ensured.value),
        });
        Ok(Some((done, ensured.value)))
    };
    let resolve = async {
        if creations.is_empty() {
            return Ok(None);
        }
        let nodes: Vec<&PlannedNode> = creations.iter().map(|c| c.node).collect();
        Ok(Some(
            Shared::resolve(cloud, spec, &group_name, &nodes).await?,
        ))
    };
    let (ensured_group, shared) = futures::try_join!(ensure, resolve)?;
    let group_id = match ensured_group {
        Some((created, id)) => {
            done.extend(created);
            Some(id)
        }
        None => None,
    };
    // The nodes' ports carry the group themselves (Nova applies a server's groups only to the
    // ports it makes): its ID, from this pass's ensure or looked up.
    let shared = match (shared, group_id) {
        (Some(mut shared), Some(id)) => {
            shared.security_group_id = id;
            Some(shared)
        }
        (Some(mut shared), None) => {
            shared.security_group_id = cloud
                .network()
                .list_security_groups(Some(&group_name), &[owner.tag()])
                .await?
                .into_iter()
                .next()
                .map(|g| g.id)
                .ok_or_else(|| CloudError::NotFound {
                    kind: "security group",
                    name: group_name.clone(),
                })?;
            Some(shared)
        }
        (None, _) => None,
    };

    // Duplicates provably unused (no brick, no volume attached, not in the pool).
    for (node, server_id, serving_id) in duplicates {
        cloud.compute().delete_server(server_id).await?;
        done.push(Done {
            reason: "DuplicateServerDeleted".into(),
            note: format!(
                "server {server_id} was a second server of node {node} (serving: {serving_id}) \
                 with no brick and no volume attached; deleted"
            ),
        });
    }

    // Brick volumes in error that never held a brick: a new one is made for the node.
    // (The node's server first: it never served a brick, and its user-data names the volume.)
    for (node, volume_id, server_id, state) in unused {
        if let Some(server_id) = server_id {
            cloud.compute().delete_server(server_id).await?;
        }
        cloud.volume().delete_volume(volume_id).await?;
        done.push(Done {
            reason: "FailedVolumeDeleted".into(),
            note: format!(
                "brick volume {volume_id} of node {node} was in Cinder state {state:?} and never \
                 held a brick; deleted{}, the node is made anew",
                if server_id.is_some() {
                    " with its server"
                } else {
                    ""
                }
            ),
        });
    }

    // Servers that ran and went to ERROR get a hard reboot first (a transient fault often
    // clears; nothing of the node is lost).
    for (name, server_id, fault) in reboots {
        cloud.compute().reboot_server(server_id, true).await?;
        done.push(Done {
            reason: "ServerRebooted".into(),
            note: format!(
                "server {name} ({server_id}) was in ERROR ({fault}); hard reboot asked, replaced only if it stays in ERROR"
            ),
        });
    }
    // Servers in ERROR, or stuck in BUILD, go first (their volumes stay for the replacement).
    for (name, server_id, fault) in deletions {
        cloud.compute().delete_server(server_id).await?;
        done.push(Done {
            reason: "FailedServerDeleted".into(),
            note: format!("server {name} ({server_id}) failed ({fault}); deleted, to be replaced"),
        });
    }

    if let Some(shared) = shared {
        let keys = keys.ok_or(ReconcileError::MissingMetadata("the cluster's SSH keys"))?;
        let mut pending = Vec::with_capacity(creations.len());
        for new in &creations {
            let span = tracing::info_span!("node", node = %new.node.name, index = new.node.index);
            pending.push(
                create_node(cloud, owner, spec, keys, &shared, new)
                    .instrument(span)
                    .boxed(),
            );
        }
        let created: Vec<Vec<Done>> = futures::stream::iter(pending)
            .buffer_unordered(limit.max(1))
            .try_collect()
            .await?;
        done.extend(created.into_iter().flatten());
    }

    // A refusal (an attachment made meanwhile elsewhere) fails the pass; the next one
    // observes everything again.
    let mut attachments = Vec::with_capacity(attach.len());
    for (node, server, volume) in attach.iter().copied() {
        attachments.push(
            async move {
                cloud.compute().attach_volume(server, volume).await?;
                Ok::<_, CloudError>(Done {
                    reason: "VolumeAttached".into(),
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
    let made = attach
        .into_iter()
        .map(|(_, server, volume)| (server.clone(), volume.clone()))
        .collect();
    Ok((done, made))
}

/// What every new server shares: image, network, flavor IDs, security group (name, and ID
/// for the ports), distribution.
struct Shared {
    image_id: String,
    network_id: String,
    flavors: BTreeMap<String, String>,
    security_group: String,
    security_group_id: String,
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
            security_group_id: String::new(),
            distro,
        })
    }
}

/// One node: its brick volume (where it uses one), then its server booting with user-data
/// that names that volume and carries the node's pinned host key.
/// The server's metadata: the node's, and for a replacement whose brick is its own ephemeral
/// disk the blank-brick mark (its brick must be replaced, never started as is).
fn server_metadata(
    mut metadata: BTreeMap<String, String>,
    new: &NewNode<'_>,
) -> BTreeMap<String, String> {
    if *new.brick == NewBrick::Ephemeral && !new.returns_to.is_empty() {
        metadata.insert(META_BLANK_BRICK.to_string(), "true".to_string());
    }
    metadata
}

async fn create_node(
    cloud: &Cloud,
    owner: &Owner,
    spec: &GlusterClusterSpec,
    keys: &ClusterKeys,
    shared: &Shared,
    new: &NewNode<'_>,
) -> Result<Vec<Done>, ReconcileError> {
    let node = new.node;
    let mut done = Vec::new();
    let metadata = owner.node_metadata(&node.name, node.index);
    let device = match new.brick {
        NewBrick::Ephemeral => BrickDevice::Ephemeral,
        NewBrick::Volume {
            existing: Some(id), ..
        } => BrickDevice::Volume { id: id.clone() },
        NewBrick::Volume {
            existing: None,
            size_gib,
        } => {
            let source = spec.brick.source.as_ref();
            let create = VolumeCreate {
                name: brick_volume_name(&node.name),
                size_gib: *size_gib,
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
                    reason: "VolumeCreated".into(),
                    note: format!(
                        "brick volume {} ({}) for node {}",
                        create.name, volume.value.id, node.name
                    ),
                });
            }
            BrickDevice::Volume {
                id: volume.value.id,
            }
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
    )
    .with_glusterd_uuid(owner.glusterd_uuid(&node.name))
    .with_tls(keys.tls.as_ref().and_then(|tls| tls.node_files(&node.name)))
    .with_glusterd_peers(
        new.returns_to
            .iter()
            .map(|(peer, address)| (owner.glusterd_uuid(peer), address.clone()))
            .collect(),
    );
    if !new.returns_to.is_empty() {
        tracing::info!(peers = new.returns_to.len(), "the node returns to its pool");
    }
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
    // The node's own port, before its server: a replacement boots on the same port, so the
    // node keeps its address (its peers and its brick's host name stay valid).
    let port_spec = PortCreate {
        name: port_name(&node.name),
        network_id: shared.network_id.clone(),
        security_groups: vec![shared.security_group_id.clone()],
        tags: vec![owner.tag()],
        description: format!(
            "gluster node {} of GlusterCluster {}/{}",
            node.name, owner.namespace, owner.name
        ),
    };
    let port = cloud.network().ensure_port(&port_spec).await?;
    if !port.adopted {
        done.push(Done {
            reason: "PortCreated".into(),
            note: format!(
                "port {} ({}) with address {} for node {}",
                port_spec.name,
                port.value.id,
                port.value.address().unwrap_or("-"),
                node.name
            ),
        });
    }
    let create = ServerCreate {
        name: node.name.clone(),
        flavor_id,
        image_id: shared.image_id.clone(),
        availability_zone: Some(node.zone.clone()),
        networks: Vec::new(),
        ports: vec![port.value.id.clone()],
        security_groups: vec![shared.security_group.clone()],
        key_name: spec.key_name.clone(),
        user_data: Some(user_data.into_string().into_bytes()),
        metadata: server_metadata(metadata, new),
        tags: vec![owner.tag()],
    };
    let server = cloud.compute().create_server_or_adopt(&create).await?;
    if !server.adopted {
        tracing::info!(server = %server.value, flavor, "server created");
        done.push(Done {
            reason: "ServerCreated".into(),
            note: format!(
                "server {} ({}) in {} with flavor {flavor}",
                node.name, server.value, node.zone
            ),
        });
    }
    Ok(done)
}

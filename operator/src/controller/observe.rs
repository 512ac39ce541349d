//! Observe (I/O): one [`Snapshot`] per pass — what the cluster owns in the cloud, found by
//! its UID (only the lists decide's [`look`] asks for), the nodes' reachability (TCP probes),
//! and the gluster volume as gluster reports it (`--xml`), asked once the cloud shows every
//! node up. No decision is taken here: a failure to reach gluster is part of the snapshot.
//! [`current_state`] and [`cloud_facts`] map the cloud part for the planner (pure).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::{Deserialize, Serialize};

use crate::api::GlusterCluster;
use crate::gluster::xml::{HealInfo, Peer, VolumeInfo, VolumeState, VolumeStatus as XmlStatus};
use crate::gluster::{
    GLUSTERD_PORT, GlusterClient, GlusterError, NodeEndpoint, NodeExecutor, PinnedHostKey,
    SshExecutor, VolumeName,
};
use std::collections::BTreeSet;

use crate::cloud::{Cloud, CloudError, Port, Server, Volume};
use crate::plan::{CloudFacts, CurrentState, ExistingNode};

use super::context::Context;
use super::decide::pace::Lists;
use super::decide::{Failure, Look, Memory, NodeUp, Tuning, look, looks, nodes_up};
use super::error::ReconcileError;
use super::keys::{ClusterKeys, ensure_keys};
use super::owner::{Owner, node_of, port_name};

/// What the cluster owns in the cloud now (serialised as the cloud's own documents).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Servers carrying the cluster's tag.
    pub servers: Vec<Server>,
    /// Volumes carrying the cluster's UID in their metadata.
    pub volumes: Vec<Volume>,
    /// Cinder's availability zones (where a brick volume can be created).
    pub block_storage_zones: BTreeSet<String>,
    /// The nodes' own ports, carrying the cluster's tag (listed with the servers).
    #[serde(default)]
    pub ports: Vec<Port>,
}

impl Observed {
    /// The server of node `name`, if any (the first one found).
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers
            .iter()
            .find(|s| node_of(&s.metadata).is_some_and(|(n, _)| n == name))
    }

    /// The port of node `name`, if any (found by its name, [`port_name`]).
    pub fn port(&self, name: &str) -> Option<&Port> {
        let wanted = port_name(name);
        self.ports.iter().find(|p| p.name == wanted)
    }

    /// The brick volume of node `name`, if any.
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes
            .iter()
            .find(|v| node_of(&v.metadata).is_some_and(|(n, _)| n == name))
    }
}

/// The volume as gluster shows it: `volume info` and, when started, `volume status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenVolume {
    /// `volume info --xml` (boxed: large beside the other variants of what is seen).
    pub info: Box<VolumeInfo>,
    /// `volume status --xml` (when the volume is started and it answered).
    pub status: Option<Box<XmlStatus>>,
    /// The health read (when the volume is started).
    #[serde(default)]
    pub health: Option<SeenHealth>,
    /// Nodes whose glusterd answers but does not know the volume although their bricks are in
    /// it: a replacement server (same address, same UUID) whose glusterd has lost the pool
    /// and must be brought back into it (in index order).
    #[serde(default)]
    pub strangers: Vec<String>,
}

/// The health read of a started volume, from the node that answered: one `--xml` call per
/// kind, each one's failure leaving its figure out (logged), never failing the pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenHealth {
    /// The node that answered.
    pub read_from: String,
    /// Its address.
    pub read_address: Option<String>,
    /// The nodes tried before it whose glusterd did not answer (SSH worked, gluster did not).
    pub unanswered: Vec<String>,
    /// `pool list`.
    pub pool: Option<Vec<Peer>>,
    /// `volume status VOL detail` (brick filesystem sizes).
    pub detail: Option<Box<XmlStatus>>,
    /// `volume heal VOL info summary` (volumes with redundancy only).
    pub heal: Option<HealInfo>,
}

/// What gluster showed this pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GlusterSeen {
    /// Not asked: the cloud does not show every node up.
    NotAsked,
    /// Not asked: these nodes answer on SSH but their glusterd does not listen yet (their
    /// brick script runs). Probed only before the volume exists.
    Bootstrapping(Vec<String>),
    /// Asked: the nodes (in index order) and the volume, if it exists.
    Volume {
        /// The nodes gluster runs on.
        nodes: Vec<NodeUp>,
        /// The volume.
        volume: Option<SeenVolume>,
    },
    /// Asked, and no node answered (or the cluster's keys were unusable).
    Failed(Failure),
}

/// Everything one pass saw: plain data, serialisable (a snapshot saved from a real run can be
/// replayed through decide in a test); the I/O handles are in [`Handles`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// What was looked at.
    pub look: Look,
    /// The cloud.
    pub cloud: Observed,
    /// The expected build time of a server here (from the servers seen ACTIVE).
    pub build_estimate: Option<Duration>,
    /// Gluster.
    pub gluster: GlusterSeen,
}

/// How act reaches gluster on the nodes observe saw.
pub struct GlusterHandle {
    /// The client (over the cluster's SSH executor).
    pub client: GlusterClient<Arc<SshExecutor>>,
    /// The nodes' endpoints (pinned host keys) by name.
    pub endpoints: BTreeMap<String, NodeEndpoint>,
}

/// The I/O handles act uses: the cloud client and, when gluster was reached, its client.
pub struct Handles {
    /// The cluster's cloud.
    pub cloud: Cloud,
    /// Gluster on the nodes.
    pub gluster: Option<GlusterHandle>,
}

/// Observes one pass of `cluster`: the cloud lists decide's [`look`] asks for (from what the
/// last pass saw, `memory`), the attachment probe it names, then gluster once every node is
/// up — after a TCP probe of the nodes' bootstrap while the volume does not exist yet.
pub async fn observe(
    ctx: &Context,
    cluster: &GlusterCluster,
    owner: &Owner,
    memory: &Memory,
    now: Instant,
) -> Result<(Snapshot, Handles), ReconcileError> {
    let spec = &cluster.spec;
    let generation = cluster.metadata.generation;
    let cloud = ctx.cloud(&owner.namespace, &spec.cloud).await?;
    let tuning = Tuning::of(&ctx.config);
    let mut look = look(memory, generation, &spec.network, now, &tuning);
    if !look.probe_attachments.is_empty() {
        let closed = closed(&look.probe_attachments, ctx.config.ssh_connect_timeout).await;
        look = look.after_probe(closed.len());
    }
    let base = looks::base(memory, generation);
    let desired: u32 = spec.zones.iter().map(|z| z.nodes).sum();
    let observed = observe_some(
        &cloud,
        owner,
        base,
        look.lists,
        look.zones,
        desired as usize,
    )
    .await?;
    let build_estimate = if look.lists.servers {
        ctx.learn_build_times(&observed.servers)
    } else {
        None
    };
    tracing::debug!(full = look.full, lists = ?look.lists, zones = look.zones, "observed");
    let mut handles = Handles {
        cloud,
        gluster: None,
    };
    let gluster = match nodes_up(&observed, desired, &spec.network) {
        None => GlusterSeen::NotAsked,
        Some(up) => {
            let volume_unknown = cluster.status.as_ref().is_none_or(|s| s.volume.is_none());
            let bootstrapping = if volume_unknown {
                bootstrapping(&up, ctx.config.ssh_port, ctx.config.ssh_connect_timeout).await
            } else {
                Vec::new()
            };
            if !bootstrapping.is_empty() {
                GlusterSeen::Bootstrapping(bootstrapping)
            } else {
                match observe_gluster(ctx, cluster, owner, &up).await {
                    Ok((volume, handle)) => {
                        handles.gluster = Some(handle);
                        GlusterSeen::Volume { nodes: up, volume }
                    }
                    Err(e) => GlusterSeen::Failed(Failure::of(&e)),
                }
            }
        }
    };
    let snapshot = Snapshot {
        look,
        cloud: observed,
        build_estimate,
        gluster,
    };
    Ok((snapshot, handles))
}

/// Gluster on the nodes `up`: the cluster's keys (from its Secret), the endpoints with their
/// pinned host keys, and the volume from the first node that answers.
async fn observe_gluster(
    ctx: &Context,
    cluster: &GlusterCluster,
    owner: &Owner,
    up: &[NodeUp],
) -> Result<(Option<SeenVolume>, GlusterHandle), ReconcileError> {
    let names: Vec<&str> = up.iter().map(|n| n.name.as_str()).collect();
    let keys = cluster_keys(ctx, cluster, owner, &names).await?;
    let mut endpoints = BTreeMap::new();
    for node in up {
        let address = node
            .address
            .clone()
            .ok_or(ReconcileError::MissingMetadata("a node address"))?;
        let host = keys
            .hosts
            .get(&node.name)
            .ok_or_else(|| ReconcileError::MissingHostKey(node.name.clone()))?;
        let pinned = PinnedHostKey::from_openssh(host.public_key().openssh())?;
        endpoints.insert(
            node.name.clone(),
            NodeEndpoint::new(&node.name, &address, ctx.config.ssh_port, pinned),
        );
    }
    let executor = ctx.ssh_executor(&owner.uid, &keys)?;
    let client = GlusterClient::new(executor, ctx.config.gluster_cli.clone())
        .with_timeout(ctx.config.gluster_timeout);
    let order: Vec<&NodeEndpoint> = up.iter().filter_map(|n| endpoints.get(&n.name)).collect();
    let mut volume = observe_volume(&client, &order, &cluster.spec.volume.name).await?;
    if let Some(seen) = volume.as_mut() {
        seen.strangers = strangers(&client, &order, seen).await?;
    }
    Ok((volume, GlusterHandle { client, endpoints }))
}

/// The cluster's SSH keys, with a host key for each of `nodes` (the Secret is created or
/// extended where needed).
pub async fn cluster_keys(
    ctx: &Context,
    cluster: &GlusterCluster,
    owner: &Owner,
    nodes: &[&str],
) -> Result<ClusterKeys, ReconcileError> {
    let owner_ref = cluster
        .controller_owner_ref(&())
        .ok_or(ReconcileError::MissingMetadata("metadata.uid"))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    ensure_keys(
        &secrets,
        &owner.keys_secret_name(),
        owner_ref,
        &cluster.name_any(),
        nodes,
    )
    .await
}

/// The volume seen from the first node (in `order`) that knows it; `Ok(None)` when every
/// node that answers says it does not exist (a node that lost its glusterd state, such as a
/// replacement server, is never taken at its word while another one may know the volume). A
/// node that cannot be reached, or whose glusterd does not answer, is passed over (and named
/// in the health read). The error of the last node tried when none answers. A started
/// volume's status and health are read from the same node.
pub async fn observe_volume<E: NodeExecutor>(
    client: &GlusterClient<E>,
    order: &[&NodeEndpoint],
    volume: &str,
) -> Result<Option<SeenVolume>, ReconcileError> {
    let name = VolumeName::new(volume).map_err(GlusterError::from)?;
    let mut last = None;
    let mut unanswered = Vec::new();
    let mut absent = false;
    for endpoint in order {
        match client.volume_info(endpoint, &name).await {
            Ok(None) => absent = true,
            Ok(Some(info)) => {
                let (status, health) = if info.state == VolumeState::Started {
                    let status = client.volume_status(endpoint, &name).await.ok();
                    let health = read_health(client, endpoint, &name, &info, unanswered).await;
                    (status, Some(health))
                } else {
                    (None, None)
                };
                return Ok(Some(SeenVolume {
                    info: Box::new(info),
                    status: status.map(Box::new),
                    health,
                    strangers: Vec::new(),
                }));
            }
            Err(e @ (GlusterError::Exec(_) | GlusterError::NoAnswer { .. })) => {
                if matches!(e, GlusterError::NoAnswer { .. }) {
                    unanswered.push(endpoint.name.clone());
                }
                tracing::debug!(node = %endpoint.name, error = %e, "gluster did not answer");
                last = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if absent {
        return Ok(None);
    }
    Err(last
        .map(ReconcileError::from)
        .unwrap_or(ReconcileError::MissingMetadata("nodes with an address")))
}

/// The health read of started volume `name` on `endpoint`: pool list, status detail and, for
/// a volume with redundancy, heal info summary. A figure that fails is left out.
async fn read_health<E: NodeExecutor>(
    client: &GlusterClient<E>,
    endpoint: &NodeEndpoint,
    name: &VolumeName,
    info: &VolumeInfo,
    unanswered: Vec<String>,
) -> SeenHealth {
    fn keep<T>(what: &str, node: &str, r: Result<T, GlusterError>) -> Option<T> {
        r.map_err(|e| tracing::warn!(node, error = %e, "health read: {what} failed"))
            .ok()
    }
    let node = endpoint.name.as_str();
    let pool = keep("pool list", node, client.pool_list(endpoint).await);
    let detail = keep(
        "volume status detail",
        node,
        client.volume_status_detail(endpoint, name).await,
    );
    let redundant = info.replica_count > 1 || info.disperse_count > 0;
    let heal = match redundant {
        true => keep(
            "heal info summary",
            node,
            client.heal_info_summary(endpoint, name).await,
        ),
        false => None,
    };
    SeenHealth {
        read_from: endpoint.name.clone(),
        read_address: Some(endpoint.address.clone()),
        unanswered,
        pool,
        detail: detail.map(Box::new),
        heal,
    }
}

/// The nodes (of `order`) with a brick of `seen` that `volume status` does not show online
/// and whose glusterd answers that it does not know the volume: asked only when a brick is
/// offline. A node that does not answer is not one (it is down, not a stranger).
async fn strangers<E: NodeExecutor>(
    client: &GlusterClient<E>,
    order: &[&NodeEndpoint],
    seen: &SeenVolume,
) -> Result<Vec<String>, ReconcileError> {
    let Some(status) = &seen.status else {
        return Ok(Vec::new());
    };
    let name = VolumeName::new(&seen.info.name).map_err(GlusterError::from)?;
    let offline = offline_hosts(&seen.info, status);
    let mut found = Vec::new();
    for endpoint in order.iter().filter(|e| offline.contains(&e.address)) {
        if let Ok(None) = client.volume_info(endpoint, &name).await {
            found.push(endpoint.name.clone());
        }
    }
    Ok(found)
}

/// The hosts (addresses) of the bricks of `info` that `status` does not show online. Pure.
pub fn offline_hosts(info: &VolumeInfo, status: &XmlStatus) -> BTreeSet<String> {
    info.bricks
        .iter()
        .filter(|b| {
            !status
                .bricks
                .iter()
                .any(|s| s.host == b.host && s.path == b.path && s.online)
        })
        .map(|b| b.host.clone())
        .collect()
}

/// Whether `address:port` accepts a TCP connection within `timeout` (at most a second).
async fn listens(address: &str, port: u16, timeout: Duration) -> bool {
    let timeout = timeout.min(Duration::from_secs(1));
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect((address, port))).await,
        Ok(Ok(_))
    )
}

/// The nodes (by name, in index order) that accept a TCP connection on `ssh_port` but not on
/// glusterd's port: booted, their brick script still running. Probed concurrently.
async fn bootstrapping(nodes: &[NodeUp], ssh_port: u16, timeout: Duration) -> Vec<String> {
    let probes = nodes.iter().filter_map(|n| {
        let address = n.address.clone()?;
        let name = n.name.clone();
        Some(async move {
            if listens(&address, GLUSTERD_PORT, timeout).await {
                return None;
            }
            listens(&address, ssh_port, timeout).await.then_some(name)
        })
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The addresses whose glusterd does not accept a TCP connection (an empty address counts as
/// closed). Probed concurrently.
async fn closed(addresses: &[String], timeout: Duration) -> Vec<String> {
    let probes = addresses.iter().map(|a| async move {
        match a.is_empty() {
            false if listens(a, GLUSTERD_PORT, timeout).await => None,
            _ => Some(a.clone()),
        }
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Lists the cluster's servers (by tag) and volumes (by metadata) and Cinder's zones,
/// concurrently.
pub async fn observe_cloud(cloud: &Cloud, owner: &Owner) -> Result<Observed, CloudError> {
    let (mut observed, zones) = futures::try_join!(
        observe_owned(cloud, owner),
        cloud.volume().availability_zones(),
    )?;
    observed.block_storage_zones = zones
        .into_iter()
        .filter(|z| z.available)
        .map(|z| z.name)
        .collect();
    Ok(observed)
}

/// Brings `base` up to date with only the lists named (servers and the nodes' ports by tag,
/// volumes by metadata) and Cinder's zones when `zones` is set, concurrently; what is not
/// listed stays as in `base`. The ports are listed after the servers, and only when fewer
/// than `desired` servers exist: they matter only to a node about to be created (a
/// replacement boots knowing its peers' port addresses), not to every poll of a build.
pub async fn observe_some(
    cloud: &Cloud,
    owner: &Owner,
    mut base: Observed,
    lists: Lists,
    zones: bool,
    desired: usize,
) -> Result<Observed, CloudError> {
    let server_query = owner.server_query();
    let volume_query = owner.volume_query();
    let port_tags = [owner.tag()];
    let servers = async {
        if !lists.servers {
            return Ok(None);
        }
        let servers = cloud.compute().list_servers(&server_query).await?;
        let ports = match servers.len() < desired {
            true => Some(cloud.network().list_ports(&port_tags).await?),
            false => None,
        };
        Ok(Some((servers, ports)))
    };
    let volumes = async {
        match lists.volumes {
            true => cloud.volume().list_volumes(&volume_query).await.map(Some),
            false => Ok(None),
        }
    };
    let found_zones = async {
        match zones {
            true => cloud.volume().availability_zones().await.map(Some),
            false => Ok(None),
        }
    };
    let (servers, volumes, found_zones) = futures::try_join!(servers, volumes, found_zones)?;
    if let Some((servers, ports)) = servers {
        base.servers = servers;
        if let Some(ports) = ports {
            base.ports = ports;
        }
    }
    if let Some(volumes) = volumes {
        base.volumes = volumes;
    }
    if let Some(found) = found_zones {
        base.block_storage_zones = found
            .into_iter()
            .filter(|z| z.available)
            .map(|z| z.name)
            .collect();
    }
    Ok(base)
}

/// Lists the cluster's servers and ports (by tag) and volumes (by metadata), concurrently; no
/// zones.
pub async fn observe_owned(cloud: &Cloud, owner: &Owner) -> Result<Observed, CloudError> {
    let server_query = owner.server_query();
    let volume_query = owner.volume_query();
    let port_tags = [owner.tag()];
    let (servers, volumes, ports) = futures::try_join!(
        cloud.compute().list_servers(&server_query),
        cloud.volume().list_volumes(&volume_query),
        cloud.network().list_ports(&port_tags),
    )?;
    Ok(Observed {
        servers,
        volumes,
        block_storage_zones: BTreeSet::new(),
        ports,
    })
}

/// The planner's view of what exists: one node per name found on a server or a brick volume
/// (a node whose server is gone but whose volume survives keeps its index). Resources without
/// well-formed node metadata, or without a known zone, are left out; a second resource with a
/// name already seen adds nothing.
pub fn current_state(observed: &Observed) -> CurrentState {
    let mut nodes: Vec<ExistingNode> = Vec::new();
    let found = observed
        .servers
        .iter()
        .map(|s| (node_of(&s.metadata), s.availability_zone.clone()))
        .chain(
            observed
                .volumes
                .iter()
                .map(|v| (node_of(&v.metadata), v.availability_zone.clone())),
        );
    for (node, zone) in found {
        let (Some((name, index)), Some(zone)) = (node, zone) else {
            continue;
        };
        if nodes.iter().any(|n| n.name == name || n.index == index) {
            continue;
        }
        nodes.push(ExistingNode { name, index, zone });
    }
    nodes.sort_by_key(|n| n.index);
    CurrentState {
        nodes,
        volume: None,
        used_bytes: None,
    }
}

/// The planner's cloud facts: the zones where Cinder serves volumes.
pub fn cloud_facts(observed: &Observed) -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(observed.block_storage_zones.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            namespace: "ns".into(),
            name: "c".into(),
            uid: "u-1".into(),
        }
    }

    fn server(node: &str, index: u32, zone: Option<&str>) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": format!("srv-{node}"),
            "name": node,
            "status": "ACTIVE",
            "OS-EXT-AZ:availability_zone": zone,
            "metadata": owner().node_metadata(node, index),
            "tags": [owner().tag()],
            "flavor": {},
            "addresses": {},
        }))
        .expect("a server document")
    }

    fn volume(node: &str, index: u32, zone: &str) -> Volume {
        serde_json::from_value(serde_json::json!({
            "id": format!("vol-{node}"),
            "name": format!("{node}-brick"),
            "status": "available",
            "size": 10,
            "availability_zone": zone,
            "metadata": owner().node_metadata(node, index),
        }))
        .expect("a volume document")
    }

    #[test]
    fn nodes_come_from_servers_and_surviving_volumes() {
        let observed = Observed {
            servers: vec![server("c-a-1", 0, Some("a")), server("c-a-1", 0, Some("a"))],
            volumes: vec![volume("c-a-1", 0, "a"), volume("c-b-1", 1, "b")],
            block_storage_zones: BTreeSet::from(["a".to_string()]),
            ports: Vec::new(),
        };
        let state = current_state(&observed);
        let nodes: Vec<_> = state
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.index, n.zone.as_str()))
            .collect();
        assert_eq!(nodes, [("c-a-1", 0, "a"), ("c-b-1", 1, "b")]);
        assert_eq!(state.volume, None);
        assert_eq!(
            cloud_facts(&observed).block_storage_zones,
            Some(BTreeSet::from(["a".to_string()]))
        );
    }

    #[test]
    fn resources_without_node_metadata_or_zone_are_left_out() {
        let mut stray = server("c-a-2", 2, Some("a"));
        stray.metadata.clear();
        let observed = Observed {
            servers: vec![stray, server("c-a-3", 3, None)],
            ..Observed::default()
        };
        assert!(current_state(&observed).nodes.is_empty());
    }
}

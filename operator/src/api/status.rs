//! `GlusterCluster` status: what the operator observed and did. Everything here is re-derived
//! from the cloud and from gluster on every reconcile; nothing is kept only in status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a GlusterCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GlusterClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled` (kstatus), each with a reason and a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Nodes whose brick is online in the volume.
    #[serde(default)]
    pub ready_nodes: u32,
    /// Nodes the spec asks for, summed over zones.
    #[serde(default)]
    pub desired_nodes: u32,
    /// `ready/desired`, e.g. `3/4` (the Nodes printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_summary: Option<String>,
    /// Per zone: desired and ready nodes and the storage mode detected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneStatus>,
    /// Per node: its server, brick volume, address and state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStatus>,
    /// The gluster volume as gluster reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeStatus>,
    /// Usable capacity of the volume (e.g. `400Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// What a client mounts: `address:/volume` (e.g. `mount -t glusterfs 10.0.0.5:/data /mnt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// Further volfile servers for the `backup-volfile-servers=` mount option.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_volfile_servers: Vec<String>,
    /// The volume's health as gluster reported it at the last health read (every
    /// `--health-interval` while the cluster is settled): peers, bricks, heal, capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// The volume's health figures, read from one node that answered (`pool list`, `volume
/// status VOL` and `… detail`, `volume heal VOL info summary`). A figure gluster could not give
/// is absent, never zero.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// The node whose glusterd answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_from: Option<String>,
    /// Peers of the trusted pool connected (as the answering node sees them, itself included).
    pub peers_connected: u32,
    /// Peers of the trusted pool.
    pub peers_total: u32,
    /// Nodes of the cluster whose glusterd is not connected (or did not answer), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers_lost: Vec<String>,
    /// Bricks whose process is online.
    pub bricks_online: u32,
    /// Bricks of the volume.
    pub bricks_total: u32,
    /// `online/total`, e.g. `3/4` (the Bricks printer column).
    pub bricks: String,
    /// Bricks whose process is not online: `node (address:/path)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bricks_offline: Vec<String>,
    /// Entries waiting for self-heal over all bricks (absent when a brick could not be asked,
    /// or the volume has no redundancy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_pending: Option<u64>,
    /// Entries in split-brain over all bricks (never healed without a person's decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_brain: Option<u64>,
    /// Per brick: entries waiting for heal and in split-brain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heal_by_brick: Vec<BrickHeal>,
    /// Bytes used of the volume's usable capacity (brick filesystems, per copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_used_bytes: Option<u64>,
    /// The volume's usable capacity in bytes (brick filesystems, per copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_total_bytes: Option<u64>,
    /// The fullest brick filesystem's use, in percent (what `CapacityLow` compares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullest_brick_percent: Option<u32>,
    /// Data movement gluster runs: a rebalance or remove-brick task in progress, a heal with
    /// entries left (e.g. `Rebalance in progress`, `heal: 12 entries pending`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_progress: Vec<String>,
}

/// One brick's heal figures.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrickHeal {
    /// `address:/path`.
    pub brick: String,
    /// The node holding it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `Connected`, or why glfsheal could not ask the brick.
    pub status: String,
    /// Entries waiting for heal (absent when the brick could not be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// Entries in split-brain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_brain: Option<u64>,
}

/// Observed state of one zone.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneStatus {
    /// The availability zone.
    pub name: String,
    /// Nodes the spec asks for in this zone.
    pub desired: u32,
    /// Nodes of this zone whose brick is online.
    pub ready: u32,
    /// Where this zone's bricks live, as detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<BrickStorage>,
}

/// Where a brick lives, once decided.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum BrickStorage {
    /// A Cinder volume attached to the server.
    Volume,
    /// The server's local ephemeral disk.
    Ephemeral,
}

/// Observed state of one node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The node's name (also its server's name).
    pub name: String,
    /// The node's stable index across the cluster.
    pub index: u32,
    /// The availability zone.
    pub zone: String,
    /// The Nova server ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
    /// The Cinder volume ID of the brick (absent for an ephemeral brick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    /// The address gluster and SSH use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where the node is in its life.
    #[serde(default)]
    pub state: NodeState,
    /// The brick, `address:/export/vol/brick`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brick: Option<String>,
    /// The cloud's own message when the node failed (e.g. the Nova fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a node is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum NodeState {
    /// Not created yet.
    #[default]
    Pending,
    /// Server or volume being created.
    Creating,
    /// Server active, waiting for its bootstrap to finish.
    Booting,
    /// In the trusted pool, brick not yet in the volume.
    Joined,
    /// Brick online in the volume.
    Ready,
    /// Brick being drained before removal.
    Draining,
    /// Server gone or in ERROR; to be replaced.
    Failed,
    /// Being deleted.
    Deleting,
}

/// The gluster volume as gluster reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    /// The volume name.
    pub name: String,
    /// `Replicate`, `Distributed-Replicate`, `Disperse`, `Distributed-Disperse`, `Distribute`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `Created`, `Started` or `Stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Bricks per replica set.
    #[serde(default)]
    pub replica_count: u32,
    /// Arbiter bricks per replica set.
    #[serde(default)]
    pub arbiter_count: u32,
    /// Bricks per disperse set.
    #[serde(default)]
    pub disperse_count: u32,
    /// Redundancy bricks per disperse set.
    #[serde(default)]
    pub redundancy_count: u32,
    /// Distribute subvolumes.
    #[serde(default)]
    pub distribute_count: u32,
    /// Whether `features.shard` is on (the meaning of `stripes`).
    #[serde(default)]
    pub sharding: bool,
    /// Bricks in volume order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bricks: Vec<BrickStatus>,
}

/// One brick of the volume.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrickStatus {
    /// `address:/path`.
    pub name: String,
    /// The node holding it.
    pub node: String,
    /// Whether its brick process is online.
    pub online: bool,
}

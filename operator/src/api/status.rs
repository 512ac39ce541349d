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

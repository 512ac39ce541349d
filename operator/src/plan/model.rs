//! The planner's inputs (what exists now) and its output (the plan).

use std::collections::BTreeMap;

use super::shape::VolumeShape;
use super::steps::Step;
use super::storage::{StorageChoice, ZoneStorage};

/// A node that exists now (its server, or at least its name and index, is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingNode {
    /// The node name (also its server name and host name).
    pub name: String,
    /// Its cluster-wide index (never reused while the node exists).
    pub index: u32,
    /// Its availability zone.
    pub zone: String,
}

/// A volume's lifecycle state as gluster shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VolumeState {
    /// Created and never started (a pass ended between `volume create` and `volume start`).
    Created,
    /// Started: its bricks are served.
    #[default]
    Started,
    /// Stopped (by a person: the operator never stops a volume).
    Stopped,
}

/// The gluster volume as observed (`gluster volume info`, and the tasks of `volume status`),
/// with bricks mapped to node names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedVolume {
    /// The node of each brick, in volume order.
    pub bricks: Vec<String>,
    /// Replica count (1 when not replicated).
    pub replica_count: u32,
    /// Arbiter bricks per replica set.
    pub arbiter_count: u32,
    /// Disperse count (0 when not dispersed).
    pub disperse_count: u32,
    /// Redundancy per disperse set.
    pub redundancy_count: u32,
    /// Created, started or stopped.
    pub state: VolumeState,
    /// The options set on the volume (`volume info`'s reconfigured options), name to value;
    /// node addresses in `auth.allow` are given as node names (as the plan writes them).
    pub options: BTreeMap<String, String>,
    /// The ID of the rebalance task `volume status` shows (running or finished), if any.
    pub rebalance_task: Option<String>,
    /// Whether `volume status` answered this pass (else `rebalance_task` is unknown).
    pub tasks_known: bool,
}

impl ObservedVolume {
    /// Bricks per set.
    pub fn set_size(&self) -> u32 {
        if self.disperse_count > 0 {
            self.disperse_count
        } else {
            self.replica_count.max(1)
        }
    }

    /// Gluster's notation of the observed shape (`2 x 2 = 4`).
    pub fn notation(&self) -> String {
        let n = self.bricks.len() as u32;
        let s = self.set_size();
        let sets = n.checked_div(s).unwrap_or(0);
        if self.disperse_count > 0 {
            format!(
                "{sets} x ({} + {}) = {n} (disperse)",
                self.disperse_count.saturating_sub(self.redundancy_count),
                self.redundancy_count
            )
        } else if self.arbiter_count > 0 {
            format!(
                "{sets} x ({} + {}) = {n} (arbiter)",
                self.replica_count.saturating_sub(self.arbiter_count),
                self.arbiter_count
            )
        } else {
            format!("{sets} x {s} = {n}")
        }
    }
}

/// Everything the planner needs to know about what exists. `Default` is a cluster that does not
/// exist yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentState {
    /// The nodes that exist.
    pub nodes: Vec<ExistingNode>,
    /// The volume, once created.
    pub volume: Option<ObservedVolume>,
    /// Bytes used in the volume, when known (checked before a scale-in).
    pub used_bytes: Option<u64>,
}

impl CurrentState {
    /// The state once `plan` has been carried out: its nodes, and its volume started with its
    /// bricks and the options the plan set.
    pub fn after(plan: &ClusterPlan) -> CurrentState {
        CurrentState {
            nodes: plan
                .nodes
                .iter()
                .map(|n| ExistingNode {
                    name: n.name.clone(),
                    index: n.index,
                    zone: n.zone.clone(),
                })
                .collect(),
            volume: Some(ObservedVolume {
                bricks: plan.bricks().map(|b| b.node.clone()).collect(),
                replica_count: plan.shape.replica,
                arbiter_count: plan.shape.arbiter,
                disperse_count: plan.shape.disperse,
                redundancy_count: plan.shape.redundancy,
                state: VolumeState::Started,
                options: plan
                    .steps
                    .iter()
                    .filter_map(|s| match s {
                        Step::SetOption { key, command, .. } => {
                            Some((key.clone(), command.argv().last()?.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
                rebalance_task: None,
                tasks_known: true,
            }),
            used_bytes: None,
        }
    }
}

/// One zone of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonePlan {
    /// The availability zone.
    pub name: String,
    /// Nodes wanted in this zone.
    pub nodes: u32,
    /// `minNodes`, if set.
    pub min_nodes: Option<u32>,
    /// `maxNodes`, if set.
    pub max_nodes: Option<u32>,
    /// Brick storage and server flavor.
    pub storage: ZoneStorage,
}

/// One node of the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNode {
    /// The node name: `<cluster>-<zone>-<ordinal>` (DNS-safe, at most 63 characters).
    pub name: String,
    /// Its cluster-wide index (0-based; kept for the node's life).
    pub index: u32,
    /// Its availability zone.
    pub zone: String,
    /// Its brick storage and server flavor (its zone's).
    pub storage: StorageChoice,
    /// Whether the node exists already (false: the plan creates it).
    pub existing: bool,
}

/// One brick of the target volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brick {
    /// The node holding it.
    pub node: String,
    /// The node's zone.
    pub zone: String,
    /// Whether it is its set's arbiter (metadata only).
    pub arbiter: bool,
}

/// One replica (or disperse) set, in volume order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrickSet {
    /// Its bricks, in volume order.
    pub bricks: Vec<Brick>,
}

impl BrickSet {
    /// The distinct zones of the set, in brick order.
    pub fn zones(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for b in &self.bricks {
            if !out.contains(&b.zone.as_str()) {
                out.push(&b.zone);
            }
        }
        out
    }
}

/// The plan for one GlusterCluster: the target nodes and layout, and the steps from what exists
/// to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPlan {
    /// The cluster (`metadata.name`).
    pub cluster: String,
    /// The gluster volume name.
    pub volume: String,
    /// Where each node mounts its brick filesystem.
    pub mount_path: String,
    /// The brick directory on each node (`<mountPath>/brick`).
    pub brick_path: String,
    /// Brick size in bytes (`spec.brick.size`).
    pub brick_bytes: u64,
    /// Volume type and counts.
    pub shape: VolumeShape,
    /// The zones, in spec order.
    pub zones: Vec<ZonePlan>,
    /// The target nodes, by index.
    pub nodes: Vec<PlannedNode>,
    /// The target sets, in volume order.
    pub sets: Vec<BrickSet>,
    /// Nodes that exist now and that the plan removes.
    pub removed: Vec<ExistingNode>,
    /// `auth.allow` patterns of the allowed clients (the node addresses are added to them).
    pub client_patterns: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Remarks for a human reader (sharding, split-brain risk, undecided storage, …).
    pub notes: Vec<String>,
}

impl ClusterPlan {
    /// Every brick in volume order.
    pub fn bricks(&self) -> impl Iterator<Item = &Brick> {
        self.sets.iter().flat_map(|s| s.bricks.iter())
    }

    /// The target node called `name`.
    pub fn node(&self, name: &str) -> Option<&PlannedNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The target nodes of zone `zone`, by index.
    pub fn zone_nodes<'a>(&'a self, zone: &'a str) -> impl Iterator<Item = &'a PlannedNode> + 'a {
        self.nodes.iter().filter(move |n| n.zone == zone)
    }

    /// Usable bytes of the target volume.
    pub fn capacity(&self) -> u64 {
        self.shape.capacity(self.brick_bytes)
    }
}

//! The layout planner (`docs/design.md`, "Layout arithmetic"): a pure function from a
//! `GlusterCluster` spec, the cloud facts and what exists now to the target nodes, the volume
//! layout and the safe steps between. No I/O: the reconciler observes, calls [`plan_change`], and
//! carries out the steps; the `plan` command calls [`plan_cluster`] and prints [`report::render`].
//!
//! - nodes: `<cluster>-<zone>-<ordinal>`, DNS-safe, with 0-based cluster-wide indices that never
//!   shift (new nodes take the next ones, zones interleaved);
//! - shape: the arithmetic of replicas / stripes / arbiter / disperse over the node count;
//! - bricks: sets that never hold two bricks of one node and span min(set size, zones) zones;
//! - steps: exact `gluster --mode=script …` argument vectors, hosts symbolic until rendered with
//!   the node addresses ([`Command::argv_with`]).

mod auth;
mod bricks;
mod change;
mod command;
mod error;
pub mod manifest;
mod model;
mod names;
mod nodes;
mod notes;
mod planner;
mod quantity;
mod repair;
pub mod report;
mod shape;
mod steps;
mod storage;
mod tls;
mod validate;
mod whole_sets;

pub use auth::client_patterns;
pub use command::{Arg, Command, Gluster, Part};
pub use error::{CAPACITY_MARGIN_PERCENT, PlanError, scale_in_limit};
pub use model::{
    Brick, BrickSet, ClusterPlan, CurrentState, ExistingNode, ObservedVolume, PlannedNode,
    VolumeState, ZonePlan,
};
pub use names::{MAX_LABEL, name_part, node_name};
pub use planner::{plan_change, plan_cluster};
pub use quantity::{format_bytes, parse_bytes};
pub use repair::{PENDING_KEY, Pending};
pub use shape::{SetKind, VolumeShape, VolumeType, default_redundancy, derive_shape};
pub use steps::Step;
pub use storage::{CloudFacts, StorageChoice, ZoneStorage, zone_storage};
pub use tls::{SSL_ALLOW, client_common_name, ssl_allow, volume_has_tls};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

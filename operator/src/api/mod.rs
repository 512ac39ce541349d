//! The `GlusterCluster` API (`storage.glusterops.dev/v1alpha1`): spec, status and conditions.
//!
//! Pure types and pure helpers only; no I/O. Field doc comments become the CRD descriptions that
//! `kubectl explain` shows, so they state defaults and units.

pub mod admission;
pub mod conditions;
mod spec;
mod status;

pub use spec::*;
pub use status::*;

/// The API group of every resource this operator serves.
pub const GROUP: &str = "storage.glusterops.dev";
/// The API version of `GlusterCluster`.
pub const VERSION: &str = "v1alpha1";

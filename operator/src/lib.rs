//! gluster-operator: builds and runs GlusterFS storage clusters on OpenStack from a
//! `GlusterCluster` resource. See `docs/design.md`, "The rooms": a pure core (`api`, `plan`,
//! `bootstrap`, the controller's `decide`) and an imperative shell (`cloud`, `gluster`, the
//! controller's `observe` and `act`).

pub mod api;
pub mod bootstrap;
pub mod cloud;
pub mod controller;
pub mod crd;
pub mod fence;
pub mod fuzzing;
pub mod gluster;
pub mod plan;
pub mod tls;

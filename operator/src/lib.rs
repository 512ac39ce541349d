//! gluster-operator: builds and runs GlusterFS storage clusters on OpenStack from a
//! `GlusterCluster` resource. See DESIGN.md §4 for the layout: a pure core (`api`, `plan`,
//! `bootstrap`) and an imperative shell (`cloud`, `gluster`, `controller`).

pub mod api;
pub mod bootstrap;
pub mod cloud;
pub mod controller;
pub mod crd;
pub mod fuzzing;
pub mod gluster;
pub mod plan;

//! End-to-end world for gluster-operator: the OpenStack simulator, the Kubernetes API
//! emulator and the loopback gluster nodes (DESIGN.md §8). Test infrastructure only.

pub mod bench;
pub mod cloudnodes;
pub mod devenv;
pub mod kube;
pub mod nodes;
pub mod openstack;
pub mod recorder;

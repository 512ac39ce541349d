//! End-to-end world for gluster-operator: the OpenStack simulator, a real Kubernetes control
//! plane (etcd, kube-apiserver, kube-controller-manager built from Go modules) and the loopback
//! gluster nodes (docs/design.md, "The local world"). Test infrastructure only.

pub mod bench;
pub mod cloudnodes;
pub mod controlplane;
pub mod data;
pub mod devenv;
pub mod nodes;
pub mod openstack;
pub mod recorder;
pub mod vm;

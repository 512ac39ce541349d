//! Worlds whose servers are real gluster nodes: the simulator's boot hook starts a loopback
//! node (real sshd and glusterd on the server's 127.x address, booted from the user-data the
//! operator rendered) for each server it builds. Every gluster test (reconcile_gluster,
//! reconcile_health, reconcile_crash, reconcile_replace) starts its world here.

use std::future::Future;
use std::sync::Arc;

use e2e::devenv::NodesHook;
use e2e::nodes::{LoopbackNodes, NodesConfig};
use e2e::openstack::{SimConfig, TimingConfig};

use super::World;

/// The loopback nodes behind a world's simulator, and the scratch directory they live in.
pub struct LoopbackGluster {
    /// The nodes (one per server the simulator built).
    pub nodes: Arc<LoopbackNodes>,
    /// Their state, and room for the test's mounts.
    pub scratch: tempfile::TempDir,
}

/// Starts a world with `start` (e.g. [`World::start`]) whose servers become loopback nodes on
/// addresses 127.100.X.* of its own: X from the process ID and `block` (each test file passes
/// its own offset and each test its slot, so that loopback nodes of other worlds on this
/// machine — devenv, the nodes tests, other tests — never hold the same ones). `prefix` names
/// the scratch directory under /tmp. Needs root: it fails, never skips.
pub async fn start_gluster_world<F>(
    prefix: &str,
    block: u32,
    start: impl FnOnce(SimConfig) -> F,
) -> (World, LoopbackGluster)
where
    F: Future<Output = World>,
{
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
    );
    let scratch = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let nodes = Arc::new(
        LoopbackNodes::new(NodesConfig::new(scratch.path().join("state"))).expect("nodes"),
    );
    let mut sim = SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    };
    let block = 20 + (std::process::id() * 4 + block) % 230;
    let subnet = &mut sim.networks[0].subnet;
    subnet.allocation_start = Some(format!("127.100.{block}.10"));
    subnet.allocation_end = Some(format!("127.100.{block}.250"));
    let world = start(sim).await;
    world.sim().set_boot_hook(Arc::new(NodesHook::new(
        nodes.clone(),
        world.sim().config(),
    )));
    (world, LoopbackGluster { nodes, scratch })
}

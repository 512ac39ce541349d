//! The simulator's boot hook that turns servers into loopback gluster nodes: what a cloud's
//! hypervisor and cloud-init do, mapped onto [`LoopbackNodes`].
//!
//! | simulator event | nodes |
//! |---|---|
//! | server ACTIVE | [`LoopbackNodes::start`] (the brick script goes on in the background) |
//! | server deleted | [`LoopbackNodes::delete`] (volumes are kept, as Cinder keeps them) |
//! | volume attached | [`LoopbackNodes::ensure_volume`] then [`LoopbackNodes::attach_volume`] |
//! | volume detached | [`LoopbackNodes::detach_volume`] |
//!
//! A failure is logged with the server and left for the operator to observe, as a cloud would
//! leave a guest whose cloud-init failed: the node simply never answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::nodes::{LoopbackNodes, NodeError, NodeSpec};
use crate::openstack::{BootHook, ServerEvent, SimConfig, VolumeEvent};

const GIB: u64 = 1 << 30;

/// Boot hook backed by loopback nodes.
pub struct NodesHook {
    nodes: Arc<LoopbackNodes>,
    /// Ephemeral disk size in bytes, by flavor name (the event carries only the name).
    ephemeral_bytes: BTreeMap<String, u64>,
}

impl NodesHook {
    /// A hook starting nodes in `nodes` for servers of the simulator configured by `sim`.
    pub fn new(nodes: Arc<LoopbackNodes>, sim: &SimConfig) -> NodesHook {
        let ephemeral_bytes = sim
            .flavors
            .iter()
            .filter(|f| f.ephemeral_gb > 0)
            .map(|f| (f.name.clone(), f.ephemeral_gb.saturating_mul(GIB)))
            .collect();
        NodesHook {
            nodes,
            ephemeral_bytes,
        }
    }

    fn spec(&self, event: &ServerEvent) -> Result<NodeSpec, String> {
        let address = event
            .address
            .as_deref()
            .ok_or("the server has no fixed address")?
            .parse()
            .map_err(|e| format!("the server's address is not IPv4: {e}"))?;
        let user_data = event
            .user_data_text()
            .ok_or("the server has no UTF-8 user-data")?
            .to_owned();
        Ok(NodeSpec {
            server_id: event.id.clone(),
            name: event.name.clone(),
            address,
            user_data,
            volume_ids: event.volumes.clone(),
            ephemeral_bytes: self.ephemeral_bytes.get(&event.flavor).copied(),
        })
    }
}

impl BootHook for NodesHook {
    fn server_active(&self, event: &ServerEvent) {
        let spec = match self.spec(event) {
            Ok(spec) => spec,
            Err(why) => {
                tracing::warn!(server = %event.name, id = %event.id, "no node for this server: {why}");
                return;
            }
        };
        match self.nodes.start(spec) {
            Ok(node) => {
                tracing::info!(server = %event.name, address = %node.address, "node started")
            }
            // A server that is not a gluster node (no brick script in its user-data) stays a
            // plain simulated server.
            Err(e @ NodeError::UserData { .. }) => {
                tracing::info!(server = %event.name, "not a gluster node: {e}")
            }
            Err(e) => tracing::warn!(server = %event.name, "node did not start: {e}"),
        }
    }

    fn server_deleted(&self, event: &ServerEvent) {
        if let Err(e) = self.nodes.delete(&event.id) {
            tracing::warn!(server = %event.name, "node not deleted cleanly: {e}");
        }
    }

    fn volume_attached(&self, event: &VolumeEvent) {
        let attached = self
            .nodes
            .ensure_volume(&event.volume_id, event.size_gb.saturating_mul(GIB))
            .and_then(|_| self.nodes.attach_volume(&event.server_id, &event.volume_id))
            .map(drop);
        if let Err(e) = attached {
            tracing::warn!(server = %event.server_name, volume = %event.volume_id, "volume not attached to the node: {e}");
        }
    }

    fn volume_detached(&self, event: &VolumeEvent) {
        if let Err(e) = self.nodes.detach_volume(&event.server_id, &event.volume_id) {
            tracing::warn!(server = %event.server_name, volume = %event.volume_id, "volume not detached from the node: {e}");
        }
    }
}

//! The boot hook: how the world outside the simulator learns that a server came up or went away
//! (the loopback gluster nodes start and stop real daemons there), and that a volume was attached
//! or detached.

use serde::Serialize;
use std::collections::BTreeMap;

/// Called by the simulator as servers and attachments change state. Methods run on a blocking
/// thread, one event at a time per server, and the state change becomes visible through the API
/// only when the method returns: a server shows ACTIVE after `server_active` returned (like a VM
/// whose boot finished), a volume shows `in-use` after `volume_attached`, `available` after
/// `volume_detached`, and a deleted server's address is freed after `server_deleted`.
pub trait BootHook: Send + Sync {
    /// The server is becoming ACTIVE (its address is allocated).
    fn server_active(&self, event: &ServerEvent);
    /// The server is being deleted (only for servers that became ACTIVE).
    fn server_deleted(&self, event: &ServerEvent);
    /// A volume is being attached to an ACTIVE server.
    fn volume_attached(&self, _event: &VolumeEvent) {}
    /// A volume is being detached from a server (not called for detaches implied by a delete:
    /// `server_deleted` lists the volumes).
    fn volume_detached(&self, _event: &VolumeEvent) {}
}

/// A server, as the hook sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerEvent {
    /// Server ID.
    pub id: String,
    /// Server name.
    pub name: String,
    /// Availability zone.
    pub availability_zone: String,
    /// Fixed IPv4 address on the first network (inside 127.0.0.0/8 in the default world).
    pub address: Option<String>,
    /// Every fixed address, by network name.
    pub addresses: BTreeMap<String, Vec<String>>,
    /// Flavor name.
    pub flavor: String,
    /// Image ID.
    pub image_id: String,
    /// Key pair name, if any.
    pub key_name: Option<String>,
    /// The key pair's public key, if any.
    pub public_key: Option<String>,
    /// Decoded user data (what cloud-init would read); left out when serialised (it is bytes:
    /// the `openstack-sim` binary adds it as text and base64).
    #[serde(skip)]
    pub user_data: Option<Vec<u8>>,
    /// Server metadata.
    pub metadata: BTreeMap<String, String>,
    /// Server tags.
    pub tags: Vec<String>,
    /// IDs of the volumes attached.
    pub volumes: Vec<String>,
}

impl ServerEvent {
    /// The user data as text, when it is UTF-8.
    pub fn user_data_text(&self) -> Option<&str> {
        self.user_data
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// A volume attachment, as the hook sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeEvent {
    /// Server ID.
    pub server_id: String,
    /// Server name.
    pub server_name: String,
    /// The server's first fixed address.
    pub address: Option<String>,
    /// Volume ID (the guest would see `/dev/disk/by-id/virtio-<first 20 characters>`).
    pub volume_id: String,
    /// Device name Nova reports (`/dev/vdb`, ...).
    pub device: String,
    /// Volume size in GiB.
    pub size_gb: u64,
}

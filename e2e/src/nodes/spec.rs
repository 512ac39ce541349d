//! [`NodeSpec`]: what the OpenStack simulator's boot hook hands over when a server becomes ACTIVE,
//! and its validation (pure).

use std::fmt;
use std::net::Ipv4Addr;

use super::error::NodeError;

/// The smallest disk a node accepts: `mkfs.xfs` refuses file systems under 300 MB.
pub const MIN_DISK_BYTES: u64 = 512 << 20;

/// A server that became ACTIVE, as a loopback node needs it. The simulator's boot-hook adapter
/// fills it from its event:
///
/// | field | from the server |
/// |---|---|
/// | `server_id` | its ID |
/// | `name` | its name (the node's hostname is derived from it, as Nova does) |
/// | `address` | its fixed address, in 127.0.0.0/8 |
/// | `user_data` | its `user_data`, base64-decoded: the `#cloud-config` rendered by `gluster_operator::bootstrap` |
/// | `volume_ids` | the IDs of the Cinder volumes attached to it, in attachment order |
/// | `ephemeral_bytes` | the size of its flavor's ephemeral disk, `None` when it has none |
///
/// The availability zone, metadata and tags of the event are not needed. Volume sizes come from
/// [`super::LoopbackNodes::ensure_volume`] (called when Cinder creates the volume); a volume never
/// announced gets the configured default size.
///
/// `Debug` leaves out the user-data: it holds the node's private host key.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The server ID (Nova's UUID); it names the node's directory, so it must be 1 to 64 letters,
    /// digits, `-`, `_` or `.`, not starting with `.`.
    pub server_id: String,
    /// The server name.
    pub name: String,
    /// The server's address: sshd listens on port 22 and glusterd on 24007 of it.
    pub address: Ipv4Addr,
    /// The decoded user-data (`#cloud-config`).
    pub user_data: String,
    /// The attached Cinder volumes; each shows up in the node as
    /// `/dev/disk/by-id/virtio-<first 20 characters of the ID>`.
    pub volume_ids: Vec<String>,
    /// The ephemeral disk's size in bytes, when the flavor has one: it shows up formatted ext4
    /// (label `ephemeral0`) and mounted at `/mnt` with an fstab line, as cloud-init leaves it.
    pub ephemeral_bytes: Option<u64>,
}

impl fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeSpec")
            .field("server_id", &self.server_id)
            .field("name", &self.name)
            .field("address", &self.address)
            .field(
                "user_data",
                &format_args!("<redacted: {} bytes>", self.user_data.len()),
            )
            .field("volume_ids", &self.volume_ids)
            .field("ephemeral_bytes", &self.ephemeral_bytes)
            .finish()
    }
}

impl NodeSpec {
    /// Checks every field but the user-data (see [`super::user_data`]); errors name the field.
    pub fn validate(&self) -> Result<(), NodeError> {
        validate_server_id(&self.server_id)?;
        if self.name.is_empty() || self.name.len() > 255 || self.name.chars().any(char::is_control)
        {
            return Err(invalid(
                "name",
                format!(
                    "`{}` must be 1 to 255 characters without control characters",
                    self.name.escape_debug()
                ),
            ));
        }
        validate_address(self.address)?;
        for (i, id) in self.volume_ids.iter().enumerate() {
            validate_volume_id(id).map_err(|reason| NodeError::InvalidSpec {
                field: "volume_ids",
                reason: format!("[{i}]: {reason}"),
            })?;
            if self.volume_ids[..i].contains(id) {
                return Err(invalid("volume_ids", format!("{id} is listed twice")));
            }
        }
        if let Some(bytes) = self.ephemeral_bytes {
            validate_size("ephemeral_bytes", bytes)?;
        }
        Ok(())
    }

    /// The node's hostname: the server name made a valid hostname label the way Nova does
    /// (lower case; anything but letters, digits and `-` becomes `-`; at most 63 characters),
    /// or `server-<id>` when nothing is left.
    pub fn hostname(&self) -> String {
        let mut label: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        label.truncate(63);
        let label = label.trim_matches('-');
        if label.is_empty() {
            let id: String = self
                .server_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(56)
                .collect();
            format!("server-{}", id.to_ascii_lowercase())
        } else {
            label.to_string()
        }
    }
}

/// The `/dev/disk/by-id` name under which virtio-blk shows a Cinder volume: `virtio-` and the
/// first 20 characters of its ID (the serial number field holds 20 bytes).
pub fn virtio_by_id_name(volume_id: &str) -> String {
    let prefix: String = volume_id.chars().take(20).collect();
    format!("virtio-{prefix}")
}

pub(crate) fn validate_server_id(id: &str) -> Result<(), NodeError> {
    if id.is_empty()
        || id.len() > 64
        || id.starts_with('.')
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "server_id",
            format!(
                "`{}` must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'",
                id.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// A Cinder volume ID as the brick script accepts it: 1 to 64 letters, digits and `-`.
pub(crate) fn validate_volume_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "`{}` is not a Cinder volume ID (1 to 64 letters, digits and '-')",
            id.escape_debug()
        ));
    }
    Ok(())
}

pub(crate) fn validate_size(field: &'static str, bytes: u64) -> Result<(), NodeError> {
    if bytes < MIN_DISK_BYTES {
        return Err(invalid(
            field,
            format!(
                "{bytes} bytes is below the {MIN_DISK_BYTES} bytes (512 MiB) an XFS brick needs"
            ),
        ));
    }
    Ok(())
}

fn validate_address(address: Ipv4Addr) -> Result<(), NodeError> {
    let [a, b, c, d] = address.octets();
    if a != 127 {
        return Err(invalid(
            "address",
            format!("{address} is not a loopback address: loopback nodes live in 127.0.0.0/8"),
        ));
    }
    if [b, c, d] == [0, 0, 0] || [b, c, d] == [255, 255, 255] {
        return Err(invalid(
            "address",
            format!("{address} is the network or broadcast address of 127.0.0.0/8"),
        ));
    }
    Ok(())
}

fn invalid(field: &'static str, reason: String) -> NodeError {
    NodeError::InvalidSpec { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> NodeSpec {
        NodeSpec {
            server_id: "5b0e1c9a-7f2d-4d2e-9a51-0c9f3e3b8a11".into(),
            name: "demo-zone-a-0".into(),
            address: Ipv4Addr::new(127, 100, 0, 1),
            user_data: "#cloud-config\nssh_keys: {ed25519_private: SECRET}\n".into(),
            volume_ids: vec!["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()],
            ephemeral_bytes: None,
        }
    }

    fn field(err: NodeError) -> &'static str {
        match err {
            NodeError::InvalidSpec { field, .. } => field,
            other => panic!("expected InvalidSpec, got {other}"),
        }
    }

    #[test]
    fn a_good_spec_passes_and_debug_hides_the_user_data() {
        spec().validate().unwrap();
        let debug = format!("{:?}", spec());
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("<redacted: "), "{debug}");
    }

    #[test]
    fn bad_fields_are_named() {
        type Change = fn(&mut NodeSpec);
        let cases: Vec<(Change, &str)> = vec![
            (|s| s.server_id = String::new(), "server_id"),
            (|s| s.server_id = "../etc".into(), "server_id"),
            (|s| s.server_id = ".hidden".into(), "server_id"),
            (|s| s.name = "a\nb".into(), "name"),
            (|s| s.address = Ipv4Addr::new(10, 0, 0, 1), "address"),
            (|s| s.address = Ipv4Addr::new(127, 0, 0, 0), "address"),
            (|s| s.address = Ipv4Addr::new(127, 255, 255, 255), "address"),
            (|s| s.volume_ids = vec!["../../sda".into()], "volume_ids"),
            (
                |s| s.volume_ids = vec!["a".into(), "a".into()],
                "volume_ids",
            ),
            (|s| s.ephemeral_bytes = Some(1 << 20), "ephemeral_bytes"),
        ];
        for (change, want) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(field(s.validate().unwrap_err()), want, "{s:?}");
        }
    }

    #[test]
    fn hostnames_follow_nova() {
        let mut s = spec();
        assert_eq!(s.hostname(), "demo-zone-a-0");
        s.name = "My_Node.example".into();
        assert_eq!(s.hostname(), "my-node-example");
        s.name = "x".repeat(100);
        assert_eq!(s.hostname().len(), 63);
        s.name = "___".into();
        assert_eq!(s.hostname(), "server-5b0e1c9a7f2d4d2e9a510c9f3e3b8a11");
    }

    #[test]
    fn by_id_names_keep_twenty_characters() {
        assert_eq!(
            virtio_by_id_name("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "virtio-0f1e2d3c-4b5a-6978-8"
        );
        assert_eq!(virtio_by_id_name("short"), "virtio-short");
    }
}

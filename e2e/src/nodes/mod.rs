//! Loopback gluster nodes (docs/design.md, "The local world"): every ACTIVE server of the OpenStack simulator becomes
//! a real gluster host on this machine, on the server's own 127.x address, booted from the
//! user-data the operator rendered.
//!
//! # Use
//!
//! ```no_run
//! # fn demo(user_data: String) -> Result<(), e2e::nodes::NodeError> {
//! use e2e::nodes::{LoopbackNodes, NodeSpec, NodesConfig};
//! let nodes = LoopbackNodes::new(NodesConfig::new("/tmp/world/nodes"))?; // root only
//! nodes.ensure_volume("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 2 << 30)?; // Cinder created it
//! let node = nodes.start(NodeSpec {
//!     server_id: "5b0e1c9a-7f2d-4d2e-9a51-0c9f3e3b8a11".into(),
//!     name: "demo-zone-a-0".into(),
//!     address: "127.100.0.1".parse().expect("an address"),
//!     user_data, // decoded #cloud-config from gluster_operator::bootstrap::render_user_data
//!     volume_ids: vec!["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()],
//!     ephemeral_bytes: None,
//! })?; // returns once sshd listens; the brick script goes on
//! let node = nodes.wait_boot(&node.server_id, std::time::Duration::from_secs(120))?;
//! // ssh -o StrictHostKeyChecking=yes gluster-operator@127.100.0.1 sudo -n gluster … (pin
//! // node.known_hosts_line()); or node.command("gluster") inside the node.
//! nodes.delete(&node.server_id)?; // the server was deleted: node stopped, loop device freed
//! # Ok(()) }
//! ```
//!
//! The simulator's boot hook (`e2e::openstack::BootHook` on main) maps onto [`LoopbackNodes`]:
//!
//! | hook | call |
//! |---|---|
//! | `server_active(ServerEvent)` | [`LoopbackNodes::start`] with a [`NodeSpec`] (its table says which field comes from where) |
//! | `server_deleted(ServerEvent)` | [`LoopbackNodes::delete`] (a stopped, not deleted, server: [`LoopbackNodes::stop`]; its next start is a reboot) |
//! | `volume_attached(VolumeEvent)` | [`LoopbackNodes::ensure_volume`] (`size_gb`) then [`LoopbackNodes::attach_volume`] |
//! | `volume_detached(VolumeEvent)` | [`LoopbackNodes::detach_volume`] |
//! | a Cinder volume deleted | [`LoopbackNodes::delete_volume`] |
//!
//! `start` returns once the node's sshd listens (about a second; a server is ACTIVE and
//! reachable before cloud-init is done). On a first boot the brick script goes on in the
//! background, as cloud-init's final stage: when the operator attaches the brick volume after
//! the server became ACTIVE, the script waits for it (up to the `--wait` of the user-data) and
//! goes on once [`LoopbackNodes::attach_volume`] linked it. [`LoopbackNodes::wait_boot`] (or
//! [`RunningNode::boot`]) tells when the brick is ready and glusterd listens. Call these from a
//! blocking thread. User-data that is not a gluster node's (no brick script) is refused with
//! [`NodeError::UserData`], which the hook may log and ignore.
//!
//! # What a node is
//!
//! - **Namespaces.** Its own mount, UTS and PID namespaces (`unshare`), with `tini` as PID 1 (it
//!   reaps orphans as an init does: glusterd takes a zombie brick for a running one). Every
//!   process of the node runs in them through `nsenter`; `/proc` is the node's own.
//! - **Its own directories** ([`layout`]): `/etc` and `/usr/local` are overlays of this
//!   machine's with private upper layers; `/run`, `/var/lib/glusterd`, `/var/log`, `/home`,
//!   `/mnt`, `/dev/disk/by-id` and the brick's top-level directory (`/export`) are private
//!   directories bind-mounted over this machine's. So brick, self-heal and `glfsheal`
//!   processes, which use the default paths, and `gluster volume heal VOL info`, work per node.
//! - **Disks.** Each Cinder volume is a sparse file `<state>/volumes/<id>.img`, kept across
//!   server deletes (a reattached volume keeps its brick) until [`LoopbackNodes::delete_volume`];
//!   attached with `losetup` and linked as `/dev/disk/by-id/virtio-<first 20 characters>`, the
//!   link the brick script looks for. An ephemeral disk is a fresh file, ext4 labelled
//!   `ephemeral0`, mounted at `/mnt` with cloud-init's fstab line; the brick script takes it
//!   back.
//! - **cloud-init's work** ([`user_data`]): the users with their keys and sudo rules, the
//!   user-data's ed25519 host key as the only one, `write_files`, then the brick script run
//!   exactly as `runcmd` gives it. Package installation is skipped (gluster is installed here).
//! - **sshd** on `ADDR:22` inside the node: the user-data's host key, the user-data's users and
//!   keys only, no passwords. What the operator runs over SSH (`sudo -n gluster --mode=script
//!   --xml …`) runs in the node and talks to the node's glusterd through the default socket.
//! - **glusterd** bound to the address through the node's `glusterd.vol`
//!   (`transport.socket.bind-address`; glusterd hands it on to the bricks and daemons it
//!   starts, and uses it as the source address of its peer connections, so peers know each
//!   other by their 127.x addresses). It is started by the brick script's `--start-glusterd`:
//!   no systemd here, so the script runs `service glusterd start`, and the node has an init
//!   script `/etc/init.d/glusterd` for it. From this machine the node's glusterd is
//!   `gluster --glusterd-sock=<node dir>/run/glusterd.socket`
//!   ([`RunningNode::glusterd_socket`]); heal info from outside would run `glfsheal` against
//!   this machine's default socket, so run it in the node.
//! - **Stop**: SIGTERM to the node's daemons, its disk mounts unmounted, its init killed (the
//!   kernel kills whatever is left in its PID namespace), its loop devices detached.
//!   [`LoopbackNodes`] stops every node on [`LoopbackNodes::shutdown`] and on drop, so a failed
//!   test leaves no process, mount or loop device. A process killed with SIGKILL runs no
//!   drop: each running node keeps a record (`<node dir>/running`: its init, namespace and
//!   loop devices), and the next [`LoopbackNodes::new`] on the same state directory ends the
//!   nodes so recorded.
//!
//! On this machine a node leaves only two empty directories as mount points: `/dev/disk/by-id`
//! (udev's, absent without udev) and the brick's top-level directory (e.g. `/export`).

mod boot;
mod command;
mod disks;
mod error;
pub mod layout;
mod manager;
mod namespace;
mod node;
mod record;
pub mod render;
mod running;
mod spec;
pub mod user_data;

pub use boot::{BootProgress, BootState};
pub use disks::loops_of;
pub use error::NodeError;
pub use manager::{LoopbackNodes, NodesConfig};
pub use running::{NodeDisk, RunningNode};
pub use spec::{MIN_DISK_BYTES, NodeSpec, virtio_by_id_name};

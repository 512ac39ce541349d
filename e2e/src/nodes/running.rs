//! [`RunningNode`]: what a started node is, and how to reach into it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gluster_operator::bootstrap::AuthorizedKey;

use super::boot::BootProgress;
use super::namespace::{enter, processes_in, root_of};
use super::render::known_hosts_line;

/// A disk of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDisk {
    /// The loop device, e.g. `/dev/loop3`.
    pub device: String,
    /// Its backing file.
    pub backing: PathBuf,
    /// The Cinder volume, or `None` for the ephemeral disk.
    pub volume_id: Option<String>,
}

/// A started node: a snapshot of what it is, with helpers to reach into it. Its paths through
/// `/proc/<init>/root` and its commands work while the node runs.
#[derive(Clone, Debug)]
pub struct RunningNode {
    /// The server ID.
    pub server_id: String,
    /// The server name.
    pub name: String,
    /// The node's hostname (from the name, as Nova makes it).
    pub hostname: String,
    /// Its address: sshd on port 22, glusterd on 24007, bricks on ports glusterd picks.
    pub address: Ipv4Addr,
    /// The public half of its SSH host key (from the user-data).
    pub host_key: AuthorizedKey,
    /// Where its brick file system is mounted in the node (from the user-data).
    pub brick_mount_path: String,
    /// Its disks.
    pub disks: Vec<NodeDisk>,
    /// The host PID of its init (`tini`, PID 1 in the node).
    pub init_pid: u32,
    /// Its mount namespace as `/proc/<pid>/ns/mnt` names it (`mnt:[…]`).
    pub mount_namespace: String,
    /// Its directory on this machine (its root disk: `/etc` and `/usr/local` upper layers,
    /// `/var/lib/glusterd`, `/var/log`, `/home`, …).
    pub dir: PathBuf,
    /// What of the user-data the node did not do.
    pub skipped: Vec<String>,
    /// Whether this start was the node's first boot (cloud-init's work done) rather than a
    /// restart of a stopped server.
    pub first_boot: bool,
    /// How long the start took (until sshd listened).
    pub boot_time: Duration,
    /// The rest of the boot: on a first boot the brick script goes on after the start
    /// returned (it may wait for its volume); [`BootProgress::wait`] waits for it.
    pub boot: BootProgress,
}

impl RunningNode {
    /// A command that runs `program` inside the node (its mount, UTS and PID namespaces), as
    /// root, e.g. `node.command("gluster").args(["volume", "heal", "v", "info"])`.
    pub fn command(&self, program: &str) -> Command {
        enter(self.init_pid, program)
    }

    /// The path on this machine of `path` as the node sees it, e.g. the brick directory
    /// `node.path("/export/vol/brick")` (through `/proc/<init>/root`).
    pub fn path(&self, path: &str) -> PathBuf {
        root_of(self.init_pid).join(path.trim_start_matches('/'))
    }

    /// The node's glusterd socket on this machine, for `gluster --glusterd-sock=…` from outside
    /// the node. (`gluster volume heal … info` from outside runs `glfsheal`, which always uses
    /// the default socket: run it inside, with [`RunningNode::command`] or over SSH.)
    pub fn glusterd_socket(&self) -> PathBuf {
        self.dir.join("run/glusterd.socket")
    }

    /// The node's `/var/log` on this machine.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The node's boot log (cloud-init's output log: what was done and skipped, and the brick
    /// script's output).
    pub fn boot_log(&self) -> PathBuf {
        self.log_dir().join("cloud-init-output.log")
    }

    /// The `known_hosts` line that pins the node's host key at its address.
    pub fn known_hosts_line(&self) -> String {
        known_hosts_line(self.address, &self.host_key)
    }

    /// The host PIDs of the processes in the node now.
    pub fn processes(&self) -> Vec<u32> {
        processes_in(&self.mount_namespace)
    }
}

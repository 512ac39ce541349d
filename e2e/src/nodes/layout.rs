//! Where a node's private copies of the system's directories live on this machine, and the
//! mounts that put them in place in the node's mount namespace (pure).
//!
//! | in the node | on this machine (`<state>/nodes/<server id>/`) | why |
//! |---|---|---|
//! | `/etc` | overlay: this machine's `/etc` below, `etc/upper` above | users, sudoers, host key, sshd and glusterd configuration, fstab, hosts |
//! | `/usr/local` | overlay: this machine's `/usr/local` below, `usr-local/upper` above | the brick script (`write_files`) |
//! | `/run` (= `/var/run`) | `run` | glusterd's socket, pid files and brick sockets; sshd's privilege separation directory |
//! | `/var/lib/glusterd` | `glusterd` | glusterd's state (peers, volumes, UUID) |
//! | `/var/log` | `log` | glusterd, brick, self-heal, glfsheal, sshd and brick script logs |
//! | `/home` | `home` | the users' homes and their `authorized_keys` |
//! | `/mnt` | `mnt` | where cloud-init mounted the ephemeral disk |
//! | `/dev/disk/by-id` | `by-id` | the links to the node's volumes (`virtio-<id prefix>`) |
//! | `/usr/lib/ssl` | overlay: this machine's `/usr/lib/ssl` below, `ssl/upper` above | the node's gluster TLS files (`glusterfs.pem`, `.key`, `.ca`: `write_files`), where Debian's gluster reads them |
//! | the brick's top-level directory (`/export`) | `brick-root` | where the brick is mounted |

use std::path::{Path, PathBuf};

use super::error::NodeError;

/// The directories of this machine a node mounts over. A state directory must lie outside all
/// of them (a node could not see its own copies otherwise).
pub const MOUNT_TARGETS: [&str; 9] = [
    "/etc",
    "/usr/local",
    "/run",
    "/var/lib/glusterd",
    "/var/log",
    "/home",
    "/mnt",
    "/dev/disk/by-id",
    "/usr/lib/ssl",
];

/// One mount that builds a node's view, made in its mount namespace in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountStep {
    /// An overlay of this machine's `target` with a private upper layer.
    Overlay {
        /// The directory covered (also the lower layer).
        target: String,
        /// The node's upper layer.
        upper: PathBuf,
        /// Overlayfs's work directory (same file system as `upper`).
        work: PathBuf,
    },
    /// A bind mount of a node's directory over `target`.
    Bind {
        /// The node's directory.
        source: PathBuf,
        /// The directory covered.
        target: String,
    },
}

impl MountStep {
    /// The `mount` arguments of this step.
    pub fn mount_args(&self) -> Vec<String> {
        match self {
            Self::Overlay {
                target,
                upper,
                work,
            } => vec![
                "-t".into(),
                "overlay".into(),
                "overlay".into(),
                "-o".into(),
                format!(
                    "lowerdir={target},upperdir={},workdir={}",
                    upper.display(),
                    work.display()
                ),
                target.clone(),
            ],
            Self::Bind { source, target } => vec![
                "--bind".into(),
                source.display().to_string(),
                target.clone(),
            ],
        }
    }

    /// The directory the step covers.
    pub fn target(&self) -> &str {
        match self {
            Self::Overlay { target, .. } | Self::Bind { target, .. } => target,
        }
    }
}

/// The directories of one node on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLayout {
    dir: PathBuf,
}

impl NodeLayout {
    /// The layout of the node of `server_id` under `state_dir` (`<state>/nodes/<server id>`).
    pub fn new(state_dir: &Path, server_id: &str) -> Self {
        Self {
            dir: state_dir.join("nodes").join(server_id),
        }
    }

    /// The node's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the node's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The node's `/run` on this machine.
    pub fn run(&self) -> PathBuf {
        self.path("run")
    }

    /// The node's `/var/log` on this machine.
    pub fn log(&self) -> PathBuf {
        self.path("log")
    }

    /// The node's `/dev/disk/by-id` on this machine.
    pub fn by_id(&self) -> PathBuf {
        self.path("by-id")
    }

    /// The backing file of the node's ephemeral disk (deleted with the node).
    pub fn ephemeral_image(&self) -> PathBuf {
        self.path("ephemeral0.img")
    }

    /// Where the namespace's holder writes its errors.
    pub fn holder_log(&self) -> PathBuf {
        self.path("namespace.log")
    }

    /// The directories to create before mounting (every source, upper and work directory).
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .mounts("/export")
            .iter()
            .flat_map(|step| match step {
                MountStep::Overlay { upper, work, .. } => vec![upper.clone(), work.clone()],
                MountStep::Bind { source, .. } => vec![source.clone()],
            })
            .collect();
        // Inside the node's /run and /var/log: sshd's privilege separation directory, the
        // glusterd log directory.
        dirs.push(self.run().join("sshd"));
        dirs.push(self.log().join("glusterfs"));
        dirs
    }

    /// The mounts that build the node's view, in order; `brick_root` is the top-level directory
    /// of the brick mount path (e.g. `/export`).
    pub fn mounts(&self, brick_root: &str) -> Vec<MountStep> {
        let overlay = |target: &str, name: &str| MountStep::Overlay {
            target: target.to_string(),
            upper: self.path(&format!("{name}/upper")),
            work: self.path(&format!("{name}/work")),
        };
        let bind = |name: &str, target: &str| MountStep::Bind {
            source: self.path(name),
            target: target.to_string(),
        };
        vec![
            overlay("/etc", "etc"),
            overlay("/usr/local", "usr-local"),
            bind("run", "/run"),
            bind("glusterd", "/var/lib/glusterd"),
            bind("log", "/var/log"),
            bind("home", "/home"),
            bind("mnt", "/mnt"),
            bind("by-id", "/dev/disk/by-id"),
            overlay("/usr/lib/ssl", "ssl"),
            bind("brick-root", brick_root),
        ]
    }
}

/// Checks that a state directory can hold nodes: absolute, made of characters a mount option
/// can carry, and outside every directory a node mounts over.
pub fn check_state_dir(dir: &Path) -> Result<(), NodeError> {
    let invalid = |reason: String| NodeError::InvalidSpec {
        field: "state_dir",
        reason: format!("{}: {reason}", dir.display()),
    };
    let text = dir
        .to_str()
        .ok_or_else(|| invalid("is not UTF-8".to_string()))?;
    if !dir.is_absolute() {
        return Err(invalid("must be absolute".to_string()));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'))
    {
        return Err(invalid(
            "may only contain letters, digits and /._-+@ (overlay mount options cannot quote others)"
                .to_string(),
        ));
    }
    if let Some(target) = MOUNT_TARGETS.iter().find(|t| dir.starts_with(t)) {
        return Err(invalid(format!(
            "lies in {target}, which nodes mount over; put it elsewhere (e.g. under /tmp or /var/tmp)"
        )));
    }
    Ok(())
}

/// Checks that the brick's top-level directory (from the user-data) does not hold the state
/// directory.
pub fn check_brick_root(state_dir: &Path, brick_root: &str) -> Result<(), NodeError> {
    if state_dir.starts_with(brick_root) {
        return Err(NodeError::InvalidSpec {
            field: "state_dir",
            reason: format!(
                "{} lies in {brick_root}, which the node's brick mount path covers",
                state_dir.display()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_cover_the_node_paths_in_order() {
        let layout = NodeLayout::new(Path::new("/tmp/s"), "srv-1");
        let mounts = layout.mounts("/export");
        let targets: Vec<&str> = mounts.iter().map(MountStep::target).collect();
        assert_eq!(&targets[..9], MOUNT_TARGETS);
        assert_eq!(targets[9], "/export");
        assert_eq!(
            mounts[0].mount_args(),
            [
                "-t",
                "overlay",
                "overlay",
                "-o",
                "lowerdir=/etc,upperdir=/tmp/s/nodes/srv-1/etc/upper,workdir=/tmp/s/nodes/srv-1/etc/work",
                "/etc"
            ]
        );
        assert_eq!(
            mounts[2].mount_args(),
            ["--bind", "/tmp/s/nodes/srv-1/run", "/run"]
        );
        let dirs = layout.directories();
        assert!(dirs.contains(&PathBuf::from("/tmp/s/nodes/srv-1/run/sshd")));
        assert!(dirs.contains(&PathBuf::from("/tmp/s/nodes/srv-1/etc/work")));
    }

    #[test]
    fn state_dirs_stay_clear_of_mounted_paths() {
        check_state_dir(Path::new("/tmp/nodes-1")).unwrap();
        check_state_dir(Path::new("/work/devenv/nodes")).unwrap();
        for bad in [
            "/run/x",
            "/etc",
            "/home/me/n",
            "/var/log/n",
            "relative",
            "/tmp/a,b",
            "/tmp/a b",
            "/mnt",
        ] {
            let err = check_state_dir(Path::new(bad)).unwrap_err();
            assert!(err.to_string().starts_with("state_dir: "), "{bad}: {err}");
        }
        check_brick_root(Path::new("/tmp/x"), "/export").unwrap();
        assert!(check_brick_root(Path::new("/export/state"), "/export").is_err());
    }
}

//! [`LoopbackNodes`]: the nodes of one world, their volumes, and their end.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::boot::BootState;
use super::command::require_program;
use super::disks::ensure_sparse_file;
use super::error::NodeError;
use super::layout::{NodeLayout, check_brick_root, check_state_dir};
use super::namespace::TINI;
use super::node::{BootInput, Node, check_brick_device, check_ports_free};
use super::record::reap_stale;
use super::running::RunningNode;
use super::spec::{NodeSpec, validate_server_id, validate_size, validate_volume_id};
use super::user_data::parse_user_data;

/// The programs nodes run, with the Debian package of each.
const PROGRAMS: [(&str, &str); 16] = [
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("losetup", "util-linux"),
    ("mount", "mount"),
    ("umount", "mount"),
    (TINI, "tini"),
    ("/usr/sbin/sshd", "openssh-server"),
    ("glusterd", "glusterfs-server"),
    ("gluster", "glusterfs-server"),
    ("useradd", "passwd"),
    ("visudo", "sudo"),
    ("sudo", "sudo"),
    ("mkfs.xfs", "xfsprogs"),
    ("mkfs.ext4", "e2fsprogs"),
    ("blkid", "util-linux"),
    ("hostname", "hostname"),
];

/// How the nodes of a world are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodesConfig {
    /// Where nodes keep their root disks (`nodes/<server id>/`) and volumes
    /// (`volumes/<volume id>.img`). Absolute, outside the directories nodes mount over.
    pub state_dir: PathBuf,
    /// The size of a volume nobody announced with [`LoopbackNodes::ensure_volume`].
    pub default_volume_bytes: u64,
    /// How long sshd and glusterd may take to listen once started.
    pub ready_timeout: Duration,
    /// How long a stopping node's daemons get after SIGTERM before they are killed.
    pub stop_grace: Duration,
}

impl NodesConfig {
    /// The defaults with `state_dir`: 1 GiB volumes, 60 s to come up, 5 s to stop.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            default_volume_bytes: 1 << 30,
            ready_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(5),
        }
    }
}

/// Loopback gluster nodes: every started [`NodeSpec`] becomes a real gluster host on its own
/// 127.x address (see the [module documentation](super)), stopped again by [`Self::stop`],
/// [`Self::delete`], [`Self::shutdown`] or drop.
///
/// Safe to share between threads: nodes start concurrently. Needs root.
#[derive(Debug)]
pub struct LoopbackNodes {
    config: NodesConfig,
    state: Mutex<State>,
    /// An exclusive lock on `<state>/lock` for the manager's life: one manager per state
    /// directory (the kernel lets it go when the process dies, however it dies).
    _lock: fs::File,
}

#[derive(Debug, Default)]
struct State {
    running: BTreeMap<String, Node>,
    /// Servers being started, with their address and volumes (reserved against twins).
    starting: BTreeMap<String, (Ipv4Addr, Vec<String>)>,
    closed: bool,
}

impl State {
    fn check_free(&self, spec: &NodeSpec) -> Result<(), NodeError> {
        if self.running.contains_key(&spec.server_id) || self.starting.contains_key(&spec.server_id)
        {
            return Err(NodeError::AlreadyRunning(spec.server_id.clone()));
        }
        let taken = self
            .running
            .values()
            .map(|n| {
                (
                    n.info().server_id.as_str(),
                    n.info().address,
                    n.volume_ids().map(str::to_string).collect::<Vec<_>>(),
                )
            })
            .chain(
                self.starting
                    .iter()
                    .map(|(id, (a, v))| (id.as_str(), *a, v.clone())),
            );
        for (server_id, address, volumes) in taken {
            if address == spec.address {
                return Err(NodeError::AddressInUse {
                    address,
                    reason: format!("the node of server {server_id} has it"),
                });
            }
            if let Some(volume_id) = spec.volume_ids.iter().find(|v| volumes.contains(v)) {
                return Err(NodeError::VolumeInUse {
                    volume_id: volume_id.clone(),
                    server_id: server_id.to_string(),
                });
            }
        }
        Ok(())
    }

    fn holder_of(&self, volume_id: &str) -> Option<String> {
        self.running
            .values()
            .find(|n| n.volume_ids().any(|v| v == volume_id))
            .map(|n| n.info().server_id.clone())
            .or_else(|| {
                self.starting
                    .iter()
                    .find(|(_, (_, v))| v.iter().any(|v| v == volume_id))
                    .map(|(id, _)| id.clone())
            })
    }
}

impl LoopbackNodes {
    /// A manager keeping its nodes and volumes in `config.state_dir` (created if missing).
    /// Nodes that a killed manager left running in that directory are ended first. Fails
    /// unless run as root with every program nodes use installed, or when another manager
    /// uses the directory.
    pub fn new(config: NodesConfig) -> Result<Self, NodeError> {
        if !rustix::process::geteuid().is_root() {
            return Err(NodeError::Requirement(
                "root (mount and PID namespaces, loop devices, sshd on port 22)".into(),
            ));
        }
        for (program, package) in PROGRAMS {
            require_program(program, package)?;
        }
        check_state_dir(&config.state_dir)?;
        validate_size("default_volume_bytes", config.default_volume_bytes)?;
        for sub in ["nodes", "volumes"] {
            let dir = config.state_dir.join(sub);
            fs::create_dir_all(&dir).map_err(NodeError::io("making the state directory", dir))?;
        }
        let lock_path = config.state_dir.join("lock");
        let lock = fs::File::create(&lock_path).map_err(NodeError::io(
            "opening the state directory's lock",
            &lock_path,
        ))?;
        if let Err(e) = lock.try_lock() {
            return Err(NodeError::InvalidSpec {
                field: "state_dir",
                reason: format!(
                    "{} is in use by another LoopbackNodes (its lock is held: {e})",
                    config.state_dir.display()
                ),
            });
        }
        let reaped = reap_stale(&config.state_dir)?;
        if !reaped.is_empty() {
            tracing::warn!(
                "loopback nodes: ended the nodes {reaped:?} a killed manager left in {}",
                config.state_dir.display()
            );
        }
        Ok(Self {
            config,
            state: Mutex::new(State::default()),
            _lock: lock,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NodesConfig {
        &self.config
    }

    /// The backing file of a volume (whether or not it exists).
    pub fn volume_path(&self, volume_id: &str) -> PathBuf {
        self.config
            .state_dir
            .join("volumes")
            .join(format!("{volume_id}.img"))
    }

    /// Creates a volume's backing file (sparse, `bytes` long) unless it exists; an existing one
    /// keeps its size and data. Call it when Cinder creates the volume. Returns its path.
    pub fn ensure_volume(&self, volume_id: &str, bytes: u64) -> Result<PathBuf, NodeError> {
        validate_volume_id(volume_id).map_err(|reason| NodeError::InvalidSpec {
            field: "volume_id",
            reason,
        })?;
        validate_size("bytes", bytes)?;
        let path = self.volume_path(volume_id);
        ensure_sparse_file(&path, bytes)?;
        Ok(path)
    }

    /// Deletes a volume's backing file (Cinder deleted the volume). Refused while a running
    /// node holds it. Returns whether there was one.
    pub fn delete_volume(&self, volume_id: &str) -> Result<bool, NodeError> {
        validate_volume_id(volume_id).map_err(|reason| NodeError::InvalidSpec {
            field: "volume_id",
            reason,
        })?;
        let state = self.lock();
        if let Some(server_id) = state.holder_of(volume_id) {
            return Err(NodeError::VolumeInUse {
                volume_id: volume_id.to_string(),
                server_id,
            });
        }
        let path = self.volume_path(volume_id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(NodeError::io("deleting a volume", path)(e)),
        }
    }

    /// Starts the node of a server that became ACTIVE and returns once its sshd listens (a few
    /// seconds). On a first boot (cloud-init's work) the brick script goes on in the background
    /// (it waits for its volume when that is attached later, see [`Self::attach_volume`]);
    /// [`Self::wait_boot`] or [`RunningNode::boot`] tell when it is done. A start after
    /// [`Self::stop`] is a reboot that keeps the root disk; it returns with glusterd listening.
    pub fn start(&self, spec: NodeSpec) -> Result<RunningNode, NodeError> {
        spec.validate()?;
        let user_data = parse_user_data(&spec.user_data)?;
        check_brick_device(&spec, &user_data)?;
        check_brick_root(&self.config.state_dir, &user_data.brick.mount_root())?;
        {
            let mut state = self.lock();
            if state.closed {
                return Err(NodeError::ShutDown);
            }
            state.check_free(&spec)?;
            state.starting.insert(
                spec.server_id.clone(),
                (spec.address, spec.volume_ids.clone()),
            );
        }
        let booted = self.boot(&spec, user_data);
        let mut state = self.lock();
        state.starting.remove(&spec.server_id);
        let node = booted?;
        if state.closed {
            drop(state);
            node.stop(self.config.stop_grace)?;
            return Err(NodeError::ShutDown);
        }
        let info = node.info().clone();
        state.running.insert(spec.server_id.clone(), node);
        Ok(info)
    }

    fn boot(
        &self,
        spec: &NodeSpec,
        user_data: super::user_data::NodeUserData,
    ) -> Result<Node, NodeError> {
        check_ports_free(spec.address)?;
        let volumes = spec
            .volume_ids
            .iter()
            .map(|id| self.ensure_volume(id, self.config.default_volume_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        Node::boot(BootInput {
            spec,
            user_data,
            volumes,
            layout: NodeLayout::new(&self.config.state_dir, &spec.server_id),
            ready_timeout: self.config.ready_timeout,
        })
    }

    /// Waits up to `timeout` for the boot of a server's node to finish (the brick script done,
    /// glusterd listening) and returns the node. A boot still running after `timeout` is a
    /// [`NodeError::NotReady`]; a failed boot says why, with the end of the boot log.
    pub fn wait_boot(&self, server_id: &str, timeout: Duration) -> Result<RunningNode, NodeError> {
        let node = self
            .node(server_id)
            .ok_or_else(|| NodeError::NotFound(server_id.to_string()))?;
        match node.boot.wait(timeout) {
            BootState::Finished => self
                .node(server_id)
                .ok_or_else(|| NodeError::NotFound(server_id.to_string())),
            BootState::Running => Err(NodeError::NotReady {
                node: server_id.to_string(),
                what: "the boot (brick script, glusterd)".into(),
                waited: timeout,
                detail: format!("still running; see {}", node.boot_log().display()),
            }),
            BootState::Failed(reason) => Err(NodeError::NotReady {
                node: server_id.to_string(),
                what: "the boot (brick script, glusterd)".into(),
                waited: timeout,
                detail: reason,
            }),
        }
    }

    /// A volume was attached to a running server: it shows up in the node under
    /// `/dev/disk/by-id` (a brick script waiting for it goes on). Its backing file is created
    /// with the default size unless [`Self::ensure_volume`] made it. Attaching it again is
    /// harmless.
    pub fn attach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<RunningNode, NodeError> {
        validate_volume_id(volume_id).map_err(|reason| NodeError::InvalidSpec {
            field: "volume_id",
            reason,
        })?;
        let mut state = self.lock();
        if let Some(holder) = state.holder_of(volume_id).filter(|h| h != server_id) {
            return Err(NodeError::VolumeInUse {
                volume_id: volume_id.to_string(),
                server_id: holder,
            });
        }
        let backing = self.ensure_volume(volume_id, self.config.default_volume_bytes)?;
        let node = state
            .running
            .get_mut(server_id)
            .ok_or_else(|| NodeError::NotFound(server_id.to_string()))?;
        node.attach_volume(volume_id, &backing)?;
        Ok(node.info().clone())
    }

    /// A volume was detached from a running server: its link goes from the node, what the
    /// node mounted from it is unmounted (lazily when busy), its loop device is released once
    /// unused. Its backing file stays.
    pub fn detach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<RunningNode, NodeError> {
        let mut state = self.lock();
        let node = state
            .running
            .get_mut(server_id)
            .ok_or_else(|| NodeError::NotFound(server_id.to_string()))?;
        node.detach_volume(volume_id)?;
        Ok(node.info().clone())
    }

    /// Stops the node of a server (shut off, or about to be deleted): its processes end, its
    /// mounts go, its loop devices are detached. Its root disk and volumes stay.
    pub fn stop(&self, server_id: &str) -> Result<(), NodeError> {
        let node = self
            .lock()
            .running
            .remove(server_id)
            .ok_or_else(|| NodeError::NotFound(server_id.to_string()))?;
        node.stop(self.config.stop_grace)
    }

    /// A server was deleted: its node stops (if it runs) and its root disk and ephemeral disk
    /// are deleted. Its volumes stay (they outlive servers). Doing it twice is harmless.
    pub fn delete(&self, server_id: &str) -> Result<(), NodeError> {
        validate_server_id(server_id)?;
        // A server deleted while its node boots: the boot finishes (or fails) first.
        let started = Instant::now();
        while self.lock().starting.contains_key(server_id) {
            if started.elapsed() > self.config.ready_timeout * 3 {
                return Err(NodeError::NotReady {
                    node: server_id.to_string(),
                    what: "the boot of a deleted server".into(),
                    waited: started.elapsed(),
                    detail: "still booting; delete it again later".into(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
        let stopped = match self.stop(server_id) {
            Err(NodeError::NotFound(_)) => Ok(()),
            other => other,
        };
        let layout = NodeLayout::new(&self.config.state_dir, server_id);
        if layout.dir().exists() {
            fs::remove_dir_all(layout.dir())
                .map_err(NodeError::io("deleting a node's root disk", layout.dir()))?;
        }
        stopped
    }

    /// The running node of a server.
    pub fn node(&self, server_id: &str) -> Option<RunningNode> {
        self.lock().running.get(server_id).map(|n| n.info().clone())
    }

    /// Every running node, by server ID.
    pub fn nodes(&self) -> Vec<RunningNode> {
        self.lock()
            .running
            .values()
            .map(|n| n.info().clone())
            .collect()
    }

    /// Stops every node; later starts are refused. Errors list every node that left something
    /// behind.
    pub fn shutdown(&self) -> Result<(), NodeError> {
        let nodes = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.running)
        };
        let mut problems = Vec::new();
        for (_, node) in nodes {
            if let Err(e) = node.stop(self.config.stop_grace) {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(NodeError::Stop {
                server_id: "(shutdown)".into(),
                problems,
            })
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (every update is one
        // insert or remove), so a poisoned lock is still good to clean up with.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for LoopbackNodes {
    /// Stops every node still running (also when a test failed).
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            // The last word of a dropped manager: printed so a failing test shows it.
            eprintln!("loopback nodes: {e}");
            tracing::error!("loopback nodes: {e}");
        }
    }
}

//! Helpers of the loopback node tests: a world (state directory, manager, operator key), user-data
//! rendered by gluster_operator::bootstrap, the real `ssh` client with a pinned known_hosts, and
//! the checks that nothing is left behind.

#![allow(dead_code)] // each test binary uses its own part

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use e2e::nodes::{LoopbackNodes, NodeSpec, NodesConfig, RunningNode, loops_of};
use gluster_operator::api::GlusterSpec;
use gluster_operator::bootstrap::{
    BrickDevice, DistroFamily, NodeBootstrap, SshKeyPair, render_user_data,
};

/// The tests of one binary run one at a time: each runs several real glusterds, and the
/// startup time they print means more on a quiet machine. (Each test also has its own
/// 127.100.N.0/24 range.)
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Fails (never skips) unless root with the tools installed.
pub fn require_root_and_tools() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the loopback node tests need root (namespaces, loop devices, sshd on port 22)"
    );
    for tool in [
        "ssh",
        "ssh-keyscan",
        "ss",
        "findmnt",
        "xfs_info",
        "mount.glusterfs",
    ] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool} || test -x /sbin/{tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is missing: run `make setup` (hack/setup.sh installs it)"
        );
    }
}

/// A world of loopback nodes in a scratch directory, with the operator's key pair.
pub struct World {
    pub nodes: LoopbackNodes,
    pub operator: SshKeyPair,
    /// The operator's private key, as a file for `ssh -i`.
    pub operator_key_file: PathBuf,
    pub dir: PathBuf,
    // Removed last: after `nodes` (declared first) has stopped every node.
    _tmp: Option<tempfile::TempDir>,
}

impl World {
    /// A world in a fresh scratch directory, removed with it.
    pub fn new(name: &str) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("nodes-{name}-"))
            .tempdir_in("/tmp")
            .expect("scratch dir");
        let dir = tmp.path().canonicalize().expect("canonical scratch dir");
        let mut world = Self::at(&dir);
        world._tmp = Some(tmp);
        world
    }

    /// A world in `dir` (state in `dir/state`), which it leaves in place.
    pub fn at(dir: &Path) -> Self {
        require_root_and_tools();
        let dir = dir.to_path_buf();
        let nodes =
            LoopbackNodes::new(NodesConfig::new(dir.join("state"))).expect("loopback nodes");
        let operator = SshKeyPair::generate("gluster-operator@e2e").expect("operator key");
        let operator_key_file = dir.join("operator_ed25519");
        write_private(&operator_key_file, operator.private_openssh());
        Self {
            nodes,
            operator,
            operator_key_file,
            dir,
            _tmp: None,
        }
    }

    /// The user-data of a node, rendered by the operator's bootstrap, with a fresh host key.
    pub fn user_data(
        &self,
        node_name: &str,
        device: BrickDevice,
        mount_path: &str,
    ) -> (String, SshKeyPair) {
        let host_key = SshKeyPair::generate(&format!("{node_name}-host-key")).expect("host key");
        let bootstrap = NodeBootstrap {
            cluster_name: "e2e".into(),
            node_name: node_name.into(),
            distro: DistroFamily::Debian,
            gluster: GlusterSpec::default(),
            device,
            mount_path: mount_path.into(),
            operator_key: self.operator.public_key().clone(),
            host_key: host_key.clone(),
            extra_user_data: None,
            glusterd_uuid: None,
            glusterd_peers: Vec::new(),
            tls: None,
        };
        let text = render_user_data(&bootstrap)
            .expect("user-data")
            .into_string();
        (text, host_key)
    }

    /// A spec of a node on `address` with one Cinder volume.
    pub fn volume_spec(
        &self,
        server_id: &str,
        name: &str,
        address: Ipv4Addr,
        volume_id: &str,
        mount_path: &str,
    ) -> NodeSpec {
        let (user_data, _) = self.user_data(
            name,
            BrickDevice::Volume {
                id: volume_id.into(),
            },
            mount_path,
        );
        NodeSpec {
            server_id: server_id.into(),
            name: name.into(),
            address,
            user_data,
            volume_ids: vec![volume_id.into()],
            ephemeral_bytes: None,
        }
    }

    /// Starts a node and waits for its boot to finish (brick ready, glusterd listening).
    pub fn boot(&self, spec: NodeSpec) -> Result<RunningNode, e2e::nodes::NodeError> {
        let node = self.nodes.start(spec)?;
        self.nodes
            .wait_boot(&node.server_id, Duration::from_secs(120))
    }

    /// A known_hosts file pinning these nodes.
    pub fn known_hosts(&self, nodes: &[&RunningNode]) -> PathBuf {
        let path = self.dir.join("known_hosts");
        let text: String = nodes
            .iter()
            .map(|n| format!("{}\n", n.known_hosts_line()))
            .collect();
        fs::write(&path, text).expect("known_hosts");
        path
    }

    /// `ssh` as the operator, pinned host keys, no trust on first use.
    pub fn ssh(&self, node: &RunningNode, known_hosts: &Path, command: &str) -> Output {
        ssh(node.address, &self.operator_key_file, known_hosts, command)
    }

    /// `ssh` as the operator; panics with what it printed unless it succeeds.
    pub fn ssh_ok(&self, node: &RunningNode, known_hosts: &Path, command: &str) -> String {
        let out = self.ssh(node, known_hosts, command);
        assert!(
            out.status.success(),
            "ssh {} `{command}` failed ({}):\n{}{}",
            node.address,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

pub fn write_private(path: &Path, content: &str) {
    fs::write(path, content).expect("key file");
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod key file");
}

/// The real `ssh` client: the given key only, the given known_hosts only, strict checking.
pub fn ssh(address: Ipv4Addr, key: &Path, known_hosts: &Path, command: &str) -> Output {
    Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "-i",
        ])
        .arg(key)
        .args(["-l", "gluster-operator"])
        .arg(address.to_string())
        .arg(command)
        .output()
        .expect("running ssh")
}

/// Runs a command, panicking with its output unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` until it returns `Some` (a bound, not a timed assert: the message says what
/// never happened).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if start.elapsed() > Duration::from_secs(90) => {
                panic!("{what}: never happened; last: {last}")
            }
            Err(_) => thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The texts of every `<tag>…</tag>` in an XML document (gluster's --xml output is flat enough).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(|v| v.trim().to_string())
        .collect()
}

/// The local addresses of the TCP listeners on `port`.
pub fn listeners(port: u16) -> Vec<String> {
    run_ok(Command::new("ss").args(["-Hltn", &format!("sport = :{port}")]))
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect()
}

/// Asserts the nodes left nothing: no process in their namespaces, no loop device on their
/// disks, no mount below `dir` on this machine, no process naming `address` (an address, or a
/// prefix ending in `.`).
pub fn assert_nothing_left(nodes: &[RunningNode], dir: &Path, address: &str) {
    for node in nodes {
        assert!(
            node.processes().is_empty(),
            "node {} left processes {:?}",
            node.server_id,
            node.processes()
        );
        assert!(
            !Path::new(&format!("/proc/{}", node.init_pid)).exists()
                || fs::read_link(format!("/proc/{}/ns/mnt", node.init_pid))
                    .map(|l| l.to_string_lossy() != node.mount_namespace)
                    .unwrap_or(true),
            "node {} init {} is still there",
            node.server_id,
            node.init_pid
        );
        for disk in &node.disks {
            let loops = loops_of(&disk.backing).expect("losetup --associated");
            assert!(
                loops.is_empty(),
                "{} still attached to {loops:?}",
                disk.backing.display()
            );
        }
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dir = dir.to_string_lossy();
    assert!(
        !mounts.lines().any(|l| l.contains(dir.as_ref())),
        "mounts left below {dir}:\n{mounts}"
    );
    // A FUSE client leaves once the kernel hands it the unmount, which a loaded machine may
    // take a moment to do: every such process must be gone within the bound.
    let me = std::process::id();
    eventually(&format!("no process naming {address}"), || {
        for entry in fs::read_dir("/proc").expect("/proc").filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if names_address(&cmdline, address) {
                return Err(format!("process {pid} still names {address}: {cmdline}"));
            }
        }
        Ok(())
    });
}

/// Whether `text` holds `address` (not as the start of a longer one), or any address starting
/// with `address` when it ends in `.`.
fn names_address(text: &str, address: &str) -> bool {
    text.match_indices(address).any(|(at, _)| {
        address.ends_with('.')
            || !text[at + address.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}

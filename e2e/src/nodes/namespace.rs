//! A node's namespaces: its own mount, UTS (hostname) and PID namespaces, held by `tini` as the
//! node's PID 1 (it reaps the node's orphans, as an init does; glusterd takes a zombie brick for
//! a live one). Everything of the node runs inside through `nsenter`; killing its init makes the
//! kernel kill every process left in it.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use super::command::{describe, tail};
use super::error::NodeError;

/// The init of every node.
pub const TINI: &str = "/usr/bin/tini";

/// How long to wait for the kernel to empty a namespace once its init is killed.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// The namespaces of one node, held by its init.
#[derive(Debug)]
pub struct Namespace {
    /// `unshare`, which made the namespaces and waits for the init (our child).
    unshare: Option<Child>,
    /// The host PID of the node's init (`tini`, PID 1 inside).
    init: u32,
    /// The host PID of the process the init runs (`sleep infinity`), which keeps it up.
    holder: u32,
    /// The mount namespace, as `/proc/<pid>/ns/mnt` names it (`mnt:[…]`).
    mnt_ns: String,
}

impl Namespace {
    /// Makes the namespaces; `log` receives what `unshare` and the init print on failure.
    pub fn spawn(log: &Path) -> Result<Self, NodeError> {
        let log_file =
            File::create(log).map_err(NodeError::io("creating the namespace log", log))?;
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "--",
            TINI,
            "--",
            "/bin/sh",
            "-c",
            "echo ready; exec sleep infinity",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file);
        let mut child = cmd.spawn().map_err(|e| NodeError::Command {
            what: "making the node's namespaces".into(),
            command: describe(&cmd),
            outcome: format!("could not be started: {e}"),
        })?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            // EOF (unshare failed) leaves the line empty.
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let failed = |child: &mut Child, why: &str| {
            let _ = child.kill();
            let _ = child.wait();
            NodeError::Command {
                what: "making the node's namespaces".into(),
                command: describe(&cmd),
                outcome: format!(
                    "{why}{}",
                    tail(&fs::read_to_string(log).unwrap_or_default())
                ),
            }
        };
        if line.trim() != "ready" {
            return Err(failed(&mut child, "ended before the node's init was up"));
        }
        let Some(init) = children_of(child.id()).into_iter().next() else {
            return Err(failed(&mut child, "the node's init is not there"));
        };
        let Some(holder) = children_of(init).into_iter().next() else {
            return Err(failed(&mut child, "the node's init runs nothing"));
        };
        let Some(mnt_ns) = ns_of(init, "mnt") else {
            return Err(failed(&mut child, "the node's init has no mount namespace"));
        };
        if ns_of(std::process::id(), "mnt").as_deref() == Some(mnt_ns.as_str()) {
            return Err(failed(
                &mut child,
                "the node's init shares this process's mount namespace",
            ));
        }
        Ok(Self {
            unshare: Some(child),
            init,
            holder,
            mnt_ns,
        })
    }

    /// The host PID of the node's init.
    pub fn init_pid(&self) -> u32 {
        self.init
    }

    /// The node's mount namespace (`mnt:[…]`).
    pub fn mnt_ns(&self) -> &str {
        &self.mnt_ns
    }

    /// A command that runs `program` inside the node (its mount, UTS and PID namespaces, from
    /// its `/`).
    pub fn command(&self, program: &str) -> Command {
        enter(self.init, program)
    }

    /// The path on this machine of `path` as the node sees it (through `/proc/<init>/root`).
    pub fn host_path(&self, path: &str) -> PathBuf {
        root_of(self.init).join(path.trim_start_matches('/'))
    }

    /// The host PIDs of every process in the node's mount namespace (the init, what runs in
    /// the node, and `nsenter`s on their way in).
    pub fn processes(&self) -> Vec<u32> {
        processes_in(&self.mnt_ns)
    }

    /// Sends SIGTERM to every process of the node but its init and waits up to `grace` for
    /// them to end. Returns those still there.
    pub fn terminate_daemons(&self, grace: Duration) -> Vec<u32> {
        let keep: BTreeSet<u32> = [self.init, self.holder]
            .into_iter()
            .chain(self.unshare.as_ref().map(Child::id))
            .collect();
        let daemons: Vec<u32> = self
            .processes()
            .into_iter()
            .filter(|p| !keep.contains(p))
            .collect();
        for &pid in &daemons {
            signal(pid, Signal::TERM);
        }
        let start = Instant::now();
        loop {
            let left: Vec<u32> = daemons
                .iter()
                .copied()
                .filter(|&p| ns_of(p, "mnt").as_deref() == Some(self.mnt_ns.as_str()))
                .collect();
            if left.is_empty() || start.elapsed() > grace {
                return left;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the node's init, so the kernel kills everything left in the node, and waits until
    /// the mount namespace is empty. Returns what could not be done.
    pub fn kill(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(mut unshare) = self.unshare.take() else {
            return problems;
        };
        signal(self.init, Signal::KILL);
        let start = Instant::now();
        loop {
            match unshare.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() < KILL_TIMEOUT => {
                    thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    problems.push(format!(
                        "unshare (pid {}) still waits for the node's init after {KILL_TIMEOUT:?}; killed",
                        unshare.id()
                    ));
                    let _ = unshare.kill();
                    let _ = unshare.wait();
                    break;
                }
                Err(e) => {
                    problems.push(format!("waiting for unshare (pid {}): {e}", unshare.id()));
                    break;
                }
            }
        }
        while start.elapsed() < KILL_TIMEOUT {
            if self.processes().is_empty() {
                return problems;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let left = self.processes();
        if !left.is_empty() {
            problems.push(format!(
                "processes {left:?} still in the node's mount namespace {} after {KILL_TIMEOUT:?}",
                self.mnt_ns
            ));
        }
        problems
    }
}

impl Drop for Namespace {
    /// A safety net: a namespace dropped without [`Namespace::kill`] (a failed boot, a panic) is
    /// killed all the same.
    fn drop(&mut self) {
        for problem in self.kill() {
            tracing::warn!("loopback node namespace: {problem}");
        }
    }
}

/// A command that runs `program` in the mount, UTS and PID namespaces of the node whose init
/// has host PID `init`, from the node's `/`.
pub fn enter(init: u32, program: &str) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg("--target")
        .arg(init.to_string())
        .args(["--mount", "--uts", "--pid", "--wdns=/", "--"])
        .arg(program);
    cmd
}

fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // A process that is already gone is what we want.
        let _ = kill_process(pid, sig);
    }
}

/// `/proc/<pid>/root`.
pub fn root_of(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

/// The namespace `kind` (`mnt`, `pid`, `uts`) of a process, as `/proc/<pid>/ns/<kind>` names
/// it, or `None` when it is gone (or a zombie).
pub fn ns_of(pid: u32, kind: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The host PIDs of the processes in the mount namespace `mnt_ns` (`mnt:[…]`).
pub fn processes_in(mnt_ns: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| ns_of(pid, "mnt").as_deref() == Some(mnt_ns))
        .collect()
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The children of a process, oldest first.
fn children_of(pid: u32) -> Vec<u32> {
    if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        return text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
    }
    // Kernels without CONFIG_PROC_CHILDREN: the parent field of every /proc/<pid>/stat.
    let mut children: Vec<u32> = all_pids()
        .into_iter()
        .filter(|&child| parent_of(child) == Some(pid))
        .collect();
    children.sort_unstable();
    children
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen() {
        let me = std::process::id();
        let ns = ns_of(me, "mnt").unwrap();
        assert!(ns.starts_with("mnt:["), "{ns}");
        assert!(processes_in(&ns).contains(&me));
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        assert_eq!(ns_of(u32::MAX, "mnt"), None);
    }
}

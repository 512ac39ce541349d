//! The test's network namespace: a bridge holding the mirror's address, one TAP device per VM,
//! no route out. Every VM, the mirror and the test's SSH and FUSE clients meet in it. Dropping
//! it stops what it started (by PID), deletes the TAPs and the namespace.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{VmError, describe, output, run};

/// The bridge's address (the mirror's), the first of [`PREFIX`].
pub const BRIDGE_ADDR: Ipv4Addr = Ipv4Addr::new(10, 199, 0, 1);
/// The namespace's network prefix length.
pub const PREFIX: u8 = 24;
/// The mirror's port.
pub const MIRROR_PORT: u16 = 8080;
const BRIDGE: &str = "br0";

/// A network namespace of the test.
#[derive(Debug)]
pub struct Netns {
    name: String,
    taps: Vec<String>,
    children: Vec<Child>,
}

impl Netns {
    /// Creates namespace `name` with loopback up and the bridge at [`BRIDGE_ADDR`]; a stale
    /// namespace of that name (a killed earlier run) is deleted first.
    pub fn create(name: &str) -> Result<Self, VmError> {
        let _ = output(Command::new("ip").args(["netns", "del", name]));
        run(Command::new("ip").args(["netns", "add", name]))?;
        let ns = Self {
            name: name.to_string(),
            taps: Vec::new(),
            children: Vec::new(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        ns.ip(&["link", "add", BRIDGE, "type", "bridge"])?;
        ns.ip(&[
            "addr",
            "add",
            &format!("{BRIDGE_ADDR}/{PREFIX}"),
            "dev",
            BRIDGE,
        ])?;
        ns.ip(&["link", "set", BRIDGE, "up"])?;
        let routes = ns.ip(&["route", "show", "default"])?;
        if !routes.trim().is_empty() {
            return Err(VmError::Image(format!(
                "namespace {name} has a route out: {routes}"
            )));
        }
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> args…`.
    pub fn ip(&self, args: &[&str]) -> Result<String, VmError> {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// Adds TAP device `tap` to the bridge (up, ready for qemu's `-netdev tap`).
    pub fn add_tap(&mut self, tap: &str) -> Result<(), VmError> {
        self.ip(&["tuntap", "add", "dev", tap, "mode", "tap"])?;
        self.taps.push(tap.to_string());
        self.ip(&["link", "set", tap, "master", BRIDGE])?;
        self.ip(&["link", "set", tap, "up"])?;
        Ok(())
    }

    /// A command running `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Starts `cmd` (built by [`Netns::command`]) and keeps it to stop on drop.
    pub fn spawn(&mut self, mut cmd: Command) -> Result<u32, VmError> {
        let child = cmd.spawn().map_err(|e| VmError::Command {
            what: describe(&cmd),
            detail: format!("cannot start: {e}"),
        })?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Serves `dir` over HTTP at [`BRIDGE_ADDR`]:[`MIRROR_PORT`] (python3's http.server, its
    /// request log in `log`) and waits until it answers.
    pub fn serve_mirror(&mut self, dir: &Path, log: &Path) -> Result<(), VmError> {
        let log_file = std::fs::File::create(log).map_err(|source| VmError::Io {
            path: log.display().to_string(),
            source,
        })?;
        let err = log_file.try_clone().map_err(|source| VmError::Io {
            path: log.display().to_string(),
            source,
        })?;
        let mut cmd = self.command("python3");
        cmd.args(["-m", "http.server", &MIRROR_PORT.to_string(), "--bind"])
            .arg(BRIDGE_ADDR.to_string())
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err);
        self.spawn(cmd)?;
        let url = format!("http://{BRIDGE_ADDR}:{MIRROR_PORT}/Packages");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let probe = output(self.command("curl").args(["-sfo", "/dev/null", &url]))?;
            if probe.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(VmError::Timeout(format!(
                    "the mirror does not answer at {url} after 30 s (log: {})",
                    log.display()
                )));
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for tap in &self.taps {
            let _ = output(Command::new("ip").args(["-n", &self.name, "link", "del", tap]));
        }
        let _ = output(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

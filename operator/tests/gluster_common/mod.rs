//! Real-world fixtures for the gluster tests: a file lock that serializes them, XFS bricks on
//! loop devices, glusterd on its own loopback address, working directory and socket, FUSE
//! mounts, sshd with generated keys, and a local executor. Every guard cleans up in `Drop`
//! (processes by PID, mounts, loop devices), also when a test fails.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gluster_operator::gluster::{
    CommandOutput, ExecError, ExecFuture, GlusterCli, NodeEndpoint, NodeExecutor, PinnedHostKey,
    TimeoutPhase,
};

/// Fails the test with a clear message when a program is missing (`make setup` installs it).
pub fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || Path::new(program).is_file();
    assert!(
        found,
        "`{program}` is missing: run `make setup` (hack/setup.sh installs glusterfs-server, \
         glusterfs-client, openssh-server, xfsprogs)"
    );
}

/// Runs a program and returns its stdout; panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Serializes the tests that start gluster or sshd on this machine (several engineers and
/// test binaries share it). Held until dropped.
pub struct TestLock(File);

impl TestLock {
    /// Waits for the machine-wide lock.
    pub fn acquire() -> Self {
        let path = "/tmp/gluster-operator-gluster-tests.lock";
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        file.lock().unwrap_or_else(|e| panic!("lock {path}: {e}"));
        TestLock(file)
    }
}

impl Drop for TestLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// A loopback address in 127.0.73.0/24 where nothing listens on `port` yet.
pub fn free_loopback(port: u16, skip: &[Ipv4Addr]) -> Ipv4Addr {
    for last in 1..=250u8 {
        let ip = Ipv4Addr::new(127, 0, 73, last);
        if skip.contains(&ip) {
            continue;
        }
        if TcpListener::bind(SocketAddrV4::new(ip, port)).is_ok() {
            return ip;
        }
    }
    panic!("no free address in 127.0.73.0/24 for port {port}");
}

/// Polls `check` until it returns `Some`, at most `tries` times `every` apart.
pub async fn eventually<T, F, Fut>(what: &str, tries: u32, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..tries {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(every).await;
    }
    panic!("gave up waiting for {what}");
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Stops the processes: TERM, a grace period, then KILL.
pub fn stop_pids(pids: &[u32]) {
    for &pid in pids {
        signal(pid, "-TERM");
    }
    for _ in 0..50 {
        if pids.iter().all(|&p| !pid_alive(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for &pid in pids {
        if pid_alive(pid) {
            signal(pid, "-KILL");
        }
    }
}

/// PIDs of the processes whose command line mentions `needle` (our private directories):
/// brick, self-heal, rebalance and FUSE processes that glusterd daemonized.
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// The `-S` socket argument of a process (gluster daemons keep theirs in /var/run/gluster).
fn socket_arg(pid: u32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == "-S")?;
    args.get(i + 1).cloned()
}

/// An XFS filesystem (`-i size=512`, as the bootstrap makes bricks) on a loop device over a
/// sparse file, mounted at `mountpoint`.
pub struct LoopXfs {
    pub mountpoint: PathBuf,
    device: String,
}

impl LoopXfs {
    pub fn create(dir: &Path, size: &str) -> Self {
        require("losetup");
        require("mkfs.xfs");
        fs::create_dir_all(dir).unwrap();
        let image = dir.join("brick.img");
        run("truncate", &["-s", size, image.to_str().unwrap()]);
        let device = run("losetup", &["--find", "--show", image.to_str().unwrap()])
            .trim()
            .to_string();
        let mountpoint = dir.join("mnt");
        let guard = Self {
            mountpoint: mountpoint.clone(),
            device: device.clone(),
        };
        fs::create_dir_all(&mountpoint).unwrap();
        run("mkfs.xfs", &["-q", "-i", "size=512", &device]);
        run("mount", &[&device, mountpoint.to_str().unwrap()]);
        guard
    }

    /// A fresh directory on the filesystem, for one brick.
    pub fn brick_dir(&self, name: &str) -> String {
        let dir = self.mountpoint.join(name);
        fs::create_dir_all(&dir).unwrap();
        dir.to_string_lossy().into_owned()
    }
}

impl Drop for LoopXfs {
    fn drop(&mut self) {
        let mp = self.mountpoint.to_string_lossy().into_owned();
        let mounted = fs::read_to_string("/proc/mounts")
            .map(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(mp.as_str())))
            .unwrap_or(false);
        if mounted
            && !Command::new("umount")
                .arg(&mp)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            let _ = Command::new("umount").args(["-l", &mp]).status();
        }
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

/// A FUSE mount of a gluster volume (`mount -t glusterfs`), unmounted on drop.
pub struct FuseMount {
    pub path: PathBuf,
}

impl FuseMount {
    pub fn mount(server: &str, volume: &str, path: &Path, log: &Path) -> Self {
        require("mount.glusterfs");
        fs::create_dir_all(path).unwrap();
        let guard = Self {
            path: path.to_path_buf(),
        };
        run(
            "mount",
            &[
                "-t",
                "glusterfs",
                "-o",
                &format!("log-file={}", log.display()),
                &format!("{server}:/{volume}"),
                path.to_str().unwrap(),
            ],
        );
        guard
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        let p = self.path.to_string_lossy().into_owned();
        if !Command::new("umount")
            .arg(&p)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            let _ = Command::new("umount").args(["-l", &p]).status();
        }
    }
}

/// A glusterd bound to its own loopback address, with its own working, run and log
/// directories and socket. On drop it stops glusterd and every process under its run
/// directory (bricks, self-heal, rebalance), and removes what gluster left in the shared
/// directories (brick sockets in /var/run/gluster, glfsheal logs of the test's volumes).
pub struct Glusterd {
    pub address: Ipv4Addr,
    pub dir: PathBuf,
    pub socket: String,
    child: Child,
    volumes: Vec<String>,
    sockets_before: Vec<PathBuf>,
}

/// Gluster's daemons put their sockets here, whatever the run directory.
const GLUSTER_SOCKET_DIR: &str = "/var/run/gluster";

fn gluster_sockets() -> Vec<PathBuf> {
    fs::read_dir(GLUSTER_SOCKET_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "socket"))
        .collect()
}

/// Whether some process still listens on the unix socket at `path`.
fn socket_in_use(path: &Path) -> bool {
    let p = path.to_string_lossy();
    fs::read_to_string("/proc/net/unix")
        .map(|t| t.lines().any(|l| l.ends_with(p.as_ref())))
        .unwrap_or(true)
}

impl Glusterd {
    pub fn start(dir: &Path, address: Ipv4Addr) -> Self {
        require("glusterd");
        require("gluster");
        for sub in ["work", "run", "logs"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let p = |s: &str| dir.join(s).to_string_lossy().into_owned();
        let socket = p("run/glusterd.sock");
        let opt = |k: &str, v: &str| format!("management.{k}={v}");
        let sockets_before = gluster_sockets();
        let child = Command::new("glusterd")
            .arg("-N") // foreground: the Child is glusterd itself
            .args([
                "--xlator-option",
                &opt("transport.socket.bind-address", &address.to_string()),
            ])
            .args(["--xlator-option", &opt("working-directory", &p("work"))])
            .args(["--xlator-option", &opt("run-directory", &p("run"))])
            .args(["--xlator-option", &opt("glusterd-sockfile", &socket)])
            .args(["--xlator-option", &opt("logging-directory", &p("logs"))])
            .args(["-p", &p("run/glusterd.pid")])
            .arg(format!("--log-file={}", p("logs/glusterd.log")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start glusterd");
        let me = Self {
            address,
            dir: dir.to_path_buf(),
            socket,
            child,
            volumes: Vec::new(),
            sockets_before,
        };
        me.wait_ready();
        me
    }

    fn wait_ready(&self) {
        for _ in 0..100 {
            let ok = Command::new("gluster")
                .args(self.cli_args())
                .args(["--mode=script", "pool", "list"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = fs::read_to_string(self.dir.join("logs/glusterd.log")).unwrap_or_default();
        panic!(
            "glusterd on {} did not answer; log tail:\n{}",
            self.address,
            log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
        );
    }

    fn cli_args(&self) -> Vec<String> {
        vec![
            format!("--glusterd-sock={}", self.socket),
            format!("--log-file={}", self.dir.join("logs/cli.log").display()),
        ]
    }

    /// The CLI settings that reach this glusterd.
    pub fn cli(&self) -> GlusterCli {
        GlusterCli::new()
            .with_glusterd_socket(self.socket.clone())
            .with_log_file(self.dir.join("logs/cli.log").to_string_lossy().into_owned())
    }

    /// Remembers a volume the test creates, so its glfsheal log is removed at the end.
    pub fn track_volume(&mut self, name: &str) {
        self.volumes.push(name.to_string());
    }
}

impl Drop for Glusterd {
    fn drop(&mut self) {
        // glusterd first, so it does not restart what is stopped next.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let needle = self.dir.to_string_lossy().into_owned();
        let pids = pids_mentioning(&needle);
        let sockets: Vec<String> = pids.iter().filter_map(|&p| socket_arg(p)).collect();
        stop_pids(&pids);
        for s in sockets {
            if s.starts_with("/var/run/gluster/") || s.starts_with("/run/gluster/") {
                let _ = fs::remove_file(s);
            }
        }
        // Daemons that ended by themselves (rebalance, remove-brick migration) left their
        // sockets too: remove those that appeared meanwhile and that nobody listens on.
        for s in gluster_sockets() {
            if !self.sockets_before.contains(&s) && !socket_in_use(&s) {
                let _ = fs::remove_file(s);
            }
        }
        for v in &self.volumes {
            let _ = fs::remove_file(format!("/var/log/glusterfs/glfsheal-{v}.log"));
        }
    }
}

/// Runs commands on this machine: the [`NodeExecutor`] the live gluster tests use.
pub struct LocalExecutor;

impl NodeExecutor for LocalExecutor {
    fn run<'a>(
        &'a self,
        node: &'a NodeEndpoint,
        argv: &'a [String],
        timeout: Duration,
    ) -> ExecFuture<'a> {
        Box::pin(async move {
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| ExecError::InvalidCommand {
                    node: node.name.clone(),
                    reason: "empty argument vector".into(),
                })?;
            let child = tokio::process::Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(timeout, child).await {
                Err(_) => Err(ExecError::Timeout {
                    node: node.name.clone(),
                    phase: TimeoutPhase::Command,
                    after: timeout,
                }),
                Ok(Err(e)) => Err(ExecError::Session {
                    node: node.name.clone(),
                    reason: format!("{program}: {e}"),
                }),
                Ok(Ok(out)) => {
                    use std::os::unix::process::ExitStatusExt;
                    Ok(CommandOutput {
                        exit_status: out.status.code().map(|c| c as u32),
                        exit_signal: out.status.signal().map(|s| s.to_string()),
                        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    })
                }
            }
        })
    }
}

/// An ed25519 key pair made by `ssh-keygen`: (private key text, public key line).
pub fn keygen(dir: &Path, name: &str) -> (String, String) {
    require("ssh-keygen");
    let path = dir.join(name);
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            name,
            "-f",
            path.to_str().unwrap(),
        ],
    );
    (
        fs::read_to_string(&path).unwrap(),
        fs::read_to_string(path.with_extension("pub")).unwrap(),
    )
}

/// A placeholder host key for endpoints whose key does not matter (local execution).
pub fn any_host_key(dir: &Path) -> PinnedHostKey {
    let (_, public) = keygen(dir, "placeholder_host_key");
    PinnedHostKey::from_openssh(&public).unwrap()
}

/// `sshd -D` on a loopback address with a generated host key, accepting only the keys in
/// `authorized_keys`. Stopped by PID on drop.
pub struct Sshd {
    pub address: Ipv4Addr,
    pub port: u16,
    pub host_public: String,
    pub dir: PathBuf,
    child: Child,
}

impl Sshd {
    pub fn start(dir: &Path, authorized_keys: &str) -> Self {
        require("/usr/sbin/sshd");
        fs::create_dir_all(dir).unwrap();
        // sshd's privilege separation directory (Debian's service creates it at boot).
        fs::create_dir_all("/run/sshd").unwrap();
        let (_, host_public) = keygen(dir, "ssh_host_ed25519_key");
        fs::write(dir.join("authorized_keys"), authorized_keys).unwrap();
        let user = run("id", &["-un"]).trim().to_string();
        for _attempt in 0..5 {
            let address = Ipv4Addr::LOCALHOST;
            let port = TcpListener::bind(SocketAddrV4::new(address, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.join("sshd_config");
            fs::write(
                &config,
                format!(
                    "ListenAddress {address}:{port}\n\
                     HostKey {dir}/ssh_host_ed25519_key\n\
                     PidFile {dir}/sshd.pid\n\
                     AuthorizedKeysFile {dir}/authorized_keys\n\
                     AllowUsers {user}\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     LogLevel VERBOSE\n",
                    dir = dir.display()
                ),
            )
            .unwrap();
            let mut child = Command::new("/usr/sbin/sshd")
                .arg("-D")
                .arg("-E")
                .arg(dir.join("sshd.log"))
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sshd");
            for _ in 0..50 {
                if child.try_wait().ok().flatten().is_some() {
                    break; // it exited: the port was taken meanwhile; try another
                }
                if TcpStream::connect(SocketAddrV4::new(address, port)).is_ok() {
                    return Self {
                        address,
                        port,
                        host_public,
                        dir: dir.to_path_buf(),
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        panic!("sshd did not start; its log:\n{log}");
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

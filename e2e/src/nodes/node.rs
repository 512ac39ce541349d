//! Booting and stopping one node: the imperative shell around the pure plans of
//! [`super::layout`], [`super::render`] and [`super::user_data`].
//!
//! First boot, in cloud-init's order: disks attached and linked by ID, namespaces made, the
//! node's directories mounted, hostname set; users, host key, sshd and glusterd configuration
//! and `write_files` written; sshd started; the brick script run unchanged (it formats and
//! mounts the brick and, with `--start-glusterd`, runs `service glusterd start`). A later start
//! of the same server is a reboot: its root disk (the node directory) is kept, `/run` and the
//! by-id links are fresh, fstab is mounted and glusterd started as at boot.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use gluster_operator::bootstrap::BrickDevice;

use super::boot::{BootProgress, BootState, Watch, probe, watch as watch_boot};
use super::command::{describe, output, run, tail};
use super::disks::{LoopDevice, ensure_sparse_file, format_ephemeral};
use super::error::NodeError;
use super::layout::NodeLayout;
use super::namespace::Namespace;
use super::record::{RECORD, Record};
use super::render;
use super::running::{NodeDisk, RunningNode};
use super::spec::{NodeSpec, virtio_by_id_name};
use super::user_data::{FileSpec, NodeUserData, UserSpec};

/// The PATH of commands run in a node.
const NODE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Marks a node directory whose first boot finished (cloud-init's `boot-finished`).
const BOOT_FINISHED: &str = "boot-finished";

/// How long detaching a loop device may take.
const DETACH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a boot needs besides the spec.
pub struct BootInput<'a> {
    /// The server.
    pub spec: &'a NodeSpec,
    /// Its parsed user-data.
    pub user_data: NodeUserData,
    /// Its volumes' backing files, in the order of `spec.volume_ids`.
    pub volumes: Vec<PathBuf>,
    /// The node's directories.
    pub layout: NodeLayout,
    /// How long sshd and glusterd may take to listen.
    pub ready_timeout: Duration,
}

/// A running node and what it holds.
#[derive(Debug)]
pub struct Node {
    info: RunningNode,
    ns: Option<Namespace>,
    sshd: Option<Child>,
    disks: Vec<(LoopDevice, Option<String>)>,
    boot: BootProgress,
    watcher: Option<JoinHandle<()>>,
}

impl Node {
    /// What the node is.
    pub fn info(&self) -> &RunningNode {
        &self.info
    }

    /// The Cinder volumes it holds.
    pub fn volume_ids(&self) -> impl Iterator<Item = &str> {
        self.disks.iter().filter_map(|(_, id)| id.as_deref())
    }

    /// Boots a node. On failure everything it started or attached is undone.
    pub fn boot(input: BootInput<'_>) -> Result<Self, NodeError> {
        let started = Instant::now();
        let spec = input.spec;
        let layout = &input.layout;
        let first_boot = !layout.path(BOOT_FINISHED).exists();
        if first_boot && layout.dir().exists() {
            // An earlier first boot that did not finish: start over, as cloud-init would.
            fs::remove_dir_all(layout.dir())
                .map_err(NodeError::io("removing an unfinished node", layout.dir()))?;
        }
        let mut node = Self {
            info: RunningNode {
                server_id: spec.server_id.clone(),
                name: spec.name.clone(),
                hostname: spec.hostname(),
                address: spec.address,
                host_key: input.user_data.host_key.public_key().clone(),
                brick_mount_path: input.user_data.brick.mount_path.clone(),
                disks: Vec::new(),
                init_pid: 0,
                mount_namespace: String::new(),
                dir: layout.dir().to_path_buf(),
                skipped: input.user_data.skipped.clone(),
                first_boot,
                boot_time: Duration::ZERO,
                boot: BootProgress::running(),
            },
            ns: None,
            sshd: None,
            disks: Vec::new(),
            boot: BootProgress::running(),
            watcher: None,
        };
        node.info.boot = node.boot.clone();
        match node.boot_steps(&input, first_boot) {
            Ok(()) => {
                node.info.boot_time = started.elapsed();
                node.log(&format!(
                    "up in {:.2}s (sshd listens)",
                    node.info.boot_time.as_secs_f64()
                ));
                Ok(node)
            }
            Err(err) => {
                if let Err(stop) = node.stop(Duration::from_secs(2)) {
                    tracing::warn!("cleaning up after a failed boot: {stop}");
                }
                Err(err)
            }
        }
    }

    fn boot_steps(&mut self, input: &BootInput<'_>, first_boot: bool) -> Result<(), NodeError> {
        let layout = &input.layout;
        let ud = &input.user_data;
        prepare_directories(layout, &ud.brick.mount_root())?;
        self.log(&format!(
            "loopback node {} (server {}) at {}: {}",
            self.info.hostname,
            self.info.server_id,
            self.info.address,
            if first_boot { "first boot" } else { "reboot" }
        ));
        for note in &ud.skipped {
            self.log(&format!("skipped: {note}"));
        }

        self.attach_disks(input, first_boot)?;
        let mut record = Record {
            init: None,
            loops: self.disks.iter().map(|(d, _)| d.clone()).collect(),
        };
        record.save(layout.dir())?;
        let ns = Namespace::spawn(&layout.holder_log())?;
        self.info.init_pid = ns.init_pid();
        self.info.mount_namespace = ns.mnt_ns().to_string();
        record.init = Some((ns.init_pid(), ns.mnt_ns().to_string()));
        let saved = record.save(layout.dir());
        let ns = self.ns.insert(ns);
        saved?;
        for step in layout.mounts(&ud.brick.mount_root()) {
            run(
                ns.command("mount").args(step.mount_args()),
                &format!("mounting the node's {}", step.target()),
            )?;
        }
        run(
            ns.command("hostname").arg(&self.info.hostname),
            "setting the node's hostname",
        )?;

        self.configure_machine(ud)?;
        if first_boot {
            self.configure(ud)?;
            if let Some((disk, _)) = self.disks.iter().find(|(_, id)| id.is_none()) {
                // cloud-init mounts the ephemeral disk at /mnt.
                let device = disk.device.clone();
                run(
                    self.in_node("mount").args([device.as_str(), "/mnt"]),
                    "mounting the ephemeral disk at /mnt",
                )?;
            }
        } else {
            run(
                self.in_node("mount").arg("--all"),
                "mounting the node's fstab",
            )?;
        }
        self.start_sshd()?;
        if first_boot {
            // cloud-init's final stage goes on in the background (the script may wait for its
            // volume); `self.boot` tells when it is done.
            self.run_brick_script(ud, input)?;
        } else {
            if ud.brick.start_glusterd {
                let out = run(
                    self.in_node("service").args(["glusterd", "start"]),
                    "starting glusterd",
                )?;
                self.log(out.trim_end());
                self.wait_ready(24007, input.ready_timeout)?;
            }
            self.boot.set(BootState::Finished);
        }
        self.wait_ready(22, input.ready_timeout)?;
        Ok(())
    }

    /// Attaches the volumes and the ephemeral disk and links the volumes by ID.
    fn attach_disks(&mut self, input: &BootInput<'_>, first_boot: bool) -> Result<(), NodeError> {
        for (id, backing) in input.spec.volume_ids.iter().zip(&input.volumes) {
            let disk = LoopDevice::attach(backing)?;
            self.disks.push((disk, Some(id.clone())));
        }
        if let Some(bytes) = input.spec.ephemeral_bytes {
            let image = input.layout.ephemeral_image();
            if ensure_sparse_file(&image, bytes)? || first_boot {
                format_ephemeral(&image)?;
            }
            self.disks.push((LoopDevice::attach(&image)?, None));
        }
        self.info.disks = self
            .disks
            .iter()
            .map(|(d, id)| NodeDisk {
                device: d.device.clone(),
                backing: d.backing.clone(),
                volume_id: id.clone(),
            })
            .collect();
        let by_id = input.layout.by_id();
        for (disk, id) in &self.disks {
            if let Some(id) = id {
                let link = by_id.join(virtio_by_id_name(id));
                symlink(&disk.device, &link)
                    .map_err(NodeError::io("linking a volume by ID", link))?;
                self.log(&format!(
                    "volume {id}: {} as /dev/disk/by-id/{}",
                    disk.device,
                    virtio_by_id_name(id)
                ));
            } else {
                self.log(&format!("ephemeral disk: {}", disk.device));
            }
        }
        Ok(())
    }

    /// What the node's "image" holds, rewritten at every boot from the server's name and
    /// address: hostname and hosts, the sshd configuration, glusterd's volfile and init script.
    fn configure_machine(&mut self, ud: &NodeUserData) -> Result<(), NodeError> {
        let hostname = self.info.hostname.clone();
        self.write("/etc/hostname", &format!("{hostname}\n"), 0o644)?;
        self.write(
            "/etc/hosts",
            &render::hosts(self.info.address, &hostname),
            0o644,
        )?;
        self.write(
            "/etc/ssh/sshd_config",
            &render::sshd_config(self.info.address, &ud.users),
            0o644,
        )?;
        self.write(
            "/etc/glusterfs/glusterd.vol",
            &render::glusterd_vol(self.info.address),
            0o644,
        )?;
        self.write("/etc/init.d/glusterd", render::GLUSTERD_INIT_SCRIPT, 0o755)
    }

    /// cloud-init's per-instance work: fstab as cloud-init leaves it, host key, users and
    /// sudoers, `write_files`.
    fn configure(&mut self, ud: &NodeUserData) -> Result<(), NodeError> {
        let hostname = self.info.hostname.clone();
        let ephemeral = self
            .disks
            .iter()
            .find(|(_, id)| id.is_none())
            .map(|(d, _)| d.device.clone());
        self.write(
            "/etc/fstab",
            &render::fstab(&hostname, ephemeral.as_deref()),
            0o644,
        )?;

        // ssh_deletekeys: the image's host keys go; the user-data's is the only one.
        let ssh_dir = self.node_path("/etc/ssh");
        if let Ok(entries) = fs::read_dir(&ssh_dir) {
            for entry in entries.filter_map(Result::ok) {
                if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
                    fs::remove_file(entry.path())
                        .map_err(NodeError::io("deleting an image host key", entry.path()))?;
                }
            }
        }
        self.write(
            "/etc/ssh/ssh_host_ed25519_key",
            ud.host_key.private_openssh(),
            0o600,
        )?;
        self.write(
            "/etc/ssh/ssh_host_ed25519_key.pub",
            &format!("{}\n", ud.host_key.public_key().openssh()),
            0o644,
        )?;

        for user in &ud.users {
            self.create_user(user)?;
        }
        if let Some(rules) = render::sudoers(&ud.users) {
            self.write(render::SUDOERS_PATH, &rules, 0o440)?;
            run(
                self.in_node("visudo")
                    .args(["--check", "--quiet", "--file", render::SUDOERS_PATH]),
                "checking the users' sudo rules",
            )?;
        }
        for file in &ud.files {
            self.write_file(file)?;
        }
        Ok(())
    }

    fn create_user(&mut self, user: &UserSpec) -> Result<(), NodeError> {
        let passwd = self.read_node_file("/etc/passwd")?;
        if passwd_entry(&passwd, &user.name).is_none() {
            let mut cmd = self.in_node("useradd");
            cmd.args(["--create-home", "--user-group", "--shell", &user.shell]);
            if let Some(gecos) = &user.gecos {
                cmd.args(["--comment", gecos]);
            }
            // No password at all ('*'): keys are the only way in (cloud-init's lock_passwd).
            cmd.args(["--password", "*", &user.name]);
            run(&mut cmd, &format!("creating user {}", user.name))?;
            self.log(&format!("created user {}", user.name));
        }
        let passwd = self.read_node_file("/etc/passwd")?;
        let (uid, gid, home) = passwd_entry(&passwd, &user.name).ok_or_else(|| {
            NodeError::user_data(
                format!("users {}", user.name),
                "useradd succeeded but the node's /etc/passwd has no such user",
            )
        })?;
        if user.authorized_keys.is_empty() {
            return Ok(());
        }
        let ssh = format!("{home}/.ssh");
        run(
            self.in_node("install").args([
                "-d",
                "-m",
                "700",
                "-o",
                &uid.to_string(),
                "-g",
                &gid.to_string(),
                &home,
                &ssh,
            ]),
            &format!("making {ssh}"),
        )?;
        let path = format!("{ssh}/authorized_keys");
        self.write(&path, &render::authorized_keys(user), 0o600)?;
        let host = self.node_path(&path);
        chown(&host, Some(uid), Some(gid)).map_err(NodeError::io("chown authorized_keys", host))?;
        self.log(&format!(
            "authorized {} key(s) for {}",
            user.authorized_keys.len(),
            user.name
        ));
        Ok(())
    }

    fn write_file(&mut self, file: &FileSpec) -> Result<(), NodeError> {
        let passwd = self.read_node_file("/etc/passwd")?;
        let group = self.read_node_file("/etc/group")?;
        let uid = passwd_entry(&passwd, &file.owner).map(|(uid, _, _)| uid);
        let gid = group_id(&group, &file.group);
        let (Some(uid), Some(gid)) = (uid, gid) else {
            return Err(NodeError::user_data(
                format!("write_files {}", file.path),
                format!(
                    "owner {}:{} does not exist in the node",
                    file.owner, file.group
                ),
            ));
        };
        self.write(&file.path, &file.content, file.mode)?;
        let host = self.node_path(&file.path);
        chown(&host, Some(uid), Some(gid)).map_err(NodeError::io("chown a written file", &host))?;
        self.log(&format!("wrote {} ({:04o})", file.path, file.mode));
        Ok(())
    }

    fn start_sshd(&mut self) -> Result<(), NodeError> {
        run(
            self.in_node("/usr/sbin/sshd")
                .args(["-t", "-f", "/etc/ssh/sshd_config"]),
            "checking the node's sshd configuration",
        )?;
        let mut cmd = self.in_node("/usr/sbin/sshd");
        cmd.args([
            "-D",
            "-f",
            "/etc/ssh/sshd_config",
            "-E",
            "/var/log/sshd.log",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|e| NodeError::Command {
            what: "starting the node's sshd".into(),
            command: describe(&cmd),
            outcome: format!("could not be started: {e}"),
        })?;
        self.sshd = Some(child);
        self.log(&format!("sshd started on {}:22", self.info.address));
        Ok(())
    }

    /// Starts the brick script in the node, its output into the boot log, and the watcher that
    /// waits for it.
    fn run_brick_script(
        &mut self,
        ud: &NodeUserData,
        input: &BootInput<'_>,
    ) -> Result<(), NodeError> {
        let log_path = self.info.boot_log();
        let open_log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(NodeError::io("opening the boot log", &log_path))
        };
        let mut cmd = self.in_node(&ud.brick.program);
        cmd.args(&ud.brick.args)
            .stdin(Stdio::null())
            .stdout(open_log()?)
            .stderr(open_log()?);
        self.log(&format!("running: {}", describe(&cmd)));
        let script = cmd.spawn().map_err(|e| NodeError::Command {
            what: "running the brick script".into(),
            command: describe(&cmd),
            outcome: format!("could not be started: {e}"),
        })?;
        let watch = Watch {
            script,
            glusterd: ud
                .brick
                .start_glusterd
                .then(|| SocketAddr::from((self.info.address, 24007))),
            ready_timeout: input.ready_timeout,
            marker: input.layout.path(BOOT_FINISHED),
            marker_text: format!("{}\n", self.info.server_id),
            log: log_path.clone(),
        };
        self.watcher = Some(watch_boot(watch, self.boot.clone()));
        Ok(())
    }

    /// Attaches a volume to the running node: a loop device, linked in its
    /// `/dev/disk/by-id` (where a waiting brick script finds it). Attaching it twice is harmless.
    pub fn attach_volume(&mut self, volume_id: &str, backing: &Path) -> Result<(), NodeError> {
        if self.volume_ids().any(|v| v == volume_id) {
            return Ok(());
        }
        let disk = LoopDevice::attach(backing)?;
        let link = self
            .info
            .dir
            .join("by-id")
            .join(virtio_by_id_name(volume_id));
        let _ = fs::remove_file(&link);
        if let Err(e) = symlink(&disk.device, &link) {
            let _ = disk.detach(DETACH_TIMEOUT);
            return Err(NodeError::io("linking a volume by ID", link)(e));
        }
        self.log(&format!(
            "volume {volume_id} attached: {} as /dev/disk/by-id/{}",
            disk.device,
            virtio_by_id_name(volume_id)
        ));
        self.disks.push((disk, Some(volume_id.to_string())));
        self.sync_disks()
    }

    /// Detaches a volume from the running node: its link goes, what the node mounted from it is
    /// unmounted (lazily when busy), and its loop device is released (once nothing uses it).
    pub fn detach_volume(&mut self, volume_id: &str) -> Result<(), NodeError> {
        let Some(index) = self
            .disks
            .iter()
            .position(|(_, id)| id.as_deref() == Some(volume_id))
        else {
            return Err(NodeError::VolumeNotAttached {
                volume_id: volume_id.to_string(),
                server_id: self.info.server_id.clone(),
            });
        };
        let (disk, _) = self.disks.remove(index);
        let link = self
            .info
            .dir
            .join("by-id")
            .join(virtio_by_id_name(volume_id));
        let _ = fs::remove_file(&link);
        let mut problems = match &self.ns {
            Some(ns) => unmount_devices(ns, std::slice::from_ref(&disk)),
            None => Vec::new(),
        };
        if let Err(e) = disk.detach_lazily() {
            problems.push(e.to_string());
        }
        self.log(&format!("volume {volume_id} detached ({})", disk.device));
        self.sync_disks()?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(NodeError::Stop {
                server_id: self.info.server_id.clone(),
                problems,
            })
        }
    }

    /// Brings the snapshot's disks and the node's record up to date.
    fn sync_disks(&mut self) -> Result<(), NodeError> {
        self.info.disks = self
            .disks
            .iter()
            .map(|(d, id)| NodeDisk {
                device: d.device.clone(),
                backing: d.backing.clone(),
                volume_id: id.clone(),
            })
            .collect();
        Record {
            init: self
                .ns
                .as_ref()
                .map(|ns| (ns.init_pid(), ns.mnt_ns().to_string())),
            loops: self.disks.iter().map(|(d, _)| d.clone()).collect(),
        }
        .save(&self.info.dir)
    }

    /// Waits until the node's `port` accepts connections (sshd's must also greet).
    fn wait_ready(&mut self, port: u16, timeout: Duration) -> Result<(), NodeError> {
        let address = SocketAddr::from((self.info.address, port));
        let what = match port {
            22 => format!("sshd on {address}"),
            _ => format!("glusterd on {address}"),
        };
        let start = Instant::now();
        loop {
            let detail = match probe(address, port == 22) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if let Some(sshd) = &mut self.sshd
                && let Ok(Some(status)) = sshd.try_wait()
            {
                let log =
                    fs::read_to_string(self.info.log_dir().join("sshd.log")).unwrap_or_default();
                return Err(NodeError::NotReady {
                    node: self.info.server_id.clone(),
                    what,
                    waited: start.elapsed(),
                    detail: format!("sshd exited ({status}){}", tail(&log)),
                });
            }
            if start.elapsed() > timeout {
                return Err(NodeError::NotReady {
                    node: self.info.server_id.clone(),
                    what,
                    waited: start.elapsed(),
                    detail,
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the node: SIGTERM to its daemons (up to `grace`), its brick and ephemeral mounts
    /// unmounted, its init killed (the kernel ends whatever is left), its loop devices
    /// detached. Its directory (root disk) stays. Errors list what was left behind.
    pub fn stop(mut self, grace: Duration) -> Result<(), NodeError> {
        let mut problems = Vec::new();
        self.boot.stop();
        if let Some(mut ns) = self.ns.take() {
            let left = ns.terminate_daemons(grace);
            if !left.is_empty() {
                self.log(&format!(
                    "still running after SIGTERM and {grace:?} (killed): {left:?}"
                ));
            }
            let disks: Vec<LoopDevice> = self.disks.iter().map(|(d, _)| d.clone()).collect();
            problems.extend(unmount_devices(&ns, &disks));
            problems.extend(ns.kill());
        }
        if let Some(watcher) = self.watcher.take()
            && watcher.join().is_err()
        {
            problems.push("the boot watcher panicked".into());
        }
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            if let Err(e) = sshd.wait() {
                problems.push(format!("reaping sshd's nsenter: {e}"));
            }
        }
        for (disk, _) in self.disks.drain(..) {
            if let Err(e) = disk.detach(DETACH_TIMEOUT) {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            let record = self.info.dir.join(RECORD);
            if let Err(e) = fs::remove_file(&record)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                problems.push(format!("removing {}: {e}", record.display()));
            }
        }
        self.log(if problems.is_empty() {
            "stopped"
        } else {
            "stopped, with problems"
        });
        if problems.is_empty() {
            Ok(())
        } else {
            Err(NodeError::Stop {
                server_id: self.info.server_id.clone(),
                problems,
            })
        }
    }

    fn in_node(&self, program: &str) -> Command {
        let mut cmd = match &self.ns {
            Some(ns) => ns.command(program),
            // Only called once the namespace exists; a command that fails plainly otherwise.
            None => Command::new("false"),
        };
        cmd.env_clear()
            .env("PATH", NODE_PATH)
            .env("LANG", "C.UTF-8")
            .env("HOME", "/root");
        cmd
    }

    fn node_path(&self, path: &str) -> PathBuf {
        match &self.ns {
            Some(ns) => ns.host_path(path),
            None => PathBuf::from("/nonexistent-node").join(path.trim_start_matches('/')),
        }
    }

    fn read_node_file(&self, path: &str) -> Result<String, NodeError> {
        let host = self.node_path(path);
        fs::read_to_string(&host).map_err(NodeError::io(format!("reading the node's {path}"), host))
    }

    /// Writes a file in the node with `mode` from the start (a private key is never readable by
    /// others, not even for a moment), creating its directory.
    fn write(&self, path: &str, content: &str, mode: u32) -> Result<(), NodeError> {
        let host = self.node_path(path);
        if let Some(dir) = host.parent() {
            fs::create_dir_all(dir)
                .map_err(NodeError::io("making a directory in the node", dir))?;
        }
        let _ = fs::remove_file(&host);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&host)
            .map_err(NodeError::io(format!("writing the node's {path}"), &host))?;
        file.write_all(content.as_bytes())
            .and_then(|()| file.set_permissions(fs::Permissions::from_mode(mode)))
            .map_err(NodeError::io(format!("writing the node's {path}"), &host))
    }

    /// Appends to the node's boot log (best effort: a log line is never worth a failed boot).
    fn log(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let path = self.info.log_dir().join("cloud-init-output.log");
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
            for line in text.lines() {
                let _ = writeln!(f, "{line}");
            }
        }
    }
}

/// Unmounts what the node mounted from these loop devices (the brick, the ephemeral disk),
/// deepest first, lazily when busy, so the devices are free once their users are gone.
fn unmount_devices(ns: &Namespace, disks: &[LoopDevice]) -> Vec<String> {
    let devices: Vec<String> = disks.iter().filter_map(|d| d.dev_number().ok()).collect();
    let info = fs::read_to_string(format!("/proc/{}/mountinfo", ns.init_pid())).unwrap_or_default();
    let mut problems = Vec::new();
    for point in mount_points_of(&info, &devices) {
        let ok = output(ns.command("umount").arg(&point), "unmounting")
            .is_ok_and(|o| o.status.success());
        if !ok {
            let lazy = output(
                ns.command("umount").args(["--lazy", &point]),
                "unmounting lazily",
            );
            if !lazy.is_ok_and(|o| o.status.success()) {
                problems.push(format!("could not unmount {point} in the node"));
            }
        }
    }
    problems
}

/// Makes the node's directories and the mount points this machine must have.
fn prepare_directories(layout: &NodeLayout, brick_root: &str) -> Result<(), NodeError> {
    for dir in layout.directories() {
        fs::create_dir_all(&dir).map_err(NodeError::io("making a node directory", &dir))?;
    }
    // /run is a tmpfs and the by-id links are udev's: fresh at every boot.
    for dir in [layout.run(), layout.by_id()] {
        fs::remove_dir_all(&dir).map_err(NodeError::io("clearing a node directory", &dir))?;
        fs::create_dir_all(&dir).map_err(NodeError::io("making a node directory", &dir))?;
    }
    let sshd = layout.run().join("sshd");
    fs::create_dir_all(&sshd).map_err(NodeError::io("making a node directory", &sshd))?;
    let glusterd = layout.path("glusterd");
    for skel in ["groups", "hooks"] {
        let src = Path::new("/var/lib/glusterd").join(skel);
        let dst = glusterd.join(skel);
        if src.is_dir() && !dst.exists() {
            run(
                Command::new("cp").arg("-a").arg(&src).arg(&dst),
                "copying glusterd's packaged groups and hooks",
            )?;
        }
    }
    // Mount points on this machine: udev's directory (absent without udev) and the brick's
    // top-level directory. Both stay, empty, like any mount point.
    for dir in ["/dev/disk/by-id", brick_root] {
        fs::create_dir_all(dir).map_err(NodeError::io("making a mount point", dir))?;
    }
    Ok(())
}

/// The mount points in `mountinfo` whose device (`major:minor`) is one of `devices`, deepest
/// first.
pub fn mount_points_of(mountinfo: &str, devices: &[String]) -> Vec<String> {
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let dev = fields.nth(2)?;
            let point = fields.nth(1)?;
            devices
                .iter()
                .any(|d| d == dev)
                .then(|| unescape_mount_point(point))
        })
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    points
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mount_point(point: &str) -> String {
    let bytes = point.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match code {
            Some(code) => {
                out.push(code);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The UID, GID and home of `name` in a passwd file.
pub fn passwd_entry(passwd: &str, name: &str) -> Option<(u32, u32, String)> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[0] == name)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?, f[5].to_string())))
            .flatten()
    })
}

/// The GID of `name` in a group file.
pub fn group_id(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

/// Whether the brick device the user-data names is one the server has.
pub fn check_brick_device(spec: &NodeSpec, ud: &NodeUserData) -> Result<(), NodeError> {
    // A volume may be attached after the server is up (the script waits for it); an ephemeral
    // disk comes with the flavor or never.
    match &ud.brick.device {
        BrickDevice::Ephemeral if spec.ephemeral_bytes.is_none() => Err(NodeError::user_data(
            "runcmd brick script --ephemeral",
            format!(
                "server {} has no ephemeral disk (its flavor has none)",
                spec.server_id
            ),
        )),
        _ => Ok(()),
    }
}

/// The address's ports a node needs must be free on this machine.
pub fn check_ports_free(address: Ipv4Addr) -> Result<(), NodeError> {
    for port in [22, 24007] {
        if let Err(e) = std::net::TcpListener::bind((address, port)) {
            return Err(NodeError::AddressInUse {
                address,
                reason: format!("port {port} cannot be bound ({e}); something else listens there"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_of_the_node_disks_deepest_first() {
        let info = "\
36 35 254:0 / / rw - ext4 /dev/vda rw
70 43 7:3 / /export/vol rw,noatime - xfs /dev/loop3 rw
71 70 7:3 /brick /export/vol/sub\\040dir rw - xfs /dev/loop3 rw
72 43 7:4 / /mnt rw - ext4 /dev/loop4 rw
73 43 7:5 / /other rw - ext4 /dev/loop5 rw
";
        assert_eq!(
            mount_points_of(info, &["7:3".into(), "7:4".into()]),
            ["/export/vol/sub dir", "/export/vol", "/mnt"]
        );
        assert!(mount_points_of(info, &[]).is_empty());
    }

    #[test]
    fn passwd_and_group_lookups() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ngluster-operator:x:1001:1002:gc:/home/gluster-operator:/bin/sh\n";
        assert_eq!(
            passwd_entry(passwd, "gluster-operator"),
            Some((1001, 1002, "/home/gluster-operator".into()))
        );
        assert_eq!(passwd_entry(passwd, "gluster"), None);
        assert_eq!(group_id("root:x:0:\nstaff:x:50:a,b\n", "staff"), Some(50));
        assert_eq!(group_id("root:x:0:\n", "nope"), None);
    }
}

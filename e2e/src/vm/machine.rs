//! One VM: the base image's qcow2 overlay, a NoCloud seed with the user-data unchanged, the
//! brick disk as virtio-blk whose serial is the volume ID's prefix (so
//! `/dev/disk/by-id/virtio-<prefix>` exists as on OpenStack/KVM), a TAP in the namespace.
//! The serial console goes to `console-<boot>.log`; the image's report (cloud-init status,
//! warnings, brick log; `hack/vm-image/build.sh`) to `report-<boot>.log`. Stopped by PID on
//! drop.

use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::image::BaseImage;
use super::net::{Netns, PREFIX};
use super::{VmError, describe, output, run, write};

/// virtio-blk serials hold 20 bytes; a longer one is cut to this by the guest's view.
pub const VIRTIO_SERIAL_LEN: usize = 20;

/// How long a kernel may take to boot to its root-mount panic under KVM in [`Accel::detect`].
pub const KVM_PROBE_LIMIT: Duration = Duration::from_secs(30);

/// How qemu runs guests on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// qemu's software emulation (slower).
    Tcg,
}

impl Accel {
    /// KVM when a guest really runs under it here, else TCG. qemu opening /dev/kvm is not
    /// enough (on a nested host it can, then stop the guest with "KVM internal error"): the
    /// probe boots `kernel` with no root disk under KVM and wants it to reach its "unable to
    /// mount root" panic (qemu then exits, `-no-reboot`) within [`KVM_PROBE_LIMIT`]. `dir`
    /// receives the probe's console (`kvm-probe.log`).
    pub fn detect(kernel: &Path, dir: &Path) -> Self {
        let log = dir.join("kvm-probe.log");
        let probe = Command::new("qemu-system-x86_64")
            .args(["-accel", "kvm", "-cpu", "host", "-m", "256"])
            .args([
                "-nodefaults",
                "-no-user-config",
                "-display",
                "none",
                "-no-reboot",
            ])
            .arg("-kernel")
            .arg(kernel)
            .args(["-append", "console=ttyS0 panic=-1"])
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = probe else {
            return Self::Tcg;
        };
        let deadline = Instant::now() + KVM_PROBE_LIMIT;
        let exited = loop {
            match child.try_wait() {
                Ok(Some(_)) => break true,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(250)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
            }
        };
        let console = std::fs::read_to_string(&log).unwrap_or_default();
        if exited && console.contains("Unable to mount root") {
            Self::Kvm
        } else {
            Self::Tcg
        }
    }

    fn qemu_args(self) -> [&'static str; 4] {
        match self {
            Self::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Self::Tcg => ["-accel", "tcg", "-cpu", "max"],
        }
    }
}

/// How [`Vm::power_off`] stopped the VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerOff {
    /// The guest shut down on the ACPI power button.
    Clean,
    /// The guest did not react in time; qemu quit (an unclean stop).
    PlugPulled,
}

/// What a VM is.
#[derive(Clone, Debug)]
pub struct VmSpec {
    /// Its name (the qemu name, the TAP's suffix, its directory's name).
    pub name: String,
    /// The NoCloud `instance-id` (the server ID on a cloud).
    pub instance_id: String,
    /// The NoCloud `local-hostname`.
    pub hostname: String,
    /// The user-data, unchanged.
    pub user_data: String,
    /// Its address in the namespace.
    pub address: Ipv4Addr,
    /// Its brick disk: the file (created sparse when absent, kept across boots) and the
    /// volume ID whose first 20 characters are the virtio serial.
    pub volume: Option<(PathBuf, String)>,
    /// The brick disk's size in bytes when it is created.
    pub volume_size: u64,
    /// Memory in MiB.
    pub memory_mib: u32,
}

/// A VM and its files; at most one qemu runs for it at a time.
#[derive(Debug)]
pub struct Vm {
    spec: VmSpec,
    dir: PathBuf,
    image: BaseImage,
    accel: Accel,
    tap: String,
    qemu: Option<Child>,
    boots: u32,
}

impl Vm {
    /// Prepares the VM's files in `dir` (overlay, seed, brick disk) and its TAP in `ns`.
    pub fn create(
        spec: VmSpec,
        dir: &Path,
        image: &BaseImage,
        accel: Accel,
        ns: &mut Netns,
    ) -> Result<Self, VmError> {
        std::fs::create_dir_all(dir).map_err(|source| VmError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let overlay = dir.join("disk.qcow2");
        run(Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(image.qcow2())
            .arg(&overlay))?;
        let seed = dir.join("seed");
        std::fs::create_dir_all(&seed).map_err(|source| VmError::Io {
            path: seed.display().to_string(),
            source,
        })?;
        write(&seed.join("user-data"), spec.user_data.as_bytes())?;
        write(
            &seed.join("meta-data"),
            format!(
                "instance-id: {}\nlocal-hostname: {}\n",
                spec.instance_id, spec.hostname
            )
            .as_bytes(),
        )?;
        write(
            &seed.join("network-config"),
            network_config(&mac(spec.address), spec.address).as_bytes(),
        )?;
        run(Command::new("genisoimage")
            .args(["-quiet", "-output"])
            .arg(dir.join("seed.iso"))
            .args(["-volid", "cidata", "-joliet", "-rock"])
            .arg(seed.join("user-data"))
            .arg(seed.join("meta-data"))
            .arg(seed.join("network-config")))?;
        if let Some((disk, _)) = &spec.volume
            && !disk.exists()
        {
            let f = std::fs::File::create(disk).map_err(|source| VmError::Io {
                path: disk.display().to_string(),
                source,
            })?;
            f.set_len(spec.volume_size).map_err(|source| VmError::Io {
                path: disk.display().to_string(),
                source,
            })?;
        }
        let tap = format!("tap-{}", spec.name);
        ns.add_tap(&tap)?;
        Ok(Self {
            spec,
            dir: dir.to_path_buf(),
            image: image.clone(),
            accel,
            tap,
            qemu: None,
            boots: 0,
        })
    }

    /// The spec.
    pub fn spec(&self) -> &VmSpec {
        &self.spec
    }

    /// The accelerator its qemu uses.
    pub fn accel(&self) -> Accel {
        self.accel
    }

    /// The number of boots so far (1 after the first [`Vm::boot`]).
    pub fn boots(&self) -> u32 {
        self.boots
    }

    /// This boot's console report (see the module doc).
    pub fn report_path(&self) -> PathBuf {
        self.dir.join(format!("report-{}.log", self.boots))
    }

    /// This boot's serial console log.
    pub fn console_path(&self) -> PathBuf {
        self.dir.join(format!("console-{}.log", self.boots))
    }

    /// Starts qemu in `ns` (a power-on: the same disks, a new boot).
    pub fn boot(&mut self, ns: &Netns) -> Result<(), VmError> {
        if self.qemu.is_some() {
            return Err(VmError::Image(format!(
                "{} is already running",
                self.spec.name
            )));
        }
        self.boots += 1;
        let mut cmd = ns.command("qemu-system-x86_64");
        cmd.args(["-name", &self.spec.name, "-machine", "q35"])
            .args(self.accel.qemu_args())
            .args(["-smp", "1", "-m", &self.spec.memory_mib.to_string()])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-kernel")
            .arg(self.image.kernel())
            .arg("-initrd")
            .arg(self.image.initrd())
            .args(["-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0"])
            // Every disk by -device, in this order: the root is vda (the image's fstab and
            // the kernel's root=), the seed vdb, the volume vdc (found by serial anyway).
            .arg("-drive")
            .arg(format!(
                "file={},if=none,id=root,format=qcow2",
                self.dir.join("disk.qcow2").display()
            ))
            .args(["-device", "virtio-blk-pci,drive=root"])
            .arg("-drive")
            .arg(format!(
                "file={},if=none,id=seed,format=raw,readonly=on",
                self.dir.join("seed.iso").display()
            ))
            .args(["-device", "virtio-blk-pci,drive=seed"]);
        if let Some((disk, id)) = &self.spec.volume {
            let serial: String = id.chars().take(VIRTIO_SERIAL_LEN).collect();
            cmd.arg("-drive")
                .arg(format!(
                    "file={},if=none,id=volume,format=raw",
                    disk.display()
                ))
                .arg("-device")
                .arg(format!("virtio-blk-pci,drive=volume,serial={serial}"));
        }
        cmd.arg("-netdev")
            .arg(format!(
                "tap,id=n0,ifname={},script=no,downscript=no",
                self.tap
            ))
            .arg("-device")
            .arg(format!(
                "virtio-net-pci,netdev=n0,mac={}",
                mac(self.spec.address)
            ))
            .args(["-device", "virtio-rng-pci"])
            .arg("-serial")
            .arg(format!("file:{}", self.console_path().display()))
            .arg("-serial")
            .arg(format!("file:{}", self.report_path().display()))
            .arg("-monitor")
            .arg(format!(
                "unix:{},server=on,wait=off",
                self.monitor_path().display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let log = self.dir.join(format!("qemu-{}.log", self.boots));
        let err = std::fs::File::create(&log).map_err(|source| VmError::Io {
            path: log.display().to_string(),
            source,
        })?;
        cmd.stderr(err);
        let child = cmd.spawn().map_err(|e| VmError::Command {
            what: describe(&cmd),
            detail: format!("cannot start: {e}"),
        })?;
        self.qemu = Some(child);
        Ok(())
    }

    /// Waits until this boot's report is complete (cloud-init done) and returns it; fails
    /// when qemu exits or after `limit`.
    pub fn wait_report(&mut self, limit: Duration) -> Result<String, VmError> {
        let deadline = Instant::now() + limit;
        loop {
            let report = std::fs::read_to_string(self.report_path()).unwrap_or_default();
            if report.contains("== end") {
                return Ok(report);
            }
            if let Some(child) = &mut self.qemu
                && let Ok(Some(status)) = child.try_wait()
            {
                self.qemu = None;
                return Err(VmError::Image(format!(
                    "{}: qemu exited ({status}) before cloud-init finished; see {} and {}",
                    self.spec.name,
                    self.dir.join(format!("qemu-{}.log", self.boots)).display(),
                    self.console_path().display()
                )));
            }
            if Instant::now() > deadline {
                return Err(VmError::Timeout(format!(
                    "{}: no complete report after {} s; console: {}",
                    self.spec.name,
                    limit.as_secs(),
                    self.console_path().display()
                )));
            }
            thread::sleep(Duration::from_secs(2));
        }
    }

    /// Powers the VM off: the ACPI power button through qemu's monitor, and when the guest has
    /// not stopped within `grace`, the plug pulled (SIGTERM to qemu, which flushes its images:
    /// disks keep what the guest wrote, as after a host crash). Says which happened.
    pub fn power_off(&mut self, grace: Duration) -> Result<PowerOff, VmError> {
        let Some(mut child) = self.qemu.take() else {
            return Ok(PowerOff::Clean);
        };
        // The monitor runs a command it has read before the client goes: wait for its answer.
        let sent = UnixStream::connect(self.monitor_path()).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"system_powerdown\n")?;
            let mut answer = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut answer);
            let _ = std::io::Read::read(&mut s, &mut answer);
            Ok(())
        });
        let mut how = PowerOff::Clean;
        let deadline = Instant::now() + grace;
        let hard_deadline = deadline + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(how);
            }
            if (sent.is_err() || Instant::now() > deadline) && how == PowerOff::Clean {
                how = PowerOff::PlugPulled;
                // SIGTERM: qemu stops the guest and flushes its disk images before exiting.
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
            }
            if Instant::now() > hard_deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(VmError::Timeout(format!(
                    "{}: qemu did not exit after the power button and `quit`; killed",
                    self.spec.name
                )));
            }
            thread::sleep(Duration::from_millis(500));
        }
    }

    fn monitor_path(&self) -> PathBuf {
        self.dir.join("monitor.sock")
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(child) = &mut self.qemu {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The VM's MAC, derived from its address (locally administered, qemu's OUI).
pub fn mac(address: Ipv4Addr) -> String {
    let o = address.octets();
    format!("52:54:00:{:02x}:{:02x}:{:02x}", o[1], o[2], o[3])
}

/// NoCloud network-config (v1): a static address on the NIC with `mac`, no gateway (the
/// namespace has no route out).
pub fn network_config(mac: &str, address: Ipv4Addr) -> String {
    format!(
        "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: \"{mac}\"\n    subnets:\n      - type: static\n        address: {address}/{PREFIX}\n"
    )
}

/// Runs `argv` over SSH in `ns` as `user`@`address` with `key` and only the pinned host key of
/// `known_hosts`; returns the command's output (exit status and both streams).
pub fn ssh(
    ns: &Netns,
    key: &Path,
    known_hosts: &Path,
    user: &str,
    address: Ipv4Addr,
    remote: &str,
) -> Result<std::process::Output, VmError> {
    output(
        ns.command("ssh")
            .arg("-i")
            .arg(key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@{address}"))
            .arg(remote),
    )
}

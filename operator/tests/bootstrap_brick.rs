//! The brick script, really run as root against loop devices (sparse files + `losetup`), with the
//! by-id links, fstab, `/mnt` and mount path in a scratch tree: formatting, refusing to format,
//! mounting, fstab, idempotence, the ephemeral disk, missing devices. Plus `shellcheck`.
//!
//! Every test owns a [`Scratch`]; its `Drop` unmounts whatever is mounted below the scratch root
//! and detaches its loop devices, also when the test fails.

mod bootstrap_support;

use std::cmp::Reverse;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use bootstrap_support::{require_root, require_tool, run, run_ok};
use gluster_operator::bootstrap::{BRICK_SCRIPT, BrickDevice, BrickScriptParams};

const VOLUME_ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
/// What virtio-blk exposes: the first 20 characters of the volume ID.
const VIRTIO_LINK: &str = "virtio-0f1e2d3c-4b5a-6978-8";
const FSTAB_BEFORE: &str =
    "# scratch fstab\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n";
/// Loop device size: above mkfs.xfs's 300 MiB minimum; sparse, so it costs no disk.
const DISK_MIB: u64 = 512;

/// A scratch root with its own by-id directory, fstab, /mnt and log, and the loop devices of
/// one test. Dropping it unmounts everything below the root and detaches the loop devices.
struct Scratch {
    root: PathBuf,
    script: PathBuf,
    loops: Vec<String>,
    // Dropped (removed) after `Drop::drop` has unmounted and detached everything.
    _dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        require_root();
        for tool in [
            "losetup", "mkfs.xfs", "xfs_info", "blkid", "wipefs", "findmnt", "mount", "umount",
        ] {
            require_tool(tool);
        }
        let dir = tempfile::Builder::new()
            .prefix("brick-test-")
            .tempdir_in("/tmp")
            .expect("scratch dir");
        let root = dir.path().canonicalize().expect("canonical scratch dir");
        for sub in ["dev/disk/by-id", "etc", "var/log", "mnt"] {
            fs::create_dir_all(root.join(sub)).expect("scratch tree");
        }
        fs::write(root.join("etc/fstab"), FSTAB_BEFORE).expect("fstab");
        let script = root.join("gluster-brick-setup");
        fs::write(&script, BRICK_SCRIPT).expect("script");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        Self {
            root,
            script,
            loops: Vec::new(),
            _dir: dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn mount_path(&self) -> PathBuf {
        self.path("export/vol0")
    }

    /// A fresh blank loop device backed by a sparse file.
    fn loop_device(&mut self) -> String {
        let image = self.path(&format!("disk{}.img", self.loops.len()));
        fs::File::create(&image)
            .and_then(|f| f.set_len(DISK_MIB << 20))
            .expect("sparse image");
        let dev = run_ok(
            Command::new("losetup")
                .args(["--find", "--show"])
                .arg(&image),
        )
        .trim()
        .to_string();
        assert!(dev.starts_with("/dev/loop"), "losetup gave {dev:?}");
        self.loops.push(dev.clone());
        dev
    }

    /// Simulates udev's /dev/disk/by-id link.
    fn link(&self, name: &str, dev: &str) {
        symlink(dev, self.path("dev/disk/by-id").join(name)).expect("by-id link");
    }

    fn params(&self, device: BrickDevice) -> BrickScriptParams {
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        BrickScriptParams {
            device,
            mount_path: s(self.mount_path()),
            by_id_dir: s(self.path("dev/disk/by-id")),
            fstab: s(self.path("etc/fstab")),
            ephemeral_mount: s(self.path("mnt")),
            log_file: s(self.path("var/log/gluster-brick-setup.log")),
            wait_seconds: 2,
            start_glusterd: false,
            glusterd_uuid: None,
            glusterd_dir: s(self.path("var/lib/glusterd")),
            peers: Vec::new(),
        }
    }

    fn volume_params(&self) -> BrickScriptParams {
        self.params(BrickDevice::Volume {
            id: VOLUME_ID.into(),
        })
    }

    fn run_script(&self, params: &BrickScriptParams) -> Output {
        run(Command::new("sh").arg(&self.script).args(params.args()))
    }

    fn fstab(&self) -> String {
        fs::read_to_string(self.path("etc/fstab")).expect("read fstab")
    }

    /// Mounts `dev` at `dir` (test set-up, not the script).
    fn mount(&self, dev: &str, dir: &Path) {
        fs::create_dir_all(dir).expect("mount point");
        run_ok(Command::new("mount").arg(dev).arg(dir));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| Path::new(p).starts_with(&self.root))
            .collect();
        points.sort_by_key(|p| Reverse(p.len()));
        for point in points {
            let ok = Command::new("umount")
                .arg(point)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(point).status();
            }
        }
        for dev in self.loops.iter().rev() {
            let _ = Command::new("losetup").arg("-d").arg(dev).status();
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "brick script failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

fn assert_failure(out: &Output, code: i32, message: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}:\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    assert!(
        stderr(out).contains(message),
        "expected `{message}` in stderr:\n{}",
        stderr(out)
    );
}

/// A `blkid -p` (low-level probe, no cache) tag of a device; empty when absent.
fn blkid(dev: &str, tag: &str) -> String {
    let out = run(Command::new("blkid").args(["-p", "-o", "value", "-s", tag, dev]));
    stdout(&out).trim().to_string()
}

/// The source device mounted at `dir`, if any.
fn mounted_source(dir: &Path) -> Option<String> {
    let out = run(Command::new("findmnt")
        .args(["-n", "-o", "SOURCE", "--mountpoint"])
        .arg(dir));
    let src = stdout(&out).trim().to_string();
    (!src.is_empty()).then_some(src)
}

/// The inode size `xfs_info` reports for the filesystem mounted at `dir`.
fn xfs_isize(dir: &Path) -> u32 {
    let info = run_ok(Command::new("xfs_info").arg(dir));
    let after = info
        .split("isize=")
        .nth(1)
        .unwrap_or_else(|| panic!("no isize in xfs_info output:\n{info}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("bad isize in:\n{info}"))
}

/// The one fstab line the script adds, checked field by field.
fn assert_brick_fstab(fstab: &str, uuid: &str, mount: &Path) {
    assert!(
        fstab.starts_with(FSTAB_BEFORE),
        "other fstab lines are kept:\n{fstab}"
    );
    let lines: Vec<&str> = fstab
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(mount.to_str().expect("utf-8 path")))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one fstab line for the brick:\n{fstab}"
    );
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        fields[0],
        format!("UUID={uuid}"),
        "fstab names the brick by UUID"
    );
    assert_eq!(fields[2], "xfs");
    assert!(
        fields[3].split(',').any(|o| o == "nofail"),
        "nofail in {}",
        fields[3]
    );
    assert_eq!(&fields[4..], ["0", "0"]);
}

#[test]
fn the_script_passes_shellcheck() {
    require_tool("shellcheck");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gluster-brick-setup");
    fs::write(&path, BRICK_SCRIPT).expect("write script");
    let out = run(Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style", "--format=gcc"])
        .arg(&path));
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "shellcheck findings:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    // And dash, Debian's /bin/sh, parses it.
    run_ok(Command::new("sh").arg("-n").arg(&path));
}

#[test]
fn blank_volume_is_formatted_mounted_and_a_second_run_changes_nothing() {
    let mut s = Scratch::new();
    let dev = s.loop_device();
    s.link(VIRTIO_LINK, &dev);
    let params = s.volume_params();

    let first = s.run_script(&params);
    assert_success(&first);
    assert!(
        stdout(&first).contains("running: mkfs.xfs -i size=512"),
        "{}",
        stdout(&first)
    );
    assert_eq!(blkid(&dev, "TYPE"), "xfs");
    assert_eq!(
        mounted_source(&s.mount_path()).as_deref(),
        Some(dev.as_str())
    );
    assert_eq!(xfs_isize(&s.mount_path()), 512);
    let uuid = blkid(&dev, "UUID");
    let fstab = s.fstab();
    assert_brick_fstab(&fstab, &uuid, &s.mount_path());
    assert!(
        s.mount_path().join("brick").is_dir(),
        "the brick is a subdirectory of the mount"
    );
    let log = fs::read_to_string(&params.log_file).expect("log file");
    assert!(
        log.contains("mkfs.xfs") && log.contains("changed=yes"),
        "log:\n{log}"
    );

    // Data written to the brick; then the second run.
    fs::write(s.mount_path().join("brick/sentinel"), "kept").expect("write to the brick");
    let second = s.run_script(&params);
    assert_success(&second);
    assert!(
        !stdout(&second).contains("mkfs"),
        "no mkfs on a rerun:\n{}",
        stdout(&second)
    );
    assert!(
        stdout(&second).contains("changed=no"),
        "{}",
        stdout(&second)
    );
    assert_eq!(s.fstab(), fstab, "fstab unchanged by the second run");
    assert_eq!(blkid(&dev, "UUID"), uuid, "same filesystem");
    assert_eq!(
        fs::read_to_string(s.mount_path().join("brick/sentinel")).expect("sentinel"),
        "kept"
    );
    assert_eq!(
        mounted_source(&s.mount_path()).as_deref(),
        Some(dev.as_str())
    );
    let mounts = fs::read_to_string("/proc/self/mounts").expect("mounts");
    let at_mount = mounts
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == s.mount_path().to_str())
        .count();
    assert_eq!(at_mount, 1, "not mounted twice");
}

#[test]
fn existing_xfs_is_mounted_as_is_and_keeps_its_files() {
    let mut s = Scratch::new();
    let dev = s.loop_device();
    // A reattached brick: XFS with another inode size, so a reformat would show.
    run_ok(
        Command::new("mkfs.xfs")
            .args(["-q", "-i", "size=1024"])
            .arg(&dev),
    );
    let uuid = blkid(&dev, "UUID");
    let old = s.path("old");
    s.mount(&dev, &old);
    fs::create_dir(old.join("brick")).expect("brick dir");
    fs::write(old.join("brick/data.txt"), "replicated data").expect("data");
    run_ok(Command::new("umount").arg(&old));
    // virtio-scsi names the device by the whole ID.
    s.link(&format!("scsi-0QEMU_QEMU_HARDDISK_{VOLUME_ID}"), &dev);

    let out = s.run_script(&s.volume_params());
    assert_success(&out);
    assert!(
        stdout(&out).contains("already holds XFS: mounting it as is"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("mkfs"), "{}", stdout(&out));
    assert_eq!(blkid(&dev, "UUID"), uuid, "not reformatted");
    assert_eq!(xfs_isize(&s.mount_path()), 1024, "not reformatted");
    assert_eq!(
        fs::read_to_string(s.mount_path().join("brick/data.txt")).expect("data survives"),
        "replicated data"
    );
    assert_brick_fstab(&s.fstab(), &uuid, &s.mount_path());
}

#[test]
fn the_glusterd_identity_is_written_once_with_an_operating_version_and_never_replaced() {
    require_tool("glusterd");
    let mut s = Scratch::new();
    let dev = s.loop_device();
    s.link(VIRTIO_LINK, &dev);
    let uuid = "6f1c2a57-3f0e-5b8e-9a51-0c5d1e2f3a4b";
    let mut params = s.volume_params();
    params.glusterd_uuid = Some(uuid.into());
    let info = s.path("var/lib/glusterd/glusterd.info");
    // The installed glusterd's major version × 10000 (glusterd's op-version scheme since 4.0).
    let version = run_ok(Command::new("glusterd").arg("--version"));
    let major: u32 = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .expect("glusterd --version names a version");
    let written = format!("UUID={uuid}\noperating-version={}\n", major * 10000);

    assert_success(&s.run_script(&params));
    assert_eq!(fs::read_to_string(&info).expect("glusterd.info"), written);
    // A second run keeps it.
    let out = s.run_script(&params);
    assert_success(&out);
    assert!(stdout(&out).contains(&format!("glusterd identity {uuid} kept")));
    assert_eq!(fs::read_to_string(&info).expect("glusterd.info"), written);
    // Another UUID in the file is never replaced.
    let other = "0a1b2c3d-0000-4000-8000-000000000001";
    fs::write(&info, format!("UUID={other}\noperating-version=100000\n")).expect("info");
    let out = s.run_script(&params);
    assert_success(&out);
    assert!(stdout(&out).contains(&format!("holds UUID {other}, not {uuid}")));
    assert!(
        fs::read_to_string(&info)
            .expect("info")
            .starts_with(&format!("UUID={other}\n"))
    );
    // A file with an operating-version but no UUID (a glusterd that ran before) gains the UUID
    // and keeps its operating-version.
    fs::write(&info, "operating-version=90000\n").expect("info");
    assert_success(&s.run_script(&params));
    assert_eq!(
        fs::read_to_string(&info).expect("info"),
        format!("UUID={uuid}\noperating-version=90000\n")
    );
    // A returning node: its peers are written with a new identity (not over an old one).
    fs::remove_file(&info).expect("fresh root disk");
    let peer = "0a1b2c3d-0000-4000-8000-000000000002";
    params.peers = vec![
        (peer.into(), "10.0.0.7".into()),
        (uuid.into(), "10.0.0.8".into()),
    ];
    assert_success(&s.run_script(&params));
    assert_eq!(
        fs::read_to_string(s.path(&format!("var/lib/glusterd/peers/{peer}"))).expect("peer"),
        format!("uuid={peer}\nstate=3\nhostname1=10.0.0.7\n")
    );
    assert!(
        !s.path(&format!("var/lib/glusterd/peers/{uuid}")).exists(),
        "never itself"
    );
    params.peers = vec![(peer.into(), "10.0.0.7; reboot".into())];
    assert_failure(&s.run_script(&params), 2, "--peer address may only contain");
    params.peers.clear();
    // A malformed UUID is a usage error.
    params.glusterd_uuid = Some("X; reboot".into());
    assert_failure(
        &s.run_script(&params),
        2,
        "--glusterd-uuid must be a lowercase UUID",
    );
}

#[test]
fn a_foreign_filesystem_or_partition_table_is_never_formatted() {
    require_tool("mkfs.ext4");
    require_tool("sfdisk");
    let mut s = Scratch::new();
    let ext4 = s.loop_device();
    run_ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&ext4));
    let ext4_uuid = blkid(&ext4, "UUID");
    let parted = s.loop_device();
    let mut sfdisk = Command::new("sh");
    sfdisk
        .arg("-c")
        .arg(format!("printf 'label: dos\\n,,L\\n' | sfdisk -q {parted}"));
    run_ok(&mut sfdisk);
    let ptuuid = blkid(&parted, "PTUUID");
    assert_eq!(blkid(&parted, "PTTYPE"), "dos");

    for (dev, what) in [
        (&ext4, "a ext4 filesystem"),
        (&parted, "a dos partition table"),
    ] {
        let link = s.path("dev/disk/by-id").join(VIRTIO_LINK);
        let _ = fs::remove_file(&link);
        s.link(VIRTIO_LINK, dev);
        let out = s.run_script(&s.volume_params());
        assert_failure(
            &out,
            1,
            &format!("refusing to format {dev}: it already carries {what}"),
        );
        assert_eq!(s.fstab(), FSTAB_BEFORE, "fstab untouched");
        assert_eq!(mounted_source(&s.mount_path()), None, "nothing mounted");
    }
    assert_eq!(blkid(&ext4, "TYPE"), "ext4");
    assert_eq!(
        blkid(&ext4, "UUID"),
        ext4_uuid,
        "the ext4 filesystem is intact"
    );
    assert_eq!(blkid(&parted, "PTTYPE"), "dos");
    assert_eq!(
        blkid(&parted, "PTUUID"),
        ptuuid,
        "the partition table is intact"
    );
}

#[test]
fn a_missing_device_fails_clearly() {
    let s = Scratch::new();
    let out = s.run_script(&s.volume_params());
    assert_failure(&out, 1, "brick device not found: no link for Cinder volume");
    let err = stderr(&out);
    assert!(
        err.contains(VOLUME_ID) && err.contains(VIRTIO_LINK),
        "{err}"
    );
    assert_eq!(s.fstab(), FSTAB_BEFORE);
    assert_eq!(mounted_source(&s.mount_path()), None);
    let log = fs::read_to_string(s.path("var/log/gluster-brick-setup.log")).expect("log");
    assert!(
        log.contains("ERROR: brick device not found"),
        "the failure is logged too:\n{log}"
    );
}

#[test]
fn waits_for_a_device_that_appears_late() {
    let mut s = Scratch::new();
    let dev = s.loop_device();
    let link = s.path("dev/disk/by-id").join(VIRTIO_LINK);
    let mut params = s.volume_params();
    params.wait_seconds = 120;
    let attach = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        symlink(&dev, link).expect("late link");
        dev
    });
    let out = s.run_script(&params);
    let dev = attach.join().expect("attach thread");
    assert_success(&out);
    assert!(
        stdout(&out).contains("waiting up to 120s for Cinder volume"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        mounted_source(&s.mount_path()).as_deref(),
        Some(dev.as_str())
    );
}

/// What cloud-init writes for ephemeral0 (cc_mounts), pointing at `dev` and the scratch /mnt.
fn cloud_init_mnt_line(dev: &str, mnt: &Path) -> String {
    format!(
        "{dev}\t{}\tauto\tdefaults,nofail,x-systemd.requires=cloud-init.service,_netdev,comment=cloudconfig\t0\t2\n",
        mnt.display()
    )
}

/// A loop device set up as Nova and cloud-init leave the ephemeral disk: an empty ext4
/// filesystem labelled ephemeral0, in fstab at /mnt (mounted there when `mounted`).
fn ephemeral_disk(s: &mut Scratch, mounted: bool) -> String {
    require_tool("mkfs.ext4");
    let dev = s.loop_device();
    run_ok(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "ephemeral0"])
            .arg(&dev),
    );
    let mut fstab = s.fstab();
    fstab.push_str(&cloud_init_mnt_line(&dev, &s.path("mnt")));
    fs::write(s.path("etc/fstab"), fstab).expect("fstab");
    if mounted {
        s.mount(&dev, &s.path("mnt"));
    }
    dev
}

#[test]
fn the_ephemeral_disk_is_taken_back_from_mnt() {
    let mut s = Scratch::new();
    let dev = ephemeral_disk(&mut s, true);
    let params = s.params(BrickDevice::Ephemeral);

    let first = s.run_script(&params);
    assert_success(&first);
    assert_eq!(mounted_source(&s.path("mnt")), None, "/mnt is unmounted");
    assert_eq!(
        mounted_source(&s.mount_path()).as_deref(),
        Some(dev.as_str())
    );
    assert_eq!(blkid(&dev, "TYPE"), "xfs");
    assert_eq!(xfs_isize(&s.mount_path()), 512);
    let uuid = blkid(&dev, "UUID");
    let fstab = s.fstab();
    assert_brick_fstab(&fstab, &uuid, &s.mount_path());
    assert!(
        !fstab.contains(&format!("\t{}\t", s.path("mnt").display())),
        "cloud-init's /mnt line is dropped:\n{fstab}"
    );
    assert!(s.mount_path().join("brick").is_dir());

    fs::write(s.mount_path().join("brick/sentinel"), "kept").expect("write");
    let second = s.run_script(&params);
    assert_success(&second);
    assert!(
        stdout(&second).contains("ephemeral disk already taken"),
        "{}",
        stdout(&second)
    );
    assert!(
        stdout(&second).contains("changed=no"),
        "{}",
        stdout(&second)
    );
    assert!(!stdout(&second).contains("mkfs"), "{}", stdout(&second));
    assert_eq!(s.fstab(), fstab);
    assert_eq!(blkid(&dev, "UUID"), uuid);
    assert!(s.mount_path().join("brick/sentinel").is_file());
}

#[test]
fn an_interrupted_ephemeral_run_finds_the_disk_through_fstab() {
    // Unmounted from /mnt, but cloud-init's fstab line is still there.
    let mut s = Scratch::new();
    let dev = ephemeral_disk(&mut s, false);
    let out = s.run_script(&s.params(BrickDevice::Ephemeral));
    assert_success(&out);
    assert_eq!(
        mounted_source(&s.mount_path()).as_deref(),
        Some(dev.as_str())
    );
    assert_eq!(mounted_source(&s.path("mnt")), None);
    assert_brick_fstab(&s.fstab(), &blkid(&dev, "UUID"), &s.mount_path());
}

#[test]
fn an_ephemeral_disk_holding_files_is_refused() {
    let mut s = Scratch::new();
    let dev = ephemeral_disk(&mut s, true);
    fs::write(s.path("mnt/notes.txt"), "someone's data").expect("write");
    let fstab = s.fstab();
    let out = s.run_script(&s.params(BrickDevice::Ephemeral));
    assert_failure(&out, 1, "refusing to take the ephemeral disk");
    assert!(stderr(&out).contains("holds files"), "{}", stderr(&out));
    assert_eq!(
        mounted_source(&s.path("mnt")).as_deref(),
        Some(dev.as_str()),
        "left mounted"
    );
    assert_eq!(
        fs::read_to_string(s.path("mnt/notes.txt")).expect("file intact"),
        "someone's data"
    );
    assert_eq!(s.fstab(), fstab);
    assert_eq!(blkid(&dev, "TYPE"), "ext4");
}

#[test]
fn no_ephemeral_disk_fails_clearly() {
    let s = Scratch::new();
    let out = s.run_script(&s.params(BrickDevice::Ephemeral));
    assert_failure(&out, 1, "brick device not found: nothing is mounted at");
    assert_eq!(s.fstab(), FSTAB_BEFORE);
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    let s = Scratch::new();
    let script = |args: &[&str]| run(Command::new("sh").arg(&s.script).args(args));
    let mount = s.mount_path();
    let mount = mount.to_str().expect("utf-8");
    for (args, message) in [
        (vec!["--mount-path", mount], "give --volume-id ID"),
        (
            vec![
                "--ephemeral",
                "--volume-id",
                VOLUME_ID,
                "--mount-path",
                mount,
            ],
            "not both",
        ),
        (
            vec!["--ephemeral", "--mount-path", "export/vol"],
            "must be an absolute path",
        ),
        (
            vec!["--volume-id", "../sda", "--mount-path", mount],
            "--volume-id may only contain",
        ),
        (
            vec!["--ephemeral", "--mount-path", mount, "--wait", "soon"],
            "--wait must be",
        ),
        (
            vec!["--ephemeral", "--mount-path", mount, "--frobnicate"],
            "unknown argument",
        ),
        (
            vec!["--ephemeral", "--mount-path"],
            "--mount-path needs a value",
        ),
    ] {
        let out = script(&args);
        assert_failure(&out, 2, message);
        assert!(
            stderr(&out).contains("usage: gluster-brick-setup"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn glusterd_is_started_after_the_brick_is_mounted_and_only_once() {
    // No init system runs here, so `service` and `systemctl` are stand-ins on PATH that record
    // each call and whether the brick was mounted at that moment.
    let mut s = Scratch::new();
    let dev = s.loop_device();
    s.link(VIRTIO_LINK, &dev);
    let bin = s.path("bin");
    fs::create_dir_all(&bin).expect("bin dir");
    let calls = s.path("init-calls");
    let state = s.path("glusterd-running");
    let recorder = format!(
        "#!/bin/sh\nif mountpoint -q {mount}; then m=mounted; else m=unmounted; fi\n\
         echo \"$(basename \"$0\") $* ($m)\" >>{calls}\n\
         case \"$*\" in\n\
           'glusterd status'|'is-active --quiet glusterd.service'|'is-enabled --quiet glusterd.service') [ -f {state} ] ;;\n\
           'glusterd start'|'enable --now glusterd.service') touch {state} ;;\n\
           *) exit 3 ;;\n\
         esac\n",
        mount = s.mount_path().display(),
        calls = calls.display(),
        state = state.display(),
    );
    for tool in ["service", "systemctl"] {
        fs::write(bin.join(tool), &recorder).expect("recorder");
        fs::set_permissions(bin.join(tool), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut params = s.volume_params();
    params.start_glusterd = true;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run_with_path = || {
        run(Command::new("sh")
            .arg(&s.script)
            .args(params.args())
            .env("PATH", &path))
    };

    let first = run_with_path();
    assert_success(&first);
    let second = run_with_path();
    assert_success(&second);
    assert!(
        stdout(&second).contains("glusterd is already"),
        "{}",
        stdout(&second)
    );
    assert!(
        stdout(&second).contains("changed=no"),
        "{}",
        stdout(&second)
    );

    let log = fs::read_to_string(&calls).expect("init calls");
    let starts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" start ") || l.contains("enable --now"))
        .collect();
    assert_eq!(starts.len(), 1, "glusterd started exactly once:\n{log}");
    assert!(
        starts[0].ends_with("(mounted)"),
        "started before the brick was mounted:\n{log}"
    );
}

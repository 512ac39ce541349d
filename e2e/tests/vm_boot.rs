//! The operator's user-data booted by cloud-init in a real VM (issue #22; `make vm-e2e`):
//! Debian 12 from `hack/vm-image/build.sh`, packages from the local mirror, the brick on a
//! virtio-blk disk found by its volume serial. Then a clean power cycle: the brick comes back
//! from fstab, glusterd with it, nothing is formatted again.
//!
//! Root only (network namespace, TAPs, qemu); KVM when it works, else TCG (the test says which).

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::vm::image::BaseImage;
use e2e::vm::machine::{Accel, VIRTIO_SERIAL_LEN, Vm, VmSpec, ssh};
use e2e::vm::net::Netns;
use gluster_operator::api::GlusterCluster;
use gluster_operator::bootstrap::{
    BrickDevice, DistroFamily, NodeBootstrap, OPERATOR_USER, SshKeyPair, brick_mount_path,
    render_user_data,
};

/// The GlusterCluster whose first node the VM is (a Debian image, the Debian 12 gluster pinned).
const MANIFEST: &str = r#"
apiVersion: storage.glusterops.dev/v1alpha1
kind: GlusterCluster
metadata:
  name: vmboot
spec:
  cloud:
    secretName: openstack
    cloudName: sim
  image: debian-12
  flavor: m1.medium
  network: private
  gluster:
    version: "10.3"
  zones:
    - name: zone-a
      nodes: 1
  brick:
    size: 1Gi
  volume:
    name: vmboot
    replicas: 1
"#;

/// How long a boot may take to finish cloud-init (TCG and a loaded machine are slow).
const BOOT_LIMIT: Duration = Duration::from_secs(900);

struct Node<'a> {
    ns: &'a Netns,
    key: &'a Path,
    known_hosts: &'a Path,
    address: Ipv4Addr,
}

impl Node<'_> {
    /// `remote` as the operator's user; its stdout, failing the test on a non-zero exit.
    fn ok(&self, remote: &str) -> String {
        let out = ssh(
            self.ns,
            self.key,
            self.known_hosts,
            OPERATOR_USER,
            self.address,
            remote,
        )
        .unwrap_or_else(|e| panic!("ssh {remote}: {e}"));
        assert!(
            out.status.success(),
            "ssh {remote}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `remote` exits zero as the operator's user.
    fn succeeds(&self, remote: &str) -> bool {
        ssh(
            self.ns,
            self.key,
            self.known_hosts,
            OPERATOR_USER,
            self.address,
            remote,
        )
        .unwrap_or_else(|e| panic!("ssh {remote}: {e}"))
        .status
        .success()
    }
}

/// The lines of `report` between `== section` and the next `== `.
fn section<'a>(report: &'a str, name: &str) -> Vec<&'a str> {
    report
        .lines()
        .skip_while(|l| *l != format!("== {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .collect()
}

/// What one boot's report and SSH show of cloud-init: done, no errors, no warnings.
fn assert_cloud_init_clean(report: &str, node: &Node<'_>) {
    let status = section(report, "cloud-init status --long").join("\n");
    assert!(
        status.contains("status: done"),
        "cloud-init status:\n{status}"
    );
    let result = section(report, "result.json").join("\n");
    let result: serde_json::Value =
        serde_json::from_str(&result).unwrap_or_else(|e| panic!("result.json: {e}\n{result}"));
    assert_eq!(
        result["v1"]["errors"],
        serde_json::json!([]),
        "cloud-init errors: {result}"
    );
    let warnings = section(report, "cloud-init warnings");
    assert!(
        warnings.is_empty(),
        "cloud-init warnings:\n{}",
        warnings.join("\n")
    );
    let remote = node.ok("cloud-init status --long");
    assert!(remote.contains("status: done"), "over ssh: {remote}");
}

/// The brick: XFS with isize=512 on the disk whose by-id link is the volume serial, mounted
/// by its fstab UUID; returns the filesystem UUID.
fn assert_brick(report: &str, node: &Node<'_>, mount: &str, serial: &str) -> String {
    let by_id = node.ok(&format!("readlink -f /dev/disk/by-id/virtio-{serial}"));
    let fields = node.ok(&format!(
        "findmnt -n -o SOURCE,FSTYPE,UUID --mountpoint {mount}"
    ));
    let fields: Vec<&str> = fields.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{mount} is not a mount point: {fields:?}");
    assert_eq!(
        fields[0],
        by_id.trim(),
        "{mount} is not on the volume's disk"
    );
    assert_eq!(fields[1], "xfs");
    let uuid = fields[2].to_string();
    let fstab = node.ok("cat /etc/fstab");
    assert!(
        fstab
            .lines()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>()
                == [format!("UUID={uuid}").as_str(), mount, "xfs"]),
        "fstab does not mount UUID={uuid} at {mount}:\n{fstab}"
    );
    let xfs = section(report, "xfs").join("\n");
    let info = xfs
        .split(&format!("mount {mount}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no xfs_info of {mount} in the report:\n{xfs}"));
    assert!(
        info.lines()
            .next()
            .unwrap_or_default()
            .contains("isize=512"),
        "{mount}: {info}"
    );
    uuid
}

/// The run's directory (VM disks, seeds, logs): removed after a pass, kept after a failure
/// (its path printed) for its console, qemu and mirror logs.
struct RunDir(Option<tempfile::TempDir>);

impl RunDir {
    fn path(&self) -> std::path::PathBuf {
        self.0
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default()
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("vm-e2e: failed; logs kept in {}", dir.keep().display());
        }
    }
}

#[test]
fn one_vm_boots_the_operators_user_data_and_comes_back_after_a_power_cycle() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let image = BaseImage::ensure(repo).unwrap();
    let work = RunDir(Some(
        tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(image.dir.parent().unwrap())
            .unwrap(),
    ));
    let work_dir = work.path();
    let accel = Accel::detect(&image.kernel(), &work_dir);
    eprintln!(
        "vm-e2e: accelerator {accel:?} (KVM when a kernel boots under it, else TCG), image {}",
        image.dir.display()
    );

    let cluster: GlusterCluster = serde_yaml::from_str(MANIFEST).unwrap();
    let operator_key = SshKeyPair::generate("gluster-operator@vm-e2e").unwrap();
    let host_key = SshKeyPair::generate("vmboot-zone-a-0").unwrap();
    let volume_id = uuid::Uuid::new_v4().to_string();
    let glusterd_uuid = uuid::Uuid::new_v4().to_string();
    let bootstrap = NodeBootstrap::from_spec(
        &cluster.spec,
        "vmboot",
        "vmboot-zone-a-0",
        DistroFamily::Debian,
        BrickDevice::Volume {
            id: volume_id.clone(),
        },
        operator_key.public_key().clone(),
        host_key.clone(),
    )
    .with_glusterd_uuid(glusterd_uuid.clone());
    let user_data = render_user_data(&bootstrap).unwrap().into_string();
    let mount = brick_mount_path(&cluster.spec);
    let serial: String = volume_id.chars().take(VIRTIO_SERIAL_LEN).collect();

    let ns_name = format!("gvm{}", std::process::id());
    let mut ns = Netns::create(&ns_name).unwrap();
    ns.serve_mirror(&image.mirror(), &work_dir.join("mirror.log"))
        .unwrap();
    let address = Ipv4Addr::new(10, 199, 0, 11);
    let spec = VmSpec {
        name: "vm0".into(),
        instance_id: uuid::Uuid::new_v4().to_string(),
        hostname: "vmboot-zone-a-0".into(),
        user_data,
        address,
        volume: Some((work_dir.join("volume.raw"), volume_id.clone())),
        volume_size: 1 << 30,
        memory_mib: 1024,
    };
    let mut vm = Vm::create(spec, &work_dir.join("vm0"), &image, accel, &mut ns).unwrap();

    let key = work_dir.join("operator_key");
    std::fs::write(&key, operator_key.private_openssh()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = work_dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{address} {}\n", host_key.public_key().openssh()),
    )
    .unwrap();
    let node = Node {
        ns: &ns,
        key: &key,
        known_hosts: &known_hosts,
        address,
    };

    // First boot.
    let started = std::time::Instant::now();
    vm.boot(&ns).unwrap();
    let report = vm.wait_report(BOOT_LIMIT).unwrap();
    eprintln!(
        "vm-e2e: first boot to cloud-init done in {} s ({accel:?})",
        started.elapsed().as_secs()
    );
    assert_cloud_init_clean(&report, &node);
    assert_eq!(node.ok("hostname").trim(), "vmboot-zone-a-0");

    // The pinned host key is the only one the VM presents: another key is refused.
    let other = work_dir.join("other_known_hosts");
    let stranger = SshKeyPair::generate("stranger").unwrap();
    std::fs::write(
        &other,
        format!("{address} {}\n", stranger.public_key().openssh()),
    )
    .unwrap();
    let refused = ssh(&ns, &key, &other, OPERATOR_USER, address, "true").unwrap();
    assert!(
        !refused.status.success(),
        "a host key other than the pinned one was accepted"
    );

    // glusterd from the Debian package the user-data installed, from the local mirror.
    let pkg = node.ok("dpkg-query -W -f '${Status} ${Version}' glusterfs-server");
    assert!(
        pkg.starts_with("install ok installed 10.3"),
        "glusterfs-server: {pkg}"
    );
    assert_eq!(
        node.ok("dpkg -S /usr/sbin/glusterd").trim(),
        "glusterfs-server: /usr/sbin/glusterd"
    );
    assert_eq!(node.ok("systemctl is-active glusterd").trim(), "active");
    let policy = node.ok("apt-cache policy glusterfs-server");
    assert!(
        policy.contains("10.199.0.1"),
        "not from the local mirror:\n{policy}"
    );
    let mirror_log = std::fs::read_to_string(work_dir.join("mirror.log")).unwrap();
    assert!(
        mirror_log.contains("glusterfs-server_"),
        "the mirror served no glusterfs-server"
    );

    // sudo: gluster, nothing else.
    let rules = node.ok("sudo -n -l");
    let allowed: Vec<&str> = rules
        .lines()
        .skip_while(|l| !l.contains("may run the following commands"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        allowed.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        ["(root) NOPASSWD: /usr/sbin/gluster"],
        "sudo -l:\n{rules}"
    );
    assert!(
        node.ok("sudo -n /usr/sbin/gluster system:: uuid get")
            .contains(&glusterd_uuid)
    );
    assert!(!node.succeeds("sudo -n true"), "sudo ran true");
    assert!(!node.succeeds("sudo -n /bin/sh -c id"), "sudo ran a shell");

    let fs_uuid = assert_brick(&report, &node, &mount, &serial);
    let brick_log = section(&report, "brick log").join("\n");
    assert_eq!(
        brick_log.matches("running: mkfs.xfs").count(),
        1,
        "brick log:\n{brick_log}"
    );

    // Power cycle: the same disks, a new boot.
    let how = vm.power_off(Duration::from_secs(30)).unwrap();
    eprintln!("vm-e2e: power off: {how:?}");
    vm.boot(&ns).unwrap();
    let started = std::time::Instant::now();
    let report2 = vm.wait_report(BOOT_LIMIT).unwrap();
    eprintln!("vm-e2e: second boot in {} s", started.elapsed().as_secs());
    let first_boot = report.lines().find(|l| l.starts_with("== boot ")).unwrap();
    let second_boot = report2.lines().find(|l| l.starts_with("== boot ")).unwrap();
    assert_ne!(first_boot, second_boot, "the report is not from a new boot");
    assert_cloud_init_clean(&report2, &node);
    assert_eq!(node.ok("systemctl is-active glusterd").trim(), "active");
    assert!(
        node.ok("sudo -n /usr/sbin/gluster system:: uuid get")
            .contains(&glusterd_uuid)
    );
    let fs_uuid2 = assert_brick(&report2, &node, &mount, &serial);
    assert_eq!(fs_uuid, fs_uuid2, "the brick was formatted again");
    let brick_log2 = section(&report2, "brick log").join("\n");
    assert_eq!(
        brick_log2.matches("running: mkfs.xfs").count(),
        1,
        "brick log:\n{brick_log2}"
    );

    // Teardown: no qemu, TAP or namespace left.
    vm.power_off(Duration::from_secs(10)).unwrap();
    drop(vm);
    drop(ns);
    let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&namespaces.stdout).contains(&ns_name),
        "namespace {ns_name} left behind"
    );
}

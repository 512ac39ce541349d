//! The brick script (`brick.sh`, POSIX sh) and the arguments that parameterise it.
//!
//! The script is shipped verbatim (cloud-init `write_files`) and every node-specific value is a
//! command-line argument, so exactly the text that `shellcheck` checks and the tests run on loop
//! devices is the text that runs on a node — and in the e2e loopback nodes.

/// The brick script: finds the brick device (Cinder volume by ID under `/dev/disk/by-id`, or the
/// ephemeral disk cloud-init mounted at `/mnt`), formats it XFS `-i size=512` only when it is
/// blank, mounts it through an fstab entry by UUID with `nofail`, creates `<mount>/brick` and
/// optionally starts glusterd. Idempotent. See the header of the script for its arguments.
pub const BRICK_SCRIPT: &str = include_str!("brick.sh");

/// Where cloud-init writes the brick script on a node.
pub const BRICK_SCRIPT_PATH: &str = "/usr/local/sbin/gluster-brick-setup";

/// Where the brick script logs on a node (it also prints to stdout, which cloud-init keeps in
/// `/var/log/cloud-init-output.log`).
pub const BRICK_LOG_PATH: &str = "/var/log/gluster-brick-setup.log";

/// glusterd's working directory on a node (its identity is `glusterd.info` there).
pub const GLUSTERD_DIR: &str = "/var/lib/glusterd";

/// How long the script waits for the brick device to appear on a node, in seconds.
pub const DEFAULT_DEVICE_WAIT_SECONDS: u32 = 300;

/// Which disk holds a node's brick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrickDevice {
    /// A Cinder volume attached to the server, found by its ID (`/dev/disk/by-id/virtio-<first
    /// 20 characters>` or the virtio-scsi form).
    Volume {
        /// The Cinder volume ID.
        id: String,
    },
    /// The server's local ephemeral disk (the fallback flavor's), which cloud-init mounted at
    /// `/mnt`; the script unmounts it and drops that fstab line.
    Ephemeral,
}

/// The arguments of one run of the brick script. [`BrickScriptParams::new`] gives the values a
/// real node uses; tests and the e2e loopback nodes override the paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickScriptParams {
    /// Which disk holds the brick.
    pub device: BrickDevice,
    /// Where the brick filesystem is mounted; the brick is `<mount_path>/brick`.
    pub mount_path: String,
    /// The directory of by-id links (`/dev/disk/by-id` on a node).
    pub by_id_dir: String,
    /// The fstab to read and edit (`/etc/fstab` on a node).
    pub fstab: String,
    /// Where cloud-init mounted the ephemeral disk (`/mnt` on a node).
    pub ephemeral_mount: String,
    /// The log file the script appends to.
    pub log_file: String,
    /// How long to wait for the device to appear, in seconds.
    pub wait_seconds: u32,
    /// Whether to enable and start glusterd once the brick is mounted (the e2e loopback nodes
    /// start their own glusterd, bound to a 127.x address, instead).
    pub start_glusterd: bool,
    /// The node's glusterd UUID (chosen by the operator), written to `glusterd.info` before
    /// glusterd first starts; `None`: glusterd makes its own.
    pub glusterd_uuid: Option<String>,
    /// glusterd's working directory (`/var/lib/glusterd` on a node).
    pub glusterd_dir: String,
    /// The pool a returning node (a replacement server of a node whose brick the volume
    /// uses) comes back to: (glusterd UUID, address) of the other nodes, written to
    /// `peers/` with the identity. Empty for a new node (the operator probes it).
    pub peers: Vec<(String, String)>,
}

impl BrickScriptParams {
    /// The arguments for a real node: system paths, a 300 s device wait, glusterd started.
    pub fn new(device: BrickDevice, mount_path: impl Into<String>) -> Self {
        Self {
            device,
            mount_path: mount_path.into(),
            by_id_dir: "/dev/disk/by-id".to_string(),
            fstab: "/etc/fstab".to_string(),
            ephemeral_mount: "/mnt".to_string(),
            log_file: BRICK_LOG_PATH.to_string(),
            wait_seconds: DEFAULT_DEVICE_WAIT_SECONDS,
            start_glusterd: true,
            glusterd_uuid: None,
            glusterd_dir: GLUSTERD_DIR.to_string(),
            peers: Vec::new(),
        }
    }

    /// The command-line arguments (after the script path), every one explicit so the user-data
    /// says exactly what runs.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::with_capacity(16);
        match &self.device {
            BrickDevice::Volume { id } => {
                args.push("--volume-id".to_string());
                args.push(id.clone());
            }
            BrickDevice::Ephemeral => args.push("--ephemeral".to_string()),
        }
        for (flag, value) in [
            ("--mount-path", &self.mount_path),
            ("--by-id-dir", &self.by_id_dir),
            ("--fstab", &self.fstab),
            ("--ephemeral-mount", &self.ephemeral_mount),
            ("--log", &self.log_file),
        ] {
            args.push(flag.to_string());
            args.push(value.clone());
        }
        args.push("--wait".to_string());
        args.push(self.wait_seconds.to_string());
        if self.start_glusterd {
            args.push("--start-glusterd".to_string());
        }
        if let Some(uuid) = &self.glusterd_uuid {
            args.push("--glusterd-dir".to_string());
            args.push(self.glusterd_dir.clone());
            args.push("--glusterd-uuid".to_string());
            args.push(uuid.clone());
            for (peer, address) in &self.peers {
                args.push("--peer".to_string());
                args.push(format!("{peer}={address}"));
            }
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_posix_sh_and_documents_its_arguments() {
        assert!(BRICK_SCRIPT.starts_with("#!/bin/sh\n"));
        let mut params = BrickScriptParams::new(
            BrickDevice::Volume {
                id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
            },
            "/export/vol",
        );
        params.glusterd_uuid = Some("6f1c2a57-3f0e-5b8e-9a51-0c5d1e2f3a4b".into());
        for arg in params.args().iter().filter(|a| a.starts_with("--")) {
            assert!(
                BRICK_SCRIPT.contains(&format!("#   {arg}")),
                "{arg} missing from the usage header"
            );
            assert!(
                BRICK_SCRIPT.contains(&format!("{arg})")),
                "{arg} not parsed by the script"
            );
        }
    }

    #[test]
    fn args_for_a_volume_and_for_the_ephemeral_disk() {
        let volume = BrickScriptParams::new(BrickDevice::Volume { id: "abc".into() }, "/export/v");
        assert_eq!(
            volume.args(),
            [
                "--volume-id",
                "abc",
                "--mount-path",
                "/export/v",
                "--by-id-dir",
                "/dev/disk/by-id",
                "--fstab",
                "/etc/fstab",
                "--ephemeral-mount",
                "/mnt",
                "--log",
                "/var/log/gluster-brick-setup.log",
                "--wait",
                "300",
                "--start-glusterd"
            ]
        );
        let mut eph = BrickScriptParams::new(BrickDevice::Ephemeral, "/export/v");
        eph.start_glusterd = false;
        let args = eph.args();
        assert_eq!(args[0], "--ephemeral");
        assert!(!args.contains(&"--start-glusterd".to_string()));
        assert!(!args.contains(&"--glusterd-uuid".to_string()));
        eph.glusterd_uuid = Some("u".into());
        assert_eq!(
            eph.args()[eph.args().len() - 4..],
            [
                "--glusterd-dir",
                "/var/lib/glusterd",
                "--glusterd-uuid",
                "u"
            ]
        );
    }
}

//! A node's disks: sparse backing files attached as loop devices with `losetup`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::command::run;
use super::error::NodeError;

/// A loop device attached to a backing file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopDevice {
    /// The device, e.g. `/dev/loop3`.
    pub device: String,
    /// Its backing file.
    pub backing: PathBuf,
}

impl LoopDevice {
    /// Attaches `backing` to the first free loop device.
    pub fn attach(backing: &Path) -> Result<Self, NodeError> {
        let out = run(
            Command::new("losetup")
                .arg("--find")
                .arg("--show")
                .arg(backing),
            &format!("attaching {} to a loop device", backing.display()),
        )?;
        let device = out.trim().to_string();
        if !device.starts_with("/dev/loop") {
            return Err(NodeError::Command {
                what: format!("attaching {}", backing.display()),
                command: "losetup --find --show".into(),
                outcome: format!("printed `{device}` instead of a loop device"),
            });
        }
        Ok(Self {
            device,
            backing: backing.to_path_buf(),
        })
    }

    /// The kernel name, e.g. `loop3`.
    pub fn name(&self) -> &str {
        self.device.trim_start_matches("/dev/")
    }

    /// The device number as `major:minor` (as `/proc/<pid>/mountinfo` shows it).
    pub fn dev_number(&self) -> Result<String, NodeError> {
        let path = PathBuf::from(format!("/sys/block/{}/dev", self.name()));
        fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(NodeError::io("reading the loop device number", path))
    }

    /// Whether the device is still attached to this backing file.
    pub fn is_attached(&self) -> bool {
        let path = format!("/sys/block/{}/loop/backing_file", self.name());
        fs::read_to_string(path).is_ok_and(|b| Path::new(b.trim()) == self.backing)
    }

    /// Detaches the device and waits (up to `timeout`) until the kernel has let it go; a device
    /// still in use is released when its last user goes (losetup sets autoclear).
    pub fn detach(&self, timeout: Duration) -> Result<(), NodeError> {
        if !self.is_attached() {
            return Ok(());
        }
        run(
            Command::new("losetup").arg("--detach").arg(&self.device),
            &format!("detaching {}", self.device),
        )?;
        let start = Instant::now();
        while self.is_attached() {
            if start.elapsed() > timeout {
                return Err(NodeError::Command {
                    what: format!("detaching {}", self.device),
                    command: format!("losetup --detach {}", self.device),
                    outcome: format!(
                        "succeeded, but the device still holds {} after {timeout:?} (busy)",
                        self.backing.display()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl LoopDevice {
    /// Detaches the device without waiting: a device still in use is released when its last
    /// user goes (losetup sets autoclear).
    pub fn detach_lazily(&self) -> Result<(), NodeError> {
        if !self.is_attached() {
            return Ok(());
        }
        run(
            Command::new("losetup").arg("--detach").arg(&self.device),
            &format!("detaching {}", self.device),
        )
        .map(drop)
    }
}

/// Creates a sparse file of `bytes` unless it exists (an existing one is kept as it is).
pub fn ensure_sparse_file(path: &Path, bytes: u64) -> Result<bool, NodeError> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(NodeError::io("creating a directory", dir))?;
    }
    let tmp = path.with_extension("img.creating");
    fs::File::create(&tmp)
        .and_then(|f| f.set_len(bytes))
        .map_err(NodeError::io("creating a sparse disk image", &tmp))?;
    fs::rename(&tmp, path).map_err(NodeError::io("renaming a disk image into place", path))?;
    Ok(true)
}

/// Formats a fresh ephemeral disk image as Nova does: ext4 labelled `ephemeral0`.
pub fn format_ephemeral(image: &Path) -> Result<(), NodeError> {
    run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "ephemeral0"])
            .arg(image),
        "formatting the ephemeral disk (ext4, label ephemeral0)",
    )
    .map(drop)
}

/// The loop devices attached to `backing`, per `losetup --associated`.
pub fn loops_of(backing: &Path) -> Result<Vec<String>, NodeError> {
    let out = run(
        Command::new("losetup").arg("--associated").arg(backing),
        &format!("listing the loop devices of {}", backing.display()),
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|d| d.starts_with("/dev/loop"))
        .map(str::to_string)
        .collect())
}

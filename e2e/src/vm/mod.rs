//! Real virtual machines for the bootstrap e2e (issue #22): the operator's rendered user-data
//! booted by cloud-init in a Debian 12 VM (qemu, KVM when it works, else TCG), as on a cloud.
//!
//! - [`image`]: the base image and the local package mirror (`hack/vm-image/build.sh`, cached by
//!   recipe hash outside the clone).
//! - [`net`]: the test's network namespace (a bridge, TAP devices, the mirror over HTTP, no
//!   route out), torn down on drop.
//! - [`machine`]: one VM: a qcow2 overlay of the base image, a NoCloud seed (user-data
//!   unchanged, meta-data with instance ID and hostname, a static network-config), the brick
//!   disk as virtio-blk with `serial=<volume ID prefix>`; stopped by PID on drop.
//!
//! Test infrastructure only; every command needs root.

pub mod image;
pub mod machine;
pub mod net;

use std::process::{Command, Output};

/// Why a VM world step failed; each names the command or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A command could not start or exited with an error.
    #[error("{what}: {detail}")]
    Command {
        /// The command line.
        what: String,
        /// Its exit status and the tail of its output.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something did not happen within its wait limit.
    #[error("{0}")]
    Timeout(String),
    /// The base image or mirror is not what the test expects.
    #[error("{0}")]
    Image(String),
}

/// `cmd`'s command line, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to the end; its stdout, or an error with its status and output's tail.
pub(crate) fn run(cmd: &mut Command) -> Result<String, VmError> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(cmd, &out))
    }
}

/// Runs `cmd` to the end, whatever its status.
pub(crate) fn output(cmd: &mut Command) -> Result<Output, VmError> {
    cmd.output().map_err(|e| VmError::Command {
        what: describe(cmd),
        detail: format!("cannot start: {e}"),
    })
}

/// The error of a command that exited with `out`.
pub(crate) fn failed(cmd: &Command, out: &Output) -> VmError {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    VmError::Command {
        what: describe(cmd),
        detail: format!("{}\n{tail}", out.status),
    }
}

/// Writes `content` to `path`.
pub(crate) fn write(path: &std::path::Path, content: &[u8]) -> Result<(), VmError> {
    std::fs::write(path, content).map_err(|source| VmError::Io {
        path: path.display().to_string(),
        source,
    })
}

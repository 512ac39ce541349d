//! Helpers shared by the bootstrap tests: finding the real tools they drive and running them.
#![allow(dead_code)] // each test binary uses a part of this module

use std::path::Path;
use std::process::{Command, Output};

/// Fails the test with a clear message when `tool` is not on PATH (`make test` installs it).
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(tool).is_file()
        || Path::new("/sbin").join(tool).is_file();
    assert!(
        found,
        "`{tool}` is not installed; run hack/setup.sh (make setup) to install the test tools"
    );
}

/// Fails the test with a clear message unless it runs as root (loop devices and mounts need it;
/// CI runs as root).
pub fn require_root() {
    let out = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "the brick script tests need root (loop devices, mkfs, mount); run them as root as CI does"
    );
}

/// Runs a command to completion, panicking with its name if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}:\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

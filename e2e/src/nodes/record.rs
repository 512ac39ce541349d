//! What a running node holds, kept in its directory (`running`) while it runs, so that a
//! manager started later on the same state directory can end the nodes of one that was killed
//! (SIGKILL runs no drop): their init is killed and their loop devices detached.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::disks::LoopDevice;
use super::error::NodeError;
use super::namespace::{ns_of, processes_in};

/// The record's file name in a node directory.
pub const RECORD: &str = "running";

/// What a node holds: its init and mount namespace (once made) and its loop devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The host PID of the node's init and its mount namespace (`mnt:[…]`).
    pub init: Option<(u32, String)>,
    /// The loop devices and their backing files.
    pub loops: Vec<LoopDevice>,
}

impl Record {
    /// The record as text: `init PID MNTNS` and `loop DEVICE BACKING` lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some((pid, ns)) = &self.init {
            out.push_str(&format!("init {pid} {ns}\n"));
        }
        for l in &self.loops {
            out.push_str(&format!("loop {} {}\n", l.device, l.backing.display()));
        }
        out
    }

    /// Reads a record back; lines it does not know are ignored.
    pub fn parse(text: &str) -> Self {
        let mut record = Self::default();
        for line in text.lines() {
            let mut f = line.splitn(3, ' ');
            match (f.next(), f.next(), f.next()) {
                (Some("init"), Some(pid), Some(ns)) => {
                    if let Ok(pid) = pid.parse() {
                        record.init = Some((pid, ns.to_string()));
                    }
                }
                (Some("loop"), Some(device), Some(backing)) => record.loops.push(LoopDevice {
                    device: device.to_string(),
                    backing: PathBuf::from(backing),
                }),
                _ => {}
            }
        }
        record
    }

    /// Writes the record into a node directory.
    pub fn save(&self, node_dir: &Path) -> Result<(), NodeError> {
        let path = node_dir.join(RECORD);
        fs::write(&path, self.render()).map_err(NodeError::io("recording a running node", path))
    }
}

/// Ends what the records under `<state>/nodes/*/running` say is still there: the nodes of a
/// manager that died without stopping them. Returns the server IDs reaped, or what could not
/// be undone.
pub fn reap_stale(state_dir: &Path) -> Result<Vec<String>, NodeError> {
    let nodes = state_dir.join("nodes");
    let Ok(entries) = fs::read_dir(&nodes) else {
        return Ok(Vec::new());
    };
    let mut reaped = Vec::new();
    let mut problems = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path().join(RECORD);
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let record = Record::parse(&text);
        if let Some((pid, ns)) = &record.init
            && ns_of(*pid, "mnt").as_deref() == Some(ns.as_str())
        {
            if let Some(pid) = i32::try_from(*pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let start = Instant::now();
            while !processes_in(ns).is_empty() && start.elapsed() < Duration::from_secs(10) {
                thread::sleep(Duration::from_millis(20));
            }
            if !processes_in(ns).is_empty() {
                problems.push(format!(
                    "processes {:?} of a stale node stay",
                    processes_in(ns)
                ));
            }
        }
        for l in &record.loops {
            if let Err(e) = l.detach(Duration::from_secs(10)) {
                problems.push(e.to_string());
            }
        }
        if let Err(e) = fs::remove_file(&path) {
            problems.push(format!("removing {}: {e}", path.display()));
        }
        reaped.push(entry.file_name().to_string_lossy().into_owned());
    }
    if problems.is_empty() {
        Ok(reaped)
    } else {
        Err(NodeError::Stop {
            server_id: "(stale nodes of an earlier run)".into(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let record = Record {
            init: Some((4242, "mnt:[4026532177]".into())),
            loops: vec![LoopDevice {
                device: "/dev/loop3".into(),
                backing: "/tmp/s/volumes/v 1.img".into(),
            }],
        };
        assert_eq!(Record::parse(&record.render()), record);
        assert_eq!(Record::parse("junk\ninit x y\n"), Record::default());
    }
}

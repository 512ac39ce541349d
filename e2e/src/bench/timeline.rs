//! What happened when, per server, as the cloud and the nodes saw it: a boot hook wrapping the
//! loopback nodes' hook (or standing alone when nodes are not real) that stamps each event, and
//! a watcher per node stamping the end of its boot (brick script done, glusterd listening).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::devenv::NodesHook;
use crate::nodes::LoopbackNodes;
use crate::openstack::{BootHook, ServerEvent, VolumeEvent};

/// How long a node's boot watcher waits before giving up.
const BOOT_WAIT: Duration = Duration::from_secs(30 * 60);

/// One server's timeline (wall-clock times).
#[derive(Debug, Clone, Default)]
pub struct ServerTimes {
    /// Server name.
    pub name: String,
    /// The simulator's boot delay ended (the hook was called).
    pub active_called: Option<SystemTime>,
    /// The hook returned: the server shows ACTIVE (and the node's sshd listens, when real).
    pub active_visible: Option<SystemTime>,
    /// The attach delay ended (the hook was called).
    pub attach_called: Option<SystemTime>,
    /// The hook returned: the volume shows `in-use`.
    pub attach_visible: Option<SystemTime>,
    /// The node's boot finished (brick ready, glusterd listening), when real.
    pub boot_finished: Option<SystemTime>,
    /// Why the node's boot did not finish, if it did not.
    pub boot_failed: Option<String>,
}

/// The shared record of every server's timeline, by server ID.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    servers: Arc<Mutex<BTreeMap<String, ServerTimes>>>,
}

impl Timeline {
    fn update(&self, id: &str, name: &str, f: impl FnOnce(&mut ServerTimes)) {
        let mut map = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(id.to_owned()).or_insert_with(|| ServerTimes {
            name: name.to_owned(),
            ..ServerTimes::default()
        });
        f(entry);
    }

    /// Every server's timeline so far.
    pub fn snapshot(&self) -> Vec<ServerTimes> {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Forgets every server.
    pub fn clear(&self) {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A boot hook that stamps every event into a [`Timeline`] and passes it on to the loopback
/// nodes' hook when nodes are real (else servers are only simulated: nothing boots).
pub struct RecordingHook {
    timeline: Timeline,
    real: Option<(NodesHook, Arc<LoopbackNodes>)>,
}

impl RecordingHook {
    /// A hook recording into `timeline`, starting real nodes through `real` when given.
    pub fn new(timeline: Timeline, real: Option<(NodesHook, Arc<LoopbackNodes>)>) -> Self {
        RecordingHook { timeline, real }
    }
}

impl BootHook for RecordingHook {
    fn server_active(&self, event: &ServerEvent) {
        let called = SystemTime::now();
        if let Some((hook, _)) = &self.real {
            hook.server_active(event);
        }
        let visible = SystemTime::now();
        self.timeline.update(&event.id, &event.name, |t| {
            t.active_called = Some(called);
            t.active_visible = Some(visible);
        });
        if let Some((_, nodes)) = &self.real {
            let (nodes, timeline, id, name) = (
                nodes.clone(),
                self.timeline.clone(),
                event.id.clone(),
                event.name.clone(),
            );
            // The watcher only waits on the node's boot state; it ends with the boot (or the
            // node's stop), at the latest after BOOT_WAIT.
            std::thread::spawn(move || {
                let waited = nodes.wait_boot(&id, BOOT_WAIT);
                let at = SystemTime::now();
                timeline.update(&id, &name, |t| match waited {
                    Ok(_) => t.boot_finished = Some(at),
                    Err(e) => t.boot_failed = Some(e.to_string()),
                });
            });
        }
    }

    fn server_deleted(&self, event: &ServerEvent) {
        if let Some((hook, _)) = &self.real {
            hook.server_deleted(event);
        }
    }

    fn volume_attached(&self, event: &VolumeEvent) {
        let called = SystemTime::now();
        if let Some((hook, _)) = &self.real {
            hook.volume_attached(event);
        }
        let visible = SystemTime::now();
        self.timeline
            .update(&event.server_id, &event.server_name, |t| {
                t.attach_called = Some(called);
                t.attach_visible = Some(visible);
            });
    }

    fn volume_detached(&self, event: &VolumeEvent) {
        if let Some((hook, _)) = &self.real {
            hook.volume_detached(event);
        }
    }
}

/// One gluster command the operator ran over SSH, from its debug log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlusterCommand {
    /// The command line (`gluster --mode=script peer probe 127.110.0.11`, …).
    pub command: String,
    /// The node it ran on.
    pub node: String,
    /// When it was sent.
    #[serde(skip)]
    pub started: SystemTime,
    /// How long it took, SSH round trip included.
    pub seconds: f64,
    /// Whether it exited 0.
    pub succeeded: bool,
}

/// Whether a gluster command changes the pool or the volume (these are on the critical path;
/// reads are the operator's own observation).
pub fn is_mutating(command: &str) -> bool {
    ["peer probe", "volume create", "volume set", "volume start"]
        .iter()
        .any(|verb| command.contains(verb))
}

/// The gluster commands in the operator's JSON log (`gluster_operator::gluster=debug`): each
/// `running` line paired with the next `finished` line of the same node and command.
pub fn gluster_commands(log: &str) -> Vec<GlusterCommand> {
    let mut pending: BTreeMap<(String, String), Vec<SystemTime>> = BTreeMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = &v["fields"];
        let (Some(message), Some(command), Some(node)) = (
            fields["message"].as_str(),
            fields["command"].as_str(),
            fields["node"].as_str(),
        ) else {
            continue;
        };
        let Some(at) = v["timestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(SystemTime::from)
        else {
            continue;
        };
        let key = (node.to_owned(), command.to_owned());
        match message {
            "running" => pending.entry(key).or_default().push(at),
            "finished" => {
                let Some(started) = pending.get_mut(&key).and_then(|q| {
                    if q.is_empty() {
                        None
                    } else {
                        Some(q.remove(0))
                    }
                }) else {
                    continue;
                };
                let status = fields["status"].as_str().unwrap_or_default();
                out.push(GlusterCommand {
                    command: command.to_owned(),
                    node: node.to_owned(),
                    started,
                    seconds: secs_between(started, at),
                    succeeded: status == "0" || status == "Some(0)",
                });
            }
            _ => {}
        }
    }
    out.sort_by_key(|c| c.started);
    out
}

/// `b − a` in seconds (0 when `b` is earlier).
pub fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map_or(0.0, |d| d.as_secs_f64())
}

/// The critical path of one run: what the cloud and gluster themselves needed, with the
/// operator's waits taken out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPath {
    /// The whole path: the slowest node's brick-ready time + the gluster commands.
    pub seconds: f64,
    /// The node whose brick was ready last on this path.
    pub slowest_node: String,
    /// From the cluster's creation until that node's server showed ACTIVE.
    pub slowest_server_active_seconds: f64,
    /// Its volume attachment: the simulator's attach delay plus the node's own work.
    pub volume_attach_seconds: f64,
    /// Its brick script (after both ACTIVE and the attachment) until glusterd listened.
    pub brick_script_seconds: f64,
    /// The successful mutating gluster commands (probes, create, options, start), each once.
    pub gluster_ops_seconds: f64,
    /// Those commands.
    pub gluster_commands: Vec<GlusterCommand>,
}

/// The critical path from the run's own stamps: for each node, ACTIVE (since `created`) +
/// attach delay and hook + brick script after both; the slowest of those, plus the duration
/// of each distinct mutating gluster command's last successful run. `attach_delay` is the
/// simulator's configured attach delay (the hook is called after it). Nodes without a
/// finished boot (not real) count their ACTIVE time only.
pub fn critical_path(
    created: SystemTime,
    servers: &[ServerTimes],
    attach_delay: Duration,
    commands: &[GlusterCommand],
) -> Option<CriticalPath> {
    let mut best: Option<(f64, &ServerTimes, f64, f64, f64)> = None;
    for s in servers {
        let Some(active) = s.active_visible else {
            continue;
        };
        let active_s = secs_between(created, active);
        let attach_s = match (s.attach_called, s.attach_visible) {
            (Some(c), Some(v)) => attach_delay.as_secs_f64() + secs_between(c, v),
            _ => 0.0,
        };
        let brick_s = match s.boot_finished {
            Some(done) => {
                let from = s.attach_visible.map_or(active, |a| a.max(active));
                secs_between(from, done)
            }
            None => 0.0,
        };
        let total = active_s + attach_s + brick_s;
        if best.as_ref().is_none_or(|b| total > b.0) {
            best = Some((total, s, active_s, attach_s, brick_s));
        }
    }
    let (node_total, slowest, active_s, attach_s, brick_s) = best?;
    let mut last_ok: BTreeMap<&str, &GlusterCommand> = BTreeMap::new();
    for c in commands
        .iter()
        .filter(|c| c.succeeded && is_mutating(&c.command))
    {
        last_ok.insert(c.command.as_str(), c);
    }
    let mut used: Vec<GlusterCommand> = last_ok.into_values().cloned().collect();
    used.sort_by_key(|c| c.started);
    let gluster: f64 = used.iter().map(|c| c.seconds).sum();
    Some(CriticalPath {
        seconds: node_total + gluster,
        slowest_node: slowest.name.clone(),
        slowest_server_active_seconds: active_s,
        volume_attach_seconds: attach_s,
        brick_script_seconds: brick_s,
        gluster_ops_seconds: gluster,
        gluster_commands: used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"{"timestamp":"2026-12-04T23:00:00.000000Z","level":"DEBUG","fields":{"message":"running","node":"c-0","command":"gluster --mode=script peer probe 127.110.0.11"}}
{"timestamp":"2026-12-04T23:00:00.500000Z","level":"DEBUG","fields":{"message":"finished","node":"c-0","command":"gluster --mode=script peer probe 127.110.0.11","status":"0"}}
not json
{"timestamp":"2026-12-04T23:00:01.000000Z","level":"DEBUG","fields":{"message":"running","node":"c-0","command":"gluster --mode=script volume start v"}}
{"timestamp":"2026-12-04T23:00:03.000000Z","level":"DEBUG","fields":{"message":"finished","node":"c-0","command":"gluster --mode=script volume start v","status":"1"}}
{"timestamp":"2026-12-04T23:00:04.000000Z","level":"DEBUG","fields":{"message":"running","node":"c-0","command":"gluster --mode=script volume start v"}}
{"timestamp":"2026-12-04T23:00:05.250000Z","level":"DEBUG","fields":{"message":"finished","node":"c-0","command":"gluster --mode=script volume start v","status":"0"}}
{"timestamp":"2026-12-04T23:00:06.000000Z","level":"DEBUG","fields":{"message":"running","node":"c-0","command":"gluster --mode=script volume info v --xml"}}
{"timestamp":"2026-12-04T23:00:07.000000Z","level":"DEBUG","fields":{"message":"finished","node":"c-0","command":"gluster --mode=script volume info v --xml","status":"0"}}"#;

    #[test]
    fn pairs_commands_and_keeps_the_last_successful_mutation() {
        let commands = gluster_commands(LOG);
        assert_eq!(commands.len(), 4);
        assert!((commands[0].seconds - 0.5).abs() < 1e-6);
        assert!(!commands[1].succeeded);
        let created = commands[0].started - Duration::from_secs(10);
        let server = ServerTimes {
            name: "c-0".into(),
            active_called: Some(created + Duration::from_secs(2)),
            active_visible: Some(created + Duration::from_secs(3)),
            attach_called: Some(created + Duration::from_secs(5)),
            attach_visible: Some(created + Duration::from_millis(5500)),
            boot_finished: Some(created + Duration::from_millis(7500)),
            boot_failed: None,
        };
        let path = critical_path(created, &[server], Duration::from_millis(300), &commands)
            .expect("a path");
        assert!((path.slowest_server_active_seconds - 3.0).abs() < 1e-6);
        assert!((path.volume_attach_seconds - 0.8).abs() < 1e-6);
        assert!((path.brick_script_seconds - 2.0).abs() < 1e-6);
        // The probe (0.5 s) and the successful start (1.25 s); not the failed start, not the read.
        assert!((path.gluster_ops_seconds - 1.75).abs() < 1e-6);
        assert!((path.seconds - (3.0 + 0.8 + 2.0 + 1.75)).abs() < 1e-6);
    }
}

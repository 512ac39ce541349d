//! Pacing (pure): when to come back, and what to look at then. Decide uses these functions;
//! what they need from earlier passes is in the cluster's [`Memory`](super::Memory).
//!
//! - While the cloud or the nodes work, a pass comes back after a short backoff that starts
//!   at `requeue_min` (250 ms), doubles while nothing changes and is capped:
//!   `requeue_working` (2 s) while servers build or volumes are created, `requeue_bootstrap`
//!   (500 ms) while waiting for attachments or the nodes' bootstrap, which costs no cloud
//!   call. Any progress (a node changing state, a new message) starts it again at the
//!   minimum. While servers build and the cloud has shown how long a build takes here
//!   (Nova's `launched_at − created` of servers seen ACTIVE, [`BuildTimes`]), the first poll
//!   goes where the builds are expected to end ([`build_hint`]).
//! - A pass reads from the cloud only what may have changed ([`lists_needed`]): servers while
//!   one is missing or not ACTIVE, volumes while one is missing or in a transition. An
//!   attachment the operator asked for is awaited through the node itself
//!   ([`attachments_pending`]): its glusterd listens only once its brick script has found the
//!   device, so Cinder is listed when every node's glusterd accepts a TCP connection (or, if
//!   an attachment failed, at intervals doubling from 4 × `requeue_working`). Likewise the
//!   nodes' bootstrap (SSH up, glusterd not yet) is awaited with a TCP probe, not a gluster
//!   pass over SSH. Nothing is listed once every node is ACTIVE with its brick in use.
//! - The full observation (servers, volumes, security group) comes back after a change of
//!   generation, on every settled resync (the drift check), after an error, and when the last
//!   one is older than `observe_max_age`. Cinder's zones are listed once per generation.
//! - A watch event that is only the operator's own status write does not start a pass before
//!   its time ([`Memory::early`](super::Memory::early)); a new generation does, at once. The status is written only
//!   when it changed, so a settled cluster causes no write at all.
//!
//! For the seed cluster (4 nodes, one zone, replica 4) the calls to converge are within a few
//! of the minimum the task needs (37 to 40, see `e2e/tests/reconcile_calls.rs` for the count).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::civil::DateTime;

use crate::api::{BrickStorage, NodeStatus};
use crate::cloud::{Server, ServerStatus, VolumeStatus};
use crate::plan::ClusterPlan;

use crate::controller::observe::Observed;

/// How many build durations are remembered for [`BuildTimes::estimate`].
const BUILD_SAMPLES: usize = 8;

/// A backoff: `min`, doubling, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (and the delay after progress).
    pub min: Duration,
    /// The cap.
    pub max: Duration,
}

/// Where a cluster's backoff stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// What the last pass showed (a hash of the node states and the condition).
    pub signature: u64,
    /// The backoff delay to use next when nothing changes.
    pub next: Duration,
}

/// The delay before the next pass and the new pace: the backoff (reset when `signature`
/// differs from the last pass's), or `hint` (the expected remaining time of what is awaited)
/// when that is longer — after which the backoff starts again at its minimum.
pub fn next_delay(
    previous: Option<Pace>,
    signature: u64,
    backoff: Backoff,
    hint: Option<Duration>,
) -> (Duration, Pace) {
    let min = backoff.min.min(backoff.max);
    let base = match previous {
        Some(p) if p.signature == signature => p.next.clamp(min, backoff.max),
        _ => min,
    };
    match hint {
        Some(h) if h > base => (
            h,
            Pace {
                signature,
                next: min,
            },
        ),
        _ => (
            base,
            Pace {
                signature,
                next: (base * 2).min(backoff.max),
            },
        ),
    }
}

/// A hash of what a pass showed: node states and addresses, and the condition's reason and
/// message (progress is any change of these).
pub fn signature(nodes: &[NodeStatus], reason: &str, message: &str) -> u64 {
    let mut h = DefaultHasher::new();
    for n in nodes {
        n.name.hash(&mut h);
        n.state.hash(&mut h);
        n.address.hash(&mut h);
        n.server_id.hash(&mut h);
        n.volume_id.hash(&mut h);
    }
    reason.hash(&mut h);
    message.hash(&mut h);
    h.finish()
}

/// Which cloud lists a pass needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Lists {
    /// The cluster's servers.
    pub servers: bool,
    /// The cluster's volumes.
    pub volumes: bool,
}

impl Lists {
    /// Both lists.
    pub const ALL: Lists = Lists {
        servers: true,
        volumes: true,
    };

    /// Whether any list is needed.
    pub fn any(self) -> bool {
        self.servers || self.volumes
    }
}

/// The lists a pass needs, given the previous observation and the plan made from it: servers
/// while a planned node's server is missing or not ACTIVE; volumes while a node that keeps
/// its brick on a volume has none yet, or one in a transition (creating, detaching, …) other
/// than an attachment its server shows (awaited through the nodes, see
/// [`attachments_pending`]), or one `in-use` that its server does not show, or one available
/// that its server shows attached (then the servers too).
pub fn lists_needed(previous: &Observed, plan: &ClusterPlan) -> Lists {
    let mut lists = Lists::default();
    for node in &plan.nodes {
        let server = previous.server(&node.name);
        match server {
            Some(s) if s.status == ServerStatus::Active => {}
            _ => lists.servers = true,
        }
        if node.storage.storage() != Some(BrickStorage::Volume) {
            continue;
        }
        let Some(volume) = previous.volume(&node.name) else {
            lists.volumes = true;
            continue;
        };
        let attached =
            server.is_some_and(|s| s.attached_volume_ids().contains(&volume.id.as_str()));
        match (&volume.status, attached) {
            // An attachment under way is awaited through the nodes (see
            // `attachments_pending`), not by listing Cinder.
            (VolumeStatus::InUse, true)
            | (VolumeStatus::Available, false)
            | (VolumeStatus::Attaching, true) => {}
            // Cinder and Nova disagree (an attachment noted but not yet seen, or one seen
            // by Cinder only): both again.
            (VolumeStatus::InUse, false) | (VolumeStatus::Available, true) => {
                lists.volumes = true;
                lists.servers = true;
            }
            _ => lists.volumes = true,
        }
    }
    lists
}

/// Whether the attachments requested for the plan's volume-backed nodes are all that is
/// awaited: each such node whose volume is not `in-use` has its server ACTIVE showing the
/// attachment and the volume `attaching` (at least one), every other node is settled.
pub fn attachments_pending(observed: &Observed, plan: &ClusterPlan) -> bool {
    let mut pending = false;
    for node in &plan.nodes {
        let Some(server) = observed.server(&node.name) else {
            return false;
        };
        if server.status != ServerStatus::Active {
            return false;
        }
        if node.storage.storage() != Some(BrickStorage::Volume) {
            continue;
        }
        let Some(volume) = observed.volume(&node.name) else {
            return false;
        };
        let attached = server.attached_volume_ids().contains(&volume.id.as_str());
        match (&volume.status, attached) {
            (VolumeStatus::InUse, true) => {}
            (VolumeStatus::Attaching, true) => pending = true,
            _ => return false,
        }
    }
    pending
}

/// Server build durations seen in this cloud (`launched_at − created`), the most recent
/// [`BUILD_SAMPLES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildTimes {
    samples: Vec<Duration>,
    seen: Vec<String>,
}

impl BuildTimes {
    /// Notes the build time of each ACTIVE server not noted yet.
    pub fn learn(&mut self, servers: &[Server]) {
        for s in servers {
            if s.status != ServerStatus::Active || self.seen.contains(&s.id) {
                continue;
            }
            let Some(took) = build_time(s) else {
                continue;
            };
            self.seen.push(s.id.clone());
            if self.seen.len() > 4 * BUILD_SAMPLES {
                self.seen.remove(0);
            }
            self.samples.push(took);
            if self.samples.len() > BUILD_SAMPLES {
                self.samples.remove(0);
            }
        }
    }

    /// The shortest build time remembered, less a second (Nova's `created` has whole
    /// seconds): a poll there is early rather than late, the backoff covers the rest.
    pub fn estimate(&self) -> Option<Duration> {
        self.samples
            .iter()
            .min()
            .map(|d| d.saturating_sub(Duration::from_secs(1)))
    }
}

/// `launched_at − created` of a server, when Nova reports both.
pub fn build_time(server: &Server) -> Option<Duration> {
    let parse = |t: &str| -> Option<DateTime> {
        let t = t.trim_end_matches('Z');
        let t = t.split('+').next().unwrap_or(t);
        t.parse().ok()
    };
    let created = parse(server.created.as_deref()?)?;
    let launched = parse(server.launched_at.as_deref()?)?;
    let span = created.until(launched).ok()?;
    let secs = span.total(k8s_openapi::jiff::Unit::Second).ok()?;
    (secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The expected remaining wait for servers in BUILD that this process created at
/// `created_at`, from the build time estimate.
pub fn build_hint(
    servers_building: bool,
    created_at: Option<Instant>,
    estimate: Option<Duration>,
    now: Instant,
) -> Option<Duration> {
    if !servers_building {
        return None;
    }
    let due = created_at? + estimate?;
    due.checked_duration_since(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        min: Duration::from_millis(250),
        max: Duration::from_secs(2),
    };

    #[test]
    fn backoff_doubles_while_nothing_changes_and_resets_on_progress() {
        let (d1, p1) = next_delay(None, 1, B, None);
        let (d2, p2) = next_delay(Some(p1), 1, B, None);
        let (d3, p3) = next_delay(Some(p2), 1, B, None);
        assert_eq!(
            (d1, d2, d3),
            (
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_secs(1)
            )
        );
        let (d4, p4) = next_delay(Some(p3), 1, B, None);
        let (d5, _) = next_delay(Some(p4), 1, B, None);
        assert_eq!((d4, d5), (Duration::from_secs(2), Duration::from_secs(2)));
        let (d6, _) = next_delay(Some(p4), 2, B, None);
        assert_eq!(d6, Duration::from_millis(250));
    }

    #[test]
    fn a_longer_hint_wins_and_the_backoff_restarts_after_it() {
        let (d, p) = next_delay(None, 1, B, Some(Duration::from_secs(7)));
        assert_eq!(d, Duration::from_secs(7));
        let (d, _) = next_delay(Some(p), 1, B, None);
        assert_eq!(d, Duration::from_millis(250));
        let (d, _) = next_delay(None, 1, B, Some(Duration::from_millis(10)));
        assert_eq!(d, Duration::from_millis(250));
    }

    #[test]
    fn a_cap_below_the_minimum_is_the_delay() {
        let tiny = Backoff {
            min: Duration::from_millis(250),
            max: Duration::from_millis(100),
        };
        let (d, p) = next_delay(None, 1, tiny, None);
        let (d2, _) = next_delay(Some(p), 1, tiny, None);
        assert_eq!(
            (d, d2),
            (Duration::from_millis(100), Duration::from_millis(100))
        );
    }

    fn server(id: &str, status: &str, created: &str, launched: Option<&str>) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "status": status, "created": created,
            "OS-SRV-USG:launched_at": launched, "flavor": {}, "addresses": {},
        }))
        .expect("a server document")
    }

    #[test]
    fn build_times_come_from_nova_timestamps() {
        let s = server(
            "a",
            "ACTIVE",
            "2026-12-04T10:00:00Z",
            Some("2026-12-04T10:00:02.500000"),
        );
        assert_eq!(build_time(&s), Some(Duration::from_millis(2500)));
        let mut times = BuildTimes::default();
        times.learn(&[
            s.clone(),
            server("b", "BUILD", "2026-12-04T10:00:00Z", None),
            server(
                "c",
                "ACTIVE",
                "2026-12-04T10:00:00Z",
                Some("2026-12-04T10:00:03.000000"),
            ),
        ]);
        times.learn(&[s]);
        assert_eq!(times.estimate(), Some(Duration::from_millis(1500)));
        assert_eq!(times.samples.len(), 2);
    }

    #[test]
    fn the_build_hint_is_the_expected_remaining_time() {
        let t0 = Instant::now();
        let est = Some(Duration::from_secs(3));
        assert_eq!(
            build_hint(true, Some(t0), est, t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            build_hint(true, Some(t0), est, t0 + Duration::from_secs(4)),
            None
        );
        assert_eq!(build_hint(false, Some(t0), est, t0), None);
        assert_eq!(build_hint(true, None, est, t0), None);
    }

    fn owner() -> crate::controller::owner::Owner {
        crate::controller::owner::Owner {
            namespace: "ns".into(),
            name: "c".into(),
            uid: "u".into(),
        }
    }

    fn node_server(name: &str, index: u32, status: &str, attached: &[&str]) -> Server {
        let volumes: Vec<_> = attached
            .iter()
            .map(|v| serde_json::json!({"id": v}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": format!("srv-{name}"), "name": name, "status": status,
            "OS-EXT-AZ:availability_zone": "a",
            "metadata": owner().node_metadata(name, index),
            "os-extended-volumes:volumes_attached": volumes,
            "flavor": {}, "addresses": {},
        }))
        .expect("a server document")
    }

    fn node_volume(name: &str, index: u32, status: &str) -> crate::cloud::Volume {
        serde_json::from_value(serde_json::json!({
            "id": format!("vol-{name}"), "name": format!("{name}-brick"), "status": status,
            "size": 1, "availability_zone": "a",
            "metadata": owner().node_metadata(name, index),
        }))
        .expect("a volume document")
    }

    fn two_node_plan() -> ClusterPlan {
        let spec: crate::api::GlusterClusterSpec = serde_yaml::from_str(
            "cloud: {secretName: s, cloudName: c}\nimage: i\nflavor: f\nnetwork: n\nzones: [{name: a, nodes: 2}]\nbrick: {size: 1Gi}\nvolume: {name: v}\n",
        )
        .expect("spec");
        let facts = crate::plan::CloudFacts {
            block_storage_zones: Some(["a".to_string()].into()),
        };
        crate::plan::plan_cluster("c", &spec, &facts).expect("plan")
    }

    #[test]
    fn only_what_is_awaited_is_listed() {
        let plan = two_node_plan();
        let names: Vec<String> = plan.nodes.iter().map(|n| n.name.clone()).collect();
        let (a, b) = (names[0].as_str(), names[1].as_str());
        // Nothing yet: both lists.
        assert_eq!(lists_needed(&Observed::default(), &plan), Lists::ALL);
        // Servers building, volumes available: servers only.
        let building = Observed {
            servers: vec![
                node_server(a, 0, "BUILD", &[]),
                node_server(b, 1, "BUILD", &[]),
            ],
            volumes: vec![
                node_volume(a, 0, "available"),
                node_volume(b, 1, "available"),
            ],
            ..Observed::default()
        };
        assert_eq!(
            lists_needed(&building, &plan),
            Lists {
                servers: true,
                volumes: false
            }
        );
        // A volume still creating: volumes too.
        let mut creating = building.clone();
        creating.volumes[1] = node_volume(b, 1, "creating");
        assert_eq!(lists_needed(&creating, &plan), Lists::ALL);
        // Active, attachments under way (noted): nothing listed; they are awaited through
        // the nodes.
        let attaching = Observed {
            servers: vec![
                node_server(a, 0, "ACTIVE", &[&format!("vol-{a}")]),
                node_server(b, 1, "ACTIVE", &[&format!("vol-{b}")]),
            ],
            volumes: vec![node_volume(a, 0, "attaching"), node_volume(b, 1, "in-use")],
            ..Observed::default()
        };
        assert!(!lists_needed(&attaching, &plan).any());
        assert!(attachments_pending(&attaching, &plan));
        // Everything attached: nothing listed, nothing pending.
        let mut settled = attaching.clone();
        settled.volumes[0] = node_volume(a, 0, "in-use");
        assert!(!lists_needed(&settled, &plan).any());
        assert!(!attachments_pending(&settled, &plan));
        // Cinder and Nova disagree: both again.
        let mut odd = settled.clone();
        odd.volumes[0] = node_volume(a, 0, "available");
        assert_eq!(lists_needed(&odd, &plan), Lists::ALL);
        assert!(!attachments_pending(&odd, &plan));
    }
}

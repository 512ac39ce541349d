//! Decide, after act (pure): what act reports ([`Outcome`]) and the decision become the
//! status, the wait before the next pass, the Events and the new [`Memory`] ([`conclude`]); a
//! failed pass becomes its condition ([`failed`]); a deletion under way its backoff.

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::conditions::{
    BRICK_OFFLINE, DEGRADED, HEAL_PENDING, PEER_LOST, TRUE, UNKNOWN, find,
};
use crate::api::{GlusterClusterSpec, GlusterClusterStatus, HealthStatus};
use crate::cloud::{ServerStatus, VolumeStatus};
use crate::controller::observe::{GlusterSeen, SeenVolume};
use crate::plan::{ClusterPlan, format_bytes};

use super::gluster::{self, GlusterNodes};
use super::health::{self, Degraded};
use super::memory::Memory;
use super::pace::Pace;
use super::status::{self, Findings, GlusterView, Progress};
use super::{Action, Awaited, Decision, Failure, Input, Tuning, pace};

/// One thing act did (an Event each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// CamelCase reason (`ServerCreated`, `VolumeAttached`, …).
    pub reason: String,
    /// What, naming the node and the cloud ID.
    pub note: String,
}

/// What the gluster steps came to.
#[derive(Debug, Clone, PartialEq)]
pub enum GlusterOutcome {
    /// The steps ran until the end or a wait.
    Ran {
        /// The steps taken.
        done: Vec<Done>,
        /// Why the run stopped early.
        waiting: Option<String>,
        /// The volume as seen after the steps (observed again when any was taken).
        after: Option<Option<SeenVolume>>,
    },
    /// A step failed.
    Failed(Failure),
}

/// What act reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The cloud actions taken.
    pub cloud: Vec<Done>,
    /// The attachments made: (server ID, volume ID).
    pub attached: Vec<(String, String)>,
    /// The gluster steps, when there were any to run.
    pub gluster: Option<GlusterOutcome>,
    /// The repairs made (offline bricks restarted).
    pub repairs: Vec<Done>,
    /// A repair that failed.
    pub repair_failure: Option<Failure>,
}

/// An Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// A Warning (else Normal).
    pub warning: bool,
    /// CamelCase reason.
    pub reason: String,
    /// The Event's action (`Create`, `Gluster`, `Reconcile`).
    pub action: &'static str,
    /// The note.
    pub note: String,
}

/// The end of a pass: the status (written when it differs from the object's), when to look
/// again, what to remember, the Events to publish and the error reasons to count.
#[derive(Debug, Clone)]
pub struct Pass {
    /// The status.
    pub status: GlusterClusterStatus,
    /// The wait before the next pass.
    pub requeue: Duration,
    /// What to remember.
    pub memory: Memory,
    /// Events.
    pub notes: Vec<Note>,
    /// Reasons of the failures to count in the error metric.
    pub errors: Vec<String>,
}

/// The status, the wait and the memory after act reported `outcome` (`finished`: when act
/// ended, `wall`: the condition timestamps).
pub fn conclude(
    input: &Input,
    decision: Decision,
    outcome: Outcome,
    finished: Instant,
    wall: Time,
) -> Pass {
    let Input {
        spec,
        snapshot,
        memory,
        generation,
        tuning,
        previous,
        now,
        ..
    } = *input;
    let Decision {
        plan,
        mut nodes,
        gluster_nodes,
        mut progress,
        booted,
        ensure_group,
        mut cap,
        mut fixed,
        mut failure,
        failed_servers,
        mut healing,
        replacing,
        last_copies,
        unsettled,
        actions,
        ..
    } = decision;
    // Every step ran to its end (the heal wait of replaced nodes among them): healed.
    if matches!(
        outcome.gluster,
        Some(GlusterOutcome::Ran { waiting: None, .. })
    ) {
        healing.clear();
    }
    let mut notes: Vec<Note> = outcome
        .cloud
        .iter()
        .map(|d| note(false, &d.reason, "Create", &d.note))
        .collect();
    // Opening to the world is the spec's explicit choice, and said loudly whenever the group
    // is brought in line with it.
    if ensure_group {
        let clients = super::world_open(&spec.volume.allowed_clients);
        let ssh = super::world_open(&spec.ssh_from);
        if !clients.is_empty() || !ssh.is_empty() {
            let mut open = Vec::new();
            if !clients.is_empty() {
                open.push(format!(
                    "the gluster ports (spec.volume.allowedClients: {})",
                    clients.join(", ")
                ));
            }
            if !ssh.is_empty() {
                open.push(format!("SSH (spec.sshFrom: {})", ssh.join(", ")));
            }
            notes.push(note(
                true,
                "OpenToWorld",
                "Reconcile",
                &format!(
                    "the security group admits any address to {}",
                    open.join(" and ")
                ),
            ));
        }
    }
    let created_now = outcome.cloud.iter().any(|d| d.reason == "ServerCreated");
    let attached_now = !outcome.attached.is_empty();
    // What act created shows in the next pass's observation; attachments are noted here.
    let mut observed = snapshot.cloud.clone();
    // What act deleted is gone from what the next pass starts from (it may not list that
    // kind again: a server ACTIVE in the observation is not looked at).
    for action in &actions {
        match action {
            Action::DeleteUnusedVolume {
                volume_id,
                server_id,
                ..
            } => {
                observed.volumes.retain(|v| &v.id != volume_id);
                observed
                    .servers
                    .retain(|s| Some(&s.id) != server_id.as_ref());
            }
            Action::DeleteFailedServer { server_id, .. }
            | Action::DeleteDuplicateServer { server_id, .. } => {
                observed.servers.retain(|s| &s.id != server_id);
            }
            _ => {}
        }
    }
    for (server_id, volume_id) in &outcome.attached {
        if let Some(s) = observed.servers.iter_mut().find(|s| &s.id == server_id) {
            s.note_attached(volume_id);
        }
        if let Some(v) = observed.volumes.iter_mut().find(|v| &v.id == volume_id) {
            v.status = VolumeStatus::Attaching;
        }
    }
    let mut view = None;
    let mut figures: Option<HealthStatus> = None;
    let mut degraded: Option<Degraded> = None;
    let previous_degraded = previous
        .and_then(|p| find(&p.conditions, DEGRADED))
        .map(|c| (c.status.clone(), c.reason.clone()));
    let has_degraded = previous_degraded.is_some();
    if let (GlusterSeen::Failed(f), Some(_)) =
        (&snapshot.gluster, previous.and_then(|p| p.volume.as_ref()))
    {
        degraded = Some(health::unreachable(&f.message));
    }
    notes.extend(
        outcome
            .repairs
            .iter()
            .map(|d| note(false, &d.reason, "Repair", &d.note)),
    );
    let repaired = !outcome.repairs.is_empty() || outcome.repair_failure.is_some();
    if let Some(f) = &outcome.repair_failure {
        notes.push(note(true, &f.reason, "Repair", &f.message));
    }
    match (outcome.gluster, gluster_nodes) {
        (
            Some(GlusterOutcome::Ran {
                done,
                waiting,
                after,
            }),
            Some(gnodes),
        ) => {
            notes.extend(
                done.iter()
                    .map(|d| note(false, &d.reason, "Gluster", &d.note)),
            );
            let before = match &snapshot.gluster {
                GlusterSeen::Volume { volume, .. } => volume.clone(),
                _ => None,
            };
            let seen = after.unwrap_or(before);
            let (v, waiting) =
                gluster_view(&spec.volume.name, &plan, seen.as_ref(), &gnodes, waiting);
            if let Some(volume) = &v.volume {
                status::mark_ready(&mut nodes, volume);
            }
            figures = match (seen.as_ref(), v.volume.as_ref()) {
                (Some(s), Some(volume)) => health::figures(s, volume, &gnodes),
                _ => None,
            };
            degraded = match (&figures, &v.volume) {
                (Some(h), _) => Some(health::degraded(h, tuning.capacity_low_percent)),
                (None, Some(_)) if !has_degraded => Some(Degraded {
                    status: UNKNOWN,
                    reason: "HealthNotRead",
                    message:
                        "not read yet (the volume is not started, or its status did not answer)"
                            .into(),
                }),
                _ => None,
            };
            progress = status::gluster_progress(
                &nodes,
                v.volume.as_ref(),
                waiting.as_deref(),
                figures.as_ref(),
            );
            view = Some(v);
        }
        (Some(GlusterOutcome::Failed(f)), _) => {
            progress = f.progress();
            if f.terminal {
                fixed = Some(tuning.requeue_error);
            }
            failure = Some(f);
        }
        _ => {}
    }
    // Lost nodes being replaced, or bricks that held the last copy, say so first.
    if previous.is_some_and(|p| p.volume.is_some()) {
        degraded = health::replacement(degraded, &replacing, &healing, &last_copies);
    }
    let mut errors = Vec::new();
    if let Some(f) = &failure {
        notes.push(note(true, &f.reason, "Gluster", &f.message));
        errors.push(f.reason.clone());
    }
    if let Some(f) = &outcome.repair_failure {
        errors.push(f.reason.clone());
    }
    // Every change of Degraded's status or reason is an Event.
    let mut cloud_check = false;
    if let Some(d) = &degraded {
        let changed = previous_degraded
            .as_ref()
            .is_none_or(|(s, r)| s != d.status || r != d.reason);
        if changed && d.status != UNKNOWN {
            let warning = d.status == TRUE;
            let was_degraded = previous_degraded.as_ref().is_some_and(|(s, _)| s == TRUE);
            // `Recovered` when it clears; the first healthy read says `Healthy`.
            let reason = match (warning, was_degraded) {
                (true, _) => d.reason,
                (false, true) => "Recovered",
                (false, false) => d.reason,
            };
            notes.push(note(warning, reason, "Health", &d.message));
        }
        // Newly wrong: the next pass lists the cloud too.
        cloud_check = d.status == TRUE && previous_degraded.as_ref().is_none_or(|(s, _)| s != TRUE);
    }
    // While the health holds Ready back, the backoff (reset by a change of reason only: heal
    // counts move all the time) goes up to the health interval.
    let health_held = figures.is_some()
        && matches!(&progress, Progress::Working { reason, .. }
            if [PEER_LOST, BRICK_OFFLINE, HEAL_PENDING].contains(&reason.as_str()));
    if health_held {
        cap = tuning.health_interval;
    }
    let ready = matches!(progress, Progress::Ready { .. });
    let servers_created_at = if created_now {
        Some(now)
    } else {
        memory.servers_created_at
    };
    let building = created_now
        || observed
            .servers
            .iter()
            .any(|s| s.status == ServerStatus::Build);
    if snapshot.look.awaiting_attachments
        || (!booted && pace::attachments_pending(&observed, &plan))
    {
        cap = tuning.requeue_bootstrap;
    }
    let same_generation = memory.generation == generation;
    let (requeue, pace) = match (&progress, fixed) {
        (Progress::Ready { .. }, _) => (tuning.requeue_settled.min(tuning.health_interval), None),
        (_, Some(d)) => (d, None),
        (Progress::Stalled { .. }, None) if figures.is_some() => {
            (tuning.requeue_stalled.min(tuning.health_interval), None)
        }
        (Progress::Stalled { .. }, None) => (tuning.requeue_stalled, None),
        (Progress::Working { reason, message }, None) => {
            let message = if health_held { "" } else { message.as_str() };
            let hint = pace::build_hint(building, servers_created_at, snapshot.build_estimate, now);
            let (d, p) = pace::next_delay(
                memory.pace.filter(|_| same_generation),
                pace::signature(&nodes, reason, message),
                pace::Backoff {
                    min: tuning.requeue_min,
                    max: cap,
                },
                hint,
            );
            (d, Some(p))
        }
    };
    let zones = status::zone_statuses(&plan, &nodes);
    let desired = plan.nodes.len() as u32;
    let status = status::build_status(
        previous,
        Findings {
            generation,
            desired_nodes: desired,
            nodes,
            zones,
            gluster: view,
            health: figures,
            degraded,
        },
        &progress,
        wall,
    );
    let memory = Memory {
        generation,
        observed: Some(observed),
        plan: Some(plan),
        full_at: if snapshot.look.full {
            Some(now)
        } else {
            memory.full_at
        },
        security_group: ensure_group || (same_generation && memory.security_group),
        pace,
        next_at: Some(finished + requeue),
        ready,
        failed_servers,
        healing,
        unsettled,
        servers_created_at: servers_created_at.filter(|_| building),
        volumes_at: if snapshot.look.lists.volumes || attached_now {
            Some(now)
        } else {
            memory.volumes_at
        },
        attached_at: if attached_now {
            Some(now)
        } else {
            memory.attached_at
        },
        restarted_at: if repaired {
            Some(now)
        } else {
            memory.restarted_at
        },
        cloud_check,
    };
    Pass {
        status,
        requeue,
        memory,
        notes,
        errors,
    }
}

/// What gluster shows for the status: the volume, its capacity, the mount; and why the volume
/// is not settled yet (`waiting`, else a data migration gluster still runs).
fn gluster_view(
    volume_name: &str,
    plan: &ClusterPlan,
    seen: Option<&SeenVolume>,
    nodes: &GlusterNodes,
    waiting: Option<String>,
) -> (GlusterView, Option<String>) {
    // A rebalance started by an earlier pass is not in this pass's plan (the bricks are all
    // there): the volume is not settled until gluster says the task finished.
    let waiting = waiting.or_else(|| {
        seen.and_then(|s| s.status.as_deref())
            .and_then(|s| gluster::running_task(volume_name, s))
    });
    let volume = seen.map(|s| gluster::volume_status(&s.info, s.status.as_deref(), nodes));
    let started = volume.as_ref().and_then(|v| v.state.as_deref()) == Some("Started");
    let (mount, backups) = match gluster::mount_of(volume_name, nodes) {
        Some((m, b)) if started => (Some(m), b),
        _ => (None, Vec::new()),
    };
    (
        GlusterView {
            capacity: volume.as_ref().map(|_| format_bytes(plan.capacity())),
            volume,
            mount,
            backup_volfile_servers: backups,
        },
        waiting,
    )
}

/// The end of a failed pass: the error as the condition (`Stalled` when only a change can
/// help, else `Reconciling`), the nodes and zones as the object showed them, the wait (see
/// [`failure_delay`]; `memory` is the memory the pass started with, whose backoff a failure
/// that waits for something continues) and a memory that makes the next pass observe
/// everything again.
#[allow(clippy::too_many_arguments)]
pub fn failed(
    failure: &Failure,
    spec: &GlusterClusterSpec,
    generation: Option<i64>,
    previous: Option<&GlusterClusterStatus>,
    memory: &Memory,
    tuning: &Tuning,
    finished: Instant,
    wall: Time,
) -> Pass {
    let nodes = previous.map(|p| p.nodes.clone()).unwrap_or_default();
    let zones = previous.map(|p| p.zones.clone()).unwrap_or_default();
    let desired = spec.zones.iter().map(|z| z.nodes).sum();
    let status = status::build_status(
        previous,
        Findings {
            generation,
            desired_nodes: desired,
            nodes,
            zones,
            gluster: None,
            health: None,
            degraded: None,
        },
        &failure.progress(),
        wall,
    );
    let (requeue, pace) = failure_delay(failure, memory.pace, tuning);
    Pass {
        status,
        requeue,
        memory: Memory::after_failure(generation, finished + requeue, pace),
        notes: vec![note(true, &failure.reason, "Reconcile", &failure.message)],
        errors: if failure.terminal {
            vec![failure.reason.clone()]
        } else {
            Vec::new()
        },
    }
}

/// The wait after a failure, and the backoff to remember:
/// - terminal, waiting for something that may arrive by itself ([`Failure::awaits`]): a
///   backoff from the working cap that doubles while the same failure repeats, up to the error
///   delay for a Kubernetes object (a cheap read) or the stalled interval for a cloud resource;
/// - terminal otherwise: `requeue_stalled` (only a change helps; a spec change is a watch
///   event);
/// - else the cloud's `Retry-After` (at least the working cap), else the error delay.
pub fn failure_delay(
    failure: &Failure,
    previous: Option<Pace>,
    tuning: &Tuning,
) -> (Duration, Option<Pace>) {
    if !failure.terminal {
        return (retry_delay(failure, tuning), None);
    }
    let Some(awaited) = failure.awaits else {
        return (tuning.requeue_stalled, None);
    };
    let max = match awaited {
        Awaited::KubernetesObject => tuning.requeue_error,
        Awaited::CloudResource => tuning.requeue_stalled,
    };
    // The same failure again (no node to tell passes apart) continues the backoff.
    let (delay, pace) = pace::next_delay(
        previous,
        pace::signature(&[], &failure.reason, &failure.message),
        pace::Backoff {
            min: tuning.requeue_working,
            max,
        },
        None,
    );
    (delay, Some(pace))
}

/// The wait before retrying a failure that is not terminal: the cloud's `Retry-After` (at
/// least the working cap), else the error delay.
pub fn retry_delay(failure: &Failure, tuning: &Tuning) -> Duration {
    if failure.cloud {
        failure
            .retry_after
            .unwrap_or(tuning.requeue_error)
            .max(tuning.requeue_working)
    } else {
        tuning.requeue_error
    }
}

/// A cleanup pass that left `left_signature` (a hash of what is left): look again after the
/// backoff between `requeue_min` and `requeue_working`, reset when what is left changes.
pub fn still_deleting(memory: &Memory, left_signature: u64, tuning: &Tuning) -> (Duration, Memory) {
    let (delay, pace) = pace::next_delay(
        memory.pace,
        left_signature,
        pace::Backoff {
            min: tuning.requeue_min,
            max: tuning.requeue_working,
        },
        None,
    );
    let memory = Memory {
        pace: Some(pace),
        ..memory.clone()
    };
    (delay, memory)
}

fn note(warning: bool, reason: &str, action: &'static str, text: &str) -> Note {
    Note {
        warning,
        reason: reason.to_string(),
        action,
        note: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::CloudError;
    use crate::controller::context::ControllerConfig;
    use crate::controller::error::ReconcileError;

    /// The delays of a sequence of passes failing with `e` (each continuing the last one's
    /// backoff).
    fn delays(e: &ReconcileError, passes: usize, tuning: &Tuning) -> Vec<Duration> {
        let failure = Failure::of(e);
        let mut pace = None;
        (0..passes)
            .map(|_| {
                let (delay, next) = failure_delay(&failure, pace, tuning);
                pace = next;
                delay
            })
            .collect()
    }

    #[test]
    fn what_may_arrive_late_is_looked_for_on_a_short_backoff_and_the_rest_waits_for_a_change() {
        let t = Tuning::of(&ControllerConfig::default());
        let s = Duration::from_secs;
        // A missing Secret (a GitOps tool syncs it after the cluster): 2 s doubling to 15 s.
        let secret = ReconcileError::CloudSecret("Secret ns/creds not found".into());
        assert_eq!(Failure::of(&secret).awaits, Some(Awaited::KubernetesObject));
        assert_eq!(
            delays(&secret, 5, &t),
            [s(2), s(4), s(8), t.requeue_error, t.requeue_error]
        );
        // An image the cloud does not show (yet): doubling up to the stalled interval.
        let image = ReconcileError::Cloud(CloudError::NotFound {
            kind: "image",
            name: "debian-13".into(),
        });
        assert_eq!(Failure::of(&image).awaits, Some(Awaited::CloudResource));
        let waits = delays(&image, 10, &t);
        assert_eq!(waits[..4], [s(2), s(4), s(8), s(16)]);
        assert_eq!(waits[9], t.requeue_stalled);
        // A spec the planner refuses waits for a change (a watch event), not a timer.
        let refused = ReconcileError::UnknownDistro("plan9".into());
        assert_eq!(Failure::of(&refused).awaits, None);
        assert_eq!(delays(&refused, 2, &t), [t.requeue_stalled; 2]);
        // Another failure starts the backoff again.
        let (_, pace) = failure_delay(&Failure::of(&secret), None, &t);
        let (_, pace) = failure_delay(&Failure::of(&secret), pace, &t);
        assert_eq!(failure_delay(&Failure::of(&image), pace, &t).0, s(2));
    }
}

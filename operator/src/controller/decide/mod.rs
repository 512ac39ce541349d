//! Decide (pure): from the spec, the pass's [`Snapshot`] and the cluster's [`Memory`] to the
//! typed [`Action`]s of this pass ([`decide`]), then — with what act reports — to the status
//! patch, the wait before the next pass and the new memory ([`conclude`]). No I/O, no clock
//! (`now` is an input), no randomness: every rule of the reconciler is here and tested with
//! plain data (see `docs/design.md`, "Decide").
//!
//! - [`look`]: what the next observation looks at (lists, probes, gluster or not);
//! - [`decide`]: the planner, called once; servers in ERROR deleted for replacement; missing
//!   nodes created (their brick volume reused when it survived); volumes attached; the
//!   gluster steps once every node is up and bootstrapped;
//! - [`conclude`]: `Ready`, `Reconciling` or `Stalled` with their reasons, the node and zone
//!   statuses, `status.volume` and `status.mount`, the backoff;
//! - [`failed`]: the same for a pass that failed (the error as a condition).

pub mod actions;
pub mod conclude;
pub mod duplicates;
pub mod gluster;
pub mod health;
pub mod looks;
pub mod lost_bricks;
pub mod memory;
pub mod pace;
pub mod scalein;
pub mod status;
pub mod unsettled;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::conditions::{CLOUD_RESOURCE_STUCK, LAST_COPY_LOST};
use crate::api::{GlusterClusterSpec, GlusterClusterStatus, NodeState, NodeStatus};
use crate::plan::{ClusterPlan, plan_change};

use super::context::ControllerConfig;
use super::error::ReconcileError;
use super::observe::{self, GlusterSeen, Snapshot, cloud_facts, current_state};

pub use actions::{Action, NewBrick, runnable, security_group, size_gib, world_open};
pub use conclude::{
    Done, GlusterOutcome, Note, Outcome, Pass, conclude, failed, failure_delay, retry_delay,
    still_deleting,
};
pub use gluster::GlusterNodes;
pub use looks::{Look, NodeUp, look, nodes_up};
pub use memory::Memory;
pub use pace::Pace;
pub use status::{Findings, GlusterView, Progress};

/// The delays decide works with (from [`ControllerConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// First delay of the backoff, and the delay again after progress.
    pub requeue_min: Duration,
    /// Cap of the backoff while the cloud works.
    pub requeue_working: Duration,
    /// Cap of the backoff while the nodes work (attachments, bootstrap, gluster).
    pub requeue_bootstrap: Duration,
    /// Delay after an error worth retrying.
    pub requeue_error: Duration,
    /// Delay of a Stalled cluster.
    pub requeue_stalled: Duration,
    /// Delay of a Ready cluster (the drift check).
    pub requeue_settled: Duration,
    /// The longest a pass goes on from the previous observation.
    pub observe_max_age: Duration,
    /// Delay between health reads of a settled cluster, and the backoff's cap while the
    /// health holds `Ready` back.
    pub health_interval: Duration,
    /// The `CapacityLow` threshold, in percent used of a brick filesystem.
    pub capacity_low_percent: u32,
    /// How long a server that ran may stay in ERROR after its hard reboot.
    pub server_error_grace: Duration,
    /// How long a server may stay in BUILD, or a brick volume creating, attaching or
    /// detaching, before it counts as stuck.
    pub cloud_settle_timeout: Duration,
}

impl Tuning {
    /// The delays of `config`.
    pub fn of(config: &ControllerConfig) -> Tuning {
        Tuning {
            requeue_min: config.requeue_min,
            requeue_working: config.requeue_working,
            requeue_bootstrap: config.requeue_bootstrap,
            requeue_error: config.requeue_error,
            requeue_stalled: config.requeue_stalled,
            requeue_settled: config.requeue_settled,
            observe_max_age: config.observe_max_age,
            health_interval: config.health_interval,
            capacity_low_percent: config.capacity_low_percent,
            server_error_grace: config.server_error_grace,
            cloud_settle_timeout: config.cloud_settle_timeout,
        }
    }
}

/// Why something failed, as data: a reason (condition reason and metric label), a message
/// (no secret: errors never carry one), whether only a change can help, and the cloud's
/// `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// CamelCase reason.
    pub reason: String,
    /// The condition message.
    pub message: String,
    /// Retrying without a change cannot help (`Stalled`).
    pub terminal: bool,
    /// A failure of the cloud (its waits are at least the working cap).
    pub cloud: bool,
    /// The wait the cloud asked for, if any.
    pub retry_after: Option<Duration>,
    /// What a terminal failure waits for when it is something that may appear by itself (a
    /// GitOps tool syncs objects in any order): looked for again on a short backoff instead of
    /// the stalled interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaits: Option<Awaited>,
}

/// Something outside the spec a stalled cluster waits for, and so how soon it looks again
/// (`docs/design.md`, "Waiting for what arrives late").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Awaited {
    /// A Kubernetes object (the credentials Secret): one cheap read of the API server, looked
    /// for on a backoff capped at the error delay.
    KubernetesObject,
    /// A cloud resource named by the spec (image, flavor, network): cloud calls, looked for on
    /// a backoff up to the stalled interval.
    CloudResource,
}

impl Failure {
    /// The failure of error `e`.
    pub fn of(e: &ReconcileError) -> Failure {
        Failure {
            reason: e.reason().to_string(),
            message: e.condition_message(),
            terminal: e.is_terminal(),
            cloud: matches!(e, ReconcileError::Cloud(_)),
            retry_after: match e {
                ReconcileError::Cloud(c) => c.retry_after(),
                _ => None,
            },
            awaits: awaited(e),
        }
    }

    fn progress(&self) -> Progress {
        if self.terminal {
            Progress::Stalled {
                reason: self.reason.clone(),
                message: self.message.clone(),
            }
        } else {
            Progress::Working {
                reason: self.reason.clone(),
                message: self.message.clone(),
            }
        }
    }
}

/// What a terminal error waits for, when it may arrive without a change to the spec: the
/// credentials Secret (missing, or without `clouds.yaml` yet), or an image, flavor or network
/// the spec names and the cloud does not show (yet).
fn awaited(e: &ReconcileError) -> Option<Awaited> {
    match e {
        ReconcileError::CloudSecret(_) => Some(Awaited::KubernetesObject),
        ReconcileError::Cloud(c) if c.is_not_found() && !c.is_retryable() => {
            Some(Awaited::CloudResource)
        }
        _ => None,
    }
}

/// What one pass decides from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The cluster's name.
    pub name: &'a str,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// The spec.
    pub spec: &'a GlusterClusterSpec,
    /// The status as the object shows it.
    pub previous: Option<&'a GlusterClusterStatus>,
    /// What observe saw this pass.
    pub snapshot: &'a Snapshot,
    /// What earlier passes left.
    pub memory: &'a Memory,
    /// When the pass started.
    pub now: Instant,
    /// The delays.
    pub tuning: Tuning,
}

/// What decide chose for one pass, before act.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The plan (the planner's one call this pass).
    pub plan: ClusterPlan,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// The nodes' statuses from the snapshot.
    pub nodes: Vec<NodeStatus>,
    /// The nodes gluster runs on (once every node is up).
    pub gluster_nodes: Option<GlusterNodes>,
    /// The condition when act cannot change it (no gluster steps this pass).
    pub progress: Progress,
    /// Every planned node is ACTIVE with its brick attached.
    pub booted: bool,
    /// The security group is ensured this pass.
    pub ensure_group: bool,
    /// The backoff's cap.
    pub cap: Duration,
    /// A fixed delay overriding the backoff.
    pub fixed: Option<Duration>,
    /// A failure this pass observed (reported as a Warning Event and counted).
    pub failure: Option<Failure>,
    /// The servers in ERROR, as the next pass must remember them.
    pub failed_servers: std::collections::BTreeMap<String, memory::FailedServer>,
    /// Replaced nodes whose heal is not seen done yet (a wait for it ends the gluster steps).
    pub healing: std::collections::BTreeSet<String>,
    /// What replacing lost nodes does this pass (`Degraded`, `NodeReplacing`), one line per
    /// node; healing nodes are not among them.
    pub replacing: Vec<String>,
    /// Bricks that held the last good copy and are gone (`Degraded`, `LastCopyLost`).
    pub last_copies: Vec<String>,
    /// Servers and volumes in a transient or failed state, as the next pass must remember
    /// them.
    pub unsettled: std::collections::BTreeMap<String, unsettled::Seen>,
}

/// The actions of one pass. An error is a refusal to go on (the planner's, or an
/// inconsistency): the pass fails with it, see [`failed`].
pub fn decide(input: &Input) -> Result<Decision, ReconcileError> {
    let Input {
        name,
        spec,
        snapshot,
        memory,
        generation,
        tuning,
        previous,
        now,
        ..
    } = *input;
    let cloud = &snapshot.cloud;
    let facts = cloud_facts(cloud);
    let mut current = current_state(cloud);
    for node in lost_bricks::ported(previous, cloud) {
        if !current
            .nodes
            .iter()
            .any(|n| n.name == node.name || n.index == node.index)
        {
            current.nodes.push(node);
        }
    }
    current.nodes.sort_by_key(|n| n.index);
    let mut health = None;
    let mut drain = false;
    let seen = match &snapshot.gluster {
        GlusterSeen::Volume { nodes, volume } => {
            let gnodes = gluster_nodes(nodes);
            current.volume = volume
                .as_ref()
                .map(|v| gluster::observed_volume(&v.info, v.status.as_deref(), &gnodes));
            if let Some(v) = volume {
                health = scalein::health_of(v, &gnodes);
            }
            // The planner refuses a scale-in whose data would not fit what stays.
            current.used_bytes = scalein::used_bytes(health.as_ref());
            Some((gnodes, volume.as_ref()))
        }
        _ => None,
    };
    let mut failure = match &snapshot.gluster {
        GlusterSeen::Failed(f) => Some(f.clone()),
        _ => None,
    };
    // The planner, once. A refusal of what gluster shows keeps the nodes (the planner again,
    // without the volume, only for them) and is the gluster side's failure.
    let plan = match plan_change(name, spec, &facts, &current) {
        Ok(plan) => plan,
        Err(e) if current.volume.is_some() => {
            failure = Some(Failure::of(&ReconcileError::Plan(e)));
            current.volume = None;
            plan_change(name, spec, &facts, &current)?
        }
        Err(e) => return Err(e.into()),
    };
    // A removal starts only on a healthy volume (a drain under way is followed).
    if let Some((gnodes, Some(v))) = &seen {
        drain = scalein::drain_under_way(v, &plan.steps, gnodes);
    }
    if failure.is_none()
        && current.volume.is_some()
        && let Some(refused) = scalein::refusal(&plan.steps, health.as_ref(), drain)
    {
        failure = Some(refused);
    }
    let nodes = status::node_statuses(&plan, cloud, &spec.network);
    let same_generation = memory.generation == generation;
    let ensure_group = snapshot.look.full || !memory.security_group || !same_generation;
    let mut actions = Vec::new();
    if ensure_group {
        actions.push(security_group(spec));
    }
    let failed_servers = actions::failed_servers(cloud, &memory.failed_servers, now);
    actions.extend(actions::replacements(
        &plan,
        cloud,
        &failed_servers,
        now,
        tuning.server_error_grace,
    ));
    let failed_servers = actions::after_reboots(failed_servers, &actions);
    actions.extend(duplicates::duplicate_servers(
        cloud,
        seen.as_ref()
            .map(|(gnodes, volume)| duplicates::GlusterUse {
                nodes: gnodes,
                brick_hosts: volume.map_or_else(Vec::new, |v| {
                    v.info.bricks.iter().map(|b| b.host.as_str()).collect()
                }),
            }),
    ));
    // Nodes the volume has a brick on (as the status last showed it): a replacement of one
    // returns to its pool.
    let in_volume: std::collections::BTreeSet<String> = previous
        .and_then(|s| s.volume.as_ref())
        .map(|v| v.bricks.iter().map(|b| b.node.clone()).collect())
        .unwrap_or_default();
    // A node whose brick went with its server is rebuilt only while its sets keep a healthy
    // copy elsewhere, one per set at a time.
    let previous_volume = previous.and_then(|s| s.volume.as_ref());
    let brickless = lost_bricks::brickless(&plan, cloud, &in_volume);
    let unavailable: std::collections::BTreeSet<String> = plan
        .nodes
        .iter()
        .filter(|n| cloud.server(&n.name).is_none())
        .map(|n| n.name.clone())
        .chain(memory.healing.iter().cloned())
        .collect();
    let rebuilds = lost_bricks::rebuilds(previous_volume, &brickless, &unavailable);
    // Servers stuck in BUILD and brick volumes in error or stuck: replaced where safe.
    let unsettled = unsettled::unsettled(
        cloud,
        &memory.unsettled,
        &in_volume,
        now,
        tuning.cloud_settle_timeout,
    );
    let replaced_volumes: std::collections::BTreeSet<&str> = unsettled
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::DeleteUnusedVolume { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    let created: Vec<Action> = actions::creations(&plan, cloud, &in_volume)?
        .into_iter()
        .filter(|a| !matches!(a, Action::CreateNode { node, .. } if rebuilds.held.contains_key(&node.name) || replaced_volumes.contains(node.name.as_str())))
        .collect();
    actions.extend(unsettled.actions.iter().cloned());
    // A node that returns to its pool is healed before the cluster is Ready again.
    let mut healing = memory.healing.clone();
    healing.extend(created.iter().filter_map(|a| match a {
        Action::CreateNode {
            node, returns_to, ..
        } if !returns_to.is_empty() => Some(node.name.clone()),
        _ => None,
    }));
    actions.extend(created);
    actions.extend(actions::attachments(&plan, cloud));

    let booted = !nodes.is_empty() && nodes.iter().all(|n| n.state == NodeState::Booting);
    let mut progress = status::cloud_progress(&nodes);
    let mut cap = tuning.requeue_working;
    let mut gluster_nodes = None;
    if booted {
        cap = tuning.requeue_bootstrap;
        let volume_unknown = previous.is_none_or(|s| s.volume.is_none());
        match (&snapshot.gluster, seen) {
            (GlusterSeen::Bootstrapping(waiting), _) if volume_unknown && !waiting.is_empty() => {
                // Before the volume exists, a node whose SSH answers but whose glusterd does
                // not listen yet is still running its brick script: waited for without
                // gluster (which would try every node over SSH and fail on that one).
                progress = Progress::Working {
                    reason: "WaitingForBootstrap".into(),
                    message: format!(
                        "SSH answers but glusterd does not listen yet (brick script running) on: {}",
                        waiting.join(", ")
                    ),
                };
            }
            (_, Some((gnodes, seen_volume))) if failure.is_none() => {
                // A node back on its port with its UUID but an empty pool is brought back
                // first; the planner's steps run once gluster shows every node again.
                let blank = lost_bricks::blank(&plan, cloud, &healing, seen_volume, &gnodes);
                let reset = lost_bricks::replacements(
                    &spec.volume.name,
                    seen_volume,
                    cloud,
                    &gnodes,
                    &healing,
                    &blank,
                );
                let rejoin =
                    actions::rejoins(&spec.volume.name, seen_volume, &gnodes, &healing, &blank);
                match reset.or(rejoin) {
                    Some(rejoin) => actions.push(rejoin),
                    None => {
                        let (mut steps, then) = runnable(&plan.steps);
                        let settled = steps.is_empty() && then.is_none();
                        if let Some(wait) =
                            actions::heal_wait_step(&healing, &gnodes, &spec.volume.name, &steps)
                        {
                            steps.push(wait);
                        }
                        actions.push(Action::Gluster {
                            volume: spec.volume.name.clone(),
                            steps,
                            nodes: gnodes.clone(),
                            then,
                        });
                        if settled {
                            actions.extend(restart_bricks(
                                &spec.volume.name,
                                seen_volume,
                                Blank {
                                    nodes: &blank,
                                    gluster: &gnodes,
                                },
                                memory,
                                input.now,
                                &tuning,
                            ));
                        }
                    }
                }
                gluster_nodes = Some(gnodes);
            }
            _ => {}
        }
        if let Some(f) = &failure {
            progress = f.progress();
        }
    } else {
        // Gluster is asked only once every node is up: a failure seen before (a node set
        // larger than the plan's) is not this pass's.
        failure = None;
    }
    if !unsettled.stuck.is_empty() && failure.is_none() {
        progress = Progress::Stalled {
            reason: CLOUD_RESOURCE_STUCK.into(),
            message: unsettled.stuck.join("; "),
        };
    }
    let last_copies = rebuilds.last_copies();
    if !last_copies.is_empty() {
        progress = Progress::Stalled {
            reason: LAST_COPY_LOST.into(),
            message: last_copies.join("; "),
        };
    }
    let replacing = replacing(&actions, &rebuilds);
    let fixed = failure
        .as_ref()
        .filter(|f| f.terminal)
        .map(|_| tuning.requeue_error);
    Ok(Decision {
        plan,
        actions,
        nodes,
        gluster_nodes,
        progress,
        booted,
        ensure_group,
        cap,
        fixed,
        failure,
        failed_servers,
        healing,
        replacing,
        last_copies: last_copies.into_iter().map(str::to_string).collect(),
        unsettled: unsettled.seen,
    })
}

/// What the replacement of lost nodes does this pass, one line per node (empty when nothing
/// is replaced): servers in ERROR rebooted or deleted, replacements created, nodes waiting for
/// another of their set. (Nodes still healing are added by [`conclude`], which knows whether
/// the heal ended this pass.)
fn replacing(actions: &[Action], rebuilds: &lost_bricks::Rebuilds) -> Vec<String> {
    let mut lines = Vec::new();
    for action in actions {
        match action {
            Action::RebootServer { name, fault, .. } => {
                lines.push(format!("server {name} in ERROR ({fault}): hard reboot"))
            }
            Action::DeleteFailedServer { name, fault, .. } => {
                lines.push(format!("server {name} still in ERROR ({fault}): replaced"))
            }
            Action::CreateNode {
                node, returns_to, ..
            } if !returns_to.is_empty() => {
                lines.push(format!("node {}: replacement server created", node.name))
            }
            _ => {}
        }
    }
    for (node, held) in &rebuilds.held {
        if let lost_bricks::Held::Waiting { behind } = held {
            lines.push(format!(
                "node {node}: its brick is gone; rebuilt after node {behind} of its set is healed"
            ));
        }
    }
    lines
}

/// Restart the offline bricks of a started volume whose glusterd is up (`volume start
/// force`), at most once per error delay, and never while a `blank` node's brick is offline.
fn restart_bricks(
    volume: &str,
    seen: Option<&observe::SeenVolume>,
    blank: Blank<'_>,
    memory: &Memory,
    now: Instant,
    tuning: &Tuning,
) -> Option<Action> {
    let seen = seen?;
    // `volume start force` starts every offline brick: never while one is a blank disk (it
    // would start empty, nothing marked for heal; see `lost_bricks`).
    let status = seen.status.as_deref()?;
    let blank_offline = observe::offline_hosts(&seen.info, status)
        .iter()
        .filter_map(|a| blank.gluster.node_at(a))
        .any(|n| blank.nodes.contains(n));
    if blank_offline {
        return None;
    }
    let bricks = health::restartable(seen);
    let on = seen.health.as_ref()?.read_from.clone();
    let due = memory
        .restarted_at
        .is_none_or(|t| now.saturating_duration_since(t) >= tuning.requeue_error);
    (!bricks.is_empty() && due).then(|| Action::RestartBricks {
        volume: volume.to_string(),
        on,
        bricks,
    })
}

/// The nodes whose brick is a blank disk (see [`lost_bricks::blank`]), with the gluster nodes
/// that map brick addresses to them.
#[derive(Clone, Copy)]
struct Blank<'a> {
    nodes: &'a std::collections::BTreeSet<String>,
    gluster: &'a GlusterNodes,
}

/// The gluster nodes (in index order) of the nodes observe saw up.
fn gluster_nodes(up: &[NodeUp]) -> GlusterNodes {
    let mut g = GlusterNodes::default();
    for n in up {
        g.order.push(n.name.clone());
        if let Some(a) = &n.address {
            g.addresses.insert(n.name.clone(), a.clone());
        }
    }
    g
}

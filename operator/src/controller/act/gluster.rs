//! Act, gluster side: runs decide's gluster steps in order over the node executor — peer
//! probes, the volume created with the planner's exact arguments (node names replaced by
//! addresses), its options set, started, bricks added, heal and rebalance started. A wait
//! step runs its query and asks decide's judge ([`decide::gluster`](crate::controller::decide::gluster))
//! whether to go on; one that is not satisfied ends the run, and the reconcile comes back.

use std::collections::BTreeMap;

use crate::gluster::xml::{OutputError, parse_heal_info, parse_rebalance_status};
use crate::gluster::{GlusterClient, GlusterError, NodeEndpoint, NodeExecutor};
use crate::plan::{Command, Step};

use crate::controller::decide::Done;
use crate::controller::decide::gluster::{GlusterNodes, heal_wait, migration_wait, peers_wait};
use crate::controller::error::ReconcileError;

use super::scalein::{self, Taken};

/// The nodes' endpoints by name.
pub type Endpoints = BTreeMap<String, NodeEndpoint>;

/// The nodes a run of steps reaches: their endpoints, and their names and addresses.
#[derive(Debug, Clone, Copy)]
pub struct Nodes<'a> {
    /// Endpoints by node name.
    pub endpoints: &'a Endpoints,
    /// Names in index order and addresses.
    pub gluster: &'a GlusterNodes,
    /// The leader's write fence (none without leader election): checked before each step.
    pub fence: Option<&'a crate::fence::Fence>,
}

impl Nodes<'_> {
    pub(super) fn endpoint(&self, node: &str) -> Result<&NodeEndpoint, ReconcileError> {
        self.endpoints
            .get(node)
            .ok_or_else(|| ReconcileError::MissingHostKey(node.to_string()))
    }
}

/// How far a run of steps got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepRun {
    /// The steps taken.
    pub done: Vec<Done>,
    /// Why the run stopped early (a wait not satisfied, a step this version does not take).
    pub waiting: Option<String>,
    /// Retired nodes whose server, port and brick volume go once every step ran
    /// (`DeleteNode`).
    pub retire: Vec<String>,
}

impl StepRun {
    /// Notes what a scale-in step did; `true` when the run must stop here (a wait).
    fn record(&mut self, taken: Taken) -> bool {
        match taken {
            Taken::Done(done) => {
                self.done.push(done);
                false
            }
            Taken::AlreadyDone => false,
            Taken::Wait(why) => {
                self.waiting = Some(why);
                true
            }
        }
    }
}

/// Runs the gluster steps in order until one must wait (decide's judges say so).
pub async fn run_steps<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    volume: &str,
    steps: &[Step],
) -> Result<StepRun, ReconcileError> {
    let mut run = StepRun::default();
    for step in steps {
        if nodes.fence.is_some_and(|f| !f.may_write()) {
            return Err(ReconcileError::NotLeading);
        }
        match step {
            Step::WaitPeersConnected { on, peers, .. } => {
                // Every member must see the new peers: glusterd's pre-validation of the next
                // step runs on each of them, and a refusal on one leaves the new bricks marked
                // as part of a volume (a retry then fails for good).
                let mut members = vec![on.as_str()];
                members.extend(
                    nodes
                        .gluster
                        .order
                        .iter()
                        .map(String::as_str)
                        .filter(|n| *n != on),
                );
                for member in members {
                    let pool = client.pool_list(nodes.endpoint(member)?).await?;
                    if let Some(waiting) =
                        peers_wait(&pool, member, peers, &nodes.gluster.addresses)
                    {
                        run.waiting = Some(waiting);
                        return Ok(run);
                    }
                }
            }
            Step::ProbePeer { on, command, peer } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "PeerProbed".into(),
                    note: format!("{peer} probed from {on}"),
                });
            }
            Step::CreateVolume { on, command } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeCreated".into(),
                    note: format!("gluster {}", argv[2..].join(" ")),
                });
            }
            Step::SetOption { on, key, command } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeOptionSet".into(),
                    note: format!("{key} = {}", argv.last().map_or("", String::as_str)),
                });
            }
            Step::StartVolume { on, command } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeStarted".into(),
                    note: format!("volume started from {on}"),
                });
            }
            Step::AddBricks {
                on,
                bricks,
                replica,
                command,
            } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                let note = match replica {
                    Some(r) => format!("brick of {} added (replica {r})", bricks.join(", ")),
                    None => format!("bricks of {} added", bricks.join(", ")),
                };
                run.done.push(Done {
                    reason: "BricksAdded".into(),
                    note,
                });
            }
            Step::HealFull { on, command } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "HealStarted".into(),
                    note: format!("full self-heal started from {on}"),
                });
            }
            Step::WaitHealed { on, command } => {
                let heal = query_planned(client, nodes, on, command, parse_heal_info).await?;
                if let Some(waiting) = heal_wait(&heal) {
                    run.waiting = Some(waiting);
                    return Ok(run);
                }
            }
            Step::RebalanceStart { on, command } => {
                let argv = command.argv_with(&nodes.gluster.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "RebalanceStarted".into(),
                    note: format!("rebalance of volume {volume} started from {on}"),
                });
            }
            Step::WaitRebalance { on, command } => {
                let status =
                    query_planned(client, nodes, on, command, parse_rebalance_status).await?;
                match migration_wait("rebalance", volume, &status)? {
                    Some(waiting) => {
                        run.waiting = Some(waiting);
                        return Ok(run);
                    }
                    None => run.done.push(Done {
                        reason: "RebalanceCompleted".into(),
                        note: format!(
                            "rebalance of volume {volume} completed: {} files moved",
                            status.nodes.iter().map(|n| n.totals.files).sum::<u64>()
                        ),
                    }),
                }
            }
            Step::RemoveBricksStart {
                on,
                bricks,
                command,
            } => {
                let taken =
                    scalein::remove_start(client, nodes, volume, on, bricks, command).await?;
                if run.record(taken) {
                    return Ok(run);
                }
            }
            Step::WaitRemoveBricks {
                on,
                bricks,
                command,
            } => {
                let taken =
                    scalein::remove_wait(client, nodes, volume, on, bricks, command).await?;
                if run.record(taken) {
                    return Ok(run);
                }
            }
            Step::RemoveBricksCommit {
                on,
                bricks,
                command,
            } => {
                let taken =
                    scalein::remove_commit(client, nodes, volume, on, bricks, command).await?;
                if run.record(taken) {
                    return Ok(run);
                }
            }
            Step::RemoveReplicaBrick {
                on,
                brick,
                replica,
                command,
            } => {
                let taken =
                    scalein::remove_replica(client, nodes, volume, on, brick, *replica, command)
                        .await?;
                if run.record(taken) {
                    return Ok(run);
                }
            }
            Step::DetachPeer { on, peer, command } => {
                let taken = scalein::detach(client, nodes, on, peer, command).await?;
                if run.record(taken) {
                    return Ok(run);
                }
            }
            // The cloud side, run by act once every step before it ran.
            Step::DeleteNode { node } => run.retire.push(node.clone()),
            Step::CreateNode { node } => {
                // Decide ends the run before a node to create (see `decide::runnable`).
                run.waiting = Some(format!("node {node} is not created yet"));
                return Ok(run);
            }
        }
        crash_points::after(step).await;
    }
    Ok(run)
}

/// Crash points for tests (cargo feature `crash-points`, enabled only by the e2e tests' build):
/// a test arms the kind of a gluster step; the next step of that kind act takes is followed by
/// a hang — nothing after it runs — and the test, told the point was reached, aborts the
/// controller as a SIGKILL would and starts a fresh one. Without the feature, nothing.
#[cfg(feature = "crash-points")]
pub mod crash_points {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};

    use tokio::sync::Notify;

    use crate::plan::Step;

    struct Armed {
        kind: String,
        reached: Arc<Notify>,
    }

    static ARMED: Mutex<Option<Armed>> = Mutex::new(None);
    /// Whether a test armed a point yet (nothing is recorded before).
    static RECORDING: AtomicBool = AtomicBool::new(false);
    static TAKEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        // A test that panicked while holding the lock leaves the data usable.
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Arms the crash point after the next step of kind `kind` (e.g. `CreateVolume`): that
    /// step runs, then act hangs. The returned notification fires once it is reached. From
    /// the first call on, the steps act takes are recorded ([`take_log`]).
    pub fn arm(kind: &str) -> Arc<Notify> {
        RECORDING.store(true, Ordering::SeqCst);
        let reached = Arc::new(Notify::new());
        *lock(&ARMED) = Some(Armed {
            kind: kind.to_string(),
            reached: reached.clone(),
        });
        reached
    }

    /// Disarms the crash point, if one is armed and not reached.
    pub fn disarm() {
        *lock(&ARMED) = None;
    }

    /// The kinds of the gluster commands act has run (wait steps left out) since the last call
    /// (or since the first [`arm`]), in order.
    pub fn take_log() -> Vec<String> {
        std::mem::take(&mut *lock(&TAKEN))
    }

    /// Called by act after each step it took.
    pub(super) async fn after(step: &Step) {
        let kind = step.kind();
        if kind.starts_with("Wait") || !RECORDING.load(Ordering::SeqCst) {
            return;
        }
        lock(&TAKEN).push(kind.to_string());
        let hit = {
            let mut armed = lock(&ARMED);
            if armed.as_ref().is_some_and(|a| a.kind == kind) {
                armed.take()
            } else {
                None
            }
        };
        if let Some(armed) = hit {
            tracing::warn!(step = kind, "crash point reached: act hangs until aborted");
            armed.reached.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(feature = "crash-points"))]
mod crash_points {
    use crate::plan::Step;

    /// Nothing: crash points exist only in test builds (feature `crash-points`).
    pub(super) async fn after(_step: &Step) {}
}

/// Restarts the offline brick processes of `volume` from `node`: `volume start VOL force`,
/// which starts only the bricks that are not running (GlusterFS: a started volume's running
/// bricks are left alone).
pub async fn restart_bricks<E: NodeExecutor>(
    client: &GlusterClient<E>,
    node: &NodeEndpoint,
    volume: &str,
    bricks: &[String],
) -> Result<Done, ReconcileError> {
    let argv: Vec<String> = [
        "gluster",
        "--mode=script",
        "volume",
        "start",
        volume,
        "force",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    client.execute(node, &argv).await?;
    Ok(Done {
        reason: "BricksRestarted".into(),
        note: format!(
            "volume start {volume} force from {}: restarting offline brick(s) {}",
            node.name,
            bricks.join(", ")
        ),
    })
}

/// Runs a planned read-only command (a wait step's poll) on node `on` and parses its XML.
pub(super) async fn query_planned<E: NodeExecutor, T>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    on: &str,
    command: &Command,
    parse: impl FnOnce(&str) -> Result<T, OutputError>,
) -> Result<T, ReconcileError> {
    let argv = client
        .cli()
        .prepare(&command.argv_with(&nodes.gluster.addresses)?)
        .map_err(GlusterError::from)?;
    Ok(client.query(nodes.endpoint(on)?, &argv, parse).await?)
}

#[cfg(test)]
#[path = "gluster_tests.rs"]
mod tests;

//! Decide, cloud side (pure): the typed [`Action`]s and the rules that pick them — a server
//! in ERROR deleted for replacement, a missing node created (on its own port, its surviving
//! brick volume reused), an available brick volume attached, a replacement's glusterd brought
//! back into the pool, the gluster steps this version runs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::api::{BrickStorage, GlusterClusterSpec};
use crate::cloud::{ServerStatus, VolumeStatus};
use crate::controller::error::ReconcileError;
use crate::controller::observe::{Observed, SeenVolume, offline_hosts};
use crate::controller::owner::node_of;

use super::memory::FailedServer;
use crate::plan::{ClusterPlan, PlanError, PlannedNode, Step};

use super::gluster::GlusterNodes;

/// The brick of a node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewBrick {
    /// The flavor's ephemeral disk.
    Ephemeral,
    /// A Cinder volume: `existing` (its ID, kept from an earlier server), else one of
    /// `size_gib` to create (or adopt by name).
    Volume {
        /// The node's surviving brick volume.
        existing: Option<String>,
        /// The size of a new one.
        size_gib: u64,
    },
}

/// One thing for act to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Look up, create or complete the cluster's security group: the gluster ports from
    /// `clients` and from the group's own members, SSH from `ssh_from`; every other ingress rule
    /// of the group is removed.
    EnsureSecurityGroup {
        /// Where clients may come from (`spec.volume.allowedClients`; empty: nowhere but the
        /// nodes themselves).
        clients: Vec<String>,
        /// Where SSH may come from (`spec.sshFrom`; empty: the subnets of the cluster's
        /// network, which act looks up).
        ssh_from: Vec<String>,
    },
    /// Hard-reboot a server that ran and went to ERROR (a transient fault often clears; its
    /// brick stays where it is).
    RebootServer {
        /// The server's name.
        name: String,
        /// Its ID.
        server_id: String,
        /// Nova's fault message.
        fault: String,
    },
    /// Delete a server in ERROR (its brick volume stays for the replacement).
    DeleteFailedServer {
        /// The server's name.
        name: String,
        /// Its ID.
        server_id: String,
        /// Nova's fault message.
        fault: String,
    },
    /// Delete a brick volume in `error` that never held a brick (its node has none in the
    /// volume), and the node's server if it has one (its user-data names that volume); the
    /// node's next creation makes both anew (see [`super::unsettled`]).
    DeleteUnusedVolume {
        /// The node.
        node: String,
        /// The volume.
        volume_id: String,
        /// The node's server, which never served a brick.
        server_id: Option<String>,
        /// Its state, as Cinder wrote it.
        state: String,
    },
    /// Create (or adopt) a node: its brick volume where it uses one, then its server.
    CreateNode {
        /// The node.
        node: PlannedNode,
        /// Its brick.
        brick: NewBrick,
        /// Every planned node (the key Secret holds a host key for each).
        keys_for: Vec<String>,
        /// For a node the volume already has a brick on (a replacement): the other nodes
        /// (name, address of their port), its pool to return to. Empty for a new node.
        returns_to: Vec<(String, String)>,
    },
    /// Attach a node's available brick volume to its active server.
    AttachVolume {
        /// The node.
        node: String,
        /// The server.
        server_id: String,
        /// The volume.
        volume_id: String,
    },
    /// Delete a second server of a node that is provably unused (see
    /// [`duplicates`](super::duplicates)).
    DeleteDuplicateServer {
        /// The node.
        node: String,
        /// The duplicate's ID.
        server_id: String,
        /// The node's serving server, which stays.
        serving_id: String,
    },
    /// Bring nodes whose glusterd lost the pool (replacement servers on the same port, with
    /// the same UUID) back into it through a node that knows the volume, and start their
    /// bricks; the planner's steps wait for the next pass.
    RejoinNodes {
        /// The volume.
        volume: String,
        /// The nodes to bring back, in index order.
        strangers: Vec<String>,
        /// The node that knows the volume (the first in index order that is not a stranger).
        via: String,
        /// The nodes, for their addresses.
        nodes: GlusterNodes,
        /// Whether to start the bricks not running (`volume start VOL force`) afterwards:
        /// not while a stranger's brick is a blank disk, which `force` would start empty with
        /// nothing marked for heal (see [`super::lost_bricks`]).
        start_bricks: bool,
    },
    /// Run the planner's gluster steps in order until a wait is not satisfied; `then` is why
    /// the run stops after the last one (a step this version does not take).
    Gluster {
        /// The volume.
        volume: String,
        /// The steps, in order.
        steps: Vec<Step>,
        /// The nodes, for the commands' host names.
        nodes: GlusterNodes,
        /// Why the run stops after the steps, if it does.
        then: Option<String>,
    },
    /// Replace the blank bricks of replaced nodes whose brick was their old server's
    /// ephemeral disk: `replace-brick VOL OLD NEW commit force` per brick (NEW a fresh
    /// directory on the new disk; gluster marks it for heal from its set), through node `via`
    /// (see [`super::lost_bricks`]).
    ReplaceBricks {
        /// The volume.
        volume: String,
        /// (old, new) bricks, `address:/path`.
        bricks: Vec<(String, String)>,
        /// The node to run it on (not one being healed).
        via: String,
    },
    /// Restart the volume's offline brick processes: `volume VOL start force` on node `on`
    /// (gluster starts only the bricks not running; see [`super::health::restartable`]).
    RestartBricks {
        /// The volume.
        volume: String,
        /// The node to run it on (its glusterd answered this pass).
        on: String,
        /// The offline bricks, `address:/path` (for the Event).
        bricks: Vec<String>,
    },
}

/// The `EnsureSecurityGroup` for `spec`: clients from `allowedClients` only (default deny:
/// an empty list lets no client in, the nodes reach each other through the group itself), SSH
/// from `sshFrom` (empty: the network's own subnets, resolved by act).
pub fn security_group(spec: &GlusterClusterSpec) -> Action {
    Action::EnsureSecurityGroup {
        clients: spec.volume.allowed_clients.clone(),
        ssh_from: spec.ssh_from.clone(),
    }
}

/// The entries of `cidrs` that admit the whole address space (`/0`), which the spec must ask
/// for explicitly and which are reported with a Warning Event.
pub fn world_open(cidrs: &[String]) -> Vec<String> {
    cidrs
        .iter()
        .filter(|c| {
            c.trim()
                .rsplit_once('/')
                .is_some_and(|(_, p)| p.trim() == "0")
        })
        .cloned()
        .collect()
}

/// A brick size in whole GiB, rounded up (Cinder sizes volumes in GiB).
pub fn size_gib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 30).max(1)
}

/// The servers in ERROR now, with when each was first seen so (from `remembered`, else
/// `now`) and whether its reboot was asked.
pub fn failed_servers(
    cloud: &Observed,
    remembered: &BTreeMap<String, FailedServer>,
    now: Instant,
) -> BTreeMap<String, FailedServer> {
    cloud
        .servers
        .iter()
        .filter(|s| s.status == ServerStatus::Error)
        .map(|s| {
            let seen = remembered.get(&s.id).copied().unwrap_or(FailedServer {
                since: now,
                rebooted: false,
            });
            (s.id.clone(), seen)
        })
        .collect()
}

/// `failed` with the reboots among `actions` noted.
pub fn after_reboots(
    mut failed: BTreeMap<String, FailedServer>,
    actions: &[Action],
) -> BTreeMap<String, FailedServer> {
    for action in actions {
        if let Action::RebootServer { server_id, .. } = action
            && let Some(f) = failed.get_mut(server_id)
        {
            f.rebooted = true;
        }
    }
    failed
}

/// Servers in ERROR. One that never ran (a failed build) served no brick: deleted at once,
/// and the next pass creates a replacement. One that ran is hard-rebooted first; only when it
/// is still in ERROR `grace` after it was first seen so, and its node's brick is on a Cinder
/// volume (which stays and is attached to the replacement), is it deleted. A server whose
/// brick is its ephemeral disk is never deleted for it: the brick may come back with it.
pub fn replacements(
    plan: &ClusterPlan,
    cloud: &Observed,
    failed: &BTreeMap<String, FailedServer>,
    now: Instant,
    grace: Duration,
) -> Vec<Action> {
    cloud
        .servers
        .iter()
        .filter(|s| s.status == ServerStatus::Error)
        .filter_map(|s| {
            let fault = s.fault_message().unwrap_or("no fault message").to_string();
            let (name, server_id) = (s.name.clone(), s.id.clone());
            let delete = Action::DeleteFailedServer {
                name: name.clone(),
                server_id: server_id.clone(),
                fault: fault.clone(),
            };
            if s.launched_at.is_none() {
                return Some(delete);
            }
            let seen = failed.get(&s.id).copied().unwrap_or(FailedServer {
                since: now,
                rebooted: false,
            });
            if !seen.rebooted {
                return Some(Action::RebootServer {
                    name,
                    server_id,
                    fault,
                });
            }
            let on_volume = node_of(&s.metadata)
                .and_then(|(node, _)| plan.nodes.iter().find(|n| n.name == node))
                .is_some_and(|n| n.storage.storage() == Some(BrickStorage::Volume));
            (on_volume && now.saturating_duration_since(seen.since) >= grace).then_some(delete)
        })
        .collect()
}

/// One creation per planned node without a server; a brick volume that survived is reused. A
/// node in `in_volume` (the volume has its brick) returns to its pool: it is given the other
/// nodes whose port has an address.
pub fn creations(
    plan: &ClusterPlan,
    cloud: &Observed,
    in_volume: &BTreeSet<String>,
) -> Result<Vec<Action>, ReconcileError> {
    let keys_for: Vec<String> = plan.nodes.iter().map(|n| n.name.clone()).collect();
    plan.nodes
        .iter()
        .filter(|n| cloud.server(&n.name).is_none())
        .map(|node| {
            let brick = match node.storage.storage() {
                Some(BrickStorage::Ephemeral) => NewBrick::Ephemeral,
                Some(BrickStorage::Volume) => NewBrick::Volume {
                    existing: cloud.volume(&node.name).map(|v| v.id.clone()),
                    size_gib: size_gib(plan.brick_bytes),
                },
                // The observation always decides Auto zones (it lists Cinder's zones).
                None => {
                    return Err(ReconcileError::Plan(PlanError::InconsistentState {
                        detail: format!("zone {} has no storage decision", node.zone),
                    }));
                }
            };
            let returns_to = if in_volume.contains(&node.name) {
                plan.nodes
                    .iter()
                    .filter(|n| n.name != node.name)
                    .filter_map(|n| {
                        let address = cloud.port(&n.name)?.address()?;
                        Some((n.name.clone(), address.to_string()))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Action::CreateNode {
                node: node.clone(),
                brick,
                keys_for: keys_for.clone(),
                returns_to,
            })
        })
        .collect()
}

/// Volumes to attach: a volume-backed node's brick volume available while its server is
/// ACTIVE without it. The observation shows them so; a refusal (an attachment made meanwhile
/// elsewhere) fails the pass and the next one observes everything again.
pub fn attachments(plan: &ClusterPlan, cloud: &Observed) -> Vec<Action> {
    plan.nodes
        .iter()
        .filter(|n| n.storage.storage() == Some(BrickStorage::Volume))
        .filter_map(|node| {
            let server = cloud.server(&node.name)?;
            let volume = cloud.volume(&node.name)?;
            (server.status == ServerStatus::Active
                && volume.status == VolumeStatus::Available
                && !server.attached_volume_ids().contains(&volume.id.as_str()))
            .then(|| Action::AttachVolume {
                node: node.name.clone(),
                server_id: server.id.clone(),
                volume_id: volume.id.clone(),
            })
        })
        .collect()
}

/// The rejoin of the nodes whose glusterd does not know the volume their bricks are in
/// (`seen.strangers`), through the first node in index order that knows it; `None` when there
/// is none to bring back, or no node to bring them back through.
///
/// A replaced node (`healing`) that knows the volume but whose brick is offline (and is not
/// among `blank`, whose blank brick is replaced instead) gets the same action with no
/// stranger: the volume is started with `force` through another node, which
/// starts its brick (glusterd may import the volume after its own start of the bricks).
pub fn rejoins(
    volume: &str,
    seen: Option<&SeenVolume>,
    nodes: &GlusterNodes,
    healing: &BTreeSet<String>,
    blank: &BTreeSet<String>,
) -> Option<Action> {
    let seen = seen?;
    let strangers = &seen.strangers;
    let offline_replaced = seen.status.as_ref().is_some_and(|status| {
        offline_hosts(&seen.info, status)
            .iter()
            .filter_map(|a| nodes.node_at(a))
            .any(|n| healing.contains(n) && !blank.contains(n))
    });
    if strangers.is_empty() && !offline_replaced {
        return None;
    }
    let via = nodes.order.iter().find(|n| {
        !strangers.contains(n) && !healing.contains(*n) && nodes.addresses.contains_key(*n)
    })?;
    Some(Action::RejoinNodes {
        volume: volume.to_string(),
        strangers: strangers.clone(),
        via: via.clone(),
        nodes: nodes.clone(),
        start_bricks: !strangers.iter().any(|n| blank.contains(n)),
    })
}

/// The wait for the heal of replaced nodes (`healing`), run from a node that is not one of
/// them, when the steps do not wait for a heal already; `None` when nothing is healing.
pub fn heal_wait_step(
    healing: &BTreeSet<String>,
    nodes: &GlusterNodes,
    volume: &str,
    steps: &[Step],
) -> Option<Step> {
    if healing.is_empty() || steps.iter().any(|s| matches!(s, Step::WaitHealed { .. })) {
        return None;
    }
    let on = nodes
        .order
        .iter()
        .find(|n| !healing.contains(*n))
        .or(nodes.order.first())?;
    let gluster = crate::plan::Gluster {
        volume: volume.to_string(),
        brick_path: String::new(),
    };
    Some(Step::WaitHealed {
        on: on.clone(),
        command: gluster.heal_info(),
    })
}

/// The gluster steps this pass may run, and why the run stops after them: `CreateNode` (a
/// cloud step, taken before gluster is asked) ends the run before it; a removal that changes
/// the volume's bricks (`RemoveBricksCommit`, `RemoveReplicaBrick`) ends it after it, so the
/// next pass plans from what gluster shows then (one removal per pass). `DetachPeer` and
/// `DeleteNode` (a retired node's server, port and brick volume, done by act once every step
/// before it ran) are taken (`docs/scale-in.md`).
pub fn runnable(steps: &[Step]) -> (Vec<Step>, Option<String>) {
    let mut run = Vec::new();
    for step in steps {
        match step {
            Step::CreateNode { node } => {
                return (run, Some(format!("node {node} is not created yet")));
            }
            Step::RemoveBricksCommit { bricks, .. } => {
                run.push(step.clone());
                return (
                    run,
                    Some(format!(
                        "bricks of {} removed; the next pass plans from the volume gluster shows",
                        bricks.join(", ")
                    )),
                );
            }
            Step::RemoveReplicaBrick { brick, replica, .. } => {
                run.push(step.clone());
                return (
                    run,
                    Some(format!(
                        "brick of {brick} removed (replica {replica}); the next pass plans from \
                         the volume gluster shows"
                    )),
                );
            }
            Step::ProbePeer { .. }
            | Step::WaitPeersConnected { .. }
            | Step::CreateVolume { .. }
            | Step::SetOption { .. }
            | Step::StartVolume { .. }
            | Step::AddBricks { .. }
            | Step::HealFull { .. }
            | Step::WaitHealed { .. }
            | Step::RebalanceStart { .. }
            | Step::WaitRebalance { .. }
            | Step::RemoveBricksStart { .. }
            | Step::WaitRemoveBricks { .. }
            | Step::DetachPeer { .. }
            | Step::DeleteNode { .. } => run.push(step.clone()),
        }
    }
    (run, None)
}

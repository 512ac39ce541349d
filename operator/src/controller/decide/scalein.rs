//! Decide, scale-in (pure): when the planner's removal of bricks may start, the figures it
//! is judged on, and whether a drain may be committed (`docs/scale-in.md`).
//!
//! - A removal starts (`remove-brick … start`, or `remove-brick replica N-1 … force`) only on
//!   a healthy volume: its health read this pass, every peer connected, every brick online,
//!   nothing pending heal, no split-brain, no other data migration running. Otherwise the
//!   cluster is `Stalled` with reason [`SCALE_IN_REFUSED`] and the figures; nothing is removed.
//! - A drain gluster already runs (a remove-brick task in `volume status`) is never refused:
//!   it is followed to its end (a failure there stops it, uncommitted).
//! - The data must fit what stays with a margin kept free: the planner refuses
//!   (`InsufficientCapacity`) from the bytes used that the bricks' filesystems report
//!   ([`used_bytes`]).
//! - A commit needs `remove-brick status` completed on every node with 0 failures and 0
//!   skipped ([`commit_verdict`]).

use crate::api::HealthStatus;
use crate::controller::error::ReconcileError;
use crate::controller::observe::SeenVolume;
use crate::gluster::xml::{MigrationStatus, Peer};
use crate::plan::Step;

use super::Failure;
use super::gluster::{GlusterNodes, migration_wait, volume_status};
use super::health::figures;

/// The `Stalled` reason of a scale-in that may not start.
pub const SCALE_IN_REFUSED: &str = "ScaleInRefused";

/// The `volume status` task kind of a remove-brick.
const REMOVE_BRICK_TASK: &str = "Remove brick";

/// The health figures of the volume seen this pass (`None` when not read).
pub fn health_of(seen: &SeenVolume, nodes: &GlusterNodes) -> Option<HealthStatus> {
    let api = volume_status(&seen.info, seen.status.as_deref(), nodes);
    figures(seen, &api, nodes)
}

/// The bytes of data the volume holds, as its bricks' filesystems report them (one copy).
pub fn used_bytes(health: Option<&HealthStatus>) -> Option<u64> {
    health?.capacity_used_bytes
}

/// Whether gluster has a remove-brick task (running, or ended and not committed) on a brick
/// of the nodes that `steps` drain: a drain started by an earlier pass, to be followed, never
/// started again (a task on other bricks does not count).
pub fn drain_under_way(seen: &SeenVolume, steps: &[Step], nodes: &GlusterNodes) -> bool {
    let leaving: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::RemoveBricksStart { bricks, .. } => Some(bricks),
            _ => None,
        })
        .flatten()
        .filter_map(|n| nodes.addresses.get(n).map(String::as_str))
        .collect();
    seen.status.as_ref().is_some_and(|s| {
        s.tasks
            .iter()
            .filter(|t| t.kind == REMOVE_BRICK_TASK)
            .flat_map(|t| &t.bricks)
            .any(|b| {
                b.rsplit_once(':')
                    .is_some_and(|(host, _)| leaving.contains(&host))
            })
    })
}

/// Why the removal among `steps` may not start now (`None`: it may, or there is none).
/// `health`: the figures read this pass; `drain`: a remove-brick task is seen already.
pub fn refusal(steps: &[Step], health: Option<&HealthStatus>, drain: bool) -> Option<Failure> {
    let starts = steps.iter().find_map(|s| match s {
        Step::RemoveBricksStart { bricks, .. } if !drain => {
            Some(format!("remove-brick start of {}", bricks.join(", ")))
        }
        Step::RemoveReplicaBrick { brick, replica, .. } => Some(format!(
            "remove-brick of {brick} (replica {} → {replica})",
            replica + 1
        )),
        _ => None,
    })?;
    let replica = steps
        .iter()
        .any(|s| matches!(s, Step::RemoveReplicaBrick { .. }));
    let why = match health {
        None => vec!["the volume's health was not read this pass".to_string()],
        Some(h) if replica && h.heal_pending.is_none() => {
            vec!["heal pending is not known (heal info did not answer)".to_string()]
        }
        Some(h) => problems(h),
    };
    if why.is_empty() {
        return None;
    }
    Some(Failure {
        reason: SCALE_IN_REFUSED.to_string(),
        message: format!(
            "scale-in (spec.zones[].nodes lowered) waits: {starts} is not run while {}; \
             nothing was removed",
            why.join("; ")
        ),
        terminal: true,
        cloud: false,
        retry_after: None,
        awaits: None,
    })
}

/// What about `h` forbids starting a removal, with the figures.
fn problems(h: &HealthStatus) -> Vec<String> {
    let mut why = Vec::new();
    if !h.peers_lost.is_empty() {
        why.push(format!(
            "peers are lost: {} ({}/{} connected)",
            h.peers_lost.join(", "),
            h.peers_connected,
            h.peers_total
        ));
    }
    if !h.bricks_offline.is_empty() {
        why.push(format!(
            "the volume is Degraded: {} bricks online, offline: {}",
            h.bricks,
            h.bricks_offline.join(", ")
        ));
    }
    if let Some(n) = h.split_brain.filter(|n| *n > 0) {
        why.push(format!("{n} entries are in split-brain"));
    }
    if let Some(n) = h.heal_pending.filter(|n| *n > 0) {
        why.push(format!("the volume is healing: {n} entries pending heal"));
    }
    let moving: Vec<&str> = h
        .in_progress
        .iter()
        .filter(|p| !p.starts_with("heal"))
        .map(String::as_str)
        .collect();
    if !moving.is_empty() {
        why.push(format!("data is moving: {}", moving.join(", ")));
    }
    why
}

/// Where a drain stands, for its wait and its commit: `Ok(None)` only when `remove-brick
/// status` shows it completed on every node with 0 failures and 0 skipped; `Ok(Some(why))`
/// while it runs (with gluster's figures); an error (no commit, ever, until someone looks:
/// the cluster is `Stalled` with reason `MigrationFailed`) when it failed, was stopped or
/// left files behind — the message carries gluster's figures per node.
///
/// `leaving`: the addresses of the nodes whose bricks go; `asked`: the address of the node the
/// status was asked on (it calls itself `localhost`). Gluster lists only the nodes whose
/// migration has started (its `nodeCount` counts every peer, so it cannot tell): a leaving
/// node missing from the list has not started moving its data yet, and an "every listed node
/// completed" then is not a completed drain — committing would drop that node's files.
pub fn commit_verdict(
    volume: &str,
    status: &MigrationStatus,
    leaving: &[String],
    asked: &str,
) -> Result<Option<String>, ReconcileError> {
    let with_figures = |e: ReconcileError| match e {
        ReconcileError::MigrationFailed {
            what,
            volume,
            detail,
        } => ReconcileError::MigrationFailed {
            what,
            volume,
            detail: format!(
                "{detail}; not committed; gluster's figures: {}",
                drain_figures(status)
            ),
        },
        other => other,
    };
    if let Some(waiting) = migration_wait("remove-brick", volume, status).map_err(with_figures)? {
        return Ok(Some(format!("{waiting} ({})", drain_figures(status))));
    }
    let missing = unreported(status, leaving, asked);
    if !missing.is_empty() {
        return Ok(Some(format!(
            "waiting for the remove-brick of volume {volume}: the migration has not started on \
             {} (not in the status yet; {})",
            missing.join(", "),
            drain_figures(status)
        )));
    }
    let skipped: u64 = status.nodes.iter().map(|n| n.totals.skipped).sum();
    if !status.safe_to_commit() || skipped > 0 {
        return Err(ReconcileError::MigrationFailed {
            what: "remove-brick",
            volume: volume.to_string(),
            detail: format!(
                "completed with {} failures and {skipped} skipped; not committed (the files \
                 are still on the bricks that were to go); gluster's figures: {}",
                status.failures(),
                drain_figures(status)
            ),
        });
    }
    Ok(None)
}

/// The addresses of `leaving` that the status does not list (the asked node `asked` is listed
/// as `localhost`).
pub fn unreported(status: &MigrationStatus, leaving: &[String], asked: &str) -> Vec<String> {
    leaving
        .iter()
        .filter(|address| {
            !status.nodes.iter().any(|n| {
                n.name == **address || (n.name == "localhost" && asked == address.as_str())
            })
        })
        .cloned()
        .collect()
}

/// Gluster's figures of a migration, per node: `NODE: STATUS, F files (B bytes), L looked
/// up, X failures, S skipped`.
pub fn drain_figures(status: &MigrationStatus) -> String {
    if status.nodes.is_empty() {
        return "no node reported".to_string();
    }
    status
        .nodes
        .iter()
        .map(|n| {
            let t = &n.totals;
            format!(
                "{}: {:?}, {} files ({} bytes), {} looked up, {} failures, {} skipped",
                n.name, t.status, t.files, t.size_bytes, t.lookups, t.failures, t.skipped
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether `pool` (a `pool list` answer) has a peer at `address`.
pub fn in_pool(pool: &[Peer], address: &str) -> bool {
    pool.iter()
        .any(|p| p.hostname == address || p.hostnames.iter().any(|h| h == address))
}

#[cfg(test)]
#[path = "scalein_tests.rs"]
mod tests;

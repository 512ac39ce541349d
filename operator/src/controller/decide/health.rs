//! Health (pure): the volume's health figures from what one node's gluster answered
//! ([`figures`]), the `Degraded` condition they make ([`degraded`]), what holds `Ready` back
//! ([`holds_ready`]) and which offline bricks the operator may restart ([`restartable`]).
//! See `docs/design.md`, "Health".

use std::collections::BTreeSet;

use crate::api::conditions::{
    BRICK_OFFLINE, CAPACITY_LOW, FALSE, HEAL_PENDING, HEALTHY, LAST_COPY_LOST, NODE_REPLACING,
    PEER_LOST, SPLIT_BRAIN, TRUE,
};
use crate::api::{BrickHeal, HealthStatus, VolumeStatus as ApiVolume};
use crate::controller::observe::SeenVolume;
use crate::gluster::xml::{VolumeInfo, VolumeState, VolumeType};

use super::gluster::GlusterNodes;
use super::status::Progress;

/// The `Degraded` condition: its status, reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    /// `True` or `False` (or `Unknown` before the first read).
    pub status: &'static str,
    /// One of the reasons of [`crate::api::conditions`].
    pub reason: &'static str,
    /// Every problem seen, naming nodes and bricks.
    pub message: String,
}

/// The health figures of a started volume whose health was read this pass (`None`
/// otherwise, and when `volume status` did not answer: which bricks are online is then
/// unknown, not "none"). `volume` is the volume as the status shows it (bricks mapped to
/// nodes).
pub fn figures(
    seen: &SeenVolume,
    volume: &ApiVolume,
    nodes: &GlusterNodes,
) -> Option<HealthStatus> {
    let health = seen.health.as_ref()?;
    if seen.info.state != VolumeState::Started || seen.status.is_none() {
        return None;
    }
    let mut h = HealthStatus {
        read_from: Some(health.read_from.clone()),
        ..HealthStatus::default()
    };
    // Peers: the answering node's pool list (itself as `localhost`); nodes that did not
    // answer before it, or that the pool shows disconnected or not at all, are lost.
    let mut lost: Vec<String> = health.unanswered.clone();
    match &health.pool {
        Some(pool) => {
            h.peers_total = pool.len() as u32;
            h.peers_connected = pool.iter().filter(|p| p.connected).count() as u32;
            for node in &nodes.order {
                if *node == health.read_from || lost.contains(node) {
                    continue;
                }
                let address = nodes.addresses.get(node).map(String::as_str);
                let connected = pool
                    .iter()
                    .any(|p| p.connected && address.is_some_and(|a| p.is_named(a)));
                if !connected {
                    lost.push(node.clone());
                }
            }
        }
        None => {
            h.peers_total = nodes.order.len() as u32;
            h.peers_connected = h.peers_total.saturating_sub(lost.len() as u32);
        }
    }
    lost.sort_by_key(|n| nodes.order.iter().position(|o| o == n));
    lost.dedup();
    h.peers_lost = lost;
    // Bricks: online as `volume status` says.
    h.bricks_total = volume.bricks.len() as u32;
    h.bricks_online = volume.bricks.iter().filter(|b| b.online).count() as u32;
    h.bricks = format!("{}/{}", h.bricks_online, h.bricks_total);
    h.bricks_offline = volume
        .bricks
        .iter()
        .filter(|b| !b.online)
        .map(|b| format!("{} ({})", b.node, b.name))
        .collect();
    // Heal: `info summary` per brick.
    if let Some(heal) = &health.heal {
        h.heal_by_brick = heal
            .bricks
            .iter()
            .map(|b| BrickHeal {
                brick: b.name(),
                node: nodes.node_at(&b.host).map(str::to_string),
                status: b.status.clone(),
                pending: b.entries,
                split_brain: b.summary.map(|s| s.split_brain),
            })
            .collect();
        h.heal_pending = heal.pending_entries();
        h.split_brain = heal.split_brain_entries();
    }
    // Capacity: the brick filesystems, per copy of the data.
    if let Some(detail) = &health.detail {
        let sizes: Vec<(u64, u64)> = detail
            .bricks
            .iter()
            .filter_map(|b| Some((b.size_total?, b.size_used()?)))
            .collect();
        if !sizes.is_empty() && sizes.len() == detail.bricks.len() {
            let (num, den) = data_fraction(&seen.info);
            let total: u64 = sizes.iter().map(|(t, _)| t).sum();
            let used: u64 = sizes.iter().map(|(_, u)| u).sum();
            h.capacity_total_bytes = Some(total / den * num);
            h.capacity_used_bytes = Some(used / den * num);
            h.fullest_brick_percent = sizes
                .iter()
                .filter(|(t, _)| *t > 0)
                .map(|(t, u)| (u.saturating_mul(100) / t) as u32)
                .max();
        }
    }
    // Data movement under way.
    if let Some(status) = &seen.status {
        h.in_progress.extend(
            status
                .tasks
                .iter()
                .filter(|t| t.status.is_running())
                .map(|t| format!("{} in progress", t.kind)),
        );
    }
    if let Some(n) = h.heal_pending.filter(|n| *n > 0) {
        h.in_progress.push(format!("heal: {n} entries pending"));
    }
    Some(h)
}

/// The share of the brick filesystems that holds distinct data: `(numerator, denominator)`.
fn data_fraction(info: &VolumeInfo) -> (u64, u64) {
    match info.volume_type {
        VolumeType::Replicate | VolumeType::DistributedReplicate if info.replica_count > 0 => {
            (1, u64::from(info.replica_count))
        }
        VolumeType::Disperse | VolumeType::DistributedDisperse
            if info.disperse_count > info.redundancy_count =>
        {
            (
                u64::from(info.disperse_count - info.redundancy_count),
                u64::from(info.disperse_count),
            )
        }
        _ => (1, 1),
    }
}

/// The `Degraded` condition of `health`: `True` with the first reason of peer lost, brick
/// offline, split-brain, heal pending, capacity low (a brick filesystem at or above
/// `capacity_low_percent`), the message naming every problem; else `False`, `Healthy`.
pub fn degraded(health: &HealthStatus, capacity_low_percent: u32) -> Degraded {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    if !health.peers_lost.is_empty() {
        problems.push((
            PEER_LOST,
            format!(
                "glusterd not connected on node(s) {} ({}/{} peers connected)",
                health.peers_lost.join(", "),
                health.peers_connected,
                health.peers_total
            ),
        ));
    }
    if !health.bricks_offline.is_empty() {
        problems.push((
            BRICK_OFFLINE,
            format!(
                "{} bricks online; offline: {}",
                health.bricks,
                health.bricks_offline.join(", ")
            ),
        ));
    }
    if let Some(n) = health.split_brain.filter(|n| *n > 0) {
        let bricks: Vec<&str> = health
            .heal_by_brick
            .iter()
            .filter(|b| b.split_brain.is_some_and(|s| s > 0))
            .map(|b| b.brick.as_str())
            .collect();
        problems.push((
            SPLIT_BRAIN,
            format!(
                "{n} entries in split-brain on {} (gluster heal info split-brain lists them; \
                 they need a person's decision)",
                bricks.join(", ")
            ),
        ));
    }
    if let Some(n) = health.heal_pending.filter(|n| *n > 0) {
        problems.push((HEAL_PENDING, format!("{n} entries pending heal")));
    }
    if let Some(p) = health
        .fullest_brick_percent
        .filter(|p| *p >= capacity_low_percent)
    {
        problems.push((
            CAPACITY_LOW,
            format!("fullest brick filesystem {p}% used (threshold {capacity_low_percent}%)"),
        ));
    }
    match problems.first() {
        None => Degraded {
            status: FALSE,
            reason: HEALTHY,
            message: format!(
                "{} bricks online, {}/{} peers connected, nothing to heal",
                health.bricks, health.peers_connected, health.peers_total
            ),
        },
        Some((reason, _)) => Degraded {
            status: TRUE,
            reason,
            message: problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

/// `Degraded` as the replacement of lost nodes makes it: `LastCopyLost` when a brick that held
/// the last good copy is gone (`last_copies`), else `NodeReplacing` while nodes are replaced
/// (`replacing`, this pass's lines) or healing (`healing`); other problems `health` saw follow
/// in the message. `health` unchanged otherwise.
pub fn replacement(
    health: Option<Degraded>,
    replacing: &[String],
    healing: &BTreeSet<String>,
    last_copies: &[String],
) -> Option<Degraded> {
    let mut lines: Vec<String> = replacing.to_vec();
    lines.extend(
        healing
            .iter()
            .filter(|n| {
                !replacing
                    .iter()
                    .any(|l| l.starts_with(&format!("node {n}:")))
            })
            .map(|n| format!("node {n}: back in the pool, healing")),
    );
    let reason = if !last_copies.is_empty() {
        LAST_COPY_LOST
    } else if !lines.is_empty() {
        NODE_REPLACING
    } else {
        return health;
    };
    let mut message: Vec<String> = last_copies.to_vec();
    message.extend(lines);
    if let Some(d) = health.filter(|d| d.status == TRUE) {
        message.push(d.message);
    }
    Some(Degraded {
        status: TRUE,
        reason,
        message: message.join("; "),
    })
}

/// `Degraded` when gluster could not be asked at all on a volume that exists: every node's
/// glusterd is unreachable (`message`: the last node's error).
pub fn unreachable(message: &str) -> Degraded {
    Degraded {
        status: TRUE,
        reason: PEER_LOST,
        message: format!("no node's glusterd answered: {message}"),
    }
}

/// What holds `Ready` back on a started volume with every step done: a lost peer or an
/// offline brick (`Ready` means every brick online), entries waiting for heal (the volume is
/// not whole until they are healed), split-brain (`Stalled`: a person must decide). Capacity
/// alone does not. `None`: nothing.
pub fn holds_ready(health: &HealthStatus) -> Option<Progress> {
    let d = degraded(health, u32::MAX);
    match d.reason {
        PEER_LOST | BRICK_OFFLINE | HEAL_PENDING => Some(Progress::Working {
            reason: d.reason.to_string(),
            message: d.message,
        }),
        SPLIT_BRAIN => Some(Progress::Stalled {
            reason: d.reason.to_string(),
            message: d.message,
        }),
        _ => None,
    }
}

/// The offline bricks (`address:/path`) of a started volume whose node's glusterd is
/// connected (the answering node, or one its pool shows connected): `volume start VOL force`
/// restarts them (it starts only bricks that are not running). A brick on a node whose
/// glusterd is gone cannot be restarted this way.
pub fn restartable(seen: &SeenVolume) -> Vec<String> {
    let (Some(health), Some(status)) = (&seen.health, &seen.status) else {
        return Vec::new();
    };
    if seen.info.state != VolumeState::Started {
        return Vec::new();
    }
    let Some(pool) = &health.pool else {
        return Vec::new();
    };
    seen.info
        .bricks
        .iter()
        .filter(|b| {
            !status
                .bricks
                .iter()
                .any(|x| x.host == b.host && x.path == b.path && x.online)
        })
        .filter(|b| {
            let local = health.read_address.as_deref() == Some(b.host.as_str());
            local
                || pool
                    .iter()
                    .any(|p| p.connected && p.hostname != "localhost" && p.is_named(&b.host))
        })
        .map(|b| b.name())
        .collect()
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;

//! Act, gluster side of a scale-in: the drain of whole sets (`remove-brick … start`, its
//! status polled, `commit`), a brick of a pure replicate volume removed, a peer detached.
//! Nothing is taken from memory: each step asks gluster first where the volume stands, so a
//! pass that died half way (an operator killed during a drain) resumes from what gluster
//! shows, and a commit is run only when `remove-brick status` says completed with nothing
//! failed or skipped on any node (`docs/scale-in.md`).

use crate::gluster::xml::{parse_heal_info, parse_remove_brick_status};
use crate::gluster::{GlusterClient, GlusterError, NodeExecutor};
use crate::plan::Command;

use crate::controller::decide::Done;
use crate::controller::decide::gluster::heal_wait;
use crate::controller::decide::scalein::{commit_verdict, in_pool};
use crate::controller::error::ReconcileError;

use super::gluster::{Nodes, query_planned};

/// What a scale-in step did: something (`Done`), nothing because gluster shows it done
/// already, or a wait (why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The step ran.
    Done(Done),
    /// Gluster shows the step done already (a pass before ran it).
    AlreadyDone,
    /// The step must wait: why.
    Wait(String),
}

/// `remove-brick … start`, unless gluster already has a remove-brick task for these bricks
/// (its status answers): then the drain is under way and is not started twice. Before the
/// start, `cluster.lookup-optimize` is turned off on the volume (see `docs/scale-in.md`).
pub async fn remove_start<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    volume: &str,
    on: &str,
    bricks: &[String],
    command: &Command,
) -> Result<Taken, ReconcileError> {
    let status = command.with_last("status");
    match query_planned(client, nodes, on, &status, parse_remove_brick_status).await {
        Ok(_) => return Ok(Taken::AlreadyDone),
        // "remove-brick not started": gluster's refusal of the status query.
        Err(ReconcileError::Gluster(GlusterError::Refused { .. })) => {}
        Err(e) => return Err(e),
    }
    let off: Vec<String> = [
        "gluster",
        "--mode=script",
        "volume",
        "set",
        volume,
        "cluster.lookup-optimize",
        "off",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    client.execute(nodes.endpoint(on)?, &off).await?;
    let argv = command.argv_with(&nodes.gluster.addresses)?;
    client.execute(nodes.endpoint(on)?, &argv).await?;
    Ok(Taken::Done(Done {
        reason: "DrainStarted".into(),
        note: format!(
            "remove-brick start of the bricks of {} (cluster.lookup-optimize off first): \
             their data moves to the sets that stay",
            bricks.join(", ")
        ),
    }))
}

/// Polls `remove-brick … status`: a wait while it runs, a failure (nothing committed) when
/// it failed, was stopped or left files behind, done when completed everywhere.
pub async fn remove_wait<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    volume: &str,
    on: &str,
    bricks: &[String],
    command: &Command,
) -> Result<Taken, ReconcileError> {
    let status = query_planned(client, nodes, on, command, parse_remove_brick_status).await?;
    let (leaving, asked) = addresses(nodes, bricks, on);
    Ok(match commit_verdict(volume, &status, &leaving, &asked)? {
        Some(waiting) => Taken::Wait(waiting),
        None => Taken::Done(Done {
            reason: "DrainCompleted".into(),
            note: format!(
                "remove-brick of volume {volume} completed: {} files moved, 0 failures, 0 skipped",
                status.nodes.iter().map(|n| n.totals.files).sum::<u64>()
            ),
        }),
    })
}

/// The addresses of the leaving nodes, and of the node asked (names where no address is
/// known: such a node is then never found in the status, and the drain waits).
fn addresses(nodes: Nodes<'_>, bricks: &[String], on: &str) -> (Vec<String>, String) {
    let address = |n: &str| {
        nodes
            .gluster
            .addresses
            .get(n)
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    (bricks.iter().map(|b| address(b)).collect(), address(on))
}

/// `remove-brick … commit`, only after `status` (asked again, right before) says completed
/// with nothing failed or skipped on any node.
pub async fn remove_commit<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    volume: &str,
    on: &str,
    bricks: &[String],
    command: &Command,
) -> Result<Taken, ReconcileError> {
    let status = command.with_last("status");
    let seen = query_planned(client, nodes, on, &status, parse_remove_brick_status).await?;
    let (leaving, asked) = addresses(nodes, bricks, on);
    if let Some(waiting) = commit_verdict(volume, &seen, &leaving, &asked)? {
        return Ok(Taken::Wait(waiting));
    }
    let argv = command.argv_with(&nodes.gluster.addresses)?;
    client.execute(nodes.endpoint(on)?, &argv).await?;
    Ok(Taken::Done(Done {
        reason: "BricksRemoved".into(),
        note: format!(
            "remove-brick commit: the bricks of {} left volume {volume} after a completed drain",
            bricks.join(", ")
        ),
    }))
}

/// `remove-brick VOL replica R BRICK force`, only when heal info (asked right before) shows
/// every brick connected and nothing pending: the brick that goes may hold the only good
/// copy of an entry that is not healed.
pub async fn remove_replica<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    volume: &str,
    on: &str,
    brick: &str,
    replica: u32,
    command: &Command,
) -> Result<Taken, ReconcileError> {
    let heal_argv = crate::plan::Gluster {
        volume: volume.to_string(),
        brick_path: String::new(),
    }
    .heal_info();
    let heal = query_planned(client, nodes, on, &heal_argv, parse_heal_info).await?;
    if let Some(waiting) = heal_wait(&heal) {
        return Ok(Taken::Wait(format!(
            "{waiting}; the brick of {brick} is removed only with nothing pending heal"
        )));
    }
    let argv = command.argv_with(&nodes.gluster.addresses)?;
    client.execute(nodes.endpoint(on)?, &argv).await?;
    Ok(Taken::Done(Done {
        reason: "BrickRemoved".into(),
        note: format!(
            "brick of {brick} removed from volume {volume} (replica {replica}) with 0 entries \
             pending heal"
        ),
    }))
}

/// `peer detach`, unless the pool (as `on` sees it) no longer has the peer.
pub async fn detach<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: Nodes<'_>,
    on: &str,
    peer: &str,
    command: &Command,
) -> Result<Taken, ReconcileError> {
    let pool = client.pool_list(nodes.endpoint(on)?).await?;
    let Some(address) = nodes.gluster.addresses.get(peer) else {
        // A node without an address is not reachable by the pool either.
        return Ok(Taken::AlreadyDone);
    };
    if !in_pool(&pool, address) {
        return Ok(Taken::AlreadyDone);
    }
    let argv = command.argv_with(&nodes.gluster.addresses)?;
    client.execute(nodes.endpoint(on)?, &argv).await?;
    Ok(Taken::Done(Done {
        reason: "PeerDetached".into(),
        note: format!("{peer} detached from the pool by {on}"),
    }))
}

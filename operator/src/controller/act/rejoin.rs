//! Act, gluster side: brings a node whose glusterd lost the pool back into it. A replacement
//! server boots on the node's own port (same address) with the node's glusterd UUID, so the
//! survivors still list it as a peer; its glusterd knows nobody. The node probes a survivor
//! (which knows its UUID and accepts it), which hands it the pool and, in the handshake, the
//! volume; where the volume is still missing it is synced from the survivor; then the volume
//! is started with `force`, which starts the bricks that are not running (the brick's XFS,
//! reattached as is, still carries the volume's ID). Self-heal then brings the brick the
//! writes it missed. A replacement normally needs none of this: it boots with its peers
//! written beside its identity (see `bootstrap`), and the survivors hand it the volume; this
//! is for a node that came back without them. See `docs/design.md`, "Node identity and
//! replacement".

use std::time::Duration;

use crate::gluster::{GlusterClient, GlusterError, NodeEndpoint, NodeExecutor, VolumeName};

use crate::controller::decide::Done;
use crate::controller::decide::gluster::GlusterNodes;
use crate::controller::error::ReconcileError;

use super::gluster::Endpoints;

/// How long the rejoining node may take to see the survivor as a connected peer.
const PEER_WAIT: Duration = Duration::from_secs(10);
/// How often it is asked meanwhile.
const PEER_POLL: Duration = Duration::from_millis(500);

fn gluster(words: &[&str]) -> Vec<String> {
    ["gluster", "--mode=script"]
        .iter()
        .chain(words)
        .map(|w| w.to_string())
        .collect()
}

fn endpoint<'a>(endpoints: &'a Endpoints, node: &str) -> Result<&'a NodeEndpoint, ReconcileError> {
    endpoints
        .get(node)
        .ok_or_else(|| ReconcileError::MissingHostKey(node.to_string()))
}

/// Brings each of `strangers` back into the pool of `via` and, when `start_bricks`, starts the
/// bricks of `volume` that are not running. Returns what was done.
pub async fn rejoin<E: NodeExecutor>(
    client: &GlusterClient<E>,
    endpoints: &Endpoints,
    nodes: &GlusterNodes,
    volume: &str,
    strangers: &[String],
    via: &str,
    start_bricks: bool,
) -> Result<Vec<Done>, ReconcileError> {
    let name = VolumeName::new(volume).map_err(GlusterError::from)?;
    let survivor = endpoint(endpoints, via)?;
    let survivor_address = nodes
        .addresses
        .get(via)
        .ok_or(ReconcileError::MissingMetadata(
            "the surviving node's address",
        ))?;
    let mut done = Vec::new();
    for node in strangers {
        let span = tracing::info_span!("rejoin", node = %node, via = %via);
        let _guard = span.enter();
        let returned = endpoint(endpoints, node)?;
        match client
            .execute(returned, &gluster(&["peer", "probe", survivor_address]))
            .await
        {
            Ok(_) => {}
            // Already a peer (an earlier pass probed): go on to the volume.
            Err(GlusterError::Refused { source, .. }) => {
                tracing::info!(refusal = %source.message, "peer probe refused; going on");
            }
            Err(e) => return Err(e.into()),
        }
        wait_for_peer(client, returned, survivor_address).await?;
        if client.volume_info(returned, &name).await?.is_none() {
            match client
                .execute(
                    returned,
                    &gluster(&["volume", "sync", survivor_address, "all"]),
                )
                .await
            {
                Ok(_) => {}
                // Refused (the peer not in the cluster yet): the handshake may still bring
                // the volume; the next pass looks again.
                Err(GlusterError::Refused { source, .. }) => {
                    tracing::warn!(refusal = %source.message, "volume sync refused");
                }
                Err(e) => return Err(e.into()),
            }
        }
        done.push(Done {
            reason: "NodeRejoined".into(),
            note: format!(
                "node {node} (same address, same glusterd UUID, empty pool) brought back into \
                 the pool through {via}"
            ),
        });
    }
    if !start_bricks {
        return Ok(done);
    }
    client
        .execute(survivor, &gluster(&["volume", "start", volume, "force"]))
        .await?;
    done.push(Done {
        reason: "BricksStarted".into(),
        note: format!(
            "volume {volume} started with force on {via}: the bricks of returned nodes that \
             were not running start, self-heal brings them what they missed"
        ),
    });
    Ok(done)
}

/// Replaces each of `bricks` of `volume` (old, new: `address:/path`), the old one a replaced
/// node's brick that went with its server, the new one a fresh directory on its new disk,
/// through `via`: `replace-brick VOL OLD NEW commit force` (gluster creates the directory,
/// gives it the volume's ID, starts it and marks it as the sink of a heal from its set, so
/// self-heal copies every file of the set onto it; the heal wait follows). Returns what was
/// done. (A `heal VOL full` right after it is refused while the self-heal daemons restart, and
/// is not needed.)
pub async fn replace_bricks<E: NodeExecutor>(
    client: &GlusterClient<E>,
    endpoints: &Endpoints,
    volume: &str,
    bricks: &[(String, String)],
    via: &str,
) -> Result<Vec<Done>, ReconcileError> {
    VolumeName::new(volume).map_err(GlusterError::from)?;
    let on = endpoint(endpoints, via)?;
    let mut done = Vec::new();
    for (old, new) in bricks {
        let span = tracing::info_span!("replace_brick", old = %old, new = %new, via = %via);
        let _guard = span.enter();
        client
            .execute(
                on,
                &gluster(&[
                    "volume",
                    "replace-brick",
                    volume,
                    old,
                    new,
                    "commit",
                    "force",
                ]),
            )
            .await?;
        done.push(Done {
            reason: "BrickReplaced".into(),
            note: format!(
                "brick {old} (gone with its server's ephemeral disk) replaced by {new} on the \
                 new server's disk through {via}; self-heal fills it from its set"
            ),
        });
    }
    Ok(done)
}

/// Waits (bounded) until `node` lists the peer at `address` connected and in the cluster.
async fn wait_for_peer<E: NodeExecutor>(
    client: &GlusterClient<E>,
    node: &NodeEndpoint,
    address: &str,
) -> Result<(), ReconcileError> {
    let deadline = tokio::time::Instant::now() + PEER_WAIT;
    loop {
        let peers = client.peer_status(node).await?;
        if peers
            .iter()
            .any(|p| p.is_named(address) && p.connected && p.in_cluster())
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(?peers, "the survivor is not a connected peer yet");
            return Ok(());
        }
        tokio::time::sleep(PEER_POLL).await;
    }
}

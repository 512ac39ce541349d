//! Decide, gluster side (pure): the volume as the planner and `status.volume` see it, the
//! mount string, and the judges of the plan's wait steps (peers joined, heal done, migration
//! done). Act runs a wait step's query and asks these functions whether to go on; they are
//! the only place a wait is judged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::{BrickStatus as ApiBrick, VolumeStatus as ApiVolume};
use crate::gluster::xml::{
    HealBrick, HealInfo, MigrationOutcome, MigrationStatus, Peer, VolumeInfo, VolumeState,
    VolumeStatus as XmlStatus, VolumeType,
};
use crate::plan::{ObservedVolume, VolumeState as PlanVolumeState};

use crate::controller::error::ReconcileError;

/// The nodes gluster runs on: names in index order and their addresses (what the planner's
/// symbolic hosts are rendered with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlusterNodes {
    /// Node names by index.
    pub order: Vec<String>,
    /// Node name → address.
    pub addresses: BTreeMap<String, String>,
}

impl GlusterNodes {
    /// The node owning `address`, if any.
    pub fn node_at(&self, address: &str) -> Option<&str> {
        self.addresses
            .iter()
            .find(|(_, a)| a.as_str() == address)
            .map(|(n, _)| n.as_str())
    }
}

/// The volume as the planner sees it: its bricks mapped to node names by address (a brick on
/// an address no node has is an inconsistency the planner reports), its state, its options
/// (node addresses in `auth.allow` given as node names, as the plan writes them) and the
/// rebalance task `status` shows (`None`: the volume is not started or status did not answer).
pub fn observed_volume(
    info: &VolumeInfo,
    status: Option<&XmlStatus>,
    nodes: &GlusterNodes,
) -> ObservedVolume {
    let mut options = info.options.clone();
    if let Some(auth) = options.get_mut("auth.allow") {
        *auth = auth
            .split(',')
            .map(|entry| nodes.node_at(entry).unwrap_or(entry))
            .collect::<Vec<_>>()
            .join(",");
    }
    ObservedVolume {
        bricks: info
            .bricks
            .iter()
            .map(|b| {
                nodes
                    .node_at(&b.host)
                    .map(str::to_string)
                    .unwrap_or_else(|| b.host.clone())
            })
            .collect(),
        replica_count: info.replica_count,
        arbiter_count: info.arbiter_count,
        disperse_count: info.disperse_count,
        redundancy_count: info.redundancy_count,
        state: match info.state {
            VolumeState::Created => PlanVolumeState::Created,
            VolumeState::Started => PlanVolumeState::Started,
            VolumeState::Stopped => PlanVolumeState::Stopped,
        },
        options,
        rebalance_task: status.and_then(|s| {
            s.tasks
                .iter()
                .find(|t| t.kind.eq_ignore_ascii_case("rebalance"))
                .map(|t| t.id.clone())
        }),
        tasks_known: status.is_some(),
    }
}

/// The volume for `status.volume`: type, counts, state, bricks with their online state.
pub fn volume_status(
    info: &VolumeInfo,
    status: Option<&XmlStatus>,
    nodes: &GlusterNodes,
) -> ApiVolume {
    let type_ = match &info.volume_type {
        VolumeType::Distribute => "Distribute".to_string(),
        VolumeType::Replicate => "Replicate".to_string(),
        VolumeType::Disperse => "Disperse".to_string(),
        VolumeType::DistributedReplicate => "Distributed-Replicate".to_string(),
        VolumeType::DistributedDisperse => "Distributed-Disperse".to_string(),
        VolumeType::Unsupported(t) => t.clone(),
    };
    let state = match info.state {
        VolumeState::Created => "Created",
        VolumeState::Started => "Started",
        VolumeState::Stopped => "Stopped",
    };
    ApiVolume {
        name: info.name.clone(),
        type_,
        state: Some(state.to_string()),
        replica_count: info.replica_count,
        arbiter_count: info.arbiter_count,
        disperse_count: info.disperse_count,
        redundancy_count: info.redundancy_count,
        distribute_count: info.distribute_count,
        sharding: info
            .options
            .get("features.shard")
            .is_some_and(|v| matches!(v.as_str(), "on" | "enable" | "true" | "yes")),
        bricks: info
            .bricks
            .iter()
            .map(|b| ApiBrick {
                name: b.name(),
                node: nodes.node_at(&b.host).unwrap_or(&b.host).to_string(),
                online: status.is_some_and(|s| {
                    s.bricks
                        .iter()
                        .any(|x| x.host == b.host && x.path == b.path && x.online)
                }),
            })
            .collect(),
    }
}

/// `status.mount` and the backup volfile servers: the first node's address, then the others.
pub fn mount_of(volume: &str, nodes: &GlusterNodes) -> Option<(String, Vec<String>)> {
    let mut addresses = nodes.order.iter().filter_map(|n| nodes.addresses.get(n));
    let first = addresses.next()?;
    Some((format!("{first}:/{volume}"), addresses.cloned().collect()))
}

/// The peers (by node name, with what `member`'s pool says of them) that are not both
/// connected and in the cluster ("Peer in Cluster") as `member` sees them. A peer glusterd
/// still shakes hands with must not see the volume change meanwhile: it would end up
/// "Peer Rejected" (its copy of the volume differs), which it does not recover from.
pub fn not_joined(
    pool: &[Peer],
    member: &str,
    peers: &[String],
    addresses: &BTreeMap<String, String>,
) -> Vec<String> {
    peers
        .iter()
        .filter(|p| p.as_str() != member)
        .filter_map(|p| {
            let address = addresses.get(p).map(String::as_str);
            let seen = pool
                .iter()
                .find(|peer| peer.is_named(p) || address.is_some_and(|a| peer.is_named(a)));
            match seen {
                Some(peer) if peer.connected && peer.in_cluster() => None,
                Some(peer) => Some(format!(
                    "{p} ({}, {})",
                    peer.state_str.as_deref().unwrap_or("state unknown"),
                    if peer.connected {
                        "connected"
                    } else {
                        "disconnected"
                    }
                )),
                None => Some(format!("{p} (not in the pool)")),
            }
        })
        .collect()
}

/// Why the peers are not all joined as `member` sees them (`None` when they are): the
/// not-joined peers, and a word on a rejected one, which does not recover by itself.
pub fn peers_wait(
    pool: &[Peer],
    member: &str,
    peers: &[String],
    addresses: &BTreeMap<String, String>,
) -> Option<String> {
    let missing = not_joined(pool, member, peers, addresses);
    if missing.is_empty() {
        return None;
    }
    let rejected = if missing.iter().any(|m| m.contains("Rejected")) {
        "; a rejected peer does not recover by itself (its copy of the volume configuration \
         differs: GlusterFS \"Resolving Peer Rejected\")"
    } else {
        ""
    };
    Some(format!(
        "waiting for peers to join the pool: {} (as {member} sees them){rejected}",
        missing.join(", ")
    ))
}

/// Why a heal is not done yet (`None` when every brick is connected and nothing is pending).
pub fn heal_wait(heal: &HealInfo) -> Option<String> {
    if heal.is_healed() {
        return None;
    }
    let down: Vec<String> = heal
        .bricks
        .iter()
        .filter(|b| !b.connected())
        .map(HealBrick::name)
        .collect();
    Some(match (heal.pending_entries(), down.is_empty()) {
        (_, false) => format!(
            "waiting for heal: bricks not connected: {}",
            down.join(", ")
        ),
        (Some(n), true) => format!("waiting for heal: {n} entries pending"),
        (None, true) => "waiting for heal: pending entries not reported yet".to_string(),
    })
}

/// Where a data migration (`what`: rebalance or remove-brick) stands: `Ok(None)` once it has
/// completed on every node with nothing left behind, `Ok(Some(why))` while it runs (or has not
/// shown up on every node yet), an error when it failed, was stopped, or left files behind —
/// the operator takes no further step (never a commit) until someone looks.
pub fn migration_wait(
    what: &'static str,
    volume: &str,
    status: &MigrationStatus,
) -> Result<Option<String>, ReconcileError> {
    let failed = |detail: String| ReconcileError::MigrationFailed {
        what,
        volume: volume.to_string(),
        detail,
    };
    match status.outcome() {
        MigrationOutcome::Completed => Ok(None),
        MigrationOutcome::NotStarted | MigrationOutcome::InProgress => {
            let running = status
                .nodes
                .iter()
                .filter(|n| !n.totals.status.is_completed())
                .count();
            let moved: u64 = status.nodes.iter().map(|n| n.totals.files).sum();
            Ok(Some(format!(
                "waiting for the {what} of volume {volume}: {moved} files moved, {running} of {} nodes still running",
                status.nodes.len()
            )))
        }
        MigrationOutcome::CompletedWithFailures { failures } => Err(failed(format!(
            "completed, but {failures} files were not moved; see `gluster volume {what} {volume} status`"
        ))),
        MigrationOutcome::Stopped => Err(failed(format!(
            "stopped before the end; see `gluster volume {what} {volume} status`"
        ))),
        MigrationOutcome::Failed => Err(failed(format!(
            "failed on {}; see `gluster volume {what} {volume} status`",
            status.failed_nodes().join(", ")
        ))),
    }
}

/// A data migration gluster still runs on the volume (a rebalance or remove-brick task that
/// has not finished), as a waiting message: the volume is not settled while it moves data.
pub fn running_task(volume: &str, status: &XmlStatus) -> Option<String> {
    status
        .tasks
        .iter()
        .find(|t| t.status.is_running())
        .map(|t| {
            format!(
                "waiting for the {} task of volume {volume} to finish",
                t.kind
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gluster::xml::{TaskStatus, parse_heal_info};

    fn nodes(names: &[&str]) -> GlusterNodes {
        let mut g = GlusterNodes::default();
        for (i, n) in names.iter().enumerate() {
            g.order.push(n.to_string());
            g.addresses
                .insert(n.to_string(), format!("127.0.0.{}", i + 1));
        }
        g
    }

    #[test]
    fn a_peer_joins_only_connected_and_in_the_cluster_and_a_rejected_one_is_named() {
        let xml = |state: u8, text: &str, connected: u8| {
            format!(
                "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><peerStatus>\
                 <peer><uuid>a</uuid><hostname>127.0.0.2</hostname><hostnames><hostname>127.0.0.2</hostname></hostnames><connected>1</connected><state>3</state><stateStr>Peer in Cluster</stateStr></peer>\
                 <peer><uuid>b</uuid><hostname>127.0.0.3</hostname><hostnames><hostname>127.0.0.3</hostname></hostnames><connected>{connected}</connected><state>{state}</state><stateStr>{text}</stateStr></peer>\
                 <peer><uuid>c</uuid><hostname>localhost</hostname><connected>1</connected></peer></peerStatus></cliOutput>"
            )
        };
        let g = nodes(&["n1", "n2", "n3", "n4"]);
        let peers: Vec<String> = ["n2", "n3", "n4"].iter().map(|s| s.to_string()).collect();
        let pool = crate::gluster::xml::parse_pool_list(&xml(3, "Peer in Cluster", 1)).unwrap();
        assert_eq!(
            not_joined(&pool, "n1", &peers, &g.addresses),
            ["n4 (not in the pool)"]
        );
        let pool = crate::gluster::xml::parse_pool_list(&xml(6, "Peer Rejected", 1)).unwrap();
        assert_eq!(
            not_joined(&pool, "n1", &peers[..2], &g.addresses),
            ["n3 (Peer Rejected, connected)"]
        );
        let pool =
            crate::gluster::xml::parse_pool_list(&xml(5, "Accepted peer request", 0)).unwrap();
        assert_eq!(
            not_joined(&pool, "n1", &peers[..2], &g.addresses),
            ["n3 (Accepted peer request, disconnected)"]
        );
    }
    #[test]
    fn the_planner_sees_the_state_the_options_with_node_names_and_the_rebalance_task() {
        let g = nodes(&["n1", "n2"]);
        let mut info = crate::gluster::xml::parse_volume_info(include_str!(
            "../../../tests/fixtures/gluster/volume-info-replicate.xml"
        ))
        .expect("parse")
        .remove(0);
        info.state = VolumeState::Created;
        info.options.insert(
            "auth.allow".into(),
            "10.*,127.0.0.1,127.0.0.2,192.0.2.9".into(),
        );
        let seen = observed_volume(&info, None, &g);
        assert_eq!(seen.state, PlanVolumeState::Created);
        assert_eq!(seen.options["auth.allow"], "10.*,n1,n2,192.0.2.9");
        assert_eq!((seen.rebalance_task, seen.tasks_known), (None, false));

        let mut status = crate::gluster::xml::parse_volume_status(include_str!(
            "../../../tests/fixtures/gluster/volume-status-remove-brick-task.xml"
        ))
        .expect("parse")
        .remove(0);
        status.tasks.truncate(1);
        status.tasks[0].kind = "Remove brick".into();
        let seen = observed_volume(&info, Some(&status), &g);
        assert_eq!((seen.rebalance_task, seen.tasks_known), (None, true));
        status.tasks[0].kind = "Rebalance".into();
        status.tasks[0].id = "r1".into();
        let seen = observed_volume(&info, Some(&status), &g);
        assert_eq!(seen.rebalance_task.as_deref(), Some("r1"));
    }

    #[test]
    fn mount_is_the_first_address_with_the_rest_as_backups() {
        let nodes = nodes(&["c-a-1", "c-a-2", "c-a-3"]);
        assert_eq!(
            mount_of("v", &nodes),
            Some((
                "127.0.0.1:/v".to_string(),
                vec!["127.0.0.2".to_string(), "127.0.0.3".to_string()]
            ))
        );
    }

    fn migration(statuses: &[(TaskStatus, u64)]) -> MigrationStatus {
        MigrationStatus {
            task_id: None,
            nodes: statuses
                .iter()
                .enumerate()
                .map(
                    |(i, (status, failures))| crate::gluster::xml::MigrationNode {
                        name: format!("n{i}"),
                        id: String::new(),
                        totals: crate::gluster::xml::MigrationTotals {
                            files: 2,
                            size_bytes: 2,
                            lookups: 2,
                            failures: *failures,
                            skipped: 0,
                            status: status.clone(),
                            runtime_secs: 1.0,
                        },
                    },
                )
                .collect(),
            aggregate: None,
        }
    }

    #[test]
    fn a_migration_is_waited_for_until_complete_and_a_failure_stalls_the_cluster() {
        use TaskStatus::*;
        assert_eq!(
            migration_wait(
                "rebalance",
                "v",
                &migration(&[(Completed, 0), (Completed, 0)])
            )
            .expect("completed"),
            None
        );
        let running = migration_wait(
            "rebalance",
            "v",
            &migration(&[(Completed, 0), (InProgress, 0)]),
        )
        .expect("running")
        .expect("waits");
        assert!(running.contains("4 files moved, 1 of 2 nodes"), "{running}");
        for statuses in [
            vec![(Failed, 0), (Completed, 0)],
            vec![(Completed, 0), (Stopped, 0)],
            vec![(Completed, 3), (Completed, 0)],
        ] {
            let e = migration_wait("remove-brick", "v", &migration(&statuses))
                .expect_err("not safe to go on");
            assert!(e.is_terminal(), "{e}");
            assert_eq!(e.reason(), "MigrationFailed");
            assert!(
                e.to_string()
                    .contains("gluster volume remove-brick v status"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_running_rebalance_task_keeps_the_volume_unsettled() {
        let text =
            include_str!("../../../tests/fixtures/gluster/volume-status-remove-brick-task.xml");
        let status = crate::gluster::xml::parse_volume_status(text)
            .expect("parse")
            .remove(0);
        let running = status.tasks.iter().any(|t| t.status.is_running());
        assert_eq!(running_task("v", &status).is_some(), running);
        let mut finished = status.clone();
        for t in &mut finished.tasks {
            t.status = TaskStatus::Completed;
        }
        assert_eq!(running_task("v", &finished), None);
        let mut busy = status;
        busy.tasks.truncate(1);
        busy.tasks[0].status = TaskStatus::InProgress;
        let why = running_task("v", &busy).expect("running");
        assert!(why.contains(&busy.tasks[0].kind), "{why}");
    }

    #[test]
    fn heal_waits_name_the_disconnected_bricks() {
        let down = parse_heal_info(include_str!(
            "../../../tests/fixtures/gluster/heal-info-summary-brick-down.xml"
        ))
        .expect("parse");
        let why = heal_wait(&down).expect("not healed");
        assert!(why.contains("not connected"), "{why}");
        let healthy = parse_heal_info(include_str!(
            "../../../tests/fixtures/gluster/heal-info-summary.xml"
        ))
        .expect("parse");
        assert_eq!(heal_wait(&healthy).is_none(), healthy.is_healed());
    }
}

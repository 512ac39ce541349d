//! Status (pure): per node, per zone, the node summary and the kstatus conditions, computed from
//! the plan, the observation and how far this reconcile got. The reconciler patches the result
//! through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::conditions::{
    DEGRADED, FALSE, READY, RECONCILING, STALLED, TRUE, condition, set_condition,
};
use crate::api::{
    BrickStorage, GlusterClusterStatus, HealthStatus, NodeState, NodeStatus, VolumeStatus,
    ZoneStatus,
};

use super::health::{self, Degraded};
use crate::cloud::{ServerStatus, VolumeStatus as CinderStatus};
use crate::plan::ClusterPlan;

use crate::controller::observe::Observed;

/// How far the reconcile got: the condition the cluster shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the cloud or working through steps (`Reconciling=True`).
    Working {
        /// CamelCase reason.
        reason: String,
        /// What is happening.
        message: String,
    },
    /// The volume is started and every desired node's brick is online (`Ready=True`).
    Ready {
        /// What is ready.
        message: String,
    },
    /// Cannot go on without a change to the spec, a Secret or the cloud (`Stalled=True`).
    Stalled {
        /// CamelCase reason (the planner's or the cloud's).
        reason: String,
        /// Why, with the cloud's own message where there is one.
        message: String,
    },
}

/// The state of one planned node from what the cloud shows.
pub fn node_state(
    storage: Option<BrickStorage>,
    server: Option<&crate::cloud::Server>,
    volume: Option<&crate::cloud::Volume>,
) -> NodeState {
    let Some(server) = server else {
        return match volume {
            Some(_) => NodeState::Creating,
            None => NodeState::Pending,
        };
    };
    match &server.status {
        ServerStatus::Error => NodeState::Failed,
        ServerStatus::Deleted => NodeState::Deleting,
        ServerStatus::Active => {
            let attached = match (storage, volume) {
                (Some(BrickStorage::Volume), Some(v)) => {
                    v.status == CinderStatus::InUse
                        && server.attached_volume_ids().contains(&v.id.as_str())
                }
                (Some(BrickStorage::Volume), None) => false,
                _ => true,
            };
            if attached {
                NodeState::Booting
            } else {
                NodeState::Creating
            }
        }
        _ => NodeState::Creating,
    }
}

/// The status of every planned node, by index.
pub fn node_statuses(plan: &ClusterPlan, observed: &Observed, network: &str) -> Vec<NodeStatus> {
    plan.nodes
        .iter()
        .map(|n| {
            let server = observed.server(&n.name);
            let volume = observed.volume(&n.name);
            let storage = n.storage.storage();
            let state = node_state(storage, server, volume);
            let address = server
                .and_then(|s| s.address(Some(network)).or_else(|| s.address(None)))
                .map(str::to_string);
            NodeStatus {
                name: n.name.clone(),
                index: n.index,
                zone: n.zone.clone(),
                server_id: server.map(|s| s.id.clone()),
                volume_id: volume.map(|v| v.id.clone()),
                brick: address.as_ref().map(|a| format!("{a}:{}", plan.brick_path)),
                address,
                state,
                message: server.and_then(|s| s.fault_message()).map(str::to_string),
            }
        })
        .collect()
}

/// Per zone: desired and ready counts and the storage decided.
pub fn zone_statuses(plan: &ClusterPlan, nodes: &[NodeStatus]) -> Vec<ZoneStatus> {
    plan.zones
        .iter()
        .map(|z| ZoneStatus {
            name: z.name.clone(),
            desired: z.nodes,
            ready: nodes
                .iter()
                .filter(|n| n.zone == z.name && n.state == NodeState::Ready)
                .count() as u32,
            storage: z.storage.choice.storage(),
        })
        .collect()
}

/// What a pass found for the status (the rest is kept from the previous status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// The generation the status describes.
    pub generation: Option<i64>,
    /// The desired node count.
    pub desired_nodes: u32,
    /// The nodes (empty when there is no plan: a refused spec).
    pub nodes: Vec<NodeStatus>,
    /// The zones (likewise).
    pub zones: Vec<ZoneStatus>,
    /// What gluster showed, when it was reached (else the previous volume and mount stay).
    pub gluster: Option<GlusterView>,
    /// The health figures, when read this pass (else the previous ones stay).
    pub health: Option<HealthStatus>,
    /// The `Degraded` condition, when this pass could tell (else the previous one stays).
    pub degraded: Option<Degraded>,
}

/// The whole status from what the pass `found` and how far it got (`progress`); `previous`
/// keeps condition transition times.
pub fn build_status(
    previous: Option<&GlusterClusterStatus>,
    found: Findings,
    progress: &Progress,
    now: Time,
) -> GlusterClusterStatus {
    let Findings {
        generation,
        desired_nodes,
        nodes,
        zones,
        gluster,
        health,
        degraded,
    } = found;
    let ready_nodes = nodes.iter().filter(|n| n.state == NodeState::Ready).count() as u32;
    let mut conditions = previous.map(|p| p.conditions.clone()).unwrap_or_default();
    let ready_reason = "VolumeReady".to_string();
    let (ready, reconciling, stalled, reason, message) = match progress {
        Progress::Working { reason, message } => (FALSE, TRUE, FALSE, reason, message),
        Progress::Stalled { reason, message } => (FALSE, FALSE, TRUE, reason, message),
        Progress::Ready { message } => (TRUE, FALSE, FALSE, &ready_reason, message),
    };
    let mut set = |type_: &str, status: &str, reason: &str, message: &str| {
        set_condition(
            &mut conditions,
            condition(type_, status, reason, message, generation, now.clone()),
        );
    };
    set(READY, ready, reason, message);
    set(RECONCILING, reconciling, reason, message);
    set(STALLED, stalled, reason, message);
    if let Some(d) = &degraded {
        set(DEGRADED, d.status, d.reason, &d.message);
    }
    GlusterClusterStatus {
        observed_generation: generation,
        conditions,
        ready_nodes,
        desired_nodes,
        node_summary: Some(format!("{ready_nodes}/{desired_nodes}")),
        zones,
        nodes,
        volume: match &gluster {
            Some(g) => g.volume.clone(),
            None => previous.and_then(|p| p.volume.clone()),
        },
        capacity: match &gluster {
            Some(g) => g.capacity.clone(),
            None => previous.and_then(|p| p.capacity.clone()),
        },
        mount: match &gluster {
            Some(g) => g.mount.clone(),
            None => previous.and_then(|p| p.mount.clone()),
        },
        backup_volfile_servers: match gluster {
            Some(g) => g.backup_volfile_servers,
            None => previous
                .map(|p| p.backup_volfile_servers.clone())
                .unwrap_or_default(),
        },
        health: health.or_else(|| previous.and_then(|p| p.health.clone())),
    }
}

/// What gluster showed this pass (when it was reached): the volume, its capacity and mount.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GlusterView {
    /// The volume, if it exists.
    pub volume: Option<VolumeStatus>,
    /// Usable capacity (e.g. `20Gi`), once the volume exists.
    pub capacity: Option<String>,
    /// `address:/volume`, once the volume is started.
    pub mount: Option<String>,
    /// The other nodes' addresses.
    pub backup_volfile_servers: Vec<String>,
}

/// Marks nodes whose brick is online in `volume` as `Ready` (pure).
pub fn mark_ready(nodes: &mut [NodeStatus], volume: &VolumeStatus) {
    for node in nodes.iter_mut() {
        if volume
            .bricks
            .iter()
            .any(|b| b.node == node.name && b.online)
        {
            node.state = NodeState::Ready;
        } else if node.state == NodeState::Booting
            && volume.bricks.iter().any(|b| b.node == node.name)
        {
            node.state = NodeState::Joined;
        }
    }
}

/// The progress once gluster has been reached: ready when the volume is started with every
/// desired node's brick online and, when its health was read, no peer lost, nothing to heal
/// and no split-brain (see [`health::holds_ready`]).
pub fn gluster_progress(
    nodes: &[NodeStatus],
    volume: Option<&VolumeStatus>,
    waiting: Option<&str>,
    health: Option<&HealthStatus>,
) -> Progress {
    let ready = nodes.iter().filter(|n| n.state == NodeState::Ready).count();
    let started = volume.is_some_and(|v| v.state.as_deref() == Some("Started"));
    if let Some(held) = health
        .filter(|_| started && waiting.is_none())
        .and_then(health::holds_ready)
    {
        return held;
    }
    match volume {
        Some(v)
            if v.state.as_deref() == Some("Started")
                && ready == nodes.len()
                && waiting.is_none() =>
        {
            Progress::Ready {
                message: format!(
                    "volume {} started ({}, {} bricks), every brick online",
                    v.name,
                    v.type_,
                    v.bricks.len()
                ),
            }
        }
        _ => Progress::Working {
            reason: "ConfiguringGluster".into(),
            message: match waiting {
                Some(w) => w.to_string(),
                None => format!("{ready}/{} bricks online", nodes.len()),
            },
        },
    }
}

/// The progress message for a cluster whose cloud side is in `nodes`' states.
pub fn cloud_progress(nodes: &[NodeStatus]) -> Progress {
    let count = |s: NodeState| nodes.iter().filter(|n| n.state == s).count();
    let total = nodes.len();
    let failed: Vec<String> = nodes
        .iter()
        .filter(|n| n.state == NodeState::Failed)
        .map(|n| {
            format!(
                "{}: {}",
                n.name,
                n.message.as_deref().unwrap_or("server in ERROR")
            )
        })
        .collect();
    if !failed.is_empty() {
        return Progress::Working {
            reason: "ReplacingFailedServer".into(),
            message: format!(
                "replacing {} failed server(s): {}",
                failed.len(),
                failed.join("; ")
            ),
        };
    }
    let booted = count(NodeState::Booting) + count(NodeState::Joined) + count(NodeState::Ready);
    if booted < total {
        Progress::Working {
            reason: "CreatingServers".into(),
            message: format!(
                "{booted}/{total} servers active with their bricks attached; {} creating, {} pending",
                count(NodeState::Creating),
                count(NodeState::Pending)
            ),
        }
    } else {
        Progress::Working {
            reason: "WaitingForGluster".into(),
            message: format!(
                "all {total} servers active with their bricks attached; waiting for the gluster volume"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::find;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("valid timestamp"))
    }

    fn node(name: &str, zone: &str, state: NodeState) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            zone: zone.into(),
            state,
            ..NodeStatus::default()
        }
    }

    #[test]
    fn stalled_sets_kstatus_conditions() {
        let progress = Progress::Stalled {
            reason: "ReplicasNotDivisor".into(),
            message: "spec.volume.replicas: 3 does not divide 4".into(),
        };
        let status = build_status(
            None,
            Findings {
                generation: Some(2),
                desired_nodes: 4,
                ..Findings::default()
            },
            &progress,
            at(10),
        );
        let c = |t| {
            find(&status.conditions, t)
                .expect("condition present")
                .clone()
        };
        assert_eq!(
            (c(STALLED).status.as_str(), c(STALLED).reason.as_str()),
            (TRUE, "ReplicasNotDivisor")
        );
        assert_eq!(c(READY).status, FALSE);
        assert_eq!(c(RECONCILING).status, FALSE);
        assert_eq!(c(READY).observed_generation, Some(2));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.node_summary.as_deref(), Some("0/4"));
    }

    #[test]
    fn transition_time_kept_while_status_unchanged() {
        let working = |m: &str| Progress::Working {
            reason: "CreatingServers".into(),
            message: m.into(),
        };
        let first = build_status(
            None,
            Findings {
                generation: Some(1),
                desired_nodes: 2,
                ..Findings::default()
            },
            &working("a"),
            at(10),
        );
        let second = build_status(
            Some(&first),
            Findings {
                generation: Some(1),
                desired_nodes: 2,
                ..Findings::default()
            },
            &working("b"),
            at(20),
        );
        let r = find(&second.conditions, RECONCILING).expect("present");
        assert_eq!(r.last_transition_time, at(10));
        assert_eq!(r.message, "b");
    }

    #[test]
    fn progress_counts_nodes_and_quotes_faults() {
        let nodes = vec![
            node("n0", "a", NodeState::Booting),
            node("n1", "b", NodeState::Creating),
        ];
        match cloud_progress(&nodes) {
            Progress::Working { reason, message } => {
                assert_eq!(reason, "CreatingServers");
                assert!(message.starts_with("1/2 servers active"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut failed = node("n2", "a", NodeState::Failed);
        failed.message = Some("No valid host was found".into());
        match cloud_progress(&[failed]) {
            Progress::Working { reason, message } => {
                assert_eq!(reason, "ReplacingFailedServer");
                assert!(message.contains("No valid host was found"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let booted = vec![node("n0", "a", NodeState::Booting)];
        assert!(matches!(
            cloud_progress(&booted),
            Progress::Working { reason, .. } if reason == "WaitingForGluster"
        ));
    }

    #[test]
    fn zones_count_ready_nodes() {
        use crate::plan::{CloudFacts, plan_cluster};
        let spec: crate::api::GlusterClusterSpec = serde_yaml::from_str(
            "cloud: {secretName: s, cloudName: c}\nimage: i\nflavor: f\nnetwork: n\nzones: [{name: a, nodes: 2}]\nbrick: {size: 1Gi}\nvolume: {name: v}\n",
        )
        .expect("spec");
        let facts = CloudFacts {
            block_storage_zones: Some(["a".to_string()].into()),
        };
        let plan = plan_cluster("c", &spec, &facts).expect("plan");
        let nodes = vec![
            node("c-a-0", "a", NodeState::Ready),
            node("c-a-1", "a", NodeState::Booting),
        ];
        let zones = zone_statuses(&plan, &nodes);
        assert_eq!(zones.len(), 1);
        assert_eq!((zones[0].desired, zones[0].ready), (2, 1));
        assert_eq!(zones[0].storage, Some(BrickStorage::Volume));
    }
}

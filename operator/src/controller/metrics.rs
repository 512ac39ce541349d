//! Prometheus metrics of the controller (OpenMetrics text at `/metrics`): reconciles, errors by
//! reason, reconcile duration, cloud calls by service and outcome, nodes by state per cluster,
//! each cluster's health figures (peers, bricks, heal entries, capacity, Degraded by reason)
//! and whether this replica leads.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::conditions::DEGRADED_REASONS;
use crate::api::{HealthStatus, NodeState, NodeStatus};
use crate::cloud::{CallEvent, CallObserver};

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The error's reason ([`super::ReconcileError::reason`] or a planner reason).
    pub reason: String,
}

/// Labels of the cloud call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudCallLabels {
    /// The service type (`compute`, `block-storage`, `network`, `image`).
    pub service: String,
    /// The outcome class ([`crate::cloud::CallOutcome::as_str`]).
    pub outcome: String,
}

/// Labels of the node gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    /// The cluster's namespace.
    pub namespace: String,
    /// The cluster's name.
    pub cluster: String,
    /// The node state (`Pending`, `Creating`, `Booting`, …).
    pub state: String,
}

/// Labels of the health gauges: the cluster, and which figure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HealthLabels {
    /// The cluster's namespace.
    pub namespace: String,
    /// The cluster's name.
    pub cluster: String,
    /// Which count (`connected`/`total` peers, `online`/`total` bricks, `pending`/`split_brain`
    /// heal entries, `used`/`total` capacity bytes).
    pub kind: String,
}

/// The health gauges and the kinds each is reported for.
const HEALTH_GAUGES: [(&str, &[&str]); 4] = [
    ("peers", &["connected", "total"]),
    ("bricks", &["online", "total"]),
    ("heal_entries", &["pending", "split_brain"]),
    ("capacity_bytes", &["used", "total"]),
];

/// Every state a node gauge is reported for (zeros included, so a state that empties shows 0).
const STATES: [NodeState; 8] = [
    NodeState::Pending,
    NodeState::Creating,
    NodeState::Booting,
    NodeState::Joined,
    NodeState::Ready,
    NodeState::Draining,
    NodeState::Failed,
    NodeState::Deleting,
];

/// The controller's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    errors: Family<ErrorLabels, Counter>,
    duration: Histogram,
    cloud_calls: Family<CloudCallLabels, Counter>,
    nodes: Family<NodeLabels, Gauge>,
    health: [Family<HealthLabels, Gauge>; 4],
    degraded: Family<HealthLabels, Gauge>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gluster_operator");
        let reconciles = Counter::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let cloud_calls = Family::<CloudCallLabels, Counter>::default();
        let nodes = Family::<NodeLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that ended in an error or a Stalled condition, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            duration.clone(),
        );
        registry.register(
            "cloud_calls",
            "HTTP attempts to OpenStack services, by service and outcome class",
            cloud_calls.clone(),
        );
        registry.register("nodes", "Nodes of each cluster by state", nodes.clone());
        let health: [Family<HealthLabels, Gauge>; 4] = Default::default();
        let help = [
            "Peers of each cluster's trusted pool: connected and total",
            "Bricks of each cluster's volume: online and total",
            "Entries of each cluster's volume pending heal and in split-brain (-1: unknown)",
            "Usable capacity of each cluster's volume in bytes: used and total (-1: unknown)",
        ];
        for (((name, _), help), family) in HEALTH_GAUGES.iter().zip(help).zip(&health) {
            registry.register(*name, help, family.clone());
        }
        let degraded = Family::<HealthLabels, Gauge>::default();
        registry.register(
            "degraded",
            "Whether each cluster is Degraded for this reason (1) or not (0)",
            degraded.clone(),
        );
        registry.register(
            "leader",
            "Whether this replica holds the leader lease and runs the controller (0 or 1)",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            duration,
            cloud_calls,
            nodes,
            health,
            degraded,
            leader,
        }
    }
}

impl Metrics {
    /// Counts one reconcile that took `elapsed`.
    pub fn reconciled(&self, elapsed: Duration) {
        self.reconciles.inc();
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// Counts one error (or refusal) of `reason`.
    pub fn error(&self, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The number of cloud calls to `service` (any outcome) counted so far.
    pub fn cloud_calls(&self, service: &str) -> u64 {
        [
            "ok",
            "client_error",
            "server_error",
            "throttled",
            "transport_error",
        ]
        .into_iter()
        .map(|outcome| {
            self.cloud_calls
                .get_or_create(&CloudCallLabels {
                    service: service.to_string(),
                    outcome: outcome.to_string(),
                })
                .get()
        })
        .sum()
    }

    /// Sets the node gauges of a cluster from its node statuses.
    pub fn nodes(&self, namespace: &str, cluster: &str, nodes: &[NodeStatus]) {
        for state in STATES {
            let count = nodes.iter().filter(|n| n.state == state).count() as i64;
            self.nodes
                .get_or_create(&NodeLabels {
                    namespace: namespace.to_string(),
                    cluster: cluster.to_string(),
                    state: format!("{state:?}"),
                })
                .set(count);
        }
    }

    /// Sets the health gauges of a cluster (`degraded`: the Degraded condition's status is
    /// True, with its reason). A figure gluster could not give is -1.
    pub fn health(
        &self,
        namespace: &str,
        cluster: &str,
        health: &HealthStatus,
        degraded: Option<&str>,
    ) {
        let n = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let values = [
            [
                i64::from(health.peers_connected),
                i64::from(health.peers_total),
            ],
            [
                i64::from(health.bricks_online),
                i64::from(health.bricks_total),
            ],
            [n(health.heal_pending), n(health.split_brain)],
            [
                n(health.capacity_used_bytes),
                n(health.capacity_total_bytes),
            ],
        ];
        for (((_, kinds), family), values) in HEALTH_GAUGES.iter().zip(&self.health).zip(values) {
            for (kind, value) in kinds.iter().zip(values) {
                family
                    .get_or_create(&label(namespace, cluster, kind))
                    .set(value);
            }
        }
        for reason in DEGRADED_REASONS {
            self.degraded
                .get_or_create(&label(namespace, cluster, reason))
                .set(i64::from(degraded == Some(reason)));
        }
    }

    /// Drops the node gauges of a deleted cluster.
    pub fn forget(&self, namespace: &str, cluster: &str) {
        for ((_, kinds), family) in HEALTH_GAUGES.iter().zip(&self.health) {
            for kind in kinds.iter() {
                family.remove(&label(namespace, cluster, kind));
            }
        }
        for reason in DEGRADED_REASONS {
            self.degraded.remove(&label(namespace, cluster, reason));
        }
        for state in STATES {
            self.nodes.remove(&NodeLabels {
                namespace: namespace.to_string(),
                cluster: cluster.to_string(),
                state: format!("{state:?}"),
            });
        }
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn label(namespace: &str, cluster: &str, kind: &str) -> HealthLabels {
    HealthLabels {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
        kind: kind.to_string(),
    }
}

impl CallObserver for Metrics {
    fn observe(&self, event: &CallEvent<'_>) {
        self.cloud_calls
            .get_or_create(&CloudCallLabels {
                service: event.service.as_str().to_string(),
                outcome: event.outcome.as_str().to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{CallOutcome, ServiceType};

    #[test]
    fn exposition_has_every_metric_with_labels() {
        let m = Metrics::default();
        m.reconciled(Duration::from_millis(30));
        m.error("QuotaExceeded");
        m.nodes(
            "default",
            "demo",
            &[NodeStatus {
                state: NodeState::Booting,
                ..NodeStatus::default()
            }],
        );
        m.health(
            "default",
            "demo",
            &HealthStatus {
                peers_connected: 4,
                peers_total: 4,
                bricks_online: 3,
                bricks_total: 4,
                heal_pending: None,
                split_brain: Some(0),
                capacity_used_bytes: Some(1024),
                capacity_total_bytes: Some(4096),
                ..HealthStatus::default()
            },
            Some("BrickOffline"),
        );
        m.set_leader(true);
        m.observe(&CallEvent {
            service: ServiceType::BlockStorage,
            method: "POST",
            outcome: CallOutcome::Throttled,
        });
        assert_eq!(m.cloud_calls("block-storage"), 1);
        assert_eq!(m.cloud_calls("compute"), 0);
        let text = m.encode();
        for want in [
            "gluster_operator_reconciles_total 1",
            "gluster_operator_reconcile_errors_total{reason=\"QuotaExceeded\"} 1",
            "gluster_operator_reconcile_duration_seconds_count 1",
            "gluster_operator_nodes{namespace=\"default\",cluster=\"demo\",state=\"Booting\"} 1",
            "gluster_operator_nodes{namespace=\"default\",cluster=\"demo\",state=\"Pending\"} 0",
            "gluster_operator_leader 1",
            "gluster_operator_bricks{namespace=\"default\",cluster=\"demo\",kind=\"online\"} 3",
            "gluster_operator_bricks{namespace=\"default\",cluster=\"demo\",kind=\"total\"} 4",
            "gluster_operator_peers{namespace=\"default\",cluster=\"demo\",kind=\"connected\"} 4",
            "gluster_operator_heal_entries{namespace=\"default\",cluster=\"demo\",kind=\"pending\"} -1",
            "gluster_operator_heal_entries{namespace=\"default\",cluster=\"demo\",kind=\"split_brain\"} 0",
            "gluster_operator_capacity_bytes{namespace=\"default\",cluster=\"demo\",kind=\"used\"} 1024",
            "gluster_operator_degraded{namespace=\"default\",cluster=\"demo\",kind=\"BrickOffline\"} 1",
            "gluster_operator_degraded{namespace=\"default\",cluster=\"demo\",kind=\"HealPending\"} 0",
            "gluster_operator_cloud_calls_total{service=\"block-storage\",outcome=\"throttled\"} 1",
        ] {
            assert!(text.lines().any(|l| l == want), "missing {want} in\n{text}");
        }
        m.forget("default", "demo");
        assert!(!m.encode().contains("cluster=\"demo\""));
    }
}

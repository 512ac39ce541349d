//! The operator's runtime pieces against the real Kubernetes API server: leader election on
//! the chart's Lease between two candidates acting as the chart's ServiceAccount (one leads; the
//! other takes over once the first releases), and the HTTP endpoints (/healthz, /readyz,
//! /metrics) served on 127.0.0.1:0.

use std::sync::Arc;
use std::time::Duration;

use e2e::controlplane::{ControlPlane, chart};
use gluster_operator::controller::Metrics;
use gluster_operator::controller::http::{self, Health};
use gluster_operator::controller::leader::{LeaderElector, LeaseConfig, LeaseError};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;

fn candidate(client: &Client, lease: &chart::OperatorIdentity, identity: &str) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        LeaseConfig {
            name: lease.lease.clone(),
            namespace: lease.namespace.clone(),
            identity: identity.into(),
            duration: Duration::from_secs(30),
            renew_deadline: Duration::from_secs(20),
            retry_period: Duration::from_millis(50),
            call_timeout: Duration::from_secs(5),
        },
    )
}

#[tokio::test]
async fn one_candidate_leads_and_the_other_takes_over_after_release() {
    let cp = ControlPlane::shared().await.unwrap();
    let admin = cp.client().await.unwrap();
    let ns = cp.namespace(&admin, "lease").await.unwrap();
    let operator = chart::install(cp, "lease", &ns, "").unwrap();
    let client = operator.client().await.unwrap();
    let a = candidate(&client, &operator, "replica-a");
    let b = candidate(&client, &operator, "replica-b");

    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a takes the new Lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b respects a's valid Lease"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns);
    let lease = leases.get(&operator.lease).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(spec.lease_duration_seconds, Some(30));
    assert!(spec.renew_time.is_some());

    // b campaigns in the background; a releases; b takes over without waiting 30 s.
    let campaign = tokio::spawn({
        let b = b.clone();
        async move { b.acquire().await }
    });
    a.release().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), campaign)
        .await
        .expect("b acquired after the release")
        .unwrap();
    let spec = leases.get(&operator.lease).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a now waits");

    // The chart's Role allows that one Lease and no other.
    let other = LeaderElector::new(
        client.clone(),
        LeaseConfig {
            name: "someone-elses-lease".into(),
            namespace: ns.clone(),
            identity: "replica-a".into(),
            duration: Duration::from_secs(30),
            renew_deadline: Duration::from_secs(20),
            retry_period: Duration::from_millis(50),
            call_timeout: Duration::from_secs(5),
        },
    );
    // Reading a Lease is limited to the chart's name: the first call is refused.
    let refused = match other.try_acquire_or_renew().await {
        Err(LeaseError::Api(kube::Error::Api(s))) => s.code,
        other => panic!("expected 403, got {other:?}"),
    };
    assert_eq!(
        refused, 403,
        "a Lease of another name is not the operator's"
    );
}

#[tokio::test]
async fn health_ready_and_metrics_endpoints() {
    let metrics = Arc::new(Metrics::default());
    let health = Health {
        metrics: metrics.clone(),
        ready: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = http::serve("127.0.0.1:0".parse().unwrap(), health.clone(), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let server = tokio::spawn(server);
    let get = |path: &'static str| async move {
        let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(get("/readyz").await.0, 503);
    health.set_ready();
    assert_eq!(get("/readyz").await, (200, "ready".to_string()));
    metrics.error("QuotaExceeded");
    let (code, text) = get("/metrics").await;
    assert_eq!(code, 200);
    assert!(
        text.contains("gluster_operator_reconcile_errors_total{reason=\"QuotaExceeded\"} 1"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

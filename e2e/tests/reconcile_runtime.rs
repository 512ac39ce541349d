//! The operator's runtime pieces against the Kubernetes API emulator: leader election on a
//! Lease between two candidates (one leads; the other takes over once the first releases),
//! and the HTTP endpoints (/healthz, /readyz, /metrics) served on 127.0.0.1:0.

use std::sync::Arc;
use std::time::Duration;

use e2e::kube::Emulator;
use gluster_operator::controller::Metrics;
use gluster_operator::controller::http::{self, Health};
use gluster_operator::controller::leader::{LeaderElector, LeaseConfig};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;

async fn client(emu: &Emulator) -> Client {
    let kc = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Client::try_from(cfg).unwrap()
}

fn candidate(client: &Client, identity: &str) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        LeaseConfig {
            name: "gluster-operator".into(),
            namespace: "default".into(),
            identity: identity.into(),
            duration: Duration::from_secs(30),
            retry_period: Duration::from_millis(50),
        },
    )
}

#[tokio::test]
async fn one_candidate_leads_and_the_other_takes_over_after_release() {
    let emu = Emulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = client(&emu).await;
    let a = candidate(&client, "replica-a");
    let b = candidate(&client, "replica-b");

    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a takes the new Lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b respects a's valid Lease"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let lease = leases.get("gluster-operator").await.unwrap();
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
    let spec = leases.get("gluster-operator").await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a now waits");
    emu.shutdown().await.unwrap();
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

//! The monitoring and GitOps pieces against a real cluster: loopback gluster nodes (real sshd,
//! glusterd, bricks, a FUSE mount), the operator on the real kube-apiserver, its `/metrics`
//! served by the operator's own HTTP endpoint on loopback and scraped every second by Debian's
//! `prometheus` loaded with the chart's PrometheusRule. A killed brick process fires
//! `GlusterBrickOffline` and `GlusterClusterDegraded{kind="BrickOffline"}` (seen through
//! Prometheus's HTTP API), both resolve once the operator restarted the brick and the heal is
//! done, and no file is lost. Every query of the chart's Grafana dashboard runs against that
//! Prometheus without an error and names only metrics it scraped. Every GlusterCluster object
//! the API server showed during the run (watched) keeps the GitOps contract: the Argo CD Lua
//! check and kstatus agree (see `observability_support::check_contract`), including a spec
//! change the operator has not looked at yet. `RECORD_STATUS_FIXTURES=1` writes the objects
//! `observability.rs` checks to `e2e/tests/fixtures/status/`. Needs root: fails, never skips.

mod observability_support;
mod reconcile_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::data::{Manifest, Mount};
use futures::StreamExt;
use gluster_operator::api::GlusterCluster;
use gluster_operator::controller::http::{self, Health};
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use observability_support::check_contract;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};
use serde_json::{Value, json};

/// The hang guard for an alert to fire or resolve (health is read every 30 s; Prometheus
/// scrapes and evaluates every second).
const ALERT_WAIT: Duration = Duration::from_secs(120);

/// A Prometheus server on loopback, stopped (killed) when dropped.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts `prometheus` with `rules.yaml` in `dir` scraping `target` every second.
    async fn start(dir: &Path, target: std::net::SocketAddr) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yaml\n\
             scrape_configs:\n  - job_name: gluster-operator\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus.log");
        let child = Command::new(observability_support::debian_tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting prometheus");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..120 {
            let ready = p.http.get(format!("{}/-/ready", p.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "prometheus not ready within 30 s: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
    }

    /// GET `path` of the HTTP API; its `data` (panics unless `status` is `success`).
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let body: Value = self
            .http
            .get(format!("{}{path}", self.url))
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("prometheus {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("prometheus {path}: {e}"));
        assert_eq!(body["status"], "success", "{path} {query:?}: {body}");
        body["data"].clone()
    }

    /// The alerts by `(alertname, state)` with their labels.
    async fn alerts(&self) -> Vec<(String, String, Value)> {
        let data = self.api("/api/v1/alerts", &[]).await;
        data["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                (
                    a["labels"]["alertname"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    a["state"].as_str().unwrap_or_default().to_string(),
                    a["labels"].clone(),
                )
            })
            .collect()
    }

    /// Waits (at most [`ALERT_WAIT`]) until `cond` holds for the alert list.
    async fn wait_alerts(&self, what: &str, cond: impl Fn(&[(String, String, Value)]) -> bool) {
        let deadline = tokio::time::Instant::now() + ALERT_WAIT;
        loop {
            let alerts = self.alerts().await;
            if cond(&alerts) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let bricks = self
                    .api(
                        "/api/v1/query",
                        &[(
                            "query",
                            "{__name__=~\"gluster_operator_(bricks|degraded)\"}",
                        )],
                    )
                    .await;
                let targets = self.api("/api/v1/targets", &[]).await;
                panic!(
                    "not {what} within {ALERT_WAIT:?}; alerts: {alerts:?}\nscraped: {bricks}\ntargets: {targets}"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Prometheus {
    /// Waits (at most [`ALERT_WAIT`]) until the instant `query` returns a series; the series.
    async fn wait_series(&self, what: &str, query: &str) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + ALERT_WAIT;
        loop {
            let data = self.api("/api/v1/query", &[("query", query)]).await;
            let result = data["result"].as_array().cloned().unwrap_or_default();
            if !result.is_empty() {
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                let alerts = self.alerts().await;
                panic!("not {what} within {ALERT_WAIT:?} ({query}); alerts now: {alerts:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether alert `name` is firing for cluster `cluster` (and `kind`, when given).
fn firing(
    alerts: &[(String, String, Value)],
    name: &str,
    cluster: &str,
    kind: Option<&str>,
) -> bool {
    alerts.iter().any(|(n, state, labels)| {
        n == name
            && state == "firing"
            && labels["cluster"] == cluster
            && kind.is_none_or(|k| labels["kind"] == k)
    })
}

/// Healthy: Ready, Degraded=False, every brick online, nothing pending heal.
fn healthy(c: &GlusterCluster) -> bool {
    let h = c.status.as_ref().and_then(|s| s.health.as_ref());
    condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        && condition(c, "Degraded").is_some_and(|(s, _, _)| s == "False")
        && h.is_some_and(|h| h.bricks_online == h.bricks_total && h.heal_pending == Some(0))
}

/// The object as JSON, without managedFields (noise for a fixture).
fn recorded(c: &GlusterCluster) -> Value {
    let mut v = serde_json::to_value(c).expect("json");
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    v
}

/// Writes `obj` as fixture `name` when `RECORD_STATUS_FIXTURES` is set.
fn record(name: &str, obj: &Value) {
    if std::env::var_os("RECORD_STATUS_FIXTURES").is_none() {
        return;
    }
    let dir = observability_support::fixtures_dir();
    std::fs::create_dir_all(&dir).expect("fixtures dir");
    let text = serde_json::to_string_pretty(obj).expect("json") + "\n";
    std::fs::write(dir.join(name), text).expect("writing a fixture");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brick_offline_fires_its_alerts_in_prometheus_and_every_status_keeps_the_gitops_contract()
{
    if reconcile_support::skip_in_external_mode(
        "a_brick_offline_fires_its_alerts_in_prometheus_and_every_status_keeps_the_gitops_contract",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    // The operator restarts a killed brick in the pass that sees it offline, and the next pass
    // (after the backoff's first delay, 250 ms by default) reports it online again: the gauges
    // show the outage only between those passes, which a 1 s scrape can miss. A first delay of
    // 3 s keeps it in view for at least three scrapes and rule evaluations.
    let (world, LoopbackGluster { nodes, scratch }) =
        start_gluster_world("observability-", 60, |sim| {
            World::start_configured(sim, |c| c.requeue_min = Duration::from_secs(3))
        })
        .await;

    // Every object the API server shows, as a GitOps tool's watch sees it.
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let watching = {
        let seen = seen.clone();
        let mut events = watcher(world.clusters.clone(), watcher::Config::default()).boxed();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let Ok(watcher::Event::Apply(c) | watcher::Event::InitApply(c)) = event {
                    seen.lock().expect("lock").push(recorded(&c));
                }
            }
        })
    };

    // The operator's /metrics on loopback, scraped by a real Prometheus with the chart's rules
    // (the two alerts under test at once instead of after minutes: the operator restarts a
    // killed brick within seconds).
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let health = Health {
        metrics: world.metrics.clone(),
        ready: Arc::default(),
    };
    let (addr, server) = http::serve("127.0.0.1:0".parse().expect("addr"), health, async {
        let _ = stopped.await;
    })
    .await
    .expect("serving /metrics");
    let serving = tokio::spawn(server);
    let prom_dir = scratch.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("prometheus dir");
    observability_support::write_rules(&prom_dir, "for:\n  degraded: 0s\n  brickOffline: 0s\n");
    let prom = Prometheus::start(&prom_dir, addr).await;

    let cluster = example("two-zones-replica2.yaml");
    let name = cluster.metadata.name.clone().expect("a name");
    let created = world.apply(&cluster).await;
    record("created.json", &recorded(&created));
    let ready = world.wait_for(&name, "Ready and healthy", healthy).await;
    let status = ready.status.clone().expect("status");
    let (spec, backups) = (
        status.mount.clone().expect("status.mount"),
        status.backup_volfile_servers.clone(),
    );
    let mount = Mount::new(&spec, &backups, &scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 30, 64 * 1024, 61).expect("write");
    // Healthy: neither alert fires for this cluster (Prometheus has scraped the healthy figures).
    prom.wait_series(
        "4 bricks online scraped",
        &format!("gluster_operator_bricks{{kind=\"online\",cluster=\"{name}\"}} == 4"),
    )
    .await;
    let quiet = prom.alerts().await;
    assert!(
        !firing(&quiet, "GlusterBrickOffline", &name, None),
        "{quiet:?}"
    );

    // Kill the brick process of the second node; write while it is down.
    let victim = status
        .nodes
        .iter()
        .find(|n| n.index == 1)
        .expect("node 1")
        .clone();
    let running = nodes
        .node(victim.server_id.as_deref().expect("a server ID"))
        .expect("the node runs");
    let bricks: Vec<u32> = running
        .processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "glusterfsd")
        })
        .collect();
    assert_eq!(bricks.len(), 1, "one brick process on {}", victim.name);
    let killed = Command::new("kill")
        .args(["-9", &bricks[0].to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    manifest
        .write_more(mount.path(), "during", 30, 64 * 1024, 62)
        .expect("write during the outage");

    // The operator reports it (the health read runs every 30 s) ...
    let victim_name = victim.name.clone();
    world
        .wait_for(&name, "Degraded=True/BrickOffline", move |c| {
            condition(c, "Degraded").is_some_and(|(s, r, m)| {
                s == "True" && r == "BrickOffline" && m.contains(&victim_name)
            })
        })
        .await;
    // ... and both alerts fired in Prometheus, from the scraped gauges. The operator restarts
    // the brick within a pass or two, so the outage may last only seconds: the alerts' own
    // series (ALERTS) over the last minutes show the firing, whenever it was.
    for (alert, kind) in [
        ("GlusterBrickOffline", ""),
        ("GlusterClusterDegraded", ",kind=\"BrickOffline\""),
    ] {
        let query = format!(
            "last_over_time(ALERTS{{alertname=\"{alert}\",alertstate=\"firing\",cluster=\"{name}\"{kind}}}[15m])"
        );
        let fired = prom.wait_series(&format!("{alert} fired"), &query).await;
        let severity = if alert == "GlusterBrickOffline" {
            "critical"
        } else {
            "warning"
        };
        assert_eq!(fired[0]["metric"]["severity"], severity, "{fired:?}");
    }
    let lowest = prom
        .wait_series(
            "3 bricks online scraped",
            &format!("min_over_time(gluster_operator_bricks{{kind=\"online\",cluster=\"{name}\"}}[15m]) == 3"),
        )
        .await;
    assert_eq!(lowest.len(), 1, "{lowest:?}");

    // Every dashboard query runs over the last 15 minutes (step 1 s: the scrape interval, so no
    // sample of the seconds-long outage is stepped over) without an error and names only
    // metrics the operator exports; the per-cluster panels have data for this cluster.
    // Known: a family the operator exports (observability_support::exported_families; one
    // without samples yet, like the reconcile errors here, is not in /metrics at all).
    let families = observability_support::exported_families();
    let known = |m: &str| observability_support::is_exported(&families, m);
    let end = chrono::Utc::now().timestamp();
    let (start, end) = ((end - 900).to_string(), end.to_string());
    for query in observability_support::dashboard_queries(&observability_support::dashboard()) {
        for metric in observability_support::metric_names(&query) {
            assert!(
                known(&metric),
                "{metric} (in {query}) not exported: {families:?}"
            );
        }
        let data = prom
            .api(
                "/api/v1/query_range",
                &[
                    ("query", &query),
                    ("start", &start),
                    ("end", &end),
                    ("step", "1"),
                ],
            )
            .await;
        if query.contains("cluster=~") {
            let series = data["result"].as_array().map_or(0, Vec::len);
            assert!(series > 0, "no data for {query}: {data}");
        }
    }

    // A second cluster whose Secret does not exist: Stalled; then a spec change the operator
    // has not looked at yet (the API server's answer to the patch).
    let mut stalled = example("two-zones-replica2.yaml");
    stalled.metadata.name = Some("nosecret".into());
    stalled.spec.cloud.secret_name = "missing-openstack".into();
    world.apply(&stalled).await;
    let stuck = world
        .wait_for("nosecret", "Stalled on the missing Secret", |c| {
            condition(c, "Stalled").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    record("stalled-secret-missing.json", &recorded(&stuck));
    let patched = world
        .clusters
        .patch(
            "nosecret",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"zones": [
                {"name": "zone-a", "nodes": 3},
                {"name": "zone-b", "nodes": 3},
            ]}})),
        )
        .await
        .expect("patching the spec");
    let ahead = recorded(&patched);
    assert!(
        ahead["status"]["observedGeneration"].as_i64() < ahead["metadata"]["generation"].as_i64(),
        "{ahead}"
    );
    let (health, _) = check_contract(&ahead);
    assert_eq!(health, "Progressing");
    record("generation-ahead.json", &ahead);

    // The operator restarts the brick, the heal completes: both alerts resolve; no file lost.
    world.wait_for(&name, "healthy again", healthy).await;
    prom.wait_alerts("the brick alerts resolved", |a| {
        !firing(a, "GlusterBrickOffline", &name, None)
            && !firing(a, "GlusterClusterDegraded", &name, Some("BrickOffline"))
    })
    .await;
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &scratch.path().join("fresh"));
    assert_eq!(checked, 60);

    // Every object seen keeps the contract, and the run went through every verdict.
    watching.abort();
    let seen = seen.lock().expect("lock").clone();
    let mut verdicts = std::collections::BTreeSet::new();
    let mut first = std::collections::BTreeMap::new();
    for obj in &seen {
        let (health, message) = check_contract(obj);
        let is = |t: &str| observability_support::condition_status(obj, t) == Some("True");
        let phase = if obj["metadata"]["name"] == "nosecret" {
            None
        } else if is("Degraded")
            && observability_support::condition_reason(obj, "Degraded") == Some("BrickOffline")
        {
            Some("degraded-brick-offline.json")
        } else if is("Ready") && !is("Degraded") {
            Some("ready.json")
        } else if is("Reconciling") && !is("Degraded") {
            Some("reconciling.json")
        } else {
            None
        };
        if let Some(phase) = phase {
            first.entry(phase).or_insert_with(|| obj.clone());
        }
        verdicts.insert(format!(
            "{health}: {}",
            message.split(':').next().unwrap_or("")
        ));
    }
    for (phase, obj) in &first {
        record(phase, obj);
    }
    assert_eq!(
        first.keys().copied().collect::<Vec<_>>(),
        [
            "degraded-brick-offline.json",
            "ready.json",
            "reconciling.json"
        ],
        "verdicts seen: {verdicts:?}"
    );
    assert!(
        verdicts.iter().any(|v| v.starts_with("Degraded: Stalled")),
        "{verdicts:?}"
    );

    drop(prom);
    let _ = stop_http.send(());
    let _ = serving.await;
    drop(mount);
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}

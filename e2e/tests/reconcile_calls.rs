//! The calls the controller makes to converge the seed cluster (`examples/seed-4-nodes-replica.yaml`,
//! 4 nodes in one zone, replica 4) on the OpenStack simulator with loopback gluster nodes and
//! a 2 s boot, checked against the minimum the task needs ([`MINIMUM`], counted below), and
//! the calls once it is Ready: no write to OpenStack nor to the Kubernetes API over an idle
//! interval of several settled resyncs, and reads bounded by those resyncs.
//!
//! Counts only, never times: the durations are printed (`--nocapture`) for the record.
//!
//! # The minimum for the seed cluster
//!
//! | call | count | why |
//! |---|---|---|
//! | `POST /identity/v3/auth/tokens` | 1 | one token for the whole converge |
//! | `GET /compute/v2.1/` | 1 | Nova's microversion range, once |
//! | `GET /compute/v2.1/flavors…` | 1 | the flavor ID from its name, once |
//! | `POST /compute/v2.1/servers` | 4 | one server per node, booted on the node's own port |
//! | `POST /compute/v2.1/servers/{id}/os-volume_attachments` | 4 | one attachment per node |
//! | `GET /compute/v2.1/servers/detail` | 3 | observe: before acting, to see the servers ACTIVE, to see the attachments |
//! | `GET /image/…` | 1 | the image ID from its name, once |
//! | `GET /networking/v2.0/networks` | 2 | the network ID from its name for the ports, and for its subnets (below), once each |
//! | `GET /networking/v2.0/subnets` | 1 | the network's subnet CIDRs, where SSH is allowed from by default (once per controller) |
//! | `GET /networking/v2.0/security-groups` | 1 | the group, adopted if it exists |
//! | `POST /networking/v2.0/security-groups` | 1 | the group |
//! | `PUT /networking/v2.0/security-groups/{id}/tags` | 1 | its tag (Neutron creates groups untagged) |
//! | `GET /networking/v2.0/ports` | 5 | per node, the port looked up by name before it is made (one an interrupted attempt left untagged is adopted, never doubled: Neutron names are not unique) (4); observe: the cluster's ports, listed only while a node has no server (1) |
//! | `POST /networking/v2.0/ports` | 4 | one port per node (its address survives a replacement server) |
//! | `PUT /networking/v2.0/ports/{id}/tags` | 4 | its tag (Neutron creates ports untagged) |
//! | `POST /networking/v2.0/security-group-rules` | 7 | glusterd and brick ports from the allowed clients (2), SSH from the network's subnet (1), glusterd and bricks within the group over IPv4 and IPv6 (4) |
//! | `GET /volume/v3/{project_id}/os-availability-zone` | 1 | where Cinder serves volumes (the planner's fact), once |
//! | `POST /volume/v3/{project_id}/volumes` | 4 | one brick volume per node |
//! | `GET /volume/v3/{project_id}/volumes/detail` | 3 | observe: before acting, to see them available, to see them in-use |
//!
//! 49 calls. Observing cannot take fewer than three lists of each kind (nothing is known before
//! the first; the servers must be seen ACTIVE, and the volumes available, before an attachment;
//! the attachments must be seen in-use before gluster), whatever the polling; each poll more
//! while the cloud works costs a list (the pacing lists only the kind that is awaited). The
//! bound is 1.2 × the minimum per service and verb (`GET compute`, `POST networking`, …).

mod reconcile_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::devenv::NodesHook;
use e2e::nodes::{LoopbackNodes, NodesConfig};
use e2e::openstack::{BootHook, CallCounters, ServerEvent, SimConfig, TimingConfig, VolumeEvent};
use gluster_operator::controller::{self, ControllerConfig};
use reconcile_support::{World, condition, example};

/// The minimum calls to converge the seed cluster, by `METHOD /route` (a prefix, but for the
/// two exact ones; see the module documentation for why each is needed).
const MINIMUM: &[(&str, u64)] = &[
    ("POST /identity/v3/auth/tokens", 1),
    ("GET /compute/v2.1/", 1),
    ("GET /compute/v2.1/flavors", 1),
    ("POST /compute/v2.1/servers", 4),
    ("POST /compute/v2.1/servers/{id}/os-volume_attachments", 4),
    ("GET /compute/v2.1/servers/detail", 3),
    ("GET /image/", 1),
    ("GET /networking/v2.0/networks", 2),
    ("GET /networking/v2.0/subnets", 1),
    ("GET /networking/v2.0/security-groups", 1),
    ("POST /networking/v2.0/security-groups", 1),
    ("PUT /networking/v2.0/security-groups/{id}/tags", 1),
    ("GET /networking/v2.0/ports", 5),
    ("POST /networking/v2.0/ports", 4),
    ("PUT /networking/v2.0/ports/{id}/tags", 4),
    ("POST /networking/v2.0/security-group-rules", 7),
    ("GET /volume/v3/{project_id}/os-availability-zone", 1),
    ("POST /volume/v3/{project_id}/volumes", 4),
    ("GET /volume/v3/{project_id}/volumes/detail", 3),
];

/// Times of the loopback nodes' milestones, by server ID.
#[derive(Default)]
struct Milestones {
    active: BTreeMap<String, Instant>,
    attached: BTreeMap<String, Instant>,
    booted: BTreeMap<String, Instant>,
}

/// The loopback nodes' hook, noting when each server became ACTIVE, got its volume and
/// finished its boot (brick script done, glusterd listening).
struct Recording {
    inner: NodesHook,
    nodes: Arc<LoopbackNodes>,
    seen: Arc<Mutex<Milestones>>,
}

impl BootHook for Recording {
    fn server_active(&self, event: &ServerEvent) {
        self.inner.server_active(event);
        let now = Instant::now();
        self.seen
            .lock()
            .unwrap()
            .active
            .insert(event.id.clone(), now);
        let (nodes, seen, id) = (self.nodes.clone(), self.seen.clone(), event.id.clone());
        std::thread::spawn(move || {
            if nodes.wait_boot(&id, Duration::from_secs(120)).is_ok() {
                seen.lock().unwrap().booted.insert(id, Instant::now());
            }
        });
    }

    fn server_deleted(&self, event: &ServerEvent) {
        self.inner.server_deleted(event);
    }

    fn volume_attached(&self, event: &VolumeEvent) {
        self.inner.volume_attached(event);
        self.seen
            .lock()
            .unwrap()
            .attached
            .insert(event.server_id.clone(), Instant::now());
    }

    fn volume_detached(&self, event: &VolumeEvent) {
        self.inner.volume_detached(event);
    }
}

/// The counters matched against [`MINIMUM`]: (route prefix, calls made, minimum).
fn by_minimum(counters: &CallCounters) -> Vec<(&'static str, u64, u64)> {
    MINIMUM
        .iter()
        .map(|(prefix, min)| {
            let made = counters
                .calls
                .iter()
                .filter(|(k, _)| route_matches(k, prefix))
                .map(|(_, v)| *v)
                .sum();
            (*prefix, made, *min)
        })
        .collect()
}

/// Whether counter key `key` (`METHOD /template`) is under `prefix`, treating the server
/// routes apart: `POST /compute/v2.1/servers` is the create, not an attachment.
fn route_matches(key: &str, prefix: &str) -> bool {
    if prefix == "POST /compute/v2.1/servers" || prefix == "GET /compute/v2.1/" {
        return key == prefix;
    }
    key.starts_with(prefix)
}

/// `METHOD service` of a counter key (`GET /compute/v2.1/…` → `GET compute`).
fn service_verb(key: &str) -> String {
    let (method, path) = key.split_once(' ').unwrap_or((key, ""));
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    format!("{method} {service}")
}

/// Calls made and minimum, by `METHOD service`.
fn by_service_verb(counters: &CallCounters) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (key, n) in &counters.calls {
        out.entry(service_verb(key)).or_default().0 += n;
    }
    for (route, min) in MINIMUM {
        out.entry(service_verb(route)).or_default().1 += min;
    }
    out
}

fn is_write(key: &str) -> bool {
    ["POST ", "PUT ", "PATCH ", "DELETE "]
        .iter()
        .any(|m| key.starts_with(m))
        && !key.starts_with("POST /identity/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_cluster_converges_near_the_minimum_calls_and_idles_without_writes() {
    if reconcile_support::skip_in_external_mode(
        "the_seed_cluster_converges_near_the_minimum_calls_and_idles_without_writes",
        "it counts the simulator's calls and runs loopback gluster nodes",
    ) {
        return;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
    );
    let scratch = tempfile::Builder::new()
        .prefix("reconcile-calls-")
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let nodes = Arc::new(
        LoopbackNodes::new(NodesConfig::new(scratch.path().join("state"))).expect("nodes"),
    );
    let mut sim = SimConfig {
        timing: TimingConfig {
            server_build_ms: 2000,
            ..TimingConfig::default()
        },
        ..SimConfig::default()
    };
    // Addresses of its own (reconcile_gluster uses slots 0..8 of the same scheme).
    let block = 20 + (std::process::id() * 4 + 11) % 230;
    let subnet = &mut sim.networks[0].subnet;
    subnet.allocation_start = Some(format!("127.100.{block}.10"));
    subnet.allocation_end = Some(format!("127.100.{block}.250"));
    let world = World::start_without_controller(sim).await;
    let seen = Arc::new(Mutex::new(Milestones::default()));
    world.sim().set_boot_hook(Arc::new(Recording {
        inner: NodesHook::new(nodes.clone(), world.sim().config()),
        nodes: nodes.clone(),
        seen: seen.clone(),
    }));

    // The controller as deployed (default waits), but a settled resync of 1 s so that the
    // idle interval below spans several.
    let settled = Duration::from_secs(1);
    let config = ControllerConfig {
        watch_namespace: Some(world.ns.clone()),
        requeue_settled: settled,
        instance: Some("calls".into()),
        ..ControllerConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = world.metrics.clone();
    let controller = tokio::spawn(controller::run(
        world.operator_client.clone(),
        config,
        metrics,
        async move {
            let _ = stopped.await;
        },
    ));

    // Cold: nothing known of this cloud's boot times yet.
    let (ready, cold) = converge(&world, &seen, "seed").await;
    let mut failures = Vec::new();
    for (route, made, min) in by_minimum(&cold) {
        if route.starts_with("POST ") || route.starts_with("PUT ") {
            // Writes: exactly what the task needs.
            if made != min {
                failures.push(format!("cold {route}: {made} calls, the task needs {min}"));
            }
        }
    }
    let cold_min: u64 = MINIMUM.iter().map(|(_, m)| m).sum();
    if cold.total() * 10 > cold_min * 12 {
        failures.push(format!(
            "cold: {} calls in all, minimum {cold_min}",
            cold.total()
        ));
    }

    // Idle: a few settled resyncs, no write anywhere.
    let kube_before = world.fingerprint().await;
    let cluster_rv = ready.metadata.resource_version.clone();
    world.sim().reset_counters();
    let reconciles_before = reconciles(&world);
    let idle = settled * 4;
    tokio::time::sleep(idle).await;
    let idle_calls = world.sim().counters();
    let reconciles_idle = reconciles(&world) - reconciles_before;
    println!(
        "seed: idle {:.1} s: {} reconciles, calls {:?}",
        idle.as_secs_f64(),
        reconciles_idle,
        idle_calls.calls
    );
    let writes: Vec<_> = idle_calls
        .calls
        .iter()
        .filter(|(k, _)| is_write(k))
        .collect();
    assert!(
        writes.is_empty(),
        "writes to OpenStack while idle: {writes:?}"
    );
    assert_eq!(
        world.fingerprint().await,
        kube_before,
        "nothing is written to the Kubernetes API while idle"
    );
    let now = world.clusters.get("seed").await.unwrap();
    assert_eq!(now.metadata.resource_version, cluster_rv);
    // Reads: each settled resync (a drift check) lists the servers, the volumes and the
    // security group once (4 s / 1 s = 4, one more for a resync in flight at the edges).
    let resyncs = (idle.as_millis() / settled.as_millis()) as u64 + 1;
    assert!(reconciles_idle <= resyncs, "{reconciles_idle} reconciles");
    assert!(
        idle_calls.total() <= 3 * resyncs,
        "reads while idle: {:?}",
        idle_calls.calls
    );

    // Warm: the same cluster again under another name (the first one deleted, so that its
    // resyncs do not count), now that the controller has seen how long a server build takes
    // here (its first poll goes there).
    world
        .clusters
        .delete("seed", &Default::default())
        .await
        .unwrap();
    world
        .wait_deleted("seed", ready.metadata.uid.as_deref().unwrap())
        .await;
    let (_, warm) = converge(&world, &seen, "seed-warm").await;
    for (group, (made, min)) in by_service_verb(&warm) {
        if made * 10 > min * 12 {
            failures.push(format!("warm {group}: {made} calls, minimum {min}"));
        }
    }
    assert!(failures.is_empty(), "over the minimum: {failures:#?}");

    let _ = stop.send(());
    controller.await.unwrap();
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}

/// Applies the seed cluster under `name`, waits until it is Ready, prints the time it took
/// against the nodes' milestones and the calls it took against [`MINIMUM`]; returns it and
/// the calls.
async fn converge(
    world: &World,
    seen: &Arc<Mutex<Milestones>>,
    name: &str,
) -> (gluster_operator::api::GlusterCluster, CallCounters) {
    let mut cluster = example("seed-4-nodes-replica.yaml");
    cluster.metadata.name = Some(name.into());
    *seen.lock().unwrap() = Milestones::default();
    world.sim().reset_counters();
    let started = Instant::now();
    let started_wall = k8s_openapi::jiff::Timestamp::now();
    world.apply(&cluster).await;
    let ready = world
        .wait_for(name, "Ready=True", |c| {
            condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let to_ready = started.elapsed();
    let status = ready.status.clone().unwrap();
    assert_eq!(status.node_summary.as_deref(), Some("4/4"));
    let converged = world.sim().counters();

    // The record: time to Ready against the nodes' milestones.
    {
        let seen = seen.lock().unwrap();
        let at = |t: &Instant| t.duration_since(started).as_secs_f64();
        let last = |m: &BTreeMap<String, Instant>| m.values().map(at).fold(0.0, f64::max);
        let script = seen
            .booted
            .iter()
            .filter_map(|(id, b)| seen.attached.get(id).map(|a| b.duration_since(*a)))
            .max()
            .unwrap_or_default();
        let floor = seen
            .active
            .iter()
            .filter_map(|(id, a)| {
                let s = seen.booted.get(id)?.duration_since(*seen.attached.get(id)?);
                Some(at(a) + s.as_secs_f64())
            })
            .fold(0.0, f64::max);
        println!(
            "{name}: Ready after {:.2} s; last server ACTIVE {:.2} s, last volume attached {:.2} s, \
             last boot done {:.2} s; longest brick script (attach to boot done) {:.2} s; \
             ACTIVE + brick script floor {:.2} s (gluster probe/create/start after it)",
            to_ready.as_secs_f64(),
            last(&seen.active),
            last(&seen.attached),
            last(&seen.booted),
            script.as_secs_f64(),
            floor,
        );
    }
    // The controller's Events, in time (the gluster steps' own times).
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(world.client.clone(), &world.ns);
    let mut timeline: Vec<(f64, String)> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| {
            let t = e.event_time.as_ref()?.0;
            let at = t.duration_since(started_wall).as_secs_f64();
            Some((at, e.reason.unwrap_or_default()))
        })
        .collect();
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "{name}: events (s after apply, first of each reason): {}",
        {
            let mut seen_reasons = Vec::new();
            timeline
                .iter()
                .filter(|(_, r)| {
                    let new = !seen_reasons.contains(r);
                    seen_reasons.push(r.clone());
                    new
                })
                .map(|(t, r)| format!("{r} {t:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!("{name}: calls to converge (route: made / minimum):");
    for (route, made, min) in by_minimum(&converged) {
        println!("  {route}: {made} / {min}");
    }
    for (group, (made, min)) in by_service_verb(&converged) {
        println!("  {group}: {made} / {min}");
    }
    let unexpected: Vec<_> = converged
        .calls
        .iter()
        .filter(|(k, _)| !MINIMUM.iter().any(|(p, _)| route_matches(k, p)))
        .collect();
    println!("  other routes: {unexpected:?}");
    println!(
        "  total {} (minimum {})",
        converged.total(),
        MINIMUM.iter().map(|(_, m)| m).sum::<u64>()
    );

    (ready, converged)
}

fn reconciles(world: &World) -> u64 {
    world
        .metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix("gluster_operator_reconciles_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

//! `make bench`: how close the operator gets to what the cloud allows (issue 9).
//!
//! Everything runs on this machine: a real Kubernetes control plane and the OpenStack simulator
//! in-process ([`crate::devenv::DevEnv`]), loopback gluster nodes for the servers (real sshd,
//! glusterd, brick script; needs root), and the operator as a child process — the
//! `gluster-operator run` binary, so its memory and CPU are its own. Four measurements:
//!
//! 1. **Time to Ready** for clusters of 4, 16 and 64 nodes (two zones, replica 2) at simulator
//!    boot delays of 2, 10 and 30 s, each against its critical path computed from the run's own
//!    stamps ([`timeline::critical_path`]): the node whose brick was ready last (ACTIVE since
//!    creation + attach + brick script, from the boot hook), plus each mutating gluster command
//!    (probes, create, options, start) from the operator's debug log. Every node is a real
//!    loopback node (64 nodes = 64 glusterd; one cluster per run, runs one after another).
//! 2. **OpenStack calls** per converged cluster by service and route, from the simulator's
//!    counters, against [`minimum::minimum_calls`].
//! 3. **Idle**: calls per minute once Ready (writes should be 0; reads bounded by the resync).
//! 4. **Scale**: the operator's RSS and CPU with 1, 100 and 1,000 one-node GlusterClusters whose
//!    servers are only simulated (no node answers, so each cluster keeps retrying its gluster
//!    step: a heavier load than as many idle Ready clusters), and reconcile latency p50/p99 from
//!    the operator's duration histogram.
//!
//! Results: a table on stdout, `bench-results.json` and `bench-results.svg` (time to Ready
//! against the critical path). [`run`] returns the results; the binary exits non-zero when a
//! target is missed.

pub mod apilog;
pub mod heat;
pub mod minimum;
pub mod operator;
pub mod plot;
pub mod real_cloud;
pub mod timeline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ::kube::api::{Api, ListParams, PostParams};
use ::kube::runtime::wait::await_condition;
use gluster_operator::api::{GlusterCluster, NodeState};
use serde::Serialize;

use crate::devenv::{DevEnv, DevEnvOptions, NodesHook};
use crate::nodes::{LoopbackNodes, NodesConfig};
use crate::openstack::{CallCounters, SimConfig};

use minimum::{MinimumCalls, ZoneShape, minimum_calls};
use operator::{Latency, OperatorProcess, Usage};
use timeline::{CriticalPath, RecordingHook, Timeline};

/// Target: time to Ready / critical path.
pub const TARGET_RATIO_TO_CRITICAL_PATH: f64 = 1.10;
/// Target: OpenStack calls / minimum.
pub const TARGET_CALLS_RATIO: f64 = 1.2;

/// Errors of the bench harness (a missed target is not one: see [`BenchResults::targets`]).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The local world did not start or stop.
    #[error("local world: {0}")]
    DevEnv(#[from] crate::devenv::DevEnvError),
    /// The loopback nodes could not be set up.
    #[error("loopback nodes: {0}")]
    Nodes(#[from] crate::nodes::NodeError),
    /// A Kubernetes API call failed.
    #[error("Kubernetes API ({what}): {source}")]
    Kube {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: ::kube::Error,
    },
    /// A file could not be read or written, or a program not started.
    #[error("{path}: {source}")]
    Io {
        /// The file or program.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The operator process misbehaved.
    #[error("operator process: {0}")]
    Operator(String),
    /// A manifest or result could not be (de)serialized.
    #[error("serialization: {0}")]
    Serde(String),
    /// The plot could not be drawn.
    #[error("plot: {0}")]
    Plot(String),
    /// A call to the real cloud failed (the real-cloud comparison).
    #[error("cloud: {0}")]
    Cloud(String),
    /// Heat refused a request or a stack failed.
    #[error("heat: {0}")]
    Heat(String),
    /// The cloud watcher (loopback nodes for the real cloud's servers) failed.
    #[error("cloud watcher: {0}")]
    Watcher(#[from] crate::cloudnodes::WatchError),
}

impl From<gluster_operator::cloud::CloudError> for BenchError {
    fn from(e: gluster_operator::cloud::CloudError) -> Self {
        BenchError::Cloud(e.to_string())
    }
}

impl BenchError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        BenchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The time-to-Ready runs, in order: (nodes, simulator boot delay in seconds). Nodes are
    /// split over zone-a and zone-b, replica 2.
    pub runs: Vec<(u32, u64)>,
    /// How long to count calls once the first cluster is Ready.
    pub idle_window: Duration,
    /// GlusterCluster counts of the scale measurement (cumulative: each adds to the last).
    pub scale_counts: Vec<u32>,
    /// How long each scale level is measured once every cluster's server is up.
    pub scale_window: Duration,
    /// The operator binary (default: `gluster-operator` next to this program's).
    pub operator_bin: Option<PathBuf>,
    /// The second octet of the loopback /16 the simulator's subnet uses (127.X.0.0/16).
    pub subnet_octet: u8,
    /// Where state, logs and node disks go (removed at the end unless `keep_work_dir`).
    pub work_dir: PathBuf,
    /// Keep `work_dir` (the operator logs) after the run.
    pub keep_work_dir: bool,
    /// The JSON results file.
    pub json_path: PathBuf,
    /// The SVG plot.
    pub svg_path: PathBuf,
    /// Hang guard per cluster (not a speed check).
    pub ready_timeout: Duration,
    /// How long a scale level may take to settle before it is measured anyway.
    pub scale_settle_timeout: Duration,
    /// The command line, for the record.
    pub command: String,
    /// `quick` or `full`, for the record.
    pub mode: String,
}

impl BenchOptions {
    /// The full set: 4 and 16 nodes at 2, 10 and 30 s, 64 nodes at 10 s (a 64-node run costs
    /// about five minutes on two cores, most of it the 63 peer probes), 60 s idle, 1, 100 and
    /// 1,000 clusters (each level settles for at most 3 minutes, then 30 s are measured).
    pub fn full(repo: &Path) -> Self {
        BenchOptions {
            runs: vec![
                (4, 2),
                (4, 10),
                (4, 30),
                (16, 2),
                (16, 10),
                (16, 30),
                (64, 10),
            ],
            idle_window: Duration::from_secs(60),
            scale_counts: vec![1, 100, 1000],
            scale_window: Duration::from_secs(30),
            operator_bin: None,
            subnet_octet: 110,
            work_dir: std::env::temp_dir().join(format!("gluster-bench-{}", std::process::id())),
            keep_work_dir: false,
            json_path: repo.join("bench-results.json"),
            svg_path: repo.join("bench-results.svg"),
            ready_timeout: Duration::from_secs(20 * 60),
            scale_settle_timeout: Duration::from_secs(3 * 60),
            command: "make bench".into(),
            mode: "full".into(),
        }
    }

    /// A quick pass: 4 nodes at 2 s, 10 s idle, 1 and 10 clusters for 10 s.
    pub fn quick(repo: &Path) -> Self {
        BenchOptions {
            runs: vec![(4, 2)],
            idle_window: Duration::from_secs(10),
            scale_counts: vec![1, 10],
            scale_window: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(5 * 60),
            command: "cargo run --release -p e2e --bin bench -- --quick".into(),
            mode: "quick".into(),
            ..Self::full(repo)
        }
    }
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub cores: usize,
    /// `MemTotal` of /proc/meminfo.
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
}

/// Stops every node, eight at a time (one after another, 64 nodes take minutes: each waits
/// for its glusterd and bricks to end), then shuts the manager down.
fn stop_nodes(nodes: &LoopbackNodes) -> Result<(), crate::nodes::NodeError> {
    let ids: Vec<String> = nodes.nodes().into_iter().map(|n| n.server_id).collect();
    let problems: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .chunks(ids.len().div_ceil(8).max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|id| nodes.stop(id).err().map(|e| e.to_string()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["a stop thread panicked".into()])
            })
            .collect()
    });
    nodes.shutdown()?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::nodes::NodeError::Stop {
            server_id: "(bench)".into(),
            problems,
        })
    }
}

/// One time-to-Ready run.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyRun {
    /// Nodes in the cluster.
    pub nodes: u32,
    /// Zones (zone-a, zone-b; replica 2 across them).
    pub zones: u32,
    /// The simulator's BUILD → ACTIVE delay.
    pub boot_delay_seconds: f64,
    /// Whether every node was a real loopback node (sshd, glusterd, brick script).
    pub real_nodes: bool,
    /// From creating the GlusterCluster until its Ready condition was True (`None`: never,
    /// within the hang guard).
    pub time_to_ready_seconds: Option<f64>,
    /// The run's critical path, from its own stamps.
    pub critical_path: Option<CriticalPath>,
    /// time_to_ready / critical path.
    pub ratio_to_critical_path: Option<f64>,
    /// OpenStack calls from creation to Ready.
    pub calls_total: u64,
    /// Those calls by service and `METHOD route`.
    pub calls_by_service_verb: BTreeMap<String, BTreeMap<String, u64>>,
    /// Those calls by service and HTTP method.
    pub calls_by_service_method: BTreeMap<String, BTreeMap<String, u64>>,
    /// The minimum for this cluster ([`minimum::minimum_calls`]).
    pub minimum_calls: MinimumCalls,
    /// calls_total / minimum_calls.total.
    pub calls_ratio_to_minimum: f64,
    /// The operator's reconciles until Ready, with latency percentiles.
    pub reconcile_latency: Latency,
    /// Why the run did not finish, if it did not.
    pub error: Option<String>,
}

/// Calls once Ready.
#[derive(Debug, Clone, Serialize)]
pub struct IdleResult {
    /// Ready clusters watched.
    pub clusters: u32,
    /// How long.
    pub window_seconds: f64,
    /// All calls per minute.
    pub calls_per_minute: f64,
    /// POST/PUT/PATCH/DELETE per minute, token requests excluded.
    pub writes_per_minute: f64,
    /// GET/HEAD per minute.
    pub reads_per_minute: f64,
    /// The bound reads should stay within: one full observation (list servers, list volumes,
    /// Cinder zones, security group) per resync interval, per cluster, rounded up per minute.
    pub read_bound_per_minute: f64,
    /// The operator's resync interval of a Ready cluster.
    pub resync_seconds: f64,
    /// The calls, by service and route.
    pub calls_by_service_verb: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One scale level.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleResult {
    /// GlusterClusters the operator handles.
    pub clusters: u32,
    /// Nodes per cluster (servers simulated, no node answers).
    pub nodes_per_cluster: u32,
    /// Seconds until every cluster's server was ACTIVE with its brick attached (from the
    /// first creation of this level), or until the settle guard gave up.
    pub settle_seconds: f64,
    /// Clusters whose node was Booting (server ACTIVE, brick attached) when the window began.
    pub settled_clusters: u32,
    /// The measured window.
    pub window_seconds: f64,
    /// The operator's resident memory at the end of the window.
    pub rss_bytes: u64,
    /// Its peak resident memory so far.
    pub peak_rss_bytes: u64,
    /// Its CPU time (user + system) since it started.
    pub cpu_seconds_total: f64,
    /// Its CPU time during the window / window (1.0 = one core busy).
    pub cpu_cores_during_window: f64,
    /// Reconciles during the window, with latency percentiles.
    pub reconcile_latency: Latency,
    /// OpenStack calls per minute during the window.
    pub calls_per_minute: f64,
}

/// Whether a target was met.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// What is checked.
    pub what: String,
    /// The measured value.
    pub value: f64,
    /// The limit.
    pub limit: f64,
    /// value ≤ limit.
    pub met: bool,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResults {
    /// When it ran (UTC, RFC 3339).
    pub date_utc: String,
    /// `quick` or `full`.
    pub mode: String,
    /// The command.
    pub command: String,
    /// The machine.
    pub machine: Machine,
    /// The operator binary measured.
    pub operator_binary: String,
    /// How node counts are bounded.
    pub node_bound: String,
    /// Wall-clock time of the whole bench.
    pub bench_seconds: f64,
    /// The time-to-Ready runs.
    pub time_to_ready: Vec<ReadyRun>,
    /// Calls once Ready.
    pub idle: Option<IdleResult>,
    /// The scale levels.
    pub scale: Vec<ScaleResult>,
    /// Every target and whether it was met.
    pub targets: Vec<TargetCheck>,
    /// Whether all were.
    pub all_targets_met: bool,
}

/// The operator binary: the given one, else `gluster-operator` in this program's target
/// directory (built with `cargo build -p gluster-operator` in the same profile when missing,
/// except from a test binary).
pub fn operator_binary(given: Option<&Path>) -> Result<PathBuf, BenchError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| BenchError::io(Path::new("current_exe"), e))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let in_test = dir.ends_with("deps");
    if in_test {
        dir.pop();
    }
    let bin = dir.join("gluster-operator");
    if bin.is_file() {
        return Ok(bin);
    }
    // Under `cargo test`, cargo holds the build directory's lock while tests run: a nested
    // build would wait for ever. (`cargo run` execs the program and lets go of it.)
    if in_test {
        return Err(BenchError::Operator(format!(
            "{} is missing: run `cargo build -p gluster-operator` first",
            bin.display()
        )));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(&cargo);
    build.args([
        "build",
        "-q",
        "-p",
        "gluster-operator",
        "--bin",
        "gluster-operator",
    ]);
    if dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| BenchError::io(Path::new(&cargo), e))?;
    if status.success() && bin.is_file() {
        Ok(bin)
    } else {
        Err(BenchError::Operator(format!(
            "{} is missing and `cargo build -p gluster-operator` did not make it",
            bin.display()
        )))
    }
}

pub(crate) fn machine() -> Machine {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |k| k * 1024);
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// The simulator's world for the bench: loopback subnet 127.X.0.0/16, quotas for 1,000+
/// servers and volumes, servers ACTIVE `boot_delay` after creation.
fn sim_config(subnet_octet: u8, boot_delay: Duration) -> SimConfig {
    let mut sim = SimConfig::default();
    let subnet = &mut sim.networks[0].subnet;
    subnet.cidr = format!("127.{subnet_octet}.0.0/16");
    subnet.allocation_start = Some(format!("127.{subnet_octet}.0.10"));
    subnet.allocation_end = Some(format!("127.{subnet_octet}.255.250"));
    sim.timing.server_build_ms = boot_delay.as_millis() as u64;
    let q = &mut sim.quotas;
    q.instances = 5000;
    q.cores = 5000 * 8;
    q.ram_mib = 5000 * 16384;
    q.volumes = 5000;
    q.gigabytes = 5000 * 100;
    q.key_pairs = 5000;
    sim
}

/// A GlusterCluster of `nodes` nodes: one zone-a node (replica 1) or half in zone-a and half in
/// zone-b (replica 2), 1 GiB Cinder bricks, m1.small.
fn cluster(name: &str, nodes: u32) -> Result<(GlusterCluster, Vec<ZoneShape>), BenchError> {
    let (zones, replicas) = if nodes < 2 {
        (format!("    - name: zone-a\n      nodes: {nodes}\n"), 1)
    } else {
        let a = nodes.div_ceil(2);
        (
            format!(
                "    - name: zone-a\n      nodes: {a}\n    - name: zone-b\n      nodes: {}\n",
                nodes - a
            ),
            2,
        )
    };
    let yaml = format!(
        "apiVersion: storage.glusterops.dev/v1alpha1\nkind: GlusterCluster\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  cloud:\n    secretName: {secret}\n    cloudName: {cloud}\n  image: ubuntu-22.04\n  flavor: m1.small\n  network: private\n  zones:\n{zones}  brick:\n    size: 1Gi\n  volume:\n    name: bench\n    replicas: {replicas}\n    allowedClients:\n      - 127.0.0.0/8\n",
        ns = crate::devenv::NAMESPACE,
        secret = crate::devenv::SECRET_NAME,
        cloud = crate::devenv::CLOUD_NAME,
    );
    let cluster: GlusterCluster =
        serde_yaml::from_str(&yaml).map_err(|e| BenchError::Serde(e.to_string()))?;
    let shapes = if nodes < 2 {
        vec![ZoneShape {
            nodes: nodes.into(),
            volume_bricks: true,
        }]
    } else {
        let a = nodes.div_ceil(2);
        vec![
            ZoneShape {
                nodes: a.into(),
                volume_bricks: true,
            },
            ZoneShape {
                nodes: (nodes - a).into(),
                volume_bricks: true,
            },
        ]
    };
    Ok((cluster, shapes))
}

fn is_ready(c: &GlusterCluster) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|x| x.type_ == "Ready" && x.status == "True")
    })
}

/// The simulator's service of a counter key (`GET /compute/v2.1/…` → `compute`).
fn service_of(key: &str) -> (&str, &str) {
    let (method, path) = key.split_once(' ').unwrap_or(("", key));
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    (method, service)
}

fn by_service(counters: &CallCounters) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (key, n) in &counters.calls {
        let (_, service) = service_of(key);
        out.entry(service.to_owned())
            .or_default()
            .insert(key.clone(), *n);
    }
    out
}

fn by_service_method(counters: &CallCounters) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (key, n) in &counters.calls {
        let (method, service) = service_of(key);
        *out.entry(service.to_owned())
            .or_default()
            .entry(method.to_owned())
            .or_default() += n;
    }
    out
}

/// Writes (token requests excluded) and reads among `counters`.
fn writes_and_reads(counters: &CallCounters) -> (u64, u64) {
    let (mut writes, mut reads) = (0, 0);
    for (key, n) in &counters.calls {
        let (method, service) = service_of(key);
        match method {
            "GET" | "HEAD" => reads += n,
            "POST" if service == "identity" => {}
            _ => writes += n,
        }
    }
    (writes, reads)
}

/// The world of one measurement: devenv, the recording hook, maybe real nodes, the operator.
struct BenchWorld {
    env: DevEnv,
    nodes: Option<Arc<LoopbackNodes>>,
    timeline: Timeline,
    operator: OperatorProcess,
    clusters: Api<GlusterCluster>,
}

impl BenchWorld {
    async fn start(
        options: &BenchOptions,
        operator_bin: &Path,
        label: &str,
        boot_delay: Duration,
        real_nodes: bool,
    ) -> Result<BenchWorld, BenchError> {
        let dir = options.work_dir.join(label);
        std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(&dir, e))?;
        let env = DevEnv::start(DevEnvOptions {
            sim: sim_config(options.subnet_octet, boot_delay),
            ..DevEnvOptions::default()
        })
        .await?;
        let nodes = if real_nodes {
            Some(Arc::new(LoopbackNodes::new(NodesConfig::new(
                dir.join("state"),
            ))?))
        } else {
            None
        };
        let timeline = Timeline::default();
        let real = nodes
            .as_ref()
            .map(|n| (NodesHook::new(n.clone(), env.sim().config()), n.clone()));
        env.sim()
            .set_boot_hook(Arc::new(RecordingHook::new(timeline.clone(), real)));
        let operator = OperatorProcess::launch(
            operator_bin,
            &dir,
            &env.operator_kubeconfig_yaml(),
            crate::devenv::NAMESPACE,
            None,
        )
        .await?;
        let clusters = Api::namespaced(env.client(), crate::devenv::NAMESPACE);
        Ok(BenchWorld {
            env,
            nodes,
            timeline,
            operator,
            clusters,
        })
    }

    async fn stop(self) -> Result<(), BenchError> {
        let operator = self.operator;
        let _ = tokio::task::spawn_blocking(move || operator.stop()).await;
        self.env.shutdown().await?;
        if let Some(nodes) = self.nodes {
            match tokio::task::spawn_blocking(move || stop_nodes(&nodes)).await {
                Ok(stopped) => stopped?,
                Err(e) => return Err(BenchError::Operator(format!("stopping nodes: {e}"))),
            }
        }
        Ok(())
    }
}

/// One time-to-Ready run (and the idle window after it when `idle_window` is given).
async fn ready_run(
    options: &BenchOptions,
    operator_bin: &Path,
    nodes: u32,
    boot_delay_secs: u64,
    idle_window: Option<Duration>,
) -> Result<(ReadyRun, Option<IdleResult>), BenchError> {
    let boot_delay = Duration::from_secs(boot_delay_secs);
    let label = format!("ready-{nodes}-{boot_delay_secs}s");
    let world = BenchWorld::start(options, operator_bin, &label, boot_delay, true).await?;
    let name = format!("bench{nodes}");
    let (manifest, shapes) = cluster(&name, nodes)?;
    let before = operator::duration_buckets(&world.operator.metrics().await?);
    world.env.sim().reset_counters();
    let created_at = SystemTime::now();
    let started = Instant::now();
    let result = world
        .clusters
        .create(&PostParams::default(), &manifest)
        .await;
    let mut error = result
        .err()
        .map(|e| format!("creating the GlusterCluster: {e}"));
    let mut time_to_ready = None;
    if error.is_none() {
        let waited = tokio::time::timeout(
            options.ready_timeout,
            await_condition(
                world.clusters.clone(),
                &name,
                |o: Option<&GlusterCluster>| o.is_some_and(is_ready),
            ),
        )
        .await;
        match waited {
            Ok(Ok(_)) => time_to_ready = Some(started.elapsed().as_secs_f64()),
            Ok(Err(e)) => error = Some(format!("watching the GlusterCluster: {e}")),
            Err(_) => {
                error = Some(format!(
                    "not Ready within {} s (hang guard)",
                    options.ready_timeout.as_secs()
                ))
            }
        }
    }
    let counters = world.env.sim().counters();
    let after = operator::duration_buckets(&world.operator.metrics().await?);
    let commands = timeline::gluster_commands(&world.operator.log_text());
    let path = timeline::critical_path(
        created_at,
        &world.timeline.snapshot(),
        Duration::from_millis(world.env.sim().config().timing.volume_attach_ms),
        &commands,
    );
    let minimum = minimum_calls(&shapes, 1);
    let ratio = match (time_to_ready, &path) {
        (Some(t), Some(p)) if p.seconds > 0.0 => Some(t / p.seconds),
        _ => None,
    };
    let run = ReadyRun {
        nodes,
        zones: shapes.len() as u32,
        boot_delay_seconds: boot_delay.as_secs_f64(),
        real_nodes: true,
        time_to_ready_seconds: time_to_ready,
        critical_path: path,
        ratio_to_critical_path: ratio,
        calls_total: counters.total(),
        calls_by_service_verb: by_service(&counters),
        calls_by_service_method: by_service_method(&counters),
        calls_ratio_to_minimum: counters.total() as f64 / minimum.total.max(1) as f64,
        minimum_calls: minimum,
        reconcile_latency: operator::latency(&before, &after),
        error,
    };
    let idle = match idle_window {
        Some(window) if time_to_ready.is_some() => {
            world.env.sim().reset_counters();
            tokio::time::sleep(window).await;
            let counters = world.env.sim().counters();
            let (writes, reads) = writes_and_reads(&counters);
            let minutes = window.as_secs_f64() / 60.0;
            let resync = gluster_operator::controller::ControllerConfig::default()
                .requeue_settled
                .as_secs_f64();
            // One observation: servers, volumes, Cinder zones, the security group (+ a token).
            let per_pass = 5.0;
            Some(IdleResult {
                clusters: 1,
                window_seconds: window.as_secs_f64(),
                calls_per_minute: counters.total() as f64 / minutes,
                writes_per_minute: writes as f64 / minutes,
                reads_per_minute: reads as f64 / minutes,
                read_bound_per_minute: per_pass * (60.0 / resync.max(1.0)).ceil(),
                resync_seconds: resync,
                calls_by_service_verb: by_service(&counters),
            })
        }
        _ => None,
    };
    world.stop().await?;
    Ok((run, idle))
}

/// The scale levels: one operator, clusters added level by level.
async fn scale_runs(
    options: &BenchOptions,
    operator_bin: &Path,
) -> Result<Vec<ScaleResult>, BenchError> {
    let world = BenchWorld::start(
        options,
        operator_bin,
        "scale",
        Duration::from_millis(200),
        false,
    )
    .await?;
    let mut results = Vec::new();
    let mut created = 0u32;
    for &count in &options.scale_counts {
        let level_start = Instant::now();
        while created < count {
            let (manifest, _) = cluster(&format!("idle{created:04}"), 1)?;
            world
                .clusters
                .create(&PostParams::default(), &manifest)
                .await
                .map_err(|source| BenchError::Kube {
                    what: "creating a GlusterCluster",
                    source,
                })?;
            created += 1;
        }
        // Settled: every cluster's node Booting (server ACTIVE, brick attached); the gluster
        // step then fails for want of a node and retries.
        let deadline = Instant::now() + options.scale_settle_timeout;
        let mut settled_clusters: u32;
        loop {
            let list = world
                .clusters
                .list(&ListParams::default())
                .await
                .map_err(|source| BenchError::Kube {
                    what: "listing GlusterClusters",
                    source,
                })?;
            let settled = list
                .items
                .iter()
                .filter(|c| {
                    c.status.as_ref().is_some_and(|s| {
                        !s.nodes.is_empty() && s.nodes.iter().all(|n| n.state == NodeState::Booting)
                    })
                })
                .count();
            settled_clusters = settled as u32;
            if settled_clusters >= count || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let settle_seconds = level_start.elapsed().as_secs_f64();
        let usage_before = world.operator.usage()?;
        let buckets_before = operator::duration_buckets(&world.operator.metrics().await?);
        world.env.sim().reset_counters();
        tokio::time::sleep(options.scale_window).await;
        let counters = world.env.sim().counters();
        let usage: Usage = world.operator.usage()?;
        let buckets_after = operator::duration_buckets(&world.operator.metrics().await?);
        let window = options.scale_window.as_secs_f64();
        results.push(ScaleResult {
            clusters: count,
            nodes_per_cluster: 1,
            settle_seconds,
            settled_clusters,
            window_seconds: window,
            rss_bytes: usage.rss_bytes,
            peak_rss_bytes: usage.peak_rss_bytes,
            cpu_seconds_total: usage.cpu_seconds,
            cpu_cores_during_window: (usage.cpu_seconds - usage_before.cpu_seconds) / window,
            reconcile_latency: operator::latency(&buckets_before, &buckets_after),
            calls_per_minute: counters.total() as f64 / (window / 60.0),
        });
        println!(
            "scale: {count} clusters, RSS {:.1} MiB, {:.2} cores",
            usage.rss_bytes as f64 / 1048576.0,
            results.last().map_or(0.0, |r| r.cpu_cores_during_window)
        );
    }
    world.stop().await?;
    Ok(results)
}

/// Every target against the results.
fn targets(runs: &[ReadyRun], idle: Option<&IdleResult>) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    for r in runs {
        let label = format!("{} nodes @ {} s", r.nodes, r.boot_delay_seconds);
        out.push(TargetCheck {
            what: format!("{label}: ratio_to_critical_path"),
            value: r.ratio_to_critical_path.unwrap_or(f64::INFINITY),
            limit: TARGET_RATIO_TO_CRITICAL_PATH,
            met: r
                .ratio_to_critical_path
                .is_some_and(|x| x <= TARGET_RATIO_TO_CRITICAL_PATH),
        });
        out.push(TargetCheck {
            what: format!("{label}: calls_ratio_to_minimum"),
            value: r.calls_ratio_to_minimum,
            limit: TARGET_CALLS_RATIO,
            met: r.error.is_none() && r.calls_ratio_to_minimum <= TARGET_CALLS_RATIO,
        });
    }
    if let Some(i) = idle {
        out.push(TargetCheck {
            what: "idle: writes_per_minute".into(),
            value: i.writes_per_minute,
            limit: 0.0,
            met: i.writes_per_minute <= 0.0,
        });
        out.push(TargetCheck {
            what: "idle: reads_per_minute".into(),
            value: i.reads_per_minute,
            limit: i.read_bound_per_minute,
            met: i.reads_per_minute <= i.read_bound_per_minute,
        });
    }
    out
}

/// Runs the bench: time to Ready (needs root for the loopback nodes; skipped with a note
/// otherwise), idle, scale; writes the JSON and the SVG; returns the results.
pub async fn run(options: &BenchOptions) -> Result<BenchResults, BenchError> {
    let bench_started = Instant::now();
    let date_utc = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let operator_bin = operator_binary(options.operator_bin.as_deref())?;
    std::fs::create_dir_all(&options.work_dir).map_err(|e| BenchError::io(&options.work_dir, e))?;
    let root = rustix::process::geteuid().is_root();
    if !root && !options.runs.is_empty() {
        println!("not root: time-to-Ready runs skipped (loopback nodes need root)");
    }
    let mut runs = Vec::new();
    let mut idle = None;
    if root {
        for &(nodes, delay) in &options.runs {
            let want_idle = idle.is_none() && runs.is_empty();
            println!("time to Ready: {nodes} nodes, boot delay {delay} s …");
            let (run, idle_result) = ready_run(
                options,
                &operator_bin,
                nodes,
                delay,
                want_idle.then_some(options.idle_window),
            )
            .await?;
            println!(
                "  Ready after {} s, critical path {} s, {} calls",
                fmt_opt(run.time_to_ready_seconds),
                fmt_opt(run.critical_path.as_ref().map(|p| p.seconds)),
                run.calls_total
            );
            if idle_result.is_some() {
                idle = idle_result;
            }
            runs.push(run);
        }
    }
    let scale = scale_runs(options, &operator_bin).await?;
    let targets = targets(&runs, idle.as_ref());
    let results = BenchResults {
        date_utc,
        mode: options.mode.clone(),
        command: options.command.clone(),
        machine: machine(),
        operator_binary: operator_bin.display().to_string(),
        node_bound:
            "every node of the time-to-Ready runs is a real loopback node (sshd, glusterd, \
                     brick script on a loop device), one cluster per run, runs in sequence; the \
                     scale runs' servers are only simulated (no node answers)"
                .into(),
        bench_seconds: bench_started.elapsed().as_secs_f64(),
        all_targets_met: targets.iter().all(|t| t.met),
        time_to_ready: runs,
        idle,
        scale,
        targets,
    };
    let json =
        serde_json::to_string_pretty(&results).map_err(|e| BenchError::Serde(e.to_string()))?;
    std::fs::write(&options.json_path, json + "\n")
        .map_err(|e| BenchError::io(&options.json_path, e))?;
    plot::time_to_ready_svg(&results.time_to_ready, &options.svg_path)?;
    if !options.keep_work_dir {
        let _ = std::fs::remove_dir_all(&options.work_dir);
    }
    Ok(results)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The results as a text table.
pub fn table(r: &BenchResults) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "gluster-operator bench ({}) {} on {} cores, {:.1} GiB; {:.0} s\n\n",
        r.mode,
        r.date_utc,
        r.machine.cores,
        r.machine.memory_bytes as f64 / (1u64 << 30) as f64,
        r.bench_seconds
    ));
    out.push_str("time to Ready vs critical path (real loopback nodes)\n");
    out.push_str(&format!(
        "{:>5} {:>6} {:>9} {:>9} {:>6} | {:>7} {:>6} {:>6} {:>7} | {:>6} {:>6} {:>6} | {:>9}\n",
        "nodes",
        "boot",
        "ready_s",
        "crit_s",
        "ratio",
        "active",
        "attach",
        "brick",
        "gluster",
        "calls",
        "min",
        "ratio",
        "rec p50/99"
    ));
    for run in &r.time_to_ready {
        let p = run.critical_path.as_ref();
        out.push_str(&format!(
            "{:>5} {:>5}s {:>9} {:>9} {:>6} | {:>7} {:>6} {:>6} {:>7} | {:>6} {:>6} {:>6.2} | {:>9}\n",
            run.nodes,
            run.boot_delay_seconds,
            fmt_opt(run.time_to_ready_seconds),
            fmt_opt(p.map(|p| p.seconds)),
            run.ratio_to_critical_path
                .map_or("-".into(), |v| format!("{v:.2}")),
            fmt_opt(p.map(|p| p.slowest_server_active_seconds)),
            fmt_opt(p.map(|p| p.volume_attach_seconds)),
            fmt_opt(p.map(|p| p.brick_script_seconds)),
            fmt_opt(p.map(|p| p.gluster_ops_seconds)),
            run.calls_total,
            run.minimum_calls.total,
            run.calls_ratio_to_minimum,
            format!(
                "{}/{}",
                ms(run.reconcile_latency.p50_seconds),
                ms(run.reconcile_latency.p99_seconds)
            ),
        ));
        if let Some(e) = &run.error {
            out.push_str(&format!("      error: {e}\n"));
        }
    }
    if let Some(first) = r.time_to_ready.first() {
        out.push_str(&format!(
            "\ncalls by service/method ({} nodes @ {} s) vs minimum:\n",
            first.nodes, first.boot_delay_seconds
        ));
        let services: std::collections::BTreeSet<&String> = first
            .calls_by_service_method
            .keys()
            .chain(first.minimum_calls.by_service_method.keys())
            .collect();
        for s in services {
            let methods: std::collections::BTreeSet<&String> = first
                .calls_by_service_method
                .get(s)
                .into_iter()
                .flat_map(|m| m.keys())
                .chain(
                    first
                        .minimum_calls
                        .by_service_method
                        .get(s)
                        .into_iter()
                        .flat_map(|m| m.keys()),
                )
                .collect();
            for m in methods {
                let got = first
                    .calls_by_service_method
                    .get(s)
                    .and_then(|x| x.get(m))
                    .copied()
                    .unwrap_or(0);
                let min = first
                    .minimum_calls
                    .by_service_method
                    .get(s)
                    .and_then(|x| x.get(m))
                    .copied()
                    .unwrap_or(0);
                out.push_str(&format!("  {s:<11} {m:<6} {got:>5} (minimum {min})\n"));
            }
        }
    }
    if let Some(i) = &r.idle {
        out.push_str(&format!(
            "\nidle once Ready ({} cluster, {:.0} s): {:.1} calls/min, {:.1} writes/min, {:.1} reads/min (bound {:.0}, resync {:.0} s)\n",
            i.clusters,
            i.window_seconds,
            i.calls_per_minute,
            i.writes_per_minute,
            i.reads_per_minute,
            i.read_bound_per_minute,
            i.resync_seconds
        ));
    }
    out.push_str("\nscale (one-node clusters, servers simulated, nodes never answer)\n");
    out.push_str(&format!(
        "{:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>10} {:>11} {:>9}\n",
        "clusters",
        "settled",
        "settle_s",
        "rss_MiB",
        "peak_MiB",
        "cores",
        "reconciles",
        "p50/p99 ms",
        "calls/min"
    ));
    for s in &r.scale {
        out.push_str(&format!(
            "{:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>8.3} {:>10} {:>11} {:>9.0}\n",
            s.clusters,
            s.settled_clusters,
            s.settle_seconds,
            s.rss_bytes as f64 / 1048576.0,
            s.peak_rss_bytes as f64 / 1048576.0,
            s.cpu_cores_during_window,
            s.reconcile_latency.reconciles,
            format!(
                "{}/{}",
                ms(s.reconcile_latency.p50_seconds),
                ms(s.reconcile_latency.p99_seconds)
            ),
            s.calls_per_minute
        ));
    }
    out.push_str("\ntargets\n");
    for t in &r.targets {
        out.push_str(&format!(
            "  {} {:<48} {:>8.2} (limit {:.2})\n",
            if t.met { "met   " } else { "MISSED" },
            t.what,
            t.value,
            t.limit
        ));
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0}", s * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_with_their_zones() {
        let (c, shapes) = cluster("bench64", 64).expect("manifest");
        assert_eq!(c.spec.zones.len(), 2);
        assert_eq!(shapes.iter().map(|s| s.nodes).sum::<u64>(), 64);
        assert_eq!(c.spec.volume.replicas, Some(2));
        let (one, shapes) = cluster("idle0000", 1).expect("manifest");
        assert_eq!(one.spec.zones[0].nodes, 1);
        assert_eq!(shapes.len(), 1);
    }

    #[test]
    fn counters_split_by_service_and_method() {
        let mut counters = CallCounters::default();
        counters
            .calls
            .insert("GET /compute/v2.1/servers/detail".into(), 3);
        counters
            .calls
            .insert("POST /identity/v3/auth/tokens".into(), 1);
        counters
            .calls
            .insert("POST /volume/v3/{project_id}/volumes".into(), 2);
        assert_eq!(by_service_method(&counters)["compute"]["GET"], 3);
        assert_eq!(by_service(&counters)["volume"].len(), 1);
        assert_eq!(writes_and_reads(&counters), (2, 3));
    }
}

//! `make bench-real-cloud` (issue 9 part 3): the operator side by side with OpenStack Heat and
//! with the same calls made directly, on one real cloud (the conformance cloud of
//! `e2e/conformance/`: Keystone, Nova, Cinder, Neutron, Glance, Placement, Heat on loopback).
//!
//! For each size N, one after another on the same cloud, in zone-a, every node a server
//! (m1.small) with a 1 GiB Cinder volume attached:
//!
//! - **direct**: the calls made directly, all nodes in parallel, with the operator's client
//!   (create the volume and the server, wait for ACTIVE and available, attach, wait for
//!   in-use, polling every 0.25–0.5 s); then 2 more nodes the same way; then delete (servers, then volumes).
//! - **heat**: a stack with a ResourceGroup of N nodes (`e2e/conformance/heat/group.yaml`),
//!   deleted; then an AutoScalingGroup of N (`scaling.yaml`) signalled to add 2, deleted.
//! - **operator**: a GlusterCluster of N nodes (one zone, replica 2) applied to a real Kubernetes
//!   API server (e2e/src/controlplane), the `gluster-operator run` binary reconciling it against the real cloud and
//!   loopback gluster nodes standing in for the servers (the cloud watcher of
//!   [`crate::cloudnodes`]); then `nodes: N+2` (add-brick + rebalance), then deleted.
//!
//! Every "create" and "scale-out" time is measured the same way for the three: from the first
//! request until every server of the run is ACTIVE and every volume in-use, as seen by one
//! observer polling Nova and Cinder every half second (its own User-Agent, left out of the
//! counts); "delete" until nothing of the run is left in Nova or Cinder. Heat's own times
//! (its stack events) are reported too. The operator's time to Ready has no Heat equivalent.
//! Calls are counted from the APIs' access logs ([`super::apilog`]): every request to Nova,
//! Cinder and Neutron while the action ran, including those the services made for it (Nova
//! to Neutron and Cinder, Heat's engine to all three).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use ::kube::runtime::wait::await_condition;
use gluster_operator::api::{GlusterCluster, NodeState};
use gluster_operator::cloud::{
    ClientOptions, Cloud, ServerCreate, ServerQuery, ServerStatus, VolumeCreate, VolumeQuery,
    VolumeStatus, WaitPolicy,
};
use serde::Serialize;

use super::apilog::{self, CallCount, Mark};
use super::heat::{Heat, StackRef, stack_action_seconds};
use super::operator::OperatorProcess;
use super::{BenchError, Machine};
use crate::cloudnodes::{CloudWatcher, WATCHER_USER_AGENT, WatchConfig};
use crate::nodes::{LoopbackNodes, NodesConfig};

/// The observer's `User-Agent` (its polling is left out of every count).
pub const OBSERVER_USER_AGENT: &str = "bench-observer";
/// The operator's client as the access logs name it (its User-Agent's first word).
const OPERATOR_CLIENT: &str = "gluster-operator";
/// The direct calls' `User-Agent`.
pub const DIRECT_USER_AGENT: &str = "bench-direct";
/// Goal: the operator's infrastructure time at most the direct calls' × this.
pub const TARGET_RATIO_TO_DIRECT: f64 = 1.10;

/// The clients whose calls are instruments of the bench, not part of what is measured.
const INSTRUMENTS: &[&str] = &[
    OBSERVER_USER_AGENT,
    WATCHER_USER_AGENT,
    super::heat::HEAT_CLIENT_USER_AGENT,
];

const ZONE: &str = "zone-a";
const FLAVOR: &str = "m1.small";
const IMAGE: &str = "ubuntu-22.04";
const NETWORK: &str = "private";
const GROUP_TEMPLATE: &str = include_str!("../../conformance/heat/group.yaml");
const SCALING_TEMPLATE: &str = include_str!("../../conformance/heat/scaling.yaml");
const NODE_TEMPLATE: &str = include_str!("../../conformance/heat/node.yaml");

/// What to run.
#[derive(Debug, Clone)]
pub struct RealCloudOptions {
    /// The cloud's directory (`cloud.sh up DIR`): `DIR/clouds.yaml`, `DIR/log/<api>.log`.
    pub cloud_dir: PathBuf,
    /// The clouds.yaml entry of the member user (operator, Heat, direct calls).
    pub member_cloud: String,
    /// The clouds.yaml entry of the administrator (the watcher reads user-data).
    pub admin_cloud: String,
    /// Node counts, in order.
    pub sizes: Vec<u32>,
    /// Rounds: every size is measured this many times, the actors' order reversed every other
    /// round; comparisons use the median.
    pub rounds: u32,
    /// Nodes added by the scale-out.
    pub scale_by: u32,
    /// The operator binary (default: next to this program's).
    pub operator_bin: Option<PathBuf>,
    /// Where operator logs and node state go.
    pub work_dir: PathBuf,
    /// The JSON results file.
    pub json_path: PathBuf,
    /// Hang guard of every wait (not a speed check).
    pub timeout: Duration,
    /// Keep `work_dir` (each operator run's log, with every cloud call) after the run.
    pub keep_work_dir: bool,
    /// The command line, for the record.
    pub command: String,
}

impl RealCloudOptions {
    /// N = 4 and 8, +2, the conformance cloud's entries, results in
    /// `bench-real-cloud.json` at the repository root.
    pub fn new(repo: &Path, cloud_dir: &Path) -> Self {
        RealCloudOptions {
            cloud_dir: cloud_dir.to_path_buf(),
            member_cloud: "conformance".into(),
            admin_cloud: "conformance-admin".into(),
            sizes: vec![4, 8],
            rounds: 2,
            scale_by: 2,
            operator_bin: None,
            work_dir: std::env::temp_dir()
                .join(format!("gluster-bench-cloud-{}", std::process::id())),
            json_path: repo.join("bench-real-cloud.json"),
            timeout: Duration::from_secs(15 * 60),
            keep_work_dir: false,
            command: "make bench-real-cloud".into(),
        }
    }
}

/// One action of one actor at one size.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Node count before the action.
    pub nodes: u32,
    /// `direct`, `heat` or `operator`.
    pub actor: String,
    /// `create`, `ready`, `scale-out`, `scale-out ready`, `delete` (Heat's scaling group:
    /// `create (asg)`, `delete (asg)`; the first direct node: `warm-up`).
    pub action: String,
    /// The round (0-based).
    pub round: u32,
    /// Seconds from the first request until done (the observer's view, ±0.5 s).
    pub seconds: Option<f64>,
    /// Heat's own time for the action from its stack events (to the second), for Heat.
    pub heat_event_seconds: Option<f64>,
    /// Calls to every API while the action ran (instruments left out).
    pub calls: CallCount,
    /// Nova + Cinder + Neutron calls made by the actor's own client (not by the services on its
    /// behalf), told apart by User-Agent: known for the operator and the direct calls; not for
    /// Heat, whose engine calls through the same python-*client libraries as the services.
    pub calls_by_actor_itself: Option<u64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// The operator against the others for one size and action.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Node count.
    pub nodes: u32,
    /// `create`, `scale-out`, `delete`.
    pub action: String,
    /// The operator's seconds (median over the rounds).
    pub operator_seconds: Option<f64>,
    /// The direct calls' seconds (median).
    pub direct_seconds: Option<f64>,
    /// Heat's seconds (same observer; median).
    pub heat_seconds: Option<f64>,
    /// Every round's seconds: operator, direct, Heat.
    pub rounds_operator_direct_heat: [Vec<f64>; 3],
    /// operator / direct.
    pub ratio_to_direct: Option<f64>,
    /// operator / Heat.
    pub ratio_to_heat: Option<f64>,
    /// Nova + Cinder + Neutron calls of each (median): operator, direct, Heat.
    pub calls_operator_direct_heat: [u64; 3],
    /// At most direct × 1.10 and below Heat.
    pub goal_met: bool,
}

/// Everything `bench --real-cloud` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RealCloudResults {
    /// When the run started (UTC, RFC 3339).
    pub date_utc: String,
    /// The command.
    pub command: String,
    /// Rounds per size.
    pub rounds: u32,
    /// The machine.
    pub machine: Machine,
    /// The cloud (what `e2e/conformance/README.md` describes), for the record.
    pub cloud: String,
    /// Every measurement, in the order made.
    pub measured: Vec<Measured>,
    /// The operator against direct calls and Heat.
    pub comparisons: Vec<Comparison>,
    /// Whether every comparison met its goal.
    pub all_goals_met: bool,
    /// How long the whole run took.
    pub bench_seconds: f64,
}

/// A clouds.yaml text with only the entry `cloud` (the operator's Secret never holds the
/// administrator's).
pub fn clouds_yaml_entry(yaml: &str, cloud: &str) -> Result<String, BenchError> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(yaml).map_err(|e| BenchError::Serde(e.to_string()))?;
    let entry = doc["clouds"]
        .get(cloud)
        .ok_or_else(|| BenchError::Cloud(format!("clouds.yaml has no cloud `{cloud}`")))?
        .clone();
    let mut clouds = serde_yaml::Mapping::new();
    clouds.insert(cloud.into(), entry);
    let mut root = serde_yaml::Mapping::new();
    root.insert("clouds".into(), serde_yaml::Value::Mapping(clouds));
    serde_yaml::to_string(&root).map_err(|e| BenchError::Serde(e.to_string()))
}

/// A run ID: a letter and 7 hex digits from the time and the process, so the names of reruns
/// on the same cloud differ.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64 / 1000) ^ (u64::from(std::process::id()) << 20);
    format!("c{:07x}", mixed & 0xfff_ffff)
}

/// What the observer saw of one run's servers and volumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    servers: usize,
    active: usize,
    volumes: usize,
    in_use: usize,
}

/// Polls Nova and Cinder for the resources whose names start with a prefix.
struct Observer {
    cloud: Cloud,
}

impl Observer {
    async fn seen(&self, prefix: &str) -> Result<Seen, BenchError> {
        let (every_server, every_volume) = (ServerQuery::default(), VolumeQuery::default());
        let (servers, volumes) = tokio::try_join!(
            self.cloud.compute().list_servers(&every_server),
            self.cloud.volume().list_volumes(&every_volume),
        )?;
        let servers: Vec<_> = servers
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect();
        let volumes: Vec<_> = volumes
            .iter()
            .filter(|v| v.name.starts_with(prefix))
            .collect();
        if let Some(s) = servers.iter().find(|s| s.status == ServerStatus::Error) {
            return Err(BenchError::Cloud(format!(
                "server {} is in ERROR: {}",
                s.name,
                s.fault_message().unwrap_or_default()
            )));
        }
        Ok(Seen {
            servers: servers.len(),
            active: servers
                .iter()
                .filter(|s| s.status == ServerStatus::Active)
                .count(),
            volumes: volumes.len(),
            in_use: volumes
                .iter()
                .filter(|v| v.status == VolumeStatus::InUse)
                .count(),
        })
    }

    /// Seconds from `start` until `done` holds for the prefix's resources.
    async fn until(
        &self,
        prefix: &str,
        start: Instant,
        timeout: Duration,
        what: &str,
        done: impl Fn(Seen) -> bool,
    ) -> Result<f64, BenchError> {
        loop {
            let seen = self.seen(prefix).await?;
            if done(seen) {
                return Ok(start.elapsed().as_secs_f64());
            }
            if start.elapsed() > timeout {
                return Err(BenchError::Cloud(format!(
                    "{prefix}*: not {what} after {} s (saw {seen:?})",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn all_attached(
        &self,
        prefix: &str,
        n: usize,
        start: Instant,
        timeout: Duration,
    ) -> Result<f64, BenchError> {
        self.until(prefix, start, timeout, "all ACTIVE and in-use", |s| {
            s.active >= n && s.in_use >= n
        })
        .await
    }

    async fn all_gone(
        &self,
        prefix: &str,
        start: Instant,
        timeout: Duration,
    ) -> Result<f64, BenchError> {
        self.until(prefix, start, timeout, "gone", |s| {
            s.servers == 0 && s.volumes == 0
        })
        .await
    }
}

/// The shared state of a run: the cloud's clients and logs.
struct Bench {
    options: RealCloudOptions,
    clouds_yaml: String,
    log_dir: PathBuf,
    observer: Observer,
    direct: Cloud,
    heat: Heat,
    run_id: String,
    /// The round being measured.
    round: u32,
    measured: Vec<Measured>,
    /// The run's stacks not deleted yet.
    stacks: std::sync::Mutex<Vec<StackRef>>,
}

fn client(yaml: &str, cloud: &str, user_agent: &str) -> Result<Cloud, BenchError> {
    Ok(Cloud::from_clouds_yaml(
        yaml,
        cloud,
        None,
        ClientOptions {
            user_agent: user_agent.to_owned(),
            ..ClientOptions::default()
        },
    )?)
}

/// Direct waits: every 0.25–0.5 s (half a second with the client's jitter; the observer looks
/// every half second), so the direct calls are a tight baseline.
fn every_half_second(timeout: Duration) -> WaitPolicy {
    WaitPolicy {
        backoff: gluster_operator::cloud::Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_millis(500),
            max_attempts: u32::MAX,
        },
        timeout,
    }
}

impl Bench {
    fn record(
        &mut self,
        nodes: u32,
        actor: &str,
        action: &str,
        from: &Mark,
        outcome: Result<(f64, Option<f64>), BenchError>,
    ) -> Option<f64> {
        let calls = apilog::calls_between(
            &self.log_dir,
            from,
            &apilog::mark(&self.log_dir),
            INSTRUMENTS,
        );
        let own = match actor {
            "direct" => Some(calls.infra_by(DIRECT_USER_AGENT)),
            "operator" => Some(calls.infra_by(OPERATOR_CLIENT)),
            _ => None,
        };
        let (seconds, heat_event_seconds, error) = match outcome {
            Ok((s, h)) => (Some(s), h, None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        println!(
            "  {actor:<8} {action:<16} N={nodes:<2} round {} {:>7} s{}  {} Nova+Cinder+Neutron calls{}",
            self.round,
            seconds.map_or("-".into(), |s| format!("{s:.1}")),
            heat_event_seconds.map_or(String::new(), |h| format!(" (Heat's events: {h:.0} s)")),
            calls.compute_volume_network,
            error
                .as_deref()
                .map_or(String::new(), |e| format!("  FAILED: {e}")),
        );
        self.measured.push(Measured {
            nodes,
            actor: actor.into(),
            action: action.into(),
            round: self.round,
            seconds,
            heat_event_seconds,
            calls,
            calls_by_actor_itself: own,
            error,
        });
        seconds
    }

    fn mark(&self) -> Mark {
        apilog::mark(&self.log_dir)
    }

    /// Direct calls: create `range` nodes in parallel, each to in-use.
    async fn direct_create(
        &self,
        prefix: &str,
        range: std::ops::Range<u32>,
    ) -> Result<(), BenchError> {
        let cloud = &self.direct;
        let (flavor, image, network) = tokio::try_join!(
            cloud.compute().flavor(FLAVOR),
            cloud.image().image(IMAGE),
            cloud.network().network(NETWORK),
        )?;
        let wait = every_half_second(self.options.timeout);
        let nodes = range.map(|i| {
            let (flavor, image, network) = (&flavor, &image, &network);
            async move {
                let name = format!("{prefix}{i}");
                let volume_spec = VolumeCreate {
                    name: format!("{name}-brick"),
                    size_gib: 1,
                    availability_zone: Some(ZONE.into()),
                    ..VolumeCreate::default()
                };
                let server_spec = ServerCreate {
                    name,
                    flavor_id: flavor.id.clone(),
                    image_id: image.id.clone(),
                    availability_zone: Some(ZONE.into()),
                    networks: vec![network.id.clone()],
                    ports: vec![],
                    ..ServerCreate::default()
                };
                let (volume, server) = tokio::try_join!(
                    cloud.volume().create_volume(&volume_spec),
                    cloud.compute().create_server(&server_spec),
                )?;
                tokio::try_join!(
                    cloud.compute().wait_for_server_active(&server, wait),
                    cloud
                        .volume()
                        .wait_for_volume(&volume.id, &[VolumeStatus::Available], wait),
                )?;
                cloud.compute().attach_volume(&server, &volume.id).await?;
                cloud
                    .volume()
                    .wait_for_volume(&volume.id, &[VolumeStatus::InUse], wait)
                    .await?;
                Ok::<(), BenchError>(())
            }
        });
        futures::future::try_join_all(nodes).await?;
        Ok(())
    }

    /// One node created and deleted by direct calls before anything is measured: the first
    /// server after a quiet spell is slow (the services' caches, connections, periodic tasks).
    async fn warm_up(&mut self) {
        let prefix = format!("{}-warm-", self.run_id);
        let timeout = self.options.timeout;
        let from = self.mark();
        let start = Instant::now();
        let created = match self.direct_create(&prefix, 0..1).await {
            Ok(()) => self
                .observer
                .all_attached(&prefix, 1, start, timeout)
                .await
                .map(|s| (s, None)),
            Err(e) => Err(e),
        };
        self.record(1, "direct", "warm-up", &from, created);
        let _ = self.direct_delete(&prefix).await;
    }

    /// Direct calls: delete every server of the prefix (Nova detaches its volume), then each
    /// volume once available.
    async fn direct_delete(&self, prefix: &str) -> Result<(), BenchError> {
        let cloud = &self.direct;
        let wait = every_half_second(self.options.timeout);
        let servers = cloud
            .compute()
            .list_servers(&ServerQuery::default())
            .await?;
        let volumes = cloud.volume().list_volumes(&VolumeQuery::default()).await?;
        let servers = servers
            .into_iter()
            .filter(|s| s.name.starts_with(prefix))
            .map(|s| async move {
                cloud.compute().delete_server(&s.id).await?;
                cloud.compute().wait_for_server_deleted(&s.id, wait).await?;
                Ok::<(), BenchError>(())
            });
        let volumes = volumes
            .into_iter()
            .filter(|v| v.name.starts_with(prefix))
            .map(|v| async move {
                cloud
                    .volume()
                    .wait_for_volume(&v.id, &[VolumeStatus::Available], wait)
                    .await?;
                cloud.volume().delete_volume(&v.id).await?;
                cloud.volume().wait_for_volume_deleted(&v.id, wait).await?;
                Ok::<(), BenchError>(())
            });
        tokio::try_join!(
            futures::future::try_join_all(servers),
            futures::future::try_join_all(volumes)
        )?;
        Ok(())
    }

    async fn direct(&mut self, n: u32) {
        let prefix = format!("{}-d{n}r{}-", self.run_id, self.round);
        let timeout = self.options.timeout;
        let from = self.mark();
        let start = Instant::now();
        let created = match self.direct_create(&prefix, 0..n).await {
            Ok(()) => self
                .observer
                .all_attached(&prefix, n as usize, start, timeout)
                .await
                .map(|s| (s, None)),
            Err(e) => Err(e),
        };
        let ok = self.record(n, "direct", "create", &from, created).is_some();
        if ok {
            let by = self.options.scale_by;
            let from = self.mark();
            let start = Instant::now();
            let scaled = match self.direct_create(&prefix, n..n + by).await {
                Ok(()) => self
                    .observer
                    .all_attached(&prefix, (n + by) as usize, start, timeout)
                    .await
                    .map(|s| (s, None)),
                Err(e) => Err(e),
            };
            self.record(n, "direct", "scale-out", &from, scaled);
        }
        let from = self.mark();
        let start = Instant::now();
        let deleted = match self.direct_delete(&prefix).await {
            Ok(()) => self
                .observer
                .all_gone(&prefix, start, timeout)
                .await
                .map(|s| (s, None)),
            Err(e) => Err(e),
        };
        self.record(n, "direct", "delete", &from, deleted);
    }

    /// Creates the stack (its nodes named from `name_param`) and waits: stack complete and the
    /// observer's all-attached for the nodes whose names start with `prefix`.
    async fn heat_create(
        &self,
        stack_name: &str,
        template: &str,
        n: u32,
        name_param: &str,
        prefix: &str,
        start: Instant,
    ) -> Result<(StackRef, f64, Option<f64>), BenchError> {
        let files = BTreeMap::from([("node.yaml".to_owned(), NODE_TEMPLATE.to_owned())]);
        let parameters = BTreeMap::from([
            ("count".to_owned(), n.to_string()),
            ("zone".to_owned(), ZONE.to_owned()),
            ("prefix".to_owned(), name_param.to_owned()),
        ]);
        let stack = self
            .heat
            .create_stack(stack_name, template, &files, &parameters)
            .await?;
        self.note_stack(&stack, true);
        let timeout = self.options.timeout;
        let (seconds, ()) = tokio::try_join!(
            self.observer
                .all_attached(prefix, n as usize, start, timeout),
            self.heat.wait_stack(&stack, "CREATE_COMPLETE", timeout),
        )?;
        let events = self.heat.events(&stack).await?;
        let own =
            stack_action_seconds(&events, stack_name, "CREATE_IN_PROGRESS", "CREATE_COMPLETE");
        Ok((stack, seconds, own))
    }

    async fn heat_delete(
        &self,
        stack: &StackRef,
        prefix: &str,
        start: Instant,
    ) -> Result<f64, BenchError> {
        let timeout = self.options.timeout;
        self.heat.delete_stack(stack).await?;
        let (seconds, ()) = tokio::try_join!(
            self.observer.all_gone(prefix, start, timeout),
            self.heat.wait_stack(stack, "DELETE_COMPLETE", timeout),
        )?;
        self.note_stack(stack, false);
        Ok(seconds)
    }

    /// Keeps the list of the run's stacks not deleted yet (for [`Bench::sweep`]).
    fn note_stack(&self, stack: &StackRef, standing: bool) {
        // A poisoned lock only means a panic elsewhere mid-push: the list is still usable.
        let mut stacks = self
            .stacks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stacks.retain(|s| s.id != stack.id);
        if standing {
            stacks.push(stack.clone());
        }
    }

    /// Creates a stack of `n` nodes and records it as `action`: a ResourceGroup
    /// (`scaling: false`) or an AutoScalingGroup; returns the stack and the prefix of its nodes'
    /// names when it was created.
    async fn heat_created(
        &mut self,
        n: u32,
        action: &str,
        scaling: bool,
    ) -> Option<(StackRef, String)> {
        let kind = if scaling { "asg" } else { "group" };
        let stack_name = format!("{}-{kind}{n}r{}", self.run_id, self.round);
        let prefix = format!("{stack_name}-");
        // The ResourceGroup names its nodes `<name>-<index>`; the scaling group gives them all
        // the name it is given: either way the prefix starts every name.
        let (template, name_param) = if scaling {
            (SCALING_TEMPLATE, format!("{prefix}node"))
        } else {
            (GROUP_TEMPLATE, stack_name.clone())
        };
        let from = self.mark();
        let start = Instant::now();
        let created = self
            .heat_create(&stack_name, template, n, &name_param, &prefix, start)
            .await;
        let stack = created.as_ref().ok().map(|(s, _, _)| s.clone());
        self.record(
            n,
            "heat",
            action,
            &from,
            created.map(|(_, s, own)| (s, own)),
        );
        stack.map(|s| (s, prefix))
    }

    async fn heat(&mut self, n: u32) {
        // The ResourceGroup: create, delete.
        if let Some((stack, prefix)) = self.heat_created(n, "create", false).await {
            let from = self.mark();
            let start = Instant::now();
            let deleted = self.heat_delete(&stack, &prefix, start).await;
            self.record(n, "heat", "delete", &from, deleted.map(|s| (s, None)));
        }
        // The AutoScalingGroup: create (not compared), signal +2, delete.
        let stack = self.heat_created(n, "create (asg)", true).await;
        let Some((stack, prefix)) = stack else {
            return;
        };
        let by = self.options.scale_by;
        let from = self.mark();
        let start = Instant::now();
        let scaled = match self.heat.signal(&stack, "scale_out").await {
            Ok(()) => self
                .observer
                .all_attached(&prefix, (n + by) as usize, start, self.options.timeout)
                .await
                .map(|s| (s, None)),
            Err(e) => Err(e),
        };
        self.record(n, "heat", "scale-out", &from, scaled);
        let from = self.mark();
        let start = Instant::now();
        let deleted = self.heat_delete(&stack, &prefix, start).await;
        self.record(n, "heat", "delete (asg)", &from, deleted.map(|s| (s, None)));
    }
}

/// The operator's world on the real cloud: a Kubernetes control plane (the chart applied),
/// operator process, loopback nodes and the watcher booting them for the run's servers.
struct OperatorWorld {
    control_plane: crate::controlplane::ControlPlane,
    operator: OperatorProcess,
    nodes: Arc<LoopbackNodes>,
    watcher: CloudWatcher,
    clusters: Api<GlusterCluster>,
}

impl OperatorWorld {
    async fn start(
        bench: &Bench,
        operator_bin: &Path,
        label: &str,
    ) -> Result<OperatorWorld, BenchError> {
        let dir = bench.options.work_dir.join(label);
        std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(&dir, e))?;
        let control_plane = crate::controlplane::ControlPlane::start()
            .await
            .map_err(crate::devenv::DevEnvError::from)?;
        let client = control_plane
            .client()
            .await
            .map_err(crate::devenv::DevEnvError::from)?;
        crate::devenv::install_crd(&client).await?;
        let identity = crate::controlplane::chart::install(
            &control_plane,
            "bench",
            crate::controlplane::chart::RELEASE_NAMESPACE,
            "",
        )
        .map_err(crate::devenv::DevEnvError::from)?;
        let operator_kubeconfig = std::fs::read_to_string(&identity.kubeconfig)
            .map_err(|e| BenchError::io(&identity.kubeconfig, e))?;
        let entry = clouds_yaml_entry(&bench.clouds_yaml, &bench.options.member_cloud)?;
        crate::devenv::create_secret(&client, &entry).await?;
        let operator = OperatorProcess::launch(
            operator_bin,
            &dir,
            &operator_kubeconfig,
            crate::devenv::NAMESPACE,
            // Every cloud call with its duration: where the operator's time goes.
            Some("info,gluster_operator::gluster=debug,gluster_operator::cloud=debug"),
        )
        .await?;
        let nodes = Arc::new(LoopbackNodes::new(NodesConfig::new(dir.join("state")))?);
        let watcher = CloudWatcher::start(
            &bench.clouds_yaml,
            &bench.options.admin_cloud,
            nodes.clone(),
            WatchConfig {
                poll_interval: Duration::from_millis(500),
                select: WatchConfig::name_prefix(format!("{}-", bench.run_id)),
                ..WatchConfig::default()
            },
        )
        .await?;
        Ok(OperatorWorld {
            control_plane,
            operator,
            nodes,
            watcher,
            clusters: Api::namespaced(client, crate::devenv::NAMESPACE),
        })
    }

    async fn stop(self) -> Result<(), BenchError> {
        self.watcher.settle().await;
        self.watcher.stop().await;
        let operator = self.operator;
        let _ = tokio::task::spawn_blocking(move || operator.stop()).await;
        drop(self.clusters);
        let nodes = self.nodes;
        match tokio::task::spawn_blocking(move || nodes.shutdown()).await {
            Ok(stopped) => stopped?,
            Err(e) => return Err(BenchError::Operator(format!("stopping nodes: {e}"))),
        }
        drop(self.control_plane);
        Ok(())
    }
}

/// A GlusterCluster of `nodes` nodes in zone-a, replica 2, 1 GiB Cinder bricks, m1.small.
fn operator_cluster(name: &str, nodes: u32, cloud: &str) -> Result<GlusterCluster, BenchError> {
    let yaml = format!(
        "apiVersion: storage.glusterops.dev/v1alpha1\nkind: GlusterCluster\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  cloud:\n    secretName: {secret}\n    cloudName: {cloud}\n  image: {IMAGE}\n  flavor: {FLAVOR}\n  network: {NETWORK}\n  zones:\n    - name: {ZONE}\n      nodes: {nodes}\n  brick:\n    size: 1Gi\n  volume:\n    name: bench\n    replicas: 2\n    allowedClients:\n      - 127.0.0.0/8\n  deletionPolicy: Delete\n",
        ns = crate::devenv::NAMESPACE,
        secret = crate::devenv::SECRET_NAME,
    );
    serde_yaml::from_str(&yaml).map_err(|e| BenchError::Serde(e.to_string()))
}

/// Ready for the spec's generation, with `n` Ready nodes and `n` bricks online.
fn ready_with(c: &GlusterCluster, n: usize) -> bool {
    let generation = c.metadata.generation;
    c.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|x| {
            x.type_ == "Ready" && x.status == "True" && x.observed_generation == generation
        }) && s.nodes.len() == n
            && s.nodes.iter().all(|node| node.state == NodeState::Ready)
            && s.volume
                .as_ref()
                .is_some_and(|v| v.bricks.len() == n && v.bricks.iter().all(|b| b.online))
    })
}

impl Bench {
    async fn wait_ready(
        &self,
        world: &OperatorWorld,
        name: &str,
        n: usize,
        start: Instant,
    ) -> Result<f64, BenchError> {
        let left = self.options.timeout.saturating_sub(start.elapsed());
        match tokio::time::timeout(
            left,
            await_condition(
                world.clusters.clone(),
                name,
                move |o: Option<&GlusterCluster>| o.is_some_and(|c| ready_with(c, n)),
            ),
        )
        .await
        {
            Ok(Ok(_)) => Ok(start.elapsed().as_secs_f64()),
            Ok(Err(e)) => Err(BenchError::Operator(format!("watching {name}: {e}"))),
            Err(_) => Err(BenchError::Operator(format!(
                "{name} not Ready with {n} nodes within {} s",
                self.options.timeout.as_secs()
            ))),
        }
    }

    async fn operator(&mut self, n: u32, world: &OperatorWorld) {
        let name = format!("{}-o{n}r{}", self.run_id, self.round);
        let prefix = format!("{name}-");
        let timeout = self.options.timeout;
        let manifest = match operator_cluster(&name, n, &self.options.member_cloud) {
            Ok(m) => m,
            Err(e) => {
                let from = self.mark();
                self.record(n, "operator", "create", &from, Err(e));
                return;
            }
        };
        let from = self.mark();
        let start = Instant::now();
        let applied = world
            .clusters
            .create(&PostParams::default(), &manifest)
            .await
            .map_err(|e| BenchError::Operator(format!("creating {name}: {e}")));
        let infra = match applied {
            Ok(_) => {
                self.observer
                    .all_attached(&prefix, n as usize, start, timeout)
                    .await
            }
            Err(e) => Err(e),
        };
        let created = infra.is_ok();
        self.record(n, "operator", "create", &from, infra.map(|s| (s, None)));
        if created {
            let ready = self.wait_ready(world, &name, n as usize, start).await;
            self.record(n, "operator", "ready", &from, ready.map(|s| (s, None)));
            let by = self.options.scale_by;
            let from = self.mark();
            let start = Instant::now();
            let patch = serde_json::json!({"spec": {"zones": [{"name": ZONE, "nodes": n + by}]}});
            let patched = world
                .clusters
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| BenchError::Operator(format!("scaling {name}: {e}")));
            let infra = match patched {
                Ok(_) => {
                    self.observer
                        .all_attached(&prefix, (n + by) as usize, start, timeout)
                        .await
                }
                Err(e) => Err(e),
            };
            let scaled = infra.is_ok();
            self.record(n, "operator", "scale-out", &from, infra.map(|s| (s, None)));
            if scaled {
                let ready = self
                    .wait_ready(world, &name, (n + by) as usize, start)
                    .await;
                self.record(
                    n,
                    "operator",
                    "scale-out ready",
                    &from,
                    ready.map(|s| (s, None)),
                );
            }
        }
        let from = self.mark();
        let start = Instant::now();
        let deleted = match world.clusters.delete(&name, &DeleteParams::default()).await {
            Ok(_) => self.observer.all_gone(&prefix, start, timeout).await,
            Err(e) => Err(BenchError::Operator(format!("deleting {name}: {e}"))),
        };
        self.record(n, "operator", "delete", &from, deleted.map(|s| (s, None)));
        // The finalizer lets go once the security group is gone too.
        let _ = tokio::time::timeout(
            timeout,
            await_condition(
                world.clusters.clone(),
                &name,
                |o: Option<&GlusterCluster>| o.is_none(),
            ),
        )
        .await;
    }

    /// Deletes whatever of the run is left (after a failure): stacks first, then servers and
    /// volumes by name.
    async fn sweep(&self) {
        let stacks = std::mem::take(
            &mut *self
                .stacks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for stack in stacks {
            if self.heat.delete_stack(&stack).await.is_ok() {
                let _ = self
                    .heat
                    .wait_stack(&stack, "DELETE_COMPLETE", Duration::from_secs(300))
                    .await;
            }
        }
        let prefix = format!("{}-", self.run_id);
        let _ = self.direct_delete(&prefix).await;
    }
}

/// The measurements of `actor`'s `action` at size `n`, one per round.
fn measurements<'a>(
    measured: &'a [Measured],
    n: u32,
    actor: &'a str,
    action: &'a str,
) -> impl Iterator<Item = &'a Measured> + 'a {
    measured
        .iter()
        .filter(move |m| m.nodes == n && m.actor == actor && m.action == action)
}

/// The median (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The median seconds of an actor's action at size `n` over the rounds where it succeeded.
fn median_seconds(measured: &[Measured], n: u32, actor: &str, action: &str) -> Option<f64> {
    median(
        measurements(measured, n, actor, action)
            .filter_map(|m| m.seconds)
            .collect(),
    )
}

fn comparisons(measured: &[Measured], sizes: &[u32]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for &n in sizes {
        for action in ["create", "scale-out", "delete"] {
            let each = |actor: &str| -> Vec<f64> {
                measurements(measured, n, actor, action)
                    .filter_map(|m| m.seconds)
                    .collect()
            };
            let calls = |actor: &str| -> u64 {
                let all = measurements(measured, n, actor, action)
                    .map(|m| m.calls.compute_volume_network as f64)
                    .collect();
                median(all).map_or(0, |c| c.round() as u64)
            };
            let (o, d, h) = (each("operator"), each("direct"), each("heat"));
            // A failed round counts against the operator: no figure, no goal.
            let failed = measurements(measured, n, "operator", action).any(|m| m.seconds.is_none());
            let (om, dm, hm) = (median(o.clone()), median(d.clone()), median(h.clone()));
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            let ratio_to_direct = ratio(om, dm);
            let ratio_to_heat = ratio(om, hm);
            out.push(Comparison {
                nodes: n,
                action: action.into(),
                operator_seconds: om,
                direct_seconds: dm,
                heat_seconds: hm,
                rounds_operator_direct_heat: [o, d, h],
                ratio_to_direct,
                ratio_to_heat,
                calls_operator_direct_heat: [calls("operator"), calls("direct"), calls("heat")],
                goal_met: !failed
                    && ratio_to_direct.is_some_and(|r| r <= TARGET_RATIO_TO_DIRECT)
                    && ratio_to_heat.is_some_and(|r| r < 1.0),
            });
        }
    }
    out
}

/// Runs the comparison on the cloud of `options.cloud_dir`; writes the JSON; returns it.
/// Needs root (the operator's servers become loopback gluster nodes).
pub async fn run(options: &RealCloudOptions) -> Result<RealCloudResults, BenchError> {
    let bench_started = Instant::now();
    let date_utc = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if !rustix::process::geteuid().is_root() {
        return Err(BenchError::Operator(
            "needs root: the operator's servers become loopback gluster nodes".into(),
        ));
    }
    let operator_bin = super::operator_binary(options.operator_bin.as_deref())?;
    let clouds_path = options.cloud_dir.join("clouds.yaml");
    let clouds_yaml =
        std::fs::read_to_string(&clouds_path).map_err(|e| BenchError::io(&clouds_path, e))?;
    let log_dir = options.cloud_dir.join("log");
    let observer = Observer {
        cloud: client(&clouds_yaml, &options.member_cloud, OBSERVER_USER_AGENT)?,
    };
    let direct = client(&clouds_yaml, &options.member_cloud, DIRECT_USER_AGENT)?;
    let heat = Heat::connect(&clouds_yaml, &options.member_cloud).await?;
    std::fs::create_dir_all(&options.work_dir).map_err(|e| BenchError::io(&options.work_dir, e))?;
    let mut bench = Bench {
        options: options.clone(),
        clouds_yaml,
        log_dir,
        observer,
        direct,
        heat,
        run_id: run_id(),
        round: 0,
        measured: Vec::new(),
        stacks: std::sync::Mutex::new(Vec::new()),
    };
    bench.warm_up().await;
    for round in 0..options.rounds {
        bench.round = round;
        for &n in &options.sizes {
            // Every other round the other way round: what runs first on a cloud that has just
            // deleted something pays for it (its caches, its periodic tasks).
            let mut actors = ["direct", "heat", "operator"];
            if round % 2 == 1 {
                actors.reverse();
            }
            for actor in actors {
                println!("N = {n}, round {round}: {actor} …");
                match actor {
                    "direct" => bench.direct(n).await,
                    "heat" => bench.heat(n).await,
                    _ => {
                        let label = format!("operator-{n}-r{round}");
                        let world = OperatorWorld::start(&bench, &operator_bin, &label).await?;
                        bench.operator(n, &world).await;
                        world.stop().await?;
                    }
                }
            }
            bench.sweep().await;
        }
    }
    let comparisons = comparisons(&bench.measured, &options.sizes);
    let results = RealCloudResults {
        date_utc,
        command: options.command.clone(),
        rounds: options.rounds,
        machine: super::machine(),
        cloud: "the conformance cloud (e2e/conformance): Keystone 30, Nova 34 (fake driver), \
                Cinder 29 (fake backend), Neutron 29 (ML2, no agents), Glance 33, Placement 16, \
                Heat 27.0.1 (one engine worker), all on this machine"
            .into(),
        all_goals_met: comparisons.iter().all(|c| c.goal_met),
        measured: bench.measured,
        comparisons,
        bench_seconds: bench_started.elapsed().as_secs_f64(),
    };
    let json =
        serde_json::to_string_pretty(&results).map_err(|e| BenchError::Serde(e.to_string()))?;
    std::fs::write(&options.json_path, json + "\n")
        .map_err(|e| BenchError::io(&options.json_path, e))?;
    if options.keep_work_dir {
        println!("work directory kept: {}", options.work_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&options.work_dir);
    }
    Ok(results)
}

/// The results as a text table.
pub fn table(r: &RealCloudResults) -> String {
    let f = |v: Option<f64>, p: usize| v.map_or("-".into(), |v| format!("{v:.p$}"));
    let mut out = format!(
        "Real cloud, {} ({} cores, {:.0} GiB), median of {} round(s): seconds until every server ACTIVE and volume in-use (delete: until gone)\n",
        r.date_utc,
        r.machine.cores,
        r.machine.memory_bytes as f64 / 1073741824.0,
        r.rounds,
    );
    out += &format!(
        "{:>3} {:<10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}  {:<26} goal\n",
        "N",
        "action",
        "operator",
        "direct",
        "heat",
        "op ready",
        "÷direct",
        "÷heat",
        "Nova+Cinder+Neutron calls"
    );
    for c in &r.comparisons {
        let ready = match c.action.as_str() {
            "create" => median_seconds(&r.measured, c.nodes, "operator", "ready"),
            "scale-out" => median_seconds(&r.measured, c.nodes, "operator", "scale-out ready"),
            _ => None,
        };
        let [o, d, h] = c.calls_operator_direct_heat;
        out += &format!(
            "{:>3} {:<10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}  {:<26} {}\n",
            c.nodes,
            c.action,
            f(c.operator_seconds, 1),
            f(c.direct_seconds, 1),
            f(c.heat_seconds, 1),
            f(ready, 1),
            f(c.ratio_to_direct, 2),
            f(c.ratio_to_heat, 2),
            format!("op {o} / direct {d} / heat {h}"),
            if c.goal_met { "met" } else { "MISSED" }
        );
    }
    out +=
        "every measurement (s; Nova+Cinder+Neutron calls, of which by the actor's own client):\n";
    for m in &r.measured {
        out += &format!(
            "  N={:<2} round {} {:<8} {:<16} {:>7}{:<22} {:>4} calls{}\n",
            m.nodes,
            m.round,
            m.actor,
            m.action,
            f(m.seconds, 1),
            m.heat_event_seconds
                .map_or(String::new(), |h| format!(" (Heat's events {h:.0})")),
            m.calls.compute_volume_network,
            m.calls_by_actor_itself
                .map_or(String::new(), |own| format!(" ({own} own)")),
        );
    }
    let errors: Vec<String> = r
        .measured
        .iter()
        .filter_map(|m| {
            m.error
                .as_ref()
                .map(|e| format!("{} {} N={}: {e}", m.actor, m.action, m.nodes))
        })
        .collect();
    if !errors.is_empty() {
        out += "failures:\n";
        for e in errors {
            out += &format!("  {e}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: u32, actor: &str, action: &str, s: f64) -> Measured {
        Measured {
            nodes: n,
            actor: actor.into(),
            action: action.into(),
            round: 0,
            seconds: Some(s),
            heat_event_seconds: None,
            calls: CallCount::default(),
            calls_by_actor_itself: None,
            error: None,
        }
    }

    #[test]
    fn the_operator_meets_the_goal_only_within_ten_percent_of_direct_and_below_heat() {
        let measured = [
            m(4, "direct", "create", 20.0),
            m(4, "heat", "create", 25.0),
            m(4, "operator", "create", 21.0),
            m(4, "direct", "delete", 10.0),
            m(4, "heat", "delete", 12.0),
            m(4, "operator", "delete", 11.5),
        ];
        let c = comparisons(&measured, &[4]);
        assert_eq!(c.len(), 3);
        assert!(c[0].goal_met, "{:?}", c[0]);
        assert_eq!(c[0].ratio_to_direct, Some(21.0 / 20.0));
        assert!(!c[1].goal_met, "scale-out was not measured: {:?}", c[1]);
        assert!(!c[2].goal_met, "1.15 × direct: {:?}", c[2]);
    }

    #[test]
    fn comparisons_take_the_median_of_the_rounds_and_a_failed_round_misses_the_goal() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        let mut measured = vec![
            m(4, "direct", "create", 10.0),
            m(4, "direct", "create", 14.0),
            m(4, "heat", "create", 20.0),
            m(4, "operator", "create", 11.0),
            m(4, "operator", "create", 13.0),
        ];
        let c = &comparisons(&measured, &[4])[0];
        assert_eq!(c.operator_seconds, Some(12.0));
        assert_eq!(c.direct_seconds, Some(12.0));
        assert_eq!(c.rounds_operator_direct_heat[0], vec![11.0, 13.0]);
        assert!(c.goal_met);
        let mut failed = m(4, "operator", "create", 0.0);
        failed.seconds = None;
        failed.error = Some("not all in-use".into());
        measured.push(failed);
        assert!(!comparisons(&measured, &[4])[0].goal_met);
    }

    #[test]
    fn the_operator_secret_holds_only_its_own_entry() {
        let yaml = "clouds:\n  conformance:\n    auth: {username: demo}\n  conformance-admin:\n    auth: {username: admin}\n";
        let entry = clouds_yaml_entry(yaml, "conformance").unwrap();
        assert!(
            entry.contains("demo") && !entry.contains("admin"),
            "{entry}"
        );
        assert!(clouds_yaml_entry(yaml, "other").is_err());
    }

    #[test]
    fn ready_needs_the_new_generation_and_every_node_and_brick() {
        let mut c = operator_cluster("b-o4", 4, "conformance").unwrap();
        assert!(!ready_with(&c, 4));
        c.metadata.generation = Some(2);
        let status: gluster_operator::api::GlusterClusterStatus = serde_json::from_value(
            serde_json::json!({
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                                "lastTransitionTime": "2026-12-05T00:00:00Z", "observedGeneration": 1}],
                "nodes": [],
            }),
        )
        .unwrap();
        c.status = Some(status);
        assert!(!ready_with(&c, 0), "Ready of the previous generation");
    }
}

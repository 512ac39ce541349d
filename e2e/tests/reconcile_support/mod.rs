//! Shared world of the reconcile tests: the test binary's real Kubernetes control plane
//! (etcd, kube-apiserver, kube-controller-manager; e2e/src/controlplane) with the CRD installed
//! and the operator's chart applied, a namespace of the test's own with the `openstack` Secret
//! made from the simulator's clouds.yaml, the OpenStack simulator in-process on 127.0.0.1:0,
//! and the operator's controller running in-process with a token of the chart's
//! ServiceAccount (so every test proves the chart's RBAC is enough).
//!
//! External mode (`E2E_EXTERNAL=1` with `KUBECONFIG` and `OS_CLOUD`, clouds.yaml from
//! `OS_CLIENT_CONFIG_FILE`): no control plane or simulator is started; the kube client comes
//! from `KUBECONFIG`, the `openstack` Secret is made from that clouds.yaml in a namespace of the
//! test's own, and the controller runs in-process watching only that namespace. Tests that
//! need simulator-only features call [`skip_in_external_mode`].
//!
//! Real kube with an external cloud ([`World::start_with_cloud`], the conformance tests): the
//! control plane as usual, the `openstack` Secret from a given clouds.yaml (a real OpenStack),
//! no simulator.
#![allow(dead_code)]

pub mod gluster;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use e2e::controlplane::chart::{self, OperatorIdentity};
use e2e::controlplane::{ControlPlane, Plane};
use e2e::openstack::{SimConfig, Simulator};
use gluster_operator::api::GlusterCluster;
use gluster_operator::cloud::{ClientOptions, Cloud};
use gluster_operator::controller::{self, ControllerConfig, Metrics};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};

/// The chart release whose ServiceAccount the in-process operator acts as.
pub const RELEASE: &str = "e2e";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A GlusterCluster from `examples/<file>`, without gluster TLS unless the file asks for it:
/// these tests mount with a plain FUSE client, which carries no certificate
/// (`reconcile_tls.rs` tests the default, TLS on, with [`example_with_tls`]).
pub fn example(file: &str) -> GlusterCluster {
    let mut cluster = example_with_tls(file);
    cluster.spec.volume.tls.get_or_insert(false);
    cluster
}

/// A GlusterCluster from `examples/<file>`, as the file has it (TLS on by default).
pub fn example_with_tls(file: &str) -> GlusterCluster {
    let path = workspace().join("examples").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The operator's and the nodes' logs (`RUST_LOG`, default info without kube's, tower's and
/// hyper's chatter) on the test's output, which cargo shows when the test fails. Once per
/// binary; later calls do nothing.
pub fn logs_to_test_output() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn,tower=warn,hyper=warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Whether the suite runs against an external cluster and cloud (`E2E_EXTERNAL=1`).
pub fn external() -> bool {
    std::env::var("E2E_EXTERNAL").is_ok_and(|v| v == "1")
}

/// In external mode, prints why the calling test is skipped and returns true.
pub fn skip_in_external_mode(test: &str, reason: &str) -> bool {
    if external() {
        println!("SKIPPED in external mode: {test}: {reason}");
    }
    external()
}

fn required_env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("E2E_EXTERNAL=1 needs {name} to be set"))
}

/// The clouds.yaml text and cloud name of external mode (`OS_CLIENT_CONFIG_FILE`, else
/// `./clouds.yaml` or `~/.config/openstack/clouds.yaml`; `OS_CLOUD`).
fn external_clouds_yaml() -> (String, String) {
    let cloud = required_env("OS_CLOUD");
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("OS_CLIENT_CONFIG_FILE") {
        candidates.push(p.into());
    } else {
        candidates.push("clouds.yaml".into());
        if let Ok(home) = std::env::var("HOME") {
            candidates.push(Path::new(&home).join(".config/openstack/clouds.yaml"));
        }
        candidates.push("/etc/openstack/clouds.yaml".into());
    }
    let path = candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("E2E_EXTERNAL=1: no clouds.yaml among {candidates:?}"));
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("E2E_EXTERNAL=1: cannot read {}: {e}", path.display()));
    (text, cloud)
}

/// A namespace of this test's own in external mode.
fn test_namespace() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("e2e-{}-{secs}-{n}", std::process::id())
}

/// A change to the CRD document before it is installed (a test's own control plane only).
type CrdEdit = Box<dyn FnOnce(&mut serde_json::Value) + Send>;

/// Which control plane a world runs on, and when the CRD arrives there.
enum Crd {
    /// The binary's shared control plane, the CRD installed.
    Shared,
    /// A control plane of the test's own, the CRD installed as changed by the edit.
    Own(CrdEdit),
    /// A control plane of the test's own, the CRD not installed: the test installs it with
    /// [`World::install_crd`] when it wants (an operator started before its CRD).
    OwnLater,
}

/// The running world.
pub struct World {
    /// The control plane (none in external mode).
    plane: Option<Plane>,
    /// The operator's identity from the chart (none in external mode: the kubeconfig's user).
    pub operator: Option<OperatorIdentity>,
    /// The OpenStack simulator (none in external mode).
    sim: Option<Simulator>,
    /// The namespace of the test, its own.
    pub ns: String,
    /// The cloud name the clusters use (`sim`, or `OS_CLOUD` in external mode).
    pub cloud_name: String,
    /// An admin client (what a test looks and pokes with).
    pub client: Client,
    /// The client the operator runs with (the chart's ServiceAccount; admin in external mode).
    pub operator_client: Client,
    /// GlusterClusters in `ns`.
    pub clusters: Api<GlusterCluster>,
    /// The operator's cloud client, pointed at the simulator (to look at what exists).
    pub cloud: Cloud,
    /// The controller's metrics.
    pub metrics: Arc<Metrics>,
    /// How long [`World::wait_for`] and [`World::wait_deleted`] wait before failing (a hang
    /// guard, not a speed check): 120 s, longer against a real cloud.
    pub patience: Duration,
    /// The controller's settings (what a restart starts it with again).
    config: ControllerConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    controller: Option<tokio::task::JoinHandle<()>>,
}

/// The shared control plane with the CRD installed and the chart applied (once per binary).
async fn shared_plane() -> (&'static ControlPlane, OperatorIdentity) {
    static READY: tokio::sync::OnceCell<OperatorIdentity> = tokio::sync::OnceCell::const_new();
    let cp = ControlPlane::shared()
        .await
        .unwrap_or_else(|e| panic!("the test control plane: {e}"));
    let identity = READY
        .get_or_init(|| async {
            let admin = cp.client().await.unwrap();
            install_crd(&admin, |_| {}).await;
            install_chart(cp).await
        })
        .await;
    (cp, identity.clone())
}

/// The chart applied in cluster mode as release [`RELEASE`], and its ServiceAccount's token.
async fn install_chart(cp: &ControlPlane) -> OperatorIdentity {
    // kubectl and helm run for a second or two; nothing else runs on this test's runtime yet.
    chart::install(cp, RELEASE, chart::RELEASE_NAMESPACE, "")
        .unwrap_or_else(|e| panic!("installing the chart: {e}"))
}

impl World {
    /// Starts everything with the simulator configured by `sim`.
    pub async fn start(sim: SimConfig) -> World {
        Self::start_inner(sim, Crd::Shared, true, |_| {}).await
    }

    /// Starts everything, the controller with the test settings changed by `configure`.
    pub async fn start_configured(
        sim: SimConfig,
        configure: impl FnOnce(&mut ControllerConfig),
    ) -> World {
        Self::start_inner(sim, Crd::Shared, true, configure).await
    }

    /// Starts everything on a control plane of the test's own without the project's CRD: the
    /// controller starts before it exists; [`World::install_crd`] installs it.
    pub async fn start_before_crd(sim: SimConfig) -> World {
        Self::start_inner(sim, Crd::OwnLater, true, |_| {}).await
    }

    /// Installs the project's CRD as it is in crds/ and waits until it is established.
    pub async fn install_crd(&self) {
        install_crd(&self.client, |_| {}).await;
    }

    /// Starts everything on a control plane of the test's own, installing the project's CRD as
    /// changed by `edit` (a JSON value of the CRD document).
    pub async fn start_with_crd(
        sim: SimConfig,
        edit: impl FnOnce(&mut serde_json::Value) + Send + 'static,
    ) -> World {
        Self::start_inner(sim, Crd::Own(Box::new(edit)), true, |_| {}).await
    }

    /// Starts the control plane and the simulator only: the test runs its own controllers.
    pub async fn start_without_controller(sim: SimConfig) -> World {
        Self::start_inner(sim, Crd::Shared, false, |_| {}).await
    }

    /// The control plane (shared, or the test's own with `edit`ed CRD), a namespace of the
    /// test's own, and clients as admin and as the operator.
    async fn kube(crd: Crd) -> (Plane, OperatorIdentity, Client, Client, String) {
        let (plane, identity) = match crd {
            Crd::Shared => {
                let (cp, identity) = shared_plane().await;
                (Plane::Shared(cp), identity)
            }
            Crd::Own(_) | Crd::OwnLater => {
                let cp = ControlPlane::start()
                    .await
                    .unwrap_or_else(|e| panic!("a control plane of the test's own: {e}"));
                if let Crd::Own(edit) = crd {
                    let admin = cp.client().await.unwrap();
                    install_crd(&admin, edit).await;
                }
                let identity = install_chart(&cp).await;
                (Plane::Own(Box::new(cp)), identity)
            }
        };
        let admin = plane.client().await.unwrap();
        let operator = identity.client().await.unwrap();
        let ns = plane.namespace(&admin, "e2e").await.unwrap();
        (plane, identity, admin, operator, ns)
    }

    async fn start_inner(
        sim: SimConfig,
        crd: Crd,
        with_controller: bool,
        configure: impl FnOnce(&mut ControllerConfig),
    ) -> World {
        if external() {
            return Self::start_external(with_controller).await;
        }
        let (plane, identity, client, operator_client, ns) = Self::kube(crd).await;
        let mut config = test_config("test", &ns);
        configure(&mut config);
        let sim = Simulator::start(sim, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        create_cloud_secret(&client, &ns, &sim.clouds_yaml()).await;
        let cloud =
            Cloud::from_clouds_yaml(&sim.clouds_yaml(), "sim", None, ClientOptions::default())
                .unwrap();
        let metrics = Arc::new(Metrics::default());
        let (stop, controller) = if with_controller {
            let (s, c) = start_controller(&operator_client, &metrics, &config);
            (Some(s), Some(c))
        } else {
            (None, None)
        };
        World {
            clusters: Api::namespaced(client.clone(), &ns),
            plane: Some(plane),
            operator: Some(identity),
            sim: Some(sim),
            ns,
            cloud_name: "sim".to_string(),
            client,
            operator_client,
            cloud,
            metrics,
            patience: Duration::from_secs(120),
            config,
            stop,
            controller,
        }
    }

    /// The control plane, the CRD installed, the `openstack` Secret in the test's namespace made
    /// from `clouds_yaml` (an external cloud, e.g. a real OpenStack), clusters using its entry
    /// `cloud_name`, and the controller in-process. No simulator: [`World::sim`] must not be
    /// called. [`World::stop`] deletes the clusters left first, so the cloud is cleaned.
    pub async fn start_with_cloud(clouds_yaml: &str, cloud_name: &str) -> World {
        let (plane, identity, client, operator_client, ns) = Self::kube(Crd::Shared).await;
        create_cloud_secret(&client, &ns, clouds_yaml).await;
        let config = test_config("test", &ns);
        let cloud =
            Cloud::from_clouds_yaml(clouds_yaml, cloud_name, None, ClientOptions::default())
                .unwrap_or_else(|e| panic!("cloud {cloud_name}: {e}"));
        let metrics = Arc::new(Metrics::default());
        let (stop, controller) = start_controller(&operator_client, &metrics, &config);
        World {
            clusters: Api::namespaced(client.clone(), &ns),
            plane: Some(plane),
            operator: Some(identity),
            sim: None,
            ns,
            cloud_name: cloud_name.to_string(),
            client,
            operator_client,
            cloud,
            metrics,
            patience: Duration::from_secs(600),
            config,
            stop: Some(stop),
            controller: Some(controller),
        }
    }

    /// The cluster, namespace and cloud of external mode: `KUBECONFIG`, a new namespace with
    /// the `openstack` Secret from the `OS_CLOUD` entry's clouds.yaml, the CRD if absent.
    async fn start_external(with_controller: bool) -> World {
        required_env("KUBECONFIG");
        let client = Client::try_default()
            .await
            .unwrap_or_else(|e| panic!("E2E_EXTERNAL=1: no client from KUBECONFIG: {e}"));
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        if crds
            .get_opt("glusterclusters.storage.glusterops.dev")
            .await
            .unwrap()
            .is_none()
        {
            install_crd(&client, |_| {}).await;
        }
        let (yaml, cloud_name) = external_clouds_yaml();
        let ns = test_namespace();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(ns.clone());
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        create_cloud_secret(&client, &ns, &yaml).await;
        let cloud = Cloud::from_clouds_yaml(&yaml, &cloud_name, None, ClientOptions::default())
            .unwrap_or_else(|e| panic!("E2E_EXTERNAL=1: cloud {cloud_name}: {e}"));
        let metrics = Arc::new(Metrics::default());
        let config = test_config("test", &ns);
        let (stop, controller) = if with_controller {
            let (s, c) = start_controller(&client, &metrics, &config);
            (Some(s), Some(c))
        } else {
            (None, None)
        };
        println!("external mode: namespace {ns}, cloud {cloud_name}");
        World {
            clusters: Api::namespaced(client.clone(), &ns),
            plane: None,
            operator: None,
            sim: None,
            ns,
            cloud_name,
            operator_client: client.clone(),
            client,
            cloud,
            metrics,
            patience: Duration::from_secs(120),
            config,
            stop,
            controller,
        }
    }

    /// The simulator. Only tests that skip external mode ([`skip_in_external_mode`]) call it.
    pub fn sim(&self) -> &Simulator {
        self.sim
            .as_ref()
            .expect("the simulator only runs outside external mode; this test must skip it")
    }

    /// The admin kubeconfig of the control plane. Only tests that skip external mode call it.
    pub fn kubeconfig(&self) -> &Path {
        self.plane
            .as_ref()
            .expect("the control plane only runs outside external mode; this test must skip it")
            .kubeconfig()
    }

    /// Writes the admin kubeconfig to `path` with the test's namespace as its default (what
    /// `kubectl` without `-n` uses).
    pub fn write_kubeconfig(&self, path: &Path) {
        let text = std::fs::read_to_string(self.kubeconfig()).unwrap();
        let text = text.replace(
            "    namespace: default\n",
            &format!("    namespace: {}\n", self.ns),
        );
        std::fs::write(path, text).unwrap();
    }

    /// Every object in the test's namespace that the operator may write (GlusterClusters,
    /// Secrets, Events of both API groups) with its resourceVersion: two equal fingerprints
    /// mean nothing was written there in between.
    pub async fn fingerprint(&self) -> BTreeMap<String, String> {
        use k8s_openapi::api::core::v1::Event as CoreEvent;
        use k8s_openapi::api::events::v1::Event;
        let mut out = BTreeMap::new();
        versions(&mut out, "gcl", &self.clusters).await;
        versions::<Secret>(&mut out, "secret", &self.namespaced()).await;
        versions::<Event>(&mut out, "event", &self.namespaced()).await;
        versions::<CoreEvent>(&mut out, "core-event", &self.namespaced()).await;
        out
    }

    /// An API of kind `K` in the test's namespace, as admin.
    fn namespaced<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Asserts what a cluster deleted under `deletionPolicy: Retain` leaves in the cloud: no
    /// server and no security group carrying its UID tag, and its `bricks` brick volumes
    /// kept, detached (available).
    pub async fn assert_only_retained_volumes_left(&self, uid: &str, bricks: usize) {
        use gluster_operator::cloud::{ServerQuery, VolumeQuery, VolumeStatus};
        let tag = format!("glusterops-uid:{uid}");
        let servers = self
            .cloud
            .compute()
            .list_servers(&ServerQuery {
                tags: vec![tag.clone()],
                ..ServerQuery::default()
            })
            .await
            .unwrap();
        assert!(servers.is_empty(), "servers left: {servers:?}");
        let groups = self
            .cloud
            .network()
            .list_security_groups(None, std::slice::from_ref(&tag))
            .await
            .unwrap();
        assert!(groups.is_empty(), "security groups left: {groups:?}");
        let volumes = self
            .cloud
            .volume()
            .list_volumes(&VolumeQuery {
                name: None,
                metadata: BTreeMap::from([(
                    "gluster-operator:cluster-uid".to_string(),
                    uid.to_string(),
                )]),
            })
            .await
            .unwrap();
        assert_eq!(volumes.len(), bricks, "{volumes:?}");
        assert!(
            volumes.iter().all(|v| v.status == VolumeStatus::Available),
            "{volumes:?}"
        );
    }

    /// Creates `cluster` in the test's namespace (using the world's cloud name).
    pub async fn apply(&self, cluster: &GlusterCluster) -> GlusterCluster {
        let mut cluster = cluster.clone();
        cluster.metadata.namespace = Some(self.ns.clone());
        cluster.spec.cloud.cloud_name = self.cloud_name.clone();
        self.clusters
            .create(&PostParams::default(), &cluster)
            .await
            .unwrap()
    }

    /// Waits until `cond` holds for the named cluster (a hang guard of [`World::patience`],
    /// not a speed check), returning it.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        cond: impl Fn(&GlusterCluster) -> bool + Send + 'static,
    ) -> GlusterCluster {
        let waited = tokio::time::timeout(
            self.patience,
            await_condition(
                self.clusters.clone(),
                name,
                move |o: Option<&GlusterCluster>| o.is_some_and(&cond),
            ),
        )
        .await;
        match waited {
            Ok(Ok(Some(obj))) => obj,
            other => {
                let now = self.clusters.get_opt(name).await.ok().flatten();
                panic!(
                    "{name} never reached: {what} ({other:?}); now: {:#?}",
                    now.and_then(|o| o.status)
                )
            }
        }
    }

    /// Waits until the named cluster is gone.
    pub async fn wait_deleted(&self, name: &str, uid: &str) {
        tokio::time::timeout(
            self.patience,
            await_condition(self.clusters.clone(), name, conditions::is_deleted(uid)),
        )
        .await
        .unwrap_or_else(|_| panic!("{name} was never deleted"))
        .unwrap();
    }

    /// Stops the controller (as a crash would, between any two calls: its task is aborted)
    /// and starts a fresh one with empty caches.
    pub async fn crash_and_restart_controller(&mut self) {
        if let Some(c) = self.controller.take() {
            c.abort();
            let _ = c.await;
        }
        let (stop, controller) =
            start_controller(&self.operator_client, &self.metrics, &self.config);
        self.stop = Some(stop);
        self.controller = Some(controller);
    }

    /// Stops the controller (waiting for it) and the servers. With an external cloud (external
    /// mode, [`World::start_with_cloud`]) it first deletes the clusters left in the namespace
    /// (so the finalizer cleans the cloud); in external mode then the namespace.
    pub async fn stop(mut self) {
        if self.sim.is_none() && self.controller.is_some() {
            for c in self.clusters.list(&Default::default()).await.unwrap() {
                let (name, uid) = (c.name_any(), c.uid().unwrap_or_default());
                let _ = self.clusters.delete(&name, &Default::default()).await;
                self.wait_deleted(&name, &uid).await;
            }
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(c) = self.controller.take() {
            c.await.unwrap();
        }
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        if self.plane.is_none() {
            let namespaces: Api<Namespace> = Api::all(self.client.clone());
            let _ = namespaces.delete(&self.ns, &Default::default()).await;
        }
    }
}

/// Adds `kind/name → resourceVersion` of every object `api` lists to `out`.
async fn versions<K>(out: &mut BTreeMap<String, String>, kind: &str, api: &Api<K>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for o in api.list(&Default::default()).await.unwrap() {
        out.insert(
            format!("{kind}/{}", o.name_any()),
            o.resource_version().unwrap_or_default(),
        );
    }
}

/// The Lease timings of a [`Replica`].
#[derive(Clone, Copy, Debug)]
pub struct ReplicaTimings {
    /// The Lease duration.
    pub duration: Duration,
    /// The renew deadline.
    pub renew_deadline: Duration,
    /// The retry period.
    pub retry_period: Duration,
    /// The timeout of each Lease call.
    pub call_timeout: Duration,
}

/// One operator replica taking part in leader election.
pub struct Replica {
    /// Its metrics (`gluster_operator_leader` says whether it leads).
    pub metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Replica {
    /// Starts replica `identity` of the world's operator (the chart's ServiceAccount),
    /// campaigning for the chart's Lease in the release namespace, reconciling the world's
    /// namespace.
    pub fn start(world: &World, identity: &str) -> Replica {
        Self::start_with(
            world,
            identity,
            &world.operator_client,
            ReplicaTimings {
                duration: Duration::from_secs(30),
                renew_deadline: Duration::from_secs(20),
                retry_period: Duration::from_millis(100),
                call_timeout: Duration::from_secs(5),
            },
            None,
        )
    }

    /// [`Replica::start`] with the operator's Kubernetes client `client` (e.g. through a
    /// proxy), the Lease `timings`, and `observer` told about each of its cloud calls.
    pub fn start_with(
        world: &World,
        identity: &str,
        client: &Client,
        timings: ReplicaTimings,
        observer: Option<gluster_operator::cloud::ObserverSlot>,
    ) -> Replica {
        let chart = world
            .operator
            .as_ref()
            .expect("replicas run on the test control plane (not in external mode)");
        let metrics = Arc::new(Metrics::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let elector = gluster_operator::controller::leader::LeaderElector::new(
            client.clone(),
            gluster_operator::controller::leader::LeaseConfig {
                name: chart.lease.clone(),
                namespace: chart.namespace.clone(),
                identity: identity.into(),
                duration: timings.duration,
                renew_deadline: timings.renew_deadline,
                retry_period: timings.retry_period,
                call_timeout: timings.call_timeout,
            },
        );
        let mut config = test_config(identity, &world.ns);
        if let Some(observer) = observer {
            config.cloud_options.observer = observer;
        }
        let handle = tokio::spawn(controller::run_elected(
            client.clone(),
            config,
            metrics.clone(),
            Some(elector),
            async move {
                let _ = stopped.await;
            },
        ));
        Replica {
            metrics,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Whether it leads now.
    pub fn leads(&self) -> bool {
        self.metrics
            .encode()
            .lines()
            .any(|l| l == "gluster_operator_leader 1")
    }

    /// Reconciles it ran.
    pub fn reconciles(&self) -> u64 {
        self.metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix("gluster_operator_reconciles_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Shuts it down gracefully (it releases the Lease) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }
}

fn test_config(instance: &str, ns: &str) -> ControllerConfig {
    ControllerConfig {
        watch_namespace: Some(ns.into()),
        requeue_working: Duration::from_millis(200),
        requeue_error: Duration::from_millis(300),
        requeue_stalled: Duration::from_secs(30),
        instance: Some(instance.into()),
        ..ControllerConfig::default()
    }
}

/// The Secret `openstack` in `ns` with `clouds.yaml`.
async fn create_cloud_secret(client: &Client, ns: &str, clouds_yaml: &str) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut secret = Secret::default();
    secret.metadata.name = Some("openstack".into());
    secret.data = Some(
        [(
            "clouds.yaml".to_string(),
            ByteString(clouds_yaml.as_bytes().to_vec()),
        )]
        .into(),
    );
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn start_controller(
    client: &Client,
    metrics: &Arc<Metrics>,
    config: &ControllerConfig,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(controller::run(
        client.clone(),
        config.clone(),
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, controller)
}

/// Installs the project's CRD (changed by `edit`) by server-side apply, and waits until it is
/// established.
async fn install_crd(client: &Client, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = workspace().join("crds/glusterclusters.yaml");
    let mut doc: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    let crd: CustomResourceDefinition = serde_json::from_value(doc).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    await_condition(crds, &name, conditions::is_crd_established())
        .await
        .unwrap();
}

/// The condition `type_` of a cluster as (status, reason, message).
pub fn condition(c: &GlusterCluster, type_: &str) -> Option<(String, String, String)> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|x| x.type_ == type_)
        .map(|x| (x.status.clone(), x.reason.clone(), x.message.clone()))
}

//! What every reconcile shares: the Kubernetes client, the event recorder, the metrics, the
//! tuning, and one OpenStack client per clouds.yaml in a Secret (so a token is reused between
//! reconciles, and a changed Secret takes effect at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::runtime::events::Recorder;

use crate::api::CloudSpec;
use crate::bootstrap::{GLUSTER_CLI, OPERATOR_USER};
use crate::cloud::{ClientOptions, Cloud, ObserverSlot};
use crate::gluster::{GlusterCli, OperatorKey, SshConfig, SshExecutor};

use super::decide::Memory;
use super::decide::pace::BuildTimes;
use super::keys::ClusterKeys;

use super::error::ReconcileError;
use super::metrics::Metrics;

/// The Secret key holding the clouds.yaml text.
pub const CLOUDS_YAML: &str = "clouds.yaml";

/// Tuning of the controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Only this namespace's GlusterClusters (all namespaces when `None`).
    pub watch_namespace: Option<String>,
    /// Concurrent cloud creations (volumes, servers) per reconcile.
    pub create_limit: usize,
    /// Reconciles running at once (0: no limit).
    pub concurrency: u16,
    /// First delay of the backoff while waiting (for the cloud or the nodes), and the delay
    /// again after any progress.
    pub requeue_min: Duration,
    /// Cap of the backoff while waiting for the cloud (boots, attachments, deletions).
    pub requeue_working: Duration,
    /// Cap of the backoff while waiting for the nodes' bootstrap (a TCP probe of each node,
    /// or a gluster pass over SSH; no cloud call).
    pub requeue_bootstrap: Duration,
    /// Requeue delay after an error worth retrying.
    pub requeue_error: Duration,
    /// Requeue delay of a Stalled cluster (a quota may be raised meanwhile).
    pub requeue_stalled: Duration,
    /// Requeue delay of a settled (Ready) cluster: the resync, a drift check of its cloud
    /// resources and volume (a few list calls, no write when nothing drifted).
    pub requeue_settled: Duration,
    /// The longest a pass goes on from the previous observation (listing only what is
    /// awaited) before it lists everything again. Settled resyncs always list everything.
    pub observe_max_age: Duration,
    /// Delay between health reads of a settled cluster (gluster only, from one node; the
    /// cloud is listed at the resync, or when gluster shows something wrong).
    pub health_interval: Duration,
    /// A brick filesystem used at or above this percentage is `Degraded(CapacityLow)`.
    pub capacity_low_percent: u32,
    /// The OpenStack client's options.
    pub cloud_options: ClientOptions,
    /// The reporting instance in Events (the pod name).
    pub instance: Option<String>,
    /// The nodes' SSH port.
    pub ssh_port: u16,
    /// How gluster is run on a node (program path, glusterd socket).
    pub gluster_cli: GlusterCli,
    /// Limit per gluster command.
    pub gluster_timeout: Duration,
    /// Limit for an SSH connection (TCP, handshake, authentication).
    pub ssh_connect_timeout: Duration,
    /// How long a server that ran and went to ERROR may stay there after its hard reboot
    /// before it is replaced (only a node whose brick is on a Cinder volume; an ephemeral
    /// brick's server is never deleted for it).
    pub server_error_grace: Duration,
    /// How long a server may stay in BUILD, or a brick volume creating, attaching or
    /// detaching, before it counts as stuck (a server that never ran is then replaced).
    pub cloud_settle_timeout: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            watch_namespace: None,
            create_limit: 8,
            concurrency: 4,
            requeue_min: Duration::from_millis(250),
            requeue_working: Duration::from_secs(2),
            requeue_bootstrap: Duration::from_millis(500),
            requeue_error: Duration::from_secs(15),
            requeue_stalled: Duration::from_secs(300),
            requeue_settled: Duration::from_secs(600),
            observe_max_age: Duration::from_secs(300),
            health_interval: Duration::from_secs(30),
            capacity_low_percent: 90,
            cloud_options: ClientOptions::default(),
            instance: None,
            ssh_port: 22,
            gluster_cli: GlusterCli {
                program: GLUSTER_CLI.to_string(),
                ..GlusterCli::default()
            },
            gluster_timeout: Duration::from_secs(180),
            ssh_connect_timeout: Duration::from_secs(15),
            server_error_grace: Duration::from_secs(300),
            cloud_settle_timeout: Duration::from_secs(900),
        }
    }
}

/// Identifies one cloud client: the Secret, a hash of its clouds.yaml (a change of the
/// credentials is a new client; a change of the Secret's metadata, such as the operator's own
/// finalizer, is not) and the entry used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CloudKey {
    namespace: String,
    secret: String,
    clouds_yaml_hash: u64,
    cloud: String,
    region: Option<String>,
}

/// Shared by every reconcile.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Events about GlusterClusters.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Tuning.
    pub config: ControllerConfig,
    clouds: Mutex<HashMap<CloudKey, Cloud>>,
    /// SSH executors by cluster UID, with the operator key fingerprint they log in with.
    executors: Mutex<HashMap<String, (String, Arc<SshExecutor>)>>,
    /// What the reconciler remembers of each cluster between passes, by UID.
    memories: Mutex<HashMap<String, Memory>>,
    /// Server build durations seen (the pacing's estimate).
    build_times: Mutex<BuildTimes>,
}

impl Context {
    /// A context for `client`.
    pub fn new(
        client: Client,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        config: ControllerConfig,
    ) -> Self {
        Self {
            client,
            recorder,
            metrics,
            config,
            clouds: Mutex::new(HashMap::new()),
            executors: Mutex::new(HashMap::new()),
            memories: Mutex::new(HashMap::new()),
            build_times: Mutex::new(BuildTimes::default()),
        }
    }

    /// The cloud client of a cluster in `namespace` with `spec`, from its Secret (read with
    /// `get`; the operator may not list Secrets).
    pub async fn cloud(&self, namespace: &str, spec: &CloudSpec) -> Result<Cloud, ReconcileError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = secrets.get_opt(&spec.secret_name).await?.ok_or_else(|| {
            ReconcileError::CloudSecret(format!(
                "Secret {namespace}/{} not found",
                spec.secret_name
            ))
        })?;
        // The Secret stays while the cluster needs it; failing to hold it now does not stop
        // the pass (the next one tries again).
        if let Err(e) = super::credentials::hold(&self.client, namespace, &secret).await {
            tracing::warn!(secret = %spec.secret_name, error = %e, "could not hold the credentials Secret");
        }
        let yaml = secret
            .data
            .as_ref()
            .and_then(|d| d.get(CLOUDS_YAML))
            .map(|b| String::from_utf8(b.0.clone()))
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(CLOUDS_YAML))
                    .map(|s| Ok(s.clone()))
            })
            .ok_or_else(|| {
                ReconcileError::CloudSecret(format!(
                    "Secret {namespace}/{} has no key {CLOUDS_YAML}",
                    spec.secret_name
                ))
            })?
            .map_err(|_| {
                ReconcileError::CloudSecret(format!(
                    "Secret {namespace}/{}, key {CLOUDS_YAML}: not UTF-8 text",
                    spec.secret_name
                ))
            })?;
        let key = CloudKey {
            namespace: namespace.to_string(),
            secret: spec.secret_name.clone(),
            clouds_yaml_hash: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                yaml.hash(&mut h);
                h.finish()
            },
            cloud: spec.cloud_name.clone(),
            region: spec.region.clone(),
        };
        if let Some(cloud) = self.lock().get(&key) {
            return Ok(cloud.clone());
        }
        let mut options = self.config.cloud_options.clone();
        if !options.observer.is_set() {
            options.observer = ObserverSlot::new(self.metrics.clone());
        }
        let cloud =
            Cloud::from_clouds_yaml(&yaml, &spec.cloud_name, spec.region.as_deref(), options)?;
        let mut clouds = self.lock();
        // Older versions of this Secret are of no more use.
        clouds.retain(|k, _| {
            !(k.namespace == key.namespace && k.secret == key.secret && k.cloud == key.cloud)
        });
        clouds.insert(key, cloud.clone());
        Ok(cloud)
    }

    /// The SSH executor of cluster `uid` logging in with `keys.operator` (connections are
    /// reused between reconciles; a new key gets a new executor).
    pub fn ssh_executor(
        &self,
        uid: &str,
        keys: &ClusterKeys,
    ) -> Result<Arc<SshExecutor>, ReconcileError> {
        let fingerprint = keys.operator.public_key().fingerprint().to_string();
        let mut executors = self
            .executors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((f, e)) = executors.get(uid)
            && *f == fingerprint
        {
            return Ok(e.clone());
        }
        let key = OperatorKey::from_openssh(keys.operator.private_openssh())?;
        let mut config = SshConfig::new(OPERATOR_USER, key);
        config.sudo = true;
        config.connect_timeout = self.config.ssh_connect_timeout;
        let executor = Arc::new(SshExecutor::new(config));
        executors.insert(uid.to_string(), (fingerprint, executor.clone()));
        Ok(executor)
    }

    /// Drops the SSH executor and the memory of a deleted cluster.
    pub fn forget_cluster(&self, uid: &str) {
        self.executors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
        self.memories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }

    /// What the controller remembers of cluster `uid` (empty when nothing).
    pub fn memory(&self, uid: &str) -> Memory {
        self.memories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces what is remembered of cluster `uid` (once per pass, with what decide chose).
    pub fn remember(&self, uid: &str, memory: Memory) {
        self.memories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.to_string(), memory);
    }

    /// Notes the build times of ACTIVE servers and returns the current estimate.
    pub fn learn_build_times(&self, servers: &[crate::cloud::Server]) -> Option<Duration> {
        let mut times = self
            .build_times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        times.learn(servers);
        times.estimate()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CloudKey, Cloud>> {
        // A panic while holding this lock leaves a plain map behind: still usable.
        self.clouds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

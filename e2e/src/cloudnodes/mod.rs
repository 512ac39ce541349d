//! Cloud nodes: the loopback gluster nodes of a cloud that runs no guests.
//!
//! A real OpenStack whose Nova uses the fake virt driver makes ACTIVE servers, Neutron ports
//! with fixed addresses and Cinder volumes with attachments, but no machine ever boots. The
//! [`CloudWatcher`] polls the cloud and plays the hypervisor and cloud-init for the servers it
//! is told to ([`WatchConfig::select`]): each one that is ACTIVE becomes a loopback gluster node
//! ([`LoopbackNodes`], the same machinery the simulator's boot hook drives) at the fixed address
//! Neutron gave its port, booted from the user-data Nova keeps for it; a node goes when its
//! server does. It works against any cloud speaking the APIs, the simulator included.
//!
//! | the cloud shows | nodes |
//! |---|---|
//! | a selected server ACTIVE (not being deleted) without a node | [`LoopbackNodes::start`] with its address, decoded `OS-EXT-SRV-ATTR:user_data`, attached volumes and its flavor's ephemeral disk |
//! | a volume in the server's `os-extended-volumes:volumes_attached` the node lacks | [`LoopbackNodes::ensure_volume`] (Cinder's size) then [`LoopbackNodes::attach_volume`]: the node sees `/dev/disk/by-id/virtio-<first 20 characters of the ID>`, as a KVM guest would |
//! | a volume the node has that the server no longer lists | [`LoopbackNodes::detach_volume`] |
//! | the server gone, being deleted or no longer ACTIVE | [`LoopbackNodes::delete`] |
//! | a volume Cinder no longer has, attached to no node | [`LoopbackNodes::delete_volume`] (its backing file) |
//!
//! The user-data is an admin-only field (Nova shows it from microversion 2.3 on to the
//! `admin` role), so the watcher needs administrator credentials; it lists servers of every
//! project (`all_tenants`). The user-data holds a node's private host key: it is never logged.
//!
//! ```no_run
//! # async fn demo(yaml: &str, nodes: std::sync::Arc<e2e::nodes::LoopbackNodes>) -> Result<(), e2e::cloudnodes::WatchError> {
//! use e2e::cloudnodes::{CloudWatcher, WatchConfig};
//! let mut config = WatchConfig::default();
//! config.select = WatchConfig::name_prefix("ci-1234-"); // only this run's clusters
//! let watcher = CloudWatcher::start(yaml, "conformance-admin", nodes, config).await?;
//! // … the operator builds its cluster; its servers become nodes …
//! watcher.stop().await; // the nodes stay with `nodes` (shut down on drop)
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use gluster_operator::cloud::http::{Request, ServiceClient, Session};
use gluster_operator::cloud::{
    ClientOptions, Cloud, CloudConfig, CloudError, Server, ServerStatus, ServiceType, transport,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::nodes::{LoopbackNodes, NodeError, NodeSpec};

const GIB: u64 = 1 << 30;

/// What goes wrong starting a watcher or polling the cloud.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The cloud refused or failed a call.
    #[error("cloud: {0}")]
    Cloud(#[from] CloudError),
    /// The server list did not have the expected shape.
    #[error("Nova's server list: {0}")]
    Decode(String),
    /// The credentials do not show user-data (not an administrator, or a microversion below
    /// 2.3).
    #[error(
        "Nova shows no OS-EXT-SRV-ATTR:user_data to these credentials (microversion {microversion}): the watcher needs the admin role"
    )]
    NotAdmin {
        /// The negotiated Nova microversion.
        microversion: String,
    },
}

/// Picks the servers that become nodes.
pub type Selector = Arc<dyn Fn(&Server) -> bool + Send + Sync>;

/// How the watcher polls and which servers it takes.
#[derive(Clone)]
pub struct WatchConfig {
    /// Time between two polls.
    pub poll_interval: Duration,
    /// Which servers become nodes. Default: every server carrying the operator's cluster-UID
    /// metadata. On a shared cloud, narrow it to the clusters of this run.
    pub select: Selector,
    /// The network whose fixed address a node takes (`None`: the first fixed IPv4 address).
    pub network: Option<String>,
    /// Failed starts of one server before the watcher gives up on it (the reason is kept in
    /// [`CloudWatcher::failures`]).
    pub max_start_attempts: u32,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            select: Arc::new(|s: &Server| {
                s.metadata
                    .contains_key(gluster_operator::controller::owner::META_CLUSTER_UID)
            }),
            network: None,
            max_start_attempts: 3,
        }
    }
}

impl std::fmt::Debug for WatchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConfig")
            .field("poll_interval", &self.poll_interval)
            .field("network", &self.network)
            .field("max_start_attempts", &self.max_start_attempts)
            .finish_non_exhaustive()
    }
}

impl WatchConfig {
    /// A selector taking the servers whose name starts with `prefix` (the operator names a
    /// server `<cluster>-<zone>-<index>`).
    pub fn name_prefix(prefix: impl Into<String>) -> Selector {
        let prefix = prefix.into();
        Arc::new(move |s: &Server| s.name.starts_with(&prefix))
    }
}

/// A server as the watcher reads it: the operator's typed view plus the admin-only user-data.
#[derive(Clone, Debug)]
pub struct WatchedServer {
    /// The server.
    pub server: Server,
    /// `OS-EXT-SRV-ATTR:user_data`, base64 as Nova gives it (`None`: none, or not shown).
    user_data: Option<String>,
}

impl WatchedServer {
    /// The decoded user-data, when there is UTF-8 user-data.
    pub fn user_data(&self) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.user_data.as_deref()?.trim())
            .ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// The watcher's `User-Agent`.
pub const WATCHER_USER_AGENT: &str = "e2e-cloudnodes";

/// Nova's server list with the administrator's fields, and Cinder and the flavors for sizes.
#[derive(Clone, Debug)]
pub struct AdminCloud {
    cloud: Cloud,
    compute: ServiceClient,
}

impl AdminCloud {
    /// A client for entry `cloud` of a clouds.yaml text (administrator credentials).
    pub fn from_clouds_yaml(yaml: &str, cloud: &str) -> Result<Self, WatchError> {
        let config = CloudConfig::from_clouds_yaml(yaml, cloud)?;
        // Its own User-Agent, so a cloud's access logs tell its polling from the operator's.
        let options = ClientOptions {
            user_agent: WATCHER_USER_AGENT.to_string(),
            ..ClientOptions::default()
        };
        let http = transport::build_http_client(&config.tls, &options, |p| std::fs::read(p))?;
        let session = Arc::new(Session::new(config.clone(), options.clone(), http));
        Ok(Self {
            cloud: Cloud::new(config, options)?,
            compute: ServiceClient::new(session, ServiceType::Compute, |u: &str| u.to_string()),
        })
    }

    /// The typed client (same credentials).
    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// Every server of every project, with its user-data (details, following pagination).
    pub async fn servers(&self) -> Result<Vec<WatchedServer>, WatchError> {
        let mv = self.cloud.compute().microversion().await?;
        let mut query = vec![("all_tenants".to_string(), "1".to_string())];
        let mut out = Vec::new();
        for _page in 0..1000 {
            let mut req =
                Request::get("/servers/detail").microversion(Some(format!("compute {mv}")));
            req.query = query.clone();
            let page: Value = self.compute.get_json(req).await?;
            let servers = page
                .get("servers")
                .and_then(Value::as_array)
                .ok_or_else(|| WatchError::Decode("no `servers` array".into()))?;
            for raw in servers {
                let server: Server = serde_json::from_value(raw.clone())
                    .map_err(|e| WatchError::Decode(format!("a server: {e}")))?;
                let user_data = raw
                    .get("OS-EXT-SRV-ATTR:user_data")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.push(WatchedServer { server, user_data });
            }
            let links: Vec<Value> = page
                .get("servers_links")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            match gluster_operator::cloud::http::next_link(&links) {
                Some(link) => query = gluster_operator::cloud::http::next_query(&link),
                None => break,
            }
        }
        Ok(out)
    }

    /// Checks that these credentials are shown user-data: one server's detail must carry the
    /// key (`null` when it has none). Passes on an empty cloud (nothing to tell by).
    pub async fn check_admin(&self) -> Result<(), WatchError> {
        let mv = self.cloud.compute().microversion().await?;
        let mut req = Request::get("/servers/detail").microversion(Some(format!("compute {mv}")));
        req.query = vec![
            ("all_tenants".into(), "1".into()),
            ("limit".into(), "1".into()),
        ];
        let page: Value = self.compute.get_json(req).await?;
        match page
            .get("servers")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
        {
            Some(s) if s.get("OS-EXT-SRV-ATTR:user_data").is_none() => Err(WatchError::NotAdmin {
                microversion: mv.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// What the watcher knows of a server it will not (or not yet) start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The server name.
    pub name: String,
    /// Failed starts so far.
    pub attempts: u32,
    /// The last reason.
    pub reason: String,
    /// Whether the watcher gave up (not a gluster node, or too many failed starts).
    pub given_up: bool,
}

#[derive(Debug, Default)]
struct Shared {
    failures: BTreeMap<String, Failure>,
    /// Volumes the watcher gave a backing file (deleted once Cinder deletes the volume).
    volumes: BTreeSet<String>,
    polls: u64,
    last_error: Option<String>,
}

/// A running watcher (see the [module documentation](self)).
pub struct CloudWatcher {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Mutex<Shared>>,
}

impl CloudWatcher {
    /// Starts polling the cloud of entry `cloud` (administrator credentials) of a clouds.yaml
    /// text, starting and deleting nodes in `nodes`. Checks the credentials first.
    pub async fn start(
        clouds_yaml: &str,
        cloud: &str,
        nodes: Arc<LoopbackNodes>,
        config: WatchConfig,
    ) -> Result<CloudWatcher, WatchError> {
        let admin = AdminCloud::from_clouds_yaml(clouds_yaml, cloud)?;
        admin.cloud().authenticate().await?;
        admin.check_admin().await?;
        let stop = CancellationToken::new();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut watcher = Watcher {
            admin,
            nodes,
            config,
            shared: shared.clone(),
        };
        let token = stop.clone();
        let task = tokio::spawn(
            async move {
                loop {
                    if let Err(e) = watcher.poll().await {
                        tracing::warn!("poll failed: {e}");
                        watcher.shared().last_error = Some(e.to_string());
                    }
                    watcher.shared().polls += 1;
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(watcher.config.poll_interval) => {}
                    }
                }
            }
            .instrument(tracing::info_span!("cloud_watcher", cloud = %cloud)),
        );
        Ok(CloudWatcher { stop, task, shared })
    }

    /// Servers the watcher failed to start, by server ID.
    pub fn failures(&self) -> BTreeMap<String, Failure> {
        self.lock().failures.clone()
    }

    /// Polls done so far.
    pub fn polls(&self) -> u64 {
        self.lock().polls
    }

    /// The error of the last failed poll, if any.
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Waits until at least one more full poll has been done (what the cloud shows now has
    /// been acted on).
    pub async fn settle(&self) {
        let target = self.polls() + 2;
        while self.polls() < target && !self.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops polling (the nodes stay in their [`LoopbackNodes`]).
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the cloud watcher's task failed: {e}");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Watcher {
    admin: AdminCloud,
    nodes: Arc<LoopbackNodes>,
    config: WatchConfig,
    shared: Arc<Mutex<Shared>>,
}

/// What one poll does to a server's node.
enum Action {
    Start(Box<NodeSpec>, Vec<(String, u64)>),
    Attach(String, String, String, u64),
    Detach(String, String, String),
    Delete(String),
}

impl Watcher {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // Every update is one insert, remove or counter: a poisoned lock is still consistent.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn poll(&mut self) -> Result<(), WatchError> {
        let servers = self.admin.servers().await?;
        let running: BTreeMap<String, Vec<String>> = self
            .nodes
            .nodes()
            .into_iter()
            .map(|n| {
                let volumes = n.disks.iter().filter_map(|d| d.volume_id.clone()).collect();
                (n.server_id, volumes)
            })
            .collect();
        let live: BTreeMap<&str, &WatchedServer> = servers
            .iter()
            .filter(|w| {
                w.server.status == ServerStatus::Active
                    && w.server.task_state.as_deref() != Some("deleting")
                    && (self.config.select)(&w.server)
            })
            .map(|w| (w.server.id.as_str(), w))
            .collect();

        let mut actions = Vec::new();
        for id in running.keys() {
            if !live.contains_key(id.as_str()) {
                actions.push(Action::Delete(id.clone()));
            }
        }
        {
            let mut shared = self.shared();
            shared
                .failures
                .retain(|id, _| live.contains_key(id.as_str()));
        }
        for (id, w) in &live {
            let attached: Vec<String> = w
                .server
                .attached_volume_ids()
                .into_iter()
                .map(str::to_string)
                .collect();
            match running.get(*id) {
                Some(has) => {
                    for v in attached.iter().filter(|v| !has.contains(v)) {
                        let size = self.volume_bytes(v).await;
                        actions.push(Action::Attach(
                            id.to_string(),
                            w.server.name.clone(),
                            v.clone(),
                            size,
                        ));
                    }
                    for v in has.iter().filter(|v| !attached.contains(v)) {
                        actions.push(Action::Detach(
                            id.to_string(),
                            w.server.name.clone(),
                            v.clone(),
                        ));
                    }
                }
                None => {
                    if self.shared().failures.get(*id).is_some_and(|f| f.given_up) {
                        continue;
                    }
                    match self.spec(w, attached).await {
                        Ok((spec, sizes)) => actions.push(Action::Start(Box::new(spec), sizes)),
                        Err(reason) => self.failed(w, reason, true),
                    }
                }
            }
        }

        // Act: every server's change at once (starts take a second or two each).
        let mut tasks = tokio::task::JoinSet::new();
        for action in actions {
            let nodes = self.nodes.clone();
            tasks.spawn_blocking(move || act(&nodes, action));
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Some((id, name, reason, permanent))) => {
                    self.failed_by_id(&id, &name, reason, permanent);
                }
                Ok(None) => {}
                Err(e) => tracing::error!("a node action panicked: {e}"),
            }
        }
        self.free_deleted_volumes().await;
        Ok(())
    }

    /// The node of a server: its address, decoded user-data, volumes (with Cinder's sizes)
    /// and its flavor's ephemeral disk.
    async fn spec(
        &self,
        w: &WatchedServer,
        volume_ids: Vec<String>,
    ) -> Result<(NodeSpec, Vec<(String, u64)>), String> {
        let s = &w.server;
        let address: Ipv4Addr = s
            .address(self.config.network.as_deref())
            .ok_or("the server has no fixed address")?
            .parse()
            .map_err(|e| format!("the server's address is not IPv4: {e}"))?;
        let user_data = w
            .user_data()
            .ok_or("Nova shows no UTF-8 user-data for the server")?;
        let ephemeral_gb = match s.flavor.ephemeral {
            Some(gb) => gb,
            None => {
                let flavor = s
                    .flavor
                    .id
                    .clone()
                    .or_else(|| s.flavor.original_name.clone())
                    .ok_or("the server shows no flavor")?;
                self.admin
                    .cloud()
                    .compute()
                    .flavor(&flavor)
                    .await
                    .map_err(|e| format!("flavor {flavor}: {e}"))?
                    .ephemeral
            }
        };
        let mut sizes = Vec::new();
        for v in &volume_ids {
            sizes.push((v.clone(), self.volume_bytes(v).await));
        }
        Ok((
            NodeSpec {
                server_id: s.id.clone(),
                name: s.name.clone(),
                address,
                user_data,
                volume_ids,
                ephemeral_bytes: (ephemeral_gb > 0).then(|| ephemeral_gb.saturating_mul(GIB)),
            },
            sizes,
        ))
    }

    /// A volume's size in bytes per Cinder (the nodes' default when Cinder does not say).
    async fn volume_bytes(&self, volume_id: &str) -> u64 {
        match self.admin.cloud().volume().get_volume(volume_id).await {
            Ok(Some(v)) if v.size > 0 => v.size.saturating_mul(GIB),
            _ => self.nodes.config().default_volume_bytes,
        }
        .max(crate::nodes::MIN_DISK_BYTES)
    }

    fn failed(&self, w: &WatchedServer, reason: String, permanent: bool) {
        self.failed_by_id(&w.server.id, &w.server.name, reason, permanent);
    }

    fn failed_by_id(&self, id: &str, name: &str, reason: String, permanent: bool) {
        let max = self.config.max_start_attempts;
        let mut shared = self.shared();
        let entry = shared
            .failures
            .entry(id.to_string())
            .or_insert_with(|| Failure {
                name: name.to_string(),
                attempts: 0,
                reason: String::new(),
                given_up: false,
            });
        if entry.reason != reason || !entry.given_up {
            tracing::warn!(server = %name, id = %id, "no node for this server: {reason}");
        }
        entry.attempts += 1;
        entry.reason = reason;
        entry.given_up = permanent || entry.attempts >= max;
    }

    /// Deletes the backing files of volumes Cinder no longer has (attached to no node).
    async fn free_deleted_volumes(&self) {
        let held: BTreeSet<String> = self
            .nodes
            .nodes()
            .iter()
            .flat_map(|n| n.disks.iter().filter_map(|d| d.volume_id.clone()))
            .collect();
        let mut known = {
            let mut shared = self.shared();
            shared.volumes.extend(held.iter().cloned());
            shared.volumes.clone()
        };
        known.retain(|v| !held.contains(v));
        for v in known {
            match self.admin.cloud().volume().get_volume(&v).await {
                Ok(None) => match self.nodes.delete_volume(&v) {
                    Ok(_) => {
                        self.shared().volumes.remove(&v);
                    }
                    Err(e) => tracing::warn!(volume = %v, "backing file not deleted: {e}"),
                },
                Ok(Some(_)) => {}
                Err(e) => tracing::debug!(volume = %v, "cannot tell whether Cinder has it: {e}"),
            }
        }
    }
}

/// Does one action on the nodes (blocking); a failed start comes back as (server ID, name,
/// reason, permanent).
fn act(nodes: &LoopbackNodes, action: Action) -> Option<(String, String, String, bool)> {
    match action {
        Action::Start(spec, sizes) => {
            let (id, name) = (spec.server_id.clone(), spec.name.clone());
            for (volume, bytes) in sizes {
                if let Err(e) = nodes.ensure_volume(&volume, bytes) {
                    return Some((id, name, format!("volume {volume}: {e}"), false));
                }
            }
            let address = spec.address;
            let span = tracing::info_span!("node", server = %name, %address);
            let _entered = span.enter();
            match nodes.start(*spec) {
                Ok(node) => {
                    tracing::info!(boot_time = ?node.boot_time, "node started");
                    None
                }
                // A server whose user-data is not a gluster node's stays a plain server.
                Err(e @ NodeError::UserData { .. }) => Some((id, name, e.to_string(), true)),
                Err(e) => Some((id, name, e.to_string(), false)),
            }
        }
        Action::Attach(server_id, name, volume, bytes) => {
            let attached = nodes
                .ensure_volume(&volume, bytes)
                .and_then(|_| nodes.attach_volume(&server_id, &volume));
            match attached {
                Ok(_) => tracing::info!(server = %name, %volume, "volume attached to the node"),
                Err(e) => {
                    tracing::warn!(server = %name, %volume, "volume not attached to the node: {e}")
                }
            }
            None
        }
        Action::Detach(server_id, name, volume) => {
            match nodes.detach_volume(&server_id, &volume) {
                Ok(_) => tracing::info!(server = %name, %volume, "volume detached from the node"),
                Err(e) => tracing::warn!(
                    server = %name, %volume, "volume not detached from the node: {e}"
                ),
            }
            None
        }
        Action::Delete(server_id) => {
            match nodes.delete(&server_id) {
                Ok(()) => tracing::info!(server = %server_id, "server gone: node deleted"),
                Err(e) => tracing::warn!(server = %server_id, "node not deleted cleanly: {e}"),
            }
            None
        }
    }
}

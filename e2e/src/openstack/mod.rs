//! The OpenStack simulator: one HTTP server on a loopback address that serves the parts of
//! Keystone v3, Nova v2.1, Cinder v3, Neutron v2.0 and Glance v2 that gluster-operator uses, with
//! the published APIs' JSON shapes, status codes, error bodies and microversion headers, timed
//! state transitions, quotas, fault injection, call counters and a boot hook (docs/design.md, "The local world").
//!
//! ```no_run
//! # async fn demo() -> Result<(), e2e::openstack::SimError> {
//! use e2e::openstack::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! std::fs::write("clouds.yaml", sim.clouds_yaml()).unwrap();
//! sim.faults().fail_next_servers(1, None); // the next server goes to ERROR
//! // ... drive a client against cloud `sim` ...
//! let calls = sim.counters();
//! println!("{} calls", calls.total());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Endpoints
//!
//! Everything is served under `http://ADDR`; the token's catalog lists these URLs (region
//! `RegionOne`, interfaces `public` and `internal`):
//!
//! | prefix | service | catalog type |
//! | --- | --- | --- |
//! | `/identity/v3` | Keystone v3 (password, application credential) | `identity` |
//! | `/compute/v2.1` | Nova, microversions 2.1–2.96 by default | `compute` |
//! | `/volume/v3/{project_id}` | Cinder, microversions 3.0–3.71 by default | `volumev3`, `block-storage` |
//! | `/networking/v2.0` | Neutron | `network` |
//! | `/image/v2` | Glance | `image` |
//!
//! Admin endpoints of the simulator itself (not counted, never faulted, no token):
//!
//! | call | effect |
//! | --- | --- |
//! | `GET /_sim/counters` | `{"calls": {"GET /compute/v2.1/servers/{id}": 3, ...}, "total": N}` |
//! | `DELETE /_sim/counters` | zero the counters |
//! | `GET /_sim/faults` | the fault rules as they stand (`times` counts what is left) |
//! | `PUT /_sim/faults` | replace the rules (body: [`FaultConfig`] as JSON) |
//! | `POST /_sim/faults` | append rules (same body) |
//! | `DELETE /_sim/faults` | remove every rule |
//! | `DELETE /_sim/tokens` | expire every issued token (clients must re-authenticate) |
//! | `POST /_sim/reset` | zero the counters and remove every rule |
//! | `GET /_sim/state` | servers and volumes with status and addresses, for humans |
//! | `GET /_sim/clouds.yaml` | the clouds.yaml of this simulator |
//!
//! # Behaviour
//!
//! - Servers: `BUILD` → (port and address allocated, [`BootHook::server_active`]) → `ACTIVE`
//!   after `timing.server_build_ms`, or `ERROR` with a `fault` when a [`ResourceFault`] says so.
//!   Addresses come lowest-first from the network's pool (127.100.0.10 onwards by default, never
//!   127.0.0.1). `DELETE` answers 204, shows `task_state: deleting`, and the server is gone after
//!   `timing.server_delete_ms` (its volumes detached, or deleted when `delete_on_termination`).
//! - Volumes: `creating` → `available` (or `error`); attach through Nova: `attaching` → `in-use`;
//!   detach: `detaching` → `available`; delete: `deleting` → gone. Snapshots likewise.
//! - Quotas answer as the services do: Nova 403 `Quota exceeded for instances: Requested 1, but
//!   already used 64 of 64 instances`, Cinder 413 `Maximum number of volumes allowed (N) exceeded
//!   for quota 'volumes'.` with `Retry-After: 0`.
//! - Not modelled: admin-only fields and APIs, server actions (reboot, resize, ...), boot from
//!   volume (volumes in `block_device_mapping_v2` are refused; an image mapping boots from the
//!   image), ports created through Neutron, key pair
//!   generation (a `public_key` is required), Neutron quotas.

mod api;
mod clouds;
mod config;
mod counters;
mod error;
mod faults;
mod hook;
mod ipam;
mod lifecycle;
mod microversion;
mod secret;
mod server;
mod world;

pub use clouds::{CLOUD_ADMIN, CLOUD_APPCRED, CLOUD_PASSWORD};
pub use config::{
    AdminUserConfig, AppCredentialConfig, FlavorConfig, IdentityConfig, ImageConfig,
    MicroversionConfig, NetworkConfig, QuotaConfig, SimConfig, SubnetConfig, TimingConfig,
    ZoneConfig,
};
pub use counters::CallCounters;
pub use error::SimError;
pub use faults::{FaultAction, FaultConfig, FaultHandle, HttpFault, NO_VALID_HOST, ResourceFault};
pub use hook::{BootHook, ServerEvent, VolumeEvent};
pub use microversion::ApiVersion;
pub use secret::Secret;

use api::Shared;
use faults::FaultEngine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use world::World;

/// A running simulator. Dropping it without [`Simulator::shutdown`] also stops it (the
/// listener and every task are cancelled), but `shutdown` waits for them.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Validates `config`, binds `listen` (port 0 picks a free port) and starts serving.
    pub async fn start(config: SimConfig, listen: SocketAddr) -> Result<Simulator, SimError> {
        let derived = config.derive()?;
        let engine = FaultEngine::new(config.faults.clone())?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(config.clone(), &derived)),
            config,
            derived,
            base_url: format!("http://{addr}"),
            faults: FaultHandle::new(engine),
            counters: Mutex::default(),
            hook: RwLock::new(None),
            tasks: TaskTracker::new(),
            cancel: CancellationToken::new(),
        });
        let app = api::router(shared.clone());
        shared.tasks.spawn(server::serve(
            listener,
            app,
            shared.cancel.clone(),
            shared.tasks.clone(),
        ));
        tracing::info!(%addr, "openstack-sim listening");
        Ok(Simulator { shared, addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (every service lives under it).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Keystone v3 URL, e.g. `http://127.0.0.1:PORT/identity/v3`.
    pub fn auth_url(&self) -> String {
        format!("{}/v3", self.shared.identity_url())
    }

    /// clouds.yaml text with the clouds `sim` (password auth) and `sim-appcred`
    /// (v3applicationcredential auth).
    pub fn clouds_yaml(&self) -> String {
        clouds::render(&self.shared.config, &self.auth_url())
    }

    /// clouds.yaml text with the one cloud [`CLOUD_ADMIN`]: the administrator (password auth,
    /// `admin` role on the project), who sees admin-only fields such as a server's user-data.
    /// Kept apart from [`Self::clouds_yaml`] so an operator's Secret never holds it.
    pub fn admin_clouds_yaml(&self) -> String {
        clouds::render_admin(&self.shared.config, &self.auth_url())
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The fault rules (same as the admin endpoint `/_sim/faults`).
    pub fn faults(&self) -> FaultHandle {
        self.shared.faults.clone()
    }

    /// A copy of the call counters now.
    pub fn counters(&self) -> CallCounters {
        self.shared.counters().clone()
    }

    /// Zeroes the call counters.
    pub fn reset_counters(&self) {
        self.shared.counters().calls.clear();
    }

    /// Expires every issued token now: the next call with one answers 401, as after the token
    /// lifetime (`identity.token_ttl_secs`) has passed.
    pub fn expire_tokens(&self) {
        self.shared.world().tokens.clear();
    }

    /// Sets the hook called when servers become ACTIVE or are deleted and when volumes are
    /// attached or detached (replacing any previous one).
    pub fn set_boot_hook(&self, hook: Arc<dyn BootHook>) {
        *self.shared.hook.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Stops accepting, cancels pending transitions and waits for every task to end.
    pub async fn shutdown(self) {
        self.shared.cancel.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

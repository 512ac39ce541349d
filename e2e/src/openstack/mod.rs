//! The OpenStack simulator: one HTTP server on a loopback address that serves the parts of
//! Keystone v3, Nova v2.1, Cinder v3, Neutron v2.0 and Glance v2 that gluster-operator uses, with
//! the published APIs' JSON shapes, status codes, error bodies and microversion headers, timed
//! state transitions, quotas, fault injection, call counters and a boot hook (DESIGN.md §8).
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
//! Endpoints (all under `http://ADDR`): see [`api`] for the service prefixes and
//! `api::admin` for the `/_sim/...` admin endpoints.

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

pub use clouds::{CLOUD_APPCRED, CLOUD_PASSWORD};
pub use config::{
    AppCredentialConfig, FlavorConfig, IdentityConfig, ImageConfig, MicroversionConfig,
    NetworkConfig, QuotaConfig, SimConfig, SubnetConfig, TimingConfig, ZoneConfig,
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

//! A Kubernetes API emulator that the real kubectl and kube-rs can drive (DESIGN.md §8).
//!
//! It serves discovery, OpenAPI v3, the built-in kinds the operator and its chart use,
//! CustomResourceDefinitions (schema validation, defaults, pruning, CEL rules), object
//! semantics (resourceVersion, generation, finalizers, garbage collection, status and
//! scale subresources), merge/JSON/strategic patches, server-side apply, watch and the
//! Table form. Plain HTTP on loopback; no authentication.
//!
//! Not emulated (a test relying on these would pass here and fail on a cluster, or the
//! other way round): authentication, authorization and RBAC enforcement (RBAC objects are
//! stored, never consulted); admission webhooks and ValidatingAdmissionPolicy; Pods and
//! every controller but the namespace controller, CRD instance cleanup and the garbage
//! collector (a Deployment never gets pods or status); schema validation of built-in kinds
//! (unknown fields in a Deployment are kept, not rejected); CRD validation ratcheting,
//! CEL cost limits, conversion webhooks and multi-version conversion beyond apiVersion;
//! protobuf responses and protobuf bodies other than the kinds in [`protobuf`]; CBOR;
//! `/openapi/v2`; `exec`, `logs`, `port-forward`, `proxy`; selectable fields of CRDs.

pub mod builtin;
pub mod cel;
pub mod controllers;
pub mod discovery;
pub mod jsonpath;
pub mod managed;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod write;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use store::StoreConfig;

/// Errors of the emulator's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Its path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The server task failed.
    #[error("server failed: {0}")]
    Serve(String),
}

/// Options of an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store tunables (history window).
    pub store: StoreConfig,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: StoreConfig::default(),
            bookmark_interval: Duration::from_secs(30),
        }
    }
}

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    server: JoinHandle<Result<(), std::io::Error>>,
    controllers: JoinHandle<()>,
}

impl Emulator {
    /// Starts serving on `listen` (port 0 picks a free port).
    pub async fn start(listen: SocketAddr) -> Result<Emulator, Error> {
        Self::start_with(listen, Config::default()).await
    }

    /// Starts with explicit options.
    pub async fn start_with(listen: SocketAddr, config: Config) -> Result<Emulator, Error> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(server::Shared {
            world: Mutex::new(store::World::new(config.store)),
            kick: Notify::new(),
            shutdown: stop_rx.clone(),
            server_address: addr.to_string(),
            bookmark_interval: config.bookmark_interval,
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let mut srv_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Either a `true` or a dropped sender ends the server.
                    let _ = srv_stop.wait_for(|s| *s).await;
                })
                .await
        });
        let loop_shared = shared.clone();
        let mut loop_stop = stop_rx;
        let controllers = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = loop_shared.kick.notified() => {}
                    _ = loop_stop.wait_for(|s| *s) => return,
                }
                let changed = controllers::reconcile(&mut loop_shared.lock());
                if changed {
                    tracing::debug!("kube-emulator control plane made changes");
                }
            }
        });
        Ok(Emulator {
            addr,
            shared,
            stop,
            server,
            controllers,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig pointing at this emulator (context `kube-emulator`, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-emulator\n  cluster:\n    server: {}\ncontexts:\n- name: kube-emulator\n  context:\n    cluster: kube-emulator\n    user: kube-emulator\n    namespace: default\ncurrent-context: kube-emulator\nusers:\n- name: kube-emulator\n  user: {{}}\n",
            self.url()
        )
    }

    /// Writes the kubeconfig to `path` (through a temporary file and a rename, so a reader
    /// never sees half a file).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        let err = |source| Error::Kubeconfig {
            path: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("kube-emulator.tmp");
        std::fs::write(&tmp, self.kubeconfig_yaml()).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// The current resourceVersion of the store (for tests).
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv()
    }

    /// Stops serving: ends watches, waits for the server and control-plane tasks.
    pub async fn shutdown(self) -> Result<(), Error> {
        // Receivers live in the tasks being stopped; a send error means they are gone already.
        let _ = self.stop.send(true);
        self.controllers.abort();
        let _ = self.controllers.await;
        match self.server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Serve(e.to_string())),
            Err(e) => Err(Error::Serve(e.to_string())),
        }
    }
}

//! The controller (`gluster-operator run`): a kube-rs `Controller` on GlusterClusters with a
//! finalizer. Each pass is a pipeline of four stages (`docs/design.md`, "The pass") and
//! requeues while the cloud or the nodes work, never blocking a worker on a boot:
//!
//! - [`observe`] (I/O): one snapshot — the cloud's resources by the cluster's UID, the nodes'
//!   reachability, the gluster volume;
//! - [`decide`] (pure): the planner, called once; the actions; the status; when to look again;
//!   what to remember ([`decide::Memory`]);
//! - [`act`] (I/O): the actions against the cloud and the nodes, reported back;
//! - status: one patch, written by [`reconcile`] when it changed.
//!
//! Around them: [`reconcile`] (the finalizer, a malformed object), [`cleanup`] (deletion),
//! [`credentials`] (the credentials Secret kept while a cluster needs it),
//! [`keys`] (the cluster's SSH keys Secret), [`owner`] (names and tags), [`leader`] (leader
//! election on a Lease; [`run_elected`]), [`metrics`] and [`http`] (`/metrics`, `/healthz`,
//! `/readyz`), [`context`] (what every pass shares).
//!
//! Scaling runs through the same pass. Out: new servers first, then peer probes, `add-brick`,
//! and a rebalance (or, for a pure replicate volume, a full heal) that the cluster waits for
//! before it is Ready again. In: on a healthy volume only, the newest whole sets are drained
//! (`remove-brick start`, its status polled each pass, `commit` once every leaving node shows
//! it completed with nothing failed or skipped), or for a pure replicate volume one brick per
//! pass is removed with nothing pending heal; then `peer detach`, and the node's server and
//! port are deleted, its brick volume per `deletionPolicy` (`docs/scale-in.md`).

pub mod act;
pub mod cleanup;
pub mod context;
pub mod credentials;
pub mod decide;
pub mod error;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod owner;
pub mod reconcile;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::Client;
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;

pub use context::{Context, ControllerConfig};
pub use error::ReconcileError;
pub use metrics::Metrics;
pub use reconcile::{FINALIZER, Guarded};

/// The name the operator reports Events under.
pub const CONTROLLER_NAME: &str = "gluster-operator";

/// Runs the controller until `shutdown` completes (then lets running reconciles finish).
pub async fn run(
    client: Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<Guarded> = match &config.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let reporter = Reporter {
        controller: CONTROLLER_NAME.to_string(),
        instance: config.instance.clone(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let controller_config = controller::Config::default().concurrency(config.concurrency);
    let ctx = Arc::new(Context::new(client, recorder, metrics, config));
    tracing::info!("controller starting");
    Controller::new(api, watcher::Config::default())
        .with_config(controller_config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
    tracing::info!("controller stopped");
}

/// Runs the controller while this replica holds the leader Lease (with `elector`), or always
/// (without): campaigns, runs the controller until the Lease is lost or `shutdown` completes,
/// and on shutdown releases the Lease so a standby takes over at once.
pub async fn run_elected(
    client: Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    elector: Option<leader::LeaderElector>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = shutdown.boxed().shared();
    let Some(elector) = elector else {
        metrics.set_leader(true);
        run(client, config, metrics, shutdown).await;
        return;
    };
    if let Err(e) = elector.config().check() {
        tracing::error!(error = %e, "leader election timings do not fence leadership");
    }
    loop {
        tracing::info!(lease = %elector.config().name, identity = %elector.config().identity, "waiting for the leader lease");
        tokio::select! {
            _ = elector.acquire() => {}
            _ = shutdown.clone() => return,
        }
        tracing::info!(lease = %elector.config().name, identity = %elector.config().identity, "leading");
        metrics.set_leader(true);
        // Every cloud write and gluster step of this term checks the elector's fence.
        let mut config = config.clone();
        config.cloud_options.fence = Some(elector.fence());
        // The renew loop runs as its own task and reports a lost Lease through a channel.
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = elector.clone();
        let gauge = metrics.clone();
        let renewing = tokio::spawn(async move {
            holder.hold().await;
            // The fence is closed: this replica no longer leads, even while the controller's
            // reconciles in flight (which write nothing more) wind down.
            gauge.set_leader(false);
            let _ = lost_tx.send(());
        });
        let stop = shutdown.clone();
        let lost_or_stopped = async move {
            tokio::select! {
                _ = stop => {}
                _ = lost_rx => {}
            }
        };
        run(
            client.clone(),
            config.clone(),
            metrics.clone(),
            lost_or_stopped,
        )
        .await;
        renewing.abort();
        metrics.set_leader(false);
        if shutdown.clone().now_or_never().is_some() {
            if let Err(e) = elector.release().await {
                tracing::warn!(error = %e, "releasing the leader lease");
            }
            return;
        }
        tracing::warn!("lost the leader lease; controller stopped, campaigning again");
    }
}

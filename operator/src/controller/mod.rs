//! The controller (`gluster-operator run`): a kube-rs `Controller` on GlusterClusters with a
//! finalizer. Each reconcile is a pipeline — observe what the cluster owns in the cloud (by its
//! UID), plan (the pure planner), act (security group, brick volumes, servers, attachments),
//! write status — and requeues while the cloud works, never blocking a worker on a boot.
//!
//! - [`run`]: the controller until `shutdown`; [`reconcile::reconcile`] one pass.
//! - [`observe`], [`status`], [`owner`]: pure mappings (tested without I/O).
//! - [`act`], [`cleanup`], [`keys`]: the imperative shell (cloud, Secrets).
//! - [`gluster_step`]: once every server is active with its brick attached, gluster over SSH
//!   (pinned host keys): observe the volume, run the planner's steps (peer probe, volume
//!   create, options, start), report the volume and `status.mount`.
//! - [`pacing`]: when to come back (a backoff reset by progress, a build-time hint, TCP probes
//!   of the nodes) and which lists a pass needs; own status writes start no early pass.
//! - [`leader`]: leader election on a Lease; [`run_elected`] runs the controller while leading.
//! - [`metrics`], [`http`]: `/metrics`, `/healthz`, `/readyz`.
//!
//! Scaling runs through the same pass. Out: new servers first, then peer probes, `add-brick`,
//! and a rebalance (or, for a pure replicate volume, a full heal) that the cluster waits for
//! before it is Ready again. In: `remove-brick start`, wait until the data has moved, `commit`
//! (a failed or incomplete migration stalls the cluster, nothing committed), peer detach, then
//! [`retire`] deletes the servers and, under `deletionPolicy: Delete`, their brick volumes.

pub mod act;
pub mod cleanup;
pub mod context;
pub mod error;
pub mod gluster_step;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod owner;
pub mod pacing;
pub mod reconcile;
pub mod retire;
pub mod status;

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
    loop {
        tracing::info!(lease = %elector.config().name, identity = %elector.config().identity, "waiting for the leader lease");
        tokio::select! {
            _ = elector.acquire() => {}
            _ = shutdown.clone() => return,
        }
        tracing::info!(lease = %elector.config().name, identity = %elector.config().identity, "leading");
        metrics.set_leader(true);
        // The renew loop runs as its own task and reports a lost Lease through a channel.
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = elector.clone();
        let renewing = tokio::spawn(async move {
            holder.hold().await;
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

//! One reconcile of a GlusterCluster: observe (cloud) → plan (the planner) → act (cloud) →
//! status, inside kube's finalizer helper (Apply / Cleanup). Errors become conditions: a
//! terminal one `Stalled` (the planner's reason, or the cloud's own message such as a quota
//! refusal), a passing one `Reconciling` with a retry.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::Instrument;

use std::collections::BTreeMap;

use crate::api::{GlusterCluster, GlusterClusterStatus, NodeState, NodeStatus};
use crate::gluster::{GlusterClient, NodeEndpoint, PinnedHostKey};
use crate::plan::{ClusterPlan, format_bytes, plan_change};

use super::act::act_cloud;
use super::cleanup::cleanup_pass;
use super::context::{Context, ControllerConfig};
use super::error::ReconcileError;
use super::gluster_step::{
    GlusterNodes, mount_of, observe_volume, observed_volume, run_steps, running_task, volume_status,
};
use super::keys::{ClusterKeys, ensure_keys};
use super::observe::{Observed, cloud_facts, current_state, observe_some};
use super::owner::Owner;
use super::pacing::{
    Backoff, Lists, Memo, attachments_pending, build_hint, lists_needed, next_delay, signature,
};
use super::status::{
    GlusterView, Progress, build_status, cloud_progress, gluster_progress, mark_ready,
    node_statuses, zone_statuses,
};

/// The finalizer the operator puts on every GlusterCluster.
pub const FINALIZER: &str = "storage.glusterops.dev/cleanup";

/// The object type the controller watches: a GlusterCluster, or what failed to deserialize.
pub type Guarded = DeserializeGuard<GlusterCluster>;

/// The reconcile entry point for kube's `Controller`.
pub async fn reconcile(obj: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let span = tracing::info_span!("reconcile", cluster = %format!("{namespace}/{name}"));
    async move {
        let started = Instant::now();
        let result = reconcile_guarded(obj, &ctx).await;
        ctx.metrics.reconciled(started.elapsed());
        match &result {
            Ok(action) => tracing::debug!(?action, "reconciled"),
            Err(e) => {
                ctx.metrics.error(e.reason());
                tracing::warn!(reason = e.reason(), error = %e, "reconcile failed");
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// How long to wait after a failed reconcile.
pub fn error_policy(_obj: Arc<Guarded>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    Action::requeue(error_delay(err, &ctx.config))
}

/// The wait after error `err`: the cleanup's backoff while a deletion goes on, the cloud's
/// `Retry-After` (at least the working cap), else the error delay.
pub fn error_delay(err: &ReconcileError, config: &ControllerConfig) -> std::time::Duration {
    match err {
        ReconcileError::CleanupPending { retry_in, .. } => *retry_in,
        ReconcileError::Cloud(e) => e
            .retry_after()
            .unwrap_or(config.requeue_error)
            .max(config.requeue_working),
        _ => config.requeue_error,
    }
}

async fn reconcile_guarded(obj: Arc<Guarded>, ctx: &Context) -> Result<Action, ReconcileError> {
    let namespace = obj
        .namespace()
        .ok_or(ReconcileError::MissingMetadata("metadata.namespace"))?;
    let api: Api<Guarded> = Api::namespaced(ctx.client.clone(), &namespace);
    let cluster = match &obj.0 {
        Ok(cluster) => Arc::new(cluster.clone()),
        Err(invalid) => return stall_malformed(&api, invalid, ctx).await,
    };
    let typed: Api<GlusterCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&typed, FINALIZER, cluster, |event| async {
        match event {
            Finalizer::Apply(cluster) => apply(&cluster, &api, ctx).await,
            Finalizer::Cleanup(cluster) => cleanup(&cluster, ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => ReconcileError::Finalizer(other.to_string()),
    })
}

/// A malformed object: a `Stalled` condition naming the deserialization error.
async fn stall_malformed(
    api: &Api<Guarded>,
    invalid: &InvalidObject,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let name = invalid
        .metadata
        .name
        .clone()
        .ok_or(ReconcileError::MissingMetadata("metadata.name"))?;
    // The raw object names the field that does not fit; the guard only kept serde's message.
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &invalid.metadata.namespace.clone().unwrap_or_default(),
        &ApiResource::erase::<GlusterCluster>(&()),
    );
    let detail = match dynamic.get_opt(&name).await {
        Ok(Some(raw)) => serde_json::to_value(&raw)
            .ok()
            .and_then(|v| malformed_field(&v)),
        _ => None,
    };
    let err = ReconcileError::Malformed(detail.unwrap_or_else(|| invalid.error.clone()));
    ctx.metrics.error(err.reason());
    let status = build_status(
        None,
        invalid.metadata.generation,
        0,
        Vec::new(),
        Vec::new(),
        &Progress::Stalled {
            reason: err.reason().to_string(),
            message: err.to_string(),
        },
        None,
        now(),
    );
    patch_status(api, &name, &status).await?;
    Ok(Action::await_change())
}

/// Where an object fails to be a GlusterCluster: `path: serde's message`, or `None` when it
/// is one (pure).
pub fn malformed_field(object: &Value) -> Option<String> {
    let result: Result<GlusterCluster, _> = serde_path_to_error::deserialize(object);
    result.err().map(|e| format!("{}: {}", e.path(), e.inner()))
}

fn owner_of(cluster: &GlusterCluster) -> Result<Owner, ReconcileError> {
    Ok(Owner {
        namespace: cluster
            .namespace()
            .ok_or(ReconcileError::MissingMetadata("metadata.namespace"))?,
        name: cluster
            .metadata
            .name
            .clone()
            .ok_or(ReconcileError::MissingMetadata("metadata.name"))?,
        uid: cluster
            .uid()
            .ok_or(ReconcileError::MissingMetadata("metadata.uid"))?,
    })
}

/// Apply: bring the cloud towards the plan and report. Errors end up in the status here; only
/// passing ones are returned (for a retry). The status is written only when it changed, and a
/// pass that comes before its time for the same generation (the watch event of our own status
/// write) only waits for it.
async fn apply(
    cluster: &GlusterCluster,
    api: &Api<Guarded>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let owner = owner_of(cluster)?;
    let generation = cluster.metadata.generation;
    if let Some(wait) = ctx.memo(&owner.uid).early(generation, Instant::now()) {
        tracing::debug!(?wait, "before its time: waiting for it");
        return Ok(Action::requeue(wait));
    }
    let previous = cluster.status.as_ref();
    match apply_steps(cluster, &owner, ctx).await {
        Ok((status, delay)) => {
            if previous != Some(&status) {
                patch_status(api, &owner.name, &status).await?;
            }
            ctx.update_memo(&owner.uid, |m| m.next_at = Some(Instant::now() + delay));
            Ok(Action::requeue(delay))
        }
        Err(e) => {
            let reason = e.reason().to_string();
            let message = e.condition_message();
            publish(
                ctx,
                cluster,
                EventType::Warning,
                &reason,
                "Reconcile",
                &message,
            )
            .await;
            let nodes = previous.map(|p| p.nodes.clone()).unwrap_or_default();
            let zones = previous.map(|p| p.zones.clone()).unwrap_or_default();
            let desired = cluster.spec.zones.iter().map(|z| z.nodes).sum();
            let terminal = e.is_terminal();
            let progress = if terminal {
                ctx.metrics.error(&reason);
                Progress::Stalled { reason, message }
            } else {
                Progress::Working { reason, message }
            };
            let status = build_status(
                previous,
                generation,
                desired,
                nodes,
                zones,
                &progress,
                None,
                now(),
            );
            // After an error the next pass observes everything again.
            let delay = if terminal {
                ctx.config.requeue_stalled
            } else {
                error_delay(&e, &ctx.config)
            };
            ctx.update_memo(&owner.uid, |m| {
                *m = Memo {
                    generation,
                    next_at: Some(Instant::now() + delay),
                    ..Memo::default()
                }
            });
            if previous != Some(&status) {
                patch_status(api, &owner.name, &status).await?;
            }
            if terminal {
                Ok(Action::requeue(delay))
            } else {
                Err(e)
            }
        }
    }
}

/// Observe → plan → act → the status to write and when to come back. Observes only what may
/// have changed since the last pass (see [`pacing`](super::pacing)).
async fn apply_steps(
    cluster: &GlusterCluster,
    owner: &Owner,
    ctx: &Context,
) -> Result<(GlusterClusterStatus, std::time::Duration), ReconcileError> {
    let spec = &cluster.spec;
    let generation = cluster.metadata.generation;
    let cloud = ctx.cloud(&owner.namespace, &spec.cloud).await?;
    let started = Instant::now();
    let memo = ctx.memo(&owner.uid);
    let full = memo.needs_full(generation, started, ctx.config.observe_max_age);
    // Cinder's zones are the planner's facts: listed once per generation.
    let same_generation = memo.generation == generation;
    let (base, zones_known) = match (&memo.observed, same_generation) {
        (Some(o), true) => (o.clone(), true),
        _ => (Observed::default(), false),
    };
    let previous_plan = if full {
        None
    } else {
        plan_change(
            &owner.name,
            spec,
            &cloud_facts(&base),
            &current_state(&base),
        )
        .ok()
    };
    let mut lists = previous_plan
        .as_ref()
        .map_or(Lists::ALL, |p| lists_needed(&base, p));
    // Attachments requested and nothing else awaited: the nodes' glusterd listening (their
    // brick script found the device) says the attachments are done; Cinder is listed then,
    // else at intervals doubling from 4 × the working cap (an attachment that failed).
    let awaiting_attachments = previous_plan
        .as_ref()
        .is_some_and(|p| !lists.servers && attachments_pending(&base, p));
    let cinder_due = memo.volumes_at.is_none_or(|last| {
        let waited = memo
            .attached_at
            .map(|asked| last.saturating_duration_since(asked))
            .unwrap_or_default();
        let interval = (ctx.config.requeue_working * 4).max(waited);
        started.saturating_duration_since(last) >= interval
    });
    if awaiting_attachments && let Some(p) = &previous_plan {
        lists.volumes = cinder_due || {
            let nodes = node_statuses(p, &base, &spec.network);
            glusterd_closed(&nodes, ctx.config.ssh_connect_timeout)
                .await
                .is_empty()
        };
    }
    let mut observed = observe_some(&cloud, owner, base, lists, !zones_known).await?;
    let estimate = if lists.servers {
        ctx.learn_build_times(&observed.servers)
    } else {
        None
    };
    tracing::debug!(full, ?lists, zones = !zones_known, "observed");
    let plan = plan_change(
        &owner.name,
        spec,
        &cloud_facts(&observed),
        &current_state(&observed),
    )?;
    let owner_ref = cluster
        .controller_owner_ref(&())
        .ok_or(ReconcileError::MissingMetadata("metadata.uid"))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let node_names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    let keys = ensure_keys(
        &secrets,
        &owner.keys_secret_name(),
        owner_ref,
        &owner.name,
        &node_names,
    )
    .await?;
    let ensure_group = full || !memo.security_group || !same_generation;
    let done = act_cloud(
        &cloud,
        owner,
        spec,
        &plan,
        &mut observed,
        &keys,
        ctx.config.create_limit,
        ensure_group,
    )
    .await?;
    for d in &done {
        tracing::info!(reason = d.reason, "{}", d.note);
        publish(ctx, cluster, EventType::Normal, d.reason, "Create", &d.note).await;
    }
    let created_now = done.iter().any(|d| d.reason == "ServerCreated");
    let attached_now = done.iter().any(|d| d.reason == "VolumeAttached");
    let servers_created_at = if created_now {
        Some(started)
    } else {
        memo.servers_created_at
    };
    // What the act step created shows in the next pass's observation (which lists what is
    // missing); attachments are noted in `observed` already.
    let mut nodes: Vec<NodeStatus> = node_statuses(&plan, &observed, &spec.network);
    let mut progress = cloud_progress(&nodes);
    let mut gluster = None;
    let booted = !nodes.is_empty() && nodes.iter().all(|n| n.state == NodeState::Booting);
    let mut cap = ctx.config.requeue_working;
    let mut fixed = None;
    // Before the volume exists, a node whose SSH answers but whose glusterd does not listen
    // yet is still running its brick script: wait for it without a gluster pass (which would
    // try every node over SSH and fail on that one).
    let bootstrapping = if booted && cluster.status.as_ref().is_none_or(|s| s.volume.is_none()) {
        bootstrapping_nodes(&nodes, ctx.config.ssh_port, ctx.config.ssh_connect_timeout).await
    } else {
        Vec::new()
    };
    if booted && !bootstrapping.is_empty() {
        cap = ctx.config.requeue_bootstrap;
        progress = Progress::Working {
            reason: "WaitingForBootstrap".into(),
            message: format!(
                "SSH answers but glusterd does not listen yet (brick script running) on: {}",
                bootstrapping.join(", ")
            ),
        };
    } else if booted {
        cap = ctx.config.requeue_bootstrap;
        match gluster_pass(cluster, owner, &plan, &observed, &keys, &nodes, ctx).await {
            Ok((view, waiting)) => {
                if let Some(volume) = &view.volume {
                    mark_ready(&mut nodes, volume);
                }
                progress = gluster_progress(&nodes, view.volume.as_ref(), waiting.as_deref());
                gluster = Some(view);
            }
            Err(e) => {
                let reason = e.reason().to_string();
                let message = e.condition_message();
                ctx.metrics.error(&reason);
                tracing::warn!(reason, error = %message, "gluster");
                publish(
                    ctx,
                    cluster,
                    EventType::Warning,
                    &reason,
                    "Gluster",
                    &message,
                )
                .await;
                // A node not answering yet (still booting) is waited for with the backoff;
                // a refusal that needs a change is retried at the error delay.
                if e.is_terminal() {
                    fixed = Some(ctx.config.requeue_error);
                    progress = Progress::Stalled { reason, message };
                } else {
                    progress = Progress::Working { reason, message };
                }
            }
        }
    }
    let ready = matches!(progress, Progress::Ready { .. });
    let building = created_now
        || observed
            .servers
            .iter()
            .any(|s| s.status == crate::cloud::ServerStatus::Build);
    if awaiting_attachments || (!booted && attachments_pending(&observed, &plan)) {
        cap = ctx.config.requeue_bootstrap;
    }
    let (delay, pace) = match (&progress, fixed) {
        (Progress::Ready { .. }, _) => (ctx.config.requeue_settled, None),
        (_, Some(d)) => (d, None),
        (Progress::Stalled { .. }, None) => (ctx.config.requeue_stalled, None),
        (Progress::Working { reason, message }, None) => {
            let hint = build_hint(building, servers_created_at, estimate, Instant::now());
            let (d, p) = next_delay(
                memo.pace.filter(|_| same_generation),
                signature(&nodes, reason, message),
                Backoff {
                    min: ctx.config.requeue_min,
                    max: cap,
                },
                hint,
            );
            (d, Some(p))
        }
    };
    ctx.metrics.nodes(&owner.namespace, &owner.name, &nodes);
    let zones = zone_statuses(&plan, &nodes);
    let desired = plan.nodes.len() as u32;
    let status = build_status(
        cluster.status.as_ref(),
        generation,
        desired,
        nodes,
        zones,
        &progress,
        gluster,
        now(),
    );
    ctx.update_memo(&owner.uid, |m| {
        m.generation = generation;
        m.observed = Some(observed);
        if full {
            m.full_at = Some(started);
        }
        m.security_group |= ensure_group;
        if !same_generation {
            m.security_group = ensure_group;
        }
        m.pace = pace;
        m.ready = ready;
        m.servers_created_at = servers_created_at.filter(|_| building);
        if lists.volumes {
            m.volumes_at = Some(started);
        }
        if attached_now {
            // Noted in the observation: as fresh as a listing.
            m.attached_at = Some(started);
            m.volumes_at = Some(started);
        }
    });
    Ok((status, delay))
}

/// glusterd's management port.
const GLUSTERD_PORT: u16 = 24007;

/// Whether `address:port` accepts a TCP connection within `timeout` (at most a second).
async fn listens(address: &str, port: u16, timeout: std::time::Duration) -> bool {
    let timeout = timeout.min(std::time::Duration::from_secs(1));
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect((address, port))).await,
        Ok(Ok(_))
    )
}

/// The nodes (by name, in index order) that accept a TCP connection on `ssh_port` but not on
/// glusterd's port: booted, their brick script still running. Probed concurrently.
async fn bootstrapping_nodes(
    nodes: &[NodeStatus],
    ssh_port: u16,
    timeout: std::time::Duration,
) -> Vec<String> {
    let probes = nodes.iter().filter_map(|n| {
        let address = n.address.clone()?;
        let name = n.name.clone();
        Some(async move {
            if listens(&address, GLUSTERD_PORT, timeout).await {
                return None;
            }
            listens(&address, ssh_port, timeout).await.then_some(name)
        })
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The nodes (by name) whose glusterd does not accept a TCP connection (or that have no
/// address yet). Probed concurrently.
async fn glusterd_closed(nodes: &[NodeStatus], timeout: std::time::Duration) -> Vec<String> {
    let probes = nodes.iter().map(|n| async move {
        match &n.address {
            Some(a) if listens(a, GLUSTERD_PORT, timeout).await => None,
            _ => Some(n.name.clone()),
        }
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The gluster side of one pass: observe the volume, plan from there, run the steps, observe
/// again if anything was done. Returns what gluster shows and why the steps stopped early.
#[allow(clippy::too_many_arguments)]
async fn gluster_pass(
    cluster: &GlusterCluster,
    owner: &Owner,
    cloud_plan: &ClusterPlan,
    observed: &Observed,
    keys: &ClusterKeys,
    nodes: &[NodeStatus],
    ctx: &Context,
) -> Result<(GlusterView, Option<String>), ReconcileError> {
    let spec = &cluster.spec;
    let mut gnodes = GlusterNodes {
        endpoints: BTreeMap::new(),
        order: Vec::new(),
        addresses: BTreeMap::new(),
    };
    for node in nodes {
        let address = node
            .address
            .clone()
            .ok_or_else(|| ReconcileError::MissingMetadata("a node address"))?;
        let host = keys
            .hosts
            .get(&node.name)
            .ok_or_else(|| ReconcileError::MissingHostKey(node.name.clone()))?;
        let pinned = PinnedHostKey::from_openssh(host.public_key().openssh())?;
        gnodes.endpoints.insert(
            node.name.clone(),
            NodeEndpoint::new(&node.name, &address, ctx.config.ssh_port, pinned),
        );
        gnodes.order.push(node.name.clone());
        gnodes.addresses.insert(node.name.clone(), address);
    }
    let executor = ctx.ssh_executor(&owner.uid, keys)?;
    let client = GlusterClient::new(executor, ctx.config.gluster_cli.clone())
        .with_timeout(ctx.config.gluster_timeout);
    let volume_name = &spec.volume.name;
    let facts = cloud_facts(observed);
    let mut current = current_state(observed);
    let seen = observe_volume(&client, &gnodes, volume_name).await?;
    current.volume = seen
        .as_ref()
        .map(|(info, _)| observed_volume(info, &gnodes));
    let plan = plan_change(&owner.name, spec, &facts, &current)?;
    let mut run = run_steps(&client, &gnodes, volume_name, &plan.steps).await?;
    for d in &run.done {
        tracing::info!(reason = d.reason, "{}", d.note);
        publish(
            ctx,
            cluster,
            EventType::Normal,
            d.reason,
            "Gluster",
            &d.note,
        )
        .await;
    }
    let seen = if run.done.is_empty() {
        seen
    } else {
        observe_volume(&client, &gnodes, volume_name).await?
    };
    if run.waiting.is_none() {
        // A rebalance started by an earlier pass is not in this pass's plan (the bricks are
        // all there): the volume is not settled until gluster says the task finished.
        run.waiting = seen
            .as_ref()
            .and_then(|(_, status)| status.as_ref())
            .and_then(|status| running_task(volume_name, status));
    }
    let volume = seen
        .as_ref()
        .map(|(info, status)| volume_status(info, status.as_ref(), &gnodes));
    let started = volume.as_ref().and_then(|v| v.state.as_deref()) == Some("Started");
    let (mount, backups) = match mount_of(volume_name, &gnodes) {
        Some((m, b)) if started => (Some(m), b),
        _ => (None, Vec::new()),
    };
    Ok((
        GlusterView {
            capacity: volume.as_ref().map(|_| format_bytes(cloud_plan.capacity())),
            volume,
            mount,
            backup_volfile_servers: backups,
        },
        run.waiting,
    ))
}

/// Cleanup: one pass; the finalizer goes only when nothing of the cluster is left.
async fn cleanup(cluster: &GlusterCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let owner = owner_of(cluster)?;
    let cloud = ctx.cloud(&owner.namespace, &cluster.spec.cloud).await?;
    let left = cleanup_pass(&cloud, &owner, cluster.spec.deletion_policy).await?;
    if left.is_empty() {
        ctx.metrics.forget(&owner.namespace, &owner.name);
        ctx.forget_cluster(&owner.uid);
        publish(
            ctx,
            cluster,
            EventType::Normal,
            "Deleted",
            "Delete",
            &format!(
                "no server, attached volume or security group of the cluster left (volumes: {:?})",
                cluster.spec.deletion_policy
            ),
        )
        .await;
        Ok(Action::await_change())
    } else {
        tracing::info!(left = %left.describe(), "deleting");
        // Deletions take a second or two: look again soon, backing off while nothing changes.
        let backoff = Backoff {
            min: ctx.config.requeue_min,
            max: ctx.config.requeue_working,
        };
        let mut retry_in = backoff.max;
        ctx.update_memo(&owner.uid, |m| {
            let (delay, pace) = next_delay(m.pace, left.signature(), backoff, None);
            m.pace = Some(pace);
            retry_in = delay;
        });
        Err(ReconcileError::CleanupPending {
            left: left.describe(),
            retry_in,
        })
    }
}

/// The status as a merge patch: fields the status leaves out are nulled, so a list that
/// became empty is cleared rather than kept.
pub fn status_patch(status: &GlusterClusterStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in [
            "observedGeneration",
            "conditions",
            "nodeSummary",
            "zones",
            "nodes",
            "volume",
            "capacity",
            "mount",
            "backupVolfileServers",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    json!({ "status": value })
}

async fn patch_status(
    api: &Api<Guarded>,
    name: &str,
    status: &GlusterClusterStatus,
) -> Result<(), ReconcileError> {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&status_patch(status)),
    )
    .await?;
    Ok(())
}

async fn publish(
    ctx: &Context,
    cluster: &GlusterCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &cluster.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish an Event");
    }
}

fn now() -> Time {
    Time(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_objects_name_the_field() {
        let bad = json!({
            "apiVersion": "storage.glusterops.dev/v1alpha1",
            "kind": "GlusterCluster",
            "metadata": {"name": "bad"},
            "spec": {"cloud": {"secretName": "s", "cloudName": "c"}, "image": "i",
                     "flavor": "f", "network": "n", "zones": [{"name": "a", "nodes": "two"}],
                     "brick": {"size": "1Gi"}, "volume": {"name": "v"}},
        });
        let detail = malformed_field(&bad).expect("malformed");
        assert!(detail.starts_with("spec.zones[0].nodes: "), "{detail}");
        let mut good = bad.clone();
        good["spec"]["zones"][0]["nodes"] = json!(2);
        assert_eq!(malformed_field(&good), None);
    }

    #[test]
    fn status_patch_nulls_what_is_absent() {
        let patch = status_patch(&GlusterClusterStatus::default());
        assert_eq!(patch["status"]["nodes"], Value::Null);
        assert!(
            patch["status"]
                .as_object()
                .expect("object")
                .contains_key("nodes")
        );
        assert_eq!(patch["status"]["readyNodes"], json!(0));
    }
}

//! One reconcile of a GlusterCluster: observe (cloud) → plan (the planner) → act (cloud) →
//! status, inside kube's finalizer helper (Apply / Cleanup). Errors become conditions: a
//! terminal one `Stalled` (the planner's reason, or the cloud's own message such as a quota
//! refusal), a passing one `Reconciling` with a retry.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::api::{GlusterCluster, GlusterClusterStatus, NodeStatus};
use crate::plan::plan_change;

use super::act::act_cloud;
use super::cleanup::cleanup_pass;
use super::context::Context;
use super::error::ReconcileError;
use super::keys::ensure_keys;
use super::observe::{cloud_facts, current_state, observe_cloud};
use super::owner::Owner;
use super::status::{Progress, build_status, cloud_progress, node_statuses, zone_statuses};

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
    let delay = match err {
        ReconcileError::CleanupPending(_) => ctx.config.requeue_working,
        ReconcileError::Cloud(e) => e
            .retry_after()
            .unwrap_or(ctx.config.requeue_error)
            .max(ctx.config.requeue_working),
        _ => ctx.config.requeue_error,
    };
    Action::requeue(delay)
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
    let err = ReconcileError::Malformed(invalid.error.clone());
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
        now(),
    );
    patch_status(api, &name, &status).await?;
    Ok(Action::await_change())
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
/// passing ones are returned (for a retry).
async fn apply(
    cluster: &GlusterCluster,
    api: &Api<Guarded>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let owner = owner_of(cluster)?;
    let generation = cluster.metadata.generation;
    let previous = cluster.status.as_ref();
    match apply_steps(cluster, &owner, ctx).await {
        Ok((status, action)) => {
            patch_status(api, &owner.name, &status).await?;
            Ok(action)
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
            if e.is_terminal() {
                ctx.metrics.error(&reason);
                let progress = Progress::Stalled { reason, message };
                let status = build_status(
                    previous,
                    generation,
                    desired,
                    nodes,
                    zones,
                    &progress,
                    now(),
                );
                patch_status(api, &owner.name, &status).await?;
                Ok(Action::requeue(ctx.config.requeue_stalled))
            } else {
                let progress = Progress::Working { reason, message };
                let status = build_status(
                    previous,
                    generation,
                    desired,
                    nodes,
                    zones,
                    &progress,
                    now(),
                );
                patch_status(api, &owner.name, &status).await?;
                Err(e)
            }
        }
    }
}

/// Observe → plan → act → the status to write and when to come back.
async fn apply_steps(
    cluster: &GlusterCluster,
    owner: &Owner,
    ctx: &Context,
) -> Result<(GlusterClusterStatus, Action), ReconcileError> {
    let spec = &cluster.spec;
    let cloud = ctx.cloud(&owner.namespace, &spec.cloud).await?;
    let observed = observe_cloud(&cloud, owner).await?;
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
    let done = act_cloud(
        &cloud,
        owner,
        spec,
        &plan,
        &observed,
        &keys,
        ctx.config.create_limit,
    )
    .await?;
    for d in &done {
        tracing::info!(reason = d.reason, "{}", d.note);
        publish(ctx, cluster, EventType::Normal, d.reason, "Create", &d.note).await;
    }
    // What the act step changed shows in a fresh observation.
    let observed = if done.is_empty() {
        observed
    } else {
        observe_cloud(&cloud, owner).await?
    };
    let nodes: Vec<NodeStatus> = node_statuses(&plan, &observed, &spec.network);
    ctx.metrics.nodes(&owner.namespace, &owner.name, &nodes);
    let zones = zone_statuses(&plan, &nodes);
    let progress = cloud_progress(&nodes);
    let desired = plan.nodes.len() as u32;
    let status = build_status(
        cluster.status.as_ref(),
        cluster.metadata.generation,
        desired,
        nodes,
        zones,
        &progress,
        now(),
    );
    Ok((status, Action::requeue(ctx.config.requeue_working)))
}

/// Cleanup: one pass; the finalizer goes only when nothing of the cluster is left.
async fn cleanup(cluster: &GlusterCluster, ctx: &Context) -> Result<Action, ReconcileError> {
    let owner = owner_of(cluster)?;
    let cloud = ctx.cloud(&owner.namespace, &cluster.spec.cloud).await?;
    let left = cleanup_pass(&cloud, &owner, cluster.spec.deletion_policy).await?;
    if left.is_empty() {
        ctx.metrics.forget(&owner.namespace, &owner.name);
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
        Err(ReconcileError::CleanupPending(left.describe()))
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

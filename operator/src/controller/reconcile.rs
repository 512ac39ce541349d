//! One reconcile of a GlusterCluster, inside kube's finalizer helper (Apply / Cleanup). Apply
//! reads as its four stages (`docs/design.md`, "The pass"): [`observe`] one snapshot, decide
//! (pure: actions, status, when to look again), [`act`], and the status written. Errors become
//! conditions: a terminal one `Stalled` (the planner's reason, or the cloud's own message such
//! as a quota refusal), a passing one `Reconciling` with a retry. A deletion still under way
//! looks again after a backoff; it is not an error.

use std::sync::Arc;
use std::time::Instant;

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

use crate::api::conditions::{DEGRADED, TRUE, find};
use crate::api::{GlusterCluster, GlusterClusterStatus};

use super::act::act;
use super::cleanup::cleanup_pass;
use super::context::Context;
use super::decide::status::{Findings, Progress, build_status};
use super::decide::{self, Failure, Input, Memory, Pass, Tuning};
use super::error::ReconcileError;
use super::observe::observe;
use super::owner::Owner;

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

/// How long to wait after a failed reconcile: the cloud's `Retry-After` (at least the working
/// cap), else the error delay.
pub fn error_policy(_obj: Arc<Guarded>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    Action::requeue(decide::retry_delay(
        &Failure::of(err),
        &Tuning::of(&ctx.config),
    ))
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
    // A deletion still under way looks again after a backoff; it is not an error. It runs
    // before kube's finalizer helper, which removes the finalizer on the first cleanup that
    // returns `Ok`: the helper's cleanup is reached only once nothing is left.
    let deleting = cluster.metadata.deletion_timestamp.is_some()
        && cluster.finalizers().iter().any(|f| f == FINALIZER);
    if deleting && let Some(wait) = cleanup(&cluster, ctx).await? {
        return Ok(Action::requeue(wait));
    }
    let typed: Api<GlusterCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&typed, FINALIZER, cluster, |event| async {
        match event {
            Finalizer::Apply(cluster) => apply(&cluster, &api, ctx).await,
            Finalizer::Cleanup(_) => Ok(Action::await_change()),
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
        Findings {
            generation: invalid.metadata.generation,
            ..Findings::default()
        },
        &Progress::Stalled {
            reason: err.reason().to_string(),
            message: err.to_string(),
        },
        wall_clock(),
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

/// Apply: one pass — observe → decide → act → status. A failed pass still writes its status
/// (the error as a condition); only an error worth retrying is returned (kube requeues it).
async fn apply(
    cluster: &GlusterCluster,
    api: &Api<Guarded>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let owner = owner_of(cluster)?;
    let generation = cluster.metadata.generation;
    let memory = ctx.memory(&owner.uid);
    let now = Instant::now();
    // The watch event of the operator's own status write waits for the pass's time.
    if let Some(wait) = memory.early(generation, now) {
        tracing::debug!(?wait, "before its time: waiting for it");
        return Ok(Action::requeue(wait));
    }
    let tuning = Tuning::of(&ctx.config);
    match pass(cluster, &owner, &memory, now, tuning, ctx).await {
        Ok(pass) => {
            ctx.metrics
                .nodes(&owner.namespace, &owner.name, &pass.status.nodes);
            if let Some(h) = &pass.status.health {
                let degraded = find(&pass.status.conditions, DEGRADED)
                    .filter(|c| c.status == TRUE)
                    .map(|c| c.reason.as_str());
                ctx.metrics
                    .health(&owner.namespace, &owner.name, h, degraded);
            }
            let requeue = pass.requeue;
            write_status(cluster, api, &owner, pass, ctx).await?;
            Ok(Action::requeue(requeue))
        }
        Err(e) => {
            let failure = Failure::of(&e);
            let pass = decide::failed(
                &failure,
                &cluster.spec,
                generation,
                cluster.status.as_ref(),
                &memory,
                &tuning,
                Instant::now(),
                wall_clock(),
            );
            let requeue = pass.requeue;
            write_status(cluster, api, &owner, pass, ctx).await?;
            if failure.terminal {
                Ok(Action::requeue(requeue))
            } else {
                Err(e)
            }
        }
    }
}

/// Observe → decide → act, then the status decide builds from what act reports.
async fn pass(
    cluster: &GlusterCluster,
    owner: &Owner,
    memory: &Memory,
    now: Instant,
    tuning: Tuning,
    ctx: &Context,
) -> Result<Pass, ReconcileError> {
    let (snapshot, handles) = observe(ctx, cluster, owner, memory, now).await?;
    let input = Input {
        name: &owner.name,
        generation: cluster.metadata.generation,
        spec: &cluster.spec,
        previous: cluster.status.as_ref(),
        snapshot: &snapshot,
        memory,
        now,
        tuning,
    };
    let decision = decide::decide(&input)?;
    let outcome = act(ctx, cluster, owner, &decision.actions, &handles).await?;
    Ok(decide::conclude(
        &input,
        decision,
        outcome,
        Instant::now(),
        wall_clock(),
    ))
}

/// Status: the pass's Events and error counts, its memory, and the status patch when the
/// status changed (a settled cluster causes no write).
async fn write_status(
    cluster: &GlusterCluster,
    api: &Api<Guarded>,
    owner: &Owner,
    pass: Pass,
    ctx: &Context,
) -> Result<(), ReconcileError> {
    for note in &pass.notes {
        if note.warning {
            tracing::warn!(reason = %note.reason, error = %note.note, "{}", note.action);
        } else {
            tracing::info!(reason = %note.reason, "{}", note.note);
        }
        let type_ = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, cluster, type_, &note.reason, note.action, &note.note).await;
    }
    for reason in &pass.errors {
        ctx.metrics.error(reason);
    }
    ctx.remember(&owner.uid, pass.memory);
    if cluster.status.as_ref() != Some(&pass.status) {
        patch_status(api, &owner.name, &pass.status).await?;
    }
    Ok(())
}

/// Cleanup: one pass. `None` when nothing of the cluster is left (the finalizer may go), else
/// the wait before looking again (a backoff that progress resets).
async fn cleanup(
    cluster: &GlusterCluster,
    ctx: &Context,
) -> Result<Option<std::time::Duration>, ReconcileError> {
    let owner = owner_of(cluster)?;
    let cloud = ctx.cloud(&owner.namespace, &cluster.spec.cloud).await?;
    let left = cleanup_pass(&cloud, &owner, cluster.spec.deletion_policy).await?;
    if left.is_empty() {
        // Nothing of the cluster is left in the cloud: its credentials may go (unless another
        // cluster names them). A failure is retried like any other of the cleanup.
        super::credentials::release(
            &ctx.client,
            &owner.namespace,
            &cluster.spec.cloud.secret_name,
            &owner.uid,
        )
        .await?;
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
        Ok(None)
    } else {
        tracing::info!(left = %left.describe(), "deleting");
        let memory = ctx.memory(&owner.uid);
        let (retry_in, memory) =
            decide::still_deleting(&memory, left.signature(), &Tuning::of(&ctx.config));
        ctx.remember(&owner.uid, memory);
        Ok(Some(retry_in))
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
            "health",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
        // A merge patch merges objects: the health figures that became absent are nulled too.
        if let Some(Value::Object(health)) = map.get_mut("health") {
            for key in [
                "readFrom",
                "peersLost",
                "bricksOffline",
                "healPending",
                "splitBrain",
                "healByBrick",
                "capacityUsedBytes",
                "capacityTotalBytes",
                "fullestBrickPercent",
                "inProgress",
            ] {
                health.entry(key).or_insert(Value::Null);
            }
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

/// The wall clock, for condition timestamps (decide takes it as an input).
fn wall_clock() -> Time {
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
        assert!(
            patch["status"]
                .as_object()
                .expect("object")
                .contains_key("health")
        );
        // Inside health too: an offline list that emptied is cleared, not merged.
        let healthy = GlusterClusterStatus {
            health: Some(crate::api::HealthStatus {
                bricks: "4/4".into(),
                ..Default::default()
            }),
            ..GlusterClusterStatus::default()
        };
        let patch = status_patch(&healthy);
        let health = patch["status"]["health"].as_object().expect("object");
        assert_eq!(health.get("bricksOffline"), Some(&Value::Null));
        assert_eq!(health.get("bricks"), Some(&json!("4/4")));
    }
}

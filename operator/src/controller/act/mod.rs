//! Act (I/O): carries out decide's [`Action`]s — the cloud's first ([`cloud`]), then the
//! gluster steps ([`gluster`]) — and reports what happened as an [`Outcome`]. It takes no
//! decision: what to create, delete, attach or run, and when a wait is satisfied, is decide's.
//! A cloud failure fails the pass (the next one observes everything again); a gluster failure
//! is reported in the outcome, as today's condition.

pub mod cloud;
pub mod gluster;
pub mod rejoin;

use crate::api::GlusterCluster;

use super::context::Context;
use super::decide::{Action, Failure, GlusterOutcome, Outcome};
use super::error::ReconcileError;
use super::observe::{GlusterHandle, Handles, cluster_keys, observe_volume};
use super::owner::Owner;
use super::tls::cluster_tls;

/// Carries out `actions` for `cluster` with the handles observe opened.
pub async fn act(
    ctx: &Context,
    cluster: &GlusterCluster,
    owner: &Owner,
    actions: &[Action],
    handles: &Handles,
) -> Result<Outcome, ReconcileError> {
    // New nodes boot with their host keys: the key Secret holds one for every planned node.
    let keys_for = actions.iter().find_map(|a| match a {
        Action::CreateNode { keys_for, .. } => Some(keys_for),
        _ => None,
    });
    let keys = match keys_for {
        Some(names) => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            // The TLS Secret first: an SSH key Secret without one marks a cluster built
            // without TLS (controller::tls).
            let tls = cluster_tls(ctx, cluster, owner, &names).await?;
            let mut keys = cluster_keys(ctx, cluster, owner, &names).await?;
            keys.tls = tls;
            Some(keys)
        }
        None => None,
    };
    let (done, attached) = cloud::act_cloud(
        &handles.cloud,
        owner,
        &cluster.spec,
        actions,
        keys.as_ref(),
        ctx.config.create_limit,
    )
    .await?;
    let mut gluster = None;
    for action in actions {
        if let Action::Gluster {
            volume,
            steps,
            nodes,
            then,
        } = action
        {
            let outcome = match &handles.gluster {
                Some(handle) => run_gluster(handle, volume, steps, nodes, then.clone()).await,
                None => Err(ReconcileError::MissingMetadata("a gluster client")),
            };
            gluster = Some(outcome.unwrap_or_else(|e| GlusterOutcome::Failed(Failure::of(&e))));
        }
        if let Action::RejoinNodes {
            volume,
            strangers,
            via,
            nodes,
        } = action
        {
            let outcome = match &handles.gluster {
                Some(handle) => {
                    rejoin::rejoin(
                        &handle.client,
                        &handle.endpoints,
                        nodes,
                        volume,
                        strangers,
                        via,
                    )
                    .await
                }
                None => Err(ReconcileError::MissingMetadata("a gluster client")),
            };
            // The planner's steps wait for the next pass, which sees every node again.
            gluster = Some(match outcome {
                Ok(done) => GlusterOutcome::Ran {
                    done,
                    waiting: Some(if strangers.is_empty() {
                        "bricks of replaced nodes starting; healing".to_string()
                    } else {
                        format!(
                            "node(s) {} rejoining the pool; bricks starting and healing",
                            strangers.join(", ")
                        )
                    }),
                    after: None,
                },
                Err(e) => GlusterOutcome::Failed(Failure::of(&e)),
            });
        }
    }
    let mut repairs = Vec::new();
    let mut repair_failure = None;
    for action in actions {
        if let Action::RestartBricks { volume, on, bricks } = action {
            let run = async {
                let handle = handles
                    .gluster
                    .as_ref()
                    .ok_or(ReconcileError::MissingMetadata("a gluster client"))?;
                let endpoint = handle
                    .endpoints
                    .get(on)
                    .ok_or_else(|| ReconcileError::MissingHostKey(on.clone()))?;
                gluster::restart_bricks(&handle.client, endpoint, volume, bricks).await
            };
            match run.await {
                Ok(done) => repairs.push(done),
                Err(e) => repair_failure = Some(Failure::of(&e)),
            }
        }
    }
    Ok(Outcome {
        cloud: done,
        attached,
        gluster,
        repairs,
        repair_failure,
    })
}

/// Runs the steps; when any was taken, the volume is observed again for the status.
async fn run_gluster(
    handle: &GlusterHandle,
    volume: &str,
    steps: &[crate::plan::Step],
    nodes: &super::decide::GlusterNodes,
    then: Option<String>,
) -> Result<GlusterOutcome, ReconcileError> {
    let view = gluster::Nodes {
        endpoints: &handle.endpoints,
        gluster: nodes,
    };
    let run = gluster::run_steps(&handle.client, view, volume, steps).await?;
    let after = if run.done.is_empty() {
        None
    } else {
        let order: Vec<_> = nodes
            .order
            .iter()
            .filter_map(|n| handle.endpoints.get(n))
            .collect();
        Some(observe_volume(&handle.client, &order, volume).await?)
    };
    // Every step taken: the run stops where decide said it would.
    let waiting = run.waiting.or(then);
    Ok(GlusterOutcome::Ran {
        done: run.done,
        waiting,
        after,
    })
}

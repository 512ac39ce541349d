//! Act (I/O): carries out decide's [`Action`]s — the cloud's first ([`cloud`]), then the
//! gluster steps ([`gluster`]) — and reports what happened as an [`Outcome`]. It takes no
//! decision: what to create, delete, attach or run, and when a wait is satisfied, is decide's.
//! A cloud failure fails the pass (the next one observes everything again); a gluster failure
//! is reported in the outcome, as today's condition.

pub mod cloud;
pub mod gluster;
pub mod rejoin;
pub mod retire;
pub mod scalein;

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
    // A leader that lost its Lease writes nothing more (the cloud client checks the fence
    // before each write request too, the gluster steps before each step).
    let fence = ctx.config.cloud_options.fence.as_ref();
    let fenced = || -> Result<(), ReconcileError> {
        match fence {
            Some(f) if !f.may_write() => Err(ReconcileError::NotLeading),
            _ => Ok(()),
        }
    };
    fenced()?;
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
                Some(handle) => {
                    let retiring = Retiring {
                        cloud: &handles.cloud,
                        owner,
                        policy: cluster.spec.deletion_policy,
                    };
                    run_gluster(handle, fence, retiring, volume, steps, nodes, then.clone()).await
                }
                None => Err(ReconcileError::MissingMetadata("a gluster client")),
            };
            gluster = Some(outcome.unwrap_or_else(|e| GlusterOutcome::Failed(Failure::of(&e))));
        }
        if let Action::RejoinNodes {
            volume,
            strangers,
            via,
            nodes,
            start_bricks,
        } = action
        {
            fenced()?;
            let outcome = match &handles.gluster {
                Some(handle) => {
                    rejoin::rejoin(
                        &handle.client,
                        &handle.endpoints,
                        nodes,
                        volume,
                        strangers,
                        via,
                        *start_bricks,
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
        if let Action::ReplaceBricks {
            volume,
            bricks,
            via,
        } = action
        {
            let outcome = match &handles.gluster {
                Some(handle) => {
                    rejoin::replace_bricks(&handle.client, &handle.endpoints, volume, bricks, via)
                        .await
                }
                None => Err(ReconcileError::MissingMetadata("a gluster client")),
            };
            // The planner's steps and the heal wait come next pass.
            gluster = Some(match outcome {
                Ok(done) => GlusterOutcome::Ran {
                    done,
                    waiting: Some(format!(
                        "brick(s) {} replaced on blank disks; healing",
                        bricks
                            .iter()
                            .map(|(_, new)| new.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
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
            fenced()?;
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

/// Where the servers of retired nodes go.
#[derive(Clone, Copy)]
struct Retiring<'a> {
    cloud: &'a crate::cloud::Cloud,
    owner: &'a Owner,
    policy: crate::api::DeletionPolicy,
}

/// Runs the steps; when any was taken, the volume is observed again for the status. Retired
/// nodes (`DeleteNode`) lose their server, port and brick volume (per the deletion policy)
/// once every step ran.
async fn run_gluster(
    handle: &GlusterHandle,
    fence: Option<&crate::fence::Fence>,
    retiring: Retiring<'_>,
    volume: &str,
    steps: &[crate::plan::Step],
    nodes: &super::decide::GlusterNodes,
    then: Option<String>,
) -> Result<GlusterOutcome, ReconcileError> {
    let view = gluster::Nodes {
        endpoints: &handle.endpoints,
        gluster: nodes,
        fence,
    };
    let mut run = gluster::run_steps(&handle.client, view, volume, steps).await?;
    if run.waiting.is_none() && !run.retire.is_empty() {
        let done =
            retire::retire_nodes(retiring.cloud, retiring.owner, retiring.policy, &run.retire)
                .await?;
        run.done.extend(done);
    }
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

//! The planner: spec + what exists → target nodes, target layout and the safe steps between.
//!
//! Three cases, chosen by what exists:
//! - no volume yet: lay out every target node fresh, create and start the volume;
//! - a volume whose replica count follows the node count (replicas, stripes and disperse unset):
//!   each new node raises the replica count by one (add-brick + full heal), each removed node
//!   lowers it by one after heal info shows nothing pending;
//! - a distributed volume: new nodes form whole new sets appended after the existing bricks
//!   (then rebalance), removed nodes must be whole existing sets (remove-brick start → wait for
//!   completion → commit), and only when the remaining sets hold the data with 10% kept free
//!   ([`super::error::CAPACITY_MARGIN_PERCENT`]); the controller runs one removal per pass and
//!   refuses to start one on an unhealthy volume (`docs/scale-in.md`).
//!
//! Nodes keep their names and indices; new nodes get the next indices after the highest existing
//! one and the next ordinals of their zone, zones interleaved (A1 B1 A2 B2 …).

use std::collections::HashSet;

use crate::api::GlusterClusterSpec;

use super::bricks::assign;
use super::command::{Arg, Gluster, Part};
use super::error::PlanError;
use super::model::{
    Brick, BrickSet, ClusterPlan, CurrentState, ExistingNode, PlannedNode, VolumeState, ZonePlan,
};
use super::nodes::{Node, World, check_current, merge_by_index};
use super::notes::notes;
use super::shape::{VolumeShape, derive_shape};
use super::steps::Step;
use super::storage::{CloudFacts, zone_storage};
use super::validate::{Prepared, prepare};

/// Plan a cluster that does not exist yet.
pub fn plan_cluster(
    name: &str,
    spec: &GlusterClusterSpec,
    facts: &CloudFacts,
) -> Result<ClusterPlan, PlanError> {
    plan_change(name, spec, facts, &CurrentState::default())
}

/// Plan the way from `current` to `spec` for the cluster called `name`.
pub fn plan_change(
    name: &str,
    spec: &GlusterClusterSpec,
    facts: &CloudFacts,
    current: &CurrentState,
) -> Result<ClusterPlan, PlanError> {
    let prep = prepare(name, spec)?;
    let shape = derive_shape(&spec.volume, prep.total, &prep.zone_counts)?;
    let storages = spec
        .zones
        .iter()
        .enumerate()
        .map(|(i, z)| zone_storage(i, z, &spec.flavor, facts))
        .collect::<Result<Vec<_>, _>>()?;
    check_current(current)?;
    let world = World::new(spec, current);
    let gluster = Gluster {
        volume: spec.volume.name.clone(),
        brick_path: prep.brick_path.clone(),
    };

    let planner = Planner {
        name,
        spec,
        prep: &prep,
        shape: &shape,
        world: &world,
        gluster: &gluster,
        current,
    };
    let outcome = match &current.volume {
        None => planner.fresh()?,
        Some(volume) => {
            if volume.state == VolumeState::Stopped {
                return Err(PlanError::VolumeStopped {
                    volume: spec.volume.name.clone(),
                });
            }
            let mut outcome = if shape.replica_follows_nodes {
                planner.replica_change(volume)?
            } else {
                planner.distributed_change(volume)?
            };
            // What gluster shows is finished first (a pass that ended anywhere), then the
            // layout change; new nodes are created before either (the run stops there).
            let repairs = planner.repairs(
                volume,
                &outcome.steps,
                outcome.target.iter().map(|n| n.name.as_str()),
            );
            let creates = outcome
                .steps
                .iter()
                .take_while(|s| matches!(s, Step::CreateNode { .. }))
                .count();
            outcome.steps.splice(creates..creates, repairs);
            outcome
        }
    };

    let zone_plans: Vec<ZonePlan> = spec
        .zones
        .iter()
        .zip(storages)
        .map(|(z, storage)| ZonePlan {
            name: z.name.clone(),
            nodes: z.nodes,
            min_nodes: z.min_nodes,
            max_nodes: z.max_nodes,
            storage,
        })
        .collect();
    let nodes: Vec<PlannedNode> = outcome
        .target
        .iter()
        .map(|n| PlannedNode {
            name: n.name.clone(),
            index: n.index,
            zone: world.zone_names[n.zone].clone(),
            storage: zone_plans[n.zone].storage.choice.clone(),
            existing: n.existing,
        })
        .collect();
    let sets: Vec<BrickSet> = outcome
        .sets
        .iter()
        .map(|set| BrickSet {
            bricks: set
                .iter()
                .enumerate()
                .map(|(pos, &h)| Brick {
                    node: outcome.target[h].name.clone(),
                    zone: world.zone_names[outcome.target[h].zone].clone(),
                    arbiter: shape.arbiter > 0 && pos + 1 == set.len(),
                })
                .collect(),
        })
        .collect();
    let autoscaling = spec.autoscaling.as_ref().is_some_and(|a| a.enabled);
    let mut notes = notes(&shape, &prep, &zone_plans, &outcome, autoscaling);
    let spread = (shape.set_size as usize).min(zone_plans.iter().filter(|z| z.nodes > 0).count());
    let narrow: Vec<String> = sets
        .iter()
        .enumerate()
        .filter(|(_, set): &(usize, &BrickSet)| set.zones().len() < spread)
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if !narrow.is_empty() {
        notes.push(format!(
            "Set {} spans fewer than {spread} zones: it was laid out before the zones changed and \
             is not moved (scaling never reorders existing bricks); replacing its bricks one at a \
             time would spread it.",
            narrow.join(", ")
        ));
    }
    Ok(ClusterPlan {
        cluster: name.to_string(),
        volume: spec.volume.name.clone(),
        mount_path: prep.mount_path.clone(),
        brick_path: prep.brick_path.clone(),
        brick_bytes: prep.brick_bytes,
        shape,
        zones: zone_plans,
        nodes,
        sets,
        removed: outcome.removed,
        client_patterns: prep.client_patterns.clone(),
        steps: outcome.steps,
        notes,
    })
}

/// What one of the three cases yields.
pub(super) struct Outcome {
    /// Target nodes by index; set handles point into it.
    pub(super) target: Vec<Node>,
    /// Target sets as handles into `target`.
    pub(super) sets: Vec<Vec<usize>>,
    pub(super) removed: Vec<ExistingNode>,
    pub(super) steps: Vec<Step>,
    /// Creation, or a change with how many nodes come and go.
    pub(super) kind: OutcomeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutcomeKind {
    Create,
    Change { added: usize, removed: usize },
}

pub(super) struct Planner<'a> {
    /// The cluster (`metadata.name`).
    pub(super) name: &'a str,
    pub(super) spec: &'a GlusterClusterSpec,
    pub(super) prep: &'a Prepared,
    pub(super) shape: &'a VolumeShape,
    pub(super) world: &'a World,
    pub(super) gluster: &'a Gluster,
    pub(super) current: &'a CurrentState,
}

impl Planner<'_> {
    /// No volume yet: every target node is laid out fresh.
    pub(super) fn fresh(&self) -> Result<Outcome, PlanError> {
        let bricked = HashSet::new();
        let (kept, removed) = self.remove_spares(&bricked);
        let new = self.allocate(&kept)?;
        let target = merge_by_index(kept, new);
        let groups = self.groups(&target, |_| true);
        let sets = assign(&groups, self.shape.set_size, self.shape.kind)?;

        let runner = target
            .first()
            .map(|n| n.name.clone())
            .ok_or_else(|| PlanError::NoNodes {
                zones: self.prep.zone_counts.clone(),
            })?;
        let mut steps = Vec::new();
        for n in target.iter().filter(|n| !n.existing) {
            steps.push(Step::CreateNode {
                node: n.name.clone(),
            });
        }
        self.retire(&mut steps, &runner, &removed);
        let peers: Vec<String> = target.iter().skip(1).map(|n| n.name.clone()).collect();
        self.probe(&mut steps, &runner, &peers);
        let brick_order: Vec<&str> = sets
            .iter()
            .flatten()
            .map(|&h| target[h].name.as_str())
            .collect();
        steps.push(Step::CreateVolume {
            on: runner.clone(),
            command: self.gluster.volume_create(self.shape, brick_order),
        });
        if self.shape.sharding() {
            steps.push(Step::SetOption {
                on: runner.clone(),
                key: "features.shard".to_string(),
                command: self.gluster.volume_set("features.shard", Arg::text("on")),
            });
        }
        self.set_auth(&mut steps, &runner, target.iter().map(|n| n.name.as_str()));
        self.set_tls(&mut steps, &runner, target.iter().map(|n| n.name.as_str()));
        for (key, value) in &self.spec.volume.options {
            steps.push(Step::SetOption {
                on: runner.clone(),
                key: key.clone(),
                command: self.gluster.volume_set(key, Arg::text(value.clone())),
            });
        }
        steps.push(Step::StartVolume {
            on: runner,
            command: self.gluster.volume_start(),
        });
        Ok(Outcome {
            target,
            sets,
            removed,
            steps,
            kind: OutcomeKind::Create,
        })
    }

    pub(super) fn probe(&self, steps: &mut Vec<Step>, runner: &str, peers: &[String]) {
        for peer in peers.iter().filter(|p| p.as_str() != runner) {
            steps.push(Step::ProbePeer {
                on: runner.to_string(),
                peer: peer.clone(),
                command: self.gluster.peer_probe(peer),
            });
        }
        if peers.iter().any(|p| p != runner) {
            steps.push(Step::WaitPeersConnected {
                on: runner.to_string(),
                peers: peers
                    .iter()
                    .filter(|p| p.as_str() != runner)
                    .cloned()
                    .collect(),
                command: self.gluster.pool_list(),
            });
        }
    }

    pub(super) fn retire(&self, steps: &mut Vec<Step>, runner: &str, removed: &[ExistingNode]) {
        for n in removed {
            steps.push(Step::DetachPeer {
                on: runner.to_string(),
                peer: n.name.clone(),
                command: self.gluster.peer_detach(&n.name),
            });
            steps.push(Step::DeleteNode {
                node: n.name.clone(),
            });
        }
    }

    /// `auth.allow`: the client patterns, then every node of `nodes` (gluster checks its own
    /// servers too). Always set: with no allowedClients only the nodes are let in.
    pub(super) fn set_auth<'n>(
        &self,
        steps: &mut Vec<Step>,
        runner: &str,
        nodes: impl IntoIterator<Item = &'n str>,
    ) {
        steps.push(Step::SetOption {
            on: runner.to_string(),
            key: "auth.allow".to_string(),
            command: self
                .gluster
                .volume_set("auth.allow", self.auth_value(nodes)),
        });
    }

    /// The value of `auth.allow` with `nodes`: the client patterns (none when allowedClients
    /// is empty: default deny), then the nodes.
    pub(super) fn auth_value<'n>(&self, nodes: impl IntoIterator<Item = &'n str>) -> Arg {
        let mut parts = Vec::new();
        if !self.prep.client_patterns.is_empty() {
            parts.push(Part::Text(self.prep.client_patterns.join(",")));
        }
        for n in nodes {
            if !parts.is_empty() {
                parts.push(Part::Text(",".to_string()));
            }
            parts.push(Part::Host(n.to_string()));
        }
        Arg(parts)
    }
}

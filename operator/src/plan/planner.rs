//! The planner: spec + what exists → target nodes, target layout and the safe steps between.
//!
//! Three cases, chosen by what exists:
//! - no volume yet: lay out every target node fresh, create and start the volume;
//! - a volume whose replica count follows the node count (replicas, stripes and disperse unset):
//!   each new node raises the replica count by one (add-brick + full heal), each removed node
//!   lowers it by one after heal info shows nothing pending;
//! - a distributed volume: new nodes form whole new sets appended after the existing bricks
//!   (then rebalance), removed nodes must be whole existing sets (remove-brick start → wait for
//!   completion → commit), and only when the remaining sets hold the data.
//!
//! Nodes keep their names and indices; new nodes get the next indices after the highest existing
//! one and the next ordinals of their zone, zones interleaved (A1 B1 A2 B2 …).

use std::collections::{BTreeMap, HashSet};

use crate::api::GlusterClusterSpec;

use super::bricks::{ZoneGroup, assign};
use super::command::{Arg, Gluster, Part};
use super::error::{PlanError, zone_counts};
use super::model::{
    Brick, BrickSet, ClusterPlan, CurrentState, ExistingNode, ObservedVolume, PlannedNode, ZonePlan,
};
use super::names::{MAX_LABEL, node_name, ordinal_of};
use super::shape::{SetKind, VolumeShape, derive_shape};
use super::steps::Step;
use super::storage::{CloudFacts, zone_storage};
use super::validate::{Prepared, prepare};

/// Upper bound on the whole-set search (states visited) before a scale-in is refused.
const SEARCH_LIMIT: usize = 1_000_000;

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
        spec,
        prep: &prep,
        shape: &shape,
        world: &world,
        gluster: &gluster,
        current,
    };
    let outcome = match &current.volume {
        None => planner.fresh()?,
        Some(volume) if shape.replica_follows_nodes => planner.replica_change(volume)?,
        Some(volume) => planner.distributed_change(volume)?,
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
    let sets = outcome
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
    let notes = notes(&shape, &prep, &zone_plans, &outcome);
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

/// A node of the target cluster while planning.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    index: u32,
    /// Position in `World::zone_names`.
    zone: usize,
    existing: bool,
}

/// The zones the planner deals with: the spec's, then zones that only existing nodes name.
struct World {
    zone_names: Vec<String>,
    /// Nodes wanted per zone (0 for zones no longer in the spec).
    desired: Vec<u32>,
    /// Existing nodes per zone, by index.
    existing: Vec<Vec<ExistingNode>>,
}

impl World {
    fn new(spec: &GlusterClusterSpec, current: &CurrentState) -> World {
        let mut zone_names: Vec<String> = spec.zones.iter().map(|z| z.name.clone()).collect();
        let mut desired: Vec<u32> = spec.zones.iter().map(|z| z.nodes).collect();
        let mut orphans: Vec<&str> = current
            .nodes
            .iter()
            .map(|n| n.zone.as_str())
            .filter(|z| !zone_names.iter().any(|s| s == z))
            .collect();
        orphans.sort_unstable();
        orphans.dedup();
        for z in orphans {
            zone_names.push(z.to_string());
            desired.push(0);
        }
        let mut existing: Vec<Vec<ExistingNode>> = vec![Vec::new(); zone_names.len()];
        for n in &current.nodes {
            if let Some(z) = zone_names.iter().position(|s| *s == n.zone) {
                existing[z].push(n.clone());
            }
        }
        for nodes in &mut existing {
            nodes.sort_by_key(|n| n.index);
        }
        World {
            zone_names,
            desired,
            existing,
        }
    }

    fn zone_of(&self, zone: &str) -> usize {
        // Every existing node's zone was added in `new`.
        self.zone_names.iter().position(|z| z == zone).unwrap_or(0)
    }
}

/// What one of the three cases yields.
struct Outcome {
    /// Target nodes by index; set handles point into it.
    target: Vec<Node>,
    /// Target sets as handles into `target`.
    sets: Vec<Vec<usize>>,
    removed: Vec<ExistingNode>,
    steps: Vec<Step>,
    /// Creation, or a change with how many nodes come and go.
    kind: OutcomeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutcomeKind {
    Create,
    Change { added: usize, removed: usize },
}

struct Planner<'a> {
    spec: &'a GlusterClusterSpec,
    prep: &'a Prepared,
    shape: &'a VolumeShape,
    world: &'a World,
    gluster: &'a Gluster,
    current: &'a CurrentState,
}

impl Planner<'_> {
    /// No volume yet: every target node is laid out fresh.
    fn fresh(&self) -> Result<Outcome, PlanError> {
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

    /// A pure replicate volume whose replica count follows the node count.
    fn replica_change(&self, volume: &ObservedVolume) -> Result<Outcome, PlanError> {
        let n = volume.bricks.len() as u32;
        if volume.disperse_count > 0 || (n > 1 && volume.replica_count != n) {
            return Err(PlanError::LayoutMismatch {
                field: "spec.volume.replicas",
                wanted: "unset (every node holds every file)".to_string(),
                current: volume.notation(),
                why: format!(
                    "a volume of several sets cannot become a single replica set; set \
                     spec.volume.replicas to {} (or disperse to match)",
                    volume.set_size()
                ),
            });
        }
        let bricked: HashSet<&str> = volume.bricks.iter().map(String::as_str).collect();
        // Remove spares first, then the bricked nodes with the highest indices.
        let (kept, mut removed) = self.remove_spares(&bricked);
        let mut keep = Vec::new();
        for z in 0..self.world.zone_names.len() {
            let mut in_zone: Vec<Node> = kept.iter().filter(|n| n.zone == z).cloned().collect();
            let desired = self.world.desired[z] as usize;
            while in_zone.len() > desired {
                if let Some(last) = in_zone.pop() {
                    removed.push(ExistingNode {
                        name: last.name,
                        index: last.index,
                        zone: self.world.zone_names[z].clone(),
                    });
                }
            }
            keep.extend(in_zone);
        }
        keep.sort_by_key(|n| n.index);
        removed.sort_by_key(|n| n.index);
        let new = self.allocate(&keep)?;
        let target = merge_by_index(keep, new);

        let removed_names: HashSet<&str> = removed.iter().map(|n| n.name.as_str()).collect();
        let handle: BTreeMap<&str, usize> = target
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut set: Vec<usize> = volume
            .bricks
            .iter()
            .filter(|b| !removed_names.contains(b.as_str()))
            .filter_map(|b| handle.get(b.as_str()).copied())
            .collect();
        let groups = self.groups(&target, |n| !bricked.contains(n.name.as_str()));
        let adding: Vec<usize> = interleave(&groups);
        set.extend(adding.iter().copied());
        if set.len() as u32 != self.shape.nodes {
            return Err(PlanError::InconsistentState {
                detail: format!(
                    "the volume would hold {} bricks but the spec asks for {} nodes",
                    set.len(),
                    self.shape.nodes
                ),
            });
        }

        let add_runner = runner_from(&volume.bricks, &removed_names, &self.current.nodes);
        let mut steps = Vec::new();
        for n in target.iter().filter(|n| !n.existing) {
            steps.push(Step::CreateNode {
                node: n.name.clone(),
            });
        }
        let adding_names: Vec<String> = adding.iter().map(|&h| target[h].name.clone()).collect();
        self.probe(&mut steps, &add_runner, &adding_names);
        if !adding_names.is_empty() {
            self.set_auth(
                &mut steps,
                &add_runner,
                pool_after_adds(self.current, &target),
            );
        }
        let mut replica = n;
        for node in &adding_names {
            replica += 1;
            steps.push(Step::AddBricks {
                on: add_runner.clone(),
                bricks: vec![node.clone()],
                replica: Some(replica),
                command: self.gluster.add_replica_brick(replica, node),
            });
            steps.push(Step::HealFull {
                on: add_runner.clone(),
                command: self.gluster.heal_full(),
            });
            steps.push(Step::WaitHealed {
                on: add_runner.clone(),
                command: self.gluster.heal_info(),
            });
        }
        let remove_runner = set
            .first()
            .map(|&h| target[h].name.clone())
            .unwrap_or_else(|| add_runner.clone());
        // Highest index first: the newest brick leaves first.
        for node in removed
            .iter()
            .rev()
            .filter(|n| bricked.contains(n.name.as_str()))
        {
            replica -= 1;
            steps.push(Step::WaitHealed {
                on: remove_runner.clone(),
                command: self.gluster.heal_info(),
            });
            steps.push(Step::RemoveReplicaBrick {
                on: remove_runner.clone(),
                brick: node.name.clone(),
                replica,
                command: self.gluster.remove_replica_brick(replica, &node.name),
            });
        }
        self.retire(&mut steps, &remove_runner, &removed);
        if !removed.is_empty() {
            self.set_auth(
                &mut steps,
                &remove_runner,
                target.iter().map(|n| n.name.as_str()),
            );
        }
        Ok(Outcome {
            kind: OutcomeKind::Change {
                added: adding_names.len(),
                removed: removed.len(),
            },
            target,
            sets: vec![set],
            removed,
            steps,
        })
    }

    /// A distributed volume: whole sets come and go.
    fn distributed_change(&self, volume: &ObservedVolume) -> Result<Outcome, PlanError> {
        self.check_same_sets(volume)?;
        let s = self.shape.set_size as usize;
        let bricked: HashSet<&str> = volume.bricks.iter().map(String::as_str).collect();
        let zone_by_node: BTreeMap<&str, usize> = self
            .current
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), self.world.zone_of(&n.zone)))
            .collect();
        let current_sets: Vec<&[String]> = volume.bricks.chunks(s).collect();

        // Spares go first; what is left to remove must be whole sets.
        let spare_count: Vec<usize> = (0..self.world.zone_names.len())
            .map(|z| {
                self.world.existing[z]
                    .iter()
                    .filter(|n| !bricked.contains(n.name.as_str()))
                    .count()
            })
            .collect();
        let (kept_after_spares, mut removed) = self.remove_spares(&bricked);
        let need: Vec<u32> = (0..self.world.zone_names.len())
            .map(|z| {
                let c = self.world.existing[z].len();
                let d = self.world.desired[z] as usize;
                let spares_removed = c.saturating_sub(d).min(spare_count[z]);
                (c.saturating_sub(d) - spares_removed) as u32
            })
            .collect();
        let hist: Vec<Vec<u32>> = current_sets
            .iter()
            .map(|set| {
                let mut h = vec![0u32; self.world.zone_names.len()];
                for b in set.iter() {
                    if let Some(&z) = zone_by_node.get(b.as_str()) {
                        h[z] += 1;
                    }
                }
                h
            })
            .collect();
        let removed_sets: Vec<usize> = if need.iter().all(|&n| n == 0) {
            Vec::new()
        } else {
            find_whole_sets(&hist, &need).ok_or_else(|| PlanError::NotWholeSets {
                kind: self.shape.kind.word(),
                set_size: self.shape.set_size,
                removing: zone_counts(
                    self.world
                        .zone_names
                        .iter()
                        .zip(&need)
                        .filter(|(_, n)| **n > 0)
                        .map(|(z, n)| (z.as_str(), *n)),
                ),
                sets: describe_sets(&current_sets, &hist, &self.world.zone_names),
            })?
        };
        let removed_set_nodes: HashSet<&str> = removed_sets
            .iter()
            .flat_map(|&i| current_sets[i].iter().map(String::as_str))
            .collect();
        let keep: Vec<Node> = kept_after_spares
            .into_iter()
            .filter(|n| !removed_set_nodes.contains(n.name.as_str()))
            .collect();
        for n in &self.current.nodes {
            if removed_set_nodes.contains(n.name.as_str()) {
                removed.push(n.clone());
            }
        }
        removed.sort_by_key(|n| n.index);

        if let Some(used) = self.current.used_bytes
            && !removed_sets.is_empty()
        {
            let capacity_after = self.shape.capacity(self.prep.brick_bytes);
            if used > capacity_after {
                return Err(PlanError::InsufficientCapacity {
                    sets_after: self.shape.sets,
                    capacity_after,
                    used,
                });
            }
        }

        let new = self.allocate(&keep)?;
        let target = merge_by_index(keep, new);
        let handle: BTreeMap<&str, usize> = target
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut sets: Vec<Vec<usize>> = current_sets
            .iter()
            .enumerate()
            .filter(|(i, _)| !removed_sets.contains(i))
            .map(|(_, set)| {
                set.iter()
                    .filter_map(|b| handle.get(b.as_str()).copied())
                    .collect()
            })
            .collect();
        let groups = self.groups(&target, |n| !bricked.contains(n.name.as_str()));
        let adding_count: usize = groups.iter().map(|g| g.nodes.len()).sum();
        let new_sets = if adding_count == 0 {
            Vec::new()
        } else {
            self.check_new_spread(&groups)?;
            assign(&groups, self.shape.set_size, self.shape.kind)?
        };
        sets.extend(new_sets.iter().cloned());
        if sets.len() as u32 != self.shape.sets || sets.iter().any(|set| set.len() != s) {
            return Err(PlanError::InconsistentState {
                detail: format!(
                    "the change would leave {} sets but the spec asks for {}",
                    sets.len(),
                    self.shape.sets
                ),
            });
        }

        let removed_names: HashSet<&str> = removed.iter().map(|n| n.name.as_str()).collect();
        let add_runner = runner_from(&volume.bricks, &removed_names, &self.current.nodes);
        let mut steps = Vec::new();
        for n in target.iter().filter(|n| !n.existing) {
            steps.push(Step::CreateNode {
                node: n.name.clone(),
            });
        }
        let adding: Vec<String> = new_sets
            .iter()
            .flatten()
            .map(|&h| target[h].name.clone())
            .collect();
        self.probe(&mut steps, &add_runner, &adding);
        if !adding.is_empty() {
            self.set_auth(
                &mut steps,
                &add_runner,
                pool_after_adds(self.current, &target),
            );
            steps.push(Step::AddBricks {
                on: add_runner.clone(),
                bricks: adding.clone(),
                replica: None,
                command: self
                    .gluster
                    .add_sets(self.shape, adding.iter().map(String::as_str)),
            });
            steps.push(Step::RebalanceStart {
                on: add_runner.clone(),
                command: self.gluster.rebalance_start(),
            });
            steps.push(Step::WaitRebalance {
                on: add_runner.clone(),
                command: self.gluster.rebalance_status(),
            });
        }
        let remove_runner = sets
            .first()
            .and_then(|set| set.first())
            .map(|&h| target[h].name.clone())
            .unwrap_or_else(|| add_runner.clone());
        if !removed_sets.is_empty() {
            let leaving: Vec<String> = removed_sets
                .iter()
                .flat_map(|&i| current_sets[i].iter().cloned())
                .collect();
            let leaving_refs = || leaving.iter().map(String::as_str);
            steps.push(Step::RemoveBricksStart {
                on: remove_runner.clone(),
                bricks: leaving.clone(),
                command: self.gluster.remove_bricks(leaving_refs(), "start"),
            });
            steps.push(Step::WaitRemoveBricks {
                on: remove_runner.clone(),
                bricks: leaving.clone(),
                command: self.gluster.remove_bricks(leaving_refs(), "status"),
            });
            steps.push(Step::RemoveBricksCommit {
                on: remove_runner.clone(),
                bricks: leaving.clone(),
                command: self.gluster.remove_bricks(leaving_refs(), "commit"),
            });
        }
        self.retire(&mut steps, &remove_runner, &removed);
        if !removed.is_empty() {
            self.set_auth(
                &mut steps,
                &remove_runner,
                target.iter().map(|n| n.name.as_str()),
            );
        }
        Ok(Outcome {
            kind: OutcomeKind::Change {
                added: adding.len(),
                removed: removed.len(),
            },
            target,
            sets,
            removed,
            steps,
        })
    }

    /// A distributed volume keeps its set size, kind, arbiter and redundancy.
    fn check_same_sets(&self, volume: &ObservedVolume) -> Result<(), PlanError> {
        let shape = self.shape;
        let (field, wanted) = match shape.kind {
            SetKind::Disperse => (
                "spec.volume.disperse/redundancy",
                format!(
                    "disperse {} redundancy {}",
                    shape.disperse, shape.redundancy
                ),
            ),
            SetKind::Replica if shape.arbiter > 0 => (
                "spec.volume.replicas/arbiter",
                format!("replica {} arbiter {}", shape.replica, shape.arbiter),
            ),
            SetKind::Replica => (
                "spec.volume.replicas/stripes",
                format!("sets of {} (replica {})", shape.set_size, shape.replica),
            ),
        };
        let same = match shape.kind {
            SetKind::Disperse => {
                volume.disperse_count == shape.disperse
                    && volume.redundancy_count == shape.redundancy
            }
            SetKind::Replica => {
                volume.disperse_count == 0
                    && volume.replica_count.max(1) == shape.replica
                    && volume.arbiter_count == shape.arbiter
            }
        };
        if !same {
            let hint = if self.spec.volume.replicas.is_none() && self.shape.stripes.is_some() {
                "; with spec.volume.replicas unset the set size is nodes / stripes, so set \
                 spec.volume.replicas to keep it and change stripes with the node count"
            } else {
                ""
            };
            return Err(PlanError::LayoutMismatch {
                field,
                wanted,
                current: volume.notation(),
                why: format!(
                    "changing the set shape of an existing distributed volume is not supported; \
                     scaling adds or removes whole sets of the current shape{hint}"
                ),
            });
        }
        if volume.bricks.len() % shape.set_size as usize != 0 {
            return Err(PlanError::InconsistentState {
                detail: format!(
                    "the volume has {} bricks, not a multiple of its set size {}",
                    volume.bricks.len(),
                    shape.set_size
                ),
            });
        }
        Ok(())
    }

    /// New sets must span as many zones as the cluster's sets do.
    fn check_new_spread(&self, groups: &[ZoneGroup<'_>]) -> Result<(), PlanError> {
        let s = self.shape.set_size as usize;
        let zones_total = self.world.desired[..self.spec.zones.len()]
            .iter()
            .filter(|&&d| d > 0)
            .count();
        let zones_new = groups.iter().filter(|g| !g.nodes.is_empty()).count();
        let wanted = s.min(zones_total);
        if s.min(zones_new) < wanted {
            let adding: usize = groups.iter().map(|g| g.nodes.len()).sum();
            return Err(PlanError::UnevenZones {
                kind: self.shape.kind.word(),
                sets: (adding / s) as u32,
                set_size: self.shape.set_size,
                zones: zone_counts(
                    groups
                        .iter()
                        .filter(|g| !g.nodes.is_empty())
                        .map(|g| (g.zone, g.nodes.len() as u32)),
                ),
                detail: format!(
                    "the {adding} nodes being added cover {zones_new} zone(s) but each new set must \
                     span {wanted} zones like the rest of the volume; add nodes in more zones at once"
                ),
            });
        }
        Ok(())
    }

    /// Drop existing nodes without a brick (spares), highest index first, while a zone holds
    /// more nodes than it wants. Nodes with a brick are the callers' to remove.
    fn remove_spares(&self, bricked: &HashSet<&str>) -> (Vec<Node>, Vec<ExistingNode>) {
        let mut kept = Vec::new();
        let mut removed = Vec::new();
        for (z, nodes) in self.world.existing.iter().enumerate() {
            let desired = self.world.desired[z] as usize;
            let mut excess = nodes.len().saturating_sub(desired);
            let mut drop: HashSet<&str> = HashSet::new();
            for n in nodes.iter().rev() {
                if excess == 0 {
                    break;
                }
                if !bricked.contains(n.name.as_str()) {
                    drop.insert(&n.name);
                    excess -= 1;
                }
            }
            for n in nodes {
                if drop.contains(n.name.as_str()) {
                    removed.push(n.clone());
                } else {
                    kept.push(Node {
                        name: n.name.clone(),
                        index: n.index,
                        zone: z,
                        existing: true,
                    });
                }
            }
        }
        kept.sort_by_key(|n| n.index);
        removed.sort_by_key(|n| n.index);
        (kept, removed)
    }

    /// New nodes so each spec zone reaches its count: zones interleaved, next indices after the
    /// highest existing one, next ordinals of each zone.
    fn allocate(&self, kept: &[Node]) -> Result<Vec<Node>, PlanError> {
        let zones = self.spec.zones.len();
        let mut need: Vec<usize> = (0..zones)
            .map(|z| {
                let have = kept.iter().filter(|n| n.zone == z).count();
                (self.world.desired[z] as usize).saturating_sub(have)
            })
            .collect();
        let mut taken: HashSet<String> =
            self.current.nodes.iter().map(|n| n.name.clone()).collect();
        let mut next_index = self
            .current
            .nodes
            .iter()
            .map(|n| n.index)
            .max()
            .map_or(1, |m| m.saturating_add(1));
        let mut next_ordinal: Vec<u32> = (0..zones)
            .map(|z| {
                let existing = &self.world.existing[z];
                let parsed = existing
                    .iter()
                    .filter_map(|n| {
                        ordinal_of(&n.name, &self.prep.cluster_part, &self.prep.zone_parts[z])
                    })
                    .max()
                    .unwrap_or(0);
                parsed.max(existing.len() as u32) + 1
            })
            .collect();
        let mut out = Vec::new();
        while need.iter().any(|&n| n > 0) {
            for z in 0..zones {
                if need[z] == 0 {
                    continue;
                }
                let mut name = node_name(
                    &self.prep.cluster_part,
                    &self.prep.zone_parts[z],
                    next_ordinal[z],
                );
                while taken.contains(&name) {
                    next_ordinal[z] += 1;
                    name = node_name(
                        &self.prep.cluster_part,
                        &self.prep.zone_parts[z],
                        next_ordinal[z],
                    );
                }
                if name.len() > MAX_LABEL {
                    return Err(PlanError::NameTooLong {
                        len: name.len(),
                        name,
                        zone_index: z,
                    });
                }
                next_ordinal[z] += 1;
                taken.insert(name.clone());
                out.push(Node {
                    name,
                    index: next_index,
                    zone: z,
                    existing: false,
                });
                next_index = next_index.saturating_add(1);
                need[z] -= 1;
            }
        }
        Ok(out)
    }

    /// The target nodes of each spec zone that `include` selects, by index.
    fn groups<'w>(
        &'w self,
        target: &[Node],
        include: impl Fn(&Node) -> bool,
    ) -> Vec<ZoneGroup<'w>> {
        (0..self.spec.zones.len())
            .map(|z| ZoneGroup {
                zone: &self.world.zone_names[z],
                nodes: target
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.zone == z && include(n))
                    .map(|(h, _)| h)
                    .collect(),
            })
            .collect()
    }

    fn probe(&self, steps: &mut Vec<Step>, runner: &str, peers: &[String]) {
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

    fn retire(&self, steps: &mut Vec<Step>, runner: &str, removed: &[ExistingNode]) {
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
    /// servers too). Nothing when allowedClients is empty.
    fn set_auth<'n>(
        &self,
        steps: &mut Vec<Step>,
        runner: &str,
        nodes: impl IntoIterator<Item = &'n str>,
    ) {
        if self.prep.client_patterns.is_empty() {
            return;
        }
        let mut parts = vec![Part::Text(self.prep.client_patterns.join(","))];
        for n in nodes {
            parts.push(Part::Text(",".to_string()));
            parts.push(Part::Host(n.to_string()));
        }
        steps.push(Step::SetOption {
            on: runner.to_string(),
            key: "auth.allow".to_string(),
            command: self.gluster.volume_set("auth.allow", Arg(parts)),
        });
    }
}

/// Check the current state for things no plan can start from.
fn check_current(current: &CurrentState) -> Result<(), PlanError> {
    let mut names = HashSet::new();
    let mut indices = HashSet::new();
    for n in &current.nodes {
        if !names.insert(n.name.as_str()) {
            return Err(PlanError::InconsistentState {
                detail: format!("node {} appears twice", n.name),
            });
        }
        if !indices.insert(n.index) {
            return Err(PlanError::InconsistentState {
                detail: format!("index {} is held by two nodes (one is {})", n.index, n.name),
            });
        }
    }
    if let Some(volume) = &current.volume {
        if volume.bricks.is_empty() {
            return Err(PlanError::InconsistentState {
                detail: "the volume has no bricks".to_string(),
            });
        }
        let mut seen = HashSet::new();
        for b in &volume.bricks {
            if !names.contains(b.as_str()) {
                return Err(PlanError::InconsistentState {
                    detail: format!(
                        "the volume has a brick on {b}, which is not a node of the cluster"
                    ),
                });
            }
            if !seen.insert(b.as_str()) {
                return Err(PlanError::InconsistentState {
                    detail: format!("node {b} holds two bricks of the volume"),
                });
            }
        }
    }
    Ok(())
}

/// Kept and new nodes, by index.
fn merge_by_index(kept: Vec<Node>, new: Vec<Node>) -> Vec<Node> {
    let mut all: Vec<Node> = kept.into_iter().chain(new).collect();
    all.sort_by_key(|n| n.index);
    all
}

/// Handles of `groups` round-robin over zones (A1 B1 A2 B2 …).
fn interleave(groups: &[ZoneGroup<'_>]) -> Vec<usize> {
    let rounds = groups.iter().map(|g| g.nodes.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for r in 0..rounds {
        for g in groups {
            if let Some(&h) = g.nodes.get(r) {
                out.push(h);
            }
        }
    }
    out
}

/// The node that runs the commands of a change: the lowest-index node with a brick that stays,
/// else the lowest-index node with a brick.
fn runner_from(bricks: &[String], removed: &HashSet<&str>, nodes: &[ExistingNode]) -> String {
    let index_of = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .map_or(u32::MAX, |n| n.index)
    };
    let staying = bricks
        .iter()
        .filter(|b| !removed.contains(b.as_str()))
        .min_by_key(|b| index_of(b));
    staying
        .or_else(|| bricks.iter().min_by_key(|b| index_of(b)))
        .cloned()
        .unwrap_or_default()
}

/// Every node in the pool while adds run: existing ones (leaving ones still serve) and new ones.
fn pool_after_adds<'a>(current: &'a CurrentState, target: &'a [Node]) -> Vec<&'a str> {
    let mut all: Vec<(u32, &str)> = current
        .nodes
        .iter()
        .map(|n| (n.index, n.name.as_str()))
        .chain(
            target
                .iter()
                .filter(|n| !n.existing)
                .map(|n| (n.index, n.name.as_str())),
        )
        .collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter().map(|(_, n)| n).collect()
}

/// Whole sets (newest first) whose per-zone node counts add up to `need` exactly.
fn find_whole_sets(hist: &[Vec<u32>], need: &[u32]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy)]
    enum Stage {
        Enter,
        Included,
        Excluded,
    }
    let mut need = need.to_vec();
    let mut chosen: Vec<usize> = Vec::new();
    let mut failed: HashSet<(usize, Vec<u32>)> = HashSet::new();
    let mut stack: Vec<(usize, Stage)> = vec![(hist.len(), Stage::Enter)];
    let mut visited = 0usize;
    while let Some((i, stage)) = stack.pop() {
        visited += 1;
        if visited > SEARCH_LIMIT {
            return None;
        }
        match stage {
            Stage::Enter => {
                if need.iter().all(|&n| n == 0) {
                    chosen.sort_unstable();
                    return Some(chosen);
                }
                if i == 0 || failed.contains(&(i, need.clone())) {
                    continue;
                }
                let h = &hist[i - 1];
                if h.iter().zip(&need).all(|(a, b)| a <= b) {
                    for (n, a) in need.iter_mut().zip(h) {
                        *n -= a;
                    }
                    chosen.push(i - 1);
                    stack.push((i, Stage::Included));
                } else {
                    stack.push((i, Stage::Excluded));
                }
                stack.push((i - 1, Stage::Enter));
            }
            Stage::Included => {
                // Including set i-1 led nowhere: undo and try without it.
                chosen.pop();
                for (n, a) in need.iter_mut().zip(&hist[i - 1]) {
                    *n += a;
                }
                stack.push((i, Stage::Excluded));
                stack.push((i - 1, Stage::Enter));
            }
            Stage::Excluded => {
                failed.insert((i, need.clone()));
            }
        }
    }
    None
}

fn describe_sets(sets: &[&[String]], hist: &[Vec<u32>], zone_names: &[String]) -> String {
    sets.iter()
        .zip(hist)
        .enumerate()
        .map(|(i, (_, h))| {
            let zones = zone_counts(
                zone_names
                    .iter()
                    .zip(h)
                    .filter(|(_, n)| **n > 0)
                    .map(|(z, n)| (z.as_str(), *n)),
            );
            format!("set {}: {zones}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Remarks for a human reader.
fn notes(
    shape: &VolumeShape,
    prep: &Prepared,
    zones: &[ZonePlan],
    outcome: &Outcome,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(stripes) = shape.stripes {
        out.push(format!(
            "spec.volume.stripes {stripes}: GlusterFS 6 removed the stripe translator, so the \
             volume has {stripes} distribute subvolumes with features.shard on; large files are \
             cut into shards spread across them."
        ));
    }
    if shape.replica_follows_nodes {
        if shape.nodes == 1 {
            out.push(
                "One node: a plain distribute volume of one brick, without redundancy. \
                 spec.volume.replicas is unset, so each added node raises the replica count."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "spec.volume.replicas is unset: every node holds every file (replica {}). A node \
                 added raises the replica count (add-brick replica {}), a node removed lowers it.",
                shape.replica,
                shape.replica + 1
            ));
        }
    } else if shape.kind == SetKind::Replica && shape.replica == 1 && shape.nodes > 1 {
        out.push(
            "Replica 1: no redundancy; losing a node loses the files on its brick.".to_string(),
        );
    }
    if shape.kind == SetKind::Replica && shape.replica == 2 {
        out.push(
            "Replica 2 can split-brain when the two bricks disagree; replicas 3 or arbiter 1 \
             avoid it."
                .to_string(),
        );
    }
    if shape.redundancy_defaulted {
        out.push(format!(
            "spec.volume.redundancy is unset: redundancy {} is gluster's default for disperse {}.",
            shape.redundancy, shape.disperse
        ));
    }
    let populated: Vec<&ZonePlan> = zones.iter().filter(|z| z.nodes > 0).collect();
    if populated.len() == 1 && shape.set_size > 1 {
        out.push(format!(
            "All bricks are in zone {}: an outage of that zone stops the volume.",
            populated[0].name
        ));
    }
    let undecided: Vec<&str> = zones
        .iter()
        .filter(|z| z.storage.choice.storage().is_none())
        .map(|z| z.name.as_str())
        .collect();
    if !undecided.is_empty() {
        out.push(format!(
            "Storage of {} is decided once the cloud's block storage zones are known (the plan \
             command takes them as --block-storage-zones).",
            undecided.join(", ")
        ));
    }
    if !prep.client_patterns.is_empty() {
        out.push(
            "auth.allow lists the allowed clients as gluster wildcards, then every node (gluster \
             checks its own servers against it too)."
                .to_string(),
        );
    }
    if let OutcomeKind::Change { added, removed } = outcome.kind
        && added == 0
        && removed == 0
    {
        out.push("The volume already matches the spec's node counts: nothing to do.".to_string());
    }
    out.push(
        "Hosts are node names here; the operator runs the commands with each node's address."
            .to_string(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sets_prefer_the_newest() {
        // Zones a, b; three sets each {a, b}.
        let hist = vec![vec![1, 1], vec![1, 1], vec![1, 1]];
        assert_eq!(find_whole_sets(&hist, &[1, 1]), Some(vec![2]));
        assert_eq!(find_whole_sets(&hist, &[2, 2]), Some(vec![1, 2]));
        assert_eq!(find_whole_sets(&hist, &[2, 1]), None);
    }

    #[test]
    fn whole_sets_search_backtracks() {
        // Greedy newest-first would take set 2 {a, c} and fail; the answer is sets 0 and 1.
        let hist = vec![vec![1, 1, 0], vec![0, 1, 1], vec![1, 0, 1]];
        assert_eq!(find_whole_sets(&hist, &[1, 2, 1]), Some(vec![0, 1]));
    }
}

//! Scaling an existing volume. A pure replicate volume (replica count following the node
//! count) gains or loses one brick at a time, with a heal in between; a distributed volume gains
//! whole sets appended after its bricks (then a rebalance) and loses whole sets through
//! remove-brick start → status → commit, only when the remaining sets hold the data with a
//! margin kept free (`docs/scale-in.md`).

use std::collections::{BTreeMap, HashSet};

use super::bricks::{ZoneGroup, assign};
use super::error::{PlanError, scale_in_limit, zone_counts};
use super::model::{CurrentState, ExistingNode, ObservedVolume};
use super::nodes::{Node, interleave, merge_by_index};
use super::planner::{Outcome, OutcomeKind, Planner};
use super::repair::Pending;
use super::shape::SetKind;
use super::steps::Step;
use super::whole_sets::{describe_sets, find_whole_sets};

impl Planner<'_> {
    /// A pure replicate volume whose replica count follows the node count.
    pub(super) fn replica_change(&self, volume: &ObservedVolume) -> Result<Outcome, PlanError> {
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
        if !adding_names.is_empty() {
            self.mark(&mut steps, &add_runner, &Pending::Heal);
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
        if !adding_names.is_empty() {
            self.mark(&mut steps, &add_runner, &Pending::Nothing);
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
    pub(super) fn distributed_change(&self, volume: &ObservedVolume) -> Result<Outcome, PlanError> {
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
            let limit = scale_in_limit(capacity_after);
            if used > limit {
                return Err(PlanError::InsufficientCapacity {
                    sets_after: self.shape.sets,
                    capacity_after,
                    limit,
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
            self.mark(
                &mut steps,
                &add_runner,
                &Pending::Rebalance {
                    after: volume.rebalance_task.clone(),
                },
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
            self.mark(&mut steps, &add_runner, &Pending::Nothing);
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
    pub(super) fn check_same_sets(&self, volume: &ObservedVolume) -> Result<(), PlanError> {
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
        if !volume.bricks.len().is_multiple_of(shape.set_size as usize) {
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
    pub(super) fn check_new_spread(&self, groups: &[ZoneGroup<'_>]) -> Result<(), PlanError> {
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
}

/// The node that runs the commands of a change: the lowest-index node with a brick that stays,
/// else the lowest-index node with a brick.
pub(super) fn runner_from(
    bricks: &[String],
    removed: &HashSet<&str>,
    nodes: &[ExistingNode],
) -> String {
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
pub(super) fn pool_after_adds<'a>(current: &'a CurrentState, target: &'a [Node]) -> Vec<&'a str> {
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

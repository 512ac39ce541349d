//! The node set: existing nodes grouped by zone, which ones go (spares first), and new nodes
//! with stable names and the next free indices.

use std::collections::HashSet;

use crate::api::GlusterClusterSpec;

use super::bricks::ZoneGroup;
use super::error::PlanError;
use super::model::{CurrentState, ExistingNode};
use super::names::{MAX_LABEL, node_name, ordinal_of};
use super::planner::Planner;

/// A node of the target cluster while planning.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) index: u32,
    /// Position in `World::zone_names`.
    pub(super) zone: usize,
    pub(super) existing: bool,
}

/// The zones the planner deals with: the spec's, then zones that only existing nodes name.
pub(super) struct World {
    pub(super) zone_names: Vec<String>,
    /// Nodes wanted per zone (0 for zones no longer in the spec).
    pub(super) desired: Vec<u32>,
    /// Existing nodes per zone, by index.
    pub(super) existing: Vec<Vec<ExistingNode>>,
}

impl World {
    pub(super) fn new(spec: &GlusterClusterSpec, current: &CurrentState) -> World {
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

    pub(super) fn zone_of(&self, zone: &str) -> usize {
        // Every existing node's zone was added in `new`.
        self.zone_names.iter().position(|z| z == zone).unwrap_or(0)
    }
}

impl Planner<'_> {
    /// Drop existing nodes without a brick (spares), highest index first, while a zone holds
    /// more nodes than it wants. Nodes with a brick are the callers' to remove.
    pub(super) fn remove_spares(&self, bricked: &HashSet<&str>) -> (Vec<Node>, Vec<ExistingNode>) {
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
    pub(super) fn allocate(&self, kept: &[Node]) -> Result<Vec<Node>, PlanError> {
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
            .map_or(0, |m| m.saturating_add(1));
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
    pub(super) fn groups<'w>(
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
}

/// Check the current state for things no plan can start from.
pub(super) fn check_current(current: &CurrentState) -> Result<(), PlanError> {
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
pub(super) fn merge_by_index(kept: Vec<Node>, new: Vec<Node>) -> Vec<Node> {
    let mut all: Vec<Node> = kept.into_iter().chain(new).collect();
    all.sort_by_key(|n| n.index);
    all
}

/// Handles of `groups` round-robin over zones (A1 B1 A2 B2 …).
pub(super) fn interleave(groups: &[ZoneGroup<'_>]) -> Vec<usize> {
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

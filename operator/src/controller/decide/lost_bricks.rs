//! Decide, lost bricks (pure): a node whose brick went with its server (the brick was the
//! server's ephemeral disk) is rebuilt only while every set its brick belongs to keeps a
//! healthy copy elsewhere, one node per set at a time; its blank disk then takes the old
//! brick's place with `replace-brick … commit force` (a new directory: gluster refuses to
//! reset a blank brick onto its old path) and self-heal fills it. When the brick held the last good copy
//! nothing is rebuilt over it: the cluster is `Degraded` (`LastCopyLost`) and waits for a
//! person. See `docs/design.md`, "Node identity and replacement".

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{BrickStorage, GlusterClusterStatus, VolumeStatus as ApiVolume};
use crate::controller::observe::{Observed, SeenVolume, offline_hosts};
use crate::plan::{ClusterPlan, ExistingNode};

use super::actions::Action;
use super::gluster::{GlusterNodes, volume_status};

/// Why a node that lost its brick is not rebuilt this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Its brick held the last good copy of a set: never rebuilt over by the operator.
    LastCopy {
        /// What is gone and why nothing is rebuilt, naming the bricks.
        message: String,
    },
    /// Another node of one of its sets is being rebuilt or healed first.
    Waiting {
        /// The node rebuilt first.
        behind: String,
    },
}

/// The nodes among `lost` (in-volume nodes without a server whose brick is the server's
/// ephemeral disk) that may be rebuilt now, and why the others are held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilds {
    /// Held nodes and why.
    pub held: BTreeMap<String, Held>,
}

impl Rebuilds {
    /// The `LastCopyLost` messages, in node order.
    pub fn last_copies(&self) -> Vec<&str> {
        self.held
            .values()
            .filter_map(|h| match h {
                Held::LastCopy { message } => Some(message.as_str()),
                Held::Waiting { .. } => None,
            })
            .collect()
    }
}

/// The nodes the volume has a brick on (`previous`, the status as last written) that have
/// neither a server nor a brick volume left but still their own port: they keep their name,
/// index and zone (as `previous.nodes` shows them) so that the planner plans them again and
/// not a new node beside them. (A node with a server or a brick volume is found through
/// those.)
pub fn ported(previous: Option<&GlusterClusterStatus>, cloud: &Observed) -> Vec<ExistingNode> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let Some(volume) = &previous.volume else {
        return Vec::new();
    };
    previous
        .nodes
        .iter()
        .filter(|n| volume.bricks.iter().any(|b| b.node == n.name))
        .filter(|n| cloud.server(&n.name).is_none() && cloud.volume(&n.name).is_none())
        .filter(|n| cloud.port(&n.name).is_some())
        .map(|n| ExistingNode {
            name: n.name.clone(),
            index: n.index,
            zone: n.zone.clone(),
        })
        .collect()
}

/// The in-volume nodes of `plan` without a server whose brick is the server's own ephemeral
/// disk: their brick is gone with it.
pub fn brickless(
    plan: &ClusterPlan,
    cloud: &Observed,
    in_volume: &BTreeSet<String>,
) -> Vec<String> {
    plan.nodes
        .iter()
        .filter(|n| n.storage.storage() == Some(BrickStorage::Ephemeral))
        .filter(|n| in_volume.contains(&n.name) && cloud.server(&n.name).is_none())
        .map(|n| n.name.clone())
        .collect()
}

/// Which of `lost` (in plan order) may be rebuilt: a node is rebuilt while every set its brick
/// is in keeps enough healthy data bricks on other nodes (`volume` as the last status showed
/// it; a node in `unavailable` — without a server, or healing — counts as no copy), and no
/// other node of those sets is rebuilt before it.
pub fn rebuilds(
    volume: Option<&ApiVolume>,
    lost: &[String],
    unavailable: &BTreeSet<String>,
) -> Rebuilds {
    let mut out = Rebuilds::default();
    let Some(volume) = volume else {
        return out;
    };
    let mut busy: BTreeSet<String> = unavailable.clone();
    busy.extend(lost.iter().cloned());
    let mut rebuilding: Vec<String> = Vec::new();
    for node in lost {
        let sets = sets_of(volume, node);
        if let Some(message) = last_copy(volume, node, &sets, &busy) {
            out.held.insert(node.clone(), Held::LastCopy { message });
            continue;
        }
        let behind = rebuilding.iter().find(|other| {
            sets.iter()
                .any(|set| set.iter().any(|b| &volume.bricks[*b].node == *other))
        });
        match behind {
            Some(other) => {
                out.held.insert(
                    node.clone(),
                    Held::Waiting {
                        behind: other.clone(),
                    },
                );
            }
            None => rebuilding.push(node.clone()),
        }
    }
    out
}

/// The sets (brick indexes in volume order) that hold a brick of `node`.
fn sets_of(volume: &ApiVolume, node: &str) -> Vec<Vec<usize>> {
    let size = set_size(volume);
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for (i, brick) in volume.bricks.iter().enumerate() {
        if brick.node != node {
            continue;
        }
        let start = i / size * size;
        let set: Vec<usize> = (start..(start + size).min(volume.bricks.len())).collect();
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    sets
}

/// Bricks per set: the replica or disperse count, else one (a distributed brick is its own
/// set).
fn set_size(volume: &ApiVolume) -> usize {
    let size = if volume.disperse_count > 0 {
        volume.disperse_count
    } else {
        volume.replica_count
    };
    (size as usize).max(1)
}

/// How many healthy data bricks a set needs for its files to be whole: one for a replica set
/// (an arbiter holds no file data), `disperse - redundancy` for a disperse set, the brick
/// itself for a distributed one (which no other brick can stand in for).
fn needed(volume: &ApiVolume) -> usize {
    if volume.disperse_count > 0 {
        volume
            .disperse_count
            .saturating_sub(volume.redundancy_count)
            .max(1) as usize
    } else {
        1
    }
}

/// Whether `index` is an arbiter brick (the last of each replica set when the volume has
/// arbiters).
fn is_arbiter(volume: &ApiVolume, index: usize) -> bool {
    volume.arbiter_count > 0
        && volume.replica_count > 0
        && index % volume.replica_count as usize == volume.replica_count as usize - 1
}

/// `Some(message)` when one of `sets` has too few healthy data bricks outside `node` and the
/// nodes in `busy`.
fn last_copy(
    volume: &ApiVolume,
    node: &str,
    sets: &[Vec<usize>],
    busy: &BTreeSet<String>,
) -> Option<String> {
    let need = needed(volume);
    for set in sets {
        let good = set
            .iter()
            .filter(|i| {
                let b = &volume.bricks[**i];
                b.node != node && b.online && !busy.contains(&b.node) && !is_arbiter(volume, **i)
            })
            .count();
        let distributed = volume.replica_count <= 1 && volume.disperse_count == 0;
        if distributed || good < need {
            let names: Vec<&str> = set
                .iter()
                .map(|i| volume.bricks[*i].name.as_str())
                .collect();
            let lost: Vec<&str> = set
                .iter()
                .map(|i| &volume.bricks[*i])
                .filter(|b| b.node == node)
                .map(|b| b.name.as_str())
                .collect();
            return Some(format!(
                "node {node}'s brick {} was its server's ephemeral disk and went with it; \
                 no other brick of its set ({}) holds a healthy copy ({good} of {need} needed), \
                 so the files of that set are lost unless a brick comes back. Nothing is \
                 rebuilt over it: restore the server or the data, then recreate the node",
                lost.join(", "),
                names.join(", "),
            ));
        }
    }
    None
}

/// The nodes whose brick in the volume is their server's blank ephemeral disk: ephemeral nodes
/// whose server is a replacement (marked so at its creation, see
/// [`META_BLANK_BRICK`](crate::controller::owner::META_BLANK_BRICK), or `healing` in memory)
/// and whose brick is not yet the one [`replacements`] puts on the new disk. Their brick must
/// never be started as is (`volume start … force` would give the empty directory the volume's
/// ID and start it with nothing marked for heal). Found again from the cloud and gluster after
/// an operator restart.
pub fn blank(
    plan: &ClusterPlan,
    cloud: &Observed,
    healing: &BTreeSet<String>,
    seen: Option<&SeenVolume>,
    nodes: &GlusterNodes,
) -> BTreeSet<String> {
    plan.nodes
        .iter()
        .filter(|n| n.storage.storage() == Some(BrickStorage::Ephemeral))
        .filter_map(|n| {
            let server = cloud.server(&n.name)?;
            let marked = server
                .metadata
                .get(crate::controller::owner::META_BLANK_BRICK)
                .is_some_and(|v| v == "true");
            let replaced = seen.is_some_and(|v| {
                v.info.bricks.iter().any(|b| {
                    nodes.node_at(&b.host) == Some(n.name.as_str())
                        && b.path == fresh_path(&b.path, &server.id)
                })
            });
            ((marked || healing.contains(&n.name)) && !replaced).then(|| n.name.clone())
        })
        .collect()
}

/// The replacement of the bricks of `blank` nodes (see [`blank`]), whose brick is the new
/// server's blank ephemeral disk: their glusterd knows the volume (not strangers) but the
/// brick, lacking the volume's ID, does not start, and gluster refuses to reset a blank brick
/// onto the same path ("When destination brick is new, please use gluster volume
/// replace-brick"). Each is replaced by a new directory on the same filesystem, named after
/// the new server (so a pass after a crash finds it done), through a node that is not being
/// healed (`healing`), while its set keeps a healthy copy (as gluster shows the volume this pass).
/// `None` when there is none.
pub fn replacements(
    volume: &str,
    seen: Option<&SeenVolume>,
    cloud: &Observed,
    nodes: &GlusterNodes,
    healing: &BTreeSet<String>,
    blank: &BTreeSet<String>,
) -> Option<Action> {
    let seen = seen?;
    if !seen.strangers.is_empty() {
        return None;
    }
    let status = seen.status.as_deref()?;
    let current = &volume_status(&seen.info, Some(status), nodes);
    let offline = offline_hosts(&seen.info, status);
    let none: BTreeSet<String> = BTreeSet::new();
    let bricks: Vec<(String, String)> = seen
        .info
        .bricks
        .iter()
        .filter(|b| offline.contains(&b.host))
        .filter_map(|b| {
            let node = nodes.node_at(&b.host)?;
            let server = cloud.server(node)?;
            let whole = last_copy(current, node, &sets_of(current, node), &none).is_none();
            (blank.contains(node) && whole).then(|| {
                (
                    b.name(),
                    format!("{}:{}", b.host, fresh_path(&b.path, &server.id)),
                )
            })
        })
        .filter(|(old, new)| old != new)
        .collect();
    if bricks.is_empty() {
        return None;
    }
    let via = nodes
        .order
        .iter()
        .find(|n| !healing.contains(*n) && nodes.addresses.contains_key(*n))?;
    Some(Action::ReplaceBricks {
        volume: volume.to_string(),
        bricks,
        via: via.clone(),
    })
}

/// The brick directory for a blank disk of server `server_id`: beside `path` on the same
/// filesystem, `brick-` and the server ID's first eight characters.
pub fn fresh_path(path: &str, server_id: &str) -> String {
    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
    let id: String = server_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("{parent}/brick-{id}")
}

#[cfg(test)]
#[path = "lost_bricks_tests.rs"]
mod tests;

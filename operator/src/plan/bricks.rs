//! Brick assignment: which nodes form each replica (or disperse) set.
//!
//! Rule: every set spans `k = min(set size, zones with nodes)` distinct zones, and (one brick per
//! node) no set holds two bricks of one node. With `M` sets of size `s` over zones holding
//! `n_z` nodes:
//!
//! - `s ≤ Z`: a set takes at most one node of a zone, so the layout exists iff every
//!   `n_z ≤ M`. Each set takes one node from each of the `s` zones with the most nodes left
//!   (ties: spec order). This keeps `n_z ≤ sets left` true: if `t` zones have exactly `M` left,
//!   `t·M ≤ s·M`, so `t ≤ s` and all of them are picked.
//! - `s > Z`: a set takes at least one node of every zone, so the layout exists iff every
//!   `n_z ≥ M`. Each set takes one node of every zone, then its `s − Z` other nodes one at a time
//!   from zones with slack (`n_z − sets left > 0`), fewest already in this set first, then most
//!   left: slack sums to `(sets left)·(s − Z) ≥ s − Z`, so there is always enough.
//!
//! Within a set, bricks interleave zones in spec order (A1 B1 C1 A2 …); zones keep their nodes in
//! the order given (by index), so a fresh cluster reads A1 B1 A2 B2 ….

use std::cmp::Reverse;
use std::collections::VecDeque;

use super::error::{PlanError, zone_counts};
use super::shape::SetKind;

/// The nodes of one zone to lay out, in the order they should be used.
#[derive(Debug, Clone)]
pub(crate) struct ZoneGroup<'a> {
    /// The zone name.
    pub zone: &'a str,
    /// Node handles (positions in the caller's node table).
    pub nodes: Vec<usize>,
}

/// Lay `groups` out into sets of `set_size`. The caller makes sure the total is a multiple of
/// `set_size` (the shape arithmetic did).
pub(crate) fn assign(
    groups: &[ZoneGroup<'_>],
    set_size: u32,
    kind: SetKind,
) -> Result<Vec<Vec<usize>>, PlanError> {
    let s = set_size as usize;
    let total: usize = groups.iter().map(|g| g.nodes.len()).sum();
    if s == 0 || !total.is_multiple_of(s) {
        return Err(PlanError::InconsistentState {
            detail: format!("{total} bricks cannot form sets of {set_size}"),
        });
    }
    let m = total / s;
    check_feasible(groups, s, m, kind)?;
    let zones_with_nodes = groups.iter().filter(|g| !g.nodes.is_empty()).count();
    let mut queues: Vec<VecDeque<usize>> = groups
        .iter()
        .map(|g| g.nodes.iter().copied().collect())
        .collect();
    let mut sets = Vec::with_capacity(m);
    for set_index in 0..m {
        let sets_left = m - set_index;
        let remaining: Vec<usize> = queues.iter().map(VecDeque::len).collect();
        let mut take = vec![0usize; groups.len()];
        if s <= zones_with_nodes {
            let mut order: Vec<usize> = (0..groups.len()).filter(|&z| remaining[z] > 0).collect();
            order.sort_by_key(|&z| (Reverse(remaining[z]), z));
            for &z in order.iter().take(s) {
                take[z] = 1;
            }
        } else {
            let mut slack = vec![0usize; groups.len()];
            for z in 0..groups.len() {
                if remaining[z] > 0 {
                    take[z] = 1;
                    slack[z] = remaining[z].saturating_sub(sets_left);
                }
            }
            for _ in 0..(s - zones_with_nodes) {
                let pick = (0..groups.len())
                    .filter(|&z| slack[z] > 0)
                    .min_by_key(|&z| (take[z], Reverse(remaining[z] - take[z]), z));
                let Some(z) = pick else {
                    // Unreachable when check_feasible passed (see the module proof).
                    return Err(PlanError::InconsistentState {
                        detail: format!("no zone has a node left for set {}", set_index + 1),
                    });
                };
                take[z] += 1;
                slack[z] -= 1;
            }
        }
        let mut set = Vec::with_capacity(s);
        let rounds = take.iter().copied().max().unwrap_or(0);
        for round in 0..rounds {
            for z in 0..groups.len() {
                if take[z] > round {
                    match queues[z].pop_front() {
                        Some(node) => set.push(node),
                        None => {
                            return Err(PlanError::InconsistentState {
                                detail: format!("zone {} ran out of nodes", groups[z].zone),
                            });
                        }
                    }
                }
            }
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Refuse, naming the zones, when no layout satisfies the spread rule.
fn check_feasible(
    groups: &[ZoneGroup<'_>],
    s: usize,
    m: usize,
    kind: SetKind,
) -> Result<(), PlanError> {
    let populated: Vec<&ZoneGroup<'_>> = groups.iter().filter(|g| !g.nodes.is_empty()).collect();
    let z = populated.len();
    let error = |detail: String| PlanError::UnevenZones {
        kind: kind.word(),
        sets: m as u32,
        set_size: s as u32,
        zones: zone_counts(groups.iter().map(|g| (g.zone, g.nodes.len() as u32))),
        detail,
    };
    if s <= z {
        let over: Vec<String> = populated
            .iter()
            .filter(|g| g.nodes.len() > m)
            .map(|g| format!("{} has {}", g.zone, g.nodes.len()))
            .collect();
        if !over.is_empty() {
            return Err(error(format!(
                "each set must span {s} different zones, so a zone can hold at most {m} nodes \
                 (one per set), but {}; move nodes to other zones or change the set size",
                over.join(" and ")
            )));
        }
    } else {
        let under: Vec<String> = populated
            .iter()
            .filter(|g| g.nodes.len() < m)
            .map(|g| format!("{} has {}", g.zone, g.nodes.len()))
            .collect();
        if !under.is_empty() {
            return Err(error(format!(
                "each set must have a brick in each of the {z} zones, so every zone needs at \
                 least {m} nodes (one per set), but {}; add nodes there or change the set size",
                under.join(" and ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Groups with sequential handles; returns the handle → zone table too.
    fn groups<'a>(counts: &[(&'a str, usize)]) -> (Vec<ZoneGroup<'a>>, Vec<&'a str>) {
        let mut zone_of = Vec::new();
        let groups = counts
            .iter()
            .map(|&(zone, n)| ZoneGroup {
                zone,
                nodes: (0..n)
                    .map(|_| {
                        zone_of.push(zone);
                        zone_of.len() - 1
                    })
                    .collect(),
            })
            .collect();
        (groups, zone_of)
    }

    fn zones_of(sets: &[Vec<usize>], zone_of: &[&str]) -> Vec<Vec<String>> {
        sets.iter()
            .map(|s| s.iter().map(|&n| zone_of[n].to_string()).collect())
            .collect()
    }

    #[test]
    fn two_zones_replica_two_interleave() {
        let (g, zone_of) = groups(&[("a", 2), ("b", 2)]);
        let sets = assign(&g, 2, SetKind::Replica).expect("feasible");
        assert_eq!(sets, vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(
            zones_of(&sets, &zone_of),
            vec![vec!["a", "b"], vec!["a", "b"]]
        );
    }

    #[test]
    fn distribute_interleaves_zones() {
        let (g, _) = groups(&[("a", 2), ("b", 2)]);
        let sets = assign(&g, 1, SetKind::Replica).expect("feasible");
        assert_eq!(sets, vec![vec![0], vec![2], vec![1], vec![3]]);
    }

    #[test]
    fn more_set_members_than_zones() {
        let (g, zone_of) = groups(&[("a", 4), ("b", 2)]);
        let sets = assign(&g, 3, SetKind::Replica).expect("feasible");
        assert_eq!(
            zones_of(&sets, &zone_of),
            vec![vec!["a", "b", "a"], vec!["a", "b", "a"]]
        );
    }

    #[test]
    fn largest_zone_first_keeps_it_feasible() {
        // Greedy by spec order alone would pair a+b twice and leave c+c.
        let (g, zone_of) = groups(&[("a", 1), ("b", 1), ("c", 2)]);
        let sets = assign(&g, 2, SetKind::Replica).expect("feasible");
        for set in zones_of(&sets, &zone_of) {
            assert_ne!(set[0], set[1]);
        }
    }

    #[test]
    fn too_many_nodes_in_one_zone_is_refused() {
        let (g, _) = groups(&[("zone-a", 4), ("zone-b", 2)]);
        let e = assign(&g, 2, SetKind::Replica).expect_err("zone-a holds 4 > 3 sets");
        assert_eq!(e.reason(), "UnevenZones");
        assert_eq!(
            e.to_string(),
            "cannot spread the 3 replica sets of 2 across zones (zone-a: 4, zone-b: 2): each set \
             must span 2 different zones, so a zone can hold at most 3 nodes (one per set), but \
             zone-a has 4; move nodes to other zones or change the set size"
        );
    }

    #[test]
    fn too_few_nodes_in_one_zone_is_refused() {
        let (g, _) = groups(&[("zone-a", 5), ("zone-b", 1)]);
        let e = assign(&g, 3, SetKind::Replica).expect_err("zone-b 1 < 2 sets");
        assert!(e.to_string().contains("but zone-b has 1"), "{e}");
    }
}

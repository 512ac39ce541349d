//! Property tests of the layout planner: the brick-set invariants for any zone counts and volume
//! shape, completeness of the zone-spread rule against a brute-force search, determinism, and
//! the safety of scale-out and scale-in plans.

use std::collections::{BTreeMap, HashSet};

use gluster_operator::api::GlusterClusterSpec;
use gluster_operator::plan::{
    CloudFacts, ClusterPlan, CurrentState, PENDING_KEY, PlanError, SetKind, Step, plan_change,
    plan_cluster,
};
use proptest::prelude::*;

/// The volume part of a spec.
#[derive(Debug, Clone)]
enum Mode {
    Unset,
    Replicas(u32),
    Stripes(u32),
    ReplicasStripes(u32, u32),
    Arbiter,
    Disperse(u32, Option<u32>),
}

impl Mode {
    fn yaml(&self) -> String {
        match self {
            Mode::Unset => "{name: data}".to_string(),
            Mode::Replicas(r) => format!("{{name: data, replicas: {r}}}"),
            Mode::Stripes(s) => format!("{{name: data, stripes: {s}}}"),
            Mode::ReplicasStripes(r, s) => format!("{{name: data, replicas: {r}, stripes: {s}}}"),
            Mode::Arbiter => "{name: data, replicas: 3, arbiter: 1}".to_string(),
            Mode::Disperse(d, None) => format!("{{name: data, disperse: {d}}}"),
            Mode::Disperse(d, Some(k)) => format!("{{name: data, disperse: {d}, redundancy: {k}}}"),
        }
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Unset),
        (1u32..=4).prop_map(Mode::Replicas),
        (1u32..=4).prop_map(Mode::Stripes),
        (1u32..=3, 1u32..=4).prop_map(|(r, s)| Mode::ReplicasStripes(r, s)),
        Just(Mode::Arbiter),
        (3u32..=6, prop::option::of(1u32..=2)).prop_map(|(d, k)| Mode::Disperse(d, k)),
    ]
}

/// Modes whose set size does not depend on the node count (so scaling keeps it).
fn scalable_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        2 => Just(Mode::Unset),
        4 => (1u32..=3).prop_map(Mode::Replicas),
        1 => Just(Mode::Arbiter),
        1 => (3u32..=4).prop_map(|d| Mode::Disperse(d, Some(1))),
    ]
}

const ZONE_NAMES: [&str; 4] = ["zone-a", "zone-b", "zone-c", "zone-d"];

fn spec(counts: &[u32], mins: Option<&[u32]>, mode: &Mode) -> GlusterClusterSpec {
    let zones: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| match mins {
            Some(m) => format!(
                "{{name: {}, nodes: {n}, minNodes: {}}}",
                ZONE_NAMES[i], m[i]
            ),
            None => format!("{{name: {}, nodes: {n}}}", ZONE_NAMES[i]),
        })
        .collect();
    let text = format!(
        "cloud: {{secretName: openstack, cloudName: sim}}
image: ubuntu-22.04
flavor: m1.medium
network: private
zones: [{}]
brick: {{size: 10Gi}}
volume: {}
",
        zones.join(", "),
        mode.yaml()
    );
    serde_yaml::from_str(&text).expect("generated spec parses")
}

fn facts() -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(["zone-a".to_string(), "zone-b".to_string()].into()),
    }
}

/// Zones with at least one node.
fn populated(counts: &[u32]) -> usize {
    counts.iter().filter(|&&n| n > 0).count()
}

/// The invariants every accepted plan keeps. Sets before `first_new` existed before the plan:
/// they keep the spread they had (at least the rule's, unless laid out before zones were added,
/// which `allow_narrow_old` says); the others must span exactly min(set size, zones) zones.
fn check_layout(
    plan: &ClusterPlan,
    counts: &[u32],
    first_new: usize,
    allow_narrow_old: bool,
) -> Result<(), TestCaseError> {
    let n: u32 = counts.iter().sum();
    let shape = &plan.shape;
    prop_assert_eq!(shape.set_size * shape.sets, n, "R × sets = N");
    prop_assert_eq!(plan.sets.len() as u32, shape.sets);
    let mut seen = HashSet::new();
    for (i, set) in plan.sets.iter().enumerate() {
        prop_assert_eq!(set.bricks.len() as u32, shape.set_size);
        let mut in_set = HashSet::new();
        for b in &set.bricks {
            prop_assert!(in_set.insert(&b.node), "set holds two bricks of {}", b.node);
            prop_assert!(seen.insert(&b.node), "node {} holds two bricks", b.node);
            let node = plan.node(&b.node).expect("brick on a planned node");
            prop_assert_eq!(&node.zone, &b.zone);
        }
        let want = (shape.set_size as usize).min(populated(counts));
        if i >= first_new {
            prop_assert_eq!(set.zones().len(), want, "set {:?} spans too few zones", set);
        } else if !allow_narrow_old {
            prop_assert!(
                set.zones().len() >= want,
                "kept set {:?} spans too few zones",
                set
            );
        }
    }
    prop_assert_eq!(seen.len() as u32, n, "every node holds one brick");
    for (i, &c) in counts.iter().enumerate() {
        prop_assert_eq!(plan.zone_nodes(ZONE_NAMES[i]).count() as u32, c);
    }
    let names: HashSet<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    let indices: HashSet<u32> = plan.nodes.iter().map(|n| n.index).collect();
    prop_assert_eq!(names.len(), plan.nodes.len());
    prop_assert_eq!(indices.len(), plan.nodes.len());
    for node in &plan.nodes {
        prop_assert!(node.name.len() <= 63);
        prop_assert!(
            node.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }
    Ok(())
}

/// Brute force: can `counts` nodes form `sets` sets of `size`, each spanning at least `k` zones?
fn feasible(counts: &[u32], sets: u32, size: u32, k: usize) -> bool {
    fn rec(
        counts: &mut Vec<u32>,
        sets: u32,
        size: u32,
        k: usize,
        failed: &mut HashSet<(Vec<u32>, u32)>,
    ) -> bool {
        if sets == 0 {
            return counts.iter().all(|&c| c == 0);
        }
        if failed.contains(&(counts.clone(), sets)) {
            return false;
        }
        let mut take = vec![0u32; counts.len()];
        let ok = compose(0, size, counts, &mut take, sets, size, k, failed);
        if !ok {
            failed.insert((counts.clone(), sets));
        }
        ok
    }
    #[allow(clippy::too_many_arguments)]
    fn compose(
        z: usize,
        left: u32,
        counts: &mut Vec<u32>,
        take: &mut Vec<u32>,
        sets: u32,
        size: u32,
        k: usize,
        failed: &mut HashSet<(Vec<u32>, u32)>,
    ) -> bool {
        if z == counts.len() {
            if left != 0 || take.iter().filter(|&&t| t > 0).count() < k {
                return false;
            }
            for (c, t) in counts.iter_mut().zip(take.iter()) {
                *c -= t;
            }
            let ok = rec(counts, sets - 1, size, k, failed);
            for (c, t) in counts.iter_mut().zip(take.iter()) {
                *c += t;
            }
            return ok;
        }
        for t in 0..=left.min(counts[z]) {
            take[z] = t;
            if compose(z + 1, left - t, counts, take, sets, size, k, failed) {
                take[z] = 0;
                return true;
            }
        }
        take[z] = 0;
        false
    }
    let mut counts = counts.to_vec();
    rec(&mut counts, sets, size, k, &mut HashSet::new())
}

/// Set size and count the mode gives for `n` nodes, when the arithmetic works.
fn arithmetic(mode: &Mode, n: u32) -> Option<(u32, u32)> {
    let size = match *mode {
        Mode::Unset => n,
        Mode::Replicas(r) => r,
        Mode::Stripes(s) => n.is_multiple_of(s).then(|| n / s)?,
        Mode::ReplicasStripes(r, s) => (r * s == n).then_some(r)?,
        Mode::Arbiter => 3,
        Mode::Disperse(d, Some(k)) if 2 * k >= d => return None,
        Mode::Disperse(d, _) => d,
    };
    (n > 0 && size > 0 && n.is_multiple_of(size)).then(|| (size, n / size))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Accepted plans keep every invariant; refusals for zone spread are real (no layout exists).
    #[test]
    fn fresh_plans_keep_the_invariants(counts in prop::collection::vec(0u32..=5, 1..=4), mode in mode()) {
        let s = spec(&counts, None, &mode);
        let result = plan_cluster("demo", &s, &facts());
        let again = plan_cluster("demo", &s, &facts());
        prop_assert_eq!(&result, &again, "deterministic");
        let n: u32 = counts.iter().sum();
        let arith = arithmetic(&mode, n);
        match result {
            Ok(plan) => {
                check_layout(&plan, &counts, 0, false)?;
                let (size, sets) = arith.expect("accepted only when the arithmetic works");
                prop_assert_eq!((plan.shape.set_size, plan.shape.sets), (size, sets));
                let k = (size as usize).min(populated(&counts));
                prop_assert!(feasible(&counts, sets, size, k));
                if mode_is_arbiter(&mode) {
                    for set in &plan.sets {
                        prop_assert_eq!(set.bricks.iter().filter(|b| b.arbiter).count(), 1);
                        prop_assert!(set.bricks[2].arbiter);
                    }
                }
            }
            Err(PlanError::UnevenZones { .. }) => {
                let (size, sets) = arith.expect("spread is checked after the arithmetic");
                let k = (size as usize).min(populated(&counts));
                prop_assert!(!feasible(&counts, sets, size, k), "refused but {counts:?} has a layout");
            }
            Err(e) => {
                // Any other refusal is an arithmetic one, and only when the arithmetic fails.
                prop_assert!(arith.is_none() || n == 0, "unexpected refusal {e}");
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Growing zones never moves an existing node or brick; new nodes take fresh indices.
    #[test]
    fn scale_out_appends(
        before in prop::collection::vec(0u32..=4, 1..=3),
        growth in prop::collection::vec(0u32..=4, 3),
        mode in scalable_mode(),
    ) {
        let old = plan_cluster("demo", &spec(&before, None, &mode), &facts());
        prop_assume!(old.is_ok());
        let old = old.expect("assumed");
        let after: Vec<u32> = before.iter().zip(&growth).map(|(b, g)| b + g).collect();
        let new_spec = spec(&after, None, &mode);
        let current = CurrentState::after(&old);
        let result = plan_change("demo", &new_spec, &facts(), &current);
        prop_assert_eq!(&result, &plan_change("demo", &new_spec, &facts(), &current), "deterministic");
        let Ok(plan) = result else { return Ok(()) };
        // A pure replicate volume is one set spanning every zone; a distributed one keeps its
        // old sets as they were (possibly laid out when fewer zones had nodes).
        let first_new = if plan.shape.replica_follows_nodes { 0 } else { old.sets.len() };
        check_layout(&plan, &after, first_new, true)?;
        let old_bricks: Vec<&str> = old.bricks().map(|b| b.node.as_str()).collect();
        let new_bricks: Vec<&str> = plan.bricks().map(|b| b.node.as_str()).collect();
        prop_assert_eq!(&new_bricks[..old_bricks.len()], &old_bricks[..], "existing bricks keep their order");
        let max_old = old.nodes.iter().map(|n| n.index).max().unwrap_or(0);
        for n in &plan.nodes {
            match old.node(&n.name) {
                Some(o) => prop_assert_eq!(o.index, n.index),
                None => prop_assert!(n.index > max_old, "new node {} reuses index {}", n.name, n.index),
            }
        }
        prop_assert!(plan.removed.is_empty());
        let removes = plan.steps.iter().any(|s| {
            matches!(s, Step::RemoveBricksStart { .. } | Step::RemoveReplicaBrick { .. } | Step::DeleteNode { .. })
        });
        prop_assert!(!removes, "scale-out removes nothing");
        if plan.shape.replica_follows_nodes {
            // One brick at a time, the replica count rising by one, each followed by a heal.
            let mut replica = old.shape.replica;
            for (i, step) in plan.steps.iter().enumerate() {
                if let Step::AddBricks { bricks, replica: r, .. } = step {
                    replica += 1;
                    prop_assert_eq!(bricks.len(), 1);
                    prop_assert_eq!(*r, Some(replica));
                    let healed = matches!(plan.steps.get(i + 2), Some(Step::WaitHealed { .. }));
                    prop_assert!(healed, "a heal wait follows each add");
                }
            }
            prop_assert_eq!(replica, plan.shape.replica);
        } else if new_bricks.len() > old_bricks.len() {
            let kinds: Vec<&str> = plan.steps.iter().map(Step::kind).collect();
            let add = kinds.iter().position(|k| *k == "AddBricks").expect("bricks were added");
            prop_assert_eq!(&kinds[add + 1..], &["RebalanceStart", "WaitRebalance", "SetOption"][..]);
            // The owed rebalance is recorded in the volume before the add-brick, and cleared
            // only after the rebalance completed.
            let marker = |i: usize| match &plan.steps[i] {
                Step::SetOption { key, command, .. } => {
                    Some((key == PENDING_KEY).then(|| command.argv().last().cloned()).flatten())
                }
                _ => None,
            };
            prop_assert_eq!(marker(add - 1), Some(Some("rebalance".to_string())));
            prop_assert_eq!(marker(kinds.len() - 1), Some(Some("none".to_string())));
        }
    }

    /// Shrinking removes whole sets only, keeps the brick order, never goes below minNodes and
    /// never leaves less room than the data needs.
    #[test]
    fn scale_in_removes_whole_sets(
        before in prop::collection::vec(0u32..=6, 1..=3),
        cut in prop::collection::vec(prop_oneof![2 => Just(0u32), 3 => 1u32..=3], 3),
        min_frac in prop::collection::vec(prop_oneof![4 => Just(0u32), 1 => 1u32..=2], 3),
        used_gib in prop::option::of(0u64..=60),
        mode in scalable_mode(),
    ) {
        let old = plan_cluster("demo", &spec(&before, None, &mode), &facts());
        prop_assume!(old.is_ok());
        let old = old.expect("assumed");
        let after: Vec<u32> = before.iter().zip(&cut).map(|(b, c)| b.saturating_sub(*c)).collect();
        // minNodes somewhere between 0 and the old count (so sometimes above the new count).
        let mins: Vec<u32> = before.iter().zip(&min_frac).map(|(b, f)| b * f / 2).collect();
        let new_spec = spec(&after, Some(&mins), &mode);
        let mut current = CurrentState::after(&old);
        current.used_bytes = used_gib.map(|g| g << 30);
        let result = plan_change("demo", &new_spec, &facts(), &current);
        prop_assert_eq!(&result, &plan_change("demo", &new_spec, &facts(), &current), "deterministic");
        let below = after.iter().zip(&mins).position(|(a, m)| a < m);
        let plan = match result {
            Err(PlanError::BelowMinNodes { index, .. }) => {
                prop_assert_eq!(Some(index), below);
                return Ok(());
            }
            Err(e) => {
                prop_assert!(below.is_none(), "below minNodes must be refused as such, got {e}");
                match e {
                    PlanError::InsufficientCapacity { capacity_after, limit, used, .. } => {
                        prop_assert_eq!(limit, gluster_operator::plan::scale_in_limit(capacity_after));
                        prop_assert!(used > limit);
                    }
                    PlanError::NotWholeSets { .. } => {
                        // No subset of the old sets holds exactly the nodes to remove per zone.
                        let need: Vec<u32> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
                        let hist: Vec<Vec<u32>> = old.sets.iter().map(|set| {
                            (0..before.len()).map(|z| set.bricks.iter().filter(|b| b.zone == ZONE_NAMES[z]).count() as u32).collect()
                        }).collect();
                        prop_assert!(hist.len() <= 16);
                        for mask in 0u32..(1 << hist.len()) {
                            let sum: Vec<u32> = (0..before.len())
                                .map(|z| (0..hist.len()).filter(|i| mask & (1 << i) != 0).map(|i| hist[i][z]).sum())
                                .collect();
                            prop_assert_ne!(sum, need.clone(), "sets {:#b} are whole and match", mask);
                        }
                    }
                    _ => {}
                }
                return Ok(());
            }
            Ok(plan) => plan,
        };
        prop_assert!(below.is_none(), "accepted a plan below minNodes");
        let first_new = if plan.shape.replica_follows_nodes { 0 } else { plan.sets.len() };
        check_layout(&plan, &after, first_new, false)?;
        for (i, &m) in mins.iter().enumerate() {
            prop_assert!(plan.zone_nodes(ZONE_NAMES[i]).count() as u32 >= m);
        }
        let old_bricks: Vec<&str> = old.bricks().map(|b| b.node.as_str()).collect();
        let new_bricks: Vec<&str> = plan.bricks().map(|b| b.node.as_str()).collect();
        let kept: Vec<&str> = old_bricks.iter().copied().filter(|b| new_bricks.contains(b)).collect();
        prop_assert_eq!(&kept[..], &new_bricks[..], "bricks keep their order, nothing added");
        if !plan.shape.replica_follows_nodes {
            for set in &old.sets {
                let stays = set.bricks.iter().filter(|b| new_bricks.contains(&b.node.as_str())).count();
                prop_assert!(stays == 0 || stays == set.bricks.len(), "partial set removed: {set:?}");
            }
            if !plan.removed.is_empty() {
                let kinds: Vec<&str> = plan.steps.iter().map(Step::kind).collect();
                prop_assert_eq!(&kinds[..3], &["RemoveBricksStart", "WaitRemoveBricks", "RemoveBricksCommit"][..]);
                if let Some(used) = current.used_bytes {
                    let per_set = match plan.shape.kind {
                        SetKind::Replica => 10u64 << 30,
                        SetKind::Disperse => u64::from(plan.shape.disperse - plan.shape.redundancy) * (10u64 << 30),
                    };
                    prop_assert!(
                        used <= gluster_operator::plan::scale_in_limit(per_set * u64::from(plan.shape.sets)),
                        "data would not fit with the margin kept free"
                    );
                }
            }
        } else {
            // Each brick leaves after a heal check, the replica count falling by one.
            let mut replica = old.shape.replica;
            for (i, step) in plan.steps.iter().enumerate() {
                if let Step::RemoveReplicaBrick { replica: r, .. } = step {
                    replica -= 1;
                    prop_assert_eq!(*r, replica);
                    let healed = i > 0 && matches!(plan.steps[i - 1], Step::WaitHealed { .. });
                    prop_assert!(healed, "a heal wait precedes each removal");
                }
            }
            prop_assert_eq!(replica, plan.shape.replica);
        }
        let removed: HashSet<&str> = plan.removed.iter().map(|n| n.name.as_str()).collect();
        let deleted: HashSet<&str> = plan.steps.iter().filter_map(|s| match s {
            Step::DeleteNode { node } => Some(node.as_str()),
            _ => None,
        }).collect();
        prop_assert_eq!(removed, deleted, "every removed node, and only those, is deleted");
    }

    /// Commands render with any address map that covers the nodes, and name only planned hosts.
    #[test]
    fn commands_name_only_planned_nodes(counts in prop::collection::vec(1u32..=3, 1..=3)) {
        let plan = plan_cluster("demo", &spec(&counts, None, &Mode::Unset), &facts()).expect("replica-all is always valid");
        let addresses: BTreeMap<String, String> =
            plan.nodes.iter().map(|n| (n.name.clone(), format!("127.0.0.{}", n.index + 1))).collect();
        for step in &plan.steps {
            if let Some(cmd) = step.command() {
                for host in cmd.hosts() {
                    prop_assert!(plan.node(host).is_some(), "unknown host {host}");
                }
                let argv = cmd.argv_with(&addresses).expect("every host has an address");
                prop_assert_eq!(&argv[..2], &["gluster".to_string(), "--mode=script".to_string()][..]);
                if argv.get(5).is_some_and(|k| k == "auth.ssl-allow") {
                    // Certificate names, not hosts: exactly the planned nodes and the client.
                    let mut want: Vec<String> = plan.nodes.iter().map(|n| n.name.clone()).collect();
                    want.sort();
                    want.push("demo-client".to_string());
                    prop_assert_eq!(&argv[6], &want.join(","));
                    continue;
                }
                prop_assert!(!argv.iter().any(|a| a.contains("demo-zone")), "{argv:?}");
            }
        }
    }
}

proptest! {
    /// Any zone and cluster names give DNS-safe, unique node names, or a refusal naming them.
    #[test]
    fn any_names_give_dns_safe_nodes(
        cluster in "[a-z0-9][a-z0-9.-]{0,30}",
        zones in prop::collection::vec("[A-Za-z0-9_. -]{0,12}", 1..=4),
    ) {
        let list: Vec<String> = zones.iter().map(|z| format!("{{name: {z:?}, nodes: 1}}")).collect();
        let text = format!(
            "cloud: {{secretName: s, cloudName: c}}\nimage: i\nflavor: f\nnetwork: n\nzones: [{}]\nbrick: {{size: 1Gi}}\nvolume: {{name: data}}\n",
            list.join(", ")
        );
        let s: GlusterClusterSpec = serde_yaml::from_str(&text).expect("generated spec parses");
        match plan_cluster(&cluster, &s, &CloudFacts::default()) {
            Ok(plan) => {
                let names: HashSet<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
                prop_assert_eq!(names.len(), zones.len());
                for n in &plan.nodes {
                    prop_assert!(n.name.len() <= 63);
                    let b = n.name.as_bytes();
                    prop_assert!(b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric(), "{}", n.name);
                    prop_assert!(n.name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'), "{}", n.name);
                }
            }
            Err(e) => prop_assert!(
                matches!(e.reason(), "InvalidZoneName" | "DuplicateZone" | "NameTooLong" | "InvalidClusterName"),
                "unexpected refusal {e}"
            ),
        }
    }
}

fn mode_is_arbiter(mode: &Mode) -> bool {
    matches!(mode, Mode::Arbiter)
}

#[test]
fn brute_force_agrees_with_known_cases() {
    // The checker itself: 4+2 nodes in sets of 2 over 2 zones cannot spread (zone-a needs 4 sets).
    assert!(!feasible(&[4, 2], 3, 2, 2));
    assert!(feasible(&[3, 3], 3, 2, 2));
    assert!(feasible(&[4, 2], 2, 3, 2));
    assert!(!feasible(&[5, 1], 2, 3, 2));
}

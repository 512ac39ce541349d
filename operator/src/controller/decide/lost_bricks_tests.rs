//! The rules for nodes whose brick went with their server, on plain volumes: which are rebuilt,
//! which wait for another of their set, which held the last copy.

use std::collections::BTreeSet;

use super::*;
use crate::api::{BrickStatus, VolumeStatus as ApiVolume};

/// A volume of `nodes` (one brick each, in order) with `replica`/`arbiter`/`disperse`/
/// `redundancy` counts; `offline` bricks are not online.
fn volume(nodes: &[&str], counts: (u32, u32, u32, u32), offline: &[&str]) -> ApiVolume {
    let (replica_count, arbiter_count, disperse_count, redundancy_count) = counts;
    ApiVolume {
        name: "v".into(),
        replica_count,
        arbiter_count,
        disperse_count,
        redundancy_count,
        bricks: nodes
            .iter()
            .map(|n| BrickStatus {
                name: format!("{n}:/export/v/brick"),
                node: n.to_string(),
                online: !offline.contains(n),
            })
            .collect(),
        ..ApiVolume::default()
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (node, "rebuilt" | "last copy" | "waits for X") for each of `lost`.
fn outcome(volume: &ApiVolume, lost: &[&str], unavailable: &[&str]) -> Vec<(String, String)> {
    let unavailable: BTreeSet<String> = unavailable.iter().map(|s| s.to_string()).collect();
    let r = rebuilds(Some(volume), &names(lost), &unavailable);
    lost.iter()
        .map(|n| {
            let what = match r.held.get(*n) {
                None => "rebuilt".to_string(),
                Some(Held::LastCopy { .. }) => "last copy".to_string(),
                Some(Held::Waiting { behind }) => format!("waits for {behind}"),
            };
            (n.to_string(), what)
        })
        .collect()
}

fn row(n: &str, what: &str) -> (String, String) {
    (n.to_string(), what.to_string())
}

#[test]
fn a_lost_brick_is_rebuilt_only_while_its_set_keeps_a_healthy_copy_elsewhere() {
    let r2 = (2, 0, 0, 0);
    let four = ["n0", "n1", "n2", "n3"];
    // 2 × 2: n1's partner n0 is online.
    assert_eq!(
        outcome(&volume(&four, r2, &[]), &["n1"], &[]),
        [row("n1", "rebuilt")]
    );
    // Its partner is offline, or healing itself (a replacement not yet whole): no copy.
    assert_eq!(
        outcome(&volume(&four, r2, &["n0"]), &["n1"], &[]),
        [row("n1", "last copy")]
    );
    assert_eq!(
        outcome(&volume(&four, r2, &[]), &["n1"], &["n0"]),
        [row("n1", "last copy")]
    );
    // Both bricks of a set gone: each held the last copy; the other set is not involved.
    assert_eq!(
        outcome(&volume(&four, r2, &[]), &["n0", "n1"], &[]),
        [row("n0", "last copy"), row("n1", "last copy")]
    );
    // One of each set: both rebuilt at once (different sets).
    assert_eq!(
        outcome(&volume(&four, r2, &[]), &["n0", "n2"], &[]),
        [row("n0", "rebuilt"), row("n2", "rebuilt")]
    );
}

#[test]
fn one_node_per_set_is_rebuilt_at_a_time() {
    // Replica 3, two of one set lost: n0 first (n2 holds the copy), n1 after it.
    let v = volume(&["n0", "n1", "n2"], (3, 0, 0, 0), &[]);
    assert_eq!(
        outcome(&v, &["n0", "n1"], &[]),
        [row("n0", "rebuilt"), row("n1", "waits for n0")]
    );
}

#[test]
fn an_arbiter_is_no_copy_and_a_distributed_brick_has_none() {
    // Replica 3 arbiter 1: n1 offline, n2 the arbiter online: n0's files have no copy.
    let v = volume(&["n0", "n1", "n2"], (3, 1, 0, 0), &["n1"]);
    assert_eq!(outcome(&v, &["n0"], &[]), [row("n0", "last copy")]);
    // Losing the arbiter itself: the two data bricks are whole.
    let v = volume(&["n0", "n1", "n2"], (3, 1, 0, 0), &[]);
    assert_eq!(outcome(&v, &["n2"], &[]), [row("n2", "rebuilt")]);
    // Replica 1 (distribute): every brick is the only copy of its files.
    let v = volume(&["n0", "n1"], (1, 0, 0, 0), &[]);
    assert_eq!(outcome(&v, &["n1"], &[]), [row("n1", "last copy")]);
    let v = volume(&["n0", "n1"], (0, 0, 0, 0), &[]);
    assert_eq!(outcome(&v, &["n0"], &[]), [row("n0", "last copy")]);
}

#[test]
fn a_disperse_set_needs_its_data_bricks() {
    // 2 + 1: one brick lost, the other two online: rebuilt; one of them offline too: lost.
    let three = ["n0", "n1", "n2"];
    assert_eq!(
        outcome(&volume(&three, (0, 0, 3, 1), &[]), &["n0"], &[]),
        [row("n0", "rebuilt")]
    );
    assert_eq!(
        outcome(&volume(&three, (0, 0, 3, 1), &["n2"]), &["n0"], &[]),
        [row("n0", "last copy")]
    );
}

#[test]
fn nothing_is_held_without_a_known_volume_and_the_message_names_the_bricks() {
    let r = rebuilds(None, &names(&["n0"]), &BTreeSet::new());
    assert!(r.held.is_empty());
    let v = volume(&["n0", "n1"], (2, 0, 0, 0), &["n0"]);
    let r = rebuilds(Some(&v), &names(&["n1"]), &BTreeSet::new());
    let messages = r.last_copies();
    assert_eq!(messages.len(), 1);
    for word in [
        "n1:/export/v/brick",
        "n0:/export/v/brick",
        "0 of 1",
        "Nothing is rebuilt",
    ] {
        assert!(messages[0].contains(word), "{word}: {}", messages[0]);
    }
}

#[test]
fn a_blank_disks_brick_is_a_new_directory_beside_the_old_one_named_after_its_server() {
    assert_eq!(
        fresh_path("/export/v/brick", "6190d0cc-5250-4337"),
        "/export/v/brick-6190d0cc"
    );
    // Replaced again: beside it, never inside it.
    assert_eq!(
        fresh_path("/export/v/brick-6190d0cc", "e5f6-2186"),
        "/export/v/brick-e5f62186"
    );
}

//! Scenario tests of the planner through its public API: creation, growth and shrinking of
//! pure replicate and distributed volumes, and the refusals.

use std::collections::BTreeMap;

use crate::api::GlusterClusterSpec;

use super::*;

fn spec(zones: &str, volume: &str) -> GlusterClusterSpec {
    let text = format!(
        "cloud: {{secretName: openstack, cloudName: sim}}
image: ubuntu-22.04
flavor: m1.medium
network: private
zones: {zones}
brick: {{size: 10Gi}}
volume: {volume}
"
    );
    let mut spec: GlusterClusterSpec = serde_yaml::from_str(&text).expect("test spec parses");
    // Layout and options without TLS unless a test asks; TLS steps: plan/tls_tests.rs.
    spec.volume.tls.get_or_insert(false);
    spec
}

fn facts() -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(["zone-a".to_string(), "zone-b".to_string()].into()),
    }
}

fn names(plan: &ClusterPlan) -> Vec<(u32, &str)> {
    plan.nodes
        .iter()
        .map(|n| (n.index, n.name.as_str()))
        .collect()
}

fn brick_nodes(plan: &ClusterPlan) -> Vec<&str> {
    plan.bricks().map(|b| b.node.as_str()).collect()
}

fn kinds(plan: &ClusterPlan) -> Vec<&'static str> {
    plan.steps.iter().map(Step::kind).collect()
}

fn commands(plan: &ClusterPlan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| s.command().map(|c| c.to_string()))
        .collect()
}

const TWO_ZONES: &str = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}]";

#[test]
fn fresh_two_zones_interleave_nodes_and_bricks() {
    let plan = plan_cluster(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
    )
    .expect("valid");
    assert_eq!(
        names(&plan),
        [
            (0, "demo-zone-a-1"),
            (1, "demo-zone-b-1"),
            (2, "demo-zone-a-2"),
            (3, "demo-zone-b-2")
        ]
    );
    assert_eq!(
        brick_nodes(&plan),
        [
            "demo-zone-a-1",
            "demo-zone-b-1",
            "demo-zone-a-2",
            "demo-zone-b-2"
        ]
    );
    assert_eq!(plan.shape.volume_type, VolumeType::DistributedReplicate);
    assert!(plan.sets.iter().all(|s| s.zones() == ["zone-a", "zone-b"]));
    assert_eq!(
        kinds(&plan),
        [
            "CreateNode",
            "CreateNode",
            "CreateNode",
            "CreateNode",
            "ProbePeer",
            "ProbePeer",
            "ProbePeer",
            "WaitPeersConnected",
            "CreateVolume",
            // auth.allow is always set (no allowedClients: the nodes only).
            "SetOption",
            "StartVolume"
        ]
    );
    let create = plan.steps[8].command().expect("create has a command");
    assert_eq!(
        create.argv(),
        [
            "gluster",
            "--mode=script",
            "volume",
            "create",
            "data",
            "replica",
            "2",
            "transport",
            "tcp",
            "demo-zone-a-1:/export/data/brick",
            "demo-zone-b-1:/export/data/brick",
            "demo-zone-a-2:/export/data/brick",
            "demo-zone-b-2:/export/data/brick"
        ]
    );
    assert!(
        plan.steps
            .iter()
            .filter_map(Step::on)
            .all(|on| on == "demo-zone-a-1")
    );
}

#[test]
fn commands_render_with_node_addresses() {
    let plan = plan_cluster(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
    )
    .expect("valid");
    let addresses: BTreeMap<String, String> = plan
        .nodes
        .iter()
        .map(|n| (n.name.clone(), format!("10.0.0.{}", n.index + 1)))
        .collect();
    let create = plan.steps[8].command().expect("create has a command");
    let argv = create.argv_with(&addresses).expect("all addresses known");
    assert_eq!(argv[9], "10.0.0.1:/export/data/brick");
    assert_eq!(argv[12], "10.0.0.4:/export/data/brick");
    let mut partial = addresses.clone();
    partial.remove("demo-zone-b-2");
    assert_eq!(
        create
            .argv_with(&partial)
            .expect_err("one is missing")
            .reason(),
        "MissingAddress"
    );
}

#[test]
fn options_shard_and_auth_in_order() {
    let volume =
        "{name: data, replicas: 2, stripes: 2, allowedClients: [10.0.0.0/8, 192.168.1.0/23],
                   options: {performance.cache-size: 256MB, cluster.lookup-optimize: 'on'}}";
    let plan = plan_cluster("demo", &spec(TWO_ZONES, volume), &facts()).expect("valid");
    let sets: Vec<String> = commands(&plan)
        .into_iter()
        .filter(|c| c.contains(" volume set "))
        .collect();
    assert_eq!(
        sets,
        [
            "gluster --mode=script volume set data features.shard on",
            "gluster --mode=script volume set data auth.allow \
             '10.*,192.168.0.*,192.168.1.*,demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2'",
            "gluster --mode=script volume set data cluster.lookup-optimize on",
            "gluster --mode=script volume set data performance.cache-size 256MB",
        ]
    );
    assert_eq!(kinds(&plan).last(), Some(&"StartVolume"));
}

#[test]
fn arbiter_and_disperse_create_arguments() {
    let zones = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}, {name: zone-c, nodes: 2}]";
    let plan = plan_cluster(
        "demo",
        &spec(zones, "{name: data, replicas: 3, arbiter: 1}"),
        &facts(),
    )
    .expect("valid");
    assert!(
        commands(&plan)
            .iter()
            .any(|c| c.contains("create data replica 3 arbiter 1 transport tcp"))
    );
    for set in &plan.sets {
        let flags: Vec<bool> = set.bricks.iter().map(|b| b.arbiter).collect();
        assert_eq!(flags, [false, false, true]);
        assert_eq!(set.zones().len(), 3);
    }
    let plan =
        plan_cluster("demo", &spec(zones, "{name: data, disperse: 6}"), &facts()).expect("valid");
    assert!(
        commands(&plan)
            .iter()
            .any(|c| c.contains("create data disperse 6 redundancy 2 transport tcp"))
    );
    assert_eq!(plan.shape.volume_type, VolumeType::Disperse);
    assert_eq!(plan.capacity(), 4 * 10 * (1 << 30));
}

#[test]
fn replica_following_nodes_grows_one_brick_at_a_time() {
    let zones = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}]";
    let before = plan_cluster("seed", &spec(zones, "{name: data}"), &facts()).expect("valid");
    let grown = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
    let plan = plan_change(
        "seed",
        &spec(grown, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("growth is planned");
    // Existing nodes keep names and indices; new ones take 4 and 5, zones interleaved.
    assert_eq!(&names(&plan)[..4], &names(&before)[..]);
    assert_eq!(
        &names(&plan)[4..],
        [(4, "seed-zone-a-3"), (5, "seed-zone-b-3")]
    );
    assert_eq!(&brick_nodes(&plan)[..4], &brick_nodes(&before)[..]);
    assert_eq!(
        kinds(&plan),
        [
            "CreateNode",
            "CreateNode",
            "ProbePeer",
            "ProbePeer",
            "WaitPeersConnected",
            // auth.allow names the new nodes before they serve a brick.
            "SetOption",
            // The heal owed is recorded in the volume before the add-brick, cleared after.
            "SetOption",
            "AddBricks",
            "HealFull",
            "WaitHealed",
            "AddBricks",
            "HealFull",
            "WaitHealed",
            "SetOption"
        ]
    );
    let adds: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == "AddBricks")
        .filter_map(|s| s.command().map(|c| c.to_string()))
        .collect();
    assert_eq!(
        adds,
        [
            "gluster --mode=script volume add-brick data replica 5 seed-zone-a-3:/export/data/brick",
            "gluster --mode=script volume add-brick data replica 6 seed-zone-b-3:/export/data/brick"
        ]
    );
    let auth = plan.steps[5].command().expect("auth.allow").to_string();
    assert!(auth.ends_with("auth.allow seed-zone-a-1,seed-zone-b-1,seed-zone-a-2,seed-zone-b-2,seed-zone-a-3,seed-zone-b-3"), "{auth}");
}

#[test]
fn replica_following_nodes_shrinks_after_heal() {
    let four = "[{name: zone-a, nodes: 4}]";
    let before = plan_cluster("seed", &spec(four, "{name: data}"), &facts()).expect("valid");
    let three = "[{name: zone-a, nodes: 3}]";
    let plan = plan_change(
        "seed",
        &spec(three, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("shrink is planned");
    assert_eq!(
        kinds(&plan),
        [
            "WaitHealed",
            "RemoveReplicaBrick",
            "DetachPeer",
            "DeleteNode",
            // auth.allow without the removed node.
            "SetOption"
        ]
    );
    let auth = plan.steps[4].command().expect("auth.allow").to_string();
    assert!(
        auth.ends_with("auth.allow seed-zone-a-1,seed-zone-a-2,seed-zone-a-3"),
        "{auth}"
    );
    assert_eq!(
        plan.steps[1].command().expect("remove-brick").to_string(),
        "gluster --mode=script volume remove-brick data replica 3 seed-zone-a-4:/export/data/brick force"
    );
    assert_eq!(plan.removed.len(), 1);
    assert_eq!(plan.removed[0].name, "seed-zone-a-4");
    assert_eq!(plan.shape.replica, 3);
}

#[test]
fn distributed_growth_appends_sets_and_rebalances() {
    let before = plan_cluster(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
    )
    .expect("valid");
    let grown = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
    let plan = plan_change(
        "demo",
        &spec(
            grown,
            "{name: data, replicas: 2, allowedClients: [10.0.0.0/8]}",
        ),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("growth is planned");
    assert_eq!(&brick_nodes(&plan)[..4], &brick_nodes(&before)[..]);
    assert_eq!(&brick_nodes(&plan)[4..], ["demo-zone-a-3", "demo-zone-b-3"]);
    assert_eq!(
        kinds(&plan),
        [
            "CreateNode",
            "CreateNode",
            "ProbePeer",
            "ProbePeer",
            "WaitPeersConnected",
            "SetOption",
            // The rebalance owed is recorded in the volume before the add-brick, cleared after.
            "SetOption",
            "AddBricks",
            "RebalanceStart",
            "WaitRebalance",
            "SetOption"
        ]
    );
    let cmds = commands(&plan);
    assert!(cmds[3].ends_with("auth.allow '10.*,demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2,demo-zone-a-3,demo-zone-b-3'"), "{}", cmds[3]);
    assert_eq!(
        cmds[4],
        "gluster --mode=script volume set data user.gluster-operator.pending rebalance"
    );
    assert_eq!(
        cmds[5],
        "gluster --mode=script volume add-brick data replica 2 demo-zone-a-3:/export/data/brick demo-zone-b-3:/export/data/brick"
    );
    assert_eq!(cmds[6], "gluster --mode=script volume rebalance data start");
    assert_eq!(
        cmds[8],
        "gluster --mode=script volume set data user.gluster-operator.pending none"
    );
}

#[test]
fn distributed_shrink_removes_the_newest_whole_set() {
    let six = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
    let before =
        plan_cluster("demo", &spec(six, "{name: data, replicas: 2}"), &facts()).expect("valid");
    let plan = plan_change(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("shrink is planned");
    assert_eq!(
        kinds(&plan),
        [
            "RemoveBricksStart",
            "WaitRemoveBricks",
            "RemoveBricksCommit",
            "DetachPeer",
            "DeleteNode",
            "DetachPeer",
            "DeleteNode",
            // auth.allow without the removed nodes.
            "SetOption"
        ]
    );
    let auth = plan.steps[7].command().expect("auth.allow").to_string();
    assert!(
        auth.ends_with("auth.allow demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2"),
        "{auth}"
    );
    let cmds = commands(&plan);
    let leaving = "demo-zone-a-3:/export/data/brick demo-zone-b-3:/export/data/brick";
    assert_eq!(
        cmds[0],
        format!("gluster --mode=script volume remove-brick data {leaving} start")
    );
    assert_eq!(
        cmds[1],
        format!("gluster --mode=script volume remove-brick data {leaving} status")
    );
    assert_eq!(
        cmds[2],
        format!("gluster --mode=script volume remove-brick data {leaving} commit")
    );
    assert_eq!(brick_nodes(&plan), &brick_nodes(&before)[..4]);
}

#[test]
fn shrink_refused_when_the_data_would_not_fit() {
    let six = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
    let before =
        plan_cluster("demo", &spec(six, "{name: data, replicas: 2}"), &facts()).expect("valid");
    let mut current = CurrentState::after(&before);
    current.used_bytes = Some(25 * (1 << 30)); // 25Gi used; two sets of 10Gi hold 20Gi
    let err = plan_change(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
        &current,
    )
    .expect_err("does not fit");
    assert_eq!(err.reason(), "InsufficientCapacity");
    assert!(err.to_string().contains("26843545600 bytes"), "{err}");
    current.used_bytes = Some(15 * (1 << 30));
    assert!(
        plan_change(
            "demo",
            &spec(TWO_ZONES, "{name: data, replicas: 2}"),
            &facts(),
            &current
        )
        .is_ok()
    );
}

#[test]
fn shrink_refused_when_not_whole_sets() {
    let before = plan_cluster(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
    )
    .expect("valid");
    // Every set is {zone-a, zone-b}: emptying zone-b alone removes no whole set.
    let zones = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 0}]";
    let err = plan_change(
        "demo",
        &spec(zones, "{name: data, replicas: 2}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect_err("half sets");
    assert_eq!(err.reason(), "NotWholeSets");
    assert_eq!(
        err.to_string(),
        "scale-in must remove whole replica sets of 2, but removing zone-b: 2 matches no \
         combination of the volume's sets (set 1: zone-a: 1, zone-b: 1; set 2: zone-a: 1, zone-b: 1)"
    );
}

#[test]
fn new_sets_must_span_zones_too() {
    let zones = "[{name: zone-a, nodes: 1}, {name: zone-b, nodes: 1}, {name: zone-c, nodes: 0}]";
    let before =
        plan_cluster("demo", &spec(zones, "{name: data, replicas: 2}"), &facts()).expect("valid");
    let grown = "[{name: zone-a, nodes: 1}, {name: zone-b, nodes: 1}, {name: zone-c, nodes: 2}]";
    // A fresh cluster of this shape is fine (sets {c, a} and {c, b}) …
    assert!(plan_cluster("demo", &spec(grown, "{name: data, replicas: 2}"), &facts()).is_ok());
    // … but growing would put both new zone-c nodes in one new set.
    let err = plan_change(
        "demo",
        &spec(grown, "{name: data, replicas: 2}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect_err("new set in one zone");
    assert_eq!(err.reason(), "UnevenZones");
    assert!(
        err.to_string()
            .contains("the 2 nodes being added cover 1 zone(s) but each new set must span 2 zones"),
        "{err}"
    );
}

#[test]
fn set_shape_changes_are_refused() {
    let before = plan_cluster(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
    )
    .expect("valid");
    let six = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
    let err = plan_change(
        "demo",
        &spec(six, "{name: data, replicas: 3}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect_err("replica 2 → 3 reshapes");
    assert_eq!(err.reason(), "LayoutMismatch");
    assert!(err.to_string().starts_with("spec.volume.replicas/stripes asks for sets of 3 (replica 3) but the volume is 2 x 2 = 4"), "{err}");
    let err = plan_change(
        "demo",
        &spec(six, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect_err("distributed → pure replicate");
    assert_eq!(err.reason(), "LayoutMismatch");
}

#[test]
fn spares_are_used_before_new_nodes() {
    // Nodes exist (e.g. a reconcile stopped before the volume was created): they are kept.
    let current = CurrentState {
        nodes: vec![
            ExistingNode {
                name: "demo-zone-a-1".into(),
                index: 1,
                zone: "zone-a".into(),
            },
            ExistingNode {
                name: "demo-zone-b-1".into(),
                index: 2,
                zone: "zone-b".into(),
            },
            ExistingNode {
                name: "demo-zone-b-7".into(),
                index: 9,
                zone: "zone-b".into(),
            },
        ],
        volume: None,
        used_bytes: None,
    };
    let plan = plan_change(
        "demo",
        &spec(TWO_ZONES, "{name: data, replicas: 2}"),
        &facts(),
        &current,
    )
    .expect("valid");
    assert_eq!(
        names(&plan),
        [
            (1, "demo-zone-a-1"),
            (2, "demo-zone-b-1"),
            (9, "demo-zone-b-7"),
            (10, "demo-zone-a-2")
        ]
    );
    assert_eq!(
        kinds(&plan).iter().filter(|k| **k == "CreateNode").count(),
        1
    );
    assert!(plan.sets.iter().all(|s| s.zones().len() == 2));
}

#[test]
fn nodes_of_a_dropped_zone_are_removed() {
    let zones = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}]";
    let before = plan_cluster("seed", &spec(zones, "{name: data}"), &facts()).expect("valid");
    let only_a = "[{name: zone-a, nodes: 2}]";
    let plan = plan_change(
        "seed",
        &spec(only_a, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("valid");
    let removed: Vec<&str> = plan.removed.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(removed, ["seed-zone-b-1", "seed-zone-b-2"]);
    assert_eq!(plan.shape.replica, 2);
    // The newest brick leaves first, each after a heal check.
    let removes: Vec<(String, u32)> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::RemoveReplicaBrick { brick, replica, .. } => Some((brick.clone(), *replica)),
            _ => None,
        })
        .collect();
    assert_eq!(
        removes,
        [
            ("seed-zone-b-2".to_string(), 3),
            ("seed-zone-b-1".to_string(), 2)
        ]
    );
}

#[test]
fn unchanged_cluster_has_nothing_to_do() {
    let s = spec(TWO_ZONES, "{name: data, replicas: 2}");
    let before = plan_cluster("demo", &s, &facts()).expect("valid");
    let plan = plan_change("demo", &s, &facts(), &CurrentState::after(&before)).expect("valid");
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);
    assert_eq!(plan.sets, before.sets);
}

#[test]
fn names_are_dns_safe_and_bounded() {
    let zones = "[{name: Zone_A, nodes: 1}]";
    let plan = plan_cluster(
        "my.cluster",
        &spec(zones, "{name: data}"),
        &CloudFacts::default(),
    )
    .expect("valid");
    let name = &plan.nodes[0].name;
    assert!(name.starts_with("my-cluster-"), "{name}");
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "{name}"
    );
    let long = "x".repeat(60);
    let err = plan_cluster(
        &long,
        &spec("[{name: zone-a, nodes: 1}]", "{name: data}"),
        &facts(),
    )
    .expect_err("too long");
    assert_eq!(err.reason(), "NameTooLong");
}

#[test]
fn refusals_name_fields_and_numbers() {
    let cases = [
        (
            "[{name: zone-a, nodes: 4}]",
            "{name: data, replicas: 3}",
            "ReplicasDoNotDivideNodes",
            "spec.volume.replicas 3 does not divide the 4 nodes of spec.zones (zone-a: 4)",
        ),
        (
            "[{name: zone-a, nodes: 6}]",
            "{name: data, replicas: 2, stripes: 2}",
            "StripesTimesReplicasNotNodes",
            "spec.volume.stripes 2 × spec.volume.replicas 2 = 4 but spec.zones hold 6 nodes (zone-a: 6)",
        ),
        (
            "[{name: zone-a, nodes: 0}]",
            "{name: data}",
            "NoNodes",
            "spec.zones hold 0 nodes in total (zone-a: 0); a volume needs at least one node",
        ),
        (
            "[{name: zone-a, nodes: 1, minNodes: 2}]",
            "{name: data}",
            "BelowMinNodes",
            "spec.zones[0] (zone-a) asks for 1 nodes, below its minNodes 2",
        ),
        (
            "[{name: zone-a, nodes: 4}, {name: zone-b, nodes: 2}]",
            "{name: data, replicas: 2}",
            "UnevenZones",
            "cannot spread the 3 replica sets of 2 across zones (zone-a: 4, zone-b: 2): each set must span 2 different zones, so a zone can hold at most 3 nodes (one per set), but zone-a has 4; move nodes to other zones or change the set size",
        ),
        (
            "[{name: zone-a, nodes: 2}, {name: zone-a, nodes: 2}]",
            "{name: data}",
            "DuplicateZone",
            "spec.zones[1].name \"zone-a\" appears twice in spec.zones; zone names must be unique",
        ),
        (
            "[{name: zone-a, nodes: 3}]",
            "{name: data, options: {auth.allow: '*'}}",
            "ConflictingOption",
            "spec.volume.options[\"auth.allow\"] is set by the operator from spec.volume.allowedClients; remove it from options",
        ),
    ];
    for (zones, volume, reason, message) in cases {
        let err = plan_cluster("demo", &spec(zones, volume), &facts()).expect_err(message);
        assert_eq!((err.reason(), err.to_string().as_str()), (reason, message));
    }
}

#[test]
fn volume_storage_in_a_zone_without_cinder_is_refused() {
    let zones = "[{name: zone-c, nodes: 1, storage: Volume}]";
    let err = plan_cluster("demo", &spec(zones, "{name: data}"), &facts()).expect_err("no cinder");
    assert_eq!(err.reason(), "NoBlockStorage");
    let plan = plan_cluster("demo", &spec(zones, "{name: data}"), &CloudFacts::default())
        .expect("unknown facts: planned as asked");
    assert_eq!(
        plan.nodes[0].storage,
        StorageChoice::Volume {
            flavor: "m1.medium".into()
        }
    );
}

#[test]
fn autoscaling_needs_bounds() {
    let mut s = spec("[{name: zone-a, nodes: 2, minNodes: 1}]", "{name: data}");
    s.autoscaling = serde_yaml::from_str("{enabled: true}").expect("parses");
    let err = plan_cluster("demo", &s, &facts()).expect_err("no maxNodes");
    assert_eq!(
        err.to_string(),
        "spec.autoscaling.enabled is true but spec.zones[0] (zone-a) has no maxNodes; autoscaling \
         needs minNodes and maxNodes on every zone"
    );
}

/// The `spec_plan` fuzz target's finding: a manifest that never met the apiserver (the `plan`
/// command) could ask for billions of nodes, and the planner built them all (out of memory).
/// The planner now holds the CRD's bounds itself.
#[test]
fn zone_and_node_counts_are_bounded_like_the_crd() {
    let err = plan_cluster(
        "demo",
        &spec("[{name: zone-a, nodes: 3000000000}]", "{name: data}"),
        &facts(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "TooManyNodes");
    assert!(err.to_string().contains("spec.zones[0]"), "{err}");
    let zones: Vec<String> = (0..17)
        .map(|i| format!("{{name: z{i}, nodes: 1}}"))
        .collect();
    let err = plan_cluster(
        "demo",
        &spec(&format!("[{}]", zones.join(", ")), "{name: data}"),
        &facts(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "TooManyZones");
    plan_cluster(
        "demo",
        &spec("[{name: zone-a, nodes: 1000}]", "{name: data}"),
        &facts(),
    )
    .expect("1000 nodes in a zone plan");
}

#[test]
fn mount_path_only_below_the_allowed_prefixes() {
    let mut s = spec(TWO_ZONES, "{name: data, replicas: 2}");
    for bad in ["/etc", "/etc/gluster", "/var/lib/glusterd", "/exporter/x"] {
        s.brick.mount_path = Some(bad.to_string());
        let err = plan_cluster("demo", &s, &facts()).unwrap_err();
        assert_eq!(err.reason(), "InvalidMountPath", "{bad}");
        assert!(err.to_string().contains("spec.brick.mountPath"), "{err}");
    }
    for good in ["/export/data", "/data/gluster", "/srv/b"] {
        s.brick.mount_path = Some(good.to_string());
        plan_cluster("demo", &s, &facts()).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

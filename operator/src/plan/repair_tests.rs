//! Table tests of the steps derived from what gluster shows: each row is an observed volume
//! (as a pass that ended somewhere leaves it) and the steps the next pass plans.

use crate::api::GlusterClusterSpec;
use crate::plan::{
    CloudFacts, ClusterPlan, CurrentState, ObservedVolume, PENDING_KEY, Pending, PlanError, Step,
    VolumeState, plan_change, plan_cluster,
};

const ZONES: &str = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}]";
const GROWN: &str = "[{name: zone-a, nodes: 3}, {name: zone-b, nodes: 3}]";
const VOLUME: &str = "{name: data, replicas: 2, allowedClients: [10.0.0.0/8], options: {performance.cache-size: 64MB}}";
const AUTH: &str = "10.*,demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2";

fn spec(zones: &str, volume: &str) -> GlusterClusterSpec {
    let mut spec: GlusterClusterSpec = serde_yaml::from_str(&format!(
        "cloud: {{secretName: openstack, cloudName: sim}}\nimage: ubuntu-22.04\nflavor: m1.medium\n\
         network: private\nzones: {zones}\nbrick: {{size: 10Gi}}\nvolume: {volume}\n"
    ))
    .expect("test spec parses");
    // Repairs without TLS unless a test asks; TLS steps: plan/tls_tests.rs.
    spec.volume.tls.get_or_insert(false);
    spec
}

fn facts() -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(["zone-a".to_string(), "zone-b".to_string()].into()),
    }
}

/// The state after the 2 × 2 cluster was built in full (volume started, options set).
fn built(volume: &str) -> CurrentState {
    let plan = plan_cluster("demo", &spec(ZONES, volume), &facts()).expect("valid");
    CurrentState::after(&plan)
}

fn volume_mut(state: &mut CurrentState) -> &mut ObservedVolume {
    state.volume.as_mut().expect("volume")
}

/// Each step as `Kind` or `SetOption key=value` (hosts as node names).
fn steps(plan: &ClusterPlan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::SetOption { key, command, .. } => format!(
                "SetOption {key}={}",
                command.argv().last().cloned().unwrap_or_default()
            ),
            other => other.kind().to_string(),
        })
        .collect()
}

fn plan(zones: &str, volume: &str, current: &CurrentState) -> Vec<String> {
    steps(&plan_change("demo", &spec(zones, volume), &facts(), current).expect("planned"))
}

#[test]
fn the_state_after_a_built_cluster_holds_its_options_and_needs_nothing() {
    let state = built(VOLUME);
    let v = state.volume.as_ref().expect("volume");
    assert_eq!(v.state, VolumeState::Started);
    assert_eq!(v.options.get("auth.allow").map(String::as_str), Some(AUTH));
    assert_eq!(
        v.options.get("performance.cache-size").map(String::as_str),
        Some("64MB")
    );
    assert_eq!(plan(ZONES, VOLUME, &state), Vec::<String>::new());
}

#[test]
fn a_pass_that_ended_anywhere_is_finished_from_what_gluster_shows() {
    type Edit = fn(&mut ObservedVolume);
    let rows: &[(&str, Edit, &[&str])] = &[
        (
            "ended after volume create",
            |v| {
                v.state = VolumeState::Created;
                v.options.clear();
            },
            &[
                &format!("SetOption auth.allow={AUTH}"),
                "SetOption performance.cache-size=64MB",
                "StartVolume",
            ],
        ),
        (
            "ended after the first volume set",
            |v| {
                v.state = VolumeState::Created;
                v.options.remove("performance.cache-size");
            },
            &["SetOption performance.cache-size=64MB", "StartVolume"],
        ),
        (
            "ended before volume start",
            |v| v.state = VolumeState::Created,
            &["StartVolume"],
        ),
        (
            "an option changed by hand",
            |v| {
                v.options
                    .insert("performance.cache-size".into(), "32MB".into());
            },
            &["SetOption performance.cache-size=64MB"],
        ),
        (
            "auth.allow reset by hand",
            |v| {
                v.options.remove("auth.allow");
            },
            &[&format!("SetOption auth.allow={AUTH}")],
        ),
        (
            "an option the spec does not name is left alone",
            |v| {
                v.options
                    .insert("performance.io-thread-count".into(), "4".into());
            },
            &[],
        ),
        (
            "marker clear: nothing owed",
            |v| {
                v.options.insert(PENDING_KEY.into(), "none".into());
            },
            &[],
        ),
        (
            "ended after add-brick: the owed rebalance is started",
            |v| {
                v.options.insert(PENDING_KEY.into(), "rebalance".into());
            },
            &[
                "RebalanceStart",
                "WaitRebalance",
                "SetOption user.gluster-operator.pending=none",
            ],
        ),
        (
            "an earlier rebalance's task is not the owed one",
            |v| {
                v.options
                    .insert(PENDING_KEY.into(), "rebalance-after-old".into());
                v.rebalance_task = Some("old".into());
            },
            &[
                "RebalanceStart",
                "WaitRebalance",
                "SetOption user.gluster-operator.pending=none",
            ],
        ),
        (
            "ended after rebalance start: waited for, not started twice",
            |v| {
                v.options
                    .insert(PENDING_KEY.into(), "rebalance-after-old".into());
                v.rebalance_task = Some("new".into());
            },
            &[
                "WaitRebalance",
                "SetOption user.gluster-operator.pending=none",
            ],
        ),
        (
            "first rebalance of the volume already started",
            |v| {
                v.options.insert(PENDING_KEY.into(), "rebalance".into());
                v.rebalance_task = Some("new".into());
            },
            &[
                "WaitRebalance",
                "SetOption user.gluster-operator.pending=none",
            ],
        ),
        (
            "volume status did not answer: which rebalance ran is unknown, wait",
            |v| {
                v.options.insert(PENDING_KEY.into(), "rebalance".into());
                v.tasks_known = false;
            },
            &[],
        ),
        (
            "ended after a replica add-brick: the owed heal",
            |v| {
                v.options.insert(PENDING_KEY.into(), "heal".into());
            },
            &[
                "HealFull",
                "WaitHealed",
                "SetOption user.gluster-operator.pending=none",
            ],
        ),
    ];
    for (what, edit, want) in rows {
        let mut state = built(VOLUME);
        edit(volume_mut(&mut state));
        assert_eq!(plan(ZONES, VOLUME, &state), *want, "{what}");
    }
}

#[test]
fn changing_allowed_clients_later_reapplies_auth_allow() {
    let state = built(VOLUME);
    let wider = VOLUME.replace("10.0.0.0/8", "192.168.0.0/16");
    assert_eq!(
        plan(ZONES, &wider, &state),
        [format!(
            "SetOption auth.allow={}",
            AUTH.replace("10.*", "192.168.*")
        )]
    );
    // No allowedClients is default deny: the nodes only, never gluster's `*`.
    let closed = "{name: data, replicas: 2, options: {performance.cache-size: 64MB}}";
    assert_eq!(
        plan(ZONES, closed, &state),
        ["SetOption auth.allow=demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2"]
    );
    assert_eq!(plan(ZONES, closed, &built(closed)), Vec::<String>::new());
    // The world only when asked for.
    let open = "{name: data, replicas: 2, allowedClients: [0.0.0.0/0], options: {performance.cache-size: 64MB}}";
    assert_eq!(
        plan(ZONES, open, &state),
        ["SetOption auth.allow=*,demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2"]
    );
}

#[test]
fn sharding_is_set_again_on_a_created_volume() {
    let volume = "{name: data, replicas: 2, stripes: 2}";
    let mut state = built(volume);
    let v = volume_mut(&mut state);
    v.state = VolumeState::Created;
    v.options.clear();
    assert_eq!(
        plan(ZONES, volume, &state),
        [
            "SetOption features.shard=on",
            "SetOption auth.allow=demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2",
            "StartVolume"
        ]
    );
}

#[test]
fn a_stopped_volume_is_reported_not_started() {
    let mut state = built(VOLUME);
    volume_mut(&mut state).state = VolumeState::Stopped;
    let e = plan_change("demo", &spec(ZONES, VOLUME), &facts(), &state).expect_err("stopped");
    assert_eq!(e.reason(), "VolumeStopped");
    assert!(e.to_string().contains("gluster volume start data"), "{e}");
    assert!(matches!(e, PlanError::VolumeStopped { .. }));
}

#[test]
fn new_sets_are_marked_before_add_brick_and_cleared_after_the_rebalance() {
    let mut state = built(VOLUME);
    volume_mut(&mut state).rebalance_task = Some("old".into());
    let grown = plan(GROWN, VOLUME, &state);
    let tail: Vec<&str> = grown.iter().map(String::as_str).skip(5).collect();
    assert_eq!(
        tail,
        [
            "SetOption auth.allow=10.*,demo-zone-a-1,demo-zone-b-1,demo-zone-a-2,demo-zone-b-2,\
             demo-zone-a-3,demo-zone-b-3",
            "SetOption user.gluster-operator.pending=rebalance-after-old",
            "AddBricks",
            "RebalanceStart",
            "WaitRebalance",
            "SetOption user.gluster-operator.pending=none",
        ],
        "{grown:?}"
    );
    // Ended between the marker and the add-brick: the add-brick plans its own rebalance, the
    // marker is not followed twice.
    volume_mut(&mut state)
        .options
        .insert(PENDING_KEY.into(), "rebalance-after-old".into());
    assert_eq!(plan(GROWN, VOLUME, &state), grown);
}

#[test]
fn a_raised_replica_count_is_marked_for_its_heal() {
    let volume = "{name: data}";
    let two = "[{name: zone-a, nodes: 1}, {name: zone-b, nodes: 1}]";
    let plan0 = plan_cluster("demo", &spec(two, volume), &facts()).expect("valid");
    let grown = plan(ZONES, volume, &CurrentState::after(&plan0));
    let from_mark: Vec<&str> = grown
        .iter()
        .map(String::as_str)
        .skip_while(|s| !s.starts_with("SetOption user."))
        .collect();
    assert_eq!(
        from_mark,
        [
            "SetOption user.gluster-operator.pending=heal",
            "AddBricks",
            "HealFull",
            "WaitHealed",
            "AddBricks",
            "HealFull",
            "WaitHealed",
            "SetOption user.gluster-operator.pending=none",
        ],
        "{grown:?}"
    );
}

#[test]
fn the_marker_round_trips_and_foreign_values_owe_nothing() {
    for p in [
        Pending::Nothing,
        Pending::Heal,
        Pending::Rebalance { after: None },
        Pending::Rebalance {
            after: Some("2d3c-11".into()),
        },
    ] {
        assert_eq!(Pending::parse(Some(&p.value())), p);
    }
    assert_eq!(Pending::parse(None), Pending::Nothing);
    assert_eq!(Pending::parse(Some("rebalance-after-")), Pending::Nothing);
    assert_eq!(Pending::parse(Some("whatever")), Pending::Nothing);
}

#[test]
fn the_marker_key_is_refused_as_a_spec_option() {
    let e = plan_cluster(
        "demo",
        &spec(
            ZONES,
            "{name: data, options: {user.gluster-operator.pending: none}}",
        ),
        &facts(),
    )
    .expect_err("reserved");
    assert_eq!(e.reason(), "InvalidOption");
}

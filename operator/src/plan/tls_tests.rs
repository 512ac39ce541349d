//! The TLS steps of the plan (`plan/tls.rs`).

use crate::api::GlusterClusterSpec;

use super::*;

const ZONES: &str = "[{name: zone-a, nodes: 1}, {name: zone-b, nodes: 1}]";
const GROWN: &str = "[{name: zone-a, nodes: 2}, {name: zone-b, nodes: 2}]";

fn spec(zones: &str, volume: &str) -> GlusterClusterSpec {
    serde_yaml::from_str(&format!(
        "cloud: {{secretName: openstack, cloudName: sim}}\nimage: ubuntu-22.04\nflavor: m1.medium\n\
         network: private\nzones: {zones}\nbrick: {{size: 10Gi}}\nvolume: {volume}\n"
    ))
    .expect("test spec parses")
}

fn facts() -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(["zone-a".to_string(), "zone-b".to_string()].into()),
    }
}

fn sets(plan: &ClusterPlan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| s.command().map(|c| c.to_string()))
        .filter(|c| c.contains(" volume set "))
        .collect()
}

#[test]
fn a_new_volume_gets_tls_by_default_before_it_starts() {
    let plan = plan_cluster("demo", &spec(ZONES, "{name: data}"), &facts()).expect("valid");
    assert_eq!(
        sets(&plan),
        [
            // auth.allow is always set (the nodes only, without allowedClients).
            "gluster --mode=script volume set data auth.allow demo-zone-a-1,demo-zone-b-1",
            "gluster --mode=script volume set data auth.ssl-allow \
             demo-zone-a-1,demo-zone-b-1,demo-client",
            "gluster --mode=script volume set data client.ssl on",
            "gluster --mode=script volume set data server.ssl on",
        ]
    );
    let kinds: Vec<&str> = plan.steps.iter().map(Step::kind).collect();
    assert_eq!(kinds.last(), Some(&"StartVolume"));
}

#[test]
fn tls_false_plans_no_tls_option() {
    let plan =
        plan_cluster("demo", &spec(ZONES, "{name: data, tls: false}"), &facts()).expect("valid");
    assert!(
        sets(&plan).iter().all(|c| !c.contains("ssl")),
        "{:?}",
        sets(&plan)
    );
}

#[test]
fn growth_of_a_tls_volume_names_the_new_nodes_before_their_bricks_join() {
    let before = plan_cluster("demo", &spec(ZONES, "{name: data}"), &facts()).expect("valid");
    let plan = plan_change(
        "demo",
        &spec(GROWN, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("growth");
    let allow = plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::SetOption { key, .. } if key == SSL_ALLOW))
        .expect("auth.ssl-allow is set again");
    let joins = plan
        .steps
        .iter()
        .position(|s| s.kind() == "AddBricks")
        .expect("bricks are added");
    assert!(allow < joins, "{:?}", plan.steps);
    let command = plan.steps[allow].command().expect("a command").to_string();
    assert!(
        command.ends_with(
            "auth.ssl-allow demo-zone-a-1,demo-zone-a-2,demo-zone-b-1,demo-zone-b-2,demo-client"
        ),
        "{command}"
    );
    // Nothing else about TLS is touched on a live volume.
    assert!(
        !sets(&plan)
            .iter()
            .any(|c| c.contains("client.ssl") || c.contains("server.ssl")),
        "{:?}",
        sets(&plan)
    );
}

#[test]
fn a_volume_built_without_tls_is_never_switched_over() {
    let before =
        plan_cluster("demo", &spec(ZONES, "{name: data, tls: false}"), &facts()).expect("valid");
    // The spec now asks for TLS (the default): the live plain volume is left plain.
    let plan = plan_change(
        "demo",
        &spec(GROWN, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("growth");
    assert!(
        sets(&plan).iter().all(|c| !c.contains("ssl")),
        "{:?}",
        sets(&plan)
    );
}

#[test]
fn a_shrinking_tls_volume_keeps_the_leaving_nodes_names_until_they_are_gone() {
    let before = plan_cluster("demo", &spec(GROWN, "{name: data}"), &facts()).expect("valid");
    let plan = plan_change(
        "demo",
        &spec(ZONES, "{name: data}"),
        &facts(),
        &CurrentState::after(&before),
    )
    .expect("shrink");
    assert!(
        plan.steps.iter().any(|s| s.kind().starts_with("Remove")),
        "{:?}",
        plan.steps
    );
    // Every node still exists: ssl-allow already names them all, nothing to set.
    assert!(
        !sets(&plan).iter().any(|c| c.contains(SSL_ALLOW)),
        "{:?}",
        sets(&plan)
    );
}

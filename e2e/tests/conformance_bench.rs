//! The real-cloud comparison (`make bench-real-cloud`) end to end at its smallest: two nodes,
//! one round, on the cloud of `E2E_CONFORMANCE_CLOUDS` (its directory holds the APIs' logs):
//! direct calls, Heat (a ResourceGroup, then an AutoScalingGroup signalled to grow by two) and
//! the operator (to Ready, scaled out by two to Ready again, deleted). Every measurement is
//! there, none failed, the calls were counted from the access logs and the JSON says the same.
//! No speed is asserted: goals are the bench's business. Needs root (loopback nodes), the
//! operator binary of the same profile (`cargo build -p gluster-operator`) and the feature
//! `conformance`.

use std::path::Path;

use e2e::bench::real_cloud::{self, RealCloudOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_each_way_are_measured_with_their_calls() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the bench needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
    );
    let clouds = std::env::var("E2E_CONFORMANCE_CLOUDS")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("E2E_CONFORMANCE_CLOUDS: the clouds.yaml of a conformance cloud (cloud.sh up DIR)");
    let cloud_dir = Path::new(&clouds).parent().expect("the cloud's directory");
    assert!(
        cloud_dir.join("log/nova-api.log").is_file(),
        "{} has no log/nova-api.log: not a directory of e2e/conformance/cloud.sh",
        cloud_dir.display()
    );
    let scratch = tempfile::Builder::new()
        .prefix("bench-cloud-")
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = RealCloudOptions::new(&repo, cloud_dir);
    options.sizes = vec![2];
    options.rounds = 1;
    options.work_dir = scratch.path().join("work");
    options.json_path = scratch.path().join("bench-real-cloud.json");
    let results = real_cloud::run(&options).await.expect("the bench ran");
    println!("{}", real_cloud::table(&results));

    let failed: Vec<_> = results
        .measured
        .iter()
        .filter(|m| m.error.is_some())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let actions: Vec<(&str, &str)> = results
        .measured
        .iter()
        .map(|m| (m.actor.as_str(), m.action.as_str()))
        .collect();
    for expected in [
        ("direct", "warm-up"),
        ("direct", "create"),
        ("direct", "scale-out"),
        ("direct", "delete"),
        ("heat", "create"),
        ("heat", "delete"),
        ("heat", "create (asg)"),
        ("heat", "scale-out"),
        ("heat", "delete (asg)"),
        ("operator", "create"),
        ("operator", "ready"),
        ("operator", "scale-out"),
        ("operator", "scale-out ready"),
        ("operator", "delete"),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} not in {actions:?}"
        );
    }
    for m in &results.measured {
        let seconds = m.seconds.expect("measured");
        assert!(seconds > 0.0, "{m:?}");
        // Every action reached Nova, Cinder or Neutron, and the logs said so.
        assert!(m.calls.compute_volume_network > 0, "{m:?}");
        if m.actor == "heat" && m.action.starts_with("create") {
            assert!(m.heat_event_seconds.is_some(), "Heat's events: {m:?}");
        }
        match m.actor.as_str() {
            "heat" => assert_eq!(m.calls_by_actor_itself, None),
            _ => assert!(m.calls_by_actor_itself.unwrap_or(0) > 0, "{m:?}"),
        }
        // The bench's own polling is counted apart, never as the actor's.
        assert!(
            !m.calls
                .by_service_client
                .values()
                .any(|c| c.contains_key(real_cloud::OBSERVER_USER_AGENT)
                    || c.contains_key(e2e::cloudnodes::WATCHER_USER_AGENT)),
            "{m:?}"
        );
    }
    // The operator's create includes its own calls to all three services.
    let create = results
        .measured
        .iter()
        .find(|m| m.actor == "operator" && m.action == "create")
        .unwrap();
    for service in ["compute", "block-storage", "network"] {
        assert!(
            create.calls.of(service, "gluster-operator") > 0,
            "{service}: {create:?}"
        );
    }
    assert_eq!(results.comparisons.len(), 3);
    for c in &results.comparisons {
        assert!(
            c.operator_seconds.is_some() && c.direct_seconds.is_some() && c.heat_seconds.is_some(),
            "{c:?}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&options.json_path).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(json["rounds"], 1);
    assert_eq!(
        json["measured"].as_array().map(Vec::len),
        Some(results.measured.len())
    );
    assert_eq!(json["comparisons"][0]["nodes"], 2);
    assert!(json["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
}

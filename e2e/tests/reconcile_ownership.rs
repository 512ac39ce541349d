//! Ownership by UID only, on the real API server and the OpenStack simulator: a Secret named
//! like the cluster's SSH key Secret but not owned by the cluster, and a security group named
//! like the cluster's but not tagged with its UID, each stall the cluster with a reason that
//! names them, and are left exactly as they were; nothing is built.

mod reconcile_support;

use std::collections::BTreeMap;

use e2e::openstack::{SimConfig, TimingConfig};
use gluster_operator::cloud::SecurityGroupSpec;
use gluster_operator::cloud::network::gluster_rules;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use reconcile_support::{World, condition, example};

fn fast() -> SimConfig {
    SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    }
}

/// Waits until `name` is Stalled and returns (reason, message).
async fn stalled(world: &World, name: &str) -> (String, String) {
    let c = world
        .wait_for(name, "Stalled=True", |c| {
            condition(c, "Stalled").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let (_, reason, message) = condition(&c, "Stalled").expect("Stalled");
    (reason, message)
}

/// No server, volume or port was created.
fn nothing_built(world: &World) {
    let counters = world.sim().counters();
    for (method, route) in [
        ("POST", "/compute/v2.1/servers"),
        ("POST", "/volume/v3/{project_id}/volumes"),
        ("POST", "/networking/v2.0/ports"),
    ] {
        assert_eq!(
            counters.get(method, route),
            0,
            "{method} {route}: {counters:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_ssh_secret_stalls_the_cluster_untouched() {
    if reconcile_support::skip_in_external_mode(
        "a_foreign_ssh_secret_stalls_the_cluster_untouched",
        "needs the simulator's call counters",
    ) {
        return;
    }
    let world = World::start(fast()).await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    let foreign = secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("pair-ssh".into()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(
                    "id_ed25519".to_string(),
                    ByteString(b"someone else's key".to_vec()),
                )])),
                ..Secret::default()
            },
        )
        .await
        .expect("the foreign Secret");
    world.apply(&example("2-nodes-replica-2.yaml")).await;
    let (reason, message) = stalled(&world, "pair").await;
    assert_eq!(reason, "SecretNotOwned", "{message}");
    assert!(
        message.contains("pair-ssh") && message.contains("not owned by GlusterCluster pair"),
        "{message}"
    );
    let after = secrets.get("pair-ssh").await.expect("still there");
    assert_eq!(
        after.metadata.resource_version, foreign.metadata.resource_version,
        "the foreign Secret was changed"
    );
    assert_eq!(after.data, foreign.data);
    assert!(after.metadata.owner_references.is_none());
    nothing_built(&world);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_group_with_the_name_but_not_the_uid_is_never_adopted() {
    if reconcile_support::skip_in_external_mode(
        "a_security_group_with_the_name_but_not_the_uid_is_never_adopted",
        "needs the simulator's call counters",
    ) {
        return;
    }
    let world = World::start(fast()).await;
    // What namespace `<ns>-pair` + cluster `x` would be named like, or a hand-made group.
    let name = format!("gluster-{}-pair", world.ns);
    let made = world
        .cloud
        .network()
        .ensure_security_group(&SecurityGroupSpec {
            name: name.clone(),
            description: "someone else's".into(),
            tags: vec!["glusterops-uid:someone-else".into()],
            rules: gluster_rules(&["192.0.2.0/24".into()], &["192.0.2.0/24".into()])
                .expect("rules"),
        })
        .await
        .expect("the foreign group");
    let before = world
        .cloud
        .network()
        .get_security_group(&made.value)
        .await
        .expect("get")
        .expect("exists");
    world.sim().reset_counters();
    world.apply(&example("2-nodes-replica-2.yaml")).await;
    let (reason, message) = stalled(&world, "pair").await;
    assert_eq!(reason, "CloudResourceMismatch", "{message}");
    assert!(
        message.contains(&name) && message.contains("left untouched"),
        "{message}"
    );
    let after = world
        .cloud
        .network()
        .get_security_group(&made.value)
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(after, before, "the foreign group was changed");
    let counters = world.sim().counters();
    for (method, route) in [
        ("POST", "/networking/v2.0/security-groups"),
        ("POST", "/networking/v2.0/security-group-rules"),
        ("DELETE", "/networking/v2.0/security-group-rules/{id}"),
        ("PUT", "/networking/v2.0/security-groups/{id}/tags"),
    ] {
        assert_eq!(
            counters.get(method, route),
            0,
            "{method} {route}: {counters:?}"
        );
    }
    nothing_built(&world);
    world.stop().await;
}

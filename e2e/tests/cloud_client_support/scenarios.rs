//! The client integration scenarios, written once against an [`Env`]: the simulator
//! (tests/cloud_client.rs) and a real cloud (tests/conformance_client.rs) run the same ones.
//! Call counts and faults come from the recorder proxy in front of either target; the few
//! checks that only hold for the simulator's fixed world are guarded by `env.is_sim()`.

use std::time::Duration;

use e2e::recorder::ProxyAction;
use gluster_operator::cloud::compute::WANTED_MICROVERSION;
use gluster_operator::cloud::network::gluster_rules;
use gluster_operator::cloud::{
    ApiErrorKind, ClientOptions, Cloud, CloudConfig, CloudError, SecurityGroupSpec, ServerQuery,
    ServerStatus, Timeouts, VolumeCreate, VolumeQuery, VolumeStatus,
};

use super::env::Env;
use super::{PROJECT_ID, fast_options, meta};

const TOKENS: &str = "/v3/auth/tokens";
const FLAVORS: &str = "/v2.1/flavors/detail";
const SERVERS: &str = "/v2.1/servers";
const SERVERS_DETAIL: &str = "/v2.1/servers/detail";
const VOLUMES: &str = "/v3/{id}/volumes";
const IMAGES: &str = "/v2/images";
const NETWORKS: &str = "/v2.0/networks";
const SECURITY_GROUPS: &str = "/v2.0/security-groups";
const RULES: &str = "/v2.0/security-group-rules";
const ATTACHMENTS: &str = "/v2.1/servers/{id}/os-volume_attachments";

/// A UUID no cloud has.
const MISSING: &str = "00000000-0000-4000-8000-000000000000";

fn by_name(name: &str) -> ServerQuery {
    ServerQuery {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// clouds.yaml `yaml` with cloud `name`'s password replaced.
fn with_password(yaml: &str, name: &str, password: &str) -> String {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
    doc["clouds"][name]["auth"]["password"] = serde_yaml::Value::String(password.into());
    serde_yaml::to_string(&doc).expect("yaml")
}

/// Password (and, on the simulator, application credential) auth; the token is reused; wrong
/// credentials are AuthFailed, not retried, secret-free.
pub async fn authenticates(env: &Env) {
    for name in &env.auth_clouds {
        let client = env.client_for(name, fast_options());
        let project = client.authenticate().await.expect("auth");
        assert!(project.as_deref().is_some_and(|p| !p.is_empty()), "{name}");
        if env.is_sim() {
            assert_eq!(project.as_deref(), Some(PROJECT_ID), "{name}");
        }
        assert_eq!(client.tokens_issued(), 1);
        client.authenticate().await.expect("auth");
        assert_eq!(client.tokens_issued(), 1, "the token is reused");
    }
    let n = env.auth_clouds.len() as u64;
    assert_eq!(env.calls("POST", "identity", TOKENS), n);

    let yaml = with_password(&env.yaml, &env.cloud_name, "wrong-password");
    let bad =
        Cloud::from_clouds_yaml(&yaml, &env.cloud_name, None, fast_options()).expect("client");
    let err = bad.authenticate().await.expect_err("refused");
    assert!(matches!(err, CloudError::AuthFailed { .. }), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed");
    assert!(err.cloud_message().is_some_and(|m| !m.is_empty()));
    assert!(!format!("{err} {err:?}").contains("wrong-password"));
    assert_eq!(env.calls("POST", "identity", TOKENS), n + 1, "not retried");
}

/// An endpoint in a region the catalog lacks is NoEndpoint, naming the regions it has.
pub async fn endpoint_selection_follows_the_region(env: &Env) {
    let mut config = CloudConfig::from_clouds_yaml(&env.yaml, &env.cloud_name).expect("config");
    config.region = Some("Elsewhere".into());
    let cloud = Cloud::new(config, fast_options()).expect("client");
    match cloud.compute().flavor("m1.small").await {
        Err(e @ CloudError::NoEndpoint { .. }) => {
            let text = e.to_string();
            assert!(text.contains("region Elsewhere"), "{text}");
            assert!(text.contains("RegionOne"), "{text}");
        }
        other => panic!("expected NoEndpoint, got {other:?}"),
    }
}

/// The Nova microversion is negotiated once.
pub async fn negotiates_the_nova_microversion(env: &Env) {
    let cloud = &env.cloud;
    assert_eq!(
        cloud.compute().microversion().await.expect("mv"),
        WANTED_MICROVERSION
    );
    cloud.compute().availability_zones().await.expect("zones");
    assert_eq!(
        cloud.compute().microversion().await.expect("mv"),
        WANTED_MICROVERSION
    );
    assert_eq!(env.calls("GET", "compute", "/v2.1"), 1, "negotiated once");
}

/// Flavors, images, networks and zones by name and ID; unknown names are NotFound.
pub async fn resolves_flavors_images_networks_and_zones(env: &Env) {
    let cloud = &env.cloud;
    let xlarge = cloud.compute().flavor("m1.xlarge").await.expect("flavor");
    assert_eq!(
        (xlarge.vcpus, xlarge.ram, xlarge.ephemeral),
        (8, 16384, 100)
    );
    let by_id = cloud
        .compute()
        .flavor(&xlarge.id)
        .await
        .expect("flavor by id");
    assert_eq!(by_id, xlarge);
    let small = cloud.compute().flavor("m1.small").await.expect("flavor");
    assert_eq!((small.vcpus, small.ram, small.ephemeral), (1, 2048, 0));
    let err = cloud
        .compute()
        .flavor("m9.huge")
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, CloudError::NotFound { kind: "flavor", .. }),
        "{err:?}"
    );

    let ubuntu = cloud.image().image("ubuntu-22.04").await.expect("image");
    assert_eq!(ubuntu.id, env.world.image);
    assert_eq!(ubuntu.status, "active");
    assert_eq!(
        cloud.image().image(&ubuntu.id).await.expect("by id").name,
        "ubuntu-22.04"
    );
    assert_eq!(
        cloud.image().image("debian-12").await.expect("image").name,
        "debian-12"
    );
    let err = cloud
        .image()
        .image("windows-11")
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, CloudError::NotFound { kind: "image", .. }),
        "{err:?}"
    );
    let err = cloud.image().image(MISSING).await.expect_err("unknown id");
    assert!(err.is_not_found(), "{err:?}");

    let private = cloud.network().network("private").await.expect("network");
    assert_eq!(private.id, env.world.network);
    assert_eq!(
        cloud
            .network()
            .network(&private.id)
            .await
            .expect("by id")
            .name,
        "private"
    );
    let err = cloud
        .network()
        .network("public")
        .await
        .expect_err("unknown");
    assert!(
        matches!(
            err,
            CloudError::NotFound {
                kind: "network",
                ..
            }
        ),
        "{err:?}"
    );

    let mut nova: Vec<String> = cloud
        .compute()
        .availability_zones()
        .await
        .expect("nova zones")
        .into_iter()
        .filter(|z| z.available)
        .map(|z| z.name)
        .collect();
    nova.sort();
    assert_eq!(nova, ["zone-a", "zone-b", "zone-c"]);
    let mut cinder: Vec<String> = cloud
        .volume()
        .availability_zones()
        .await
        .expect("cinder zones")
        .into_iter()
        .filter(|z| z.available)
        .map(|z| z.name)
        .collect();
    cinder.sort();
    assert_eq!(cinder, ["zone-a", "zone-b"], "zone-c has no block storage");
}

/// Keypairs: created, adopted on the same key (Nova's 409), refused on another, deleted.
pub async fn keypairs_are_created_adopted_and_deleted(env: &Env) {
    let cloud = &env.cloud;
    let name = env.name("k");
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4pZ8zF7yJ3sY0mWbq5x3mOQ0f2rVvK7d1l8gq3Zq7P op@gc";
    let other =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm5Qh5k0zW1w3a7oJc6qgqgP1pQm1w7b6v3xQ2r9d8K x";
    let made = cloud
        .compute()
        .ensure_keypair(&name, key)
        .await
        .expect("create");
    assert!(!made.adopted);
    assert_eq!(made.value.name, name);
    let again = cloud
        .compute()
        .ensure_keypair(&name, key)
        .await
        .expect("adopt");
    assert!(
        again.adopted,
        "the second ensure adopts (Nova answers 409 to the create)"
    );
    let got = cloud
        .compute()
        .get_keypair(&name)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        got.public_key.split_whitespace().nth(1),
        key.split_whitespace().nth(1)
    );
    let err = cloud
        .compute()
        .ensure_keypair(&name, other)
        .await
        .expect_err("mismatch");
    assert!(
        matches!(
            err,
            CloudError::Mismatch {
                kind: "keypair",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(cloud.compute().delete_keypair(&name).await.expect("delete"));
    assert!(
        !cloud
            .compute()
            .delete_keypair(&name)
            .await
            .expect("gone: Ok")
    );
    assert!(
        cloud
            .compute()
            .get_keypair(&name)
            .await
            .expect("get")
            .is_none()
    );
}

/// A security group with the gluster rules: ensured once, adopted after, widened by the new
/// rules only, narrowed by deleting the rules no longer wanted, found and deleted by tag.
pub async fn security_group_is_ensured_idempotently_and_deleted_by_tag(env: &Env) {
    let cloud = &env.cloud;
    let name = env.name("sg");
    let spec = SecurityGroupSpec {
        name: name.clone(),
        description: format!("gluster cluster {name}"),
        tags: vec![format!("gluster-cluster-{name}")],
        rules: gluster_rules(
            &["10.0.0.0/8".into(), "2001:db8::/32".into()],
            &["10.0.0.0/8".into()],
        )
        .expect("rules"),
    };
    let made = cloud
        .network()
        .ensure_security_group(&spec)
        .await
        .expect("create");
    assert!(!made.adopted);
    let rule_posts = env.calls("POST", "network", RULES);
    assert_eq!(rule_posts, spec.rules.len() as u64);
    let group = cloud
        .network()
        .get_security_group(&made.value)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(group.tags, spec.tags);
    for port in [22u16, 24007, 49152] {
        assert!(
            group
                .security_group_rules
                .iter()
                .any(|r| r.direction == "ingress"
                    && r.port_range_min == Some(port)
                    && r.remote_ip_prefix.as_deref() == Some("10.0.0.0/8")),
            "rule for port {port} from 10.0.0.0/8 in {:?}",
            group.security_group_rules
        );
    }
    assert!(
        group
            .security_group_rules
            .iter()
            .any(|r| r.port_range_min == Some(49152)
                && r.port_range_max == Some(60999)
                && r.remote_group_id.as_deref() == Some(made.value.as_str()))
    );

    let again = cloud
        .network()
        .ensure_security_group(&spec)
        .await
        .expect("adopt");
    assert!(again.adopted);
    assert_eq!(again.value, made.value);
    assert_eq!(env.calls("POST", "network", SECURITY_GROUPS), 1);
    assert_eq!(env.calls("POST", "network", RULES), rule_posts);

    let wider = SecurityGroupSpec {
        rules: gluster_rules(
            &[
                "10.0.0.0/8".into(),
                "2001:db8::/32".into(),
                "192.0.2.0/24".into(),
            ],
            &["10.0.0.0/8".into()],
        )
        .expect("rules"),
        ..spec.clone()
    };
    cloud
        .network()
        .ensure_security_group(&wider)
        .await
        .expect("widen");
    // glusterd and the brick ports from the new CIDR.
    assert_eq!(env.calls("POST", "network", RULES), rule_posts + 2);

    // Narrowed: the rules of the CIDRs no longer named are deleted, nothing is added, and the
    // group holds exactly the wanted ingress rules.
    let narrower = SecurityGroupSpec {
        rules: gluster_rules(&["10.0.0.0/8".into()], &["10.0.0.0/8".into()]).expect("rules"),
        ..spec.clone()
    };
    let rule_route = format!("{RULES}/{{id}}");
    let deletes = env.calls("DELETE", "network", &rule_route);
    cloud
        .network()
        .ensure_security_group(&narrower)
        .await
        .expect("narrow");
    assert_eq!(env.calls("POST", "network", RULES), rule_posts + 2);
    assert_eq!(env.calls("DELETE", "network", &rule_route), deletes + 4);
    let narrowed = cloud
        .network()
        .get_security_group(&made.value)
        .await
        .expect("get")
        .expect("exists");
    let ingress: Vec<_> = narrowed
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .collect();
    assert_eq!(ingress.len(), narrower.rules.len(), "{ingress:?}");
    assert!(
        ingress.iter().all(|r| narrower
            .rules
            .iter()
            .any(|w| w.is_satisfied_by(r, &made.value))),
        "{ingress:?}"
    );

    let found = cloud
        .network()
        .list_security_groups(None, &spec.tags)
        .await
        .expect("by tag");
    assert_eq!(found.len(), 1);
    assert_eq!(
        cloud
            .network()
            .delete_security_groups_by_tags(&spec.tags)
            .await
            .expect("delete"),
        1
    );
    assert_eq!(
        cloud
            .network()
            .delete_security_groups_by_tags(&spec.tags)
            .await
            .expect("again"),
        0
    );
    assert!(
        !cloud
            .network()
            .delete_security_group(&made.value)
            .await
            .expect("gone: Ok")
    );
}

/// Servers: created with key, security group, metadata and tags; ACTIVE with an address on
/// `private`; listed by exact name, tag and metadata; its port; deleted idempotently.
pub async fn server_lifecycle(env: &Env) {
    let cloud = &env.cloud;
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4pZ8zF7yJ3sY0mWbq5x3mOQ0f2rVvK7d1l8gq3Zq7P op";
    let key_name = env.name("key");
    cloud
        .compute()
        .ensure_keypair(&key_name, key)
        .await
        .expect("key");
    let sg_name = env.name("sg");
    let sg = cloud
        .network()
        .ensure_security_group(&SecurityGroupSpec {
            name: sg_name.clone(),
            description: String::new(),
            tags: vec![format!("gluster-cluster-{sg_name}")],
            rules: gluster_rules(&["127.0.0.0/8".into()], &["127.0.0.0/8".into()]).expect("rules"),
        })
        .await
        .expect("sg");

    let mut spec = env.server_spec("life", 0, "zone-a");
    spec.key_name = Some(key_name.clone());
    spec.security_groups = vec![sg_name.clone()];
    let made = cloud
        .compute()
        .create_server_or_adopt(&spec)
        .await
        .expect("create");
    assert!(!made.adopted);
    let other = cloud
        .compute()
        .create_server(&env.server_spec("life", 1, "zone-b"))
        .await
        .expect("create second");

    let server = cloud
        .compute()
        .wait_for_server_active(&made.value, env.wait)
        .await
        .expect("active");
    assert_eq!(server.status, ServerStatus::Active);
    assert_eq!(server.name, spec.name);
    assert_eq!(server.availability_zone.as_deref(), Some("zone-a"));
    assert_eq!(server.key_name.as_deref(), Some(key_name.as_str()));
    assert_eq!(server.image_id.as_deref(), Some(env.world.image.as_str()));
    assert_eq!(server.metadata, spec.metadata);
    assert_eq!(server.tags, spec.tags);
    let address = server
        .address(Some("private"))
        .expect("an address")
        .to_string();
    assert!(address.starts_with(env.subnet_prefix), "{address}");

    let ids =
        |v: Vec<gluster_operator::cloud::Server>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(cloud
            .compute()
            .list_servers(&by_name(&spec.name))
            .await
            .expect("list")),
        vec![made.value.clone()]
    );
    assert!(
        cloud
            .compute()
            .list_servers(&by_name(&env.name("life")))
            .await
            .expect("list")
            .is_empty(),
        "exact names only"
    );
    let tagged = ServerQuery {
        tags: spec.tags.clone(),
        ..Default::default()
    };
    assert_eq!(
        cloud
            .compute()
            .list_servers(&tagged)
            .await
            .expect("list")
            .len(),
        2
    );
    let index1 = ServerQuery {
        tags: spec.tags.clone(),
        metadata: meta(&[("gluster.node-index", "1")]),
        ..Default::default()
    };
    assert_eq!(
        ids(cloud.compute().list_servers(&index1).await.expect("list")),
        vec![other.clone()]
    );

    let ports = cloud
        .network()
        .ports_by_device(&made.value)
        .await
        .expect("ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert!(ports[0].fixed_ips.iter().any(|ip| ip.ip_address == address));
    assert!(ports[0].security_groups.contains(&sg.value), "{ports:?}");

    for id in [&made.value, &other] {
        assert!(cloud.compute().delete_server(id).await.expect("delete"));
        cloud
            .compute()
            .wait_for_server_deleted(id, env.wait)
            .await
            .expect("gone");
    }
    assert!(
        !cloud
            .compute()
            .delete_server(&made.value)
            .await
            .expect("gone: Ok")
    );
    assert!(
        cloud
            .compute()
            .get_server(&made.value)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .network()
            .ports_by_device(&made.value)
            .await
            .expect("ports")
            .is_empty()
    );
    assert!(
        cloud
            .compute()
            .delete_keypair(&key_name)
            .await
            .expect("key")
    );
    assert!(
        cloud
            .network()
            .delete_security_group(&sg.value)
            .await
            .expect("sg")
    );
}

/// Volumes: created, listed by metadata, cloned, snapshotted, a volume from the snapshot,
/// attached to a server (once), detached, deleted idempotently.
pub async fn volume_lifecycle_with_attachments_and_clones(env: &Env) {
    let cloud = &env.cloud;
    let uid = env.name("vol");
    let volume_spec = VolumeCreate {
        name: format!("{uid}-0"),
        size_gib: 10,
        availability_zone: Some("zone-a".into()),
        metadata: meta(&[("gluster.cluster-uid", &uid), ("gluster.node-index", "0")]),
        description: Some("brick of node 0".into()),
        ..Default::default()
    };
    let made = cloud
        .volume()
        .create_volume_or_adopt(&volume_spec)
        .await
        .expect("create");
    assert!(!made.adopted);
    assert_eq!(made.value.size, 10);
    let vol = cloud
        .volume()
        .wait_for_volume(&made.value.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("available");
    assert_eq!(vol.availability_zone.as_deref(), Some("zone-a"));
    assert_eq!(vol.metadata, volume_spec.metadata);

    let by_meta = VolumeQuery {
        name: None,
        metadata: meta(&[("gluster.cluster-uid", &uid)]),
    };
    let listed = cloud.volume().list_volumes(&by_meta).await.expect("list");
    assert_eq!(
        listed.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [vol.id.as_str()]
    );
    let none = VolumeQuery {
        name: None,
        metadata: meta(&[("gluster.cluster-uid", &env.name("other"))]),
    };
    assert!(
        cloud
            .volume()
            .list_volumes(&none)
            .await
            .expect("list")
            .is_empty()
    );

    let clone = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: format!("{uid}-clone"),
            size_gib: 10,
            availability_zone: Some("zone-a".into()),
            source_volume_id: Some(vol.id.clone()),
            ..Default::default()
        })
        .await
        .expect("clone");
    let clone = cloud
        .volume()
        .wait_for_volume(&clone.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("clone available");
    assert_eq!(clone.source_volid.as_deref(), Some(vol.id.as_str()));

    let snap = cloud
        .volume()
        .create_snapshot(
            &vol.id,
            &format!("{uid}-master"),
            &meta(&[("gluster.cluster-uid", &uid)]),
        )
        .await
        .expect("snapshot");
    let snap = cloud
        .volume()
        .wait_for_snapshot(&snap.id, env.wait)
        .await
        .expect("available");
    assert_eq!(snap.volume_id, vol.id);
    let from_snap = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: format!("{uid}-from-snap"),
            size_gib: 10,
            availability_zone: Some("zone-a".into()),
            volume_type: Some("__DEFAULT__".into()),
            snapshot_id: Some(snap.id.clone()),
            ..Default::default()
        })
        .await
        .expect("from snapshot");
    let from_snap = cloud
        .volume()
        .wait_for_volume(&from_snap.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("available");
    assert_eq!(from_snap.snapshot_id.as_deref(), Some(snap.id.as_str()));
    assert_eq!(from_snap.volume_type.as_deref(), Some("__DEFAULT__"));
    assert_eq!(from_snap.availability_zone.as_deref(), Some("zone-a"));
    assert!(
        cloud
            .volume()
            .delete_volume(&from_snap.id)
            .await
            .expect("delete")
    );
    cloud
        .volume()
        .wait_for_volume_deleted(&from_snap.id, env.wait)
        .await
        .expect("gone");
    assert!(
        cloud
            .volume()
            .delete_snapshot(&snap.id)
            .await
            .expect("delete snapshot")
    );
    wait_for_snapshot_deleted(env, &snap.id).await;

    let server = cloud
        .compute()
        .create_server(&env.server_spec("vol", 0, "zone-a"))
        .await
        .expect("server");
    cloud
        .compute()
        .wait_for_server_active(&server, env.wait)
        .await
        .expect("active");
    let attached = cloud
        .compute()
        .ensure_volume_attached(&server, &vol.id)
        .await
        .expect("attach");
    assert!(!attached.adopted);
    assert_eq!(attached.value.volume_id, vol.id);
    assert_eq!(
        attached.value.delete_on_termination,
        Some(false),
        "brick volumes outlive servers"
    );
    let in_use = cloud
        .volume()
        .wait_for_volume(&vol.id, &[VolumeStatus::InUse], env.wait)
        .await
        .expect("in-use");
    assert_eq!(
        in_use.attachments[0].server_id.as_deref(),
        Some(server.as_str())
    );
    let posts = env.calls("POST", "compute", ATTACHMENTS);
    let again = cloud
        .compute()
        .ensure_volume_attached(&server, &vol.id)
        .await
        .expect("attached already");
    assert!(again.adopted);
    assert_eq!(
        env.calls("POST", "compute", ATTACHMENTS),
        posts,
        "no second attach"
    );
    let list = cloud
        .compute()
        .list_volume_attachments(&server)
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    let seen = cloud
        .compute()
        .get_server(&server)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(seen.attached_volume_ids(), vec![vol.id.as_str()]);
    assert!(
        cloud
            .compute()
            .detach_volume(&server, &vol.id)
            .await
            .expect("detach")
    );
    cloud
        .volume()
        .wait_for_volume(&vol.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("available again");
    assert!(
        !cloud
            .compute()
            .detach_volume(&server, &vol.id)
            .await
            .expect("not attached: Ok")
    );

    assert!(
        cloud
            .compute()
            .delete_server(&server)
            .await
            .expect("delete server")
    );
    cloud
        .compute()
        .wait_for_server_deleted(&server, env.wait)
        .await
        .expect("server gone");
    for id in [&clone.id, &vol.id] {
        assert!(cloud.volume().delete_volume(id).await.expect("delete"));
        cloud
            .volume()
            .wait_for_volume_deleted(id, env.wait)
            .await
            .expect("gone");
        assert!(!cloud.volume().delete_volume(id).await.expect("gone: Ok"));
        assert!(cloud.volume().get_volume(id).await.expect("get").is_none());
    }
}

async fn wait_for_snapshot_deleted(env: &Env, id: &str) {
    let deadline = tokio::time::Instant::now() + env.wait.timeout;
    while env
        .cloud
        .volume()
        .get_snapshot(id)
        .await
        .expect("get snapshot")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "snapshot {id} not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cinder's refusals: no block storage in zone-c (400), an unknown volume type (404); both
/// terminal and quoting the service.
pub async fn volume_refusals_carry_the_cloud_message(env: &Env) {
    let cloud = &env.cloud;
    let err = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: env.name("c-0"),
            size_gib: 1,
            availability_zone: Some("zone-c".into()),
            ..Default::default()
        })
        .await
        .expect_err("no cinder in zone-c");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::BadRequest), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        err.cloud_message().is_some_and(|m| m.contains("zone")),
        "{err:?}"
    );
    assert_eq!(env.calls("POST", "volume", VOLUMES), 1);

    let err = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: env.name("t-0"),
            size_gib: 1,
            volume_type: Some("platinum".into()),
            ..Default::default()
        })
        .await
        .expect_err("no such type");
    assert!(err.is_not_found() && !err.is_retryable(), "{err:?}");
    assert!(
        err.cloud_message().is_some_and(|m| m.contains("platinum")),
        "{err:?}"
    );
    assert_eq!(env.calls("POST", "volume", VOLUMES), 2);
}

/// Nova's 400 on an unknown flavor: terminal, quoted.
pub async fn bad_requests_are_terminal_and_quote_the_service(env: &Env) {
    let mut spec = env.server_spec("bad", 0, "zone-a");
    spec.flavor_id = "no-such-flavor".into();
    let err = env
        .cloud
        .compute()
        .create_server_or_adopt(&spec)
        .await
        .expect_err("refused");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::BadRequest), "{err:?}");
    assert!(
        err.cloud_message()
            .is_some_and(|m| m.to_lowercase().contains("flavor")),
        "{err:?}"
    );
    assert_eq!(env.calls("POST", "compute", SERVERS), 1);
}

/// Deleting what is not there is Ok(false); getting it is None (each service's 404).
pub async fn deletes_of_missing_resources_succeed(env: &Env) {
    let cloud = &env.cloud;
    assert!(
        !cloud
            .compute()
            .delete_server(MISSING)
            .await
            .expect("server")
    );
    assert!(
        !cloud
            .compute()
            .delete_keypair(&env.name("no-such-key"))
            .await
            .expect("keypair")
    );
    assert!(!cloud.volume().delete_volume(MISSING).await.expect("volume"));
    assert!(
        !cloud
            .volume()
            .delete_snapshot(MISSING)
            .await
            .expect("snapshot")
    );
    assert!(
        !cloud
            .network()
            .delete_security_group(MISSING)
            .await
            .expect("sg")
    );
    assert!(
        cloud
            .compute()
            .get_server(MISSING)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .volume()
            .get_volume(MISSING)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .volume()
            .get_snapshot(MISSING)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .network()
            .get_security_group(MISSING)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .compute()
            .get_keypair(&env.name("no-such-key"))
            .await
            .expect("get")
            .is_none()
    );
}

/// Sixteen concurrent callers share one token.
pub async fn concurrent_callers_share_one_token(env: &Env) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = env.cloud.clone();
        tasks.push(tokio::spawn(async move {
            c.image().image("ubuntu-22.04").await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("image");
    }
    assert_eq!(env.calls("POST", "identity", TOKENS), 1);
    assert_eq!(env.cloud.tokens_issued(), 1);
}

// ---- Faults, injected by the recorder proxy in front of either target. ----

/// Reads are retried through 5xx answers and dropped connections.
pub async fn reads_are_retried_through_5xx_and_dropped_connections(env: &Env) {
    let cloud = &env.cloud;
    cloud.authenticate().await.expect("auth");
    cloud.compute().microversion().await.expect("mv");
    env.fault(
        "GET",
        "compute",
        FLAVORS,
        ProxyAction::Status {
            status: 503,
            retry_after: None,
        },
        Some(2),
    );
    let flavor = cloud.compute().flavor("m1.small").await.expect("third try");
    assert_eq!(flavor.name, "m1.small");
    assert_eq!(env.calls("GET", "compute", FLAVORS), 3);

    env.fault("GET", "network", NETWORKS, ProxyAction::Drop, Some(1));
    cloud
        .network()
        .network("private")
        .await
        .expect("second try");
    assert_eq!(env.calls("GET", "network", NETWORKS), 2);
}

/// A 5xx that persists is surfaced after the last attempt, retryable, with its request ID.
pub async fn persistent_5xx_is_surfaced_after_the_last_attempt(env: &Env) {
    let cloud = &env.cloud;
    cloud.compute().microversion().await.expect("mv");
    env.fault(
        "GET",
        "compute",
        FLAVORS,
        ProxyAction::Status {
            status: 500,
            retry_after: None,
        },
        None,
    );
    let err = cloud
        .compute()
        .flavor("m1.small")
        .await
        .expect_err("keeps failing");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::ServerError), "{err:?}");
    assert!(err.is_retryable(), "the reconciler may requeue");
    assert!(err.request_id().is_some());
    assert_eq!(
        env.calls("GET", "compute", FLAVORS),
        u64::from(fast_options().backoff.max_attempts)
    );
    env.recorder.clear_faults();
}

/// 429 with a short Retry-After is waited out (a create too); a long one is returned.
pub async fn throttling_honours_retry_after(env: &Env) {
    let cloud = &env.cloud;
    cloud.authenticate().await.expect("auth");
    let throttle = |secs| ProxyAction::Status {
        status: 429,
        retry_after: Some(secs),
    };
    env.fault("GET", "image", IMAGES, throttle(1), Some(1));
    cloud
        .image()
        .image("debian-12")
        .await
        .expect("after the wait");
    assert_eq!(env.calls("GET", "image", IMAGES), 2);

    env.fault("POST", "volume", VOLUMES, throttle(1), Some(1));
    let spec = VolumeCreate {
        name: env.name("throttled-0"),
        size_gib: 1,
        ..Default::default()
    };
    let made = cloud
        .volume()
        .create_volume(&spec)
        .await
        .expect("after the wait");
    assert_eq!(env.calls("POST", "volume", VOLUMES), 2);
    let listed = cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: Some(spec.name.clone()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);

    env.fault("GET", "image", IMAGES, throttle(120), Some(1));
    let err = cloud
        .image()
        .image("debian-12")
        .await
        .expect_err("too long to wait");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::RateLimited), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(env.calls("GET", "image", IMAGES), 3);

    cloud
        .volume()
        .wait_for_volume(&made.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("available");
    assert!(
        cloud
            .volume()
            .delete_volume(&made.id)
            .await
            .expect("delete")
    );
    cloud
        .volume()
        .wait_for_volume_deleted(&made.id, env.wait)
        .await
        .expect("gone");
}

/// A slow answer times out and the read is retried; one that is always slow is a Timeout.
pub async fn slow_answers_time_out_and_are_retried_on_reads(env: &Env) {
    let options = ClientOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            request: env.request_timeout,
        },
        ..fast_options()
    };
    let cloud = env.client(options);
    cloud.compute().microversion().await.expect("mv");
    let slow = ProxyAction::Delay(env.request_timeout * 6);
    env.fault("GET", "compute", FLAVORS, slow.clone(), Some(1));
    cloud
        .compute()
        .flavor("m1.medium")
        .await
        .expect("second try is fast");
    assert_eq!(env.calls("GET", "compute", FLAVORS), 2);

    env.fault("GET", "compute", FLAVORS, slow, None);
    let err = cloud
        .compute()
        .flavor("m1.medium")
        .await
        .expect_err("always slow");
    assert!(
        matches!(
            err,
            CloudError::Transport {
                kind: gluster_operator::cloud::error::TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    env.recorder.clear_faults();
}

/// A create is never repeated blindly: a 5xx on a plain create is ambiguous; create-or-adopt
/// looks first, then creates again; the same after a dropped connection.
pub async fn a_create_is_never_repeated_blindly(env: &Env) {
    let cloud = &env.cloud;
    cloud.compute().microversion().await.expect("mv");
    let fail = ProxyAction::Status {
        status: 500,
        retry_after: None,
    };
    env.fault("POST", "compute", SERVERS, fail.clone(), Some(1));
    let first = env.server_spec("f", 0, "zone-a");
    let err = cloud
        .compute()
        .create_server(&first)
        .await
        .expect_err("500");
    assert!(err.is_ambiguous(), "{err:?}");
    assert_eq!(env.calls("POST", "compute", SERVERS), 1);

    env.fault("POST", "compute", SERVERS, fail, Some(1));
    let lookups = env.calls("GET", "compute", SERVERS_DETAIL);
    let made = cloud
        .compute()
        .create_server_or_adopt(&first)
        .await
        .expect("created on the second try");
    assert!(!made.adopted);
    assert_eq!(env.calls("POST", "compute", SERVERS), 3);
    assert_eq!(
        env.calls("GET", "compute", SERVERS_DETAIL),
        lookups + 1,
        "looked before creating again"
    );
    assert_eq!(
        cloud
            .compute()
            .list_servers(&by_name(&first.name))
            .await
            .expect("list")
            .len(),
        1
    );

    env.fault("POST", "compute", SERVERS, ProxyAction::Drop, Some(1));
    let second = env.server_spec("f", 1, "zone-a");
    let other = cloud
        .compute()
        .create_server_or_adopt(&second)
        .await
        .expect("created after the drop");
    assert!(!other.adopted);
    assert_eq!(
        cloud
            .compute()
            .list_servers(&by_name(&second.name))
            .await
            .expect("list")
            .len(),
        1
    );
    for id in [&made.value, &other.value] {
        assert!(cloud.compute().delete_server(id).await.expect("delete"));
        cloud
            .compute()
            .wait_for_server_deleted(id, env.wait)
            .await
            .expect("gone");
    }
}

/// An earlier create made the resource but its answer was lost: create-or-adopt adopts it.
pub async fn an_ambiguous_create_adopts_what_exists(env: &Env) {
    let cloud = &env.cloud;
    let spec = env.server_spec("a", 0, "zone-a");
    let first = cloud.compute().create_server(&spec).await.expect("create");
    env.fault(
        "POST",
        "compute",
        SERVERS,
        ProxyAction::Status {
            status: 502,
            retry_after: None,
        },
        Some(1),
    );
    let made = cloud
        .compute()
        .create_server_or_adopt(&spec)
        .await
        .expect("adopted");
    assert!(made.adopted);
    assert_eq!(made.value, first);
    assert_eq!(env.calls("POST", "compute", SERVERS), 2, "no third create");
    assert_eq!(
        cloud
            .compute()
            .list_servers(&by_name(&spec.name))
            .await
            .expect("list")
            .len(),
        1
    );

    let vspec = VolumeCreate {
        name: env.name("a-vol-0"),
        size_gib: 1,
        metadata: meta(&[("gluster.cluster-uid", &env.prefix)]),
        ..Default::default()
    };
    let existing = cloud.volume().create_volume(&vspec).await.expect("create");
    env.fault("POST", "volume", VOLUMES, ProxyAction::Drop, Some(1));
    let adopted = cloud
        .volume()
        .create_volume_or_adopt(&vspec)
        .await
        .expect("adopted");
    assert!(adopted.adopted);
    assert_eq!(adopted.value.id, existing.id);
    assert_eq!(env.calls("POST", "volume", VOLUMES), 2);

    assert!(cloud.compute().delete_server(&first).await.expect("delete"));
    cloud
        .compute()
        .wait_for_server_deleted(&first, env.wait)
        .await
        .expect("gone");
    cloud
        .volume()
        .wait_for_volume(&existing.id, &[VolumeStatus::Available], env.wait)
        .await
        .expect("available");
    assert!(
        cloud
            .volume()
            .delete_volume(&existing.id)
            .await
            .expect("delete")
    );
    cloud
        .volume()
        .wait_for_volume_deleted(&existing.id, env.wait)
        .await
        .expect("gone");
}

/// Every shared scenario, by name (the targets generate one test each from this list).
#[macro_export]
macro_rules! client_scenarios {
    ($runner:ident) => {
        $runner!(authenticates);
        $runner!(endpoint_selection_follows_the_region);
        $runner!(negotiates_the_nova_microversion);
        $runner!(resolves_flavors_images_networks_and_zones);
        $runner!(keypairs_are_created_adopted_and_deleted);
        $runner!(security_group_is_ensured_idempotently_and_deleted_by_tag);
        $runner!(server_lifecycle);
        $runner!(volume_lifecycle_with_attachments_and_clones);
        $runner!(volume_refusals_carry_the_cloud_message);
        $runner!(bad_requests_are_terminal_and_quote_the_service);
        $runner!(deletes_of_missing_resources_succeed);
        $runner!(concurrent_callers_share_one_token);
        $runner!(reads_are_retried_through_5xx_and_dropped_connections);
        $runner!(persistent_5xx_is_surfaced_after_the_last_attempt);
        $runner!(throttling_honours_retry_after);
        $runner!(slow_answers_time_out_and_are_retried_on_reads);
        $runner!(a_create_is_never_repeated_blindly);
        $runner!(an_ambiguous_create_adopts_what_exists);
    };
}

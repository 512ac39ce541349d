//! The operator's OpenStack client against the OpenStack simulator: every call the operator
//! uses, on the happy path and with the cloud's own refusals (quota, ERROR servers, failed
//! volumes, unknown names, old microversions).

mod cloud_client_support;

use cloud_client_support::*;
use gluster_operator::cloud::compute::{REQUIRED_MICROVERSION, WANTED_MICROVERSION};
use gluster_operator::cloud::microversion::Microversion;
use gluster_operator::cloud::network::gluster_rules;
use gluster_operator::cloud::{
    ApiErrorKind, CloudConfig, CloudError, SecurityGroupSpec, ServerCreate, ServerQuery,
    ServerStatus, VolumeCreate, VolumeQuery, VolumeStatus,
};

const NETWORK_ID: &str = "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c";
const UBUNTU_ID: &str = "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21";

fn server_spec(cluster: &str, index: u32, zone: &str) -> ServerCreate {
    ServerCreate {
        name: format!("gc-{cluster}-{index}"),
        flavor_id: "2".into(),
        image_id: UBUNTU_ID.into(),
        availability_zone: Some(zone.into()),
        networks: vec![NETWORK_ID.into()],
        security_groups: Vec::new(),
        key_name: None,
        user_data: Some(b"#cloud-config\nruncmd: [true]\n".to_vec()),
        metadata: meta(&[
            ("gluster.cluster-uid", cluster),
            ("gluster.node-index", &index.to_string()),
        ]),
        tags: vec![format!("gluster-cluster-{cluster}")],
    }
}

#[tokio::test]
async fn authenticates_with_password_and_application_credential() {
    let sim = start(fast_config()).await;
    for cloud in ["sim", "sim-appcred"] {
        let client = client(&sim, cloud, fast_options());
        assert_eq!(
            client.authenticate().await.expect("auth").as_deref(),
            Some(PROJECT_ID),
            "{cloud}"
        );
        assert_eq!(client.tokens_issued(), 1);
        // The token is reused.
        client.authenticate().await.expect("auth");
        assert_eq!(client.tokens_issued(), 1);
    }
    assert_eq!(calls(&sim, "POST", "/identity/v3/auth/tokens"), 2);

    // Wrong credentials: Keystone's 401 becomes AuthFailed, not retried, secret-free.
    let yaml = sim.clouds_yaml().replace(PASSWORD, "wrong-password");
    let bad = gluster_operator::cloud::Cloud::from_clouds_yaml(&yaml, "sim", None, fast_options())
        .expect("client");
    let err = bad.authenticate().await.expect_err("refused");
    assert!(matches!(err, CloudError::AuthFailed { .. }), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed");
    assert!(err.cloud_message().is_some_and(|m| !m.is_empty()));
    assert!(!format!("{err} {err:?}").contains("wrong-password"));
    assert_eq!(calls(&sim, "POST", "/identity/v3/auth/tokens"), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn endpoint_selection_follows_region_and_interface() {
    let sim = start(fast_config()).await;
    let mut config = CloudConfig::from_clouds_yaml(&sim.clouds_yaml(), "sim").expect("config");
    config.region = Some("Elsewhere".into());
    let cloud = gluster_operator::cloud::Cloud::new(config, fast_options()).expect("client");
    match cloud.compute().flavor("m1.small").await {
        Err(e @ CloudError::NoEndpoint { .. }) => {
            let text = e.to_string();
            assert!(text.contains("region Elsewhere"), "{text}");
            assert!(text.contains("RegionOne"), "{text}");
        }
        other => panic!("expected NoEndpoint, got {other:?}"),
    }
    let mut config = CloudConfig::from_clouds_yaml(&sim.clouds_yaml(), "sim").expect("config");
    config.interface = gluster_operator::cloud::Interface::Internal;
    let cloud = gluster_operator::cloud::Cloud::new(config, fast_options()).expect("client");
    cloud
        .image()
        .image("ubuntu-22.04")
        .await
        .expect("the internal endpoint serves");
    let mut config = CloudConfig::from_clouds_yaml(&sim.clouds_yaml(), "sim").expect("config");
    config.interface = gluster_operator::cloud::Interface::Admin;
    let cloud = gluster_operator::cloud::Cloud::new(config, fast_options()).expect("client");
    let err = cloud
        .image()
        .image("ubuntu-22.04")
        .await
        .expect_err("no admin endpoint");
    assert!(
        matches!(err, CloudError::NoEndpoint { ref interface, .. } if interface == "admin"),
        "{err:?}"
    );
    assert_eq!(err.reason(), "EndpointNotFound");
    sim.shutdown().await;
}

#[tokio::test]
async fn negotiates_the_nova_microversion() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    assert_eq!(
        cloud.compute().microversion().await.expect("mv"),
        WANTED_MICROVERSION
    );
    cloud.compute().availability_zones().await.expect("zones");
    // Negotiated once.
    assert_eq!(
        cloud.compute().microversion().await.expect("mv"),
        WANTED_MICROVERSION
    );
    sim.shutdown().await;

    let mut config = fast_config();
    config.microversions.compute_max = "2.60".into();
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());
    assert_eq!(
        cloud.compute().microversion().await.expect("mv"),
        Microversion::new(2, 60)
    );
    sim.shutdown().await;

    let mut config = fast_config();
    config.microversions.compute_max = "2.51".into();
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());
    let err = cloud
        .compute()
        .flavor("m1.small")
        .await
        .expect_err("too old");
    match &err {
        CloudError::UnsupportedMicroversion {
            required,
            supported,
            ..
        } => {
            assert_eq!(required, &REQUIRED_MICROVERSION.to_string());
            assert_eq!(supported, "2.1 to 2.51");
        }
        other => panic!("expected UnsupportedMicroversion, got {other:?}"),
    }
    assert_eq!(err.reason(), "UnsupportedMicroversion");
    sim.shutdown().await;
}

#[tokio::test]
async fn resolves_flavors_images_networks_and_zones() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim-appcred", fast_options());

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
    assert_eq!(ubuntu.id, UBUNTU_ID);
    assert_eq!(ubuntu.status, "active");
    assert_eq!(
        cloud.image().image(UBUNTU_ID).await.expect("by id").name,
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
    let err = cloud
        .image()
        .image("00000000-0000-4000-8000-000000000000")
        .await
        .expect_err("unknown id");
    assert!(err.is_not_found(), "{err:?}");

    let private = cloud.network().network("private").await.expect("network");
    assert_eq!(private.id, NETWORK_ID);
    assert_eq!(
        cloud
            .network()
            .network(NETWORK_ID)
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
    sim.shutdown().await;
}

#[tokio::test]
async fn keypairs_are_created_adopted_and_deleted() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4pZ8zF7yJ3sY0mWbq5x3mOQ0f2rVvK7d1l8gq3Zq7P op@gc";
    let other =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm5Qh5k0zW1w3a7oJc6qgqgP1pQm1w7b6v3xQ2r9d8K x";
    let made = cloud
        .compute()
        .ensure_keypair("gc-k", key)
        .await
        .expect("create");
    assert!(!made.adopted);
    assert_eq!(made.value.name, "gc-k");
    let again = cloud
        .compute()
        .ensure_keypair("gc-k", key)
        .await
        .expect("adopt");
    assert!(
        again.adopted,
        "the second ensure adopts (Nova answers 409 to the create)"
    );
    let got = cloud
        .compute()
        .get_keypair("gc-k")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        got.public_key.split_whitespace().nth(1),
        key.split_whitespace().nth(1)
    );
    let err = cloud
        .compute()
        .ensure_keypair("gc-k", other)
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
    assert!(
        cloud
            .compute()
            .delete_keypair("gc-k")
            .await
            .expect("delete")
    );
    assert!(
        !cloud
            .compute()
            .delete_keypair("gc-k")
            .await
            .expect("gone: Ok")
    );
    assert!(
        cloud
            .compute()
            .get_keypair("gc-k")
            .await
            .expect("get")
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn security_group_is_ensured_idempotently_and_deleted_by_tag() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let spec = SecurityGroupSpec {
        name: "gc-sg-1".into(),
        description: "gluster cluster sg-1".into(),
        tags: vec!["gluster-cluster-sg-1".into()],
        rules: gluster_rules(&["10.0.0.0/8".into(), "2001:db8::/32".into()]).expect("rules"),
    };
    let made = cloud
        .network()
        .ensure_security_group(&spec)
        .await
        .expect("create");
    assert!(!made.adopted);
    let rule_posts = calls(&sim, "POST", "/networking/v2.0/security-group-rules");
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

    // Ensuring again adopts and adds nothing.
    let again = cloud
        .network()
        .ensure_security_group(&spec)
        .await
        .expect("adopt");
    assert!(again.adopted);
    assert_eq!(again.value, made.value);
    assert_eq!(calls(&sim, "POST", "/networking/v2.0/security-groups"), 1);
    assert_eq!(
        calls(&sim, "POST", "/networking/v2.0/security-group-rules"),
        rule_posts
    );

    // A widened CIDR list adds only the new rules.
    let wider = SecurityGroupSpec {
        rules: gluster_rules(&[
            "10.0.0.0/8".into(),
            "2001:db8::/32".into(),
            "192.0.2.0/24".into(),
        ])
        .expect("rules"),
        ..spec.clone()
    };
    cloud
        .network()
        .ensure_security_group(&wider)
        .await
        .expect("widen");
    assert_eq!(
        calls(&sim, "POST", "/networking/v2.0/security-group-rules"),
        rule_posts + 3
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
    sim.shutdown().await;
}

#[tokio::test]
async fn server_lifecycle() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim-appcred", fast_options());
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4pZ8zF7yJ3sY0mWbq5x3mOQ0f2rVvK7d1l8gq3Zq7P op";
    cloud
        .compute()
        .ensure_keypair("gc-life", key)
        .await
        .expect("key");
    let sg = cloud
        .network()
        .ensure_security_group(&SecurityGroupSpec {
            name: "gc-life".into(),
            description: String::new(),
            tags: vec!["gluster-cluster-life".into()],
            rules: gluster_rules(&["127.0.0.0/8".into()]).expect("rules"),
        })
        .await
        .expect("sg");

    let mut spec = server_spec("life", 0, "zone-a");
    spec.key_name = Some("gc-life".into());
    spec.security_groups = vec!["gc-life".into()];
    let made = cloud
        .compute()
        .create_server_or_adopt(&spec)
        .await
        .expect("create");
    assert!(!made.adopted);
    let other = cloud
        .compute()
        .create_server(&server_spec("life", 1, "zone-b"))
        .await
        .expect("create second");

    let server = cloud
        .compute()
        .wait_for_server_active(&made.value, fast_wait())
        .await
        .expect("active");
    assert_eq!(server.status, ServerStatus::Active);
    assert_eq!(server.name, "gc-life-0");
    assert_eq!(server.availability_zone.as_deref(), Some("zone-a"));
    assert_eq!(server.key_name.as_deref(), Some("gc-life"));
    assert_eq!(server.image_id.as_deref(), Some(UBUNTU_ID));
    assert_eq!(server.metadata, spec.metadata);
    assert_eq!(server.tags, spec.tags);
    let address = server
        .address(Some("private"))
        .expect("an address")
        .to_string();
    assert!(address.starts_with("127.100."), "{address}");

    // Lists: by exact name, by tag, by metadata.
    let by_name = |name: &str| ServerQuery {
        name: Some(name.into()),
        ..Default::default()
    };
    let ids =
        |v: Vec<gluster_operator::cloud::Server>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(cloud
            .compute()
            .list_servers(&by_name("gc-life-0"))
            .await
            .expect("list")),
        vec![made.value.clone()]
    );
    assert!(
        cloud
            .compute()
            .list_servers(&by_name("gc-life"))
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

    // The server's port carries the address and the security group.
    let ports = cloud
        .network()
        .ports_by_device(&made.value)
        .await
        .expect("ports");
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert!(ports[0].fixed_ips.iter().any(|ip| ip.ip_address == address));
    assert!(ports[0].security_groups.contains(&sg.value), "{ports:?}");

    // Delete, wait, delete again.
    assert!(
        cloud
            .compute()
            .delete_server(&made.value)
            .await
            .expect("delete")
    );
    cloud
        .compute()
        .wait_for_server_deleted(&made.value, fast_wait())
        .await
        .expect("gone");
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
    sim.shutdown().await;
}

#[tokio::test]
async fn server_in_error_reports_the_nova_fault() {
    let sim = start(fast_config()).await;
    sim.faults().fail_next_servers(
        1,
        Some("No valid host was found. There are not enough hosts available.".into()),
    );
    let cloud = client(&sim, "sim", fast_options());
    let id = cloud
        .compute()
        .create_server(&server_spec("err", 0, "zone-a"))
        .await
        .expect("accepted");
    let err = cloud
        .compute()
        .wait_for_server_active(&id, fast_wait())
        .await
        .expect_err("ERROR");
    assert!(matches!(err, CloudError::ServerFault { .. }), "{err:?}");
    assert_eq!(err.reason(), "ServerFault");
    assert_eq!(
        err.cloud_message(),
        Some("No valid host was found. There are not enough hosts available.")
    );
    let server = cloud
        .compute()
        .get_server(&id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(server.status, ServerStatus::Error);
    assert_eq!(server.fault.as_ref().and_then(|f| f.code), Some(500));
    assert!(cloud.compute().delete_server(&id).await.expect("delete"));
    sim.shutdown().await;
}

#[tokio::test]
async fn volume_lifecycle_with_attachments_and_clones() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let volume_spec = VolumeCreate {
        name: "gc-vol-0".into(),
        size_gib: 10,
        availability_zone: Some("zone-a".into()),
        metadata: meta(&[("gluster.cluster-uid", "vol"), ("gluster.node-index", "0")]),
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
        .wait_for_volume(&made.value.id, &[VolumeStatus::Available], fast_wait())
        .await
        .expect("available");
    assert_eq!(vol.availability_zone.as_deref(), Some("zone-a"));
    assert_eq!(vol.metadata, volume_spec.metadata);

    let by_meta = VolumeQuery {
        name: None,
        metadata: meta(&[("gluster.cluster-uid", "vol")]),
    };
    let listed = cloud.volume().list_volumes(&by_meta).await.expect("list");
    assert_eq!(
        listed.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [vol.id.as_str()]
    );
    let none = VolumeQuery {
        name: None,
        metadata: meta(&[("gluster.cluster-uid", "other")]),
    };
    assert!(
        cloud
            .volume()
            .list_volumes(&none)
            .await
            .expect("list")
            .is_empty()
    );

    // A clone of the volume ("a clone of a master").
    let clone = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: "gc-vol-clone".into(),
            size_gib: 10,
            availability_zone: Some("zone-a".into()),
            source_volume_id: Some(vol.id.clone()),
            ..Default::default()
        })
        .await
        .expect("clone");
    let clone = cloud
        .volume()
        .wait_for_volume(&clone.id, &[VolumeStatus::Available], fast_wait())
        .await
        .expect("clone available");
    assert_eq!(clone.source_volid.as_deref(), Some(vol.id.as_str()));

    // A volume from a snapshot of it, with an explicit volume type.
    let snap = cloud
        .volume()
        .create_snapshot(
            &vol.id,
            "gc-vol-master",
            &meta(&[("gluster.cluster-uid", "vol")]),
        )
        .await
        .expect("snapshot");
    let snap = cloud
        .volume()
        .wait_for_snapshot(&snap.id, fast_wait())
        .await
        .expect("available");
    assert_eq!(snap.volume_id, vol.id);
    let from_snap = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: "gc-vol-from-snap".into(),
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
        .wait_for_volume(&from_snap.id, &[VolumeStatus::Available], fast_wait())
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
        .wait_for_volume_deleted(&from_snap.id, fast_wait())
        .await
        .expect("gone");
    assert!(
        cloud
            .volume()
            .delete_snapshot(&snap.id)
            .await
            .expect("delete snapshot")
    );

    // Attach to a server, see it, detach.
    let server = cloud
        .compute()
        .create_server(&server_spec("vol", 0, "zone-a"))
        .await
        .expect("server");
    cloud
        .compute()
        .wait_for_server_active(&server, fast_wait())
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
        .wait_for_volume(&vol.id, &[VolumeStatus::InUse], fast_wait())
        .await
        .expect("in-use");
    assert_eq!(
        in_use.attachments[0].server_id.as_deref(),
        Some(server.as_str())
    );
    let posts = calls(
        &sim,
        "POST",
        "/compute/v2.1/servers/{server_id}/os-volume_attachments",
    );
    let again = cloud
        .compute()
        .ensure_volume_attached(&server, &vol.id)
        .await
        .expect("attached already");
    assert!(again.adopted);
    assert_eq!(
        calls(
            &sim,
            "POST",
            "/compute/v2.1/servers/{server_id}/os-volume_attachments"
        ),
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
        .wait_for_volume(&vol.id, &[VolumeStatus::Available], fast_wait())
        .await
        .expect("available again");
    assert!(
        !cloud
            .compute()
            .detach_volume(&server, &vol.id)
            .await
            .expect("not attached: Ok")
    );

    // Deleting the server leaves no volume behind it deleted; deletes are idempotent.
    assert!(
        cloud
            .compute()
            .delete_server(&server)
            .await
            .expect("delete server")
    );
    for id in [&clone.id, &vol.id] {
        assert!(cloud.volume().delete_volume(id).await.expect("delete"));
        cloud
            .volume()
            .wait_for_volume_deleted(id, fast_wait())
            .await
            .expect("gone");
        assert!(!cloud.volume().delete_volume(id).await.expect("gone: Ok"));
        assert!(cloud.volume().get_volume(id).await.expect("get").is_none());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn volume_refusals_and_failures_carry_the_cloud_message() {
    let mut config = fast_config();
    config.quotas.gigabytes = 50;
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());

    // zone-c has no block storage: Cinder refuses (terminal, not retried).
    let err = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: "gc-c-0".into(),
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
    assert_eq!(calls(&sim, "POST", "/volume/v3/{project_id}/volumes"), 1);

    // An unknown volume type: Cinder's 404, terminal.
    let err = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: "gc-t-0".into(),
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
    assert_eq!(calls(&sim, "POST", "/volume/v3/{project_id}/volumes"), 2);

    // Over the gigabytes quota: 413 with Cinder's quota message.
    let err = cloud
        .volume()
        .create_volume_or_adopt(&VolumeCreate {
            name: "gc-big-0".into(),
            size_gib: 100,
            ..Default::default()
        })
        .await
        .expect_err("over quota");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::QuotaExceeded), "{err:?}");
    assert_eq!(err.status(), Some(413));
    assert_eq!(err.reason(), "QuotaExceeded");
    assert!(
        err.cloud_message().is_some_and(|m| m.contains("gigabytes")),
        "{err:?}"
    );
    assert!(err.request_id().is_some_and(|r| r.starts_with("req-")));
    assert_eq!(
        calls(&sim, "POST", "/volume/v3/{project_id}/volumes"),
        3,
        "quota is not retried"
    );

    // A volume that fails to create ends in `error`.
    sim.faults().fail_next_volumes(1);
    let doomed = cloud
        .volume()
        .create_volume(&VolumeCreate {
            name: "gc-doomed-0".into(),
            size_gib: 1,
            ..Default::default()
        })
        .await
        .expect("accepted");
    let err = cloud
        .volume()
        .wait_for_volume(&doomed.id, &[VolumeStatus::Available], fast_wait())
        .await
        .expect_err("error");
    assert!(
        matches!(&err, CloudError::ResourceFailed { kind: "volume", status, .. } if status == "error"),
        "{err:?}"
    );
    assert!(
        cloud
            .volume()
            .delete_volume(&doomed.id)
            .await
            .expect("delete failed volume")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn server_quota_error_quotes_nova() {
    let mut config = fast_config();
    config.quotas.instances = 1;
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud
        .compute()
        .create_server_or_adopt(&server_spec("quota", 0, "zone-a"))
        .await
        .expect("first fits");
    let err = cloud
        .compute()
        .create_server_or_adopt(&server_spec("quota", 1, "zone-a"))
        .await
        .expect_err("over quota");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::QuotaExceeded), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert!(!err.is_retryable() && !err.is_ambiguous());
    let message = err.cloud_message().expect("message");
    assert!(
        message.starts_with("Quota exceeded for instances"),
        "{message}"
    );
    assert_eq!(calls(&sim, "POST", "/compute/v2.1/servers"), 2);
    assert_eq!(
        calls(&sim, "GET", "/compute/v2.1/servers/detail"),
        0,
        "no lookup after a terminal error"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_terminal_and_quote_the_service() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let mut spec = server_spec("bad", 0, "zone-a");
    spec.flavor_id = "no-such-flavor".into();
    let err = cloud
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
    assert_eq!(calls(&sim, "POST", "/compute/v2.1/servers"), 1);
    sim.shutdown().await;
}

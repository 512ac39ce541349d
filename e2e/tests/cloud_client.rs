//! The operator's OpenStack client against the OpenStack simulator: every call the operator
//! uses, on the happy path and with the cloud's own refusals (quota, ERROR servers, failed
//! volumes, unknown names, old microversions).
//!
//! The scenarios shared with the real cloud (cloud_client_support/scenarios.rs; the same run
//! against one in tests/conformance_client.rs) run here against the simulator, behind the
//! recorder proxy; the tests below them need the simulator's own knobs (its configuration, its
//! resource faults, its counters).

mod cloud_client_support;

use cloud_client_support::env::Env;
use cloud_client_support::*;
use gluster_operator::cloud::compute::REQUIRED_MICROVERSION;
use gluster_operator::cloud::microversion::Microversion;
use gluster_operator::cloud::{
    ApiErrorKind, CloudConfig, CloudError, ServerCreate, ServerStatus, VolumeCreate, VolumeStatus,
};

macro_rules! on_the_simulator {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let env = Env::sim(fast_config(), stringify!($name)).await;
            cloud_client_support::scenarios::$name(&env).await;
            env.finish().await;
        }
    };
}

client_scenarios!(on_the_simulator);

const NETWORK_ID: &str = "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c";

const UBUNTU_ID: &str = "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21";

fn server_spec(cluster: &str, index: u32, zone: &str) -> ServerCreate {
    ServerCreate {
        name: format!("gc-{cluster}-{index}"),
        flavor_id: "2".into(),
        image_id: UBUNTU_ID.into(),
        availability_zone: Some(zone.into()),
        networks: vec![NETWORK_ID.into()],
        ports: vec![],
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
async fn endpoint_selection_follows_the_interface() {
    let sim = start(fast_config()).await;
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
async fn negotiates_down_to_an_older_nova() {
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
async fn volume_quota_and_failures_carry_the_cloud_message() {
    let mut config = fast_config();
    config.quotas.gigabytes = 50;
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());

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
        1,
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

//! The conformance cloud (e2e/conformance/cloud.sh) is the simulator's default world: the same
//! zones (with and without block storage), flavors, images and network, read through the
//! operator's own client. Its subnet is the real cloud's loopback range, 127.102.0.0/16
//! (the simulator's is 127.100.0.0/16), with no DHCP and no gateway.
//!
//! Needs `--features conformance` and `E2E_CONFORMANCE_CLOUDS=<DIR>/clouds.yaml` (optionally
//! `E2E_CONFORMANCE_CLOUD`, default `conformance`): see e2e/conformance/README.md.

use std::collections::BTreeSet;
use std::sync::Arc;

use e2e::openstack::SimConfig;
use gluster_operator::cloud::http::{Request, ServiceClient, Session};
use gluster_operator::cloud::{ClientOptions, Cloud, CloudConfig, ServiceType, catalog};
use serde_json::Value;

/// The conformance cloud's subnet (the contract's range for the real cloud).
const CONFORMANCE_CIDR: &str = "127.102.0.0/16";

fn clouds_yaml() -> (String, String) {
    let path = std::env::var("E2E_CONFORMANCE_CLOUDS").unwrap_or_else(|_| {
        panic!(
            "E2E_CONFORMANCE_CLOUDS is not set: point it at the clouds.yaml of a running \
             conformance cloud (e2e/conformance/cloud.sh up DIR; then DIR/clouds.yaml)"
        )
    });
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading E2E_CONFORMANCE_CLOUDS={path}: {e}"));
    let name = std::env::var("E2E_CONFORMANCE_CLOUD").unwrap_or_else(|_| "conformance".into());
    (yaml, name)
}

fn cloud() -> Cloud {
    let (yaml, name) = clouds_yaml();
    Cloud::from_clouds_yaml(&yaml, &name, None, ClientOptions::default()).expect("client")
}

/// A raw Neutron client on the operator's own session (the client has no subnet call).
fn neutron() -> ServiceClient {
    let (yaml, name) = clouds_yaml();
    let config = CloudConfig::from_clouds_yaml(&yaml, &name).expect("config");
    let options = ClientOptions::default();
    let http = gluster_operator::cloud::transport::build_http_client(&config.tls, &options, |p| {
        std::fs::read(p)
    })
    .expect("http client");
    let session = Arc::new(Session::new(config, options, http));
    ServiceClient::new(session, ServiceType::Network, |u: &str| {
        catalog::with_version(u, "v2.0")
    })
}

#[tokio::test]
async fn authenticates_into_the_project() {
    let cloud = cloud();
    let project = cloud.authenticate().await.expect("authenticates");
    let project = project.expect("a project-scoped token");
    assert_eq!(
        project.len(),
        32,
        "Keystone project IDs are 32 hex digits: {project}"
    );
    assert!(project.chars().all(|c| c.is_ascii_hexdigit()), "{project}");
}

#[tokio::test]
async fn zones_match_the_default_world() {
    let world = SimConfig::default();
    let cloud = cloud();
    let all: BTreeSet<String> = world.zones.iter().map(|z| z.name.clone()).collect();
    let block: BTreeSet<String> = world
        .zones
        .iter()
        .filter(|z| z.block_storage)
        .map(|z| z.name.clone())
        .collect();
    assert!(
        block.len() < all.len(),
        "the world has a zone without block storage"
    );

    let compute = cloud
        .compute()
        .availability_zones()
        .await
        .expect("nova zones");
    let names: BTreeSet<String> = compute.iter().map(|z| z.name.clone()).collect();
    assert_eq!(names, all, "Nova's zones");
    for zone in &compute {
        assert!(zone.available, "Nova zone {} is available", zone.name);
    }

    let volume = cloud
        .volume()
        .availability_zones()
        .await
        .expect("cinder zones");
    let names: BTreeSet<String> = volume.iter().map(|z| z.name.clone()).collect();
    assert_eq!(names, block, "Cinder's zones are the block-storage ones");
    for zone in &volume {
        assert!(zone.available, "Cinder zone {} is available", zone.name);
    }
}

#[tokio::test]
async fn flavors_match_the_default_world() {
    let world = SimConfig::default();
    let cloud = cloud();
    for want in &world.flavors {
        let got = cloud.compute().flavor(&want.name).await.expect("flavor");
        assert_eq!(got.id, want.id, "{} id", want.name);
        assert_eq!(got.name, want.name);
        assert_eq!(got.vcpus, want.vcpus, "{} vcpus", want.name);
        assert_eq!(got.ram, want.ram_mib, "{} ram", want.name);
        assert_eq!(got.disk, want.disk_gb, "{} disk", want.name);
        assert_eq!(got.ephemeral, want.ephemeral_gb, "{} ephemeral", want.name);
    }
    assert!(
        world.flavors.iter().any(|f| f.ephemeral_gb > 0),
        "one flavor has an ephemeral disk"
    );
    let listed: BTreeSet<String> = cloud
        .compute()
        .list_flavors()
        .await
        .expect("flavors")
        .into_iter()
        .map(|f| f.name)
        .collect();
    let wanted: BTreeSet<String> = world.flavors.iter().map(|f| f.name.clone()).collect();
    assert_eq!(listed, wanted, "exactly the world's flavors");
}

#[tokio::test]
async fn images_match_the_default_world() {
    let world = SimConfig::default();
    let cloud = cloud();
    for want in &world.images {
        let got = cloud.image().image(&want.name).await.expect("image");
        assert_eq!(got.id, want.id, "{} id", want.name);
        assert_eq!(got.name, want.name);
        assert_eq!(got.status, "active", "{}", want.name);
        assert_eq!(got.min_disk, want.min_disk_gb, "{} min_disk", want.name);
        // Found by ID too.
        let by_id = cloud.image().image(&want.id).await.expect("image by id");
        assert_eq!(by_id.name, want.name);
    }
}

#[tokio::test]
async fn network_and_subnet_match_the_default_world() {
    let world = SimConfig::default();
    let cloud = cloud();
    let want = &world.networks[0];
    let net = cloud.network().network(&want.name).await.expect("network");
    assert_eq!(net.name, want.name);
    assert_eq!(net.subnets.len(), 1, "one subnet: {:?}", net.subnets);
    // Found by ID too.
    let by_id = cloud.network().network(&net.id).await.expect("by id");
    assert_eq!(by_id.name, want.name);

    let subnet: Value = neutron()
        .get_json(Request::get(format!("/subnets/{}", net.subnets[0])))
        .await
        .expect("subnet");
    let subnet = &subnet["subnet"];
    assert_eq!(subnet["name"], want.subnet.name.as_str());
    assert_eq!(subnet["cidr"], CONFORMANCE_CIDR);
    assert_eq!(subnet["ip_version"], 4);
    assert_eq!(
        subnet["gateway_ip"],
        Value::Null,
        "no gateway, as the simulator's"
    );
    assert_eq!(subnet["enable_dhcp"], false, "no DHCP");
    // The simulator's pool: from the tenth address to the last before broadcast.
    assert_eq!(
        subnet["allocation_pools"],
        serde_json::json!([{"start": "127.102.0.10", "end": "127.102.255.254"}])
    );
}

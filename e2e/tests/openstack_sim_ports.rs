//! The simulator's ports made through Neutron and the servers that boot on them (what a node's
//! stable identity rests on), and Nova's reboot and reset-state actions, over plain HTTP:
//! create with a fixed address, list by tag, boot on the port, the port kept (unbound) when
//! the server goes, a replacement on the same port with the same address, port deletion; a
//! server in ERROR hard-rebooted back to ACTIVE.

mod openstack_sim_support;

use openstack_sim_support::{Client, fast_config, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PRIVATE: &str = "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c";

fn address(port: &Value) -> String {
    port["fixed_ips"][0]["ip_address"]
        .as_str()
        .expect("an address")
        .to_string()
}

#[tokio::test]
async fn a_port_made_through_neutron_outlives_its_servers_and_keeps_its_address() {
    let sim = start(fast_config(20)).await;
    let c = Client::login(&sim).await;

    // Created with a fixed address from the pool, unbound, DOWN.
    let a = c
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": PRIVATE, "name": "n0-port",
                "fixed_ips": [{"ip_address": "127.100.0.42"}]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let port = a.body["port"].clone();
    let id = port["id"].as_str().expect("id").to_string();
    assert_eq!(address(&port), "127.100.0.42");
    assert_eq!(port["name"], "n0-port");
    assert_eq!(port["device_id"], "");
    assert_eq!(port["status"], "DOWN");
    // The address is taken: a second port asking for it is refused as Neutron does.
    let taken = c
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": PRIVATE,
                "fixed_ips": [{"ip_address": "127.100.0.42"}]}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(
        taken.body["NeutronError"]["type"],
        "IpAddressAlreadyAllocated"
    );
    // An unknown network, an unknown attribute.
    let nonet = c
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": "nope"}}),
        )
        .await;
    assert_eq!(nonet.status, StatusCode::NOT_FOUND);
    let odd = c
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": PRIVATE, "colour": "red"}}),
        )
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);

    // Tagged, and found by its tag (and only it).
    let t = c
        .put(
            &format!("/networking/v2.0/ports/{id}/tags"),
            Some(json!({"tags": ["glusterops-uid:u1"]})),
        )
        .await;
    assert!(t.status.is_success(), "{:?}", t.body);
    let listed = c.get("/networking/v2.0/ports?tags=glusterops-uid:u1").await;
    let ports = listed.body["ports"].as_array().expect("ports").clone();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["id"], id.as_str());

    // A server boots on it: bound, with the port's address.
    let first = c
        .create_server("n0", json!({"networks": [{"port": id}]}))
        .await;
    let server = c.wait_server(&first, "ACTIVE").await;
    assert_eq!(server["addresses"]["private"][0]["addr"], "127.100.0.42");
    let bound = c.get(&format!("/networking/v2.0/ports/{id}")).await;
    assert_eq!(bound.body["port"]["device_id"], first.as_str());
    assert!(
        bound.body["port"]["device_owner"]
            .as_str()
            .is_some_and(|o| o.starts_with("compute:"))
    );
    // A port in use cannot carry a second server.
    let busy = c
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "n0b", "flavorRef": "2",
                "imageRef": "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21",
                "networks": [{"port": id}]}}),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{:?}", busy.body);
    // An unknown port.
    let missing = c
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "n0c", "flavorRef": "2",
                "imageRef": "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21",
                "networks": [{"port": "00000000-0000-4000-8000-000000000000"}]}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    // The server goes: Nova did not make the port, so it stays, unbound, with its address.
    assert_eq!(
        c.delete(&format!("/compute/v2.1/servers/{first}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    c.wait_gone(&format!("/compute/v2.1/servers/{first}")).await;
    let kept = c.get(&format!("/networking/v2.0/ports/{id}")).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(kept.body["port"]["device_id"], "");
    assert_eq!(address(&kept.body["port"]), "127.100.0.42");
    // A port Nova made for a server on the network goes with its server.
    let other = c.create_server("m0", json!({})).await;
    c.wait_server(&other, "ACTIVE").await;
    let made = c
        .get(&format!("/networking/v2.0/ports?device_id={other}"))
        .await;
    let made_id = made.body["ports"][0]["id"]
        .as_str()
        .expect("a port")
        .to_string();
    c.delete(&format!("/compute/v2.1/servers/{other}")).await;
    c.wait_gone(&format!("/compute/v2.1/servers/{other}")).await;
    c.wait_gone(&format!("/networking/v2.0/ports/{made_id}"))
        .await;

    // A replacement on the same port: the same address.
    let second = c
        .create_server("n0", json!({"networks": [{"port": id}]}))
        .await;
    let server = c.wait_server(&second, "ACTIVE").await;
    assert_eq!(server["addresses"]["private"][0]["addr"], "127.100.0.42");

    // Nova's reboot: SOFT is refused in ERROR, HARD brings the server back to ACTIVE.
    let admin = Client::login_admin(&sim).await;
    let reset = admin
        .post(
            &format!("/compute/v2.1/servers/{second}/action"),
            json!({"os-resetState": {"state": "error"}}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{:?}", reset.body);
    let not_admin = c
        .post(
            &format!("/compute/v2.1/servers/{second}/action"),
            json!({"os-resetState": {"state": "error"}}),
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    c.wait_server(&second, "ERROR").await;
    let soft = c
        .post(
            &format!("/compute/v2.1/servers/{second}/action"),
            json!({"reboot": {"type": "SOFT"}}),
        )
        .await;
    assert_eq!(soft.status, StatusCode::CONFLICT);
    let hard = c
        .post(
            &format!("/compute/v2.1/servers/{second}/action"),
            json!({"reboot": {"type": "HARD"}}),
        )
        .await;
    assert_eq!(hard.status, StatusCode::ACCEPTED, "{:?}", hard.body);
    c.wait_server(&second, "ACTIVE").await;

    // Deleting the port (bound or not) frees its address; then it is gone.
    assert_eq!(
        c.delete(&format!("/networking/v2.0/ports/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(&format!("/networking/v2.0/ports/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.delete(&format!("/networking/v2.0/ports/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let again = c
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": PRIVATE,
                "fixed_ips": [{"ip_address": "127.100.0.42"}]}}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "the address is free again"
    );
}

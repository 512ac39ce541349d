//! The simulator's services over plain HTTP: Keystone tokens, Nova servers, Cinder volumes,
//! attachments, Neutron security groups, Glance images: life cycles, filters, microversions,
//! quotas and error shapes.

mod openstack_sim_support;

use base64::Engine;
use e2e::openstack::{NO_VALID_HOST, QuotaConfig, SimConfig};
use openstack_sim_support::{Client, Recorder, eventually, fast_config, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

const UBUNTU: &str = "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21";
const PRIVATE: &str = "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c";
const KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova";

fn unauthorized_body() -> Value {
    json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
}

#[tokio::test]
async fn keystone_issues_tokens_with_a_catalog_and_refuses_bad_credentials() {
    let sim = start(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let tokens = format!("{}/auth/tokens", sim.auth_url());

    let a = http
        .post(&tokens)
        .json(
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": "sim-password"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(a.status(), StatusCode::CREATED);
    assert!(a.headers().contains_key("x-subject-token"));
    let body: Value = a.json().await.expect("json");
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["project"]["name"], "demo");
    assert!(t["expires_at"].as_str().expect("expires_at").ends_with('Z'));
    let catalog = t["catalog"].as_array().expect("catalog");
    for kind in [
        "identity",
        "compute",
        "volumev3",
        "block-storage",
        "network",
        "image",
    ] {
        let entry = catalog
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in catalog"));
        let ifaces: Vec<&str> = entry["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| e["interface"].as_str().expect("iface"))
            .collect();
        assert_eq!(ifaces, ["public", "internal"], "{kind}");
        for e in entry["endpoints"].as_array().expect("endpoints") {
            assert_eq!(e["region"], "RegionOne");
            assert!(
                e["url"].as_str().expect("url").starts_with(&sim.base_url()),
                "{e}"
            );
        }
    }

    // Application credential, by ID and by name + user.
    for identity in [
        json!({"id": "7c6d5e4f3a2b41c0b9a8f7e6d5c4b3a2", "secret": "sim-appcred-secret"}),
        json!({"name": "gluster-operator", "secret": "sim-appcred-secret", "user": {"name": "admin", "domain": {"id": "default"}}}),
    ] {
        let a = http.post(&tokens).json(&json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": identity}}}))
            .send().await.expect("send");
        assert_eq!(a.status(), StatusCode::CREATED);
        let body: Value = a.json().await.expect("json");
        assert_eq!(body["token"]["methods"], json!(["application_credential"]));
        assert_eq!(
            body["token"]["application_credential"]["id"],
            "7c6d5e4f3a2b41c0b9a8f7e6d5c4b3a2"
        );
        assert!(
            body["token"]["catalog"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
    }

    // Bad credentials: Keystone's 401 body and challenge.
    for bad in [
        json!({"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "wrong"}}}),
        json!({"methods": ["application_credential"], "application_credential": {"id": "7c6d5e4f3a2b41c0b9a8f7e6d5c4b3a2", "secret": "wrong"}}),
        json!({"methods": ["password"], "password": {"user": {"name": "nobody", "domain": {"name": "Default"}, "password": "sim-password"}}}),
    ] {
        let a = http
            .post(&tokens)
            .json(&json!({"auth": {"identity": bad}}))
            .send()
            .await
            .expect("send");
        assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
        let challenge = a
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .expect("challenge")
            .to_string();
        assert_eq!(
            challenge,
            format!("Keystone uri=\"{}/identity\"", sim.base_url())
        );
        assert_eq!(a.json::<Value>().await.expect("json"), unauthorized_body());
    }
    // A user name without its domain is a 400 ValidationError.
    let a = http.post(&tokens).json(&json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "sim-password"}}}}}))
        .send().await.expect("send");
    assert_eq!(a.status(), StatusCode::BAD_REQUEST);
    assert!(
        a.text()
            .await
            .expect("text")
            .contains("Expecting to find domain in user")
    );

    // Version discovery.
    let a = http.get(sim.auth_url()).send().await.expect("send");
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(
        a.json::<Value>().await.expect("json")["version"]["id"],
        "v3.14"
    );
    let a = http
        .get(format!("{}/identity", sim.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(a.status(), StatusCode::MULTIPLE_CHOICES);
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_expire_and_services_then_answer_401() {
    let mut config = fast_config(5);
    config.identity.token_ttl_secs = 1;
    let sim = start(config).await;
    let c = Client::login(&sim).await;
    assert_eq!(c.get("/compute/v2.1/flavors").await.status, StatusCode::OK);

    // Validation of the token by another holder.
    let v = c
        .http
        .get(format!("{}/auth/tokens", sim.auth_url()))
        .header("x-auth-token", &c.token)
        .header("x-subject-token", &c.token)
        .send()
        .await
        .expect("send");
    assert_eq!(v.status(), StatusCode::OK);

    // Unknown token on every service: keystonemiddleware's 401.
    let stranger = Client {
        token: "not-a-token".into(),
        ..c.clone()
    };
    for path in [
        "/compute/v2.1/servers".to_string(),
        c.volume("/volumes"),
        "/networking/v2.0/networks".into(),
        "/image/v2/images".into(),
    ] {
        let a = stranger.get(&path).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(a.body, unauthorized_body(), "{path}");
        assert!(
            a.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Keystone uri="))
        );
    }
    // The real token expires after its TTL; a new one works again.
    eventually("token expiry", || async {
        (c.get("/compute/v2.1/flavors").await.status == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    let renewed = Client::login(&sim).await;
    assert_eq!(
        renewed.get("/compute/v2.1/flavors").await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn servers_build_become_active_with_loopback_addresses_and_are_deleted() {
    let sim = start(fast_config(5)).await;
    let hook = Arc::new(Recorder::default());
    sim.set_boot_hook(hook.clone());
    let c = Client::login(&sim).await;
    assert_eq!(
        c.post(
            "/compute/v2.1/os-keypairs",
            json!({"keypair": {"name": "ops", "public_key": KEY}})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let sg = c
        .post(
            "/networking/v2.0/security-groups",
            json!({"security_group": {"name": "gluster-c1"}}),
        )
        .await;
    assert_eq!(sg.status, StatusCode::CREATED);

    let user_data = "#cloud-config\nruncmd:\n  - [echo, hello]\n";
    let encoded = base64::engine::general_purpose::STANDARD.encode(user_data);
    hook.gate.close();
    let a = c.post("/compute/v2.1/servers", json!({"server": {
        "name": "lc-1", "flavorRef": "2", "imageRef": UBUNTU, "availability_zone": "zone-b",
        "networks": [{"uuid": PRIVATE}], "security_groups": [{"name": "gluster-c1"}], "key_name": "ops",
        "user_data": encoded, "metadata": {"cluster-uid": "u1", "node-index": "0"}, "tags": ["gluster", "cluster-u1"],
    }})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let id = a.body["server"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        a.header("location"),
        Some(format!("{}/compute/v2.1/servers/{id}", sim.base_url()).as_str())
    );
    assert!(a.body["server"]["adminPass"].is_string());

    // Held in the hook: still BUILD, no address shown yet.
    eventually("hook called", || async {
        (!hook.server_events("active").is_empty()).then_some(())
    })
    .await;
    let s = c.get(&format!("/compute/v2.1/servers/{id}")).await.body["server"].clone();
    assert_eq!(s["status"], "BUILD");
    assert_eq!(s["OS-EXT-STS:task_state"], "spawning");
    assert_eq!(s["addresses"], json!({}));
    hook.gate.open();
    let s = c.wait_server(&id, "ACTIVE").await;
    let addr = &s["addresses"]["private"][0];
    assert_eq!(addr["addr"], "127.100.0.10");
    assert_eq!(addr["version"], 4);
    assert_eq!(addr["OS-EXT-IPS:type"], "fixed");
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "zone-b");
    assert_eq!(s["metadata"]["cluster-uid"], "u1");
    assert_eq!(s["tags"], json!(["gluster", "cluster-u1"]));
    assert_eq!(s["key_name"], "ops");
    assert_eq!(s["flavor"]["original_name"], "m1.small");
    assert_eq!(s["security_groups"], json!([{"name": "gluster-c1"}]));

    let ev = &hook.server_events("active")[0];
    assert_eq!(ev.id, id);
    assert_eq!(ev.user_data_text(), Some(user_data));
    assert_eq!(ev.address.as_deref(), Some("127.100.0.10"));
    assert_eq!(ev.availability_zone, "zone-b");
    assert_eq!(ev.public_key.as_deref(), Some(KEY));
    assert_eq!(ev.tags, ["gluster", "cluster-u1"]);
    assert_eq!(ev.metadata.get("node-index").map(String::as_str), Some("0"));

    // Addresses are allocated lowest first; the second server gets the next one.
    let id2 = c.create_server("lc-2", json!({"tags": ["gluster"]})).await;
    let s2 = c.wait_server(&id2, "ACTIVE").await;
    assert_eq!(s2["addresses"]["private"][0]["addr"], "127.100.0.11");
    assert_eq!(s2["OS-EXT-AZ:availability_zone"], "zone-a");

    // Nova's list filters: name is a regular expression, tags need all, status.
    let names = |a: &openstack_sim_support::Answer| -> Vec<String> {
        a.body["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        names(&c.get("/compute/v2.1/servers/detail?name=^lc-").await),
        ["lc-2", "lc-1"]
    );
    assert_eq!(
        names(&c.get("/compute/v2.1/servers?name=1$").await),
        ["lc-1"]
    );
    assert_eq!(
        names(
            &c.get("/compute/v2.1/servers/detail?tags=gluster,cluster-u1")
                .await
        ),
        ["lc-1"]
    );
    assert_eq!(
        names(
            &c.get("/compute/v2.1/servers/detail?tags-any=cluster-u1,nope")
                .await
        ),
        ["lc-1"]
    );
    assert_eq!(
        names(
            &c.get("/compute/v2.1/servers/detail?not-tags-any=cluster-u1")
                .await
        ),
        ["lc-2"]
    );
    assert_eq!(
        names(
            &c.get("/compute/v2.1/servers/detail?status=ACTIVE&name=lc")
                .await
        )
        .len(),
        2
    );
    assert!(names(&c.get("/compute/v2.1/servers/detail?status=ERROR").await).is_empty());
    let bad = c.get("/compute/v2.1/servers/detail?status=SLEEPY").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        json!({"badRequest": {"code": 400, "message": "Invalid status value"}})
    );
    // Pagination with a next link.
    let page = c.get("/compute/v2.1/servers/detail?limit=1").await;
    assert_eq!(names(&page), ["lc-2"]);
    let next = page.body["servers_links"][0]["href"]
        .as_str()
        .expect("next link")
        .to_string();
    assert_eq!(names(&c.get(&next).await), ["lc-1"]);

    // Neutron shows the port Nova made.
    let ports = c
        .get(&format!("/networking/v2.0/ports?device_id={id}"))
        .await;
    let ports = ports.body["ports"].as_array().expect("ports").clone();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["fixed_ips"][0]["ip_address"], "127.100.0.10");
    assert_eq!(
        ports[0]["security_groups"],
        json!([sg.body["security_group"]["id"]])
    );

    // Delete: held in the hook while deleting, then gone; the address is free again.
    hook.gate.close();
    assert_eq!(
        c.delete(&format!("/compute/v2.1/servers/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    eventually("delete hook", || async {
        (!hook.server_events("deleted").is_empty()).then_some(())
    })
    .await;
    let s = c.get(&format!("/compute/v2.1/servers/{id}")).await.body["server"].clone();
    assert_eq!(s["OS-EXT-STS:task_state"], "deleting");
    hook.gate.open();
    c.wait_gone(&format!("/compute/v2.1/servers/{id}")).await;
    assert_eq!(
        hook.server_events("deleted")[0].address.as_deref(),
        Some("127.100.0.10")
    );
    let gone = c.get(&format!("/compute/v2.1/servers/{id}")).await;
    assert_eq!(
        gone.body,
        json!({"itemNotFound": {"code": 404, "message": format!("Instance {id} could not be found.")}})
    );
    assert_eq!(
        c.delete(&format!("/compute/v2.1/servers/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let id3 = c.create_server("lc-3", json!({})).await;
    assert_eq!(
        c.wait_server(&id3, "ACTIVE").await["addresses"]["private"][0]["addr"],
        "127.100.0.10"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn server_create_refuses_bad_input_like_nova() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let create = |server: Value| {
        let c = c.clone();
        async move {
            c.post("/compute/v2.1/servers", json!({"server": server}))
                .await
        }
    };
    let base = json!({"name": "x", "flavorRef": "2", "imageRef": UBUNTU, "networks": "auto"});
    let with = |k: &str, v: Value| {
        let mut s = base.clone();
        s[k] = v;
        s
    };

    let long = "A".repeat(65536);
    let a = create(with("user_data", json!(long))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.body["badRequest"]["message"],
        format!("Invalid input for field/attribute user_data. Value: {long}. '{long}' is too long")
    );
    let ok_len = base64::engine::general_purpose::STANDARD.encode(vec![b'a'; 49149]);
    assert_eq!(ok_len.len(), 65532);
    assert_eq!(
        create(with("user_data", json!(ok_len))).await.status,
        StatusCode::ACCEPTED
    );

    let a = create(with("user_data", json!("%%% not base64"))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Invalid input for field/attribute user_data. Value: %%% not base64. '%%% not base64' is not a 'base64'"
    );
    let a = create(with("flavorRef", json!("99"))).await;
    assert_eq!(
        a.body,
        json!({"badRequest": {"code": 400, "message": "Flavor 99 could not be found."}})
    );
    let a = create(with("imageRef", json!("nope"))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Can not find requested image"
    );
    let a = create(with("availability_zone", json!("zone-x"))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "The requested availability zone is not available"
    );
    let a = create(with("key_name", json!("nokey"))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Invalid key_name provided."
    );
    let a = create(with("networks", json!([{"uuid": "0000"}]))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Network 0000 could not be found."
    );
    let a = create(with("security_groups", json!([{"name": "nope"}]))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Security group nope not found."
    );
    let a = create(with("bogus", json!(1))).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Additional properties are not allowed ('bogus' was unexpected)"
    );
    let a = create(json!({"name": "x", "flavorRef": "2", "imageRef": UBUNTU})).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "'networks' is a required property"
    );
    let a = create(with(
        "block_device_mapping_v2",
        json!([{"boot_index": 0, "uuid": UBUNTU, "source_type": "image", "destination_type": "volume", "volume_size": 10}]),
    ))
    .await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "boot from volume is not modelled and says so"
    );
    let a = create(with("tags", json!(["a/b"]))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Tags at creation need 2.52.
    let old = c.with_versions(&["compute 2.51"]);
    let a = old
        .post(
            "/compute/v2.1/servers",
            json!({"server": with("tags", json!(["t"]))}),
        )
        .await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Additional properties are not allowed ('tags' was unexpected)"
    );
    let a = c.post("/compute/v2.1/servers", json!({"nope": {}})).await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "'server' is a required property"
    );
    let raw = c
        .http
        .post(format!("{}/compute/v2.1/servers", sim.base_url()))
        .header("x-auth-token", &c.token)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        raw.json::<Value>().await.expect("json"),
        json!({"badRequest": {"code": 400, "message": "Malformed request body"}})
    );

    // A fault rule sends the next server to ERROR with Nova's scheduler fault.
    sim.faults().fail_next_servers(1, None);
    let a = create(with("name", json!("doomed"))).await;
    let id = a.body["server"]["id"].as_str().expect("id").to_string();
    let s = c.wait_server(&id, "ERROR").await;
    assert_eq!(s["fault"]["code"], 500);
    assert_eq!(s["fault"]["message"], NO_VALID_HOST);
    assert!(
        s["fault"]["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(s["addresses"], json!({}));
    sim.shutdown().await;
}

#[tokio::test]
async fn quotas_answer_with_the_services_own_messages() {
    let mut config = fast_config(5);
    config.quotas = QuotaConfig {
        instances: 2,
        cores: 2,
        volumes: 1,
        gigabytes: 10,
        ..QuotaConfig::default()
    };
    let sim = start(config).await;
    let c = Client::login(&sim).await;
    c.create_server("q-1", json!({})).await;
    // m1.medium wants 2 more cores, 1 of 2 is used.
    let a = c.post("/compute/v2.1/servers", json!({"server": {"name": "q-2", "flavorRef": "3", "imageRef": UBUNTU, "networks": "auto"}})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.body,
        json!({"forbidden": {"code": 403, "message": "Quota exceeded for cores: Requested 2, but already used 1 of 2 cores"}})
    );
    c.create_server("q-2", json!({})).await;
    let a = c.post("/compute/v2.1/servers", json!({"server": {"name": "q-3", "flavorRef": "2", "imageRef": UBUNTU, "networks": "auto"}})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.body["forbidden"]["message"],
        "Quota exceeded for cores, instances: Requested 1, 1, but already used 2, 2 of 2, 2 cores, instances"
    );

    let a = c
        .post(&c.volume("/volumes"), json!({"volume": {"size": 11}}))
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.header("retry-after"), Some("0"));
    assert_eq!(
        a.body,
        json!({"overLimit": {"code": 413, "retryAfter": "0", "message": "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 11G, quota is 10G and 0G has been consumed."}})
    );
    c.create_volume("v1", 1, "zone-a").await;
    let a = c
        .post(&c.volume("/volumes"), json!({"volume": {"size": 1}}))
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.body["overLimit"]["message"],
        "Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn microversions_are_negotiated_echoed_and_refused_like_nova_and_cinder() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let doc = c.get("/compute/v2.1/").await;
    assert_eq!(doc.body["version"]["version"], "2.96");
    assert_eq!(doc.body["version"]["min_version"], "2.1");

    let plain = c.with_versions(&[]);
    let a = plain.get("/compute/v2.1/flavors/detail").await;
    assert_eq!(a.header("openstack-api-version"), Some("compute 2.1"));
    assert_eq!(a.header("x-openstack-nova-api-version"), Some("2.1"));
    let vary: Vec<&str> = a
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        vary,
        ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
    );
    assert_eq!(
        a.body["flavors"][0]["swap"], "",
        "before 2.75 a zero swap is an empty string"
    );
    assert!(a.body["flavors"][0].get("extra_specs").is_none());
    let a = c.get("/compute/v2.1/flavors/detail").await;
    assert_eq!(a.header("openstack-api-version"), Some("compute 2.96"));
    assert_eq!(a.body["flavors"][0]["swap"], 0);
    let xl = a.body["flavors"]
        .as_array()
        .expect("flavors")
        .iter()
        .find(|f| f["name"] == "m1.xlarge")
        .expect("xlarge")
        .clone();
    assert_eq!(
        (
            xl["vcpus"].clone(),
            xl["ram"].clone(),
            xl["OS-FLV-EXT-DATA:ephemeral"].clone()
        ),
        (json!(8), json!(16384), json!(100))
    );

    let latest = c
        .with_versions(&["compute latest"])
        .get("/compute/v2.1/flavors")
        .await;
    assert_eq!(latest.header("openstack-api-version"), Some("compute 2.96"));
    let legacy = c.with_versions(&[]);
    let a = legacy
        .http
        .get(format!("{}/compute/v2.1/flavors", sim.base_url()))
        .header("x-auth-token", &c.token)
        .header("x-openstack-nova-api-version", "2.30")
        .send()
        .await
        .expect("send");
    assert_eq!(
        a.headers()
            .get("openstack-api-version")
            .and_then(|v| v.to_str().ok()),
        Some("compute 2.30")
    );

    let a = c
        .with_versions(&["compute 2.200"])
        .get("/compute/v2.1/servers")
        .await;
    assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        a.body,
        json!({"computeFault": {"code": 406, "message": "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.96."}})
    );
    let a = c
        .with_versions(&["compute 2.x"])
        .get("/compute/v2.1/servers")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Server tags API exists from 2.26 on.
    let id = c.create_server("mv", json!({})).await;
    c.wait_server(&id, "ACTIVE").await;
    assert_eq!(
        c.with_versions(&["compute 2.25"])
            .get(&format!("/compute/v2.1/servers/{id}/tags"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The flavor is a link before 2.47 and embedded from 2.47.
    let s = c
        .with_versions(&["compute 2.46"])
        .get(&format!("/compute/v2.1/servers/{id}"))
        .await
        .body["server"]
        .clone();
    assert_eq!(s["flavor"]["id"], "2");
    assert!(s.get("tags").is_some());
    let s = c
        .with_versions(&["compute 2.47"])
        .get(&format!("/compute/v2.1/servers/{id}"))
        .await
        .body["server"]
        .clone();
    assert_eq!(s["flavor"]["vcpus"], 1);
    let s = plain.get(&format!("/compute/v2.1/servers/{id}")).await.body["server"].clone();
    assert!(s.get("tags").is_none() && s.get("description").is_none() && s.get("locked").is_none());

    // Cinder.
    let a = c
        .with_versions(&["volume 3.99"])
        .get(&c.volume("/volumes"))
        .await;
    assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        a.body["computeFault"]["message"],
        "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    );
    let a = c
        .with_versions(&["volume 3.60"])
        .get(&c.volume("/volumes"))
        .await;
    assert_eq!(a.header("openstack-api-version"), Some("volume 3.60"));
    assert_eq!(a.header("vary"), Some("OpenStack-API-Version"));
    let a = plain.get(&c.volume("/volumes")).await;
    assert_eq!(a.header("openstack-api-version"), Some("volume 3.0"));
    let a = plain.get("/volume/").await;
    assert_eq!(a.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(a.body["versions"][0]["version"], "3.71");
    sim.shutdown().await;
}

#[tokio::test]
async fn volumes_attach_detach_and_delete_through_their_states() {
    let sim = start(fast_config(5)).await;
    let hook = Arc::new(Recorder::default());
    sim.set_boot_hook(hook.clone());
    let c = Client::login(&sim).await;

    // Zones: Nova has three, Cinder only those with block storage.
    let zones = |a: openstack_sim_support::Answer| -> Vec<String> {
        a.body["availabilityZoneInfo"]
            .as_array()
            .expect("zones")
            .iter()
            .map(|z| z["zoneName"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        zones(c.get("/compute/v2.1/os-availability-zone").await),
        ["zone-a", "zone-b", "zone-c"]
    );
    assert_eq!(
        zones(c.get(&c.volume("/os-availability-zone")).await),
        ["zone-a", "zone-b"]
    );
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"size": 1, "availability_zone": "zone-c"}}),
        )
        .await;
    assert_eq!(
        a.body,
        json!({"badRequest": {"code": 400, "message": "Availability zone 'zone-c' is invalid."}})
    );

    let a = c.post(&c.volume("/volumes"), json!({"volume": {"name": "brick-0", "size": 20, "availability_zone": "zone-a", "metadata": {"cluster-uid": "u1", "node": "0"}}})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.body["volume"]["status"], "creating");
    let vol = a.body["volume"]["id"].as_str().expect("id").to_string();
    c.wait_volume(&vol, "available").await;
    let other = c.create_volume("brick-1", 20, "zone-a").await;

    // Filters: name, and metadata as a JSON-encoded query value.
    let names = |a: openstack_sim_support::Answer| -> Vec<String> {
        a.body["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .map(|v| v["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        names(c.get(&c.volume("/volumes/detail?name=brick-1")).await),
        ["brick-1"]
    );
    let q = url_encode(r#"{"cluster-uid":"u1"}"#);
    assert_eq!(
        names(
            c.get(&c.volume(&format!("/volumes/detail?metadata={q}")))
                .await
        ),
        ["brick-0"]
    );
    assert_eq!(
        names(c.get(&c.volume("/volumes/detail")).await),
        ["brick-1", "brick-0"]
    );

    // Attach to a server still building: 409.
    hook.gate.close();
    let server = c.create_server("att-1", json!({})).await;
    eventually("build hook", || async {
        (!hook.server_events("active").is_empty()).then_some(())
    })
    .await;
    let path = format!("/compute/v2.1/servers/{server}/os-volume_attachments");
    let a = c
        .post(&path, json!({"volumeAttachment": {"volumeId": vol}}))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(
        a.body["conflictingRequest"]["message"],
        format!("Cannot 'attach_volume' instance {server} while it is in vm_state building")
    );
    hook.gate.open();
    c.wait_server(&server, "ACTIVE").await;

    // attaching (held in the hook) → in-use.
    hook.gate.close();
    let a = c
        .post(&path, json!({"volumeAttachment": {"volumeId": vol}}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["volumeAttachment"]["device"], "/dev/vdb");
    assert_eq!(a.body["volumeAttachment"]["volumeId"], vol.as_str());
    eventually("attach hook", || async {
        (!hook.volume_events("attached").is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        c.get(&c.volume(&format!("/volumes/{vol}"))).await.body["volume"]["status"],
        "attaching"
    );
    hook.gate.open();
    let v = c.wait_volume(&vol, "in-use").await;
    assert_eq!(v["attachments"][0]["server_id"], server.as_str());
    assert_eq!(v["attachments"][0]["device"], "/dev/vdb");
    let ev = &hook.volume_events("attached")[0];
    assert_eq!(
        (ev.volume_id.as_str(), ev.device.as_str(), ev.size_gb),
        (vol.as_str(), "/dev/vdb", 20)
    );
    assert_eq!(ev.address.as_deref(), Some("127.100.0.10"));

    // Attaching it again elsewhere, deleting it while in use: Nova's and Cinder's 400s.
    let server2 = c.create_server("att-2", json!({"flavorRef": "5"})).await;
    c.wait_server(&server2, "ACTIVE").await;
    let a = c
        .post(
            &format!("/compute/v2.1/servers/{server2}/os-volume_attachments"),
            json!({"volumeAttachment": {"volumeId": vol}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.body["badRequest"]["message"],
        format!("Invalid volume: volume {vol} is already attached to instances: {server}")
    );
    let a = c.delete(&c.volume(&format!("/volumes/{vol}"))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["badRequest"]["message"]
            .as_str()
            .expect("message")
            .starts_with("Invalid volume: Volume status must be available or error")
    );
    // On m1.xlarge the ephemeral disk is vdb, so the first volume is vdc.
    let a = c
        .post(
            &format!("/compute/v2.1/servers/{server2}/os-volume_attachments"),
            json!({"volumeAttachment": {"volumeId": other}}),
        )
        .await;
    assert_eq!(a.body["volumeAttachment"]["device"], "/dev/vdc");
    c.wait_volume(&other, "in-use").await;

    // Nova's views of the attachment (2.89: attachment_id and bdm_uuid instead of id).
    let list = c.get(&path).await.body["volumeAttachments"].clone();
    assert_eq!(list[0]["volumeId"], vol.as_str());
    assert!(
        list[0]["attachment_id"].is_string()
            && list[0]["bdm_uuid"].is_string()
            && list[0].get("id").is_none()
    );
    let s = c.get(&format!("/compute/v2.1/servers/{server}")).await.body["server"].clone();
    assert_eq!(
        s["os-extended-volumes:volumes_attached"],
        json!([{"id": vol, "delete_on_termination": false}])
    );

    // Detach: detaching → available.
    hook.gate.close();
    assert_eq!(
        c.delete(&format!("{path}/{vol}")).await.status,
        StatusCode::ACCEPTED
    );
    eventually("detach hook", || async {
        (!hook.volume_events("detached").is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        c.get(&c.volume(&format!("/volumes/{vol}"))).await.body["volume"]["status"],
        "detaching"
    );
    hook.gate.open();
    let v = c.wait_volume(&vol, "available").await;
    assert_eq!(v["attachments"], json!([]));
    assert_eq!(
        c.delete(&format!("{path}/{vol}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Deleting a server releases its volumes.
    assert_eq!(
        c.delete(&format!("/compute/v2.1/servers/{server2}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    c.wait_volume(&other, "available").await;

    // Snapshots and clones.
    let a = c
        .post(
            &c.volume("/snapshots"),
            json!({"snapshot": {"volume_id": vol, "name": "snap"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let snap = a.body["snapshot"]["id"].as_str().expect("id").to_string();
    eventually("snapshot", || async {
        (c.get(&c.volume(&format!("/snapshots/{snap}"))).await.body["snapshot"]["status"]
            == "available")
            .then_some(())
    })
    .await;
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"name": "from-snap", "snapshot_id": snap}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            a.body["volume"]["size"].clone(),
            a.body["volume"]["snapshot_id"].clone()
        ),
        (json!(20), json!(snap))
    );
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"name": "clone", "source_volid": other, "size": 10}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "smaller than its source");
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"name": "clone", "source_volid": other}}),
        )
        .await;
    assert_eq!(a.body["volume"]["availability_zone"], "zone-a");
    let a = c.delete(&c.volume(&format!("/volumes/{vol}"))).await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "a volume with snapshots stays"
    );

    // Deleting: deleting → gone → 404.
    assert_eq!(
        c.delete(&c.volume(&format!("/snapshots/{snap}")))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    c.wait_gone(&c.volume(&format!("/snapshots/{snap}"))).await;
    assert_eq!(
        c.delete(&c.volume(&format!("/volumes/{vol}"))).await.status,
        StatusCode::ACCEPTED
    );
    c.wait_gone(&c.volume(&format!("/volumes/{vol}"))).await;
    let a = c.get(&c.volume(&format!("/volumes/{vol}"))).await;
    assert_eq!(
        a.body,
        json!({"itemNotFound": {"code": 404, "message": format!("Volume {vol} could not be found.")}})
    );

    // A fault rule makes the next volume fail.
    sim.faults().fail_next_volumes(1);
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"name": "bad", "size": 1}}),
        )
        .await;
    let bad = a.body["volume"]["id"].as_str().expect("id").to_string();
    c.wait_volume(&bad, "error").await;
    sim.shutdown().await;
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn server_tags_and_keypairs() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let id = c.create_server("tags", json!({})).await;
    c.wait_server(&id, "ACTIVE").await;
    let tags = format!("/compute/v2.1/servers/{id}/tags");
    let a = c.put(&format!("{tags}/cluster-u1"), None).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.header("location"),
        Some(format!("{}{tags}/cluster-u1", sim.base_url()).as_str())
    );
    assert_eq!(
        c.put(&format!("{tags}/cluster-u1"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(&format!("{tags}/cluster-u1")).await.status,
        StatusCode::NO_CONTENT
    );
    let a = c.get(&format!("{tags}/nope")).await;
    assert_eq!(
        a.body["itemNotFound"]["message"],
        format!("Instance {id} has no tag 'nope'")
    );
    let a = c.put(&tags, Some(json!({"tags": ["a", "b"]}))).await;
    assert_eq!(a.body, json!({"tags": ["a", "b"]}));
    assert_eq!(c.get(&tags).await.body, json!({"tags": ["a", "b"]}));
    assert_eq!(
        c.delete(&format!("{tags}/a")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(c.delete(&tags).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.get(&tags).await.body, json!({"tags": []}));

    let a = c
        .post(
            "/compute/v2.1/os-keypairs",
            json!({"keypair": {"name": "k1", "public_key": KEY}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.body["keypair"]["fingerprint"],
        "1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c"
    );
    let a = c
        .post(
            "/compute/v2.1/os-keypairs",
            json!({"keypair": {"name": "k1", "public_key": KEY}}),
        )
        .await;
    assert_eq!(
        a.body,
        json!({"conflictingRequest": {"code": 409, "message": "Key pair 'k1' already exists."}})
    );
    let a = c
        .post(
            "/compute/v2.1/os-keypairs",
            json!({"keypair": {"name": "k2", "public_key": "garbage"}}),
        )
        .await;
    assert_eq!(
        a.body["badRequest"]["message"],
        "Keypair data is invalid: failed to generate fingerprint"
    );
    assert_eq!(
        c.get("/compute/v2.1/os-keypairs/k1").await.body["keypair"]["public_key"],
        KEY
    );
    assert_eq!(
        c.get("/compute/v2.1/os-keypairs").await.body["keypairs"][0]["keypair"]["name"],
        "k1"
    );
    assert_eq!(
        c.delete("/compute/v2.1/os-keypairs/k1").await.status,
        StatusCode::NO_CONTENT
    );
    let a = c.get("/compute/v2.1/os-keypairs/k1").await;
    assert_eq!(
        a.body["itemNotFound"]["message"],
        format!(
            "Keypair k1 not found for user {}",
            sim.config().identity.user_id
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn neutron_security_groups_rules_and_tags() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let ext = c.get("/networking/v2.0/extensions/security-group").await;
    assert_eq!(ext.body["extension"]["alias"], "security-group");
    assert_eq!(
        c.get("/networking/v2.0/extensions/qos").await.body["NeutronError"]["type"],
        "ExtensionNotFound"
    );
    let nets = c.get("/networking/v2.0/networks?name=private").await.body["networks"].clone();
    assert_eq!(nets.as_array().map(Vec::len), Some(1));
    assert_eq!(
        c.get("/networking/v2.0/networks?name=other").await.body["networks"],
        json!([])
    );
    let subnet = c
        .get(&format!(
            "/networking/v2.0/subnets?network_id={}",
            nets[0]["id"].as_str().expect("id")
        ))
        .await
        .body["subnets"][0]
        .clone();
    assert_eq!(subnet["cidr"], "127.100.0.0/16");
    assert_eq!(subnet["gateway_ip"], Value::Null);
    assert_eq!(
        subnet["allocation_pools"],
        json!([{"start": "127.100.0.10", "end": "127.100.255.254"}])
    );

    let a = c
        .post(
            "/networking/v2.0/security-groups",
            json!({"security_group": {"name": "gluster-u1", "description": "cluster u1"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let sg = a.body["security_group"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let rules = a.body["security_group"]["security_group_rules"]
        .as_array()
        .expect("rules")
        .clone();
    assert_eq!(
        rules
            .iter()
            .map(|r| (r["direction"].as_str(), r["ethertype"].as_str()))
            .collect::<Vec<_>>(),
        [
            (Some("egress"), Some("IPv4")),
            (Some("egress"), Some("IPv6"))
        ]
    );

    let rule = |min: u16, max: u16, prefix: &str| json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": min, "port_range_max": max, "remote_ip_prefix": prefix}});
    let a = c
        .post(
            "/networking/v2.0/security-group-rules",
            rule(24007, 24008, "10.0.0.0/8"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let rid = a.body["security_group_rule"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    // The same rule again (the prefix normalised to the same network): Neutron's 409.
    let a = c
        .post(
            "/networking/v2.0/security-group-rules",
            rule(24007, 24008, "10.1.2.3/8"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(
        a.body,
        json!({"NeutronError": {"type": "SecurityGroupRuleExists", "message": format!("Security group rule already exists. Rule id is {rid}."), "detail": ""}})
    );
    let a = c
        .post(
            "/networking/v2.0/security-group-rules",
            rule(60999, 49152, "10.0.0.0/8"),
        )
        .await;
    assert_eq!(
        a.body["NeutronError"]["type"],
        "SecurityGroupInvalidPortRange"
    );
    let a = c
        .post(
            "/networking/v2.0/security-group-rules",
            rule(22, 22, "::/0"),
        )
        .await;
    assert_eq!(
        a.body["NeutronError"]["message"],
        "Conflicting value ethertype IPv4 for CIDR ::/0"
    );
    assert_eq!(
        c.post(
            "/networking/v2.0/security-group-rules",
            rule(49152, 60999, "10.0.0.0/8")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let listed = c
        .get(&format!(
            "/networking/v2.0/security-group-rules?security_group_id={sg}&direction=ingress"
        ))
        .await;
    assert_eq!(
        listed.body["security_group_rules"].as_array().map(Vec::len),
        Some(2)
    );

    // Tags, and lists filtered by them.
    assert_eq!(
        c.put(
            &format!("/networking/v2.0/security-groups/{sg}/tags/cluster-u1"),
            None
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.get(&format!("/networking/v2.0/security-groups/{sg}/tags"))
            .await
            .body,
        json!({"tags": ["cluster-u1"]})
    );
    let found = c
        .get("/networking/v2.0/security-groups?tags=cluster-u1&fields=id&fields=name")
        .await
        .body["security_groups"]
        .clone();
    assert_eq!(found, json!([{"id": sg, "name": "gluster-u1"}]));
    assert_eq!(
        c.get("/networking/v2.0/security-groups?name=gluster-u1")
            .await
            .body["security_groups"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let a = c
        .get(&format!("/networking/v2.0/security-groups/{sg}/tags/other"))
        .await;
    assert_eq!(a.body["NeutronError"]["type"], "TagNotFound");

    // In use by a server: 409; deletes; 404s.
    let server = c
        .create_server(
            "sg-user",
            json!({"security_groups": [{"name": "gluster-u1"}]}),
        )
        .await;
    let a = c
        .delete(&format!("/networking/v2.0/security-groups/{sg}"))
        .await;
    assert_eq!(a.body["NeutronError"]["type"], "SecurityGroupInUse");
    assert_eq!(
        c.delete(&format!("/compute/v2.1/servers/{server}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    c.wait_gone(&format!("/compute/v2.1/servers/{server}"))
        .await;
    assert_eq!(
        c.delete(&format!("/networking/v2.0/security-group-rules/{rid}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.delete(&format!("/networking/v2.0/security-groups/{sg}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let a = c
        .get(&format!("/networking/v2.0/security-groups/{sg}"))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        a.body,
        json!({"NeutronError": {"type": "SecurityGroupNotFound", "message": format!("Security group {sg} does not exist"), "detail": ""}})
    );
    let default = c
        .get("/networking/v2.0/security-groups?name=default")
        .await
        .body["security_groups"][0]["id"]
        .as_str()
        .expect("default")
        .to_string();
    assert_eq!(
        c.delete(&format!("/networking/v2.0/security-groups/{default}"))
            .await
            .status,
        StatusCode::CONFLICT
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn glance_finds_images_by_name_and_id() {
    let sim = start(SimConfig::default()).await;
    let c = Client::login(&sim).await;
    let a = c.get("/image/v2/images?name=debian-12").await;
    let images = a.body["images"].as_array().expect("images").clone();
    assert_eq!(images.len(), 1);
    let id = images[0]["id"].as_str().expect("id").to_string();
    let a = c.get(&format!("/image/v2/images/{id}")).await;
    assert_eq!(
        (a.body["name"].clone(), a.body["status"].clone()),
        (json!("debian-12"), json!("active"))
    );
    let a = c.get("/image/v2/images/nope").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["message"], "No image found with ID nope");
    assert_eq!(
        c.get("/image/v2/images").await.body["images"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn administrators_see_the_user_data_from_microversion_2_3_members_never() {
    let sim = start(fast_config(5)).await;
    let member = Client::login(&sim).await;
    let admin = Client::login_admin(&sim).await;
    let user_data = base64::engine::general_purpose::STANDARD.encode("#cloud-config\n{}\n");
    let id = member
        .create_server("with-user-data", json!({"user_data": user_data}))
        .await;
    member.wait_server(&id, "ACTIVE").await;
    let path = format!("/compute/v2.1/servers/{id}");
    let key = "OS-EXT-SRV-ATTR:user_data";

    let seen = admin.get(&path).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["server"][key], json!(user_data));
    assert_eq!(
        seen.body["server"]["OS-EXT-SRV-ATTR:launch_index"],
        json!(0)
    );
    let listed = admin.get("/compute/v2.1/servers/detail").await;
    assert_eq!(listed.body["servers"][0][key], json!(user_data));
    // Before 2.3 an administrator sees the host fields but not the user-data.
    let old = admin.with_versions(&["compute 2.1"]).get(&path).await;
    assert!(
        old.body["server"]["OS-EXT-SRV-ATTR:host"].is_string(),
        "{:?}",
        old.body
    );
    assert!(old.body["server"].get(key).is_none(), "{:?}", old.body);
    // The member never does.
    for answer in [
        member.get(&path).await,
        member.get("/compute/v2.1/servers/detail").await,
    ] {
        let text = answer.body.to_string();
        assert!(!text.contains("OS-EXT-SRV-ATTR:user_data"), "{text}");
        assert!(!text.contains("OS-EXT-SRV-ATTR:host\""), "{text}");
    }

    // The administrator's token names the admin user and the admin role.
    let token = admin
        .http
        .get(format!("{}/auth/tokens", sim.auth_url()))
        .header("x-auth-token", &admin.token)
        .header("x-subject-token", &admin.token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(token["token"]["user"]["name"], "sim-admin");
    let roles: Vec<&str> = token["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(roles.contains(&"admin"), "{roles:?}");
    sim.shutdown().await;
}

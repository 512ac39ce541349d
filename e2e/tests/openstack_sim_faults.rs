//! Fault injection (by configuration, by the admin endpoint, by the library) and call counters.

mod openstack_sim_support;

use e2e::openstack::{CallCounters, FaultAction, FaultConfig, HttpFault, SimConfig};
use openstack_sim_support::{Client, fast_config, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn admin(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c.http.request(method, format!("{}{path}", c.base));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin call");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn error_bursts_come_with_each_services_error_body_then_stop() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let rules = json!({"http": [
        {"method": "GET", "path": "/compute/v2.1/flavors/detail", "action": {"kind": "error", "status": 503}, "times": 2},
        {"path": "/networking/*", "action": {"kind": "error"}, "times": 1},
        {"path": "/volume/v3/{project_id}/volumes/detail", "action": {"kind": "error", "status": 500}, "times": 1},
    ]});
    let (status, current) = admin(&c, reqwest::Method::PUT, "/_sim/faults", Some(rules)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["http"][0]["times"], 2);

    for _ in 0..2 {
        let a = c.get("/compute/v2.1/flavors/detail").await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(a.body["serviceUnavailable"]["code"], 503);
        assert!(
            a.header("x-openstack-request-id")
                .is_some_and(|r| r.starts_with("req-"))
        );
    }
    assert_eq!(
        c.get("/compute/v2.1/flavors/detail").await.status,
        StatusCode::OK
    );
    let a = c.get("/networking/v2.0/networks").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.body["NeutronError"]["type"], "HTTPInternalServerError");
    assert_eq!(
        c.get("/networking/v2.0/networks").await.status,
        StatusCode::OK
    );
    let a = c.get(&c.volume("/volumes/detail")).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.body["computeFault"]["code"], 500);

    // What is left of each rule.
    let (_, current) = admin(&c, reqwest::Method::GET, "/_sim/faults", None).await;
    assert_eq!(
        current["http"]
            .as_array()
            .map(|r| r.iter().map(|x| x["times"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(0), json!(0), json!(0)])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    sim.faults()
        .add_http(HttpFault {
            method: None,
            path: "*".into(),
            action: FaultAction::Throttle {
                retry_after_secs: 3,
            },
            probability: 1.0,
            times: Some(3),
        })
        .expect("rule");
    let a = c.get("/compute/v2.1/servers").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("retry-after"), Some("3"));
    assert_eq!(
        a.body,
        json!({"overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "3"}})
    );
    let a = c.get("/networking/v2.0/security-groups").await;
    assert_eq!(
        (a.status, a.header("retry-after")),
        (StatusCode::TOO_MANY_REQUESTS, Some("3"))
    );
    assert_eq!(a.body["NeutronError"]["type"], "HTTPTooManyRequests");
    let a = c.get(&c.volume("/volumes")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        c.get("/compute/v2.1/servers").await.status,
        StatusCode::OK,
        "the burst is over"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_delays_and_drops_close_the_connection() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let faults: FaultConfig = serde_yaml::from_str(
        "http:\n- {path: /compute/v2.1/flavors, action: {kind: latency, ms: 150}, times: 1}\n- {path: /compute/v2.1/os-availability-zone, action: {kind: drop}, times: 1}\n",
    )
    .expect("yaml");
    sim.faults().set(faults).expect("rules");
    let started = Instant::now();
    assert_eq!(c.get("/compute/v2.1/flavors").await.status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the added latency was served"
    );

    // The dropped call gets no answer at all: the client sees the connection close.
    let fresh = reqwest::Client::new();
    let err = fresh
        .get(format!(
            "{}/compute/v2.1/os-availability-zone",
            sim.base_url()
        ))
        .header("x-auth-token", &c.token)
        .send()
        .await
        .expect_err("connection closed without a response");
    assert!(!err.is_status() && err.status().is_none(), "{err:?}");
    assert_eq!(
        c.get("/compute/v2.1/os-availability-zone").await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_makes_random_faults_reproducible() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let rules = json!({"seed": 42, "http": [{"path": "/compute/v2.1/flavors", "action": {"kind": "error", "status": 502}, "probability": 0.5}]});
    let run = || async {
        let (status, _) = admin(
            &c,
            reqwest::Method::PUT,
            "/_sim/faults",
            Some(rules.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let mut pattern = Vec::new();
        for _ in 0..24 {
            pattern.push(c.get("/compute/v2.1/flavors").await.status.as_u16());
        }
        pattern
    };
    let first = run().await;
    let second = run().await;
    assert_eq!(first, second);
    assert!(first.contains(&502) && first.contains(&200), "{first:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_from_the_config_file_send_servers_to_error_and_fail_volumes() {
    let mut config: SimConfig = serde_yaml::from_str(
        "faults:\n  servers:\n  - {name_regex: '^doomed-', message: 'Exceeded maximum number of retries.'}\n  volumes:\n  - {name_regex: '-bad$'}\n",
    )
    .expect("yaml");
    config.timing = fast_config(5).timing;
    let sim = start(config).await;
    let c = Client::login(&sim).await;
    let doomed = c.create_server("doomed-1", json!({})).await;
    let fine = c.create_server("fine-1", json!({})).await;
    let s = c.wait_server(&doomed, "ERROR").await;
    assert_eq!(s["fault"]["message"], "Exceeded maximum number of retries.");
    c.wait_server(&fine, "ACTIVE").await;
    let a = c
        .post(
            &c.volume("/volumes"),
            json!({"volume": {"name": "v-bad", "size": 1}}),
        )
        .await;
    c.wait_volume(a.body["volume"]["id"].as_str().expect("id"), "error")
        .await;
    c.create_volume("v-good", 1, "zone-a").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_endpoint_validates_appends_and_clears() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let (status, body) = admin(
        &c,
        reqwest::Method::PUT,
        "/_sim/faults",
        Some(json!({"http": [{"path": "nope", "action": {"kind": "drop"}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("faults.http[0].path")),
        "{body}"
    );
    let (status, body) = admin(
        &c,
        reqwest::Method::PUT,
        "/_sim/faults",
        Some(json!({"http": [{"path": "/x", "action": {"kind": "explode"}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("explode")),
        "{body}"
    );

    admin(
        &c,
        reqwest::Method::POST,
        "/_sim/faults",
        Some(json!({"servers": [{"times": 1}]})),
    )
    .await;
    let (_, body) = admin(
        &c,
        reqwest::Method::POST,
        "/_sim/faults",
        Some(json!({"volumes": [{"times": 2}]})),
    )
    .await;
    assert_eq!(
        (
            body["servers"][0]["times"].clone(),
            body["volumes"][0]["times"].clone()
        ),
        (json!(1), json!(2))
    );
    let (status, _) = admin(&c, reqwest::Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = admin(&c, reqwest::Method::GET, "/_sim/faults", None).await;
    assert_eq!(
        (body["servers"].clone(), body["volumes"].clone()),
        (json!([]), json!([]))
    );
    let id = c.create_server("after-clear", json!({})).await;
    c.wait_server(&id, "ACTIVE").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn counters_count_calls_per_route_template() {
    let sim = start(fast_config(5)).await;
    let c = Client::login(&sim).await;
    let id = c.create_server("count", json!({})).await;
    c.wait_server(&id, "ACTIVE").await;
    sim.reset_counters();
    for _ in 0..3 {
        c.get(&format!("/compute/v2.1/servers/{id}")).await;
    }
    c.get(&c.volume("/volumes/detail")).await;
    c.get("/compute/v2.1/no-such-thing").await;
    sim.faults()
        .add_http(HttpFault {
            method: Some("GET".into()),
            path: "/compute/v2.1/flavors".into(),
            action: FaultAction::Error { status: 500 },
            probability: 1.0,
            times: Some(1),
        })
        .expect("rule");
    c.get("/compute/v2.1/flavors").await;

    let counted = sim.counters();
    assert_eq!(counted.get("GET", "/compute/v2.1/servers/{id}"), 3);
    assert_eq!(
        counted.get("GET", "/volume/v3/{project_id}/volumes/detail"),
        1
    );
    assert_eq!(
        counted.get("GET", "/compute/v2.1/no-such-thing"),
        1,
        "unrouted calls count by path"
    );
    assert_eq!(
        counted.get("GET", "/compute/v2.1/flavors"),
        1,
        "faulted calls count"
    );
    assert_eq!(counted.total(), 6);
    assert_eq!(counted.total_under("/compute/"), 5);

    // Over HTTP, and admin calls are not counted.
    let (status, body) = admin(&c, reqwest::Method::GET, "/_sim/counters", None).await;
    assert_eq!(status, StatusCode::OK);
    let over_http: CallCounters =
        serde_json::from_value(json!({"calls": body["calls"]})).expect("counters");
    assert_eq!(over_http, counted);
    assert_eq!(body["total"], 6);
    admin(&c, reqwest::Method::DELETE, "/_sim/counters", None).await;
    assert_eq!(sim.counters().total(), 0);
    let (status, _) = admin(&c, reqwest::Method::POST, "/_sim/reset", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, state) = admin(&c, reqwest::Method::GET, "/_sim/state", None).await;
    assert_eq!(state["servers"][0]["addresses"], json!(["127.100.0.10"]));
    sim.shutdown().await;
}

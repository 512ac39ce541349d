//! Raw responses of the Kubernetes API emulator against the examples of the Kubernetes API
//! documentation (fixtures in `tests/fixtures/api-reference`, sources in its README), plus
//! the `kube-emulator` binary serving a kubectl until SIGTERM.

mod kube_emulator_support;

use std::time::Duration;

use http_body_util::BodyExt;
use kube_emulator_support::{Cluster, kubectl_path, text};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(kube_emulator_support::fixture(&format!(
        "api-reference/{name}"
    )))
    .unwrap()
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Every key of `expected` is in `actual` with a value of the same JSON type (arrays: the
/// first element of each, when `expected` has one).
fn assert_same_shape(expected: &Value, actual: &Value, path: &str) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    assert_eq!(
        kind(expected),
        kind(actual),
        "{path}: expected {expected}, got {actual}"
    );
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} missing in {actual}"));
                assert_same_shape(v, got, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                let got = a
                    .first()
                    .unwrap_or_else(|| panic!("{path}: expected items"));
                assert_same_shape(first, got, &format!("{path}[0]"));
            }
        }
        _ => {}
    }
}

async fn raw(
    client: &::kube::Client,
    method: &str,
    uri: &str,
    accept: &str,
    body: Option<Value>,
) -> (u16, ::kube::client::Body) {
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("Accept", accept);
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    let req = req
        .body(::kube::client::Body::from(
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    (resp.status().as_u16(), resp.into_body())
}

async fn raw_json(
    client: &::kube::Client,
    method: &str,
    uri: &str,
    accept: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (code, b) = raw(client, method, uri, accept, body).await;
    let bytes = b.collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap())
}

/// Reads `n` newline-terminated JSON events from a watch body.
async fn events(body: ::kube::client::Body, n: usize) -> Vec<Value> {
    let mut body = body;
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let frame = body.frame().await.expect("stream ended early").unwrap();
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            out.push(serde_json::from_slice(&line).unwrap());
        }
    }
    out
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
}

const JSON: &str = "application/json";

#[tokio::test]
async fn not_found_status_matches_the_api_conventions_example() {
    let c = Cluster::start().await;
    let client = c.client().await;
    let (code, body) = raw_json(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/grafana",
        JSON,
        None,
    )
    .await;
    assert_eq!(code, 404);
    let mut expected = json_fixture("status-not-found.json");
    expected["message"] = json!("configmaps \"grafana\" not found");
    expected["details"]["kind"] = json!("configmaps");
    assert_eq!(body, expected);
}

#[tokio::test]
async fn chunked_list_matches_the_api_concepts_example() {
    let c = Cluster::start().await;
    let client = c.client().await;
    for n in ["a", "b", "c"] {
        let (code, _) = raw_json(
            &client,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            JSON,
            Some(configmap(n)),
        )
        .await;
        assert_eq!(code, 201);
    }
    let (code, page) = raw_json(&client, "GET", "/api/v1/configmaps?limit=2", JSON, None).await;
    assert_eq!(code, 200);
    let expected = json_fixture("list-chunked.json");
    assert_same_shape(&expected, &page, "");
    assert_eq!(page["kind"], "ConfigMapList");
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    assert!(
        page["items"][0].get("kind").is_none(),
        "typed list items carry no kind, like the apiserver's"
    );
    let cont = page["metadata"]["continue"].as_str().unwrap();
    let (_, rest) = raw_json(
        &client,
        "GET",
        &format!("/api/v1/configmaps?limit=2&continue={cont}"),
        JSON,
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        page["metadata"]["resourceVersion"]
    );
    assert!(rest["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn watch_events_match_the_api_concepts_examples() {
    let c = Cluster::start_with(e2e::kube::Config {
        store: e2e::kube::StoreConfig { history: 4 },
        bookmark_interval: Duration::from_millis(50),
    })
    .await;
    let client = c.client().await;
    let (_, created) = raw_json(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        Some(configmap("w")),
    )
    .await;
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, watch) = raw(&client, "GET", &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"), JSON, None).await;
    let patch = json!({"data": {"k": "v2"}});
    let req = http::Request::builder()
        .method("PATCH")
        .uri("/api/v1/namespaces/default/configmaps/w")
        .header("Content-Type", "application/merge-patch+json")
        .body(::kube::client::Body::from(patch.to_string().into_bytes()))
        .unwrap();
    assert_eq!(client.send(req).await.unwrap().status().as_u16(), 200);
    let got = events(watch, 2).await;
    let examples: Vec<Value> = fixture("watch-events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_same_shape(&examples[1], &got[0], "modified");
    assert_eq!(got[0]["type"], "MODIFIED");
    assert_eq!(
        got[0]["object"]["kind"], "ConfigMap",
        "watch objects carry their kind"
    );
    assert_same_shape(&json_fixture("watch-bookmark.json"), &got[1], "bookmark");
    assert_eq!(got[1]["type"], "BOOKMARK");
    // A watch from no resourceVersion starts with the current state as ADDED events.
    let (_, fresh) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true",
        JSON,
        None,
    )
    .await;
    let got = events(fresh, 1).await;
    assert_same_shape(&examples[0], &got[0], "added");
    assert_eq!(got[0]["type"], "ADDED");
    // Past the kept history, the watch answers 410 Expired as an ERROR event.
    for i in 0..6 {
        let (code, _) = raw_json(
            &client,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            JSON,
            Some(configmap(&format!("n{i}"))),
        )
        .await;
        assert_eq!(code, 201);
    }
    let (code, expired) = raw(
        &client,
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"),
        JSON,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let got = events(expired, 1).await;
    let expected = json_fixture("watch-expired.json");
    assert_same_shape(&expected, &got[0], "expired");
    assert_eq!(got[0]["object"]["code"], 410);
    assert_eq!(got[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn table_matches_the_api_concepts_example() {
    let c = Cluster::start().await;
    let client = c.client().await;
    raw_json(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        JSON,
        Some(configmap("t")),
    )
    .await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, table) = raw_json(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        accept,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_same_shape(&json_fixture("table.json"), &table, "");
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "t");
    assert_eq!(table["rows"][0]["cells"][1], 1);
}

#[tokio::test]
async fn binary_writes_a_kubeconfig_and_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let bin = env!("CARGO_BIN_EXE_kube-emulator");
    let mut child = tokio::process::Command::new(bin)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The kubeconfig appears once the server listens; poll for it (the binary writes it
    // after binding).
    while !kubeconfig.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "kube-emulator exited early"
        );
    }
    let out = tokio::process::Command::new(kubectl_path())
        .args(["get", "namespaces", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .env("HOME", dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("namespace/default"),
        "{}",
        text(&out.stdout)
    );
    let pid = child.id().unwrap();
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = child.wait().await.unwrap();
    assert!(
        status.success(),
        "kube-emulator exits cleanly on SIGTERM: {status:?}"
    );
}

//! The simulator against recordings of a real cloud: every client scenario
//! (cloud_client_support/scenarios.rs) runs on the simulator behind the recorder proxy, and each
//! response must have the shape of the real response of the same call kind recorded in
//! tests/fixtures/openstack-real (by tests/conformance_client.rs with `E2E_RECORD_FIXTURES=1`):
//! the same status code, the same JSON fields at every level with the same JSON types (a field
//! that is null in the recording may hold anything), the same error body shape and the same
//! relevant headers. Every recorded kind must be produced by the simulator too.
//!
//! Where they differ the simulator is fixed, not the fixture; the allow-lists below name the few
//! things the simulator does not model, each with its reason. tests/openstack_sim_shapes.rs
//! holds the simulator to the examples published in the API references; this holds it to what
//! the services actually answer.

mod cloud_client_support;

use std::collections::{BTreeMap, BTreeSet};

use cloud_client_support::env::{Env, fixtures_dir};
use cloud_client_support::fast_config;
use e2e::recorder::{Exchange, REDACTED};
use serde_json::{Value, json};

/// Keys whose members are data chosen by the user or the deployment, not shape.
const FREE_FORM: &[&str] = &["metadata", "extra_specs", "properties"];

/// Maps keyed by names from the deployment (Nova's `addresses`, by network name): each value
/// the simulator serves must have the shape of one of the real values.
const KEYED_BY_NAME: &[&str] = &["addresses"];

/// Fields of the real responses the simulator does not serve: (service, field, reason).
const NOT_MODELLED: &[(&str, &str, &str)] = &[];

/// Fields the simulator serves that the recordings lack: (service, field, reason).
const SIM_EXTRA: &[(&str, &str, &str)] = &[(
    "identity",
    "application_credential",
    "only in tokens issued for an application credential; the real cloud's recordings use \
     password auth (the simulator's sim-appcred cloud uses one)",
)];

/// Call kinds recorded on the real cloud that the simulator does not produce: (kind prefix,
/// reason).
const REAL_ONLY_KINDS: &[(&str, &str)] = &[];

/// Response headers compared by value (media type only for content-type).
const COMPARED_BY_VALUE: &[&str] = &[
    "content-type",
    "openstack-api-version",
    "x-openstack-nova-api-version",
];

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn not_modelled(service: &str, key: &str) -> bool {
    NOT_MODELLED
        .iter()
        .any(|(s, k, _)| *s == service && *k == key)
}

fn sim_extra(service: &str, key: &str) -> bool {
    SIM_EXTRA.iter().any(|(s, k, _)| *s == service && *k == key)
}

/// `sim` against whichever of `candidates` it resembles most: no errors if it matches one,
/// else the errors of the closest.
fn best_of(
    service: &str,
    candidates: &[&Value],
    sim: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    let attempts = candidates.iter().map(|candidate| {
        let mut e = Vec::new();
        shape(service, candidate, sim, path, &mut e);
        e
    });
    if let Some(best) = attempts.min_by_key(Vec::len) {
        errors.extend(best);
    }
}

/// Compares `sim` with `real`: the same keys, recursively, with the same JSON types; a real
/// null allows anything; each item of a simulator array must have the shape of some item of
/// the real array (an empty real array says nothing about items).
fn shape(service: &str, real: &Value, sim: &Value, path: &str, errors: &mut Vec<String>) {
    let field = path.rsplit('.').next().unwrap_or(path);
    match (real, sim) {
        (Value::Null, _) => {}
        (Value::Object(_), Value::Object(_)) if FREE_FORM.contains(&field) => {}
        (Value::Object(r), Value::Object(s)) if KEYED_BY_NAME.contains(&field) && !r.is_empty() => {
            let candidates: Vec<&Value> = r.values().collect();
            for (k, v) in s {
                best_of(service, &candidates, v, &format!("{path}.{k}"), errors);
            }
        }
        (Value::Object(r), Value::Object(s)) => {
            let rk: BTreeSet<&str> = r
                .keys()
                .map(String::as_str)
                .filter(|k| !not_modelled(service, k))
                .collect();
            let sk: BTreeSet<&str> = s
                .keys()
                .map(String::as_str)
                .filter(|k| !sim_extra(service, k))
                .collect();
            let missing: Vec<_> = rk.difference(&sk).collect();
            let extra: Vec<_> = sk.difference(&rk).collect();
            if !missing.is_empty() {
                errors.push(format!("{path}: the simulator lacks {missing:?}"));
            }
            if !extra.is_empty() {
                errors.push(format!("{path}: the real service has no {extra:?}"));
            }
            for k in rk.intersection(&sk) {
                shape(service, &r[*k], &s[*k], &format!("{path}.{k}"), errors);
            }
        }
        (Value::Array(r), Value::Array(s)) if !r.is_empty() => {
            let candidates: Vec<&Value> = r.iter().collect();
            for (i, item) in s.iter().enumerate() {
                best_of(service, &candidates, item, &format!("{path}[{i}]"), errors);
            }
        }
        (Value::Array(_), Value::Array(_)) => {}
        (r, s) if kind_of(r) == kind_of(s) => {}
        // Null where the recording has a value may be data (a volume made without a
        // description): it only counts if the simulator never fills the field (see
        // [`NULL_MARK`]).
        (r, Value::Null) => errors.push(format!(
            "{NULL_MARK}{path}: real {} ({}), the simulator always null",
            kind_of(r),
            truncate(r)
        )),
        (r, s) => errors.push(format!(
            "{path}: real {} ({}), simulator {} ({})",
            kind_of(r),
            truncate(r),
            kind_of(s),
            truncate(s)
        )),
    }
}

/// Prefix of a "null in the simulator, a value in the recording" finding: kept only when no
/// simulator answer of the kind fills that field.
const NULL_MARK: &str = "null:";

/// A path without array indices (`body.servers[3].name` → `body.servers[].name`).
fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// The generic paths of every non-null value in `v`.
fn filled(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Null => {}
        Value::Object(map) => {
            out.insert(generic(path));
            for (k, item) in map {
                filled(item, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            out.insert(generic(path));
            for item in items {
                filled(item, &format!("{path}[]"), out);
            }
        }
        _ => {
            out.insert(generic(path));
        }
    }
}

fn truncate(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 80 {
        format!("{}…", &text[..80])
    } else {
        text
    }
}

fn media_type(v: &str) -> String {
    v.split(';').next().unwrap_or("").trim().to_lowercase()
}

/// Every difference between the simulator's exchange and the real one of the same kind.
fn compare(real: &Exchange, sim: &Exchange) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, value) in &real.headers {
        match sim.headers.get(name) {
            None => errors.push(format!("header {name}: missing (real: {value})")),
            Some(got) if COMPARED_BY_VALUE.contains(&name.as_str()) => {
                let (want, got) = if name == "content-type" {
                    (media_type(value), media_type(got))
                } else {
                    (value.clone(), got.clone())
                };
                if want != got {
                    errors.push(format!("header {name}: real {want:?}, simulator {got:?}"));
                }
            }
            Some(_) => {}
        }
    }
    shape(&real.service, &real.body, &sim.body, "body", &mut errors);
    errors
}

/// The `status` of the one resource a body holds (`{"server": {"status": "ACTIVE", ...}}`).
fn state(body: &Value) -> Option<&str> {
    let map = body.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.values().next()?.get("status")?.as_str()
}

fn load_fixtures() -> Vec<Exchange> {
    let dir = fixtures_dir();
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            let e: Exchange =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(e.fixture_name().as_str()),
                "fixture file named after its kind"
            );
            out.push(e);
        }
    }
    out.sort_by_key(Exchange::kind);
    out
}

/// Every client scenario on the simulator, behind the recorder; their exchanges.
async fn simulator_exchanges() -> Vec<Exchange> {
    let mut all = Vec::new();
    macro_rules! run {
        ($name:ident) => {
            let env = Env::sim(fast_config(), stringify!($name)).await;
            cloud_client_support::scenarios::$name(&env).await;
            all.extend(env.recorder.exchanges());
            env.finish().await;
        };
    }
    client_scenarios!(run);
    all.retain(|e| !e.injected);
    all
}

#[tokio::test]
async fn the_simulator_answers_like_the_real_services() {
    let fixtures = load_fixtures();
    assert!(
        fixtures.len() >= 20,
        "expected the recordings of every call kind, found {}",
        fixtures.len()
    );
    let by_kind: BTreeMap<String, &Exchange> = fixtures.iter().map(|e| (e.kind(), e)).collect();
    let exchanges = simulator_exchanges().await;

    let mut errors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut compared = BTreeSet::new();
    // (kind, generic path) → finding, for nulls; (kind, generic path) the simulator filled.
    let mut nulls: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut filled_paths: BTreeSet<(String, String)> = BTreeSet::new();
    for sim in &exchanges {
        let kind = sim.kind();
        seen.insert(kind.clone());
        let mut here = BTreeSet::new();
        filled(&sim.body, "body", &mut here);
        filled_paths.extend(here.into_iter().map(|p| (kind.clone(), p)));
        let problems: Vec<String> = match by_kind.get(&kind) {
            // A resource's fields depend on its state (Nova shows `progress` only while
            // building or active, `security_groups` not once deleted): compare like with like.
            Some(real) if state(&real.body) != state(&sim.body) => Vec::new(),
            Some(real) => {
                compared.insert(kind.clone());
                compare(real, sim)
            }
            None => {
                let statuses: Vec<u16> = fixtures
                    .iter()
                    .filter(|f| {
                        f.service == sim.service && f.method == sim.method && f.route == sim.route
                    })
                    .map(|f| f.status)
                    .collect();
                if statuses.is_empty() {
                    vec!["never recorded on the real cloud".to_string()]
                } else {
                    vec![format!(
                        "status {}: the real service answered {statuses:?}",
                        sim.status
                    )]
                }
            }
        };
        let (null_findings, problems): (Vec<String>, Vec<String>) =
            problems.into_iter().partition(|p| p.starts_with(NULL_MARK));
        for finding in null_findings {
            let finding = finding[NULL_MARK.len()..].to_string();
            let path = generic(finding.split(": real ").next().unwrap_or(""));
            nulls.entry((kind.clone(), path)).or_insert(finding);
        }
        if !problems.is_empty() {
            errors.entry(kind).or_default().extend(problems);
        }
    }
    for ((kind, path), finding) in nulls {
        if !filled_paths.contains(&(kind.clone(), path)) {
            errors.entry(kind).or_default().insert(finding);
        }
    }
    for f in &fixtures {
        let kind = f.kind();
        let allowed = REAL_ONLY_KINDS.iter().any(|(k, _)| kind.starts_with(k));
        if !seen.contains(&kind) && !allowed {
            errors
                .entry(kind)
                .or_default()
                .insert("recorded on the real cloud, never produced by the simulator".into());
        } else if seen.contains(&kind) && !compared.contains(&kind) {
            errors.entry(kind).or_default().insert(format!(
                "the simulator never answered in the recorded state {:?}",
                state(&f.body)
            ));
        }
    }
    let report: Vec<String> = errors
        .iter()
        .map(|(kind, problems)| {
            let lines: Vec<&str> = problems.iter().map(String::as_str).collect();
            format!("{kind}:\n    {}", lines.join("\n    "))
        })
        .collect();
    assert!(
        report.is_empty(),
        "{} call kind(s) differ from the real services:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn the_comparison_catches_differences() {
    let ex = |status: u16, headers: &[(&str, &str)], body: Value| Exchange {
        service: "compute".into(),
        method: "GET".into(),
        route: "/v2.1/servers/{id}".into(),
        query: Vec::new(),
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        request: None,
        body,
        injected: false,
    };
    let real = ex(
        200,
        &[
            ("content-type", "application/json"),
            ("x-openstack-request-id", "req-1"),
        ],
        json!({"server": {"id": "a", "fault": null, "n": 1, "metadata": {"k": "v"},
                          "addresses": [{"a": 1}, {"a": 1, "b": "x"}], "tags": []}}),
    );
    let same = ex(
        200,
        &[
            ("content-type", "application/json; charset=UTF-8"),
            ("x-openstack-request-id", "req-2"),
        ],
        json!({"server": {"id": "b", "fault": {"code": 500}, "n": 7, "metadata": {},
                          "addresses": [{"a": 2, "b": "y"}], "tags": ["t"]}}),
    );
    assert_eq!(compare(&real, &same), Vec::<String>::new());

    let mut missing_header = same.clone();
    missing_header.headers.remove("x-openstack-request-id");
    assert_eq!(compare(&real, &missing_header).len(), 1, "missing header");
    let mut other_type = same.clone();
    other_type
        .headers
        .insert("content-type".into(), "text/html".into());
    assert_eq!(compare(&real, &other_type).len(), 1, "content type");

    let mut e = same.clone();
    e.body["server"]["n"] = json!("1");
    assert_eq!(compare(&real, &e).len(), 1, "json type");
    let mut e = same.clone();
    e.body["server"]
        .as_object_mut()
        .expect("object")
        .remove("tags");
    assert_eq!(compare(&real, &e).len(), 1, "missing field");
    let mut e = same.clone();
    e.body["server"]["extra"] = json!(1);
    assert_eq!(compare(&real, &e).len(), 1, "extra field");
    let mut e = same.clone();
    e.body["server"]["addresses"] = json!([{"c": 1}]);
    assert!(!compare(&real, &e).is_empty(), "array item");
    let mut e = same.clone();
    e.body["server"]["id"] = Value::Null;
    assert_eq!(
        compare(&real, &e).len(),
        1,
        "null where the real one has a value"
    );
    let error_body = ex(
        404,
        &[],
        json!({"itemNotFound": {"code": 404, "message": "m"}}),
    );
    let other_error = ex(404, &[], json!({"NotFound": {"message": "m"}}));
    assert_eq!(
        compare(&error_body, &other_error).len(),
        2,
        "error body shape"
    );
}

#[test]
fn the_recordings_hold_no_secrets() {
    fn walk(v: &Value, path: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    let secretive =
                        ["password", "secret", "adminPass", "token_id"].contains(&k.as_str());
                    if secretive && !item.is_null() && item != &json!(REDACTED) && !item.is_object()
                    {
                        found.push(format!("{path}.{k}"));
                    }
                    walk(item, &format!("{path}.{k}"), found);
                }
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, item)| walk(item, &format!("{path}[{i}]"), found)),
            _ => {}
        }
    }
    let fixtures = load_fixtures();
    assert!(!fixtures.is_empty());
    let mut found = Vec::new();
    for f in &fixtures {
        for header in ["x-subject-token", "x-auth-token"] {
            if let Some(v) = f.headers.get(header) {
                assert_eq!(v, REDACTED, "{} {header}", f.kind());
            }
        }
        walk(&f.body, &format!("{} body", f.kind()), &mut found);
        if let Some(r) = &f.request {
            walk(r, &format!("{} request", f.kind()), &mut found);
        }
    }
    assert!(found.is_empty(), "unredacted secrets: {found:?}");
    let tokens = fixtures
        .iter()
        .filter(|f| f.route == "/v3/auth/tokens" && f.status == 201)
        .count();
    assert_eq!(tokens, 1, "the token response is recorded");
}

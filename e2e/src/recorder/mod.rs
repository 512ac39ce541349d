//! A recording, fault-injecting HTTP proxy between the operator's OpenStack client and a cloud
//! (the simulator or a real one).
//!
//! The proxy fronts the Keystone URL of a clouds.yaml ([`Recorder::clouds_yaml`]) and rewrites
//! the catalog of every token response so that each endpoint goes through it too: endpoint
//! `http://HOST:PORT/BASE/v2.1` becomes `http://PROXY/pN/BASE-less/v2.1`, with the upstream
//! `http://HOST:PORT/BASE` kept in a table. Every exchange is recorded as an [`Exchange`]: the
//! service, the method, the route template relative to the endpoint's base path
//! (`/v2.1/servers/{id}` whether the endpoint is Nova's own `:8774/v2.1` or the simulator's
//! `/compute/v2.1`), the status, the headers that matter and the JSON bodies, with secrets
//! redacted. Fault rules ([`ProxyFault`]) answer with an error, wait, or drop the connection
//! instead of (or before) forwarding, so fault scenarios run against a real cloud too.

mod route;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use route::{route_template, service_name};

/// What replaces a secret in a recording.
pub const REDACTED: &str = "<redacted>";

/// Response headers kept in a recording (lower case).
pub const RECORDED_HEADERS: &[&str] = &[
    "content-type",
    "x-openstack-request-id",
    "x-compute-request-id",
    "openstack-api-version",
    "x-openstack-nova-api-version",
    "location",
    "retry-after",
    "x-subject-token",
    "www-authenticate",
];

/// Headers whose values are credentials.
const SECRET_HEADERS: &[&str] = &["x-auth-token", "x-subject-token"];

/// JSON keys whose values are credentials, at any depth.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "adminPass",
    "admin_pass",
    "admin_password",
    "private_key",
    "token_id",
    "auth_token",
];

/// Errors of the recorder.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A clouds.yaml could not be read or written.
    #[error("clouds.yaml: {0}")]
    CloudsYaml(String),
    /// A fixture file could not be written.
    #[error("writing fixture {path}: {message}")]
    Fixture {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One request and its response as the proxy saw them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    /// The service (`identity`, `compute`, `volume`, `network`, `image`, ...).
    pub service: String,
    /// The HTTP method.
    pub method: String,
    /// The path relative to the endpoint's base, IDs and names templated (`/v2.1/servers/{id}`).
    pub route: String,
    /// The names of the query parameters, sorted.
    #[serde(default)]
    pub query: Vec<String>,
    /// The response status.
    pub status: u16,
    /// The recorded response headers ([`RECORDED_HEADERS`]), secret ones redacted.
    pub headers: BTreeMap<String, String>,
    /// The request body as JSON (secrets redacted), when it had one.
    #[serde(default)]
    pub request: Option<Value>,
    /// The response body as JSON (secrets redacted); a non-JSON body as a string; `null` when empty.
    pub body: Value,
    /// Whether the proxy injected this response itself (fault rules).
    #[serde(default)]
    pub injected: bool,
}

impl Exchange {
    /// The call kind: service, method, route and status, e.g.
    /// `compute GET /v2.1/servers/{id} 404`.
    pub fn kind(&self) -> String {
        format!(
            "{} {} {} {}",
            self.service, self.method, self.route, self.status
        )
    }

    /// The fixture file name of the kind: `compute.get.v2.1.servers.id.404.json`.
    pub fn fixture_name(&self) -> String {
        let mut parts = vec![self.service.clone(), self.method.to_lowercase()];
        parts.extend(
            self.route
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_matches(|c| c == '{' || c == '}').to_string()),
        );
        parts.push(self.status.to_string());
        format!("{}.json", parts.join("."))
    }
}

/// What a fault rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum ProxyAction {
    /// Answers `status` itself (a JSON error body), with `Retry-After: retry_after` if set.
    Status {
        /// The status code.
        status: u16,
        /// Seconds for the Retry-After header.
        retry_after: Option<u64>,
    },
    /// Waits, then forwards.
    Delay(Duration),
    /// Closes the connection without answering.
    Drop,
}

/// A fault rule: requests of `method` (any when `None`) to `service` on `route` (a template as
/// in [`Exchange::route`]) get `action`, `times` times (always when `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyFault {
    /// The method, or any.
    pub method: Option<String>,
    /// The service.
    pub service: String,
    /// The route template.
    pub route: String,
    /// What happens.
    pub action: ProxyAction,
    /// How many times, or always.
    pub times: Option<u32>,
}

struct Upstream {
    /// `http://HOST:PORT/BASE` without a trailing slash.
    base: String,
    service: String,
}

#[derive(Default)]
struct State {
    upstreams: Vec<Upstream>,
    exchanges: Vec<Exchange>,
    /// (method, service, route) of every request, on arrival (answered or not).
    received: Vec<(String, String, String)>,
    faults: Vec<ProxyFault>,
}

struct Shared {
    proxy_url: String,
    state: Mutex<State>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `url` of `service` and returns its URL through the proxy.
    fn front(&self, url: &str, service: &str) -> String {
        let (origin, path) = split_origin(url);
        let (base_path, rest) = route::split_base(path);
        let base = format!("{origin}{base_path}");
        let mut state = self.state();
        let index = match state.upstreams.iter().position(|u| u.base == base) {
            Some(i) => i,
            None => {
                state.upstreams.push(Upstream {
                    base,
                    service: service_name(service).to_string(),
                });
                state.upstreams.len() - 1
            }
        };
        format!("{}/p{index}{rest}", self.proxy_url)
    }

    /// Rewrites every string of `v` that starts with a registered upstream base.
    fn rewrite_urls(&self, v: &mut Value) {
        let table: Vec<(String, String)> = {
            let state = self.state();
            let mut t: Vec<(String, String)> = state
                .upstreams
                .iter()
                .enumerate()
                .map(|(i, u)| (u.base.clone(), format!("{}/p{i}", self.proxy_url)))
                .collect();
            t.sort_by_key(|(b, _)| std::cmp::Reverse(b.len()));
            t
        };
        rewrite_strings(v, &table);
    }
}

fn rewrite_strings(v: &mut Value, table: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (from, to) in table {
                if let Some(rest) = s.strip_prefix(from.as_str())
                    && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
                {
                    *s = format!("{to}{rest}");
                    return;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_strings(i, table)),
        Value::Object(map) => map.values_mut().for_each(|i| rewrite_strings(i, table)),
        _ => {}
    }
}

/// `http://h:p/a/b` → (`http://h:p`, `/a/b`).
fn split_origin(url: &str) -> (&str, &str) {
    let url = url.trim_end_matches('/');
    match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url.split_at(i + 3 + j),
            None => (url, ""),
        },
        None => ("", url),
    }
}

/// Replaces the values of secret keys (and token strings) with [`REDACTED`].
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let secret =
                    SECRET_KEYS.contains(&k.as_str()) && !item.is_null() && !item.is_object();
                if secret || (k == "token" && item.is_string()) {
                    *item = Value::String(REDACTED.into());
                } else {
                    redact(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A running proxy. Dropping it stops it too; [`Recorder::shutdown`] waits for its tasks.
pub struct Recorder {
    shared: Arc<Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Binds `listen` (port 0 picks one) and starts proxying.
    pub async fn start(listen: SocketAddr) -> Result<Recorder, RecorderError> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| RecorderError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| RecorderError::Bind {
                addr: listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            proxy_url: format!("http://{addr}"),
            state: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(serve(
            listener,
            shared.clone(),
            cancel.clone(),
            tasks.clone(),
        ));
        tracing::info!(%addr, "recorder listening");
        Ok(Recorder {
            shared,
            addr,
            cancel,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers `url` (an endpoint of `service`) and returns the URL to use instead.
    pub fn front(&self, url: &str, service: &str) -> String {
        self.shared.front(url, service)
    }

    /// `yaml` (a clouds.yaml) with the `auth.auth_url` of every cloud going through the proxy.
    pub fn clouds_yaml(&self, yaml: &str) -> Result<String, RecorderError> {
        let mut doc: serde_yaml::Value =
            serde_yaml::from_str(yaml).map_err(|e| RecorderError::CloudsYaml(e.to_string()))?;
        let clouds = doc
            .get_mut("clouds")
            .and_then(serde_yaml::Value::as_mapping_mut)
            .ok_or_else(|| RecorderError::CloudsYaml("no `clouds` mapping".into()))?;
        for (_, cloud) in clouds.iter_mut() {
            if let Some(url) = cloud
                .get_mut("auth")
                .and_then(|a| a.get_mut("auth_url"))
                .filter(|u| u.is_string())
            {
                let fronted = self.front(url.as_str().unwrap_or_default(), "identity");
                *url = serde_yaml::Value::String(fronted);
            }
        }
        serde_yaml::to_string(&doc).map_err(|e| RecorderError::CloudsYaml(e.to_string()))
    }

    /// Every exchange so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.state().exchanges.clone()
    }

    /// Forgets the exchanges so far.
    pub fn clear(&self) {
        self.shared.state().exchanges.clear();
    }

    /// Requests of `method` to `service` on `route` received so far (answered or not,
    /// injected answers included).
    pub fn calls(&self, method: &str, service: &str, route: &str) -> u64 {
        self.shared
            .state()
            .received
            .iter()
            .filter(|(m, s, r)| m == method && s == service && r == route)
            .count() as u64
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, fault: ProxyFault) {
        self.shared.state().faults.push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }

    /// Stops accepting and waits for every connection task to end.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// How much a body tells about its shape: its non-null leaves and array items, counted.
pub fn richness(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Array(items) => 1 + items.iter().map(richness).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(richness).sum::<usize>(),
        _ => 1,
    }
}

/// Writes one fixture file per call kind of `exchanges` into `dir` (injected answers left out):
/// of all the exchanges of a kind this process has seen, the richest ([`richness`]: an ACTIVE
/// server with its addresses rather than one in BUILD), so parallel tests that share the
/// directory keep one file per kind. Returns how many files it (re)wrote.
pub fn write_fixtures(dir: &Path, exchanges: &[Exchange]) -> Result<usize, RecorderError> {
    static WRITTEN: OnceLock<Mutex<BTreeMap<String, usize>>> = OnceLock::new();
    let written = WRITTEN.get_or_init(Mutex::default);
    let mut written = written.lock().unwrap_or_else(|p| p.into_inner());
    let mut count = 0;
    for e in exchanges.iter().filter(|e| !e.injected) {
        let name = e.fixture_name();
        let score = richness(&e.body);
        if written.get(&name).is_some_and(|best| *best >= score) {
            continue;
        }
        written.insert(name.clone(), score);
        let path = dir.join(&name);
        let fail = |message: String| RecorderError::Fixture {
            path: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let text = serde_json::to_string_pretty(e).map_err(|e| fail(e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| fail(e.to_string()))?;
        count += 1;
    }
    Ok(count)
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => match a {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "recorder accept failed");
                    continue;
                }
            },
        };
        let shared = shared.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { handle(shared, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = cancel.cancelled() => {}
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "recorder connection ended");
                },
            }
        });
    }
}

/// The connection is closed without an answer (fault [`ProxyAction::Drop`]).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a fault rule")]
struct Dropped;

const INJECTED: &str = "injected by the recorder proxy";

type Reply = hyper::Response<Full<Bytes>>;

fn error_body(status: u16, message: &str) -> Value {
    serde_json::json!({"error": {"code": status, "message": message}})
}

fn plain(status: u16, message: &str) -> Reply {
    let body = error_body(status, message).to_string();
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = hyper::header::HeaderValue::from_str(&request_id()) {
        resp.headers_mut().insert("x-openstack-request-id", id);
    }
    resp
}

/// A request ID as OpenStack services make them (`req-<uuid>`).
fn request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

fn json_or_text(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

async fn handle(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Result<Reply, Dropped> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    // /pN/rest
    let Some((index, rest)) = path
        .strip_prefix("/p")
        .and_then(|p| {
            let (n, rest) = p.split_at(p.find('/').unwrap_or(p.len()));
            n.parse::<usize>().ok().map(|n| (n, rest.to_string()))
        })
        .filter(|(n, _)| *n < shared.state().upstreams.len())
    else {
        return Ok(plain(404, "not a proxied endpoint"));
    };
    let (base, service) = {
        let state = shared.state();
        let u = &state.upstreams[index];
        (u.base.clone(), u.service.clone())
    };
    let route = route_template(&rest);
    let method = parts.method.as_str().to_string();
    let query_names: Vec<String> = query
        .as_deref()
        .map(|q| {
            let names: BTreeSet<String> = form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect();
            names.into_iter().collect()
        })
        .unwrap_or_default();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::debug!(error = %e, "recorder: reading the request failed");
            return Err(Dropped);
        }
    };
    let mut request_json = json_or_text(&body);
    if let Some(r) = request_json.as_mut() {
        redact(r);
    }
    let record = |status: u16, headers: BTreeMap<String, String>, body: Value, injected: bool| {
        shared.state().exchanges.push(Exchange {
            service: service.clone(),
            method: method.clone(),
            route: route.clone(),
            query: query_names.clone(),
            status,
            headers,
            request: request_json.clone(),
            body,
            injected,
        });
    };

    // Fault rules.
    let action = {
        let mut state = shared.state();
        state
            .received
            .push((method.clone(), service.clone(), route.clone()));
        let hit = state.faults.iter_mut().find(|f| {
            f.service == service
                && f.route == route
                && f.method.as_deref().is_none_or(|m| m == method)
                && f.times.is_none_or(|t| t > 0)
        });
        hit.map(|f| {
            if let Some(t) = f.times.as_mut() {
                *t -= 1;
            }
            f.action.clone()
        })
    };
    match action {
        Some(ProxyAction::Status {
            status,
            retry_after,
        }) => {
            let mut resp = plain(status, INJECTED);
            let mut headers = BTreeMap::from([("content-type".into(), "application/json".into())]);
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(hyper::header::RETRY_AFTER, secs.into());
                headers.insert("retry-after".into(), secs.to_string());
            }
            record(status, headers, error_body(status, INJECTED), true);
            return Ok(resp);
        }
        Some(ProxyAction::Drop) => {
            record(0, BTreeMap::new(), Value::Null, true);
            return Err(Dropped);
        }
        Some(ProxyAction::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }

    // Forward.
    let target = format!(
        "{base}{}{}",
        rest,
        query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let mut upstream = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(&target);
    for (name, value) in parts.headers.iter() {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(upstream) = upstream.body(Full::new(body)) else {
        return Ok(plain(502, "bad upstream request"));
    };
    let resp = match shared.client.request(upstream).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, %target, "recorder: upstream failed");
            return Err(Dropped);
        }
    };
    let (mut rparts, rbody) = resp.into_parts();
    let rbytes = match rbody.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let status = rparts.status.as_u16();
    let mut headers = BTreeMap::new();
    for name in RECORDED_HEADERS {
        if let Some(v) = rparts.headers.get(*name) {
            let value = if SECRET_HEADERS.contains(name) {
                REDACTED.to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            headers.insert(name.to_string(), value);
        }
    }
    let parsed = json_or_text(&rbytes);
    let mut recorded = parsed.clone().unwrap_or(Value::Null);
    redact(&mut recorded);
    record(status, headers, recorded, false);

    // What the client gets: the catalog (and any other upstream URL) through the proxy.
    let mut out = rbytes;
    if let Some(mut v) = parsed.filter(Value::is_object) {
        if let Some(catalog) = v
            .pointer("/token/catalog")
            .and_then(Value::as_array)
            .cloned()
        {
            for entry in catalog {
                let kind = entry.get("type").and_then(Value::as_str).unwrap_or("");
                for ep in entry
                    .get("endpoints")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(url) = ep.get("url").and_then(Value::as_str) {
                        shared.front(url, kind);
                    }
                }
            }
        }
        shared.rewrite_urls(&mut v);
        out = Bytes::from(v.to_string());
    }
    if let Some(location) = rparts.headers.get(hyper::header::LOCATION).cloned() {
        let mut v = Value::String(String::from_utf8_lossy(location.as_bytes()).into_owned());
        shared.rewrite_urls(&mut v);
        if let Some(Ok(h)) = v.as_str().map(hyper::header::HeaderValue::from_str) {
            rparts.headers.insert(hyper::header::LOCATION, h);
        }
    }
    rparts.headers.remove(hyper::header::CONTENT_LENGTH);
    rparts.headers.remove(hyper::header::TRANSFER_ENCODING);
    rparts.headers.remove(hyper::header::CONNECTION);
    Ok(hyper::Response::from_parts(rparts, Full::new(out)))
}

//! The HTTP face of the simulator: one router serving every simulated service under its own
//! path prefix, plus the admin endpoints.
//!
//! | prefix | service | catalog type |
//! | --- | --- | --- |
//! | `/identity` | Keystone v3 | `identity` |
//! | `/compute/v2.1` | Nova | `compute` |
//! | `/volume/v3/{project_id}` | Cinder | `volumev3`, `block-storage` |
//! | `/networking/v2.0` | Neutron | `network` |
//! | `/image/v2` | Glance | `image` |
//! | `/_sim` | admin (faults, counters) | — |
//!
//! Every service call goes through [`observe`]: it is counted, may meet an injected fault, and
//! its answer carries `x-openstack-request-id`.

pub(crate) mod admin;
pub(crate) mod cinder;
pub(crate) mod error;
pub(crate) mod glance;
pub(crate) mod keystone;
pub(crate) mod neutron;
mod neutron_ports;
pub(crate) mod nova;

use super::config::{Derived, SimConfig};
use super::counters::CallCounters;
use super::faults::{FaultHandle, HttpOutcome};
use super::hook::BootHook;
use super::microversion::ApiVersion;
use super::world::{Token, World};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use error::{ApiError, Service};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// State shared by every handler and life-cycle task.
pub(crate) struct Shared {
    pub config: Arc<SimConfig>,
    pub derived: Derived,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub world: Mutex<World>,
    pub faults: FaultHandle,
    pub counters: Mutex<CallCounters>,
    pub hook: RwLock<Option<Arc<dyn BootHook>>>,
    pub tasks: TaskTracker,
    pub cancel: CancellationToken,
}

impl Shared {
    /// The world, under its lock. Handlers never hold it across an await.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock could only come from a simulator bug; the data is still
        // consistent enough to keep serving, which beats failing every later call.
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn counters(&self) -> MutexGuard<'_, CallCounters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn hook(&self) -> Option<Arc<dyn BootHook>> {
        self.hook.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keystone's public URL (`.../identity`), also the `WWW-Authenticate` URI.
    pub(crate) fn identity_url(&self) -> String {
        format!("{}/identity", self.base_url)
    }

    pub(crate) fn compute_url(&self) -> String {
        format!("{}/compute/v2.1", self.base_url)
    }

    pub(crate) fn volume_url(&self) -> String {
        format!(
            "{}/volume/v3/{}",
            self.base_url, self.config.identity.project_id
        )
    }

    pub(crate) fn network_url(&self) -> String {
        format!("{}/networking", self.base_url)
    }

    pub(crate) fn image_url(&self) -> String {
        format!("{}/image", self.base_url)
    }
}

/// Marks a response whose connection must be closed without sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The validated token of an authenticated request.
#[derive(Debug, Clone)]
pub(crate) struct AuthToken(pub Token);

/// The microversion a Nova or Cinder request runs at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mv(pub ApiVersion);

impl Mv {
    /// At least `major.minor`.
    pub(crate) fn at_least(&self, major: u32, minor: u32) -> bool {
        self.0 >= ApiVersion::new(major, minor)
    }
}

/// The whole router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(keystone::routes())
        .merge(nova::routes(&shared))
        .merge(cinder::routes(&shared))
        .merge(neutron::routes(&shared))
        .merge(glance::routes(&shared))
        .merge(admin::routes())
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            observe,
        ))
        .with_state(shared)
}

/// Counts the call, applies injected faults, stamps the request ID.
async fn observe(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sim") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    sh.counters().record(&method, &template);
    let decision = sh.faults.lock().decide_http(&method, &template);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let service = Service::of_path(&path).unwrap_or(Service::Compute);
    let mut resp = match decision.outcome {
        Some(HttpOutcome::Drop) => {
            let mut r = Response::new(Body::empty());
            r.extensions_mut().insert(DropConnection);
            return r;
        }
        Some(HttpOutcome::Error(status)) => injected_error(service, status).into_response(),
        Some(HttpOutcome::Throttle(secs)) => {
            let message = "This request was rate-limited.";
            let err = match service {
                Service::Network => ApiError::neutron(
                    StatusCode::TOO_MANY_REQUESTS,
                    "HTTPTooManyRequests",
                    message,
                ),
                _ => ApiError::new(service, StatusCode::TOO_MANY_REQUESTS, message),
            };
            err.with_retry_after(secs).into_response()
        }
        None => next.run(req).await,
    };
    let rid = format!("req-{}", uuid::Uuid::new_v4());
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut()
            .insert("x-openstack-request-id", v.clone());
        // Nova and Cinder also send the legacy header (Cinder's WSGI stack shares Nova's).
        if matches!(service, Service::Compute | Service::Volume) {
            resp.headers_mut().insert("x-compute-request-id", v);
        }
    }
    // Bodiless answers still carry a content type: Nova's `application/json`, Cinder's
    // `text/html; charset=UTF-8` (as recorded from the real services); Neutron's none.
    if !resp
        .headers()
        .contains_key(axum::http::header::CONTENT_TYPE)
    {
        let default = match service {
            Service::Compute => Some("application/json"),
            Service::Volume => Some("text/html; charset=UTF-8"),
            _ => None,
        };
        if let Some(ct) = default {
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(ct),
            );
        }
    }
    resp
}

fn injected_error(service: Service, status: u16) -> ApiError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match service {
        Service::Compute => {
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'openstack_sim.InjectedFault'>"
        }
        _ => "The server has either erred or is incapable of performing the requested operation.",
    };
    match service {
        Service::Network => ApiError::neutron(code, "HTTPInternalServerError", message),
        _ => ApiError::new(service, code, message),
    }
}

async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    match Service::of_path(path) {
        Some(Service::Network) => ApiError::neutron(
            StatusCode::NOT_FOUND,
            "HTTPNotFound",
            "The resource could not be found.",
        )
        .into_response(),
        Some(s) => ApiError::not_found(s, "The resource could not be found.").into_response(),
        None => (StatusCode::NOT_FOUND, "no such route in openstack-sim\n").into_response(),
    }
}

/// Checks `X-Auth-Token` the way keystonemiddleware does in front of every service.
pub(crate) fn authenticate(
    sh: &Shared,
    service: Service,
    headers: &HeaderMap,
) -> Result<Token, ApiError> {
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized(service, &sh.identity_url()))?;
    sh.world()
        .valid_token(token, Utc::now())
        .filter(|t| t.scoped)
        .ok_or_else(|| ApiError::unauthorized(service, &sh.identity_url()))
}

/// Middleware for services without microversions (Neutron, Glance): a valid scoped token.
pub(crate) async fn require_token(
    State(sh): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let service = Service::of_path(req.uri().path()).unwrap_or(Service::Network);
    match authenticate(&sh, service, req.headers()) {
        Ok(t) => {
            req.extensions_mut().insert(AuthToken(t));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Parses a JSON request body; an empty or malformed one is the service's 400.
pub(crate) fn json_body(service: Service, body: &Bytes) -> Result<Value, ApiError> {
    let malformed = || match service {
        Service::Network => ApiError::neutron(
            StatusCode::BAD_REQUEST,
            "HTTPBadRequest",
            "Body contains invalid data",
        ),
        Service::Identity => ApiError::bad_request(
            service,
            "Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        ),
        _ => ApiError::bad_request(service, "Malformed request body"),
    };
    if body.is_empty() {
        return Err(malformed());
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| malformed())?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(malformed())
    }
}

/// Query parameters as (key, value) pairs, repeated keys kept.
pub(crate) type QueryPairs = Vec<(String, String)>;

/// The values of query parameter `key`.
pub(crate) fn query_all<'a>(q: &'a QueryPairs, key: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The last value of query parameter `key`.
pub(crate) fn query_one<'a>(q: &'a QueryPairs, key: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Nova and Neutron time stamps: `2013-09-03T04:01:32Z`.
pub(crate) fn ts_z(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Cinder and Nova usage time stamps: `2018-11-28T06:21:12.715987`.
pub(crate) fn ts_micro(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Keystone time stamps: `2015-11-07T02:58:43.578887Z`.
pub(crate) fn ts_micro_z(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A JSON response with a status.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Parses a `limit` query parameter (a non-negative integer).
pub(crate) fn parse_limit(service: Service, q: &QueryPairs) -> Result<Option<usize>, ApiError> {
    match query_one(q, "limit") {
        None => Ok(None),
        Some(v) => v.parse::<usize>().map(Some).map_err(|_| match service {
            Service::Network => ApiError::neutron(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Bad limit request: Limit must be an integer 0 or greater and not '{v}'."),
            ),
            _ => ApiError::bad_request(
                service,
                format!("Invalid input for query parameters limit. Value: {v}. '{v}' does not match '^[0-9]*$'"),
            ),
        }),
    }
}

/// Applies `marker` (the ID after which to start) and `limit` to an ordered list of IDs; `Err`
/// when the marker is unknown.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    marker: Option<&str>,
    limit: Option<usize>,
) -> Result<(Vec<T>, bool), ()> {
    let start = match marker {
        None => 0,
        Some(m) => items.iter().position(|i| id_of(i) == m).ok_or(())? + 1,
    };
    let rest: Vec<T> = items.into_iter().skip(start).collect();
    match limit {
        Some(l) if rest.len() > l => Ok((rest.into_iter().take(l).collect(), true)),
        Some(l) => {
            let full = rest.len() == l && l > 0;
            Ok((rest, full))
        }
        None => Ok((rest, false)),
    }
}

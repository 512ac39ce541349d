//! Nova (compute API v2.1): versions, servers, server tags, volume attachments, flavors,
//! availability zones, key pairs and limits, with microversions.

mod actions;
mod attachments;
mod misc;
mod servers;
mod tags;
mod view;

use super::error::{ApiError, Service};
use super::{AuthToken, Mv, Shared, authenticate, json_response};
use crate::openstack::microversion::{self, VersionError};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) const S: Service = Service::Compute;

pub(crate) fn routes(sh: &Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .route(
            "/compute/v2.1/servers",
            get(servers::list).post(servers::create),
        )
        .route("/compute/v2.1/servers/detail", get(servers::list_detail))
        .route(
            "/compute/v2.1/servers/{id}",
            get(servers::show).delete(servers::delete),
        )
        .route(
            "/compute/v2.1/servers/{id}/action",
            axum::routing::post(actions::action),
        )
        .route(
            "/compute/v2.1/servers/{id}/tags",
            get(tags::index).put(tags::replace).delete(tags::delete_all),
        )
        .route(
            "/compute/v2.1/servers/{id}/tags/{tag}",
            get(tags::check).put(tags::add).delete(tags::delete),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments",
            get(attachments::list).post(attachments::attach),
        )
        .route(
            "/compute/v2.1/servers/{id}/os-volume_attachments/{volume_id}",
            get(attachments::show).delete(attachments::detach),
        )
        .route(
            "/compute/v2.1/os-availability-zone",
            get(misc::availability_zones),
        )
        .route(
            "/compute/v2.1/os-availability-zone/detail",
            get(misc::availability_zones_detail),
        )
        .route("/compute/v2.1/flavors", get(misc::flavors))
        .route("/compute/v2.1/flavors/detail", get(misc::flavors_detail))
        .route("/compute/v2.1/flavors/{id}", get(misc::flavor))
        .route(
            "/compute/v2.1/os-keypairs",
            get(misc::keypairs).post(misc::create_keypair),
        )
        .route(
            "/compute/v2.1/os-keypairs/{name}",
            get(misc::keypair).delete(misc::delete_keypair),
        )
        .route("/compute/v2.1/limits", get(misc::limits))
        .route_layer(from_fn_with_state(sh.clone(), versioned));
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .merge(api)
}

fn v21_doc(sh: &Shared) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": sh.derived.compute_max.to_string(),
        "min_version": sh.derived.compute_min.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"href": format!("{}/", sh.compute_url()), "rel": "self"}],
    })
}

async fn versions(State(sh): State<Arc<Shared>>) -> Response {
    let v20 = json!({
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"href": format!("{}/compute/v2/", sh.base_url), "rel": "self"}],
    });
    json_response(StatusCode::OK, json!({"versions": [v20, v21_doc(&sh)]}))
}

async fn version(State(sh): State<Arc<Shared>>) -> Response {
    let mut doc = v21_doc(&sh);
    if let Some(links) = doc["links"].as_array_mut() {
        links.push(json!({"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}));
    }
    doc["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    let mut resp = json_response(StatusCode::OK, json!({"version": doc}));
    // Unversioned requests are answered at the minimum, and Nova says so.
    let h = resp.headers_mut();
    h.insert(
        "openstack-api-version",
        HeaderValue::from_static("compute 2.1"),
    );
    h.insert(
        "x-openstack-nova-api-version",
        HeaderValue::from_static("2.1"),
    );
    resp
}

/// Token check (as keystonemiddleware in front of Nova), then the microversion: parsed from
/// `OpenStack-API-Version: compute X.Y` or `X-OpenStack-Nova-API-Version`, refused with 400 when
/// malformed and 406 when out of range, echoed in the answer with `Vary`.
async fn versioned(State(sh): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let token = match authenticate(&sh, S, req.headers()) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let requested = {
        let h = req.headers();
        let values = h
            .get_all("openstack-api-version")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let legacy = h
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok());
        microversion::requested("compute", values, legacy)
    };
    let (min, max) = (sh.derived.compute_min, sh.derived.compute_max);
    let version = match microversion::resolve(&requested, min, max) {
        Ok(v) => v,
        Err(VersionError::Invalid(s)) => {
            return ApiError::bad_request(
                S,
                format!("API Version String {s} is of invalid format. Must be of format MajorNum.MinorNum."),
            )
            .into_response();
        }
        Err(VersionError::Unsupported(v)) => {
            return ApiError::new(
                S,
                StatusCode::NOT_ACCEPTABLE,
                format!("Version {v} is not supported by the API. Minimum is {min} and maximum is {max}."),
            )
            .into_response();
        }
    };
    req.extensions_mut().insert(Mv(version));
    req.extensions_mut().insert(AuthToken(token));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("compute {version}")) {
        h.insert("openstack-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        h.insert("x-openstack-nova-api-version", v);
    }
    h.append("vary", HeaderValue::from_static("OpenStack-API-Version"));
    h.append(
        "vary",
        HeaderValue::from_static("X-OpenStack-Nova-API-Version"),
    );
    resp
}

/// `Instance <id> could not be found.`
pub(crate) fn instance_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Instance {id} could not be found."))
}

/// 404 for an API that does not exist at this microversion.
pub(crate) fn not_at_this_version() -> ApiError {
    ApiError::not_found(S, "The resource could not be found.")
}

/// Nova's schema error for one body attribute.
pub(crate) fn invalid_attr(attr: &str, value: &Value, why: &str) -> ApiError {
    ApiError::bad_request(
        S,
        format!(
            "Invalid input for field/attribute {attr}. Value: {}. {why}",
            py_repr_plain(value)
        ),
    )
}

/// Python's `str()` of a JSON value, as jsonschema messages show it.
pub(crate) fn py_repr_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a JSON value (`'text'`, `None`, `True`, `[1, 2]`).
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The instance-state conflict Nova answers when an action meets a busy server.
pub(crate) fn invalid_state(action: &str, server: &crate::openstack::world::Server) -> ApiError {
    use crate::openstack::world::ServerStatus;
    let (attr, state) = if server.deleting {
        ("task_state", "deleting")
    } else {
        match server.status {
            ServerStatus::Build => ("vm_state", "building"),
            ServerStatus::Error => ("vm_state", "error"),
            ServerStatus::Active => ("vm_state", "active"),
        }
    };
    ApiError::conflict(
        S,
        format!(
            "Cannot '{action}' instance {} while it is in {attr} {state}",
            server.id
        ),
    )
}

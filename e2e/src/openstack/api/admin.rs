//! Admin endpoints of the simulator itself; the table is in the `openstack` module's docs.

use super::Shared;
use crate::openstack::faults::FaultConfig;
use crate::openstack::world::ServerStatus;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route(
            "/_sim/faults",
            get(faults)
                .put(set_faults)
                .post(add_faults)
                .delete(clear_faults),
        )
        .route("/_sim/reset", post(reset))
        .route("/_sim/tokens", axum::routing::delete(expire_tokens))
        .route("/_sim/state", get(state))
        .route("/_sim/clouds.yaml", get(clouds))
}

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

async fn counters(State(sh): State<Arc<Shared>>) -> Response {
    let c = sh.counters().clone();
    axum::Json(json!({"calls": c.calls, "total": c.total()})).into_response()
}

async fn reset_counters(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.counters().calls.clear();
    StatusCode::NO_CONTENT
}

async fn faults(State(sh): State<Arc<Shared>>) -> Response {
    axum::Json(sh.faults.current()).into_response()
}

fn parse(body: &Bytes) -> Result<FaultConfig, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad(format!("fault rules: {e}"))))
}

async fn set_faults(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let config = match parse(&body) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match sh.faults.set(config) {
        Ok(()) => axum::Json(sh.faults.current()).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn add_faults(State(sh): State<Arc<Shared>>, body: Bytes) -> Response {
    let more = match parse(&body) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match sh.faults.extend(more) {
        Ok(()) => axum::Json(sh.faults.current()).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

async fn clear_faults(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.faults.clear();
    StatusCode::NO_CONTENT
}

async fn expire_tokens(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.world().tokens.clear();
    StatusCode::NO_CONTENT
}

async fn reset(State(sh): State<Arc<Shared>>) -> StatusCode {
    sh.counters().calls.clear();
    sh.faults.clear();
    StatusCode::NO_CONTENT
}

async fn state(State(sh): State<Arc<Shared>>) -> Response {
    let w = sh.world();
    let servers: Vec<Value> = w
        .servers
        .values()
        .map(|s| {
            let status = match s.status {
                ServerStatus::Build => "BUILD",
                ServerStatus::Active => "ACTIVE",
                ServerStatus::Error => "ERROR",
            };
            let addresses: Vec<String> = w
                .server_addresses(s)
                .into_iter()
                .map(|(_, ip, _)| ip.to_string())
                .collect();
            json!({"id": s.id, "name": s.name, "status": status, "deleting": s.deleting,
                   "availability_zone": s.availability_zone, "addresses": addresses,
                   "volumes": s.bdms.iter().map(|b| &b.volume_id).collect::<Vec<_>>()})
        })
        .collect();
    let volumes: Vec<Value> = w
        .volumes
        .values()
        .map(|v| json!({"id": v.id, "name": v.name, "status": v.status, "size": v.size, "availability_zone": v.availability_zone}))
        .collect();
    axum::Json(json!({"servers": servers, "volumes": volumes})).into_response()
}

async fn clouds(State(sh): State<Arc<Shared>>) -> Response {
    let text = crate::openstack::clouds::render(&sh.config, &format!("{}/v3", sh.identity_url()));
    ([("content-type", "application/yaml")], text).into_response()
}

//! `/servers/{id}/tags` (microversion 2.26 and later).

use super::super::error::ApiError;
use super::super::{Mv, Shared, json_body, json_response};
use super::servers::{MAX_TAGS, check_tag};
use super::{S, instance_not_found, invalid_attr, invalid_state, not_at_this_version};
use crate::openstack::world::{Server, ServerStatus, World};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, MutexGuard};

fn gate(mv: Mv) -> Result<(), ApiError> {
    if mv.at_least(2, 26) {
        Ok(())
    } else {
        Err(not_at_this_version())
    }
}

/// The server, if its tags may change now (not while building or deleting).
fn changeable<'a>(w: &'a mut MutexGuard<'_, World>, id: &str) -> Result<&'a mut Server, ApiError> {
    let s = w
        .servers
        .get_mut(id)
        .ok_or_else(|| instance_not_found(id))?;
    if s.deleting || s.status == ServerStatus::Build {
        return Err(invalid_state("update tags", s));
    }
    Ok(s)
}

pub(crate) async fn index(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let w = sh.world();
    let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
    Ok(json_response(StatusCode::OK, json!({"tags": s.tags})))
}

pub(crate) async fn replace(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let body = json_body(S, &body)?;
    let list = body
        .get("tags")
        .ok_or_else(|| ApiError::bad_request(S, "'tags' is a required property"))?;
    let items = list
        .as_array()
        .ok_or_else(|| invalid_attr("tags", list, "is not of type 'array'"))?;
    if items.len() > MAX_TAGS {
        return Err(ApiError::bad_request(
            S,
            format!("The number of tags exceeded the per-server limit {MAX_TAGS}"),
        ));
    }
    let mut tags: Vec<String> = Vec::new();
    for t in items {
        let t = check_tag(t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let mut w = sh.world();
    let s = changeable(&mut w, &id)?;
    s.tags = tags.clone();
    Ok(json_response(StatusCode::OK, json!({"tags": tags})))
}

pub(crate) async fn delete_all(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let mut w = sh.world();
    changeable(&mut w, &id)?.tags.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn check(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let w = sh.world();
    let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
    if s.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(
            S,
            format!("Instance {id} has no tag '{tag}'"),
        ))
    }
}

pub(crate) async fn add(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let tag = check_tag(&Value::String(tag))?;
    let mut w = sh.world();
    let s = changeable(&mut w, &id)?;
    if s.tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if s.tags.len() >= MAX_TAGS {
        return Err(ApiError::bad_request(
            S,
            format!("The number of tags exceeded the per-server limit {MAX_TAGS}"),
        ));
    }
    s.tags.push(tag.clone());
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}/servers/{id}/tags/{tag}", sh.compute_url())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub(crate) async fn delete(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    gate(mv)?;
    let mut w = sh.world();
    let s = changeable(&mut w, &id)?;
    let before = s.tags.len();
    s.tags.retain(|t| t != &tag);
    if s.tags.len() == before {
        return Err(ApiError::not_found(
            S,
            format!("Instance {id} has no tag '{tag}'"),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! `/servers/{id}/os-volume_attachments`: attach (volume → attaching → in-use), list, show,
//! detach (in-use → detaching → available).

use super::super::error::ApiError;
use super::super::{Mv, Shared, json_body, json_response};
use super::{S, instance_not_found, invalid_attr, invalid_state};
use crate::openstack::lifecycle;
use crate::openstack::world::{Bdm, Server, ServerStatus, new_id};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

fn view(s: &Server, b: &Bdm, mv: Mv, listing: bool) -> Value {
    let mut v = json!({"device": b.device, "serverId": s.id, "volumeId": b.volume_id});
    if !listing || !mv.at_least(2, 89) {
        v["id"] = json!(b.volume_id);
    }
    if mv.at_least(2, 70) {
        v["tag"] = json!(b.tag);
    }
    if mv.at_least(2, 79) {
        v["delete_on_termination"] = json!(b.delete_on_termination);
    }
    if listing && mv.at_least(2, 89) {
        v["attachment_id"] = json!(b.attachment_id);
        v["bdm_uuid"] = json!(b.bdm_uuid);
    }
    v
}

/// The next free virtio device: `vda` is the root disk, then the flavor's ephemeral disk and
/// swap, then volumes in attach order.
fn next_device(sh: &Shared, s: &Server) -> String {
    let flavor = sh.config.flavors.iter().find(|f| f.id == s.flavor_id);
    let mut taken = 1 + flavor.map_or(0, |f| {
        usize::from(f.ephemeral_gb > 0) + usize::from(f.swap_mib > 0)
    });
    loop {
        let letter = (b'a' + (taken % 26) as u8) as char;
        let dev = format!("/dev/vd{letter}");
        if !s.bdms.iter().any(|b| b.device == dev) {
            return dev;
        }
        taken += 1;
    }
}

pub(crate) async fn attach(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let att = body
        .get("volumeAttachment")
        .ok_or_else(|| ApiError::bad_request(S, "'volumeAttachment' is a required property"))?;
    let volume_id = match att.get("volumeId") {
        Some(Value::String(v)) => v.clone(),
        Some(v) => return Err(invalid_attr("volumeId", v, "is not a 'uuid'")),
        None => {
            return Err(ApiError::bad_request(
                S,
                "'volumeId' is a required property",
            ));
        }
    };
    let tag = match att.get("tag") {
        Some(Value::String(t)) if mv.at_least(2, 49) => Some(t.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                S,
                "Additional properties are not allowed ('tag' was unexpected)",
            ));
        }
        None => None,
    };
    let delete_on_termination = match att.get("delete_on_termination") {
        Some(Value::Bool(b)) if mv.at_least(2, 79) => *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                S,
                "Additional properties are not allowed ('delete_on_termination' was unexpected)",
            ));
        }
        None => false,
    };
    let resp = {
        let mut w = sh.world();
        let server = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
        if server.deleting || server.status != ServerStatus::Active {
            return Err(invalid_state("attach_volume", server));
        }
        let device = next_device(&sh, server);
        let volume = w.volumes.get(&volume_id).ok_or_else(|| {
            ApiError::not_found(S, format!("Volume {volume_id} could not be found."))
        })?;
        let holders: Vec<&str> = w
            .servers
            .values()
            .filter(|s| s.bdms.iter().any(|b| b.volume_id == volume_id))
            .map(|s| s.id.as_str())
            .collect();
        if !holders.is_empty() {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid volume: volume {volume_id} is already attached to instances: {}",
                    holders.join(" ")
                ),
            ));
        }
        if volume.status != "available" {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid input received: Invalid volume: Volume status must be available to reserve, but the status is {}. (HTTP 400)",
                    volume.status
                ),
            ));
        }
        let bdm = Bdm {
            volume_id: volume_id.clone(),
            device,
            attachment_id: new_id(),
            bdm_uuid: new_id(),
            tag,
            delete_on_termination,
        };
        if let Some(v) = w.volumes.get_mut(&volume_id) {
            v.status = "attaching";
        }
        let server = w
            .servers
            .get_mut(&id)
            .ok_or_else(|| instance_not_found(&id))?;
        server.bdms.push(bdm.clone());
        json!({"volumeAttachment": view(server, &bdm, mv, false)})
    };
    lifecycle::spawn_attach(&sh, id, volume_id);
    Ok(json_response(StatusCode::OK, resp))
}

pub(crate) async fn list(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
    let list: Vec<Value> = s.bdms.iter().map(|b| view(s, b, mv, true)).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"volumeAttachments": list}),
    ))
}

pub(crate) async fn show(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
    let b = s
        .bdms
        .iter()
        .find(|b| b.volume_id == volume_id)
        .ok_or_else(|| {
            ApiError::not_found(
                S,
                format!("Volume {volume_id} is not attached to the instance {id}"),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        json!({"volumeAttachment": view(s, b, mv, true)}),
    ))
}

pub(crate) async fn detach(
    State(sh): State<Arc<Shared>>,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    {
        let mut w = sh.world();
        let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
        if !s.bdms.iter().any(|b| b.volume_id == volume_id) {
            return Err(ApiError::not_found(
                S,
                format!("No volume Block Device Mapping with id {volume_id}."),
            ));
        }
        if s.deleting || s.status == ServerStatus::Build {
            return Err(invalid_state("detach_volume", s));
        }
        let v = w.volumes.get_mut(&volume_id).ok_or_else(|| {
            ApiError::not_found(S, format!("Volume {volume_id} could not be found."))
        })?;
        if v.status != "in-use" {
            return Err(ApiError::bad_request(
                S,
                "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.",
            ));
        }
        v.status = "detaching";
    }
    lifecycle::spawn_detach(&sh, id, volume_id);
    Ok(StatusCode::ACCEPTED.into_response())
}

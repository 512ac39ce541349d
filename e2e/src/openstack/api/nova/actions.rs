//! `POST /servers/{id}/action`: `reboot` (HARD from ACTIVE or ERROR: the server shows
//! `HARD_REBOOT` for a build's time, then ACTIVE with its fault cleared, or ERROR again when a
//! fault rule dooms servers of its name; SOFT from ACTIVE only, as Nova) and `os-resetState`
//! (admin: `error` or `active`, as `nova reset-state` does it: how a test puts a running
//! server into ERROR). Other actions are refused with Nova's 400.

use super::super::error::ApiError;
use super::super::{AuthToken, Shared, json_body};
use super::view::REBOOTING_HARD;
use super::{S, instance_not_found};
use crate::openstack::lifecycle;
use crate::openstack::world::ServerStatus;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;

pub(crate) async fn action(
    State(sh): State<Arc<Shared>>,
    Extension(AuthToken(token)): Extension<AuthToken>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let obj = body
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| ApiError::bad_request(S, "Invalid request body: one action expected"))?;
    let (name, args) = obj.iter().next().expect("one entry");
    match name.as_str() {
        "reboot" => {
            let kind = args
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase)
                .filter(|k| k == "HARD" || k == "SOFT")
                .ok_or_else(|| {
                    ApiError::bad_request(
                        S,
                        "Invalid input for field/attribute type. Value: None. None is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
                    )
                })?;
            {
                let mut w = sh.world();
                let s = w
                    .servers
                    .get_mut(&id)
                    .ok_or_else(|| instance_not_found(&id))?;
                let state = match s.status {
                    ServerStatus::Build => "building",
                    ServerStatus::Active => "active",
                    ServerStatus::Error => "error",
                };
                let refused = s.deleting
                    || s.status == ServerStatus::Build
                    || s.task_state.is_some()
                    || (kind == "SOFT" && s.status == ServerStatus::Error);
                if refused {
                    return Err(ApiError::conflict(
                        S,
                        format!("Cannot 'reboot' instance {id} while it is in vm_state {state}"),
                    ));
                }
                if kind == "SOFT" {
                    return Ok(StatusCode::ACCEPTED.into_response());
                }
                s.task_state = Some(REBOOTING_HARD);
                s.updated = Utc::now();
            }
            let doomed = {
                let w = sh.world();
                w.servers.get(&id).map(|s| s.name.clone())
            }
            .and_then(|name| sh.faults.lock().decide_server(&name));
            lifecycle::spawn_hard_reboot(&sh, id, doomed);
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-resetState" => {
            if !token.admin {
                return Err(ApiError::new(
                    S,
                    StatusCode::FORBIDDEN,
                    "Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be performed.",
                ));
            }
            let state = args.get("state").and_then(Value::as_str).unwrap_or("");
            let mut w = sh.world();
            let s = w
                .servers
                .get_mut(&id)
                .ok_or_else(|| instance_not_found(&id))?;
            s.status = match state {
                "error" => ServerStatus::Error,
                "active" => ServerStatus::Active,
                other => {
                    return Err(ApiError::bad_request(
                        S,
                        format!(
                            "Invalid input for field/attribute state. Value: {other}. '{other}' is not one of ['active', 'error']"
                        ),
                    ));
                }
            };
            s.task_state = None;
            s.updated = Utc::now();
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => Err(ApiError::bad_request(
            S,
            format!("There is no such action: {other}"),
        )),
    }
}

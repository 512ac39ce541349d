//! Neutron ports made through the API (`POST`/`DELETE /ports`): an unbound port with a fixed
//! address from the subnet's pool, kept when a server it was bound to goes (Nova did not make
//! it); the rest of Neutron is in [`super::neutron`].

use super::Shared;
use super::error::ApiError;
use super::neutron::{S, bad, not_found, port_view, sg_not_found, str_field};
use super::{json_body, json_response};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn port_not_found(id: &str) -> ApiError {
    not_found("PortNotFound", format!("Port {id} could not be found."))
}

/// `POST /ports`: `network_id` (required), `name`, `description`, `fixed_ips` (at most one
/// entry here: `ip_address` and/or `subnet_id`), `security_groups` (IDs; the project's
/// `default` group when absent), `admin_state_up`. An unbound port, `DOWN`.
pub(super) async fn create_port(
    State(sh): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    const KNOWN: &[&str] = &[
        "network_id",
        "name",
        "description",
        "fixed_ips",
        "security_groups",
        "admin_state_up",
    ];
    let body = json_body(S, &body)?;
    let obj = body
        .get("port")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("HTTPBadRequest", "Resource body required"))?;
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(bad(
            "HTTPBadRequest",
            format!("Unrecognized attribute(s) '{}'", unknown.join(", ")),
        ));
    }
    let network_id = str_field(obj, "network_id")?.ok_or_else(|| {
        bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'network_id' not specified",
        )
    })?;
    let net = sh
        .config
        .networks
        .iter()
        .position(|n| n.id == network_id)
        .ok_or_else(|| {
            not_found(
                "NetworkNotFound",
                format!("Network {network_id} could not be found."),
            )
        })?;
    let subnet_id = sh.config.networks[net].subnet.id.clone();
    let name = str_field(obj, "name")?.unwrap_or_default();
    let description = str_field(obj, "description")?.unwrap_or_default();
    let mut ip = None;
    match obj.get("fixed_ips") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.len() <= 1 => {
            if let Some(entry) = list.first() {
                let entry = entry.as_object().ok_or_else(|| {
                    bad("HTTPBadRequest", "Invalid input for fixed_ips: not a dict")
                })?;
                if let Some(s) = str_field(entry, "subnet_id")?
                    && s != subnet_id
                {
                    return Err(bad(
                        "InvalidInput",
                        format!(
                            "Invalid input for operation: Failed to create port on network {network_id}, because fixed_ips included invalid subnet {s}."
                        ),
                    ));
                }
                if let Some(a) = str_field(entry, "ip_address")? {
                    ip = Some(a.parse::<std::net::Ipv4Addr>().map_err(|_| {
                        bad(
                            "HTTPBadRequest",
                            format!("Invalid input for fixed_ips. Reason: '{a}' is not a valid IP address."),
                        )
                    })?);
                }
            }
        }
        Some(v) => {
            return Err(bad(
                "HTTPBadRequest",
                format!("Invalid input for fixed_ips. Reason: {v} is not one entry of a list."),
            ));
        }
    }
    let mut w = sh.world();
    let groups = match obj.get("security_groups") {
        None | Some(Value::Null) => w
            .security_groups
            .values()
            .filter(|g| g.name == "default")
            .map(|g| g.id.clone())
            .collect(),
        Some(Value::Array(list)) => {
            let mut ids = Vec::new();
            for g in list {
                let id = g.as_str().unwrap_or_default().to_string();
                if !w.security_groups.contains_key(&id) {
                    return Err(sg_not_found(&id));
                }
                ids.push(id);
            }
            ids
        }
        Some(v) => {
            return Err(bad(
                "HTTPBadRequest",
                format!("Invalid input for security_groups. Reason: {v} is not a list."),
            ));
        }
    };
    let id = w
        .create_port(net, ip, name, description, groups)
        .ok_or_else(|| match ip {
            Some(a) => ApiError::neutron(
                StatusCode::CONFLICT,
                "IpAddressAlreadyAllocated",
                format!("IP address {a} already allocated in subnet {subnet_id}"),
            ),
            None => ApiError::neutron(
                StatusCode::CONFLICT,
                "IpAddressGenerationFailure",
                format!("No more IP addresses available on network {network_id}."),
            ),
        })?;
    let view = w
        .ports
        .get(&id)
        .map(|p| port_view(&sh, p))
        .unwrap_or(Value::Null);
    Ok(json_response(StatusCode::CREATED, json!({"port": view})))
}

/// `DELETE /ports/{id}`: the port goes, bound or not (a server it was bound to loses the NIC),
/// and its address is freed.
pub(super) async fn delete_port(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut w = sh.world();
    if !w.ports.contains_key(&id) {
        return Err(port_not_found(&id));
    }
    for s in w.servers.values_mut() {
        s.ports.retain(|p| p != &id);
    }
    w.release_port(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

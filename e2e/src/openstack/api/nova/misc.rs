//! Flavors, availability zones, key pairs and limits.

use super::super::error::ApiError;
use super::super::{Mv, Shared, json_body, json_response, ts_micro};
use super::{S, invalid_attr, py_repr, view};
use crate::openstack::config::FlavorConfig;
use crate::openstack::world::Keypair;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn availability_zones(State(sh): State<Arc<Shared>>) -> Response {
    let zones: Vec<Value> = sh
        .config
        .zones
        .iter()
        .map(|z| json!({"zoneName": z.name, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    json_response(StatusCode::OK, json!({"availabilityZoneInfo": zones}))
}

/// The detailed zone list is for administrators; the simulated user is not one.
pub(crate) async fn availability_zones_detail() -> ApiError {
    ApiError::new(
        S,
        StatusCode::FORBIDDEN,
        "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.",
    )
}

fn flavor_detail(sh: &Shared, f: &FlavorConfig, mv: Mv) -> Value {
    let mut v = json!({
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "ram": f.ram_mib,
        "disk": f.disk_gb,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": false,
        "os-flavor-access:is_public": true,
        "rxtx_factor": 1.0,
        "links": view::links(sh, &format!("flavors/{}", f.id)),
        // Before 2.75 Nova shows a swap of 0 as an empty string.
        "swap": if f.swap_mib == 0 && !mv.at_least(2, 75) { json!("") } else { json!(f.swap_mib) },
    });
    if mv.at_least(2, 55) {
        v["description"] = Value::Null;
    }
    if mv.at_least(2, 61) {
        v["extra_specs"] = json!({});
    }
    v
}

pub(crate) async fn flavors(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let list: Vec<Value> = sh
        .config
        .flavors
        .iter()
        .map(|f| {
            let mut v = json!({"id": f.id, "name": f.name, "links": view::links(&sh, &format!("flavors/{}", f.id))});
            if mv.at_least(2, 55) {
                v["description"] = Value::Null;
            }
            v
        })
        .collect();
    json_response(StatusCode::OK, json!({"flavors": list}))
}

pub(crate) async fn flavors_detail(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let list: Vec<Value> = sh
        .config
        .flavors
        .iter()
        .map(|f| flavor_detail(&sh, f, mv))
        .collect();
    json_response(StatusCode::OK, json!({"flavors": list}))
}

pub(crate) async fn flavor(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let f = sh
        .config
        .flavors
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| ApiError::not_found(S, format!("Flavor {id} could not be found.")))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"flavor": flavor_detail(&sh, f, mv)}),
    ))
}

/// Nova's fingerprint of an OpenSSH public key: MD5 of the key blob, colon-separated hex.
pub(crate) fn fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next()?;
    if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-")) {
        return None;
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    if blob.len() < 4 {
        return None;
    }
    let digest = Md5::digest(&blob);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn keypair_not_found(sh: &Shared, name: &str) -> ApiError {
    ApiError::not_found(
        S,
        format!(
            "Keypair {name} not found for user {}",
            sh.config.identity.user_id
        ),
    )
}

pub(crate) async fn create_keypair(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let kp = body
        .get("keypair")
        .ok_or_else(|| ApiError::bad_request(S, "'keypair' is a required property"))?;
    let name_v = kp
        .get("name")
        .ok_or_else(|| ApiError::bad_request(S, "'name' is a required property"))?;
    let name = match name_v.as_str() {
        Some("") => return Err(invalid_attr("name", name_v, "'' is too short")),
        Some(n) if n.chars().count() > 255 => {
            return Err(invalid_attr("name", name_v, &format!("'{n}' is too long")));
        }
        Some(n) => n.to_string(),
        None => {
            return Err(invalid_attr(
                "name",
                name_v,
                &format!("{} is not of type 'string'", py_repr(name_v)),
            ));
        }
    };
    let kind = match kp.get("type") {
        None => "ssh".to_string(),
        Some(Value::String(t)) if mv.at_least(2, 2) && (t == "ssh" || t == "x509") => t.clone(),
        Some(v) => {
            return Err(invalid_attr(
                "type",
                v,
                &format!("{} is not one of ['ssh', 'x509']", py_repr(v)),
            ));
        }
    };
    // Nova generates a key pair when none is given (before 2.92); the simulator does not hold
    // private keys, so it asks for one as Nova 2.92 does.
    let public_key = kp
        .get("public_key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(S, "'public_key' is a required property"))?
        .trim()
        .to_string();
    let fp = fingerprint(&public_key).ok_or_else(|| {
        ApiError::bad_request(S, "Keypair data is invalid: failed to generate fingerprint")
    })?;
    let mut w = sh.world();
    if w.keypairs.contains_key(&name) {
        return Err(ApiError::conflict(
            S,
            format!("Key pair '{name}' already exists."),
        ));
    }
    if w.keypairs.len() as u64 >= sh.config.quotas.key_pairs {
        return Err(ApiError::new(
            S,
            StatusCode::FORBIDDEN,
            "Quota exceeded, too many key pairs.",
        ));
    }
    let id = w.next_seq();
    w.keypairs.insert(
        name.clone(),
        Keypair {
            id,
            name: name.clone(),
            public_key: public_key.clone(),
            fingerprint: fp.clone(),
            kind: kind.clone(),
            created_at: Utc::now(),
        },
    );
    let mut v = json!({"name": name, "public_key": public_key, "fingerprint": fp});
    if mv.at_least(2, 10) {
        v["user_id"] = json!(sh.config.identity.user_id);
    }
    if mv.at_least(2, 2) {
        v["type"] = json!(kind);
    }
    let status = if mv.at_least(2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, json!({"keypair": v})))
}

pub(crate) async fn keypairs(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let w = sh.world();
    let list: Vec<Value> = w
        .keypairs
        .values()
        .map(|k| {
            let mut v =
                json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
            if mv.at_least(2, 2) {
                v["type"] = json!(k.kind);
            }
            json!({"keypair": v})
        })
        .collect();
    json_response(StatusCode::OK, json!({"keypairs": list}))
}

pub(crate) async fn keypair(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let k = w
        .keypairs
        .get(&name)
        .ok_or_else(|| keypair_not_found(&sh, &name))?;
    let mut v = json!({
        "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint,
        "user_id": sh.config.identity.user_id, "deleted": false, "created_at": ts_micro(&k.created_at),
        "updated_at": null, "deleted_at": null, "id": k.id,
    });
    if mv.at_least(2, 2) {
        v["type"] = json!(k.kind);
    }
    Ok(json_response(StatusCode::OK, json!({"keypair": v})))
}

pub(crate) async fn delete_keypair(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let mut w = sh.world();
    w.keypairs
        .remove(&name)
        .ok_or_else(|| keypair_not_found(&sh, &name))?;
    Ok(if mv.at_least(2, 2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    }
    .into_response())
}

pub(crate) async fn limits(State(sh): State<Arc<Shared>>) -> Response {
    let w = sh.world();
    let (servers, cores, ram) = w.compute_usage();
    let q = &sh.config.quotas;
    json_response(
        StatusCode::OK,
        json!({"limits": {"rate": [], "absolute": {
            "maxServerMeta": 128, "maxTotalInstances": q.instances, "maxTotalCores": q.cores,
            "maxTotalRAMSize": q.ram_mib, "maxTotalKeypairs": q.key_pairs,
            "maxServerGroups": 10, "maxServerGroupMembers": 10,
            "totalInstancesUsed": servers, "totalCoresUsed": cores, "totalRAMUsed": ram,
            "totalServerGroupsUsed": 0,
        }}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_md5_of_the_blob() {
        // The key and fingerprint of Nova's keypairs-import-post sample (v2.92).
        let key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova";
        assert_eq!(
            fingerprint(key).as_deref(),
            Some("1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c")
        );
        assert_eq!(fingerprint("not a key"), None);
    }
}

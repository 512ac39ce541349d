//! Cinder (block storage API v3, project in the URL): versions, volumes, snapshots,
//! availability zones, with microversions.

use super::error::{ApiError, Service};
use super::{
    AuthToken, Mv, QueryPairs, Shared, authenticate, json_body, json_response, paginate,
    parse_limit, query_one, ts_micro,
};
use crate::openstack::lifecycle;
use crate::openstack::microversion::{self, VersionError};
use crate::openstack::world::{Snapshot, Volume, new_id};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const S: Service = Service::Volume;

pub(crate) fn routes(sh: &Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .route("/volume/v3/{project_id}/volumes", get(list).post(create))
        .route("/volume/v3/{project_id}/volumes/detail", get(list_detail))
        .route(
            "/volume/v3/{project_id}/volumes/{id}",
            get(show).delete(delete),
        )
        .route(
            "/volume/v3/{project_id}/volumes/{id}/metadata",
            axum::routing::put(replace_metadata),
        )
        .route(
            "/volume/v3/{project_id}/snapshots",
            get(snapshots).post(create_snapshot),
        )
        .route("/volume/v3/{project_id}/snapshots/detail", get(snapshots))
        .route(
            "/volume/v3/{project_id}/snapshots/{id}",
            get(snapshot).delete(delete_snapshot),
        )
        .route(
            "/volume/v3/{project_id}/os-availability-zone",
            get(availability_zones),
        )
        .route("/volume/v3/{project_id}/types", get(types))
        .route_layer(from_fn_with_state(sh.clone(), versioned));
    Router::new()
        .route("/volume", get(versions))
        .route("/volume/", get(versions))
        .route("/volume/v3", get(version))
        .route("/volume/v3/", get(version))
        .merge(api)
}

fn v3_doc(sh: &Shared) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": sh.derived.volume_max.to_string(),
        "min_version": sh.derived.volume_min.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"href": "https://docs.openstack.org/", "rel": "describedby", "type": "text/html"},
            {"href": format!("{}/volume/v3/", sh.base_url), "rel": "self"},
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

async fn versions(State(sh): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": [v3_doc(&sh)]}),
    )
}

async fn version(State(sh): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, json!({"versions": [v3_doc(&sh)]}))
}

/// Token, project in the URL, microversion (`OpenStack-API-Version: volume 3.X`, 406 when out of
/// range), echoed with `Vary`.
async fn versioned(State(sh): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let token = match authenticate(&sh, S, req.headers()) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let project = req.uri().path().split('/').nth(3).unwrap_or("").to_string();
    if project != sh.config.identity.project_id {
        return ApiError::bad_request(S, "Malformed request url").into_response();
    }
    let requested = {
        let values = req
            .headers()
            .get_all("openstack-api-version")
            .iter()
            .filter_map(|v| v.to_str().ok());
        microversion::requested("volume", values, None)
    };
    let (min, max) = (sh.derived.volume_min, sh.derived.volume_max);
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
    if let Ok(v) = HeaderValue::from_str(&format!("volume {version}")) {
        resp.headers_mut().insert("openstack-api-version", v);
    }
    resp.headers_mut()
        .insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    resp
}

fn links(sh: &Shared, path: &str) -> Value {
    let pid = &sh.config.identity.project_id;
    json!([
        {"href": format!("{}/{path}", sh.volume_url()), "rel": "self"},
        {"href": format!("{}/volume/{pid}/{path}", sh.base_url), "rel": "bookmark"},
    ])
}

fn volume_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Volume {id} could not be found."))
}

fn snapshot_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Snapshot {id} could not be found."))
}

/// The detailed view (`show` adds the tenant attribute, as Cinder's extensions do).
fn volume_view(sh: &Shared, v: &Volume, mv: Mv, extended: bool) -> Value {
    let attachments: Vec<Value> = match (&v.attachment, v.status) {
        (Some(a), "in-use" | "detaching") => vec![json!({
            "id": v.id, "attachment_id": a.attachment_id, "volume_id": v.id, "server_id": a.server_id,
            "host_name": null, "device": a.device, "attached_at": ts_micro(&a.attached_at),
        })],
        _ => vec![],
    };
    let mut out = json!({
        "id": v.id,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": ts_micro(&v.created_at),
        "updated_at": v.updated_at.as_ref().map(ts_micro),
        "name": v.name,
        "description": v.description,
        "volume_type": v.volume_type,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "metadata": v.metadata,
        "links": links(sh, &format!("volumes/{}", v.id)),
        "user_id": sh.config.identity.user_id,
        "bootable": "false",
        "encrypted": false,
        "replication_status": null,
        "consistencygroup_id": null,
        "multiattach": false,
        "attachments": attachments,
    });
    if extended {
        out["os-vol-tenant-attr:tenant_id"] = json!(sh.config.identity.project_id);
    }
    if mv.at_least(3, 13) {
        out["group_id"] = Value::Null;
    }
    if mv.at_least(3, 48) {
        out["shared_targets"] = if mv.at_least(3, 69) {
            Value::Null
        } else {
            json!(true)
        };
        out["service_uuid"] = Value::Null;
    }
    if mv.at_least(3, 63) {
        out["volume_type_id"] = json!(type_id(&v.volume_type));
    }
    if mv.at_least(3, 65) {
        out["consumes_quota"] = json!(true);
    }
    out
}

/// A stable UUID-shaped ID for a volume type name.
fn type_id(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

async fn types(State(sh): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = sh
        .config
        .volume_types
        .iter()
        .map(|t| json!({"id": type_id(t), "name": t, "description": null, "is_public": true, "extra_specs": {}, "os-volume-type-access:is_public": true, "qos_specs_id": null}))
        .collect();
    json_response(StatusCode::OK, json!({"volume_types": list}))
}

async fn availability_zones(State(sh): State<Arc<Shared>>) -> Response {
    let zones: Vec<Value> = sh
        .config
        .zones
        .iter()
        .filter(|z| z.block_storage)
        .map(|z| json!({"zoneName": z.name, "zoneState": {"available": true}}))
        .collect();
    json_response(StatusCode::OK, json!({"availabilityZoneInfo": zones}))
}

fn invalid_input(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(S, format!("Invalid input received: {reason}"))
}

fn string_map(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) if !k.is_empty() && k.len() <= 255 && s.len() <= 255 => Ok((k.clone(), s.to_string())),
                _ => Err(ApiError::bad_request(
                    S,
                    format!("Invalid input for field/attribute {field}. Value: {v}. keys and values must be strings of at most 255 characters"),
                )),
            })
            .collect(),
        Some(other) => Err(ApiError::bad_request(
            S,
            format!("Invalid input for field/attribute {field}. Value: {other}. {other} is not of type 'object'"),
        )),
    }
}

fn opt_string(v: Option<&Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(
            S,
            format!(
                "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type 'string'"
            ),
        )),
    }
}

async fn create(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let vol = body
        .get("volume")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::bad_request(S, "Missing required element 'volume' in request body.")
        })?;
    let name = opt_string(vol.get("name"), "name")?;
    let description = opt_string(vol.get("description"), "description")?;
    let az = opt_string(vol.get("availability_zone"), "availability_zone")?;
    let vtype = opt_string(vol.get("volume_type"), "volume_type")?;
    let source_volid = opt_string(vol.get("source_volid"), "source_volid")?;
    let snapshot_id = opt_string(vol.get("snapshot_id"), "snapshot_id")?;
    let metadata = string_map(vol.get("metadata"), "metadata")?;
    let size = match vol.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if n >= 1 => Some(n),
            _ => {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "Invalid input for field/attribute size. Value: {v}. {v} is less than the minimum of 1"
                    ),
                ));
            }
        },
    };
    let cfg = &sh.config;
    let volume_type = match vtype {
        None => cfg.volume_types[0].clone(),
        Some(t) => cfg
            .volume_types
            .iter()
            .find(|x| **x == t || type_id(x) == t)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(S, format!("Volume type with name {t} could not be found."))
            })?,
    };
    let fail = sh
        .faults
        .lock()
        .decide_volume(name.as_deref().unwrap_or(""));
    let id = new_id();
    let view = {
        let mut w = sh.world();
        // The origin's size and zone, when cloning.
        let origin = if let Some(src) = &source_volid {
            let v = w.volumes.get(src).ok_or_else(|| volume_not_found(src))?;
            if !matches!(v.status, "available" | "in-use") {
                return Err(invalid_input(format!(
                    "Invalid volume: Unable to create a volume from an originating source volume when its status is {}.",
                    v.status
                )));
            }
            Some((v.size, v.availability_zone.clone(), "source volume"))
        } else if let Some(snap) = &snapshot_id {
            let s = w
                .snapshots
                .get(snap)
                .ok_or_else(|| snapshot_not_found(snap))?;
            if s.status != "available" {
                return Err(ApiError::bad_request(
                    S,
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values",
                ));
            }
            let zone = w
                .volumes
                .get(&s.volume_id)
                .map(|v| v.availability_zone.clone())
                .unwrap_or_default();
            Some((s.size, zone, "snapshot"))
        } else {
            None
        };
        let size = match (size, &origin) {
            (Some(n), Some((min, _, what))) if n < *min => {
                return Err(invalid_input(format!(
                    "Volume size '{n}'GB cannot be smaller than the {what} size {min}GB. They must be >= original volume size."
                )));
            }
            (Some(n), _) => n,
            (None, Some((n, _, _))) => *n,
            (None, None) => {
                return Err(ApiError::bad_request(
                    S,
                    "Invalid input for field/attribute size. Value: None. None is not of type 'integer', 'string'",
                ));
            }
        };
        let zone = match (az, &origin) {
            (Some(z), Some((_, oz, what))) if &z != oz => {
                return Err(invalid_input(format!(
                    "Volume must be in the same availability zone as the {what}"
                )));
            }
            (Some(z), _) => z,
            (None, Some((_, oz, _))) => oz.clone(),
            (None, None) => cfg
                .zones
                .iter()
                .find(|z| z.block_storage)
                .map(|z| z.name.clone())
                .unwrap_or_default(),
        };
        if !cfg.zones.iter().any(|z| z.block_storage && z.name == zone) {
            return Err(ApiError::bad_request(
                S,
                format!("Availability zone '{zone}' is invalid."),
            ));
        }
        let (count, gigabytes) = w.volume_usage();
        let q = &cfg.quotas;
        if gigabytes + size > q.gigabytes {
            return Err(ApiError::new(
                S,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size}G, quota is {}G and {gigabytes}G has been consumed.",
                    q.gigabytes
                ),
            )
            .with_retry_after(0));
        }
        if count + 1 > q.volumes {
            return Err(ApiError::new(
                S,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.",
                    q.volumes
                ),
            )
            .with_retry_after(0));
        }
        let seq = w.next_seq();
        let v = Volume {
            seq,
            id: id.clone(),
            name,
            description,
            size,
            availability_zone: zone,
            volume_type,
            source_volid,
            snapshot_id,
            metadata,
            status: "creating",
            attachment: None,
            created_at: Utc::now(),
            updated_at: None,
        };
        let view = volume_view(&sh, &v, mv, false);
        w.volumes.insert(id.clone(), v);
        view
    };
    lifecycle::spawn_volume_create(&sh, id, fail);
    Ok(json_response(StatusCode::ACCEPTED, json!({"volume": view})))
}

/// Parses the `metadata` filter: a JSON object (or a Python dict literal with single quotes, as
/// Cinder's `ast.literal_eval` also accepts).
fn metadata_filter(raw: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let parsed: Result<Value, _> =
        serde_json::from_str(raw).or_else(|_| serde_json::from_str(&raw.replace('\'', "\"")));
    let bad = || invalid_input(format!("metadata filter {raw:?} is not a dict of strings"));
    let obj = parsed.map_err(|_| bad())?;
    let obj = obj.as_object().ok_or_else(bad)?;
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(bad()),
        })
        .collect()
}

fn select(sh: &Shared, q: &QueryPairs) -> Result<(Vec<String>, bool, Option<usize>), ApiError> {
    let name = query_one(q, "name");
    let status = query_one(q, "status");
    let az = query_one(q, "availability_zone");
    let metadata = query_one(q, "metadata").map(metadata_filter).transpose()?;
    let limit = parse_limit(S, q)?;
    let marker = query_one(q, "marker");
    let w = sh.world();
    let mut vols: Vec<&Volume> = w
        .volumes
        .values()
        .filter(|v| name.is_none_or(|n| v.name.as_deref() == Some(n)))
        .filter(|v| status.is_none_or(|s| v.status == s))
        .filter(|v| az.is_none_or(|z| v.availability_zone == z))
        .filter(|v| {
            metadata
                .as_ref()
                .is_none_or(|m| m.iter().all(|(k, val)| v.metadata.get(k) == Some(val)))
        })
        .collect();
    vols.sort_by_key(|v| std::cmp::Reverse(v.seq));
    let ids = vols.iter().map(|v| v.id.clone()).collect();
    let (page, more) = paginate(ids, |s: &String| s.as_str(), marker, limit).map_err(|_| {
        ApiError::not_found(
            S,
            format!("Marker {} could not be found.", marker.unwrap_or("")),
        )
    })?;
    Ok((page, more, limit))
}

fn with_links(
    sh: &Shared,
    key: &str,
    path: &str,
    items: Vec<Value>,
    page: &[String],
    more: bool,
    limit: Option<usize>,
) -> Value {
    let mut body = Map::new();
    body.insert(key.into(), Value::Array(items));
    if let (true, Some(last), Some(l)) = (more, page.last(), limit) {
        body.insert(
            format!("{key}_links"),
            json!([{"href": format!("{}/{path}?limit={l}&marker={last}", sh.volume_url()), "rel": "next"}]),
        );
    }
    Value::Object(body)
}

async fn list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<QueryPairs>,
) -> Result<Response, ApiError> {
    let (page, more, limit) = select(&sh, &q)?;
    let w = sh.world();
    let items: Vec<Value> = page
        .iter()
        .filter_map(|id| w.volumes.get(id))
        .map(|v| json!({"id": v.id, "name": v.name, "links": links(&sh, &format!("volumes/{}", v.id))}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        with_links(&sh, "volumes", "volumes", items, &page, more, limit),
    ))
}

async fn list_detail(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Query(q): Query<QueryPairs>,
) -> Result<Response, ApiError> {
    let (page, more, limit) = select(&sh, &q)?;
    let w = sh.world();
    let items: Vec<Value> = page
        .iter()
        .filter_map(|id| w.volumes.get(id))
        .map(|v| volume_view(&sh, v, mv, true))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        with_links(&sh, "volumes", "volumes/detail", items, &page, more, limit),
    ))
}

async fn show(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let v = w.volumes.get(&id).ok_or_else(|| volume_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"volume": volume_view(&sh, v, mv, true)}),
    ))
}

/// `PUT /volumes/{id}/metadata`: replaces every key (Cinder's "Create or replace metadata").
async fn replace_metadata(
    State(sh): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let metadata: BTreeMap<String, String> = body
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(S, "Malformed request body: metadata is required"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let mut w = sh.world();
    let v = w
        .volumes
        .get_mut(&id)
        .ok_or_else(|| volume_not_found(&id))?;
    v.metadata = metadata.clone();
    v.updated_at = Some(Utc::now());
    Ok(json_response(
        StatusCode::OK,
        json!({ "metadata": metadata }),
    ))
}

async fn delete(
    State(sh): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    {
        let mut w = sh.world();
        let has_snapshots = w.snapshots.values().any(|s| s.volume_id == id);
        let v = w
            .volumes
            .get_mut(&id)
            .ok_or_else(|| volume_not_found(&id))?;
        let deletable = matches!(v.status, "available" | "error") && v.attachment.is_none();
        if !deletable || has_snapshots {
            return Err(ApiError::bad_request(
                S,
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.",
            ));
        }
        v.status = "deleting";
        v.updated_at = Some(Utc::now());
    }
    lifecycle::spawn_volume_delete(&sh, id);
    Ok(StatusCode::ACCEPTED.into_response())
}

fn snapshot_view(sh: &Shared, s: &Snapshot) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id,
        "size": s.size,
        "status": s.status,
        "metadata": s.metadata,
        "created_at": ts_micro(&s.created_at),
        "updated_at": s.updated_at.as_ref().map(ts_micro),
        "os-extended-snapshot-attributes:progress": if s.status == "available" { "100%" } else { "0%" },
        "os-extended-snapshot-attributes:project_id": sh.config.identity.project_id,
    })
}

async fn create_snapshot(State(sh): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let snap = body
        .get("snapshot")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::bad_request(S, "Missing required element 'snapshot' in request body.")
        })?;
    let volume_id = opt_string(snap.get("volume_id"), "volume_id")?
        .ok_or_else(|| ApiError::bad_request(S, "'volume_id' is a required property"))?;
    let force = snap.get("force").and_then(Value::as_bool).unwrap_or(false);
    let name = opt_string(snap.get("name"), "name")?;
    let description = opt_string(snap.get("description"), "description")?;
    let metadata = string_map(snap.get("metadata"), "metadata")?;
    let id = new_id();
    let view = {
        let mut w = sh.world();
        let v = w
            .volumes
            .get(&volume_id)
            .ok_or_else(|| volume_not_found(&volume_id))?;
        let ok = v.status == "available" || (force && v.status == "in-use");
        if !ok {
            return Err(ApiError::bad_request(
                S,
                format!(
                    "Invalid volume: Volume {volume_id} status must be available, but current status is: {}.",
                    v.status
                ),
            ));
        }
        let size = v.size;
        let (count, gigabytes) = (w.snapshots.len() as u64, w.volume_usage().1);
        let q = &sh.config.quotas;
        if count + 1 > q.snapshots {
            return Err(ApiError::new(
                S,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Maximum number of snapshots allowed ({}) exceeded",
                    q.snapshots
                ),
            )
            .with_retry_after(0));
        }
        if gigabytes + size > q.gigabytes {
            return Err(ApiError::new(
                S,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size}G, quota is {}G and {gigabytes}G has been consumed.",
                    q.gigabytes
                ),
            )
            .with_retry_after(0));
        }
        let seq = w.next_seq();
        let s = Snapshot {
            seq,
            id: id.clone(),
            name,
            description,
            volume_id,
            size,
            metadata,
            status: "creating",
            created_at: Utc::now(),
            updated_at: None,
        };
        // The create answer lacks the extended attributes that show and list carry.
        let mut view = snapshot_view(&sh, &s);
        if let Some(m) = view.as_object_mut() {
            m.remove("os-extended-snapshot-attributes:progress");
            m.remove("os-extended-snapshot-attributes:project_id");
        }
        w.snapshots.insert(id.clone(), s);
        view
    };
    lifecycle::spawn_snapshot_create(&sh, id);
    Ok(json_response(
        StatusCode::ACCEPTED,
        json!({"snapshot": view}),
    ))
}

async fn snapshots(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let w = sh.world();
    let name = query_one(&q, "name");
    let volume_id = query_one(&q, "volume_id");
    let mut list: Vec<&Snapshot> = w
        .snapshots
        .values()
        .filter(|s| name.is_none_or(|n| s.name.as_deref() == Some(n)))
        .filter(|s| volume_id.is_none_or(|v| s.volume_id == v))
        .collect();
    list.sort_by_key(|s| std::cmp::Reverse(s.seq));
    let items: Vec<Value> = list.iter().map(|s| snapshot_view(&sh, s)).collect();
    json_response(StatusCode::OK, json!({"snapshots": items}))
}

async fn snapshot(
    State(sh): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let s = w
        .snapshots
        .get(&id)
        .ok_or_else(|| snapshot_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"snapshot": snapshot_view(&sh, s)}),
    ))
}

async fn delete_snapshot(
    State(sh): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    {
        let mut w = sh.world();
        let s = w
            .snapshots
            .get_mut(&id)
            .ok_or_else(|| snapshot_not_found(&id))?;
        if !matches!(s.status, "available" | "error") {
            return Err(ApiError::bad_request(
                S,
                "Invalid snapshot: Snapshot status must be available or error and must not be part of a group.",
            ));
        }
        s.status = "deleting";
    }
    lifecycle::spawn_snapshot_delete(&sh, id);
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_filter_accepts_json_and_python_dicts() {
        let want: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
        assert_eq!(metadata_filter(r#"{"k": "v"}"#).expect("json"), want);
        assert_eq!(metadata_filter("{'k': 'v'}").expect("python"), want);
        assert!(metadata_filter("k=v").is_err());
    }
}

//! `/servers`: create, list (with Nova's filters), show, delete.

use super::super::error::ApiError;
use super::super::{
    AuthToken, Mv, QueryPairs, Shared, json_body, json_response, paginate, parse_limit, query_all,
    query_one,
};
use super::{S, instance_not_found, invalid_attr, py_repr, view};
use crate::openstack::lifecycle;
use crate::openstack::world::{Server, ServerStatus, new_id};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use regex::Regex;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Keys `server` may carry at microversion `mv` (Nova's create schemas). Keys accepted but not
/// modelled are listed too, so requests from real clients pass.
fn allowed_keys(mv: Mv) -> Vec<&'static str> {
    let mut keys = vec![
        "name",
        "imageRef",
        "flavorRef",
        "adminPass",
        "metadata",
        "networks",
        "availability_zone",
        "security_groups",
        "key_name",
        "user_data",
        "min_count",
        "max_count",
        "return_reservation_id",
        "block_device_mapping",
        "block_device_mapping_v2",
        "config_drive",
        "accessIPv4",
        "accessIPv6",
        "OS-DCF:diskConfig",
    ];
    if !mv.at_least(2, 57) {
        keys.push("personality");
    }
    if mv.at_least(2, 19) {
        keys.push("description");
    }
    if mv.at_least(2, 52) {
        keys.push("tags");
    }
    if mv.at_least(2, 63) {
        keys.push("trusted_image_certificates");
    }
    if mv.at_least(2, 74) {
        keys.extend(["host", "hypervisor_hostname"]);
    }
    if mv.at_least(2, 90) {
        keys.push("hostname");
    }
    keys
}

/// The ID at the end of a reference that may be a URL (`flavorRef`, `imageRef`).
fn ref_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.rsplit('/').next().map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks a server tag as Nova's schema does.
pub(crate) fn check_tag(tag: &Value) -> Result<String, ApiError> {
    match tag.as_str() {
        None => Err(invalid_attr(
            "tags",
            tag,
            &format!("{} is not of type 'string'", py_repr(tag)),
        )),
        Some("") => Err(invalid_attr("tags", tag, "'' is too short")),
        Some(t) if t.chars().count() > 60 => {
            Err(invalid_attr("tags", tag, &format!("'{t}' is too long")))
        }
        Some(t) if t.contains('/') || t.contains(',') => Err(invalid_attr(
            "tags",
            tag,
            &format!("'{t}' does not match '^[^,/]*$'"),
        )),
        Some(t) => Ok(t.to_string()),
    }
}

/// Nova's per-server tag limit.
pub(crate) const MAX_TAGS: usize = 50;

struct CreateRequest {
    name: String,
    description: Option<String>,
    flavor_id: String,
    image_id: String,
    availability_zone: String,
    requested_zone: Option<String>,
    networks: Vec<usize>,
    ports: Vec<String>,
    security_groups: Vec<(String, String)>,
    key_name: Option<String>,
    user_data: Option<Vec<u8>>,
    metadata: BTreeMap<String, String>,
    tags: Vec<String>,
}

/// Validates the request against the schema and the world (flavor, image, zone, networks,
/// security groups, key pair), in Nova's order of checks.
fn parse_create(sh: &Shared, mv: Mv, body: &Value) -> Result<CreateRequest, ApiError> {
    let server = body
        .get("server")
        .ok_or_else(|| ApiError::bad_request(S, "'server' is a required property"))?;
    let server = server.as_object().ok_or_else(|| {
        invalid_attr(
            "server",
            server,
            &format!("{} is not of type 'object'", py_repr(server)),
        )
    })?;
    let allowed = allowed_keys(mv);
    if let Some(k) = server.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            S,
            format!("Additional properties are not allowed ('{k}' was unexpected)"),
        ));
    }
    for required in ["name", "flavorRef"] {
        if !server.contains_key(required) {
            return Err(ApiError::bad_request(
                S,
                format!("'{required}' is a required property"),
            ));
        }
    }
    if mv.at_least(2, 37) && !server.contains_key("networks") {
        return Err(ApiError::bad_request(
            S,
            "'networks' is a required property",
        ));
    }
    let name_v = &server["name"];
    let name = match name_v.as_str() {
        None => {
            return Err(invalid_attr(
                "name",
                name_v,
                &format!("{} is not of type 'string'", py_repr(name_v)),
            ));
        }
        Some("") => return Err(invalid_attr("name", name_v, "'' is too short")),
        Some(n) if n.chars().count() > 255 => {
            return Err(invalid_attr("name", name_v, &format!("'{n}' is too long")));
        }
        Some(n) if n.trim() != n => {
            return Err(invalid_attr(
                "name",
                name_v,
                &format!("'{n}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"),
            ));
        }
        Some(n) => n.to_string(),
    };
    let description = match server.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() <= 255 => Some(d.clone()),
        Some(d) => return Err(invalid_attr("description", d, "is not a valid description")),
    };
    if let Some(n) = server.get("max_count").or(server.get("min_count"))
        && n.as_u64() != Some(1)
    {
        return Err(ApiError::bad_request(
            S,
            "openstack-sim creates one server per request: min_count and max_count must be 1",
        ));
    }
    // Clients put the image in a block device mapping too (image → local disk, boot index 0):
    // that is booting from the image. Anything involving volumes is not modelled.
    let mut bdm_image: Option<String> = None;
    if server
        .get("block_device_mapping")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty())
    {
        return Err(ApiError::bad_request(
            S,
            "openstack-sim does not model block_device_mapping",
        ));
    }
    for bdm in server
        .get("block_device_mapping_v2")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let source = bdm.get("source_type").and_then(Value::as_str);
        let destination = bdm
            .get("destination_type")
            .and_then(Value::as_str)
            .unwrap_or("local");
        match (source, destination) {
            (Some("image"), "local") => {
                bdm_image = bdm.get("uuid").and_then(Value::as_str).map(str::to_string)
            }
            (Some("blank"), "local") => {}
            _ => {
                return Err(ApiError::bad_request(
                    S,
                    "openstack-sim does not model volumes in block_device_mapping_v2: boot from an image and attach volumes afterwards",
                ));
            }
        }
    }
    let user_data = match server.get("user_data") {
        None => None,
        Some(v @ Value::String(s)) => {
            if s.len() > 65535 {
                return Err(invalid_attr("user_data", v, &format!("'{s}' is too long")));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|_| invalid_attr("user_data", v, &format!("'{s}' is not a 'base64'")))?;
            Some(decoded)
        }
        Some(v) => {
            return Err(invalid_attr(
                "user_data",
                v,
                &format!("{} is not of type 'string'", py_repr(v)),
            ));
        }
    };
    let metadata = parse_metadata(server.get("metadata"))?;
    let tags = match server.get("tags") {
        None => vec![],
        Some(Value::Array(list)) => {
            if list.len() > MAX_TAGS {
                return Err(invalid_attr("tags", &server["tags"], "is too long"));
            }
            list.iter().map(check_tag).collect::<Result<Vec<_>, _>>()?
        }
        Some(v) => {
            return Err(invalid_attr(
                "tags",
                v,
                &format!("{} is not of type 'array'", py_repr(v)),
            ));
        }
    };

    let cfg = &sh.config;
    let flavor_id = ref_id(&server["flavorRef"]).ok_or_else(|| {
        invalid_attr("flavorRef", &server["flavorRef"], "is not of type 'string'")
    })?;
    if !cfg.flavors.iter().any(|f| f.id == flavor_id) {
        return Err(ApiError::bad_request(
            S,
            format!("Flavor {flavor_id} could not be found."),
        ));
    }
    let image_id = server
        .get("imageRef")
        .and_then(ref_id)
        .filter(|id| !id.is_empty())
        .or(bdm_image)
        .filter(|id| cfg.images.iter().any(|i| &i.id == id))
        .ok_or_else(|| ApiError::bad_request(S, "Can not find requested image"))?;
    let requested_zone = match server.get("availability_zone") {
        None | Some(Value::Null) => None,
        Some(Value::String(z)) if cfg.zones.iter().any(|c| &c.name == z) => Some(z.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                S,
                "The requested availability zone is not available",
            ));
        }
    };
    // Unpinned servers land in the first zone (a scheduler with one host per zone).
    let availability_zone = requested_zone
        .clone()
        .unwrap_or_else(|| cfg.zones[0].name.clone());
    let (networks, ports) = parse_networks(sh, server.get("networks"))?;
    let key_name = match server.get("key_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(v) => {
            return Err(invalid_attr(
                "key_name",
                v,
                &format!("{} is not of type 'string'", py_repr(v)),
            ));
        }
    };
    let wanted_groups: Vec<String> = match server.get("security_groups") {
        None => vec!["default".into()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|g| {
                g.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        invalid_attr("security_groups", g, "'name' is a required property")
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(invalid_attr("security_groups", v, "is not of type 'array'")),
    };
    let w = sh.world();
    if let Some(k) = &key_name
        && !w.keypairs.contains_key(k)
    {
        return Err(ApiError::bad_request(S, "Invalid key_name provided."));
    }
    // A port named by ID must exist and be free (Nova: 400 PortNotFound, 409 PortInUse).
    for port in &ports {
        match w.ports.get(port) {
            None => {
                return Err(ApiError::bad_request(
                    S,
                    format!("Port {port} could not be found."),
                ));
            }
            Some(p) if !p.device_id.is_empty() => {
                return Err(ApiError::conflict(
                    S,
                    format!("Port {port} is still in use."),
                ));
            }
            Some(_) => {}
        }
    }
    let mut security_groups = Vec::new();
    for g in wanted_groups {
        let found = w
            .security_groups
            .values()
            .filter(|sg| sg.id == g || sg.name == g)
            .map(|sg| sg.id.clone())
            .collect::<Vec<_>>();
        match found.as_slice() {
            [id] => security_groups.push((g, id.clone())),
            [] => {
                return Err(ApiError::bad_request(
                    S,
                    format!("Security group {g} not found."),
                ));
            }
            _ => {
                return Err(ApiError::conflict(
                    S,
                    format!(
                        "Multiple security groups found matching '{g}'. Use an ID to be more specific."
                    ),
                ));
            }
        }
    }
    Ok(CreateRequest {
        name,
        description,
        flavor_id,
        image_id,
        availability_zone,
        requested_zone,
        networks,
        ports,
        security_groups,
        key_name,
        user_data,
        metadata,
        tags,
    })
}

/// Server metadata: string keys of 1–255 characters, string values of at most 255.
pub(crate) fn parse_metadata(v: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let obj = v.as_object().ok_or_else(|| {
        invalid_attr(
            "metadata",
            v,
            &format!("{} is not of type 'object'", py_repr(v)),
        )
    })?;
    if obj.len() > 128 {
        return Err(ApiError::new(
            S,
            StatusCode::FORBIDDEN,
            "Quota exceeded for metadata_items: Requested 129, but already used 0 of 128 metadata_items",
        ));
    }
    let mut out = BTreeMap::new();
    for (k, val) in obj {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(invalid_attr(
                "metadata",
                v,
                &format!("'{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"),
            ));
        }
        match val.as_str() {
            Some(s) if s.chars().count() <= 255 => {
                out.insert(k.clone(), s.to_string());
            }
            Some(s) => return Err(invalid_attr("metadata", val, &format!("'{s}' is too long"))),
            None => {
                return Err(invalid_attr(
                    "metadata",
                    val,
                    &format!("{} is not of type 'string'", py_repr(val)),
                ));
            }
        }
    }
    Ok(out)
}

/// `networks`: absent or `"auto"` (the only network), `"none"`, or a list of
/// `{"uuid": network}` (Nova makes a port) and `{"port": id}` (a port made beforehand; its
/// existence and use are checked against the world). Returns the networks and the ports.
fn parse_networks(sh: &Shared, v: Option<&Value>) -> Result<(Vec<usize>, Vec<String>), ApiError> {
    let nets = &sh.config.networks;
    let auto = || -> Result<(Vec<usize>, Vec<String>), ApiError> {
        match nets.len() {
            0 => Ok((vec![], vec![])),
            1 => Ok((vec![0], vec![])),
            _ => Err(ApiError::conflict(
                S,
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        }
    };
    match v {
        None => auto(),
        Some(Value::String(s)) if s == "auto" => auto(),
        Some(Value::String(s)) if s == "none" => Ok((vec![], vec![])),
        Some(Value::Array(list)) => {
            let (mut networks, mut ports) = (Vec::new(), Vec::new());
            for n in list {
                if let Some(port) = n.get("port").and_then(Value::as_str) {
                    ports.push(port.to_string());
                    continue;
                }
                let uuid = n.get("uuid").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::bad_request(
                        S,
                        "Bad networks format: network uuid is not in proper format (None)",
                    )
                })?;
                networks.push(nets.iter().position(|c| c.id == uuid).ok_or_else(|| {
                    ApiError::bad_request(S, format!("Network {uuid} could not be found."))
                })?);
            }
            Ok((networks, ports))
        }
        Some(other) => Err(invalid_attr(
            "networks",
            other,
            "is not valid under any of the given schemas",
        )),
    }
}

/// Nova's over-quota check for one more server of `flavor`.
fn check_quota(sh: &Shared, used: (u64, u64, u64), vcpus: u64, ram: u64) -> Result<(), ApiError> {
    let q = &sh.config.quotas;
    let wanted = [
        ("cores", vcpus, used.1, q.cores),
        ("instances", 1, used.0, q.instances),
        ("ram", ram, used.2, q.ram_mib),
    ];
    let over: Vec<_> = wanted
        .iter()
        .filter(|(_, req, u, limit)| u + req > *limit)
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    let names = over.iter().map(|o| o.0).collect::<Vec<_>>().join(", ");
    let column = |pick: fn(&(&str, u64, u64, u64)) -> u64| {
        over.iter()
            .map(|o| pick(o).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ApiError::new(
        S,
        StatusCode::FORBIDDEN,
        format!(
            "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
            column(|o| o.1),
            column(|o| o.2),
            column(|o| o.3),
        ),
    ))
}

pub(crate) async fn create(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let req = parse_create(&sh, mv, &body)?;
    let flavor = sh
        .config
        .flavors
        .iter()
        .find(|f| f.id == req.flavor_id)
        .ok_or_else(|| {
            ApiError::bad_request(S, format!("Flavor {} could not be found.", req.flavor_id))
        })?;
    let doomed = sh.faults.lock().decide_server(&req.name);
    let now = Utc::now();
    let id = new_id();
    let admin_pass = new_id().replace('-', "")[..12].to_string();
    {
        let mut w = sh.world();
        check_quota(&sh, w.compute_usage(), flavor.vcpus, flavor.ram_mib)?;
        let seq = w.next_seq();
        let (names, ids) = req.security_groups.into_iter().unzip();
        w.servers.insert(
            id.clone(),
            Server {
                seq,
                id: id.clone(),
                name: req.name,
                description: req.description,
                flavor_id: req.flavor_id,
                image_id: req.image_id,
                availability_zone: req.availability_zone,
                requested_zone: req.requested_zone,
                networks: req.networks,
                security_groups: names,
                security_group_ids: ids,
                key_name: req.key_name,
                user_data: req.user_data,
                metadata: req.metadata,
                tags: req.tags,
                status: ServerStatus::Build,
                task_state: Some("scheduling"),
                deleting: false,
                doomed,
                fault: None,
                created: now,
                updated: now,
                launched_at: None,
                ports: vec![],
                requested_ports: req.ports,
                bdms: vec![],
                hooked: false,
                lifecycle: Arc::default(),
            },
        );
    }
    lifecycle::spawn_server_build(&sh, id.clone());
    let groups: Vec<Value> = {
        let w = sh.world();
        w.servers
            .get(&id)
            .map(|s| {
                s.security_group_ids
                    .iter()
                    .filter_map(|g| w.security_groups.get(g))
                    .map(|g| json!({"name": g.name}))
                    .collect()
            })
            .unwrap_or_default()
    };
    let body = json!({"server": {
        "id": id,
        "links": view::links(&sh, &format!("servers/{id}")),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": groups,
        "adminPass": admin_pass,
    }});
    let mut resp = json_response(StatusCode::ACCEPTED, body);
    if let Ok(v) = HeaderValue::from_str(&format!("{}/servers/{id}", sh.compute_url())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

const STATUSES: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PASSWORD",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESCUE",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SHUTOFF",
    "SOFT_DELETED",
    "SUSPENDED",
    "UNKNOWN",
    "VERIFY_RESIZE",
];

/// The servers matching the list filters, newest first, paginated.
fn select(
    sh: &Shared,
    mv: Mv,
    q: &QueryPairs,
) -> Result<(Vec<String>, bool, Option<usize>), ApiError> {
    let name_re = match query_one(q, "name") {
        Some(n) => Some(Regex::new(n).map_err(|e| {
            ApiError::bad_request(S, format!("Invalid regular expression in name filter: {e}"))
        })?),
        None => None,
    };
    let statuses: Vec<String> = query_all(q, "status")
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
        let _ = bad;
        return Err(ApiError::bad_request(S, "Invalid status value"));
    }
    let tag_list = |key: &str| -> Vec<String> {
        if !mv.at_least(2, 26) {
            return vec![];
        }
        query_all(q, key)
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (tags, tags_any, not_tags, not_tags_any) = (
        tag_list("tags"),
        tag_list("tags-any"),
        tag_list("not-tags"),
        tag_list("not-tags-any"),
    );
    let az = query_one(q, "availability_zone");
    let flavor = query_one(q, "flavor");
    let image = query_one(q, "image");
    let limit = parse_limit(S, q)?;
    let marker = query_one(q, "marker");

    let w = sh.world();
    let mut servers: Vec<&Server> = w
        .servers
        .values()
        .filter(|s| name_re.as_ref().is_none_or(|re| re.is_match(&s.name)))
        .filter(|s| {
            let st = match s.status {
                ServerStatus::Build => "BUILD",
                ServerStatus::Active => "ACTIVE",
                ServerStatus::Error => "ERROR",
            };
            statuses.is_empty() || statuses.iter().any(|x| x == st)
        })
        .filter(|s| tags.iter().all(|t| s.tags.contains(t)))
        .filter(|s| tags_any.is_empty() || tags_any.iter().any(|t| s.tags.contains(t)))
        .filter(|s| not_tags.is_empty() || !not_tags.iter().all(|t| s.tags.contains(t)))
        .filter(|s| !not_tags_any.iter().any(|t| s.tags.contains(t)))
        .filter(|s| az.is_none_or(|z| s.availability_zone == z))
        .filter(|s| flavor.is_none_or(|f| s.flavor_id == f))
        .filter(|s| image.is_none_or(|i| s.image_id == i))
        .collect();
    servers.sort_by_key(|s| std::cmp::Reverse(s.seq));
    let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
    let (page, more) = paginate(ids, |s| s.as_str(), marker, limit).map_err(|_| {
        ApiError::bad_request(S, format!("marker [{}] not found", marker.unwrap_or("")))
    })?;
    Ok((page, more, limit))
}

fn next_link(
    sh: &Shared,
    path: &str,
    page: &[String],
    more: bool,
    limit: Option<usize>,
) -> Option<Value> {
    match (more, page.last(), limit) {
        (true, Some(last), Some(l)) => Some(json!([{
            "href": format!("{}/{path}?limit={l}&marker={last}", sh.compute_url()),
            "rel": "next",
        }])),
        _ => None,
    }
}

pub(crate) async fn list(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Query(q): Query<QueryPairs>,
) -> Result<Response, ApiError> {
    let (page, more, limit) = select(&sh, mv, &q)?;
    let w = sh.world();
    let servers: Vec<Value> = page
        .iter()
        .filter_map(|id| w.servers.get(id))
        .map(|s| view::summary(&sh, s))
        .collect();
    let mut body = Map::new();
    body.insert("servers".into(), Value::Array(servers));
    if let Some(l) = next_link(&sh, "servers", &page, more, limit) {
        body.insert("servers_links".into(), l);
    }
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

pub(crate) async fn list_detail(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Extension(AuthToken(token)): Extension<AuthToken>,
    Query(q): Query<QueryPairs>,
) -> Result<Response, ApiError> {
    let (page, more, limit) = select(&sh, mv, &q)?;
    let w = sh.world();
    let servers: Vec<Value> = page
        .iter()
        .filter_map(|id| w.servers.get(id))
        .map(|s| view::detail(&sh, &w, s, mv, false, token.admin))
        .collect();
    let mut body = Map::new();
    body.insert("servers".into(), Value::Array(servers));
    if let Some(l) = next_link(&sh, "servers/detail", &page, more, limit) {
        body.insert("servers_links".into(), l);
    }
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

pub(crate) async fn show(
    State(sh): State<Arc<Shared>>,
    Extension(mv): Extension<Mv>,
    Extension(AuthToken(token)): Extension<AuthToken>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let s = w.servers.get(&id).ok_or_else(|| instance_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"server": view::detail(&sh, &w, s, mv, true, token.admin)}),
    ))
}

pub(crate) async fn delete(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let start = {
        let mut w = sh.world();
        let s = w
            .servers
            .get_mut(&id)
            .ok_or_else(|| instance_not_found(&id))?;
        let first = !s.deleting;
        s.deleting = true;
        s.updated = Utc::now();
        first
    };
    if start {
        lifecycle::spawn_server_delete(&sh, id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

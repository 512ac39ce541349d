//! Neutron (networking API v2.0): networks, subnets (read-only), ports (made by Nova for a
//! server, or created and deleted here, with a fixed address from the subnet's pool),
//! security groups and rules, and tags, with Neutron's generic list filters (`?attribute=value`,
//! repeated for OR), tag filters and `fields`.

use super::error::{ApiError, Service};
use super::neutron_ports::{create_port, delete_port, port_not_found};
use super::{QueryPairs, Shared, json_body, json_response, query_all, require_token, ts_z};
use crate::openstack::world::{Port, SecurityGroup, SgRule, World, new_id};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use ipnet::IpNet;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const MAX_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 255;

pub(crate) fn routes(sh: &Arc<Shared>) -> Router<Arc<Shared>> {
    let mut api = Router::new()
        .route("/networking/v2.0/extensions", get(extensions))
        .route("/networking/v2.0/extensions/{alias}", get(extension))
        .route("/networking/v2.0/networks", get(networks))
        .route("/networking/v2.0/networks/{id}", get(network))
        .route("/networking/v2.0/subnets", get(subnets))
        .route("/networking/v2.0/subnets/{id}", get(subnet))
        .route("/networking/v2.0/ports", get(ports).post(create_port))
        .route("/networking/v2.0/ports/{id}", get(port).delete(delete_port))
        .route(
            "/networking/v2.0/security-groups",
            get(security_groups).post(create_security_group),
        )
        .route(
            "/networking/v2.0/security-groups/{id}",
            get(security_group).delete(delete_security_group),
        )
        .route(
            "/networking/v2.0/security-group-rules",
            get(rules).post(create_rule),
        )
        .route(
            "/networking/v2.0/security-group-rules/{id}",
            get(rule).delete(delete_rule),
        );
    for resource in ["networks", "subnets", "ports", "security-groups"] {
        api = api
            .route(
                &format!("/networking/v2.0/{resource}/{{id}}/tags"),
                get(tags_index).put(tags_replace).delete(tags_delete_all),
            )
            .route(
                &format!("/networking/v2.0/{resource}/{{id}}/tags/{{tag}}"),
                get(tag_check).put(tag_add).delete(tag_delete),
            );
    }
    let api = api.route_layer(from_fn_with_state(sh.clone(), require_token));
    Router::new()
        .route("/networking", get(versions))
        .route("/networking/", get(versions))
        .route("/networking/v2.0", get(resources))
        .route("/networking/v2.0/", get(resources))
        .merge(api)
}

pub(super) const S: Service = Service::Network;

async fn versions(State(sh): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({"versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": format!("{}/v2.0/", sh.network_url()), "rel": "self"}]}]}),
    )
}

async fn resources(State(sh): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = ["network", "subnet", "port", "security_group", "security_group_rule"]
        .iter()
        .map(|r| {
            let collection = format!("{}s", r.replace('_', "-"));
            json!({"name": r, "collection": collection, "links": [{"href": format!("{}/v2.0/{collection}", sh.network_url()), "rel": "self"}]})
        })
        .collect();
    json_response(StatusCode::OK, json!({"resources": list}))
}

/// The API extensions whose behaviour the simulator serves.
const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, network, port, security_group, ...",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
];

fn extension_view(e: &(&str, &str, &str)) -> Value {
    json!({"alias": e.0, "name": e.1, "description": e.2, "updated": "2024-01-01T00:00:00-00:00", "links": []})
}

async fn extensions() -> Response {
    json_response(
        StatusCode::OK,
        json!({"extensions": EXTENSIONS.iter().map(extension_view).collect::<Vec<_>>()}),
    )
}

async fn extension(Path(alias): Path<String>) -> Result<Response, ApiError> {
    let e = EXTENSIONS.iter().find(|e| e.0 == alias).ok_or_else(|| {
        not_found(
            "ExtensionNotFound",
            format!("Extension with alias {alias} does not exist"),
        )
    })?;
    Ok(json_response(
        StatusCode::OK,
        json!({"extension": extension_view(e)}),
    ))
}

pub(super) fn not_found(kind: &'static str, message: String) -> ApiError {
    ApiError::neutron(StatusCode::NOT_FOUND, kind, message)
}

pub(super) fn bad(kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::neutron(StatusCode::BAD_REQUEST, kind, message)
}

fn project(sh: &Shared) -> &str {
    &sh.config.identity.project_id
}

fn network_view(sh: &Shared, idx: usize) -> Value {
    let n = &sh.config.networks[idx];
    json!({
        "id": n.id, "name": n.name, "admin_state_up": true, "status": "ACTIVE", "shared": false,
        "subnets": [n.subnet.id], "availability_zone_hints": [], "availability_zones": ["nova"],
        "ipv4_address_scope": null, "ipv6_address_scope": null, "mtu": 1500,
        "port_security_enabled": true, "router:external": false, "qinq": false,
        "vlan_transparent": false,
        "project_id": project(sh), "tenant_id": project(sh), "description": "", "tags": [],
        "revision_number": 1, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
    })
}

fn subnet_view(sh: &Shared, idx: usize) -> Value {
    let n = &sh.config.networks[idx];
    let (net, start, end) = sh.derived.pools[idx];
    json!({
        "id": n.subnet.id, "name": n.subnet.name, "network_id": n.id, "cidr": net.to_string(),
        "ip_version": 4, "gateway_ip": n.subnet.gateway_ip, "enable_dhcp": false,
        "allocation_pools": [{"start": start.to_string(), "end": end.to_string()}],
        "dns_nameservers": [], "host_routes": [], "segment_id": null, "subnetpool_id": null,
        "ipv6_address_mode": null, "ipv6_ra_mode": null, "service_types": [], "description": "",
        "project_id": project(sh), "tenant_id": project(sh), "tags": [], "revision_number": 1,
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
    })
}

pub(super) fn port_view(sh: &Shared, p: &Port) -> Value {
    let n = &sh.config.networks[p.network];
    json!({
        "id": p.id, "name": p.name, "network_id": n.id, "mac_address": p.mac,
        "fixed_ips": [{"ip_address": p.ip.to_string(), "subnet_id": n.subnet.id}],
        "device_id": p.device_id, "device_owner": p.device_owner, "status": p.status,
        "admin_state_up": true, "security_groups": p.security_groups, "allowed_address_pairs": [],
        "extra_dhcp_opts": [], "port_security_enabled": true, "binding:vnic_type": "normal",
        "description": p.description, "tags": p.tags,
        "project_id": project(sh), "tenant_id": project(sh), "revision_number": p.revision,
        "created_at": ts_z(&p.created_at), "updated_at": ts_z(&p.updated_at),
    })
}

/// A rule as Neutron shows it on its own; inside its group ([`group_view`]) it also carries
/// `standard_attr_id` and `tags`.
fn rule_view(sh: &Shared, w: &World, r: &SgRule) -> Value {
    let default_group = w
        .security_groups
        .get(&r.security_group_id)
        .is_some_and(|g| g.name == "default");
    json!({
        "id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
        "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id, "remote_address_group_id": null,
        "description": r.description, "project_id": project(sh), "tenant_id": project(sh),
        "revision_number": 0, "created_at": ts_z(&r.created_at), "updated_at": ts_z(&r.created_at),
        "belongs_to_default_sg": default_group, "normalized_cidr": r.remote_ip_prefix,
    })
}

fn group_view(sh: &Shared, w: &World, g: &SecurityGroup) -> Value {
    let mut rules: Vec<&SgRule> = w
        .sg_rules
        .values()
        .filter(|r| r.security_group_id == g.id)
        .collect();
    rules.sort_by_key(|r| r.seq);
    json!({
        "id": g.id, "name": g.name, "description": g.description, "stateful": g.stateful,
        "shared": false, "tags": g.tags, "project_id": project(sh), "tenant_id": project(sh),
        "revision_number": g.revision, "created_at": ts_z(&g.created_at), "updated_at": ts_z(&g.updated_at),
        "security_group_rules": rules.iter().map(|r| {
            let mut v = rule_view(sh, w, r);
            v["standard_attr_id"] = json!(r.seq);
            v["tags"] = json!([]);
            v
        }).collect::<Vec<_>>(),
    })
}

/// Neutron's list semantics on views: `?attr=v` (repeat for OR) on scalar attributes, tag
/// filters, then `fields`.
fn filter_list(items: Vec<Value>, q: &QueryPairs) -> Vec<Value> {
    const RESERVED: &[&str] = &[
        "fields",
        "limit",
        "marker",
        "page_reverse",
        "sort_key",
        "sort_dir",
        "tags",
        "tags-any",
        "not-tags",
        "not-tags-any",
    ];
    let tag_set = |key: &str| -> Vec<String> {
        query_all(q, key)
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (tags, tags_any, not_tags, not_tags_any) = (
        tag_set("tags"),
        tag_set("tags-any"),
        tag_set("not-tags"),
        tag_set("not-tags-any"),
    );
    let mut keys: Vec<&str> = q
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !RESERVED.contains(k))
        .collect();
    keys.dedup();
    let fields = query_all(q, "fields");
    items
        .into_iter()
        .filter(|item| {
            keys.iter().all(|k| {
                let wanted = query_all(q, k);
                match item.get(*k) {
                    Some(Value::String(s)) => wanted.contains(&s.as_str()),
                    Some(Value::Bool(b)) => wanted
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(&b.to_string())),
                    Some(Value::Number(n)) => wanted.contains(&n.to_string().as_str()),
                    Some(Value::Null) => wanted.iter().any(|w| w.is_empty()),
                    // Filters on lists or unknown attributes are ignored, as Neutron does for
                    // attributes without a filter.
                    _ => true,
                }
            })
        })
        .filter(|item| {
            let have: Vec<&str> = item
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            tags.iter().all(|t| have.contains(&t.as_str()))
                && (tags_any.is_empty() || tags_any.iter().any(|t| have.contains(&t.as_str())))
                && (not_tags.is_empty() || !not_tags.iter().all(|t| have.contains(&t.as_str())))
                && !not_tags_any.iter().any(|t| have.contains(&t.as_str()))
        })
        .map(|item| {
            if fields.is_empty() {
                return item;
            }
            let mut out = Map::new();
            if let Value::Object(o) = item {
                for (k, v) in o {
                    if fields.contains(&k.as_str()) {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        })
        .collect()
}

fn listing(key: &str, items: Vec<Value>, q: &QueryPairs) -> Response {
    json_response(StatusCode::OK, json!({ key: filter_list(items, q) }))
}

async fn networks(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let items = (0..sh.config.networks.len())
        .map(|i| network_view(&sh, i))
        .collect();
    listing("networks", items, &q)
}

async fn network(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let idx = sh
        .config
        .networks
        .iter()
        .position(|n| n.id == id)
        .ok_or_else(|| {
            not_found(
                "NetworkNotFound",
                format!("Network {id} could not be found."),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        json!({"network": network_view(&sh, idx)}),
    ))
}

async fn subnets(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let items = (0..sh.config.networks.len())
        .map(|i| subnet_view(&sh, i))
        .collect();
    listing("subnets", items, &q)
}

async fn subnet(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let idx = sh
        .config
        .networks
        .iter()
        .position(|n| n.subnet.id == id)
        .ok_or_else(|| not_found("SubnetNotFound", format!("Subnet {id} could not be found.")))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"subnet": subnet_view(&sh, idx)}),
    ))
}

async fn ports(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let items = {
        let w = sh.world();
        w.ports.values().map(|p| port_view(&sh, p)).collect()
    };
    listing("ports", items, &q)
}

async fn port(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let w = sh.world();
    let p = w.ports.get(&id).ok_or_else(|| port_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"port": port_view(&sh, p)}),
    ))
}

async fn security_groups(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let items = {
        let w = sh.world();
        let mut groups: Vec<&SecurityGroup> = w.security_groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        groups.iter().map(|g| group_view(&sh, &w, g)).collect()
    };
    listing("security_groups", items, &q)
}

pub(super) fn sg_not_found(id: &str) -> ApiError {
    not_found(
        "SecurityGroupNotFound",
        format!("Security group {id} does not exist"),
    )
}

async fn security_group(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = sh.world();
    let g = w
        .security_groups
        .get(&id)
        .ok_or_else(|| sg_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"security_group": group_view(&sh, &w, g)}),
    ))
}

pub(super) fn str_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(bad(
            "HTTPBadRequest",
            format!("Invalid input for {key}. Reason: '{v}' is not a valid string."),
        )),
    }
}

async fn create_security_group(
    State(sh): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let obj = body
        .get("security_group")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("HTTPBadRequest", "Resource body required"))?;
    let name = str_field(obj, "name")?.unwrap_or_default();
    if name.len() > 255 {
        return Err(bad(
            "HTTPBadRequest",
            format!("Invalid input for name. Reason: '{name}' exceeds maximum length of 255."),
        ));
    }
    let description = str_field(obj, "description")?.unwrap_or_default();
    let stateful = obj.get("stateful").and_then(Value::as_bool).unwrap_or(true);
    let mut w = sh.world();
    if name == "default" {
        return Err(ApiError::neutron(
            StatusCode::CONFLICT,
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    let now = Utc::now();
    let id = new_id();
    let seq = w.next_seq();
    w.security_groups.insert(
        id.clone(),
        SecurityGroup {
            seq,
            id: id.clone(),
            name,
            description,
            stateful,
            tags: vec![],
            created_at: now,
            updated_at: now,
            revision: 1,
        },
    );
    for ethertype in ["IPv4", "IPv6"] {
        w.add_rule_unchecked(&id, "egress", ethertype, None);
    }
    let view = w
        .security_groups
        .get(&id)
        .map(|g| group_view(&sh, &w, g))
        .unwrap_or(Value::Null);
    Ok(json_response(
        StatusCode::CREATED,
        json!({"security_group": view}),
    ))
}

async fn delete_security_group(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut w = sh.world();
    let g = w
        .security_groups
        .get(&id)
        .ok_or_else(|| sg_not_found(&id))?;
    if g.name == "default" {
        return Err(ApiError::neutron(
            StatusCode::CONFLICT,
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        ));
    }
    let in_use = w.ports.values().any(|p| p.security_groups.contains(&id))
        || w.servers
            .values()
            .any(|s| s.security_group_ids.contains(&id));
    if in_use {
        return Err(ApiError::neutron(
            StatusCode::CONFLICT,
            "SecurityGroupInUse",
            format!("Security Group {id} in use."),
        ));
    }
    w.security_groups.remove(&id);
    w.sg_rules.retain(|_, r| r.security_group_id != id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rules(State(sh): State<Arc<Shared>>, Query(q): Query<QueryPairs>) -> Response {
    let items = {
        let w = sh.world();
        let mut rules: Vec<&SgRule> = w.sg_rules.values().collect();
        rules.sort_by_key(|r| r.seq);
        rules.iter().map(|r| rule_view(&sh, &w, r)).collect()
    };
    listing("security_group_rules", items, &q)
}

fn rule_not_found(id: &str) -> ApiError {
    not_found(
        "SecurityGroupRuleNotFound",
        format!("Security group rule {id} does not exist"),
    )
}

async fn rule(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let w = sh.world();
    let r = w.sg_rules.get(&id).ok_or_else(|| rule_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"security_group_rule": rule_view(&sh, &w, r)}),
    ))
}

/// IANA numbers of the protocol names Neutron accepts, for comparing rules.
fn protocol_number(p: &str) -> Option<u8> {
    Some(match p {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "any" => return None,
        other => return other.parse().ok(),
    })
}

fn port_number(v: Option<&Value>, key: &str) -> Result<Option<u16>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                bad(
                    "InvalidInput",
                    format!("Invalid input for operation: Invalid value for {key}: {v}."),
                )
            }),
    }
}

async fn create_rule(State(sh): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let obj = body
        .get("security_group_rule")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("HTTPBadRequest", "Resource body required"))?;
    let sg_id = str_field(obj, "security_group_id")?.ok_or_else(|| {
        bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'security_group_id' not specified",
        )
    })?;
    let direction = str_field(obj, "direction")?.ok_or_else(|| {
        bad(
            "HTTPBadRequest",
            "Failed to parse request. Required attribute 'direction' not specified",
        )
    })?;
    if direction != "ingress" && direction != "egress" {
        return Err(bad(
            "HTTPBadRequest",
            format!(
                "Invalid input for direction. Reason: '{direction}' is not in ['ingress', 'egress']."
            ),
        ));
    }
    let ethertype = str_field(obj, "ethertype")?.unwrap_or_else(|| "IPv4".into());
    if ethertype != "IPv4" && ethertype != "IPv6" {
        return Err(bad(
            "HTTPBadRequest",
            format!(
                "Invalid input for ethertype. Reason: '{ethertype}' is not in ['IPv4', 'IPv6']."
            ),
        ));
    }
    let protocol = match obj.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.to_ascii_lowercase()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => {
            return Err(bad(
                "SecurityGroupRuleInvalidProtocol",
                format!("Security group rule protocol {v} not supported."),
            ));
        }
    };
    if let Some(p) = &protocol
        && protocol_number(p).is_none()
        && p != "any"
    {
        return Err(bad(
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {p} not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'icmpv6', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported."
            ),
        ));
    }
    let pmin = port_number(obj.get("port_range_min"), "port_range_min")?;
    let pmax = port_number(obj.get("port_range_max"), "port_range_max")?;
    let proto_num = protocol.as_deref().and_then(protocol_number);
    if (pmin.is_some() || pmax.is_some()) && proto_num.is_none() {
        return Err(bad(
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        ));
    }
    if matches!(proto_num, Some(6 | 17 | 132)) {
        for p in [pmin, pmax].into_iter().flatten() {
            if p == 0 {
                return Err(bad(
                    "SecurityGroupInvalidPortValue",
                    format!("Invalid value for port {p}."),
                ));
            }
        }
        if let (Some(a), Some(b)) = (pmin, pmax)
            && a > b
        {
            return Err(bad(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            ));
        }
    }
    let remote_group_id = str_field(obj, "remote_group_id")?;
    let remote_ip_prefix = match str_field(obj, "remote_ip_prefix")? {
        None => None,
        Some(p) => {
            let net: IpNet = p
                .parse()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| bad("HTTPBadRequest", format!("Invalid input for remote_ip_prefix. Reason: '{p}' is not a valid IP subnet.")))?;
            let family = if net.addr().is_ipv4() { "IPv4" } else { "IPv6" };
            if family != ethertype {
                return Err(bad(
                    "SecurityGroupRuleParameterConflict",
                    format!("Conflicting value ethertype {ethertype} for CIDR {p}"),
                ));
            }
            Some(net.trunc().to_string())
        }
    };
    if remote_group_id.is_some() && remote_ip_prefix.is_some() {
        return Err(bad(
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
            "Only remote_ip_prefix or remote_group_id may be provided.",
        ));
    }
    let description = str_field(obj, "description")?.unwrap_or_default();
    let mut w = sh.world();
    if !w.security_groups.contains_key(&sg_id) {
        return Err(sg_not_found(&sg_id));
    }
    if let Some(rg) = &remote_group_id
        && !w.security_groups.contains_key(rg)
    {
        return Err(sg_not_found(rg));
    }
    let same_protocol = |a: &Option<String>| a.as_deref().and_then(protocol_number) == proto_num;
    if let Some(existing) = w.sg_rules.values().find(|r| {
        r.security_group_id == sg_id
            && r.direction == direction
            && r.ethertype == ethertype
            && same_protocol(&r.protocol)
            && r.port_range_min == pmin
            && r.port_range_max == pmax
            && r.remote_ip_prefix == remote_ip_prefix
            && r.remote_group_id == remote_group_id
    }) {
        return Err(ApiError::neutron(
            StatusCode::CONFLICT,
            "SecurityGroupRuleExists",
            format!(
                "Security group rule already exists. Rule id is {}.",
                existing.id
            ),
        ));
    }
    let seq = w.next_seq();
    let rule = SgRule {
        seq,
        id: new_id(),
        security_group_id: sg_id.clone(),
        direction,
        ethertype,
        protocol,
        port_range_min: pmin,
        port_range_max: pmax,
        remote_ip_prefix,
        remote_group_id,
        description,
        created_at: Utc::now(),
    };
    let view = rule_view(&sh, &w, &rule);
    w.sg_rules.insert(rule.id.clone(), rule);
    if let Some(g) = w.security_groups.get_mut(&sg_id) {
        g.revision += 1;
        g.updated_at = Utc::now();
    }
    Ok(json_response(
        StatusCode::CREATED,
        json!({"security_group_rule": view}),
    ))
}

async fn delete_rule(
    State(sh): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut w = sh.world();
    let r = w.sg_rules.remove(&id).ok_or_else(|| rule_not_found(&id))?;
    if let Some(g) = w.security_groups.get_mut(&r.security_group_id) {
        g.revision += 1;
        g.updated_at = Utc::now();
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The tag list of a taggable resource, found by the collection in the request path.
fn with_tags<T>(
    sh: &Shared,
    uri: &OriginalUri,
    id: &str,
    f: impl FnOnce(&mut Vec<String>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let collection = uri.path().split('/').nth(3).unwrap_or("");
    let mut w = sh.world();
    match collection {
        "security-groups" => {
            let g = w
                .security_groups
                .get_mut(id)
                .ok_or_else(|| sg_not_found(id))?;
            let before = g.tags.clone();
            let out = f(&mut g.tags)?;
            if g.tags != before {
                g.revision += 1;
                g.updated_at = Utc::now();
            }
            Ok(out)
        }
        "ports" => {
            let p = w.ports.get_mut(id).ok_or_else(|| {
                not_found("PortNotFound", format!("Port {id} could not be found."))
            })?;
            f(&mut p.tags)
        }
        "networks" => Err(ApiError::neutron(
            StatusCode::FORBIDDEN,
            "HTTPForbidden",
            "The simulated networks are shared infrastructure; their tags cannot change.",
        )),
        _ => Err(ApiError::neutron(
            StatusCode::FORBIDDEN,
            "HTTPForbidden",
            "The simulated subnets are shared infrastructure; their tags cannot change.",
        )),
    }
}

fn check_tag(tag: &str) -> Result<(), ApiError> {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        return Err(bad(
            "HTTPBadRequest",
            format!(
                "Invalid input for operation: '{tag}' exceeds maximum length of {MAX_TAG_LEN}."
            ),
        ));
    }
    Ok(())
}

async fn tags_index(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tags = read_tags(&sh, &uri, &id)?;
    Ok(json_response(StatusCode::OK, json!({"tags": tags})))
}

fn read_tags(sh: &Shared, uri: &OriginalUri, id: &str) -> Result<Vec<String>, ApiError> {
    let collection = uri.path().split('/').nth(3).unwrap_or("");
    let w = sh.world();
    match collection {
        "security-groups" => w
            .security_groups
            .get(id)
            .map(|g| g.tags.clone())
            .ok_or_else(|| sg_not_found(id)),
        "ports" => w
            .ports
            .get(id)
            .map(|p| p.tags.clone())
            .ok_or_else(|| not_found("PortNotFound", format!("Port {id} could not be found."))),
        "networks" => sh
            .config
            .networks
            .iter()
            .any(|n| n.id == id)
            .then(Vec::new)
            .ok_or_else(|| {
                not_found(
                    "NetworkNotFound",
                    format!("Network {id} could not be found."),
                )
            }),
        _ => sh
            .config
            .networks
            .iter()
            .any(|n| n.subnet.id == id)
            .then(Vec::new)
            .ok_or_else(|| not_found("SubnetNotFound", format!("Subnet {id} could not be found."))),
    }
}

async fn tags_replace(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let list = body.get("tags").and_then(Value::as_array).ok_or_else(|| {
        bad(
            "HTTPBadRequest",
            "Invalid input for tags. Reason: not a list of unique strings.",
        )
    })?;
    let mut tags: Vec<String> = Vec::new();
    for t in list {
        let t = t.as_str().ok_or_else(|| {
            bad(
                "HTTPBadRequest",
                "Invalid input for tags. Reason: not a list of unique strings.",
            )
        })?;
        check_tag(t)?;
        if tags.iter().any(|x| x == t) {
            return Err(bad(
                "HTTPBadRequest",
                format!("Invalid input for tags. Reason: Duplicate items in the list: '{t}'."),
            ));
        }
        tags.push(t.to_string());
    }
    if tags.len() > MAX_TAGS {
        return Err(bad(
            "HTTPBadRequest",
            format!("Number of tags exceeds the limit of {MAX_TAGS}"),
        ));
    }
    let out = tags.clone();
    with_tags(&sh, &uri, &id, move |t| {
        *t = tags;
        Ok(())
    })?;
    Ok(json_response(StatusCode::OK, json!({"tags": out})))
}

async fn tags_delete_all(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    with_tags(&sh, &uri, &id, |t| {
        t.clear();
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tag_not_found(tag: &str) -> ApiError {
    not_found("TagNotFound", format!("Tag {tag} could not be found."))
}

async fn tag_check(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if read_tags(&sh, &uri, &id)?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(tag_not_found(&tag))
    }
}

async fn tag_add(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_tag(&tag)?;
    with_tags(&sh, &uri, &id, |t| {
        if !t.contains(&tag) {
            if t.len() >= MAX_TAGS {
                return Err(bad(
                    "HTTPBadRequest",
                    format!("Number of tags exceeds the limit of {MAX_TAGS}"),
                ));
            }
            t.push(tag.clone());
        }
        Ok(())
    })?;
    Ok(StatusCode::CREATED.into_response())
}

async fn tag_delete(
    State(sh): State<Arc<Shared>>,
    uri: OriginalUri,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    with_tags(&sh, &uri, &id, |t| {
        let before = t.len();
        t.retain(|x| x != &tag);
        if t.len() == before {
            Err(tag_not_found(&tag))
        } else {
            Ok(())
        }
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! Glance (image API v2): version discovery, list (with `name`, `status`, `visibility`, `id`
//! filters, `limit`/`marker`) and show.

use super::error::{ApiError, Service};
use super::{QueryPairs, Shared, json_response, paginate, parse_limit, query_one, require_token};
use crate::openstack::config::ImageConfig;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use md5::Md5;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};
use std::sync::Arc;

const S: Service = Service::Image;

pub(crate) fn routes(sh: &Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .route("/image/v2/images", get(list))
        .route("/image/v2/images/{id}", get(show))
        .route_layer(from_fn_with_state(sh.clone(), require_token));
    Router::new()
        .route("/image", get(versions))
        .route("/image/", get(versions))
        .merge(api)
}

async fn versions(State(sh): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = ["v2.17", "v2.16", "v2.15"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"id": id, "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                   "links": [{"href": format!("{}/v2/", sh.image_url()), "rel": "self"}]})
        })
        .collect();
    json_response(StatusCode::MULTIPLE_CHOICES, json!({"versions": list}))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn view(sh: &Shared, i: &ImageConfig) -> Value {
    json!({
        "id": i.id, "name": i.name, "status": "active", "visibility": "public", "protected": false,
        "os_hidden": false, "tags": [], "container_format": "bare", "disk_format": "qcow2",
        "min_disk": i.min_disk_gb, "min_ram": 0, "size": i.size_bytes,
        "virtual_size": i.size_bytes, "stores": "fs",
        "owner_specified.openstack.md5": "", "owner_specified.openstack.sha256": "",
        "owner_specified.openstack.object": format!("images/{}", i.name),
        "checksum": hex(&Md5::digest(i.id.as_bytes())), "os_hash_algo": "sha512",
        "os_hash_value": hex(&Sha512::digest(i.id.as_bytes())),
        "owner": sh.config.identity.project_id,
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id),
        "schema": "/v2/schemas/image",
    })
}

async fn list(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<QueryPairs>,
) -> Result<Response, ApiError> {
    let name = query_one(&q, "name");
    let id = query_one(&q, "id");
    let status = query_one(&q, "status");
    let visibility = query_one(&q, "visibility");
    let limit = parse_limit(S, &q)?;
    let marker = query_one(&q, "marker");
    let images: Vec<&ImageConfig> = sh
        .config
        .images
        .iter()
        .filter(|i| name.is_none_or(|n| i.name == n))
        .filter(|i| id.is_none_or(|x| i.id == x))
        .filter(|_| status.is_none_or(|s| s == "active"))
        .filter(|_| visibility.is_none_or(|v| v == "public" || v == "all"))
        .collect();
    let (page, more) = paginate(images, |i| i.id.as_str(), marker, limit).map_err(|_| {
        ApiError::bad_request(
            S,
            format!("marker {} could not be found.", marker.unwrap_or("")),
        )
    })?;
    let mut body = Map::new();
    body.insert(
        "images".into(),
        Value::Array(page.iter().map(|i| view(&sh, i)).collect()),
    );
    body.insert("first".into(), json!("/v2/images"));
    body.insert("schema".into(), json!("/v2/schemas/images"));
    if let (true, Some(last), Some(l)) = (more, page.last(), limit) {
        body.insert(
            "next".into(),
            json!(format!("/v2/images?marker={}&limit={l}", last.id)),
        );
    }
    Ok(json_response(StatusCode::OK, Value::Object(body)))
}

async fn show(State(sh): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let image = sh
        .config
        .images
        .iter()
        .find(|i| i.id == id)
        .ok_or_else(|| ApiError::not_found(S, format!("No image found with ID {id}")))?;
    Ok(json_response(StatusCode::OK, view(&sh, image)))
}

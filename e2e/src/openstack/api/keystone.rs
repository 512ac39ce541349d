//! Keystone v3: version discovery and tokens (password and application-credential methods).

use super::error::{ApiError, Service};
use super::{Shared, json_body, json_response, ts_micro_z};
use crate::openstack::world::{Token, new_hex_id};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const S: Service = Service::Identity;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version))
        .route("/identity/v3/", get(version))
        .route(
            "/identity/v3/auth/tokens",
            post(issue).get(validate).head(check).delete(revoke),
        )
}

fn version_doc(sh: &Shared) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", sh.identity_url())}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn versions(State(sh): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": {"values": [version_doc(&sh)]}}),
    )
}

async fn version(State(sh): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, json!({"version": version_doc(&sh)}))
}

fn unauthorized(sh: &Shared) -> ApiError {
    ApiError::unauthorized(S, &sh.identity_url())
}

fn validation(attribute: &str, target: &str) -> ApiError {
    ApiError::bad_request(
        S,
        format!(
            "Expecting to find {attribute} in {target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."
        ),
    )
}

/// Whether a `{"id": ..}` or `{"name": ..}` reference names the configured domain.
fn domain_matches(sh: &Shared, d: &Value) -> bool {
    let id = &sh.config.identity;
    match (
        d.get("id").and_then(Value::as_str),
        d.get("name").and_then(Value::as_str),
    ) {
        (Some(i), _) => i == id.domain_id,
        (None, Some(n)) => n == id.domain_name,
        _ => false,
    }
}

/// Which configured user a reference (`id`, or `name` + `domain`) names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum User {
    /// The project member (the operator's user; owns the application credential).
    Member,
    /// The administrator.
    Admin,
}

/// The configured user a user reference (`id`, or `name` + `domain`) names, if any.
fn user_named(sh: &Shared, user: &Value) -> Result<Option<User>, ApiError> {
    let id = &sh.config.identity;
    if let Some(uid) = user.get("id").and_then(Value::as_str) {
        return Ok(if uid == id.user_id {
            Some(User::Member)
        } else if uid == id.admin.user_id {
            Some(User::Admin)
        } else {
            None
        });
    }
    let name = user
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("name", "user"))?;
    let domain = user
        .get("domain")
        .ok_or_else(|| validation("domain", "user"))?;
    if !domain_matches(sh, domain) {
        return Ok(None);
    }
    Ok(if name == id.username {
        Some(User::Member)
    } else if name == id.admin.username {
        Some(User::Admin)
    } else {
        None
    })
}

/// Whether a user reference names the configured (member) user.
fn user_matches(sh: &Shared, user: &Value) -> Result<bool, ApiError> {
    Ok(user_named(sh, user)? == Some(User::Member))
}

/// Constant-time-ish comparison of secrets (no early exit on the first differing byte).
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn issue(State(sh): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let body = json_body(S, &body)?;
    let auth = body
        .get("auth")
        .ok_or_else(|| validation("auth", "request body"))?;
    let identity = auth
        .get("identity")
        .ok_or_else(|| validation("identity", "auth"))?;
    let methods: Vec<&str> = identity
        .get("methods")
        .and_then(Value::as_array)
        .ok_or_else(|| validation("methods", "identity"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let cfg = &sh.config.identity;
    let scope = auth.get("scope");
    let mut admin = false;
    let (method, scoped, app_cred) = if methods.contains(&"password") {
        let pw = identity
            .get("password")
            .ok_or_else(|| validation("password", "identity"))?;
        let user = pw
            .get("user")
            .ok_or_else(|| validation("user", "password"))?;
        let given = user
            .get("password")
            .and_then(Value::as_str)
            .ok_or_else(|| validation("password", "user"))?;
        let who = user_named(&sh, user)?;
        let password = match who {
            Some(User::Member) => cfg.password.expose(),
            Some(User::Admin) => cfg.admin.password.expose(),
            None => return Err(unauthorized(&sh)),
        };
        if !same_secret(given, password) {
            return Err(unauthorized(&sh));
        }
        admin = who == Some(User::Admin);
        let scoped = match scope {
            None => false,
            Some(sc) => {
                let project = sc.get("project").ok_or_else(|| unauthorized(&sh))?;
                let ok = match (
                    project.get("id").and_then(Value::as_str),
                    project.get("name").and_then(Value::as_str),
                ) {
                    (Some(i), _) => i == cfg.project_id,
                    (None, Some(n)) => {
                        let d = project
                            .get("domain")
                            .ok_or_else(|| validation("domain", "project"))?;
                        n == cfg.project_name && domain_matches(&sh, d)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(unauthorized(&sh));
                }
                true
            }
        };
        ("password", scoped, false)
    } else if methods.contains(&"application_credential") {
        let ac = identity
            .get("application_credential")
            .ok_or_else(|| validation("application_credential", "identity"))?;
        let secret = ac
            .get("secret")
            .and_then(Value::as_str)
            .ok_or_else(|| validation("secret", "application_credential"))?;
        let want = &cfg.application_credential;
        let named = match (
            ac.get("id").and_then(Value::as_str),
            ac.get("name").and_then(Value::as_str),
        ) {
            (Some(i), _) => i == want.id,
            (None, Some(n)) => {
                let user = ac
                    .get("user")
                    .ok_or_else(|| validation("user", "application_credential"))?;
                n == want.name && user_matches(&sh, user)?
            }
            _ => return Err(validation("id", "application_credential")),
        };
        if !named || !same_secret(secret, want.secret.expose()) || scope.is_some() {
            return Err(unauthorized(&sh));
        }
        ("application_credential", true, true)
    } else {
        let mut e = unauthorized(&sh);
        e.message = "Attempted to authenticate with an unsupported method.".into();
        return Err(e);
    };

    let now = Utc::now();
    let token = Token {
        issued_at: now,
        expires_at: now + chrono::Duration::seconds(cfg.token_ttl_secs.min(i64::MAX as u64) as i64),
        scoped,
        methods: vec![method],
        application_credential: app_cred,
        admin,
        audit_id: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(&uuid::Uuid::new_v4().as_bytes()[..16]),
    };
    let id = format!("gAAAAA{}", new_hex_id() + &new_hex_id());
    let body = token_body(&sh, &token);
    sh.world().tokens.insert(id.clone(), token);
    Ok(with_subject(StatusCode::CREATED, body, &id))
}

fn with_subject(status: StatusCode, body: Value, token_id: &str) -> Response {
    let mut resp = json_response(status, body);
    if let Ok(v) = HeaderValue::from_str(token_id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

fn token_body(sh: &Shared, t: &Token) -> Value {
    let cfg = &sh.config.identity;
    let domain = json!({"id": cfg.domain_id, "name": cfg.domain_name});
    let (user_id, username) = if t.admin {
        (&cfg.admin.user_id, &cfg.admin.username)
    } else {
        (&cfg.user_id, &cfg.username)
    };
    let mut token = json!({
        "methods": t.methods,
        "user": {"domain": domain, "id": user_id, "name": username, "password_expires_at": null},
        "audit_ids": [t.audit_id],
        "expires_at": ts_micro_z(&t.expires_at),
        "issued_at": ts_micro_z(&t.issued_at),
    });
    if t.scoped {
        token["project"] =
            json!({"domain": domain, "id": cfg.project_id, "name": cfg.project_name});
        token["is_domain"] = json!(false);
        let mut roles = vec![
            json!({"id": stable_id("role:member"), "name": "member"}),
            json!({"id": stable_id("role:reader"), "name": "reader"}),
        ];
        if t.admin {
            roles.insert(0, json!({"id": stable_id("role:admin"), "name": "admin"}));
        }
        token["roles"] = Value::Array(roles);
        token["catalog"] = catalog(sh);
    }
    if t.application_credential {
        let ac = &cfg.application_credential;
        token["application_credential"] = json!({"id": ac.id, "name": ac.name, "restricted": true});
    }
    json!({"token": token})
}

/// A stable 32-hex-digit ID derived from a label.
fn stable_id(label: &str) -> String {
    let digest = Sha256::digest(label.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn catalog(sh: &Shared) -> Value {
    let region = &sh.config.region;
    let entry = |kind: &str, name: &str, url: String| {
        let endpoints: Vec<Value> = ["public", "internal"]
            .iter()
            .map(|iface| {
                json!({
                    "id": stable_id(&format!("endpoint:{kind}:{iface}")),
                    "interface": iface,
                    "region": region,
                    "region_id": region,
                    "url": url,
                })
            })
            .collect();
        json!({"endpoints": endpoints, "id": stable_id(&format!("service:{kind}")), "type": kind, "name": name})
    };
    json!([
        entry("identity", "keystone", sh.identity_url()),
        entry("compute", "nova", sh.compute_url()),
        entry("volumev3", "cinderv3", sh.volume_url()),
        entry("block-storage", "cinder", sh.volume_url()),
        entry("network", "neutron", sh.network_url()),
        entry("image", "glance", sh.image_url()),
    ])
}

/// The caller's token (`X-Auth-Token`) and the token asked about (`X-Subject-Token`).
fn subject(sh: &Shared, headers: &HeaderMap) -> Result<(String, Token), ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let caller = header("x-auth-token").ok_or_else(|| unauthorized(sh))?;
    let now = Utc::now();
    let mut world = sh.world();
    world
        .valid_token(&caller, now)
        .ok_or_else(|| unauthorized(sh))?;
    let subject =
        header("x-subject-token").ok_or_else(|| validation("X-Subject-Token", "headers"))?;
    let token = world.valid_token(&subject, now).ok_or_else(|| {
        // Keystone does not echo the token back in the message.
        ApiError::not_found(S, "Could not find token.")
    })?;
    Ok((subject, token))
}

async fn validate(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (id, token) = subject(&sh, &headers)?;
    Ok(with_subject(StatusCode::OK, token_body(&sh, &token), &id))
}

async fn check(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response, ApiError> {
    subject(&sh, &headers)?;
    Ok(StatusCode::OK.into_response())
}

async fn revoke(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (id, _) = subject(&sh, &headers)?;
    sh.world().tokens.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! The HTTP layer: routes the apiserver's URL space onto the store, negotiates the
//! response form (object, Table, PartialObjectMetadata), and streams watches.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};

use super::discovery;
use super::meta;
use super::openapi;
use super::patch::PatchType;
use super::registry::{Builtin, Origin, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, EventType, World};
use super::table::{self, IncludeObject};
use super::write::{DeleteOpts, Deleted, FieldValidation, Sub, WriteCtx};

/// State shared by the handlers and the control-plane loop.
pub struct Shared {
    /// The cluster.
    pub world: Mutex<World>,
    /// Wakes the control-plane loop after writes.
    pub kick: Notify,
    /// Becomes true at shutdown; ends watches.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// `host:port` the server listens on.
    pub server_address: String,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
}

impl Shared {
    /// Locks the world. A poisoned lock means a handler panicked mid-write; the state is
    /// still the last committed one, so serving goes on.
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response {
    let mut resp = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response();
    for w in warnings {
        if let Ok(h) = HeaderValue::from_str(&format!("299 - {}", super::status::quote(w))) {
            resp.headers_mut().append("Warning", h);
        }
    }
    resp
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status(), &[])
}

/// Query parameters, first value wins.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("1" | "true" | "True"))
    }
}

/// The parsed request path of a resource request.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    group: String,
    version: String,
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    sub: Option<String>,
    watch: bool,
}

#[derive(Debug, PartialEq)]
enum Path {
    Version,
    Health,
    Api,
    Apis,
    Group(String),
    GroupVersion(String, String),
    OpenApiIndex,
    OpenApiDoc(String, String),
    OpenApiV2,
    Resource(Route),
}

fn parse_path(path: &str) -> Option<Path> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Some(Path::Version),
        ["healthz" | "readyz" | "livez", ..] => return Some(Path::Health),
        ["api"] => return Some(Path::Api),
        ["apis"] => return Some(Path::Apis),
        ["apis", g] => return Some(Path::Group(g.to_string())),
        ["api", v] => return Some(Path::GroupVersion(String::new(), v.to_string())),
        ["apis", g, v] => return Some(Path::GroupVersion(g.to_string(), v.to_string())),
        ["openapi", "v3"] => return Some(Path::OpenApiIndex),
        ["openapi", "v3", "api", v] => return Some(Path::OpenApiDoc(String::new(), v.to_string())),
        ["openapi", "v3", "apis", g, v] => {
            return Some(Path::OpenApiDoc(g.to_string(), v.to_string()));
        }
        ["openapi", "v2"] => return Some(Path::OpenApiV2),
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return None,
    };
    let (watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let s = |x: &&str| x.to_string();
    let (namespace, resource, name, sub) = match rest {
        ["namespaces"] => (None, "namespaces".into(), None, None),
        ["namespaces", n] => (None, "namespaces".into(), Some(s(n)), None),
        ["namespaces", n, sub @ ("status" | "finalize")] => {
            (None, "namespaces".into(), Some(s(n)), Some(s(sub)))
        }
        ["namespaces", ns, r] => (Some(s(ns)), s(r), None, None),
        ["namespaces", ns, r, n] => (Some(s(ns)), s(r), Some(s(n)), None),
        ["namespaces", ns, r, n, sub] => (Some(s(ns)), s(r), Some(s(n)), Some(s(sub))),
        [r] => (None, s(r), None, None),
        [r, n] => (None, s(r), Some(s(n)), None),
        [r, n, sub] => (None, s(r), Some(s(n)), Some(s(sub))),
        _ => return None,
    };
    Some(Path::Resource(Route {
        group: group.into(),
        version: version.into(),
        namespace,
        resource,
        name,
        sub,
        watch,
    }))
}

/// The response form a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Object,
    Table(&'static str),
    PartialMetadata,
}

fn negotiate(headers: &HeaderMap) -> Result<Form, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    for entry in accept.split(',') {
        let params: Vec<&str> = entry.split(';').map(str::trim).collect();
        let media = params.first().copied().unwrap_or_default();
        let p = |k: &str| params.iter().find_map(|x| x.strip_prefix(&format!("{k}=")));
        match (media, p("as"), p("g"), p("v")) {
            ("application/json", Some("Table"), Some("meta.k8s.io"), Some("v1")) => {
                return Ok(Form::Table("meta.k8s.io/v1"));
            }
            ("application/json", Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) => {
                return Ok(Form::Table("meta.k8s.io/v1beta1"));
            }
            (
                "application/json",
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                _,
            ) => {
                return Ok(Form::PartialMetadata);
            }
            ("application/json" | "*/*" | "application/*" | "application/yaml", None, _, _) => {
                return Ok(Form::Object);
            }
            _ => {}
        }
    }
    Err(ApiError {
        code: 406,
        reason: "NotAcceptable",
        message: format!(
            "only the following media types are accepted: application/json, application/yaml (got {accept})"
        ),
        details: None,
    })
}

fn include_object(q: &Query) -> IncludeObject {
    match q.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = ct.split(';').next().unwrap_or_default().trim();
    match media {
        "application/json" | "" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}"))),
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode_object(body),
        "application/yaml" => {
            let text =
                std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            serde_yaml::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        }
        other => Err(ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
            ),
            details: None,
        }),
    }
}

fn write_ctx(q: &Query, headers: &HeaderMap) -> Result<WriteCtx, ApiError> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let given = q.get("fieldManager").map(String::from);
    let manager = given.clone().unwrap_or_else(|| {
        agent
            .split('/')
            .next()
            .unwrap_or(agent)
            .chars()
            .take(128)
            .collect()
    });
    let field_validation = match q.get("fieldValidation") {
        None | Some("Warn") | Some("") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {}: supported values: \"Ignore\", \"Warn\", \"Strict\"",
                super::status::quote(other)
            )));
        }
    };
    let dry_run = match q.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {}",
                super::status::quote(other)
            )));
        }
    };
    Ok(WriteCtx {
        dry_run,
        manager_given: given.is_some(),
        manager,
        field_validation,
        force: q.flag("force"),
        warnings: Vec::new(),
    })
}

fn field_selector_fields(t: &ResourceType) -> Vec<&'static str> {
    let mut f = vec!["metadata.name", "metadata.namespace"];
    match t.origin {
        Origin::Builtin(Builtin::CoreEvent | Builtin::EventsEvent) => f.extend([
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ]),
        Origin::Builtin(Builtin::Secret) => f.push("type"),
        Origin::Builtin(Builtin::Namespace) => f.push("status.phase"),
        _ => {}
    }
    f
}

fn selectors(t: &ResourceType, q: &Query) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let ls = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?;
    let raw = q.get("fieldSelector").unwrap_or_default();
    let raw = if t.origin == Origin::Builtin(Builtin::EventsEvent) {
        raw.replace("regarding.", "involvedObject.")
            .replace("reportingController", "reportingComponent")
            .replace("deprecatedSource", "source")
    } else {
        raw.to_string()
    };
    let fs = FieldSelector::parse(&raw, &field_selector_fields(t))?;
    Ok((ls, fs))
}

/// The axum handler for everything.
pub async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let resp = match route(&s, &method, &uri, &headers, &body).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    tracing::debug!(%method, %uri, status = resp.status().as_u16(), "kube-emulator request");
    resp
}

async fn route(
    s: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query());
    let path = parse_path(uri.path()).ok_or_else(ApiError::no_route)?;
    let wants_aggregated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|first| first.contains("as=APIGroupDiscoveryList"))
        });
    if !matches!(path, Path::Resource(_)) && method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let ok = |v: Value| Ok(json_response(200, &v, &[]));
    match path {
        Path::Version => ok(discovery::version()),
        Path::Health => Ok((StatusCode::OK, "ok").into_response()),
        Path::Api | Path::Apis if wants_aggregated => {
            let w = s.lock();
            let doc = discovery::aggregated(&w.registry, path == Path::Api);
            let mut r = json_response(200, &doc, &[]);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
            );
            Ok(r)
        }
        Path::Api => ok(discovery::api_versions(&s.server_address)),
        Path::Apis => ok(discovery::group_list(&s.lock().registry)),
        Path::Group(g) => {
            discovery::group(&s.lock().registry, &g).map_or_else(|| Err(ApiError::no_route()), ok)
        }
        Path::GroupVersion(g, v) => discovery::resource_list(&s.lock().registry, &g, &v)
            .map_or_else(|| Err(ApiError::no_route()), ok),
        Path::OpenApiIndex => ok(openapi::index(&s.lock().registry)),
        Path::OpenApiDoc(g, v) => {
            let registry = s.lock().registry.clone();
            openapi::group_version_doc(&registry, &g, &v)
                .map_or_else(|| Err(ApiError::no_route()), ok)
        }
        Path::OpenApiV2 => Err(ApiError::no_route()),
        Path::Resource(r) => resource(s, method, &r, &q, headers, body).await,
    }
}

async fn resource(
    s: &Arc<Shared>,
    method: &Method,
    r: &Route,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let t = {
        let w = s.lock();
        w.registry.get(&r.group, &r.version, &r.resource).cloned()
    }
    .ok_or_else(ApiError::no_route)?;
    if r.namespace.is_some() && !t.namespaced {
        return Err(ApiError::no_route());
    }
    if t.namespaced && r.namespace.is_none() && (r.name.is_some() || *method == Method::POST) {
        return Err(ApiError::no_route());
    }
    let ns = r.namespace.clone().unwrap_or_default();
    let sub = match r.sub.as_deref() {
        None => None,
        Some("status") if t.status_subresource => Some(Sub::Status),
        Some("scale") if t.scale.is_some() => None,
        Some("finalize") if t.kind == "Namespace" => Some(Sub::Main),
        Some(_) => return Err(ApiError::no_route()),
    };
    if r.sub.as_deref() == Some("scale") {
        let name = r.name.as_deref().unwrap_or_default();
        return scale(s, method, &t, &ns, name, q, headers, body);
    }
    let form = negotiate(headers)?;
    match (method.clone(), r.name.as_deref()) {
        (Method::GET, None) if r.watch || q.flag("watch") => {
            watch(s, &t, r.namespace.as_deref(), q, form)
        }
        (Method::GET, None) => list(s, &t, r.namespace.as_deref(), q, form),
        (Method::GET, Some(name)) if r.watch => {
            let mut q2 = Query(q.0.clone());
            q2.0.push(("fieldSelector".into(), format!("metadata.name={name}")));
            watch(s, &t, r.namespace.as_deref(), &q2, form)
        }
        (Method::GET, Some(name)) => {
            let w = s.lock();
            let obj = w
                .get(&World::key(&t, &ns, name))
                .ok_or_else(|| ApiError::not_found(&t.gr(), name))?;
            let v = World::present(&t, obj);
            Ok(json_response(
                200,
                &render_one(&t, &v, form, q, &w.rv().to_string()),
                &[],
            ))
        }
        (Method::POST, None) => {
            let obj = parse_body(headers, body)?;
            let mut ctx = write_ctx(q, headers)?;
            let created = s.lock().create(&t, &ns, obj, &mut ctx)?;
            s.kick.notify_one();
            Ok(json_response(
                201,
                &render_one(&t, &created, form, q, ""),
                &ctx.warnings,
            ))
        }
        (Method::PUT, Some(name)) => {
            let obj = parse_body(headers, body)?;
            let mut ctx = write_ctx(q, headers)?;
            let sub = sub.unwrap_or(Sub::Main);
            let updated = s.lock().update(&t, &ns, name, obj, sub, &mut ctx)?;
            s.kick.notify_one();
            Ok(json_response(
                200,
                &render_one(&t, &updated, form, q, ""),
                &ctx.warnings,
            ))
        }
        (Method::PATCH, Some(name)) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let ptype = PatchType::from_content_type(ct).ok_or_else(|| {
                ApiError::unsupported_patch(
                    ct,
                    &[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/strategic-merge-patch+json",
                        "application/apply-patch+yaml",
                    ],
                )
            })?;
            let mut ctx = write_ctx(q, headers)?;
            let sub = sub.unwrap_or(Sub::Main);
            let (patched, created) = {
                let mut w = s.lock();
                let existed = w.get(&World::key(&t, &ns, name)).is_some();
                let out = w.patch(&t, &ns, name, ptype, body, sub, &mut ctx)?;
                (out, !existed)
            };
            s.kick.notify_one();
            let code = if created { 201 } else { 200 };
            Ok(json_response(
                code,
                &render_one(&t, &patched, form, q, ""),
                &ctx.warnings,
            ))
        }
        (Method::DELETE, Some(name)) => {
            let opts = delete_opts(q, headers, body)?;
            let dry = write_ctx(q, headers)?.dry_run;
            let out = s.lock().delete(&t, &ns, name, &opts, dry)?;
            s.kick.notify_one();
            Ok(match out {
                Deleted::Object(v, code) => json_response(code, &v, &[]),
                Deleted::Status(v) => json_response(200, &v, &[]),
            })
        }
        (Method::DELETE, None) => {
            let opts = delete_opts(q, headers, body)?;
            let dry = write_ctx(q, headers)?.dry_run;
            let (ls, fs) = selectors(&t, q)?;
            let mut w = s.lock();
            let names: Vec<(String, String)> = w
                .list(&t.storage, r.namespace.as_deref())
                .iter()
                .filter(|o| ls.matches(o) && fs.matches(o))
                .map(|o| {
                    (
                        meta::meta_str(o, "namespace").to_string(),
                        meta::name(o).to_string(),
                    )
                })
                .collect();
            let mut items = Vec::new();
            for (ons, name) in names {
                if let Ok(Deleted::Object(v, _)) = w.delete(&t, &ons, &name, &opts, dry) {
                    items.push(v);
                }
            }
            let rv = w.rv().to_string();
            drop(w);
            s.kick.notify_one();
            Ok(json_response(200, &list_body(&t, items, &rv, None), &[]))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn delete_opts(q: &Query, headers: &HeaderMap, body: &Bytes) -> Result<DeleteOpts, ApiError> {
    let b: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(headers, body)?
    };
    Ok(DeleteOpts {
        propagation: b["propagationPolicy"]
            .as_str()
            .map(String::from)
            .or_else(|| q.get("propagationPolicy").map(String::from)),
        orphan_dependents: b["orphanDependents"]
            .as_bool()
            .or_else(|| q.get("orphanDependents").map(|v| v == "true")),
        uid: b["preconditions"]["uid"].as_str().map(String::from),
        resource_version: b["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
    })
}

fn render_one(t: &ResourceType, v: &Value, form: Form, q: &Query, rv: &str) -> Value {
    match form {
        Form::Object => v.clone(),
        Form::Table(api_version) => {
            let mut tb = table::table(t, std::slice::from_ref(v), rv, None, include_object(q));
            tb["apiVersion"] = json!(api_version);
            tb
        }
        Form::PartialMetadata => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]})
        }
    }
}

fn list_body(
    t: &ResourceType,
    items: Vec<Value>,
    rv: &str,
    cont: Option<(String, usize)>,
) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if !t.is_custom()
                && let Some(m) = i.as_object_mut()
            {
                m.remove("kind");
                m.remove("apiVersion");
            }
            i
        })
        .collect();
    let mut md = json!({"resourceVersion": rv});
    if let Some((c, remaining)) = cont {
        md["continue"] = json!(c);
        md["remainingItemCount"] = json!(remaining);
    }
    json!({"kind": t.list_kind, "apiVersion": t.api_version(), "metadata": md, "items": items})
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    use base64::Engine;
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{ns}/{name}\u{0}")});
    base64::engine::general_purpose::STANDARD.encode(token.to_string())
}

fn decode_continue(c: &str) -> Result<(u64, String, String), ApiError> {
    use base64::Engine;
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(c)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let start = v["start"]
        .as_str()
        .ok_or_else(bad)?
        .trim_end_matches('\u{0}');
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((rv, ns.to_string(), name.to_string()))
}

fn list(
    s: &Arc<Shared>,
    t: &ResourceType,
    ns: Option<&str>,
    q: &Query,
    form: Form,
) -> Result<Response, ApiError> {
    let (ls, fs) = selectors(t, q)?;
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let w = s.lock();
    let (snapshot_rv, after, objects) = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let (rv, cns, cname) = decode_continue(c)?;
            let objs = w.list_at(&t.storage, ns, rv).map_err(|_| {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            })?;
            (rv, Some((cns, cname)), objs)
        }
        None => match (q.get("resourceVersion"), q.get("resourceVersionMatch")) {
            (Some(rv), Some("Exact")) => {
                let rv: u64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?;
                (rv, None, w.list_at(&t.storage, ns, rv)?)
            }
            _ => (w.rv(), None, w.list(&t.storage, ns)),
        },
    };
    drop(w);
    let mut matching = objects
        .iter()
        .filter(|o| ls.matches(o) && fs.matches(o))
        .filter(|o| match &after {
            Some((cns, cname)) => {
                (meta::meta_str(o, "namespace"), meta::name(o)) > (cns.as_str(), cname.as_str())
            }
            None => true,
        });
    let page: Vec<Value> = matching
        .by_ref()
        .take(limit)
        .map(|o| World::present(t, o))
        .collect();
    let remaining = matching.count();
    let cont = if remaining > 0 {
        page.last().map(|last| {
            (
                encode_continue(
                    snapshot_rv,
                    meta::meta_str(last, "namespace"),
                    meta::name(last),
                ),
                remaining,
            )
        })
    } else {
        None
    };
    let rv = snapshot_rv.to_string();
    let body = match form {
        Form::Object => list_body(t, page, &rv, cont),
        Form::Table(api_version) => {
            let mut tb = table::table(
                t,
                &page,
                &rv,
                cont.as_ref().map(|c| c.0.as_str()),
                include_object(q),
            );
            tb["apiVersion"] = json!(api_version);
            tb
        }
        Form::PartialMetadata => {
            let items: Vec<Value> = page
                .iter()
                .map(|o| json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}))
                .collect();
            let mut md = json!({"resourceVersion": rv});
            if let Some((c, _)) = &cont {
                md["continue"] = json!(c);
            }
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": md, "items": items})
        }
    };
    Ok(json_response(200, &body, &[]))
}

/// What a watch filters on.
struct WatchFilter {
    t: ResourceType,
    ns: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
    form: Form,
    include: IncludeObject,
}

impl WatchFilter {
    fn matches(&self, key_ns: &str, obj: &Value) -> bool {
        self.ns.as_deref().is_none_or(|n| n == key_ns)
            && self.ls.matches(obj)
            && self.fs.matches(obj)
    }

    fn render(&self, obj: &Value) -> Value {
        let v = World::present(&self.t, obj);
        match self.form {
            Form::Object => v,
            Form::Table(api_version) => {
                let mut tb = table::table(
                    &self.t,
                    std::slice::from_ref(&v),
                    meta::meta_str(&v, "resourceVersion"),
                    None,
                    self.include,
                );
                tb["apiVersion"] = json!(api_version);
                tb
            }
            Form::PartialMetadata => {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]})
            }
        }
    }

    fn event(&self, c: &Change) -> Option<String> {
        if c.key.storage != self.t.storage {
            return None;
        }
        let now = self.matches(&c.key.namespace, &c.object);
        let before = c
            .prev
            .as_ref()
            .is_some_and(|p| self.matches(&c.key.namespace, p));
        let kind = match (c.event, before, now) {
            (EventType::Added, _, true) => EventType::Added,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) => EventType::Deleted,
            (EventType::Deleted, true, _) => EventType::Deleted,
            _ => return None,
        };
        Some(line(kind.as_str(), &self.render(&c.object)))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> String {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.t.kind, "apiVersion": self.t.api_version(), "metadata": md}),
        )
    }
}

fn line(kind: &str, obj: &Value) -> String {
    let mut s = json!({"type": kind, "object": obj}).to_string();
    s.push('\n');
    s
}

fn watch(
    s: &Arc<Shared>,
    t: &ResourceType,
    ns: Option<&str>,
    q: &Query,
    form: Form,
) -> Result<Response, ApiError> {
    let (ls, fs) = selectors(t, q)?;
    let filter = WatchFilter {
        t: t.clone(),
        ns: ns.map(String::from),
        ls,
        fs,
        form,
        include: include_object(q),
    };
    let bookmarks = q.flag("allowWatchBookmarks");
    let initial_events = q.flag("sendInitialEvents");
    if initial_events && (q.get("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks) {
        return Err(ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            &[super::status::FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan and allowWatchBookmarks is set",
            )],
        ));
    }
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv_param = q.get("resourceVersion").filter(|r| !r.is_empty());
    let mut first: Vec<String> = Vec::new();
    let (backlog, rx, start_rv) = {
        let w = s.lock();
        let start: u64 = match rv_param {
            Some(r) if !(initial_events || r == "0") => r
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {r}")))?,
            _ => {
                for o in w.list(&t.storage, ns) {
                    let key_ns = meta::meta_str(&o, "namespace").to_string();
                    if filter.matches(&key_ns, &o) {
                        first.push(line("ADDED", &filter.render(&o)));
                    }
                }
                if initial_events {
                    first.push(filter.bookmark(w.rv(), true));
                }
                w.rv()
            }
        };
        match w.watch_from(start) {
            Ok((backlog, rx)) => (backlog, Some(rx), start),
            Err(e) => {
                first.push(line("ERROR", &e.to_status()));
                (Vec::new(), None, start)
            }
        }
    };
    for c in &backlog {
        if let Some(l) = filter.event(c) {
            first.push(l);
        }
    }
    let last_rv = backlog.last().map(|c| c.rv).unwrap_or(start_rv);
    let shared = s.clone();
    let mut shutdown = s.shutdown.clone();
    let interval = s.bookmark_interval;
    let stream = async_stream(
        first,
        rx,
        filter,
        shared,
        timeout,
        interval,
        bookmarks,
        last_rv,
        &mut shutdown,
    );
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
fn async_stream(
    first: Vec<String>,
    rx: Option<broadcast::Receiver<Arc<Change>>>,
    filter: WatchFilter,
    shared: Arc<Shared>,
    timeout: Duration,
    interval: Duration,
    bookmarks: bool,
    last_rv: u64,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + use<> {
    let shutdown = shutdown.clone();
    futures::stream::unfold(
        (
            first.into_iter(),
            rx,
            filter,
            shared,
            shutdown,
            last_rv,
            tokio::time::Instant::now() + timeout,
        ),
        move |(mut first, mut rx, filter, shared, mut shutdown, mut last, deadline)| async move {
            if let Some(l) = first.next() {
                return Some((
                    Ok(Bytes::from(l)),
                    (first, rx, filter, shared, shutdown, last, deadline),
                ));
            }
            let receiver = rx.as_mut()?;
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                let tick = tokio::time::sleep(interval);
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return None,
                    _ = shutdown.changed() => return None,
                    _ = tick, if bookmarks => {
                        let rv = shared.lock().rv();
                        let l = filter.bookmark(rv.max(last), false);
                        return Some((Ok(Bytes::from(l)), (first, rx, filter, shared, shutdown, last, deadline)));
                    }
                    msg = receiver.recv() => match msg {
                        Ok(c) => {
                            if c.rv <= last {
                                continue;
                            }
                            last = c.rv;
                            if let Some(l) = filter.event(&c) {
                                return Some((Ok(Bytes::from(l)), (first, rx, filter, shared, shutdown, last, deadline)));
                            }
                        }
                        // A watcher that fell behind is closed; the client resumes from its
                        // last resourceVersion, as with a real apiserver's watch cache.
                        Err(_) => return None,
                    }
                }
            }
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn scale(
    s: &Arc<Shared>,
    method: &Method,
    t: &ResourceType,
    ns: &str,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let spec = t.scale.clone().ok_or_else(ApiError::no_route)?;
    let path_of = |p: &str| {
        p.trim_start_matches('.')
            .split('.')
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let get_at = |v: &Value, p: &str| {
        let mut cur = v;
        for seg in path_of(p) {
            cur = &cur[seg.as_str()];
        }
        cur.clone()
    };
    let to_scale = |o: &Value| {
        let selector = match &spec.label_selector_path {
            Some(p) => get_at(o, p),
            None => {
                let sel = &o["spec"]["selector"];
                LabelSelector::from_label_selector_object(sel)
                    .map(|l| json!(l.to_query()))
                    .unwrap_or(Value::Null)
            }
        };
        let mut status =
            json!({"replicas": get_at(o, &spec.status_replicas_path).as_i64().unwrap_or(0)});
        if selector.is_string() {
            status["selector"] = selector;
        }
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"], "uid": o["metadata"]["uid"],
                "resourceVersion": o["metadata"]["resourceVersion"], "creationTimestamp": o["metadata"]["creationTimestamp"],
            },
            "spec": {"replicas": get_at(o, &spec.spec_replicas_path).as_i64().unwrap_or(0)},
            "status": status,
        })
    };
    let mut w = s.lock();
    let current = w
        .get(&World::key(t, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&t.gr(), name))?;
    let current_scale = to_scale(&current);
    let new_scale = match *method {
        Method::GET => return Ok(json_response(200, &current_scale, &[])),
        Method::PUT => parse_body(headers, body)?,
        Method::PATCH => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let mut doc = current_scale.clone();
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            match PatchType::from_content_type(ct) {
                Some(PatchType::Json) => super::patch::json_patch(&mut doc, &patch)?,
                Some(PatchType::Merge | PatchType::Strategic) => {
                    super::patch::merge_patch(&mut doc, &patch)
                }
                _ => {
                    return Err(ApiError::unsupported_patch(
                        ct,
                        &[
                            "application/json-patch+json",
                            "application/merge-patch+json",
                        ],
                    ));
                }
            }
            doc
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let rv = meta::meta_str(&new_scale, "resourceVersion");
    if !rv.is_empty() && rv != meta::meta_str(&current, "resourceVersion") {
        return Err(ApiError::conflict_modified(&t.gr(), name));
    }
    let replicas = new_scale["spec"]["replicas"].clone();
    let mut merge = json!({});
    let mut cur = &mut merge;
    for seg in path_of(&spec.spec_replicas_path) {
        cur = &mut cur[seg.as_str()];
    }
    *cur = replicas;
    let mut ctx = write_ctx(q, headers)?;
    let updated = w.patch(
        t,
        ns,
        name,
        PatchType::Merge,
        merge.to_string().as_bytes(),
        Sub::Main,
        &mut ctx,
    )?;
    drop(w);
    s.kick.notify_one();
    Ok(json_response(200, &to_scale(&updated), &ctx.warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_like_the_apiserver() {
        let r = |p: &str| match parse_path(p) {
            Some(Path::Resource(r)) => r,
            other => panic!("{p}: {other:?}"),
        };
        let a = r("/api/v1/namespaces/default/configmaps/x");
        assert_eq!(
            (
                a.namespace.as_deref(),
                a.resource.as_str(),
                a.name.as_deref()
            ),
            (Some("default"), "configmaps", Some("x"))
        );
        let b = r("/api/v1/namespaces/foo/status");
        assert_eq!(
            (b.resource.as_str(), b.name.as_deref(), b.sub.as_deref()),
            ("namespaces", Some("foo"), Some("status"))
        );
        let c = r("/apis/storage.glusterops.dev/v1alpha1/namespaces/ns/glusterclusters/g/status");
        assert_eq!(
            (c.group.as_str(), c.sub.as_deref()),
            ("storage.glusterops.dev", Some("status"))
        );
        let d = r("/api/v1/watch/namespaces/ns/events");
        assert!(d.watch);
        assert_eq!(parse_path("/apis"), Some(Path::Apis));
        assert_eq!(
            parse_path("/openapi/v3/apis/apps/v1"),
            Some(Path::OpenApiDoc("apps".into(), "v1".into()))
        );
    }

    #[test]
    fn continue_tokens_round_trip() {
        let c = encode_continue(42, "ns", "name");
        assert_eq!(
            decode_continue(&c).unwrap(),
            (42, "ns".into(), "name".into())
        );
        assert!(decode_continue("garbage").is_err());
    }
}

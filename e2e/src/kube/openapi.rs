//! OpenAPI v3: the `/openapi/v3` index and one document per group-version, with the
//! component schemas `kubectl explain` reads (built-ins from k8s-openapi's schemas, custom
//! resources from their CRD schema) and PATCH operations declaring `fieldValidation`, which
//! is how kubectl decides to ask for server-side field validation.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::hash::{Hash, Hasher};

use super::registry::{Builtin, Origin, Registry, ResourceType};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| {
            s.meta_schema = None;
        })
        .into_generator()
}

/// The component schema name of a type.
pub fn definition_name(t: &ResourceType) -> String {
    if let Origin::Builtin(_) = t.origin {
        let pkg = match t.group.as_str() {
            "" => "core".to_string(),
            "apiextensions.k8s.io" => {
                return format!(
                    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}",
                    t.version, t.kind
                );
            }
            g => g.split('.').next().unwrap_or(g).to_string(),
        };
        return format!("io.k8s.api.{pkg}.{}.{}", t.version, t.kind);
    }
    let reversed: Vec<&str> = t.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), t.version, t.kind)
}

fn builtin_schema(g: &mut SchemaGenerator, t: &ResourceType) {
    use k8s_openapi::api;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    let Origin::Builtin(b) = t.origin else { return };
    match (b, t.kind.as_str()) {
        (Builtin::Namespace, _) => drop(g.subschema_for::<api::core::v1::Namespace>()),
        (Builtin::Secret, _) => drop(g.subschema_for::<api::core::v1::Secret>()),
        (Builtin::ConfigMap, _) => drop(g.subschema_for::<api::core::v1::ConfigMap>()),
        (Builtin::CoreEvent, _) => drop(g.subschema_for::<api::core::v1::Event>()),
        (Builtin::EventsEvent, _) => drop(g.subschema_for::<api::events::v1::Event>()),
        (Builtin::ServiceAccount, _) => drop(g.subschema_for::<api::core::v1::ServiceAccount>()),
        (Builtin::Service, _) => drop(g.subschema_for::<api::core::v1::Service>()),
        (Builtin::Deployment, _) => drop(g.subschema_for::<api::apps::v1::Deployment>()),
        (Builtin::Lease, _) => drop(g.subschema_for::<api::coordination::v1::Lease>()),
        (Builtin::Crd, _) => drop(g.subschema_for::<apiext::CustomResourceDefinition>()),
        (Builtin::Rbac, "Role") => drop(g.subschema_for::<api::rbac::v1::Role>()),
        (Builtin::Rbac, "ClusterRole") => drop(g.subschema_for::<api::rbac::v1::ClusterRole>()),
        (Builtin::Rbac, "RoleBinding") => drop(g.subschema_for::<api::rbac::v1::RoleBinding>()),
        (Builtin::Rbac, _) => drop(g.subschema_for::<api::rbac::v1::ClusterRoleBinding>()),
    }
}

fn crd_schema(t: &ResourceType) -> Value {
    let mut s = t
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    let props = s["properties"].as_object().cloned().unwrap_or_default();
    let mut p = Map::new();
    p.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
    p.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
    p.insert("metadata".into(), json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
    for (k, v) in props {
        if k != "metadata" {
            p.insert(k, v);
        }
    }
    s["properties"] = Value::Object(p);
    s
}

fn gvk(t: &ResourceType) -> Value {
    json!({"group": t.group, "version": t.version, "kind": t.kind})
}

fn param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn paths_for(t: &ResourceType, def: &str, paths: &mut Map<String, Value>) {
    let base = if t.group.is_empty() {
        format!("/api/{}", t.version)
    } else {
        format!("/apis/{}/{}", t.group, t.version)
    };
    let collection = if t.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", t.plural)
    } else {
        format!("{base}/{}", t.plural)
    };
    let item = format!("{collection}/{{name}}");
    let body = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{def}")}}}});
    let ok = json!({"200": body});
    let write_params = vec![
        param(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
        ),
        param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default), Strict.",
        ),
    ];
    let mut patch_params = write_params.clone();
    patch_params.push(param(
        "force",
        "Force is going to \"force\" Apply requests.",
    ));
    let op = |action: &str, params: &[Value]| {
        json!({
            "description": format!("{action} {}", t.kind),
            "parameters": params,
            "responses": ok,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk(t),
        })
    };
    paths.insert(
        collection,
        json!({"get": op("list", &[]), "post": op("post", &write_params)}),
    );
    paths.insert(
        item,
        json!({
            "get": op("get", &[]),
            "put": op("put", &write_params),
            "patch": op("patch", &patch_params),
            "delete": op("delete", &[param("dryRun", "When present, indicates that modifications should not be persisted.")]),
        }),
    );
}

/// The OpenAPI v3 document of one group-version, or `None` when it is not served.
pub fn group_version_doc(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = registry
        .all()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut g = generator();
    drop(g.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>());
    let mut paths = Map::new();
    let mut custom = Vec::new();
    for t in &types {
        let def = definition_name(t);
        match t.origin {
            Origin::Builtin(_) => builtin_schema(&mut g, t),
            Origin::Crd { .. } => custom.push((def.clone(), crd_schema(t))),
        }
        paths_for(t, &def, &mut paths);
    }
    let mut schemas = g.take_definitions(true);
    for (def, s) in custom {
        schemas.insert(def, s);
    }
    for t in &types {
        if let Some(s) = schemas.get_mut(&definition_name(t)) {
            s["x-kubernetes-group-version-kind"] = json!([gvk(t)]);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn hash_of(v: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// The `/openapi/v3` index: one entry per served group-version, each with a content hash.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, version) in registry.group_versions().keys() {
        let rel = if group.is_empty() {
            format!("api/{version}")
        } else {
            format!("apis/{group}/{version}")
        };
        let hash = group_version_doc(registry, group, version)
            .map(|d| hash_of(&d))
            .unwrap_or_default();
        paths.insert(
            rel.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{rel}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

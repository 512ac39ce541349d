//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`, and
//! the aggregated form (`apidiscovery.k8s.io/v2`) that kubectl asks for first.

use serde_json::{Value, json};

use super::registry::{Registry, ResourceType};

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": "v1.35.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn api_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

fn subresources(t: &ResourceType) -> Vec<(&'static str, String, String, String)> {
    let mut out = Vec::new();
    if t.status_subresource {
        out.push(("status", t.group.clone(), t.version.clone(), t.kind.clone()));
    }
    if t.scale.is_some() {
        out.push(("scale", "autoscaling".into(), "v1".into(), "Scale".into()));
    }
    out
}

fn resource_entries(t: &ResourceType) -> Vec<Value> {
    let mut r = json!({
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": t.verbs(),
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    let mut out = vec![r];
    for (sub, g, v, k) in subresources(t) {
        let mut s = json!({
            "name": format!("{}/{sub}", t.plural),
            "singularName": "",
            "namespaced": t.namespaced,
            "kind": k,
            "verbs": ["get", "patch", "update"],
        });
        if sub == "scale" {
            s["group"] = json!(g);
            s["version"] = json!(v);
        }
        out.push(s);
    }
    out
}

/// `/api/v1` or `/apis/G/V`.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let gv = registry.group_versions();
    let types = gv.get(&(group.to_string(), version.to_string()))?;
    let resources: Vec<Value> = types.iter().flat_map(|t| resource_entries(t)).collect();
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut v =
        json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": resources});
    if !group.is_empty() {
        v["apiVersion"] = json!("v1");
    }
    Some(v)
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs.clone(), "preferredVersion": vs[0]})
}

fn groups(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (g, v) in registry.group_versions().keys() {
        if g.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(n, _)| n == g) {
            Some((_, vs)) => vs.push(v.clone()),
            None => out.push((g.clone(), vec![v.clone()])),
        }
    }
    for (g, vs) in out.iter_mut() {
        // The storage version (a CRD's first listed served version) is preferred; order
        // by the kube-like version priority otherwise.
        let preferred = registry
            .all()
            .find(|t| &t.group == g && t.storage_version)
            .map(|t| t.version.clone());
        vs.sort_by_key(|v| (Some(v) != preferred.as_ref(), v.clone()));
    }
    out
}

/// `/apis`.
pub fn group_list(registry: &Registry) -> Value {
    let gs: Vec<Value> = groups(registry)
        .iter()
        .map(|(n, vs)| group_entry(n, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

/// `/apis/G`.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (n, vs) = groups(registry).into_iter().find(|(n, _)| n == name)?;
    let mut g = group_entry(&n, &vs);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

/// The content type of aggregated discovery responses.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn discovery_resource(t: &ResourceType) -> Value {
    let mut r = json!({
        "resource": t.plural,
        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular,
        "verbs": t.verbs(),
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    let subs: Vec<Value> = subresources(t)
        .into_iter()
        .map(|(sub, g, v, k)| {
            json!({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": ["get", "patch", "update"]})
        })
        .collect();
    if !subs.is_empty() {
        r["subresources"] = json!(subs);
    }
    r
}

/// Aggregated discovery: `/api` (core only) or `/apis` (every named group).
pub fn aggregated(registry: &Registry, core: bool) -> Value {
    let gv = registry.group_versions();
    let names: Vec<(String, Vec<String>)> = if core {
        vec![(String::new(), vec!["v1".into()])]
    } else {
        groups(registry)
    };
    let items: Vec<Value> = names
        .iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = gv
                        .get(&(g.clone(), v.clone()))
                        .map(|ts| ts.iter().map(|t| discovery_resource(t)).collect())
                        .unwrap_or_default();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

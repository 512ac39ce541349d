//! The `meta.k8s.io/v1` Table form of list and get responses: a Name column, then the
//! CRD's additionalPrinterColumns (or a built-in's columns), ages as kubectl prints them.

use serde_json::{Value, json};

use super::jsonpath::JsonPath;
use super::meta;
use super::registry::{Builtin, Origin, PrinterColumn, ResourceType};

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// How much of each object a Table row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

/// `duration.HumanDuration` of the apiserver's printers.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(ts: &Value) -> Value {
    match ts
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    {
        Some(t) => json!(human_duration(
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()
        )),
        None => json!("<unknown>"),
    }
}

fn col(name: &str, type_: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": type_, "format": "", "description": description, "priority": priority})
}

fn builtin_columns(kind: Builtin, kind_name: &str) -> Vec<Value> {
    let age_col = col(
        "Age",
        "string",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        0,
    );
    match kind {
        Builtin::Namespace => vec![
            col("Status", "string", "The status of the namespace", 0),
            age_col,
        ],
        Builtin::Secret => vec![
            col("Type", "string", "The type of the secret", 0),
            col("Data", "string", "The number of entries in the secret", 0),
            age_col,
        ],
        Builtin::ConfigMap => vec![
            col("Data", "string", "Data contains the configuration data.", 0),
            age_col,
        ],
        Builtin::ServiceAccount => vec![age_col],
        Builtin::Service => vec![
            col(
                "Type",
                "string",
                "Type determines how the Service is exposed.",
                0,
            ),
            col(
                "Cluster-IP",
                "string",
                "clusterIP is the IP address of the service.",
                0,
            ),
            col(
                "External-IP",
                "string",
                "List of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                0,
            ),
            col(
                "Port(s)",
                "string",
                "The list of ports that are exposed by this service.",
                0,
            ),
            age_col,
            col(
                "Selector",
                "string",
                "Route service traffic to pods with label keys and values matching this selector.",
                1,
            ),
        ],
        Builtin::Deployment => vec![
            col("Ready", "string", "Number of the pod with ready state", 0),
            col(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                0,
            ),
            col(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                0,
            ),
            age_col,
            col(
                "Containers",
                "string",
                "Names of each container in the template.",
                1,
            ),
            col(
                "Images",
                "string",
                "Images referenced by each container in the template.",
                1,
            ),
            col(
                "Selector",
                "string",
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
                1,
            ),
        ],
        Builtin::Lease => vec![
            col(
                "Holder",
                "string",
                "holderIdentity contains the identity of the holder of a current lease.",
                0,
            ),
            age_col,
        ],
        Builtin::Crd => vec![col(
            "Created At",
            "date",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
            0,
        )],
        Builtin::Rbac if kind_name.ends_with("Binding") => vec![
            col(
                "Role",
                "string",
                "Role is the role the binding refers to.",
                0,
            ),
            age_col,
            col("Users", "string", "Users in the binding.", 1),
            col("Groups", "string", "Groups in the binding.", 1),
            col(
                "ServiceAccounts",
                "string",
                "ServiceAccounts in the binding.",
                1,
            ),
        ],
        Builtin::Rbac => vec![col(
            "Created At",
            "string",
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
            0,
        )],
        Builtin::CoreEvent | Builtin::EventsEvent => vec![],
    }
}

fn joined(v: &Value, f: impl Fn(&Value) -> String) -> String {
    v.as_array()
        .map(|a| a.iter().map(f).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

fn builtin_cells(kind: Builtin, o: &Value) -> Vec<Value> {
    if kind == Builtin::Rbac && o["roleRef"].is_object() {
        let subjects = |k: &str| {
            let names: Vec<String> = o["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["kind"] == k)
                .map(|s| match s["namespace"].as_str() {
                    Some(ns) if k == "ServiceAccount" => {
                        format!("{ns}/{}", s["name"].as_str().unwrap_or_default())
                    }
                    _ => s["name"].as_str().unwrap_or_default().to_string(),
                })
                .collect();
            json!(names.join(", "))
        };
        return vec![
            json!(format!(
                "{}/{}",
                o["roleRef"]["kind"].as_str().unwrap_or_default(),
                o["roleRef"]["name"].as_str().unwrap_or_default()
            )),
            age(&o["metadata"]["creationTimestamp"]),
            subjects("User"),
            subjects("Group"),
            subjects("ServiceAccount"),
        ];
    }
    let a = age(&o["metadata"]["creationTimestamp"]);
    let count = |v: &Value| v.as_object().map(|m| m.len()).unwrap_or(0);
    match kind {
        Builtin::Namespace => vec![o["status"]["phase"].clone(), a],
        Builtin::Secret => vec![o["type"].clone(), json!(count(&o["data"])), a],
        Builtin::ConfigMap => vec![json!(count(&o["data"]) + count(&o["binaryData"])), a],
        Builtin::ServiceAccount => vec![a],
        Builtin::Service => {
            let ports = joined(&o["spec"]["ports"], |p| {
                format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
            });
            let external = joined(&o["spec"]["externalIPs"], |x| {
                x.as_str().unwrap_or_default().to_string()
            });
            let selector = o["spec"]["selector"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| "<none>".into());
            vec![
                o["spec"]["type"].clone(),
                json!(o["spec"]["clusterIP"].as_str().unwrap_or("<none>")),
                json!(if external.is_empty() {
                    "<none>".to_string()
                } else {
                    external
                }),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports
                }),
                a,
                json!(selector),
            ]
        }
        Builtin::Deployment => {
            let n = |v: &Value| v.as_i64().unwrap_or(0);
            vec![
                json!(format!(
                    "{}/{}",
                    n(&o["status"]["readyReplicas"]),
                    n(&o["spec"]["replicas"])
                )),
                json!(n(&o["status"]["updatedReplicas"])),
                json!(n(&o["status"]["availableReplicas"])),
                a,
                json!(joined(&o["spec"]["template"]["spec"]["containers"], |c| c
                    ["name"]
                    .as_str()
                    .unwrap_or_default()
                    .into())),
                json!(joined(&o["spec"]["template"]["spec"]["containers"], |c| c
                    ["image"]
                    .as_str()
                    .unwrap_or_default()
                    .into())),
                json!(
                    o["spec"]["selector"]["matchLabels"]
                        .as_object()
                        .map(|m| m
                            .iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(","))
                        .unwrap_or_default()
                ),
            ]
        }
        Builtin::Lease => vec![json!(o["spec"]["holderIdentity"].as_str().unwrap_or("")), a],
        Builtin::Crd | Builtin::Rbac => vec![o["metadata"]["creationTimestamp"].clone()],
        Builtin::CoreEvent | Builtin::EventsEvent => vec![],
    }
}

fn event_table(o: &Value) -> Vec<Value> {
    let last = if o["lastTimestamp"].is_string() {
        &o["lastTimestamp"]
    } else if o["eventTime"].is_string() {
        &o["eventTime"]
    } else {
        &o["metadata"]["creationTimestamp"]
    };
    let io = &o["involvedObject"];
    let object = format!(
        "{}/{}",
        io["kind"].as_str().unwrap_or_default().to_lowercase(),
        io["name"].as_str().unwrap_or_default()
    );
    vec![
        age(last),
        o["type"].clone(),
        o["reason"].clone(),
        json!(object),
        json!(io["fieldPath"].as_str().unwrap_or_default()),
        json!(
            o["source"]["component"]
                .as_str()
                .or(o["reportingComponent"].as_str())
                .unwrap_or_default()
        ),
        o["message"].clone(),
        age(if o["firstTimestamp"].is_string() {
            &o["firstTimestamp"]
        } else {
            last
        }),
        json!(o["count"].as_i64().unwrap_or(1)),
        json!(meta::name(o)),
    ]
}

fn event_columns() -> Vec<Value> {
    vec![
        col("Last Seen", "string", "", 0),
        col("Type", "string", "", 0),
        col("Reason", "string", "", 0),
        col("Object", "string", "", 0),
        col("Subobject", "string", "", 1),
        col("Source", "string", "", 1),
        col("Message", "string", "", 0),
        col("First Seen", "string", "", 1),
        col("Count", "string", "", 1),
        col("Name", "string", "", 1),
    ]
}

fn crd_cell(c: &PrinterColumn, o: &Value) -> Value {
    let Ok(path) = JsonPath::parse(&c.json_path) else {
        return Value::Null;
    };
    let Some(v) = path.find(o).into_iter().next() else {
        return Value::Null;
    };
    match c.type_.as_str() {
        "date" => age(v),
        "string" => match v {
            Value::String(_) => v.clone(),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
        _ => v.clone(),
    }
}

/// The column definitions for a type.
pub fn columns(t: &ResourceType) -> Vec<Value> {
    let name = json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0});
    match &t.origin {
        Origin::Builtin(Builtin::CoreEvent | Builtin::EventsEvent) => event_columns(),
        Origin::Builtin(b) => std::iter::once(name).chain(builtin_columns(*b, &t.kind)).collect(),
        Origin::Crd { .. } => std::iter::once(name)
            .chain(t.columns.iter().map(|c| {
                json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
            }))
            .collect(),
    }
}

/// One row for an object (in its served form).
pub fn row(t: &ResourceType, o: &Value, include: IncludeObject) -> Value {
    let cells: Vec<Value> = match &t.origin {
        Origin::Builtin(Builtin::CoreEvent) => event_table(o),
        Origin::Builtin(Builtin::EventsEvent) => {
            event_table(&super::builtin::events_v1_to_event(o))
        }
        Origin::Builtin(b) => std::iter::once(json!(meta::name(o)))
            .chain(builtin_cells(*b, o))
            .collect(),
        Origin::Crd { .. } => std::iter::once(json!(meta::name(o)))
            .chain(t.columns.iter().map(|c| crd_cell(c, o)))
            .collect(),
    };
    let mut r = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            r["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]});
        }
        IncludeObject::Object => r["object"] = o.clone(),
    }
    r
}

/// A Table of objects.
pub fn table(
    t: &ResourceType,
    objects: &[Value],
    rv: &str,
    cont: Option<&str>,
    include: IncludeObject,
) -> Value {
    let mut md = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        md["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": md,
        "columnDefinitions": columns(t),
        "rows": objects.iter().map(|o| row(t, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }
}

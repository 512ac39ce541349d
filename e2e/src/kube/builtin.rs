//! The built-in kinds: their discovery entries and what the apiserver's strategies do to
//! them on write (defaults, derived fields, validation of what clients rely on).

use serde_json::{Value, json};

use super::registry::{Builtin, Origin, ResourceType, StorageId, age_column};
use super::status::{ApiError, FieldError};

#[allow(clippy::too_many_arguments)]
fn t(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    categories: &[&str],
    builtin: Builtin,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        status_subresource: matches!(
            builtin,
            Builtin::Namespace | Builtin::Service | Builtin::Deployment | Builtin::Crd
        ),
        scale: None,
        schema: None,
        columns: vec![age_column()],
        storage: StorageId {
            group: group.into(),
            resource: plural.into(),
        },
        generation: matches!(builtin, Builtin::Deployment | Builtin::Crd),
        origin: Origin::Builtin(builtin),
        storage_version: true,
    }
}

/// The built-in resource types.
pub fn types() -> Vec<ResourceType> {
    let mut events_v1 = t(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        &[],
        Builtin::EventsEvent,
    );
    events_v1.storage = StorageId {
        group: String::new(),
        resource: "events".into(),
    };
    let mut deploy = t(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        &["all"],
        Builtin::Deployment,
    );
    deploy.scale = Some(super::registry::ScaleSpec {
        spec_replicas_path: ".spec.replicas".into(),
        status_replicas_path: ".status.replicas".into(),
        label_selector_path: None,
    });
    vec![
        t(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            &["ns"],
            &[],
            Builtin::Namespace,
        ),
        t(
            "",
            "v1",
            "Secret",
            "secrets",
            true,
            &[],
            &[],
            Builtin::Secret,
        ),
        t(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            &["cm"],
            &[],
            Builtin::ConfigMap,
        ),
        t(
            "",
            "v1",
            "Event",
            "events",
            true,
            &["ev"],
            &[],
            Builtin::CoreEvent,
        ),
        t(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            &["sa"],
            &[],
            Builtin::ServiceAccount,
        ),
        t(
            "",
            "v1",
            "Service",
            "services",
            true,
            &["svc"],
            &["all"],
            Builtin::Service,
        ),
        events_v1,
        deploy,
        t(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            true,
            &[],
            &[],
            Builtin::Lease,
        ),
        t(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["crd", "crds"],
            &["api-extensions"],
            Builtin::Crd,
        ),
        t(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            true,
            &[],
            &[],
            Builtin::Rbac,
        ),
        t(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            &[],
            Builtin::Rbac,
        ),
        t(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            &[],
            Builtin::Rbac,
        ),
        t(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            &[],
            &[],
            Builtin::Rbac,
        ),
    ]
}

/// Applies the create-time strategy of a built-in (defaults, derived fields) and returns
/// its validation errors. `cluster_ip` allocates a Service address.
pub fn prepare_create(
    kind: Builtin,
    obj: &mut Value,
    cluster_ip: &mut dyn FnMut() -> String,
) -> Result<Vec<FieldError>, ApiError> {
    match kind {
        Builtin::Namespace => {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            obj["status"] = json!({ "phase": "Active" });
            Ok(vec![])
        }
        Builtin::Service => {
            default_service(obj, cluster_ip);
            Ok(vec![])
        }
        _ => prepare_update(kind, obj, None),
    }
}

/// Applies the update-time strategy of a built-in (and the parts shared with create).
pub fn prepare_update(
    kind: Builtin,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<FieldError>, ApiError> {
    match kind {
        Builtin::Secret => prepare_secret(obj),
        Builtin::ConfigMap => Ok(validate_configmap(obj)),
        Builtin::Deployment => {
            default_deployment(obj);
            Ok(validate_deployment(obj))
        }
        Builtin::EventsEvent => Ok(validate_events_event(obj)),
        Builtin::Namespace => {
            if let Some(old) = old {
                // Namespace status and spec.finalizers are kept by the main endpoint.
                obj["status"] = old["status"].clone();
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            }
            Ok(vec![])
        }
        Builtin::Service => {
            if let Some(old) = old {
                for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                    if obj["spec"].get(f).is_none() && old["spec"].get(f).is_some() {
                        obj["spec"][f] = old["spec"][f].clone();
                    }
                }
            }
            let mut none = || String::new();
            default_service(obj, &mut none);
            Ok(vec![])
        }
        _ => Ok(vec![]),
    }
}

fn prepare_secret(obj: &mut Value) -> Result<Vec<FieldError>, ApiError> {
    use base64::Engine;
    if obj
        .get("type")
        .is_none_or(|t| t.is_null() || t.as_str() == Some(""))
    {
        obj["type"] = json!("Opaque");
    }
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let Some(s) = v.as_str() else {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal {} into Go struct field Secret.data of type []uint8",
                    json_type(v)
                )));
            };
            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(s) {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte {} (key {k:?})",
                    match e {
                        base64::DecodeError::InvalidByte(i, _)
                        | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                        _ => s.len(),
                    }
                )));
            }
        }
    }
    if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
        for (k, v) in sd {
            let s = v.as_str().unwrap_or_default();
            obj["data"][&k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
        }
    }
    let mut errs = Vec::new();
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for k in data.keys() {
            check_config_key(&format!("data[{k}]"), k, &mut errs);
        }
    }
    Ok(errs)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_config_key(field: &str, key: &str, errs: &mut Vec<FieldError>) {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && key != "."
        && key != "..";
    if !ok {
        errs.push(FieldError::invalid(
            field,
            Value::String(key.into()),
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        ));
    }
}

fn validate_configmap(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for section in ["data", "binaryData"] {
        if let Some(data) = obj.get(section).and_then(Value::as_object) {
            for (k, v) in data {
                check_config_key(&format!("{section}[{k}]"), k, &mut errs);
                if section == "data" && !v.is_string() {
                    errs.push(FieldError::make(
                        super::status::FieldErrorKind::TypeInvalid,
                        format!("{section}[{k}]"),
                        super::status::BadValue::Value(Value::String(json_type(v).into())),
                        "must be a string",
                    ));
                }
            }
        }
    }
    errs
}

fn default_service(obj: &mut Value, cluster_ip: &mut dyn FnMut() -> String) {
    let spec = &mut obj["spec"];
    if spec.get("type").is_none_or(Value::is_null) {
        spec["type"] = json!("ClusterIP");
    }
    if spec.get("sessionAffinity").is_none() {
        spec["sessionAffinity"] = json!("None");
    }
    if spec.get("internalTrafficPolicy").is_none() {
        spec["internalTrafficPolicy"] = json!("Cluster");
    }
    if spec.get("clusterIP").is_none_or(Value::is_null) {
        let ip = cluster_ip();
        if !ip.is_empty() {
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
        }
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if p.get("protocol").is_none() {
                p["protocol"] = json!("TCP");
            }
            if p.get("targetPort").is_none() {
                p["targetPort"] = p["port"].clone();
            }
        }
    }
    if obj.get("status").is_none() {
        obj["status"] = json!({ "loadBalancer": {} });
    }
}

fn default_deployment(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if spec.get("replicas").is_none() {
        spec["replicas"] = json!(1);
    }
    if spec.get("revisionHistoryLimit").is_none() {
        spec["revisionHistoryLimit"] = json!(10);
    }
    if spec.get("progressDeadlineSeconds").is_none() {
        spec["progressDeadlineSeconds"] = json!(600);
    }
    if spec.get("strategy").is_none() {
        spec["strategy"] = json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "25%", "maxSurge": "25%" } });
    }
    let pod = &mut spec["template"]["spec"];
    if pod.is_object() {
        for (k, v) in [
            ("restartPolicy", json!("Always")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("dnsPolicy", json!("ClusterFirst")),
            ("schedulerName", json!("default-scheduler")),
            ("securityContext", json!({})),
        ] {
            if pod.get(k).is_none() {
                pod[k] = v;
            }
        }
        if let Some(cs) = pod.get_mut("containers").and_then(Value::as_array_mut) {
            for c in cs {
                for (k, v) in [
                    ("terminationMessagePath", json!("/dev/termination-log")),
                    ("terminationMessagePolicy", json!("File")),
                    ("imagePullPolicy", json!("IfNotPresent")),
                ] {
                    if c.get(k).is_none() {
                        c[k] = v;
                    }
                }
            }
        }
    }
}

fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &obj["spec"];
    if spec["selector"].is_null() {
        errs.push(FieldError::required("spec.selector", ""));
    }
    if spec["template"]["spec"]["containers"]
        .as_array()
        .is_none_or(|c| c.is_empty())
    {
        errs.push(FieldError::required("spec.template.spec.containers", ""));
    }
    if let Some(sel) = spec["selector"]["matchLabels"].as_object() {
        let labels = &spec["template"]["metadata"]["labels"];
        if sel.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                labels.clone(),
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs
}

fn validate_events_event(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, name) in [
        ("eventTime", "eventTime"),
        ("reportingController", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("reason", "reason"),
    ] {
        if obj
            .get(field)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        {
            errs.push(FieldError::required(name, ""));
        }
    }
    if let Some(t) = obj.get("type").and_then(Value::as_str)
        && t != "Normal"
        && t != "Warning"
    {
        errs.push(FieldError::invalid(
            "type",
            json!(t),
            "has invalid value: ".to_string() + t,
        ));
    }
    errs
}

/// Converts a stored core/v1 Event into its events.k8s.io/v1 form.
pub fn event_to_events_v1(core: &Value) -> Value {
    let mut out = json!({
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": core["metadata"].clone(),
    });
    for (from, to) in [
        ("involvedObject", "regarding"),
        ("related", "related"),
        ("message", "note"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("source", "deprecatedSource"),
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
        ("eventTime", "eventTime"),
        ("series", "series"),
    ] {
        if let Some(v) = core.get(from).filter(|v| !v.is_null()) {
            if from == "source" && v.as_object().is_some_and(|o| o.is_empty()) {
                continue;
            }
            out[to] = v.clone();
        }
    }
    out
}

/// Converts an events.k8s.io/v1 Event into the stored core/v1 form.
pub fn events_v1_to_event(ev: &Value) -> Value {
    let mut out = json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": ev["metadata"].clone(),
        "involvedObject": ev.get("regarding").cloned().unwrap_or(json!({})),
        "source": ev.get("deprecatedSource").cloned().unwrap_or(json!({})),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp").cloned().unwrap_or(Value::Null),
        "lastTimestamp": ev.get("deprecatedLastTimestamp").cloned().unwrap_or(Value::Null),
    });
    for (from, to) in [
        ("related", "related"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("deprecatedCount", "count"),
        ("eventTime", "eventTime"),
        ("series", "series"),
    ] {
        if let Some(v) = ev.get(from).filter(|v| !v.is_null()) {
            out[to] = v.clone();
        }
    }
    out
}

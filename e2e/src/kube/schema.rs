//! Structural `openAPIV3Schema` handling for custom resources, in the apiserver's order:
//! prune unknown fields (keeping `x-kubernetes-preserve-unknown-fields` subtrees), drop
//! non-nullable nulls, apply defaults, then validate (types, required, enum, bounds, lengths,
//! patterns, formats, list-type invariants) with kube-openapi's messages.

use regex::Regex;
use serde_json::{Map, Value};

use super::status::{BadValue, FieldError, FieldErrorKind, go_number, go_value};

/// Joins a field path the way the apiserver prints it (`spec.zones[0].name`).
pub fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn props(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn additional(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|a| a.is_object())
}

/// Removes fields the schema does not declare, returning their paths (for strict field
/// validation and warnings). The root's `apiVersion`, `kind` and `metadata` are kept.
pub fn prune(schema: &Value, value: &mut Value, path: &str, root: bool, unknown: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            let properties = props(schema);
            let add = additional(schema);
            let keys: Vec<String> = obj.keys().cloned().collect();
            for k in keys {
                let keep_meta =
                    (root || embedded) && matches!(k.as_str(), "apiVersion" | "kind" | "metadata");
                let sub = properties.and_then(|p| p.get(&k)).or(add);
                match sub {
                    Some(s) if !(keep_meta && k == "metadata" && root) => {
                        if let Some(v) = obj.get_mut(&k) {
                            prune(s, v, &child(path, &k), false, unknown);
                        }
                    }
                    _ if keep_meta => {}
                    None if preserve
                        || schema.get("additionalProperties") == Some(&Value::Bool(true)) => {}
                    _ => {
                        obj.remove(&k);
                        unknown.push(child(path, &k));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item_schema, item, &index(path, i), false, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Drops nulls of non-nullable fields that have no default (the apiserver prunes them
/// before defaulting) and applies `default`s where a field is missing or such a null.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if let Some(properties) = props(schema) {
                for (k, s) in properties {
                    let nullable = flag(s, "nullable");
                    match obj.get(k) {
                        None => {
                            if let Some(d) = s.get("default") {
                                obj.insert(k.clone(), d.clone());
                            }
                        }
                        Some(Value::Null) if !nullable => {
                            if let Some(d) = s.get("default") {
                                obj.insert(k.clone(), d.clone());
                            } else {
                                obj.remove(k);
                            }
                        }
                        _ => {}
                    }
                    if let Some(v) = obj.get_mut(k) {
                        apply_defaults(s, v);
                    }
                }
            }
            if let Some(add) = additional(schema) {
                let known: Vec<String> = props(schema)
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                for (k, v) in obj.iter_mut() {
                    if !known.contains(k) {
                        apply_defaults(add, v);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() && n.as_f64().is_some_and(|f| f.fract() != 0.0) => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(expected: &str, v: &Value) -> bool {
    match expected {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => type_name(v) == "integer",
        "number" => v.is_number(),
        _ => true,
    }
}

fn type_error(path: &str, v: &Value, expected: &str) -> FieldError {
    let actual = type_name(v);
    FieldError::make(
        FieldErrorKind::TypeInvalid,
        path,
        BadValue::Value(Value::String(actual.into())),
        format!(
            "{path} in body must be of type {expected}: {}",
            super::status::quote(actual)
        ),
    )
}

fn num(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn fmt_bound(schema: &Value, key: &str) -> String {
    schema
        .get(key)
        .and_then(|v| v.as_number())
        .map(go_number)
        .unwrap_or_default()
}

/// Validates a value against a structural schema; `path` is the field path of `value`.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_into(schema, value, path, &mut errs);
    errs
}

fn validate_into(schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if value.is_null() {
        if flag(schema, "nullable") {
            return;
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            errs.push(type_error(path, value, t));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(value.is_string() || type_name(value) == "integer") {
            errs.push(type_error(path, value, "integer,string"));
            return;
        }
    } else if let Some(t) = schema.get("type").and_then(Value::as_str)
        && !type_ok(t, value)
    {
        errs.push(type_error(path, value, t));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed
            .iter()
            .map(|a| {
                a.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| a.to_string())
            })
            .collect();
        errs.push(FieldError::not_supported(path, value.clone(), &supported));
    }
    match value {
        Value::Number(n) => validate_number(schema, n, value, path, errs),
        Value::String(s) => validate_string(schema, s, value, path, errs),
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                errs.push(FieldError::make(
                    FieldErrorKind::TooMany,
                    path,
                    BadValue::Value(Value::from(items.len())),
                    format!("must have at most {max} items"),
                ));
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                errs.push(FieldError::invalid(
                    path,
                    Value::from(items.len()),
                    format!("{path} in body should have at least {min} items"),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_into(item_schema, item, &index(path, i), errs);
                }
            }
            validate_list_type(schema, items, path, errs);
        }
        Value::Object(obj) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        errs.push(FieldError::required(child(path, r), ""));
                    }
                }
            }
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
                && obj.len() as u64 > max
            {
                errs.push(FieldError::make(
                    FieldErrorKind::TooMany,
                    path,
                    BadValue::Value(Value::from(obj.len())),
                    format!("must have at most {max} items"),
                ));
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
                && (obj.len() as u64) < min
            {
                errs.push(FieldError::invalid(
                    path,
                    Value::from(obj.len()),
                    format!("{path} in body should have at least {min} properties"),
                ));
            }
            let properties = props(schema);
            for (k, v) in obj {
                if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(s) = properties.and_then(|p| p.get(k)) {
                    validate_into(s, v, &child(path, k), errs);
                } else if let Some(add) = additional(schema) {
                    validate_into(add, v, &child(path, k), errs);
                }
            }
        }
        _ => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let results: Vec<Vec<FieldError>> =
                branches.iter().map(|b| validate(b, value, path)).collect();
            match key {
                "allOf" => errs.extend(results.into_iter().flatten()),
                "anyOf" if !results.iter().any(Vec::is_empty) => errs.push(FieldError::invalid(
                    path,
                    value.clone(),
                    "must validate at least one schema (anyOf)",
                )),
                "oneOf" if results.iter().filter(|r| r.is_empty()).count() != 1 => {
                    errs.push(FieldError::invalid(
                        path,
                        value.clone(),
                        format!("{path} in body must validate one and only one schema (oneOf)"),
                    ))
                }
                _ => {}
            }
        }
    }
    if let Some(not) = schema.get("not")
        && validate(not, value, path).is_empty()
    {
        errs.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body should not validate the schema"),
        ));
    }
}

fn validate_number(
    schema: &Value,
    n: &serde_json::Number,
    value: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let f = n.as_f64().unwrap_or(0.0);
    if let Some(max) = num(schema, "maximum") {
        let excl = flag(schema, "exclusiveMaximum");
        if (excl && f >= max) || f > max {
            let op = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!(
                    "{path} in body should be {op} {}",
                    fmt_bound(schema, "maximum")
                ),
            ));
        }
    }
    if let Some(min) = num(schema, "minimum") {
        let excl = flag(schema, "exclusiveMinimum");
        if (excl && f <= min) || f < min {
            let op = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!(
                    "{path} in body should be {op} {}",
                    fmt_bound(schema, "minimum")
                ),
            ));
        }
    }
    if let Some(m) = num(schema, "multipleOf")
        && m != 0.0
        && (f / m).fract() != 0.0
    {
        errs.push(FieldError::invalid(
            path,
            value.clone(),
            format!(
                "{path} in body should be a multiple of {}",
                fmt_bound(schema, "multipleOf")
            ),
        ));
    }
}

fn validate_string(schema: &Value, s: &str, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let chars = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        errs.push(FieldError::make(
            FieldErrorKind::TooLong,
            path,
            BadValue::Omit,
            format!("may not be more than {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        errs.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        match Regex::new(p) {
            Ok(re) if !re.is_match(s) => errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("{path} in body should match '{p}'"),
            )),
            Ok(_) => {}
            Err(e) => errs.push(FieldError::invalid(
                path,
                value.clone(),
                format!("pattern {p:?} does not compile: {e}"),
            )),
        }
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str)
        && !format_ok(f, s)
    {
        errs.push(FieldError::invalid(
            path,
            value.clone(),
            format!("{path} in body must be of type {f}: {}", go_value(value)),
        ));
    }
}

/// Checks the string formats the apiserver validates; unknown formats pass.
pub fn format_ok(format: &str, s: &str) -> bool {
    use std::net::IpAddr;
    match format {
        "date-time" | "datetime" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "uuid" => uuid::Uuid::parse_str(s).is_ok() && s.len() == 36,
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
                (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
                _ => false,
            }
        }),
        _ => true,
    }
}

/// The list semantics a schema node declares (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole (the default for custom resources).
    Atomic,
    /// Items are unique scalars, merged as a set.
    Set,
    /// Items are objects keyed by the listed fields, merged by key.
    Map(Vec<String>),
}

/// The list type of an array schema node.
pub fn list_type(schema: &Value) -> ListType {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListType::Set,
        Some("map") => ListType::Map(
            schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => ListType::Atomic,
    }
}

fn go_map_literal(keys: &[String], item: &Value) -> String {
    let inner: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            item.get(k)
                .map(|v| format!("{}:{}", super::status::quote(k), go_literal(v)))
        })
        .collect();
    format!("map[string]interface {{}}{{{}}}", inner.join(", "))
}

fn go_literal(v: &Value) -> String {
    match v {
        Value::String(s) => super::status::quote(s),
        Value::Number(n) => go_number(n),
        other => other.to_string(),
    }
}

fn validate_list_type(schema: &Value, items: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    match list_type(schema) {
        ListType::Atomic => {}
        ListType::Set => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errs.push(FieldError::make(
                        FieldErrorKind::Duplicate,
                        index(path, i),
                        BadValue::Value(item.clone()),
                        "",
                    ));
                }
            }
        }
        ListType::Map(keys) => {
            let key_of = |item: &Value| -> Vec<Value> {
                keys.iter()
                    .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                    .collect()
            };
            for (i, item) in items.iter().enumerate() {
                let k = key_of(item);
                if items[..i].iter().any(|o| key_of(o) == k) {
                    errs.push(FieldError::make(
                        FieldErrorKind::Duplicate,
                        index(path, i),
                        BadValue::Raw(go_map_literal(&keys, item)),
                        "",
                    ));
                }
            }
        }
    }
}

/// The schema node at a path of field names (array items are entered with `items`).
pub fn node_at<'a>(schema: &'a Value, path: &[PathSeg]) -> Option<&'a Value> {
    let mut cur = schema;
    for seg in path {
        cur = match seg {
            PathSeg::Field(f) => props(cur)
                .and_then(|p| p.get(f))
                .or_else(|| additional(cur))?,
            PathSeg::Index(_) => cur.get("items")?,
        };
    }
    Some(cur)
}

/// One step of a parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A field or map key.
    Field(String),
    /// A list index.
    Index(usize),
}

/// Parses `spec.zones[0].name` into steps.
pub fn parse_path(path: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(PathSeg::Field(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..end].parse() {
                    out.push(PathSeg::Index(i));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else {
            out.push(PathSeg::Field(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "string", "pattern": "^[0-9]+Gi$"},
                        "replicas": {"type": "integer", "minimum": 1.0, "maximum": 16.0, "nullable": true},
                        "policy": {"type": "string", "enum": ["Retain", "Delete"], "default": "Retain"},
                        "name": {"type": "string", "maxLength": 3},
                        "opts": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "conds": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                                   "items": {"type": "object", "properties": {"type": {"type": "string"}}}}
                    }
                }
            }
        })
    }

    #[test]
    fn prunes_unknown_and_keeps_preserved() {
        let mut v = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "junk": 1,
            "spec": {"size": "1Gi", "bogus": true, "opts": {"a": "b"}, "free": {"any": {"thing": 1}}}});
        let mut unknown = vec![];
        prune(&schema(), &mut v, "", true, &mut unknown);
        assert_eq!(unknown, vec!["junk".to_string(), "spec.bogus".to_string()]);
        assert_eq!(v["spec"]["free"]["any"]["thing"], 1);
        assert_eq!(v["spec"]["opts"]["a"], "b");
        assert_eq!(v["metadata"]["name"], "x");
    }

    #[test]
    fn defaults_and_null_handling() {
        let mut v =
            json!({"spec": {"size": "1Gi", "policy": null, "name": null, "replicas": null}});
        apply_defaults(&schema(), &mut v);
        assert_eq!(v["spec"]["policy"], "Retain");
        assert!(v["spec"].get("name").is_none());
        assert_eq!(v["spec"]["replicas"], Value::Null);
    }

    #[test]
    fn messages_match_kube_openapi() {
        let v = json!({"spec": {"size": "1G", "replicas": 0, "policy": "Keep", "name": "long", "conds": [{"type": "A"}, {"type": "A"}]}});
        let errs: Vec<String> = validate(&schema(), &v, "")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.conds[1]: Duplicate value: map[string]interface {}{\"type\":\"A\"}",
                "spec.name: Too long: may not be more than 3 bytes",
                "spec.policy: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
                "spec.size: Invalid value: \"1G\": spec.size in body should match '^[0-9]+Gi$'",
            ]
        );
        let errs = validate(&schema(), &json!({"spec": {"replicas": "x"}}), "");
        assert_eq!(errs[0].to_string(), "spec.size: Required value");
        assert_eq!(
            errs[1].to_string(),
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        );
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse_path("spec.zones[1].name"),
            vec![
                PathSeg::Field("spec".into()),
                PathSeg::Field("zones".into()),
                PathSeg::Index(1),
                PathSeg::Field("name".into())
            ]
        );
    }
}

//! CEL `x-kubernetes-validations`, evaluated with kube's client-side evaluator (kube-cel,
//! re-exported as `kube::core::cel`), turned into the apiserver's field errors:
//! `<path>: Invalid value: "<schema type>": <message>` (or the rule's `reason`).

use ::kube::core::cel::{ErrorKind, Validator, compile_schema};
use serde_json::Value;

use super::schema::{node_at, parse_path};
use super::status::{BadValue, FieldError, FieldErrorKind};

/// Evaluates every rule of `schema` against `object` (with `old` for transition rules).
pub fn validate(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let validator = Validator::new();
    let Err(errors) = validator.validate(schema, object, old) else {
        return Vec::new();
    };
    errors
        .into_iter()
        .map(|e| {
            let base = rule_base_path(&e.field_path, schema, &e.rule);
            let node_type = node_at(schema, &parse_path(&base))
                .and_then(|n| n.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("object")
                .to_string();
            let field = e.field_path.clone();
            match e.kind {
                ErrorKind::ValidationFailure => match e.reason.as_deref() {
                    Some("FieldValueForbidden") => FieldError::forbidden(field, e.message),
                    Some("FieldValueRequired") => FieldError::required(field, e.message),
                    Some("FieldValueDuplicate") => FieldError::make(
                        FieldErrorKind::Duplicate,
                        field,
                        BadValue::Value(Value::String(node_type)),
                        "",
                    ),
                    _ => FieldError::invalid(field, Value::String(node_type), e.message),
                },
                _ => FieldError::make(
                    FieldErrorKind::Invalid,
                    field,
                    BadValue::Value(Value::String(node_type)),
                    e.message,
                ),
            }
        })
        .collect()
}

/// The path of the node a failed rule is declared on: its error path less the rule's
/// `fieldPath` suffix.
fn rule_base_path(error_path: &str, schema: &Value, rule: &str) -> String {
    let mut candidates = Vec::new();
    collect_field_paths(schema, rule, &mut candidates);
    for fp in candidates {
        if let Some(base) = error_path.strip_suffix(&fp) {
            return base.to_string();
        }
    }
    error_path.to_string()
}

fn collect_field_paths(schema: &Value, rule: &str, out: &mut Vec<String>) {
    if let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for r in rules {
            if r.get("rule").and_then(Value::as_str) == Some(rule)
                && let Some(fp) = r.get("fieldPath").and_then(Value::as_str)
            {
                out.push(fp.to_string());
            }
        }
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        for s in p.values() {
            collect_field_paths(s, rule, out);
        }
    }
    for k in ["items", "additionalProperties"] {
        if let Some(s) = schema.get(k).filter(|s| s.is_object()) {
            collect_field_paths(s, rule, out);
        }
    }
}

/// Rules of a CRD schema that do not compile, as (rule, error) pairs; `None` when all do.
pub fn compile_errors(schema: &Value) -> Option<Vec<(String, String)>> {
    let compiled = compile_schema(schema);
    let errs: Vec<(String, String)> = compiled
        .compilation_errors()
        .iter()
        .map(|e| (String::new(), format!("compilation failed: {e}")))
        .collect();
    if errs.is_empty() { None } else { Some(errs) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.zones.all(z, self.zones.filter(y, y.name == z.name).size() == 1)",
                     "message": "spec.zones[].name must be unique", "fieldPath": ".zones", "reason": "FieldValueDuplicate"},
                    {"rule": "self.min <= self.max", "message": "min must not exceed max", "fieldPath": ".min"}
                ],
                "properties": {
                    "min": {"type": "integer"}, "max": {"type": "integer"},
                    "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]},
                    "size": {"type": "string", "x-kubernetes-validations": [{"rule": "isQuantity(self) && quantity(self).compareTo(quantity('1Gi')) >= 0", "message": "too small"}]},
                    "zones": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
                }
            }}
        })
    }

    #[test]
    fn rule_failures_name_the_field_and_type() {
        let obj = json!({"spec": {"min": 3, "max": 1, "size": "1Mi", "zones": [{"name": "a"}, {"name": "a"}]}});
        let errs: Vec<String> = validate(&schema(), &obj, None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errs.contains(&"spec.zones: Duplicate value: \"object\"".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"spec.min: Invalid value: \"object\": min must not exceed max".to_string()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"spec.size: Invalid value: \"string\": too small".to_string()),
            "{errs:?}"
        );
    }

    #[test]
    fn transition_rules_need_an_old_object() {
        let new = json!({"spec": {"min": 1, "max": 1, "name": "b", "zones": []}});
        assert!(validate(&schema(), &new, None).is_empty());
        let old = json!({"spec": {"min": 1, "max": 1, "name": "a", "zones": []}});
        let errs: Vec<String> = validate(&schema(), &new, Some(&old))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec!["spec.name: Invalid value: \"string\": name is immutable".to_string()]
        );
    }
}

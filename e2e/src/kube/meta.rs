//! ObjectMeta helpers: names, timestamps, field access and metadata validation.

use serde_json::{Value, json};

use super::status::FieldError;

/// The fields of ObjectMeta; anything else under `metadata` is an unknown field.
pub const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Now, as the apiserver writes `metav1.Time` (RFC 3339, seconds).
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// `metadata.name`.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

/// `metadata.resourceVersion` as a number (0 when absent).
pub fn resource_version(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion").parse().unwrap_or(0)
}

/// `metadata.finalizers`.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets `metadata.finalizers`, removing the field when empty (the apiserver omits it).
pub fn set_finalizers(obj: &mut Value, fins: &[String]) {
    if let Some(m) = obj["metadata"].as_object_mut() {
        if fins.is_empty() {
            m.remove("finalizers");
        } else {
            m.insert("finalizers".into(), json!(fins));
        }
    }
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// The labels as (key, value) pairs.
pub fn labels(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Validates a name as a DNS-1123 subdomain (or label, for namespaces); returns the
/// apiserver's messages.
pub fn name_errors(name: &str, label: bool) -> Vec<String> {
    let mut out = Vec::new();
    if label {
        if name.len() > 63 {
            out.push("must be no more than 63 characters".to_string());
        }
        if !is_label(name) {
            out.push(DNS1123_LABEL_MSG.to_string());
        }
    } else {
        if name.len() > 253 {
            out.push("must be no more than 253 characters".to_string());
        }
        if !name.split('.').all(is_label) {
            out.push(DNS1123_SUBDOMAIN_MSG.to_string());
        }
    }
    out
}

/// Validates the metadata the apiserver checks on every write.
pub fn validate_meta(obj: &Value, namespace_kind: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let n = name(obj);
    if n.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for e in name_errors(n, namespace_kind) {
            errs.push(FieldError::invalid("metadata.name", json!(n), e));
        }
    }
    for section in ["labels", "annotations"] {
        if let Some(m) = obj["metadata"][section].as_object() {
            for (k, v) in m {
                if !v.is_string() {
                    errs.push(FieldError::invalid(
                        format!("metadata.{section}"),
                        v.clone(),
                        "must be a string",
                    ));
                }
                if let Some(e) = qualified_name_error(k) {
                    errs.push(FieldError::invalid(
                        format!("metadata.{section}"),
                        json!(k),
                        e,
                    ));
                }
                if section == "labels"
                    && let Some(s) = v.as_str()
                    && !label_value_ok(s)
                {
                    errs.push(FieldError::invalid(
                        "metadata.labels".to_string(),
                        json!(s),
                        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    ));
                }
            }
        }
    }
    if let Some(refs) = obj["metadata"]["ownerReferences"].as_array() {
        for (i, r) in refs.iter().enumerate() {
            for f in ["apiVersion", "kind", "name", "uid"] {
                if r[f].as_str().is_none_or(str::is_empty) {
                    errs.push(FieldError::invalid(
                        format!("metadata.ownerReferences[{i}].{f}"),
                        r[f].clone(),
                        format!("{f} must not be empty"),
                    ));
                }
            }
        }
    }
    errs
}

fn label_value_ok(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn qualified_name_error(k: &str) -> Option<String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix
        && (p.is_empty() || !p.split('.').all(is_label))
    {
        return Some(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        None
    } else {
        Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into())
    }
}

/// Five random characters from the apiserver's generateName alphabet.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(name_errors("good-name.example", false).is_empty());
        assert_eq!(name_errors("Bad_Name", false).len(), 1);
        assert!(!name_errors("has.dot", true).is_empty());
        assert_eq!(random_suffix().len(), 5);
    }

    #[test]
    fn label_keys_and_values() {
        let obj = json!({"metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "ok", "bad key": "v", "k": "-bad"}}});
        let errs = validate_meta(&obj, false);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}

//! Patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
//! patch for the built-in kinds (merge keys of the fields those kinds carry, and the
//! `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and `$retainKeys` directives).

use serde_json::{Map, Value};

use super::status::ApiError;

/// The patch types the apiserver takes, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// Parses a Content-Type header.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// RFC 7386 merge patch.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

/// RFC 6902 JSON patch, with the apiserver's (evanphx/json-patch) reading of `test`: a
/// missing path equals `null` (kube-rs's finalizer helper relies on it).
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    for op in ops.0 {
        if let json_patch::PatchOperation::Test(t) = &op
            && t.value.is_null()
            && doc.pointer(t.path.as_str()).is_none_or(Value::is_null)
        {
            continue;
        }
        json_patch::patch(doc, std::slice::from_ref(&op))
            .map_err(|e| ApiError::patch_failed(e.to_string()))?;
    }
    Ok(())
}

/// How a list field merges under a strategic merge patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMerge {
    /// Replaced whole.
    Replace,
    /// Objects merged by this key.
    Key(&'static str),
    /// Primitive values merged as a set.
    Primitive,
}

/// The strategic merge semantics of a list field, by its name and its parent's path.
pub fn list_merge(parent_path: &str, field: &str) -> ListMerge {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => ListMerge::Key("name"),
        "ports" if parent_path == "spec" => ListMerge::Key("port"),
        "ports" => ListMerge::Key("containerPort"),
        "volumeMounts" => ListMerge::Key("mountPath"),
        "volumeDevices" => ListMerge::Key("devicePath"),
        "conditions" => ListMerge::Key("type"),
        "ownerReferences" => ListMerge::Key("uid"),
        "hostAliases" => ListMerge::Key("ip"),
        "finalizers" if parent_path == "metadata" => ListMerge::Primitive,
        _ => ListMerge::Replace,
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Strategic merge patch onto `doc`.
pub fn strategic_merge(doc: &mut Value, patch: &Value) -> Result<(), ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "strategic merge patch must be a JSON object",
        ));
    }
    smp_map(doc, patch, "")
}

fn smp_map(doc: &mut Value, patch: &Value, path: &str) -> Result<(), ApiError> {
    let Some(p) = patch.as_object() else {
        *doc = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *doc = Value::Object(strip_directives(&clean));
            return Ok(());
        }
        Some("delete") => {
            *doc = Value::Null;
            return Ok(());
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unknown patch type: {other}"
            )));
        }
        None => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        if let Some(m) = doc.as_object_mut() {
            m.retain(|k, _| keep.contains(&k.as_str()));
        }
    }
    for (k, v) in p {
        if k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let remove = v.as_array().cloned().unwrap_or_default();
            if let Some(list) = doc.get_mut(field).and_then(Value::as_array_mut) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| ApiError::internal("patched value is not an object"))?;
        if v.is_null() {
            obj.remove(k);
            continue;
        }
        let child_path = join(path, k);
        match (v, list_merge(path, k)) {
            (Value::Array(items), ListMerge::Key(key)) => {
                let cur = obj.entry(k.clone()).or_insert(Value::Array(vec![]));
                merge_keyed_list(cur, items, key, &child_path)?;
            }
            (Value::Array(items), ListMerge::Primitive) => {
                let cur = obj.entry(k.clone()).or_insert(Value::Array(vec![]));
                if let Some(list) = cur.as_array_mut() {
                    for it in items {
                        if !list.contains(it) {
                            list.push(it.clone());
                        }
                    }
                } else {
                    *cur = Value::Array(items.clone());
                }
            }
            (Value::Object(_), _) => {
                let cur = obj.entry(k.clone()).or_insert(Value::Null);
                smp_map(cur, v, &child_path)?;
                if cur.is_null() {
                    obj.remove(k);
                }
            }
            _ => {
                obj.insert(k.clone(), strip_value(v));
            }
        }
    }
    for (k, order) in p {
        if let Some(field) = k.strip_prefix("$setElementOrder/")
            && let (Some(order), ListMerge::Key(key)) = (order.as_array(), list_merge(path, field))
            && let Some(list) = doc.get_mut(field).and_then(Value::as_array_mut)
        {
            let rank = |it: &Value| {
                order
                    .iter()
                    .position(|o| o.get(key) == it.get(key))
                    .unwrap_or(usize::MAX)
            };
            list.sort_by_key(rank);
        }
    }
    Ok(())
}

fn merge_keyed_list(
    cur: &mut Value,
    items: &[Value],
    key: &str,
    path: &str,
) -> Result<(), ApiError> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *cur = Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_value)
                .collect(),
        );
        return Ok(());
    }
    if !cur.is_array() {
        *cur = Value::Array(vec![]);
    }
    let list = cur
        .as_array_mut()
        .ok_or_else(|| ApiError::internal("list expected"))?;
    for item in items {
        let Some(kv) = item.get(key) else {
            return Err(ApiError::bad_request(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let pos = list.iter().position(|e| e.get(key) == Some(kv));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                list.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => smp_map(&mut list[i], item, path)?,
            None => list.push(strip_value(item)),
        }
    }
    Ok(())
}

fn strip_directives(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(a) => Value::Array(a.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_removes_nulls() {
        let mut d = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut d, &json!({"a": null, "b": {"c": 5}}));
        assert_eq!(d, json!({"b": {"c": 5, "d": 3}}));
    }

    #[test]
    fn json_patch_test_and_add() {
        let mut d = json!({"metadata": {"name": "x"}});
        json_patch(
            &mut d,
            &json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]),
        )
        .unwrap();
        json_patch(
            &mut d,
            &json!([{"op": "test", "path": "/metadata/name", "value": null}]),
        )
        .unwrap_err();
        json_patch(
            &mut d,
            &json!([{"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]),
        )
        .unwrap();
        json_patch(&mut d, &json!([{"op": "test", "path": "/metadata/finalizers", "value": ["f"]}, {"op": "remove", "path": "/metadata/finalizers/0"}])).unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!([]));
    }

    #[test]
    fn strategic_merge_by_key_and_directives() {
        let mut d = json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "s1"}
        ]}}}});
        let p = json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
        "containers": [
            {"name": "app", "image": "v2", "env": [{"name": "B", "value": "2"}]},
            {"name": "side", "$patch": "delete"}
        ]}}}});
        strategic_merge(&mut d, &p).unwrap();
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 1);
        assert_eq!(cs[0]["image"], "v2");
        assert_eq!(cs[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
    }
}

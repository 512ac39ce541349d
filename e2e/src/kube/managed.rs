//! Field management: `metadata.managedFields` (FieldsV1) for every write and server-side
//! apply (merge by list type, removal of fields an applier stopped setting, conflicts with
//! other managers and `force`), after structured-merge-diff.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use super::schema::ListType;

/// One step of a field path as FieldsV1 spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pe {
    /// `f:name`.
    Field(String),
    /// `k:{"name":"x"}` (a map-list item; compact JSON with sorted keys).
    Key(String),
    /// `v:"x"` (a set-list item).
    Val(String),
}

/// A field path.
pub type FPath = Vec<Pe>;
/// A set of owned fields.
pub type FieldSet = BTreeSet<FPath>;

/// Tells list and map semantics at a path (from a CRD schema or the built-in tables).
pub trait TypeOracle {
    /// The list type of the array at `path`.
    fn list_type(&self, path: &FPath) -> ListType;
    /// Whether the object at `path` is an atomic map.
    fn atomic_map(&self, _path: &FPath) -> bool {
        false
    }
}

fn meta_list_type(path: &FPath) -> Option<ListType> {
    match path.as_slice() {
        [Pe::Field(m), Pe::Field(f)] if m == "metadata" && f == "finalizers" => Some(ListType::Set),
        [Pe::Field(m), Pe::Field(f)] if m == "metadata" && f == "ownerReferences" => {
            Some(ListType::Map(vec!["uid".into()]))
        }
        [Pe::Field(m), ..] if m == "metadata" => Some(ListType::Atomic),
        _ => None,
    }
}

/// Semantics from a structural schema (custom resources).
pub struct SchemaOracle<'a>(pub &'a Value);

impl SchemaOracle<'_> {
    fn node(&self, path: &FPath) -> Option<&Value> {
        let mut cur = self.0;
        for pe in path {
            cur = match pe {
                Pe::Field(f) => cur
                    .get("properties")
                    .and_then(|p| p.get(f))
                    .or_else(|| cur.get("additionalProperties").filter(|a| a.is_object()))?,
                Pe::Key(_) | Pe::Val(_) => cur.get("items")?,
            };
        }
        Some(cur)
    }
}

impl TypeOracle for SchemaOracle<'_> {
    fn list_type(&self, path: &FPath) -> ListType {
        if let Some(t) = meta_list_type(path) {
            return t;
        }
        self.node(path)
            .map(super::schema::list_type)
            .unwrap_or(ListType::Atomic)
    }

    fn atomic_map(&self, path: &FPath) -> bool {
        self.node(path)
            .and_then(|n| n.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    }
}

/// Semantics of the built-in kinds (their strategic merge keys).
pub struct BuiltinOracle;

impl TypeOracle for BuiltinOracle {
    fn list_type(&self, path: &FPath) -> ListType {
        if let Some(t) = meta_list_type(path) {
            return t;
        }
        let Some(Pe::Field(field)) = path.last() else {
            return ListType::Atomic;
        };
        let parent: Vec<&str> = path[..path.len() - 1]
            .iter()
            .filter_map(|p| match p {
                Pe::Field(f) => Some(f.as_str()),
                _ => None,
            })
            .collect();
        match super::patch::list_merge(&parent.join("."), field) {
            super::patch::ListMerge::Key(k) => ListType::Map(vec![k.into()]),
            super::patch::ListMerge::Primitive => ListType::Set,
            super::patch::ListMerge::Replace => ListType::Atomic,
        }
    }
}

fn key_of(item: &Value, keys: &[String]) -> String {
    let m: Map<String, Value> = keys
        .iter()
        .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    Value::Object(m).to_string()
}

const STRIPPED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The fields an object sets (leaves, atomic values and list items), less the ones the
/// apiserver never attributes to a manager (apiVersion, kind, identity metadata).
pub fn fields_of(value: &Value, oracle: &dyn TypeOracle) -> FieldSet {
    let mut set = FieldSet::new();
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            if k == "apiVersion" || k == "kind" {
                continue;
            }
            if k == "metadata" {
                if let Some(m) = v.as_object() {
                    for (mk, mv) in m {
                        if !STRIPPED_META.contains(&mk.as_str()) {
                            walk(
                                mv,
                                vec![Pe::Field(k.clone()), Pe::Field(mk.clone())],
                                oracle,
                                &mut set,
                            );
                        }
                    }
                }
                continue;
            }
            walk(v, vec![Pe::Field(k.clone())], oracle, &mut set);
        }
    }
    set
}

fn walk(v: &Value, path: FPath, oracle: &dyn TypeOracle, set: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() && !oracle.atomic_map(&path) => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(Pe::Field(k.clone()));
                walk(c, p, oracle, set);
            }
        }
        Value::Array(items) => match oracle.list_type(&path) {
            ListType::Atomic => {
                set.insert(path);
            }
            ListType::Set => {
                for it in items {
                    let mut p = path.clone();
                    p.push(Pe::Val(it.to_string()));
                    set.insert(p);
                }
            }
            ListType::Map(keys) => {
                for it in items {
                    let mut p = path.clone();
                    p.push(Pe::Key(key_of(it, &keys)));
                    set.insert(p.clone());
                    if let Some(m) = it.as_object() {
                        for (k, c) in m {
                            let mut cp = p.clone();
                            cp.push(Pe::Field(k.clone()));
                            walk(c, cp, oracle, set);
                        }
                    }
                }
            }
        },
        _ => {
            set.insert(path);
        }
    }
}

fn find_item<'a>(
    items: &'a [Value],
    pe: &Pe,
    oracle_keys: Option<&[String]>,
) -> Option<(usize, &'a Value)> {
    items.iter().enumerate().find(|(_, it)| match pe {
        Pe::Key(k) => oracle_keys.is_some_and(|keys| &key_of(it, keys) == k),
        Pe::Val(v) => &it.to_string() == v,
        Pe::Field(_) => false,
    })
}

fn keys_from_pe(pe: &Pe) -> Vec<String> {
    match pe {
        Pe::Key(k) => serde_json::from_str::<Map<String, Value>>(k)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// The value at a field path, if present.
pub fn value_at<'a>(v: &'a Value, path: &FPath) -> Option<&'a Value> {
    let mut cur = v;
    for pe in path {
        cur = match pe {
            Pe::Field(f) => cur.get(f)?,
            other => {
                let keys = keys_from_pe(other);
                find_item(cur.as_array()?, other, Some(&keys))?.1
            }
        };
    }
    Some(cur)
}

fn remove_at(v: &mut Value, path: &FPath) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for pe in parent_path {
        let next = match pe {
            Pe::Field(f) => cur.get_mut(f),
            other => {
                let keys = keys_from_pe(other);
                let idx = cur
                    .as_array()
                    .and_then(|a| find_item(a, other, Some(&keys)).map(|(i, _)| i));
                match idx {
                    Some(i) => cur.get_mut(i),
                    None => None,
                }
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Pe::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        other => {
            let keys = keys_from_pe(other);
            if let Some(a) = cur.as_array_mut()
                && let Some((i, _)) = find_item(a, other, Some(&keys))
            {
                a.remove(i);
            }
        }
    }
}

/// Merges an applied configuration into the live object (maps recursively, map-lists by
/// key, sets by value, everything else replaced).
pub fn merge_applied(
    live: &Value,
    applied: &Value,
    path: &FPath,
    oracle: &dyn TypeOracle,
) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !oracle.atomic_map(path) => {
            let mut out = l.clone();
            for (k, av) in a {
                let mut p = path.clone();
                p.push(Pe::Field(k.clone()));
                let merged = match l.get(k) {
                    Some(lv) => merge_applied(lv, av, &p, oracle),
                    None => av.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => match oracle.list_type(path) {
            ListType::Atomic => applied.clone(),
            ListType::Set => {
                let mut out = l.clone();
                for it in a {
                    if !out.contains(it) {
                        out.push(it.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map(keys) => {
                let mut out = l.clone();
                for it in a {
                    let k = key_of(it, &keys);
                    let mut p = path.clone();
                    p.push(Pe::Key(k.clone()));
                    match out.iter().position(|o| key_of(o, &keys) == k) {
                        Some(i) => out[i] = merge_applied(&out[i], it, &p, oracle),
                        None => out.push(it.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => applied.clone(),
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Manager name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// apiVersion the manager used.
    pub api_version: String,
    /// When it last changed.
    pub time: String,
    /// `""` for the main resource, `status`, `scale`.
    pub subresource: String,
    /// The fields it owns.
    pub fields: FieldSet,
}

impl Entry {
    fn same_slot(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

fn is_item(p: &FPath) -> bool {
    matches!(p.last(), Some(Pe::Key(_) | Pe::Val(_)))
}

fn differs(a: &Value, b: &Value, p: &FPath) -> bool {
    let (x, y) = (value_at(a, p), value_at(b, p));
    if is_item(p) {
        x.is_some() != y.is_some()
    } else {
        x != y
    }
}

/// A server-side apply conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager owning the field (as the apiserver prints it).
    pub manager: String,
    /// The field, in structured-merge-diff's path syntax (`.spec.image`).
    pub path: String,
}

/// A field path in structured-merge-diff's syntax: `.spec.containers[name="app"].image`.
pub fn path_string(p: &FPath) -> String {
    let mut s = String::new();
    for pe in p {
        match pe {
            Pe::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Pe::Key(k) => {
                let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Pe::Val(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

fn manager_label(e: &Entry) -> String {
    let mut s = super::status::quote(&e.manager);
    if !e.subresource.is_empty() {
        s.push_str(&format!(
            " with subresource {}",
            super::status::quote(&e.subresource)
        ));
    }
    if e.operation == "Update" {
        s.push_str(&format!(" using {}", e.api_version));
        if !e.time.is_empty() {
            s.push_str(&format!(" at {}", e.time));
        }
    }
    s
}

/// The result of a server-side apply.
pub struct Applied {
    /// The new object.
    pub object: Value,
    /// The new managedFields.
    pub entries: Vec<Entry>,
}

/// Server-side apply of `applied` by `manager` onto `live` (an empty object on create).
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: &Value,
    applied: &Value,
    entries: &[Entry],
    manager: &str,
    subresource: &str,
    api_version: &str,
    force: bool,
    oracle: &dyn TypeOracle,
) -> Result<Applied, Vec<Conflict>> {
    let applied_set = fields_of(applied, oracle);
    let merged = merge_applied(live, applied, &vec![], oracle);
    let mut entries: Vec<Entry> = entries.to_vec();
    let mut conflicts = Vec::new();
    let mut lost: Vec<(usize, FPath)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.same_slot(manager, "Apply", subresource) {
            continue;
        }
        for p in e.fields.intersection(&applied_set) {
            if differs(live, &merged, p) {
                conflicts.push(Conflict {
                    manager: manager_label(e),
                    path: path_string(p),
                });
                lost.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for (i, p) in lost {
        entries[i].fields.remove(&p);
    }
    let prev: FieldSet = entries
        .iter()
        .find(|e| e.same_slot(manager, "Apply", subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = entries
        .iter()
        .filter(|e| !e.same_slot(manager, "Apply", subresource))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut object = merged;
    let mut to_remove: Vec<&FPath> = prev
        .difference(&applied_set)
        .filter(|p| !others.iter().any(|o| o.starts_with(p)))
        .collect();
    to_remove.sort_by_key(|p| p.len());
    let mut removed: Vec<&FPath> = Vec::new();
    for p in to_remove {
        if removed.iter().any(|r| p.starts_with(r)) {
            continue;
        }
        remove_at(&mut object, p);
        removed.push(p);
    }
    let now = super::meta::now();
    match entries
        .iter_mut()
        .find(|e| e.same_slot(manager, "Apply", subresource))
    {
        Some(e) => {
            if e.fields != applied_set {
                e.time = now;
            }
            e.fields = applied_set;
            e.api_version = api_version.into();
        }
        None => entries.push(Entry {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version: api_version.into(),
            time: now,
            subresource: subresource.into(),
            fields: applied_set,
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    Ok(Applied { object, entries })
}

/// Records a non-apply write (create, update, patch) by `manager`: it takes the fields it
/// changed, and every other manager loses them.
pub fn record_update(
    old: &Value,
    new: &Value,
    entries: &[Entry],
    manager: &str,
    subresource: &str,
    api_version: &str,
    oracle: &dyn TypeOracle,
) -> Vec<Entry> {
    let old_set = fields_of(old, oracle);
    let new_set = fields_of(new, oracle);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| !old_set.contains(*p) || differs(old, new, p))
        .cloned()
        .collect();
    let removed: FieldSet = old_set.difference(&new_set).cloned().collect();
    let mut entries: Vec<Entry> = entries.to_vec();
    for e in entries.iter_mut() {
        if e.same_slot(manager, "Update", subresource) {
            continue;
        }
        e.fields
            .retain(|p| !changed.contains(p) && !removed.iter().any(|r| p.starts_with(r)));
    }
    if !changed.is_empty()
        || entries
            .iter()
            .any(|e| e.same_slot(manager, "Update", subresource))
    {
        let now = super::meta::now();
        match entries
            .iter_mut()
            .find(|e| e.same_slot(manager, "Update", subresource))
        {
            Some(e) => {
                e.fields.extend(changed.iter().cloned());
                e.fields
                    .retain(|p| !removed.iter().any(|r| p.starts_with(r)));
                if !changed.is_empty() {
                    e.time = now;
                }
                e.api_version = api_version.into();
            }
            None => entries.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now,
                subresource: subresource.into(),
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    entries
}

fn encode_pe(pe: &Pe) -> String {
    match pe {
        Pe::Field(f) => format!("f:{f}"),
        Pe::Key(k) => format!("k:{k}"),
        Pe::Val(v) => format!("v:{v}"),
    }
}

fn decode_pe(s: &str) -> Option<Pe> {
    let (kind, rest) = s.split_at_checked(2)?;
    match kind {
        "f:" => Some(Pe::Field(rest.into())),
        "k:" => {
            let canonical = serde_json::from_str::<Value>(rest).ok()?.to_string();
            Some(Pe::Key(canonical))
        }
        "v:" => Some(Pe::Val(
            serde_json::from_str::<Value>(rest).ok()?.to_string(),
        )),
        _ => None,
    }
}

/// Encodes a field set as FieldsV1.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = json!({});
    for p in set {
        let mut cur = &mut root;
        for pe in p {
            cur = &mut cur[encode_pe(pe)];
            if cur.is_null() {
                *cur = json!({});
            }
        }
        if set.iter().any(|o| o.len() > p.len() && o.starts_with(p)) {
            cur["."] = json!({});
        }
    }
    root
}

/// Decodes FieldsV1 into a field set.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    fn rec(v: &Value, path: &mut FPath, set: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        if m.is_empty() && !path.is_empty() {
            set.insert(path.clone());
            return;
        }
        for (k, c) in m {
            if k == "." {
                set.insert(path.clone());
                continue;
            }
            if let Some(pe) = decode_pe(k) {
                path.push(pe);
                rec(c, path, set);
                path.pop();
            }
        }
    }
    rec(v, &mut Vec::new(), &mut set);
    set
}

/// Reads `metadata.managedFields`.
pub fn read_entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or("Update").into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().unwrap_or_default().into(),
            fields: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

/// Writes `metadata.managedFields`.
pub fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(m) = obj["metadata"].as_object_mut() {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The apiserver's conflict message (`Apply failed with 1 conflict: conflict with "m": .spec.x`).
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "image": {"type": "string"}, "replicas": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}
        }}}})
    }

    #[test]
    fn fields_v1_round_trips() {
        let s = schema();
        let o = SchemaOracle(&s);
        let obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x", "labels": {"a": "b"}, "finalizers": ["f"]},
            "spec": {"image": "i", "tags": ["t"], "ports": [{"name": "http", "port": 80}]}});
        let set = fields_of(&obj, &o);
        let enc = to_fields_v1(&set);
        assert_eq!(
            enc["f:spec"]["f:ports"]["k:{\"name\":\"http\"}"]["."],
            json!({})
        );
        assert_eq!(enc["f:metadata"]["f:finalizers"]["v:\"f\""], json!({}));
        assert_eq!(from_fields_v1(&enc), set);
    }

    #[test]
    fn apply_conflicts_and_force() {
        let s = schema();
        let o = SchemaOracle(&s);
        let cfg_a = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"image": "one", "replicas": 1}});
        let a = apply(&json!({}), &cfg_a, &[], "a", "", "a/v1", false, &o).unwrap();
        let cfg_b = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"image": "two"}});
        let err = apply(&a.object, &cfg_b, &a.entries, "b", "", "a/v1", false, &o)
            .err()
            .unwrap();
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.image"
        );
        let same = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"image": "one"}});
        let shared = apply(&a.object, &same, &a.entries, "b", "", "a/v1", false, &o).unwrap();
        assert_eq!(shared.entries.len(), 2);
        let forced = apply(&a.object, &cfg_b, &a.entries, "b", "", "a/v1", true, &o).unwrap();
        assert_eq!(forced.object["spec"]["image"], "two");
        let a_fields = &forced
            .entries
            .iter()
            .find(|e| e.manager == "a")
            .unwrap()
            .fields;
        assert!(!a_fields.contains(&vec![Pe::Field("spec".into()), Pe::Field("image".into())]));
    }

    #[test]
    fn apply_removes_fields_the_applier_dropped() {
        let s = schema();
        let o = SchemaOracle(&s);
        let first = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"image": "i", "replicas": 3, "ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}});
        let a = apply(&json!({}), &first, &[], "m", "", "a/v1", false, &o).unwrap();
        let second = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"image": "i", "ports": [{"name": "b", "port": 2}]}});
        let b = apply(&a.object, &second, &a.entries, "m", "", "a/v1", false, &o).unwrap();
        assert!(b.object["spec"].get("replicas").is_none());
        assert_eq!(b.object["spec"]["ports"], json!([{"name": "b", "port": 2}]));
    }

    #[test]
    fn updates_take_ownership() {
        let s = schema();
        let o = SchemaOracle(&s);
        let obj = json!({"spec": {"image": "i"}});
        let e = record_update(&json!({}), &obj, &[], "create", "", "a/v1", &o);
        let new = json!({"spec": {"image": "j"}});
        let e2 = record_update(&obj, &new, &e, "edit", "", "a/v1", &o);
        assert_eq!(e2.len(), 1);
        assert_eq!(e2[0].manager, "edit");
        assert_eq!(
            path_string(e2[0].fields.iter().next().unwrap()),
            ".spec.image"
        );
    }
}

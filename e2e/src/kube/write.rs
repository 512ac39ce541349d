//! Writes, as the apiserver's generic registry and the type strategies do them: create,
//! update, patch (merge, JSON, strategic, apply), delete with finalizers and propagation,
//! validation, defaulting, pruning, generation, managedFields and no-op detection.

use serde_json::{Value, json};
use std::sync::Arc;

use super::builtin;
use super::managed::{self, BuiltinOracle, SchemaOracle, TypeOracle};
use super::meta;
use super::patch::{self, PatchType};
use super::registry::{self, Builtin, Origin, ResourceType};
use super::schema;
use super::status::{ApiError, FieldError};
use super::store::{EventType, StoreKey, World};

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop silently.
    Ignore,
    /// Drop and warn (the default).
    Warn,
    /// Reject.
    Strict,
}

/// Per-request write options.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// `dryRun=All`: validate and compute, store nothing.
    pub dry_run: bool,
    /// The field manager (from `fieldManager` or the User-Agent).
    pub manager: String,
    /// Whether `fieldManager` was given explicitly.
    pub manager_given: bool,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `force` (server-side apply).
    pub force: bool,
    /// Warnings for the `Warning` header.
    pub warnings: Vec<String>,
}

/// Which endpoint a write came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// The object itself.
    Main,
    /// `/status`.
    Status,
}

impl Sub {
    fn name(self) -> &'static str {
        match self {
            Sub::Main => "",
            Sub::Status => "status",
        }
    }
}

/// `DeleteOptions`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `propagationPolicy`.
    pub propagation: Option<String>,
    /// `orphanDependents` (deprecated form).
    pub orphan_dependents: Option<bool>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

/// What a delete returns.
#[derive(Debug)]
pub enum Deleted {
    /// The object (deleted, or marked for deletion while finalizers remain), with the HTTP code.
    Object(Value, u16),
    /// A Success Status (built-ins that don't return the deleted object).
    Status(Value),
}

fn oracle(t: &ResourceType) -> Box<dyn TypeOracle + '_> {
    match &t.schema {
        Some(s) => Box::new(SchemaOracle(s)),
        None => Box::new(BuiltinOracle),
    }
}

fn check_type(t: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    }
    let kind = body["kind"].as_str().unwrap_or_default();
    let api_version = body["apiVersion"].as_str().unwrap_or_default();
    if kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{body}'"
        )));
    }
    if api_version != t.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            t.api_version()
        )));
    }
    if kind != t.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            t.kind
        )));
    }
    if !body["metadata"].is_object() && !body["metadata"].is_null() {
        return Err(ApiError::bad_request("metadata must be an object"));
    }
    Ok(())
}

fn invalid(t: &ResourceType, name: &str, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(&t.kind, &t.group, name, errs)
}

/// The part of an object whose change bumps `metadata.generation`.
fn generation_part(t: &ResourceType, obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        if t.status_subresource {
            m.remove("status");
        }
    }
    v
}

fn without_managed_times(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(list) = v["metadata"]["managedFields"].as_array_mut() {
        for e in list {
            if let Some(m) = e.as_object_mut() {
                m.remove("time");
            }
        }
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    v
}

impl World {
    fn type_of_storage(&self, t: &ResourceType) -> ResourceType {
        self.registry
            .by_storage(&t.storage)
            .find(|s| s.storage_version)
            .cloned()
            .unwrap_or_else(|| t.clone())
    }

    /// Prunes, defaults and validates a custom resource (or applies a built-in's strategy),
    /// returning the field errors.
    fn admit(
        &mut self,
        t: &ResourceType,
        obj: &mut Value,
        old: Option<&Value>,
        ctx: &mut WriteCtx,
    ) -> Result<Vec<FieldError>, ApiError> {
        let mut unknown = Vec::new();
        if let Some(m) = obj["metadata"].as_object_mut() {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if !meta::OBJECT_META_FIELDS.contains(&k.as_str()) {
                    m.remove(&k);
                    unknown.push(format!("metadata.{k}"));
                }
            }
        }
        let mut errs = Vec::new();
        if let Some(s) = t.schema.clone() {
            schema::prune(&s, obj, "", true, &mut unknown);
            self.unknown_fields(t, &unknown, ctx)?;
            schema::apply_defaults(&s, obj);
            errs.extend(meta::validate_meta(obj, false));
            let schema_errs = schema::validate(&s, obj, "");
            let blocking = schema_errs.iter().any(|e| {
                use super::status::FieldErrorKind as K;
                matches!(
                    e.kind,
                    K::NotSupported | K::Required | K::TooLong | K::TooMany | K::TypeInvalid
                )
            });
            errs.extend(schema_errs);
            if blocking {
                errs.push(FieldError::make(
                    super::status::FieldErrorKind::Invalid,
                    "",
                    super::status::BadValue::Value(Value::Null),
                    "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
                ));
            } else {
                errs.extend(super::cel::validate(&s, obj, old));
            }
        } else {
            self.unknown_fields(t, &unknown, ctx)?;
            let kind = match t.origin {
                Origin::Builtin(b) => b,
                Origin::Crd { .. } => return Ok(errs),
            };
            errs.extend(meta::validate_meta(obj, kind == Builtin::Namespace));
            let more = if old.is_none() {
                let mut alloc = || self.allocate_ip();
                builtin::prepare_create(kind, obj, &mut alloc)?
            } else {
                builtin::prepare_update(kind, obj, old)?
            };
            errs.extend(more);
            if kind == Builtin::Crd {
                errs.extend(registry::validate_crd(obj));
            }
        }
        Ok(errs)
    }

    fn unknown_fields(
        &self,
        t: &ResourceType,
        unknown: &[String],
        ctx: &mut WriteCtx,
    ) -> Result<(), ApiError> {
        if unknown.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field {}", super::status::quote(u)))
            .collect();
        match ctx.field_validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                ctx.warnings.extend(list);
                Ok(())
            }
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{} in version {} cannot be handled as a {}: strict decoding error: {}",
                t.kind,
                super::status::quote(&t.version),
                t.kind,
                list.join(", ")
            ))),
        }
    }

    fn check_namespace(&self, t: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
        if !t.namespaced {
            return Ok(());
        }
        match self.get(&World::ns_key(ns)) {
            None => Err(ApiError::not_found(
                &super::status::GroupResource {
                    group: "",
                    resource: "namespaces",
                },
                ns,
            )),
            Some(n) if meta::deleting(n) => Err(ApiError::forbidden(
                &t.gr(),
                name,
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// POST: creates an object.
    pub fn create(
        &mut self,
        t: &ResourceType,
        ns: &str,
        body: Value,
        ctx: &mut WriteCtx,
    ) -> Result<Value, ApiError> {
        self.create_inner(t, ns, body, ctx, None)
    }

    fn create_inner(
        &mut self,
        t: &ResourceType,
        ns: &str,
        body: Value,
        ctx: &mut WriteCtx,
        applied: Option<Vec<managed::Entry>>,
    ) -> Result<Value, ApiError> {
        check_type(t, &body)?;
        let mut obj = body;
        if obj["metadata"].is_null() {
            obj["metadata"] = json!({});
        }
        if t.namespaced {
            let body_ns = meta::meta_str(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        if meta::name(&obj).is_empty()
            && let Some(g) = obj["metadata"]["generateName"]
                .as_str()
                .filter(|g| !g.is_empty())
        {
            obj["metadata"]["name"] = json!(format!("{g}{}", meta::random_suffix()));
        }
        if !meta::meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = meta::name(&obj).to_string();
        self.check_namespace(t, ns, &name)?;
        let st = self.type_of_storage(t);
        let mut obj = self.to_storage(t, obj);
        if st.status_subresource
            && st.is_custom()
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let errs = self.admit(&st, &mut obj, None, ctx)?;
        if !errs.is_empty() {
            return Err(invalid(t, &name, &errs));
        }
        let key = World::key(t, ns, &name);
        if self.get(&key).is_some() {
            return Err(ApiError::already_exists(&t.gr(), &name));
        }
        let m = &mut obj["metadata"];
        m["uid"] = json!(uuid::Uuid::new_v4().to_string());
        m["creationTimestamp"] = json!(meta::now());
        if let Some(mm) = m.as_object_mut() {
            mm.remove("deletionTimestamp");
            mm.remove("deletionGracePeriodSeconds");
            mm.remove("generation");
            mm.remove("selfLink");
        }
        if st.generation {
            obj["metadata"]["generation"] = json!(1);
        }
        let entries = match applied {
            Some(e) => e,
            None => managed::record_update(
                &json!({}),
                &obj,
                &[],
                &ctx.manager,
                "",
                &t.api_version(),
                oracle(&st).as_ref(),
            ),
        };
        managed::write_entries(&mut obj, &entries);
        if st.origin == Origin::Builtin(Builtin::Crd) {
            let names = obj["spec"]["names"].clone();
            let storage = obj["spec"]["versions"]
                .as_array()
                .and_then(|vs| vs.iter().find(|v| v["storage"].as_bool() == Some(true)))
                .map(|v| v["name"].clone())
                .unwrap_or(Value::Null);
            let now = meta::now();
            obj["status"] = json!({
                "acceptedNames": names,
                "storedVersions": [storage],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
            });
        }
        if ctx.dry_run {
            obj["metadata"]["resourceVersion"] = json!("");
            return Ok(World::present(t, &obj));
        }
        let committed = self.commit(key, obj, EventType::Added);
        if st.origin == Origin::Builtin(Builtin::Crd) {
            self.registry.register_crd(&committed);
        }
        Ok(World::present(t, &committed))
    }

    fn current(
        &self,
        t: &ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<(StoreKey, Arc<Value>), ApiError> {
        let key = World::key(t, ns, name);
        match self.get(&key) {
            Some(o) => Ok((key, o.clone())),
            None => Err(ApiError::not_found(&t.gr(), name)),
        }
    }

    /// PUT: replaces an object (or its status).
    pub fn update(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        body: Value,
        sub: Sub,
        ctx: &mut WriteCtx,
    ) -> Result<Value, ApiError> {
        check_type(t, &body)?;
        let (key, old) = self.current(t, ns, name)?;
        let body_name = meta::name(&body);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let rv = meta::meta_str(&body, "resourceVersion");
        if rv.is_empty() {
            if t.is_custom() {
                return Err(invalid(
                    t,
                    name,
                    &[FieldError::make(
                        super::status::FieldErrorKind::Invalid,
                        "metadata.resourceVersion",
                        super::status::BadValue::Raw("0x0".into()),
                        "must be specified for an update",
                    )],
                ));
            }
        } else if rv != meta::meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict_modified(&t.gr(), name));
        }
        let new = self.to_storage(t, body);
        self.finish_update(t, key, &old, new, sub, ctx, None)
    }

    /// PATCH: patches an object (or its status); server-side apply creates it if missing.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        ptype: PatchType,
        body: &[u8],
        sub: Sub,
        ctx: &mut WriteCtx,
    ) -> Result<Value, ApiError> {
        if ptype == PatchType::Strategic && t.is_custom() {
            return Err(ApiError::unsupported_patch(
                "application/strategic-merge-patch+json",
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            ));
        }
        if ptype == PatchType::Apply {
            return self.apply(t, ns, name, body, sub, ctx);
        }
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let (key, old) = self.current(t, ns, name)?;
        let mut doc = World::present(t, &old);
        match ptype {
            PatchType::Merge => {
                if !patch.is_object() {
                    return Err(ApiError::bad_request("merge patch must be a JSON object"));
                }
                patch::merge_patch(&mut doc, &patch)
            }
            PatchType::Json => patch::json_patch(&mut doc, &patch)?,
            PatchType::Strategic => patch::strategic_merge(&mut doc, &patch)?,
            PatchType::Apply => unreachable!("handled above"),
        }
        let rv = meta::meta_str(&doc, "resourceVersion");
        if !rv.is_empty() && rv != meta::meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict_modified(&t.gr(), name));
        }
        check_type(t, &doc)?;
        doc["metadata"]["name"] = json!(name);
        let new = self.to_storage(t, doc);
        self.finish_update(t, key, &old, new, sub, ctx, None)
    }

    fn apply(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        body: &[u8],
        sub: Sub,
        ctx: &mut WriteCtx,
    ) -> Result<Value, ApiError> {
        if !ctx.manager_given {
            return Err(ApiError::bad_request(
                "PATCH request: fieldManager is required for apply requests",
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        let mut cfg: Value = serde_yaml::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        check_type(t, &cfg)?;
        if cfg["metadata"].is_null() {
            cfg["metadata"] = json!({});
        }
        if !cfg["metadata"]["managedFields"].is_null() {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        let cfg_name = meta::name(&cfg).to_string();
        if !cfg_name.is_empty() && cfg_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({cfg_name}) does not match the name on the URL ({name})"
            )));
        }
        cfg["metadata"]["name"] = json!(name);
        if t.namespaced {
            let cns = meta::meta_str(&cfg, "namespace");
            if !cns.is_empty() && cns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            cfg["metadata"]["namespace"] = json!(ns);
        }
        let st = self.type_of_storage(t);
        let mut cfg = self.to_storage(t, cfg);
        if let Some(s) = &st.schema {
            let mut unknown = Vec::new();
            schema::prune(s, &mut cfg, "", true, &mut unknown);
            self.unknown_fields(t, &unknown, ctx)?;
        }
        match (sub, st.status_subresource) {
            (Sub::Main, true) => {
                if let Some(m) = cfg.as_object_mut() {
                    m.remove("status");
                }
            }
            (Sub::Status, _) => {
                if let Some(m) = cfg.as_object_mut() {
                    m.retain(|k, _| {
                        matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                    });
                }
                if let Some(m) = cfg["metadata"].as_object_mut() {
                    m.retain(|k, _| matches!(k.as_str(), "name" | "namespace"));
                }
            }
            _ => {}
        }
        let key = World::key(t, ns, name);
        let old = self.get(&key).cloned();
        let ora = oracle(&st);
        let live = old.as_deref().cloned().unwrap_or_else(|| json!({}));
        let entries = managed::read_entries(&live);
        let applied = managed::apply(&live, &cfg, &entries, &ctx.manager, sub.name(), &t.api_version(), ctx.force, ora.as_ref())
            .map_err(|conflicts| {
                let causes = conflicts
                    .iter()
                    .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.path}))
                    .collect();
                ApiError::apply_conflict(managed::conflict_message(&conflicts), causes)
            })?;
        drop(ora);
        match old {
            None => {
                if sub == Sub::Status {
                    return Err(ApiError::not_found(&t.gr(), name));
                }
                let mut obj = applied.object;
                if let Some(m) = obj["metadata"].as_object_mut() {
                    m.remove("managedFields");
                }
                let present = World::present(t, &obj);
                self.create_inner(t, ns, present, ctx, Some(applied.entries))
            }
            Some(old) => {
                let rv = meta::meta_str(&cfg, "resourceVersion");
                if !rv.is_empty() && rv != meta::meta_str(&old, "resourceVersion") {
                    return Err(ApiError::conflict_modified(&t.gr(), name));
                }
                let mut new = applied.object;
                managed::write_entries(&mut new, &applied.entries);
                self.finish_update(t, key, &old, new, sub, ctx, Some(applied.entries))
            }
        }
    }

    /// The common tail of PUT and PATCH: strategy, validation, generation, managedFields,
    /// no-op detection, and removal when the last finalizer of a deleted object goes.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &mut self,
        t: &ResourceType,
        key: StoreKey,
        old: &Value,
        new: Value,
        sub: Sub,
        ctx: &mut WriteCtx,
        applied: Option<Vec<managed::Entry>>,
    ) -> Result<Value, ApiError> {
        let st = self.type_of_storage(t);
        let name = key.name.clone();
        let mut new = new;
        let body_managed = new["metadata"].get("managedFields").cloned();
        match sub {
            Sub::Status => {
                let mut base = old.clone();
                match new.get("status") {
                    Some(s) => base["status"] = s.clone(),
                    None => {
                        if let Some(m) = base.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                new = base;
            }
            Sub::Main => {
                if st.status_subresource {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
            }
        }
        if new["metadata"].is_null() {
            new["metadata"] = json!({});
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        let mut errs = self.admit(&st, &mut new, Some(old), ctx)?;
        if meta::deleting(old) {
            let old_f = meta::finalizers(old);
            let added: Vec<String> = meta::finalizers(&new)
                .into_iter()
                .filter(|f| !old_f.contains(f))
                .collect();
            if !added.is_empty() {
                errs.push(FieldError::forbidden(
                    "metadata.finalizers",
                    format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.iter().map(|a| super::status::quote(a)).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(invalid(t, &name, &errs));
        }
        if st.generation && generation_part(&st, &new) != generation_part(&st, old) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        let entries = match applied {
            Some(e) => e,
            None => {
                let base = match body_managed {
                    Some(v) if v != old["metadata"]["managedFields"] => {
                        let mut tmp = json!({"metadata": {"managedFields": v}});
                        if tmp["metadata"]["managedFields"].is_null() {
                            tmp["metadata"]["managedFields"] =
                                old["metadata"]["managedFields"].clone();
                        }
                        managed::read_entries(&tmp)
                    }
                    _ => managed::read_entries(old),
                };
                managed::record_update(
                    old,
                    &new,
                    &base,
                    &ctx.manager,
                    sub.name(),
                    &t.api_version(),
                    oracle(&st).as_ref(),
                )
            }
        };
        managed::write_entries(&mut new, &entries);
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if without_managed_times(&new) == without_managed_times(old) {
            return Ok(World::present(t, old));
        }
        let gone = meta::deleting(&new) && meta::finalizers(&new).is_empty();
        if ctx.dry_run {
            return Ok(World::present(t, &new));
        }
        let committed = self.commit(
            key,
            new,
            if gone {
                EventType::Deleted
            } else {
                EventType::Modified
            },
        );
        if gone && st.origin == Origin::Builtin(Builtin::Crd) {
            let crd_name = meta::name(&committed).to_string();
            self.registry.remove_crd(&crd_name);
        }
        Ok(World::present(t, &committed))
    }

    /// DELETE: deletes an object, or marks it for deletion while finalizers remain.
    pub fn delete(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
        dry_run: bool,
    ) -> Result<Deleted, ApiError> {
        let (key, old) = self.current(t, ns, name)?;
        if let Some(uid) = &opts.uid
            && uid != meta::meta_str(&old, "uid")
        {
            return Err(ApiError::conflict(
                &t.gr(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::meta_str(&old, "uid")
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != meta::meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &t.gr(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta::meta_str(&old, "resourceVersion")
                ),
            ));
        }
        let policy = match (opts.propagation.as_deref(), opts.orphan_dependents) {
            (Some(p), _) => p.to_string(),
            (None, Some(true)) => "Orphan".into(),
            _ => "Background".into(),
        };
        if !matches!(policy.as_str(), "Background" | "Foreground" | "Orphan") {
            return Err(invalid(
                t,
                name,
                &[FieldError::not_supported(
                    "propagationPolicy",
                    json!(policy),
                    &["Foreground".into(), "Background".into(), "Orphan".into()],
                )],
            ));
        }
        let st = self.type_of_storage(t);
        let mut obj = (*old).clone();
        let mut fins = meta::finalizers(&obj);
        match st.origin {
            Origin::Builtin(Builtin::Namespace)
                if !fins.is_empty()
                    || obj["spec"]["finalizers"]
                        .as_array()
                        .is_some_and(|f| !f.is_empty()) =>
            {
                obj["status"]["phase"] = json!("Terminating");
            }
            Origin::Builtin(Builtin::Crd) => {
                let f = "customresourcecleanup.apiextensions.k8s.io".to_string();
                if !fins.contains(&f) {
                    fins.push(f);
                }
            }
            _ => {}
        }
        let extra = match policy.as_str() {
            "Foreground" => Some("foregroundDeletion"),
            "Orphan" => Some("orphan"),
            _ => None,
        };
        if let Some(f) = extra
            && !fins.iter().any(|x| x == f)
        {
            fins.push(f.to_string());
        }
        let namespace_pending = st.origin == Origin::Builtin(Builtin::Namespace)
            && obj["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
        if !fins.is_empty() || namespace_pending {
            let code = if opts.orphan_dependents == Some(false) {
                202
            } else {
                200
            };
            if meta::deleting(&old) && fins == meta::finalizers(&old) {
                return Ok(Deleted::Object(World::present(t, &old), code));
            }
            meta::set_finalizers(&mut obj, &fins);
            if !meta::deleting(&obj) {
                obj["metadata"]["deletionTimestamp"] = json!(meta::now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                if let Some(g) = obj["metadata"]["generation"].as_i64() {
                    obj["metadata"]["generation"] = json!(g + 1);
                }
            }
            if st.origin == Origin::Builtin(Builtin::Crd) {
                let cond = json!({"type": "Terminating", "status": "True", "reason": "InstanceDeletionPending",
                    "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
                    "lastTransitionTime": meta::now()});
                if let Some(c) = obj["status"]["conditions"].as_array_mut() {
                    c.retain(|c| c["type"] != "Terminating");
                    c.push(cond);
                }
            }
            if dry_run {
                return Ok(Deleted::Object(World::present(t, &obj), code));
            }
            let committed = self.commit(key, obj, EventType::Modified);
            return Ok(Deleted::Object(World::present(t, &committed), code));
        }
        if dry_run {
            return Ok(self.deleted_response(t, &st, &obj));
        }
        let committed = self.commit(key, obj, EventType::Deleted);
        if st.origin == Origin::Builtin(Builtin::Crd) {
            self.registry.remove_crd(name);
        }
        Ok(self.deleted_response(t, &st, &committed))
    }

    fn deleted_response(&self, t: &ResourceType, st: &ResourceType, obj: &Value) -> Deleted {
        let returns_object = st.is_custom()
            || matches!(
                st.origin,
                Origin::Builtin(
                    Builtin::Namespace | Builtin::Crd | Builtin::Service | Builtin::Deployment
                )
            );
        if returns_object {
            Deleted::Object(World::present(t, obj), 200)
        } else {
            let mut details = json!({"name": meta::name(obj), "kind": t.plural, "uid": meta::meta_str(obj, "uid")});
            if !t.group.is_empty() {
                details["group"] = json!(t.group);
            }
            Deleted::Status(json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details,
            }))
        }
    }

    /// A write by a controller of the emulated control plane (namespace, CRD cleanup,
    /// garbage collector): applies `f` and commits, removing the object when it is being
    /// deleted and has no finalizers left.
    pub fn system_update(&mut self, key: &StoreKey, f: impl FnOnce(&mut Value)) {
        let Some(old) = self.get(key).cloned() else {
            return;
        };
        let mut new = (*old).clone();
        f(&mut new);
        if new == *old {
            return;
        }
        let gone = meta::deleting(&new) && meta::finalizers(&new).is_empty() && {
            // A namespace also waits for its spec.finalizers.
            new["spec"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
                || key.storage.resource != "namespaces"
                || !key.storage.group.is_empty()
        };
        let committed = self.commit(
            key.clone(),
            new,
            if gone {
                EventType::Deleted
            } else {
                EventType::Modified
            },
        );
        if gone && key.storage.group == "apiextensions.k8s.io" {
            let n = meta::name(&committed).to_string();
            self.registry.remove_crd(&n);
        }
    }

    /// Deletes an object on behalf of a controller (background propagation).
    pub fn system_delete(&mut self, key: &StoreKey) {
        let Some(old) = self.get(key).cloned() else {
            return;
        };
        if meta::deleting(&old) {
            return;
        }
        if meta::finalizers(&old).is_empty() {
            self.commit(key.clone(), (*old).clone(), EventType::Deleted);
        } else {
            self.system_update(key, |o| {
                o["metadata"]["deletionTimestamp"] = json!(meta::now());
                o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                if let Some(g) = o["metadata"]["generation"].as_i64() {
                    o["metadata"]["generation"] = json!(g + 1);
                }
            });
        }
    }
}

//! The resource types the emulator serves: the built-in kinds and those registered by
//! CustomResourceDefinitions, with what discovery, validation and printing need of each.

use serde_json::Value;
use std::collections::BTreeMap;

use super::status::FieldError;

/// Where a resource's objects are stored: two served resources share storage when the
/// apiserver serves one stored kind in two groups (core/v1 and events.k8s.io/v1 Events).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageId {
    /// The storage group.
    pub group: String,
    /// The storage resource (plural).
    pub resource: String,
}

/// A printer column (`additionalPrinterColumns` of a CRD version, or a built-in's).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// Column format (`name`, ...), may be empty.
    pub format: String,
    /// Column description.
    pub description: String,
    /// Priority (0 shows by default, more with `-o wide`).
    pub priority: i64,
    /// JSONPath into the object (simple kubectl-style path).
    pub json_path: String,
}

/// The CRD `subresources.scale` paths.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSpec {
    /// `.spec.replicas`-like path.
    pub spec_replicas_path: String,
    /// `.status.replicas`-like path.
    pub status_replicas_path: String,
    /// Optional `.status.selector`-like path.
    pub label_selector_path: Option<String>,
}

/// Built-in kinds whose semantics the emulator implements beyond storing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 Secret.
    Secret,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Event.
    CoreEvent,
    /// events.k8s.io/v1 Event.
    EventsEvent,
    /// core/v1 ServiceAccount.
    ServiceAccount,
    /// core/v1 Service.
    Service,
    /// apps/v1 Deployment.
    Deployment,
    /// coordination.k8s.io/v1 Lease.
    Lease,
    /// apiextensions.k8s.io/v1 CustomResourceDefinition.
    Crd,
    /// rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding.
    Rbac,
}

/// Where a type comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Compiled in.
    Builtin(Builtin),
    /// Registered by the named CRD.
    Crd {
        /// The CRD's `metadata.name`.
        crd_name: String,
    },
}

/// One served resource of one group-version.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// List kind.
    pub list_kind: String,
    /// Plural resource name.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`gcl`).
    pub short_names: Vec<String>,
    /// Categories (`all`, `gluster`).
    pub categories: Vec<String>,
    /// Whether the `/status` subresource is served separately.
    pub status_subresource: bool,
    /// The `/scale` subresource, when served.
    pub scale: Option<ScaleSpec>,
    /// The structural schema (CRDs): validation, defaulting and pruning.
    pub schema: Option<Value>,
    /// Printer columns for the Table form (besides Name).
    pub columns: Vec<PrinterColumn>,
    /// Where its objects are stored.
    pub storage: StorageId,
    /// Whether `metadata.generation` is kept.
    pub generation: bool,
    /// Built-in or from a CRD.
    pub origin: Origin,
    /// Whether this version is the CRD's storage version (always true for built-ins).
    pub storage_version: bool,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-resource used in error messages.
    pub fn gr(&self) -> super::status::GroupResource<'_> {
        super::status::GroupResource {
            group: &self.group,
            resource: &self.plural,
        }
    }

    /// Whether this type is a custom resource.
    pub fn is_custom(&self) -> bool {
        matches!(self.origin, Origin::Crd { .. })
    }

    /// The verbs discovery lists.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// All served types, keyed by (group, version, plural).
#[derive(Debug, Default, Clone)]
pub struct Registry {
    types: BTreeMap<(String, String, String), ResourceType>,
}

impl Registry {
    /// A registry holding the built-in kinds.
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        for t in super::builtin::types() {
            r.insert(t);
        }
        r
    }

    /// Adds or replaces a type.
    pub fn insert(&mut self, t: ResourceType) {
        self.types
            .insert((t.group.clone(), t.version.clone(), t.plural.clone()), t);
    }

    /// Looks a served resource up.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Every served type.
    pub fn all(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    /// Removes every type a CRD registered.
    pub fn remove_crd(&mut self, crd_name: &str) {
        self.types
            .retain(|_, t| !matches!(&t.origin, Origin::Crd { crd_name: n } if n == crd_name));
    }

    /// The types of one storage (all served versions of it).
    pub fn by_storage<'a>(
        &'a self,
        storage: &'a StorageId,
    ) -> impl Iterator<Item = &'a ResourceType> {
        self.types.values().filter(move |t| &t.storage == storage)
    }

    /// The served group-versions, core first, each with its types.
    pub fn group_versions(&self) -> BTreeMap<(String, String), Vec<&ResourceType>> {
        let mut m: BTreeMap<(String, String), Vec<&ResourceType>> = BTreeMap::new();
        for t in self.types.values() {
            m.entry((t.group.clone(), t.version.clone()))
                .or_default()
                .push(t);
        }
        m
    }

    /// Registers the served versions of a CRD object (already validated).
    pub fn register_crd(&mut self, crd: &Value) {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.remove_crd(&name);
        for t in crd_types(crd) {
            self.insert(t);
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource types a CRD serves (one per served version).
pub fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let singular = names["singular"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kind.to_lowercase());
    let list_kind = names["listKind"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| format!("{kind}List"));
    let crd_name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let storage = StorageId {
        group: group.clone(),
        resource: plural.clone(),
    };
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .map(|v| {
            let subresources = &v["subresources"];
            let scale = subresources
                .get("scale")
                .filter(|s| s.is_object())
                .map(|s| ScaleSpec {
                    spec_replicas_path: s["specReplicasPath"].as_str().unwrap_or_default().into(),
                    status_replicas_path: s["statusReplicasPath"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                    label_selector_path: s["labelSelectorPath"].as_str().map(String::from),
                });
            let mut columns: Vec<PrinterColumn> = v["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| PrinterColumn {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    type_: c["type"].as_str().unwrap_or("string").into(),
                    format: c["format"].as_str().unwrap_or_default().into(),
                    description: c["description"].as_str().unwrap_or_default().into(),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    json_path: c["jsonPath"].as_str().unwrap_or_default().into(),
                })
                .collect();
            if v.get("additionalPrinterColumns").is_none() {
                columns.push(age_column());
            }
            ResourceType {
                group: group.clone(),
                version: v["name"].as_str().unwrap_or_default().into(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status_subresource: subresources.get("status").is_some_and(|s| s.is_object()),
                scale,
                schema: v["schema"]["openAPIV3Schema"]
                    .as_object()
                    .map(|_| v["schema"]["openAPIV3Schema"].clone()),
                columns,
                storage: storage.clone(),
                generation: true,
                origin: Origin::Crd {
                    crd_name: crd_name.clone(),
                },
                storage_version: v["storage"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

/// The `Age` column every kind shows.
pub fn age_column() -> PrinterColumn {
    PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }
}

/// Checks a CRD's spec the way the apiextensions validation does for what the emulator
/// relies on (names, group, versions, scope).
pub fn validate_crd(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            Value::String(group.into()),
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    }
    if spec["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            Value::String(name.into()),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced") | Some("Cluster") => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.scope",
            Value::String(other.into()),
            &["Cluster".into(), "Namespaced".into()],
        )),
        None => errs.push(FieldError::required("spec.scope", "")),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Null,
            "must have exactly one version marked as storage version",
        ));
    } else {
        let storage = versions
            .iter()
            .filter(|v| v["storage"].as_bool() == Some(true))
            .count();
        if storage != 1 {
            errs.push(FieldError::invalid(
                "spec.versions",
                Value::Null,
                "must have exactly one version marked as storage version",
            ));
        }
        for (i, v) in versions.iter().enumerate() {
            if v["schema"]["openAPIV3Schema"].as_object().is_none() {
                errs.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            } else if let Some(rule_errs) =
                super::cel::compile_errors(&v["schema"]["openAPIV3Schema"])
            {
                for e in rule_errs {
                    errs.push(FieldError::invalid(
                        format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        Value::String(e.0),
                        e.1,
                    ));
                }
            }
        }
    }
    errs
}

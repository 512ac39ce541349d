//! The CRD as the apiserver sees it: the committed YAML matches the code, its OpenAPI bounds and
//! its CEL rules accept good objects and refuse bad ones with a message naming the field.
//!
//! CEL rules are evaluated by kube's client-side evaluator (kube-cel, which implements the
//! Kubernetes CEL libraries such as `quantity()` and `isCIDR()`); the OpenAPI part by a JSON
//! Schema validator over the CRD's `openAPIV3Schema`.

use std::path::{Path, PathBuf};

use gluster_operator::api::GlusterCluster;
use kube::CustomResourceExt;
use kube::core::cel::{Validator, compile_schema};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("operator/ has a parent")
        .to_path_buf()
}

/// The `openAPIV3Schema` of the generated CRD.
fn schema() -> Value {
    let crd = GlusterCluster::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("the CRD has an openAPIV3Schema");
    serde_json::to_value(schema).expect("schema serializes")
}

/// A valid GlusterCluster: two zones, replica 2, every optional block present.
fn good() -> Value {
    json!({
        "apiVersion": "storage.glusterops.dev/v1alpha1",
        "kind": "GlusterCluster",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {
            "cloud": {"secretName": "openstack", "cloudName": "sim"},
            "image": "ubuntu-22.04",
            "flavor": "m1.medium",
            "network": "private",
            "zones": [
                {"name": "zone-a", "nodes": 2, "minNodes": 2, "maxNodes": 4},
                {"name": "zone-b", "nodes": 2, "minNodes": 2, "maxNodes": 4, "storage": "Auto"}
            ],
            "brick": {"size": "200Gi", "mountPath": "/export/data"},
            "volume": {
                "name": "data",
                "replicas": 2,
                "options": {"performance.cache-size": "256MB"},
                "allowedClients": ["10.0.0.0/8", "2001:db8::/32"]
            },
            "autoscaling": {"enabled": true},
            "deletionPolicy": "Retain"
        }
    })
}

/// `good()` with the JSON pointer `path` set to `value` (or removed when `value` is null).
fn with(path: &str, value: Value) -> Value {
    let mut obj = good();
    let (parent, key) = path.rsplit_once('/').expect("pointer has a parent");
    let target = obj.pointer_mut(parent).expect("parent exists in good()");
    match target {
        Value::Object(map) if value.is_null() => {
            map.remove(key);
        }
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let i: usize = key.parse().expect("array index");
            items[i] = value;
        }
        other => panic!("cannot set {path} inside {other}"),
    }
    obj
}

fn cel_errors(obj: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema(), obj, old) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn schema_errors(obj: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).expect("the CRD schema compiles");
    validator
        .iter_errors(obj)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

#[test]
fn committed_crd_matches_the_code() {
    let generated = gluster_operator::crd::crd_yaml().expect("CRD renders");
    let path = repo_root().join("crds/glusterclusters.yaml");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        generated == committed,
        "crds/glusterclusters.yaml differs from the Rust types: run `make crds` and commit it"
    );
}

#[test]
fn crd_names_and_columns_are_the_api() {
    let crd = GlusterCluster::crd();
    assert_eq!(crd.spec.group, "storage.glusterops.dev");
    assert_eq!(crd.spec.names.kind, "GlusterCluster");
    assert_eq!(crd.spec.names.short_names, Some(vec!["gcl".to_owned()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["gluster".to_owned()]));
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    let subresources = version.subresources.as_ref().expect("subresources");
    assert!(subresources.status.is_some(), "status subresource");
    let columns: Vec<&str> = version
        .additional_printer_columns
        .as_ref()
        .expect("printer columns")
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Ready", "Nodes", "Type", "Capacity", "Degraded", "Bricks", "Heal", "Age"
        ]
    );
    // Conditions are a list-type map keyed by type, as metav1.Condition lists must be.
    let conditions = &schema()["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    // Zones merge by name under server-side apply (GitOps tools editing one zone's count).
    let zones = &schema()["properties"]["spec"]["properties"]["zones"];
    assert_eq!(zones["x-kubernetes-list-type"], "map");
    assert_eq!(zones["x-kubernetes-list-map-keys"], json!(["name"]));
}

#[test]
fn every_cel_rule_compiles() {
    let compiled = compile_schema(&schema());
    fn walk(node: &kube::core::cel::CompiledSchema, path: &str, errors: &mut Vec<String>) {
        for e in node.compilation_errors() {
            errors.push(format!("{path}: {e}"));
        }
        for (name, child) in &node.properties {
            walk(child, &format!("{path}.{name}"), errors);
        }
        if let Some(items) = &node.items {
            walk(items, &format!("{path}[]"), errors);
        }
        if let Some(additional) = &node.additional_properties {
            walk(additional, &format!("{path}{{}}"), errors);
        }
    }
    let mut errors = vec![];
    walk(&compiled, "", &mut errors);
    assert!(
        errors.is_empty(),
        "CEL rules that do not compile: {errors:#?}"
    );
}

#[test]
fn good_object_passes_schema_and_cel() {
    assert_eq!(schema_errors(&good()), Vec::<String>::new());
    assert_eq!(cel_errors(&good(), None), Vec::<String>::new());
    // An update that changes nothing immutable passes the transition rules too.
    let mut scaled = good();
    scaled["spec"]["zones"][0]["nodes"] = json!(3);
    assert_eq!(cel_errors(&scaled, Some(&good())), Vec::<String>::new());
}

#[test]
fn minimal_object_passes_with_defaults() {
    // Only the required fields: defaults (Retain, Auto, tcp, autoscaling thresholds) fill the rest.
    let minimal = json!({
        "apiVersion": "storage.glusterops.dev/v1alpha1",
        "kind": "GlusterCluster",
        "metadata": {"name": "m"},
        "spec": {
            "cloud": {"secretName": "openstack", "cloudName": "sim"},
            "image": "debian-12", "flavor": "m1.small", "network": "private",
            "zones": [{"name": "zone-a", "nodes": 4}],
            "brick": {"size": "1Gi"},
            "volume": {"name": "v"}
        }
    });
    assert_eq!(schema_errors(&minimal), Vec::<String>::new());
    assert_eq!(cel_errors(&minimal, None), Vec::<String>::new());
    let typed: GlusterCluster = serde_json::from_value(minimal).expect("deserializes");
    assert_eq!(
        typed.spec.deletion_policy,
        gluster_operator::api::DeletionPolicy::Retain
    );
}

/// Bad objects the OpenAPI schema refuses: (case, pointer, value, text the error must contain).
#[test]
fn openapi_bounds_refuse_bad_fields() {
    let cases = [
        (
            "replicas 0",
            "/spec/volume/replicas",
            json!(0),
            "/spec/volume/replicas",
        ),
        (
            "stripes 0",
            "/spec/volume/stripes",
            json!(0),
            "/spec/volume/stripes",
        ),
        (
            "negative nodes",
            "/spec/zones/0/nodes",
            json!(-1),
            "/spec/zones/0/nodes",
        ),
        ("no zones", "/spec/zones", json!([]), "/spec/zones"),
        (
            "unknown storage",
            "/spec/zones/0/storage",
            json!("Tape"),
            "/spec/zones/0/storage",
        ),
        (
            "bad volume name",
            "/spec/volume/name",
            json!("-data"),
            "/spec/volume/name",
        ),
        (
            "relative mount path",
            "/spec/brick/mountPath",
            json!("export/data"),
            "/spec/brick/mountPath",
        ),
        (
            "size not a quantity",
            "/spec/brick/size",
            json!("lots"),
            "/spec/brick/size",
        ),
        (
            "unknown policy",
            "/spec/deletionPolicy",
            json!("Shred"),
            "/spec/deletionPolicy",
        ),
        (
            "arbiter 2",
            "/spec/volume/arbiter",
            json!(2),
            "/spec/volume/arbiter",
        ),
        (
            "bad secret name",
            "/spec/cloud/secretName",
            json!("Open Stack"),
            "/spec/cloud/secretName",
        ),
        ("missing image", "/spec/image", Value::Null, "image"),
    ];
    for (case, pointer, value, expected) in cases {
        let errors = schema_errors(&with(pointer, value));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{case}: expected an error naming {expected}, got {errors:#?}"
        );
    }
}

/// Bad objects the CEL rules refuse: (case, pointer, value, text the error must contain).
#[test]
fn cel_rules_refuse_bad_objects_naming_the_field() {
    let cases = [
        (
            "duplicate zone names",
            "/spec/zones/1/name",
            json!("zone-a"),
            "spec.zones[].name must be unique",
        ),
        (
            "minNodes above nodes",
            "/spec/zones/0/minNodes",
            json!(3),
            "minNodes",
        ),
        (
            "nodes above maxNodes",
            "/spec/zones/0/maxNodes",
            json!(1),
            "maxNodes",
        ),
        (
            "brick below 1Gi",
            "/spec/brick/size",
            json!("512Mi"),
            "brick.size",
        ),
        ("brick 0", "/spec/brick/size", json!("0"), "brick.size"),
        (
            "malformed CIDR",
            "/spec/volume/allowedClients",
            json!(["10.0.0.0/33"]),
            "allowedClients",
        ),
        (
            "address without prefix",
            "/spec/volume/allowedClients",
            json!(["not-a-network"]),
            "allowedClients",
        ),
        (
            "malformed SSH source",
            "/spec/sshFrom",
            json!(["10.0.0.0/24", "bastion"]),
            "spec.sshFrom",
        ),
        (
            "disperse with replicas",
            "/spec/volume/disperse",
            json!(4),
            "volume.disperse and volume.replicas",
        ),
        (
            "arbiter with replicas 2",
            "/spec/volume/arbiter",
            json!(1),
            "volume.arbiter",
        ),
        (
            "clone source with both ids",
            "/spec/brick/source",
            json!({"volumeId": "a", "snapshotId": "b"}),
            "brick.source",
        ),
        (
            "clone source with neither id",
            "/spec/brick/source",
            json!({}),
            "brick.source",
        ),
        (
            "thresholds inverted",
            "/spec/autoscaling",
            json!({"enabled": true, "scaleOutThreshold": 40, "scaleInThreshold": 60}),
            "scaleInThreshold",
        ),
        (
            "autoscaling without bounds",
            "/spec/zones/1",
            json!({"name": "zone-b", "nodes": 2}),
            "minNodes and maxNodes",
        ),
    ];
    for (case, pointer, value, expected) in cases {
        let errors = cel_errors(&with(pointer, value), None);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{case}: expected an error containing {expected:?}, got {errors:#?}"
        );
    }
}

#[test]
fn redundancy_rules() {
    let mut obj = good();
    let volume = &mut obj["spec"]["volume"];
    volume.as_object_mut().expect("object").remove("replicas");
    volume["disperse"] = json!(4);
    volume["redundancy"] = json!(1);
    assert_eq!(cel_errors(&obj, None), Vec::<String>::new());
    obj["spec"]["volume"]["redundancy"] = json!(2);
    let errors = cel_errors(&obj, None);
    assert!(
        errors.iter().any(|e| e.contains("volume.redundancy")),
        "{errors:#?}"
    );
}

#[test]
fn immutable_fields_stay_immutable() {
    let old = good();
    let renamed = with("/spec/volume/name", json!("other"));
    let errors = cel_errors(&renamed, Some(&old));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("volume.name is immutable")),
        "{errors:#?}"
    );

    let moved = with("/spec/brick/mountPath", json!("/srv/brick"));
    let errors = cel_errors(&moved, Some(&old));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("brick.mountPath is immutable")),
        "{errors:#?}"
    );

    let unset = with("/spec/brick/mountPath", Value::Null);
    let errors = cel_errors(&unset, Some(&old));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("brick.mountPath is immutable")),
        "{errors:#?}"
    );

    // On create there is no old object: transition rules do not apply.
    assert_eq!(cel_errors(&moved, None), Vec::<String>::new());
}

#[test]
fn examples_pass_schema_and_cel() {
    let dir = repo_root().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example readable");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("example is YAML");
            if value["kind"] != "GlusterCluster" {
                continue;
            }
            let name = path.display();
            assert_eq!(schema_errors(&value), Vec::<String>::new(), "{name}");
            assert_eq!(cel_errors(&value, None), Vec::<String>::new(), "{name}");
            checked += 1;
        }
    }
    assert!(
        checked >= 1,
        "no GlusterCluster found under {}",
        dir.display()
    );
}

/// `obj` with the JSON pointer `path` set to `value` (or removed when `value` is null).
fn set(mut obj: Value, path: &str, value: Value) -> Value {
    let (parent, key) = path.rsplit_once('/').expect("pointer has a parent");
    let target = obj.pointer_mut(parent).expect("parent exists");
    match target {
        Value::Object(map) if value.is_null() => {
            map.remove(key);
        }
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let i: usize = key.parse().expect("array index");
            items[i] = value;
        }
        other => panic!("cannot set {path} inside {other}"),
    }
    obj
}

/// Asserts that updating `old` to `new` is refused by a CEL rule whose message contains `field`.
fn assert_update_refused(case: &str, old: &Value, new: &Value, field: &str) {
    let errors = cel_errors(new, Some(old));
    assert!(
        errors.iter().any(|e| e.contains(field)),
        "{case}: expected an error naming {field:?}, got {errors:#?}"
    );
}

/// Asserts that updating `old` to `new` passes every CEL rule.
fn assert_update_allowed(case: &str, old: &Value, new: &Value) {
    assert_eq!(cel_errors(new, Some(old)), Vec::<String>::new(), "{case}");
}

#[test]
fn cloud_network_and_key_name_are_immutable() {
    let old = set(good(), "/spec/keyName", json!("admin"));
    for (case, pointer, value, field) in [
        (
            "secretName",
            "/spec/cloud/secretName",
            json!("other"),
            "spec.cloud",
        ),
        (
            "cloudName",
            "/spec/cloud/cloudName",
            json!("other"),
            "spec.cloud",
        ),
        (
            "region added",
            "/spec/cloud/region",
            json!("RegionTwo"),
            "spec.cloud",
        ),
        ("network", "/spec/network", json!("public"), "spec.network"),
        (
            "keyName changed",
            "/spec/keyName",
            json!("other"),
            "spec.keyName",
        ),
        (
            "keyName removed",
            "/spec/keyName",
            Value::Null,
            "spec.keyName",
        ),
    ] {
        assert_update_refused(case, &old, &set(old.clone(), pointer, value), field);
    }
    // keyName cannot be added later either.
    assert_update_refused(
        "keyName added",
        &good(),
        &set(good(), "/spec/keyName", json!("admin")),
        "spec.keyName",
    );
    // An unchanged cloud, network and keyName pass (with a region too), and on create any value goes.
    let regional = set(old.clone(), "/spec/cloud/region", json!("RegionOne"));
    assert_update_allowed("same region", &regional, &regional.clone());
    assert_update_allowed(
        "scale only",
        &old,
        &set(old.clone(), "/spec/zones/0/nodes", json!(3)),
    );
    assert_eq!(cel_errors(&regional, None), Vec::<String>::new());
}

#[test]
fn zones_may_be_added_or_removed_but_not_renamed() {
    let old = good();
    let zone_c = json!({"name": "zone-c", "nodes": 2, "minNodes": 2, "maxNodes": 4});
    let mut added = good();
    added["spec"]["zones"]
        .as_array_mut()
        .expect("zones")
        .push(zone_c.clone());
    assert_update_allowed("zone added", &old, &added);
    let mut removed = good();
    removed["spec"]["zones"]
        .as_array_mut()
        .expect("zones")
        .pop();
    assert_update_allowed("zone removed", &old, &removed);
    // The same zones in another order are no rename.
    let mut reordered = good();
    reordered["spec"]["zones"]
        .as_array_mut()
        .expect("zones")
        .reverse();
    assert_update_allowed("zones reordered", &old, &reordered);

    let renamed = set(good(), "/spec/zones/1/name", json!("zone-c"));
    assert_update_refused("zone renamed", &old, &renamed, "spec.zones[].name");
    // Swapping one zone for another in one update is a rename too.
    let swapped = set(good(), "/spec/zones/1", zone_c);
    assert_update_refused("zone swapped", &old, &swapped, "spec.zones[].name");
}

#[test]
fn brick_source_is_immutable() {
    let source = json!({"snapshotId": "snap-1"});
    let old = set(good(), "/spec/brick/source", source.clone());
    assert_update_allowed("unchanged source", &old, &old.clone());
    assert_update_refused(
        "source changed",
        &old,
        &set(
            old.clone(),
            "/spec/brick/source",
            json!({"snapshotId": "snap-2"}),
        ),
        "brick.source is immutable",
    );
    assert_update_refused(
        "source removed",
        &old,
        &set(old.clone(), "/spec/brick/source", Value::Null),
        "brick.source is immutable",
    );
    assert_update_refused("source added", &good(), &old, "brick.source is immutable");
    assert_eq!(cel_errors(&old, None), Vec::<String>::new());
}

#[test]
fn brick_mount_path_only_below_an_allowed_prefix() {
    for ok in [
        "/export/data",
        "/data/gluster/b1",
        "/srv/brick",
        "/srv/a..b",
    ] {
        let obj = with("/spec/brick/mountPath", json!(ok));
        assert_eq!(cel_errors(&obj, None), Vec::<String>::new(), "{ok}");
        assert_eq!(schema_errors(&obj), Vec::<String>::new(), "{ok}");
    }
    for bad in [
        "/etc",
        "/etc/gluster",
        "/exporter/x",
        "/export",
        "/var/lib/glusterd",
        "/export/../etc",
        "/srv/a/..",
        "/data/./x",
    ] {
        let errors = cel_errors(&with("/spec/brick/mountPath", json!(bad)), None);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("brick.mountPath must be below /export/, /data/ or /srv/")),
            "{bad}: {errors:#?}"
        );
    }
}

#[test]
fn package_sources_take_a_restricted_form_without_trusted_yes() {
    for ok in [
        "ppa:gluster/glusterfs-11",
        "centos-release-gluster11",
        "deb https://download.gluster.org/pub/gluster/glusterfs/11/LATEST/Debian/bookworm/amd64/apt bookworm main",
        "deb [signed-by=/usr/share/keyrings/gluster.gpg] https://download.gluster.org/pub/gluster/glusterfs/11/LATEST/Debian/bookworm/amd64/apt bookworm main",
        "deb [signed-by=/etc/apt/keyrings/gluster.asc] http://mirror.example:8080/debian $RELEASE main contrib",
    ] {
        let obj = with("/spec/gluster", json!({"repository": ok}));
        assert_eq!(cel_errors(&obj, None), Vec::<String>::new(), "{ok}");
        assert_eq!(schema_errors(&obj), Vec::<String>::new(), "{ok}");
    }
    for (bad, want) in [
        (
            "deb [trusted=yes] http://mirror.example/debian bookworm main",
            "gluster.repository must not disable apt's signature checks",
        ),
        (
            "deb [signed-by=/usr/share/keyrings/k.gpg trusted=yes] http://m.example/d bookworm main",
            "gluster.repository must not disable apt's signature checks",
        ),
        (
            "deb [Allow-Insecure=yes] http://mirror.example/debian bookworm main",
            "gluster.repository must not disable apt's signature checks",
        ),
        (
            "deb [arch=amd64] http://mirror.example/debian bookworm main",
            "gluster.repository must be",
        ),
        (
            "deb [signed-by=/tmp/k.gpg] http://mirror.example/debian bookworm main",
            "gluster.repository must be",
        ),
        (
            "deb file:/srv/repo bookworm main",
            "gluster.repository must be",
        ),
        (
            "deb http://mirror.example/debian bookworm main\nruncmd: [reboot]",
            "gluster.repository must be",
        ),
        ("ppa:gluster", "gluster.repository must be"),
        ("rm -rf /", "gluster.repository must be"),
    ] {
        let errors = cel_errors(&with("/spec/gluster", json!({"repository": bad})), None);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{bad:?}: expected {want:?}, got {errors:#?}"
        );
    }
}

mod deletion_policy {
    use super::*;
    use gluster_operator::api::ALLOW_DELETE_POLICY_ANNOTATION;
    use gluster_operator::api::admission::{deletion_policy_admission, deletion_policy_expression};
    use kube::core::cel::cel::{Context, Program, Value as CelValue};

    /// Evaluates the policy's validations for `operation` of `object` (over `old`): the
    /// messages of those that fail.
    ///
    /// With the `cel` crate and the ValidatingAdmissionPolicy variables bound as the apiserver
    /// binds them (`request`, `object`, `oldObject`: null on create). Not kube's `VapEvaluator`:
    /// kube-cel 0.8 escapes every map key as if it were a CRD property name (`/` becomes
    /// `__slash__`), so no annotation key would ever match there.
    fn refusals(operation: &str, object: &Value, old: Option<&Value>) -> Vec<String> {
        let [policy, _] = deletion_policy_admission();
        let mut ctx = Context::default();
        ctx.add_variable("object", object.clone())
            .expect("object binds");
        ctx.add_variable("oldObject", old.cloned().unwrap_or(Value::Null))
            .expect("oldObject binds");
        ctx.add_variable("request", json!({"operation": operation}))
            .expect("request binds");
        policy["spec"]["validations"]
            .as_array()
            .expect("validations")
            .iter()
            .filter_map(|v| {
                let expression = v["expression"].as_str().expect("expression");
                let program = Program::compile(expression).expect("the expression compiles");
                match program.execute(&ctx) {
                    Ok(CelValue::Bool(true)) => None,
                    Ok(_) => Some(v["message"].as_str().expect("message").to_owned()),
                    Err(e) => Some(format!("evaluation error: {e}")),
                }
            })
            .collect()
    }

    fn annotated(obj: Value, value: &str) -> Value {
        set(
            obj,
            "/metadata/annotations",
            json!({ ALLOW_DELETE_POLICY_ANNOTATION: value }),
        )
    }

    #[test]
    fn delete_needs_the_annotation_on_update() {
        let retain = good();
        let delete = with("/spec/deletionPolicy", json!("Delete"));
        let refused = refusals("UPDATE", &delete, Some(&retain));
        assert!(
            refused.iter().any(|m| m.contains("spec.deletionPolicy")),
            "{refused:#?}"
        );
        let refused = refusals("UPDATE", &annotated(delete.clone(), "false"), Some(&retain));
        assert!(
            refused.iter().any(|m| m.contains("spec.deletionPolicy")),
            "{refused:#?}"
        );
        // With the annotation the change passes; so do Delete → Delete, Delete → Retain and
        // creating a cluster with Delete.
        assert_eq!(
            refusals("UPDATE", &annotated(delete.clone(), "true"), Some(&retain)),
            Vec::<String>::new()
        );
        assert_eq!(
            refusals("UPDATE", &delete, Some(&delete)),
            Vec::<String>::new()
        );
        assert_eq!(
            refusals("UPDATE", &retain, Some(&delete)),
            Vec::<String>::new()
        );
        assert_eq!(refusals("CREATE", &delete, None), Vec::<String>::new());
        // Defaulted (absent) policy in the old object counts as Retain.
        let implicit = with("/spec/deletionPolicy", Value::Null);
        assert!(!refusals("UPDATE", &delete, Some(&implicit)).is_empty());
    }

    #[test]
    fn the_policy_names_the_annotation_and_matches_updates_of_glusterclusters() {
        let [policy, binding] = deletion_policy_admission();
        assert!(deletion_policy_expression().contains(ALLOW_DELETE_POLICY_ANNOTATION));
        assert!(ALLOW_DELETE_POLICY_ANNOTATION.starts_with("storage.glusterops.dev/"));
        let rules = &policy["spec"]["matchConstraints"]["resourceRules"][0];
        assert_eq!(rules["resources"], json!(["glusterclusters"]));
        assert_eq!(rules["operations"], json!(["UPDATE"]));
        assert_eq!(policy["spec"]["failurePolicy"], "Fail");
        assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
        assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
    }

    #[test]
    fn committed_admission_policy_matches_the_code() {
        let generated = gluster_operator::crd::admission_policy_yaml().expect("renders");
        let path = repo_root().join("crds/glustercluster-admission.yaml");
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            generated == committed,
            "crds/glustercluster-admission.yaml differs from the code: run `make crds` and commit it"
        );
    }
}

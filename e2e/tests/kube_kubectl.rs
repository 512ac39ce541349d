//! The real kubectl (1.35, from `make setup`) against the real kube-apiserver: the
//! project's CRD and manifests, printer columns, round-trips, explain, validation errors,
//! wait, finalizers, the status subresource and server-side apply conflicts.

mod kube_support;

use kube_support::{Cluster, crd_path, examples, fixture, text};
use serde_json::Value;

/// A namespace of the test's own, the CRD applied with kubectl (once per test binary: the CRD
/// is cluster-wide) and established.
async fn with_crd() -> Cluster {
    static APPLIED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let c = Cluster::start().await;
    APPLIED
        .get_or_init(|| async {
            let out = c.ok(&["apply", "-f", crd_path().to_str().unwrap()]).await;
            assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/glusterclusters.storage.glusterops.dev created"), "{out}");
            c.ok(&[
                "wait",
                "--for=condition=Established",
                "crd/glusterclusters.storage.glusterops.dev",
                "--timeout=30s",
            ])
            .await;
        })
        .await;
    c
}

fn minimal() -> String {
    std::fs::read_to_string(fixture("glustercluster-minimal.yaml")).unwrap()
}

const READY_STATUS: &str = r#"{"status":{"nodeSummary":"4/4","capacity":"400Gi","readyNodes":4,
 "volume":{"name":"data","type":"Distributed-Replicate"},
 "conditions":[{"type":"Ready","status":"True","reason":"VolumeStarted","message":"all bricks online","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}"#;

#[tokio::test]
async fn crd_fixtures_and_examples_apply_and_print_columns() {
    let c = with_crd().await;
    let files = [
        fixture("glustercluster-minimal.yaml"),
        fixture("glustercluster-autoscaling.yaml"),
    ];
    let mut out = String::new();
    for f in &files {
        out.push_str(&c.ok(&["apply", "-f", f.to_str().unwrap()]).await);
    }
    assert!(
        out.contains("glustercluster.storage.glusterops.dev/demo created"),
        "{out}"
    );
    assert!(
        out.contains("glustercluster.storage.glusterops.dev/scaled created"),
        "{out}"
    );
    for ex in examples() {
        let out = c.kubectl(&["apply", "-f", ex.to_str().unwrap()]).await;
        assert!(
            out.status.success(),
            "example {} does not apply: {}",
            ex.display(),
            text(&out.stderr)
        );
    }
    let table = c.ok(&["get", "gcl", "-n", &c.ns]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "READY", "NODES", "TYPE", "CAPACITY", "DEGRADED", "BRICKS", "HEAL", "AGE"
        ]
    );
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        READY_STATUS,
    ])
    .await;
    let table = c.ok(&["get", "glusterclusters", "demo"]).await;
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..5],
        ["demo", "True", "4/4", "Distributed-Replicate", "400Gi"],
        "{table}"
    );
    assert!(
        row[5].ends_with('s') || row[5].ends_with('m'),
        "age column {table}"
    );
    // The category and the short name resolve through discovery too.
    let by_category = c.ok(&["get", "gluster", "-o", "name"]).await;
    assert!(
        by_category.contains("glustercluster.storage.glusterops.dev/demo"),
        "{by_category}"
    );
}

#[tokio::test]
async fn get_yaml_round_trips() {
    let c = with_crd().await;
    c.kubectl_stdin(&["apply", "-f", "-"], &minimal()).await;
    let yaml = c.ok(&["get", "gcl", "demo", "-o", "yaml"]).await;
    let obj: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(obj["spec"]["volume"]["replicas"], 2);
    assert_eq!(
        obj["spec"]["deletionPolicy"], "Retain",
        "schema default applied"
    );
    assert_eq!(
        obj["spec"]["zones"][0]["storage"], "Auto",
        "nested default applied"
    );
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(
        obj["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    let rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // Applying the same manifest again changes nothing: same resourceVersion. (kubectl says
    // "configured": its three-way merge patch resends the atomic zones list, whose items
    // the server defaults; the defaulted result equals the stored object, so no write.)
    let out = c.kubectl_stdin(&["apply", "-f", "-"], &minimal()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let same: Value =
        serde_yaml::from_str(&c.ok(&["get", "gcl", "demo", "-o", "yaml"]).await).unwrap();
    assert_eq!(
        same["metadata"]["resourceVersion"].as_str(),
        Some(rv.as_str())
    );
    // What `get -o yaml` printed goes back in with `replace` and reads back equal.
    let out = c
        .kubectl_stdin(&["replace", "-f", "-", "-o", "yaml"], &yaml)
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again: Value = serde_yaml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(again["spec"], obj["spec"]);
    assert_eq!(again["metadata"]["uid"], obj["metadata"]["uid"]);
    assert_eq!(
        again["metadata"]["generation"], 1,
        "metadata-only change keeps generation"
    );
    // A stale resourceVersion is a conflict.
    let edited = text(&out.stdout).replace("flavor: m1.large", "flavor: m1.xlarge");
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--type=merge",
        "-p",
        r#"{"spec":{"image":"ubuntu-24.04"}}"#,
    ])
    .await;
    let err = c.fails(&["replace", "-f", "-"], &edited).await;
    assert!(
        err.contains("Operation cannot be fulfilled on glusterclusters.storage.glusterops.dev \"demo\": the object has been modified"),
        "{err}"
    );
    let json = c.ok(&["get", "gcl", "demo", "-o", "json"]).await;
    let obj: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        obj["metadata"]["generation"], 2,
        "a spec change bumps generation"
    );
}

#[tokio::test]
async fn explain_shows_field_docs() {
    let c = with_crd().await;
    let out = c.ok(&["explain", "glustercluster.spec"]).await;
    assert!(out.contains("KIND:       GlusterCluster"), "{out}");
    assert!(out.contains("FIELD: spec <Object>"), "{out}");
    assert!(out.contains("deletionPolicy\t<string>"), "{out}");
    assert!(out.contains("enum: Retain, Delete"), "{out}");
    assert!(out.contains("zones\t<[]Object> -required-"), "{out}");
    let zones = c.ok(&["explain", "gcl.spec.zones.minNodes"]).await;
    assert!(zones.contains("The fewest nodes scaling"), "{zones}");
    let builtin = c.ok(&["explain", "configmap.data"]).await;
    assert!(
        builtin.contains("Data contains the configuration data."),
        "{builtin}"
    );
}

#[tokio::test]
async fn invalid_manifests_fail_naming_the_field() {
    let c = with_crd().await;
    let m = minimal();
    let cases = [
        (
            m.replace("replicas: 2", "replicas: 0"),
            "The GlusterCluster \"demo\" is invalid: spec.volume.replicas: Invalid value: 0: spec.volume.replicas in body should be greater than or equal to 1",
        ),
        (
            m.replace("name: zone-b", "name: zone-a"),
            // zones is a list-map keyed by name: the structural check names the duplicate item.
            "spec.zones[1]: Duplicate value: {\"name\":\"zone-a\"}",
        ),
        (
            m.replacen("      nodes: 2\n", "      nodes: 2\n      minNodes: 3\n", 1),
            "spec.zones[0].minNodes: Invalid value: zones[].minNodes must be less than or equal to zones[].nodes",
        ),
        (
            m.replace("size: 200Gi", "size: 512Mi"),
            "spec.brick.size: Invalid value: brick.size must be a quantity of at least 1Gi (e.g. 200Gi)",
        ),
        (
            m.replace("deletionPolicy", "x").replace(
                "  network: private",
                "  network: private\n  deletionPolicy: Keep",
            ),
            "spec.deletionPolicy: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
        ),
        (
            m.replace("  image: ubuntu-22.04\n", ""),
            "spec.image: Required value",
        ),
        (
            m.replace("  network: private", "  network: private\n  netwrok: typo"),
            "GlusterCluster in version \"v1alpha1\" cannot be handled as a GlusterCluster: strict decoding error: unknown field \"spec.netwrok\"",
        ),
    ];
    for (manifest, want) in cases {
        let err = c.fails(&["apply", "-f", "-"], &manifest).await;
        assert!(err.contains(want), "want {want:?} in:\n{err}");
    }
    // A missing required field blocks the CEL rules, as on a real apiserver.
    let err = c
        .fails(
            &["apply", "-f", "-"],
            &m.replace("  image: ubuntu-22.04\n", ""),
        )
        .await;
    assert!(
        err.contains("some validation rules were not checked because the object was invalid"),
        "{err}"
    );
    // Transition rule: volume.name is immutable once created.
    c.kubectl_stdin(&["apply", "-f", "-"], &m).await;
    let err = c
        .fails(
            &["apply", "-f", "-"],
            &m.replace("name: data", "name: other"),
        )
        .await;
    assert!(
        err.contains("spec.volume.name: Invalid value: \"other\": volume.name is immutable"),
        "{err}"
    );
}

#[tokio::test]
async fn wait_returns_when_ready_is_written() {
    let c = with_crd().await;
    c.kubectl_stdin(&["apply", "-f", "-"], &minimal()).await;
    let waiter = c.spawn(&["wait", "--for=condition=Ready", "gcl/demo", "--timeout=60s"]);
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        READY_STATUS,
    ])
    .await;
    let out = waiter.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("glustercluster.storage.glusterops.dev/demo condition met"));
}

#[tokio::test]
async fn delete_waits_for_finalizers() {
    let c = with_crd().await;
    c.kubectl_stdin(&["apply", "-f", "-"], &minimal()).await;
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["glusterops.dev/cleanup"]}}"#,
    ])
    .await;
    let mut deleter = c.spawn(&["delete", "gcl", "demo", "--timeout=60s"]);
    // The object stays, marked for deletion, while the finalizer remains.
    let marked = loop {
        let json = c.ok(&["get", "gcl", "demo", "-o", "json"]).await;
        let obj: Value = serde_json::from_str(&json).unwrap();
        if obj["metadata"]["deletionTimestamp"].is_string() {
            break obj;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(
        marked["metadata"]["finalizers"][0],
        "glusterops.dev/cleanup"
    );
    assert!(
        deleter.try_wait().unwrap().is_none(),
        "delete returned while a finalizer remained"
    );
    // A new finalizer cannot be added to an object being deleted.
    let err = c
        .fails(
            &[
                "patch",
                "gcl",
                "demo",
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":["glusterops.dev/cleanup","x.dev/other"]}}"#,
            ],
            "",
        )
        .await;
    assert!(
        err.contains("no new finalizers can be added if the object is being deleted"),
        "{err}"
    );
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let out = deleter.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gone = c.kubectl(&["get", "gcl", "demo"]).await;
    assert!(
        text(&gone.stderr).contains("glusterclusters.storage.glusterops.dev \"demo\" not found"),
        "{}",
        text(&gone.stderr)
    );
}

#[tokio::test]
async fn status_subresource_is_separate_from_spec() {
    let c = with_crd().await;
    c.kubectl_stdin(&["apply", "-f", "-"], &minimal()).await;
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"capacity":"1Ti"},"spec":{"image":"ignored"}}"#,
    ])
    .await;
    let obj: Value =
        serde_json::from_str(&c.ok(&["get", "gcl", "demo", "-o", "json"]).await).unwrap();
    assert_eq!(obj["status"]["capacity"], "1Ti");
    assert_eq!(
        obj["spec"]["image"], "ubuntu-22.04",
        "status writes leave spec alone"
    );
    assert_eq!(
        obj["metadata"]["generation"], 1,
        "status writes leave generation alone"
    );
    assert_eq!(obj["status"]["readyNodes"], 0, "status defaults applied");
    c.ok(&[
        "patch",
        "gcl",
        "demo",
        "--type=merge",
        "-p",
        r#"{"status":{"capacity":"5Ti"},"spec":{"image":"ubuntu-24.04"}}"#,
    ])
    .await;
    let obj: Value =
        serde_json::from_str(&c.ok(&["get", "gcl", "demo", "-o", "json"]).await).unwrap();
    assert_eq!(
        obj["status"]["capacity"], "1Ti",
        "the main endpoint ignores status"
    );
    assert_eq!(obj["spec"]["image"], "ubuntu-24.04");
    assert_eq!(obj["metadata"]["generation"], 2);
    // Strategic merge patch is not accepted for custom resources (kubectl's default --type).
    let err = c
        .fails(
            &["patch", "gcl", "demo", "-p", r#"{"spec":{"image":"x"}}"#],
            "",
        )
        .await;
    assert!(
        err.contains("application/strategic-merge-patch+json is not supported by storage.glusterops.dev/v1alpha1, Kind=GlusterCluster"),
        "{err}"
    );
}

#[tokio::test]
async fn server_side_apply_conflicts_between_managers() {
    let c = with_crd().await;
    let m = minimal();
    let out = c
        .kubectl_stdin(
            &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
            &m,
        )
        .await;
    assert!(
        text(&out.stdout).contains("serverside-applied"),
        "{}",
        text(&out.stderr)
    );
    let changed = m.replace("flavor: m1.large", "flavor: m1.xlarge");
    let err = c
        .fails(
            &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
            &changed,
        )
        .await;
    assert!(err.contains("Apply failed with"), "{err}");
    assert!(err.contains("conflict"), "{err}");
    assert!(err.contains("\"alice\""), "{err}");
    assert!(err.contains(".spec.flavor"), "{err}");
    let out = c
        .kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=bob",
                "--force-conflicts",
                "-f",
                "-",
            ],
            &changed,
        )
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let obj: Value = serde_json::from_str(
        &c.ok(&["get", "gcl", "demo", "-o", "json", "--show-managed-fields"])
            .await,
    )
    .unwrap();
    assert_eq!(obj["spec"]["flavor"], "m1.xlarge");
    let managers: Vec<&str> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"bob"), "{managers:?}");
    let alice = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "alice")
        .unwrap();
    assert!(
        alice["fieldsV1"]["f:spec"].get("f:flavor").is_none(),
        "forced apply took .spec.flavor from alice"
    );
    assert!(
        alice["fieldsV1"]["f:spec"]["f:image"].is_object(),
        "alice still owns .spec.image"
    );
}

#[tokio::test]
async fn builtins_namespaces_and_describe() {
    let c = with_crd().await;
    let team = format!("{}-team", c.ns);
    let team = team.as_str();
    c.ok(&["create", "namespace", team]).await;
    c.ok(&[
        "-n",
        team,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
    ])
    .await;
    c.ok(&[
        "-n",
        team,
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=clouds.yaml=x",
    ])
    .await;
    let secrets = c.ok(&["-n", team, "get", "secrets"]).await;
    assert!(
        secrets
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[..3]
            == ["creds", "Opaque", "1"],
        "{secrets}"
    );
    let cms = c.ok(&["-n", team, "get", "cm", "-o", "name"]).await;
    assert_eq!(cms.trim(), "configmap/cfg");
    let err = c
        .fails(&["-n", "missing", "create", "configmap", "x"], "")
        .await;
    assert!(err.contains("namespaces \"missing\" not found"), "{err}");
    let gcl = minimal().replace("namespace: default", &format!("namespace: {team}"));
    c.kubectl_stdin(&["apply", "-f", "-"], &gcl).await;
    let describe = c.ok(&["-n", team, "describe", "gcl", "demo"]).await;
    assert!(describe.contains("Name:         demo"), "{describe}");
    assert!(
        describe
            .lines()
            .any(|l| l.split_whitespace().eq(["Replicas:", "2"])),
        "{describe}"
    );
    assert!(describe.contains("Events:"), "{describe}");
    // Deleting the namespace removes its content, then the namespace.
    c.ok(&["delete", "namespace", team, "--timeout=60s"]).await;
    let err = c.fails(&["get", "namespace", team], "").await;
    assert!(
        err.contains(&format!("namespaces \"{team}\" not found")),
        "{err}"
    );
}

#[tokio::test]
async fn scale_subresource_of_a_custom_resource() {
    let c = Cluster::start().await;
    let crd = kube_support::fixture("scalable-crd.yaml");
    // The CRD and an instance in one file: kubectl retries the instance once discovery
    // knows the new kind.
    let out = c.kubectl(&["apply", "-f", crd.to_str().unwrap()]).await;
    if !out.status.success() {
        c.ok(&["apply", "-f", crd.to_str().unwrap()]).await;
    }
    c.ok(&[
        "patch",
        "widget",
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":1,"selector":"app=w"}}"#,
    ])
    .await;
    let out = c.ok(&["scale", "widget", "w", "--replicas=3"]).await;
    assert!(
        out.contains("widget.example.glusterops.dev/w scaled"),
        "{out}"
    );
    let scale: Value = serde_json::from_str(
        &c.ok(&["get", "widget", "w", "--subresource=scale", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["replicas"], 1);
    assert_eq!(scale["status"]["selector"], "app=w");
    let obj: Value =
        serde_json::from_str(&c.ok(&["get", "widget", "w", "-o", "json"]).await).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(obj["metadata"]["generation"], 2);
    let err = c
        .fails(
            &[
                "patch",
                "widget",
                "w",
                "--subresource=scale",
                "--type=merge",
                "-p",
                r#"{"spec":{"replicas":-1}}"#,
            ],
            "",
        )
        .await;
    assert!(err.contains("spec.replicas: Invalid value: -1"), "{err}");
}

#[tokio::test]
async fn hardened_fields_and_the_deletion_policy_admission_policy() {
    // The ValidatingAdmissionPolicy is cluster-wide: a control plane of this test's own.
    let c = Cluster::start_own().await;
    c.ok(&["apply", "-f", crd_path().to_str().unwrap()]).await;
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/glusterclusters.storage.glusterops.dev",
        "--timeout=30s",
    ])
    .await;
    let policy = kube_support::workspace().join("crds/glustercluster-admission.yaml");
    let out = c.ok(&["apply", "-f", policy.to_str().unwrap()]).await;
    assert!(out.contains("validatingadmissionpolicy"), "{out}");
    let m = minimal();

    // The CRD's own rules, as the real API server words them.
    let elsewhere = m.replace(
        "    size: 200Gi\n",
        "    size: 200Gi\n    mountPath: /etc\n",
    );
    let below = "brick.mountPath must be below /export/, /data/ or /srv/";
    c.refused(&["apply", "-f", "-"], &elsewhere, below).await;
    c.kubectl_stdin(&["apply", "-f", "-"], &m).await;
    let moved = m.replace("network: private", "network: elsewhere");
    c.refused(&["apply", "-f", "-"], &moved, "spec.network is immutable")
        .await;

    // The admission policy: Retain → Delete needs the annotation.
    let to_delete = r#"{"spec":{"deletionPolicy":"Delete"}}"#;
    let patch = ["patch", "gcl", "demo", "--type=merge", "-p", to_delete];
    let why = "spec.deletionPolicy may change to Delete only when the GlusterCluster carries the annotation";
    c.refused(&patch, "", why).await;
    let annotation = "storage.glusterops.dev/allow-delete-policy=true";
    c.ok(&["annotate", "gcl", "demo", annotation]).await;
    c.ok(&patch).await;
    let policy = c
        .ok(&[
            "get",
            "gcl",
            "demo",
            "-o",
            "jsonpath={.spec.deletionPolicy}",
        ])
        .await;
    assert_eq!(policy, "Delete");
}

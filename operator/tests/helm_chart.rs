//! The Helm chart `charts/gluster-operator`, tested with the real tools: `helm lint --strict`,
//! `helm template` with default and non-default values (the rendered objects are parsed and
//! checked), values the schema must reject, the chart's CRD against `crds/`, and every rendered
//! manifest validated offline against the Kubernetes JSON schemas by `kubernetes-validate`.
//!
//! helm comes from `.tools/bin` and kubernetes-validate from `.tools/venv` (both put there by
//! `hack/setup.sh`, which `make test` runs); a missing tool fails the test with that hint.

mod helm;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use gluster_operator::api::GlusterCluster;
use serde_json::{Value, json};

use helm::{
    FULLNAME, Manifests, NAMESPACE, RELEASE, args, chart, helm, render, root, s, template_raw,
    text, tool, values_file,
};

/// The Kubernetes versions the manifests are validated against: the chart's minimum
/// (Chart.yaml kubeVersion) and the one the project's kubectl and k8s-openapi target.
const KUBE_VERSIONS: [&str; 2] = ["1.31.0", "1.35.0"];

/// Non-default values: namespaced mode.
const NAMESPACED: &str = "watchNamespace: storage\n";
/// Non-default values: metrics Service, ServiceMonitor, PrometheusRule and dashboard on.
const METRICS: &str = "\
metrics:
  service:
    enabled: true
    port: 9090
    annotations:
      prometheus.io/scrape: \"true\"
  serviceMonitor:
    enabled: true
    interval: 1m
    scrapeTimeout: 20s
    labels:
      release: kube-prometheus
  prometheusRule:
    enabled: true
  grafanaDashboard:
    enabled: true
";
/// Non-default values: two replicas, custom image, resources, port, log level, scheduling.
const CUSTOM: &str = "\
replicaCount: 2
image:
  repository: registry.example/storage/gluster-operator
  tag: v0.2.0
  pullPolicy: Always
imagePullSecrets:
  - name: regcred
logLevel: info,gluster_operator::cloud=debug,kube=warn
resyncSeconds: 120
healthIntervalSeconds: 15
capacityLowPercent: 85
http:
  port: 9443
leaderElection:
  leaseName: gluster-operator-leader
serviceAccount:
  create: true
  name: gluster-operator-sa
  annotations:
    example.com/role: storage
resources:
  requests:
    cpu: 200m
    memory: 128Mi
  limits:
    cpu: \"1\"
    memory: 512Mi
securityContext:
  runAsUser: 10001
  runAsGroup: 10001
podAnnotations:
  example.com/owner: storage-team
podLabels:
  team: storage
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: storage
    effect: NoSchedule
priorityClassName: system-cluster-critical
";
/// Non-default values: an image pinned by digest.
const DIGEST: &str = "\
image:
  repository: registry.example/gluster-operator
  tag: v9
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
";

/// Every non-default scenario, by name, for lint and schema validation.
const SCENARIOS: [(&str, &str); 5] = [
    ("default", ""),
    ("namespaced", NAMESPACED),
    ("metrics", METRICS),
    ("custom", CUSTOM),
    ("digest", DIGEST),
];

// ---------------------------------------------------------------------------------------------
// Expected RBAC

/// The rules of the operator's ClusterRole (or Role in namespaced mode), exactly.
fn operator_rules() -> Value {
    json!([
        {"apiGroups": ["storage.glusterops.dev"], "resources": ["glusterclusters"],
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["storage.glusterops.dev"], "resources": ["glusterclusters/status"],
         "verbs": ["patch", "update"]},
        {"apiGroups": ["storage.glusterops.dev"], "resources": ["glusterclusters/finalizers"],
         "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["secrets"],
         "verbs": ["get", "create", "update", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ])
}

/// The rules of the leader-election Role, exactly.
fn leader_rules(lease: &str) -> Value {
    json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [lease], "verbs": ["get", "update", "patch"]},
    ])
}

/// Fails when any RBAC rule grants `*` (verbs, resources, API groups or names) or a verb that
/// the operator never needs.
fn assert_no_wildcards(m: &Manifests) {
    let allowed_verbs: BTreeSet<&str> = ["get", "list", "watch", "create", "update", "patch"]
        .into_iter()
        .collect();
    for doc in m
        .docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in doc["rules"].as_array().expect("rules is a list") {
            for field in ["verbs", "resources", "apiGroups", "resourceNames"] {
                for item in rule[field].as_array().into_iter().flatten() {
                    let item = item.as_str().expect("rule items are strings");
                    assert!(!item.contains('*'), "wildcard {field} {item:?} in {rule}");
                    if field == "verbs" {
                        assert!(allowed_verbs.contains(item), "verb {item:?} in {rule}");
                    }
                }
            }
            assert!(
                rule.get("nonResourceURLs").is_none(),
                "nonResourceURLs in {rule}"
            );
        }
    }
}

/// Checks a (Cluster)RoleBinding: it binds `role_kind/role` to the operator's ServiceAccount.
fn assert_binding(binding: &Value, role_kind: &str, role: &str, sa: &str) {
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}])
    );
}

// ---------------------------------------------------------------------------------------------
// helm lint

#[test]
fn lint_strict_passes_with_default_and_non_default_values() {
    let chart = chart();
    for (name, values) in SCENARIOS {
        let file = values_file(values);
        let out = helm(&[
            "lint",
            "--strict",
            chart.to_str().expect("UTF-8 path"),
            "--namespace",
            NAMESPACE,
            "--values",
            file.path().to_str().expect("UTF-8 path"),
        ]);
        assert!(
            out.status.success(),
            "helm lint --strict ({name}) failed\n{}",
            text(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{name}: {stdout}"
        );
        assert!(
            !stdout.contains("[WARNING]"),
            "{name}: lint warnings\n{stdout}"
        );
    }
}

#[test]
fn lint_strict_fails_on_values_the_schema_rejects() {
    let chart = chart();
    let file = values_file("http:\n  port: 80\n");
    let out = helm(&[
        "lint",
        "--strict",
        chart.to_str().expect("UTF-8 path"),
        "--values",
        file.path().to_str().expect("UTF-8 path"),
    ]);
    assert!(
        !out.status.success(),
        "lint accepted port 80\n{}",
        text(&out)
    );
    assert!(text(&out).contains("/http/port"), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// helm template: default values

#[test]
fn default_values_render_the_operator_and_its_rbac() {
    let m = render("");
    assert_eq!(
        m.kinds(),
        [
            "ClusterRole/gops-gluster-operator",
            "ClusterRoleBinding/gops-gluster-operator",
            "CustomResourceDefinition/glusterclusters.storage.glusterops.dev",
            "Deployment/gops-gluster-operator",
            "Role/gops-gluster-operator-leader-election",
            "RoleBinding/gops-gluster-operator-leader-election",
            "ServiceAccount/gops-gluster-operator",
        ]
    );
    for doc in &m.docs {
        let kind = s(doc, "/kind");
        if ![
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
        ]
        .contains(&kind)
        {
            assert_eq!(s(doc, "/metadata/namespace"), NAMESPACE, "{kind} namespace");
        }
    }

    let deploy = m.deployment();
    assert_eq!(deploy["spec"]["replicas"], 1);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], FULLNAME);
    let selector = deploy["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    for (k, v) in selector {
        assert_eq!(
            &deploy["spec"]["template"]["metadata"]["labels"][k], v,
            "pod label {k}"
        );
    }

    // Pod and container security.
    assert_eq!(
        pod["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
               "seccompProfile": {"type": "RuntimeDefault"}})
    );
    let c = m.container();
    assert_eq!(
        c["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
               "allowPrivilegeEscalation": false, "privileged": false,
               "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]},
               "seccompProfile": {"type": "RuntimeDefault"}})
    );
    assert!(pod.get("hostNetwork").is_none() && pod.get("hostPID").is_none());

    // The image, the command line, the downward API.
    assert_eq!(c["image"], "gluster-operator:0.1.0");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        args(&m),
        [
            "run",
            "--http-addr=0.0.0.0:8080",
            "--log-level=info",
            "--resync-seconds=600",
            "--health-interval-seconds=30",
            "--capacity-low-percent=90",
            "--server-error-grace-seconds=300",
            "--cloud-settle-timeout-seconds=900",
            "--leader-election-lease=gops-gluster-operator",
        ]
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ])
    );

    // Probes on the health endpoints of the one HTTP port.
    assert_eq!(
        c["ports"],
        json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5,
               "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3})
    );
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/readyz", "port": "http"}, "initialDelaySeconds": 2,
               "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3})
    );
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}})
    );
    // The read-only root filesystem leaves /tmp as the one writable, size-limited place.
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );
    assert_eq!(
        pod["volumes"],
        json!([{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}])
    );

    // RBAC, exactly.
    assert_eq!(m.get("ClusterRole", FULLNAME)["rules"], operator_rules());
    assert_binding(
        m.get("ClusterRoleBinding", FULLNAME),
        "ClusterRole",
        FULLNAME,
        FULLNAME,
    );
    let leader = format!("{FULLNAME}-leader-election");
    assert_eq!(m.get("Role", &leader)["rules"], leader_rules(FULLNAME));
    assert_binding(m.get("RoleBinding", &leader), "Role", &leader, FULLNAME);
    assert_no_wildcards(&m);
}

#[test]
fn every_rbac_rule_in_the_template_carries_a_comment_saying_why() {
    let template = std::fs::read_to_string(chart().join("templates/rbac.yaml"))
        .expect("reading templates/rbac.yaml");
    let lines: Vec<&str> = template.lines().collect();
    let mut rules = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("- apiGroups:") {
            rules += 1;
            let above = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .expect("a rule is never the first line");
            assert!(
                above.trim_start().starts_with('#'),
                "rule on line {} has no comment above it: {line}",
                i + 1
            );
        }
    }
    // Six operator rules and two leader-election rules.
    assert_eq!(rules, 8, "rules found in templates/rbac.yaml");
}

// ---------------------------------------------------------------------------------------------
// helm template: non-default values

#[test]
fn namespaced_mode_grants_a_role_in_the_watched_namespace_only() {
    let m = render(NAMESPACED);
    assert_eq!(
        m.kinds(),
        [
            "CustomResourceDefinition/glusterclusters.storage.glusterops.dev",
            "Deployment/gops-gluster-operator",
            "Role/gops-gluster-operator",
            "Role/gops-gluster-operator-leader-election",
            "RoleBinding/gops-gluster-operator",
            "RoleBinding/gops-gluster-operator-leader-election",
            "ServiceAccount/gops-gluster-operator",
        ],
        "no ClusterRole in namespaced mode"
    );
    let role = m.get("Role", FULLNAME);
    assert_eq!(s(role, "/metadata/namespace"), "storage");
    assert_eq!(role["rules"], operator_rules());
    let binding = m.get("RoleBinding", FULLNAME);
    assert_eq!(s(binding, "/metadata/namespace"), "storage");
    assert_binding(binding, "Role", FULLNAME, FULLNAME);
    // The Lease stays in the release namespace.
    let leader = m.get("Role", "gops-gluster-operator-leader-election");
    assert_eq!(s(leader, "/metadata/namespace"), NAMESPACE);
    assert_eq!(leader["rules"], leader_rules(FULLNAME));
    assert!(args(&m).contains(&"--watch-namespace=storage".to_string()));
    assert_no_wildcards(&m);
}

#[test]
fn metrics_service_and_service_monitor_scrape_the_http_port() {
    let default = render("");
    assert!(
        default
            .docs
            .iter()
            .all(|d| d["kind"] != "Service" && d["kind"] != "ServiceMonitor"),
        "metrics objects are off by default"
    );

    let m = render(METRICS);
    let svc = m.get("Service", "gops-gluster-operator-metrics");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "metrics", "port": 9090, "targetPort": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        svc["metadata"]["annotations"]["prometheus.io/scrape"],
        "true"
    );
    // The Service selects exactly the operator pods.
    let pod_labels = &m.deployment()["spec"]["template"]["metadata"]["labels"];
    let selector = svc["spec"]["selector"].as_object().expect("selector");
    assert!(!selector.is_empty());
    for (k, v) in selector {
        assert_eq!(&pod_labels[k], v, "Service selector {k}");
    }

    let sm = m.get("ServiceMonitor", FULLNAME);
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus");
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{"port": "metrics", "path": "/metrics", "scheme": "http",
                "interval": "1m", "scrapeTimeout": "20s"}])
    );
    assert_eq!(
        sm["spec"]["namespaceSelector"],
        json!({"matchNames": [NAMESPACE]})
    );
    // The ServiceMonitor selects the metrics Service by its labels.
    let svc_labels = &svc["metadata"]["labels"];
    let sm_selector = sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    assert!(!sm_selector.is_empty());
    for (k, v) in sm_selector {
        assert_eq!(&svc_labels[k], v, "ServiceMonitor selector {k}");
    }
}

#[test]
fn custom_values_reach_the_deployment() {
    let m = render(CUSTOM);
    let deploy = m.deployment();
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    let c = m.container();
    assert_eq!(
        c["image"],
        "registry.example/storage/gluster-operator:v0.2.0"
    );
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "200m", "memory": "128Mi"},
               "limits": {"cpu": "1", "memory": "512Mi"}})
    );
    assert_eq!(
        args(&m),
        [
            "run",
            "--http-addr=0.0.0.0:9443",
            "--log-level=info,gluster_operator::cloud=debug,kube=warn",
            "--resync-seconds=120",
            "--health-interval-seconds=15",
            "--capacity-low-percent=85",
            "--server-error-grace-seconds=300",
            "--cloud-settle-timeout-seconds=900",
            "--leader-election-lease=gluster-operator-leader",
        ]
    );
    assert_eq!(c["ports"][0]["containerPort"], 9443);
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["runAsGroup"], 10001);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["serviceAccountName"], "gluster-operator-sa");
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "dedicated", "operator": "Equal", "value": "storage", "effect": "NoSchedule"}])
    );
    let meta = &deploy["spec"]["template"]["metadata"];
    assert_eq!(meta["annotations"]["example.com/owner"], "storage-team");
    assert_eq!(meta["labels"]["team"], "storage");
    assert_eq!(meta["labels"]["app.kubernetes.io/name"], "gluster-operator");

    let sa = m.get("ServiceAccount", "gluster-operator-sa");
    assert_eq!(sa["metadata"]["annotations"]["example.com/role"], "storage");
    assert_binding(
        m.get("ClusterRoleBinding", FULLNAME),
        "ClusterRole",
        FULLNAME,
        "gluster-operator-sa",
    );
    // The Lease the RBAC allows is the Lease the operator is told to use.
    assert_eq!(
        m.get("Role", "gops-gluster-operator-leader-election")["rules"],
        leader_rules("gluster-operator-leader")
    );
    assert_no_wildcards(&m);
}

#[test]
fn an_image_digest_wins_over_the_tag() {
    let m = render(DIGEST);
    assert_eq!(
        m.container()["image"],
        "registry.example/gluster-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
}

#[test]
fn pod_labels_cannot_break_the_selector() {
    let m = render("podLabels:\n  app.kubernetes.io/name: other\n");
    let deploy = m.deployment();
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
        deploy["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
    );
}

#[test]
fn an_existing_service_account_is_used_without_creating_one() {
    let m = render("serviceAccount:\n  create: false\n  name: platform-sa\n  annotations: {}\n");
    assert!(m.docs.iter().all(|d| d["kind"] != "ServiceAccount"));
    assert_eq!(
        m.deployment()["spec"]["template"]["spec"]["serviceAccountName"],
        "platform-sa"
    );

    let out = template_raw("serviceAccount:\n  create: false\n  name: \"\"\n  annotations: {}\n");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("serviceAccount.name is required"),
        "{}",
        text(&out)
    );
}

#[test]
fn rbac_can_be_left_to_the_user() {
    let m = render("rbac:\n  create: false\n");
    assert!(
        m.docs.iter().all(
            |d| !s(d, "/kind").starts_with("Role") && !s(d, "/kind").starts_with("ClusterRole")
        ),
        "{:?}",
        m.kinds()
    );
}

// ---------------------------------------------------------------------------------------------
// Values the schema (or the templates) reject

#[test]
fn bad_values_are_rejected_with_the_field_named() {
    let cases: [(&str, &str, &str); 10] = [
        (
            "unknown top-level key",
            "replicas: 2\n",
            "additional properties 'replicas'",
        ),
        (
            "unknown nested key",
            "image:\n  name: x\n",
            "additional properties 'name'",
        ),
        (
            "unknown key deep down",
            "metrics:\n  serviceMonitor:\n    enabled: false\n    port: 1\n",
            "additional properties 'port'",
        ),
        ("wrong type", "replicaCount: two\n", "/replicaCount"),
        (
            "wrong type in a map",
            "podLabels:\n  team: 3\n",
            "/podLabels/team",
        ),
        (
            "bad enum",
            "image:\n  pullPolicy: Sometimes\n",
            "/image/pullPolicy",
        ),
        ("privileged port", "http:\n  port: 80\n", "/http/port"),
        ("bad log filter", "logLevel: verbose\n", "/logLevel"),
        (
            "bad namespace",
            "watchNamespace: Not_A_Namespace\n",
            "/watchNamespace",
        ),
        (
            "ServiceMonitor without Service",
            "metrics:\n  serviceMonitor:\n    enabled: true\n",
            "metrics.serviceMonitor.enabled needs metrics.service.enabled",
        ),
    ];
    for (what, values, expected) in cases {
        let out = template_raw(values);
        assert!(!out.status.success(), "{what}: helm accepted\n{values}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "{what}: expected {expected:?} in\n{stderr}"
        );
    }
}

#[test]
fn the_values_schema_is_strict_at_every_object_level() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart().join("values.schema.json")).expect("reading schema"),
    )
    .expect("values.schema.json is JSON");
    let mut objects = 0;
    walk_schema(&schema, "", &mut objects);
    assert!(objects > 15, "only {objects} object schemas found");
}

/// Every object schema either forbids unknown keys or is a map whose values are typed scalars.
fn walk_schema(schema: &Value, path: &str, objects: &mut usize) {
    if schema["type"] == "object" {
        *objects += 1;
        match &schema["additionalProperties"] {
            Value::Bool(false) => {}
            Value::Object(values) => assert_eq!(
                values.get("type").and_then(Value::as_str),
                Some("string"),
                "{path}: a map's values must be typed strings"
            ),
            other => panic!("{path}: additionalProperties is {other}, not false"),
        }
    }
    for (key, child) in schema["properties"].as_object().into_iter().flatten() {
        walk_schema(child, &format!("{path}.{key}"), objects);
    }
    if let Some(items) = schema.get("items") {
        walk_schema(items, &format!("{path}[]"), objects);
    }
}

#[test]
fn every_value_is_documented_in_the_chart_readme() {
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("values.yaml")).expect("reading values.yaml"),
    )
    .expect("values.yaml parses");
    let readme =
        std::fs::read_to_string(chart().join("README.md")).expect("reading the chart README");
    let mut leaves = Vec::new();
    leaf_paths(&values, "", &mut leaves);
    assert!(leaves.len() > 30, "only {} values", leaves.len());
    for leaf in leaves {
        assert!(
            readme.contains(&format!("| `{leaf}` |")),
            "value {leaf} is missing from the values table of charts/gluster-operator/README.md"
        );
    }
}

/// The dotted paths of every leaf (scalars, lists, empty maps) of a values tree.
fn leaf_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(child, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Offline validation against the Kubernetes schemas

/// Kinds that kubernetes-validate has no schema for, each checked by a test of its own
/// (ServiceMonitor: metrics_service_and_service_monitor_scrape_the_http_port here;
/// PrometheusRule: promtool in e2e/tests/observability.rs and a real Prometheus in
/// e2e/tests/observability_live.rs).
const OUTSIDE_KUBERNETES_SCHEMAS: [&str; 2] = ["ServiceMonitor", "PrometheusRule"];

/// Runs kubernetes-validate (strict) on a manifest file, for every version in KUBE_VERSIONS.
fn kubernetes_validate(file: &Path) -> Output {
    let mut cmd = Command::new(tool(".tools/venv/bin/kubernetes-validate"));
    cmd.arg("--strict");
    for v in KUBE_VERSIONS {
        cmd.args(["--kubernetes-version", v]);
    }
    cmd.arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("running kubernetes-validate")
}

#[test]
fn every_rendered_manifest_validates_against_the_kubernetes_schemas() {
    for (name, values) in SCENARIOS {
        let m = render(values);
        let (outside, inside): (Vec<&Value>, Vec<&Value>) = m
            .docs
            .iter()
            .partition(|d| OUTSIDE_KUBERNETES_SCHEMAS.contains(&s(d, "/kind")));
        if name == "metrics" {
            assert_eq!(
                outside.len(),
                2,
                "the ServiceMonitor and the PrometheusRule are rendered"
            );
            // The dashboard ConfigMap is validated with the rest.
            assert!(inside.iter().any(
                |d| d["kind"] == "ConfigMap" && d["data"]["gluster-operator.json"].is_string()
            ));
        }
        // The CRD is among them, validated as apiextensions.k8s.io/v1 CustomResourceDefinition.
        assert!(
            inside
                .iter()
                .any(|d| d["kind"] == "CustomResourceDefinition")
        );

        let mut yaml = String::new();
        for doc in &inside {
            yaml.push_str("---\n");
            yaml.push_str(&serde_yaml::to_string(doc).expect("re-serializing a manifest"));
        }
        let file = values_file(&yaml);
        let out = kubernetes_validate(file.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: kubernetes-validate failed\n{}",
            text(&out)
        );
        // Unknown kinds are only a WARN with exit 0 there: treat them as failures here.
        assert!(
            !stdout.contains("WARN") && !stdout.contains("ERROR"),
            "{name}: kubernetes-validate\n{stdout}"
        );
        let passed = stdout
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(
            passed,
            inside.len() * KUBE_VERSIONS.len(),
            "{name}: every manifest passes for every version\n{stdout}"
        );
    }
}

#[test]
fn kubernetes_validate_catches_a_broken_manifest() {
    // The control for the test above: the same validator rejects what the API server would.
    let mut m = render("");
    let deploy = m
        .docs
        .iter_mut()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    deploy["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] =
        json!(true);
    deploy["spec"]["replicas"] = json!("one");
    let file = values_file(&serde_yaml::to_string(deploy).expect("serializing"));
    let out = kubernetes_validate(file.path());
    assert!(
        !out.status.success(),
        "a broken Deployment validated\n{}",
        text(&out)
    );
    assert!(text(&out).contains("ERROR"), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// The CRD

/// A CRD YAML file as JSON.
fn crd_file(path: &Path) -> Value {
    serde_yaml::from_str(
        &std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} parses: {e}", path.display()))
}

#[test]
fn the_chart_crd_is_the_generated_crd_plus_the_keep_annotation() {
    let generated = crd_file(&root().join("crds/glusterclusters.yaml"));
    let mut charted = crd_file(&chart().join("crds/glusterclusters.yaml"));
    let annotations = charted["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("annotations")
        .expect("the chart's CRD has annotations");
    assert_eq!(
        annotations,
        json!({"helm.sh/resource-policy": "keep"}),
        "the chart's CRD carries exactly the keep annotation"
    );
    assert!(
        charted == generated,
        "charts/gluster-operator/crds/glusterclusters.yaml differs from crds/glusterclusters.yaml: \
         run `make crds` (or hack/chart-crd.sh)"
    );
}

#[test]
fn the_chart_crd_is_what_hack_chart_crd_writes() {
    let out_dir = tempfile::tempdir().expect("temporary directory");
    let out_file = out_dir.path().join("glusterclusters.yaml");
    let out = Command::new("bash")
        .arg(root().join("hack/chart-crd.sh"))
        .arg(&out_file)
        .stdin(Stdio::null())
        .output()
        .expect("running hack/chart-crd.sh");
    assert!(
        out.status.success(),
        "hack/chart-crd.sh failed\n{}",
        text(&out)
    );
    let fresh = std::fs::read_to_string(&out_file).expect("reading the fresh CRD");
    let committed = std::fs::read_to_string(chart().join("crds/glusterclusters.yaml"))
        .expect("reading the chart's CRD");
    assert!(
        fresh == committed,
        "the chart's CRD is stale: run `make crds` (or hack/chart-crd.sh)"
    );
}

#[test]
fn helm_template_includes_the_crd_with_the_keep_annotation() {
    let m = render("");
    let crd = m.get(
        "CustomResourceDefinition",
        "glusterclusters.storage.glusterops.dev",
    );
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    assert!(
        m.yaml
            .contains("# Source: gluster-operator/crds/glusterclusters.yaml")
    );
}

// ---------------------------------------------------------------------------------------------
// NOTES.txt

/// The NOTES helm prints after `helm install` (a client-side dry run: no cluster).
fn notes(values: &str) -> String {
    let file = values_file(values);
    let chart = chart();
    let out = helm(&[
        "install",
        RELEASE,
        chart.to_str().expect("UTF-8 path"),
        "--namespace",
        NAMESPACE,
        "--dry-run=client",
        "--values",
        file.path().to_str().expect("UTF-8 path"),
    ]);
    assert!(
        out.status.success(),
        "helm install --dry-run=client failed\n{}",
        text(&out)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let at = stdout.find("NOTES:\n").expect("helm prints NOTES");
    stdout[at + "NOTES:\n".len()..].to_string()
}

#[test]
fn notes_say_what_to_apply_next_and_the_example_is_a_valid_glustercluster() {
    let notes = notes("");
    let secret = notes
        .find("kubectl -n default create secret generic openstack-cloud --from-file=clouds.yaml=")
        .expect("NOTES tell how to create the clouds.yaml Secret");
    let apply = notes
        .find("kubectl -n default apply -f - <<'YAML'")
        .expect("NOTES show an example GlusterCluster");
    let watch = notes
        .find("kubectl -n default get gcl -w")
        .expect("NOTES tell how to watch it");
    assert!(secret < apply && apply < watch, "in that order:\n{notes}");

    // Paste the example into a real shell, with kubectl standing in as `cat`: the heredoc
    // must come out whole (its terminator at the start of a line).
    let start = notes[..apply].rfind('\n').map_or(0, |i| i + 1);
    let end =
        apply + notes[apply..].find("\nYAML\n").expect("heredoc terminator") + "\nYAML\n".len();
    let snippet = &notes[start..end];
    let out = Command::new("bash")
        .args(["-euc", &format!("kubectl() {{ cat; }}\n{snippet}")])
        .stdin(Stdio::null())
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "the NOTES snippet fails in bash\n{}",
        text(&out)
    );
    let example = String::from_utf8(out.stdout).expect("UTF-8");

    // It is a GlusterCluster the operator's own types accept...
    let gc: GlusterCluster = serde_yaml::from_str(&example)
        .unwrap_or_else(|e| panic!("the NOTES example is not a GlusterCluster: {e}\n{example}"));
    assert_eq!(gc.spec.cloud.secret_name, "openstack-cloud");
    // ...and that passes the CRD's CEL rules.
    let crd = crd_file(&root().join("crds/glusterclusters.yaml"));
    let schema = crd
        .pointer("/spec/versions/0/schema/openAPIV3Schema")
        .expect("the CRD has a schema");
    let object: Value = serde_yaml::from_str(&example).expect("the example parses");
    if let Err(errors) = kube::core::cel::Validator::new().validate(schema, &object, None) {
        panic!("the NOTES example breaks the CRD's rules: {errors}");
    }
}

#[test]
fn notes_in_namespaced_mode_use_the_watched_namespace() {
    let notes = notes(NAMESPACED);
    assert!(notes.contains("in namespace storage only"), "{notes}");
    assert!(notes.contains("kubectl -n storage get gcl -w"), "{notes}");
    assert!(!notes.contains("-n default"), "{notes}");
}

//! The Helm chart as a cluster takes it: `helm template` of `charts/gluster-operator` (the real
//! helm from `.tools/bin`) piped to the real `kubectl apply -f -` against the real
//! kube-apiserver (a control plane of each test's own: the chart makes cluster-wide objects).
//! Every rendered object must be created and then found by `kubectl get`, with the default
//! values (cluster mode) and with non-default ones (namespaced mode, metrics Service). Then, as
//! the chart's ServiceAccount (a token from the TokenRequest API), the RBAC is least privilege:
//! what the operator does is allowed, reading Secrets it has no business with or writing other
//! kinds is refused with 403 Forbidden.
//!
//! helm and kubectl come from `.tools/bin` (put there by `hack/setup.sh`, which `make test`
//! runs); a missing tool fails the test with that hint.

mod kube_support;

use std::path::PathBuf;

use e2e::controlplane::chart;

use kube_support::{Cluster, text};
use serde::Deserialize;

/// The release namespace.
const NAMESPACE: &str = "gluster-system";
/// The release name.
const RELEASE: &str = "gops";
/// The full name of the release's resources (`<release>-<chart>`).
const FULLNAME: &str = "gops-gluster-operator";
/// The CRD the chart installs.
const CRD: &str = "customresourcedefinition/glusterclusters.storage.glusterops.dev";

/// `helm template` of the chart with `values` and its CRD, in [`NAMESPACE`] (the real helm,
/// with a private, empty configuration and no reachable cluster).
fn template(values: &str) -> String {
    chart::template(RELEASE, NAMESPACE, values, true).unwrap_or_else(|e| panic!("{e}"))
}

/// `kind/name` of every object of a multi-document manifest, in order.
fn objects(manifest: &str) -> Vec<(String, String)> {
    serde_yaml::Deserializer::from_str(manifest)
        .filter_map(|doc| {
            let v = serde_yaml::Value::deserialize(doc).expect("helm renders YAML");
            let kind = v.get("kind")?.as_str()?.to_string();
            let name = v.get("metadata")?.get("name")?.as_str()?.to_string();
            Some((kind, name))
        })
        .collect()
}

/// Starts a control plane with `namespaces` created, applies `template(values)` with
/// `kubectl apply -f -` and checks that every object was created and that
/// `kubectl get -f -` finds each of them. Returns the cluster and the rendered objects.
async fn apply(values: &str, namespaces: &[&str]) -> (Cluster, Vec<(String, String)>) {
    let c = Cluster::start_own().await;
    for ns in namespaces {
        c.ok(&["create", "namespace", ns]).await;
    }
    let manifest = template(values);
    let rendered = objects(&manifest);
    assert!(rendered.len() >= 6, "{rendered:?}");

    let out = c.kubectl_stdin(&["apply", "-f", "-"], &manifest).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl apply -f -: {stdout}{}",
        text(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        rendered.len(),
        "{stdout}\nrendered: {rendered:?}"
    );
    assert!(lines.iter().all(|l| l.ends_with(" created")), "{stdout}");
    for (kind, name) in &rendered {
        let resource = kind.to_lowercase();
        assert!(
            lines.iter().any(|l| {
                l.starts_with(&format!("{resource}/")) || l.starts_with(&format!("{resource}."))
            } && l.contains(&format!("/{name} "))),
            "{kind} {name} not created: {stdout}"
        );
    }

    // kubectl finds every object of the manifest where it was put.
    let out = c
        .kubectl_stdin(&["get", "-f", "-", "-o", "name"], &manifest)
        .await;
    assert!(
        out.status.success(),
        "kubectl get -f -: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().count(), rendered.len());

    // A second apply changes nothing.
    let again = c.kubectl_stdin(&["apply", "-f", "-"], &manifest).await;
    let again_out = text(&again.stdout);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        again_out.lines().all(|l| l.ends_with(" unchanged")),
        "{again_out}"
    );
    (c, rendered)
}

/// `kubectl get <what> -o name` (in `ns` when given), asserting success.
async fn get(c: &Cluster, what: &str, ns: Option<&str>) -> String {
    let mut args = vec!["get", what, "-o", "name"];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    c.ok(&args).await.trim().to_string()
}

#[tokio::test]
async fn default_values_apply_in_cluster_mode() {
    let (c, rendered) = apply("{}\n", &[NAMESPACE]).await;
    let kinds: Vec<&str> = rendered.iter().map(|(k, _)| k.as_str()).collect();
    for kind in [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
    ] {
        assert!(kinds.contains(&kind), "{kind} not rendered: {kinds:?}");
    }
    let deployment = format!("deployment/{FULLNAME}");
    assert_eq!(
        get(&c, &deployment, Some(NAMESPACE)).await,
        "deployment.apps/gops-gluster-operator"
    );
    assert_eq!(
        get(&c, &format!("serviceaccount/{FULLNAME}"), Some(NAMESPACE)).await,
        "serviceaccount/gops-gluster-operator"
    );
    assert_eq!(
        get(&c, &format!("clusterrole/{FULLNAME}"), None).await,
        "clusterrole.rbac.authorization.k8s.io/gops-gluster-operator"
    );
    assert_eq!(
        get(&c, &format!("clusterrolebinding/{FULLNAME}"), None).await,
        "clusterrolebinding.rbac.authorization.k8s.io/gops-gluster-operator"
    );
    assert_eq!(
        get(&c, CRD, None).await,
        "customresourcedefinition.apiextensions.k8s.io/glusterclusters.storage.glusterops.dev"
    );
    // The binding names the chart's ServiceAccount in the release namespace.
    let subject = c
        .ok(&[
            "get",
            &format!("clusterrolebinding/{FULLNAME}"),
            "-o",
            "jsonpath={.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}",
        ])
        .await;
    assert_eq!(subject, format!("ServiceAccount/{NAMESPACE}/{FULLNAME}"));
    // The CRD is served: its kind is listed.
    c.ok(&["wait", "--for=condition=Established", CRD, "--timeout=30s"])
        .await;
    let empty = c.kubectl(&["get", "glusterclusters", "-A"]).await;
    assert!(empty.status.success(), "{}", text(&empty.stderr));
    // Least privilege, as the operator.
    let me = operator_kubeconfig(&c).await;
    allowed(&c, &me, &["get", "glusterclusters", "-A"]).await;
    allowed(&c, &me, &["get", "glusterclusters", "-n", "default"]).await;
    not_found(&c, &me, &["get", "secret", "openstack", "-n", "default"]).await;
    forbidden(&c, &me, &["get", "secrets", "-n", "default"]).await;
    forbidden(&c, &me, &["create", "configmap", "x", "-n", "default"]).await;
    forbidden(
        &c,
        &me,
        &["create", "deployment", "x", "--image=x", "-n", "default"],
    )
    .await;
    forbidden(
        &c,
        &me,
        &["delete", "glustercluster", "demo", "-n", "default"],
    )
    .await;
    forbidden(&c, &me, &["get", "lease", "not-ours", "-n", NAMESPACE]).await;
    not_found(&c, &me, &["get", "lease", FULLNAME, "-n", NAMESPACE]).await;
}

#[tokio::test]
async fn namespaced_mode_with_metrics_applies() {
    let values = "\
watchNamespace: storage
metrics:
  service:
    enabled: true
    port: 9090
";
    let (c, rendered) = apply(values, &[NAMESPACE, "storage"]).await;
    let kinds: Vec<&str> = rendered.iter().map(|(k, _)| k.as_str()).collect();
    assert!(!kinds.contains(&"ClusterRole"), "{kinds:?}");
    assert!(!kinds.contains(&"ClusterRoleBinding"), "{kinds:?}");
    assert!(kinds.contains(&"Service"), "{kinds:?}");
    assert_eq!(
        get(&c, &format!("deployment/{FULLNAME}"), Some(NAMESPACE)).await,
        "deployment.apps/gops-gluster-operator"
    );
    assert_eq!(
        get(&c, &format!("serviceaccount/{FULLNAME}"), Some(NAMESPACE)).await,
        "serviceaccount/gops-gluster-operator"
    );
    // The operator's rules are a Role in the watched namespace, bound to the ServiceAccount of
    // the release namespace; no cluster-wide RBAC.
    assert_eq!(
        get(&c, &format!("role/{FULLNAME}"), Some("storage")).await,
        "role.rbac.authorization.k8s.io/gops-gluster-operator"
    );
    let subject = c
        .ok(&[
            "get",
            "-n",
            "storage",
            &format!("rolebinding/{FULLNAME}"),
            "-o",
            "jsonpath={.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}",
        ])
        .await;
    assert_eq!(subject, format!("ServiceAccount/{NAMESPACE}/{FULLNAME}"));
    let cluster_roles = c
        .kubectl(&["get", &format!("clusterrole/{FULLNAME}")])
        .await;
    assert!(!cluster_roles.status.success());
    assert!(
        text(&cluster_roles.stderr).contains("not found"),
        "{}",
        text(&cluster_roles.stderr)
    );
    // The metrics Service and the Deployment's watch namespace.
    let port = c
        .ok(&[
            "get",
            "-n",
            NAMESPACE,
            "service",
            "-l",
            "app.kubernetes.io/instance=gops",
            "-o",
            "jsonpath={.items[0].spec.ports[0].port}",
        ])
        .await;
    assert_eq!(port, "9090");
    let args = c
        .ok(&[
            "get",
            "-n",
            NAMESPACE,
            &format!("deployment/{FULLNAME}"),
            "-o",
            "jsonpath={.spec.template.spec.containers[0].args}",
        ])
        .await;
    assert!(args.contains("--watch-namespace=storage"), "{args}");
    assert_eq!(
        get(&c, CRD, None).await,
        "customresourcedefinition.apiextensions.k8s.io/glusterclusters.storage.glusterops.dev"
    );
    // Least privilege, as the operator: Secrets and GlusterClusters of the watched namespace
    // only; no cluster-wide RBAC.
    let me = operator_kubeconfig(&c).await;
    allowed(&c, &me, &["get", "glusterclusters", "-n", "storage"]).await;
    not_found(&c, &me, &["get", "secret", "openstack", "-n", "storage"]).await;
    forbidden(&c, &me, &["get", "secret", "openstack", "-n", "default"]).await;
    forbidden(&c, &me, &["get", "glusterclusters", "-n", "default"]).await;
    forbidden(&c, &me, &["get", "glusterclusters", "-A"]).await;
    forbidden(&c, &me, &["get", "secrets", "-n", "storage"]).await;
    forbidden(&c, &me, &["create", "configmap", "x", "-n", "storage"]).await;
}

/// A kubeconfig for the chart's ServiceAccount (a one-hour token from the TokenRequest API).
async fn operator_kubeconfig(c: &Cluster) -> PathBuf {
    let token = c
        .ok(&[
            "create",
            "token",
            FULLNAME,
            "-n",
            NAMESPACE,
            "--duration=1h",
        ])
        .await;
    let path = c.dir.path().join("operator.kubeconfig");
    let user = format!("system:serviceaccount:{NAMESPACE}:{FULLNAME}");
    std::fs::write(
        &path,
        e2e::controlplane::token_kubeconfig(c.cp().server(), c.cp().pki(), &user, token.trim()),
    )
    .unwrap();
    path
}

/// `kubectl args` as `who` succeeds.
async fn allowed(c: &Cluster, who: &std::path::Path, args: &[&str]) {
    let out = c.kubectl_as(who, args).await;
    assert!(
        out.status.success(),
        "as the operator, kubectl {args:?} should be allowed: {}",
        text(&out.stderr)
    );
}

/// `kubectl args` as `who` is allowed but finds nothing (404, not 403).
async fn not_found(c: &Cluster, who: &std::path::Path, args: &[&str]) {
    let out = c.kubectl_as(who, args).await;
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && (err.contains("NotFound") || err.contains("not found")),
        "as the operator, kubectl {args:?} should be allowed and find nothing: {err}"
    );
    assert!(!err.contains("forbidden"), "kubectl {args:?}: {err}");
}

/// `kubectl args` as `who` is refused with 403 Forbidden.
async fn forbidden(c: &Cluster, who: &std::path::Path, args: &[&str]) {
    let out = c.kubectl_as(who, args).await;
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && (err.contains("Forbidden") || err.contains("forbidden")),
        "as the operator, kubectl {args:?} should be forbidden: {err}"
    );
}

//! Running the chart's tools for the helm_chart tests: helm with a private, empty configuration
//! and no reachable cluster, rendering with values, and the rendered objects as JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;

/// The release namespace every render uses.
pub const NAMESPACE: &str = "gluster-system";
/// The release name every render uses.
pub const RELEASE: &str = "gops";
/// The full name of the release's resources (`<release>-<chart>`).
pub const FULLNAME: &str = "gops-gluster-operator";

/// The repository root (the parent of the `operator` crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the operator crate lives one level below the repository root")
        .to_path_buf()
}

/// The chart directory.
pub fn chart() -> PathBuf {
    root().join("charts/gluster-operator")
}

/// A tool installed by hack/setup.sh, or a panic that says how to get it.
pub fn tool(relative: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run `make setup` (hack/setup.sh) to install it",
        path.display()
    );
    path
}

/// Runs helm with a private, empty configuration and no reachable cluster.
pub fn helm(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temporary helm home");
    Command::new(tool(".tools/bin/helm"))
        .args(args)
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .env("KUBECONFIG", home.path().join("no-kubeconfig"))
        .stdin(Stdio::null())
        .output()
        .expect("running helm")
}

/// Writes values to a temporary file that lives as long as the returned guard.
pub fn values_file(values: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temporary values file");
    std::io::Write::write_all(&mut file, values.as_bytes()).expect("writing values");
    file
}

/// `helm template` of the chart with these values (and the CRD), as raw output.
pub fn template_raw(values: &str) -> Output {
    let file = values_file(values);
    let chart = chart();
    helm(&[
        "template",
        RELEASE,
        chart.to_str().expect("UTF-8 path"),
        "--namespace",
        NAMESPACE,
        "--include-crds",
        "--values",
        file.path().to_str().expect("UTF-8 path"),
    ])
}

/// Text of a process's stdout and stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every non-empty YAML document of a multi-document string.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The rendered manifests for these values; panics with helm's output when rendering fails.
pub fn render(values: &str) -> Manifests {
    let out = template_raw(values);
    assert!(out.status.success(), "helm template failed\n{}", text(&out));
    let yaml = String::from_utf8(out.stdout).expect("helm prints UTF-8");
    Manifests {
        docs: documents(&yaml),
        yaml,
    }
}

/// The objects of one render.
pub struct Manifests {
    /// Every non-empty YAML document, as JSON.
    pub docs: Vec<Value>,
    /// The whole output of `helm template`.
    pub yaml: String,
}

impl Manifests {
    /// The sorted `Kind/name` of every object.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .docs
            .iter()
            .map(|d| format!("{}/{}", s(d, "/kind"), s(d, "/metadata/name")))
            .collect();
        kinds.sort();
        kinds
    }

    /// The one object of this kind and name.
    pub fn get(&self, kind: &str, name: &str) -> &Value {
        let found: Vec<&Value> = self
            .docs
            .iter()
            .filter(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {kind}/{name} in {:?}",
            self.kinds()
        );
        found[0]
    }

    /// The operator Deployment.
    pub fn deployment(&self) -> &Value {
        self.get("Deployment", FULLNAME)
    }

    /// The operator container.
    pub fn container(&self) -> &Value {
        let containers = self.deployment()["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers is a list");
        assert_eq!(containers.len(), 1, "one container");
        &containers[0]
    }
}

/// The string at a JSON pointer, or a panic naming the pointer.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// The container's args.
pub fn args(m: &Manifests) -> Vec<String> {
    m.container()["args"]
        .as_array()
        .expect("args is a list")
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect()
}

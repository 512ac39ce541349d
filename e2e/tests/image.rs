//! The operator's OCI image from `make image` (hack/image.sh, hack/oci-image.py; `make test`
//! builds it first): Debian's skopeo reads the archive (labels, user, entrypoint), Debian's umoci
//! validates and unpacks the layout, the unpacked binary is static, runs `--version` and, as
//! the image's non-root user, serves `/healthz` against the test control plane; packaging the
//! same binary again with the same SOURCE_DATE_EPOCH, version and revision gives the same
//! bytes (the archive make image wrote), and the index names the chart's default image.

mod kube_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kube_support::{Cluster, workspace};
use serde_json::Value;

/// The chart's appVersion (the tag make image writes).
fn app_version() -> String {
    let chart = std::fs::read_to_string(workspace().join("charts/gluster-operator/Chart.yaml"))
        .expect("Chart.yaml");
    let chart: serde_yaml::Value = serde_yaml::from_str(&chart).expect("Chart.yaml parses");
    chart["appVersion"]
        .as_str()
        .expect("appVersion")
        .to_string()
}

/// `<target>/oci/gluster-operator-<appVersion>.oci.tar` (target: this test binary's).
fn archive() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.parent()?.to_path_buf()))
        .expect("the target directory");
    let path = target.join(format!("oci/gluster-operator-{}.oci.tar", app_version()));
    assert!(
        path.exists(),
        "{} missing: run `make image` (make test runs it first)",
        path.display()
    );
    path
}

/// Runs a program, asserting success; its stdout.
fn run(program: &str, args: &[&str], dir: Option<&Path>) -> String {
    let mut c = Command::new(program);
    c.args(args).stdin(Stdio::null());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (run `make setup`)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn make_image_writes_a_valid_reproducible_non_root_image_whose_binary_serves() {
    let archive = archive();
    let version = app_version();
    let reference = format!("oci-archive:{}:{version}", archive.display());

    // skopeo: the labels, the platform, the non-root user and the entrypoint.
    let inspect: Value = serde_json::from_str(&run("skopeo", &["inspect", &reference], None))
        .expect("skopeo inspect JSON");
    assert_eq!(inspect["Architecture"], "amd64", "{inspect}");
    assert_eq!(inspect["Os"], "linux");
    let labels = &inspect["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], version.as_str());
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .expect("revision label")
        .to_string();
    assert!(revision.len() >= 40, "a commit: {revision}");
    assert!(labels["org.opencontainers.image.source"].is_string());
    assert_eq!(inspect["Layers"].as_array().map(Vec::len), Some(1));
    let config: Value =
        serde_json::from_str(&run("skopeo", &["inspect", "--config", &reference], None))
            .expect("skopeo inspect --config JSON");
    assert_eq!(config["config"]["User"], "65532:65532", "{config}");
    assert_eq!(config["config"]["Entrypoint"][0], "/gluster-operator");
    assert_eq!(config["config"]["Cmd"][0], "run");

    // umoci: the layout validates and unpacks; the runtime config keeps the user.
    let work = tempfile::tempdir().expect("a work directory");
    let layout = work.path().join("layout");
    std::fs::create_dir(&layout).expect("layout dir");
    run(
        "tar",
        &[
            "-xf",
            archive.to_str().expect("path"),
            "-C",
            layout.to_str().expect("path"),
        ],
        None,
    );
    let image = format!("{}:{version}", layout.display());
    let stat = run("umoci", &["stat", "--image", &image], None);
    assert!(stat.contains("hack/oci-image.py"), "{stat}");
    let bundle = work.path().join("bundle");
    run(
        "umoci",
        &["unpack", "--image", &image, bundle.to_str().expect("path")],
        None,
    );
    let runtime: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("config.json")).expect("config.json"),
    )
    .expect("runtime config");
    assert_eq!(
        runtime["process"]["user"]["uid"], 65532,
        "{}",
        runtime["process"]
    );
    let rootfs = bundle.join("rootfs");
    assert!(rootfs.join("etc/ssl/certs/ca-certificates.crt").exists());
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    assert!(passwd.contains(":65532:65532:"), "{passwd}");

    // The binary: static, `--version`.
    let binary = rootfs.join("gluster-operator");
    let kind = run("file", &["-b", binary.to_str().expect("path")], None);
    assert!(kind.contains("static"), "{kind}");
    let v = run(binary.to_str().expect("path"), &["--version"], None);
    assert_eq!(v.trim(), format!("gluster-operator {version}"));

    // Reproducible: the same binary, epoch, version and revision give the same bytes.
    let created = config["created"].as_str().expect("created").to_string();
    let epoch = epoch_of(&created);
    let again = work.path().join("again.oci.tar");
    let source = labels["org.opencontainers.image.source"]
        .as_str()
        .expect("source");
    let out = Command::new("python3")
        .arg(workspace().join("hack/oci-image.py"))
        .args(["--binary", binary.to_str().expect("path")])
        .args(["--out", again.to_str().expect("path")])
        .args([
            "--version",
            &version,
            "--revision",
            &revision,
            "--source",
            source,
        ])
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = std::fs::read(&archive).expect("archive");
    let b = std::fs::read(&again).expect("again");
    assert!(
        a == b,
        "packaging the same inputs twice gave different archives"
    );

    // The index names the chart's default image for containerd imports.
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(layout.join("index.json")).expect("index.json"),
    )
    .expect("index");
    let values: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace().join("charts/gluster-operator/values.yaml"))
            .expect("values.yaml"),
    )
    .expect("values");
    let repo = values["image"]["repository"].as_str().expect("repository");
    assert_eq!(values["image"]["tag"].as_str(), Some(""));
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        format!("docker.io/library/{repo}:{version}")
    );

    // As the image's user (65532, no capabilities), the binary serves /healthz against the
    // test control plane.
    let c = Cluster::start().await;
    let home = tempfile::Builder::new()
        .prefix("image-run-")
        .tempdir_in("/tmp")
        .expect("a home");
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::copy(&c.kubeconfig, &kubeconfig).expect("kubeconfig");
    let copy = home.path().join("gluster-operator");
    std::fs::copy(&binary, &copy).expect("binary");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = tokio::process::Command::new("setpriv")
        .args([
            "--reuid=65532",
            "--regid=65532",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(&copy)
        .args([
            "run",
            &format!("--http-addr=127.0.0.1:{port}"),
            "--log-level=warn",
        ])
        .env_clear()
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", &c.ns)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("setpriv (util-linux)");
    let http = reqwest::Client::new();
    let mut served = false;
    for _ in 0..100 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status().is_success()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = if served {
        http.get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    } else {
        String::new()
    };
    let _ = child.start_kill();
    let out = child
        .wait_with_output()
        .await
        .expect("the operator's output");
    assert!(
        served,
        "no /healthz within 20 s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        metrics.contains("gluster_operator_reconciles_total"),
        "{metrics}"
    );
}

/// Seconds since the epoch of an RFC 3339 UTC time `YYYY-MM-DDTHH:MM:SSZ`.
fn epoch_of(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .timestamp()
}

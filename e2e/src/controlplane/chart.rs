//! The operator as the Helm chart deploys it: `helm template` of `charts/gluster-operator` (the
//! real helm), applied with the real `kubectl apply`, and a token of the chart's ServiceAccount
//! from the TokenRequest API (`kubectl create token`). The operator then runs outside any pod
//! (there is no kubelet here) with that token, so every test that runs it proves the chart's
//! RBAC is enough, and [`crate::controlplane`]'s least-privilege tests prove it is no more.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{ControlPlane, Error, token_kubeconfig, workspace};

/// The chart's release namespace in tests.
pub const RELEASE_NAMESPACE: &str = "gluster-system";

/// A tool from `.tools/bin` (put there by `hack/setup.sh`), or `$<ENV>` when set.
pub fn tool(name: &str, env: &str) -> Result<PathBuf, Error> {
    if let Ok(p) = std::env::var(env) {
        return Ok(PathBuf::from(p));
    }
    let path = workspace().join(".tools/bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Tool(format!(
            "{} is missing: run `make setup` (hack/setup.sh installs it) or set {env}",
            path.display()
        )))
    }
}

/// kubectl from `.tools/bin` (or `$KUBECTL`).
pub fn kubectl() -> Result<PathBuf, Error> {
    tool("kubectl", "KUBECTL")
}

/// helm from `.tools/bin` (or `$HELM`).
pub fn helm() -> Result<PathBuf, Error> {
    tool("helm", "HELM")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `kubectl` against `kubeconfig` with `input` on stdin; fails with its words when it
/// exits non-zero.
pub fn run_kubectl(kubeconfig: &Path, args: &[&str], input: &str) -> Result<String, Error> {
    let out = kubectl_output(kubeconfig, args, input)?;
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(Error::Tool(format!(
            "kubectl {}: {}{}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        )))
    }
}

/// Runs `kubectl` against `kubeconfig` with `input` on stdin and returns what it did.
pub fn kubectl_output(kubeconfig: &Path, args: &[&str], input: &str) -> Result<Output, Error> {
    use std::io::Write;
    let home = kubeconfig.parent().unwrap_or(Path::new("/tmp"));
    let mut child = Command::new(kubectl()?)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", home.join(".kube-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Io {
            what: "running kubectl".into(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().map_err(|source| Error::Io {
        what: "running kubectl".into(),
        source,
    })
}

/// `helm template RELEASE charts/gluster-operator --namespace NAMESPACE` with `values` (YAML)
/// (and the chart's CRD with `include_crds`), with a private, empty helm configuration and no
/// cluster.
pub fn template(
    release: &str,
    namespace: &str,
    values: &str,
    include_crds: bool,
) -> Result<String, Error> {
    let home = tempfile::tempdir().map_err(|source| Error::Io {
        what: "a temporary helm home".into(),
        source,
    })?;
    let values_file = home.path().join("values.yaml");
    std::fs::write(&values_file, values).map_err(|source| Error::Io {
        what: "writing helm values".into(),
        source,
    })?;
    let out = Command::new(helm()?)
        .arg("template")
        .arg(release)
        .arg(workspace().join("charts/gluster-operator"))
        .args(["--namespace", namespace])
        .args(include_crds.then_some("--include-crds"))
        .arg("--values")
        .arg(&values_file)
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .env("KUBECONFIG", home.path().join("no-kubeconfig"))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            what: "running helm".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Tool(format!("helm template: {}", text(&out.stderr))));
    }
    Ok(text(&out.stdout))
}

/// The operator's identity from one chart release.
#[derive(Debug, Clone)]
pub struct OperatorIdentity {
    /// The release name.
    pub release: String,
    /// The release namespace (its Lease lives there).
    pub namespace: String,
    /// The ServiceAccount's name (the chart's full name).
    pub service_account: String,
    /// The leader-election Lease the chart's Role allows (the chart's full name).
    pub lease: String,
    /// A kubeconfig with a token of that ServiceAccount.
    pub kubeconfig: PathBuf,
}

impl OperatorIdentity {
    /// A client acting as the operator.
    pub async fn client(&self) -> Result<::kube::Client, Error> {
        super::client_from_file(&self.kubeconfig).await
    }
}

/// Renders the chart as release `release` in `namespace` (created when absent) with `values`,
/// applies it with kubectl as admin, and issues a one-day token of its ServiceAccount into a
/// kubeconfig in the control plane's directory. The chart's CRD is not applied here (tests
/// install the CRD themselves, from crds/).
pub fn install(
    cp: &ControlPlane,
    release: &str,
    namespace: &str,
    values: &str,
) -> Result<OperatorIdentity, Error> {
    let admin = cp.kubeconfig();
    let created = kubectl_output(admin, &["create", "namespace", namespace], "")?;
    if !created.status.success() && !text(&created.stderr).contains("AlreadyExists") {
        return Err(Error::Tool(format!(
            "kubectl create namespace {namespace}: {}",
            text(&created.stderr)
        )));
    }
    let manifest = template(release, namespace, values, false)?;
    run_kubectl(admin, &["apply", "-f", "-"], &manifest)?;
    let fullname = format!("{release}-gluster-operator");
    let token = run_kubectl(
        admin,
        &[
            "create",
            "token",
            &fullname,
            "-n",
            namespace,
            "--duration=24h",
        ],
        "",
    )?;
    let kubeconfig = cp
        .dir()
        .join(format!("operator-{namespace}-{release}.kubeconfig"));
    let user = format!("system:serviceaccount:{namespace}:{fullname}");
    std::fs::write(
        &kubeconfig,
        token_kubeconfig(cp.server(), cp.pki(), &user, token.trim()),
    )
    .map_err(|source| Error::Io {
        what: format!("writing {}", kubeconfig.display()),
        source,
    })?;
    Ok(OperatorIdentity {
        release: release.into(),
        namespace: namespace.into(),
        service_account: fullname.clone(),
        lease: fullname,
        kubeconfig,
    })
}

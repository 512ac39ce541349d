//! Shared helpers of the Kubernetes-side tests: the test binary's real control plane
//! (e2e/src/controlplane), a namespace of each test's own with a kubeconfig whose context
//! defaults to it, and the real kubectl pointed at it. Manifests given to kubectl have
//! `namespace: default` replaced by the test's namespace, so tests written for one cluster each
//! run side by side on one.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use e2e::controlplane::{ControlPlane, Plane};
use tokio::io::AsyncWriteExt;
/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The project's CRD.
pub fn crd_path() -> PathBuf {
    workspace().join("crds/glusterclusters.yaml")
}

/// A fixture file.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The kubectl `make setup` installs (or `$KUBECTL`); panics with the fix when absent.
pub fn kubectl_path() -> PathBuf {
    if let Ok(p) = std::env::var("KUBECTL") {
        return PathBuf::from(p);
    }
    let p = workspace().join(".tools/bin/kubectl");
    assert!(
        p.exists(),
        "kubectl not found at {}: run `make setup` (hack/setup.sh puts kubectl 1.35 into .tools/bin) or set KUBECTL",
        p.display()
    );
    p
}

/// A namespace of the test's own on the shared control plane, with a kubeconfig defaulting to
/// it and a private kubectl cache and home.
pub struct Cluster {
    /// The control plane (the binary's shared one, or the test's own).
    cp: Plane,
    /// The test's namespace.
    pub ns: String,
    /// Temporary directory holding the kubeconfig, cache and home.
    pub dir: tempfile::TempDir,
    /// The kubeconfig path (admin, context namespace = [`Cluster::ns`]).
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// A new namespace on the shared control plane (started on first use).
    pub async fn start() -> Cluster {
        let cp = ControlPlane::shared()
            .await
            .unwrap_or_else(|e| panic!("the test control plane: {e}"));
        Self::on(Plane::Shared(cp)).await
    }

    /// A new namespace on a control plane of the test's own (a test that creates cluster-wide
    /// objects other tests would see); it stops when the test ends.
    pub async fn start_own() -> Cluster {
        let cp = ControlPlane::start()
            .await
            .unwrap_or_else(|e| panic!("a control plane of the test's own: {e}"));
        Self::on(Plane::Own(Box::new(cp))).await
    }

    /// The control plane.
    pub fn cp(&self) -> &ControlPlane {
        &self.cp
    }

    async fn on(plane: Plane) -> Cluster {
        let cp: &ControlPlane = &plane;
        let admin = cp.client().await.unwrap();
        let ns = cp.namespace(&admin, "t").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let text = std::fs::read_to_string(cp.kubeconfig()).unwrap();
        std::fs::write(
            &kubeconfig,
            text.replace(
                "    namespace: default\n",
                &format!("    namespace: {ns}\n"),
            ),
        )
        .unwrap();
        Cluster {
            cp: plane,
            ns,
            dir,
            kubeconfig,
        }
    }

    /// `text` with `namespace: default` put in the test's namespace.
    pub fn localize(&self, text: &str) -> String {
        text.replace("namespace: default", &format!("namespace: {}", self.ns))
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(kubectl_path());
        c.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs kubectl with another kubeconfig (another identity) and returns its output.
    pub async fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let mut c = self.command(args);
        c.env("KUBECONFIG", kubeconfig);
        c.stdin(std::process::Stdio::null());
        c.output().await.expect("kubectl runs")
    }

    /// Runs kubectl and returns its output.
    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, "").await
    }

    /// Runs kubectl with `input` (localized, see [`Cluster::localize`]) on stdin. A `-f FILE`
    /// argument is read and given on stdin the same way (`-f -`).
    pub async fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut args: Vec<&str> = args.to_vec();
        let mut input = input.to_string();
        if let Some(i) = args.iter().position(|a| *a == "-f")
            && let Some(file) = args.get(i + 1).filter(|f| **f != "-")
        {
            input = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            args[i + 1] = "-";
        }
        let input = self.localize(&input);
        let mut child = self.command(&args).spawn().expect("kubectl runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        child.wait_with_output().await.unwrap()
    }

    /// Starts kubectl in the background.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args).spawn().expect("kubectl runs")
    }

    /// Runs kubectl, asserting success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs kubectl, asserting that it fails saying `want`.
    pub async fn refused(&self, args: &[&str], input: &str, want: &str) {
        let err = self.fails(args, input).await;
        assert!(err.contains(want), "want {want:?} in:\n{err}");
    }

    /// Runs kubectl, asserting failure; returns stderr.
    pub async fn fails(&self, args: &[&str], input: &str) -> String {
        let out = self.kubectl_stdin(args, input).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail but printed: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// A kube-rs client with admin rights (its default namespace is the test's).
    pub async fn client(&self) -> ::kube::Client {
        let kc = ::kube::config::Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let cfg = ::kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        ::kube::Client::try_from(cfg).unwrap()
    }
}

/// Bytes as a string.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every `*.yaml` under `examples/` at the workspace root (none yet on some branches).
pub fn examples() -> Vec<PathBuf> {
    let dir = workspace().join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

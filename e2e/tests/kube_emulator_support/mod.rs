//! Shared helpers of the kube emulator tests: an emulator per test on 127.0.0.1:0, its
//! kubeconfig in a temporary directory, and the real kubectl pointed at it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use e2e::kube::{Config, Emulator};
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

/// An emulator with a kubeconfig and a private kubectl cache and home.
pub struct Cluster {
    /// The emulator.
    pub emu: Emulator,
    /// Temporary directory holding the kubeconfig, cache and home.
    pub dir: tempfile::TempDir,
    /// The kubeconfig path.
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts an emulator with default options.
    pub async fn start() -> Cluster {
        Self::start_with(Config::default()).await
    }

    /// Starts an emulator with the given options.
    pub async fn start_with(config: Config) -> Cluster {
        let emu = Emulator::start_with("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig).unwrap();
        Cluster {
            emu,
            dir,
            kubeconfig,
        }
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

    /// Runs kubectl and returns its output.
    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, "").await
    }

    /// Runs kubectl with `input` on stdin.
    pub async fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.command(args).spawn().expect("kubectl runs");
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

    /// A kube-rs client for this emulator.
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

//! A real Kubernetes control plane on loopback for the tests, `devenv`, the demo and the
//! benchmarks: etcd, kube-apiserver and kube-controller-manager, built from the Go modules
//! pinned in `hack/kube/` (docs/design.md, "The local world").
//!
//! [`ControlPlane::start`] makes a directory under [`STATE_ROOT`], fresh keys and certificates
//! ([`pki`]), starts etcd (loopback ports, no fsync), the API server (secure port on 127.0.0.1,
//! RBAC, the default admission plugins, service-account tokens) and the controller manager
//! (garbage collector, namespace deletion, service accounts), waits for `/readyz` and writes an
//! admin kubeconfig. Dropping it stops all three and removes the directory. Should the test
//! process die without unwinding (a SIGKILL, `process::exit` after the last test), a reaper
//! process started with it kills the three and removes the directory once the test process is
//! gone, so nothing is left behind either way.
//!
//! [`ControlPlane::shared`] is one control plane per test binary; tests isolate by namespace
//! ([`ControlPlane::namespace`]). A test that restarts the API server starts its own.
//! [`chart`] applies the operator's Helm chart and issues a token of its ServiceAccount, so the
//! operator under test runs with exactly the chart's RBAC.

pub mod chart;
pub mod pki;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ::kube::Client;
use ::kube::api::{Api, PostParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use base64::Engine;
use k8s_openapi::api::core::v1::Namespace;

pub use pki::Pki;

/// Where control planes keep their state (one directory each, named after the test process).
pub const STATE_ROOT: &str = "/tmp/gluster-e2e-kube";

/// The cluster IP of the `kubernetes` Service (first address of the service range). Nothing
/// ever sends traffic to it: there is no kube-proxy here.
pub const SERVICE_IP: [u8; 4] = [10, 96, 0, 1];

/// How long a start waits for `/readyz` before failing (a hang guard: a warm start takes a few
/// seconds, a cold one on 2 busy cores longer).
const READY_PATIENCE: Duration = Duration::from_secs(180);

/// Errors of the control plane's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binaries are missing and could not be built.
    #[error("control-plane binaries: {0}")]
    Binaries(String),
    /// Keys or certificates could not be made.
    #[error("control-plane PKI: {0}")]
    Pki(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A process exited or never became ready.
    #[error("{process} did not become ready: {why}; last log lines:\n{log}")]
    NotReady {
        /// etcd, kube-apiserver or kube-controller-manager.
        process: &'static str,
        /// What was seen.
        why: String,
        /// The tail of its log.
        log: String,
    },
    /// The admin kubeconfig did not give a client.
    #[error("admin client: {0}")]
    Client(String),
    /// A request to the API server failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The cause.
        source: ::kube::Error,
    },
    /// helm or kubectl failed.
    #[error("{0}")]
    Tool(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// The workspace root (the clone).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The directory holding etcd, kube-apiserver and kube-controller-manager: `$KUBE_BIN_DIR`, or
/// what `hack/kube/build.sh` prints (it builds them on first use, then answers at once).
pub fn binaries() -> Result<PathBuf, Error> {
    if let Ok(dir) = std::env::var("KUBE_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let script = workspace().join("hack/kube/build.sh");
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(io(format!("running {}", script.display())))?;
    if !out.status.success() {
        return Err(Error::Binaries(format!(
            "{} failed ({}); run it by hand to see why",
            script.display(),
            out.status
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = text.lines().last().unwrap_or_default().trim();
    if dir.is_empty() {
        return Err(Error::Binaries(format!(
            "{} printed no directory",
            script.display()
        )));
    }
    Ok(PathBuf::from(dir))
}

/// `N` distinct free loopback ports (each held until all are chosen, so none repeats; another
/// process may still take one before its server binds it: [`ControlPlane::start`] retries).
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
        *port = listener
            .local_addr()
            .map_err(io("finding a free port"))?
            .port();
        held.push(listener);
    }
    Ok(ports)
}

/// Whether a start failed because a port was taken between choosing and binding it.
fn port_taken(e: &Error) -> bool {
    matches!(e, Error::NotReady { log, .. } if log.contains("address already in use"))
}

/// One of the three processes.
struct Process {
    name: &'static str,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(&mut self, bin_dir: &Path) -> Result<(), Error> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io(format!("opening {}", self.log.display())))?;
        let err = log
            .try_clone()
            .map_err(io(format!("opening {}", self.log.display())))?;
        let child = Command::new(bin_dir.join(self.name))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io(format!("starting {}", self.name)))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Exited already? Returns its status text.
    fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The last lines of its log that are not the flag dump at start.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.contains("FLAG: --")).collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; reaps it.
    fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running control plane.
pub struct ControlPlane {
    dir: PathBuf,
    bin_dir: PathBuf,
    server: String,
    kubeconfig: PathBuf,
    pki: Pki,
    etcd: Process,
    apiserver: Process,
    controller_manager: Process,
    reaper: Option<Child>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("dir", &self.dir)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The control plane a test uses: its binary's shared one, or one of its own (stopped when
/// this is dropped). Dereferences to the [`ControlPlane`] either way.
pub enum Plane {
    /// [`ControlPlane::shared`].
    Shared(&'static ControlPlane),
    /// A control plane of the test's own.
    Own(Box<ControlPlane>),
}

impl std::ops::Deref for Plane {
    type Target = ControlPlane;

    fn deref(&self) -> &ControlPlane {
        match self {
            Plane::Shared(cp) => cp,
            Plane::Own(cp) => cp,
        }
    }
}

/// Removes directories under [`STATE_ROOT`] whose test process is gone (a run killed before
/// its reaper could act, e.g. a machine reboot).
fn remove_stale_state() {
    let Ok(entries) = std::fs::read_dir(STATE_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl ControlPlane {
    /// Starts etcd, the API server and the controller manager, and waits until the API server
    /// is ready. Builds the binaries first if they are missing (see [`binaries`]).
    pub async fn start() -> Result<ControlPlane, Error> {
        let bin_dir = tokio::task::spawn_blocking(binaries)
            .await
            .map_err(|e| Error::Binaries(e.to_string()))??;
        remove_stale_state();
        let mut attempt = 1;
        loop {
            match Self::start_in(bin_dir.clone()).await {
                Err(e) if attempt < 3 && port_taken(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn start_in(bin_dir: PathBuf) -> Result<ControlPlane, Error> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = PathBuf::from(STATE_ROOT).join(format!("{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let pki = Pki::create(&dir)?;

        let [etcd_port, peer_port, api_port] = free_ports()?;
        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(&kubeconfig, admin_kubeconfig(&server, &pki))
            .map_err(io(format!("writing {}", kubeconfig.display())))?;

        let d = |name: &str| dir.join(name).display().to_string();
        let etcd = Process {
            name: "etcd",
            args: vec![
                "--name=e2e".into(),
                format!("--data-dir={}", d("etcd")),
                format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-cluster=e2e=http://127.0.0.1:{peer_port}"),
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
            log: dir.join("etcd.log"),
            child: None,
        };
        let [a, b, c, e] = SERVICE_IP;
        let apiserver = Process {
            name: "kube-apiserver",
            args: vec![
                format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={api_port}"),
                format!("--tls-cert-file={}", pki.serving_cert.display()),
                format!("--tls-private-key-file={}", pki.serving_key.display()),
                format!("--client-ca-file={}", pki.ca_cert.display()),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", pki.sa_pub.display()),
                format!(
                    "--service-account-signing-key-file={}",
                    pki.sa_key.display()
                ),
                format!("--service-cluster-ip-range={a}.{b}.{c}.{}/24", e - 1),
                "--authorization-mode=RBAC".into(),
                "--allow-privileged=true".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ],
            log: dir.join("kube-apiserver.log"),
            child: None,
        };
        let controller_manager = Process {
            name: "kube-controller-manager",
            args: vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                format!("--authentication-kubeconfig={}", kubeconfig.display()),
                format!("--authorization-kubeconfig={}", kubeconfig.display()),
                // No serving port at all (nothing here reads its health or metrics): a port
                // chosen free and taken by another control plane before it binds would end
                // the controller manager, and with it garbage collection, unnoticed.
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,clusterrole-aggregation-controller".into(),
                format!("--root-ca-file={}", pki.ca_cert.display()),
                "--use-service-account-credentials=false".into(),
                "--profiling=false".into(),
            ],
            log: dir.join("kube-controller-manager.log"),
            child: None,
        };
        let mut cp = ControlPlane {
            dir,
            bin_dir,
            server,
            kubeconfig,
            pki,
            etcd,
            apiserver,
            controller_manager,
            reaper: None,
        };
        cp.etcd.spawn(&cp.bin_dir)?;
        cp.wait_tcp("etcd", etcd_port).await?;
        cp.apiserver.spawn(&cp.bin_dir)?;
        cp.wait_ready().await?;
        cp.controller_manager.spawn(&cp.bin_dir)?;
        cp.start_reaper()?;
        Ok(cp)
    }

    /// The control plane this test binary shares, started on first use. Tests isolate by
    /// namespace ([`ControlPlane::namespace`]); it lives until the test process ends (its reaper
    /// then stops it).
    pub async fn shared() -> Result<&'static ControlPlane, Error> {
        static SHARED: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_try_init(ControlPlane::start).await
    }

    /// The API server's URL (`https://127.0.0.1:<port>`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin kubeconfig (user `e2e-admin`, group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The control plane's directory (logs, keys, etcd's data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its PKI.
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// Writes a copy of the admin kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        std::fs::copy(&self.kubeconfig, path)
            .map(|_| ())
            .map_err(io(format!("writing {}", path.display())))
    }

    /// A client with admin rights. Build one per tokio runtime (a client's connection task lives
    /// in the runtime that made it).
    pub async fn client(&self) -> Result<Client, Error> {
        client_from_file(&self.kubeconfig).await
    }

    /// Creates a namespace named `<prefix>-<n>` (unique in this process) and returns its name.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> Result<String, Error> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{prefix}-{n}");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.clone());
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|source| Error::Api {
                what: format!("creating namespace {name}"),
                source,
            })?;
        Ok(name)
    }

    /// Stops the API server (SIGTERM, as a rollout would) and starts it again on the same port
    /// and etcd, waiting until it is ready. Clients reconnect; watches resume.
    pub async fn restart_apiserver(&mut self) -> Result<(), Error> {
        self.stop_apiserver();
        self.start_apiserver().await
    }

    /// Stops the API server only (its clients see refused connections until
    /// [`ControlPlane::start_apiserver`]).
    pub fn stop_apiserver(&mut self) {
        self.apiserver.stop(Duration::from_secs(20));
    }

    /// Starts the API server again after [`ControlPlane::stop_apiserver`] and waits for it.
    pub async fn start_apiserver(&mut self) -> Result<(), Error> {
        self.apiserver.spawn(&self.bin_dir)?;
        self.wait_ready().await?;
        self.start_reaper()
    }

    async fn wait_tcp(&mut self, process: &'static str, port: u16) -> Result<(), Error> {
        let deadline = Instant::now() + READY_PATIENCE;
        loop {
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Some(status) = self.etcd.exited() {
                return Err(Error::NotReady {
                    process,
                    why: format!("exited: {status}"),
                    log: self.etcd.log_tail(),
                });
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    process,
                    why: format!("port {port} closed after {READY_PATIENCE:?}"),
                    log: self.etcd.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `/readyz` (with kubectl as admin: kube's client would log every 500 of a server
    /// still starting as an error) until it answers `ok`.
    async fn wait_ready(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + READY_PATIENCE;
        let kubectl = chart::kubectl()?;
        let mut last;
        loop {
            let probe = tokio::process::Command::new(&kubectl)
                .args(["get", "--raw=/readyz", "--request-timeout=5s"])
                .env("KUBECONFIG", &self.kubeconfig)
                .env("KUBECACHEDIR", self.dir.join(".kube-cache"))
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(io("running kubectl"))?;
            let answer = String::from_utf8_lossy(&probe.stdout);
            if probe.status.success() && answer.trim() == "ok" {
                return Ok(());
            }
            last = format!("{answer}{}", String::from_utf8_lossy(&probe.stderr));
            if let Some(status) = self.apiserver.exited() {
                return Err(Error::NotReady {
                    process: "kube-apiserver",
                    why: format!("exited: {status}"),
                    log: self.apiserver.log_tail(),
                });
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    process: "kube-apiserver",
                    why: format!("/readyz after {READY_PATIENCE:?}: {}", last.trim()),
                    log: self.apiserver.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (Re)starts the reaper: a shell that waits for this process to end, then kills the three
    /// processes by PID and removes the directory. Not a child of ours in any way that dies
    /// with us (its own session), so it outlives a SIGKILLed test process.
    fn start_reaper(&mut self) -> Result<(), Error> {
        if let Some(mut old) = self.reaper.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let pids: Vec<String> = [&self.etcd, &self.apiserver, &self.controller_manager]
            .iter()
            .filter_map(|p| p.pid())
            .map(|p| p.to_string())
            .collect();
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -9 {pids} 2>/dev/null; sleep 0.5; rm -rf '{dir}'",
            me = std::process::id(),
            pids = pids.join(" "),
            dir = self.dir.display(),
        );
        let child = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting the control plane's reaper"))?;
        self.reaper = Some(child);
        Ok(())
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.controller_manager.stop(Duration::from_secs(5));
        self.apiserver.stop(Duration::from_secs(10));
        self.etcd.stop(Duration::from_secs(5));
        if let Some(mut reaper) = self.reaper.take() {
            let _ = reaper.kill();
            let _ = reaper.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The admin kubeconfig: the CA, the API server's URL and the admin client certificate inline.
fn admin_kubeconfig(server: &str, pki: &Pki) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    kubeconfig(
        server,
        pki,
        "e2e-admin",
        &format!(
            "client-certificate-data: {}\n    client-key-data: {}",
            b64(&pki.admin_cert_pem),
            b64(&pki.admin_key_pem)
        ),
        "default",
    )
}

/// A kubeconfig for a bearer token (a ServiceAccount's), same cluster as `pki`'s.
pub fn token_kubeconfig(server: &str, pki: &Pki, user: &str, token: &str) -> String {
    kubeconfig(server, pki, user, &format!("token: {token}"), "default")
}

/// A kubeconfig of one cluster (`server`, trusting `pki`'s CA), one user with `credentials`
/// (YAML lines of its `user:` map, joined with a newline and four spaces) and one context.
fn kubeconfig(server: &str, pki: &Pki, user: &str, credentials: &str, namespace: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    {credentials}
contexts:
- name: e2e
  context:
    cluster: e2e
    user: {user}
    namespace: {namespace}
current-context: e2e
"
    )
}

/// A client from a kubeconfig file.
pub async fn client_from_file(path: &Path) -> Result<Client, Error> {
    let kc = Kubeconfig::read_from(path).map_err(|e| Error::Client(e.to_string()))?;
    let cfg = ::kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))?;
    Client::try_from(cfg).map_err(|e| Error::Client(e.to_string()))
}

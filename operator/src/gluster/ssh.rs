//! The SSH node executor (russh, pure Rust): the operator's key for authentication, the node's
//! pinned host key for the server (no trust on first use), timeouts on connecting and on every
//! command, and one reused connection per node.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, Sig};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, warn};

use super::exec::{
    CommandOutput, ExecError, ExecFuture, NodeEndpoint, NodeExecutor, TimeoutPhase, render_command,
};
use super::keys::{OperatorKey, PinnedHostKey, fingerprint_of};

/// How the executor logs in and how long it waits.
#[derive(Clone)]
pub struct SshConfig {
    /// The remote user (e.g. `gluster-operator`).
    pub user: String,
    /// The operator's private key for this cluster.
    pub key: OperatorKey,
    /// Limit for TCP connect + SSH handshake + authentication.
    pub connect_timeout: Duration,
    /// Prefix every command with `sudo -n --` (for a non-root user allowed to run gluster).
    pub sudo: bool,
    /// Also bound every command on the node with coreutils `timeout` (a little longer than the
    /// executor's own limit), so that a command the executor gave up on does not keep running
    /// there. sshd refuses the SSH `signal` request for root and sudo sessions, so this is the
    /// reliable way; turn it off only for nodes without coreutils.
    pub remote_timeout: bool,
    /// Interval of SSH keepalives on idle reused connections; a connection whose peer stops
    /// answering three of them is dropped and the next command reconnects.
    pub keepalive_interval: Duration,
    /// Most bytes kept of stdout and of stderr each; a command printing more fails with
    /// [`ExecError::OutputTooLarge`] instead of exhausting memory.
    pub max_output_bytes: usize,
}

impl SshConfig {
    /// Defaults: 15 s to connect, no sudo, remote timeout on, keepalive every 15 s, 16 MiB of
    /// output.
    pub fn new(user: impl Into<String>, key: OperatorKey) -> Self {
        Self {
            user: user.into(),
            key,
            connect_timeout: Duration::from_secs(15),
            sudo: false,
            remote_timeout: true,
            keepalive_interval: Duration::from_secs(15),
            max_output_bytes: 16 << 20,
        }
    }
}

impl fmt::Debug for SshConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConfig")
            .field("user", &self.user)
            .field("key", &self.key)
            .field("connect_timeout", &self.connect_timeout)
            .field("sudo", &self.sudo)
            .field("remote_timeout", &self.remote_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("max_output_bytes", &self.max_output_bytes)
            .finish()
    }
}

/// Connections are reused per (address, port, pinned key): a replaced node with a new host key
/// or address never gets an old connection.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ConnKey {
    address: String,
    port: u16,
    host_key: String,
}

impl ConnKey {
    fn of(node: &NodeEndpoint) -> Self {
        Self {
            address: node.address.clone(),
            port: node.port,
            host_key: node.host_key.fingerprint(),
        }
    }
}

type Connection = Arc<Handle<PinnedKeyCheck>>;

/// Runs commands over SSH. One executor per cluster (it holds that cluster's key); cheap to
/// share behind an `Arc`.
pub struct SshExecutor {
    config: SshConfig,
    connections: Mutex<HashMap<ConnKey, Connection>>,
    connects: AtomicU64,
}

impl fmt::Debug for SshExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshExecutor")
            .field("config", &self.config)
            .field("connects", &self.connects())
            .finish_non_exhaustive()
    }
}

impl SshExecutor {
    /// An executor that logs in as `config.user` with `config.key`.
    pub fn new(config: SshConfig) -> Self {
        Self {
            config,
            connections: Mutex::new(HashMap::new()),
            connects: AtomicU64::new(0),
        }
    }

    /// How many SSH connections this executor has opened (reuse keeps it at one per node).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Drops the reused connection to `node`, if any (e.g. after the node was replaced).
    pub fn forget(&self, node: &NodeEndpoint) {
        self.cache().remove(&ConnKey::of(node));
    }

    /// Closes every reused connection politely.
    pub async fn close_all(&self) {
        let all: Vec<Connection> = self.cache().drain().map(|(_, c)| c).collect();
        for conn in all {
            let _ = conn
                .disconnect(Disconnect::ByApplication, "closing", "en")
                .await;
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<ConnKey, Connection>> {
        // A poisoned lock only means another task panicked while holding this plain map;
        // the map itself is still consistent.
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self, key: &ConnKey) -> Option<Connection> {
        let mut cache = self.cache();
        match cache.get(key) {
            Some(conn) if !conn.is_closed() => Some(Arc::clone(conn)),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    async fn connection(&self, node: &NodeEndpoint) -> Result<Connection, ExecError> {
        let key = ConnKey::of(node);
        if let Some(conn) = self.cached(&key) {
            return Ok(conn);
        }
        // Connect without holding the lock so nodes connect in parallel; if another task won
        // the race for this node, keep its connection and drop ours (which closes it).
        let fresh = Arc::new(self.connect(node).await?);
        let mut cache = self.cache();
        match cache.get(&key) {
            Some(existing) if !existing.is_closed() => Ok(Arc::clone(existing)),
            _ => {
                cache.insert(key, Arc::clone(&fresh));
                Ok(fresh)
            }
        }
    }

    async fn connect(&self, node: &NodeEndpoint) -> Result<Handle<PinnedKeyCheck>, ExecError> {
        let presented = Arc::new(Mutex::new(None));
        let handler = PinnedKeyCheck {
            pinned: node.host_key.clone(),
            presented: Arc::clone(&presented),
        };
        let config = client::Config {
            preferred: russh::Preferred {
                // Ask for the pinned key's type only: a server with several host keys then
                // proves the one we pinned instead of another one we would refuse.
                key: Cow::Owned(vec![node.host_key.algorithm()]),
                ..Default::default()
            },
            keepalive_interval: Some(self.config.keepalive_interval),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        };
        let address = format!("{}:{}", node.address, node.port);
        let attempt = async {
            let mut handle = client::connect(
                Arc::new(config),
                (node.address.as_str(), node.port),
                handler,
            )
            .await
            .map_err(|e| self.connect_error(node, &address, &presented, e))?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| session_error(node, e))?
                .flatten();
            let auth = handle
                .authenticate_publickey(
                    self.config.user.clone(),
                    PrivateKeyWithHashAlg::new(self.config.key.private(), hash),
                )
                .await
                .map_err(|e| session_error(node, e))?;
            if !auth.success() {
                return Err(ExecError::Auth {
                    node: node.name.clone(),
                    user: self.config.user.clone(),
                    key_fingerprint: self.config.key.fingerprint(),
                });
            }
            Ok(handle)
        };
        let handle = timeout(self.config.connect_timeout, attempt)
            .await
            .map_err(|_| ExecError::Timeout {
                node: node.name.clone(),
                phase: TimeoutPhase::Connect,
                after: self.config.connect_timeout,
            })??;
        self.connects.fetch_add(1, Ordering::Relaxed);
        debug!(node = %node.name, %address, user = %self.config.user, "ssh connected");
        Ok(handle)
    }

    fn connect_error(
        &self,
        node: &NodeEndpoint,
        address: &str,
        presented: &Mutex<Option<String>>,
        e: russh::Error,
    ) -> ExecError {
        let seen = presented
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match (e, seen) {
            (russh::Error::UnknownKey, Some(presented)) => {
                warn!(node = %node.name, expected = %node.host_key.fingerprint(), %presented,
                    "ssh host key mismatch");
                ExecError::HostKeyMismatch {
                    node: node.name.clone(),
                    expected: node.host_key.fingerprint(),
                    presented,
                }
            }
            (
                russh::Error::NoCommonAlgo {
                    kind: russh::AlgorithmKind::Key,
                    ..
                },
                _,
            ) => ExecError::HostKeyMismatch {
                node: node.name.clone(),
                expected: node.host_key.fingerprint(),
                presented: format!("no {} host key at all", node.host_key.algorithm().as_str()),
            },
            (e, _) => ExecError::Connect {
                node: node.name.clone(),
                address: address.to_string(),
                reason: e.to_string(),
            },
        }
    }

    async fn run_once(
        &self,
        conn: &Connection,
        node: &NodeEndpoint,
        line: &str,
        deadline: Instant,
        limit: Duration,
    ) -> Result<CommandOutput, RunFailure> {
        let timed_out = || ExecError::Timeout {
            node: node.name.clone(),
            phase: TimeoutPhase::Command,
            after: limit,
        };
        let mut channel = match timeout_at(deadline, conn.channel_open_session()).await {
            Err(_) => return Err(RunFailure::Final(timed_out())),
            // The reused connection may have died since: worth one fresh connection.
            Ok(Err(e)) => return Err(RunFailure::Stale(session_error(node, e))),
            Ok(Ok(channel)) => channel,
        };
        match timeout_at(deadline, channel.exec(true, line)).await {
            Err(_) => return Err(RunFailure::Final(timed_out())),
            Ok(Err(e)) => return Err(RunFailure::Final(session_error(node, e))),
            Ok(Ok(())) => {}
        }
        let collected = timeout_at(
            deadline,
            collect(&mut channel, self.config.max_output_bytes),
        )
        .await;
        match collected {
            Ok(Ok(output)) if output.exit_status.is_none() && output.exit_signal.is_none() => {
                // sshd always reports how a command ended; silence means the connection went.
                Err(RunFailure::Final(ExecError::Session {
                    node: node.name.clone(),
                    reason: "the connection closed before the command reported its exit".into(),
                }))
            }
            Ok(Ok(output)) => Ok(output),
            Ok(Err(Collect::TooLarge)) => {
                let _ = channel.signal(Sig::KILL).await;
                let _ = channel.close().await;
                Err(RunFailure::Final(ExecError::OutputTooLarge {
                    node: node.name.clone(),
                    command: line.to_string(),
                    limit: self.config.max_output_bytes,
                }))
            }
            Err(_) => {
                // Ask sshd to kill the command too, then drop the channel; the connection
                // stays usable for the next command.
                let _ = channel.signal(Sig::KILL).await;
                let _ = channel.close().await;
                Err(RunFailure::Final(timed_out()))
            }
        }
    }
}

/// A failed attempt: `Stale` when a reused connection turned out dead before the command was
/// sent (safe to retry once on a fresh connection), `Final` otherwise.
enum RunFailure {
    Stale(ExecError),
    Final(ExecError),
}

enum Collect {
    TooLarge,
}

async fn collect(
    channel: &mut russh::Channel<client::Msg>,
    max: usize,
) -> Result<CommandOutput, Collect> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut exit_status = None;
    let mut exit_signal = None;
    // The channel yields data, then the exit status, then EOF/close; reading until it ends
    // keeps output that arrives after the exit status.
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                if stdout.len() + data.len() > max {
                    return Err(Collect::TooLarge);
                }
                stdout.extend_from_slice(&data);
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                if stderr.len() + data.len() > max {
                    return Err(Collect::TooLarge);
                }
                stderr.extend_from_slice(&data);
            }
            ChannelMsg::ExitStatus { exit_status: s } => exit_status = Some(s),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                exit_signal = Some(sig_name(&signal_name))
            }
            _ => {}
        }
    }
    Ok(CommandOutput {
        exit_status,
        exit_signal,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Seconds the node's own `timeout` allows beyond the executor's limit: the executor reports
/// the timeout first, the node kills the command just after.
const REMOTE_TIMEOUT_GRACE_SECS: u64 = 2;

/// The words sent to the node: `[timeout -k 5 Ns] [sudo -n --] argv…`. `timeout` stays
/// outside `sudo`: the nodes' sudoers rule allows the gluster CLI only (bootstrap's
/// `NOPASSWD: /usr/sbin/gluster`), and sudo relays timeout's TERM to the command.
fn remote_words(config: &SshConfig, argv: &[String], limit: Duration) -> Vec<String> {
    let mut words: Vec<String> = Vec::with_capacity(argv.len() + 7);
    if config.remote_timeout {
        let secs =
            limit.as_secs() + u64::from(limit.subsec_nanos() > 0) + REMOTE_TIMEOUT_GRACE_SECS;
        words.extend([
            "timeout".to_string(),
            "-k".to_string(),
            "5".to_string(),
            format!("{secs}s"),
        ]);
    }
    if config.sudo {
        words.extend(["sudo", "-n", "--"].map(String::from));
    }
    words.extend(argv.iter().cloned());
    words
}

fn sig_name(sig: &Sig) -> String {
    match sig {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

fn session_error(node: &NodeEndpoint, e: russh::Error) -> ExecError {
    ExecError::Session {
        node: node.name.clone(),
        reason: e.to_string(),
    }
}

impl NodeExecutor for SshExecutor {
    fn run<'a>(
        &'a self,
        node: &'a NodeEndpoint,
        argv: &'a [String],
        limit: Duration,
    ) -> ExecFuture<'a> {
        Box::pin(async move {
            let words = remote_words(&self.config, argv, limit);
            let line = render_command(&words).map_err(|reason| ExecError::InvalidCommand {
                node: node.name.clone(),
                reason,
            })?;
            // One deadline for the whole command, reconnect included.
            let deadline = Instant::now() + limit;
            debug!(node = %node.name, command = %line, "running");
            let mut retried = false;
            loop {
                let conn = timeout_at(deadline, self.connection(node))
                    .await
                    .map_err(|_| ExecError::Timeout {
                        node: node.name.clone(),
                        phase: TimeoutPhase::Command,
                        after: limit,
                    })??;
                match self.run_once(&conn, node, &line, deadline, limit).await {
                    Ok(output) => {
                        debug!(node = %node.name, command = %line,
                            status = ?output.exit_status, "finished");
                        return Ok(output);
                    }
                    Err(RunFailure::Stale(e)) if !retried => {
                        debug!(node = %node.name, error = %e, "reused connection is gone; reconnecting");
                        self.forget(node);
                        retried = true;
                    }
                    Err(RunFailure::Stale(e)) | Err(RunFailure::Final(e)) => {
                        if matches!(e, ExecError::Session { .. }) {
                            self.forget(node);
                        }
                        return Err(e);
                    }
                }
            }
        })
    }
}

/// The russh handler: accepts exactly the pinned host key and remembers the fingerprint of any
/// other key so that the error can name it.
struct PinnedKeyCheck {
    pinned: PinnedHostKey,
    presented: Arc<Mutex<Option<String>>>,
}

impl client::Handler for PinnedKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let seen = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                if self.pinned.matches(key) {
                    return Ok(true);
                }
                fingerprint_of(key)
            }
            // Host certificates are not part of this design: only the pinned key counts.
            PublicKeyOrCertificate::Certificate(_) => format!(
                "a host certificate for key {}",
                fingerprint_of(&server_key.public_key())
            ),
        };
        *self
            .presented
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(seen);
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_text() -> String {
        use russh::keys::PrivateKey;
        use russh::keys::ssh_key::{LineEnding, private::Ed25519Keypair};
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&[3; 32]));
        key.to_openssh(LineEnding::LF).unwrap().to_string()
    }

    fn config() -> SshConfig {
        SshConfig::new(
            "gluster-operator",
            OperatorKey::from_openssh(&key_text()).unwrap(),
        )
    }

    #[test]
    fn remote_words_bound_the_command_on_the_node() {
        let argv = vec!["gluster".to_string(), "pool".into(), "list".into()];
        let mut c = config();
        assert_eq!(
            remote_words(&c, &argv, Duration::from_millis(1500)),
            ["timeout", "-k", "5", "4s", "gluster", "pool", "list"]
        );
        c.sudo = true;
        assert_eq!(
            remote_words(&c, &argv, Duration::from_secs(60)),
            [
                "timeout", "-k", "5", "62s", "sudo", "-n", "--", "gluster", "pool", "list"
            ]
        );
        c.remote_timeout = false;
        assert_eq!(
            remote_words(&c, &argv, Duration::from_secs(60)),
            ["sudo", "-n", "--", "gluster", "pool", "list"]
        );
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let c = config();
        let shown = format!("{:?}", SshExecutor::new(c.clone()));
        assert!(
            shown.contains("gluster-operator") && shown.contains("SHA256:"),
            "{shown}"
        );
        for line in key_text()
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with("-----"))
        {
            assert!(!shown.contains(line), "{shown}");
        }
    }
}

//! The node executor: runs one argument vector on a node, with a timeout, and keeps the exit
//! status, stdout and stderr so that conditions can quote them.
//!
//! The trait is the seam between the controller and the nodes: the SSH implementation
//! ([`super::ssh::SshExecutor`]) is the real one; tests may run commands locally.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::keys::PinnedHostKey;

/// The future returned by [`NodeExecutor::run`], boxed so that the trait stays object safe
/// (`Arc<dyn NodeExecutor>` works).
pub type ExecFuture<'a> =
    Pin<Box<dyn Future<Output = Result<CommandOutput, ExecError>> + Send + 'a>>;

/// Runs argument vectors on nodes.
pub trait NodeExecutor: Send + Sync {
    /// Runs `argv` on `node` and waits at most `timeout` for it to finish.
    ///
    /// A command that ran returns `Ok` whatever its exit status (gluster's CLI exits 0 on some
    /// failures and non-zero on others; the caller decides); use [`CommandOutput::check`] to
    /// turn a non-zero exit into [`ExecError::NonZeroExit`].
    fn run<'a>(
        &'a self,
        node: &'a NodeEndpoint,
        argv: &'a [String],
        timeout: Duration,
    ) -> ExecFuture<'a>;
}

impl<T: NodeExecutor + ?Sized> NodeExecutor for Arc<T> {
    fn run<'a>(
        &'a self,
        node: &'a NodeEndpoint,
        argv: &'a [String],
        timeout: Duration,
    ) -> ExecFuture<'a> {
        (**self).run(node, argv, timeout)
    }
}

impl<T: NodeExecutor + ?Sized> NodeExecutor for &T {
    fn run<'a>(
        &'a self,
        node: &'a NodeEndpoint,
        argv: &'a [String],
        timeout: Duration,
    ) -> ExecFuture<'a> {
        (**self).run(node, argv, timeout)
    }
}

/// How to reach one node: its name (for errors and logs), address, SSH port and the host key
/// it must present.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// The node's name as the operator knows it (e.g. `mycluster-a-0`).
    pub name: String,
    /// IP address or DNS name.
    pub address: String,
    /// SSH port (22 on real nodes).
    pub port: u16,
    /// The host key the operator generated for this node and pinned.
    pub host_key: PinnedHostKey,
}

impl NodeEndpoint {
    /// A node reached on `address:port` that must present `host_key`.
    pub fn new(
        name: impl Into<String>,
        address: impl Into<String>,
        port: u16,
        host_key: PinnedHostKey,
    ) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            port,
            host_key,
        }
    }
}

impl fmt::Debug for NodeEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeEndpoint")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("host_key", &self.host_key.fingerprint())
            .finish()
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// The exit status, when the command exited (none when it was killed by a signal).
    pub exit_status: Option<u32>,
    /// The signal that ended the command, when one did (e.g. `KILL`).
    pub exit_signal: Option<String>,
    /// Standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Standard error (invalid UTF-8 replaced).
    pub stderr: String,
}

impl CommandOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }

    /// `Ok(self)` when the command exited 0, else [`ExecError::NonZeroExit`] with its stderr.
    pub fn check(self, node: &str, argv: &[String]) -> Result<Self, ExecError> {
        if self.success() {
            return Ok(self);
        }
        Err(ExecError::NonZeroExit(Box::new(CommandFailure {
            node: node.to_string(),
            command: display_command(argv),
            exit: ExitDescription {
                status: self.exit_status,
                signal: self.exit_signal,
            },
            stdout: self.stdout,
            stderr: self.stderr,
        })))
    }
}

/// How a command ended, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitDescription {
    /// Exit status, if it exited.
    pub status: Option<u32>,
    /// Signal name, if it was killed.
    pub signal: Option<String>,
}

impl fmt::Display for ExitDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.signal) {
            (Some(s), _) => write!(f, "status {s}"),
            (None, Some(sig)) => write!(f, "signal {sig}"),
            (None, None) => write!(f, "no exit status"),
        }
    }
}

/// A command that ran and exited non-zero, with what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// Node name.
    pub node: String,
    /// The command as run (quoted).
    pub command: String,
    /// How it ended.
    pub exit: ExitDescription,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Which part of a remote call ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// TCP connect, SSH handshake and authentication.
    Connect,
    /// The command itself (channel open, exec, output, exit).
    Command,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::Command => "the command",
        })
    }
}

/// Why a command could not be run or did not succeed. Every variant names the node; none
/// carries key material (host keys appear as fingerprints only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The argument vector cannot be sent (empty, or an argument with a NUL byte).
    #[error("node {node}: invalid command: {reason}")]
    InvalidCommand {
        /// Node name.
        node: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TCP connection or the SSH handshake failed.
    #[error("node {node}: cannot connect to {address}: {reason}")]
    Connect {
        /// Node name.
        node: String,
        /// `address:port`.
        address: String,
        /// The underlying error.
        reason: String,
    },
    /// The server refused the operator's key for this user.
    #[error("node {node}: SSH authentication as {user} with key {key_fingerprint} was refused")]
    Auth {
        /// Node name.
        node: String,
        /// The remote user.
        user: String,
        /// Fingerprint of the operator's public key.
        key_fingerprint: String,
    },
    /// The server presented a host key other than the pinned one.
    #[error(
        "node {node}: host key mismatch: expected {expected}, the server presented {presented}; \
         refusing to connect"
    )]
    HostKeyMismatch {
        /// Node name.
        node: String,
        /// Fingerprint of the pinned key.
        expected: String,
        /// Fingerprint of the presented key, or what the server offered instead.
        presented: String,
    },
    /// Connecting or running took longer than allowed.
    #[error("node {node}: {phase} timed out after {after:?}")]
    Timeout {
        /// Node name.
        node: String,
        /// What timed out.
        phase: TimeoutPhase,
        /// The limit.
        after: Duration,
    },
    /// The command ran and failed.
    #[error(
        "node {}: `{}` exited with {}: {}",
        .0.node,
        .0.command,
        .0.exit,
        excerpt(&.0.stderr)
    )]
    NonZeroExit(Box<CommandFailure>),
    /// The command printed more than the executor keeps.
    #[error("node {node}: output of `{command}` exceeds {limit} bytes")]
    OutputTooLarge {
        /// Node name.
        node: String,
        /// The command as run (quoted).
        command: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The SSH session failed after connecting (channel refused, connection lost…).
    #[error("node {node}: SSH session failed: {reason}")]
    Session {
        /// Node name.
        node: String,
        /// The underlying error.
        reason: String,
    },
}

impl ExecError {
    /// The node the error is about.
    pub fn node(&self) -> &str {
        match self {
            ExecError::InvalidCommand { node, .. }
            | ExecError::Connect { node, .. }
            | ExecError::Auth { node, .. }
            | ExecError::HostKeyMismatch { node, .. }
            | ExecError::Timeout { node, .. }
            | ExecError::OutputTooLarge { node, .. }
            | ExecError::Session { node, .. } => node,
            ExecError::NonZeroExit(failure) => &failure.node,
        }
    }

    /// Whether trying again later may help (network trouble, a node still booting). A wrong
    /// host key, a refused key or a bad command will not fix themselves.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ExecError::Connect { .. } | ExecError::Timeout { .. } | ExecError::Session { .. }
        )
    }

    /// A short machine-readable reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            ExecError::InvalidCommand { .. } => "InvalidCommand",
            ExecError::Connect { .. } => "ConnectFailed",
            ExecError::Auth { .. } => "AuthRefused",
            ExecError::HostKeyMismatch { .. } => "HostKeyMismatch",
            ExecError::Timeout { .. } => "Timeout",
            ExecError::NonZeroExit(_) => "CommandFailed",
            ExecError::OutputTooLarge { .. } => "OutputTooLarge",
            ExecError::Session { .. } => "SessionFailed",
        }
    }
}

/// The last part of a long text, for messages (conditions must stay small).
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 2000;
    let text = text.trim();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut start = text.len() - MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

/// Quotes an argument vector into one POSIX shell command line: every argument becomes exactly
/// one word for the remote shell, whatever characters it holds (`$`, quotes, `;`, newlines…).
///
/// Refuses an empty vector and arguments containing NUL, which no shell word can carry.
pub fn render_command(argv: &[String]) -> Result<String, String> {
    if argv.is_empty() {
        return Err("empty argument vector".into());
    }
    if let Some(i) = argv.iter().position(|a| a.contains('\0')) {
        return Err(format!("argument {i} contains a NUL byte"));
    }
    Ok(shell_words::join(argv))
}

/// The command for messages: quoted when possible, the raw words otherwise.
pub(crate) fn display_command(argv: &[String]) -> String {
    render_command(argv).unwrap_or_else(|_| argv.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hostile_arguments_stay_single_words() {
        let hostile = v(&[
            "printf",
            "%s\\n",
            "$(touch /tmp/pwned)",
            "`id`",
            "a; rm -rf /",
            "it's",
            "\"double\"",
            "two\nlines",
            "",
            "*",
            "--",
            "-rf",
            "tab\there",
            "back\\slash",
            "ünïcødé",
            "&& || | > < >> 2>&1",
            "${HOME}",
            "~",
            "#comment",
        ]);
        let line = render_command(&hostile).unwrap();
        // shell-words' own parser (POSIX rules) gives back exactly the vector.
        assert_eq!(shell_words::split(&line).unwrap(), hostile);
    }

    #[test]
    fn plain_words_are_left_readable() {
        let line = render_command(&v(&["gluster", "--xml", "volume", "info", "gv0"])).unwrap();
        assert_eq!(line, "gluster --xml volume info gv0");
        // `=` is quoted (harmless, and conservative).
        let line = render_command(&v(&["gluster", "--mode=script"])).unwrap();
        assert_eq!(line, "gluster '--mode=script'");
    }

    #[test]
    fn empty_and_nul_are_refused() {
        assert!(render_command(&[]).is_err());
        let e = render_command(&v(&["echo", "a\0b"])).unwrap_err();
        assert!(e.contains("argument 1"), "{e}");
    }

    #[test]
    fn check_turns_a_failure_into_an_error_with_stderr() {
        let out = CommandOutput {
            exit_status: Some(2),
            exit_signal: None,
            stdout: String::new(),
            stderr: "volume start: v: failed: Volume v does not exist\n".into(),
        };
        let e = out
            .check("n1", &v(&["gluster", "volume", "start", "v"]))
            .unwrap_err();
        assert_eq!(e.reason(), "CommandFailed");
        assert_eq!(e.node(), "n1");
        let msg = e.to_string();
        assert!(msg.contains("exited with status 2"), "{msg}");
        assert!(msg.contains("Volume v does not exist"), "{msg}");
        assert!(!e.is_transient());
    }

    #[test]
    fn excerpt_keeps_the_tail_of_long_text() {
        let long = format!("{}END", "é".repeat(3000));
        let e = excerpt(&long);
        assert!(e.ends_with("END"));
        assert!(e.len() < 2100);
    }
}

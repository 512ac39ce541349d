//! How the operator drives gluster on a node (`docs/design.md`, "Node bootstrap and control"): a
//! [`NodeExecutor`] runs argument vectors on a node — over SSH in production ([`SshExecutor`]: the
//! cluster's own key pair, the node's pinned host key, timeouts everywhere) — the [`cli`] module
//! builds gluster command lines (`--mode=script --xml`, an optional custom glusterd socket), and
//! [`xml`] parses what gluster answers into typed values or a typed refusal carrying gluster's own
//! message. [`GlusterClient`] puts the three together.
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod exec;
pub mod keys;
pub mod ssh;
pub mod xml;

pub use cli::{BrickRef, CliError, GlusterCli, VolumeName};
pub use client::{GlusterClient, GlusterError, GlusterReply};
pub use exec::{
    CommandFailure, CommandOutput, ExecError, ExecFuture, ExitDescription, NodeEndpoint,
    NodeExecutor, TimeoutPhase, render_command,
};
pub use keys::{KeyError, OperatorKey, PinnedHostKey};
pub use ssh::{SshConfig, SshExecutor};

/// glusterd's management port (TCP): the one place it is written; the security group opens it
/// and the controller probes it.
pub const GLUSTERD_PORT: u16 = 24007;

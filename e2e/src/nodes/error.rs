//! The one error type of the loopback nodes. Every variant names what it was about (a field of
//! the [`super::NodeSpec`], a key of the user-data, a command); none carries key material: the
//! user-data is never quoted, and command output comes from commands that print no keys.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while starting or stopping loopback nodes.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A field of the [`super::NodeSpec`] (or of [`super::NodesConfig`]) is malformed.
    #[error("{field}: {reason}")]
    InvalidSpec {
        /// The field at fault, e.g. `address`.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The user-data is not what a loopback node can boot.
    #[error("user_data {key}: {reason}")]
    UserData {
        /// Where in the `#cloud-config` document, e.g. `ssh_keys.ed25519_private` or `runcmd[1]`.
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// This machine lacks something the nodes need (root, a program).
    #[error("loopback nodes need {0}")]
    Requirement(String),
    /// A file-system operation failed.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The path it was done to.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A program could not be run, or it failed.
    #[error("{what}: `{command}` {outcome}")]
    Command {
        /// What the command was for.
        what: String,
        /// The command line.
        command: String,
        /// How it ended and the end of what it printed.
        outcome: String,
    },
    /// A daemon did not come up in time.
    #[error("node {node}: {what} not ready after {waited:?}: {detail}")]
    NotReady {
        /// The node's server ID.
        node: String,
        /// What was awaited, e.g. `glusterd on 127.100.0.1:24007`.
        what: String,
        /// How long it was awaited.
        waited: Duration,
        /// The last failure seen.
        detail: String,
    },
    /// The server already has a running node.
    #[error("server {0} already has a running loopback node")]
    AlreadyRunning(String),
    /// Another node (or another program) holds the address.
    #[error("address {address}: {reason}")]
    AddressInUse {
        /// The address.
        address: Ipv4Addr,
        /// Who holds it.
        reason: String,
    },
    /// A volume is attached to another running node (Cinder attaches a volume to one server).
    #[error("volume {volume_id} is attached to the running node of server {server_id}")]
    VolumeInUse {
        /// The Cinder volume ID.
        volume_id: String,
        /// The server whose node holds it.
        server_id: String,
    },
    /// The volume is not attached to the server's node.
    #[error("volume {volume_id} is not attached to the node of server {server_id}")]
    VolumeNotAttached {
        /// The Cinder volume ID.
        volume_id: String,
        /// The server.
        server_id: String,
    },
    /// No running node has this server ID.
    #[error("no running loopback node for server {0}")]
    NotFound(String),
    /// The manager was shut down.
    #[error("the loopback nodes are shut down")]
    ShutDown,
    /// Stopping left something behind; each entry says what.
    #[error("stopping node {server_id}: {}", Problems(.problems))]
    Stop {
        /// The node's server ID.
        server_id: String,
        /// What could not be cleaned up.
        problems: Vec<String>,
    },
}

struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl NodeError {
    pub(crate) fn io(
        what: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let (what, path) = (what.into(), path.into());
        move |source| Self::Io { what, path, source }
    }

    pub(crate) fn user_data(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::UserData {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

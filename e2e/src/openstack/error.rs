//! The simulator's own errors (configuration, start-up). Errors the simulated services return to
//! their clients are HTTP responses, see `api::error`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the simulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A configuration value is unusable; `field` names it (e.g. `networks[0].subnet.cidr`).
    #[error("invalid simulator configuration: {field}: {reason}")]
    Config {
        /// Path of the offending field in the configuration.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid YAML/JSON for [`crate::openstack::SimConfig`].
    #[error("cannot parse configuration file {path}: {source}")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The parser's error (it names the line and the field).
        source: serde_yaml::Error,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl SimError {
    /// A [`SimError::Config`] for `field`.
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SimError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

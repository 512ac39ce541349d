//! Gluster TLS (`docs/design.md`, "Gluster TLS"): the per-cluster CA, the node and client
//! certificates it signs, where they are kept and when they are renewed.
//!
//! - [`issue`]: a CA, and node and client certificates signed by it (rcgen, ECDSA P-256).
//! - [`store`]: [`ClusterTls`], the material of one cluster as the data of its Secrets (read
//!   back every pass, never re-issued because the operator restarted), and the three files a
//!   node or a client reads (`glusterfs.pem`, `glusterfs.key`, `glusterfs.ca`).
//! - [`renew`]: the pure rules that say when a certificate is renewed and which CAs the bundle
//!   holds during a CA rollover.
//!
//! Private keys never reach `Debug`, logs, events, status or errors.

pub mod issue;
pub mod renew;
pub mod store;

pub use issue::{CertificateAuthority, Issued, Subject};
pub use renew::{CaRollover, CertWindow, Renewal, ca_rollover, leaf_renewal};
pub use store::{ClusterTls, TlsFiles, TlsMode, tls_mode};

/// Where gluster (Debian's 10.3 and every build whose OpenSSL directory is `/usr/lib/ssl`)
/// reads its own certificate.
pub const OWN_CERT_PATH: &str = "/usr/lib/ssl/glusterfs.pem";
/// Where gluster reads its private key.
pub const PRIVATE_KEY_PATH: &str = "/usr/lib/ssl/glusterfs.key";
/// Where gluster reads the CAs it trusts.
pub const CA_PATH: &str = "/usr/lib/ssl/glusterfs.ca";
/// The file whose presence turns on TLS for glusterd's management connections (read at start
/// by glusterd, the bricks, the CLI and the FUSE client).
pub const SECURE_ACCESS_PATH: &str = "/var/lib/glusterd/secure-access";

/// Errors of issuing or reading certificates. None carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused to generate a key or a certificate.
    #[error("issuing {what}: {reason}")]
    Issue {
        /// What was being issued (e.g. `the certificate of node demo-a-0`).
        what: String,
        /// rcgen's words (never key material).
        reason: String,
    },
    /// Stored material is missing or unreadable.
    #[error("Secret {secret}, key {key}: {reason}")]
    Stored {
        /// The Secret.
        secret: String,
        /// The data key at fault.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

//! [`ReconcileError`]: what stops one reconcile. Each error carries a stable reason (a condition
//! reason and a metric label) and, for the cloud, the cloud's own message.

use crate::bootstrap::{BootstrapError, KeyError};
use crate::cloud::CloudError;
use crate::plan::PlanError;

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API failed (read, patch, create).
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The cloud refused or failed a call.
    #[error("cloud: {0}")]
    Cloud(#[from] CloudError),
    /// The Secret named by `spec.cloud.secretName` is missing or has no `clouds.yaml`.
    #[error("spec.cloud.secretName: {0}")]
    CloudSecret(String),
    /// The SSH key Secret holds something unusable.
    #[error("SSH keys: {0}")]
    Keys(#[from] KeyError),
    /// The TLS Secret holds something unusable, or a certificate could not be issued.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A node's user-data could not be rendered.
    #[error("user-data: {0}")]
    Bootstrap(#[from] BootstrapError),
    /// Gluster on a node failed or refused (gluster's own message kept).
    #[error("gluster: {0}")]
    Gluster(#[from] crate::gluster::GlusterError),
    /// A key could not be used for SSH.
    #[error("SSH key: {0}")]
    SshKey(#[from] crate::gluster::KeyError),
    /// The planner refused the spec.
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// The object is not a well-formed GlusterCluster (it failed to deserialize).
    #[error("malformed GlusterCluster: {0}")]
    Malformed(String),
    /// The object lacks something the API server always sets (name, namespace, UID).
    #[error("object without {0}")]
    MissingMetadata(&'static str),
    /// The image's distribution family (how to install gluster) cannot be told from its name.
    #[error(
        "spec.image: cannot tell the distribution family of image {0:?} (expected a Debian/Ubuntu or an EL name)"
    )]
    UnknownDistro(String),
    /// A node has no host key in the key Secret (an invariant of the key step).
    #[error("no host key for node {0}")]
    MissingHostKey(String),
    /// The finalizer machinery failed (adding or removing it).
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// This replica lost its leader Lease (or its renew deadline passed) before a write: the
    /// pass stops; the new leader carries on.
    #[error("this replica no longer leads: nothing more is written")]
    NotLeading,
    /// A Secret the operator would keep (the SSH keys, `<name>-ssh`) exists without the
    /// cluster's ownerReference: someone else's, left untouched.
    #[error(
        "Secret {name} exists but is not owned by {owner}; the operator neither reads nor changes it: delete or rename it, or rename the cluster"
    )]
    SecretNotOwned {
        /// The Secret's name.
        name: String,
        /// The cluster (`GlusterCluster <name>`).
        owner: String,
    },
    /// A data migration (rebalance, remove-brick) failed or was stopped: the operator goes no
    /// further (nothing is committed) until someone looks.
    #[error("{what} on volume {volume}: {detail}")]
    MigrationFailed {
        /// `rebalance` or `remove-brick`.
        what: &'static str,
        /// The volume.
        volume: String,
        /// Where it failed, and what to run to retry.
        detail: String,
    },
}

impl ReconcileError {
    /// The message for a condition: the error, with the cloud's own words where the error
    /// carries them and does not already show them.
    pub fn condition_message(&self) -> String {
        let text = self.to_string();
        match self {
            ReconcileError::Cloud(e) => match e.cloud_message() {
                Some(m) if !text.contains(m) => format!("{text}: {m}"),
                _ => text,
            },
            _ => text,
        }
    }

    /// A stable CamelCase reason: the condition reason and the `reason` label of the error
    /// metric.
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Kube(_) => "KubernetesApiError",
            ReconcileError::Cloud(e) => e.reason(),
            ReconcileError::CloudSecret(_) => "CloudSecretInvalid",
            ReconcileError::Keys(_) => "SshKeysInvalid",
            ReconcileError::Bootstrap(_) => "UserDataInvalid",
            ReconcileError::Tls(_) => "TlsMaterialInvalid",
            ReconcileError::Plan(e) => e.reason(),
            ReconcileError::Gluster(e) => e.reason(),
            ReconcileError::SshKey(_) => "SshKeysInvalid",
            ReconcileError::Malformed(_) => "MalformedObject",
            ReconcileError::MissingMetadata(_) => "MissingMetadata",
            ReconcileError::Finalizer(_) => "FinalizerError",
            ReconcileError::UnknownDistro(_) => "UnknownImageDistribution",
            ReconcileError::MissingHostKey(_) => "MissingHostKey",
            ReconcileError::MigrationFailed { .. } => "MigrationFailed",
            ReconcileError::SecretNotOwned { .. } => "SecretNotOwned",
            ReconcileError::NotLeading => "NotLeading",
        }
    }

    /// Whether retrying without a change (to the spec, a Secret or the cloud's quota) can help.
    /// Terminal errors make the cluster `Stalled`.
    pub fn is_terminal(&self) -> bool {
        match self {
            ReconcileError::Kube(_)
            | ReconcileError::Finalizer(_)
            | ReconcileError::MissingHostKey(_)
            | ReconcileError::Gluster(_)
            | ReconcileError::NotLeading => false,
            ReconcileError::Cloud(e) => !e.is_retryable(),
            ReconcileError::CloudSecret(_)
            | ReconcileError::Keys(_)
            | ReconcileError::Tls(_)
            | ReconcileError::SshKey(_)
            | ReconcileError::Bootstrap(_)
            | ReconcileError::Plan(_)
            | ReconcileError::Malformed(_)
            | ReconcileError::MissingMetadata(_)
            | ReconcileError::UnknownDistro(_)
            | ReconcileError::MigrationFailed { .. }
            | ReconcileError::SecretNotOwned { .. } => true,
        }
    }
}

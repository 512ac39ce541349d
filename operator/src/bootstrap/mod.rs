//! Node bootstrap (`docs/design.md`, "Node bootstrap and control"), pure rendering: each node's
//! `#cloud-config` user-data, the brick script it runs, and the SSH keys that let the operator in
//! (and let it pin the node).
//!
//! - [`render_user_data`] turns a [`NodeBootstrap`] into [`UserData`] (within Nova's limit).
//! - [`BRICK_SCRIPT`] is the POSIX sh script every node (and every e2e loopback node) runs to
//!   prepare its brick; [`BrickScriptParams`] are its arguments.
//! - [`SshKeyPair`] generates and holds ed25519 keys without ever showing private material.
//! - [`render_preview`] renders a node of a manifest for `gluster-operator render-user-data`.

mod cloud_config;
mod keys;
pub mod merge;
mod preview;
mod script;
#[cfg(test)]
mod tls_tests;

pub use cloud_config::{
    APT_PIN_PATH, BootstrapError, DEFAULT_EL_REPOSITORY, DistroFamily, GLUSTER_CLI,
    NOVA_USER_DATA_LIMIT, NodeBootstrap, OPERATOR_USER, UserData, brick_mount_path,
    render_user_data,
};
pub use keys::{AuthorizedKey, KeyError, SshKeyPair};
pub use preview::{Preview, PreviewError, PreviewRequest, render_preview, select_node};
pub use script::{
    BRICK_LOG_PATH, BRICK_SCRIPT, BRICK_SCRIPT_PATH, BrickDevice, BrickScriptParams,
    DEFAULT_DEVICE_WAIT_SECONDS, GLUSTERD_DIR,
};

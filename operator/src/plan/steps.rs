//! The steps a plan takes, in order. Each gluster step carries the exact command and the node it
//! runs on; wait steps carry the command to poll and say what completion looks like.

use super::command::Command;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Cloud side: create the node's server (and its Cinder brick volume where the zone uses one)
    /// and wait until its bootstrap has finished (brick mounted, glusterd running). Steps of this
    /// kind are independent of each other and may run concurrently.
    CreateNode {
        /// The node.
        node: String,
    },
    /// Add `peer` to the trusted pool.
    ProbePeer {
        /// The pool member that runs the command.
        on: String,
        /// The node joining.
        peer: String,
        /// `gluster peer probe HOST`.
        command: Command,
    },
    /// Poll until every node of `peers` shows `Connected` in `pool list`.
    WaitPeersConnected {
        /// The node that runs the command.
        on: String,
        /// The nodes that must be connected.
        peers: Vec<String>,
        /// `gluster pool list`.
        command: Command,
    },
    /// Create the volume.
    CreateVolume {
        /// The node that runs the command.
        on: String,
        /// `gluster volume create …`.
        command: Command,
    },
    /// Set one volume option.
    SetOption {
        /// The node that runs the command.
        on: String,
        /// The option name.
        key: String,
        /// `gluster volume set VOL KEY VALUE`.
        command: Command,
    },
    /// Start the volume.
    StartVolume {
        /// The node that runs the command.
        on: String,
        /// `gluster volume start VOL`.
        command: Command,
    },
    /// Add bricks: one brick with a higher replica count, or whole new sets.
    AddBricks {
        /// The node that runs the command.
        on: String,
        /// The nodes whose bricks are added, in order.
        bricks: Vec<String>,
        /// The replica count after the step when it raises it (pure replicate growth).
        replica: Option<u32>,
        /// `gluster volume add-brick …`.
        command: Command,
    },
    /// Start a full self-heal crawl (after a replica count increase the new brick is empty).
    HealFull {
        /// The node that runs the command.
        on: String,
        /// `gluster volume heal VOL full`.
        command: Command,
    },
    /// Poll until heal info shows no entry pending on any brick.
    WaitHealed {
        /// The node that runs the command.
        on: String,
        /// `gluster volume heal VOL info summary`.
        command: Command,
    },
    /// Start moving data onto newly added sets.
    RebalanceStart {
        /// The node that runs the command.
        on: String,
        /// `gluster volume rebalance VOL start`.
        command: Command,
    },
    /// Poll until the rebalance is `completed` on every node; a `failed` status stops the plan.
    WaitRebalance {
        /// The node that runs the command.
        on: String,
        /// `gluster volume rebalance VOL status`.
        command: Command,
    },
    /// Start migrating data off whole sets that are being removed.
    RemoveBricksStart {
        /// The node that runs the command.
        on: String,
        /// The nodes whose bricks are removed.
        bricks: Vec<String>,
        /// `gluster volume remove-brick VOL BRICKS… start`.
        command: Command,
    },
    /// Poll until the migration is `completed` on every node; a `failed` status stops the plan
    /// (the bricks stay; nothing is committed).
    WaitRemoveBricks {
        /// The node that runs the command.
        on: String,
        /// The nodes whose bricks are being removed.
        bricks: Vec<String>,
        /// `gluster volume remove-brick VOL BRICKS… status`.
        command: Command,
    },
    /// Commit the removal once the migration completed.
    RemoveBricksCommit {
        /// The node that runs the command.
        on: String,
        /// The nodes whose bricks are removed.
        bricks: Vec<String>,
        /// `gluster volume remove-brick VOL BRICKS… commit`.
        command: Command,
    },
    /// Lower the replica count of a pure replicate volume by one brick (only after WaitHealed).
    RemoveReplicaBrick {
        /// The node that runs the command.
        on: String,
        /// The node whose brick is removed.
        brick: String,
        /// The replica count after the step.
        replica: u32,
        /// `gluster volume remove-brick VOL replica R BRICK force`.
        command: Command,
    },
    /// Remove `peer` from the trusted pool. A peer that is not in the pool counts as done.
    DetachPeer {
        /// The pool member that runs the command.
        on: String,
        /// The node leaving.
        peer: String,
        /// `gluster peer detach HOST`.
        command: Command,
    },
    /// Cloud side: delete the node's server; its brick volume follows `spec.deletionPolicy`.
    DeleteNode {
        /// The node.
        node: String,
    },
}

impl Step {
    /// The gluster command of this step, if it runs one.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Step::CreateNode { .. } | Step::DeleteNode { .. } => None,
            Step::ProbePeer { command, .. }
            | Step::WaitPeersConnected { command, .. }
            | Step::CreateVolume { command, .. }
            | Step::SetOption { command, .. }
            | Step::StartVolume { command, .. }
            | Step::AddBricks { command, .. }
            | Step::HealFull { command, .. }
            | Step::WaitHealed { command, .. }
            | Step::RebalanceStart { command, .. }
            | Step::WaitRebalance { command, .. }
            | Step::RemoveBricksStart { command, .. }
            | Step::WaitRemoveBricks { command, .. }
            | Step::RemoveBricksCommit { command, .. }
            | Step::RemoveReplicaBrick { command, .. }
            | Step::DetachPeer { command, .. } => Some(command),
        }
    }

    /// The node that runs the command, if the step runs one.
    pub fn on(&self) -> Option<&str> {
        match self {
            Step::CreateNode { .. } | Step::DeleteNode { .. } => None,
            Step::ProbePeer { on, .. }
            | Step::WaitPeersConnected { on, .. }
            | Step::CreateVolume { on, .. }
            | Step::SetOption { on, .. }
            | Step::StartVolume { on, .. }
            | Step::AddBricks { on, .. }
            | Step::HealFull { on, .. }
            | Step::WaitHealed { on, .. }
            | Step::RebalanceStart { on, .. }
            | Step::WaitRebalance { on, .. }
            | Step::RemoveBricksStart { on, .. }
            | Step::WaitRemoveBricks { on, .. }
            | Step::RemoveBricksCommit { on, .. }
            | Step::RemoveReplicaBrick { on, .. }
            | Step::DetachPeer { on, .. } => Some(on),
        }
    }

    /// A short CamelCase name of the step kind (for logs and events).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::CreateNode { .. } => "CreateNode",
            Step::ProbePeer { .. } => "ProbePeer",
            Step::WaitPeersConnected { .. } => "WaitPeersConnected",
            Step::CreateVolume { .. } => "CreateVolume",
            Step::SetOption { .. } => "SetOption",
            Step::StartVolume { .. } => "StartVolume",
            Step::AddBricks { .. } => "AddBricks",
            Step::HealFull { .. } => "HealFull",
            Step::WaitHealed { .. } => "WaitHealed",
            Step::RebalanceStart { .. } => "RebalanceStart",
            Step::WaitRebalance { .. } => "WaitRebalance",
            Step::RemoveBricksStart { .. } => "RemoveBricksStart",
            Step::WaitRemoveBricks { .. } => "WaitRemoveBricks",
            Step::RemoveBricksCommit { .. } => "RemoveBricksCommit",
            Step::RemoveReplicaBrick { .. } => "RemoveReplicaBrick",
            Step::DetachPeer { .. } => "DetachPeer",
            Step::DeleteNode { .. } => "DeleteNode",
        }
    }

    /// What a wait step waits for, or what a cloud step does, in words.
    pub fn explanation(&self) -> Option<String> {
        match self {
            Step::CreateNode { node } => Some(format!(
                "create server {node} and its brick; wait until its bootstrap has finished"
            )),
            Step::DeleteNode { node } => Some(format!(
                "delete server {node}; its brick volume follows spec.deletionPolicy"
            )),
            Step::WaitPeersConnected { peers, .. } => {
                Some(format!("wait until {} show Connected", peers.join(", ")))
            }
            Step::WaitHealed { .. } => {
                Some("wait until no brick has entries pending heal".to_string())
            }
            Step::WaitRebalance { .. } => Some(
                "wait until the rebalance is completed on every node (failed stops here)"
                    .to_string(),
            ),
            Step::WaitRemoveBricks { .. } => Some(
                "wait until the data migration is completed (failed stops here, nothing committed)"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

//! Remarks for the human reading a plan.

use super::model::ZonePlan;
use super::planner::{Outcome, OutcomeKind};
use super::shape::{SetKind, VolumeShape};
use super::validate::Prepared;

/// Remarks for a human reader.
pub(super) fn notes(
    shape: &VolumeShape,
    prep: &Prepared,
    zones: &[ZonePlan],
    outcome: &Outcome,
    autoscaling: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(stripes) = shape.stripes {
        out.push(format!(
            "spec.volume.stripes {stripes}: GlusterFS 6 removed the stripe translator, so the \
             volume has {stripes} distribute subvolumes with features.shard on; large files are \
             cut into shards spread across them."
        ));
    }
    if shape.replica_follows_nodes {
        if shape.nodes == 1 {
            out.push(
                "One node: a plain distribute volume of one brick, without redundancy. \
                 spec.volume.replicas is unset, so each added node raises the replica count."
                    .to_string(),
            );
        } else {
            out.push(format!(
                "spec.volume.replicas is unset: every node holds every file (replica {}). A node \
                 added raises the replica count (add-brick replica {}), a node removed lowers it.",
                shape.replica,
                shape.replica + 1
            ));
        }
    } else if shape.kind == SetKind::Replica && shape.replica == 1 && shape.nodes > 1 {
        out.push(
            "Replica 1: no redundancy; losing a node loses the files on its brick.".to_string(),
        );
    }
    if shape.kind == SetKind::Replica && shape.replica == 2 {
        out.push(
            "Replica 2 can split-brain when the two bricks disagree; replicas 3 or arbiter 1 \
             avoid it."
                .to_string(),
        );
    }
    if shape.redundancy_defaulted {
        out.push(format!(
            "spec.volume.redundancy is unset: redundancy {} is gluster's default for disperse {}.",
            shape.redundancy, shape.disperse
        ));
    }
    let populated: Vec<&ZonePlan> = zones.iter().filter(|z| z.nodes > 0).collect();
    if autoscaling {
        let step = if shape.replica_follows_nodes {
            "one node at a time (the replica count follows)".to_string()
        } else {
            let spread = (shape.set_size as usize).min(populated.len());
            format!(
                "one whole {} set of {} at a time, spread over {spread} zone{}",
                shape.kind.word(),
                shape.set_size,
                if spread == 1 { "" } else { "s" }
            )
        };
        out.push(format!(
            "spec.autoscaling is enabled: the operator moves each zone between its minNodes and \
             maxNodes, {step}, with the same steps as a manual change."
        ));
    }
    if populated.len() == 1 && shape.set_size > 1 {
        out.push(format!(
            "All bricks are in zone {}: an outage of that zone stops the volume.",
            populated[0].name
        ));
    }
    let undecided: Vec<&str> = zones
        .iter()
        .filter(|z| z.storage.choice.storage().is_none())
        .map(|z| z.name.as_str())
        .collect();
    if !undecided.is_empty() {
        out.push(format!(
            "Storage of {} is decided once the cloud's block storage zones are known (the plan \
             command takes them as --block-storage-zones).",
            undecided.join(", ")
        ));
    }
    if prep.client_patterns.is_empty() {
        out.push(
            "spec.volume.allowedClients is empty: auth.allow lists only the nodes and the \
             security group admits no client; no client can mount until allowedClients names it."
                .to_string(),
        );
    } else {
        out.push(
            "auth.allow lists the allowed clients as gluster wildcards, then every node (gluster \
             checks its own servers against it too)."
                .to_string(),
        );
    }
    if let OutcomeKind::Change { added, removed } = outcome.kind
        && added == 0
        && removed == 0
    {
        out.push("The volume already matches the spec's node counts: nothing to do.".to_string());
    }
    out.push(
        "Hosts are node names here; the operator runs the commands with each node's address."
            .to_string(),
    );
    out
}

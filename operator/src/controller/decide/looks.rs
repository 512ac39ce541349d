//! What a pass looks at (pure): which cloud lists (from the last pass's observation and plan,
//! see [`pace`](super::pace)), whether an attachment is awaited through the nodes, and when
//! the cloud shows every node up so that gluster is worth asking. Observe carries this out.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cloud::{ServerStatus, VolumeStatus};
use crate::controller::observe::Observed;
use crate::controller::owner::node_of;

use super::Tuning;
use super::memory::Memory;
use super::pace::{Lists, attachments_pending, lists_needed};
use super::status::node_statuses;

/// What one pass looks at in the cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Look {
    /// Everything is listed again (new generation, resync, after an error, or too old).
    pub full: bool,
    /// The lists to take.
    pub lists: Lists,
    /// Cinder's zones are listed (once per generation).
    pub zones: bool,
    /// The attachments asked for are all that is awaited (the backoff is the bootstrap's).
    pub awaiting_attachments: bool,
    /// The nodes' addresses whose glusterd is probed before Cinder is listed: every one
    /// listening says the attachments are done (`lists.volumes` is then set).
    pub probe_attachments: Vec<String>,
}

/// What to look at, from what the last pass saw (`memory`) at `now`. Attachments requested
/// and nothing else awaited: the nodes' glusterd listening (their brick script found the
/// device) says the attachments are done; Cinder is listed then, else at intervals doubling
/// from 4 × the working cap (an attachment that failed).
pub fn look(
    memory: &Memory,
    generation: Option<i64>,
    network: &str,
    now: Instant,
    tuning: &Tuning,
) -> Look {
    let full = memory.needs_full(
        generation,
        now,
        tuning.observe_max_age,
        tuning.requeue_settled,
    );
    let same_generation = memory.generation == generation;
    let base = base(memory, generation);
    let previous_plan = memory.plan.as_ref().filter(|_| !full && same_generation);
    let mut lists = previous_plan.map_or(Lists::ALL, |p| lists_needed(&base, p));
    let awaiting_attachments =
        previous_plan.is_some_and(|p| !lists.servers && attachments_pending(&base, p));
    let cinder_due = memory.volumes_at.is_none_or(|last| {
        let waited = memory
            .attached_at
            .map(|asked| last.saturating_duration_since(asked))
            .unwrap_or_default();
        let interval = (tuning.requeue_working * 4).max(waited);
        now.saturating_duration_since(last) >= interval
    });
    let mut probe_attachments = Vec::new();
    if let Some(plan) = previous_plan.filter(|_| awaiting_attachments) {
        if cinder_due {
            lists.volumes = true;
        } else {
            probe_attachments = node_statuses(plan, &base, network)
                .into_iter()
                .map(|n| n.address.unwrap_or_default())
                .collect();
        }
    }
    Look {
        full,
        lists,
        zones: !(same_generation && memory.observed.is_some()),
        awaiting_attachments,
        probe_attachments,
    }
}

/// The observation a pass starts from: the last one of this generation, else nothing.
pub fn base(memory: &Memory, generation: Option<i64>) -> Observed {
    match (&memory.observed, memory.generation == generation) {
        (Some(o), true) => o.clone(),
        _ => Observed::default(),
    }
}

impl Look {
    /// The look once the attachment probe answered: `closed` lists the nodes whose glusterd
    /// did not accept a connection; none closed lists Cinder.
    pub fn after_probe(mut self, closed: usize) -> Look {
        if !self.probe_attachments.is_empty() && closed == 0 {
            self.lists.volumes = true;
        }
        self
    }
}

/// The nodes (name, index, address) whose server is ACTIVE and whose brick volume, if they
/// have one, is in use and attached to it, in index order — when there are at least `desired`
/// of them, else `None`: gluster is asked only once the cloud shows every node up.
pub fn nodes_up(observed: &Observed, desired: u32, network: &str) -> Option<Vec<NodeUp>> {
    let mut up: Vec<NodeUp> = Vec::new();
    for server in &observed.servers {
        let Some((name, index)) = node_of(&server.metadata) else {
            continue;
        };
        if server.status != ServerStatus::Active || up.iter().any(|n| n.name == name) {
            continue;
        }
        let attached = observed.volume(&name).is_none_or(|v| {
            v.status == VolumeStatus::InUse && server.attached_volume_ids().contains(&v.id.as_str())
        });
        if attached {
            up.push(NodeUp {
                address: server
                    .address(Some(network))
                    .or_else(|| server.address(None))
                    .map(str::to_string),
                name,
                index,
            });
        }
    }
    up.sort_by_key(|n| n.index);
    (!up.is_empty() && up.len() >= desired as usize).then_some(up)
}

/// A node the cloud shows up (see [`nodes_up`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUp {
    /// The node's name.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// Its address, when the server has one.
    pub address: Option<String>,
}

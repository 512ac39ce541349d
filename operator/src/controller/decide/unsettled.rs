//! Decide, cloud states that never settle (pure): a server that stays in BUILD, a brick volume
//! that stays creating, attaching or detaching, or one in `error`. Each is remembered from the
//! pass that first saw it in that state; past the settle timeout (at once for `error`) a
//! server that never ran and a volume that never held a brick are replaced, and what cannot
//! be replaced safely is named in a `Stalled` condition with the cloud's own words. See
//! `docs/design.md`, "Cloud states that never settle".

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::cloud::{ServerStatus, VolumeStatus};
use crate::controller::observe::Observed;
use crate::controller::owner::node_of;

use super::actions::Action;

/// The state a resource was first seen in, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The state, as the cloud wrote it.
    pub state: String,
    /// When it was first seen so.
    pub since: Instant,
}

/// What decide does about unsettled resources this pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsettled {
    /// Every resource in a transient or failed state now, by ID (the next pass's memory).
    pub seen: BTreeMap<String, Seen>,
    /// Deletions of what is safe to replace.
    pub actions: Vec<Action>,
    /// What is stuck and left for a person, one line each with the cloud's words.
    pub stuck: Vec<String>,
}

/// The transient or failed state of each server and volume of `cloud`, as the cloud wrote it.
fn states(cloud: &Observed) -> Vec<(String, String, Option<String>, Kind)> {
    let servers = cloud
        .servers
        .iter()
        .filter(|s| s.status == ServerStatus::Build)
        .map(|s| {
            (
                s.id.clone(),
                "BUILD".to_string(),
                Some(s.name.clone()),
                Kind::Server,
            )
        });
    let volumes = cloud.volumes.iter().filter_map(|v| {
        let state = match &v.status {
            VolumeStatus::Creating => "creating".to_string(),
            VolumeStatus::Attaching => "attaching".to_string(),
            VolumeStatus::Detaching => "detaching".to_string(),
            VolumeStatus::Error(s) => s.clone(),
            _ => return None,
        };
        let node = node_of(&v.metadata).map(|(n, _)| n);
        let error = matches!(v.status, VolumeStatus::Error(_));
        Some((v.id.clone(), state, node, Kind::Volume { error }))
    });
    servers.chain(volumes).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Server,
    Volume { error: bool },
}

/// The unsettled resources of `cloud`: since when each is in its state (from `remembered`
/// when the state is the same, else `now`), and what to do about those past `timeout`. A
/// server in BUILD past it never ran: deleted (the next pass creates its node again). A
/// volume in `error` that names its node, whose node has no brick in the volume
/// (`in_volume`), never held data: deleted with the node's server, whose user-data names it
/// (both are made anew). A volume in `error` that holds a brick, and volumes stuck
/// creating, attaching or detaching, are left as they are and listed in `stuck`.
pub fn unsettled(
    cloud: &Observed,
    remembered: &BTreeMap<String, Seen>,
    in_volume: &BTreeSet<String>,
    now: Instant,
    timeout: Duration,
) -> Unsettled {
    let mut out = Unsettled::default();
    for (id, state, node, kind) in states(cloud) {
        let since = remembered
            .get(&id)
            .filter(|s| s.state == state)
            .map_or(now, |s| s.since);
        out.seen.insert(
            id.clone(),
            Seen {
                state: state.clone(),
                since,
            },
        );
        let waited = now.saturating_duration_since(since);
        let error = kind == Kind::Volume { error: true };
        if !error && waited < timeout {
            continue;
        }
        let name = node.clone().unwrap_or_else(|| id.clone());
        let minutes = waited.as_secs() / 60;
        match kind {
            Kind::Server => out.actions.push(Action::DeleteFailedServer {
                name: name.clone(),
                server_id: id.clone(),
                fault: format!("stuck in BUILD for {minutes} min (never ran: replaced)"),
            }),
            // Only a volume known to be a node's brick volume, and not in the gluster volume.
            Kind::Volume { error: true } if node.is_some() && !in_volume.contains(&name) => {
                out.actions.push(Action::DeleteUnusedVolume {
                    node: name.clone(),
                    volume_id: id.clone(),
                    server_id: cloud.server(&name).map(|s| s.id.clone()),
                    state: state.clone(),
                })
            }
            Kind::Volume { error: true } => out.stuck.push(format!(
                "brick volume {id} of node {name} is in Cinder state {state:?}; it holds the \
                 node's brick, so it is not replaced: repair it in Cinder (e.g. `openstack \
                 volume set --state available` once its backend is sound)"
            )),
            Kind::Volume { error: false } => out.stuck.push(format!(
                "brick volume {id} of node {name} has been {state:?} in Cinder for {minutes} \
                 min (limit {} min); the operator waits for Cinder",
                timeout.as_secs() / 60
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(id: &str, node: &str, status: &str) -> crate::cloud::Server {
        serde_json::from_value(json!({
            "id": id, "name": node, "status": status,
            "metadata": {"gluster-operator:node": node, "gluster-operator:node-index": "0"},
        }))
        .expect("a server document")
    }

    fn volume(id: &str, node: &str, status: &str) -> crate::cloud::Volume {
        serde_json::from_value(json!({
            "id": id, "name": node, "status": status, "size": 1,
            "metadata": {"gluster-operator:node": node, "gluster-operator:node-index": "0"},
        }))
        .expect("a volume document")
    }

    fn observed(
        servers: Vec<crate::cloud::Server>,
        volumes: Vec<crate::cloud::Volume>,
    ) -> Observed {
        Observed {
            servers,
            volumes,
            ..Observed::default()
        }
    }

    const LIMIT: Duration = Duration::from_secs(900);

    #[test]
    fn transient_states_are_timed_from_when_first_seen_and_reset_by_a_change() {
        let now = Instant::now();
        let cloud = observed(
            vec![server("s1", "n1", "BUILD")],
            vec![volume("v1", "n1", "attaching")],
        );
        let first = unsettled(&cloud, &BTreeMap::new(), &BTreeSet::new(), now, LIMIT);
        assert!(first.actions.is_empty() && first.stuck.is_empty());
        assert_eq!(first.seen.len(), 2);
        // Past the limit: the server never ran (replaced), the volume waited for.
        let later = now + LIMIT + Duration::from_secs(60);
        let r = unsettled(&cloud, &first.seen, &BTreeSet::new(), later, LIMIT);
        assert!(matches!(
            r.actions.as_slice(),
            [Action::DeleteFailedServer { server_id, .. }] if server_id == "s1"
        ));
        assert_eq!(r.stuck.len(), 1);
        assert!(r.stuck[0].contains("\"attaching\"") && r.stuck[0].contains("16 min"));
        // The volume moved on to detaching: a new state, timed afresh.
        let moved = observed(vec![], vec![volume("v1", "n1", "detaching")]);
        let r = unsettled(&moved, &first.seen, &BTreeSet::new(), later, LIMIT);
        assert!(r.stuck.is_empty());
        assert_eq!(r.seen["v1"].since, later);
    }

    #[test]
    fn a_volume_in_error_is_replaced_only_when_it_never_held_a_brick() {
        let now = Instant::now();
        let cloud = observed(vec![], vec![volume("v1", "n1", "error")]);
        let r = unsettled(&cloud, &BTreeMap::new(), &BTreeSet::new(), now, LIMIT);
        assert!(matches!(
            r.actions.as_slice(),
            [Action::DeleteUnusedVolume { volume_id, server_id: None, .. }] if volume_id == "v1"
        ));
        // Its server (booted with user-data naming that volume) goes with it.
        let with_server = observed(
            vec![server("s1", "n1", "ACTIVE")],
            vec![volume("v1", "n1", "error")],
        );
        let r = unsettled(&with_server, &BTreeMap::new(), &BTreeSet::new(), now, LIMIT);
        assert!(matches!(
            r.actions.as_slice(),
            [Action::DeleteUnusedVolume { server_id: Some(s), .. }] if s == "s1"
        ));
        // Without the node it belongs to, nothing tells it held no brick: kept.
        let mut anonymous = volume("v2", "n2", "error");
        anonymous.metadata.clear();
        let r = unsettled(
            &observed(vec![], vec![anonymous]),
            &BTreeMap::new(),
            &BTreeSet::new(),
            now,
            LIMIT,
        );
        assert!(r.actions.is_empty(), "{:?}", r.actions);
        let holds = BTreeSet::from(["n1".to_string()]);
        let r = unsettled(&cloud, &BTreeMap::new(), &holds, now, LIMIT);
        assert!(r.actions.is_empty(), "{:?}", r.actions);
        assert!(
            r.stuck[0].contains("holds the node's brick"),
            "{}",
            r.stuck[0]
        );
    }

    #[test]
    fn settled_resources_are_not_remembered() {
        let cloud = observed(
            vec![server("s1", "n1", "ACTIVE")],
            vec![volume("v1", "n1", "in-use")],
        );
        let r = unsettled(
            &cloud,
            &BTreeMap::new(),
            &BTreeSet::new(),
            Instant::now(),
            LIMIT,
        );
        assert_eq!(r, Unsettled::default());
    }
}

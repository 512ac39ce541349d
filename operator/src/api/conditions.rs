//! Condition types and reasons (kstatus), and a pure helper that sets a condition the way the
//! Kubernetes API conventions ask: `lastTransitionTime` moves only when the status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The cluster's volume is started and every desired node's brick is online.
pub const READY: &str = "Ready";
/// The operator is working towards the spec (kstatus `Reconciling`).
pub const RECONCILING: &str = "Reconciling";
/// The operator cannot make progress without a change to the spec or the cloud (kstatus `Stalled`).
pub const STALLED: &str = "Stalled";

/// Something of the volume is not as it should be (a brick offline, a peer lost, entries
/// waiting for heal, split-brain, a node being replaced, capacity low). Present once the
/// volume exists: `False` with [`HEALTHY`] otherwise, so `kubectl wait
/// --for=condition=Degraded=false` works. Not a kstatus condition: a negative-polarity
/// addition beside Ready/Reconciling/Stalled.
pub const DEGRADED: &str = "Degraded";

/// `Degraded=False`: every brick online, every peer connected, nothing to heal.
pub const HEALTHY: &str = "Healthy";
/// `Degraded=True`: a brick process is not online (its node is named in the message).
pub const BRICK_OFFLINE: &str = "BrickOffline";
/// `Degraded=True`: entries wait for self-heal.
pub const HEAL_PENDING: &str = "HealPending";
/// `Degraded=True`: entries in split-brain (need a person's decision).
pub const SPLIT_BRAIN: &str = "SplitBrain";
/// `Degraded=True`: a node's glusterd is not connected to the pool.
pub const PEER_LOST: &str = "PeerLost";
/// `Degraded=True`: a lost node is being replaced (node replacement).
pub const NODE_REPLACING: &str = "NodeReplacing";
/// `Degraded=True`: a brick that held the last good copy of some files is gone; the operator
/// does not rebuild over it and waits for a person (node replacement).
pub const LAST_COPY_LOST: &str = "LastCopyLost";
/// `Stalled` reason: a server or brick volume stays in a transient or failed cloud state past
/// the settle timeout and cannot be replaced safely.
pub const CLOUD_RESOURCE_STUCK: &str = "CloudResourceStuck";
/// `Degraded=True`: a brick filesystem is fuller than the threshold.
pub const CAPACITY_LOW: &str = "CapacityLow";

/// Every reason `Degraded=True` can have.
pub const DEGRADED_REASONS: [&str; 7] = [
    BRICK_OFFLINE,
    HEAL_PENDING,
    SPLIT_BRAIN,
    PEER_LOST,
    NODE_REPLACING,
    LAST_COPY_LOST,
    CAPACITY_LOW,
];

/// Condition status `True`.
pub const TRUE: &str = "True";
/// Condition status `False`.
pub const FALSE: &str = "False";
/// Condition status `Unknown`.
pub const UNKNOWN: &str = "Unknown";

/// Set `new` in `conditions` (keyed by type). When a condition of that type already has the same
/// status, its `lastTransitionTime` is kept; reason, message and observedGeneration are updated.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let keep_time = existing.status == new.status;
            let last_transition_time = if keep_time {
                existing.last_transition_time.clone()
            } else {
                new.last_transition_time.clone()
            };
            *existing = Condition {
                last_transition_time,
                ..new
            };
        }
        None => conditions.push(new),
    }
}

/// Build a condition of `type_` with `status`, `reason` and `message`, stamped `now` and with the
/// generation it was computed from.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time: now,
    }
}

/// Find the condition of `type_`.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("valid timestamp"))
    }

    #[test]
    fn same_status_keeps_transition_time_and_updates_message() {
        let mut cs = vec![condition(
            READY,
            FALSE,
            "Creating",
            "booting",
            Some(1),
            at(10),
        )];
        set_condition(
            &mut cs,
            condition(READY, FALSE, "Joining", "probing peers", Some(2), at(20)),
        );
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].last_transition_time, at(10));
        assert_eq!(cs[0].reason, "Joining");
        assert_eq!(cs[0].message, "probing peers");
        assert_eq!(cs[0].observed_generation, Some(2));
    }

    #[test]
    fn status_change_moves_transition_time() {
        let mut cs = vec![condition(
            READY,
            FALSE,
            "Creating",
            "booting",
            Some(1),
            at(10),
        )];
        set_condition(
            &mut cs,
            condition(READY, TRUE, "VolumeStarted", "ok", Some(1), at(30)),
        );
        assert_eq!(cs[0].last_transition_time, at(30));
        assert_eq!(cs[0].status, TRUE);
    }

    #[test]
    fn new_type_is_appended() {
        let mut cs = vec![condition(
            READY,
            FALSE,
            "Creating",
            "booting",
            Some(1),
            at(10),
        )];
        set_condition(
            &mut cs,
            condition(STALLED, TRUE, "InvalidSpec", "bad", Some(1), at(11)),
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(
            find(&cs, STALLED).map(|c| c.reason.as_str()),
            Some("InvalidSpec")
        );
    }
}

//! Condition types and reasons (kstatus), and a pure helper that sets a condition the way the
//! Kubernetes API conventions ask: `lastTransitionTime` moves only when the status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The cluster's volume is started and every desired node's brick is online.
pub const READY: &str = "Ready";
/// The operator is working towards the spec (kstatus `Reconciling`).
pub const RECONCILING: &str = "Reconciling";
/// The operator cannot make progress without a change to the spec or the cloud (kstatus `Stalled`).
pub const STALLED: &str = "Stalled";

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

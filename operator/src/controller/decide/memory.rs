//! What the controller remembers of one cluster between passes ([`Memory`]): read once at the
//! start of a pass, replaced once at its end by what decide returns. Nothing else writes it.
//! Everything in it can be lost (a restart): the next pass then observes everything again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::plan::ClusterPlan;

use super::pace::Pace;
use crate::controller::observe::Observed;

/// What the controller remembers of a cluster between passes.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// The generation the rest was computed for.
    pub generation: Option<i64>,
    /// The last cloud observation (with the attachments made since noted).
    pub observed: Option<Observed>,
    /// The plan the last pass made from it (which lists the next pass needs).
    pub plan: Option<ClusterPlan>,
    /// When the last full observation was taken.
    pub full_at: Option<Instant>,
    /// The security group was ensured for this generation.
    pub security_group: bool,
    /// The backoff.
    pub pace: Option<Pace>,
    /// When the next pass is due.
    pub next_at: Option<Instant>,
    /// The last pass ended Ready (the next one is the settled resync: a full drift check).
    pub ready: bool,
    /// When this process created the servers still building.
    pub servers_created_at: Option<Instant>,
    /// When the volumes were last listed (or attachments noted).
    pub volumes_at: Option<Instant>,
    /// When attachments were last requested.
    pub attached_at: Option<Instant>,
    /// When offline bricks were last restarted (`volume start force`), at most once per
    /// error delay.
    pub restarted_at: Option<Instant>,
    /// Gluster showed something wrong that it did not show before: the next pass lists the
    /// cloud too (a server gone or in ERROR shows there).
    pub cloud_check: bool,
    /// The servers seen in ERROR (by ID): since when, and whether a hard reboot was asked.
    pub failed_servers: BTreeMap<String, FailedServer>,
    /// Nodes given a replacement server whose heal is not seen done yet: Ready waits for it.
    pub healing: std::collections::BTreeSet<String>,
    /// Servers and volumes in a transient or failed state (by ID): which, since when.
    pub unsettled: BTreeMap<String, super::unsettled::Seen>,
}

/// A server seen in ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedServer {
    /// When it was first seen in ERROR.
    pub since: Instant,
    /// Whether its hard reboot was asked for.
    pub rebooted: bool,
}

impl Memory {
    /// The remaining wait when a pass for `generation` comes before its time (a watch event
    /// of the operator's own status write), else `None`.
    pub fn early(&self, generation: Option<i64>, now: Instant) -> Option<Duration> {
        if self.generation != generation {
            return None;
        }
        let remaining = self.next_at?.checked_duration_since(now)?;
        // Within a few milliseconds of its time the pass runs.
        (remaining > Duration::from_millis(20)).then_some(remaining)
    }

    /// Whether the next pass must observe everything again: a new generation, nothing
    /// observed yet, a settled resync (Ready, the last full observation at least `settled`
    /// old; the passes between are health reads), gluster newly showing something wrong, or
    /// the last full observation older than `max_age`.
    pub fn needs_full(
        &self,
        generation: Option<i64>,
        now: Instant,
        max_age: Duration,
        settled: Duration,
    ) -> bool {
        let older = |age: Duration| {
            self.full_at
                .is_none_or(|t| now.saturating_duration_since(t) >= age)
        };
        self.generation != generation
            || self.observed.is_none()
            || self.cloud_check
            || (self.ready && older(settled))
            || older(max_age)
    }

    /// The memory after a failed pass: only the generation, when to come back and the
    /// failure's backoff, if it has one (the next pass observes everything again).
    pub fn after_failure(generation: Option<i64>, next_at: Instant, pace: Option<Pace>) -> Memory {
        Memory {
            generation,
            next_at: Some(next_at),
            pace,
            ..Memory::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_passes_of_the_same_generation_wait_for_their_time() {
        let now = Instant::now();
        let memory = Memory {
            generation: Some(1),
            next_at: Some(now + Duration::from_secs(1)),
            ..Memory::default()
        };
        assert!(memory.early(Some(1), now).is_some());
        assert_eq!(memory.early(Some(2), now), None);
        assert_eq!(memory.early(Some(1), now + Duration::from_secs(1)), None);
    }

    #[test]
    fn full_observations_on_new_generation_resync_or_age() {
        let now = Instant::now();
        let memory = Memory {
            generation: Some(1),
            observed: Some(Observed::default()),
            full_at: Some(now),
            ..Memory::default()
        };
        let age = Duration::from_secs(60);
        let resync = Duration::from_secs(600);
        assert!(!memory.needs_full(Some(1), now, age, resync));
        assert!(memory.needs_full(Some(2), now, age, resync));
        assert!(memory.needs_full(Some(1), now + age, age, resync));
        // Ready: health reads in between, the full look at the resync.
        let settled = Memory {
            ready: true,
            ..memory.clone()
        };
        let long = Duration::from_secs(3600);
        assert!(!settled.needs_full(Some(1), now + age, long, resync));
        assert!(settled.needs_full(Some(1), now + resync, long, resync));
        // Gluster showed something new: the cloud is looked at.
        let check = Memory {
            cloud_check: true,
            ..memory.clone()
        };
        assert!(check.needs_full(Some(1), now, age, resync));
        let failed = Memory::after_failure(Some(1), now, None);
        assert!(failed.needs_full(Some(1), now, age, resync));
    }
}

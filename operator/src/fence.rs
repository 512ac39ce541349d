//! The write fence of a leader: until when this replica may still write to a cloud or a
//! gluster node. The leader's renew loop ([`crate::controller::leader`]) moves the end forward
//! after each successful renewal (to when that renewal *started* plus the renew deadline,
//! shorter than the Lease duration, so that no other replica can have taken the Lease before
//! it) and closes it when the Lease is lost; the cloud client checks it before every write
//! request, act before every gluster step. A replica without leader election has no fence.
//!
//! [`may_write`] and [`fence_end`] are the pure rules; [`Fence`] shares the end between tasks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Whether a write may go out at `now` with the fence ending at `until` (`None`: closed).
/// Pure.
pub fn may_write(until: Option<Instant>, now: Instant) -> bool {
    until.is_some_and(|u| now < u)
}

/// The end of the fence after a renewal that started at `renew_started` and succeeded:
/// `renew_started + renew_deadline`. The Lease the API server stored says renewed at (about)
/// `renew_started`, and another replica takes it only after that plus the Lease duration;
/// `renew_deadline` shorter than the duration leaves the difference as the margin for the
/// in-flight write and the clocks. Pure.
pub fn fence_end(renew_started: Instant, renew_deadline: Duration) -> Instant {
    renew_started + renew_deadline
}

/// A fence shared by the renew loop and the writers (cloning shares it). Starts closed.
#[derive(Clone, Debug, Default)]
pub struct Fence {
    until: Arc<Mutex<Option<Instant>>>,
}

impl PartialEq for Fence {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.until, &other.until)
    }
}

impl Fence {
    /// A closed fence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens it (or keeps it open) until `until`; never moves the end back.
    pub fn open_until(&self, until: Instant) {
        if let Ok(mut u) = self.until.lock() {
            *u = Some(u.map_or(until, |old| old.max(until)));
        }
    }

    /// Closes it: no write goes out until the next [`Fence::open_until`].
    pub fn close(&self) {
        if let Ok(mut u) = self.until.lock() {
            *u = None;
        }
    }

    /// The end, if open.
    pub fn until(&self) -> Option<Instant> {
        self.until.lock().ok().and_then(|u| *u)
    }

    /// Whether a write may go out now.
    pub fn may_write(&self) -> bool {
        let until = self.until.lock().ok().and_then(|u| *u);
        may_write(until, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_goes_out_only_before_the_end() {
        let now = Instant::now();
        assert!(!may_write(None, now), "closed");
        assert!(may_write(Some(now + Duration::from_millis(1)), now));
        assert!(!may_write(Some(now), now), "the end itself is past");
        assert!(!may_write(Some(now), now + Duration::from_secs(1)));
    }

    #[test]
    fn the_end_counts_from_the_start_of_the_renewal() {
        let started = Instant::now();
        let end = fence_end(started, Duration::from_secs(10));
        assert_eq!(end - started, Duration::from_secs(10));
        // A renewal that took 4 s still ends the fence 10 s after it started, i.e. before a
        // 15 s Lease written at its start can expire.
        assert!(end < started + Duration::from_secs(15));
    }

    #[test]
    fn a_shared_fence_opens_forward_and_closes() {
        let fence = Fence::new();
        let writer = fence.clone();
        assert!(!writer.may_write());
        let later = Instant::now() + Duration::from_secs(60);
        fence.open_until(later);
        assert!(writer.may_write());
        // An older renewal's end does not shorten it.
        fence.open_until(Instant::now());
        assert!(writer.may_write());
        fence.close();
        assert!(!writer.may_write());
        assert_eq!(fence, writer);
        assert_ne!(fence, Fence::new());
    }
}

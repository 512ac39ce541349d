//! Per-service limits: how many requests may be in flight at once and how many may start per
//! second (a token bucket). Waiting happens on the async runtime, never on a thread.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The limits of one service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Sustained requests started per second.
    pub requests_per_second: f64,
    /// Requests that may start at once after a quiet period.
    pub burst: u32,
}

impl Default for Limits {
    /// 8 in flight, 20 per second, bursts of 40: gentle on a shared cloud, and far above what
    /// one reconcile needs.
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            requests_per_second: 20.0,
            burst: 40,
        }
    }
}

/// A token bucket that hands out reservations: each request takes a token, possibly one that
/// becomes available only later, and is told how long to wait for it. Reservations keep
/// requests in arrival order and never make one wait twice.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::INFINITY
        };
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token at `now`; returns how long the caller must wait before sending.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if self.rate.is_infinite() {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// The concurrency limit and rate limit of one service.
#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    bucket: Mutex<TokenBucket>,
}

impl Limiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            in_flight: Semaphore::new(limits.max_in_flight.max(1)),
            bucket: Mutex::new(TokenBucket::new(
                limits.requests_per_second,
                limits.burst,
                Instant::now(),
            )),
        }
    }

    /// Waits for a rate token, then for a slot; the slot is held until the permit drops.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        let wait = {
            // A poisoned lock only means another task panicked mid-update of two numbers;
            // the bucket is still usable.
            let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            bucket.reserve(Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // Invariant: the semaphore is never closed, so acquire cannot fail.
        self.in_flight
            .acquire()
            .await
            .expect("the limiter's semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3, t0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        let d = b.reserve(t0);
        assert!((d.as_secs_f64() - 0.1).abs() < 1e-9, "{d:?}");
        let d = b.reserve(t0);
        assert!((d.as_secs_f64() - 0.2).abs() < 1e-9, "{d:?}");
        // One second later the debt (2 tokens) is repaid and 3 are back (capped at burst).
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.reserve(t1), Duration::ZERO);
        assert_eq!(b.reserve(t1), Duration::ZERO);
        assert_eq!(b.reserve(t1), Duration::ZERO);
        assert!(b.reserve(t1) > Duration::ZERO);
    }

    #[test]
    fn unlimited_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1, t0);
        for _ in 0..100 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
    }

    #[tokio::test]
    async fn limiter_bounds_in_flight() {
        let l = Limiter::new(Limits {
            max_in_flight: 2,
            requests_per_second: 0.0,
            burst: 1,
        });
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.in_flight.available_permits(), 0);
        drop(a);
        assert_eq!(l.in_flight.available_permits(), 1);
    }
}

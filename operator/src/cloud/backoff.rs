//! Capped exponential backoff with jitter, and `Retry-After` parsing. Pure: the random part is
//! a parameter, so the schedule is testable.

use std::time::{Duration, SystemTime};

/// A capped exponential backoff schedule: delay `n` (0-based) is `initial × 2ⁿ`, capped at
/// `max`, then jittered into its upper half (`[d/2, d]`) so that many clients that failed
/// together do not retry together, while every delay still grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
    /// How many attempts in all (the first one included) before giving up.
    pub max_attempts: u32,
}

impl Default for Backoff {
    /// 0.5 s, 1 s, 2 s, 4 s, 8 s (before jitter): six attempts within about 16 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_attempts: 6,
        }
    }
}

impl Backoff {
    /// The delay before retry `retry` (0 = after the first failure), without jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry `retry` with jitter `unit` in `[0, 1)`: within
    /// `[base/2, base]`.
    pub fn delay_with(&self, retry: u32, unit: f64) -> Duration {
        let base = self.base_delay(retry);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        base.mul_f64(0.5 + 0.5 * unit)
    }

    /// The delay before retry `retry`, with random jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, fastrand::f64())
    }

    /// Whether another attempt is allowed after `attempts` attempts.
    pub fn allows_another(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

/// Parses a `Retry-After` value: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`. A date in the past means 0.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let when = SystemTime::from(when);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        let bases: Vec<_> = (0..6).map(|n| b.base_delay(n).as_millis()).collect();
        assert_eq!(bases, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.base_delay(200), Duration::from_secs(1));
        assert_eq!(b.delay_with(2, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay_with(2, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay_with(2, f64::NAN), Duration::from_millis(200));
        for n in 0..10 {
            let d = b.delay(n);
            assert!(
                d >= b.base_delay(n) / 2 && d <= b.base_delay(n),
                "{n}: {d:?}"
            );
        }
        assert!(b.allows_another(4));
        assert!(!b.allows_another(5));
    }

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-4", now), None);
    }
}

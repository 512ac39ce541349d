//! Waiting for a cloud resource to reach a status: polls with capped exponential backoff on
//! the async runtime's timer (a waiting task holds no worker thread).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use super::error::CloudError;

/// How long and how often to poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The polling schedule (`max_attempts` is ignored: the deadline decides).
    pub backoff: Backoff,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for WaitPolicy {
    /// Polls after 1 s, 2 s, 4 s, 8 s, then every 10–15 s, for up to 10 minutes.
    fn default() -> Self {
        Self {
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(15),
                max_attempts: u32::MAX,
            },
            timeout: Duration::from_secs(600),
        }
    }
}

/// One observation of a resource being waited for.
#[derive(Debug)]
pub enum Poll<T> {
    /// It reached the wanted status.
    Ready(T),
    /// Not yet; the status seen (for the timeout message).
    Pending(String),
}

/// Calls `check` until it returns [`Poll::Ready`] or an error, sleeping on the backoff schedule
/// between calls; after `policy.timeout` returns [`CloudError::WaitTimedOut`] naming `kind`,
/// `id`, `wanted` and the last status seen.
pub async fn wait_for<T, F, Fut>(
    policy: WaitPolicy,
    kind: &'static str,
    id: &str,
    wanted: &str,
    mut check: F,
) -> Result<T, CloudError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, CloudError>>,
{
    let deadline = Instant::now() + policy.timeout;
    let mut retry = 0u32;
    loop {
        let last = match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(status) => status,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(CloudError::WaitTimedOut {
                kind,
                id: id.to_string(),
                wanted: wanted.to_string(),
                last,
            });
        }
        let delay = policy.backoff.delay(retry).min(deadline - now);
        retry = retry.saturating_add(1);
        tokio::time::sleep(delay).await;
    }
}

//! Leader election on a `coordination.k8s.io/v1` Lease: replicas compete for the Lease; the
//! holder renews it and runs the controller; the others wait and take over once it expires
//! (or is released on shutdown). Updates use the Lease's resourceVersion, so two candidates
//! cannot both win one round.
//!
//! Leadership is fenced: every Lease call has a timeout, a renewal counts from when it
//! started, and the leader holds a [`Fence`] open only until its last successful renewal's
//! start plus the renew deadline (shorter than the Lease duration). The cloud client and the
//! gluster steps check the fence before each write, so a leader cut off from the API server
//! stops writing before another replica can take the Lease over.
//!
//! [`decide`] and [`LeaseConfig::check`] are the pure rules (with [`crate::fence`]'s); [`LeaderElector`] does the API calls.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::fence::{Fence, fence_end};

/// Leader election settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
    /// How long the holder keeps leading without a successful renewal (counted from the start
    /// of the last one): shorter than `duration`, the margin for a write in flight and clocks.
    pub renew_deadline: Duration,
    /// How often the holder renews (and a candidate retries); shorter than `renew_deadline`.
    pub retry_period: Duration,
    /// The timeout of each Lease call.
    pub call_timeout: Duration,
}

impl LeaseConfig {
    /// Whether the timings fence leadership: `retry_period` < `renew_deadline` < `duration`,
    /// and a call times out within a renew deadline. Pure.
    pub fn check(&self) -> Result<(), String> {
        if self.renew_deadline >= self.duration {
            return Err(format!(
                "the renew deadline ({:?}) must be shorter than the lease duration ({:?})",
                self.renew_deadline, self.duration
            ));
        }
        if self.retry_period >= self.renew_deadline {
            return Err(format!(
                "the retry period ({:?}) must be shorter than the renew deadline ({:?})",
                self.retry_period, self.renew_deadline
            ));
        }
        if self.call_timeout.is_zero() || self.call_timeout > self.renew_deadline {
            return Err(format!(
                "the Lease call timeout ({:?}) must be positive and at most the renew deadline ({:?})",
                self.call_timeout, self.renew_deadline
            ));
        }
        Ok(())
    }
}

/// A Lease call that failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The API server refused or failed it.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// It got no answer within the call timeout.
    #[error("the Lease {call} got no answer within {timeout:?}")]
    Timeout {
        /// `get`, `create` or `replace`.
        call: &'static str,
        /// The timeout.
        timeout: Duration,
    },
}

/// What a candidate does about the Lease as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take it (no holder, expired, or held by this replica already).
    Take {
        /// Whether the holder changes (count a transition, set acquireTime).
        transition: bool,
    },
    /// Someone else holds it and it is still valid.
    Wait {
        /// The holder.
        holder: String,
    },
}

/// The rule (pure): a Lease held by another identity whose renewTime + duration is still in
/// the future is respected; anything else may be taken.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Take { transition: true };
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder == identity {
        return Decision::Take { transition: false };
    }
    if holder.is_empty() {
        return Decision::Take { transition: true };
    }
    let valid = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(renewed)), Some(secs)) => renewed
            .checked_add(SignedDuration::from_secs(i64::from(secs)))
            .is_ok_and(|until| until > now),
        _ => false,
    };
    if valid {
        Decision::Wait {
            holder: holder.to_string(),
        }
    } else {
        Decision::Take { transition: true }
    }
}

/// Campaigns for and renews one Lease.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    fence: Fence,
}

impl LeaderElector {
    /// An elector for `config.namespace`/`config.name`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            fence: Fence::new(),
        }
    }

    /// The fence this elector holds open while it leads (shared: clones see the same).
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// `call` with the call timeout.
    async fn timed<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaseError> {
        let timeout = self.config.call_timeout;
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(LeaseError::Timeout { call, timeout }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One attempt to take or renew the Lease: `Ok(true)` when this replica holds it now
    /// (the fence then open until the attempt's start plus the renew deadline). A lost race
    /// (409) or another valid holder is `Ok(false)` and closes the fence.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaseError> {
        let started = tokio::time::Instant::now();
        let held = self.acquire_or_renew_once().await;
        match held {
            Ok(true) => self
                .fence
                .open_until(fence_end(started, self.config.renew_deadline)),
            Ok(false) => self.fence.close(),
            Err(_) => {}
        }
        held
    }

    async fn acquire_or_renew_once(&self) -> Result<bool, LeaseError> {
        let now = Timestamp::now();
        let current = self
            .timed("get", self.api.get_opt(&self.config.name))
            .await?;
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.config.identity,
            now,
        );
        let Decision::Take { transition } = decision else {
            return Ok(false);
        };
        let previous = current
            .as_ref()
            .and_then(|l| l.spec.clone())
            .unwrap_or_default();
        let spec = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.duration.as_secs().max(1) as i32),
            acquire_time: if transition {
                Some(MicroTime(now))
            } else {
                previous.acquire_time.clone()
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(
                previous.lease_transitions.unwrap_or(0)
                    + i32::from(transition && current.is_some()),
            ),
            ..LeaseSpec::default()
        };
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.timed("create", self.api.create(&PostParams::default(), &lease))
                    .await
            }
            Some(mut lease) => {
                // Keeps metadata.resourceVersion: a concurrent change makes this a 409.
                lease.spec = Some(spec);
                self.timed(
                    "replace",
                    self.api
                        .replace(&self.config.name, &PostParams::default(), &lease),
                )
                .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(LeaseError::Api(kube::Error::Api(s))) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this replica holds it (so a standby takes over at once).
    pub async fn release(&self) -> Result<(), LeaseError> {
        self.fence.close();
        let Some(mut lease) = self
            .timed("get", self.api.get_opt(&self.config.name))
            .await?
        else {
            return Ok(());
        };
        let mine = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.config.identity.as_str());
        if !mine {
            return Ok(());
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.renew_time = None;
        }
        match self
            .timed(
                "replace",
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(LeaseError::Api(kube::Error::Api(s))) if s.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the Lease (retrying every retry period; API errors are
    /// logged and retried).
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, lease = %self.config.name, "leader election"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the Lease every retry period; returns, the fence closed, when it is lost:
    /// another holder, or no successful renewal started within the renew deadline (the
    /// timeout of each call keeps a hung API server from holding this past it).
    pub async fn hold(&self) {
        loop {
            let Some(end) = self.fence.until() else {
                tracing::warn!(lease = %self.config.name, "leader fence closed");
                return;
            };
            let wake = (tokio::time::Instant::now() + self.config.retry_period).min(end);
            tokio::time::sleep_until(wake).await;
            let Some(end) = self.fence.until().filter(|_| self.fence.may_write()) else {
                tracing::warn!(lease = %self.config.name, "leader lease not renewed within the renew deadline");
                self.fence.close();
                return;
            };
            // No renewal may outlive the fence: the one that would is given up.
            match tokio::time::timeout_at(end, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    tracing::warn!(lease = %self.config.name, "leader lease taken by another replica");
                    self.fence.close();
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, lease = %self.config.name, "renewing the leader lease");
                }
                Err(_) => {
                    tracing::warn!(lease = %self.config.name, "renewing the leader lease: no answer before the renew deadline");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    fn held(by: &str, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(secs),
            ..LeaseSpec::default()
        }
    }

    fn timings(duration: u64, deadline: u64, retry: u64, call: u64) -> LeaseConfig {
        LeaseConfig {
            name: "l".into(),
            namespace: "n".into(),
            identity: "a".into(),
            duration: Duration::from_secs(duration),
            renew_deadline: Duration::from_secs(deadline),
            retry_period: Duration::from_secs(retry),
            call_timeout: Duration::from_secs(call),
        }
    }

    #[test]
    fn timings_fence_only_when_the_deadline_is_inside_the_lease() {
        assert_eq!(timings(15, 10, 2, 2).check(), Ok(()));
        let e = timings(15, 15, 2, 2).check().unwrap_err();
        assert!(e.contains("renew deadline"), "{e}");
        let e = timings(15, 10, 10, 2).check().unwrap_err();
        assert!(e.contains("retry period"), "{e}");
        let e = timings(15, 10, 2, 0).check().unwrap_err();
        assert!(e.contains("call timeout"), "{e}");
        let e = timings(15, 10, 2, 11).check().unwrap_err();
        assert!(e.contains("call timeout"), "{e}");
    }

    #[test]
    fn no_lease_or_no_holder_is_taken() {
        assert_eq!(
            decide(None, "a", at(100)),
            Decision::Take { transition: true }
        );
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "a", at(100)),
            Decision::Take { transition: true }
        );
    }

    #[test]
    fn own_lease_is_renewed_without_transition() {
        assert_eq!(
            decide(Some(&held("a", 10, 15)), "a", at(100)),
            Decision::Take { transition: false }
        );
    }

    #[test]
    fn valid_foreign_lease_is_respected_until_it_expires() {
        let lease = held("b", 100, 15);
        assert_eq!(
            decide(Some(&lease), "a", at(110)),
            Decision::Wait { holder: "b".into() }
        );
        assert_eq!(
            decide(Some(&lease), "a", at(116)),
            Decision::Take { transition: true }
        );
    }
}

//! Leader election on a `coordination.k8s.io/v1` Lease: replicas compete for the Lease; the
//! holder renews it and runs the controller; the others wait and take over once it expires
//! (or is released on shutdown). Updates use the Lease's resourceVersion, so two candidates
//! cannot both win one round.
//!
//! [`decide`] is the pure rule; [`LeaderElector`] does the API calls.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

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
    /// How often the holder renews (and a candidate retries).
    pub retry_period: Duration,
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
}

impl LeaderElector {
    /// An elector for `config.namespace`/`config.name`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One attempt to take or renew the Lease: `Ok(true)` when this replica holds it now.
    /// A lost race (409) is `Ok(false)`.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.config.name).await?;
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
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                // Keeps metadata.resourceVersion: a concurrent change makes this a 409.
                lease.spec = Some(spec);
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this replica holds it (so a standby takes over at once).
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
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
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
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

    /// Renews the Lease every retry period; returns when it is lost (another holder, or no
    /// successful renewal within the lease duration).
    pub async fn hold(&self) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::warn!(lease = %self.config.name, "leader lease taken by another replica");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.config.name, "renewing the leader lease");
                    if last_renewed.elapsed() >= self.config.duration {
                        return;
                    }
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

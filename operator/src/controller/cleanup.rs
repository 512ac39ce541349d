//! Delete: everything the cluster owns in the cloud, found by its UID. Brick volumes are
//! detached first and then kept (`deletionPolicy: Retain`, under their node-derived names), or
//! deleted once their servers' deletion has detached them (`Delete`); servers are deleted, then
//! the nodes' ports (Nova leaves them, it did not make them) and the security group. Each pass takes the steps it can and says what is left; the finalizer is
//! released only when a fresh listing finds nothing left ([`Leftovers::is_empty`]).

use futures::future::try_join_all;

use crate::api::DeletionPolicy;
use crate::cloud::{Cloud, CloudError, VolumeStatus};

use super::observe::{Observed, observe_owned};
use super::owner::Owner;

/// What a cleanup pass found still standing (before its own deletes took effect).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Leftovers {
    /// Servers still listed.
    pub servers: usize,
    /// Volumes that must go (Delete) or be detached (Retain) and are not yet.
    pub volumes: usize,
    /// Security groups still listed.
    pub security_groups: usize,
    /// The nodes' ports still listed.
    pub ports: usize,
}

impl Leftovers {
    /// Whether nothing is left: the finalizer may go.
    pub fn is_empty(&self) -> bool {
        self == &Leftovers::default()
    }

    /// A fingerprint for the cleanup's backoff: progress (fewer left) resets it.
    pub fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }

    /// A human summary.
    pub fn describe(&self) -> String {
        format!(
            "{} server(s), {} brick volume(s), {} port(s), {} security group(s) left",
            self.servers, self.volumes, self.ports, self.security_groups
        )
    }
}

/// Which volumes still stand in the way (pure): under Delete, every volume; under Retain,
/// those still attached.
pub fn volumes_left(observed: &Observed, policy: DeletionPolicy) -> usize {
    observed
        .volumes
        .iter()
        .filter(|v| match policy {
            DeletionPolicy::Delete => true,
            DeletionPolicy::Retain => v.status != VolumeStatus::Available,
        })
        .count()
}

/// One cleanup pass; returns what it found still standing.
pub async fn cleanup_pass(
    cloud: &Cloud,
    owner: &Owner,
    policy: DeletionPolicy,
) -> Result<Leftovers, CloudError> {
    let observed = observe_owned(cloud, owner).await?;
    // Under Retain, detach the brick volumes first: never leave the fate of a volume that is
    // kept to the server's deletion. Under Delete they go anyway: deleting the server detaches
    // them (Nova), and they are deleted once available. The calls of each step go out together
    // (the client's per-service limits bound them).
    let keep = policy == DeletionPolicy::Retain;
    let detaches = observed.servers.iter().filter(|_| keep).flat_map(|server| {
        observed
            .volumes
            .iter()
            .filter(|volume| server.attached_volume_ids().contains(&volume.id.as_str()))
            .map(|volume| cloud.compute().detach_volume(&server.id, &volume.id))
    });
    try_join_all(detaches).await?;
    // A server Nova is deleting already is left to it: asking again only loads Nova.
    try_join_all(
        observed
            .servers
            .iter()
            .filter(|server| server.task_state.as_deref() != Some("deleting"))
            .map(|server| cloud.compute().delete_server(&server.id)),
    )
    .await?;
    if policy == DeletionPolicy::Delete {
        let deletable = observed.volumes.iter().filter(|volume| {
            volume.status == VolumeStatus::Available
                || matches!(volume.status, VolumeStatus::Error(_))
        });
        try_join_all(deletable.map(|volume| cloud.volume().delete_volume(&volume.id))).await?;
    }
    if observed.servers.is_empty() {
        // Only once no server uses them: a port bound to a server Nova is still deleting
        // would be torn from it.
        try_join_all(
            observed
                .ports
                .iter()
                .map(|port| cloud.network().delete_port(&port.id)),
        )
        .await?;
    }
    let groups = cloud
        .network()
        .list_security_groups(None, &[owner.tag()])
        .await?
        .len();
    if observed.servers.is_empty() && observed.ports.is_empty() && groups > 0 {
        // Only once no server or port uses it (Neutron refuses to delete a group in use).
        cloud
            .network()
            .delete_security_groups_by_tags(&[owner.tag()])
            .await?;
    }
    Ok(Leftovers {
        servers: observed.servers.len(),
        volumes: volumes_left(&observed, policy),
        security_groups: groups,
        ports: observed.ports.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(status: &str) -> crate::cloud::Volume {
        serde_json::from_value(serde_json::json!({
            "id": "v", "name": "n-brick", "status": status, "size": 1, "metadata": {},
        }))
        .expect("a volume document")
    }

    #[test]
    fn retain_waits_only_for_attached_volumes() {
        let observed = Observed {
            volumes: vec![volume("available"), volume("in-use"), volume("detaching")],
            ..Observed::default()
        };
        assert_eq!(volumes_left(&observed, DeletionPolicy::Retain), 2);
        assert_eq!(volumes_left(&observed, DeletionPolicy::Delete), 3);
        assert!(Leftovers::default().is_empty());
    }
}

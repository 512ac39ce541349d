//! Delete: everything the cluster owns in the cloud, found by its UID. Brick volumes are
//! detached first and then kept (`deletionPolicy: Retain`, under their node-derived names) or
//! deleted (`Delete`); servers are deleted, then the security group. Each pass takes the steps
//! it can and says what is left; the finalizer is released only when a fresh listing finds
//! nothing left ([`Leftovers::is_empty`]).

use crate::api::DeletionPolicy;
use crate::cloud::{Cloud, CloudError, VolumeStatus};

use super::observe::{Observed, observe_owned};
use super::owner::Owner;

/// What a cleanup pass found still standing (before its own deletes took effect).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Servers still listed.
    pub servers: usize,
    /// Volumes that must go (Delete) or be detached (Retain) and are not yet.
    pub volumes: usize,
    /// Security groups still listed.
    pub security_groups: usize,
}

impl Leftovers {
    /// Whether nothing is left: the finalizer may go.
    pub fn is_empty(&self) -> bool {
        self == &Leftovers::default()
    }

    /// A human summary.
    pub fn describe(&self) -> String {
        format!(
            "{} server(s), {} brick volume(s), {} security group(s) left",
            self.servers, self.volumes, self.security_groups
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
    // Detach brick volumes first: never leave their fate to the server's deletion.
    for server in &observed.servers {
        for volume in &observed.volumes {
            if server.attached_volume_ids().contains(&volume.id.as_str()) {
                cloud
                    .compute()
                    .detach_volume(&server.id, &volume.id)
                    .await?;
            }
        }
    }
    for server in &observed.servers {
        cloud.compute().delete_server(&server.id).await?;
    }
    if policy == DeletionPolicy::Delete {
        for volume in &observed.volumes {
            if volume.status == VolumeStatus::Available
                || matches!(volume.status, VolumeStatus::Error(_))
            {
                cloud.volume().delete_volume(&volume.id).await?;
            }
        }
    }
    let groups = cloud
        .network()
        .list_security_groups(None, &[owner.tag()])
        .await?
        .len();
    if observed.servers.is_empty() && groups > 0 {
        // Only once no server uses it (Neutron refuses to delete a group in use).
        cloud
            .network()
            .delete_security_groups_by_tags(&[owner.tag()])
            .await?;
    }
    Ok(Leftovers {
        servers: observed.servers.len(),
        volumes: volumes_left(&observed, policy),
        security_groups: groups,
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

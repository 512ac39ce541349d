//! Observe: everything the cluster owns in the cloud, found by its UID (one list call per
//! resource type), and the cloud facts the planner needs. [`observe_cloud`] does the I/O;
//! [`current_state`] and [`cloud_facts`] map the observation for the planner (pure).

use std::collections::BTreeSet;

use crate::cloud::{Cloud, CloudError, Server, Volume};
use crate::plan::{CloudFacts, CurrentState, ExistingNode};

use super::owner::{Owner, node_of};

/// What the cluster owns in the cloud now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Servers carrying the cluster's tag.
    pub servers: Vec<Server>,
    /// Volumes carrying the cluster's UID in their metadata.
    pub volumes: Vec<Volume>,
    /// Cinder's availability zones (where a brick volume can be created).
    pub block_storage_zones: BTreeSet<String>,
}

impl Observed {
    /// The server of node `name`, if any (the first one found).
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers
            .iter()
            .find(|s| node_of(&s.metadata).is_some_and(|(n, _)| n == name))
    }

    /// The brick volume of node `name`, if any.
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes
            .iter()
            .find(|v| node_of(&v.metadata).is_some_and(|(n, _)| n == name))
    }
}

/// Lists the cluster's servers (by tag) and volumes (by metadata) and Cinder's zones,
/// concurrently.
pub async fn observe_cloud(cloud: &Cloud, owner: &Owner) -> Result<Observed, CloudError> {
    let (mut observed, zones) = futures::try_join!(
        observe_owned(cloud, owner),
        cloud.volume().availability_zones(),
    )?;
    observed.block_storage_zones = zones
        .into_iter()
        .filter(|z| z.available)
        .map(|z| z.name)
        .collect();
    Ok(observed)
}

/// Brings `base` up to date with only the lists named (servers by tag, volumes by metadata)
/// and Cinder's zones when `zones` is set, concurrently; what is not listed stays as in
/// `base`.
pub async fn observe_some(
    cloud: &Cloud,
    owner: &Owner,
    mut base: Observed,
    lists: super::pacing::Lists,
    zones: bool,
) -> Result<Observed, CloudError> {
    let server_query = owner.server_query();
    let volume_query = owner.volume_query();
    let servers = async {
        match lists.servers {
            true => cloud.compute().list_servers(&server_query).await.map(Some),
            false => Ok(None),
        }
    };
    let volumes = async {
        match lists.volumes {
            true => cloud.volume().list_volumes(&volume_query).await.map(Some),
            false => Ok(None),
        }
    };
    let found_zones = async {
        match zones {
            true => cloud.volume().availability_zones().await.map(Some),
            false => Ok(None),
        }
    };
    let (servers, volumes, found_zones) = futures::try_join!(servers, volumes, found_zones)?;
    if let Some(servers) = servers {
        base.servers = servers;
    }
    if let Some(volumes) = volumes {
        base.volumes = volumes;
    }
    if let Some(found) = found_zones {
        base.block_storage_zones = found
            .into_iter()
            .filter(|z| z.available)
            .map(|z| z.name)
            .collect();
    }
    Ok(base)
}

/// Lists the cluster's servers (by tag) and volumes (by metadata), concurrently; no zones.
pub async fn observe_owned(cloud: &Cloud, owner: &Owner) -> Result<Observed, CloudError> {
    let server_query = owner.server_query();
    let volume_query = owner.volume_query();
    let (servers, volumes) = futures::try_join!(
        cloud.compute().list_servers(&server_query),
        cloud.volume().list_volumes(&volume_query),
    )?;
    Ok(Observed {
        servers,
        volumes,
        block_storage_zones: BTreeSet::new(),
    })
}

/// The planner's view of what exists: one node per name found on a server or a brick volume
/// (a node whose server is gone but whose volume survives keeps its index). Resources without
/// well-formed node metadata, or without a known zone, are left out; a second resource with a
/// name already seen adds nothing.
pub fn current_state(observed: &Observed) -> CurrentState {
    let mut nodes: Vec<ExistingNode> = Vec::new();
    let found = observed
        .servers
        .iter()
        .map(|s| (node_of(&s.metadata), s.availability_zone.clone()))
        .chain(
            observed
                .volumes
                .iter()
                .map(|v| (node_of(&v.metadata), v.availability_zone.clone())),
        );
    for (node, zone) in found {
        let (Some((name, index)), Some(zone)) = (node, zone) else {
            continue;
        };
        if nodes.iter().any(|n| n.name == name || n.index == index) {
            continue;
        }
        nodes.push(ExistingNode { name, index, zone });
    }
    nodes.sort_by_key(|n| n.index);
    CurrentState {
        nodes,
        volume: None,
        used_bytes: None,
    }
}

/// The planner's cloud facts: the zones where Cinder serves volumes.
pub fn cloud_facts(observed: &Observed) -> CloudFacts {
    CloudFacts {
        block_storage_zones: Some(observed.block_storage_zones.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            namespace: "ns".into(),
            name: "c".into(),
            uid: "u-1".into(),
        }
    }

    fn server(node: &str, index: u32, zone: Option<&str>) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": format!("srv-{node}"),
            "name": node,
            "status": "ACTIVE",
            "OS-EXT-AZ:availability_zone": zone,
            "metadata": owner().node_metadata(node, index),
            "tags": [owner().tag()],
            "flavor": {},
            "addresses": {},
        }))
        .expect("a server document")
    }

    fn volume(node: &str, index: u32, zone: &str) -> Volume {
        serde_json::from_value(serde_json::json!({
            "id": format!("vol-{node}"),
            "name": format!("{node}-brick"),
            "status": "available",
            "size": 10,
            "availability_zone": zone,
            "metadata": owner().node_metadata(node, index),
        }))
        .expect("a volume document")
    }

    #[test]
    fn nodes_come_from_servers_and_surviving_volumes() {
        let observed = Observed {
            servers: vec![server("c-a-1", 0, Some("a")), server("c-a-1", 0, Some("a"))],
            volumes: vec![volume("c-a-1", 0, "a"), volume("c-b-1", 1, "b")],
            block_storage_zones: BTreeSet::from(["a".to_string()]),
        };
        let state = current_state(&observed);
        let nodes: Vec<_> = state
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.index, n.zone.as_str()))
            .collect();
        assert_eq!(nodes, [("c-a-1", 0, "a"), ("c-b-1", 1, "b")]);
        assert_eq!(state.volume, None);
        assert_eq!(
            cloud_facts(&observed).block_storage_zones,
            Some(BTreeSet::from(["a".to_string()]))
        );
    }

    #[test]
    fn resources_without_node_metadata_or_zone_are_left_out() {
        let mut stray = server("c-a-2", 2, Some("a"));
        stray.metadata.clear();
        let observed = Observed {
            servers: vec![stray, server("c-a-3", 3, None)],
            ..Observed::default()
        };
        assert!(current_state(&observed).nodes.is_empty());
    }
}

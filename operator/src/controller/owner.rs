//! How cloud resources name their GlusterCluster (pure): a Nova/Neutron tag and Nova/Cinder
//! metadata carrying the cluster's UID and the node's index, plus deterministic names, so a
//! restarted operator finds and adopts what exists instead of creating twins.

use std::collections::BTreeMap;

/// Metadata key: the cluster's UID.
pub const META_CLUSTER_UID: &str = "gluster-operator:cluster-uid";
/// Metadata key: the cluster's `namespace/name` (for a human reading the cloud).
pub const META_CLUSTER: &str = "gluster-operator:cluster";
/// Metadata key: the node's cluster-wide index.
pub const META_NODE_INDEX: &str = "gluster-operator:node-index";
/// Metadata key: the node's name.
pub const META_NODE: &str = "gluster-operator:node";
/// Server metadata key: `"true"` on a replacement server whose brick is its own (blank)
/// ephemeral disk, so that its brick is never started as is, even after an operator restart
/// (see `controller/decide/lost_bricks.rs`).
pub const META_BLANK_BRICK: &str = "gluster-operator:blank-brick";

/// The cluster's identity as the cloud sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
}

impl Owner {
    /// The tag every server and security group of the cluster carries (Nova and Neutron tags:
    /// at most 60 characters, no `/` or `,`; a UID is 36).
    pub fn tag(&self) -> String {
        format!("glusterops-uid:{}", self.uid)
    }

    /// Metadata that marks a resource as the cluster's (for list filters).
    pub fn cluster_metadata(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(META_CLUSTER_UID.to_string(), self.uid.clone())])
    }

    /// The list filter for the cluster's servers (by its tag).
    pub fn server_query(&self) -> crate::cloud::ServerQuery {
        crate::cloud::ServerQuery {
            name: None,
            tags: vec![self.tag()],
            metadata: BTreeMap::new(),
        }
    }

    /// The list filter for the cluster's brick volumes (by its metadata).
    pub fn volume_query(&self) -> crate::cloud::VolumeQuery {
        crate::cloud::VolumeQuery {
            name: None,
            metadata: self.cluster_metadata(),
        }
    }

    /// Metadata of a node's server and brick volume.
    pub fn node_metadata(&self, node: &str, index: u32) -> BTreeMap<String, String> {
        let mut m = self.cluster_metadata();
        m.insert(
            META_CLUSTER.to_string(),
            format!("{}/{}", self.namespace, self.name),
        );
        m.insert(META_NODE.to_string(), node.to_string());
        m.insert(META_NODE_INDEX.to_string(), index.to_string());
        m
    }

    /// The security group's name.
    pub fn security_group_name(&self) -> String {
        format!("gluster-{}-{}", self.namespace, self.name)
    }

    /// The glusterd UUID of node `node` (UUIDv5 of the node's name in the namespace of the
    /// cluster's UID, or of the UID's text when it is not a UUID): the same for every server
    /// the node ever has, so a replacement is the same peer to the pool, and different for a
    /// node of the same name in another cluster.
    pub fn glusterd_uuid(&self, node: &str) -> String {
        let namespace = uuid::Uuid::try_parse(&self.uid).unwrap_or_else(|_| {
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, self.uid.as_bytes())
        });
        uuid::Uuid::new_v5(&namespace, node.as_bytes())
            .hyphenated()
            .to_string()
    }

    /// The Secret that holds the cluster's SSH keys.
    pub fn keys_secret_name(&self) -> String {
        format!("{}-ssh", self.name)
    }

    /// The Secret that holds the cluster's CAs and certificates (`docs/design.md`, "Gluster
    /// TLS").
    pub fn tls_secret_name(&self) -> String {
        format!("{}-tls", self.name)
    }

    /// The Secret a client mounts with: `glusterfs.pem`, `glusterfs.key`, `glusterfs.ca`.
    pub fn client_tls_secret_name(&self) -> String {
        format!("{}-client-tls", self.name)
    }
}

/// The brick volume's name: the node's name with `-brick` (findable after the cluster is gone,
/// for `deletionPolicy: Retain`).
pub fn brick_volume_name(node: &str) -> String {
    format!("{node}-brick")
}

/// The deterministic name of a node's own Neutron port (the node keeps it, and so its
/// address, across server replacements).
pub fn port_name(node: &str) -> String {
    format!("{node}-port")
}

/// The node (name, index) recorded in a resource's metadata, if both are there and well-formed.
pub fn node_of(metadata: &BTreeMap<String, String>) -> Option<(String, u32)> {
    let name = metadata.get(META_NODE)?;
    let index = metadata.get(META_NODE_INDEX)?.parse().ok()?;
    Some((name.clone(), index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            namespace: "default".into(),
            name: "demo".into(),
            uid: "0b5c3a8e-5e2f-4c1e-9a3e-2f1d7c6b5a49".into(),
        }
    }

    #[test]
    fn tag_fits_nova_and_neutron_limits() {
        let tag = owner().tag();
        assert!(tag.len() <= 60, "{tag}");
        assert!(!tag.contains('/') && !tag.contains(','), "{tag}");
    }

    #[test]
    fn glusterd_uuids_are_stable_per_node_and_cluster() {
        let a = Owner {
            uid: "3a8b1e7c-0d6f-4f7e-9b9f-2f4b8f0c1d2e".into(),
            ..owner()
        };
        let u = a.glusterd_uuid("demo-zone-a-0");
        assert_eq!(u, a.glusterd_uuid("demo-zone-a-0"));
        assert_ne!(u, a.glusterd_uuid("demo-zone-a-1"));
        let b = Owner {
            uid: "3a8b1e7c-0d6f-4f7e-9b9f-2f4b8f0c1d2f".into(),
            ..owner()
        };
        assert_ne!(u, b.glusterd_uuid("demo-zone-a-0"));
        assert_eq!(uuid::Uuid::try_parse(&u).unwrap().get_version_num(), 5);
        assert_eq!(u, u.to_lowercase());
        // A UID that is not a UUID still gives one.
        let odd = Owner {
            uid: "not-a-uuid".into(),
            ..owner()
        };
        assert!(uuid::Uuid::try_parse(&odd.glusterd_uuid("n")).is_ok());
    }

    #[test]
    fn node_metadata_round_trips() {
        let m = owner().node_metadata("demo-zone-a-0", 3);
        assert_eq!(node_of(&m), Some(("demo-zone-a-0".to_string(), 3)));
        assert_eq!(m[META_CLUSTER], "default/demo");
        assert_eq!(m[META_CLUSTER_UID], owner().uid);
    }

    #[test]
    fn malformed_index_is_not_a_node() {
        let mut m = owner().node_metadata("demo-zone-a-0", 3);
        m.insert(META_NODE_INDEX.into(), "three".into());
        assert_eq!(node_of(&m), None);
    }
}

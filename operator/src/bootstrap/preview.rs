//! `render-user-data`: a node's user-data from a manifest, before any cloud exists (pure; the
//! command reads the files and generates the keys, this module does the rest).
//!
//! The node comes from the planner (its names, zones and brick storage), selected by name or by
//! its 0-based position across the cluster (the order of the planner's cluster-wide indices).

use super::cloud_config::{
    BootstrapError, DistroFamily, NodeBootstrap, UserData, render_user_data,
};
use super::keys::{AuthorizedKey, SshKeyPair};
use super::script::BrickDevice;
use crate::api::GlusterCluster;
use crate::plan::manifest::{Document, ManifestError, parse_documents};
use crate::plan::{CloudFacts, PlanError, PlannedNode, StorageChoice, plan_cluster};

/// What to render, besides the manifest. `Debug` redacts the host key's private half and the
/// extra user-data.
pub struct PreviewRequest {
    /// The node: its name (`demo-zone-a-1`) or its 0-based position across the cluster.
    pub node: String,
    /// Which GlusterCluster of the manifest, when it holds several.
    pub cluster: Option<String>,
    /// The image's distribution family; guessed from `spec.image` when `None`.
    pub distro: Option<DistroFamily>,
    /// The Cinder volume ID of the node's brick (for zones whose bricks are volumes).
    pub volume_id: Option<String>,
    /// Use the ephemeral disk (for `Auto` zones, whose storage the cloud decides).
    pub ephemeral: bool,
    /// The operator's public key.
    pub operator_key: AuthorizedKey,
    /// The node's host key pair.
    pub host_key: SshKeyPair,
    /// Extra `#cloud-config` to merge.
    pub extra_user_data: Option<String>,
}

impl std::fmt::Debug for PreviewRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviewRequest")
            .field("node", &self.node)
            .field("cluster", &self.cluster)
            .field("distro", &self.distro)
            .field("volume_id", &self.volume_id)
            .field("ephemeral", &self.ephemeral)
            .field("operator_key", &self.operator_key)
            .field("host_key", &self.host_key)
            .field(
                "extra_user_data",
                &self
                    .extra_user_data
                    .as_ref()
                    .map(|e| format!("<redacted: {} bytes>", e.len())),
            )
            .finish()
    }
}

/// The rendered user-data and what it was rendered for.
#[derive(Debug)]
pub struct Preview {
    /// The node's name.
    pub node: String,
    /// The brick device chosen.
    pub device: BrickDevice,
    /// The distribution family used.
    pub distro: DistroFamily,
    /// The document.
    pub user_data: UserData,
}

/// Why a preview could not be rendered; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// A document of the manifest is not a valid GlusterCluster.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest holds no GlusterCluster.
    #[error("the manifest holds no GlusterCluster")]
    NoCluster,
    /// The manifest holds several and none was chosen, or not the one asked for.
    #[error("choose the GlusterCluster with --cluster: the manifest holds {}", .available.join(", "))]
    WhichCluster {
        /// The names in the manifest.
        available: Vec<String>,
    },
    /// The spec cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// No node has this name or position.
    #[error("--node {selector}: no such node; the cluster has {} (or their positions 0 to {})", .available.join(", "), .available.len().saturating_sub(1))]
    NoSuchNode {
        /// What was asked for.
        selector: String,
        /// The node names, by position.
        available: Vec<String>,
    },
    /// The node's brick device cannot be decided from the flags.
    #[error("node {node}: {why}")]
    Device {
        /// The node.
        node: String,
        /// What to pass.
        why: String,
    },
    /// The distribution family cannot be guessed from the image name.
    #[error(
        "spec.image {image:?}: cannot tell its distribution family; pass --distro debian or --distro el"
    )]
    UnknownDistro {
        /// The image.
        image: String,
    },
    /// Rendering failed.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
}

/// Renders the user-data of the requested node of the GlusterCluster in `manifest`.
pub fn render_preview(manifest: &str, request: PreviewRequest) -> Result<Preview, PreviewError> {
    let cluster = pick_cluster(manifest, request.cluster.as_deref())?;
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let spec = &cluster.spec;
    let plan = plan_cluster(&name, spec, &CloudFacts::default())?;
    let node = select_node(&plan.nodes, &request.node)?;
    let device = device_for(node, request.volume_id, request.ephemeral)?;
    let distro = match request.distro {
        Some(d) => d,
        None => DistroFamily::guess_from_image_name(&spec.image).ok_or_else(|| {
            PreviewError::UnknownDistro {
                image: spec.image.clone(),
            }
        })?,
    };
    let bootstrap = NodeBootstrap {
        cluster_name: name,
        node_name: node.name.clone(),
        distro,
        gluster: spec.gluster.clone(),
        device: device.clone(),
        mount_path: plan.mount_path.clone(),
        operator_key: request.operator_key,
        host_key: request.host_key,
        extra_user_data: request.extra_user_data,
        // The operator derives it from the cluster's UID, which a preview does not have.
        glusterd_uuid: None,
        glusterd_peers: Vec::new(),
        // A preview holds no key material; a node of a cluster with TLS also gets
        // /usr/lib/ssl/glusterfs.{pem,key,ca} and /var/lib/glusterd/secure-access.
        tls: None,
    };
    Ok(Preview {
        node: node.name.clone(),
        device,
        distro,
        user_data: render_user_data(&bootstrap)?,
    })
}

fn pick_cluster(manifest: &str, wanted: Option<&str>) -> Result<GlusterCluster, PreviewError> {
    let mut clusters = Vec::new();
    for doc in parse_documents(manifest) {
        if let Document::Cluster { cluster, .. } = doc? {
            clusters.push(*cluster);
        }
    }
    let names: Vec<String> = clusters
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    if clusters.is_empty() {
        return Err(PreviewError::NoCluster);
    }
    let index = match wanted {
        Some(w) => names.iter().position(|n| n == w),
        None if clusters.len() == 1 => Some(0),
        None => None,
    };
    match index {
        Some(i) => Ok(clusters.swap_remove(i)),
        None => Err(PreviewError::WhichCluster { available: names }),
    }
}

/// The node called `selector`, or whose 0-based cluster-wide index is `selector`.
pub fn select_node<'a>(
    nodes: &'a [PlannedNode],
    selector: &str,
) -> Result<&'a PlannedNode, PreviewError> {
    let mut ordered: Vec<&PlannedNode> = nodes.iter().collect();
    ordered.sort_by_key(|n| n.index);
    let by_name = ordered.iter().find(|n| n.name == selector);
    let by_index = || {
        let wanted = selector.parse::<u32>().ok()?;
        ordered.iter().find(|n| n.index == wanted)
    };
    match by_name.or_else(by_index) {
        Some(n) => Ok(n),
        None => Err(PreviewError::NoSuchNode {
            selector: selector.to_string(),
            available: ordered.iter().map(|n| n.name.clone()).collect(),
        }),
    }
}

fn device_for(
    node: &PlannedNode,
    volume_id: Option<String>,
    ephemeral: bool,
) -> Result<BrickDevice, PreviewError> {
    let err = |why: &str| PreviewError::Device {
        node: node.name.clone(),
        why: why.to_string(),
    };
    match (&node.storage, volume_id, ephemeral) {
        (_, Some(_), true) => Err(err("give --volume-id or --ephemeral, not both")),
        (StorageChoice::Ephemeral { .. }, None, _) => Ok(BrickDevice::Ephemeral),
        (StorageChoice::Ephemeral { .. }, Some(_), false) => Err(err(
            "its zone keeps bricks on the ephemeral disk (zones[].storage), so --volume-id does not apply",
        )),
        (StorageChoice::Volume { .. }, _, true) => Err(err(
            "its zone keeps bricks on Cinder volumes (zones[].storage), so --ephemeral does not apply",
        )),
        (StorageChoice::Volume { .. } | StorageChoice::Undecided { .. }, Some(id), false) => {
            Ok(BrickDevice::Volume { id })
        }
        (StorageChoice::Undecided { .. }, None, true) => Ok(BrickDevice::Ephemeral),
        (StorageChoice::Volume { .. }, None, false) => Err(err(
            "its brick is a Cinder volume the operator creates; pass --volume-id ID to render with that volume's ID",
        )),
        (StorageChoice::Undecided { .. }, None, false) => Err(err(
            "its zone's storage is Auto (the cloud decides); pass --volume-id ID for a Cinder volume or --ephemeral for the ephemeral disk",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: storage.glusterops.dev/v1alpha1
kind: GlusterCluster
metadata: {name: demo}
spec:
  cloud: {secretName: s, cloudName: c}
  image: ubuntu-22.04
  flavor: m1.medium
  network: private
  zones:
  - {name: zone-a, nodes: 2, storage: Volume}
  - {name: zone-b, nodes: 2, storage: Ephemeral}
  - {name: zone-c, nodes: 2}
  brick: {size: 10Gi}
  volume: {name: data, replicas: 3}
";

    fn request(node: &str) -> PreviewRequest {
        PreviewRequest {
            node: node.to_string(),
            cluster: None,
            distro: None,
            volume_id: None,
            ephemeral: false,
            operator_key: SshKeyPair::generate("op").unwrap().public_key().clone(),
            host_key: SshKeyPair::generate("host").unwrap(),
            extra_user_data: None,
        }
    }

    fn nodes() -> Vec<PlannedNode> {
        let cluster = pick_cluster(MANIFEST, None).unwrap();
        plan_cluster("demo", &cluster.spec, &CloudFacts::default())
            .unwrap()
            .nodes
    }

    #[test]
    fn nodes_are_selected_by_name_or_position() {
        let nodes = nodes();
        let mut ordered = nodes.clone();
        ordered.sort_by_key(|n| n.index);
        assert_eq!(select_node(&nodes, "0").unwrap().name, ordered[0].name);
        assert_eq!(select_node(&nodes, "5").unwrap().name, ordered[5].name);
        let last = &ordered[5].name;
        assert_eq!(&select_node(&nodes, last).unwrap().name, last);
        let err = select_node(&nodes, "6").unwrap_err().to_string();
        assert!(err.starts_with("--node 6: no such node"), "{err}");
        assert!(err.contains("positions 0 to 5"), "{err}");
    }

    #[test]
    fn the_device_follows_the_zone_storage() {
        let nodes = nodes();
        let in_zone = |zone: &str| nodes.iter().find(|n| n.zone == zone).unwrap().name.clone();

        let out = render_preview(MANIFEST, request(&in_zone("zone-b"))).unwrap();
        assert_eq!(out.device, BrickDevice::Ephemeral);
        assert_eq!(out.distro, DistroFamily::Debian);

        let err = render_preview(MANIFEST, request(&in_zone("zone-a"))).unwrap_err();
        assert!(err.to_string().contains("pass --volume-id ID"), "{err}");
        let mut r = request(&in_zone("zone-a"));
        r.volume_id = Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into());
        let out = render_preview(MANIFEST, r).unwrap();
        assert!(
            out.user_data
                .as_str()
                .contains("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        );

        let err = render_preview(MANIFEST, request(&in_zone("zone-c"))).unwrap_err();
        assert!(err.to_string().contains("storage is Auto"), "{err}");
        let mut r = request(&in_zone("zone-c"));
        r.ephemeral = true;
        assert_eq!(
            render_preview(MANIFEST, r).unwrap().device,
            BrickDevice::Ephemeral
        );
    }

    #[test]
    fn cluster_and_distro_errors() {
        let two = format!(
            "{MANIFEST}---\n{}",
            MANIFEST.replace("name: demo", "name: other")
        );
        let err = render_preview(&two, request("0")).unwrap_err().to_string();
        assert_eq!(
            err,
            "choose the GlusterCluster with --cluster: the manifest holds demo, other"
        );
        let mut r = request("other-zone-b-1");
        r.cluster = Some("other".into());
        assert_eq!(render_preview(&two, r).unwrap().node, "other-zone-b-1");

        let cirros = MANIFEST.replace("ubuntu-22.04", "cirros");
        let mut r = request("demo-zone-b-1");
        let err = render_preview(&cirros, request("demo-zone-b-1")).unwrap_err();
        assert!(err.to_string().contains("pass --distro"), "{err}");
        r.distro = Some(DistroFamily::El);
        assert_eq!(render_preview(&cirros, r).unwrap().distro, DistroFamily::El);

        let err = render_preview("apiVersion: v1\nkind: ConfigMap\n", request("0")).unwrap_err();
        assert_eq!(err.to_string(), "the manifest holds no GlusterCluster");
    }
}

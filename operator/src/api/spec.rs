//! `GlusterCluster` spec: what the user asks for (`docs/design.md`, "The resource"). The field
//! names are the API.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::GlusterClusterStatus;

/// A GlusterFS storage cluster on OpenStack: Nova servers with one brick each (a Cinder volume,
/// or the local ephemeral disk of a larger flavor), a trusted pool and one gluster volume laid out
/// across availability zones.
// clippy reads the repeated `type_ = "string"` of separate printcolumns as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
// Each printcolumn(...) repeats `type_ = ...`, which clippy mistakes for one attribute given twice.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "storage.glusterops.dev",
    version = "v1alpha1",
    kind = "GlusterCluster",
    plural = "glusterclusters",
    singular = "glustercluster",
    shortname = "gcl",
    category = "gluster",
    namespaced,
    cel,
    status = "GlusterClusterStatus",
    derive = "PartialEq",
    doc = "A GlusterFS storage cluster on OpenStack, built and run by gluster-operator.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#,
        description = "Whether the volume is started and every node is ready"
    ),
    printcolumn(
        name = "Nodes",
        type_ = "string",
        json_path = ".status.nodeSummary",
        description = "Ready nodes / desired nodes"
    ),
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".status.volume.type",
        description = "Gluster volume type"
    ),
    printcolumn(
        name = "Capacity",
        type_ = "string",
        json_path = ".status.capacity",
        description = "Usable capacity of the gluster volume"
    ),
    printcolumn(
        name = "Degraded",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Degraded")].reason"#,
        description = "Healthy, or why the cluster is Degraded (BrickOffline, HealPending, ...)"
    ),
    printcolumn(
        name = "Bricks",
        type_ = "string",
        json_path = ".status.health.bricks",
        description = "Bricks online / bricks of the volume"
    ),
    printcolumn(
        name = "Heal",
        type_ = "integer",
        json_path = ".status.health.healPending",
        description = "Entries pending self-heal"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.zones.all(z, self.zones.filter(y, y.name == z.name).size() == 1)").message("spec.zones[].name must be unique").field_path(".zones"))]
#[x_kube(validation = Rule::new("!has(self.autoscaling) || !self.autoscaling.enabled || self.zones.all(z, has(z.minNodes) && has(z.maxNodes))").message("spec.autoscaling.enabled needs minNodes and maxNodes on every zone").field_path(".autoscaling"))]
#[x_kube(validation = Rule::new("has(self.keyName) == has(oldSelf.keyName) && (!has(self.keyName) || self.keyName == oldSelf.keyName)").message("spec.keyName is immutable: it is set on every server at creation").field_path(".keyName"))]
#[serde(rename_all = "camelCase")]
pub struct GlusterClusterSpec {
    /// Where the OpenStack credentials are. Credentials never appear in the resource itself.
    /// Immutable (`secretName`, `cloudName` and `region`): another cloud would orphan every
    /// server and volume of the cluster.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.cloud (secretName, cloudName, region) is immutable: another cloud would orphan the cluster's servers and volumes"))]
    pub cloud: CloudSpec,
    /// The server image, by name or ID (e.g. `ubuntu-22.04`). Debian/Ubuntu and EL-family
    /// images are supported.
    #[schemars(length(min = 1, max = 255))]
    pub image: String,
    /// The server flavor, by name or ID, for zones whose brick is a Cinder volume.
    #[schemars(length(min = 1, max = 255))]
    pub flavor: String,
    /// The Neutron network the servers attach to, by name or ID. Immutable.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.network is immutable: the nodes' ports and addresses live on it"))]
    pub network: String,
    /// An extra Nova key pair for administrators, by name. Optional; the operator's own SSH key is
    /// generated per cluster and kept in a Secret. Immutable (neither set, changed nor unset
    /// once created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Where SSH (port 22) to the nodes is allowed from, as CIDRs: where the operator runs (it
    /// drives gluster over SSH) and any administrators' hosts. Default: the subnets of
    /// `network` (never the world; `0.0.0.0/0` opens SSH to anyone and is reported with a
    /// Warning Event).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 43)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("spec.sshFrom must be CIDRs such as 10.0.0.0/24"))]
    pub ssh_from: Vec<String>,
    /// The availability zones the cluster spans and how many nodes each holds. Replica sets are
    /// spread across zones (bricks interleave A1 B1 A2 B2 …).
    /// A list keyed by `name`, so server-side apply merges zones by name.
    /// Zone names cannot be renamed: one update may add zones or remove zones, not both (a
    /// rename is a removal plus an addition); to move a cluster to another zone, add the new
    /// zone in one update and remove the old one in the next.
    #[schemars(length(min = 1, max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[x_kube(validation = Rule::new("oldSelf.all(o, self.exists(z, z.name == o.name)) || self.all(z, oldSelf.exists(o, o.name == z.name))").message("spec.zones[].name cannot be renamed: an update may add zones or remove zones, not both at once"))]
    pub zones: Vec<ZoneSpec>,
    /// The brick each node contributes: its size, volume type, optional clone source and mount path.
    pub brick: BrickSpec,
    /// The gluster volume: name, replica and stripe counts, options, allowed clients.
    pub volume: VolumeSpec,
    /// Where gluster comes from on the nodes. Default: the image distribution's own packages.
    #[serde(default)]
    pub gluster: GlusterSpec,
    /// Load-driven scaling of each zone between its minNodes and maxNodes. Default: disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// What happens to the Cinder brick volumes when the GlusterCluster is deleted. `Retain`
    /// (default) detaches and keeps them, named so they can be found; `Delete` deletes them.
    /// Changing it to `Delete` on a live cluster needs the annotation
    /// `storage.glusterops.dev/allow-delete-policy: "true"` on the object (enforced by the
    /// ValidatingAdmissionPolicy in `crds/glustercluster-admission.yaml`).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// Where the OpenStack credentials are.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudSpec {
    /// Name of a Secret in the cluster's namespace with the key `clouds.yaml` (the standard
    /// OpenStack client configuration). Application credentials are recommended.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub secret_name: String,
    /// The entry of `clouds.yaml` to use (e.g. `openstack`).
    #[schemars(length(min = 1, max = 255))]
    pub cloud_name: String,
    /// The region, when the cloud has several. Default: the `region_name` of the clouds.yaml entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One availability zone of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("!has(self.minNodes) || self.minNodes <= self.nodes").message("zones[].minNodes must be less than or equal to zones[].nodes").field_path(".minNodes"))]
#[x_kube(validation = Rule::new("!has(self.maxNodes) || self.nodes <= self.maxNodes").message("zones[].nodes must be less than or equal to zones[].maxNodes").field_path(".maxNodes"))]
#[serde(rename_all = "camelCase")]
pub struct ZoneSpec {
    /// The Nova availability zone (e.g. `nova`, `zone-a`).
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// How many nodes (servers, one brick each) this zone should hold.
    #[schemars(range(min = 0, max = 1000))]
    pub nodes: u32,
    /// The fewest nodes scaling (manual or automatic) may leave in this zone. Default: no bound
    /// beyond what the volume layout needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub min_nodes: Option<u32>,
    /// The most nodes autoscaling may put in this zone. Default: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub max_nodes: Option<u32>,
    /// Where the bricks live. `Auto` (default): a Cinder volume where Cinder serves this
    /// availability zone, else the local ephemeral disk of `fallbackFlavor`. `Volume`: always
    /// Cinder. `Ephemeral`: always the local disk.
    #[serde(default)]
    pub storage: StorageMode,
    /// The larger flavor (with a local ephemeral disk at least the brick size) used where the
    /// brick is the ephemeral disk. Default: `spec.flavor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_flavor: Option<String>,
}

/// Where a zone's bricks live.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum StorageMode {
    /// A Cinder volume where the zone has block storage, else the ephemeral disk.
    #[default]
    Auto,
    /// Always a Cinder volume.
    Volume,
    /// Always the local ephemeral disk of the fallback flavor.
    Ephemeral,
}

/// The brick each node contributes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("isQuantity(self.size) && quantity(self.size).compareTo(quantity('1Gi')) >= 0").message("brick.size must be a quantity of at least 1Gi (e.g. 200Gi)").field_path(".size"))]
#[x_kube(validation = Rule::new("has(self.mountPath) == has(oldSelf.mountPath) && (!has(self.mountPath) || self.mountPath == oldSelf.mountPath)").message("brick.mountPath is immutable").field_path(".mountPath"))]
#[x_kube(validation = Rule::new("!has(self.mountPath) || (self.mountPath.matches('^/(export|data|srv)/') && !self.mountPath.contains('/../') && !self.mountPath.endsWith('/..') && !self.mountPath.contains('/./') && !self.mountPath.endsWith('/.'))").message("brick.mountPath must be below /export/, /data/ or /srv/, without `.` or `..` segments").field_path(".mountPath"))]
#[x_kube(validation = Rule::new("has(self.source) == has(oldSelf.source) && (!has(self.source) || self.source == oldSelf.source)").message("brick.source is immutable: existing bricks were cloned from it").field_path(".source"))]
#[serde(rename_all = "camelCase")]
pub struct BrickSpec {
    /// The brick size, a Kubernetes quantity (e.g. `200Gi`); at least `1Gi`. Cinder volumes are
    /// created with this size rounded up to whole GiB.
    #[schemars(schema_with = "quantity_string_schema")]
    pub size: Quantity,
    /// The Cinder volume type. Default: the cloud's default volume type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Create each brick volume as a clone of this volume or snapshot ("a clone of a master").
    /// Immutable (neither set, changed nor unset once created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BrickSource>,
    /// Where the brick filesystem (XFS, inode size 512) is mounted on each node. Immutable.
    /// Default: `/export/<volume name>`. The brick itself is the subdirectory `brick` below it.
    /// Only below `/export/`, `/data/` or `/srv/`, without `.` or `..` segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$"),
        length(max = 200)
    )]
    pub mount_path: Option<String>,
}

/// A Cinder volume or snapshot to clone each brick from. Exactly one of the two is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.volumeId) != has(self.snapshotId)").message("brick.source needs exactly one of volumeId or snapshotId"))]
#[serde(rename_all = "camelCase")]
pub struct BrickSource {
    /// ID of a Cinder volume to clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    /// ID of a Cinder snapshot to create each brick from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
}

/// The gluster volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("!(has(self.disperse) && has(self.replicas))").message("volume.disperse and volume.replicas cannot both be set"))]
#[x_kube(validation = Rule::new("!has(self.arbiter) || (has(self.replicas) && self.replicas == 3)").message("volume.arbiter needs volume.replicas 3 (two data bricks and one arbiter per set)").field_path(".arbiter"))]
#[x_kube(validation = Rule::new("!has(self.redundancy) || (has(self.disperse) && 2 * self.redundancy < self.disperse)").message("volume.redundancy needs volume.disperse and must be less than half of it").field_path(".redundancy"))]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    /// The gluster volume name. Immutable.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("volume.name is immutable"))]
    pub name: String,
    /// Bricks per replica set. Default (with `stripes` unset too): every node holds every file
    /// (replica count = total nodes). When set, the total node count must be a multiple of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub replicas: Option<u32>,
    /// Distribute subvolumes that large files are sharded across. GlusterFS ≥ 6 has no stripe
    /// translator: the operator maps `stripes` to that many distribute subvolumes and turns on
    /// `features.shard`. `replicas × stripes` must equal the total node count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub stripes: Option<u32>,
    /// Arbiter bricks per replica set; only `1`, with `replicas: 3` (the third brick of each set
    /// holds metadata only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1))]
    pub arbiter: Option<u32>,
    /// Bricks per disperse (erasure-coded) set. Exclusive with `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 64))]
    pub disperse: Option<u32>,
    /// Bricks per disperse set that may be lost without losing data. Needs `disperse`, and
    /// `2 × redundancy < disperse`. Default: gluster's choice for the disperse count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31))]
    pub redundancy: Option<u32>,
    /// The transport. Only `tcp` (GlusterFS ≥ 8 removed RDMA).
    #[serde(default)]
    pub transport: Transport,
    /// Extra `gluster volume set` options, name to value (e.g. `performance.cache-size: 256MB`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 128))]
    pub options: BTreeMap<String, String>,
    /// Client networks allowed to mount the volume, as CIDRs (e.g. `10.0.0.0/8`); they become
    /// `auth.allow` and the security group's sources for the gluster ports. Default: none (only
    /// the cluster's own nodes reach the gluster ports). Any client needs an explicit
    /// `0.0.0.0/0`, which is reported with a Warning Event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 43)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("volume.allowedClients must be CIDRs such as 10.0.0.0/8"))]
    pub allowed_clients: Vec<String>,
    /// Gluster TLS (management `secure-access`, I/O `client.ssl`/`server.ssl`, `auth.ssl-allow`)
    /// with a CA and certificates the operator issues; clients mount with the Secret
    /// `<name>-client-tls`. Default on. Read when the cluster is built: a cluster built without
    /// TLS stays without it (turning it on restarts every brick and needs every client to
    /// remount with a certificate), and one built with TLS keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
}

impl VolumeSpec {
    /// Whether the spec asks for TLS (`tls`, default on).
    pub fn tls_wanted(&self) -> bool {
        self.tls.unwrap_or(true)
    }
}

/// The gluster transport.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    #[default]
    Tcp,
}

/// Where gluster comes from on the nodes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new(format!("!has(self.repository) || self.repository.matches(r'{REPOSITORY_PATTERN}')")).message("gluster.repository must be ppa:OWNER/NAME, `deb [signed-by=/usr/share/keyrings/FILE] http(s)://HOST/PATH SUITE COMPONENT...`, or an EL release package name").field_path(".repository"))]
#[x_kube(validation = Rule::new(format!("!has(self.repository) || !self.repository.matches(r'{INSECURE_APT_OPTION_PATTERN}')")).message("gluster.repository must not disable apt's signature checks (trusted=yes, allow-insecure, allow-weak, allow-downgrade-to-insecure)").field_path(".repository"))]
#[serde(rename_all = "camelCase")]
pub struct GlusterSpec {
    /// An extra package repository to install gluster from. On Debian/Ubuntu: a PPA
    /// (`ppa:OWNER/NAME`, e.g. `ppa:gluster/glusterfs-11`) or one apt source line of the form
    /// `deb [signed-by=/usr/share/keyrings/FILE] http(s)://HOST[:PORT]/PATH SUITE COMPONENT...`
    /// (the `[signed-by=...]` option is the only one accepted, and optional; SUITE may be
    /// `$RELEASE`); options that disable signature checks such as `[trusted=yes]` are refused.
    /// On EL: a release package name (e.g. `centos-release-gluster11`). Default: the
    /// distribution's own packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub repository: Option<String>,
    /// The package version to pin (e.g. `11.1`). Default: the newest the repository has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Load-driven scaling of each zone between its minNodes and maxNodes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("self.scaleInThreshold < self.scaleOutThreshold").message("autoscaling.scaleInThreshold must be below autoscaling.scaleOutThreshold"))]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    /// Whether the operator scales zones by itself. Default: false.
    #[serde(default)]
    pub enabled: bool,
    /// What load is measured. Default: `BrickCapacityUsed`.
    #[serde(default)]
    pub metric: AutoscalingMetric,
    /// Scale out when the metric is above this percentage. Default: 80.
    #[serde(default = "default_scale_out_threshold")]
    #[schemars(range(min = 1, max = 100))]
    pub scale_out_threshold: u32,
    /// Scale in when the metric is below this percentage. Default: 30.
    #[serde(default = "default_scale_in_threshold")]
    #[schemars(range(min = 0, max = 99))]
    pub scale_in_threshold: u32,
    /// How long the metric must stay above the scale-out threshold, in seconds. Default: 300.
    #[serde(default = "default_scale_out_window")]
    #[schemars(range(min = 0, max = 86400))]
    pub scale_out_stabilization_seconds: u32,
    /// How long the metric must stay below the scale-in threshold, in seconds. Default: 3600.
    #[serde(default = "default_scale_in_window")]
    #[schemars(range(min = 0, max = 604800))]
    pub scale_in_stabilization_seconds: u32,
    /// The least time between two scaling steps, in seconds. Default: 600.
    #[serde(default = "default_cooldown")]
    #[schemars(range(min = 0, max = 86400))]
    pub cooldown_seconds: u32,
}

/// The load autoscaling measures.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AutoscalingMetric {
    /// Percentage of brick capacity in use (the fullest brick counts).
    #[default]
    BrickCapacityUsed,
    /// Node load: the one-minute load average as a percentage of the node's vCPUs.
    NodeLoad,
}

/// What happens to Cinder brick volumes when the GlusterCluster is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Detach and keep the volumes (the data survives). Default.
    #[default]
    Retain,
    /// Delete the volumes with the cluster.
    Delete,
}

/// Volume names the gluster CLI refuses (its `cli_validate_volname` list, plus `help`, which its
/// parser takes for a request for help). The planner and the node executor both check them.
pub const RESERVED_VOLUME_NAMES: [&str; 14] = [
    "volume",
    "type",
    "help",
    "subvolumes",
    "option",
    "end-volume",
    "all",
    "volume_not_in_ring",
    "description",
    "force",
    "snap-max-hard-limit",
    "snap-max-soft-limit",
    "auto-delete",
    "activate-on-create",
];

/// The directories a brick may be mounted below (`spec.brick.mountPath`): never a system
/// directory such as `/etc` or `/usr`.
pub const ALLOWED_MOUNT_PREFIXES: [&str; 3] = ["/export/", "/data/", "/srv/"];

/// The annotation that allows changing `spec.deletionPolicy` to `Delete` on an existing
/// GlusterCluster; its value must be `"true"`.
pub const ALLOW_DELETE_POLICY_ANNOTATION: &str = "storage.glusterops.dev/allow-delete-policy";

/// The forms `spec.gluster.repository` may take (RE2 and Rust `regex` syntax, anchored; no
/// quotes, so it embeds in a raw CEL string `r'…'` as is): a PPA `ppa:OWNER/NAME`; one apt
/// source line `deb [signed-by=/usr/share/keyrings/FILE] http(s)://HOST[:PORT]/PATH SUITE
/// COMPONENT...` whose only option is an optional `signed-by` keyring (under
/// `/usr/share/keyrings/` or `/etc/apt/keyrings/`), SUITE a name or `$RELEASE`; or an EL release
/// package name.
pub const REPOSITORY_PATTERN: &str = concat!(
    "^(",
    "ppa:[A-Za-z0-9.+_-]+/[A-Za-z0-9.+_-]+",
    r"|deb( \[signed-by=/(usr/share|etc/apt)/keyrings/[A-Za-z0-9._+-]+\])?",
    " https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~+-]*)*",
    " ([A-Za-z0-9._/+-]+|[$]RELEASE)( [A-Za-z0-9._+-]+)*",
    "|[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}",
    ")$"
);

/// apt source options that turn off signature checks (`[trusted=yes]` and its relatives),
/// refused in `spec.gluster.repository` with a message of their own (case-insensitive).
pub const INSECURE_APT_OPTION_PATTERN: &str =
    "(?i)(trusted|allow-insecure|allow-weak|allow-downgrade-to-insecure)[ ]*=";

fn default_scale_out_threshold() -> u32 {
    80
}
fn default_scale_in_threshold() -> u32 {
    30
}
fn default_scale_out_window() -> u32 {
    300
}
fn default_scale_in_window() -> u32 {
    3600
}
fn default_cooldown() -> u32 {
    600
}

/// A quantity as the apiserver sees it in this API: a string such as `200Gi` (not the
/// int-or-string of core Kubernetes quantities, so CEL's `quantity()` applies to it).
fn quantity_string_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$",
    })
}

//! Why a spec (or a change of it) cannot be planned. Every message names the spec field and the
//! numbers involved; every variant has a short CamelCase reason for status conditions.

/// A refusal by the planner. Nothing is half-built: the planner either yields a whole plan or
/// one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `metadata.name` is empty or has nothing usable in a host name.
    #[error("metadata.name {name:?} gives no usable host name prefix (it needs a letter or digit)")]
    InvalidClusterName {
        /// The cluster name as given.
        name: String,
    },
    /// `spec.zones` is empty.
    #[error("spec.zones is empty; a cluster needs at least one zone")]
    NoZones,
    /// A zone has an empty name or one with nothing usable in a host name.
    #[error("spec.zones[{index}].name {name:?} is not usable (it needs a letter or digit)")]
    InvalidZoneName {
        /// Position of the zone in `spec.zones`.
        index: usize,
        /// The name as given.
        name: String,
    },
    /// Two zones share a name.
    #[error(
        "spec.zones[{index}].name {name:?} appears twice in spec.zones; zone names must be unique"
    )]
    DuplicateZone {
        /// Position of the second occurrence.
        index: usize,
        /// The repeated name.
        name: String,
    },
    /// The zones hold no node at all.
    #[error("spec.zones hold 0 nodes in total ({zones}); a volume needs at least one node")]
    NoNodes {
        /// Per-zone counts, e.g. `zone-a: 0`.
        zones: String,
    },
    /// A zone asks for fewer nodes than its `minNodes`.
    #[error("spec.zones[{index}] ({zone}) asks for {nodes} nodes, below its minNodes {min}")]
    BelowMinNodes {
        /// Position of the zone.
        index: usize,
        /// Zone name.
        zone: String,
        /// Requested nodes.
        nodes: u32,
        /// The zone's `minNodes`.
        min: u32,
    },
    /// A zone asks for more nodes than its `maxNodes`.
    #[error("spec.zones[{index}] ({zone}) asks for {nodes} nodes, above its maxNodes {max}")]
    AboveMaxNodes {
        /// Position of the zone.
        index: usize,
        /// Zone name.
        zone: String,
        /// Requested nodes.
        nodes: u32,
        /// The zone's `maxNodes`.
        max: u32,
    },
    /// Autoscaling is on but a zone has no bounds to scale between.
    #[error(
        "spec.autoscaling.enabled is true but spec.zones[{index}] ({zone}) has no {missing}; \
         autoscaling needs minNodes and maxNodes on every zone"
    )]
    AutoscalingBoundsMissing {
        /// Position of the zone.
        index: usize,
        /// Zone name.
        zone: String,
        /// `minNodes`, `maxNodes` or both.
        missing: String,
    },
    /// `spec.volume.replicas` is 0.
    #[error("spec.volume.replicas must be at least 1, got 0")]
    ReplicasZero,
    /// `spec.volume.stripes` is 0.
    #[error("spec.volume.stripes must be at least 1, got 0")]
    StripesZero,
    /// The node count is not a multiple of the replica count.
    #[error(
        "spec.volume.replicas {replicas} does not divide the {nodes} nodes of spec.zones ({zones})"
    )]
    ReplicasDoNotDivideNodes {
        /// Replica count.
        replicas: u32,
        /// Total nodes.
        nodes: u32,
        /// Per-zone counts.
        zones: String,
    },
    /// `stripes × replicas` differs from the node count.
    #[error(
        "spec.volume.stripes {stripes} × spec.volume.replicas {replicas} = {product} but spec.zones \
         hold {nodes} nodes ({zones})"
    )]
    StripesTimesReplicasNotNodes {
        /// Stripe count.
        stripes: u32,
        /// Replica count.
        replicas: u32,
        /// Their product.
        product: u64,
        /// Total nodes.
        nodes: u32,
        /// Per-zone counts.
        zones: String,
    },
    /// `stripes × disperse` differs from the node count.
    #[error(
        "spec.volume.stripes {stripes} × spec.volume.disperse {disperse} = {product} but \
         spec.zones hold {nodes} nodes ({zones})"
    )]
    StripesTimesDisperseNotNodes {
        /// Stripe count.
        stripes: u32,
        /// Disperse count.
        disperse: u32,
        /// Their product.
        product: u64,
        /// Total nodes.
        nodes: u32,
        /// Per-zone counts.
        zones: String,
    },
    /// The node count is not a multiple of the stripe count (replicas unset).
    #[error(
        "spec.volume.stripes {stripes} does not divide the {nodes} nodes of spec.zones ({zones}); \
         with spec.volume.replicas unset each of the {stripes} stripes gets nodes / stripes bricks"
    )]
    StripesDoNotDivideNodes {
        /// Stripe count.
        stripes: u32,
        /// Total nodes.
        nodes: u32,
        /// Per-zone counts.
        zones: String,
    },
    /// The node count is not a multiple of the disperse count.
    #[error(
        "spec.volume.disperse {disperse} does not divide the {nodes} nodes of spec.zones ({zones})"
    )]
    DisperseDoesNotDivideNodes {
        /// Disperse count.
        disperse: u32,
        /// Total nodes.
        nodes: u32,
        /// Per-zone counts.
        zones: String,
    },
    /// Arbiter asked with something other than `arbiter: 1` and `replicas: 3`.
    #[error(
        "spec.volume.arbiter {arbiter} needs spec.volume.replicas 3 and arbiter 1 (two data bricks \
         and one arbiter per set), got replicas {replicas}"
    )]
    InvalidArbiter {
        /// The arbiter count given.
        arbiter: u32,
        /// The replica count given (`unset` when absent).
        replicas: String,
    },
    /// Both `disperse` and `replicas` are set.
    #[error(
        "spec.volume.disperse {disperse} and spec.volume.replicas {replicas} cannot both be set"
    )]
    DisperseWithReplicas {
        /// Disperse count.
        disperse: u32,
        /// Replica count.
        replicas: u32,
    },
    /// A disperse set needs at least 3 bricks.
    #[error("spec.volume.disperse {disperse} is too small; a disperse set needs at least 3 bricks")]
    DisperseTooSmall {
        /// Disperse count.
        disperse: u32,
    },
    /// `redundancy` without `disperse`.
    #[error("spec.volume.redundancy {redundancy} needs spec.volume.disperse")]
    RedundancyWithoutDisperse {
        /// Redundancy count.
        redundancy: u32,
    },
    /// `redundancy` is 0 or not below half of `disperse`.
    #[error(
        "spec.volume.redundancy {redundancy} must be at least 1 and 2 × redundancy must be below \
         spec.volume.disperse {disperse}"
    )]
    InvalidRedundancy {
        /// Redundancy count.
        redundancy: u32,
        /// Disperse count.
        disperse: u32,
    },
    /// The zones are too uneven for every set to span min(set size, zones) zones.
    #[error("cannot spread the {sets} {kind} sets of {set_size} across zones ({zones}): {detail}")]
    UnevenZones {
        /// `replica` or `disperse`.
        kind: &'static str,
        /// Number of sets.
        sets: u32,
        /// Bricks per set.
        set_size: u32,
        /// Per-zone counts of the nodes being laid out.
        zones: String,
        /// Which zones break the rule and by how much.
        detail: String,
    },
    /// A node name would not fit a DNS label (63 characters).
    #[error(
        "node name {name:?} is {len} characters, more than the 63 a host name label holds; shorten \
         metadata.name or spec.zones[{zone_index}].name"
    )]
    NameTooLong {
        /// The name that would be produced.
        name: String,
        /// Its length.
        len: usize,
        /// Position of its zone.
        zone_index: usize,
    },
    /// The volume name is not one gluster accepts.
    #[error("spec.volume.name {name:?} is not a valid gluster volume name: {why}")]
    InvalidVolumeName {
        /// The name given.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The brick mount path is not a clean absolute path.
    #[error("spec.brick.mountPath {path:?} is not usable: {why}")]
    InvalidMountPath {
        /// The path given.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The brick size is not a quantity of at least 1Gi.
    #[error("spec.brick.size {value:?} is not usable: {why}")]
    InvalidBrickSize {
        /// The size given.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// A `volume set` option is malformed.
    #[error("spec.volume.options[{key:?}] is not usable: {why}")]
    InvalidOption {
        /// The option name.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// An option that another field owns.
    #[error(
        "spec.volume.options[{key:?}] is set by the operator from {field}; remove it from options"
    )]
    ConflictingOption {
        /// The option name.
        key: String,
        /// The field that owns it.
        field: &'static str,
    },
    /// An allowed client is not a CIDR gluster's auth.allow can express.
    #[error("spec.volume.allowedClients[{index}] {value:?} is not usable: {why}")]
    InvalidAllowedClient {
        /// Position in the list.
        index: usize,
        /// The value given.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// `storage: Volume` in a zone known to have no block storage.
    #[error(
        "spec.zones[{index}] ({zone}) has storage Volume but the cloud has no block storage \
         (Cinder) in that zone; use storage Auto or Ephemeral with a fallbackFlavor"
    )]
    NoBlockStorage {
        /// Position of the zone.
        index: usize,
        /// Zone name.
        zone: String,
    },
    /// More zones than the API allows (16).
    #[error("spec.zones has {zones} zones, more than {max}")]
    TooManyZones {
        /// How many zones the spec has.
        zones: usize,
        /// The most the API allows.
        max: usize,
    },
    /// A zone asks for more nodes than the API allows (1000).
    #[error("spec.zones[{index}] ({zone}) asks for {nodes} nodes, more than {max}")]
    TooManyNodes {
        /// Zone index.
        index: usize,
        /// Zone name.
        zone: String,
        /// Nodes asked for.
        nodes: u32,
        /// The most the API allows.
        max: u32,
    },
    /// The observed state is inconsistent (a brick on an unknown node, a repeated node, …).
    #[error("the current state cannot be planned from: {detail}")]
    InconsistentState {
        /// What is inconsistent.
        detail: String,
    },
    /// The existing volume's shape differs from what the spec asks, in a way no safe step changes.
    #[error("{field} asks for {wanted} but the volume is {current}; {why}")]
    LayoutMismatch {
        /// The spec field(s) concerned.
        field: &'static str,
        /// What the spec asks.
        wanted: String,
        /// What the volume is.
        current: String,
        /// Why it is refused.
        why: String,
    },
    /// Scale-in that does not remove whole sets.
    #[error(
        "scale-in must remove whole {kind} sets of {set_size}, but removing {removing} matches no \
         combination of the volume's sets ({sets})"
    )]
    NotWholeSets {
        /// `replica` or `disperse`.
        kind: &'static str,
        /// Bricks per set.
        set_size: u32,
        /// Nodes to remove per zone.
        removing: String,
        /// The current sets by zone.
        sets: String,
    },
    /// Scale-in would leave less room than the data needs (with the free margin kept).
    #[error(
        "scale-in to {sets_after} sets would leave {capacity_after} bytes of usable capacity, \
         of which at most {limit} may hold data ({CAPACITY_MARGIN_PERCENT}% kept free), but the \
         volume holds {used} bytes (as the bricks' filesystems report it); lower \
         spec.zones[].nodes less or free space first"
    )]
    InsufficientCapacity {
        /// Sets after the change.
        sets_after: u32,
        /// Usable bytes after the change.
        capacity_after: u64,
        /// The most data the sets after the change may hold (the margin kept free).
        limit: u64,
        /// Bytes in use.
        used: u64,
    },
    /// The volume is stopped: someone stopped it, and the operator does not start it behind
    /// their back.
    #[error(
        "volume {volume} is stopped; the operator never stops a volume and does not start one \
         that someone stopped: start it with `gluster volume start {volume}` when it may serve \
         again"
    )]
    VolumeStopped {
        /// The volume.
        volume: String,
    },
    /// A command needs a node's address that the address map lacks.
    #[error("no address known for node {node}")]
    MissingAddress {
        /// The node.
        node: String,
    },
}

impl PlanError {
    /// A short CamelCase reason for a status condition or a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            PlanError::InvalidClusterName { .. } => "InvalidClusterName",
            PlanError::NoZones => "NoZones",
            PlanError::InvalidZoneName { .. } => "InvalidZoneName",
            PlanError::DuplicateZone { .. } => "DuplicateZone",
            PlanError::NoNodes { .. } => "NoNodes",
            PlanError::BelowMinNodes { .. } => "BelowMinNodes",
            PlanError::AboveMaxNodes { .. } => "AboveMaxNodes",
            PlanError::AutoscalingBoundsMissing { .. } => "AutoscalingBoundsMissing",
            PlanError::ReplicasZero => "ReplicasZero",
            PlanError::StripesZero => "StripesZero",
            PlanError::ReplicasDoNotDivideNodes { .. } => "ReplicasDoNotDivideNodes",
            PlanError::StripesTimesReplicasNotNodes { .. } => "StripesTimesReplicasNotNodes",
            PlanError::StripesTimesDisperseNotNodes { .. } => "StripesTimesDisperseNotNodes",
            PlanError::StripesDoNotDivideNodes { .. } => "StripesDoNotDivideNodes",
            PlanError::DisperseDoesNotDivideNodes { .. } => "DisperseDoesNotDivideNodes",
            PlanError::InvalidArbiter { .. } => "InvalidArbiter",
            PlanError::DisperseWithReplicas { .. } => "DisperseWithReplicas",
            PlanError::DisperseTooSmall { .. } => "DisperseTooSmall",
            PlanError::RedundancyWithoutDisperse { .. } => "RedundancyWithoutDisperse",
            PlanError::InvalidRedundancy { .. } => "InvalidRedundancy",
            PlanError::UnevenZones { .. } => "UnevenZones",
            PlanError::NameTooLong { .. } => "NameTooLong",
            PlanError::InvalidVolumeName { .. } => "InvalidVolumeName",
            PlanError::InvalidMountPath { .. } => "InvalidMountPath",
            PlanError::InvalidBrickSize { .. } => "InvalidBrickSize",
            PlanError::InvalidOption { .. } => "InvalidOption",
            PlanError::ConflictingOption { .. } => "ConflictingOption",
            PlanError::InvalidAllowedClient { .. } => "InvalidAllowedClient",
            PlanError::NoBlockStorage { .. } => "NoBlockStorage",
            PlanError::TooManyZones { .. } => "TooManyZones",
            PlanError::TooManyNodes { .. } => "TooManyNodes",
            PlanError::InconsistentState { .. } => "InconsistentState",
            PlanError::LayoutMismatch { .. } => "LayoutMismatch",
            PlanError::NotWholeSets { .. } => "NotWholeSets",
            PlanError::InsufficientCapacity { .. } => "InsufficientCapacity",
            PlanError::MissingAddress { .. } => "MissingAddress",
            PlanError::VolumeStopped { .. } => "VolumeStopped",
        }
    }
}

/// The share of the capacity left after a scale-in that must stay free, in percent: the data
/// moved off the removed sets lands unevenly, and a brick that fills up fails the drain.
pub const CAPACITY_MARGIN_PERCENT: u64 = 10;

/// The most data `capacity` may hold after a scale-in (the margin kept free).
pub fn scale_in_limit(capacity: u64) -> u64 {
    capacity / 100 * (100 - CAPACITY_MARGIN_PERCENT)
}

/// Per-zone node counts as the error messages show them: `zone-a: 4, zone-b: 2`.
pub(crate) fn zone_counts<'a>(zones: impl IntoIterator<Item = (&'a str, u32)>) -> String {
    zones
        .into_iter()
        .map(|(name, n)| format!("{name}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

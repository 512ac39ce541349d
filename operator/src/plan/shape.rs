//! Layout arithmetic (`docs/design.md`, "Layout arithmetic"): from `spec.volume` and the total node
//! count, the volume type and its replica / arbiter / disperse / redundancy / distribute counts.

use std::fmt;

use crate::api::VolumeSpec;

use super::error::PlanError;

/// What the volume's sets are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// Replica sets (a set of 1 is a plain distribute brick).
    Replica,
    /// Disperse (erasure-coded) sets.
    Disperse,
}

impl SetKind {
    /// `replica` or `disperse`, as messages say it.
    pub fn word(self) -> &'static str {
        match self {
            SetKind::Replica => "replica",
            SetKind::Disperse => "disperse",
        }
    }
}

/// The gluster volume type, spelled as `gluster volume info` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeType {
    /// Bricks without redundancy.
    Distribute,
    /// One replica set.
    Replicate,
    /// Several replica sets.
    DistributedReplicate,
    /// One disperse set.
    Disperse,
    /// Several disperse sets.
    DistributedDisperse,
}

impl VolumeType {
    /// The name gluster uses (`Distributed-Replicate`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Distribute => "Distribute",
            VolumeType::Replicate => "Replicate",
            VolumeType::DistributedReplicate => "Distributed-Replicate",
            VolumeType::Disperse => "Disperse",
            VolumeType::DistributedDisperse => "Distributed-Disperse",
        }
    }
}

impl fmt::Display for VolumeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The volume's shape: type and counts. `sets × set_size = nodes` always holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeShape {
    /// The gluster volume type.
    pub volume_type: VolumeType,
    /// Replica or disperse sets.
    pub kind: SetKind,
    /// Total nodes (= bricks; one brick per node).
    pub nodes: u32,
    /// Bricks per set (replica count, or disperse count).
    pub set_size: u32,
    /// Number of sets (gluster's distribute count).
    pub sets: u32,
    /// Replica count (1 for distribute and disperse volumes).
    pub replica: u32,
    /// Arbiter bricks per replica set (0 or 1).
    pub arbiter: u32,
    /// Disperse count (0 unless disperse).
    pub disperse: u32,
    /// Redundancy per disperse set (0 unless disperse).
    pub redundancy: u32,
    /// Whether the redundancy is gluster's default for the disperse count (the spec left it unset).
    pub redundancy_defaulted: bool,
    /// `stripes`, when set: the volume has that many distribute subvolumes and `features.shard on`.
    pub stripes: Option<u32>,
    /// Replicas, stripes and disperse all unset: the replica count follows the node count, so
    /// growing and shrinking change the replica count instead of adding or removing sets.
    pub replica_follows_nodes: bool,
}

impl VolumeShape {
    /// Whether `features.shard` is turned on (stripes set).
    pub fn sharding(&self) -> bool {
        self.stripes.is_some()
    }

    /// Usable bytes of one set whose bricks hold `brick_bytes` each.
    pub fn set_capacity(&self, brick_bytes: u64) -> u64 {
        match self.kind {
            SetKind::Replica => brick_bytes,
            SetKind::Disperse => {
                brick_bytes.saturating_mul(u64::from(self.disperse.saturating_sub(self.redundancy)))
            }
        }
    }

    /// Usable bytes of the whole volume.
    pub fn capacity(&self, brick_bytes: u64) -> u64 {
        self.set_capacity(brick_bytes)
            .saturating_mul(u64::from(self.sets))
    }

    /// Gluster's own notation: `1 x 4 = 4`, `2 x (2 + 1) = 6`, `3 x 2 = 6`, `4`.
    pub fn notation(&self) -> String {
        match (self.kind, self.volume_type) {
            (_, VolumeType::Distribute) => format!("{}", self.nodes),
            (SetKind::Disperse, _) => format!(
                "{} x ({} + {}) = {}",
                self.sets,
                self.disperse.saturating_sub(self.redundancy),
                self.redundancy,
                self.nodes
            ),
            (SetKind::Replica, _) if self.arbiter > 0 => format!(
                "{} x ({} + {}) = {}",
                self.sets,
                self.replica.saturating_sub(self.arbiter),
                self.arbiter,
                self.nodes
            ),
            (SetKind::Replica, _) => format!("{} x {} = {}", self.sets, self.replica, self.nodes),
        }
    }
}

/// The shape of `volume` over `nodes` nodes. `zones` is the per-zone count text for messages.
pub fn derive_shape(
    volume: &VolumeSpec,
    nodes: u32,
    zones: &str,
) -> Result<VolumeShape, PlanError> {
    check_counts(volume)?;
    if nodes == 0 {
        return Err(PlanError::NoNodes {
            zones: zones.to_string(),
        });
    }
    if let Some(disperse) = volume.disperse {
        return disperse_shape(volume, disperse, nodes, zones);
    }
    let (replica, replica_follows_nodes) = match (volume.replicas, volume.stripes) {
        (None, None) => (nodes, true),
        (Some(r), None) => {
            if !nodes.is_multiple_of(r) {
                return Err(PlanError::ReplicasDoNotDivideNodes {
                    replicas: r,
                    nodes,
                    zones: zones.to_string(),
                });
            }
            (r, false)
        }
        (Some(r), Some(s)) => {
            let product = u64::from(r) * u64::from(s);
            if product != u64::from(nodes) {
                return Err(PlanError::StripesTimesReplicasNotNodes {
                    stripes: s,
                    replicas: r,
                    product,
                    nodes,
                    zones: zones.to_string(),
                });
            }
            (r, false)
        }
        (None, Some(s)) => {
            if !nodes.is_multiple_of(s) {
                return Err(PlanError::StripesDoNotDivideNodes {
                    stripes: s,
                    nodes,
                    zones: zones.to_string(),
                });
            }
            (nodes / s, false)
        }
    };
    let sets = nodes / replica;
    let volume_type = match (replica, sets) {
        (1, _) => VolumeType::Distribute,
        (_, 1) => VolumeType::Replicate,
        _ => VolumeType::DistributedReplicate,
    };
    Ok(VolumeShape {
        volume_type,
        kind: SetKind::Replica,
        nodes,
        set_size: replica,
        sets,
        replica,
        arbiter: volume.arbiter.unwrap_or(0),
        disperse: 0,
        redundancy: 0,
        redundancy_defaulted: false,
        stripes: volume.stripes,
        replica_follows_nodes,
    })
}

fn disperse_shape(
    volume: &VolumeSpec,
    disperse: u32,
    nodes: u32,
    zones: &str,
) -> Result<VolumeShape, PlanError> {
    match volume.stripes {
        Some(s) => {
            let product = u64::from(s) * u64::from(disperse);
            if product != u64::from(nodes) {
                return Err(PlanError::StripesTimesDisperseNotNodes {
                    stripes: s,
                    disperse,
                    product,
                    nodes,
                    zones: zones.to_string(),
                });
            }
        }
        None => {
            if !nodes.is_multiple_of(disperse) {
                return Err(PlanError::DisperseDoesNotDivideNodes {
                    disperse,
                    nodes,
                    zones: zones.to_string(),
                });
            }
        }
    }
    let (redundancy, redundancy_defaulted) = match volume.redundancy {
        Some(k) => (k, false),
        None => (default_redundancy(disperse), true),
    };
    let sets = nodes / disperse;
    Ok(VolumeShape {
        volume_type: if sets == 1 {
            VolumeType::Disperse
        } else {
            VolumeType::DistributedDisperse
        },
        kind: SetKind::Disperse,
        nodes,
        set_size: disperse,
        sets,
        replica: 1,
        arbiter: 0,
        disperse,
        redundancy,
        redundancy_defaulted,
        stripes: volume.stripes,
        replica_follows_nodes: false,
    })
}

/// Checks of the counts that do not depend on the node count.
fn check_counts(volume: &VolumeSpec) -> Result<(), PlanError> {
    if volume.replicas == Some(0) {
        return Err(PlanError::ReplicasZero);
    }
    if volume.stripes == Some(0) {
        return Err(PlanError::StripesZero);
    }
    if let (Some(disperse), Some(replicas)) = (volume.disperse, volume.replicas) {
        return Err(PlanError::DisperseWithReplicas { disperse, replicas });
    }
    if let Some(disperse) = volume.disperse
        && disperse < 3
    {
        return Err(PlanError::DisperseTooSmall { disperse });
    }
    match (volume.redundancy, volume.disperse) {
        (Some(redundancy), None) => {
            return Err(PlanError::RedundancyWithoutDisperse { redundancy });
        }
        (Some(redundancy), Some(disperse))
            if redundancy == 0 || u64::from(redundancy) * 2 >= u64::from(disperse) =>
        {
            return Err(PlanError::InvalidRedundancy {
                redundancy,
                disperse,
            });
        }
        _ => {}
    }
    if let Some(arbiter) = volume.arbiter
        && (arbiter != 1 || volume.replicas != Some(3))
    {
        return Err(PlanError::InvalidArbiter {
            arbiter,
            replicas: volume
                .replicas
                .map_or_else(|| "unset".to_string(), |r| r.to_string()),
        });
    }
    Ok(())
}

/// The redundancy the gluster CLI picks for a disperse count when none is given: the
/// smallest one whose data brick count (disperse − redundancy) is a power of two, searching
/// (disperse − 1) / 2 candidates down from disperse − 1; 1 when none is.
/// (This mirrors `cli_cmd_create_disperse_check`; the planner always passes it explicitly.)
pub fn default_redundancy(disperse: u32) -> u32 {
    let mut data = disperse.saturating_sub(1);
    let mut tries = data / 2;
    while tries > 0 && !data.is_power_of_two() {
        tries -= 1;
        data -= 1;
    }
    if tries == 0 { 1 } else { disperse - data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Transport;

    fn volume(replicas: Option<u32>, stripes: Option<u32>) -> VolumeSpec {
        VolumeSpec {
            name: "data".into(),
            replicas,
            stripes,
            arbiter: None,
            disperse: None,
            redundancy: None,
            transport: Transport::Tcp,
            options: Default::default(),
            allowed_clients: vec![],
            tls: None,
        }
    }

    #[test]
    fn unset_replicas_follow_the_nodes() {
        let s = derive_shape(&volume(None, None), 4, "zone-a: 4").expect("valid");
        assert_eq!(
            (s.replica, s.sets, s.volume_type),
            (4, 1, VolumeType::Replicate)
        );
        assert!(s.replica_follows_nodes);
        assert_eq!(s.notation(), "1 x 4 = 4");
        let one = derive_shape(&volume(None, None), 1, "zone-a: 1").expect("valid");
        assert_eq!(one.volume_type, VolumeType::Distribute);
        assert_eq!(one.notation(), "1");
    }

    #[test]
    fn replicas_must_divide_nodes() {
        let s = derive_shape(&volume(Some(2), None), 6, "").expect("valid");
        assert_eq!(
            (s.sets, s.volume_type),
            (3, VolumeType::DistributedReplicate)
        );
        let e = derive_shape(&volume(Some(3), None), 4, "zone-a: 4").expect_err("3 ∤ 4");
        assert_eq!(
            e.to_string(),
            "spec.volume.replicas 3 does not divide the 4 nodes of spec.zones (zone-a: 4)"
        );
        assert_eq!(e.reason(), "ReplicasDoNotDivideNodes");
    }

    #[test]
    fn stripes_map_to_distribute_subvolumes() {
        let s = derive_shape(&volume(Some(2), Some(2)), 4, "").expect("valid");
        assert_eq!((s.replica, s.sets, s.sharding()), (2, 2, true));
        let e = derive_shape(&volume(Some(2), Some(2)), 6, "zone-a: 6").expect_err("4 ≠ 6");
        assert_eq!(
            e.to_string(),
            "spec.volume.stripes 2 × spec.volume.replicas 2 = 4 but spec.zones hold 6 nodes (zone-a: 6)"
        );
        let s = derive_shape(&volume(None, Some(3)), 6, "").expect("valid");
        assert_eq!((s.replica, s.sets), (2, 3));
        let s = derive_shape(&volume(Some(1), Some(4)), 4, "").expect("valid");
        assert_eq!(s.volume_type, VolumeType::Distribute);
    }

    #[test]
    fn arbiter_needs_replica_three() {
        let mut v = volume(Some(3), None);
        v.arbiter = Some(1);
        let s = derive_shape(&v, 6, "").expect("valid");
        assert_eq!(s.notation(), "2 x (2 + 1) = 6");
        v.replicas = Some(2);
        let e = derive_shape(&v, 6, "").expect_err("replica 2");
        assert_eq!(e.reason(), "InvalidArbiter");
        v.replicas = None;
        assert!(derive_shape(&v, 6, "").is_err());
    }

    #[test]
    fn disperse_arithmetic() {
        let mut v = volume(None, None);
        v.disperse = Some(6);
        let s = derive_shape(&v, 12, "").expect("valid");
        assert_eq!(
            (s.sets, s.redundancy, s.volume_type),
            (2, 2, VolumeType::DistributedDisperse)
        );
        assert_eq!(s.notation(), "2 x (4 + 2) = 12");
        assert_eq!(s.capacity(10), 80);
        assert!(derive_shape(&v, 8, "").is_err());
        v.redundancy = Some(3);
        assert_eq!(
            derive_shape(&v, 6, "").expect_err("2×3 ≥ 6").reason(),
            "InvalidRedundancy"
        );
        v.redundancy = None;
        v.replicas = Some(2);
        assert_eq!(
            derive_shape(&v, 6, "").expect_err("both").reason(),
            "DisperseWithReplicas"
        );
    }

    #[test]
    fn default_redundancy_matches_gluster() {
        // Values from the gluster CLI's behaviour and its documentation.
        assert_eq!(default_redundancy(3), 1);
        assert_eq!(default_redundancy(4), 1); // "There isn't an optimal redundancy value"
        assert_eq!(default_redundancy(5), 1);
        assert_eq!(default_redundancy(6), 2); // "The optimal redundancy … is 2"
        assert_eq!(default_redundancy(10), 2);
        for d in 3..64 {
            let k = default_redundancy(d);
            assert!(k >= 1 && 2 * k < d, "disperse {d} redundancy {k}");
        }
    }

    #[test]
    fn zero_counts_are_refused() {
        assert_eq!(
            derive_shape(&volume(Some(0), None), 4, "")
                .expect_err("0")
                .reason(),
            "ReplicasZero"
        );
        assert_eq!(
            derive_shape(&volume(None, Some(0)), 4, "")
                .expect_err("0")
                .reason(),
            "StripesZero"
        );
        assert_eq!(
            derive_shape(&volume(None, None), 0, "zone-a: 0")
                .expect_err("0")
                .reason(),
            "NoNodes"
        );
    }
}

//! Where each zone's bricks live (a Cinder volume or the ephemeral disk) and the flavor its
//! servers use, from `zones[].storage` and what is known of the cloud.

use std::collections::BTreeSet;
use std::fmt;

use crate::api::{BrickStorage, StorageMode, ZoneSpec};

use super::error::PlanError;

/// What the planner knows of the cloud. Pure data: the reconciler fills it from the cloud, the
/// `plan` command from its flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudFacts {
    /// The availability zones where block storage (Cinder) serves volumes. `None` when unknown:
    /// then `Auto` zones stay undecided in the plan.
    pub block_storage_zones: Option<BTreeSet<String>>,
}

/// The storage decision for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageChoice {
    /// Bricks are Cinder volumes; servers use `flavor`.
    Volume {
        /// The server flavor (`spec.flavor`).
        flavor: String,
    },
    /// Bricks are the local ephemeral disk of `flavor`.
    Ephemeral {
        /// The server flavor (`fallbackFlavor`, else `spec.flavor`).
        flavor: String,
    },
    /// `Auto` and the cloud's block storage zones are not known yet.
    Undecided {
        /// The flavor if the zone has block storage.
        volume_flavor: String,
        /// The flavor whose ephemeral disk becomes the brick otherwise.
        ephemeral_flavor: String,
    },
}

impl StorageChoice {
    /// The decided brick storage, if decided.
    pub fn storage(&self) -> Option<BrickStorage> {
        match self {
            StorageChoice::Volume { .. } => Some(BrickStorage::Volume),
            StorageChoice::Ephemeral { .. } => Some(BrickStorage::Ephemeral),
            StorageChoice::Undecided { .. } => None,
        }
    }

    /// The server flavor, if decided.
    pub fn flavor(&self) -> Option<&str> {
        match self {
            StorageChoice::Volume { flavor } | StorageChoice::Ephemeral { flavor } => Some(flavor),
            StorageChoice::Undecided { .. } => None,
        }
    }

    /// Short label for a table column: `Volume`, `Ephemeral` or `Auto`.
    pub fn label(&self) -> &'static str {
        match self {
            StorageChoice::Volume { .. } => "Volume",
            StorageChoice::Ephemeral { .. } => "Ephemeral",
            StorageChoice::Undecided { .. } => "Auto",
        }
    }

    /// The flavor column: the flavor, or both candidates when undecided.
    pub fn flavor_label(&self) -> String {
        match self {
            StorageChoice::Volume { flavor } | StorageChoice::Ephemeral { flavor } => {
                flavor.clone()
            }
            StorageChoice::Undecided {
                volume_flavor,
                ephemeral_flavor,
            } if volume_flavor == ephemeral_flavor => volume_flavor.clone(),
            StorageChoice::Undecided {
                volume_flavor,
                ephemeral_flavor,
            } => format!("{volume_flavor} or {ephemeral_flavor}"),
        }
    }
}

/// The storage of one zone with the reason it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneStorage {
    /// What the spec asked.
    pub mode: StorageMode,
    /// What was decided.
    pub choice: StorageChoice,
}

impl fmt::Display for ZoneStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.mode, &self.choice) {
            (StorageMode::Auto, StorageChoice::Volume { flavor }) => write!(
                f,
                "Auto: Cinder volume (the zone has block storage), servers of flavor {flavor}"
            ),
            (StorageMode::Auto, StorageChoice::Ephemeral { flavor }) => write!(
                f,
                "Auto: ephemeral disk of flavor {flavor} (the zone has no block storage)"
            ),
            (
                _,
                StorageChoice::Undecided {
                    volume_flavor,
                    ephemeral_flavor,
                },
            ) => write!(
                f,
                "Auto: Cinder volume on flavor {volume_flavor} if the zone has block storage, else \
                 the ephemeral disk of flavor {ephemeral_flavor} (not known yet)"
            ),
            (_, StorageChoice::Volume { flavor }) => {
                write!(f, "Volume: Cinder volume, servers of flavor {flavor}")
            }
            (_, StorageChoice::Ephemeral { flavor }) => {
                write!(f, "Ephemeral: ephemeral disk of flavor {flavor}")
            }
        }
    }
}

/// Decide zone `index`'s storage. `flavor` is `spec.flavor`.
pub fn zone_storage(
    index: usize,
    zone: &ZoneSpec,
    flavor: &str,
    facts: &CloudFacts,
) -> Result<ZoneStorage, PlanError> {
    let ephemeral_flavor = zone
        .fallback_flavor
        .as_deref()
        .unwrap_or(flavor)
        .to_string();
    let has_block = facts
        .block_storage_zones
        .as_ref()
        .map(|zones| zones.contains(&zone.name));
    let choice = match (zone.storage, has_block) {
        (StorageMode::Volume, Some(false)) => {
            return Err(PlanError::NoBlockStorage {
                index,
                zone: zone.name.clone(),
            });
        }
        (StorageMode::Volume, _) | (StorageMode::Auto, Some(true)) => StorageChoice::Volume {
            flavor: flavor.to_string(),
        },
        (StorageMode::Ephemeral, _) | (StorageMode::Auto, Some(false)) => {
            StorageChoice::Ephemeral {
                flavor: ephemeral_flavor,
            }
        }
        (StorageMode::Auto, None) => StorageChoice::Undecided {
            volume_flavor: flavor.to_string(),
            ephemeral_flavor,
        },
    };
    Ok(ZoneStorage {
        mode: zone.storage,
        choice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, storage: StorageMode, fallback: Option<&str>) -> ZoneSpec {
        ZoneSpec {
            name: name.into(),
            nodes: 1,
            min_nodes: None,
            max_nodes: None,
            storage,
            fallback_flavor: fallback.map(str::to_string),
        }
    }

    fn facts(zones: &[&str]) -> CloudFacts {
        CloudFacts {
            block_storage_zones: Some(zones.iter().map(|z| z.to_string()).collect()),
        }
    }

    #[test]
    fn auto_follows_the_facts() {
        let z = zone("zone-c", StorageMode::Auto, Some("m1.xlarge"));
        let s = zone_storage(0, &z, "m1.medium", &facts(&["zone-a"])).expect("valid");
        assert_eq!(
            s.choice,
            StorageChoice::Ephemeral {
                flavor: "m1.xlarge".into()
            }
        );
        let s = zone_storage(0, &z, "m1.medium", &facts(&["zone-c"])).expect("valid");
        assert_eq!(
            s.choice,
            StorageChoice::Volume {
                flavor: "m1.medium".into()
            }
        );
        let s = zone_storage(0, &z, "m1.medium", &CloudFacts::default()).expect("valid");
        assert_eq!(s.choice.label(), "Auto");
        assert_eq!(s.choice.flavor_label(), "m1.medium or m1.xlarge");
        assert!(s.to_string().contains("not known yet"));
    }

    #[test]
    fn explicit_modes() {
        let z = zone("zone-a", StorageMode::Ephemeral, None);
        let s = zone_storage(0, &z, "m1.medium", &facts(&["zone-a"])).expect("valid");
        assert_eq!(
            s.choice,
            StorageChoice::Ephemeral {
                flavor: "m1.medium".into()
            }
        );
        let z = zone("zone-c", StorageMode::Volume, None);
        let e = zone_storage(2, &z, "m1.medium", &facts(&["zone-a"])).expect_err("no cinder");
        assert_eq!(e.reason(), "NoBlockStorage");
        assert!(
            e.to_string()
                .starts_with("spec.zones[2] (zone-c) has storage Volume")
        );
        let s = zone_storage(2, &z, "m1.medium", &CloudFacts::default()).expect("unknown is fine");
        assert_eq!(s.choice.storage(), Some(BrickStorage::Volume));
    }
}

//! Checks of the spec that need no layout arithmetic, and the values derived from them (name
//! parts, brick size and paths, client patterns). The CRD's CEL rules check some of these too;
//! the planner checks again because `plan` reads manifests that never met an apiserver.

use std::collections::BTreeSet;

use crate::api::{ALLOWED_MOUNT_PREFIXES, GlusterClusterSpec};

use super::auth::client_patterns;
use super::error::{PlanError, zone_counts};
use super::names::name_part;
use super::quantity::{GIB, parse_bytes};

/// What the checks derive from the spec.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// DNS-safe cluster part of node names.
    pub cluster_part: String,
    /// DNS-safe zone parts, in spec order.
    pub zone_parts: Vec<String>,
    /// Brick size in bytes.
    pub brick_bytes: u64,
    /// Where the brick filesystem is mounted.
    pub mount_path: String,
    /// The brick directory (`<mount>/brick`).
    pub brick_path: String,
    /// `auth.allow` patterns of the clients (empty: none; the nodes are added by the planner).
    pub client_patterns: Vec<String>,
    /// Per-zone counts for messages.
    pub zone_counts: String,
    /// Total nodes asked for.
    pub total: u32,
}

/// The most zones a spec may have (the CRD's `maxItems`).
const MAX_ZONES: usize = 16;
/// The most nodes a zone may ask for (the CRD's `maximum` of `zones[].nodes`).
const MAX_ZONE_NODES: u32 = 1000;

/// Check `spec` (of the cluster called `name`) and derive the values the planner needs.
pub(crate) fn prepare(name: &str, spec: &GlusterClusterSpec) -> Result<Prepared, PlanError> {
    let cluster_part = name_part(name).ok_or_else(|| PlanError::InvalidClusterName {
        name: name.to_string(),
    })?;
    if spec.zones.is_empty() {
        return Err(PlanError::NoZones);
    }
    if spec.zones.len() > MAX_ZONES {
        return Err(PlanError::TooManyZones {
            zones: spec.zones.len(),
            max: MAX_ZONES,
        });
    }
    let mut seen = BTreeSet::new();
    let mut zone_parts = Vec::with_capacity(spec.zones.len());
    let autoscaling = spec.autoscaling.as_ref().is_some_and(|a| a.enabled);
    for (index, zone) in spec.zones.iter().enumerate() {
        let part = name_part(&zone.name).ok_or_else(|| PlanError::InvalidZoneName {
            index,
            name: zone.name.clone(),
        })?;
        if !seen.insert(zone.name.as_str()) {
            return Err(PlanError::DuplicateZone {
                index,
                name: zone.name.clone(),
            });
        }
        if zone.nodes > MAX_ZONE_NODES {
            return Err(PlanError::TooManyNodes {
                index,
                zone: zone.name.clone(),
                nodes: zone.nodes,
                max: MAX_ZONE_NODES,
            });
        }
        if let Some(min) = zone.min_nodes
            && zone.nodes < min
        {
            return Err(PlanError::BelowMinNodes {
                index,
                zone: zone.name.clone(),
                nodes: zone.nodes,
                min,
            });
        }
        if let Some(max) = zone.max_nodes
            && zone.nodes > max
        {
            return Err(PlanError::AboveMaxNodes {
                index,
                zone: zone.name.clone(),
                nodes: zone.nodes,
                max,
            });
        }
        if autoscaling {
            let missing = match (zone.min_nodes, zone.max_nodes) {
                (None, None) => Some("minNodes and maxNodes"),
                (None, Some(_)) => Some("minNodes"),
                (Some(_), None) => Some("maxNodes"),
                (Some(_), Some(_)) => None,
            };
            if let Some(missing) = missing {
                return Err(PlanError::AutoscalingBoundsMissing {
                    index,
                    zone: zone.name.clone(),
                    missing: missing.to_string(),
                });
            }
        }
        zone_parts.push(part);
    }
    let total = spec
        .zones
        .iter()
        .try_fold(0u32, |acc, z| acc.checked_add(z.nodes))
        .ok_or_else(|| PlanError::InconsistentState {
            detail: "spec.zones[].nodes add up to more than 4294967295".to_string(),
        })?;
    check_volume_name(&spec.volume.name)?;
    let mount_path = spec
        .brick
        .mount_path
        .clone()
        .unwrap_or_else(|| format!("/export/{}", spec.volume.name));
    check_mount_path(&mount_path)?;
    let brick_bytes = brick_bytes(&spec.brick.size.0)?;
    check_options(spec)?;
    Ok(Prepared {
        cluster_part,
        zone_parts,
        brick_bytes,
        brick_path: format!("{mount_path}/brick"),
        mount_path,
        client_patterns: client_patterns(&spec.volume.allowed_clients)?,
        zone_counts: zone_counts(spec.zones.iter().map(|z| (z.name.as_str(), z.nodes))),
        total,
    })
}

fn check_volume_name(name: &str) -> Result<(), PlanError> {
    let bad = |why: &str| PlanError::InvalidVolumeName {
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(bad("it must be 1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("only letters, digits, '-' and '_' are allowed"));
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(bad("it must start with a letter or digit"));
    }
    if crate::api::RESERVED_VOLUME_NAMES.contains(&name) {
        return Err(bad("gluster reserves this word"));
    }
    Ok(())
}

fn check_mount_path(path: &str) -> Result<(), PlanError> {
    let bad = |why: &str| PlanError::InvalidMountPath {
        path: path.to_string(),
        why: why.to_string(),
    };
    if !path.starts_with('/') {
        return Err(bad("it must be an absolute path"));
    }
    if path.len() > 200 {
        return Err(bad("it must be at most 200 characters"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
    {
        return Err(bad(
            "only letters, digits, '/', '.', '_' and '-' are allowed",
        ));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad(
            "it must not be / nor contain empty segments or a trailing /",
        ));
    }
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(bad("it must not contain . or .. segments"));
    }
    if !ALLOWED_MOUNT_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        return Err(bad("it must be below /export/, /data/ or /srv/"));
    }
    Ok(())
}

fn brick_bytes(size: &str) -> Result<u64, PlanError> {
    let bytes = parse_bytes(size).map_err(|why| PlanError::InvalidBrickSize {
        value: size.to_string(),
        why,
    })?;
    if bytes < GIB {
        return Err(PlanError::InvalidBrickSize {
            value: size.to_string(),
            why: "a brick must be at least 1Gi".to_string(),
        });
    }
    Ok(bytes)
}

fn check_options(spec: &GlusterClusterSpec) -> Result<(), PlanError> {
    for (key, value) in &spec.volume.options {
        let bad = |why: &str| PlanError::InvalidOption {
            key: key.clone(),
            why: why.to_string(),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(
                "option names hold only letters, digits, '.', '_' and '-' (e.g. performance.cache-size)",
            ));
        }
        if value.is_empty() {
            return Err(bad("the value is empty"));
        }
        if value.chars().any(char::is_control) {
            return Err(bad("the value holds a control character (e.g. a newline)"));
        }
        if key.starts_with("user.gluster-operator.") {
            return Err(bad(
                "user.gluster-operator.* options are the operator's own markers (e.g. a rebalance \
                 owed to the volume)",
            ));
        }
        match key.as_str() {
            "auth.allow" => {
                return Err(PlanError::ConflictingOption {
                    key: key.clone(),
                    field: "spec.volume.allowedClients",
                });
            }
            "features.shard" if spec.volume.stripes.is_some() => {
                return Err(PlanError::ConflictingOption {
                    key: key.clone(),
                    field: "spec.volume.stripes",
                });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names() {
        assert!(check_volume_name("data").is_ok());
        assert!(check_volume_name("gv_0-1").is_ok());
        assert!(check_volume_name("all").is_err());
        assert!(check_volume_name("-x").is_err());
        assert!(check_volume_name("a/b").is_err());
        assert!(check_volume_name("").is_err());
    }

    #[test]
    fn mount_paths() {
        assert!(check_mount_path("/export/data").is_ok());
        assert!(check_mount_path("/srv/gluster.d/x_1").is_ok());
        for bad in [
            "export", "/", "/export/", "/a//b", "/a/../b", "/a b", "/a/./b",
        ] {
            assert!(check_mount_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn brick_sizes() {
        assert_eq!(brick_bytes("1Gi"), Ok(GIB));
        let e = brick_bytes("512Mi").expect_err("too small");
        assert_eq!(
            e.to_string(),
            "spec.brick.size \"512Mi\" is not usable: a brick must be at least 1Gi"
        );
        assert_eq!(
            brick_bytes("ten").expect_err("junk").reason(),
            "InvalidBrickSize"
        );
    }
}

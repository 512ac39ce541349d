//! The fewest OpenStack calls that building a GlusterCluster from nothing needs, by service and
//! method, counted from what the task is rather than from what the operator does today.
//!
//! | service | method | calls | why |
//! |---|---|---|---|
//! | identity | POST | 1 | one token (Keystone returns the catalog with it) |
//! | image | GET | 1 | the image's ID from its name |
//! | networking | GET | 1 | the network's ID from its name |
//! | networking | GET | 1 | the cluster's security group, to create it only if missing (idempotency) |
//! | networking | POST | 2 | the security group, then its rules in one bulk POST |
//! | compute | GET | `flavors` | each distinct flavor's ID from its name |
//! | volume | GET | 1 | Cinder's availability zones (where a brick may be a volume) |
//! | volume | POST | `V` | one brick volume per node whose zone has block storage |
//! | compute | POST | `N` | one server per node |
//! | compute | POST | `V` | one attachment per brick volume (Nova needs the server ACTIVE first) |
//! | compute | GET | 3 | list the cluster's servers (by tag): before creating (nothing there), once all are ACTIVE, once the attachments show |
//! | volume | GET | 3 when `V > 0` | list the cluster's volumes: before creating, once all are `available`, once all are `in-use` |
//!
//! `N` is the node count, `V` the nodes with a Cinder brick. Observation is counted as one list
//! call per resource type per look, with the fewest looks that can see each transition
//! (nothing → ACTIVE/available → in-use); one GET per node would be `N` times that.
//! Microversion discovery is not counted (a client may pin a version it knows), nor are the
//! gluster commands (SSH, not OpenStack).

use std::collections::BTreeMap;

use serde::Serialize;

/// One zone of a cluster, as the minimum sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneShape {
    /// Nodes in the zone.
    pub nodes: u64,
    /// Whether each brick is a Cinder volume (else the flavor's ephemeral disk).
    pub volume_bricks: bool,
}

/// The minimum, by service and method, with the reasoning behind each figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinimumCalls {
    /// All calls.
    pub total: u64,
    /// Calls by service (`compute`, `volume`, …) and HTTP method.
    pub by_service_method: BTreeMap<String, BTreeMap<String, u64>>,
    /// What each figure counts.
    pub how_counted: Vec<String>,
}

/// The minimum number of OpenStack calls to build a cluster of `zones` (using
/// `distinct_flavors` flavors) from nothing until every server is ACTIVE with its brick
/// attached. See the module documentation for the table this implements.
pub fn minimum_calls(zones: &[ZoneShape], distinct_flavors: u64) -> MinimumCalls {
    let n: u64 = zones.iter().map(|z| z.nodes).sum();
    let v: u64 = zones
        .iter()
        .filter(|z| z.volume_bricks)
        .map(|z| z.nodes)
        .sum();
    let mut out = MinimumCalls {
        total: 0,
        by_service_method: BTreeMap::new(),
        how_counted: Vec::new(),
    };
    let mut add = |service: &str, method: &str, calls: u64, why: String| {
        if calls == 0 {
            return;
        }
        *out.by_service_method
            .entry(service.to_owned())
            .or_default()
            .entry(method.to_owned())
            .or_default() += calls;
        out.total += calls;
        out.how_counted
            .push(format!("{service} {method} ×{calls}: {why}"));
    };
    add("identity", "POST", 1, "one token".into());
    add("image", "GET", 1, "image ID by name".into());
    add("networking", "GET", 1, "network ID by name".into());
    add(
        "networking",
        "GET",
        1,
        "security group lookup (create only if missing)".into(),
    );
    add(
        "networking",
        "POST",
        2,
        "security group + its rules in one bulk POST".into(),
    );
    add(
        "compute",
        "GET",
        distinct_flavors,
        "flavor ID by name, per distinct flavor".into(),
    );
    add("volume", "GET", 1, "Cinder availability zones".into());
    add("volume", "POST", v, format!("{v} brick volumes"));
    add("compute", "POST", n, format!("{n} servers"));
    add(
        "compute",
        "POST",
        v,
        format!("{v} volume attachments (after ACTIVE)"),
    );
    add(
        "compute",
        "GET",
        3,
        "server list by tag: before create, all ACTIVE, attachments visible".into(),
    );
    if v > 0 {
        add(
            "volume",
            "GET",
            3,
            "volume list by metadata: before create, all available, all in-use".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_volume_nodes_in_two_zones() {
        let z = ZoneShape {
            nodes: 2,
            volume_bricks: true,
        };
        let m = minimum_calls(&[z, z], 1);
        // 3 per node (volume, server, attachment) + 14 whatever the size.
        assert_eq!(m.total, 3 * 4 + 14);
        assert_eq!(m.by_service_method["compute"]["POST"], 8);
        assert_eq!(m.by_service_method["volume"]["POST"], 4);
        assert_eq!(m.by_service_method["compute"]["GET"], 4);
        assert_eq!(m.how_counted.len(), 12);
    }

    #[test]
    fn ephemeral_zones_need_no_volume_calls() {
        let m = minimum_calls(
            &[ZoneShape {
                nodes: 3,
                volume_bricks: false,
            }],
            2,
        );
        assert!(!m.by_service_method["volume"].contains_key("POST"));
        assert_eq!(m.by_service_method["volume"]["GET"], 1);
        assert_eq!(m.by_service_method["compute"]["POST"], 3);
        assert_eq!(m.by_service_method["compute"]["GET"], 2 + 3);
        assert_eq!(m.total, 1 + 1 + 1 + 1 + 2 + 2 + 1 + 3 + 3);
    }
}

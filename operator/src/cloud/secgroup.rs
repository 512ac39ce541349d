//! The per-cluster security group, pure: the rules it should hold (default deny), the rules
//! to add and to remove, and which group with the cluster's name is the cluster's own.
//! [`super::network::Networking::ensure_security_group`] does the calls.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;

use super::error::CloudError;
use super::network::{BRICK_PORTS, GLUSTERD_PORTS, SSH_PORT, SecurityGroup, SecurityGroupRule};

/// Where a wanted ingress rule admits traffic from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleSource {
    /// A CIDR (normalised: host bits cleared).
    Cidr(String),
    /// Members of the same security group (gluster peers talking to each other).
    SameGroup,
}

/// A wanted TCP ingress rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleSpec {
    /// `IPv4` or `IPv6`.
    pub ethertype: &'static str,
    /// First port.
    pub port_min: u16,
    /// Last port.
    pub port_max: u16,
    /// Source.
    pub source: RuleSource,
}

impl RuleSpec {
    /// Whether Neutron's `rule` (of group `group_id`) is this rule.
    pub fn is_satisfied_by(&self, rule: &SecurityGroupRule, group_id: &str) -> bool {
        rule.direction == "ingress"
            && rule.ethertype.as_deref().unwrap_or("IPv4") == self.ethertype
            && rule.protocol.as_deref() == Some("tcp")
            && rule.port_range_min == Some(self.port_min)
            && rule.port_range_max == Some(self.port_max)
            && match &self.source {
                RuleSource::Cidr(c) => {
                    rule.remote_group_id.is_none()
                        && rule
                            .remote_ip_prefix
                            .as_deref()
                            .and_then(|p| normalize_cidr(p).ok())
                            .is_some_and(|(p, _)| &p == c)
                }
                RuleSource::SameGroup => rule.remote_group_id.as_deref() == Some(group_id),
            }
    }

    /// The `{"security_group_rule": …}` body for group `group_id`.
    pub fn to_body(&self, group_id: &str) -> serde_json::Value {
        let mut rule = json!({
            "security_group_id": group_id,
            "direction": "ingress",
            "ethertype": self.ethertype,
            "protocol": "tcp",
            "port_range_min": self.port_min,
            "port_range_max": self.port_max,
        });
        match &self.source {
            RuleSource::Cidr(c) => rule["remote_ip_prefix"] = json!(c),
            RuleSource::SameGroup => rule["remote_group_id"] = json!(group_id),
        }
        json!({ "security_group_rule": rule })
    }
}

/// Parses a CIDR (or a bare address, taken as a host route) and clears the host bits:
/// `10.1.2.3/8` → `10.0.0.0/8`. Returns it with its ethertype.
pub fn normalize_cidr(text: &str) -> Result<(String, &'static str), String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u32 = match prefix {
        None => max,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
    };
    Ok(match addr {
        IpAddr::V4(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            (format!("{net}/{prefix}"), "IPv4")
        }
        IpAddr::V6(a) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            (format!("{net}/{prefix}"), "IPv6")
        }
    })
}

/// The rules of a gluster cluster's security group (default deny: nothing else is let in):
/// glusterd (24007-24008) and the brick ports (49152-60999) from each of `clients` and from
/// the group's own members (peers, self-heal, rebalance), SSH (22) from each of `ssh_from`.
/// Pure; an invalid CIDR is an error naming `clients[i]` or `ssh_from[i]`.
pub fn gluster_rules(clients: &[String], ssh_from: &[String]) -> Result<Vec<RuleSpec>, CloudError> {
    let mut rules = BTreeSet::new();
    let sources = [
        ("clients", clients, &[GLUSTERD_PORTS, BRICK_PORTS][..]),
        ("ssh_from", ssh_from, &[(SSH_PORT, SSH_PORT)][..]),
    ];
    for (field, cidrs, ports) in sources {
        for (i, cidr) in cidrs.iter().enumerate() {
            let (cidr, ethertype) =
                normalize_cidr(cidr).map_err(|reason| CloudError::InvalidInput {
                    field: format!("{field}[{i}]"),
                    reason,
                })?;
            for &(port_min, port_max) in ports {
                rules.insert(RuleSpec {
                    ethertype,
                    port_min,
                    port_max,
                    source: RuleSource::Cidr(cidr.clone()),
                });
            }
        }
    }
    for ethertype in ["IPv4", "IPv6"] {
        for (port_min, port_max) in [GLUSTERD_PORTS, BRICK_PORTS] {
            rules.insert(RuleSpec {
                ethertype,
                port_min,
                port_max,
                source: RuleSource::SameGroup,
            });
        }
    }
    Ok(rules.into_iter().collect())
}

/// The wanted rules the group does not have yet. Pure.
pub fn missing_rules<'a>(group: &SecurityGroup, wanted: &'a [RuleSpec]) -> Vec<&'a RuleSpec> {
    wanted
        .iter()
        .filter(|w| {
            !group
                .security_group_rules
                .iter()
                .any(|r| w.is_satisfied_by(r, &group.id))
        })
        .collect()
}

/// The group's ingress rules that no wanted rule accounts for (a client network or SSH source
/// the spec no longer names, a rule added by hand): removed, so that narrowing the spec
/// narrows the group. Egress rules are left alone. Pure.
pub fn stale_rules<'a>(
    group: &'a SecurityGroup,
    wanted: &[RuleSpec],
) -> Vec<&'a SecurityGroupRule> {
    group
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .filter(|r| !wanted.iter().any(|w| w.is_satisfied_by(r, &group.id)))
        .collect()
}

/// Whether `group` is the one `spec` describes: it carries every tag of `spec` (the cluster's
/// UID tag), or it carries none of them yet and its description names every one (a group an
/// interrupted earlier attempt created: Neutron takes tags only after the create, the
/// description with it). A name alone never makes a group the cluster's: names can collide
/// (`gluster-a-b-c` is namespace `a-b` + cluster `c` and namespace `a` + cluster `b-c`).
/// Pure.
pub fn owns_group(group: &SecurityGroup, spec: &SecurityGroupSpec) -> bool {
    spec.tags.iter().all(|t| group.tags.contains(t))
        || (group.tags.iter().all(|t| !t.starts_with(OWNER_TAG_PREFIX))
            && !spec.tags.is_empty()
            && spec
                .tags
                .iter()
                .all(|t| group.description.contains(t.as_str())))
}

/// The prefix of the cluster UID tag (`glusterops-uid:<uid>`).
const OWNER_TAG_PREFIX: &str = "glusterops-uid:";

/// The group among those named `spec.name` that belongs to the cluster ([`owns_group`]):
/// `None` when none has the name; an error when groups have the name but none is the
/// cluster's (someone else's group, never adopted nor changed) or several are. Pure.
pub fn pick_owned_group(
    found: Vec<SecurityGroup>,
    spec: &SecurityGroupSpec,
) -> Result<Option<SecurityGroup>, CloudError> {
    if found.is_empty() {
        return Ok(None);
    }
    let total = found.len();
    let mut owned: Vec<SecurityGroup> = found.into_iter().filter(|g| owns_group(g, spec)).collect();
    match owned.len() {
        0 => Err(CloudError::Mismatch {
            kind: "security group",
            name: spec.name.clone(),
            detail: format!(
                "{total} group(s) with this name carry no tag {} nor the cluster's UID in their \
                 description: another owner's, left untouched; delete or rename it",
                spec.tags.join(",")
            ),
        }),
        1 => Ok(owned.pop()),
        count => Err(CloudError::Ambiguous {
            kind: "security group",
            name: spec.name.clone(),
            count,
        }),
    }
}

/// A security group to ensure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityGroupSpec {
    /// The deterministic name (one group per cluster).
    pub name: String,
    /// The description.
    pub description: String,
    /// Tags (the cluster UID), used to find and delete it.
    pub tags: Vec<String>,
    /// The ingress rules (see [`gluster_rules`]).
    pub rules: Vec<RuleSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            normalize_cidr("10.1.2.3/8").unwrap(),
            ("10.0.0.0/8".into(), "IPv4")
        );
        assert_eq!(
            normalize_cidr("192.0.2.7").unwrap(),
            ("192.0.2.7/32".into(), "IPv4")
        );
        assert_eq!(
            normalize_cidr("0.0.0.0/0").unwrap(),
            ("0.0.0.0/0".into(), "IPv4")
        );
        assert_eq!(
            normalize_cidr("2001:db8::1/32").unwrap(),
            ("2001:db8::/32".into(), "IPv6")
        );
        assert!(normalize_cidr("10.0.0.0/33").is_err());
        assert!(normalize_cidr("ten/8").is_err());
    }

    #[test]
    fn rules_for_a_cluster() {
        let rules = gluster_rules(
            &["10.0.0.0/8".into(), "2001:db8::/32".into()],
            &["192.0.2.0/24".into()],
        )
        .unwrap();
        let cidr_rules: Vec<_> = rules
            .iter()
            .filter_map(|r| match &r.source {
                RuleSource::Cidr(c) => Some((r.ethertype, r.port_min, r.port_max, c.as_str())),
                RuleSource::SameGroup => None,
            })
            .collect();
        // SSH only from ssh_from; the gluster ports only from the clients.
        assert_eq!(
            cidr_rules,
            vec![
                ("IPv4", 22, 22, "192.0.2.0/24"),
                ("IPv4", 24007, 24008, "10.0.0.0/8"),
                ("IPv4", 49152, 60999, "10.0.0.0/8"),
                ("IPv6", 24007, 24008, "2001:db8::/32"),
                ("IPv6", 49152, 60999, "2001:db8::/32")
            ]
        );
        assert_eq!(
            rules
                .iter()
                .filter(|r| r.source == RuleSource::SameGroup)
                .count(),
            4
        );
        match gluster_rules(&["10.0.0.0/8".into(), "nope".into()], &[]) {
            Err(CloudError::InvalidInput { field, .. }) => assert_eq!(field, "clients[1]"),
            other => panic!("{other:?}"),
        }
        match gluster_rules(&[], &["10.0.0.0/33".into()]) {
            Err(CloudError::InvalidInput { field, .. }) => assert_eq!(field, "ssh_from[0]"),
            other => panic!("{other:?}"),
        }
        // Duplicates collapse.
        assert_eq!(
            gluster_rules(&["10.0.0.1/8".into(), "10.0.0.0/8".into()], &[])
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn default_deny_lets_in_only_the_group_and_ssh_from() {
        // No clients: the gluster ports are open to the group's own members only, and nothing
        // is open to the world.
        let rules = gluster_rules(&[], &["10.1.0.0/24".into()]).unwrap();
        for r in &rules {
            match &r.source {
                RuleSource::SameGroup => assert_ne!(r.port_min, SSH_PORT, "{r:?}"),
                RuleSource::Cidr(c) => {
                    assert_eq!((c.as_str(), r.port_min), ("10.1.0.0/24", SSH_PORT), "{r:?}")
                }
            }
        }
        assert_eq!(rules.len(), 5);
    }

    fn rule(
        id: &str,
        dir: &str,
        ports: (u16, u16),
        prefix: Option<&str>,
        group: Option<&str>,
    ) -> serde_json::Value {
        json!({"id": id, "direction": dir, "ethertype": "IPv4", "protocol": "tcp",
               "port_range_min": ports.0, "port_range_max": ports.1,
               "remote_ip_prefix": prefix, "remote_group_id": group})
    }

    #[test]
    fn stale_rules_are_the_ingress_rules_the_spec_no_longer_names() {
        // The spec narrowed from 0.0.0.0/0 to 10.0.0.0/8; SSH moved to 10.1.0.0/24.
        let wanted = gluster_rules(&["10.0.0.0/8".into()], &["10.1.0.0/24".into()]).unwrap();
        let group: SecurityGroup = serde_json::from_value(json!({
            "id": "g", "name": "gc", "description": "", "tags": [],
            "security_group_rules": [
                {"id": "egress", "direction": "egress", "ethertype": "IPv4", "protocol": null,
                 "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
                 "remote_group_id": null},
                rule("world-ssh", "ingress", (22, 22), Some("0.0.0.0/0"), None),
                rule("world-bricks", "ingress", (49152, 60999), Some("0.0.0.0/0"), None),
                rule("kept-bricks", "ingress", (49152, 60999), Some("10.0.0.0/8"), None),
                rule("kept-peers", "ingress", (24007, 24008), None, Some("g")),
                rule("other-group", "ingress", (24007, 24008), None, Some("h")),
                rule("ssh-from-clients", "ingress", (22, 22), Some("10.0.0.0/8"), None),
                rule("kept-ssh", "ingress", (22, 22), Some("10.1.0.5/24"), None),
            ]
        }))
        .unwrap();
        let stale: Vec<&str> = stale_rules(&group, &wanted)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(
            stale,
            [
                "world-ssh",
                "world-bricks",
                "other-group",
                "ssh-from-clients"
            ]
        );
        // What stays plus what is missing is exactly what is wanted.
        let missing = missing_rules(&group, &wanted);
        assert_eq!(missing.len(), wanted.len() - 3);
    }

    #[test]
    fn missing_rules_compare_with_neutron_shapes() {
        let wanted = gluster_rules(&["10.0.0.0/8".into()], &["10.0.0.0/8".into()]).unwrap();
        let group: SecurityGroup = serde_json::from_value(json!({
            "id": "g", "name": "gc", "description": "", "tags": [],
            "security_group_rules": [
                {"id": "1", "direction": "egress", "ethertype": "IPv4", "protocol": null,
                 "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
                 "remote_group_id": null},
                {"id": "2", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                 "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8",
                 "remote_group_id": null},
                {"id": "3", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                 "port_range_min": 24007, "port_range_max": 24008, "remote_ip_prefix": null,
                 "remote_group_id": "g"}
            ]
        }))
        .unwrap();
        let missing = missing_rules(&group, &wanted);
        assert_eq!(missing.len(), wanted.len() - 2);
        assert!(!missing.iter().any(|r| r.port_min == 22));
        let body = wanted[0].to_body("g");
        assert_eq!(body["security_group_rule"]["security_group_id"], "g");
        assert_eq!(body["security_group_rule"]["protocol"], "tcp");
    }

    fn group(id: &str, tags: &[&str], description: &str) -> SecurityGroup {
        serde_json::from_value(json!({
            "id": id, "name": "gluster-a-b-c", "description": description, "tags": tags,
            "security_group_rules": []
        }))
        .unwrap()
    }

    #[test]
    fn a_group_is_adopted_by_its_uid_never_by_its_name_alone() {
        // Namespace `a-b` + cluster `c` and namespace `a` + cluster `b-c` share the name.
        let spec = SecurityGroupSpec {
            name: "gluster-a-b-c".into(),
            tags: vec!["glusterops-uid:u1".into()],
            ..SecurityGroupSpec::default()
        };
        let other = group(
            "g2",
            &["glusterops-uid:u2"],
            "gluster-operator: GlusterCluster a/b-c glusterops-uid:u2",
        );
        let ours = group(
            "g1",
            &["glusterops-uid:u1"],
            "gluster-operator: GlusterCluster a-b/c glusterops-uid:u1",
        );
        // Ours, half-made: created, the tag not yet added.
        let half = group(
            "g3",
            &[],
            "gluster-operator: GlusterCluster a-b/c glusterops-uid:u1",
        );
        // Someone's hand-made group with the name.
        let foreign = group("g4", &[], "made by hand");

        assert_eq!(pick_owned_group(vec![], &spec).unwrap(), None);
        assert_eq!(
            pick_owned_group(vec![other.clone(), ours.clone()], &spec)
                .unwrap()
                .map(|g| g.id),
            Some("g1".into())
        );
        assert_eq!(
            pick_owned_group(vec![half.clone(), other.clone()], &spec)
                .unwrap()
                .map(|g| g.id),
            Some("g3".into())
        );
        for alone in [other.clone(), foreign.clone()] {
            match pick_owned_group(vec![alone.clone()], &spec) {
                Err(e @ CloudError::Mismatch { .. }) => {
                    assert!(!e.is_retryable(), "Stalled, not retried: {e}");
                    assert!(e.to_string().contains("left untouched"), "{e}");
                }
                other => panic!("{} adopted: {other:?}", alone.id),
            }
        }
        // Another cluster's group that names our UID in its description is still its own.
        let theirs = group("g5", &["glusterops-uid:u2"], "glusterops-uid:u1");
        assert!(!owns_group(&theirs, &spec));
        assert!(matches!(
            pick_owned_group(vec![ours.clone(), half], &spec),
            Err(CloudError::Ambiguous { count: 2, .. })
        ));
    }
}

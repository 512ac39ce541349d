//! Neutron (networking API v2.0): networks, the per-cluster security group and its rules,
//! ports (the nodes' own ports: [`super::port`]).

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::adopt::{Ensured, create_or_adopt};
use super::backoff::Backoff;
use super::error::{ApiErrorKind, CloudError};
use super::http::{Request, ServiceClient, seg};
use super::json::null_default;

/// glusterd's management ports (24007 TCP, 24008 RDMA management).
pub const GLUSTERD_PORTS: (u16, u16) = (crate::gluster::GLUSTERD_PORT, 24008);
/// The port range glusterfsd brick processes listen in.
pub const BRICK_PORTS: (u16, u16) = (49152, 60999);
/// SSH, over which the operator drives gluster.
pub const SSH_PORT: u16 = 22;

/// A network.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Network {
    /// Its ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `ACTIVE`, `DOWN`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Its subnets' IDs.
    #[serde(default, deserialize_with = "null_default")]
    pub subnets: Vec<String>,
}

/// A security group rule as Neutron has it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SecurityGroupRule {
    /// Its ID.
    pub id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    #[serde(default)]
    pub ethertype: Option<String>,
    /// `tcp`, `udp`, … or none (any).
    #[serde(default)]
    pub protocol: Option<String>,
    /// First port.
    #[serde(default)]
    pub port_range_min: Option<u16>,
    /// Last port.
    #[serde(default)]
    pub port_range_max: Option<u16>,
    /// Source CIDR.
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    /// Source security group.
    #[serde(default)]
    pub remote_group_id: Option<String>,
}

/// A security group.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SecurityGroup {
    /// Its ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Its description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// Its tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Its rules.
    #[serde(default, deserialize_with = "null_default")]
    pub security_group_rules: Vec<SecurityGroupRule>,
}

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
pub fn stale_rules<'a>(group: &'a SecurityGroup, wanted: &[RuleSpec]) -> Vec<&'a SecurityGroupRule> {
    group
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .filter(|r| !wanted.iter().any(|w| w.is_satisfied_by(r, &group.id)))
        .collect()
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

/// A port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Port {
    /// Its ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Its network.
    pub network_id: String,
    /// The device (server) it is bound to.
    #[serde(default, deserialize_with = "null_default")]
    pub device_id: String,
    /// `compute:<zone>` for a server's port.
    #[serde(default, deserialize_with = "null_default")]
    pub device_owner: String,
    /// `ACTIVE`, `DOWN`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Its addresses.
    #[serde(default, deserialize_with = "null_default")]
    pub fixed_ips: Vec<FixedIp>,
    /// Its security groups.
    #[serde(default, deserialize_with = "null_default")]
    pub security_groups: Vec<String>,
    /// Its tags (the cluster's UID tag on a node's port).
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

impl Port {
    /// Its first fixed address, if any.
    pub fn address(&self) -> Option<&str> {
        self.fixed_ips.first().map(|f| f.ip_address.as_str())
    }
}

/// An address of a port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct FixedIp {
    /// The subnet.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// Whether `s` has the shape of a UUID (8-4-4-4-12 hex digits).
pub(crate) fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

/// The Neutron API.
#[derive(Clone, Debug)]
pub struct Networking {
    pub(super) client: ServiceClient,
    pub(super) adopt_backoff: Backoff,
    /// [`Networking::network_cidrs`] by network name or ID, kept for the client's life (a
    /// cluster's network cannot change, nor can a Neutron subnet's CIDR).
    cidrs: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>>,
}

impl Networking {
    /// Neutron over `client`.
    pub fn new(client: ServiceClient) -> Self {
        let adopt_backoff = client.session().options.backoff;
        Self {
            client,
            adopt_backoff,
            cidrs: Default::default(),
        }
    }

    /// A network by ID or by name (exactly one must carry the name).
    pub async fn network(&self, name_or_id: &str) -> Result<Network, CloudError> {
        #[derive(Deserialize)]
        struct All {
            networks: Vec<Network>,
        }
        if looks_like_uuid(name_or_id) {
            let by_id: All = self
                .client
                .get_json(Request::get("/networks").query("id", name_or_id))
                .await?;
            if let Some(n) = by_id.networks.into_iter().next() {
                return Ok(n);
            }
        }
        let mut by_name: All = self
            .client
            .get_json(Request::get("/networks").query("name", name_or_id))
            .await?;
        by_name.networks.retain(|n| n.name == name_or_id);
        match by_name.networks.len() {
            0 => Err(CloudError::NotFound {
                kind: "network",
                name: name_or_id.to_string(),
            }),
            1 => Ok(by_name.networks.remove(0)),
            count => Err(CloudError::Ambiguous {
                kind: "network",
                name: name_or_id.to_string(),
                count,
            }),
        }
    }

    /// Security groups with this exact name (`None`: any) carrying all `tags`.
    pub async fn list_security_groups(
        &self,
        name: Option<&str>,
        tags: &[String],
    ) -> Result<Vec<SecurityGroup>, CloudError> {
        #[derive(Deserialize)]
        struct All {
            security_groups: Vec<SecurityGroup>,
        }
        let mut req = Request::get("/security-groups");
        if let Some(n) = name {
            req = req.query("name", n);
        }
        if !tags.is_empty() {
            req = req.query("tags", tags.join(","));
        }
        let mut all: All = self.client.get_json(req).await?;
        all.security_groups.retain(|g| {
            name.is_none_or(|n| g.name == n) && tags.iter().all(|t| g.tags.contains(t))
        });
        Ok(all.security_groups)
    }

    /// A security group by ID; `None` if absent.
    pub async fn get_security_group(&self, id: &str) -> Result<Option<SecurityGroup>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            security_group: SecurityGroup,
        }
        match self
            .client
            .send(Request::get(format!("/security-groups/{}", seg(id))))
            .await
        {
            Ok(r) => Ok(Some(r.json::<One>()?.security_group)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_group_by_name(
        &self,
        spec: &SecurityGroupSpec,
    ) -> Result<Option<SecurityGroup>, CloudError> {
        let mut found = self.list_security_groups(Some(&spec.name), &[]).await?;
        if found.len() > 1 {
            // Prefer the ones that carry our tags; a tag-less one is a half-made earlier try.
            found.retain(|g| spec.tags.iter().all(|t| g.tags.contains(t)));
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            count => Err(CloudError::Ambiguous {
                kind: "security group",
                name: spec.name.clone(),
                count,
            }),
        }
    }

    /// Makes sure the group exists with its tags and rules: finds it by name (adopting one an
    /// earlier attempt made), creates it otherwise, adds the missing tags and rules (a 409
    /// "rule exists" counts as done). Returns the group ID. Idempotent.
    pub async fn ensure_security_group(
        &self,
        spec: &SecurityGroupSpec,
    ) -> Result<Ensured<String>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            security_group: SecurityGroup,
        }
        let (group, adopted) = match self.find_group_by_name(spec).await? {
            Some(g) => (g, true),
            None => {
                let body = json!({"security_group": {
                    "name": spec.name, "description": spec.description}});
                let e = create_or_adopt(
                    self.adopt_backoff,
                    "security group",
                    &spec.name,
                    || async {
                        let resp = self
                            .client
                            .send(Request::post("/security-groups", body.clone()))
                            .await?;
                        Ok(resp.json::<One>()?.security_group)
                    },
                    || self.find_group_by_name(spec),
                )
                .await?;
                (e.value, e.adopted)
            }
        };
        if !spec.tags.iter().all(|t| group.tags.contains(t)) {
            let mut tags: BTreeSet<String> = group.tags.iter().cloned().collect();
            tags.extend(spec.tags.iter().cloned());
            self.client
                .send(Request::put(
                    format!("/security-groups/{}/tags", seg(&group.id)),
                    json!({ "tags": tags }),
                ))
                .await?;
        }
        let missing = missing_rules(&group, &spec.rules);
        // The rules go out together (the client's Neutron limits bound them). A rule is unique
        // in Neutron (a duplicate is a 409), so repeating a create after an ambiguous failure
        // is safe.
        futures::future::try_join_all(missing.iter().map(|rule| async {
            let req =
                Request::post("/security-group-rules", rule.to_body(&group.id)).unique_create();
            match self.client.send(req).await {
                Ok(_) => Ok(()),
                Err(e) if e.api_kind() == Some(ApiErrorKind::Conflict) => {
                    tracing::debug!(group = %group.id, request_id = %e.request_id().unwrap_or("-"), "security group rule exists already");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }))
        .await?;
        let stale = stale_rules(&group, &spec.rules);
        futures::future::try_join_all(stale.iter().map(|rule| {
            self.client.delete_idempotent(Request::delete(format!(
                "/security-group-rules/{}",
                seg(&rule.id)
            )))
        }))
        .await?;
        tracing::info!(group = %group.id, name = %spec.name, adopted, rules_added = missing.len(), rules_removed = stale.len(), "security group ensured");
        Ok(Ensured {
            value: group.id,
            adopted,
        })
    }

    /// Deletes a security group: `Ok(false)` if it was already gone. A group still in use is a
    /// 409, retried with backoff and then returned.
    pub async fn delete_security_group(&self, id: &str) -> Result<bool, CloudError> {
        self.client
            .delete_idempotent(Request::delete(format!("/security-groups/{}", seg(id))))
            .await
    }

    /// Deletes every security group carrying all `tags`; returns how many it deleted.
    pub async fn delete_security_groups_by_tags(
        &self,
        tags: &[String],
    ) -> Result<usize, CloudError> {
        if tags.is_empty() {
            return Err(CloudError::InvalidInput {
                field: "tags".into(),
                reason: "refusing to delete security groups without a tag filter".into(),
            });
        }
        let mut deleted = 0;
        for g in self.list_security_groups(None, tags).await? {
            if self.delete_security_group(&g.id).await? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// The CIDRs of the subnets of the network `name_or_id`, looked up once per client (an
    /// empty answer is not kept).
    pub async fn network_cidrs(&self, name_or_id: &str) -> Result<Vec<String>, CloudError> {
        let known = self
            .cidrs
            .lock()
            .ok()
            .and_then(|c| c.get(name_or_id).cloned());
        if let Some(cidrs) = known {
            return Ok(cidrs);
        }
        let network = self.network(name_or_id).await?;
        let cidrs = self.subnet_cidrs(&network.id).await?;
        if !cidrs.is_empty()
            && let Ok(mut c) = self.cidrs.lock()
        {
            c.insert(name_or_id.to_string(), cidrs.clone());
        }
        Ok(cidrs)
    }

    /// The CIDRs of the subnets of network `network_id`.
    pub async fn subnet_cidrs(&self, network_id: &str) -> Result<Vec<String>, CloudError> {
        #[derive(Deserialize)]
        struct Subnet {
            network_id: String,
            cidr: String,
        }
        #[derive(Deserialize)]
        struct All {
            subnets: Vec<Subnet>,
        }
        let all: All = self
            .client
            .get_json(Request::get("/subnets").query("network_id", network_id))
            .await?;
        Ok(all
            .subnets
            .into_iter()
            .filter(|s| s.network_id == network_id)
            .map(|s| s.cidr)
            .collect())
    }

    /// The ports bound to a device (a server ID).
    pub async fn ports_by_device(&self, device_id: &str) -> Result<Vec<Port>, CloudError> {
        #[derive(Deserialize)]
        struct All {
            ports: Vec<Port>,
        }
        let mut all: All = self
            .client
            .get_json(Request::get("/ports").query("device_id", device_id))
            .await?;
        all.ports.retain(|p| p.device_id == device_id);
        Ok(all.ports)
    }
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

    fn rule(id: &str, dir: &str, ports: (u16, u16), prefix: Option<&str>, group: Option<&str>) -> serde_json::Value {
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
            ["world-ssh", "world-bricks", "other-group", "ssh-from-clients"]
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

    #[test]
    fn uuid_shape() {
        assert!(looks_like_uuid("3a8b1e7c-0d6f-4f7e-9b9f-2f4b8f0c1d2e"));
        assert!(!looks_like_uuid("private"));
        assert!(!looks_like_uuid("3a8b1e7c0d6f-4f7e-9b9f-2f4b8f0c1d2e-"));
    }
}

//! Neutron (networking API v2.0): networks, the per-cluster security group and its rules,
//! ports (the nodes' own ports: [`super::port`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::adopt::{Ensured, create_or_adopt};
use super::backoff::Backoff;
use super::error::{ApiErrorKind, CloudError};
use super::http::{Request, ServiceClient, seg};
use super::json::null_default;
pub use super::secgroup::{
    RuleSource, RuleSpec, SecurityGroupSpec, gluster_rules, missing_rules, normalize_cidr,
    owns_group, pick_owned_group, stale_rules,
};

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
        let found = self.list_security_groups(Some(&spec.name), &[]).await?;
        pick_owned_group(found, spec)
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
    fn uuid_shape() {
        assert!(looks_like_uuid("3a8b1e7c-0d6f-4f7e-9b9f-2f4b8f0c1d2e"));
        assert!(!looks_like_uuid("private"));
        assert!(!looks_like_uuid("3a8b1e7c0d6f-4f7e-9b9f-2f4b8f0c1d2e-"));
    }
}

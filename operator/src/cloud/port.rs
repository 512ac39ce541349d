//! Neutron ports made by the operator: one per node, created before its server and named and
//! tagged after the node and its cluster, so that the node keeps its address when its server
//! is replaced (Nova leaves a port it did not create alone when it deletes the server). Found
//! again by tag; deleted with the cluster.

use serde::Deserialize;
use serde_json::json;

use super::adopt::{Ensured, create_or_adopt};
use super::error::CloudError;
use super::http::{Request, seg};
use super::network::{Networking, Port};

/// A port to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortCreate {
    /// The (deterministic) name.
    pub name: String,
    /// The network it is on.
    pub network_id: String,
    /// Security group IDs (Nova does not apply a server's groups to a port it did not make).
    pub security_groups: Vec<String>,
    /// Tags (the cluster's UID), used to find and delete it.
    pub tags: Vec<String>,
    /// Its description.
    pub description: String,
}

impl PortCreate {
    /// The `{"port": …}` body (Neutron gives it an address from the network's subnet; the
    /// address stays the port's until the port is deleted). Pure.
    pub fn to_body(&self) -> serde_json::Value {
        json!({"port": {
            "name": self.name,
            "network_id": self.network_id,
            "security_groups": self.security_groups,
            "description": self.description,
        }})
    }
}

#[derive(Deserialize)]
struct All {
    ports: Vec<Port>,
}

#[derive(Deserialize)]
struct One {
    port: Port,
}

impl Networking {
    /// Ports carrying all `tags` (at least one tag: never every port of the project).
    pub async fn list_ports(&self, tags: &[String]) -> Result<Vec<Port>, CloudError> {
        if tags.is_empty() {
            return Err(CloudError::InvalidInput {
                field: "tags".into(),
                reason: "refusing to list ports without a tag filter".into(),
            });
        }
        let mut all: All = self
            .client
            .get_json(Request::get("/ports").query("tags", tags.join(",")))
            .await?;
        all.ports
            .retain(|p| tags.iter().all(|t| p.tags.contains(t)));
        Ok(all.ports)
    }

    /// The port named `spec.name` on its network: one carrying the tags, else an untagged one
    /// (an earlier create that failed before its tags were set); `None` when there is none.
    async fn find_port(&self, spec: &PortCreate) -> Result<Option<Port>, CloudError> {
        let mut found: All = self
            .client
            .get_json(
                Request::get("/ports")
                    .query("name", spec.name.clone())
                    .query("network_id", spec.network_id.clone()),
            )
            .await?;
        found
            .ports
            .retain(|p| p.name == spec.name && p.network_id == spec.network_id);
        if found.ports.len() > 1 {
            found
                .ports
                .retain(|p| spec.tags.iter().all(|t| p.tags.contains(t)));
        }
        match found.ports.len() {
            0 => Ok(None),
            1 => Ok(found.ports.pop()),
            count => Err(CloudError::Ambiguous {
                kind: "port",
                name: spec.name.clone(),
                count,
            }),
        }
    }

    /// Makes sure the port exists with its tags: finds it by name (adopting one an earlier
    /// attempt made), creates it otherwise, then sets the missing tags. Idempotent.
    pub async fn ensure_port(&self, spec: &PortCreate) -> Result<Ensured<Port>, CloudError> {
        let (port, adopted) = match self.find_port(spec).await? {
            Some(p) => (p, true),
            None => {
                let body = spec.to_body();
                let e = create_or_adopt(
                    self.adopt_backoff,
                    "port",
                    &spec.name,
                    || async {
                        let resp = self
                            .client
                            .send(Request::post("/ports", body.clone()))
                            .await?;
                        Ok(resp.json::<One>()?.port)
                    },
                    || self.find_port(spec),
                )
                .await?;
                (e.value, e.adopted)
            }
        };
        let mut port = port;
        if !spec.tags.iter().all(|t| port.tags.contains(t)) {
            let mut tags: std::collections::BTreeSet<String> = port.tags.iter().cloned().collect();
            tags.extend(spec.tags.iter().cloned());
            self.client
                .send(Request::put(
                    format!("/ports/{}/tags", seg(&port.id)),
                    json!({ "tags": tags }),
                ))
                .await?;
            port.tags = tags.into_iter().collect();
        }
        tracing::info!(port = %port.id, name = %spec.name, address = port.address().unwrap_or("-"), adopted, "port ensured");
        Ok(Ensured {
            value: port,
            adopted,
        })
    }

    /// Deletes a port: `Ok(false)` if it was already gone.
    pub async fn delete_port(&self, id: &str) -> Result<bool, CloudError> {
        self.client
            .delete_idempotent(Request::delete(format!("/ports/{}", seg(id))))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_names_network_and_groups() {
        let spec = PortCreate {
            name: "c-a-0-port".into(),
            network_id: "n1".into(),
            security_groups: vec!["g1".into()],
            tags: vec!["glusterops-uid:u".into()],
            description: "d".into(),
        };
        let body = spec.to_body();
        assert_eq!(body["port"]["name"], "c-a-0-port");
        assert_eq!(body["port"]["network_id"], "n1");
        assert_eq!(body["port"]["security_groups"], json!(["g1"]));
        // Tags go through the tags API (Neutron's create body does not take them everywhere).
        assert!(body["port"].get("tags").is_none());
    }

    #[test]
    fn port_document_with_tags_and_address() {
        let port: Port = serde_json::from_value(json!({
            "id": "p", "name": "c-a-0-port", "network_id": "n", "device_id": "",
            "device_owner": "", "status": "DOWN", "tags": ["glusterops-uid:u"],
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}],
            "security_groups": ["g"],
        }))
        .unwrap();
        assert_eq!(port.address(), Some("10.0.0.5"));
        assert_eq!(port.tags, ["glusterops-uid:u"]);
        let back = serde_json::to_value(&port).unwrap();
        assert_eq!(serde_json::from_value::<Port>(back).unwrap(), port);
    }
}

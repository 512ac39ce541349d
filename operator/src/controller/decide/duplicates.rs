//! Decide (pure): duplicate servers of one node — two servers carrying the same node in their
//! metadata (a create whose answer was lost and that was made again) — and which of them may go.
//!
//! The node's serving server is the one the rest of the pass uses ([`Observed::server`]). Any
//! other server of that node is deleted only when it is provably unused: gluster was asked this
//! pass (so its volume's bricks are known; no volume yet means no brick anywhere), no brick of
//! the volume is on any of its addresses, none of its addresses is a node address gluster runs
//! on, and it has no volume attached (a brick volume stays where it is; a person looks). Anything
//! else is left alone: a duplicate costs money, a wrong deletion costs data.
//!
//! Duplicate brick volumes are not deleted: Cinder cannot show whether an available volume
//! ever held a brick (it may be the surviving copy of a replaced server), so none is provably
//! unused from the cloud's answers alone.

use std::collections::BTreeSet;

use crate::controller::observe::Observed;
use crate::controller::owner::node_of;

use super::actions::Action;
use super::gluster::GlusterNodes;

/// What gluster showed of where it runs: the node addresses it was asked on and the hosts of
/// the volume's bricks (none when the volume does not exist yet).
#[derive(Debug, Clone)]
pub struct GlusterUse<'a> {
    /// The nodes gluster runs on.
    pub nodes: &'a GlusterNodes,
    /// The brick hosts of the volume, in volume order.
    pub brick_hosts: Vec<&'a str>,
}

/// The duplicate servers to delete: for each node, every server other than its serving one
/// that is provably unused (see the module docs). `None` for `gluster`: it was not asked this
/// pass, nothing is provable, nothing is deleted.
pub fn duplicate_servers(cloud: &Observed, gluster: Option<GlusterUse<'_>>) -> Vec<Action> {
    let Some(gluster) = gluster else {
        return Vec::new();
    };
    let used: BTreeSet<&str> = gluster
        .brick_hosts
        .iter()
        .copied()
        .chain(gluster.nodes.addresses.values().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    for server in &cloud.servers {
        let Some((node, _)) = node_of(&server.metadata) else {
            continue;
        };
        let Some(serving) = cloud.server(&node) else {
            continue;
        };
        if serving.id == server.id {
            continue;
        }
        let addresses: Vec<&str> = server
            .addresses
            .values()
            .flatten()
            .map(|a| a.addr.as_str())
            .collect();
        let unused =
            !addresses.iter().any(|a| used.contains(a)) && server.attached_volume_ids().is_empty();
        if unused {
            out.push(Action::DeleteDuplicateServer {
                node: node.clone(),
                server_id: server.id.clone(),
                serving_id: serving.id.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cloud::Server;
    use crate::controller::owner::Owner;

    fn owner() -> Owner {
        Owner {
            namespace: "default".into(),
            name: "demo".into(),
            uid: "0b5c3a8e-5e2f-4c1e-9a3e-2f1d7c6b5a49".into(),
        }
    }

    fn server(id: &str, node: &str, address: &str, volumes: &[&str]) -> Server {
        let attached: Vec<_> = volumes
            .iter()
            .map(|v| serde_json::json!({ "id": v }))
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": id,
            "name": node,
            "status": "ACTIVE",
            "metadata": owner().node_metadata(node, 0),
            "tags": [owner().tag()],
            "flavor": {},
            "addresses": { "net": [{ "addr": address, "version": 4, "OS-EXT-IPS:type": "fixed" }] },
            "os-extended-volumes:volumes_attached": attached,
        }))
        .expect("a server document")
    }

    fn cloud(servers: Vec<Server>) -> Observed {
        Observed {
            servers,
            volumes: Vec::new(),
            ports: Vec::new(),
            block_storage_zones: BTreeSet::new(),
        }
    }

    fn gnodes(pairs: &[(&str, &str)]) -> GlusterNodes {
        GlusterNodes {
            order: pairs.iter().map(|(n, _)| n.to_string()).collect(),
            addresses: pairs
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
        }
    }

    fn deleted(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .map(|a| match a {
                Action::DeleteDuplicateServer { server_id, .. } => server_id.as_str(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn only_a_provably_unused_duplicate_goes() {
        let nodes = gnodes(&[("n1", "10.0.0.1"), ("n2", "10.0.0.2")]);
        let seen = Some(GlusterUse {
            nodes: &nodes,
            brick_hosts: vec!["10.0.0.1", "10.0.0.2"],
        });
        type Row<'a> = (&'a str, Vec<Server>, Option<GlusterUse<'a>>, Vec<&'a str>);
        let rows: Vec<Row> = vec![
            (
                "no duplicate",
                vec![
                    server("a", "n1", "10.0.0.1", &["v1"]),
                    server("b", "n2", "10.0.0.2", &["v2"]),
                ],
                seen.clone(),
                vec![],
            ),
            (
                "a second server of n1, no brick, nothing attached",
                vec![
                    server("a", "n1", "10.0.0.1", &["v1"]),
                    server("dup", "n1", "10.0.0.9", &[]),
                    server("b", "n2", "10.0.0.2", &["v2"]),
                ],
                seen.clone(),
                vec!["dup"],
            ),
            (
                "the duplicate holds a volume: left for a person",
                vec![
                    server("a", "n1", "10.0.0.1", &["v1"]),
                    server("dup", "n1", "10.0.0.9", &["v9"]),
                ],
                seen.clone(),
                vec![],
            ),
            (
                "the duplicate's address holds a brick: kept",
                vec![
                    server("a", "n1", "10.0.0.7", &[]),
                    server("dup", "n1", "10.0.0.1", &[]),
                ],
                seen.clone(),
                vec![],
            ),
            (
                "gluster not asked this pass: nothing provable",
                vec![
                    server("a", "n1", "10.0.0.1", &["v1"]),
                    server("dup", "n1", "10.0.0.9", &[]),
                ],
                None,
                vec![],
            ),
        ];
        for (what, servers, gluster, want) in rows {
            assert_eq!(
                deleted(&duplicate_servers(&cloud(servers), gluster)),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn before_the_volume_exists_a_duplicate_outside_the_pool_goes() {
        let nodes = gnodes(&[("n1", "10.0.0.1")]);
        let seen = Some(GlusterUse {
            nodes: &nodes,
            brick_hosts: Vec::new(),
        });
        let servers = vec![
            server("a", "n1", "10.0.0.1", &[]),
            server("dup", "n1", "10.0.0.9", &[]),
        ];
        let actions = duplicate_servers(&cloud(servers), seen);
        assert_eq!(
            actions,
            [Action::DeleteDuplicateServer {
                node: "n1".into(),
                server_id: "dup".into(),
                serving_id: "a".into(),
            }]
        );
    }
}

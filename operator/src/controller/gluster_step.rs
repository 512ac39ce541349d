//! Act and observe, gluster side, once every node's server is active with its brick attached:
//! observe the volume from the first node that answers (`volume info --xml`), let the planner
//! pick the steps from there, and run them in order over the node executor — peer probes from
//! the first node, the volume created with the planner's exact arguments (node names replaced
//! by addresses), its options (`auth.allow` among them) set, started. A wait step that is not
//! satisfied yet (peers not all connected) ends the pass; the reconcile comes back.
//!
//! [`observed_volume`], [`volume_status`] and [`mount_of`] are pure.

use std::collections::BTreeMap;

use crate::api::{BrickStatus as ApiBrick, VolumeStatus as ApiVolume};
use crate::gluster::xml::{VolumeInfo, VolumeState, VolumeStatus as XmlStatus, VolumeType};
use crate::gluster::{GlusterClient, GlusterError, NodeEndpoint, NodeExecutor, VolumeName};
use crate::plan::{ObservedVolume, Step};

use super::act::Done;
use super::error::ReconcileError;

/// The nodes gluster runs on, by name, with the address map the planner's commands need.
#[derive(Debug, Clone)]
pub struct GlusterNodes {
    /// Endpoints by node name, in index order when iterated through `order`.
    pub endpoints: BTreeMap<String, NodeEndpoint>,
    /// Node names by index.
    pub order: Vec<String>,
    /// Node name → address.
    pub addresses: BTreeMap<String, String>,
}

impl GlusterNodes {
    /// The node owning `address`, if any.
    pub fn node_at(&self, address: &str) -> Option<&str> {
        self.addresses
            .iter()
            .find(|(_, a)| a.as_str() == address)
            .map(|(n, _)| n.as_str())
    }

    fn endpoint(&self, node: &str) -> Result<&NodeEndpoint, ReconcileError> {
        self.endpoints
            .get(node)
            .ok_or_else(|| ReconcileError::MissingHostKey(node.to_string()))
    }
}

/// The volume as the planner sees it: its bricks mapped to node names by address. A brick on
/// an address no node has is an inconsistency the planner reports.
pub fn observed_volume(info: &VolumeInfo, nodes: &GlusterNodes) -> ObservedVolume {
    ObservedVolume {
        bricks: info
            .bricks
            .iter()
            .map(|b| {
                nodes
                    .node_at(&b.host)
                    .map(str::to_string)
                    .unwrap_or_else(|| b.host.clone())
            })
            .collect(),
        replica_count: info.replica_count,
        arbiter_count: info.arbiter_count,
        disperse_count: info.disperse_count,
        redundancy_count: info.redundancy_count,
    }
}

/// The volume for `status.volume`: type, counts, state, bricks with their online state.
pub fn volume_status(
    info: &VolumeInfo,
    status: Option<&XmlStatus>,
    nodes: &GlusterNodes,
) -> ApiVolume {
    let type_ = match &info.volume_type {
        VolumeType::Distribute => "Distribute".to_string(),
        VolumeType::Replicate => "Replicate".to_string(),
        VolumeType::Disperse => "Disperse".to_string(),
        VolumeType::DistributedReplicate => "Distributed-Replicate".to_string(),
        VolumeType::DistributedDisperse => "Distributed-Disperse".to_string(),
        VolumeType::Unsupported(t) => t.clone(),
    };
    let state = match info.state {
        VolumeState::Created => "Created",
        VolumeState::Started => "Started",
        VolumeState::Stopped => "Stopped",
    };
    ApiVolume {
        name: info.name.clone(),
        type_,
        state: Some(state.to_string()),
        replica_count: info.replica_count,
        arbiter_count: info.arbiter_count,
        disperse_count: info.disperse_count,
        redundancy_count: info.redundancy_count,
        distribute_count: info.distribute_count,
        sharding: info
            .options
            .get("features.shard")
            .is_some_and(|v| matches!(v.as_str(), "on" | "enable" | "true" | "yes")),
        bricks: info
            .bricks
            .iter()
            .map(|b| ApiBrick {
                name: b.name(),
                node: nodes.node_at(&b.host).unwrap_or(&b.host).to_string(),
                online: status.is_some_and(|s| {
                    s.bricks
                        .iter()
                        .any(|x| x.host == b.host && x.path == b.path && x.online)
                }),
            })
            .collect(),
    }
}

/// `status.mount` and the backup volfile servers: the first node's address, then the others.
pub fn mount_of(volume: &str, nodes: &GlusterNodes) -> Option<(String, Vec<String>)> {
    let mut addresses = nodes.order.iter().filter_map(|n| nodes.addresses.get(n));
    let first = addresses.next()?;
    Some((format!("{first}:/{volume}"), addresses.cloned().collect()))
}

/// The volume seen from the first node (by index) that answers; `Ok(None)` when it does not
/// exist. The error of the last node tried when none answers.
pub async fn observe_volume<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: &GlusterNodes,
    volume: &str,
) -> Result<Option<(VolumeInfo, Option<XmlStatus>)>, ReconcileError> {
    let name = VolumeName::new(volume).map_err(GlusterError::from)?;
    let mut last = None;
    for node in &nodes.order {
        let endpoint = nodes.endpoint(node)?;
        match client.volume_info(endpoint, &name).await {
            Ok(None) => return Ok(None),
            Ok(Some(info)) => {
                let status = if info.state == VolumeState::Started {
                    client.volume_status(endpoint, &name).await.ok()
                } else {
                    None
                };
                return Ok(Some((info, status)));
            }
            Err(GlusterError::Exec(e)) => last = Some(GlusterError::Exec(e)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(ReconcileError::from)
        .unwrap_or(ReconcileError::MissingMetadata("nodes with an address")))
}

/// How far a run of steps got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepRun {
    /// The steps taken.
    pub done: Vec<Done>,
    /// Why the run stopped early (a wait not satisfied, a step this version does not take).
    pub waiting: Option<String>,
}

/// Runs the gluster steps in order until one must wait.
pub async fn run_steps<E: NodeExecutor>(
    client: &GlusterClient<E>,
    nodes: &GlusterNodes,
    steps: &[Step],
) -> Result<StepRun, ReconcileError> {
    let mut run = StepRun::default();
    for step in steps {
        match step {
            Step::CreateNode { node } => {
                run.waiting = Some(format!("node {node} is not created yet"));
                return Ok(run);
            }
            Step::WaitPeersConnected { on, peers, .. } => {
                let pool = client.pool_list(nodes.endpoint(on)?).await?;
                let missing: Vec<&str> = peers
                    .iter()
                    .filter(|p| {
                        let address = nodes.addresses.get(*p).map(String::as_str);
                        !pool.iter().any(|peer| {
                            peer.connected
                                && (peer.is_named(p) || address.is_some_and(|a| peer.is_named(a)))
                        })
                    })
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    run.waiting = Some(format!(
                        "waiting for peers to connect: {}",
                        missing.join(", ")
                    ));
                    return Ok(run);
                }
            }
            Step::ProbePeer { on, command, peer } => {
                let argv = command.argv_with(&nodes.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "PeerProbed",
                    note: format!("{peer} probed from {on}"),
                });
            }
            Step::CreateVolume { on, command } => {
                let argv = command.argv_with(&nodes.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeCreated",
                    note: format!("gluster {}", argv[2..].join(" ")),
                });
            }
            Step::SetOption { on, key, command } => {
                let argv = command.argv_with(&nodes.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeOptionSet",
                    note: format!("{key} = {}", argv.last().map_or("", String::as_str)),
                });
            }
            Step::StartVolume { on, command } => {
                let argv = command.argv_with(&nodes.addresses)?;
                client.execute(nodes.endpoint(on)?, &argv).await?;
                run.done.push(Done {
                    reason: "VolumeStarted",
                    note: format!("volume started from {on}"),
                });
            }
            other => {
                run.waiting = Some(format!(
                    "step {} is not taken by this version of the operator",
                    other.kind()
                ));
                return Ok(run);
            }
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    use crate::gluster::{ExecFuture, GlusterCli, PinnedHostKey};
    use crate::plan::{CloudFacts, CurrentState, plan_change};

    /// Records each argv and answers with gluster's XML envelope (or a pool list).
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<(String, Vec<String>)>>,
        pool_connected: bool,
    }

    impl NodeExecutor for Recorder {
        fn run<'a>(
            &'a self,
            node: &'a NodeEndpoint,
            argv: &'a [String],
            _timeout: Duration,
        ) -> ExecFuture<'a> {
            Box::pin(async move {
                self.calls
                    .lock()
                    .expect("lock")
                    .push((node.name.clone(), argv.to_vec()));
                let stdout = if argv.iter().any(|a| a == "pool") {
                    let state = if self.pool_connected { 1 } else { 0 };
                    let peer = |i: u32, host: &str| {
                        format!(
                            "<peer><uuid>u{i}</uuid><hostname>{host}</hostname><hostnames><hostname>{host}</hostname></hostnames><connected>{state}</connected><state>3</state><stateStr>Peer in Cluster</stateStr></peer>"
                        )
                    };
                    format!(
                        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><peerStatus>{}{}</peerStatus></cliOutput>",
                        peer(0, "localhost"),
                        peer(1, "127.0.0.2")
                    )
                } else {
                    "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/></cliOutput>".to_string()
                };
                Ok(crate::gluster::CommandOutput {
                    exit_status: Some(0),
                    exit_signal: None,
                    stdout,
                    stderr: String::new(),
                })
            })
        }
    }

    fn host_key() -> PinnedHostKey {
        let pair = crate::bootstrap::SshKeyPair::generate("h").expect("key");
        PinnedHostKey::from_openssh(pair.public_key().openssh()).expect("pinned")
    }

    fn nodes(names: &[&str]) -> GlusterNodes {
        let key = host_key();
        let mut g = GlusterNodes {
            endpoints: BTreeMap::new(),
            order: Vec::new(),
            addresses: BTreeMap::new(),
        };
        for (i, n) in names.iter().enumerate() {
            let address = format!("127.0.0.{}", i + 1);
            g.endpoints.insert(
                n.to_string(),
                NodeEndpoint::new(*n, address.clone(), 22, key.clone()),
            );
            g.order.push(n.to_string());
            g.addresses.insert(n.to_string(), address);
        }
        g
    }

    fn two_node_plan() -> (crate::plan::ClusterPlan, GlusterNodes) {
        let spec: crate::api::GlusterClusterSpec = serde_yaml::from_str(
            "cloud: {secretName: s, cloudName: c}\nimage: i\nflavor: f\nnetwork: n\nzones: [{name: a, nodes: 2}]\nbrick: {size: 1Gi}\nvolume: {name: v, allowedClients: [10.0.0.0/8]}\n",
        )
        .expect("spec");
        let facts = CloudFacts {
            block_storage_zones: Some(["a".to_string()].into()),
        };
        let first = crate::plan::plan_cluster("c", &spec, &facts).expect("plan");
        let mut current = CurrentState::after(&first);
        current.volume = None;
        let plan = plan_change("c", &spec, &facts, &current).expect("plan");
        (plan, nodes(&["c-a-1", "c-a-2"]))
    }

    #[tokio::test]
    async fn steps_stop_at_an_unsatisfied_wait() {
        let (plan, nodes) = two_node_plan();
        let client = GlusterClient::new(Recorder::default(), GlusterCli::new());
        let run = run_steps(&client, &nodes, &plan.steps).await.expect("run");
        assert_eq!(
            run.done.iter().map(|d| d.reason).collect::<Vec<_>>(),
            ["PeerProbed"]
        );
        assert!(run.waiting.expect("waits").contains("c-a-2"));
        let calls = client.executor().calls.lock().expect("lock").clone();
        assert_eq!(calls[0].0, "c-a-1");
        assert!(
            calls[0]
                .1
                .ends_with(&["peer".into(), "probe".into(), "127.0.0.2".into()]),
            "{:?}",
            calls[0].1
        );
    }

    #[tokio::test]
    async fn connected_peers_lead_to_create_options_and_start_with_addresses() {
        let (plan, nodes) = two_node_plan();
        let client = GlusterClient::new(
            Recorder {
                pool_connected: true,
                ..Recorder::default()
            },
            GlusterCli::new(),
        );
        let run = run_steps(&client, &nodes, &plan.steps).await.expect("run");
        assert_eq!(run.waiting, None);
        let reasons: Vec<_> = run.done.iter().map(|d| d.reason).collect();
        assert_eq!(reasons.first(), Some(&"PeerProbed"));
        assert_eq!(reasons.last(), Some(&"VolumeStarted"));
        assert!(reasons.contains(&"VolumeCreated"));
        let calls = client.executor().calls.lock().expect("lock").clone();
        let create = calls
            .iter()
            .find(|(_, a)| a.contains(&"create".to_string()))
            .expect("volume create ran");
        assert!(
            create.1.contains(&"127.0.0.1:/export/v/brick".to_string())
                && create.1.contains(&"127.0.0.2:/export/v/brick".to_string()),
            "{:?}",
            create.1
        );
        let auth = calls
            .iter()
            .find(|(_, a)| a.contains(&"auth.allow".to_string()))
            .expect("auth.allow set");
        assert!(
            auth.1.last().expect("value").contains("10.*"),
            "{:?}",
            auth.1
        );
    }

    #[test]
    fn mount_is_the_first_address_with_the_rest_as_backups() {
        let nodes = nodes(&["c-a-1", "c-a-2", "c-a-3"]);
        assert_eq!(
            mount_of("v", &nodes),
            Some((
                "127.0.0.1:/v".to_string(),
                vec!["127.0.0.2".to_string(), "127.0.0.3".to_string()]
            ))
        );
    }
}

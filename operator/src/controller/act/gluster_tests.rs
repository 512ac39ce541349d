//! Act's gluster step runner against a recording executor: the argv of each step, the waits.

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
    /// What `volume rebalance VOL status` answers (gluster's XML), if asked.
    rebalance_status: Option<&'static str>,
    /// What `volume remove-brick VOL … status` answers (gluster's XML), if asked.
    remove_brick_status: Option<String>,
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
            let stdout = if argv.iter().any(|a| a == "remove-brick")
                && argv.last().is_some_and(|a| a == "status")
            {
                self.remove_brick_status
                    .clone()
                    .expect("no remove-brick status scripted")
            } else if argv.iter().any(|a| a == "rebalance")
                && argv.last().is_some_and(|a| a == "status")
            {
                self.rebalance_status
                    .expect("no rebalance status scripted")
                    .to_string()
            } else if argv.iter().any(|a| a == "pool") {
                let state = if self.pool_connected { 1 } else { 0 };
                let peer = |i: u32, host: &str| {
                    format!(
                        "<peer><uuid>u{i}</uuid><hostname>{host}</hostname><hostnames><hostname>{host}</hostname></hostnames><connected>{state}</connected><state>3</state><stateStr>Peer in Cluster</stateStr></peer>"
                    )
                };
                format!(
                    "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><peerStatus>{}{}</peerStatus></cliOutput>",
                    peer(0, "localhost"),
                    (2..=4)
                        .map(|i| peer(i - 1, &format!("127.0.0.{i}")))
                        .collect::<String>()
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

struct TestNodes {
    endpoints: Endpoints,
    gluster: GlusterNodes,
}

impl TestNodes {
    fn view(&self) -> Nodes<'_> {
        Nodes {
            endpoints: &self.endpoints,
            gluster: &self.gluster,
            fence: None,
        }
    }
}

fn nodes(names: &[&str]) -> TestNodes {
    let key = host_key();
    let mut g = TestNodes {
        endpoints: BTreeMap::new(),
        gluster: GlusterNodes::default(),
    };
    for (i, n) in names.iter().enumerate() {
        let address = format!("127.0.0.{}", i + 1);
        g.endpoints.insert(
            n.to_string(),
            NodeEndpoint::new(*n, address.clone(), 22, key.clone()),
        );
        g.gluster.order.push(n.to_string());
        g.gluster.addresses.insert(n.to_string(), address);
    }
    g
}

fn two_node_plan() -> (crate::plan::ClusterPlan, TestNodes) {
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
    let run = run_steps(&client, nodes.view(), "v", &plan.steps)
        .await
        .expect("run");
    assert_eq!(
        run.done
            .iter()
            .map(|d| d.reason.as_str())
            .collect::<Vec<_>>(),
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
    let run = run_steps(&client, nodes.view(), "v", &plan.steps)
        .await
        .expect("run");
    assert_eq!(run.waiting, None);
    let reasons: Vec<_> = run.done.iter().map(|d| d.reason.as_str()).collect();
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

const REBALANCE_COMPLETED: &str =
    include_str!("../../../tests/fixtures/gluster/rebalance-status-completed.xml");

/// Two nodes of a replica-2 volume, two more created for a second set: the plan from
/// there (the controller runs the gluster pass only once every server is up).
fn scale_out_plan() -> (crate::plan::ClusterPlan, TestNodes) {
    let spec = |nodes: u32| -> crate::api::GlusterClusterSpec {
        serde_yaml::from_str(&format!(
            "cloud: {{secretName: s, cloudName: c}}\nimage: i\nflavor: f\nnetwork: n\nzones: [{{name: a, nodes: {nodes}}}]\nbrick: {{size: 1Gi}}\nvolume: {{name: v, replicas: 2}}\n"
        ))
        .expect("spec")
    };
    let facts = CloudFacts {
        block_storage_zones: Some(["a".to_string()].into()),
    };
    let four = crate::plan::plan_cluster("c", &spec(4), &facts).expect("plan");
    let mut current = CurrentState::after(&four);
    let volume = current.volume.as_mut().expect("volume");
    volume.bricks.truncate(2);
    let plan = plan_change("c", &spec(4), &facts, &current).expect("plan");
    (plan, nodes(&["c-a-1", "c-a-2", "c-a-3", "c-a-4"]))
}

/// A client whose nodes all see each other connected and whose rebalance status is
/// `rebalance_status` (gluster's XML).
fn connected_client(rebalance_status: &'static str) -> GlusterClient<Recorder> {
    GlusterClient::new(
        Recorder {
            pool_connected: true,
            rebalance_status: Some(rebalance_status),
            ..Recorder::default()
        },
        GlusterCli::new(),
    )
}

#[tokio::test]
async fn scale_out_adds_a_set_then_rebalances_and_reports_completion() {
    let (plan, nodes) = scale_out_plan();
    let kinds: Vec<_> = plan.steps.iter().map(Step::kind).collect();
    assert!(
        kinds.ends_with(&[
            "SetOption",
            "AddBricks",
            "RebalanceStart",
            "WaitRebalance",
            "SetOption"
        ]),
        "{kinds:?}"
    );
    let client = connected_client(REBALANCE_COMPLETED);
    let run = run_steps(&client, nodes.view(), "v", &plan.steps)
        .await
        .expect("run");
    assert_eq!(run.waiting, None);
    let reasons: Vec<_> = run.done.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons.ends_with(&[
            "VolumeOptionSet",
            "BricksAdded",
            "RebalanceStarted",
            "RebalanceCompleted",
            "VolumeOptionSet"
        ]),
        "{reasons:?}"
    );
    let calls = client.executor().calls.lock().expect("lock").clone();
    let add = calls
        .iter()
        .find(|(_, a)| a.contains(&"add-brick".to_string()))
        .expect("add-brick ran");
    assert!(
        add.1.ends_with(&[
            "127.0.0.3:/export/v/brick".to_string(),
            "127.0.0.4:/export/v/brick".to_string()
        ]),
        "{:?}",
        add.1
    );
    let start = calls
        .iter()
        .position(|(_, a)| a.ends_with(&["rebalance".into(), "v".into(), "start".into()]))
        .expect("rebalance start ran");
    let added = calls
        .iter()
        .position(|(_, a)| a.contains(&"add-brick".to_string()))
        .expect("add-brick ran");
    assert!(added < start, "rebalance before add-brick: {calls:?}");
}

#[tokio::test]
async fn a_rebalance_not_finished_ends_the_pass_waiting() {
    let (plan, nodes) = scale_out_plan();
    // Gluster's own answer with the second node still moving data.
    let in_progress: &'static str = Box::leak(
        REBALANCE_COMPLETED
            .replacen("<status>3</status>", "<status>1</status>", 2)
            .into_boxed_str(),
    );
    let client = connected_client(in_progress);
    let run = run_steps(&client, nodes.view(), "v", &plan.steps)
        .await
        .expect("run");
    let waiting = run.waiting.expect("waits for the rebalance");
    assert!(waiting.contains("rebalance of volume v"), "{waiting}");
    assert!(!run.done.iter().any(|d| d.reason == "RebalanceCompleted"));
}

/// `remove-brick … status --xml` as gluster 10.3 prints it, one `<node>` per (name, status).
fn remove_brick_status(nodes: &[(&str, u32)]) -> String {
    let node = |(name, status): &(&str, u32)| {
        format!(
            "<node><nodeName>{name}</nodeName><id>id-{name}</id><files>3</files><size>300</size>\
             <lookups>5</lookups><failures>0</failures><skipped>0</skipped><status>{status}</status>\
             <statusStr>s</statusStr><runtime>0.50</runtime></node>"
        )
    };
    format!(
        "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>\
         <volRemoveBrick><task-id>t</task-id><nodeCount>4</nodeCount>{}</volRemoveBrick></cliOutput>",
        nodes.iter().map(node).collect::<String>()
    )
}

#[tokio::test]
async fn a_drain_is_committed_only_when_every_leaving_node_reports_completed() {
    let g = crate::plan::Gluster {
        volume: "v".into(),
        brick_path: "/export/v/brick".into(),
    };
    let leaving = ["c-a-3", "c-a-4"];
    let steps = vec![
        Step::WaitRemoveBricks {
            on: "c-a-1".into(),
            bricks: leaving.iter().map(|s| s.to_string()).collect(),
            command: g.remove_bricks(leaving, "status"),
        },
        Step::RemoveBricksCommit {
            on: "c-a-1".into(),
            bricks: leaving.iter().map(|s| s.to_string()).collect(),
            command: g.remove_bricks(leaving, "commit"),
        },
    ];
    let nodes = nodes(&["c-a-1", "c-a-2", "c-a-3", "c-a-4"]);
    // (status nodes, committed, words of the wait)
    type Case = (Vec<(&'static str, u32)>, bool, &'static str);
    let cases: Vec<Case> = vec![
        // c-a-4 not listed: its migration has not started.
        (
            vec![("127.0.0.3", 3)],
            false,
            "has not started on 127.0.0.4",
        ),
        (
            vec![("127.0.0.3", 3), ("127.0.0.4", 1)],
            false,
            "still running",
        ),
        (vec![("127.0.0.3", 3), ("127.0.0.4", 3)], true, ""),
    ];
    for (i, (listed, committed, words)) in cases.into_iter().enumerate() {
        let recorder = Recorder {
            remove_brick_status: Some(remove_brick_status(&listed)),
            ..Recorder::default()
        };
        let client = GlusterClient::new(recorder, GlusterCli::new());
        let run = run_steps(&client, nodes.view(), "v", &steps)
            .await
            .expect("run");
        let calls = client.executor().calls.lock().expect("lock").clone();
        let commits = calls
            .iter()
            .filter(|(_, argv)| argv.last().is_some_and(|a| a == "commit"))
            .count();
        assert_eq!(commits, usize::from(committed), "case {i}: {calls:?}");
        match run.waiting {
            Some(why) => assert!(!committed && why.contains(words), "case {i}: {why}"),
            None => assert!(committed, "case {i}"),
        }
    }
}

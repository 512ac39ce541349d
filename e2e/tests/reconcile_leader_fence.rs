//! Fenced leadership against the real API server and the OpenStack simulator: replica A leads
//! and reaches the API server through a TCP proxy of this test; while it builds a cluster the
//! proxy stops answering (connections stay open, nothing is forwarded: every Lease call of A
//! hangs until its timeout). Replica B, talking to the API server directly, takes the Lease
//! once it expires and carries the build on. A stops leading (its write fence closed) within
//! its renew deadline of the cut, before B leads, and every cloud write A attempted (as its
//! own cloud client reports them) happened before B led.

mod reconcile_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::openstack::{SimConfig, TimingConfig};
use gluster_operator::api::{GlusterCluster, NodeState};
use gluster_operator::cloud::{CallEvent, CallObserver, ObserverSlot};
use kube::config::{KubeConfigOptions, Kubeconfig};
use reconcile_support::{Replica, ReplicaTimings, World, example};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The instants of the cloud write attempts (not GET/HEAD) one replica made.
#[derive(Default)]
struct Writes(Mutex<Vec<Instant>>);

impl CallObserver for Writes {
    fn observe(&self, event: &CallEvent<'_>) {
        if event.method != "GET" && event.method != "HEAD" {
            self.0.lock().unwrap().push(Instant::now());
        }
    }
}

/// A TCP proxy to `upstream` that forwards until it is cut, then answers nothing: open
/// connections stay open without a byte moving, new ones are accepted and held.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (flag, upstream) = (flag.clone(), upstream.clone());
                tokio::spawn(async move {
                    if flag.load(Ordering::SeqCst) {
                        // Held, never answered.
                        let _held = client;
                        std::future::pending::<()>().await;
                        return;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    forward(client, server, flag).await;
                });
            }
        });
        Proxy { addr, cut }
    }
}

/// Copies both ways until either side closes or `cut` is set; after a cut both sockets are
/// held open and nothing moves.
async fn forward(client: TcpStream, server: TcpStream, cut: Arc<AtomicBool>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pump(cr, sw, cut.clone()));
    let down = tokio::spawn(pump(sr, cw, cut));
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to` until `from` ends, or forever holds both once `cut` is set.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = tokio::time::sleep(Duration::from_millis(50)) => 0,
        };
        if cut.load(Ordering::SeqCst) {
            let _held = (from, to);
            std::future::pending::<()>().await;
            return;
        }
        if n > 0 && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn all_booted(c: &GlusterCluster) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.nodes.len() as u32 == s.desired_nodes
            && s.desired_nodes > 0
            && s.nodes.iter().all(|n| n.state == NodeState::Booting)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_writes_nothing_once_another_leads() {
    if reconcile_support::skip_in_external_mode(
        "a_leader_cut_off_from_the_api_server_writes_nothing_once_another_leads",
        "needs the chart's Lease on the test control plane",
    ) {
        return;
    }
    // Servers take a while to build: the build is in flight when A is cut off.
    let sim = SimConfig {
        timing: TimingConfig {
            server_build_ms: 1500,
            ..TimingConfig::uniform(20)
        },
        ..SimConfig::default()
    };
    let world = World::start_without_controller(sim).await;
    let identity = world.operator.clone().expect("the chart's identity");
    let kubeconfig = Kubeconfig::read_from(&identity.kubeconfig).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    let upstream = config
        .cluster_url
        .authority()
        .expect("host:port")
        .to_string();
    let proxy = Proxy::start(upstream).await;
    config.cluster_url = format!(
        "https://{}{}",
        proxy.addr,
        config.cluster_url.path().trim_end_matches('/')
    )
    .parse()
    .unwrap();
    let through_proxy = kube::Client::try_from(config).unwrap();

    let timings = ReplicaTimings {
        duration: Duration::from_secs(6),
        renew_deadline: Duration::from_secs(4),
        retry_period: Duration::from_millis(300),
        call_timeout: Duration::from_secs(1),
    };
    let writes = Arc::new(Writes::default());
    let a = Replica::start_with(
        &world,
        "replica-a",
        &through_proxy,
        timings,
        Some(ObserverSlot::new(writes.clone())),
    );
    tokio::time::timeout(Duration::from_secs(60), async {
        while !a.leads() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a leads");
    let b = Replica::start_with(&world, "replica-b", &world.operator_client, timings, None);
    world.apply(&example("two-zones-replica2.yaml")).await;

    // A is cut off once it has started writing to the cloud.
    tokio::time::timeout(Duration::from_secs(60), async {
        while writes.0.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("a writes to the cloud");
    proxy.cut.store(true, Ordering::SeqCst);
    let cut_at = Instant::now();

    // B takes over once A's Lease expires; A gives up leading (its fence closed) first.
    let mut a_stopped_at = None;
    tokio::time::timeout(Duration::from_secs(60), async {
        while !b.leads() {
            if a_stopped_at.is_none() && !a.leads() {
                a_stopped_at = Some(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("b leads");
    let b_leads_at = Instant::now();
    assert!(b_leads_at > cut_at);
    let a_stopped_at = a_stopped_at.expect("a stopped leading before b led");
    assert!(
        a_stopped_at.duration_since(cut_at) <= timings.renew_deadline + Duration::from_secs(1),
        "a stopped leading {:?} after the cut",
        a_stopped_at.duration_since(cut_at)
    );
    // B carries the build on to the end.
    world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    assert!(b.reconciles() > 0, "b reconciled");
    // A stopped leading, and none of its writes came after B led.
    assert!(!a.leads(), "a still says it leads");
    let a_writes = writes.0.lock().unwrap().clone();
    let late: Vec<_> = a_writes
        .iter()
        .filter(|t| **t >= b_leads_at)
        .map(|t| t.duration_since(b_leads_at))
        .collect();
    println!(
        "a: {} cloud writes, the last {:?} before b led; b led {:?} after the cut",
        a_writes.len(),
        a_writes.last().map(|t| b_leads_at.duration_since(*t)),
        b_leads_at.duration_since(cut_at)
    );
    assert!(
        late.is_empty(),
        "{} of a's {} cloud writes came after b led (by {late:?})",
        late.len(),
        a_writes.len()
    );
    b.stop().await;
    drop(a);
    world.stop().await;
}

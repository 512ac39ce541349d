//! The target of a client scenario: the simulator or a real cloud, always behind the recorder
//! proxy (e2e::recorder), which counts the calls, injects faults and records the exchanges the
//! same way for both. Names are unique per test; [`Env::finish`] asserts that nothing the test
//! created is left and, on a real cloud with `E2E_RECORD_FIXTURES=1`, writes the fixtures.

use std::path::PathBuf;
use std::time::Duration;

use e2e::openstack::{SimConfig, Simulator};
use e2e::recorder::{Exchange, ProxyAction, ProxyFault, Recorder};
use gluster_operator::cloud::{Backoff, ClientOptions, Cloud, ServerCreate, WaitPolicy};

use super::{capture_logs, fast_options, fast_wait, meta};

/// The environment variable naming the real cloud's clouds.yaml.
pub const CLOUDS_VAR: &str = "E2E_CONFORMANCE_CLOUDS";
/// The environment variable naming the cloud in it (default `conformance`).
pub const CLOUD_VAR: &str = "E2E_CONFORMANCE_CLOUD";
/// Set to `1` to (re)write e2e/tests/fixtures/openstack-real from a real cloud.
pub const RECORD_VAR: &str = "E2E_RECORD_FIXTURES";

/// Where the recorded real responses live.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openstack-real")
}

/// IDs of the default world, looked up by name.
#[derive(Clone, Debug)]
pub struct World {
    /// Network `private`.
    pub network: String,
    /// Image `ubuntu-22.04`.
    pub image: String,
    /// Flavor `m1.small`.
    pub flavor: String,
}

/// A scenario's target.
pub struct Env {
    /// A client (password auth) through the proxy.
    pub cloud: Cloud,
    /// The proxy.
    pub recorder: Recorder,
    /// The simulator, when the target is one (simulator-only checks).
    pub sim: Option<Simulator>,
    /// clouds.yaml through the proxy.
    pub yaml: String,
    /// clouds.yaml of the cloud itself.
    pub upstream_yaml: String,
    /// The password-auth cloud's name in it.
    pub cloud_name: String,
    /// Every cloud in it this scenario authenticates with.
    pub auth_clouds: Vec<String>,
    /// The unique prefix of this test's names.
    pub prefix: String,
    /// IDs of the world.
    pub world: World,
    /// The first two octets of server addresses (`127.100.` or `127.102.`).
    pub subnet_prefix: &'static str,
    /// How long to wait for state changes.
    pub wait: WaitPolicy,
    /// The request timeout of the slow-answer scenario (a real Keystone takes about a second
    /// to issue a token on a loaded machine).
    pub request_timeout: Duration,
    finished: bool,
}

/// `gc-<initials of the test>-<6 hex>`: short enough for Nova tags (60 characters).
fn unique(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let initials: String = test.split('_').filter_map(|w| w.chars().next()).collect();
    format!("gc-{initials}-{}", &id[..6])
}

impl Env {
    /// The simulator started with `config`, behind a proxy.
    pub async fn sim(config: SimConfig, test: &str) -> Env {
        capture_logs();
        let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("the simulator starts");
        let yaml = sim.clouds_yaml();
        Env::through(
            yaml,
            "sim",
            vec!["sim".into(), "sim-appcred".into()],
            Some(sim),
            "127.100.",
            fast_wait(),
            test,
        )
        .await
    }

    /// The real cloud of `E2E_CONFORMANCE_CLOUDS`, behind a proxy.
    pub async fn real(test: &str) -> Env {
        capture_logs();
        let path = std::env::var(CLOUDS_VAR).unwrap_or_else(|_| {
            panic!(
                "{CLOUDS_VAR} is not set: the conformance tests need a real OpenStack cloud \
                 (e2e/conformance/cloud.sh up DIR writes DIR/clouds.yaml; then \
                 {CLOUDS_VAR}=DIR/clouds.yaml)"
            )
        });
        let yaml =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{CLOUDS_VAR}={path}: {e}"));
        let name = std::env::var(CLOUD_VAR).unwrap_or_else(|_| "conformance".into());
        Env::through(
            yaml,
            &name,
            vec![name.clone()],
            None,
            "127.102.",
            WaitPolicy {
                backoff: Backoff {
                    initial: Duration::from_millis(100),
                    max: Duration::from_millis(500),
                    max_attempts: u32::MAX,
                },
                timeout: Duration::from_secs(180),
            },
            test,
        )
        .await
    }

    async fn through(
        upstream_yaml: String,
        cloud_name: &str,
        auth_clouds: Vec<String>,
        sim: Option<Simulator>,
        subnet_prefix: &'static str,
        wait: WaitPolicy,
        test: &str,
    ) -> Env {
        let sim_target = sim.is_some();
        let recorder = Recorder::start("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("the recorder starts");
        let yaml = recorder.clouds_yaml(&upstream_yaml).expect("clouds.yaml");
        // The world's IDs straight from the cloud, so that the recording starts empty.
        let direct = Cloud::from_clouds_yaml(&upstream_yaml, cloud_name, None, fast_options())
            .expect("client");
        let world = World {
            network: direct
                .network()
                .network("private")
                .await
                .expect("network")
                .id,
            image: direct
                .image()
                .image("ubuntu-22.04")
                .await
                .expect("image")
                .id,
            flavor: direct
                .compute()
                .flavor("m1.small")
                .await
                .expect("flavor")
                .id,
        };
        let cloud =
            Cloud::from_clouds_yaml(&yaml, cloud_name, None, fast_options()).expect("client");
        Env {
            cloud,
            recorder,
            sim,
            yaml,
            upstream_yaml,
            cloud_name: cloud_name.into(),
            auth_clouds,
            prefix: unique(test),
            world,
            subnet_prefix,
            wait,
            request_timeout: if sim_target {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(5)
            },
            finished: false,
        }
    }

    /// Whether the target is the simulator.
    pub fn is_sim(&self) -> bool {
        self.sim.is_some()
    }

    /// A new client through the proxy with `options`, for cloud `name`.
    pub fn client_for(&self, name: &str, options: ClientOptions) -> Cloud {
        Cloud::from_clouds_yaml(&self.yaml, name, None, options).expect("client")
    }

    /// A new client (the password cloud) through the proxy with `options`.
    pub fn client(&self, options: ClientOptions) -> Cloud {
        self.client_for(&self.cloud_name, options)
    }

    /// `PREFIX-suffix`: a name unique to this test.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// Calls of `method` to `service` on `route` (e.g. `compute`, `/v2.1/servers`) so far.
    pub fn calls(&self, method: &str, service: &str, route: &str) -> u64 {
        self.recorder.calls(method, service, route)
    }

    /// Injects `action` on `method service route`, `times` times (always when `None`).
    pub fn fault(
        &self,
        method: &str,
        service: &str,
        route: &str,
        action: ProxyAction,
        times: Option<u32>,
    ) {
        self.recorder.add_fault(ProxyFault {
            method: Some(method.into()),
            service: service.into(),
            route: route.into(),
            action,
            times,
        });
    }

    /// A server of node `index` of cluster `PREFIX-cluster` in `zone`, named
    /// `PREFIX-cluster-index`.
    pub fn server_spec(&self, cluster: &str, index: u32, zone: &str) -> ServerCreate {
        let cluster = self.name(cluster);
        ServerCreate {
            name: format!("{cluster}-{index}"),
            flavor_id: self.world.flavor.clone(),
            image_id: self.world.image.clone(),
            availability_zone: Some(zone.into()),
            networks: vec![self.world.network.clone()],
            ports: vec![],
            security_groups: Vec::new(),
            key_name: None,
            user_data: Some(b"#cloud-config\nruncmd: [true]\n".to_vec()),
            metadata: meta(&[
                ("gluster.cluster-uid", &cluster),
                ("gluster.node-index", &index.to_string()),
            ]),
            tags: vec![format!("gluster-cluster-{cluster}")],
        }
    }

    /// Asserts that nothing this test created is left (waiting for deletes it asked for), and
    /// cleans up and fails if something is; then records the fixtures (real cloud,
    /// `E2E_RECORD_FIXTURES=1`) and stops the proxy and the simulator.
    pub async fn finish(mut self) {
        self.finished = true;
        let created = Created::from(&self.recorder.exchanges());
        let direct =
            Cloud::from_clouds_yaml(&self.upstream_yaml, &self.cloud_name, None, fast_options())
                .expect("client");
        let left = created.left(&direct, self.wait).await;
        if !left.is_empty() {
            created.remove(&direct, self.wait).await;
            panic!("{} left behind: {left:?}", self.prefix);
        }
        if self.sim.is_none() && std::env::var(RECORD_VAR).is_ok_and(|v| v == "1") {
            let n = e2e::recorder::write_fixtures(&fixtures_dir(), &self.recorder.exchanges())
                .expect("fixtures");
            eprintln!("{}: {n} fixture(s) written", self.prefix);
        }
        self.recorder.shutdown().await;
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
    }
}

impl Drop for Env {
    /// After a failure on a real cloud, deletes what the test created (straight to the cloud:
    /// the proxy runs on the test's runtime, which is unwinding).
    fn drop(&mut self) {
        if self.finished || self.sim.is_some() {
            return;
        }
        let created = Created::from(&self.recorder.exchanges());
        let yaml = self.upstream_yaml.clone();
        let name = self.cloud_name.clone();
        let wait = self.wait;
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(cloud) = Cloud::from_clouds_yaml(&yaml, &name, None, fast_options()) {
                    created.remove(&cloud, wait).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// What a test created, from the successful creates the proxy saw.
#[derive(Debug, Default)]
pub struct Created {
    servers: Vec<String>,
    volumes: Vec<String>,
    snapshots: Vec<String>,
    keypairs: Vec<String>,
    security_groups: Vec<String>,
}

impl Created {
    /// Collects the IDs (names for keypairs) from `exchanges`.
    pub fn from(exchanges: &[Exchange]) -> Created {
        let mut c = Created::default();
        for e in exchanges
            .iter()
            .filter(|e| e.method == "POST" && (200..300).contains(&e.status) && !e.injected)
        {
            let id = |ptr: &str| {
                e.body
                    .pointer(ptr)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            match (e.service.as_str(), e.route.as_str()) {
                ("compute", "/v2.1/servers") => c.servers.extend(id("/server/id")),
                ("compute", "/v2.1/os-keypairs") => c.keypairs.extend(id("/keypair/name")),
                ("volume", "/v3/{id}/volumes") => c.volumes.extend(id("/volume/id")),
                ("volume", "/v3/{id}/snapshots") => c.snapshots.extend(id("/snapshot/id")),
                ("network", "/v2.0/security-groups") => {
                    c.security_groups.extend(id("/security_group/id"))
                }
                _ => {}
            }
        }
        c
    }

    /// What is still there (after waiting for deletions in progress).
    pub async fn left(&self, cloud: &Cloud, wait: WaitPolicy) -> Vec<String> {
        let mut left = Vec::new();
        for id in &self.servers {
            if cloud.compute().get_server(id).await.expect("get").is_some()
                && cloud
                    .compute()
                    .wait_for_server_deleted(id, wait)
                    .await
                    .is_err()
            {
                left.push(format!("server {id}"));
            }
        }
        for id in &self.snapshots {
            if cloud
                .volume()
                .get_snapshot(id)
                .await
                .expect("get")
                .is_some()
            {
                left.push(format!("snapshot {id}"));
            }
        }
        for id in &self.volumes {
            if cloud.volume().get_volume(id).await.expect("get").is_some()
                && cloud
                    .volume()
                    .wait_for_volume_deleted(id, wait)
                    .await
                    .is_err()
            {
                left.push(format!("volume {id}"));
            }
        }
        for name in &self.keypairs {
            if cloud
                .compute()
                .get_keypair(name)
                .await
                .expect("get")
                .is_some()
            {
                left.push(format!("keypair {name}"));
            }
        }
        for id in &self.security_groups {
            if cloud
                .network()
                .get_security_group(id)
                .await
                .expect("get")
                .is_some()
            {
                left.push(format!("security group {id}"));
            }
        }
        left
    }

    /// Deletes all of it, best effort.
    pub async fn remove(&self, cloud: &Cloud, wait: WaitPolicy) {
        for id in &self.servers {
            let _ = cloud.compute().delete_server(id).await;
        }
        for id in &self.servers {
            let _ = cloud.compute().wait_for_server_deleted(id, wait).await;
        }
        for id in &self.snapshots {
            let _ = cloud.volume().delete_snapshot(id).await;
        }
        for id in &self.volumes {
            let _ = cloud.volume().delete_volume(id).await;
        }
        for name in &self.keypairs {
            let _ = cloud.compute().delete_keypair(name).await;
        }
        for id in &self.security_groups {
            let _ = cloud.network().delete_security_group(id).await;
        }
    }
}

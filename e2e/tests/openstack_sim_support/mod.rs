//! Helpers shared by the simulator's tests: start a simulator with fast timings, talk to it
//! over plain HTTP (reqwest), wait for asynchronous states.
#![allow(dead_code)]

use e2e::openstack::{SimConfig, Simulator, TimingConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// A default world with every transition taking `ms` milliseconds.
pub fn fast_config(ms: u64) -> SimConfig {
    SimConfig {
        timing: TimingConfig::uniform(ms),
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator starts")
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A plain HTTP client holding a token.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub project_id: String,
    /// `OpenStack-API-Version` sent with every call (e.g. `compute 2.96`).
    pub versions: Vec<String>,
}

impl Client {
    /// Authenticates with the configured user's password on the configured project.
    pub async fn login(sim: &Simulator) -> Client {
        let id = &sim.config().identity;
        Self::login_as(sim, &id.username, id.password.expose()).await
    }

    /// Authenticates as the configured administrator on the configured project.
    pub async fn login_admin(sim: &Simulator) -> Client {
        let admin = &sim.config().identity.admin;
        Self::login_as(sim, &admin.username, admin.password.expose()).await
    }

    async fn login_as(sim: &Simulator, user: &str, password: &str) -> Client {
        let http = reqwest::Client::new();
        let id = &sim.config().identity;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": id.domain_name}, "password": password}}},
            "scope": {"project": {"name": id.project_name, "domain": {"id": id.domain_id}}},
        }});
        let resp = http
            .post(format!("{}/auth/tokens", sim.auth_url()))
            .json(&body)
            .send()
            .await
            .expect("token request");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("X-Subject-Token")
            .to_string();
        Client {
            http,
            base: sim.base_url(),
            token,
            project_id: id.project_id.clone(),
            versions: vec!["compute 2.96".into(), "volume 3.71".into()],
        }
    }

    pub fn with_versions(&self, versions: &[&str]) -> Client {
        Client {
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ..self.clone()
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self
            .http
            .request(method, url)
            .header("x-auth-token", &self.token);
        for v in &self.versions {
            req = req.header("openstack-api-version", v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent and answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(Method::PUT, path, body).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// `/volume/v3/{project_id}` + `rest`.
    pub fn volume(&self, rest: &str) -> String {
        format!("/volume/v3/{}{rest}", self.project_id)
    }

    /// Creates a server and returns its ID.
    pub async fn create_server(&self, name: &str, extra: Value) -> String {
        let mut server = json!({
            "name": name, "flavorRef": "2", "imageRef": "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21",
            "networks": [{"uuid": "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c"}],
        });
        if let (Some(s), Some(e)) = (server.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        let a = self
            .post("/compute/v2.1/servers", json!({"server": server}))
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        a.body["server"]["id"]
            .as_str()
            .expect("server id")
            .to_string()
    }

    /// Waits until the server's status is `status`; returns the server.
    pub async fn wait_server(&self, id: &str, status: &str) -> Value {
        let path = format!("/compute/v2.1/servers/{id}");
        eventually(&format!("server {id} {status}"), || async {
            let a = self.get(&path).await;
            (a.body["server"]["status"] == status).then(|| a.body["server"].clone())
        })
        .await
    }

    /// Waits until `GET path` answers 404.
    pub async fn wait_gone(&self, path: &str) {
        eventually(&format!("{path} gone"), || async {
            (self.get(path).await.status == StatusCode::NOT_FOUND).then_some(())
        })
        .await
    }

    /// Creates a volume and waits for `available`; returns its ID.
    pub async fn create_volume(&self, name: &str, size: u64, az: &str) -> String {
        let a = self
            .post(
                &self.volume("/volumes"),
                json!({"volume": {"name": name, "size": size, "availability_zone": az}}),
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        let id = a.body["volume"]["id"]
            .as_str()
            .expect("volume id")
            .to_string();
        self.wait_volume(&id, "available").await;
        id
    }

    pub async fn wait_volume(&self, id: &str, status: &str) -> Value {
        let path = self.volume(&format!("/volumes/{id}"));
        eventually(&format!("volume {id} {status}"), || async {
            let a = self.get(&path).await;
            (a.body["volume"]["status"] == status).then(|| a.body["volume"].clone())
        })
        .await
    }
}

/// Polls `probe` every 10 ms until it yields a value; fails after 1000 tries (10 s), which no
/// transition of a fast-timed simulator comes near.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..1000 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A gate a hook can wait at; open unless closed.
pub struct Gate {
    closed: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            closed: std::sync::Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }
}

impl Gate {
    pub fn close(&self) {
        *self.closed.lock().expect("gate") = true;
    }
    pub fn open(&self) {
        *self.closed.lock().expect("gate") = false;
        self.cv.notify_all();
    }
    fn pass(&self) {
        let mut closed = self.closed.lock().expect("gate");
        while *closed {
            closed = self.cv.wait(closed).expect("gate");
        }
    }
}

/// A boot hook that records every event and waits at its gate before returning, so a test can
/// hold a server in BUILD (or a volume in `attaching`) as long as it likes.
#[derive(Default)]
pub struct Recorder {
    pub servers: std::sync::Mutex<Vec<(&'static str, e2e::openstack::ServerEvent)>>,
    pub volumes: std::sync::Mutex<Vec<(&'static str, e2e::openstack::VolumeEvent)>>,
    pub gate: Gate,
}

impl Recorder {
    pub fn server_events(&self, kind: &str) -> Vec<e2e::openstack::ServerEvent> {
        self.servers
            .lock()
            .expect("events")
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, e)| e.clone())
            .collect()
    }
    pub fn volume_events(&self, kind: &str) -> Vec<e2e::openstack::VolumeEvent> {
        self.volumes
            .lock()
            .expect("events")
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

impl e2e::openstack::BootHook for Recorder {
    fn server_active(&self, event: &e2e::openstack::ServerEvent) {
        self.servers
            .lock()
            .expect("events")
            .push(("active", event.clone()));
        self.gate.pass();
    }
    fn server_deleted(&self, event: &e2e::openstack::ServerEvent) {
        self.servers
            .lock()
            .expect("events")
            .push(("deleted", event.clone()));
        self.gate.pass();
    }
    fn volume_attached(&self, event: &e2e::openstack::VolumeEvent) {
        self.volumes
            .lock()
            .expect("events")
            .push(("attached", event.clone()));
        self.gate.pass();
    }
    fn volume_detached(&self, event: &e2e::openstack::VolumeEvent) {
        self.volumes
            .lock()
            .expect("events")
            .push(("detached", event.clone()));
        self.gate.pass();
    }
}

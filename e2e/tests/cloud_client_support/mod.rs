//! Shared set-up of the cloud client tests: a simulator on 127.0.0.1:0 with fast timings, a
//! client with a fast retry schedule, and a capture of every tracing line (for the redaction
//! checks).

#![allow(dead_code)] // each test binary uses a different part

pub mod env;
#[macro_use]
pub mod scenarios;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use e2e::openstack::{SimConfig, Simulator, TimingConfig};
use gluster_operator::cloud::{Backoff, ClientOptions, Cloud, WaitPolicy};

/// The simulator's identity (SimConfig::default()).
pub const PASSWORD: &str = "sim-password";
pub const APPCRED_SECRET: &str = "sim-appcred-secret";
pub const PROJECT_ID: &str = "3f0f6b3a1c1e4c6e9d3f5a7b9c1d2e4f";
/// Every token the simulator issues starts so (a Fernet token's prefix).
pub const TOKEN_PREFIX: &str = "gAAAAA";

/// The default world with every state transition taking 20 ms.
pub fn fast_config() -> SimConfig {
    SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    }
}

/// Retries within milliseconds, four attempts in all.
pub fn fast_options() -> ClientOptions {
    ClientOptions {
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            max_attempts: 4,
        },
        max_retry_after: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// Polls every 10–100 ms for up to 30 s.
pub fn fast_wait() -> WaitPolicy {
    WaitPolicy {
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            max_attempts: u32::MAX,
        },
        timeout: Duration::from_secs(30),
    }
}

/// Starts a simulator with `config` on an ephemeral loopback port.
pub async fn start(config: SimConfig) -> Simulator {
    capture_logs();
    Simulator::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the simulator starts")
}

/// A client for cloud `name` (`sim` or `sim-appcred`) of the simulator.
pub fn client(sim: &Simulator, name: &str, options: ClientOptions) -> Cloud {
    Cloud::from_clouds_yaml(&sim.clouds_yaml(), name, None, options).expect("client")
}

/// Metadata as the operator writes it.
pub fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Calls of `method` on the simulator's route `template`.
pub fn calls(sim: &Simulator, method: &str, template: &str) -> u64 {
    sim.counters().get(method, template)
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Buffer> = OnceLock::new();

/// Installs (once per test binary) a subscriber that keeps every line at TRACE level, the
/// client's, reqwest's and hyper's alike.
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    });
}

/// Everything logged so far in this test binary.
pub fn logs() -> String {
    let buffer = LOGS.get().expect("capture_logs ran");
    String::from_utf8_lossy(&buffer.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// Asserts that `text` holds no credential or token of the simulator.
pub fn assert_no_secrets(what: &str, text: &str) {
    for secret in [PASSWORD, APPCRED_SECRET, TOKEN_PREFIX] {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({secret:?}):\n{text}"
        );
    }
}

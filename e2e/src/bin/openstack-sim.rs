//! `openstack-sim`: runs the OpenStack simulator until SIGINT or SIGTERM.
//!
//! ```text
//! openstack-sim [--config FILE] [--listen ADDR] --clouds-yaml PATH [--boot-hook CMD]
//! ```
//!
//! Writes a ready clouds.yaml (clouds `sim` and `sim-appcred`) to PATH, prints the base URL on
//! stdout and serves. With `--boot-hook`, CMD runs through `sh -c` for every server that becomes
//! ACTIVE or is deleted and every volume attached or detached, with one JSON object on stdin:
//! `{"event": "server_active" | "server_deleted", "server": {...}}` or
//! `{"event": "volume_attached" | "volume_detached", "volume": {...}}`; the server's decoded
//! user data is in `server.user_data` (text, null if not UTF-8) and `server.user_data_base64`.

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use e2e::openstack::{BootHook, ServerEvent, SimConfig, Simulator, VolumeEvent};
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// OpenStack simulator (Keystone, Nova, Cinder, Neutron, Glance) for gluster-operator's tests.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// YAML or JSON configuration (default: the default world).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write clouds.yaml.
    #[arg(long)]
    clouds_yaml: PathBuf,
    /// Shell command run with each server/volume event as JSON on stdin.
    #[arg(long)]
    boot_hook: Option<String>,
}

/// Runs a shell command per event.
struct CommandHook {
    command: String,
}

impl CommandHook {
    fn run(&self, payload: Value) {
        let event = payload["event"].as_str().unwrap_or("event").to_string();
        let result = (|| -> std::io::Result<std::process::Output> {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(payload.to_string().as_bytes())?;
            }
            child.wait_with_output()
        })();
        match result {
            Ok(out) if out.status.success() => tracing::info!(%event, "boot hook done"),
            Ok(out) => tracing::warn!(
                %event,
                status = %out.status,
                stderr = %String::from_utf8_lossy(&out.stderr),
                "boot hook failed"
            ),
            Err(e) => tracing::warn!(%event, error = %e, "boot hook could not run"),
        }
    }
}

fn server_json(e: &ServerEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    v["user_data"] = json!(e.user_data_text());
    v["user_data_base64"] = json!(
        e.user_data
            .as_deref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
    );
    v
}

impl BootHook for CommandHook {
    fn server_active(&self, event: &ServerEvent) {
        self.run(json!({"event": "server_active", "server": server_json(event)}));
    }
    fn server_deleted(&self, event: &ServerEvent) {
        self.run(json!({"event": "server_deleted", "server": server_json(event)}));
    }
    fn volume_attached(&self, event: &VolumeEvent) {
        self.run(json!({"event": "volume_attached", "volume": event}));
    }
    fn volume_detached(&self, event: &VolumeEvent) {
        self.run(json!({"event": "volume_detached", "volume": event}));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => SimConfig::from_file(path)?,
        None => SimConfig::default(),
    };
    let sim = Simulator::start(config, args.listen).await?;
    std::fs::write(&args.clouds_yaml, sim.clouds_yaml())
        .with_context(|| format!("writing {}", args.clouds_yaml.display()))?;
    if let Some(command) = args.boot_hook {
        sim.set_boot_hook(Arc::new(CommandHook { command }));
    }
    println!("{}", sim.base_url());
    tracing::info!(auth_url = %sim.auth_url(), clouds_yaml = %args.clouds_yaml.display(), "serving until SIGINT/SIGTERM");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    sim.shutdown().await;
    Ok(())
}

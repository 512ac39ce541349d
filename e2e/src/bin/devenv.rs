//! `devenv up --dir DIR`: the whole local world (OpenStack simulator, a real Kubernetes control
//! plane with the GlusterCluster CRD and the operator's chart applied, the `openstack`
//! credentials Secret) in the foreground until SIGINT/SIGTERM. `devenv down --dir DIR` stops a
//! running one. It does not start the operator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use e2e::devenv::{CLOUD_NAME, DevEnv, DevEnvOptions, NAMESPACE, SECRET_NAME};

/// The local gluster-operator world.
#[derive(Debug, Parser)]
#[command(
    name = "devenv",
    about = "The local world gluster-operator runs against"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything, write DIR/kubeconfig, DIR/operator.kubeconfig, DIR/clouds.yaml and
    /// DIR/ready, serve until
    /// SIGINT or SIGTERM, then stop everything.
    Up {
        /// The state directory.
        #[arg(long)]
        dir: PathBuf,
        /// Run no loopback gluster nodes: servers are only simulated (nodes need root).
        #[arg(long)]
        no_nodes: bool,
    },
    /// Stop the devenv whose state directory is DIR (SIGTERM, then wait for it to finish).
    Down {
        /// The state directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

const PID_FILE: &str = "devenv.pid";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up { dir, no_nodes } => up(&dir, !no_nodes).await,
        Command::Down { dir } => down(&dir).await,
    }
}

async fn up(dir: &Path, with_nodes: bool) -> anyhow::Result<()> {
    // A stale `ready` from an earlier run must not be taken for this one.
    let _ = std::fs::remove_file(dir.join("ready"));
    let nodes_dir = dir.join("nodes");
    let options = DevEnvOptions {
        nodes_dir: with_nodes.then(|| nodes_dir.clone()),
        ..DevEnvOptions::default()
    };
    let env = DevEnv::start(options).await?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(PID_FILE), std::process::id().to_string())
        .with_context(|| format!("writing {}", dir.join(PID_FILE).display()))?;
    env.write_state(dir)?;
    println!("devenv is up (state in {})", dir.display());
    println!("  OpenStack simulator   {}", env.sim().auth_url());
    println!(
        "  Kubernetes            {} (kube-apiserver, etcd, kube-controller-manager; logs in {})",
        env.control_plane().server(),
        env.control_plane().dir().display()
    );
    println!("  CRD                   glusterclusters.storage.glusterops.dev");
    println!(
        "  operator identity     ServiceAccount {}/{} (the chart's RBAC)",
        env.operator().namespace,
        env.operator().service_account
    );
    println!(
        "  credentials           Secret {NAMESPACE}/{SECRET_NAME} (key clouds.yaml, cloud {CLOUD_NAME})"
    );
    println!("Use it:");
    println!("  export KUBECONFIG={}/kubeconfig", dir.display());
    println!(
        "  gluster-operator run  with KUBECONFIG={}/operator.kubeconfig",
        dir.display()
    );
    println!(
        "  export OS_CLIENT_CONFIG_FILE={}/clouds.yaml OS_CLOUD={CLOUD_NAME}",
        dir.display()
    );
    println!(
        "Stop it with Ctrl-C, or: devenv down --dir {}",
        dir.display()
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    println!("devenv: stopping");
    let _ = std::fs::remove_file(dir.join("ready"));
    env.shutdown().await?;
    let _ = std::fs::remove_file(dir.join(PID_FILE));
    println!("devenv: stopped");
    Ok(())
}

async fn down(dir: &Path) -> anyhow::Result<()> {
    let pid_path = dir.join(PID_FILE);
    let pid: i32 = match std::fs::read_to_string(&pid_path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} holds no process ID", pid_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("devenv: nothing running in {}", dir.display());
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", pid_path.display())),
    };
    if !is_running(pid) {
        println!("devenv: process {pid} is gone; removing its pid file");
        let _ = std::fs::remove_file(&pid_path);
        return Ok(());
    }
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .context("running kill")?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
    // Stopping frees every node and loop device; give it time, then say so if it is stuck.
    for _ in 0..600 {
        if !is_running(pid) {
            println!("devenv: stopped");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("devenv (pid {pid}) did not stop within 60 s")
}

/// Whether process `pid` is alive: it exists and is not a zombie waiting to be reaped.
fn is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the command name, which ends with the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

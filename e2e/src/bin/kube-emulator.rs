//! `kube-emulator --kubeconfig PATH [--listen ADDR]`: serves the Kubernetes API emulator,
//! writes a kubeconfig pointing at it, and runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use e2e::kube::Emulator;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "kube-emulator",
    about = "A Kubernetes API emulator for tests and local use"
)]
struct Args {
    /// Where to write the kubeconfig for kubectl and kube-rs.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Address to listen on (loopback; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let emulator = Emulator::start(args.listen).await?;
    emulator.write_kubeconfig(&args.kubeconfig)?;
    tracing::info!(url = %emulator.url(), kubeconfig = %args.kubeconfig.display(), "kube-emulator serving");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    tracing::info!("kube-emulator stopping");
    emulator.shutdown().await?;
    Ok(())
}

//! The `gluster-operator` command: the operator itself and the tools a user runs before it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gluster_operator::bootstrap::{
    AuthorizedKey, DistroFamily, PreviewRequest, SshKeyPair, render_preview,
};

/// Builds and runs GlusterFS storage clusters on OpenStack.
#[derive(Parser)]
#[command(name = "gluster-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GlusterCluster CustomResourceDefinition as YAML.
    Crd,
    /// Print the #cloud-config user-data a node of a GlusterCluster manifest boots with.
    ///
    /// The output holds a freshly generated SSH host key for the node: treat it as a secret.
    RenderUserData(RenderUserData),
}

#[derive(Args)]
struct RenderUserData {
    /// The GlusterCluster manifest (YAML; `-` reads stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// The node: its name (e.g. demo-zone-a-1) or its 0-based position across the cluster.
    #[arg(long, value_name = "NAME|INDEX")]
    node: String,
    /// The GlusterCluster to use when the manifest holds several (its metadata.name).
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// The image's distribution family: debian (Debian, Ubuntu) or el (CentOS, Rocky, Alma,
    /// RHEL). Default: guessed from spec.image.
    #[arg(long, value_name = "FAMILY")]
    distro: Option<DistroFamily>,
    /// The Cinder volume ID of the node's brick (zones whose bricks are volumes).
    #[arg(long, value_name = "ID", conflicts_with = "ephemeral")]
    volume_id: Option<String>,
    /// Use the ephemeral disk as the brick (needed for zones with storage Auto).
    #[arg(long)]
    ephemeral: bool,
    /// The public key the operator logs in with (an authorized_keys line). Default: a freshly
    /// generated throwaway key.
    #[arg(long, value_name = "FILE")]
    ssh_public_key: Option<PathBuf>,
    /// Extra #cloud-config to merge into the node's user-data.
    #[arg(long, value_name = "FILE")]
    extra_user_data: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => gluster_operator::crd::crd_yaml()
            .map(|yaml| print!("{yaml}"))
            .map_err(|e| e.to_string()),
        Command::RenderUserData(args) => render_user_data(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("{what}: reading stdin: {e}"));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

fn render_user_data(args: RenderUserData) -> Result<(), String> {
    let manifest = read(&args.file, "manifest")?;
    let mut throwaway = None;
    let operator_key = match &args.ssh_public_key {
        Some(path) => AuthorizedKey::parse(
            &format!("--ssh-public-key {}", path.display()),
            &read(path, "--ssh-public-key")?,
        )
        .map_err(|e| e.to_string())?,
        None => {
            let key = SshKeyPair::generate("gluster-operator@render-user-data")
                .map_err(|e| e.to_string())?;
            throwaway = Some(key.public_key().fingerprint().to_string());
            key.public_key().clone()
        }
    };
    let extra_user_data = args
        .extra_user_data
        .as_deref()
        .map(|p| read(p, "--extra-user-data"))
        .transpose()?;
    let host_key = SshKeyPair::generate("gluster-operator-host-key").map_err(|e| e.to_string())?;
    // The public half only: safe to show, and what the operator pins.
    let host_fingerprint = host_key.public_key().fingerprint().to_string();
    let preview = render_preview(
        &manifest,
        PreviewRequest {
            node: args.node,
            cluster: args.cluster,
            distro: args.distro,
            volume_id: args.volume_id,
            ephemeral: args.ephemeral,
            operator_key,
            host_key,
            extra_user_data,
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(fingerprint) = throwaway {
        eprintln!(
            "note: authorized a throwaway operator key ({fingerprint}); pass --ssh-public-key FILE to authorize yours"
        );
    }
    eprintln!(
        "note: node {} ({} image), host key {host_fingerprint}; {} bytes, {} of Nova's 65535 once base64-encoded",
        preview.node,
        preview.distro,
        preview.user_data.len(),
        preview.user_data.base64_len(),
    );
    print!("{}", preview.user_data.as_str());
    Ok(())
}

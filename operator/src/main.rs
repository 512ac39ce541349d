//! The `gluster-operator` command: the operator itself and the tools a user runs before it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gluster_operator::bootstrap::{
    AuthorizedKey, DistroFamily, PreviewRequest, SshKeyPair, render_preview,
};
use gluster_operator::plan::manifest::{Document, parse_documents};
use gluster_operator::plan::{CloudFacts, CurrentState, plan_change, plan_cluster, report};

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
    /// Print the ValidatingAdmissionPolicy (and its binding) guarding spec.deletionPolicy as YAML.
    AdmissionPolicy,
    /// Show what the operator would build for GlusterCluster manifests, touching nothing: the
    /// nodes per zone, the replica sets with each brick's zone, the exact gluster commands and
    /// the storage choice per zone. A refused spec is reported on stderr with the reason, and
    /// the exit status is 1.
    Plan {
        /// A manifest file (one or more YAML documents); `-` reads standard input. Repeatable.
        #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
        files: Vec<String>,
        /// The availability zones whose block storage (Cinder) serves volumes, comma-separated.
        /// Decides `storage: Auto`; without it, Auto zones are shown undecided.
        #[arg(long, value_delimiter = ',', value_name = "ZONES")]
        block_storage_zones: Option<Vec<String>>,
        /// The manifests as they are applied now: for each cluster found there too (same
        /// namespace and name), show the steps from that cluster's layout to the new spec
        /// (scale-out, scale-in) instead of building it from scratch.
        #[arg(long, value_name = "FILE")]
        from: Option<String>,
    },
    /// Print the #cloud-config user-data a node of a GlusterCluster manifest boots with.
    ///
    /// The output holds a freshly generated SSH host key for the node: treat it as a secret.
    RenderUserData(RenderUserData),
    /// Run the operator: reconcile GlusterClusters (in-cluster config or KUBECONFIG), serve
    /// /healthz, /readyz and /metrics, log JSON lines to stderr. Stops on SIGTERM or SIGINT.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR:PORT")]
    http_addr: std::net::SocketAddr,
    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. `info` or
    /// `info,gluster_operator=debug`.
    #[arg(long, default_value = "info", value_name = "FILTER")]
    log_level: String,
    /// Take part in leader election on this Lease (in $POD_NAMESPACE, held as $POD_NAME): only
    /// the holder reconciles. Without it, this process always reconciles.
    #[arg(long, value_name = "NAME")]
    leader_election_lease: Option<String>,
    /// Only reconcile GlusterClusters of this namespace (default: all namespaces).
    #[arg(long, value_name = "NAMESPACE")]
    watch_namespace: Option<String>,
    /// Seconds a server that ran and went to ERROR may stay there after a hard reboot before
    /// it is replaced (nodes with a Cinder brick only).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400), value_name = "SECONDS")]
    server_error_grace_seconds: u64,
    /// Seconds a server may stay in BUILD, or a brick volume creating, attaching or
    /// detaching, before it counts as stuck: a server that never ran is replaced, a volume
    /// named in a Stalled condition.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86400), value_name = "SECONDS")]
    cloud_settle_timeout_seconds: u64,
    /// Seconds between drift checks of a Ready cluster (the settled resync): its servers,
    /// volumes and security group listed, its gluster volume's status read; no write when
    /// nothing drifted.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400), value_name = "SECONDS")]
    resync_seconds: u64,
    /// Seconds between health reads of a settled cluster (pool list, volume status, heal
    /// summary from one node; no cloud call): a lost peer, an offline brick or pending heal
    /// shows in status.health and the Degraded condition within this time.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400), value_name = "SECONDS")]
    health_interval_seconds: u64,
    /// A brick filesystem used at or above this percentage makes the cluster
    /// Degraded(CapacityLow).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=100), value_name = "PERCENT")]
    capacity_low_percent: u32,
    /// The namespace of the leader Lease.
    #[arg(
        long,
        env = "POD_NAMESPACE",
        default_value = "default",
        value_name = "NAMESPACE"
    )]
    pod_namespace: String,
    /// This replica's identity in the Lease and in Events (default: the host name).
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pod_name: Option<String>,
}

#[derive(Args)]
struct RenderUserData {
    /// The GlusterCluster manifest (YAML; `-` reads stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// The node: its name (e.g. demo-zone-a-1) or its 0-based index across the cluster (as `plan` prints it).
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
    match cli.command {
        Command::AdmissionPolicy => match gluster_operator::crd::admission_policy_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Crd => match gluster_operator::crd::crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Plan {
            files,
            block_storage_zones,
            from,
        } => {
            let facts = CloudFacts {
                block_storage_zones: block_storage_zones.map(|zones| {
                    zones
                        .into_iter()
                        .map(|z| z.trim().to_string())
                        .filter(|z| !z.is_empty())
                        .collect()
                }),
            };
            let previous = match from.as_deref().map(|f| read_previous(f, &facts)) {
                None => Some(Vec::new()),
                Some(Ok(previous)) => Some(previous),
                Some(Err(e)) => {
                    eprintln!("error: {e}");
                    None
                }
            };
            let Some(previous) = previous else {
                return ExitCode::FAILURE;
            };
            if run_plan(&files, &facts, &previous) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Run(args) => match run_operator(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::RenderUserData(args) => match render_user_data(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A cluster as applied now (from `--from`): its identity and the state its plan leads to.
struct Previous {
    namespace: Option<String>,
    name: String,
    file: String,
    state: CurrentState,
}

/// The clusters of the `--from` manifests, each as the state its own plan builds.
fn read_previous(file: &str, facts: &CloudFacts) -> Result<Vec<Previous>, String> {
    let text = read_input(file).map_err(|e| format!("{file}: {e}"))?;
    let mut out = Vec::new();
    for doc in parse_documents(&text) {
        match doc.map_err(|e| format!("{file}: {e}"))? {
            Document::Other { .. } => {}
            Document::Cluster { cluster, .. } => {
                let name = cluster.metadata.name.clone().unwrap_or_default();
                let plan = plan_cluster(&name, &cluster.spec, facts).map_err(|e| {
                    format!(
                        "{file}: the current GlusterCluster {name} is refused itself [{}]: {e}",
                        e.reason()
                    )
                })?;
                out.push(Previous {
                    namespace: cluster.metadata.namespace.clone(),
                    name,
                    file: file.to_string(),
                    state: CurrentState::after(&plan),
                });
            }
        }
    }
    Ok(out)
}

/// Plan every GlusterCluster in `files` (as a change from `previous` where it names the same
/// cluster); reports go to stdout, refusals and read errors to stderr. Returns whether
/// everything was planned.
fn run_plan(files: &[String], facts: &CloudFacts, previous: &[Previous]) -> bool {
    let mut ok = true;
    let mut printed = 0usize;
    for file in files {
        let text = match read_input(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {file}: {e}");
                ok = false;
                continue;
            }
        };
        let mut clusters = 0usize;
        for doc in parse_documents(&text) {
            match doc {
                Err(e) => {
                    eprintln!("error: {file}: {e}");
                    ok = false;
                }
                Ok(Document::Other { document, kind }) => {
                    let kind = if kind.is_empty() {
                        "object without kind"
                    } else {
                        &kind
                    };
                    eprintln!(
                        "note: {file}: document {document} is a {kind}, not a GlusterCluster; skipped"
                    );
                }
                Ok(Document::Cluster { document, cluster }) => {
                    clusters += 1;
                    let name = cluster.metadata.name.as_deref().unwrap_or_default();
                    let who = match cluster.metadata.namespace.as_deref() {
                        Some(ns) => format!("GlusterCluster {ns}/{name}"),
                        None => format!("GlusterCluster {name}"),
                    };
                    let before = previous
                        .iter()
                        .find(|p| p.name == name && p.namespace == cluster.metadata.namespace);
                    let (result, title) = match before {
                        Some(p) => (
                            plan_change(name, &cluster.spec, facts, &p.state),
                            format!("{who} ({file}), changing from {}", p.file),
                        ),
                        None => (
                            plan_cluster(name, &cluster.spec, facts),
                            format!("{who} ({file})"),
                        ),
                    };
                    match result {
                        Ok(plan) => {
                            if printed > 0 {
                                println!();
                            }
                            print!("{}", report::render(&title, &plan));
                            printed += 1;
                        }
                        Err(e) => {
                            eprintln!(
                                "error: {who} ({file}, document {document}) refused [{}]: {e}",
                                e.reason()
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        if clusters == 0 && ok {
            eprintln!("note: {file}: no GlusterCluster found");
        }
    }
    ok
}

fn read_input(file: &str) -> std::io::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
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

/// `gluster-operator run`.
fn run_operator(args: RunArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .map_err(|e| format!("--log-level {:?}: {e}", args.log_level))?;
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(operator_main(args))
}

async fn operator_main(args: RunArgs) -> Result<(), String> {
    use gluster_operator::controller::{self, ControllerConfig, Metrics, http, leader};
    use std::sync::Arc;

    let identity = args
        .pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("gluster-operator-{}", std::process::id()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            // Err: the sender is gone, which also means stop.
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let metrics = Arc::new(Metrics::default());
    let health = http::Health {
        metrics: metrics.clone(),
        ready: Default::default(),
    };
    let (addr, server) = http::serve(args.http_addr, health.clone(), stopped())
        .await
        .map_err(|e| format!("--http-addr {}: {e}", args.http_addr))?;
    tracing::info!(%addr, "serving /healthz, /readyz, /metrics");
    let server = tokio::spawn(server);
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("Kubernetes client: {e}"))?;
    let elector = args.leader_election_lease.as_ref().map(|name| {
        leader::LeaderElector::new(
            client.clone(),
            leader::LeaseConfig {
                name: name.clone(),
                namespace: args.pod_namespace.clone(),
                identity: identity.clone(),
                duration: std::time::Duration::from_secs(15),
                renew_deadline: std::time::Duration::from_secs(10),
                retry_period: std::time::Duration::from_secs(2),
                call_timeout: std::time::Duration::from_secs(2),
            },
        )
    });
    let config = ControllerConfig {
        watch_namespace: args.watch_namespace.clone(),
        instance: Some(identity),
        requeue_settled: std::time::Duration::from_secs(args.resync_seconds),
        health_interval: std::time::Duration::from_secs(args.health_interval_seconds),
        capacity_low_percent: args.capacity_low_percent,
        server_error_grace: std::time::Duration::from_secs(args.server_error_grace_seconds),
        cloud_settle_timeout: std::time::Duration::from_secs(args.cloud_settle_timeout_seconds),
        ..ControllerConfig::default()
    };
    health.set_ready();
    controller::run_elected(client, config, metrics, elector, stopped()).await;
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("HTTP server: {e}")),
        Err(e) => Err(format!("HTTP server task: {e}")),
    }
}

/// Completes on SIGTERM or SIGINT.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; SIGINT only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

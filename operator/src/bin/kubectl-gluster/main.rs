//! `kubectl gluster`: a kubectl plugin (kubectl runs `kubectl-gluster` from PATH) for
//! GlusterClusters: `status`, `plan`, `scale`, `mount` and `heal`. It reads and patches the
//! GlusterCluster through the API server with the kubeconfig kubectl uses (`KUBECONFIG`, the
//! current context and its namespace); it never talks to OpenStack or to the gluster nodes.

mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gluster_operator::api::GlusterCluster;
use gluster_operator::plan::manifest::{Document, parse_documents};
use gluster_operator::plan::{CloudFacts, CurrentState, plan_change, plan_cluster, report};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use render::EventLine;

/// GlusterClusters from kubectl: health, the planner's dry run, scaling, mounting, heal.
#[derive(Parser)]
#[command(name = "kubectl gluster", bin_name = "kubectl gluster", version)]
struct Cli {
    /// The namespace (default: the kubeconfig context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Health, conditions, nodes, bricks, heal, capacity and the last Events of a cluster.
    Status {
        /// The GlusterCluster's name.
        name: String,
    },
    /// The planner's dry run of a manifest against the live object: the steps and the exact
    /// gluster commands the change would take (from the live object's spec to the file's), or
    /// the whole build when no such cluster exists yet. Touches nothing.
    Plan {
        /// A manifest file (`-`: standard input).
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: String,
        /// The availability zones whose block storage (Cinder) serves volumes, comma-separated
        /// (decides `storage: Auto`).
        #[arg(long, value_delimiter = ',', value_name = "ZONES")]
        block_storage_zones: Option<Vec<String>>,
    },
    /// Set the node count of one zone (a patch of spec.zones[].nodes; the operator plans and
    /// carries out the scale-out or scale-in, or refuses it in the Stalled condition).
    Scale {
        /// The GlusterCluster's name.
        name: String,
        /// The zone (spec.zones[].name).
        #[arg(long, value_name = "ZONE")]
        zone: String,
        /// The zone's new node count.
        #[arg(long, value_name = "N")]
        nodes: u32,
    },
    /// The mount command and fstab line for a client, from the cluster's status.
    Mount {
        /// The GlusterCluster's name.
        name: String,
    },
    /// The heal state of the volume from the last health read (pending and split-brain
    /// entries per brick).
    Heal {
        /// The GlusterCluster's name.
        name: String,
    },
}

/// What went wrong, for the one line on stderr.
#[derive(Debug, thiserror::Error)]
enum PluginError {
    #[error("connecting to the API server: {0}")]
    Client(#[source] kube::Error),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("GlusterCluster {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("{0}")]
    Input(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<String, PluginError> {
    let client = kube::Client::try_default()
        .await
        .map_err(PluginError::Client)?;
    let ns = cli
        .namespace
        .unwrap_or_else(|| client.default_namespace().to_string());
    let clusters: Api<GlusterCluster> = Api::namespaced(client.clone(), &ns);
    let get = |name: String| {
        let clusters = clusters.clone();
        let ns = ns.clone();
        async move {
            clusters
                .get_opt(&name)
                .await
                .map_err(|source| PluginError::Api {
                    what: format!("reading GlusterCluster {ns}/{name}"),
                    source,
                })?
                .ok_or(PluginError::NotFound(format!("{ns}/{name}")))
        }
    };
    match cli.command {
        Command::Status { name } => {
            let cluster = get(name.clone()).await?;
            let events: Api<Event> = Api::namespaced(client, &ns);
            let events =
                events
                    .list(&Default::default())
                    .await
                    .map_err(|source| PluginError::Api {
                        what: format!("listing the Events of {ns}"),
                        source,
                    })?;
            let lines: Vec<EventLine> = events
                .into_iter()
                .filter(|e| {
                    e.regarding.as_ref().is_some_and(|r| {
                        r.name.as_deref() == Some(name.as_str())
                            && r.kind.as_deref() == Some("GlusterCluster")
                    })
                })
                .map(event_line)
                .collect();
            Ok(render::status_report(&cluster, &lines))
        }
        Command::Mount { name } => {
            let cluster = get(name.clone()).await?;
            // Whether the cluster has a client certificate (TLS); a refusal to read Secrets
            // leaves it unknown, and the report says so.
            let secrets: Api<Secret> = Api::namespaced(client, &ns);
            let tls = secrets
                .get_metadata_opt(&format!("{name}-client-tls"))
                .await
                .ok()
                .map(|s| s.is_some());
            Ok(render::mount_report(&cluster, tls)?)
        }
        Command::Heal { name } => Ok(render::heal_report(&get(name).await?)?),
        Command::Scale { name, zone, nodes } => {
            let cluster = get(name.clone()).await?;
            let patch = render::scale_patch(&cluster, &zone, nodes)?;
            let patch: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| PluginError::Input(format!("building the patch: {e}")))?;
            let patched = clusters
                .patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
                .await
                .map_err(|source| PluginError::Api {
                    what: format!("patching GlusterCluster {ns}/{name}"),
                    source,
                })?;
            Ok(format!(
                "glustercluster.storage.glusterops.dev/{name} scaled: zone {zone} to {nodes} nodes (generation {})\n",
                patched.metadata.generation.unwrap_or_default()
            ))
        }
        Command::Plan {
            file,
            block_storage_zones,
        } => {
            let facts = CloudFacts {
                block_storage_zones: block_storage_zones
                    .map(|z| z.into_iter().map(|z| z.trim().to_string()).collect()),
            };
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| PluginError::Input(format!("{file}: {e}")))?;
            let mut out = String::new();
            for doc in parse_documents(&text) {
                let Document::Cluster { cluster, .. } =
                    doc.map_err(|e| PluginError::Input(format!("{file}: {e}")))?
                else {
                    continue;
                };
                let name = cluster.metadata.name.clone().unwrap_or_default();
                let doc_ns = cluster.metadata.namespace.clone().unwrap_or(ns.clone());
                let api: Api<GlusterCluster> = Api::namespaced(client.clone(), &doc_ns);
                let live = api
                    .get_opt(&name)
                    .await
                    .map_err(|source| PluginError::Api {
                        what: format!("reading GlusterCluster {doc_ns}/{name}"),
                        source,
                    })?;
                let refused = |e: gluster_operator::plan::PlanError| {
                    PluginError::Input(format!(
                        "GlusterCluster {doc_ns}/{name} ({file}) refused [{}]: {e}",
                        e.reason()
                    ))
                };
                let (plan, title) = match live {
                    Some(live) => {
                        let current = plan_cluster(&name, &live.spec, &facts).map_err(&refused)?;
                        (
                            plan_change(
                                &name,
                                &cluster.spec,
                                &facts,
                                &CurrentState::after(&current),
                            )
                            .map_err(&refused)?,
                            format!(
                                "GlusterCluster {doc_ns}/{name} ({file}), changing from the live object (generation {})",
                                live.metadata.generation.unwrap_or_default()
                            ),
                        )
                    }
                    None => (
                        plan_cluster(&name, &cluster.spec, &facts).map_err(&refused)?,
                        format!("GlusterCluster {doc_ns}/{name} ({file}), not created yet"),
                    ),
                };
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&report::render(&title, &plan));
            }
            if out.is_empty() {
                return Err(PluginError::Input(format!(
                    "{file}: no GlusterCluster found"
                )));
            }
            Ok(out)
        }
    }
}

/// The Event as a status line: when it was last seen, its type, reason and note.
fn event_line(e: Event) -> EventLine {
    let time = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let when = time(
        e.series
            .as_ref()
            .and_then(|s| serde_json::to_value(&s.last_observed_time).ok()),
    )
    .or_else(|| {
        time(
            e.event_time
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok()),
        )
    })
    .or_else(|| {
        time(
            e.metadata
                .creation_timestamp
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok()),
        )
    })
    .unwrap_or_default();
    EventLine {
        when,
        type_: e.type_.unwrap_or_default(),
        reason: e.reason.unwrap_or_default(),
        note: e.note.unwrap_or_default(),
    }
}

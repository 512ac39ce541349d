//! The whole local world (docs/design.md, "The local world"): the OpenStack simulator with its
//! default world, a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager; [`crate::controlplane`]) with the GlusterCluster CRD installed, the
//! operator's Helm chart applied (release `devenv` in `gluster-system`), and the credentials
//! Secret `openstack` (key `clouds.yaml`, cloud `sim`) in the namespace `default`.
//!
//! `devenv up --dir DIR` (e2e/src/bin/devenv.rs) runs this until SIGINT/SIGTERM; tests start it
//! in-process with [`DevEnv::start`]. It does not start the operator: `gluster-operator run`
//! finds the API through `DIR/operator.kubeconfig` (a token of the chart's ServiceAccount, so it
//! runs with the chart's RBAC); `DIR/kubeconfig` is the admin's.

mod hook;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::kube::api::{Api, ObjectMeta, PostParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, CustomResourceExt};
use gluster_operator::api::GlusterCluster;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

pub use hook::NodesHook;

use crate::controlplane::ControlPlane;
use crate::controlplane::chart::{self, OperatorIdentity};
use crate::nodes::{LoopbackNodes, NodeError, NodesConfig};
use crate::openstack::{SimConfig, Simulator};

/// The namespace the credentials Secret lives in.
pub const NAMESPACE: &str = "default";
/// The credentials Secret's name, as the examples' `spec.cloud.secretName` says.
pub const SECRET_NAME: &str = "openstack";
/// The cloud entry of the simulator's clouds.yaml the examples use.
pub const CLOUD_NAME: &str = "sim";

/// Errors while bringing the world up or down.
#[derive(Debug, thiserror::Error)]
pub enum DevEnvError {
    /// The OpenStack simulator did not start.
    #[error("starting the OpenStack simulator: {0}")]
    Simulator(#[from] crate::openstack::SimError),
    /// The Kubernetes control plane did not start, or the chart could not be applied.
    #[error("Kubernetes control plane: {0}")]
    ControlPlane(#[from] crate::controlplane::Error),
    /// A client could not be built from a kubeconfig.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] ::kube::config::KubeconfigError),
    /// A request to the API server failed.
    #[error("Kubernetes API request ({what}): {source}")]
    Api {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: ::kube::Error,
    },
    /// The loopback nodes could not start or stop.
    #[error("loopback gluster nodes: {0}")]
    Nodes(#[from] NodeError),
    /// A background task panicked or was cancelled.
    #[error("{what}: {why}")]
    Task {
        /// What the task was doing.
        what: &'static str,
        /// The join error.
        why: String,
    },
    /// A file in the state directory could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where the world listens; port 0 picks free ports.
#[derive(Debug, Clone)]
pub struct DevEnvOptions {
    /// The simulator's listen address.
    pub openstack_listen: SocketAddr,
    /// The simulator's world (default: zones zone-a, zone-b with block storage, zone-c without).
    pub sim: SimConfig,
    /// Where loopback gluster nodes keep their state; `None` runs no nodes (servers are only
    /// simulated). Nodes need root.
    pub nodes_dir: Option<PathBuf>,
}

impl Default for DevEnvOptions {
    fn default() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        DevEnvOptions {
            openstack_listen: any,
            sim: SimConfig::default(),
            nodes_dir: None,
        }
    }
}

/// A running local world.
pub struct DevEnv {
    sim: Simulator,
    control_plane: ControlPlane,
    operator: OperatorIdentity,
    client: Client,
    nodes: Option<Arc<LoopbackNodes>>,
}

impl DevEnv {
    /// Starts the simulator and the control plane, installs the CRD, applies the chart and
    /// creates the credentials Secret. Returns once all of it answers.
    pub async fn start(options: DevEnvOptions) -> Result<DevEnv, DevEnvError> {
        let nodes = match &options.nodes_dir {
            Some(dir) => Some(Arc::new(LoopbackNodes::new(NodesConfig::new(dir))?)),
            None => None,
        };
        let sim = Simulator::start(options.sim, options.openstack_listen).await?;
        if let Some(nodes) = &nodes {
            sim.set_boot_hook(Arc::new(NodesHook::new(nodes.clone(), sim.config())));
        }
        let control_plane = ControlPlane::start().await?;
        let client = control_plane.client().await?;
        install_crd(&client).await?;
        let operator = chart::install(&control_plane, "devenv", chart::RELEASE_NAMESPACE, "")?;
        let env = DevEnv {
            sim,
            control_plane,
            operator,
            client,
            nodes,
        };
        create_secret(&env.client, &env.clouds_yaml()).await?;
        Ok(env)
    }

    /// The OpenStack simulator.
    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    /// The Kubernetes control plane.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.control_plane
    }

    /// The operator's identity from the chart (its kubeconfig, Lease and namespace).
    pub fn operator(&self) -> &OperatorIdentity {
        &self.operator
    }

    /// The loopback gluster nodes, when they run.
    pub fn nodes(&self) -> Option<&Arc<LoopbackNodes>> {
        self.nodes.as_ref()
    }

    /// A kube client with admin rights.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The admin kubeconfig.
    pub fn kubeconfig_yaml(&self) -> String {
        std::fs::read_to_string(self.control_plane.kubeconfig()).unwrap_or_default()
    }

    /// The operator's kubeconfig (a token of the chart's ServiceAccount).
    pub fn operator_kubeconfig_yaml(&self) -> String {
        std::fs::read_to_string(&self.operator.kubeconfig).unwrap_or_default()
    }

    /// The simulator's clouds.yaml (cloud `sim`, and `sim-appcred`).
    pub fn clouds_yaml(&self) -> String {
        self.sim.clouds_yaml()
    }

    /// Writes `kubeconfig` (admin), `operator.kubeconfig` (the chart's ServiceAccount) and
    /// `clouds.yaml` into `dir`, then `ready` last, so a reader that sees `ready` finds the
    /// others complete.
    pub fn write_state(&self, dir: &Path) -> Result<(), DevEnvError> {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| DevEnvError::Write { path, source })
        };
        std::fs::create_dir_all(dir).map_err(|source| DevEnvError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        write("kubeconfig", &self.kubeconfig_yaml())?;
        write("operator.kubeconfig", &self.operator_kubeconfig_yaml())?;
        write("clouds.yaml", &self.clouds_yaml())?;
        write("ready", "")
    }

    /// Stops the simulator (no more boot events), every node (freeing its loop devices) and
    /// the control plane.
    pub async fn shutdown(self) -> Result<(), DevEnvError> {
        drop(self.client);
        self.sim.shutdown().await;
        let nodes_stopped: Result<(), DevEnvError> = match self.nodes {
            Some(nodes) => match tokio::task::spawn_blocking(move || nodes.shutdown()).await {
                Ok(stopped) => stopped.map_err(DevEnvError::from),
                Err(e) => Err(DevEnvError::Task {
                    what: "stopping the loopback nodes",
                    why: e.to_string(),
                }),
            },
            None => Ok(()),
        };
        drop(self.control_plane);
        nodes_stopped
    }
}

/// Installs the GlusterCluster CRD through `client` and waits until it is established.
pub async fn install_crd(client: &Client) -> Result<(), DevEnvError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = GlusterCluster::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.create(&PostParams::default(), &crd)
        .await
        .map_err(|source| DevEnvError::Api {
            what: "creating the GlusterCluster CRD",
            source,
        })?;
    ::kube::runtime::wait::await_condition(
        crds,
        &name,
        ::kube::runtime::wait::conditions::is_crd_established(),
    )
    .await
    .map_err(|e| DevEnvError::Task {
        what: "waiting for the CRD to be established",
        why: e.to_string(),
    })?;
    Ok(())
}

/// Creates the credentials Secret [`SECRET_NAME`] in [`NAMESPACE`], key `clouds.yaml`.
pub async fn create_secret(client: &Client, clouds_yaml: &str) -> Result<(), DevEnvError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.to_owned()),
            ..ObjectMeta::default()
        },
        string_data: Some([("clouds.yaml".to_owned(), clouds_yaml.to_owned())].into()),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .map_err(|source| DevEnvError::Api {
            what: "creating the openstack Secret",
            source,
        })?;
    Ok(())
}

/// A kube client for the kubeconfig text.
pub async fn client_for(kubeconfig_yaml: &str) -> Result<Client, DevEnvError> {
    let kubeconfig = Kubeconfig::from_yaml(kubeconfig_yaml)?;
    let config =
        ::kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Client::try_from(config).map_err(|source| DevEnvError::Api {
        what: "building a client",
        source,
    })
}

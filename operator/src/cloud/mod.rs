//! The operator's OpenStack client: a thin typed layer over reqwest (rustls).
//!
//! - [`config`]: `clouds.yaml` (from a Secret) and `OS_*` variables (for the CLI) →
//!   [`CloudConfig`]. Secrets are [`Secret`]s, redacted in `Debug` and `Display`.
//! - [`auth`]: Keystone v3 (password, application credential); the token is cached, renewed
//!   before expiry and once on a 401, one renewal shared by concurrent callers.
//! - [`catalog`]: endpoint selection by service type, region and interface.
//! - [`http`]: per-service calls with a concurrency limit and a rate limit, retries with capped
//!   exponential backoff and jitter for idempotent requests (honouring `Retry-After`), and a
//!   tracing line carrying `x-openstack-request-id` for every attempt.
//! - [`compute`] (Nova, microversion negotiated, ≥ 2.52), [`volume`] (Cinder v3),
//!   [`network`] (Neutron), [`image`] (Glance v2).
//! - [`error`]: [`CloudError`], retryable vs terminal, ambiguous creates, the cloud's message
//!   for conditions.
//! - [`adopt`]: creates are never repeated blindly; after an ambiguous failure the resource is
//!   looked up by name/tags and adopted.
//!
//! ```no_run
//! # async fn demo(yaml: &str) -> Result<(), gluster_operator::cloud::CloudError> {
//! use gluster_operator::cloud::{Cloud, ClientOptions};
//! let cloud = Cloud::from_clouds_yaml(yaml, "openstack", None, ClientOptions::default())?;
//! let flavor = cloud.compute().flavor("m1.small").await?;
//! let zones = cloud.volume().availability_zones().await?;
//! # let _ = (flavor, zones); Ok(()) }
//! ```

pub mod adopt;
pub mod auth;
pub mod backoff;
pub mod catalog;
pub mod compute;
pub mod config;
pub mod error;
pub mod http;
pub mod image;
mod json;
pub mod limits;
pub mod microversion;
pub mod network;
pub mod observe;
pub mod port;
pub mod secgroup;
pub mod secret;
pub mod transport;
pub mod volume;
pub mod wait;

use std::sync::Arc;

pub use adopt::Ensured;
pub use backoff::Backoff;
pub use compute::{
    AvailabilityZone, Compute, Flavor, Keypair, Server, ServerCreate, ServerQuery, ServerStatus,
    VolumeAttachment,
};
pub use config::{CloudConfig, Credentials, Interface};
pub use error::{ApiError, ApiErrorKind, CloudError, ServiceType};
pub use http::ClientOptions;
pub use image::{Image, Images};
pub use limits::Limits;
pub use network::{Network, Networking, Port, SecurityGroup, SecurityGroupSpec};
pub use observe::{CallEvent, CallObserver, CallOutcome, ObserverSlot};
pub use port::PortCreate;
pub use secret::Secret;
pub use transport::Timeouts;
pub use volume::{BlockStorage, Snapshot, Volume, VolumeCreate, VolumeQuery, VolumeStatus};
pub use wait::WaitPolicy;

use http::{ServiceClient, Session};

/// A connection to one cloud: Nova, Cinder, Neutron and Glance behind one token. Cheap to
/// clone (shared state); safe to use from many tasks at once.
#[derive(Clone, Debug)]
pub struct Cloud {
    session: Arc<Session>,
    compute: Compute,
    volume: BlockStorage,
    network: Networking,
    image: Images,
}

impl Cloud {
    /// A client for `config`. Builds the HTTP client (reading a `cacert` file) but makes no
    /// request: the first call authenticates.
    pub fn new(config: CloudConfig, options: ClientOptions) -> Result<Self, CloudError> {
        let http = transport::build_http_client(&config.tls, &options, |p| std::fs::read(p))?;
        let session = Arc::new(Session::new(config, options, http));
        let client = |service, base| ServiceClient::new(Arc::clone(&session), service, base);
        Ok(Self {
            compute: Compute::new(client(ServiceType::Compute, |u: &str| u.to_string())),
            volume: BlockStorage::new(client(ServiceType::BlockStorage, |u: &str| u.to_string())),
            network: Networking::new(client(ServiceType::Network, |u: &str| {
                catalog::with_version(u, "v2.0")
            })),
            image: Images::new(client(ServiceType::Image, |u: &str| {
                catalog::with_version(u, "v2")
            })),
            session,
        })
    }

    /// A client for entry `cloud` of a clouds.yaml text (as read from the Secret), with the
    /// region overridden when `region` is given (the resource's `spec.cloud.region`).
    pub fn from_clouds_yaml(
        yaml: &str,
        cloud: &str,
        region: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, CloudError> {
        let mut config = CloudConfig::from_clouds_yaml(yaml, cloud)?;
        if let Some(r) = region {
            config.region = Some(r.to_string());
        }
        Self::new(config, options)
    }

    /// Authenticates now (or reuses a valid token): a cheap credentials check. Returns the
    /// scoped project ID.
    pub async fn authenticate(&self) -> Result<Option<String>, CloudError> {
        Ok(self.session.tokens.current().await?.project_id.clone())
    }

    /// The configuration.
    pub fn config(&self) -> &CloudConfig {
        &self.session.config
    }

    /// How many tokens this client has obtained from Keystone so far.
    pub fn tokens_issued(&self) -> u64 {
        self.session.tokens.tokens_issued()
    }

    /// Nova.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// Cinder.
    pub fn volume(&self) -> &BlockStorage {
        &self.volume
    }

    /// Neutron.
    pub fn network(&self) -> &Networking {
        &self.network
    }

    /// Glance.
    pub fn image(&self) -> &Images {
        &self.image
    }
}

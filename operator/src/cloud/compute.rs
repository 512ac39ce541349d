//! Nova (compute API v2.1 with microversions): servers, availability zones, flavors, key pairs
//! and volume attachments.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::adopt::{Ensured, create_or_adopt};
use super::error::{CloudError, ServiceType};
use super::http::{Request, Root, ServiceClient, next_link, next_query, seg};
use super::json::null_default;
use super::microversion::{Microversion, negotiate, parse_versions_document};
use super::wait::{Poll, WaitPolicy, wait_for};

/// The lowest Nova microversion the client works with: 2.52 allows tags at server create.
pub const REQUIRED_MICROVERSION: Microversion = Microversion::new(2, 52);
/// The microversion the client asks for when the cloud has it: 2.79 lets volume attachments
/// say `delete_on_termination: false` explicitly (brick volumes outlive their servers).
pub const WANTED_MICROVERSION: Microversion = Microversion::new(2, 79);
/// Nova's limit on the base64-encoded `user_data` (bytes).
pub const MAX_USER_DATA: usize = 65535;

/// A server's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStatus {
    /// `BUILD`: being created.
    Build,
    /// `ACTIVE`: running.
    Active,
    /// `ERROR`: failed; see [`Server::fault`].
    Error,
    /// `SHUTOFF`: stopped.
    ShutOff,
    /// `DELETED` / `SOFT_DELETED`: going away.
    Deleted,
    /// Any other status (`REBOOT`, `RESIZE`, `MIGRATING`, …), as Nova wrote it.
    Other(String),
}

impl From<String> for ServerStatus {
    fn from(s: String) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "BUILD" => ServerStatus::Build,
            "ACTIVE" => ServerStatus::Active,
            "ERROR" => ServerStatus::Error,
            "SHUTOFF" => ServerStatus::ShutOff,
            "DELETED" | "SOFT_DELETED" => ServerStatus::Deleted,
            _ => ServerStatus::Other(s),
        }
    }
}

impl Serialize for ServerStatus {
    /// As Nova writes it (a snapshot saved from a run reads back the same).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl std::fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ServerStatus::Build => "BUILD",
            ServerStatus::Active => "ACTIVE",
            ServerStatus::Error => "ERROR",
            ServerStatus::ShutOff => "SHUTOFF",
            ServerStatus::Deleted => "DELETED",
            ServerStatus::Other(s) => s,
        })
    }
}

/// One address of a server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerAddress {
    /// The IP address.
    pub addr: String,
    /// 4 or 6.
    #[serde(default)]
    pub version: u8,
    /// `fixed` or `floating`.
    #[serde(rename = "OS-EXT-IPS:type", default)]
    pub kind: Option<String>,
}

/// Nova's record of why a server failed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerFault {
    /// An HTTP-like code (500 for a failed build).
    #[serde(default)]
    pub code: Option<u16>,
    /// The message (`No valid host was found. There are not enough hosts available.`).
    pub message: String,
    /// When it happened.
    #[serde(default)]
    pub created: Option<String>,
}

/// The flavor a server was created with (since 2.47 Nova embeds it instead of the ID).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerFlavor {
    /// The flavor ID (before 2.47).
    #[serde(default)]
    pub id: Option<String>,
    /// The flavor name at creation (2.47+).
    #[serde(default)]
    pub original_name: Option<String>,
    /// Ephemeral disk, GiB (2.47+).
    #[serde(default)]
    pub ephemeral: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
struct IdRef {
    id: String,
}

/// The image as Nova writes it (`{"id": …}`), so that a saved server reads back the same.
fn image_id_ser<S: Serializer>(id: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => json!({ "id": id }).serialize(s),
        None => s.serialize_none(),
    }
}

fn image_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    // `""` for a server booted from a volume, `{"id": …, "links": …}` otherwise.
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string)))
}

/// A server (Nova "Show Server Details").
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Server {
    /// The server ID.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its status.
    #[serde(deserialize_with = "status_de")]
    pub status: ServerStatus,
    /// The task in progress (`spawning`, `deleting`), if any.
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    /// The availability zone it landed in.
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    pub availability_zone: Option<String>,
    /// Addresses by network name.
    #[serde(default, deserialize_with = "null_default")]
    pub addresses: BTreeMap<String, Vec<ServerAddress>>,
    /// Metadata (the cluster UID and node index live here).
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
    /// Tags (2.26+).
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Why it is in ERROR, when it is.
    #[serde(default)]
    pub fault: Option<ServerFault>,
    /// The key pair name.
    #[serde(default)]
    pub key_name: Option<String>,
    /// The image ID (none when booted from a volume).
    #[serde(
        rename = "image",
        default,
        deserialize_with = "image_id",
        serialize_with = "image_id_ser"
    )]
    pub image_id: Option<String>,
    /// The flavor.
    #[serde(default, deserialize_with = "null_default")]
    pub flavor: ServerFlavor,
    #[serde(
        rename = "os-extended-volumes:volumes_attached",
        default,
        deserialize_with = "null_default"
    )]
    volumes_attached: Vec<IdRef>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// When the server became ACTIVE (`OS-SRV-USG:launched_at`, Nova's UTC time without zone).
    #[serde(rename = "OS-SRV-USG:launched_at", default)]
    pub launched_at: Option<String>,
}

fn status_de<'de, D: Deserializer<'de>>(d: D) -> Result<ServerStatus, D::Error> {
    Ok(ServerStatus::from(String::deserialize(d)?))
}

impl Server {
    /// Records that `volume_id` was just attached (a local copy catching up with a call the
    /// caller made; Nova shows the same at its next listing).
    pub fn note_attached(&mut self, volume_id: &str) {
        if !self.volumes_attached.iter().any(|v| v.id == volume_id) {
            self.volumes_attached.push(IdRef {
                id: volume_id.to_string(),
            });
        }
    }

    /// The IDs of the attached volumes.
    pub fn attached_volume_ids(&self) -> Vec<&str> {
        self.volumes_attached
            .iter()
            .map(|v| v.id.as_str())
            .collect()
    }

    /// The first fixed IPv4 address (else any address), optionally on a given network.
    pub fn address(&self, network: Option<&str>) -> Option<&str> {
        let all: Vec<&ServerAddress> = self
            .addresses
            .iter()
            .filter(|(net, _)| network.is_none_or(|n| n == net.as_str()))
            .flat_map(|(_, a)| a.iter())
            .collect();
        all.iter()
            .find(|a| a.version == 4 && a.kind.as_deref() != Some("floating"))
            .or_else(|| all.first())
            .map(|a| a.addr.as_str())
    }

    /// Nova's fault message when the server is in ERROR.
    pub fn fault_message(&self) -> Option<&str> {
        (self.status == ServerStatus::Error).then(|| {
            self.fault
                .as_ref()
                .map(|f| f.message.as_str())
                .unwrap_or("Nova gave no fault message")
        })
    }
}

/// What to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCreate {
    /// The (deterministic) name.
    pub name: String,
    /// Flavor ID (resolve names with [`Compute::flavor`]).
    pub flavor_id: String,
    /// Image ID (resolve names with `Image::image`).
    pub image_id: String,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Network IDs, one NIC each (after the ports). Both empty: `auto`.
    pub networks: Vec<String>,
    /// Port IDs made beforehand, one NIC each, first (the server takes the ports' addresses,
    /// and Nova leaves the ports alone when it deletes the server).
    pub ports: Vec<String>,
    /// Security group names or IDs.
    pub security_groups: Vec<String>,
    /// Key pair name.
    pub key_name: Option<String>,
    /// Cloud-init user data (raw; the client base64-encodes it).
    pub user_data: Option<Vec<u8>>,
    /// Metadata: the cluster UID and node index.
    pub metadata: BTreeMap<String, String>,
    /// Tags (at most 50, each ≤ 60 characters without `/` or `,`).
    pub tags: Vec<String>,
}

impl ServerCreate {
    /// The `{"server": …}` body. Pure; checks user_data size and tag syntax first.
    pub fn to_body(&self) -> Result<Value, CloudError> {
        let invalid = |field: String, reason: String| CloudError::InvalidInput { field, reason };
        if self.name.is_empty() {
            return Err(invalid("name".into(), "empty".into()));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.is_empty() || tag.chars().count() > 60 || tag.contains(['/', ',']) {
                return Err(invalid(
                    format!("tags[{i}]"),
                    format!("{tag:?}: a Nova tag has 1 to 60 characters and no '/' or ','"),
                ));
            }
        }
        let mut server = serde_json::Map::new();
        server.insert("name".into(), json!(self.name));
        server.insert("flavorRef".into(), json!(self.flavor_id));
        server.insert("imageRef".into(), json!(self.image_id));
        if let Some(az) = &self.availability_zone {
            server.insert("availability_zone".into(), json!(az));
        }
        server.insert(
            "networks".into(),
            if self.networks.is_empty() && self.ports.is_empty() {
                json!("auto")
            } else {
                Value::Array(
                    self.ports
                        .iter()
                        .map(|p| json!({"port": p}))
                        .chain(self.networks.iter().map(|n| json!({"uuid": n})))
                        .collect(),
                )
            },
        );
        if !self.security_groups.is_empty() {
            server.insert(
                "security_groups".into(),
                Value::Array(
                    self.security_groups
                        .iter()
                        .map(|n| json!({"name": n}))
                        .collect(),
                ),
            );
        }
        if let Some(k) = &self.key_name {
            server.insert("key_name".into(), json!(k));
        }
        if let Some(data) = &self.user_data {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            if encoded.len() > MAX_USER_DATA {
                return Err(invalid(
                    "user_data".into(),
                    format!(
                        "{} bytes base64-encoded, Nova accepts at most {MAX_USER_DATA}",
                        encoded.len()
                    ),
                ));
            }
            server.insert("user_data".into(), json!(encoded));
        }
        if !self.metadata.is_empty() {
            server.insert("metadata".into(), json!(self.metadata));
        }
        if !self.tags.is_empty() {
            server.insert("tags".into(), json!(self.tags));
        }
        Ok(json!({ "server": server }))
    }
}

/// Which servers to list. All conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerQuery {
    /// Exact name (Nova's `name` filter is a regular expression; the client also compares
    /// exactly).
    pub name: Option<String>,
    /// Tags the server must all carry (Nova `tags` filter).
    pub tags: Vec<String>,
    /// Metadata the server must carry (compared by the client: Nova has no such filter).
    pub metadata: BTreeMap<String, String>,
}

impl ServerQuery {
    /// Whether `server` satisfies the query.
    pub fn matches(&self, server: &Server) -> bool {
        self.name.as_ref().is_none_or(|n| *n == server.name)
            && self.tags.iter().all(|t| server.tags.contains(t))
            && self
                .metadata
                .iter()
                .all(|(k, v)| server.metadata.get(k) == Some(v))
    }
}

/// An availability zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailabilityZone {
    /// Its name.
    pub name: String,
    /// Whether it is available.
    pub available: bool,
}

/// The `os-availability-zone` answer (same shape in Nova and Cinder).
#[derive(Deserialize)]
pub(crate) struct RawZones {
    #[serde(rename = "availabilityZoneInfo", default)]
    zones: Vec<RawZone>,
}

#[derive(Deserialize)]
struct RawZone {
    #[serde(rename = "zoneName")]
    name: String,
    #[serde(rename = "zoneState", default)]
    state: Option<RawZoneState>,
}

#[derive(Deserialize)]
struct RawZoneState {
    #[serde(default)]
    available: bool,
}

pub(crate) fn parse_zones(body: RawZones) -> Vec<AvailabilityZone> {
    body.zones
        .into_iter()
        .map(|z| AvailabilityZone {
            name: z.name,
            available: z.state.is_some_and(|s| s.available),
        })
        .collect()
}

fn flexible_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    // Nova writes `swap: ""` for none; numbers elsewhere.
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    })
}

/// A flavor.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Flavor {
    /// The flavor ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// vCPUs.
    #[serde(default, deserialize_with = "flexible_u64")]
    pub vcpus: u64,
    /// Memory, MiB.
    #[serde(default, deserialize_with = "flexible_u64")]
    pub ram: u64,
    /// Root disk, GiB.
    #[serde(default, deserialize_with = "flexible_u64")]
    pub disk: u64,
    /// Ephemeral disk, GiB: the brick of an ephemeral-storage zone.
    #[serde(
        rename = "OS-FLV-EXT-DATA:ephemeral",
        default,
        deserialize_with = "flexible_u64"
    )]
    pub ephemeral: u64,
}

/// A key pair.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Keypair {
    /// Its name.
    pub name: String,
    /// The OpenSSH public key.
    pub public_key: String,
    /// Its fingerprint.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// A volume attached to a server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VolumeAttachment {
    /// The volume ID.
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    /// The server ID.
    #[serde(rename = "serverId", default)]
    pub server_id: Option<String>,
    /// The guest device Nova reports (`/dev/vdb`; not to be trusted: the bootstrap finds the
    /// disk by the volume ID).
    #[serde(default)]
    pub device: Option<String>,
    /// Whether Nova deletes the volume with the server (2.79+).
    #[serde(default)]
    pub delete_on_termination: Option<bool>,
}

/// The Nova API.
#[derive(Clone, Debug)]
pub struct Compute {
    client: ServiceClient,
    microversion: std::sync::Arc<OnceCell<Microversion>>,
    adopt_backoff: super::backoff::Backoff,
}

impl Compute {
    /// Nova over `client`.
    pub fn new(client: ServiceClient) -> Self {
        let adopt_backoff = client.session().options.backoff;
        Self {
            client,
            microversion: std::sync::Arc::new(OnceCell::new()),
            adopt_backoff,
        }
    }

    /// The negotiated microversion (read once from the versions document): the highest of
    /// [`WANTED_MICROVERSION`] and the cloud's maximum; an error if the cloud cannot serve
    /// [`REQUIRED_MICROVERSION`].
    pub async fn microversion(&self) -> Result<Microversion, CloudError> {
        self.microversion
            .get_or_try_init(|| async {
                let mut req = Request::get("/");
                req.root = Root::VersionRoot;
                let doc: Value = self.client.get_json(req).await?;
                let range = parse_versions_document(&doc, 2);
                let chosen = negotiate(range, REQUIRED_MICROVERSION, WANTED_MICROVERSION).map_err(
                    |supported| CloudError::UnsupportedMicroversion {
                        service: ServiceType::Compute,
                        required: REQUIRED_MICROVERSION.to_string(),
                        supported,
                    },
                )?;
                tracing::info!(microversion = %chosen, "negotiated the Nova microversion");
                Ok(chosen)
            })
            .await
            .copied()
    }

    async fn req(&self, mut req: Request) -> Result<Request, CloudError> {
        let mv = self.microversion().await?;
        req.microversion = Some(format!("compute {mv}"));
        Ok(req)
    }

    /// Creates a server and returns its ID. Not retried on an ambiguous failure: use
    /// [`Compute::create_server_or_adopt`].
    pub async fn create_server(&self, spec: &ServerCreate) -> Result<String, CloudError> {
        let body = spec.to_body()?;
        #[derive(Deserialize)]
        struct Created {
            server: IdRef,
        }
        // The answer also carries `adminPass`: it is not kept.
        let created: Created = self
            .client
            .send(self.req(Request::post("/servers", body)).await?)
            .await?
            .json()?;
        Ok(created.server.id)
    }

    /// Creates a server, or adopts the one an ambiguous earlier attempt made (found by exact
    /// name, tags and metadata). Returns the server ID.
    pub async fn create_server_or_adopt(
        &self,
        spec: &ServerCreate,
    ) -> Result<Ensured<String>, CloudError> {
        let query = ServerQuery {
            name: Some(spec.name.clone()),
            tags: spec.tags.clone(),
            metadata: spec.metadata.clone(),
        };
        create_or_adopt(
            self.adopt_backoff,
            "server",
            &spec.name,
            || self.create_server(spec),
            || async {
                let found = self.list_servers(&query).await?;
                match found.len() {
                    0 => Ok(None),
                    1 => Ok(found.into_iter().next().map(|s| s.id)),
                    n => Err(CloudError::Ambiguous {
                        kind: "server",
                        name: spec.name.clone(),
                        count: n,
                    }),
                }
            },
        )
        .await
    }

    /// A server by ID; `None` if it does not exist.
    pub async fn get_server(&self, id: &str) -> Result<Option<Server>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            server: Server,
        }
        let req = self
            .req(Request::get(format!("/servers/{}", seg(id))))
            .await?;
        match self.client.send(req).await {
            Ok(resp) => Ok(Some(resp.json::<One>()?.server)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Servers matching the query (details), following pagination.
    pub async fn list_servers(&self, query: &ServerQuery) -> Result<Vec<Server>, CloudError> {
        #[derive(Deserialize)]
        struct Page {
            servers: Vec<Server>,
            #[serde(default)]
            servers_links: Vec<Value>,
        }
        let mut params = Vec::new();
        if let Some(n) = &query.name {
            params.push(("name".to_string(), n.clone()));
        }
        if !query.tags.is_empty() {
            params.push(("tags".to_string(), query.tags.join(",")));
        }
        let mut out = Vec::new();
        let mut seen_pages = 0;
        loop {
            let mut req = self.req(Request::get("/servers/detail")).await?;
            req.query = params.clone();
            let page: Page = self.client.get_json(req).await?;
            out.extend(page.servers.into_iter().filter(|s| query.matches(s)));
            seen_pages += 1;
            match next_link(&page.servers_links) {
                Some(link) if seen_pages < 1000 => params = next_query(&link),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Deletes a server: `Ok(true)` if deleted now, `Ok(false)` if it was already gone.
    /// Volumes attached with `delete_on_termination: false` survive.
    pub async fn delete_server(&self, id: &str) -> Result<bool, CloudError> {
        let req = self
            .req(Request::delete(format!("/servers/{}", seg(id))))
            .await?;
        self.client.delete_idempotent(req).await
    }

    /// Reboots a server, `hard` (Nova's `reboot` action, type HARD: the only reboot Nova
    /// takes for a server in ERROR; it power-cycles the instance on its host, keeping its
    /// disks, ports and volumes).
    pub async fn reboot_server(&self, id: &str, hard: bool) -> Result<(), CloudError> {
        let kind = if hard { "HARD" } else { "SOFT" };
        let req = self
            .req(Request::post(
                format!("/servers/{}/action", seg(id)),
                json!({"reboot": {"type": kind}}),
            ))
            .await?;
        self.client.send(req).await?;
        Ok(())
    }

    /// Waits until the server is ACTIVE; [`CloudError::ServerFault`] with Nova's fault message
    /// if it goes to ERROR, [`CloudError::NotFound`] if it disappears.
    pub async fn wait_for_server_active(
        &self,
        id: &str,
        policy: WaitPolicy,
    ) -> Result<Server, CloudError> {
        wait_for(policy, "server", id, "ACTIVE", || async {
            let Some(server) = self.get_server(id).await? else {
                return Err(CloudError::NotFound {
                    kind: "server",
                    name: id.to_string(),
                });
            };
            match &server.status {
                ServerStatus::Active => Ok(Poll::Ready(server)),
                ServerStatus::Error => Err(CloudError::ServerFault {
                    id: id.to_string(),
                    message: super::error::sanitize_cloud_text(
                        server.fault_message().unwrap_or_default(),
                    ),
                }),
                other => Ok(Poll::Pending(other.to_string())),
            }
        })
        .await
    }

    /// Waits until the server is gone (404).
    pub async fn wait_for_server_deleted(
        &self,
        id: &str,
        policy: WaitPolicy,
    ) -> Result<(), CloudError> {
        wait_for(policy, "server", id, "deleted", || async {
            match self.get_server(id).await? {
                None => Ok(Poll::Ready(())),
                Some(s) => Ok(Poll::Pending(s.status.to_string())),
            }
        })
        .await
    }

    /// Nova's availability zones.
    pub async fn availability_zones(&self) -> Result<Vec<AvailabilityZone>, CloudError> {
        let req = self.req(Request::get("/os-availability-zone")).await?;
        Ok(parse_zones(self.client.get_json(req).await?))
    }

    /// All flavors with details.
    pub async fn list_flavors(&self) -> Result<Vec<Flavor>, CloudError> {
        #[derive(Deserialize)]
        struct Page {
            flavors: Vec<Flavor>,
            #[serde(default)]
            flavors_links: Vec<Value>,
        }
        let mut out = Vec::new();
        let mut params = Vec::new();
        for _ in 0..1000 {
            let mut req = self.req(Request::get("/flavors/detail")).await?;
            req.query = params;
            let page: Page = self.client.get_json(req).await?;
            out.extend(page.flavors);
            match next_link(&page.flavors_links) {
                Some(link) => params = next_query(&link),
                None => break,
            }
        }
        Ok(out)
    }

    /// A flavor by ID or by name (one list call; an ID match wins).
    pub async fn flavor(&self, name_or_id: &str) -> Result<Flavor, CloudError> {
        let flavors = self.list_flavors().await?;
        pick_by_id_or_name(flavors, name_or_id, "flavor", |f| (&f.id, &f.name))
    }

    /// Creates a key pair from an OpenSSH public key.
    pub async fn create_keypair(
        &self,
        name: &str,
        public_key: &str,
    ) -> Result<Keypair, CloudError> {
        #[derive(Deserialize)]
        struct One {
            keypair: Keypair,
        }
        let body = json!({"keypair": {"name": name, "public_key": public_key, "type": "ssh"}});
        let req = self.req(Request::post("/os-keypairs", body)).await?;
        Ok(self.client.send(req).await?.json::<One>()?.keypair)
    }

    /// A key pair by name; `None` if absent.
    pub async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            keypair: Keypair,
        }
        let req = self
            .req(Request::get(format!("/os-keypairs/{}", seg(name))))
            .await?;
        match self.client.send(req).await {
            Ok(resp) => Ok(Some(resp.json::<One>()?.keypair)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a key pair: `Ok(false)` if it was already gone.
    pub async fn delete_keypair(&self, name: &str) -> Result<bool, CloudError> {
        let req = self
            .req(Request::delete(format!("/os-keypairs/{}", seg(name))))
            .await?;
        self.client.delete_idempotent(req).await
    }

    /// Creates the key pair, or adopts an existing one of that name if it has the same public
    /// key ([`CloudError::Mismatch`] if another key holds the name).
    pub async fn ensure_keypair(
        &self,
        name: &str,
        public_key: &str,
    ) -> Result<Ensured<Keypair>, CloudError> {
        let ensured = create_or_adopt(
            self.adopt_backoff,
            "keypair",
            name,
            || self.create_keypair(name, public_key),
            || self.get_keypair(name),
        )
        .await?;
        if ensured.adopted && !same_key(&ensured.value.public_key, public_key) {
            return Err(CloudError::Mismatch {
                kind: "keypair",
                name: name.to_string(),
                detail: "it holds another public key".into(),
            });
        }
        Ok(ensured)
    }

    /// Attaches a volume (never with delete-on-termination).
    pub async fn attach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<VolumeAttachment, CloudError> {
        #[derive(Deserialize)]
        struct One {
            #[serde(rename = "volumeAttachment")]
            attachment: VolumeAttachment,
        }
        let mv = self.microversion().await?;
        let mut attachment = json!({"volumeId": volume_id});
        if mv >= Microversion::new(2, 79) {
            attachment["delete_on_termination"] = json!(false);
        }
        let req = self
            .req(Request::post(
                format!("/servers/{}/os-volume_attachments", seg(server_id)),
                json!({ "volumeAttachment": attachment }),
            ))
            .await?;
        Ok(self.client.send(req).await?.json::<One>()?.attachment)
    }

    /// Attaches a volume unless it is attached already; after an ambiguous failure, looks at
    /// the attachments before trying again.
    pub async fn ensure_volume_attached(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<Ensured<VolumeAttachment>, CloudError> {
        let find = || async {
            Ok(self
                .list_volume_attachments(server_id)
                .await?
                .into_iter()
                .find(|a| a.volume_id == volume_id))
        };
        if let Some(existing) = find().await? {
            return Ok(Ensured {
                value: existing,
                adopted: true,
            });
        }
        create_or_adopt(
            self.adopt_backoff,
            "volume attachment",
            volume_id,
            || self.attach_volume(server_id, volume_id),
            find,
        )
        .await
    }

    /// The volumes attached to a server.
    pub async fn list_volume_attachments(
        &self,
        server_id: &str,
    ) -> Result<Vec<VolumeAttachment>, CloudError> {
        #[derive(Deserialize)]
        struct All {
            #[serde(rename = "volumeAttachments")]
            attachments: Vec<VolumeAttachment>,
        }
        let req = self
            .req(Request::get(format!(
                "/servers/{}/os-volume_attachments",
                seg(server_id)
            )))
            .await?;
        Ok(self.client.get_json::<All>(req).await?.attachments)
    }

    /// Detaches a volume: `Ok(false)` if it was not attached (or the server is gone).
    pub async fn detach_volume(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<bool, CloudError> {
        let req = self
            .req(Request::delete(format!(
                "/servers/{}/os-volume_attachments/{}",
                seg(server_id),
                seg(volume_id)
            )))
            .await?;
        self.client.delete_idempotent(req).await
    }
}

/// Compares OpenSSH public keys by type and key material (the comment may differ).
fn same_key(a: &str, b: &str) -> bool {
    let core = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    core(a) == core(b)
}

/// Picks the item whose ID is `name_or_id`, else the one item with that name.
pub(crate) fn pick_by_id_or_name<T>(
    items: Vec<T>,
    name_or_id: &str,
    kind: &'static str,
    keys: impl Fn(&T) -> (&String, &String),
) -> Result<T, CloudError> {
    let mut by_name = Vec::new();
    for item in items {
        let (id, name) = keys(&item);
        if id == name_or_id {
            return Ok(item);
        }
        if name == name_or_id {
            by_name.push(item);
        }
    }
    match by_name.len() {
        0 => Err(CloudError::NotFound {
            kind,
            name: name_or_id.to_string(),
        }),
        1 => Ok(by_name.remove(0)),
        count => Err(CloudError::Ambiguous {
            kind,
            name: name_or_id.to_string(),
            count,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body() {
        let spec = ServerCreate {
            name: "gc-abc-zone-a-0".into(),
            flavor_id: "f1".into(),
            image_id: "i1".into(),
            availability_zone: Some("zone-a".into()),
            networks: vec!["n1".into()],
            ports: vec![],
            security_groups: vec!["gc-abc".into()],
            key_name: Some("k".into()),
            user_data: Some(b"#cloud-config\n".to_vec()),
            metadata: BTreeMap::from([("gluster.cluster-uid".into(), "abc".into())]),
            tags: vec!["gluster-cluster-abc".into()],
        };
        assert_eq!(
            spec.to_body().unwrap(),
            json!({"server": {
                "name": "gc-abc-zone-a-0", "flavorRef": "f1", "imageRef": "i1",
                "availability_zone": "zone-a", "networks": [{"uuid": "n1"}],
                "security_groups": [{"name": "gc-abc"}], "key_name": "k",
                "user_data": "I2Nsb3VkLWNvbmZpZwo=",
                "metadata": {"gluster.cluster-uid": "abc"}, "tags": ["gluster-cluster-abc"]
            }})
        );
        let minimal = ServerCreate {
            name: "n".into(),
            ..Default::default()
        };
        assert_eq!(
            minimal.to_body().unwrap()["server"]["networks"],
            json!("auto")
        );
        let on_port = ServerCreate {
            name: "n".into(),
            ports: vec!["p1".into()],
            ..Default::default()
        };
        assert_eq!(
            on_port.to_body().unwrap()["server"]["networks"],
            json!([{"port": "p1"}])
        );
    }

    #[test]
    fn create_body_rejects_bad_input() {
        let mut spec = ServerCreate {
            name: "n".into(),
            tags: vec!["ok".into(), "a/b".into()],
            ..Default::default()
        };
        match spec.to_body() {
            Err(CloudError::InvalidInput { field, .. }) => assert_eq!(field, "tags[1]"),
            other => panic!("{other:?}"),
        }
        spec.tags.clear();
        spec.user_data = Some(vec![0u8; 60_000]);
        match spec.to_body() {
            Err(CloudError::InvalidInput { field, .. }) => assert_eq!(field, "user_data"),
            other => panic!("{other:?}"),
        }
        spec.name.clear();
        assert!(matches!(
            spec.to_body(),
            Err(CloudError::InvalidInput { .. })
        ));
    }

    #[test]
    fn server_from_api_reference_shape() {
        // Abridged from the Nova API reference "Show Server Details" (2.79 response).
        let server: Server = serde_json::from_value(json!({
            "id": "9168b536-cd40-4630-b43f-b259807c6e87", "name": "new-server-test",
            "status": "ERROR", "OS-EXT-STS:task_state": null,
            "OS-EXT-AZ:availability_zone": "nova",
            "addresses": {"private": [
                {"addr": "192.168.1.30", "OS-EXT-IPS-MAC:mac_addr": "00:0c:29:0d:11:74",
                 "OS-EXT-IPS:type": "fixed", "version": 4}]},
            "metadata": {"My Server Name": "Apache1"}, "tags": [],
            "fault": {"code": 500, "created": "2019-04-19T11:53:56Z",
                      "message": "No valid host was found. There are not enough hosts available."},
            "image": {"id": "70a599e0-31e7-49b7-b260-868f441e862b", "links": []},
            "flavor": {"ephemeral": 0, "original_name": "m1.tiny", "vcpus": 1, "ram": 512,
                       "disk": 1, "swap": 0, "extra_specs": {}},
            "os-extended-volumes:volumes_attached": [{"id": "v1", "delete_on_termination": false}],
            "key_name": null, "created": "2019-04-19T11:53:50Z"
        }))
        .unwrap();
        assert_eq!(server.status, ServerStatus::Error);
        assert_eq!(
            server.fault_message(),
            Some("No valid host was found. There are not enough hosts available.")
        );
        assert_eq!(server.address(None), Some("192.168.1.30"));
        assert_eq!(server.address(Some("other")), None);
        assert_eq!(server.attached_volume_ids(), vec!["v1"]);
        assert_eq!(
            server.image_id.as_deref(),
            Some("70a599e0-31e7-49b7-b260-868f441e862b")
        );
        assert_eq!(server.flavor.original_name.as_deref(), Some("m1.tiny"));

        let booted_from_volume: Server = serde_json::from_value(json!({
            "id": "x", "status": "ACTIVE", "image": "", "tags": null, "metadata": null
        }))
        .unwrap();
        assert_eq!(booted_from_volume.image_id, None);
        assert_eq!(booted_from_volume.fault_message(), None);
        assert!(
            matches!(ServerStatus::from("REBOOT".to_string()), ServerStatus::Other(s) if s == "REBOOT")
        );
    }

    #[test]
    fn query_matching() {
        let server: Server = serde_json::from_value(json!({
            "id": "x", "name": "gc-1", "status": "BUILD",
            "metadata": {"uid": "u", "index": "0"}, "tags": ["t1", "t2"]
        }))
        .unwrap();
        let q = |name: Option<&str>, tags: &[&str], md: &[(&str, &str)]| ServerQuery {
            name: name.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            metadata: md
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert!(q(Some("gc-1"), &["t1"], &[("uid", "u")]).matches(&server));
        assert!(!q(Some("gc-10"), &[], &[]).matches(&server));
        assert!(!q(Some("gc-"), &[], &[]).matches(&server));
        assert!(!q(None, &["t3"], &[]).matches(&server));
        assert!(!q(None, &[], &[("index", "1")]).matches(&server));
    }

    #[test]
    fn flavor_parsing_and_picking() {
        let flavors: Vec<Flavor> = serde_json::from_value(json!([
            {"id": "1", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20,
             "OS-FLV-EXT-DATA:ephemeral": 0, "swap": ""},
            {"id": "2", "name": "m1.xlarge", "vcpus": 8, "ram": 16384, "disk": 20,
             "OS-FLV-EXT-DATA:ephemeral": 100},
            {"id": "3", "name": "dup", "vcpus": 1, "ram": 1, "disk": 1},
            {"id": "4", "name": "dup", "vcpus": 1, "ram": 1, "disk": 1},
            {"id": "dup2", "name": "1", "vcpus": 1, "ram": 1, "disk": 1}
        ]))
        .unwrap();
        let pick = |x: &str| pick_by_id_or_name(flavors.clone(), x, "flavor", |f| (&f.id, &f.name));
        assert_eq!(pick("m1.xlarge").unwrap().ephemeral, 100);
        assert_eq!(pick("1").unwrap().name, "m1.small"); // the ID wins over a name
        assert!(matches!(
            pick("dup"),
            Err(CloudError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            pick("nope"),
            Err(CloudError::NotFound { kind: "flavor", .. })
        ));
    }

    #[test]
    fn keys_compare_without_comment() {
        assert!(same_key("ssh-ed25519 AAAA op@x", "ssh-ed25519 AAAA other"));
        assert!(!same_key("ssh-ed25519 AAAA", "ssh-ed25519 BBBB"));
    }
}

//! Cinder (block storage API v3): volumes and availability zones.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use super::adopt::{Ensured, create_or_adopt};
use super::backoff::Backoff;
use super::compute::{AvailabilityZone, RawZones, parse_zones};
use super::error::CloudError;
use super::http::{Request, ServiceClient, next_link, next_query, seg};
use super::json::null_default;
use super::wait::{Poll, WaitPolicy, wait_for};

/// A volume's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeStatus {
    /// `creating`.
    Creating,
    /// `available`: ready, not attached.
    Available,
    /// `reserved` / `attaching`: an attach is in progress.
    Attaching,
    /// `in-use`: attached.
    InUse,
    /// `detaching`.
    Detaching,
    /// `deleting`.
    Deleting,
    /// `error`, `error_deleting`, `error_extending`, …: failed.
    Error(String),
    /// Any other status, as Cinder wrote it.
    Other(String),
}

impl From<String> for VolumeStatus {
    fn from(s: String) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "creating" => VolumeStatus::Creating,
            "available" => VolumeStatus::Available,
            "reserved" | "attaching" => VolumeStatus::Attaching,
            "in-use" => VolumeStatus::InUse,
            "detaching" => VolumeStatus::Detaching,
            "deleting" => VolumeStatus::Deleting,
            l if l.starts_with("error") => VolumeStatus::Error(s),
            _ => VolumeStatus::Other(s),
        }
    }
}

impl Serialize for VolumeStatus {
    /// As Cinder writes it (a snapshot saved from a run reads back the same).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl std::fmt::Display for VolumeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VolumeStatus::Creating => "creating",
            VolumeStatus::Available => "available",
            VolumeStatus::Attaching => "attaching",
            VolumeStatus::InUse => "in-use",
            VolumeStatus::Detaching => "detaching",
            VolumeStatus::Deleting => "deleting",
            VolumeStatus::Error(s) | VolumeStatus::Other(s) => s,
        })
    }
}

fn status_de<'de, D: Deserializer<'de>>(d: D) -> Result<VolumeStatus, D::Error> {
    Ok(VolumeStatus::from(String::deserialize(d)?))
}

/// Where a volume is attached.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct VolumeAttachmentInfo {
    /// The server.
    #[serde(default)]
    pub server_id: Option<String>,
    /// The device Nova reported.
    #[serde(default)]
    pub device: Option<String>,
    /// The attachment ID.
    #[serde(default)]
    pub attachment_id: Option<String>,
}

/// A volume (Cinder "Show a volume's details").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Volume {
    /// The volume ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Its status.
    #[serde(deserialize_with = "status_de")]
    pub status: VolumeStatus,
    /// Size, GiB.
    #[serde(default)]
    pub size: u64,
    /// Availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Volume type.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Metadata (the cluster UID and node index).
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
    /// Attachments.
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<VolumeAttachmentInfo>,
    /// The volume it was cloned from.
    #[serde(default)]
    pub source_volid: Option<String>,
    /// The snapshot it was created from.
    #[serde(default)]
    pub snapshot_id: Option<String>,
}

/// A volume snapshot (the "master" a brick can be cloned from).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Snapshot {
    /// Its ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `creating`, `available`, `deleting`, `error`, …
    pub status: String,
    /// The volume it was taken of.
    pub volume_id: String,
    /// Size, GiB.
    #[serde(default)]
    pub size: u64,
    /// Metadata.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
}

/// What to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeCreate {
    /// The (deterministic) name.
    pub name: String,
    /// Size, GiB.
    pub size_gib: u64,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Volume type.
    pub volume_type: Option<String>,
    /// Clone this volume.
    pub source_volume_id: Option<String>,
    /// Create from this snapshot.
    pub snapshot_id: Option<String>,
    /// Metadata: the cluster UID and node index.
    pub metadata: BTreeMap<String, String>,
    /// A description.
    pub description: Option<String>,
}

impl VolumeCreate {
    /// The `{"volume": …}` body. Pure.
    pub fn to_body(&self) -> Result<Value, CloudError> {
        let invalid = |field: &str, reason: &str| CloudError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        };
        if self.name.is_empty() {
            return Err(invalid("name", "empty"));
        }
        if self.size_gib == 0 {
            return Err(invalid("size_gib", "must be at least 1"));
        }
        if self.source_volume_id.is_some() && self.snapshot_id.is_some() {
            return Err(invalid(
                "source_volume_id",
                "give a source volume or a snapshot, not both",
            ));
        }
        let mut v = serde_json::Map::new();
        v.insert("name".into(), json!(self.name));
        v.insert("size".into(), json!(self.size_gib));
        let optional = [
            ("availability_zone", &self.availability_zone),
            ("volume_type", &self.volume_type),
            ("source_volid", &self.source_volume_id),
            ("snapshot_id", &self.snapshot_id),
            ("description", &self.description),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                v.insert(key.into(), json!(value));
            }
        }
        if !self.metadata.is_empty() {
            v.insert("metadata".into(), json!(self.metadata));
        }
        Ok(json!({ "volume": v }))
    }
}

/// Which volumes to list. All conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeQuery {
    /// Exact name.
    pub name: Option<String>,
    /// Metadata the volume must carry.
    pub metadata: BTreeMap<String, String>,
}

impl VolumeQuery {
    /// Whether `volume` satisfies the query.
    pub fn matches(&self, volume: &Volume) -> bool {
        self.name.as_ref().is_none_or(|n| *n == volume.name)
            && self
                .metadata
                .iter()
                .all(|(k, v)| volume.metadata.get(k) == Some(v))
    }
}

/// The Cinder API.
#[derive(Clone, Debug)]
pub struct BlockStorage {
    client: ServiceClient,
    adopt_backoff: Backoff,
}

impl BlockStorage {
    /// Cinder over `client`.
    pub fn new(client: ServiceClient) -> Self {
        let adopt_backoff = client.session().options.backoff;
        Self {
            client,
            adopt_backoff,
        }
    }

    /// Creates a volume. Not retried on an ambiguous failure: use
    /// [`BlockStorage::create_volume_or_adopt`].
    pub async fn create_volume(&self, spec: &VolumeCreate) -> Result<Volume, CloudError> {
        #[derive(Deserialize)]
        struct One {
            volume: Volume,
        }
        let req = Request::post("/volumes", spec.to_body()?);
        Ok(self.client.send(req).await?.json::<One>()?.volume)
    }

    /// Creates a volume, or adopts the one an ambiguous earlier attempt made (found by name
    /// and metadata).
    pub async fn create_volume_or_adopt(
        &self,
        spec: &VolumeCreate,
    ) -> Result<Ensured<Volume>, CloudError> {
        let query = VolumeQuery {
            name: Some(spec.name.clone()),
            metadata: spec.metadata.clone(),
        };
        create_or_adopt(
            self.adopt_backoff,
            "volume",
            &spec.name,
            || self.create_volume(spec),
            || async {
                let mut found = self.list_volumes(&query).await?;
                match found.len() {
                    0 => Ok(None),
                    1 => Ok(found.pop()),
                    n => Err(CloudError::Ambiguous {
                        kind: "volume",
                        name: spec.name.clone(),
                        count: n,
                    }),
                }
            },
        )
        .await
    }

    /// A volume by ID; `None` if it does not exist.
    pub async fn get_volume(&self, id: &str) -> Result<Option<Volume>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            volume: Volume,
        }
        match self
            .client
            .send(Request::get(format!("/volumes/{}", seg(id))))
            .await
        {
            Ok(resp) => Ok(Some(resp.json::<One>()?.volume)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Volumes matching the query (Cinder filters by `name` and `metadata`; the client checks
    /// again), following pagination.
    pub async fn list_volumes(&self, query: &VolumeQuery) -> Result<Vec<Volume>, CloudError> {
        #[derive(Deserialize)]
        struct Page {
            volumes: Vec<Volume>,
            #[serde(default)]
            volumes_links: Vec<Value>,
        }
        let mut params = Vec::new();
        if let Some(n) = &query.name {
            params.push(("name".to_string(), n.clone()));
        }
        if !query.metadata.is_empty() {
            params.push(("metadata".to_string(), json!(query.metadata).to_string()));
        }
        let mut out = Vec::new();
        for _ in 0..1000 {
            let mut req = Request::get("/volumes/detail");
            req.query = params;
            let page: Page = self.client.get_json(req).await?;
            out.extend(page.volumes.into_iter().filter(|v| query.matches(v)));
            match next_link(&page.volumes_links) {
                Some(link) => params = next_query(&link),
                None => break,
            }
        }
        Ok(out)
    }

    /// Deletes a volume: `Ok(false)` if it was already gone.
    pub async fn delete_volume(&self, id: &str) -> Result<bool, CloudError> {
        self.client
            .delete_idempotent(Request::delete(format!("/volumes/{}", seg(id))))
            .await
    }

    /// Replaces a volume's metadata (`PUT /volumes/{id}/metadata`): every key not in
    /// `metadata` is removed.
    pub async fn replace_metadata(
        &self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        let req = Request::put(
            format!("/volumes/{}/metadata", seg(id)),
            serde_json::json!({ "metadata": metadata }),
        );
        self.client.send(req).await?;
        Ok(())
    }

    /// Cinder's availability zones: the Nova zones where block storage exists.
    pub async fn availability_zones(&self) -> Result<Vec<AvailabilityZone>, CloudError> {
        let body: RawZones = self
            .client
            .get_json(Request::get("/os-availability-zone"))
            .await?;
        Ok(parse_zones(body))
    }

    /// Takes a snapshot of an available volume.
    pub async fn create_snapshot(
        &self,
        volume_id: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Snapshot, CloudError> {
        #[derive(Deserialize)]
        struct One {
            snapshot: Snapshot,
        }
        let body =
            json!({"snapshot": {"volume_id": volume_id, "name": name, "metadata": metadata}});
        let resp = self.client.send(Request::post("/snapshots", body)).await?;
        Ok(resp.json::<One>()?.snapshot)
    }

    /// A snapshot by ID; `None` if it does not exist.
    pub async fn get_snapshot(&self, id: &str) -> Result<Option<Snapshot>, CloudError> {
        #[derive(Deserialize)]
        struct One {
            snapshot: Snapshot,
        }
        match self
            .client
            .send(Request::get(format!("/snapshots/{}", seg(id))))
            .await
        {
            Ok(resp) => Ok(Some(resp.json::<One>()?.snapshot)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a snapshot: `Ok(false)` if it was already gone.
    pub async fn delete_snapshot(&self, id: &str) -> Result<bool, CloudError> {
        self.client
            .delete_idempotent(Request::delete(format!("/snapshots/{}", seg(id))))
            .await
    }

    /// Waits until the snapshot is `available`; [`CloudError::ResourceFailed`] on an error
    /// status.
    pub async fn wait_for_snapshot(
        &self,
        id: &str,
        policy: WaitPolicy,
    ) -> Result<Snapshot, CloudError> {
        wait_for(policy, "snapshot", id, "available", || async {
            let Some(snap) = self.get_snapshot(id).await? else {
                return Err(CloudError::NotFound {
                    kind: "snapshot",
                    name: id.to_string(),
                });
            };
            match snap.status.as_str() {
                "available" => Ok(Poll::Ready(snap)),
                s if s.starts_with("error") => Err(CloudError::ResourceFailed {
                    kind: "snapshot",
                    id: id.to_string(),
                    status: snap.status.clone(),
                }),
                s => Ok(Poll::Pending(s.to_string())),
            }
        })
        .await
    }

    /// Waits until the volume's status is one of `wanted`; [`CloudError::ResourceFailed`] if it
    /// reaches an error status, [`CloudError::NotFound`] if it disappears. Polls with capped
    /// exponential backoff on the runtime's timer.
    pub async fn wait_for_volume(
        &self,
        id: &str,
        wanted: &[VolumeStatus],
        policy: WaitPolicy,
    ) -> Result<Volume, CloudError> {
        let wanted_text = wanted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        wait_for(policy, "volume", id, &wanted_text, || async {
            let Some(volume) = self.get_volume(id).await? else {
                return Err(CloudError::NotFound {
                    kind: "volume",
                    name: id.to_string(),
                });
            };
            if wanted.contains(&volume.status) {
                return Ok(Poll::Ready(volume));
            }
            if let VolumeStatus::Error(status) = &volume.status {
                return Err(CloudError::ResourceFailed {
                    kind: "volume",
                    id: id.to_string(),
                    status: status.clone(),
                });
            }
            Ok(Poll::Pending(volume.status.to_string()))
        })
        .await
    }

    /// Waits until the volume is gone (404); [`CloudError::ResourceFailed`] on
    /// `error_deleting`.
    pub async fn wait_for_volume_deleted(
        &self,
        id: &str,
        policy: WaitPolicy,
    ) -> Result<(), CloudError> {
        wait_for(policy, "volume", id, "deleted", || async {
            match self.get_volume(id).await? {
                None => Ok(Poll::Ready(())),
                Some(v) => match v.status {
                    VolumeStatus::Error(status) => Err(CloudError::ResourceFailed {
                        kind: "volume",
                        id: id.to_string(),
                        status,
                    }),
                    other => Ok(Poll::Pending(other.to_string())),
                },
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body() {
        let spec = VolumeCreate {
            name: "gc-abc-zone-a-0".into(),
            size_gib: 200,
            availability_zone: Some("zone-a".into()),
            volume_type: Some("ssd".into()),
            snapshot_id: Some("s1".into()),
            metadata: BTreeMap::from([("uid".into(), "abc".into())]),
            ..Default::default()
        };
        assert_eq!(
            spec.to_body().unwrap(),
            json!({"volume": {"name": "gc-abc-zone-a-0", "size": 200,
                "availability_zone": "zone-a", "volume_type": "ssd", "snapshot_id": "s1",
                "metadata": {"uid": "abc"}}})
        );
        let both = VolumeCreate {
            source_volume_id: Some("v".into()),
            ..spec.clone()
        };
        assert!(
            matches!(both.to_body(), Err(CloudError::InvalidInput { field, .. }) if field == "source_volume_id")
        );
        let zero = VolumeCreate {
            size_gib: 0,
            ..spec
        };
        assert!(
            matches!(zero.to_body(), Err(CloudError::InvalidInput { field, .. }) if field == "size_gib")
        );
    }

    #[test]
    fn volume_from_api_reference_shape() {
        // Abridged from the Cinder API reference "Show a volume's details".
        let v: Volume = serde_json::from_value(json!({
            "id": "6edbc2f4-1507-44f8-ac0d-eed1d2608d38", "name": "test-volume-attachments",
            "status": "in-use", "size": 2, "availability_zone": "nova",
            "volume_type": "lvmdriver-1", "metadata": {}, "source_volid": null,
            "snapshot_id": null, "description": null,
            "attachments": [{"server_id": "f4fda93b-06e0-4743-8117-bc8bcecd651b",
                "attachment_id": "3b8b6631-1cf7-4fd7-9afb-c01e541a073c",
                "volume_id": "6edbc2f4-1507-44f8-ac0d-eed1d2608d38", "device": "/dev/vdb",
                "id": "6edbc2f4-1507-44f8-ac0d-eed1d2608d38"}]
        }))
        .unwrap();
        assert_eq!(v.status, VolumeStatus::InUse);
        assert_eq!(v.attachments[0].device.as_deref(), Some("/dev/vdb"));
        assert_eq!(
            VolumeStatus::from("error_deleting".to_string()),
            VolumeStatus::Error("error_deleting".into())
        );
        let unnamed: Volume =
            serde_json::from_value(json!({"id": "x", "status": "creating", "name": null})).unwrap();
        assert_eq!(unnamed.name, "");
    }

    #[test]
    fn query_matching() {
        let v: Volume = serde_json::from_value(json!({
            "id": "x", "name": "a", "status": "available", "metadata": {"k": "v", "n": "0"}
        }))
        .unwrap();
        let q = VolumeQuery {
            name: Some("a".into()),
            metadata: BTreeMap::from([("k".into(), "v".into())]),
        };
        assert!(q.matches(&v));
        let q = VolumeQuery {
            name: None,
            metadata: BTreeMap::from([("n".into(), "1".into())]),
        };
        assert!(!q.matches(&v));
    }
}

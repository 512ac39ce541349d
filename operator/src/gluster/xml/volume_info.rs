//! `gluster volume info [VOL] --xml`.
//!
//! Version notes (from the CLI's `cli-xml-output.c` and GlusterFS 10 output):
//! - `distCount` changed meaning: before 9.0 it was the bricks per subvolume, from 9.0 the
//!   number of distribute subvolumes. The parser ignores it and derives the distribute count
//!   from `brickCount` and the subvolume size (`disperseCount`, else `replicaCount`), which
//!   means the same in every version.
//! - `arbiterCount`, `disperseCount` and `redundancyCount` are absent before 3.6/3.7: 0 then.
//! - `typeStr` carries a ` [NOT SUPPORTED from v6.0]` suffix for stripe and tier types.
//! - Each `<brick>` has the brick as text and again as `<name>`; `<name>` is preferred.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{OutputError, ParseError, count, count_or_zero, flag, parse_document, req};

const WHAT: &str = "volume info";

/// One volume as `volume info` describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeInfo {
    /// Volume name.
    pub name: String,
    /// Volume UUID.
    pub id: String,
    /// Created, started or stopped.
    pub state: VolumeState,
    /// The layout.
    pub volume_type: VolumeType,
    /// Number of bricks.
    pub brick_count: u32,
    /// Bricks per replica set (1 when not replicated).
    pub replica_count: u32,
    /// Arbiter bricks per replica set.
    pub arbiter_count: u32,
    /// Bricks per disperse set (0 when not dispersed).
    pub disperse_count: u32,
    /// Bricks per disperse set that may be lost.
    pub redundancy_count: u32,
    /// Number of distribute subvolumes (replica or disperse sets), derived (see module docs).
    pub distribute_count: u32,
    /// Snapshots of the volume.
    pub snapshot_count: u32,
    /// Transport code: 0 tcp, 1 rdma, 2 tcp and rdma.
    pub transport: u32,
    /// Bricks in volume order (replica sets are consecutive runs of `replica_count`).
    pub bricks: Vec<VolumeBrick>,
    /// Reconfigured options (`volume set`), name to value.
    pub options: BTreeMap<String, String>,
}

/// A volume's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VolumeState {
    /// Created, never started or not started since.
    Created,
    /// Started: bricks are served.
    Started,
    /// Stopped.
    Stopped,
}

/// A volume's layout, from `typeStr`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VolumeType {
    /// Plain distribute (files spread over bricks, no redundancy).
    Distribute,
    /// One replica set.
    Replicate,
    /// One disperse (erasure-coded) set.
    Disperse,
    /// Several replica sets.
    DistributedReplicate,
    /// Several disperse sets.
    DistributedDisperse,
    /// A type this operator does not manage (stripe, tier: removed in GlusterFS 6).
    Unsupported(String),
}

/// One brick of a volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeBrick {
    /// The peer's host name or address.
    pub host: String,
    /// The brick directory.
    pub path: String,
    /// UUID of the peer that holds the brick.
    pub host_uuid: String,
    /// Whether the brick is an arbiter (metadata only).
    pub is_arbiter: bool,
}

impl VolumeBrick {
    /// `host:path`, as gluster names bricks.
    pub fn name(&self) -> String {
        format!("{}:{}", self.host, self.path)
    }
}

impl VolumeInfo {
    /// Bricks per distribute subvolume (replica or disperse set).
    pub fn subvolume_size(&self) -> u32 {
        subvolume_size(self.replica_count, self.disperse_count)
    }

    /// Whether the volume is started.
    pub fn is_started(&self) -> bool {
        self.state == VolumeState::Started
    }
}

fn subvolume_size(replica: u32, disperse: u32) -> u32 {
    if disperse > 0 {
        disperse
    } else {
        replica.max(1)
    }
}

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "volInfo")]
    vol_info: Option<RawVolInfo>,
}

#[derive(Deserialize)]
struct RawVolInfo {
    volumes: Option<RawVolumes>,
}

#[derive(Deserialize)]
struct RawVolumes {
    #[serde(default)]
    volume: Vec<RawVolume>,
}

#[derive(Deserialize)]
struct RawVolume {
    name: Option<String>,
    id: Option<String>,
    status: Option<String>,
    #[serde(rename = "statusStr")]
    status_str: Option<String>,
    #[serde(rename = "snapshotCount")]
    snapshot_count: Option<String>,
    #[serde(rename = "brickCount")]
    brick_count: Option<String>,
    #[serde(rename = "replicaCount")]
    replica_count: Option<String>,
    #[serde(rename = "arbiterCount")]
    arbiter_count: Option<String>,
    #[serde(rename = "disperseCount")]
    disperse_count: Option<String>,
    #[serde(rename = "redundancyCount")]
    redundancy_count: Option<String>,
    #[serde(rename = "type")]
    type_code: Option<String>,
    #[serde(rename = "typeStr")]
    type_str: Option<String>,
    transport: Option<String>,
    bricks: Option<RawBricks>,
    options: Option<RawOptions>,
}

#[derive(Deserialize)]
struct RawBricks {
    #[serde(default)]
    brick: Vec<RawBrick>,
}

#[derive(Deserialize)]
struct RawBrick {
    #[serde(rename = "@uuid")]
    uuid: Option<String>,
    #[serde(rename = "$text")]
    text: Option<String>,
    name: Option<String>,
    #[serde(rename = "hostUuid")]
    host_uuid: Option<String>,
    #[serde(rename = "isArbiter")]
    is_arbiter: Option<String>,
}

#[derive(Deserialize)]
struct RawOptions {
    #[serde(default)]
    option: Vec<RawOption>,
}

#[derive(Deserialize)]
struct RawOption {
    name: Option<String>,
    value: Option<String>,
}

/// Parses `volume info --xml`: every volume listed (an empty list when there are none).
pub fn parse_volume_info(output: &str) -> Result<Vec<VolumeInfo>, OutputError> {
    let root: Root = parse_document(output, WHAT)?;
    let volumes = root
        .vol_info
        .ok_or_else(|| ParseError::Missing {
            what: WHAT,
            field: "volInfo".into(),
        })?
        .volumes
        .map(|v| v.volume)
        .unwrap_or_default();
    volumes
        .into_iter()
        .enumerate()
        .map(|(i, v)| convert(i, v).map_err(OutputError::from))
        .collect()
}

fn convert(i: usize, raw: RawVolume) -> Result<VolumeInfo, ParseError> {
    let f = |name: &str| format!("volume[{i}].{name}");
    let name = req(WHAT, &f("name"), raw.name)?;
    let id = req(WHAT, &f("id"), raw.id)?;
    let state = state(&f("status"), raw.status, raw.status_str)?;
    let brick_count = count(
        WHAT,
        &f("brickCount"),
        req(WHAT, &f("brickCount"), raw.brick_count)?,
    )?;
    let replica_count = count_or_zero(WHAT, &f("replicaCount"), raw.replica_count)?.max(1);
    let arbiter_count = count_or_zero(WHAT, &f("arbiterCount"), raw.arbiter_count)?;
    let disperse_count = count_or_zero(WHAT, &f("disperseCount"), raw.disperse_count)?;
    let redundancy_count = count_or_zero(WHAT, &f("redundancyCount"), raw.redundancy_count)?;
    let snapshot_count = count_or_zero(WHAT, &f("snapshotCount"), raw.snapshot_count)?;
    let transport = count_or_zero(WHAT, &f("transport"), raw.transport)?;
    let volume_type = volume_type(&f("typeStr"), raw.type_str, raw.type_code)?;

    let size = subvolume_size(replica_count, disperse_count);
    if brick_count % size != 0 {
        return Err(ParseError::Invalid {
            what: WHAT,
            field: f("brickCount"),
            value: format!("{brick_count} (not a multiple of the subvolume size {size})"),
        });
    }
    let distribute_count = brick_count / size;

    let raw_bricks = raw.bricks.map(|b| b.brick).unwrap_or_default();
    let mut bricks = Vec::with_capacity(raw_bricks.len());
    for (j, b) in raw_bricks.into_iter().enumerate() {
        let bf = |name: &str| format!("volume[{i}].bricks.brick[{j}]{name}");
        let full = b
            .name
            .or(b.text)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ParseError::Missing {
                what: WHAT,
                field: bf(".name"),
            })?;
        let (host, path) = split_brick(&full).ok_or_else(|| ParseError::Invalid {
            what: WHAT,
            field: bf(".name"),
            value: full.clone(),
        })?;
        let host_uuid = b.host_uuid.or(b.uuid).unwrap_or_default();
        let is_arbiter = match b.is_arbiter {
            Some(v) => flag(WHAT, &bf(".isArbiter"), v)?,
            None => false,
        };
        bricks.push(VolumeBrick {
            host,
            path,
            host_uuid,
            is_arbiter,
        });
    }
    if bricks.len() != brick_count as usize {
        return Err(ParseError::Invalid {
            what: WHAT,
            field: f("bricks"),
            value: format!(
                "{} bricks listed, brickCount says {brick_count}",
                bricks.len()
            ),
        });
    }

    let mut options = BTreeMap::new();
    for (j, o) in raw
        .options
        .map(|o| o.option)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let key = req(
            WHAT,
            &format!("volume[{i}].options.option[{j}].name"),
            o.name,
        )?;
        options.insert(key, o.value.unwrap_or_default());
    }

    Ok(VolumeInfo {
        name,
        id,
        state,
        volume_type,
        brick_count,
        replica_count,
        arbiter_count,
        disperse_count,
        redundancy_count,
        distribute_count,
        snapshot_count,
        transport,
        bricks,
        options,
    })
}

/// Splits `host:/path` at the first `:/`.
pub(crate) fn split_brick(brick: &str) -> Option<(String, String)> {
    let i = brick.find(":/")?;
    if i == 0 {
        return None;
    }
    Some((brick[..i].to_string(), brick[i + 1..].to_string()))
}

fn state(
    field: &str,
    code: Option<String>,
    text: Option<String>,
) -> Result<VolumeState, ParseError> {
    if let Some(code) = code {
        return match code.trim() {
            "0" => Ok(VolumeState::Created),
            "1" => Ok(VolumeState::Started),
            "2" => Ok(VolumeState::Stopped),
            _ => Err(ParseError::Invalid {
                what: WHAT,
                field: field.to_string(),
                value: code,
            }),
        };
    }
    match text.as_deref().map(str::trim) {
        Some("Created") => Ok(VolumeState::Created),
        Some("Started") => Ok(VolumeState::Started),
        Some("Stopped") => Ok(VolumeState::Stopped),
        Some(other) => Err(ParseError::Invalid {
            what: WHAT,
            field: format!("{field}Str"),
            value: other.to_string(),
        }),
        None => Err(ParseError::Missing {
            what: WHAT,
            field: field.to_string(),
        }),
    }
}

fn volume_type(
    field: &str,
    text: Option<String>,
    code: Option<String>,
) -> Result<VolumeType, ParseError> {
    if let Some(text) = text {
        // "Stripe [NOT SUPPORTED from v6.0]" → "Stripe"
        let base = text.split(" [").next().unwrap_or(&text).trim();
        return Ok(match base {
            "Distribute" => VolumeType::Distribute,
            "Replicate" => VolumeType::Replicate,
            "Disperse" => VolumeType::Disperse,
            "Distributed-Replicate" => VolumeType::DistributedReplicate,
            "Distributed-Disperse" => VolumeType::DistributedDisperse,
            other => VolumeType::Unsupported(other.to_string()),
        });
    }
    // Codes of `vol_type_str[]` (libglusterfs/common-utils.c), stable since 3.x.
    let code = req(WHAT, field, code)?;
    Ok(match code.trim() {
        "0" => VolumeType::Distribute,
        "2" => VolumeType::Replicate,
        "4" => VolumeType::Disperse,
        "7" => VolumeType::DistributedReplicate,
        "9" => VolumeType::DistributedDisperse,
        other => VolumeType::Unsupported(format!("type {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A volume document in the layout of GlusterFS before 9.0 (`distCount` = bricks per
    /// subvolume, no `arbiterCount`): the derived distribute count must not change.
    #[test]
    fn old_dist_count_meaning_does_not_matter() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>
<volInfo><volumes><volume><name>gv0</name><id>7b1c</id><status>1</status><statusStr>Started</statusStr>
<brickCount>4</brickCount><distCount>2</distCount><stripeCount>1</stripeCount><replicaCount>2</replicaCount>
<type>7</type><typeStr>Distributed-Replicate</typeStr><transport>0</transport>
<bricks><brick uuid="u1">a:/b1<name>a:/b1</name><hostUuid>u1</hostUuid></brick>
<brick uuid="u2">b:/b1<name>b:/b1</name><hostUuid>u2</hostUuid></brick>
<brick uuid="u1">a:/b2<name>a:/b2</name><hostUuid>u1</hostUuid></brick>
<brick uuid="u2">b:/b2</brick></bricks>
<optCount>0</optCount><options/></volume><count>1</count></volumes></volInfo></cliOutput>"#;
        let v = &parse_volume_info(xml).unwrap()[0];
        assert_eq!(v.distribute_count, 2);
        assert_eq!(v.replica_count, 2);
        assert_eq!(v.arbiter_count, 0);
        assert_eq!(v.volume_type, VolumeType::DistributedReplicate);
        // The last brick only has text content (very old layout): still read.
        assert_eq!(v.bricks[3].name(), "b:/b2");
        assert_eq!(v.bricks[3].host_uuid, "u2");
    }

    #[test]
    fn inconsistent_counts_are_refused_with_the_field() {
        let xml = r#"<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>
<volInfo><volumes><volume><name>gv0</name><id>x</id><status>1</status>
<brickCount>3</brickCount><replicaCount>2</replicaCount><typeStr>Replicate</typeStr>
<bricks/></volume></volumes></volInfo></cliOutput>"#;
        let e = parse_volume_info(xml).unwrap_err().to_string();
        assert!(e.contains("volume[0].brickCount"), "{e}");
        let xml = xml.replace("<brickCount>3", "<brickCount>2");
        let e = parse_volume_info(&xml).unwrap_err().to_string();
        assert!(e.contains("volume[0].bricks"), "{e}");
        let xml = xml.replace("<status>1", "<status>7");
        let e = parse_volume_info(&xml).unwrap_err().to_string();
        assert!(e.contains("volume[0].status") && e.contains("\"7\""), "{e}");
    }

    #[test]
    fn removed_types_are_reported_not_guessed() {
        assert_eq!(
            volume_type("t", Some("Stripe [NOT SUPPORTED from v6.0]".into()), None).unwrap(),
            VolumeType::Unsupported("Stripe".into())
        );
        assert_eq!(
            volume_type("t", None, Some("9".into())).unwrap(),
            VolumeType::DistributedDisperse
        );
    }

    #[test]
    fn brick_names_split_at_the_path() {
        assert_eq!(
            split_brick("10.0.0.1:/export/b"),
            Some(("10.0.0.1".into(), "/export/b".into()))
        );
        assert_eq!(split_brick("/export/b"), None);
        assert_eq!(split_brick(":/export/b"), None);
    }
}

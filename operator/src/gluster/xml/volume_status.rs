//! `gluster volume status VOL|all [detail] --xml`: which bricks are online, where, with which pid; the
//! volume's daemons (self-heal…); running or finished tasks (rebalance, remove-brick).
//!
//! Bricks and daemons share the `<node>` element: a brick has its directory in `<path>`; a
//! daemon has its name in `<hostname>` ("Self-heal Daemon") and its host in `<path>`.
//! `detail` adds each brick filesystem's size and free bytes and leaves out daemons and tasks.

use serde::Deserialize;

use super::migration::TaskStatus;
use super::{OutputError, ParseError, flag, int, maybe_number, parse_document, req};

const WHAT: &str = "volume status";

/// The status of one volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeStatus {
    /// Volume name.
    pub name: String,
    /// Bricks, in the order gluster lists them.
    pub bricks: Vec<BrickStatus>,
    /// The volume's daemons on each peer (self-heal, …).
    pub daemons: Vec<DaemonStatus>,
    /// Tasks gluster tracks for the volume.
    pub tasks: Vec<VolumeTask>,
}

/// One brick's process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrickStatus {
    /// The peer's host name or address.
    pub host: String,
    /// The brick directory.
    pub path: String,
    /// UUID of the peer holding the brick.
    pub peer_id: String,
    /// Whether the brick process is up.
    pub online: bool,
    /// TCP port, when listening.
    pub port: Option<u16>,
    /// Process id, when running.
    pub pid: Option<u32>,
    /// Size of the brick's filesystem in bytes (`volume status VOL detail` only; glusterd
    /// reads it with statvfs, also while the brick process is down).
    #[serde(default)]
    pub size_total: Option<u64>,
    /// Free bytes of the brick's filesystem (`detail` only; root-reserved blocks included).
    #[serde(default)]
    pub size_free: Option<u64>,
}

impl BrickStatus {
    /// Bytes used on the brick's filesystem (`detail` only).
    pub fn size_used(&self) -> Option<u64> {
        Some(self.size_total?.saturating_sub(self.size_free?))
    }

    /// `host:path`, as gluster names bricks.
    pub fn name(&self) -> String {
        format!("{}:{}", self.host, self.path)
    }
}

/// One volume daemon on one peer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DaemonStatus {
    /// What it is (`Self-heal Daemon`, `Quota Daemon`, …).
    pub daemon: String,
    /// The peer it runs on (`localhost` for the node asked).
    pub host: String,
    /// UUID of that peer.
    pub peer_id: String,
    /// Whether it is up.
    pub online: bool,
    /// Its TCP port, if it has one.
    pub port: Option<u16>,
    /// Process id, when running.
    pub pid: Option<u32>,
}

/// A task gluster tracks on the volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeTask {
    /// `Rebalance`, `Remove brick`, …
    pub kind: String,
    /// Task UUID.
    pub id: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// The bricks concerned (remove-brick).
    pub bricks: Vec<String>,
}

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "volStatus")]
    vol_status: Option<RawVolStatus>,
}

#[derive(Deserialize)]
struct RawVolStatus {
    volumes: Option<RawVolumes>,
}

#[derive(Deserialize)]
struct RawVolumes {
    #[serde(default)]
    volume: Vec<RawVolume>,
}

#[derive(Deserialize)]
struct RawVolume {
    #[serde(rename = "volName")]
    vol_name: Option<String>,
    #[serde(default)]
    node: Vec<RawNode>,
    tasks: Option<RawTasks>,
}

#[derive(Deserialize)]
struct RawNode {
    hostname: Option<String>,
    path: Option<String>,
    peerid: Option<String>,
    status: Option<String>,
    port: Option<String>,
    ports: Option<RawPorts>,
    pid: Option<String>,
    #[serde(rename = "sizeTotal")]
    size_total: Option<String>,
    #[serde(rename = "sizeFree")]
    size_free: Option<String>,
}

#[derive(Deserialize)]
struct RawPorts {
    tcp: Option<String>,
}

#[derive(Deserialize)]
struct RawTasks {
    #[serde(default)]
    task: Vec<RawTask>,
}

#[derive(Deserialize)]
struct RawTask {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    status: Option<String>,
    #[serde(rename = "statusStr")]
    status_str: Option<String>,
    params: Option<RawParams>,
}

#[derive(Deserialize)]
struct RawParams {
    #[serde(default)]
    brick: Vec<String>,
}

/// Parses `volume status --xml` (one volume, or every started volume for `all`).
pub fn parse_volume_status(output: &str) -> Result<Vec<VolumeStatus>, OutputError> {
    let root: Root = parse_document(output, WHAT)?;
    let volumes = root
        .vol_status
        .ok_or_else(|| ParseError::Missing {
            what: WHAT,
            field: "volStatus".into(),
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

fn convert(i: usize, raw: RawVolume) -> Result<VolumeStatus, ParseError> {
    let name = req(WHAT, &format!("volume[{i}].volName"), raw.vol_name)?;
    let mut bricks = Vec::new();
    let mut daemons = Vec::new();
    for (j, n) in raw.node.into_iter().enumerate() {
        let f = |name: &str| format!("volume[{i}].node[{j}].{name}");
        let hostname = req(WHAT, &f("hostname"), n.hostname)?;
        let path = req(WHAT, &f("path"), n.path)?;
        let peer_id = n.peerid.unwrap_or_default();
        let online = flag(WHAT, &f("status"), req(WHAT, &f("status"), n.status)?)?;
        let port = match maybe_number::<u16>(WHAT, &f("port"), n.port)? {
            Some(p) => Some(p),
            None => maybe_number::<u16>(WHAT, &f("ports.tcp"), n.ports.and_then(|p| p.tcp))?,
        };
        let pid = maybe_number::<u32>(WHAT, &f("pid"), n.pid)?;
        let size_total = maybe_number::<u64>(WHAT, &f("sizeTotal"), n.size_total)?;
        let size_free = maybe_number::<u64>(WHAT, &f("sizeFree"), n.size_free)?;
        if path.starts_with('/') {
            bricks.push(BrickStatus {
                host: hostname,
                path,
                peer_id,
                online,
                port,
                pid,
                size_total,
                size_free,
            });
        } else {
            daemons.push(DaemonStatus {
                daemon: hostname,
                host: path,
                peer_id,
                online,
                port,
                pid,
            });
        }
    }
    let mut tasks = Vec::new();
    for (j, t) in raw
        .tasks
        .map(|t| t.task)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let f = |name: &str| format!("volume[{i}].tasks.task[{j}].{name}");
        let code = int(WHAT, &f("status"), req(WHAT, &f("status"), t.status)?)?;
        tasks.push(VolumeTask {
            kind: req(WHAT, &f("type"), t.kind)?,
            id: t.id.unwrap_or_default(),
            status: TaskStatus::from_code(code, t.status_str.as_deref()),
            bricks: t.params.map(|p| p.brick).unwrap_or_default(),
        });
    }
    Ok(VolumeStatus {
        name,
        bricks,
        daemons,
        tasks,
    })
}

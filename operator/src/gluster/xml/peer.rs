//! `gluster peer status --xml` and `gluster pool list --xml` (same document; the pool list
//! also holds the node asked, as `localhost`, without a state).

use serde::Deserialize;

use super::{OutputError, ParseError, flag, int, parse_document, req};

const WHAT: &str = "peer status";

/// glusterd's friend state machine state "Peer in Cluster" (`GD_FRIEND_STATE_BEFRIENDED`).
const PEER_IN_CLUSTER: i32 = 3;

/// A peer of the trusted storage pool.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peer {
    /// The peer's UUID.
    pub uuid: String,
    /// Its primary host name or address (`localhost` for the node asked, in `pool list`).
    pub hostname: String,
    /// Every name the pool knows it by.
    pub hostnames: Vec<String>,
    /// Whether glusterd is connected to it right now.
    pub connected: bool,
    /// The friend state (3 is "Peer in Cluster"); absent for the node asked.
    pub state: Option<i32>,
    /// The state in words ("Peer in Cluster", "Peer Rejected", …).
    pub state_str: Option<String>,
}

impl Peer {
    /// Whether the peer is a full member (state "Peer in Cluster") or the node asked itself.
    pub fn in_cluster(&self) -> bool {
        self.state.is_none_or(|s| s == PEER_IN_CLUSTER)
    }

    /// Whether the peer is known by `name` (primary or other host name).
    pub fn is_named(&self, name: &str) -> bool {
        self.hostname == name || self.hostnames.iter().any(|h| h == name)
    }
}

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "peerStatus")]
    peer_status: Option<RawPeerStatus>,
}

#[derive(Deserialize)]
struct RawPeerStatus {
    #[serde(default)]
    peer: Vec<RawPeer>,
}

#[derive(Deserialize)]
struct RawPeer {
    uuid: Option<String>,
    hostname: Option<String>,
    hostnames: Option<RawHostnames>,
    connected: Option<String>,
    state: Option<String>,
    #[serde(rename = "stateStr")]
    state_str: Option<String>,
}

#[derive(Deserialize)]
struct RawHostnames {
    #[serde(default)]
    hostname: Vec<String>,
}

/// Parses `peer status --xml`: the other peers.
pub fn parse_peer_status(output: &str) -> Result<Vec<Peer>, OutputError> {
    parse(output)
}

/// Parses `pool list --xml`: every peer, the node asked included (`localhost`).
pub fn parse_pool_list(output: &str) -> Result<Vec<Peer>, OutputError> {
    parse(output)
}

fn parse(output: &str) -> Result<Vec<Peer>, OutputError> {
    let root: Root = parse_document(output, WHAT)?;
    let peers = root
        .peer_status
        .ok_or_else(|| ParseError::Missing {
            what: WHAT,
            field: "peerStatus".into(),
        })?
        .peer;
    peers
        .into_iter()
        .enumerate()
        .map(|(i, p)| convert(i, p).map_err(OutputError::from))
        .collect()
}

fn convert(i: usize, raw: RawPeer) -> Result<Peer, ParseError> {
    let f = |name: &str| format!("peer[{i}].{name}");
    let hostname = req(WHAT, &f("hostname"), raw.hostname)?;
    let mut hostnames = raw.hostnames.map(|h| h.hostname).unwrap_or_default();
    if hostnames.is_empty() {
        hostnames.push(hostname.clone());
    }
    Ok(Peer {
        uuid: req(WHAT, &f("uuid"), raw.uuid)?,
        hostname,
        hostnames,
        connected: flag(
            WHAT,
            &f("connected"),
            req(WHAT, &f("connected"), raw.connected)?,
        )?,
        state: raw.state.map(|s| int(WHAT, &f("state"), s)).transpose()?,
        state_str: raw.state_str,
    })
}

//! `gluster volume heal VOL info [summary] --xml` (printed by the `glfsheal` helper).
//!
//! Per brick: its status (`Connected`, or why not), the entries waiting for heal (`-` when the
//! brick could not be asked), the entries themselves (gfid and path) in `info`, and split-brain
//! and possibly-healing counts in `info summary`.

use serde::Deserialize;

use super::{OutputError, ParseError, maybe_number, parse_document, req};

const WHAT: &str = "heal info";

/// The heal state of a replicated or dispersed volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealInfo {
    /// One entry per brick.
    pub bricks: Vec<HealBrick>,
}

/// One brick's view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealBrick {
    /// The peer's host name or address.
    pub host: String,
    /// The brick directory.
    pub path: String,
    /// UUID of the peer (absent when the brick could not be reached).
    pub host_uuid: Option<String>,
    /// `Connected`, or the reason the brick could not be asked.
    pub status: String,
    /// Entries waiting for heal; `None` when unknown (brick not reachable).
    pub entries: Option<u64>,
    /// The entries (in `info`, not in `info summary`).
    pub files: Vec<HealEntry>,
    /// The counts of `info summary`.
    pub summary: Option<HealSummary>,
}

/// An entry that needs healing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealEntry {
    /// The file's gfid.
    pub gfid: String,
    /// Its path in the volume (or `<gfid:…>` when gluster does not know it).
    pub path: String,
}

/// The counts `heal info summary` adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealSummary {
    /// All entries.
    pub total: u64,
    /// Entries pending heal.
    pub pending: u64,
    /// Entries in split-brain: never healed automatically, need a decision.
    pub split_brain: u64,
    /// Entries possibly being healed right now.
    pub possibly_healing: u64,
}

impl HealBrick {
    /// Whether glfsheal could ask this brick.
    pub fn connected(&self) -> bool {
        self.status == "Connected"
    }

    /// `host:path`, as gluster names bricks.
    pub fn name(&self) -> String {
        format!("{}:{}", self.host, self.path)
    }
}

impl HealInfo {
    /// Total entries waiting for heal, or `None` if some brick could not be asked (the volume
    /// must then not be called healed).
    pub fn pending_entries(&self) -> Option<u64> {
        self.bricks.iter().map(|b| b.entries).sum()
    }

    /// Whether every brick answered and none has entries waiting.
    pub fn is_healed(&self) -> bool {
        self.pending_entries() == Some(0) && self.bricks.iter().all(HealBrick::connected)
    }

    /// Entries in split-brain over all bricks (summary output only).
    pub fn split_brain_entries(&self) -> Option<u64> {
        self.bricks
            .iter()
            .map(|b| b.summary.map(|s| s.split_brain))
            .sum()
    }
}

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "healInfo")]
    heal_info: Option<RawHealInfo>,
}

#[derive(Deserialize)]
struct RawHealInfo {
    bricks: Option<RawBricks>,
}

#[derive(Deserialize)]
struct RawBricks {
    #[serde(default)]
    brick: Vec<RawBrick>,
}

#[derive(Deserialize)]
struct RawBrick {
    #[serde(rename = "@hostUuid")]
    host_uuid: Option<String>,
    name: Option<String>,
    #[serde(default)]
    file: Vec<RawFile>,
    status: Option<String>,
    #[serde(rename = "numberOfEntries")]
    number_of_entries: Option<String>,
    #[serde(rename = "totalNumberOfEntries")]
    total: Option<String>,
    #[serde(rename = "numberOfEntriesInHealPending")]
    pending: Option<String>,
    #[serde(rename = "numberOfEntriesInSplitBrain")]
    split_brain: Option<String>,
    #[serde(rename = "numberOfEntriesPossiblyHealing")]
    possibly_healing: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "@gfid")]
    gfid: Option<String>,
    #[serde(rename = "$text")]
    path: Option<String>,
}

/// Parses `volume heal VOL info --xml` and `… info summary --xml`.
pub fn parse_heal_info(output: &str) -> Result<HealInfo, OutputError> {
    let root: Root = parse_document(output, WHAT)?;
    let raw = root
        .heal_info
        .ok_or_else(|| ParseError::Missing {
            what: WHAT,
            field: "healInfo".into(),
        })?
        .bricks
        .map(|b| b.brick)
        .unwrap_or_default();
    let bricks = raw
        .into_iter()
        .enumerate()
        .map(|(i, b)| convert(i, b))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HealInfo { bricks })
}

fn convert(i: usize, raw: RawBrick) -> Result<HealBrick, ParseError> {
    let f = |name: &str| format!("brick[{i}].{name}");
    let name = req(WHAT, &f("name"), raw.name)?;
    let (host, path) =
        super::volume_info::split_brick(name.trim()).ok_or_else(|| ParseError::Invalid {
            what: WHAT,
            field: f("name"),
            value: name.clone(),
        })?;
    let host_uuid = raw.host_uuid.filter(|u| !u.is_empty() && u != "-");
    let status = raw.status.unwrap_or_default().trim().to_string();
    let summary = match (
        raw.total,
        raw.pending,
        raw.split_brain,
        raw.possibly_healing,
    ) {
        (Some(t), Some(p), Some(s), Some(h)) => {
            match (
                maybe_number::<u64>(WHAT, &f("totalNumberOfEntries"), Some(t))?,
                maybe_number::<u64>(WHAT, &f("numberOfEntriesInHealPending"), Some(p))?,
                maybe_number::<u64>(WHAT, &f("numberOfEntriesInSplitBrain"), Some(s))?,
                maybe_number::<u64>(WHAT, &f("numberOfEntriesPossiblyHealing"), Some(h))?,
            ) {
                (Some(total), Some(pending), Some(split_brain), Some(possibly_healing)) => {
                    Some(HealSummary {
                        total,
                        pending,
                        split_brain,
                        possibly_healing,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    let entries = match raw.number_of_entries {
        Some(n) => maybe_number::<u64>(WHAT, &f("numberOfEntries"), Some(n))?,
        None => summary.map(|s| s.total),
    };
    let files = raw
        .file
        .into_iter()
        .enumerate()
        .map(|(j, file)| {
            Ok(HealEntry {
                gfid: file.gfid.unwrap_or_default(),
                path: req(WHAT, &format!("brick[{i}].file[{j}]"), file.path)?,
            })
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    // A count without a number but a reachable brick would be a format change: say so.
    if entries.is_none() && status == "Connected" {
        return Err(ParseError::Missing {
            what: WHAT,
            field: f("numberOfEntries"),
        });
    }
    Ok(HealBrick {
        host,
        path,
        host_uuid,
        status,
        entries,
        files,
        summary,
    })
}

//! Parsers of gluster's `--xml` output (GlusterFS 10; older field layouts noted where they
//! differ), built on quick-xml's serde support: each document is deserialized into private
//! "raw" structs that mirror the XML (every leaf a string), then converted into the public
//! types with checks that name the offending field.
//!
//! Every document carries the `opRet`/`opErrno`/`opErrstr` envelope. A non-zero `opRet` is
//! gluster saying no, whatever the exit status (the CLI exits 0 on many failures in XML mode),
//! and becomes [`GlusterOpError`] with gluster's own message.

mod heal;
mod migration;
mod peer;
mod volume_info;
mod volume_status;

pub use heal::{HealBrick, HealEntry, HealInfo, HealSummary, parse_heal_info};
pub use migration::{
    MigrationNode, MigrationOutcome, MigrationStatus, MigrationTotals, TaskStatus,
    parse_rebalance_status, parse_remove_brick_status,
};
pub use peer::{Peer, parse_peer_status, parse_pool_list};
pub use volume_info::{VolumeBrick, VolumeInfo, VolumeState, VolumeType, parse_volume_info};
pub use volume_status::{BrickStatus, DaemonStatus, VolumeStatus, VolumeTask, parse_volume_status};

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Gluster answered, and the answer is a failure (`opRet` ≠ 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gluster refused (opRet {op_ret}, opErrno {op_errno}): {message}")]
pub struct GlusterOpError {
    /// `opRet` (−1 on failure).
    pub op_ret: i32,
    /// `opErrno`: an errno or one of glusterd's own codes (30800 and up).
    pub op_errno: i32,
    /// `opErrstr`, gluster's own message (e.g. `Volume gv0 does not exist`).
    pub message: String,
}

/// The output is not the XML document expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No XML document at all (gluster printed a plain message, or nothing).
    #[error("no XML document in the output{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    NoXml(String),
    /// Not well-formed, or not shaped like the document expected.
    #[error("malformed {what} XML: {detail}")]
    Malformed {
        /// Which document.
        what: &'static str,
        /// The XML parser's message.
        detail: String,
    },
    /// A required element is absent.
    #[error("{what} XML: `{field}` is missing")]
    Missing {
        /// Which document.
        what: &'static str,
        /// The element, as a path.
        field: String,
    },
    /// An element holds something that is not what it should be.
    #[error("{what} XML: `{field}` has an invalid value {value:?}")]
    Invalid {
        /// Which document.
        what: &'static str,
        /// The element, as a path.
        field: String,
        /// Its content.
        value: String,
    },
}

/// Why a gluster XML output gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// Gluster reported a failure.
    #[error(transparent)]
    Gluster(#[from] GlusterOpError),
    /// The output could not be read.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// The envelope every gluster XML document carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `opRet`: 0 on success.
    pub op_ret: i32,
    /// `opErrno`.
    pub op_errno: i32,
    /// `opErrstr`; some successes put a message here too ("Remove Brick start successful").
    pub op_errstr: String,
}

impl Envelope {
    /// `Ok` when `opRet` is 0, else the failure with gluster's message.
    pub fn check(self) -> Result<Self, GlusterOpError> {
        if self.op_ret == 0 {
            return Ok(self);
        }
        Err(GlusterOpError {
            op_ret: self.op_ret,
            op_errno: self.op_errno,
            message: self.op_errstr.trim().to_string(),
        })
    }
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "opRet")]
    op_ret: Option<String>,
    #[serde(rename = "opErrno")]
    op_errno: Option<String>,
    #[serde(rename = "opErrstr")]
    op_errstr: Option<String>,
    /// Some failures (e.g. `rebalance status` when none ran) repeat the message here.
    output: Option<String>,
}

/// Reads the envelope of any gluster XML document, without judging it.
pub fn parse_envelope(output: &str) -> Result<Envelope, ParseError> {
    const WHAT: &str = "gluster";
    let raw: RawEnvelope = from_xml(output, WHAT)?;
    let op_ret = int(WHAT, "opRet", req(WHAT, "opRet", raw.op_ret)?)?;
    let op_errno = match raw.op_errno {
        Some(v) => int(WHAT, "opErrno", v)?,
        None => 0,
    };
    let op_errstr = match raw.op_errstr.filter(|s| !s.trim().is_empty()) {
        Some(s) => s,
        None => raw.output.unwrap_or_default(),
    };
    Ok(Envelope {
        op_ret,
        op_errno,
        op_errstr,
    })
}

/// Checks the envelope, then deserializes the document into `T`.
pub(crate) fn parse_document<T: DeserializeOwned>(
    output: &str,
    what: &'static str,
) -> Result<T, OutputError> {
    parse_envelope(output)?.check()?;
    Ok(from_xml(output, what)?)
}

/// The XML document inside `output` (the CLI may print a line before it).
fn document(output: &str) -> Result<&str, ParseError> {
    let start = output
        .find("<?xml")
        .or_else(|| output.find("<cliOutput"))
        .ok_or_else(|| ParseError::NoXml(crate::gluster::exec::excerpt(output)))?;
    Ok(&output[start..])
}

fn from_xml<T: DeserializeOwned>(output: &str, what: &'static str) -> Result<T, ParseError> {
    let doc = document(output)?;
    quick_xml::de::from_str(doc).map_err(|e| ParseError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// A required element.
pub(crate) fn req(
    what: &'static str,
    field: &str,
    value: Option<String>,
) -> Result<String, ParseError> {
    value.ok_or_else(|| ParseError::Missing {
        what,
        field: field.to_string(),
    })
}

fn invalid(what: &'static str, field: &str, value: &str) -> ParseError {
    ParseError::Invalid {
        what,
        field: field.to_string(),
        value: value.to_string(),
    }
}

/// A signed integer element.
pub(crate) fn int(what: &'static str, field: &str, value: String) -> Result<i32, ParseError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(what, field, &value))
}

/// A count (non-negative).
pub(crate) fn count(what: &'static str, field: &str, value: String) -> Result<u32, ParseError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(what, field, &value))
}

/// A 64-bit counter (files, bytes).
pub(crate) fn counter(what: &'static str, field: &str, value: String) -> Result<u64, ParseError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(what, field, &value))
}

/// An optional count element that defaults to 0 when absent (fields older versions lack).
pub(crate) fn count_or_zero(
    what: &'static str,
    field: &str,
    value: Option<String>,
) -> Result<u32, ParseError> {
    value.map_or(Ok(0), |v| count(what, field, v))
}

/// A `0`/`1` flag.
pub(crate) fn flag(what: &'static str, field: &str, value: String) -> Result<bool, ParseError> {
    match value.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(invalid(what, field, &value)),
    }
}

/// A number that gluster replaces with `N/A`, `-` or `-1` when there is none (ports, pids).
pub(crate) fn maybe_number<T: std::str::FromStr>(
    what: &'static str,
    field: &str,
    value: Option<String>,
) -> Result<Option<T>, ParseError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim() {
        "" | "N/A" | "-" | "-1" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| invalid(what, field, &value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_failure_carries_glusters_message() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>-1</opRet><opErrno>30806</opErrno><opErrstr>Volume does not exist</opErrstr></cliOutput>"#;
        let e = parse_envelope(xml).unwrap().check().unwrap_err();
        assert_eq!(e.op_ret, -1);
        assert_eq!(e.op_errno, 30806);
        assert_eq!(e.message, "Volume does not exist");
    }

    #[test]
    fn plain_text_is_not_xml() {
        let e =
            parse_envelope("Connection failed. Please check if gluster daemon is operational.\n")
                .unwrap_err();
        assert!(
            matches!(e, ParseError::NoXml(ref m) if m.contains("Connection failed")),
            "{e}"
        );
    }

    #[test]
    fn a_truncated_document_is_malformed() {
        let e =
            parse_envelope("<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErr").unwrap_err();
        assert!(matches!(e, ParseError::Malformed { .. }), "{e}");
    }

    #[test]
    fn a_missing_or_bad_op_ret_is_named() {
        let e = parse_envelope("<cliOutput><opErrno>0</opErrno></cliOutput>").unwrap_err();
        assert_eq!(e.to_string(), "gluster XML: `opRet` is missing");
        let e = parse_envelope("<cliOutput><opRet>x</opRet></cliOutput>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "gluster XML: `opRet` has an invalid value \"x\""
        );
    }

    #[test]
    fn placeholders_mean_no_number() {
        for v in ["N/A", "-", "-1", ""] {
            assert_eq!(
                maybe_number::<u16>("t", "port", Some(v.into())).unwrap(),
                None
            );
        }
        assert_eq!(
            maybe_number::<u16>("t", "port", Some("49152".into())).unwrap(),
            Some(49152)
        );
        assert!(maybe_number::<u16>("t", "port", Some("99999".into())).is_err());
    }
}

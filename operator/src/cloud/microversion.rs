//! API microversions: parsing, the versions document, and negotiation. Pure.

use std::fmt;

use serde_json::Value;

/// A microversion `X.Y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    /// X.
    pub major: u32,
    /// Y.
    pub minor: u32,
}

impl Microversion {
    /// `X.Y`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `2.52`; `None` for anything else (including the empty string of APIs without
    /// microversions).
    pub fn parse(text: &str) -> Option<Self> {
        let (a, b) = text.trim().split_once('.')?;
        Some(Self {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The microversion range a service advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionRange {
    /// `min_version`.
    pub min: Microversion,
    /// `version` (the maximum).
    pub max: Microversion,
}

/// Reads the range from a versions document: `{"version": {…}}` (the version root) or
/// `{"versions": […]}` (the unversioned root, where the entry with `id` starting `v<major>.`
/// and the highest maximum is taken). `None` when no entry has microversions.
pub fn parse_versions_document(doc: &Value, major: u32) -> Option<VersionRange> {
    let range_of = |v: &Value| -> Option<VersionRange> {
        let max = Microversion::parse(v.get("version")?.as_str()?)?;
        let min = v
            .get("min_version")
            .and_then(Value::as_str)
            .and_then(Microversion::parse)
            .unwrap_or(Microversion::new(max.major, 0));
        (max.major == major).then_some(VersionRange { min, max })
    };
    if let Some(v) = doc.get("version") {
        return range_of(v);
    }
    doc.get("versions")?
        .as_array()?
        .iter()
        .filter_map(range_of)
        .max_by_key(|r| r.max)
}

/// Picks the microversion to send: the highest of `wanted` and what the service supports, but
/// at least `required`. `Err` carries the service's range when it cannot serve `required`.
pub fn negotiate(
    range: Option<VersionRange>,
    required: Microversion,
    wanted: Microversion,
) -> Result<Microversion, String> {
    let Some(range) = range else {
        return Err("no microversions".into());
    };
    let chosen = wanted.min(range.max);
    if chosen < required || chosen < range.min {
        return Err(format!("{} to {}", range.min, range.max));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V: fn(u32, u32) -> Microversion = Microversion::new;

    #[test]
    fn parses() {
        assert_eq!(Microversion::parse("2.52"), Some(V(2, 52)));
        assert_eq!(Microversion::parse(" 3.0 "), Some(V(3, 0)));
        assert_eq!(Microversion::parse(""), None);
        assert_eq!(Microversion::parse("2"), None);
        assert_eq!(Microversion::parse("latest"), None);
        assert!(V(2, 9) < V(2, 52));
        assert_eq!(V(2, 79).to_string(), "2.79");
    }

    #[test]
    fn reads_both_document_shapes() {
        // Nova's GET /v2.1/ (api-ref "Show Details of Specific API Version").
        let doc = json!({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.96",
            "min_version": "2.1", "updated": "2013-07-23T11:33:21Z"}});
        assert_eq!(
            parse_versions_document(&doc, 2),
            Some(VersionRange {
                min: V(2, 1),
                max: V(2, 96)
            })
        );
        // Nova's GET / (api-ref "List All Major Versions"): v2.0 has no microversions.
        let doc = json!({"versions": [
            {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
            {"id": "v2.1", "status": "CURRENT", "version": "2.60", "min_version": "2.1"}
        ]});
        assert_eq!(
            parse_versions_document(&doc, 2),
            Some(VersionRange {
                min: V(2, 1),
                max: V(2, 60)
            })
        );
        assert_eq!(
            parse_versions_document(&json!({"version": {"version": ""}}), 2),
            None
        );
        assert_eq!(parse_versions_document(&json!({"versions": []}), 2), None);
        assert_eq!(
            parse_versions_document(&json!({"version": {"version": "3.70"}}), 2),
            None
        );
    }

    #[test]
    fn negotiation() {
        let r = |min, max| {
            Some(VersionRange {
                min: V(2, min),
                max: V(2, max),
            })
        };
        assert_eq!(negotiate(r(1, 96), V(2, 52), V(2, 79)), Ok(V(2, 79)));
        assert_eq!(negotiate(r(1, 60), V(2, 52), V(2, 79)), Ok(V(2, 60)));
        assert_eq!(negotiate(r(1, 52), V(2, 52), V(2, 79)), Ok(V(2, 52)));
        assert_eq!(
            negotiate(r(1, 51), V(2, 52), V(2, 79)),
            Err("2.1 to 2.51".into())
        );
        assert_eq!(
            negotiate(r(80, 90), V(2, 52), V(2, 79)),
            Err("2.80 to 2.90".into())
        );
        assert_eq!(
            negotiate(None, V(2, 52), V(2, 79)),
            Err("no microversions".into())
        );
    }
}

//! Microversions (`X.Y`) and the `OpenStack-API-Version` request header, as Nova and Cinder read
//! them (the `microversion-parse` rules: `<service type> <version>` entries separated by commas,
//! `latest` meaning the maximum).

use std::fmt;

/// A microversion `major.minor`, ordered numerically (2.9 < 2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major number (2 for Nova's v2.1 API, 3 for Cinder's v3).
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl ApiVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        ApiVersion { major, minor }
    }

    /// Parses `X.Y` (digits only, no leading zeros beyond a single `0`), as Nova's
    /// `APIVersionRequest` does; `None` for anything else.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.trim().split_once('.')?;
        let num = |p: &str| -> Option<u32> {
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return None;
            }
            p.parse().ok()
        };
        Some(ApiVersion::new(num(major)?, num(minor)?))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requested {
    /// No header for this service: the minimum applies.
    Absent,
    /// `latest`.
    Latest,
    /// A version string, not yet validated.
    Version(String),
}

/// Finds the version asked for `service_type` in `OpenStack-API-Version` header values, falling
/// back to a legacy header's value (Nova's `X-OpenStack-Nova-API-Version`).
pub(crate) fn requested<'a>(
    service_type: &str,
    headers: impl IntoIterator<Item = &'a str>,
    legacy: Option<&str>,
) -> Requested {
    for value in headers {
        for entry in value.split(',') {
            let mut parts = entry.split_whitespace();
            if let (Some(svc), Some(ver)) = (parts.next(), parts.next())
                && svc.eq_ignore_ascii_case(service_type)
            {
                return classify(ver);
            }
        }
    }
    match legacy {
        Some(v) => classify(v.trim()),
        None => Requested::Absent,
    }
}

fn classify(v: &str) -> Requested {
    if v.eq_ignore_ascii_case("latest") {
        Requested::Latest
    } else {
        Requested::Version(v.to_string())
    }
}

/// Why a requested version is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionError {
    /// Not `X.Y` (Nova answers 400).
    Invalid(String),
    /// Outside `[min, max]` (Nova and Cinder answer 406).
    Unsupported(ApiVersion),
}

/// Resolves the requested version within `[min, max]`.
pub(crate) fn resolve(
    req: &Requested,
    min: ApiVersion,
    max: ApiVersion,
) -> Result<ApiVersion, VersionError> {
    match req {
        Requested::Absent => Ok(min),
        Requested::Latest => Ok(max),
        Requested::Version(s) => {
            let v = ApiVersion::parse(s).ok_or_else(|| VersionError::Invalid(s.clone()))?;
            if v < min || v > max {
                Err(VersionError::Unsupported(v))
            } else {
                Ok(v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        assert_eq!(ApiVersion::parse("2.10"), Some(ApiVersion::new(2, 10)));
        assert!(ApiVersion::new(2, 9) < ApiVersion::new(2, 10));
        assert_eq!(ApiVersion::parse("2"), None);
        assert_eq!(ApiVersion::parse("2.x"), None);
        assert_eq!(ApiVersion::parse("2.05"), None);
        assert_eq!(ApiVersion::new(3, 71).to_string(), "3.71");
    }

    #[test]
    fn finds_the_service_entry() {
        let h = ["volume 3.5, compute 2.60"];
        assert_eq!(
            requested("compute", h, None),
            Requested::Version("2.60".into())
        );
        assert_eq!(
            requested("compute", ["compute latest"], None),
            Requested::Latest
        );
        assert_eq!(
            requested("compute", [], Some("2.3")),
            Requested::Version("2.3".into())
        );
        assert_eq!(
            requested("compute", ["volume 3.1"], None),
            Requested::Absent
        );
    }

    #[test]
    fn resolves_within_range() {
        let (min, max) = (ApiVersion::new(2, 1), ApiVersion::new(2, 96));
        assert_eq!(resolve(&Requested::Absent, min, max), Ok(min));
        assert_eq!(resolve(&Requested::Latest, min, max), Ok(max));
        assert_eq!(
            resolve(&Requested::Version("2.200".into()), min, max),
            Err(VersionError::Unsupported(ApiVersion::new(2, 200)))
        );
        assert_eq!(
            resolve(&Requested::Version("abc".into()), min, max),
            Err(VersionError::Invalid("abc".into()))
        );
    }
}

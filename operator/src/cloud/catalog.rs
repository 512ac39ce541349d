//! The Keystone service catalog and endpoint selection by service type, region and interface.
//! Pure.

use serde::Deserialize;

use super::config::Interface;
use super::error::{CloudError, ServiceType};

/// One service of the catalog.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct CatalogEntry {
    /// The service type (`compute`, `volumev3`, …).
    #[serde(rename = "type")]
    pub service_type: String,
    /// The service name (`nova`), informational.
    #[serde(default)]
    pub name: Option<String>,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of a catalog service.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Endpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// The region name (older Keystones).
    #[serde(default)]
    pub region: Option<String>,
    /// The region ID.
    #[serde(default)]
    pub region_id: Option<String>,
    /// The endpoint URL.
    pub url: String,
}

impl Endpoint {
    /// Whether the endpoint serves `region` (by name or ID).
    pub fn in_region(&self, region: &str) -> bool {
        self.region.as_deref() == Some(region) || self.region_id.as_deref() == Some(region)
    }

    fn region_label(&self) -> String {
        self.region_id
            .clone()
            .or_else(|| self.region.clone())
            .unwrap_or_else(|| "(none)".into())
    }
}

/// The catalog of a token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// The services, as Keystone listed them.
    pub entries: Vec<CatalogEntry>,
}

impl Catalog {
    /// The URL of `service`'s endpoint for `interface` in `region`. Service types are tried in
    /// the order of [`ServiceType::catalog_types`] (so `block-storage` wins over `volumev3`).
    /// Without a region the matching endpoints must all be in one region, otherwise the choice
    /// would be a guess and the error says to set `region_name`.
    pub fn endpoint(
        &self,
        service: ServiceType,
        interface: Interface,
        region: Option<&str>,
    ) -> Result<String, CloudError> {
        let no_endpoint = |detail: String| CloudError::NoEndpoint {
            service,
            interface: interface.as_str().to_string(),
            region: region.map(str::to_string),
            detail,
        };
        let mut seen = Vec::new();
        for wanted in service.catalog_types() {
            for entry in self.entries.iter().filter(|e| e.service_type == *wanted) {
                let matching: Vec<&Endpoint> = entry
                    .endpoints
                    .iter()
                    .filter(|ep| Interface::parse(&ep.interface) == Some(interface))
                    .filter(|ep| region.is_none_or(|r| ep.in_region(r)))
                    .collect();
                for ep in &entry.endpoints {
                    seen.push(format!(
                        "{} {} in {}",
                        entry.service_type,
                        ep.interface,
                        ep.region_label()
                    ));
                }
                match matching.as_slice() {
                    [] => continue,
                    [one] => return Ok(one.url.clone()),
                    [first, rest @ ..] => {
                        if rest
                            .iter()
                            .all(|ep| ep.region_label() == first.region_label())
                        {
                            return Ok(first.url.clone());
                        }
                        let mut regions: Vec<String> =
                            matching.iter().map(|ep| ep.region_label()).collect();
                        regions.sort();
                        regions.dedup();
                        return Err(no_endpoint(format!(
                            "several regions offer it ({}): set region_name",
                            regions.join(", ")
                        )));
                    }
                }
            }
        }
        if seen.is_empty() {
            let mut types: Vec<&str> = self
                .entries
                .iter()
                .map(|e| e.service_type.as_str())
                .collect();
            types.sort();
            types.dedup();
            Err(no_endpoint(format!(
                "the catalog has no service of type {} (it has: {})",
                service.catalog_types().join(" or "),
                types.join(", ")
            )))
        } else {
            Err(no_endpoint(format!("the catalog has {}", seen.join("; "))))
        }
    }
}

/// The URL of the API version root of an endpoint: the URL cut after its version segment
/// (`http://h:8774/v2.1/<project>` → `http://h:8774/v2.1`), or the URL itself when it has none.
pub fn version_root(url: &str) -> String {
    let (scheme_host, path) = match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url.split_at(i + 3 + j),
            None => (url, ""),
        },
        None => ("", url),
    };
    let mut kept = Vec::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        kept.push(seg);
        if is_version_segment(seg) {
            return format!("{scheme_host}/{}", kept.join("/"));
        }
    }
    url.trim_end_matches('/').to_string()
}

/// Appends `suffix` (`v2.0`, `v2`) unless the URL already ends with a version segment.
pub fn with_version(url: &str, suffix: &str) -> String {
    let base = url.trim_end_matches('/');
    match base.rsplit('/').next() {
        Some(last) if is_version_segment(last) => base.to_string(),
        _ => format!("{base}/{suffix}"),
    }
}

fn is_version_segment(seg: &str) -> bool {
    seg.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let json = serde_json::json!([
            {"type": "compute", "name": "nova", "endpoints": [
                {"interface": "public", "region": "R1", "region_id": "R1", "url": "https://nova.r1/v2.1"},
                {"interface": "internal", "region": "R1", "region_id": "R1", "url": "http://nova-int.r1/v2.1"},
                {"interface": "public", "region": "R2", "region_id": "R2", "url": "https://nova.r2/v2.1"}
            ]},
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "https://cinder.r1/v3/p"}
            ]},
            {"type": "volume", "endpoints": [
                {"interface": "public", "region_id": "R1", "url": "https://cinder-v1.r1/v1/p"}
            ]},
            {"type": "network", "endpoints": [
                {"interface": "public", "region": "R1", "url": "https://neutron.r1"}
            ]}
        ]);
        Catalog {
            entries: serde_json::from_value(json).unwrap(),
        }
    }

    #[test]
    fn picks_by_type_region_interface() {
        let c = catalog();
        let ep = |s, i, r| c.endpoint(s, i, r);
        assert_eq!(
            ep(ServiceType::Compute, Interface::Public, Some("R2")).unwrap(),
            "https://nova.r2/v2.1"
        );
        assert_eq!(
            ep(ServiceType::Compute, Interface::Internal, None).unwrap(),
            "http://nova-int.r1/v2.1"
        );
        // volumev3 is preferred over volume.
        assert_eq!(
            ep(ServiceType::BlockStorage, Interface::Public, Some("R1")).unwrap(),
            "https://cinder.r1/v3/p"
        );
        // Region given by name only (older Keystone).
        assert_eq!(
            ep(ServiceType::Network, Interface::Public, Some("R1")).unwrap(),
            "https://neutron.r1"
        );
    }

    #[test]
    fn explains_missing_endpoints() {
        let c = catalog();
        match c.endpoint(ServiceType::Compute, Interface::Public, None) {
            Err(CloudError::NoEndpoint { detail, .. }) => {
                assert!(
                    detail.contains("R1, R2") && detail.contains("region_name"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
        match c.endpoint(ServiceType::Image, Interface::Public, Some("R1")) {
            Err(e @ CloudError::NoEndpoint { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("no service of type image"), "{msg}");
                assert!(msg.contains("compute, network, volume, volumev3"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        match c.endpoint(ServiceType::Network, Interface::Admin, Some("R1")) {
            Err(CloudError::NoEndpoint { detail, .. }) => {
                assert!(detail.contains("network public in R1"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        match c.endpoint(ServiceType::Compute, Interface::Public, Some("R3")) {
            Err(CloudError::NoEndpoint { region, .. }) => assert_eq!(region.as_deref(), Some("R3")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn version_roots() {
        assert_eq!(
            version_root("http://h:8774/v2.1/abc123"),
            "http://h:8774/v2.1"
        );
        assert_eq!(version_root("http://h:8774/v2.1/"), "http://h:8774/v2.1");
        assert_eq!(
            version_root("http://h/compute/v2.1"),
            "http://h/compute/v2.1"
        );
        assert_eq!(version_root("http://h:8774/"), "http://h:8774");
        assert_eq!(version_root("http://h:8774"), "http://h:8774");
        assert_eq!(with_version("http://h:9696", "v2.0"), "http://h:9696/v2.0");
        assert_eq!(
            with_version("http://h:9696/v2.0/", "v2.0"),
            "http://h:9696/v2.0"
        );
        assert_eq!(with_version("http://h/image", "v2"), "http://h/image/v2");
        assert_eq!(with_version("http://h/image/v2", "v2"), "http://h/image/v2");
    }
}

//! Route templates: the path of a request relative to its endpoint's base, IDs and user-chosen
//! names replaced by `{id}`.

/// Segments after which the next segment is a name or ID chosen by the user or the cloud.
const NAMED_AFTER: &[&str] = &[
    "servers",
    "volumes",
    "snapshots",
    "os-keypairs",
    "flavors",
    "images",
    "networks",
    "subnets",
    "ports",
    "security-groups",
    "security-group-rules",
    "os-volume_attachments",
    "attachments",
    "tags",
    "metadata",
    "types",
    "projects",
    "users",
    "application_credentials",
];

/// Segments that are part of the API, never an ID.
const KEYWORDS: &[&str] = &[
    "detail",
    "action",
    "os-volume_attachments",
    "metadata",
    "tags",
    "os-availability-zone",
    "os-interface",
    "ips",
    "default",
];

/// The service name of a catalog type (`volumev3`, `block-storage` → `volume`).
pub fn service_name(catalog_type: &str) -> &str {
    match catalog_type {
        "volumev3" | "volumev2" | "block-storage" | "block-store" => "volume",
        other => other,
    }
}

fn is_version(seg: &str) -> bool {
    seg.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    })
}

fn looks_like_id(seg: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    let uuid = seg.len() == 36
        && seg.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && seg.split('-').all(hex);
    uuid || (seg.len() == 32 && hex(seg)) || seg.chars().all(|c| c.is_ascii_digit())
}

/// Splits an endpoint path into its base (the segments before the first version segment) and
/// the rest: `/compute/v2.1` → (`/compute`, `/v2.1`); `/networking` → (`/networking`, ``).
pub(crate) fn split_base(path: &str) -> (&str, &str) {
    let path = path.trim_end_matches('/');
    let mut offset: usize = 0;
    for seg in path.split('/') {
        if is_version(seg) {
            return path.split_at(offset.saturating_sub(1).min(path.len()));
        }
        offset += seg.len() + 1;
    }
    (path, "")
}

/// The route template of `path` (relative to the endpoint's base): `/v2.1/servers/0b1…/action`
/// → `/v2.1/servers/{id}/action`.
pub fn route_template(path: &str) -> String {
    let mut out = Vec::new();
    let mut prev = "";
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let templated = looks_like_id(seg)
            || (NAMED_AFTER.contains(&prev) && !KEYWORDS.contains(&seg) && !is_version(seg));
        out.push(if templated { "{id}" } else { seg });
        prev = seg;
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_and_templates() {
        assert_eq!(split_base("/compute/v2.1"), ("/compute", "/v2.1"));
        assert_eq!(split_base("/v2.1"), ("", "/v2.1"));
        assert_eq!(split_base("/v3/abc"), ("", "/v3/abc"));
        assert_eq!(split_base("/networking"), ("/networking", ""));
        assert_eq!(split_base(""), ("", ""));
        assert_eq!(split_base("/identity/v3/"), ("/identity", "/v3"));
        assert_eq!(
            route_template("/v2.1/servers/0b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21/action"),
            "/v2.1/servers/{id}/action"
        );
        assert_eq!(
            route_template("/v2.1/servers/detail"),
            "/v2.1/servers/detail"
        );
        assert_eq!(
            route_template("/v2.1/os-keypairs/gc-k"),
            "/v2.1/os-keypairs/{id}"
        );
        assert_eq!(
            route_template("/v3/3f0f6b3a1c1e4c6e9d3f5a7b9c1d2e4f/volumes/detail"),
            "/v3/{id}/volumes/detail"
        );
        assert_eq!(route_template("/v2.1/flavors/2"), "/v2.1/flavors/{id}");
        assert_eq!(route_template(""), "/");
        assert_eq!(route_template("/v2.0/ports"), "/v2.0/ports");
    }
}

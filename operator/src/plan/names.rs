//! Stable, DNS-safe node names: `<cluster>-<zone>-<ordinal>`.
//!
//! A name part that is already a DNS label fragment (lowercase letters, digits, inner dashes) is
//! used as is. Any other part is lowered, its other characters become dashes, and a short hash
//! of the original is appended, so two different originals never map to one part
//! (`Zone_A` → `zone-a-5f1c2e`, while `zone-a` stays `zone-a`). The ordinal is the last
//! dash-separated field and is all digits, so `<prefix>-<ordinal>` never collides across zones.

/// The longest DNS label (and host name label).
pub const MAX_LABEL: usize = 63;

/// The DNS-safe form of a cluster or zone name, or `None` when nothing usable is left.
pub fn name_part(raw: &str) -> Option<String> {
    if is_clean(raw) {
        return Some(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        return None;
    }
    Some(format!(
        "{trimmed}-{:06x}",
        fnv1a(raw.as_bytes()) & 0xff_ffff
    ))
}

/// The node name for `ordinal` (1-based) in a zone, given the DNS-safe cluster and zone parts.
pub fn node_name(cluster_part: &str, zone_part: &str, ordinal: u32) -> String {
    format!("{cluster_part}-{zone_part}-{ordinal}")
}

/// The ordinal of `name` if it is `<cluster_part>-<zone_part>-<digits>`.
pub fn ordinal_of(name: &str, cluster_part: &str, zone_part: &str) -> Option<u32> {
    let rest = name
        .strip_prefix(cluster_part)?
        .strip_prefix('-')?
        .strip_prefix(zone_part)?
        .strip_prefix('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

fn is_clean(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// FNV-1a, 32 bits: a tiny stable hash (the same on every platform and release).
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_parts_are_kept() {
        assert_eq!(name_part("zone-a").as_deref(), Some("zone-a"));
        assert_eq!(name_part("nova").as_deref(), Some("nova"));
        assert_eq!(name_part("az1").as_deref(), Some("az1"));
    }

    #[test]
    fn other_parts_are_lowered_and_hashed() {
        let a = name_part("Zone_A").expect("has letters");
        assert!(a.starts_with("zone-a-"), "{a}");
        assert_eq!(a.len(), "zone-a-".len() + 6);
        let b = name_part("zone_a").expect("has letters");
        assert_ne!(a, b, "different originals must give different parts");
        assert_ne!(a, "zone-a");
        assert_eq!(name_part("Zone_A"), Some(a), "stable");
        let dotted = name_part("my.cluster").expect("has letters");
        assert!(dotted.starts_with("my-cluster-"), "{dotted}");
    }

    #[test]
    fn nothing_usable_is_none() {
        assert_eq!(name_part(""), None);
        assert_eq!(name_part("__"), None);
        assert_eq!(name_part("-"), None);
    }

    #[test]
    fn ordinals_parse_back() {
        let n = node_name("demo", "zone-a", 12);
        assert_eq!(n, "demo-zone-a-12");
        assert_eq!(ordinal_of(&n, "demo", "zone-a"), Some(12));
        assert_eq!(ordinal_of(&n, "demo", "zone"), None);
        assert_eq!(ordinal_of("demo-zone-a-x", "demo", "zone-a"), None);
        assert_eq!(ordinal_of("demo-zone-a-", "demo", "zone-a"), None);
    }
}

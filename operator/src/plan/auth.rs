//! `spec.volume.allowedClients` (CIDRs) as gluster `auth.allow` patterns.
//!
//! gluster matches `auth.allow` entries against the client's address with shell wildcards
//! (`10.1.*`). CIDR entries are understood only by recent releases, and their subnet matching
//! was wrong until 2023 (gluster issue #4108), so the planner writes wildcards, which every
//! release matches the same way: a prefix on an octet boundary is one pattern (`10.0.0.0/8` →
//! `10.*`), any other prefix is the few patterns of the next octet boundary (`10.0.2.0/23` →
//! `10.0.2.*`, `10.0.3.*`, at most 128). IPv6 clients can only be given as single addresses
//! (`/128`), which gluster matches exactly.
//!
//! gluster also checks its own servers against `auth.allow` (self-heal, rebalance), so the
//! planner appends the node addresses to the list.

use std::net::{IpAddr, Ipv4Addr};

use super::error::PlanError;

/// The wildcard patterns for `allowed` (in order, without repeats). Empty input → empty output
/// (the planner then lists only the nodes in `auth.allow`: default deny).
pub fn client_patterns(allowed: &[String]) -> Result<Vec<String>, PlanError> {
    let mut out: Vec<String> = Vec::new();
    for (index, value) in allowed.iter().enumerate() {
        let bad = |why: &str| PlanError::InvalidAllowedClient {
            index,
            value: value.clone(),
            why: why.to_string(),
        };
        let (addr, prefix) = match value.split_once('/') {
            Some((a, p)) => {
                let prefix: u8 = p
                    .parse()
                    .map_err(|_| bad("the prefix length after / is not a number"))?;
                (a, Some(prefix))
            }
            None => (value.as_str(), None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IP address or CIDR such as 10.0.0.0/8"))?;
        let patterns = match ip {
            IpAddr::V4(v4) => {
                let prefix = prefix.unwrap_or(32);
                if prefix > 32 {
                    return Err(bad("an IPv4 prefix length is at most 32"));
                }
                v4_patterns(v4, prefix)
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                if prefix > 128 {
                    return Err(bad("an IPv6 prefix length is at most 128"));
                }
                if prefix != 128 {
                    return Err(bad(
                        "gluster's auth.allow matches IPv6 clients only by exact address; give \
                         single addresses (/128)",
                    ));
                }
                vec![v6.to_string()]
            }
        };
        for p in patterns {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn v4_patterns(addr: Ipv4Addr, prefix: u8) -> Vec<String> {
    if prefix == 0 {
        return vec!["*".to_string()];
    }
    let bits = u32::from(addr);
    let mask = u32::MAX << (32 - u32::from(prefix));
    let network = bits & mask;
    let boundary = prefix.div_ceil(8) * 8;
    let count = 1u32 << (boundary - prefix);
    (0..count)
        .map(|i| {
            let net = network | (i << (32 - u32::from(boundary)));
            let octets = Ipv4Addr::from(net).octets();
            let keep = usize::from(boundary / 8);
            let head: Vec<String> = octets[..keep].iter().map(u8::to_string).collect();
            if keep == 4 {
                head.join(".")
            } else {
                format!("{}.*", head.join("."))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(v: &[&str]) -> Result<Vec<String>, PlanError> {
        client_patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn octet_boundaries_are_one_pattern() {
        assert_eq!(pats(&["10.0.0.0/8"]).expect("valid"), ["10.*"]);
        assert_eq!(pats(&["192.168.1.0/24"]).expect("valid"), ["192.168.1.*"]);
        assert_eq!(pats(&["192.168.0.0/16"]).expect("valid"), ["192.168.*"]);
        assert_eq!(
            pats(&["10.1.2.3/32", "10.1.2.3"]).expect("valid"),
            ["10.1.2.3"]
        );
        assert_eq!(pats(&["0.0.0.0/0"]).expect("valid"), ["*"]);
    }

    #[test]
    fn other_prefixes_expand() {
        assert_eq!(
            pats(&["10.0.2.0/23"]).expect("valid"),
            ["10.0.2.*", "10.0.3.*"]
        );
        assert_eq!(
            pats(&["10.0.3.7/23"]).expect("host bits are masked"),
            ["10.0.2.*", "10.0.3.*"]
        );
        assert_eq!(pats(&["172.16.0.0/12"]).expect("valid").len(), 16);
        assert_eq!(
            pats(&["10.0.0.0/30"]).expect("valid"),
            ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]
        );
        assert_eq!(pats(&["128.0.0.0/1"]).expect("valid").len(), 128);
    }

    #[test]
    fn refusals_name_the_entry() {
        let e = pats(&["10.0.0.0/8", "fd00::/64"]).expect_err("v6 subnet");
        assert!(
            e.to_string()
                .starts_with("spec.volume.allowedClients[1] \"fd00::/64\""),
            "{e}"
        );
        assert_eq!(pats(&["fd00::1/128"]).expect("exact v6"), ["fd00::1"]);
        assert_eq!(
            pats(&["10.0.0.0/33"]).expect_err("33").reason(),
            "InvalidAllowedClient"
        );
        assert!(pats(&["example.com"]).is_err());
        assert!(pats(&["10.0.0.0/x"]).is_err());
    }
}

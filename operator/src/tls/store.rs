//! A cluster's TLS material as Secret data, the files nodes and clients read, and whether a
//! cluster uses TLS at all (pure).
//!
//! The Secret `<cluster>-tls` (owned by the cluster) holds:
//!
//! | key | what |
//! |---|---|
//! | `ca-<n>.crt`, `ca-<n>.key` | the CAs of the bundle, generation `n` (oldest first) |
//! | `node-<name>.crt`, `node-<name>.key` | each node's certificate |
//! | `client.crt`, `client.key` | the client certificate |
//!
//! The Secret `<cluster>-client-tls` holds what a client mounts with, under the names gluster
//! reads in `/usr/lib/ssl`: `glusterfs.pem`, `glusterfs.key`, `glusterfs.ca`.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use zeroize::Zeroizing;

use super::TlsError;
use super::issue::{CertificateAuthority, Issued, Subject, window};
use super::renew::{CertWindow, Renewal, ca_rollover, leaf_renewal};

/// The prefix of the CAs' keys in the Secret.
pub const CA_PREFIX: &str = "ca-";
/// The prefix of the nodes' keys in the Secret.
pub const NODE_PREFIX: &str = "node-";
/// The client certificate's key stem in the Secret.
pub const CLIENT_STEM: &str = "client";

/// Whether a cluster uses TLS, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// The cluster uses TLS; its material exists (or is issued now, for a new cluster).
    On,
    /// `spec.volume.tls` is false and the cluster has no TLS material.
    Disabled,
    /// The cluster was built without TLS (its SSH key Secret predates any TLS Secret): turning
    /// TLS on restarts every brick and needs every client to remount with a certificate, so the
    /// operator never does it by itself (`docs/design.md`, "Gluster TLS").
    PlainCluster,
}

/// The rule: a cluster with TLS material keeps using it; a new cluster (no SSH key Secret yet:
/// the TLS Secret is made first) gets TLS when `spec_tls`; an existing cluster without TLS
/// material stays plain.
pub fn tls_mode(spec_tls: bool, tls_secret_exists: bool, ssh_secret_exists: bool) -> TlsMode {
    match (tls_secret_exists, spec_tls, ssh_secret_exists) {
        (true, _, _) => TlsMode::On,
        (false, false, _) => TlsMode::Disabled,
        (false, true, false) => TlsMode::On,
        (false, true, true) => TlsMode::PlainCluster,
    }
}

/// The three files gluster reads: own certificate, private key, trusted CAs. `Debug` hides
/// the key.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `glusterfs.pem`.
    pub pem: String,
    /// `glusterfs.key`.
    pub key: Zeroizing<String>,
    /// `glusterfs.ca`.
    pub ca: String,
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("pem_bytes", &self.pem.len())
            .field("key", &"<redacted>")
            .field("ca_bytes", &self.ca.len())
            .finish()
    }
}

impl TlsFiles {
    /// The client Secret's data (`glusterfs.pem`, `glusterfs.key`, `glusterfs.ca`).
    pub fn to_data(&self) -> BTreeMap<String, ByteString> {
        BTreeMap::from([
            (
                "glusterfs.pem".into(),
                ByteString(self.pem.as_bytes().to_vec()),
            ),
            (
                "glusterfs.key".into(),
                ByteString(self.key.as_bytes().to_vec()),
            ),
            (
                "glusterfs.ca".into(),
                ByteString(self.ca.as_bytes().to_vec()),
            ),
        ])
    }
}

/// A cluster's CAs and certificates. `Debug` names what is there, never a key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterTls {
    /// The bundle, by generation (oldest first).
    pub cas: BTreeMap<u32, CertificateAuthority>,
    /// Node certificates by node name.
    pub nodes: BTreeMap<String, Issued>,
    /// The client certificate.
    pub client: Issued,
}

impl fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterTls")
            .field("cas", &self.cas.keys().collect::<Vec<_>>())
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ClusterTls {
    /// A new CA, a client certificate and a certificate for each of `nodes`.
    pub fn generate(
        cluster: &str,
        uid: &str,
        nodes: &[&str],
        now: Timestamp,
    ) -> Result<Self, TlsError> {
        let ca = CertificateAuthority::generate(cluster, uid, now)?;
        let client = ca.issue(&Subject::Client(cluster.to_string()), now)?;
        let mut tls = ClusterTls {
            cas: BTreeMap::from([(0, ca)]),
            nodes: BTreeMap::new(),
            client,
        };
        tls.add_missing_nodes(nodes, now)?;
        Ok(tls)
    }

    /// The CA that signs new certificates (the rollover rule's signer).
    fn signer(&self, now: Timestamp) -> Result<(u32, &CertificateAuthority), TlsError> {
        let generations: Vec<u32> = self.cas.keys().copied().collect();
        let windows = self.ca_windows()?;
        let rollover = ca_rollover(now, &windows);
        let generation = generations[rollover.signer];
        Ok((generation, &self.cas[&generation]))
    }

    fn ca_windows(&self) -> Result<Vec<CertWindow>, TlsError> {
        self.cas
            .iter()
            .map(|(n, ca)| {
                window(&ca.0.cert_pem).map_err(|reason| TlsError::Stored {
                    secret: "TLS".into(),
                    key: format!("{CA_PREFIX}{n}.crt"),
                    reason,
                })
            })
            .collect()
    }

    /// Issues certificates for those of `nodes` that have none; returns whether any was added.
    pub fn add_missing_nodes(&mut self, nodes: &[&str], now: Timestamp) -> Result<bool, TlsError> {
        let missing: Vec<&str> = nodes
            .iter()
            .copied()
            .filter(|n| !self.nodes.contains_key(*n))
            .collect();
        if missing.is_empty() {
            return Ok(false);
        }
        let (_, ca) = self.signer(now)?;
        let ca = ca.clone();
        for node in missing {
            let issued = ca.issue(&Subject::Node(node.to_string()), now)?;
            self.nodes.insert(node.to_string(), issued);
        }
        Ok(true)
    }

    /// Applies the renewal rules ([`super::renew`]) at `now`: a successor CA, the bundle's
    /// expired CAs dropped, certificates re-issued where due. Returns whether anything changed.
    pub fn renew(&mut self, cluster: &str, uid: &str, now: Timestamp) -> Result<bool, TlsError> {
        let mut changed = false;
        let rollover = ca_rollover(now, &self.ca_windows()?);
        let generations: Vec<u32> = self.cas.keys().copied().collect();
        for (i, generation) in generations.iter().enumerate() {
            if !rollover.keep.contains(&i) {
                self.cas.remove(generation);
                changed = true;
            }
        }
        if rollover.issue_successor {
            let next = generations.last().map_or(0, |g| g + 1);
            self.cas
                .insert(next, CertificateAuthority::generate(cluster, uid, now)?);
            changed = true;
        }
        let (signer, ca) = self.signer(now)?;
        let ca = ca.clone();
        let signed_by = |cert: &str| -> Result<(Option<usize>, CertWindow), TlsError> {
            let w = window(cert).map_err(|reason| TlsError::Stored {
                secret: "TLS".into(),
                key: "a certificate".into(),
                reason,
            })?;
            let by = self
                .cas
                .iter()
                .position(|(_, ca)| verifies(cert, &ca.0.cert_pem));
            Ok((by, w))
        };
        let signer_index = self.cas.keys().position(|g| *g == signer).unwrap_or(0);
        let mut renew = Vec::new();
        for (node, issued) in &self.nodes {
            let (by, w) = signed_by(&issued.cert_pem)?;
            if leaf_renewal(now, &w, by, signer_index) != Renewal::Keep {
                renew.push(Subject::Node(node.clone()));
            }
        }
        let (by, w) = signed_by(&self.client.cert_pem)?;
        if leaf_renewal(now, &w, by, signer_index) != Renewal::Keep {
            renew.push(Subject::Client(cluster.to_string()));
        }
        for subject in renew {
            let issued = ca.issue(&subject, now)?;
            match subject {
                Subject::Node(node) => {
                    self.nodes.insert(node, issued);
                }
                Subject::Client(_) => self.client = issued,
            }
            changed = true;
        }
        Ok(changed)
    }

    /// The bundle: every trusted CA's certificate, oldest first (`glusterfs.ca`).
    pub fn bundle(&self) -> String {
        self.cas.values().map(|ca| ca.0.cert_pem.as_str()).collect()
    }

    /// The files of node `node`, if it has a certificate.
    pub fn node_files(&self, node: &str) -> Option<TlsFiles> {
        self.nodes.get(node).map(|issued| TlsFiles {
            pem: issued.cert_pem.clone(),
            key: issued.key_pem.clone(),
            ca: self.bundle(),
        })
    }

    /// The client's files.
    pub fn client_files(&self) -> TlsFiles {
        TlsFiles {
            pem: self.client.cert_pem.clone(),
            key: self.client.key_pem.clone(),
            ca: self.bundle(),
        }
    }

    /// The Secret's data.
    pub fn to_data(&self) -> BTreeMap<String, ByteString> {
        let mut data = BTreeMap::new();
        let mut put = |stem: String, issued: &Issued| {
            data.insert(
                format!("{stem}.crt"),
                ByteString(issued.cert_pem.as_bytes().to_vec()),
            );
            data.insert(
                format!("{stem}.key"),
                ByteString(issued.key_pem.as_bytes().to_vec()),
            );
        };
        for (n, ca) in &self.cas {
            put(format!("{CA_PREFIX}{n}"), &ca.0);
        }
        for (node, issued) in &self.nodes {
            put(format!("{NODE_PREFIX}{node}"), issued);
        }
        put(CLIENT_STEM.to_string(), &self.client);
        data
    }

    /// Reads the material from Secret `secret`'s data.
    pub fn from_data(secret: &str, data: &BTreeMap<String, ByteString>) -> Result<Self, TlsError> {
        let stored = |key: &str, reason: &str| TlsError::Stored {
            secret: secret.to_string(),
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let text = |key: &str| -> Result<String, TlsError> {
            let bytes = data.get(key).ok_or_else(|| stored(key, "missing"))?;
            String::from_utf8(bytes.0.clone()).map_err(|_| stored(key, "not UTF-8"))
        };
        let pair = |stem: &str| -> Result<Issued, TlsError> {
            let cert_pem = text(&format!("{stem}.crt"))?;
            window(&cert_pem).map_err(|reason| stored(&format!("{stem}.crt"), &reason))?;
            Ok(Issued {
                cert_pem,
                key_pem: Zeroizing::new(text(&format!("{stem}.key"))?),
            })
        };
        let mut cas = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        for key in data.keys() {
            let Some(stem) = key.strip_suffix(".crt") else {
                continue;
            };
            if let Some(n) = stem.strip_prefix(CA_PREFIX) {
                let n: u32 = n
                    .parse()
                    .map_err(|_| stored(key, "the CA generation is not a number"))?;
                cas.insert(n, CertificateAuthority(pair(stem)?));
            } else if let Some(node) = stem.strip_prefix(NODE_PREFIX) {
                nodes.insert(node.to_string(), pair(stem)?);
            }
        }
        if cas.is_empty() {
            return Err(stored(&format!("{CA_PREFIX}0.crt"), "no CA"));
        }
        Ok(ClusterTls {
            cas,
            nodes,
            client: pair(CLIENT_STEM)?,
        })
    }
}

/// Whether `cert` (PEM) is signed by `ca` (PEM).
fn verifies(cert: &str, ca: &str) -> bool {
    let parse = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .ok()
            .map(|(_, p)| p)
    };
    let (Some(cert), Some(ca)) = (parse(cert), parse(ca)) else {
        return false;
    };
    let (Ok(cert), Ok(ca)) = (cert.parse_x509(), ca.parse_x509()) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::issue::common_name;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().expect("a timestamp")
    }

    #[test]
    fn the_mode_rule() {
        let table = [
            // (spec, tls secret, ssh secret) → mode
            ((true, false, false), TlsMode::On),
            ((true, true, true), TlsMode::On),
            ((false, true, true), TlsMode::On),
            ((false, false, false), TlsMode::Disabled),
            ((false, false, true), TlsMode::Disabled),
            ((true, false, true), TlsMode::PlainCluster),
        ];
        for ((spec, tls, ssh), want) in table {
            assert_eq!(tls_mode(spec, tls, ssh), want, "{spec} {tls} {ssh}");
        }
    }

    #[test]
    fn material_round_trips_through_secret_data_unchanged() {
        let tls = ClusterTls::generate("demo", "uid", &["demo-a-0", "demo-b-0"], now())
            .expect("material");
        let data = tls.to_data();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            [
                "ca-0.crt",
                "ca-0.key",
                "client.crt",
                "client.key",
                "node-demo-a-0.crt",
                "node-demo-a-0.key",
                "node-demo-b-0.crt",
                "node-demo-b-0.key"
            ]
        );
        let back = ClusterTls::from_data("demo-tls", &data).expect("read back");
        assert_eq!(back, tls);
        // Read back: nothing is due, nothing re-issued.
        let mut again = back.clone();
        assert!(!again.renew("demo", "uid", now()).expect("renew"));
        assert!(!again.add_missing_nodes(&["demo-a-0"], now()).expect("add"));
        assert_eq!(again, tls);
    }

    #[test]
    fn a_new_node_gets_a_certificate_and_the_others_keep_theirs() {
        let mut tls = ClusterTls::generate("demo", "uid", &["n0"], now()).expect("material");
        let n0 = tls.nodes["n0"].clone();
        assert!(tls.add_missing_nodes(&["n0", "n1"], now()).expect("add"));
        assert_eq!(tls.nodes["n0"], n0);
        assert_eq!(
            common_name(&tls.nodes["n1"].cert_pem).as_deref(),
            Some("n1")
        );
        assert!(verifies(&tls.nodes["n1"].cert_pem, &tls.cas[&0].0.cert_pem));
    }

    #[test]
    fn renewal_reissues_in_the_last_third_and_rolls_the_ca_over() {
        let mut tls = ClusterTls::generate("demo", "uid", &["n0"], now()).expect("material");
        // Nine months on: the leaves are due, the CA is not.
        let later = now() + jiff::SignedDuration::from_hours(270 * 24);
        let old = tls.nodes["n0"].clone();
        assert!(tls.renew("demo", "uid", later).expect("renew"));
        assert_ne!(tls.nodes["n0"], old);
        assert_eq!(tls.cas.len(), 1);
        assert!(!tls.renew("demo", "uid", later).expect("renew again"));
        // Seven years on: a successor CA joins the bundle; the old one still signs.
        let late = now() + jiff::SignedDuration::from_hours(7 * 365 * 24);
        tls.renew("demo", "uid", late).expect("renew");
        assert_eq!(tls.cas.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert!(tls.bundle().matches("BEGIN CERTIFICATE").count() == 2);
        assert!(verifies(&tls.nodes["n0"].cert_pem, &tls.cas[&0].0.cert_pem));
        // After the grace the successor signs: every leaf moves over, both CAs still trusted.
        let moved = late + jiff::SignedDuration::from_hours(31 * 24);
        assert!(tls.renew("demo", "uid", moved).expect("renew"));
        assert!(verifies(&tls.nodes["n0"].cert_pem, &tls.cas[&1].0.cert_pem));
        assert!(verifies(&tls.client.cert_pem, &tls.cas[&1].0.cert_pem));
        assert_eq!(tls.cas.len(), 2);
    }

    #[test]
    fn missing_or_bad_data_is_an_error_naming_the_key() {
        let tls = ClusterTls::generate("demo", "uid", &["n0"], now()).expect("material");
        let mut data = tls.to_data();
        data.remove("client.key");
        let err = ClusterTls::from_data("demo-tls", &data)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("demo-tls") && err.contains("client.key"),
            "{err}"
        );
        let mut data = tls.to_data();
        data.insert("node-n0.crt".into(), ByteString(b"junk".to_vec()));
        let err = ClusterTls::from_data("demo-tls", &data)
            .unwrap_err()
            .to_string();
        assert!(err.contains("node-n0.crt"), "{err}");
        assert!(!err.contains("PRIVATE"), "{err}");
    }

    #[test]
    fn debug_shows_no_key() {
        let tls = ClusterTls::generate("demo", "uid", &["n0"], now()).expect("material");
        for shown in [format!("{tls:?}"), format!("{:?}", tls.client_files())] {
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        }
        let files = tls.node_files("n0").expect("files");
        assert!(files.key.contains("PRIVATE KEY"));
        assert_eq!(files.ca, tls.cas[&0].0.cert_pem);
    }
}

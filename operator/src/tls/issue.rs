//! Issuing: a cluster's CA and the certificates it signs (ECDSA P-256 keys, rcgen).
//!
//! Every node and the client get a certificate whose subject CN is their name in
//! `auth.ssl-allow` (the node's name, `<cluster>-client`), also as a DNS SAN; the certificate is
//! good for both TLS client and server use (gluster uses one certificate both ways). Certificates
//! start an hour before `now`, so that a node whose clock is a little behind accepts them.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::TlsError;
use super::renew::CertWindow;

/// How long a CA is valid.
pub const CA_LIFETIME: SignedDuration = SignedDuration::from_hours(10 * 365 * 24);
/// How long a node or client certificate is valid.
pub const LEAF_LIFETIME: SignedDuration = SignedDuration::from_hours(365 * 24);
/// How far before `now` a certificate's validity starts (clock skew between operator and nodes).
pub const BACKDATE: SignedDuration = SignedDuration::from_hours(1);

/// Who a certificate is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A gluster node (its glusterd, bricks, self-heal and rebalance), by node name.
    Node(String),
    /// The cluster's client (the FUSE mounts), by cluster name.
    Client(String),
}

impl Subject {
    /// The CN (and DNS SAN): the node's name, or `<cluster>-client`.
    pub fn common_name(&self) -> String {
        match self {
            Subject::Node(name) => name.clone(),
            Subject::Client(cluster) => format!("{cluster}-client"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Subject::Node(name) => format!("the certificate of node {name}"),
            Subject::Client(cluster) => format!("the client certificate of {cluster}"),
        }
    }
}

/// A certificate and its private key, both PEM. `Debug` shows the certificate's subject only.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM), wiped from memory when dropped.
    pub key_pem: Zeroizing<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("cert_bytes", &self.cert_pem.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A cluster's certificate authority: its certificate and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateAuthority(pub Issued);

impl CertificateAuthority {
    /// A fresh CA for cluster `cluster` (UID `uid`, in the subject so that two clusters of the
    /// same name never share an issuer name), valid [`CA_LIFETIME`] from `now`.
    pub fn generate(cluster: &str, uid: &str, now: Timestamp) -> Result<Self, TlsError> {
        let what = || format!("the CA of {cluster}");
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("gluster-operator CA {cluster}"));
        dn.push(DnType::OrganizationName, "gluster-operator");
        dn.push(DnType::OrganizationalUnitName, uid);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, now, CA_LIFETIME, &what)?;
        let key = KeyPair::generate().map_err(|e| issue_error(&what, e))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| issue_error(&what, e))?;
        Ok(CertificateAuthority(Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        }))
    }

    /// A certificate for `subject`, signed by this CA, valid [`LEAF_LIFETIME`] from `now`.
    pub fn issue(&self, subject: &Subject, now: Timestamp) -> Result<Issued, TlsError> {
        let what = || subject.describe();
        let ca_key = KeyPair::from_pem(&self.0.key_pem).map_err(|e| issue_error(&what, e))?;
        let issuer = Issuer::from_ca_cert_pem(&self.0.cert_pem, ca_key)
            .map_err(|e| issue_error(&what, e))?;
        let name = subject.common_name();
        let mut params =
            CertificateParams::new(vec![name.clone()]).map_err(|e| issue_error(&what, e))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, now, LEAF_LIFETIME, &what)?;
        let key = KeyPair::generate().map_err(|e| issue_error(&what, e))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| issue_error(&what, e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }
}

/// The validity window of a PEM certificate; `what` names it in errors.
pub fn window(cert_pem: &str) -> Result<CertWindow, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let at = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| format!("a date out of range: {e}"))
    };
    Ok(CertWindow {
        not_before: at(cert.validity().not_before)?,
        not_after: at(cert.validity().not_after)?,
    })
}

/// The subject CN of a PEM certificate, if it has one.
pub fn common_name(cert_pem: &str) -> Option<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

fn set_validity(
    params: &mut CertificateParams,
    now: Timestamp,
    lifetime: SignedDuration,
    what: &dyn Fn() -> String,
) -> Result<(), TlsError> {
    let at = |t: Timestamp| {
        OffsetDateTime::from_unix_timestamp(t.as_second()).map_err(|e| TlsError::Issue {
            what: what(),
            reason: format!("a validity date out of range: {e}"),
        })
    };
    let start = now.checked_sub(BACKDATE).map_err(|e| TlsError::Issue {
        what: what(),
        reason: format!("a validity date out of range: {e}"),
    })?;
    let end = now.checked_add(lifetime).map_err(|e| TlsError::Issue {
        what: what(),
        reason: format!("a validity date out of range: {e}"),
    })?;
    params.not_before = at(start)?;
    params.not_after = at(end)?;
    Ok(())
}

fn issue_error(what: &dyn Fn() -> String, e: rcgen::Error) -> TlsError {
    TlsError::Issue {
        what: what(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().expect("a timestamp")
    }

    fn der(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
        p.contents
    }

    #[test]
    fn node_certificate_names_the_node_and_chains_to_the_ca() {
        let ca = CertificateAuthority::generate("demo", "uid-1", now()).expect("CA");
        let node = ca
            .issue(&Subject::Node("demo-zone-a-0".into()), now())
            .expect("node cert");
        assert_eq!(
            common_name(&node.cert_pem).as_deref(),
            Some("demo-zone-a-0")
        );

        let ca_der = der(&ca.0.cert_pem);
        let node_der = der(&node.cert_pem);
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).expect("CA parses");
        let (_, leaf) = x509_parser::parse_x509_certificate(&node_der).expect("leaf parses");
        assert_eq!(leaf.issuer(), ca_cert.subject());
        leaf.verify_signature(Some(ca_cert.public_key()))
            .expect("the node certificate is signed by the CA");
        assert!(ca_cert.is_ca());
        assert!(!leaf.is_ca());
        let san = leaf
            .subject_alternative_name()
            .expect("SAN parses")
            .expect("a SAN");
        assert_eq!(
            format!("{:?}", san.value.general_names),
            r#"[DNSName("demo-zone-a-0")]"#
        );
    }

    #[test]
    fn a_certificate_of_another_ca_does_not_verify() {
        let ca = CertificateAuthority::generate("demo", "uid-1", now()).expect("CA");
        let other = CertificateAuthority::generate("demo", "uid-2", now()).expect("CA");
        let stranger = other
            .issue(&Subject::Client("demo".into()), now())
            .expect("cert");
        let ca_der = der(&ca.0.cert_pem);
        let stranger_der = der(&stranger.cert_pem);
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).expect("CA parses");
        let (_, leaf) = x509_parser::parse_x509_certificate(&stranger_der).expect("parses");
        assert!(leaf.verify_signature(Some(ca_cert.public_key())).is_err());
    }

    #[test]
    fn validity_is_backdated_an_hour_and_lasts_the_lifetime() {
        let ca = CertificateAuthority::generate("demo", "uid-1", now()).expect("CA");
        let client = ca
            .issue(&Subject::Client("demo".into()), now())
            .expect("client cert");
        assert_eq!(
            common_name(&client.cert_pem).as_deref(),
            Some("demo-client")
        );
        let w = window(&client.cert_pem).expect("window");
        assert_eq!(w.not_before, now() - BACKDATE);
        assert_eq!(w.not_after, now() + LEAF_LIFETIME);
        let w = window(&ca.0.cert_pem).expect("window");
        assert_eq!(w.not_after, now() + CA_LIFETIME);
    }

    #[test]
    fn keys_never_show_in_debug() {
        let ca = CertificateAuthority::generate("demo", "uid-1", now()).expect("CA");
        let node = ca
            .issue(&Subject::Node("n0".into()), now())
            .expect("node cert");
        for shown in [format!("{ca:?}"), format!("{node:?}")] {
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            assert!(
                !shown.contains(node.key_pem.lines().nth(1).unwrap_or("x")),
                "{shown}"
            );
        }
        assert!(node.key_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(window("not a certificate").is_err());
        assert_eq!(
            common_name("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            None
        );
    }
}

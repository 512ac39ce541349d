//! The control plane's keys and certificates, made fresh at every start: a CA, the API server's
//! serving certificate (valid for 127.0.0.1 and the in-cluster names), an admin client
//! certificate (group `system:masters`) and the service-account signing key pair.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

use super::Error;

/// PEM files of one control plane, in its directory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate (the API server's client CA and the clients' trust anchor).
    pub ca_cert: PathBuf,
    /// The API server's serving certificate.
    pub serving_cert: PathBuf,
    /// Its key.
    pub serving_key: PathBuf,
    /// The service-account token signing key (private).
    pub sa_key: PathBuf,
    /// Its public half, which the API server verifies tokens with.
    pub sa_pub: PathBuf,
    /// The CA certificate as PEM text.
    pub ca_pem: String,
    /// The admin client certificate as PEM text.
    pub admin_cert_pem: String,
    /// Its key as PEM text.
    pub admin_key_pem: String,
}

fn pki_error(what: &'static str) -> impl Fn(rcgen::Error) -> Error {
    move |e| Error::Pki(format!("{what}: {e}"))
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    })?;
    Ok(path)
}

fn leaf(common_name: &str, organization: Option<&str>) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error("params"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    Ok(params)
}

impl Pki {
    /// Makes every key and certificate and writes the files the processes read into `dir`.
    pub fn create(dir: &Path) -> Result<Pki, Error> {
        let ca_key = KeyPair::generate().map_err(pki_error("CA key"))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(pki_error("CA params"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "gluster-operator e2e CA");
        ca_params.distinguished_name = dn;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(pki_error("CA"))?;

        let serving_key = KeyPair::generate().map_err(pki_error("serving key"))?;
        let mut serving = leaf("kube-apiserver", None)?;
        serving.subject_alt_names = vec![
            SanType::IpAddress([127, 0, 0, 1].into()),
            SanType::IpAddress(super::SERVICE_IP.into()),
            SanType::DnsName("localhost".try_into().map_err(pki_error("SAN"))?),
            SanType::DnsName("kubernetes".try_into().map_err(pki_error("SAN"))?),
            SanType::DnsName("kubernetes.default".try_into().map_err(pki_error("SAN"))?),
            SanType::DnsName(
                "kubernetes.default.svc"
                    .try_into()
                    .map_err(pki_error("SAN"))?,
            ),
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving
            .signed_by(&serving_key, &ca)
            .map_err(pki_error("serving certificate"))?;

        let admin_key = KeyPair::generate().map_err(pki_error("admin key"))?;
        let mut admin = leaf("e2e-admin", Some("system:masters"))?;
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin
            .signed_by(&admin_key, &ca)
            .map_err(pki_error("admin certificate"))?;

        let sa_key = KeyPair::generate().map_err(pki_error("service-account key"))?;

        Ok(Pki {
            ca_cert: write(dir, "ca.crt", &ca.pem())?,
            serving_cert: write(dir, "apiserver.crt", &serving_cert.pem())?,
            serving_key: write(dir, "apiserver.key", &serving_key.serialize_pem())?,
            sa_key: write(dir, "sa.key", &sa_key.serialize_pem())?,
            sa_pub: write(dir, "sa.pub", &sa_key.public_key_pem())?,
            ca_pem: ca.pem(),
            admin_cert_pem: admin_cert.pem(),
            admin_key_pem: admin_key.serialize_pem(),
        })
    }
}

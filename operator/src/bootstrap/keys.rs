//! SSH keys of a cluster: the operator's client key pair (its public half becomes an authorized
//! key of the control user on every node) and each node's host key pair (handed to cloud-init so
//! the operator can pin it: no trust on first use).
//!
//! Ed25519 only, generated with RustCrypto's `ssh-key` (the key format russh builds on). Private
//! material is held in [`Zeroizing`] memory and never appears in `Debug` output or errors.

use std::fmt;

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// Errors while generating, parsing or encoding SSH keys. None of them carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The random key could not be generated (the OS random source failed).
    #[error("generating an ed25519 key: {0}")]
    Generate(ssh_key::Error),
    /// A private key could not be parsed from the OpenSSH format.
    #[error("{what}: not an OpenSSH private key ({source})")]
    ParsePrivate {
        /// What the key is for (e.g. `host key of node x`).
        what: String,
        /// The parser's reason (no key material in it).
        source: ssh_key::Error,
    },
    /// A public key could not be parsed from the `authorized_keys` format.
    #[error("{what}: not an OpenSSH public key such as `ssh-ed25519 AAAA… comment` ({source})")]
    ParsePublic {
        /// What the key is for (e.g. `operator SSH public key`).
        what: String,
        /// The parser's reason.
        source: ssh_key::Error,
    },
    /// A key of an algorithm the operator does not use.
    #[error("{what}: expected an ed25519 key, got {algorithm}")]
    Algorithm {
        /// What the key is for.
        what: String,
        /// The algorithm found.
        algorithm: String,
    },
    /// A private key protected by a passphrase (the operator needs it unencrypted).
    #[error("{what}: the private key is encrypted with a passphrase; give an unencrypted one")]
    Encrypted {
        /// What the key is for.
        what: String,
    },
    /// A key could not be encoded in the OpenSSH format.
    #[error("encoding an SSH key: {0}")]
    Encode(ssh_key::Error),
}

/// An ed25519 key pair: the private key in OpenSSH format (what the operator keeps in a Secret,
/// or hands to cloud-init as a host key) and its public key.
///
/// `Debug` shows the public key and its fingerprint only; the private key is zeroed on drop.
#[derive(Clone)]
pub struct SshKeyPair {
    private_openssh: Zeroizing<String>,
    public: AuthorizedKey,
}

impl SshKeyPair {
    /// Generates a fresh ed25519 key pair from the OS random source, with `comment` on both
    /// halves (e.g. `gluster-operator@my-cluster`).
    pub fn generate(comment: &str) -> Result<Self, KeyError> {
        let mut key =
            PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(KeyError::Generate)?;
        key.set_comment(comment);
        Self::from_private_key(&key)
    }

    /// Rebuilds a key pair from a private key in OpenSSH format (as kept in a Secret). `what`
    /// names the key in errors (e.g. `Secret my-cluster-ssh, key id_ed25519`).
    pub fn from_private_openssh(what: &str, pem: &str) -> Result<Self, KeyError> {
        let key =
            PrivateKey::from_openssh(pem.trim()).map_err(|source| KeyError::ParsePrivate {
                what: what.to_string(),
                source,
            })?;
        if key.is_encrypted() {
            return Err(KeyError::Encrypted {
                what: what.to_string(),
            });
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(KeyError::Algorithm {
                what: what.to_string(),
                algorithm: key.algorithm().to_string(),
            });
        }
        Self::from_private_key(&key)
    }

    fn from_private_key(key: &PrivateKey) -> Result<Self, KeyError> {
        let private_openssh = key.to_openssh(LineEnding::LF).map_err(KeyError::Encode)?;
        let public = AuthorizedKey::from_public_key(key.public_key())?;
        Ok(Self {
            private_openssh,
            public,
        })
    }

    /// The private key in OpenSSH format (`-----BEGIN OPENSSH PRIVATE KEY-----` …), ending with a
    /// newline. Secret: keep it in a Kubernetes Secret or in user-data, never in logs.
    pub fn private_openssh(&self) -> &str {
        &self.private_openssh
    }

    /// The public half.
    pub fn public_key(&self) -> &AuthorizedKey {
        &self.public
    }
}

impl fmt::Debug for SshKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshKeyPair")
            .field("public", &self.public.openssh())
            .field("fingerprint", &self.public.fingerprint())
            .field("private", &"<redacted>")
            .finish()
    }
}

/// A validated SSH public key in the one-line OpenSSH format (`ssh-ed25519 AAAA… comment`), as in
/// `authorized_keys`, with its SHA-256 fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedKey {
    openssh: String,
    fingerprint: String,
}

impl AuthorizedKey {
    /// Parses a public key line (any algorithm OpenSSH accepts). `what` names it in errors.
    pub fn parse(what: &str, line: &str) -> Result<Self, KeyError> {
        let key = PublicKey::from_openssh(line.trim()).map_err(|source| KeyError::ParsePublic {
            what: what.to_string(),
            source,
        })?;
        Self::from_public_key(&key)
    }

    fn from_public_key(key: &PublicKey) -> Result<Self, KeyError> {
        Ok(Self {
            openssh: key.to_openssh().map_err(KeyError::Encode)?,
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        })
    }

    /// The key as one `authorized_keys` line, without a trailing newline.
    pub fn openssh(&self) -> &str {
        &self.openssh
    }

    /// The SHA-256 fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The algorithm name (e.g. `ssh-ed25519`), the first field of the line.
    pub fn algorithm(&self) -> &str {
        self.openssh.split(' ').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_round_trips_and_debug_redacts() {
        let pair = SshKeyPair::generate("gluster-operator@demo").unwrap();
        assert!(
            pair.private_openssh()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        );
        assert!(
            pair.private_openssh()
                .ends_with("-----END OPENSSH PRIVATE KEY-----\n")
        );
        assert!(pair.public_key().openssh().starts_with("ssh-ed25519 "));
        assert!(
            pair.public_key()
                .openssh()
                .ends_with(" gluster-operator@demo")
        );
        assert_eq!(pair.public_key().algorithm(), "ssh-ed25519");
        assert!(pair.public_key().fingerprint().starts_with("SHA256:"));

        let again = SshKeyPair::from_private_openssh("test key", pair.private_openssh()).unwrap();
        assert_eq!(again.public_key(), pair.public_key());

        let debug = format!("{pair:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        let body: String = pair.private_openssh().lines().nth(1).unwrap().to_string();
        assert!(
            !debug.contains(&body),
            "Debug leaks private key material: {debug}"
        );
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = SshKeyPair::generate("a").unwrap();
        let b = SshKeyPair::generate("a").unwrap();
        assert_ne!(a.public_key(), b.public_key());
    }

    #[test]
    fn bad_keys_are_named_in_errors() {
        let err =
            AuthorizedKey::parse("operator SSH public key", "ssh-ed25519 not-base64").unwrap_err();
        assert!(
            err.to_string().starts_with("operator SSH public key: "),
            "{err}"
        );
        let err = SshKeyPair::from_private_openssh("host key of node a", "garbage").unwrap_err();
        assert!(err.to_string().starts_with("host key of node a: "), "{err}");
    }

    #[test]
    fn parses_a_public_key_line_and_keeps_its_comment() {
        let pair = SshKeyPair::generate("someone@laptop").unwrap();
        let line = format!("  {}\n", pair.public_key().openssh());
        let parsed = AuthorizedKey::parse("k", &line).unwrap();
        assert_eq!(parsed.openssh(), pair.public_key().openssh());
    }
}

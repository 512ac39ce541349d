//! Cloud configuration: the standard `clouds.yaml` (read from a Kubernetes Secret by the
//! operator, from a file by the CLI) and the `OS_*` environment variables.
//!
//! Parsing is pure: [`CloudConfig::from_clouds_yaml`] takes the file's text, and
//! [`CloudConfig::from_env_with`] takes the environment and file reader as functions so tests can
//! feed both. Every error names the field it is about (`clouds.<name>.auth.auth_url`, `OS_PASSWORD`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::CloudError;
use super::secret::Secret;

/// One cloud's connection settings, ready to authenticate with.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudConfig {
    /// The entry name (`clouds.<name>`), or `envvars` when built from `OS_*` variables.
    pub name: String,
    /// The Keystone URL as written (`https://keystone.example:5000/v3` or without `/v3`).
    pub auth_url: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// The region to pick endpoints from. `None`: the catalog must offer exactly one region.
    pub region: Option<String>,
    /// The endpoint interface to use from the catalog.
    pub interface: Interface,
    /// TLS verification settings.
    pub tls: TlsConfig,
}

/// How to authenticate to Keystone v3.
#[derive(Clone, Debug, PartialEq)]
pub enum Credentials {
    /// `auth_type: password` (the default): a user and password scoped to a project.
    Password {
        /// The user, by ID or by name in a domain.
        user: UserRef,
        /// The password (redacted in `Debug`).
        password: Secret,
        /// The project the token is scoped to.
        project: ProjectRef,
    },
    /// `auth_type: v3applicationcredential`: an application credential, which carries its own
    /// project scope. Recommended for the operator.
    ApplicationCredential {
        /// The credential, by ID or by name with its owning user.
        credential: AppCredentialRef,
        /// The credential secret (redacted in `Debug`).
        secret: Secret,
    },
}

/// A Keystone user, by ID or by name within a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    /// `user_id`.
    Id(String),
    /// `username` with `user_domain_name`/`user_domain_id` (or `domain_name`/`domain_id`).
    Name {
        /// The user name.
        name: String,
        /// The user's domain.
        domain: DomainRef,
    },
}

/// A Keystone project, by ID or by name within a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectRef {
    /// `project_id`.
    Id(String),
    /// `project_name` with `project_domain_name`/`project_domain_id` (or `domain_*`).
    Name {
        /// The project name.
        name: String,
        /// The project's domain.
        domain: DomainRef,
    },
}

/// A Keystone domain, by ID or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainRef {
    /// A domain ID (e.g. `default`).
    Id(String),
    /// A domain name (e.g. `Default`).
    Name(String),
}

/// An application credential, by ID or by name (names are unique per user only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCredentialRef {
    /// `application_credential_id`.
    Id(String),
    /// `application_credential_name` with the owning user.
    Name {
        /// The credential name.
        name: String,
        /// The user who owns it.
        user: UserRef,
    },
}

/// The catalog interface: which of a service's endpoints to call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interface {
    /// `public` (the default).
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    /// The name the Keystone catalog uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// Parses `public`, `internal`, `admin`, also in the legacy `publicURL` spelling.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim().to_ascii_lowercase();
        match v.strip_suffix("url").unwrap_or(&v) {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

/// TLS verification: `verify` and `cacert` of clouds.yaml.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// `verify: false` turns certificate verification off (for test clouds only).
    pub verify: bool,
    /// An extra CA to trust besides the system roots.
    pub ca: Option<CaCert>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            verify: true,
            ca: None,
        }
    }
}

/// Where an extra CA certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaCert {
    /// `cacert: /path/to/ca.pem`: read when the client is built.
    Path(PathBuf),
    /// PEM text: `cacert` written inline in clouds.yaml (starting `-----BEGIN`), or supplied
    /// by the operator from another key of the Secret.
    Pem(String),
}

/// The raw shape of clouds.yaml (only the keys this client reads; others are ignored).
#[derive(Deserialize)]
struct RawFile {
    clouds: Option<BTreeMap<String, RawCloud>>,
}

#[derive(Deserialize, Default)]
struct RawCloud {
    auth: Option<RawAuth>,
    auth_type: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    identity_api_version: Option<serde_yaml::Value>,
    cacert: Option<String>,
    verify: Option<serde_yaml::Value>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    auth_url: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    password: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    tenant_name: Option<String>,
    tenant_id: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    domain_name: Option<String>,
    domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<String>,
}

fn config_err(field: impl Into<String>, reason: impl Into<String>) -> CloudError {
    CloudError::Config {
        field: field.into(),
        reason: reason.into(),
    }
}

/// serde_yaml's message without the input's values: it quotes the scalar it could not use
/// (`invalid type: string "…"`, `` integer `…` ``), which may be a password or a whole
/// misplaced file, and the message ends up in a status condition. Quoted parts become `<value>`;
/// the line and column stay.
fn yaml_error_without_values(e: &serde_yaml::Error) -> String {
    static QUOTED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // Invariant: a constant pattern, exercised by the tests.
        regex::Regex::new(r#""(?:[^"\\]|\\.)*"?|`[^`]*`?"#)
            .expect("the quoted-part pattern compiles")
    });
    QUOTED.replace_all(&e.to_string(), "<value>").into_owned()
}

/// What kind of YAML value `v` is, for messages that must not show the value itself.
fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "null",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// Treats empty strings like absent ones (env variables set to "" and `key: ''` in YAML).
fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl CloudConfig {
    /// Parses the entry `cloud` of a clouds.yaml document.
    pub fn from_clouds_yaml(yaml: &str, cloud: &str) -> Result<Self, CloudError> {
        let file: RawFile = serde_yaml::from_str(yaml).map_err(|e| {
            config_err(
                "clouds.yaml",
                format!("not valid clouds.yaml: {}", yaml_error_without_values(&e)),
            )
        })?;
        let mut clouds = file
            .clouds
            .ok_or_else(|| config_err("clouds", "clouds.yaml has no `clouds` map"))?;
        let Some(raw) = clouds.remove(cloud) else {
            let known: Vec<&String> = clouds.keys().collect();
            return Err(config_err(
                format!("clouds.{cloud}"),
                format!("no cloud named {cloud:?} in clouds.yaml (it has {known:?})"),
            ));
        };
        Self::from_raw(cloud, raw, &format!("clouds.{cloud}"))
    }

    /// Builds the configuration the `openstack` CLI would use from this environment: the cloud
    /// named by `OS_CLOUD` in the clouds.yaml at `OS_CLIENT_CONFIG_FILE` (or `./clouds.yaml`,
    /// `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`), or else the `OS_*`
    /// variables (`OS_AUTH_URL`, `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME`, …,
    /// `OS_APPLICATION_CREDENTIAL_ID`/`_SECRET`). `OS_REGION_NAME` and `OS_INTERFACE` override
    /// the file's values.
    pub fn from_env() -> Result<Self, CloudError> {
        Self::from_env_with(
            |k| std::env::var(k).ok(),
            |p| std::fs::read_to_string(p).map_err(|e| e.to_string()),
        )
    }

    /// [`CloudConfig::from_env`] with the environment lookup and the file reader supplied.
    pub fn from_env_with(
        env: impl Fn(&str) -> Option<String>,
        read: impl Fn(&Path) -> Result<String, String>,
    ) -> Result<Self, CloudError> {
        let get = |k: &str| non_empty(env(k));
        let mut cfg = if let Some(cloud) = get("OS_CLOUD") {
            let candidates: Vec<PathBuf> = match get("OS_CLIENT_CONFIG_FILE") {
                Some(p) => vec![PathBuf::from(p)],
                None => {
                    let mut v = vec![PathBuf::from("clouds.yaml")];
                    if let Some(home) = get("HOME") {
                        v.push(Path::new(&home).join(".config/openstack/clouds.yaml"));
                    }
                    v.push(PathBuf::from("/etc/openstack/clouds.yaml"));
                    v
                }
            };
            let mut errors = Vec::new();
            let mut found = None;
            for path in &candidates {
                match read(path) {
                    Ok(text) => {
                        found = Some(text);
                        break;
                    }
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                }
            }
            let text = found.ok_or_else(|| {
                config_err(
                    "OS_CLIENT_CONFIG_FILE",
                    format!(
                        "OS_CLOUD={cloud} but no clouds.yaml could be read ({})",
                        errors.join("; ")
                    ),
                )
            })?;
            Self::from_clouds_yaml(&text, &cloud)?
        } else {
            let raw = RawCloud {
                auth: Some(RawAuth {
                    auth_url: get("OS_AUTH_URL"),
                    username: get("OS_USERNAME"),
                    user_id: get("OS_USER_ID"),
                    password: get("OS_PASSWORD"),
                    project_name: get("OS_PROJECT_NAME"),
                    project_id: get("OS_PROJECT_ID"),
                    tenant_name: get("OS_TENANT_NAME"),
                    tenant_id: get("OS_TENANT_ID"),
                    user_domain_name: get("OS_USER_DOMAIN_NAME"),
                    user_domain_id: get("OS_USER_DOMAIN_ID"),
                    project_domain_name: get("OS_PROJECT_DOMAIN_NAME"),
                    project_domain_id: get("OS_PROJECT_DOMAIN_ID"),
                    domain_name: get("OS_DOMAIN_NAME"),
                    domain_id: get("OS_DOMAIN_ID"),
                    application_credential_id: get("OS_APPLICATION_CREDENTIAL_ID"),
                    application_credential_name: get("OS_APPLICATION_CREDENTIAL_NAME"),
                    application_credential_secret: get("OS_APPLICATION_CREDENTIAL_SECRET"),
                }),
                auth_type: get("OS_AUTH_TYPE"),
                region_name: None,
                interface: None,
                identity_api_version: get("OS_IDENTITY_API_VERSION").map(serde_yaml::Value::String),
                cacert: get("OS_CACERT"),
                verify: get("OS_INSECURE").map(|v| {
                    // OS_INSECURE=true means verify: false.
                    serde_yaml::Value::Bool(!matches!(
                        v.to_ascii_lowercase().as_str(),
                        "1" | "true" | "yes"
                    ))
                }),
            };
            if raw
                .auth
                .as_ref()
                .and_then(|a| a.auth_url.as_ref())
                .is_none()
            {
                return Err(config_err(
                    "OS_CLOUD",
                    "neither OS_CLOUD nor OS_AUTH_URL is set: no cloud to talk to",
                ));
            }
            Self::from_raw("envvars", raw, "OS")?
        };
        if let Some(region) = get("OS_REGION_NAME") {
            cfg.region = Some(region);
        }
        if let Some(iface) = get("OS_INTERFACE") {
            cfg.interface = Interface::parse(&iface).ok_or_else(|| {
                config_err(
                    "OS_INTERFACE",
                    format!("{iface:?} is not public, internal or admin"),
                )
            })?;
        }
        Ok(cfg)
    }

    /// Supplies the extra CA as PEM text (e.g. from another key of the Secret), replacing a
    /// `cacert` path of the file.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.tls.ca = Some(CaCert::Pem(pem.into()));
        self
    }

    /// The Keystone v3 base URL: `auth_url` with `/v3` appended unless it already ends so.
    pub fn identity_v3_url(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }

    fn from_raw(name: &str, raw: RawCloud, prefix: &str) -> Result<Self, CloudError> {
        // Field names in errors: `clouds.<name>.auth.<key>` for files, `OS_<KEY>` for env vars.
        let field = |key: &str| {
            if prefix == "OS" {
                format!("OS_{}", key.to_ascii_uppercase())
            } else {
                format!("{prefix}.{key}")
            }
        };
        let auth_field = |key: &str| {
            if prefix == "OS" {
                format!("OS_{}", key.to_ascii_uppercase())
            } else {
                format!("{prefix}.auth.{key}")
            }
        };
        if let Some(v) = &raw.identity_api_version {
            let text = match v {
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::String(s) => s.clone(),
                other => yaml_kind(other).to_string(),
            };
            if text.trim() != "3" && !text.trim().starts_with("3.") {
                return Err(config_err(
                    field("identity_api_version"),
                    format!("only Keystone v3 is supported, not {text:?}"),
                ));
            }
        }
        let auth = raw
            .auth
            .ok_or_else(|| config_err(field("auth"), "missing `auth` section"))?;
        let auth_url = non_empty(auth.auth_url.clone())
            .ok_or_else(|| config_err(auth_field("auth_url"), "missing"))?;
        if !(auth_url.starts_with("http://") || auth_url.starts_with("https://")) {
            return Err(config_err(
                auth_field("auth_url"),
                format!("{auth_url:?} is not an http(s) URL"),
            ));
        }
        let auth_type = non_empty(raw.auth_type).unwrap_or_else(|| {
            if auth.application_credential_secret.is_some() {
                "v3applicationcredential".into()
            } else {
                "password".into()
            }
        });
        let credentials = match auth_type.as_str() {
            "password" | "v3password" => password_credentials(auth, &auth_field)?,
            "v3applicationcredential" | "applicationcredential" => {
                app_credential(auth, &auth_field)?
            }
            other => {
                return Err(config_err(
                    field("auth_type"),
                    format!(
                        "{other:?} is not supported (use `password` or `v3applicationcredential`)"
                    ),
                ));
            }
        };
        let interface = match non_empty(raw.interface) {
            None => Interface::Public,
            Some(i) => Interface::parse(&i).ok_or_else(|| {
                config_err(
                    field("interface"),
                    format!("{i:?} is not public, internal or admin"),
                )
            })?,
        };
        let verify = match raw.verify {
            None => true,
            Some(serde_yaml::Value::Bool(b)) => b,
            Some(serde_yaml::Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => {
                    return Err(config_err(
                        field("verify"),
                        format!("{s:?} is not true or false"),
                    ));
                }
            },
            Some(other) => {
                return Err(config_err(
                    field("verify"),
                    format!("{} is not true or false", yaml_kind(&other)),
                ));
            }
        };
        let ca = non_empty(raw.cacert).map(|c| {
            if c.starts_with("-----BEGIN") {
                CaCert::Pem(c)
            } else {
                CaCert::Path(PathBuf::from(c))
            }
        });
        Ok(CloudConfig {
            name: name.to_string(),
            auth_url,
            credentials,
            region: non_empty(raw.region_name),
            interface,
            tls: TlsConfig { verify, ca },
        })
    }
}

fn domain(
    name: Option<String>,
    id: Option<String>,
    fallback_name: &Option<String>,
    fallback_id: &Option<String>,
) -> Option<DomainRef> {
    non_empty(id)
        .map(DomainRef::Id)
        .or_else(|| non_empty(name).map(DomainRef::Name))
        .or_else(|| non_empty(fallback_id.clone()).map(DomainRef::Id))
        .or_else(|| non_empty(fallback_name.clone()).map(DomainRef::Name))
}

fn user_ref(auth: &RawAuth, auth_field: &impl Fn(&str) -> String) -> Result<UserRef, CloudError> {
    if let Some(id) = non_empty(auth.user_id.clone()) {
        return Ok(UserRef::Id(id));
    }
    let name = non_empty(auth.username.clone())
        .ok_or_else(|| config_err(auth_field("username"), "missing (or set user_id)"))?;
    let domain = domain(
        auth.user_domain_name.clone(),
        auth.user_domain_id.clone(),
        &auth.domain_name,
        &auth.domain_id,
    )
    .ok_or_else(|| {
        config_err(
            auth_field("user_domain_name"),
            "missing: a user name needs its domain (user_domain_name or user_domain_id)",
        )
    })?;
    Ok(UserRef::Name { name, domain })
}

fn password_credentials(
    auth: RawAuth,
    auth_field: &impl Fn(&str) -> String,
) -> Result<Credentials, CloudError> {
    let user = user_ref(&auth, auth_field)?;
    let password = non_empty(auth.password.clone())
        .map(Secret::new)
        .ok_or_else(|| config_err(auth_field("password"), "missing"))?;
    let project = if let Some(id) = non_empty(auth.project_id.clone().or(auth.tenant_id.clone())) {
        ProjectRef::Id(id)
    } else {
        let name =
            non_empty(auth.project_name.clone().or(auth.tenant_name.clone())).ok_or_else(|| {
                config_err(
                    auth_field("project_name"),
                    "missing: password auth needs a project (project_name or project_id)",
                )
            })?;
        let domain = domain(
            auth.project_domain_name.clone(),
            auth.project_domain_id.clone(),
            &auth.domain_name,
            &auth.domain_id,
        )
        .ok_or_else(|| {
            config_err(
                auth_field("project_domain_name"),
                "missing: a project name needs its domain (project_domain_name or project_domain_id)",
            )
        })?;
        ProjectRef::Name { name, domain }
    };
    Ok(Credentials::Password {
        user,
        password,
        project,
    })
}

fn app_credential(
    auth: RawAuth,
    auth_field: &impl Fn(&str) -> String,
) -> Result<Credentials, CloudError> {
    let secret = non_empty(auth.application_credential_secret.clone())
        .map(Secret::new)
        .ok_or_else(|| config_err(auth_field("application_credential_secret"), "missing"))?;
    let credential = if let Some(id) = non_empty(auth.application_credential_id.clone()) {
        AppCredentialRef::Id(id)
    } else if let Some(name) = non_empty(auth.application_credential_name.clone()) {
        AppCredentialRef::Name {
            name,
            user: user_ref(&auth, auth_field)?,
        }
    } else {
        return Err(config_err(
            auth_field("application_credential_id"),
            "missing (or set application_credential_name with the user)",
        ));
    };
    Ok(Credentials::ApplicationCredential { credential, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
clouds:
  pw:
    auth:
      auth_url: https://keystone.example:5000
      username: alice
      password: s3cret-pw
      project_name: storage
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionTwo
    interface: internalURL
    identity_api_version: 3
    cacert: /etc/ssl/ca.pem
  app:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/v3/
      application_credential_id: 0123abcd
      application_credential_secret: app-s3cret
    verify: false
  appname:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/identity
      application_credential_name: op
      application_credential_secret: x
      username: bob
      domain_name: Default
  old:
    auth:
      auth_url: http://k/v2.0
      username: a
      password: b
      project_id: p
      user_id: u
    identity_api_version: 2
"#;

    #[test]
    fn parses_password_cloud() {
        let c = CloudConfig::from_clouds_yaml(YAML, "pw").unwrap();
        assert_eq!(c.name, "pw");
        assert_eq!(c.identity_v3_url(), "https://keystone.example:5000/v3");
        assert_eq!(c.region.as_deref(), Some("RegionTwo"));
        assert_eq!(c.interface, Interface::Internal);
        assert_eq!(c.tls.ca, Some(CaCert::Path("/etc/ssl/ca.pem".into())));
        assert!(c.tls.verify);
        match &c.credentials {
            Credentials::Password {
                user,
                password,
                project,
            } => {
                assert_eq!(
                    user,
                    &UserRef::Name {
                        name: "alice".into(),
                        domain: DomainRef::Name("Default".into())
                    }
                );
                assert_eq!(password.expose(), "s3cret-pw");
                assert_eq!(
                    project,
                    &ProjectRef::Name {
                        name: "storage".into(),
                        domain: DomainRef::Id("default".into())
                    }
                );
            }
            other => panic!("wrong credentials {other:?}"),
        }
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret-pw"), "{debug}");
    }

    #[test]
    fn parses_application_credentials() {
        let c = CloudConfig::from_clouds_yaml(YAML, "app").unwrap();
        assert_eq!(c.identity_v3_url(), "http://127.0.0.1:5000/v3");
        assert!(!c.tls.verify);
        assert_eq!(c.interface, Interface::Public);
        match &c.credentials {
            Credentials::ApplicationCredential { credential, secret } => {
                assert_eq!(credential, &AppCredentialRef::Id("0123abcd".into()));
                assert_eq!(secret.expose(), "app-s3cret");
            }
            other => panic!("wrong credentials {other:?}"),
        }
        assert!(!format!("{c:?}").contains("app-s3cret"));

        let c = CloudConfig::from_clouds_yaml(YAML, "appname").unwrap();
        assert_eq!(c.identity_v3_url(), "http://127.0.0.1:5000/identity/v3");
        assert!(matches!(
            &c.credentials,
            Credentials::ApplicationCredential {
                credential: AppCredentialRef::Name { name, user: UserRef::Name { name: u, domain: DomainRef::Name(d) } },
                ..
            } if name == "op" && u == "bob" && d == "Default"
        ));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |yaml: &str, cloud: &str| match CloudConfig::from_clouds_yaml(yaml, cloud) {
            Err(CloudError::Config { field, reason }) => (field, reason),
            other => panic!("expected a config error, got {other:?}"),
        };
        let (f, r) = err(YAML, "nope");
        assert_eq!(f, "clouds.nope");
        assert!(r.contains("\"pw\""), "{r}");
        assert_eq!(err(YAML, "old").0, "clouds.old.identity_api_version");
        let (f, _) = err(
            "clouds: {c: {auth: {username: a, password: b, project_id: p, user_domain_name: D}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.auth_url");
        let (f, _) = err(
            "clouds: {c: {auth: {auth_url: 'http://k', username: a, project_id: p, user_domain_name: D}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.password");
        let (f, _) = err(
            "clouds: {c: {auth: {auth_url: 'http://k', username: a, password: p, project_id: p}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.user_domain_name");
        let (f, _) = err(
            "clouds: {c: {auth: {auth_url: 'http://k', user_id: a, password: p, project_name: p}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.project_domain_name");
        let (f, _) = err(
            "clouds: {c: {auth_type: token, auth: {auth_url: 'http://k'}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth_type");
        let (f, _) = err(
            "clouds: {c: {auth_type: v3applicationcredential, auth: {auth_url: 'http://k', application_credential_id: i}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.application_credential_secret");
        let (f, _) = err(
            "clouds: {c: {interface: outer, auth: {auth_url: 'http://k', user_id: u, password: p, project_id: p}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.interface");
        let (f, _) = err("clouds: [1, 2]", "c");
        assert_eq!(f, "clouds.yaml");
        let (f, _) = err(
            "clouds: {c: {auth: {auth_url: 'ftp://k', user_id: u, password: p, project_id: p}}}",
            "c",
        );
        assert_eq!(f, "clouds.c.auth.auth_url");
        // A secret never shows up in an error either.
        match CloudConfig::from_clouds_yaml(
            "clouds: {c: {auth: {auth_url: 'http://k', username: a, password: pw-in-error, project_id: p}}}",
            "c",
        ) {
            Err(e) => assert!(!format!("{e} {e:?}").contains("pw-in-error")),
            Ok(c) => panic!("expected an error, got {c:?}"),
        }
    }

    #[test]
    fn env_vars_and_os_cloud() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let no_files = |p: &Path| Err::<String, String>(format!("{} absent", p.display()));
        let c = CloudConfig::from_env_with(
            env(&[
                ("OS_AUTH_URL", "http://k:5000/v3"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw"),
                ("OS_PROJECT_NAME", "p"),
                ("OS_USER_DOMAIN_NAME", "Default"),
                ("OS_PROJECT_DOMAIN_NAME", "Default"),
                ("OS_REGION_NAME", "R1"),
                ("OS_INTERFACE", "internal"),
                ("OS_INSECURE", "true"),
            ]),
            no_files,
        )
        .unwrap();
        assert_eq!(c.name, "envvars");
        assert_eq!(c.region.as_deref(), Some("R1"));
        assert_eq!(c.interface, Interface::Internal);
        assert!(!c.tls.verify);

        let c = CloudConfig::from_env_with(
            env(&[
                ("OS_CLOUD", "app"),
                ("OS_CLIENT_CONFIG_FILE", "/x/clouds.yaml"),
                ("OS_REGION_NAME", "R9"),
            ]),
            |p: &Path| {
                if p == Path::new("/x/clouds.yaml") {
                    Ok(YAML.to_string())
                } else {
                    Err("absent".into())
                }
            },
        )
        .unwrap();
        assert_eq!(c.name, "app");
        assert_eq!(c.region.as_deref(), Some("R9"));

        let c = CloudConfig::from_env_with(
            env(&[("OS_CLOUD", "pw"), ("HOME", "/home/me")]),
            |p: &Path| {
                if p == Path::new("/home/me/.config/openstack/clouds.yaml") {
                    Ok(YAML.to_string())
                } else {
                    Err("absent".into())
                }
            },
        )
        .unwrap();
        assert_eq!(c.name, "pw");

        match CloudConfig::from_env_with(env(&[]), no_files) {
            Err(CloudError::Config { field, .. }) => assert_eq!(field, "OS_CLOUD"),
            other => panic!("{other:?}"),
        }
        match CloudConfig::from_env_with(
            env(&[("OS_AUTH_URL", "http://k"), ("OS_USER_ID", "u")]),
            no_files,
        ) {
            Err(CloudError::Config { field, .. }) => assert_eq!(field, "OS_PASSWORD"),
            other => panic!("{other:?}"),
        }
        match CloudConfig::from_env_with(env(&[("OS_CLOUD", "pw")]), no_files) {
            Err(CloudError::Config { field, reason }) => {
                assert_eq!(field, "OS_CLIENT_CONFIG_FILE");
                assert!(reason.contains("/etc/openstack/clouds.yaml"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Found by the `cloud_config` fuzz target: serde_yaml quotes the value it could not use,
    /// so an env file (or a password of the wrong type) stored as clouds.yaml put the secret
    /// into the error, and from there into a status condition.
    #[test]
    fn yaml_errors_do_not_quote_the_input() {
        for (yaml, secret) in [
            (
                "OS_AUTH_URL=http://k\nOS_APPLICATION_CREDENTIAL_SECRET=env-app-secret-9\n",
                "env-app-secret-9",
            ),
            (
                "clouds: {c: {auth: {auth_url: 'http://k', user_id: u, password: [s3cret-in-list], project_id: p}}}",
                "s3cret-in-list",
            ),
            (
                "clouds: {c: {identity_api_version: {password: s3cret-in-version}, auth: {auth_url: 'http://k'}}}",
                "s3cret-in-version",
            ),
            (
                "clouds: {c: {verify: [s3cret-in-verify], auth: {auth_url: 'http://k'}}}",
                "s3cret-in-verify",
            ),
        ] {
            match CloudConfig::from_clouds_yaml(yaml, "c") {
                Err(e) => {
                    let shown = format!("{e} {e:?}");
                    assert!(!shown.contains(secret), "{shown}");
                    assert!(shown.contains("clouds"), "{shown}");
                }
                Ok(c) => panic!("expected an error, got {c:?}"),
            }
        }
        let e = CloudConfig::from_clouds_yaml("clouds: [1, 2]", "c").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn inline_ca_and_override() {
        let c = CloudConfig::from_clouds_yaml(
            "clouds: {c: {cacert: \"-----BEGIN CERTIFICATE-----\\nabc\", auth: {auth_url: 'http://k', user_id: u, password: p, project_id: p}}}",
            "c",
        )
        .unwrap();
        assert!(matches!(c.tls.ca, Some(CaCert::Pem(ref p)) if p.starts_with("-----BEGIN")));
        let c = c.with_ca_pem("PEM");
        assert_eq!(c.tls.ca, Some(CaCert::Pem("PEM".into())));
    }
}

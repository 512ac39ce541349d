//! Keystone v3 authentication: the request body for password and application-credential auth,
//! the token response, and [`TokenManager`], which caches the token, renews it before it
//! expires (and once after a 401), and makes concurrent callers share one renewal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::catalog::{Catalog, CatalogEntry};
use super::config::{AppCredentialRef, CloudConfig, Credentials, DomainRef, ProjectRef, UserRef};
use super::error::{ApiErrorKind, CallInfo, CloudError, ServiceType};
use super::secret::Secret;
use super::transport::send_once;

fn domain_json(d: &DomainRef) -> Value {
    match d {
        DomainRef::Id(id) => json!({ "id": id }),
        DomainRef::Name(name) => json!({ "name": name }),
    }
}

fn user_json(u: &UserRef) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    match u {
        UserRef::Id(id) => {
            m.insert("id".into(), json!(id));
        }
        UserRef::Name { name, domain } => {
            m.insert("name".into(), json!(name));
            m.insert("domain".into(), domain_json(domain));
        }
    }
    m
}

/// The body of `POST /v3/auth/tokens` for these credentials (Keystone API reference:
/// "Password authentication with scoped authorization", "Authenticating with an Application
/// Credential"). It contains the secret: it is sent, never logged.
pub fn auth_request_body(credentials: &Credentials) -> Value {
    match credentials {
        Credentials::Password {
            user,
            password,
            project,
        } => {
            let mut user = user_json(user);
            user.insert("password".into(), json!(password.expose()));
            let project = match project {
                ProjectRef::Id(id) => json!({ "id": id }),
                ProjectRef::Name { name, domain } => {
                    json!({ "name": name, "domain": domain_json(domain) })
                }
            };
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": project}
            }})
        }
        Credentials::ApplicationCredential { credential, secret } => {
            let mut cred = serde_json::Map::new();
            match credential {
                AppCredentialRef::Id(id) => {
                    cred.insert("id".into(), json!(id));
                }
                AppCredentialRef::Name { name, user } => {
                    cred.insert("name".into(), json!(name));
                    cred.insert("user".into(), Value::Object(user_json(user)));
                }
            }
            cred.insert("secret".into(), json!(secret.expose()));
            json!({"auth": {"identity": {
                "methods": ["application_credential"],
                "application_credential": cred
            }}})
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    expires_at: String,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
    #[serde(default)]
    project: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// What the client keeps of a token response.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenInfo {
    /// How long the token is valid from now: `expires_at − issued_at` when Keystone gives both
    /// (immune to clock skew between here and Keystone), else `expires_at − now`.
    pub lifetime: Duration,
    /// The service catalog.
    pub catalog: Catalog,
    /// The project the token is scoped to.
    pub project_id: Option<String>,
}

fn parse_time(field: &str, text: &str) -> Result<jiff::Timestamp, String> {
    // Keystone writes `2015-08-27T09:49:58.000000Z`; be lenient about a missing zone.
    text.parse::<jiff::Timestamp>()
        .or_else(|_| format!("{text}Z").parse::<jiff::Timestamp>())
        .map_err(|e| format!("token.{field} {text:?} is not a timestamp: {e}"))
}

/// Parses a token response body (`{"token": {…}}`), `now` being the local time.
pub fn parse_token_response(body: &[u8], now: SystemTime) -> Result<TokenInfo, String> {
    let resp: TokenResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a token response: {e}"))?;
    let expires = parse_time("expires_at", &resp.token.expires_at)?;
    let start = match &resp.token.issued_at {
        Some(issued) => parse_time("issued_at", issued)?,
        None => jiff::Timestamp::try_from(now).map_err(|e| e.to_string())?,
    };
    let lifetime = expires.duration_since(start);
    let lifetime = Duration::try_from(lifetime)
        .map_err(|_| format!("token expires ({expires}) before it is issued ({start})"))?;
    Ok(TokenInfo {
        lifetime,
        catalog: Catalog {
            entries: resp.token.catalog,
        },
        project_id: resp.token.project.map(|p| p.id),
    })
}

/// How long before expiry a token is renewed: the configured margin, but at most half the
/// token's lifetime (so a short-lived token is still used for a while).
pub fn renewal_margin(configured: Duration, lifetime: Duration) -> Duration {
    configured.min(lifetime / 2)
}

/// A valid token with its catalog.
#[derive(Debug)]
pub struct AuthState {
    /// The token (redacted in `Debug`).
    pub(crate) token: Secret,
    /// When to stop using it and get a new one.
    pub renew_at: Instant,
    /// The service catalog.
    pub catalog: Catalog,
    /// The scoped project.
    pub project_id: Option<String>,
    /// Which token this is (1, 2, …): a 401 invalidates only the token that got it.
    pub generation: u64,
}

/// Caches the token and renews it. All callers go through one async mutex, so when the token
/// expires the first caller renews it and the others wait for and reuse that renewal.
#[derive(Debug)]
pub struct TokenManager {
    config: Arc<CloudConfig>,
    http: reqwest::Client,
    backoff: Backoff,
    margin: Duration,
    state: Mutex<Option<Arc<AuthState>>>,
    issued: AtomicU64,
}

impl TokenManager {
    /// A manager that has no token yet.
    pub fn new(
        config: Arc<CloudConfig>,
        http: reqwest::Client,
        backoff: Backoff,
        margin: Duration,
    ) -> Self {
        Self {
            config,
            http,
            backoff,
            margin,
            state: Mutex::new(None),
            issued: AtomicU64::new(0),
        }
    }

    /// How many tokens this manager has obtained.
    pub fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// A valid token, authenticating if there is none or it is due for renewal.
    pub async fn current(&self) -> Result<Arc<AuthState>, CloudError> {
        let mut state = self.state.lock().await;
        if let Some(s) = state.as_ref() {
            if Instant::now() < s.renew_at {
                return Ok(Arc::clone(s));
            }
            tracing::debug!(cloud = %self.config.name, generation = s.generation, "token due for renewal");
        }
        let fresh = Arc::new(self.authenticate().await?);
        *state = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Drops token `generation` after a service rejected it with 401, unless it was already
    /// replaced (by a concurrent caller's renewal).
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.as_ref().is_some_and(|s| s.generation == generation) {
            tracing::info!(cloud = %self.config.name, generation, "token rejected with 401: renewing");
            *state = None;
        }
    }

    async fn authenticate(&self) -> Result<AuthState, CloudError> {
        let url = format!("{}/auth/tokens", self.config.identity_v3_url());
        let call = CallInfo {
            service: ServiceType::Identity,
            method: "POST".into(),
            path: reqwest::Url::parse(&url)
                .map(|u| u.path().to_string())
                .unwrap_or_else(|_| "/v3/auth/tokens".into()),
        };
        let body = auth_request_body(&self.config.credentials);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = send_once(&call, self.http.post(&url).json(&body)).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let err = match result {
                Ok(resp) if resp.status == 201 || resp.status == 200 => {
                    let request_id = resp.request_id.as_deref().unwrap_or("-");
                    let token = resp
                        .headers
                        .get("x-subject-token")
                        .and_then(|v| v.to_str().ok())
                        .filter(|t| !t.is_empty())
                        .map(Secret::new)
                        .ok_or_else(|| CloudError::Decode {
                            call: call.clone(),
                            detail: "no X-Subject-Token header in Keystone's answer".into(),
                        })?;
                    let info =
                        parse_token_response(&resp.body, SystemTime::now()).map_err(|detail| {
                            CloudError::Decode {
                                call: call.clone(),
                                detail,
                            }
                        })?;
                    let margin = renewal_margin(self.margin, info.lifetime);
                    let generation = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::info!(
                        cloud = %self.config.name,
                        request_id = %request_id,
                        status = resp.status,
                        elapsed_ms,
                        generation,
                        lifetime_s = info.lifetime.as_secs(),
                        "authenticated to Keystone"
                    );
                    return Ok(AuthState {
                        token,
                        renew_at: started + info.lifetime.saturating_sub(margin),
                        catalog: info.catalog,
                        project_id: info.project_id,
                        generation,
                    });
                }
                Ok(resp) => {
                    let api = resp.to_api_error(&call);
                    tracing::warn!(
                        cloud = %self.config.name,
                        request_id = %api.request_id.as_deref().unwrap_or("-"),
                        status = api.status,
                        elapsed_ms,
                        attempt,
                        cloud_message = %api.message,
                        "Keystone authentication failed"
                    );
                    if api.kind == ApiErrorKind::Unauthorized {
                        return Err(CloudError::AuthFailed {
                            cloud: self.config.name.clone(),
                            message: api.message,
                            request_id: api.request_id,
                        });
                    }
                    CloudError::from(api)
                }
                Err(e) => {
                    tracing::warn!(cloud = %self.config.name, request_id = %"-", elapsed_ms, attempt, error = %e, "Keystone authentication failed");
                    e
                }
            };
            // Getting a token has no side effect worth guarding: retry whatever is retryable.
            if !err.is_retryable() || !self.backoff.allows_another(attempt) {
                return Err(err);
            }
            let mut delay = self.backoff.delay(attempt - 1);
            if let Some(ra) = err.retry_after() {
                delay = delay.max(ra);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_body() {
        let creds = Credentials::Password {
            user: UserRef::Name {
                name: "alice".into(),
                domain: DomainRef::Name("Default".into()),
            },
            password: Secret::new("pw"),
            project: ProjectRef::Name {
                name: "storage".into(),
                domain: DomainRef::Id("default".into()),
            },
        };
        assert_eq!(
            auth_request_body(&creds),
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "alice", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "storage", "domain": {"id": "default"}}}
            }})
        );
        let creds = Credentials::Password {
            user: UserRef::Id("u1".into()),
            password: Secret::new("pw"),
            project: ProjectRef::Id("p1".into()),
        };
        assert_eq!(
            auth_request_body(&creds),
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {"id": "u1", "password": "pw"}}},
                "scope": {"project": {"id": "p1"}}
            }})
        );
    }

    #[test]
    fn application_credential_body() {
        let creds = Credentials::ApplicationCredential {
            credential: AppCredentialRef::Id("ac1".into()),
            secret: Secret::new("s"),
        };
        assert_eq!(
            auth_request_body(&creds),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac1", "secret": "s"}}}})
        );
        let creds = Credentials::ApplicationCredential {
            credential: AppCredentialRef::Name {
                name: "op".into(),
                user: UserRef::Name {
                    name: "bob".into(),
                    domain: DomainRef::Id("default".into()),
                },
            },
            secret: Secret::new("s"),
        };
        assert_eq!(
            auth_request_body(&creds),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"name": "op", "secret": "s",
                    "user": {"name": "bob", "domain": {"id": "default"}}}}}})
        );
    }

    #[test]
    fn token_response() {
        let body =
            br#"{"token": {"methods": ["password"], "expires_at": "2015-11-06T15:32:17.893769Z",
            "issued_at": "2015-11-06T14:32:17.893797Z", "project": {"id": "p1", "name": "x",
            "domain": {"id": "default", "name": "Default"}},
            "catalog": [{"type": "compute", "id": "c", "name": "nova", "endpoints": [
                {"id": "e", "interface": "public", "region": "RegionOne", "region_id": "RegionOne",
                 "url": "http://h:8774/v2.1"}]}]}}"#;
        // issued_at given: the local clock does not matter.
        let info = parse_token_response(body, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(info.lifetime.as_secs(), 3599);
        assert_eq!(info.project_id.as_deref(), Some("p1"));
        assert_eq!(
            info.catalog.entries[0].endpoints[0].url,
            "http://h:8774/v2.1"
        );

        let body = br#"{"token": {"expires_at": "2015-11-06T15:32:17Z"}}"#;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_446_820_337); // 14:32:17
        assert_eq!(
            parse_token_response(body, now).unwrap().lifetime.as_secs(),
            3600
        );
        assert!(parse_token_response(b"{}", now).is_err());
        assert!(
            parse_token_response(br#"{"token": {"expires_at": "tomorrow"}}"#, now)
                .unwrap_err()
                .contains("expires_at")
        );
        let past = br#"{"token": {"expires_at": "2015-11-06T13:32:17Z", "issued_at": "2015-11-06T14:32:17Z"}}"#;
        assert!(parse_token_response(past, now).is_err());
    }

    #[test]
    fn margins() {
        let m = Duration::from_secs(300);
        assert_eq!(renewal_margin(m, Duration::from_secs(3600)), m);
        assert_eq!(
            renewal_margin(m, Duration::from_secs(4)),
            Duration::from_secs(2)
        );
    }
}

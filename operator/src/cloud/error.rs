//! [`CloudError`]: the one error type of the cloud client. It separates what is worth retrying
//! (connection trouble, 5xx, 429, 409 on a busy resource) from what is not (400 with the
//! service's own message, 403/413 over quota, 404), carries the cloud's own message for
//! conditions, and never contains a secret.

use std::fmt;
use std::time::Duration;

/// The OpenStack services the client talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceType {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Cinder.
    BlockStorage,
    /// Neutron.
    Network,
    /// Glance.
    Image,
}

impl ServiceType {
    /// The official service type (service-types-authority).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Identity => "identity",
            ServiceType::Compute => "compute",
            ServiceType::BlockStorage => "block-storage",
            ServiceType::Network => "network",
            ServiceType::Image => "image",
        }
    }

    /// The catalog types that name this service, preferred first (Cinder is still published
    /// as `volumev3` or `volume` by many clouds).
    pub fn catalog_types(self) -> &'static [&'static str] {
        match self {
            ServiceType::Identity => &["identity"],
            ServiceType::Compute => &["compute"],
            ServiceType::BlockStorage => &["block-storage", "volumev3", "volume", "block-store"],
            ServiceType::Network => &["network"],
            ServiceType::Image => &["image"],
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of HTTP error status a service answered, classified for retrying and for
/// conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 400: the request was wrong; the message says why. Terminal.
    BadRequest,
    /// 401 after one token renewal. Terminal.
    Unauthorized,
    /// 403 that is not about quota (policy). Terminal.
    Forbidden,
    /// 403/413 (Nova, Cinder) or Neutron's 409 `OverQuota`: over quota. Terminal until the
    /// quota changes; the message is the cloud's quota message.
    QuotaExceeded,
    /// 404. Terminal (deletes treat it as already gone).
    NotFound,
    /// 409: a conflicting state (a busy resource, a duplicate). Retryable for idempotent calls.
    Conflict,
    /// 429 (or 503 with Retry-After): slow down. Retryable after `retry_after`.
    RateLimited,
    /// 5xx. Retryable for idempotent calls; ambiguous for creates.
    ServerError,
    /// Any other status. Terminal.
    Other,
}

impl ApiErrorKind {
    /// Classifies a status code, using the message and Neutron's error type to recognise
    /// quota errors (Nova says 403 "Quota exceeded …", Cinder 413 "…exceeded for quota…",
    /// Neutron 409 with type `OverQuota`).
    pub fn classify(status: u16, message: &str, error_type: Option<&str>) -> Self {
        let quota_words = {
            let m = message.to_ascii_lowercase();
            m.contains("quota") || m.contains("limit exceeded") || m.contains("limitexceeded")
        };
        match status {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 if quota_words => ApiErrorKind::QuotaExceeded,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 if error_type == Some("OverQuota") => ApiErrorKind::QuotaExceeded,
            409 => ApiErrorKind::Conflict,
            413 => ApiErrorKind::QuotaExceeded,
            429 => ApiErrorKind::RateLimited,
            500..=599 => ApiErrorKind::ServerError,
            _ => ApiErrorKind::Other,
        }
    }

    /// Whether an idempotent request that failed so is worth repeating.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ApiErrorKind::Conflict | ApiErrorKind::RateLimited | ApiErrorKind::ServerError
        )
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiErrorKind::BadRequest => "bad request",
            ApiErrorKind::Unauthorized => "unauthorized",
            ApiErrorKind::Forbidden => "forbidden",
            ApiErrorKind::QuotaExceeded => "over quota",
            ApiErrorKind::NotFound => "not found",
            ApiErrorKind::Conflict => "conflict",
            ApiErrorKind::RateLimited => "rate limited",
            ApiErrorKind::ServerError => "server error",
            ApiErrorKind::Other => "unexpected status",
        })
    }
}

/// Which call failed: service, method and path (never the query's secrets: there are none,
/// and never a body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallInfo {
    /// The service called.
    pub service: ServiceType,
    /// The HTTP method.
    pub method: String,
    /// The URL path (without host and query).
    pub path: String,
}

impl fmt::Display for CallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.service, self.method, self.path)
    }
}

/// An error status answered by a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The call that failed.
    pub call: CallInfo,
    /// The HTTP status.
    pub status: u16,
    /// Its classification.
    pub kind: ApiErrorKind,
    /// The service's own message (from `{"badRequest": {"message": …}}`,
    /// `{"NeutronError": {"message": …}}`, `{"error": {"message": …}}`, or the text body).
    pub message: String,
    /// The `x-openstack-request-id` (or `x-compute-request-id`) of the response.
    pub request_id: Option<String>,
    /// `Retry-After` of a 429/503, when given.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: HTTP {} {}: {}",
            self.call, self.status, self.kind, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

/// How a request failed before an HTTP status came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be made: the request was never sent (safe to repeat, even a create).
    Connect,
    /// No answer in time: the request may or may not have taken effect.
    Timeout,
    /// The connection broke while sending or receiving: may or may not have taken effect.
    Broken,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "cannot connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Broken => "connection broken",
        })
    }
}

/// Every error of the cloud client.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The cloud configuration is unusable; `field` names the key (`clouds.x.auth.auth_url`,
    /// `OS_PASSWORD`).
    #[error("cloud configuration: {field}: {reason}")]
    Config {
        /// The offending key.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request the client refuses to send: `field` names the offending input.
    #[error("invalid request: {field}: {reason}")]
    InvalidInput {
        /// The offending input (`user_data`, `tags[2]`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request got no HTTP answer.
    #[error("{call}: {kind}: {detail}")]
    Transport {
        /// The call.
        call: CallInfo,
        /// How it failed.
        kind: TransportKind,
        /// The transport's description (no URLs with credentials: there are none).
        detail: String,
    },
    /// A service answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Keystone refused the credentials.
    #[error("Keystone refused the credentials of cloud {cloud:?}: {message}")]
    AuthFailed {
        /// The clouds.yaml entry.
        cloud: String,
        /// Keystone's message.
        message: String,
        /// The request ID of Keystone's answer.
        request_id: Option<String>,
    },
    /// The catalog has no endpoint for a service, interface and region.
    #[error("no {service} endpoint in the catalog for interface {interface}{}: {detail}", region.as_ref().map(|r| format!(" in region {r}")).unwrap_or_default())]
    NoEndpoint {
        /// The service looked for.
        service: ServiceType,
        /// The interface looked for.
        interface: String,
        /// The region looked for.
        region: Option<String>,
        /// What the catalog has instead.
        detail: String,
    },
    /// The service is too old for what the client needs.
    #[error("{service} API microversion {required} is needed, the cloud supports {supported}")]
    UnsupportedMicroversion {
        /// The service.
        service: ServiceType,
        /// The lowest microversion the client needs.
        required: String,
        /// What the cloud offers.
        supported: String,
    },
    /// A response could not be understood.
    #[error("{call}: unexpected response: {detail}")]
    Decode {
        /// The call.
        call: CallInfo,
        /// What was wrong.
        detail: String,
    },
    /// A write the client did not send: this replica's leader fence is closed (it lost, or
    /// could not renew, its Lease).
    #[error("{call}: not sent: this replica no longer leads")]
    Fenced {
        /// The call.
        call: CallInfo,
    },
    /// A lookup by name or ID found nothing.
    #[error("no {kind} named or with ID {name:?}")]
    NotFound {
        /// What was looked for (`image`, `flavor`, `network`).
        kind: &'static str,
        /// The name or ID.
        name: String,
    },
    /// A lookup by name found several resources.
    #[error("{count} {kind}s are named {name:?}: use the ID")]
    Ambiguous {
        /// What was looked for.
        kind: &'static str,
        /// The name.
        name: String,
        /// How many matched.
        count: usize,
    },
    /// A server went to ERROR; `message` is Nova's fault message.
    #[error("server {id} is in ERROR: {message}")]
    ServerFault {
        /// The server ID.
        id: String,
        /// Nova's `fault.message` (or a note that there was none).
        message: String,
    },
    /// A resource reached a failed status (a volume in `error`, an `error_deleting`).
    #[error("{kind} {id} reached status {status}")]
    ResourceFailed {
        /// The resource kind.
        kind: &'static str,
        /// Its ID.
        id: String,
        /// The status.
        status: String,
    },
    /// A wait gave up before the resource reached the status.
    #[error("{kind} {id} did not reach {wanted} in time (last status {last})")]
    WaitTimedOut {
        /// The resource kind.
        kind: &'static str,
        /// Its ID.
        id: String,
        /// The wanted status(es).
        wanted: String,
        /// The last status seen.
        last: String,
    },
    /// A resource with the wanted name exists but differs from what was asked (e.g. a key pair
    /// with another public key): adopting it would be wrong.
    #[error("{kind} {name:?} exists but differs: {detail}")]
    Mismatch {
        /// The resource kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// How it differs.
        detail: String,
    },
}

impl From<ApiError> for CloudError {
    fn from(e: ApiError) -> Self {
        CloudError::Api(Box::new(e))
    }
}

impl CloudError {
    /// Whether repeating an idempotent request (or the reconcile step) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CloudError::Transport { .. } => true,
            CloudError::Api(e) => e.kind.is_retryable(),
            CloudError::WaitTimedOut { .. } => true,
            // The next leader carries on: never a reason to stall the cluster.
            CloudError::Fenced { .. } => true,
            _ => false,
        }
    }

    /// Whether a non-idempotent request (a create) that failed so may nevertheless have taken
    /// effect: a timeout, a broken connection or a 5xx. The caller must look the resource up
    /// (by name/tag) before trying again. A connect error or a 429 is not ambiguous: the
    /// request was not acted on.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            CloudError::Transport { kind, .. } => *kind != TransportKind::Connect,
            CloudError::Api(e) => e.kind == ApiErrorKind::ServerError,
            _ => false,
        }
    }

    /// Whether the request was certainly not acted on and may be repeated even if it creates
    /// something: a connect error or a 429.
    pub fn is_not_sent(&self) -> bool {
        match self {
            CloudError::Transport { kind, .. } => *kind == TransportKind::Connect,
            CloudError::Api(e) => e.kind == ApiErrorKind::RateLimited,
            _ => false,
        }
    }

    /// Whether the cloud said 404 (or a lookup found nothing).
    pub fn is_not_found(&self) -> bool {
        match self {
            CloudError::Api(e) => e.kind == ApiErrorKind::NotFound,
            CloudError::NotFound { .. } => true,
            _ => false,
        }
    }

    /// The classification of an HTTP error, if this is one.
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        match self {
            CloudError::Api(e) => Some(e.kind),
            _ => None,
        }
    }

    /// The HTTP status, if a service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CloudError::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// The cloud's own words, for a condition message: the service's error message (a quota
    /// message, a 400's reason), Nova's server fault, Keystone's refusal.
    pub fn cloud_message(&self) -> Option<&str> {
        match self {
            CloudError::Api(e) => Some(&e.message),
            CloudError::ServerFault { message, .. } => Some(message),
            CloudError::AuthFailed { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The `x-openstack-request-id` of the failed answer, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            CloudError::Api(e) => e.request_id.as_deref(),
            CloudError::AuthFailed { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// How long the cloud asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// A CamelCase reason for a Kubernetes condition or a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            CloudError::Config { .. } => "InvalidCloudConfig",
            CloudError::InvalidInput { .. } => "InvalidCloudRequest",
            CloudError::Transport { .. } => "CloudUnreachable",
            CloudError::Api(e) => match e.kind {
                ApiErrorKind::BadRequest => "CloudRejectedRequest",
                ApiErrorKind::Unauthorized => "CloudUnauthorized",
                ApiErrorKind::Forbidden => "CloudForbidden",
                ApiErrorKind::QuotaExceeded => "QuotaExceeded",
                ApiErrorKind::NotFound => "CloudResourceNotFound",
                ApiErrorKind::Conflict => "CloudConflict",
                ApiErrorKind::RateLimited => "CloudRateLimited",
                ApiErrorKind::ServerError => "CloudServerError",
                ApiErrorKind::Other => "OpenStackError",
            },
            CloudError::AuthFailed { .. } => "AuthenticationFailed",
            CloudError::NoEndpoint { .. } => "EndpointNotFound",
            CloudError::UnsupportedMicroversion { .. } => "UnsupportedMicroversion",
            CloudError::Decode { .. } => "UnexpectedCloudResponse",
            CloudError::NotFound { .. } => "CloudResourceNotFound",
            CloudError::Ambiguous { .. } => "AmbiguousName",
            CloudError::ServerFault { .. } => "ServerFault",
            CloudError::ResourceFailed { .. } => "CloudResourceFailed",
            CloudError::WaitTimedOut { .. } => "CloudWaitTimedOut",
            CloudError::Mismatch { .. } => "CloudResourceMismatch",
            CloudError::Fenced { .. } => "NotLeading",
        }
    }
}

/// The longest service message kept in an error (HTML error pages can be long), in characters.
pub const MAX_MESSAGE: usize = 1000;

/// What replaces a secret-looking value in a cloud's message.
pub const REDACTED: &str = "<redacted>";

/// `key: value` / `key=value` / `"key": "value"` pairs whose value is a credential: tokens
/// (`X-Auth-Token`, `X-Subject-Token`, `token`), passwords, secrets (an application
/// credential's `secret`), passcodes, TOTP. The value runs to the next quote, comma, `;`, `}`
/// or whitespace (the whole quoted string when it is quoted).
static SECRET_PAIR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // Invariant: the pattern is a constant, compiled in every test run.
    regex::Regex::new(
        r#"(?i)((?:x-auth-token|x-subject-token|x-service-token|auth[_-]?token|token|password|passwd|pass|passcode|totp|secret|application_credential_secret|credential|api[_-]?key)["']?\s*[:=]\s*)("[^"]*"?|'[^']*'?|[^\s"',;}\]]+)"#,
    )
    .expect("the secret-pair pattern compiles")
});

/// Opaque credential-shaped runs: Keystone Fernet tokens (`gAAAAA…`, URL-safe base64) and any
/// base64-looking run of 40 characters or more (application credential secrets, PKI tokens).
/// UUIDs and hex IDs (no upper case) are left alone.
static OPAQUE_RUN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    // Invariant: the pattern is a constant, compiled in every test run.
    regex::Regex::new(r"gAAAA[A-Za-z0-9_=-]{10,}|[A-Za-z0-9_+/=-]{40,}")
        .expect("the opaque-run pattern compiles")
});

/// Makes a cloud's error text fit for a status condition, an Event or a log line: every
/// token-like value (see [`SECRET_PAIR`] and [`OPAQUE_RUN`]) replaced by [`REDACTED`], control
/// characters turned into spaces, and the result capped at [`MAX_MESSAGE`] characters.
pub fn sanitize_cloud_text(text: &str) -> String {
    let pairs = SECRET_PAIR.replace_all(text, |c: &regex::Captures<'_>| {
        let value = &c[2];
        let quote = match value.chars().next() {
            Some(q @ ('"' | '\'')) => q.to_string(),
            _ => String::new(),
        };
        let close = if !quote.is_empty() && value.len() > 1 && value.ends_with(quote.as_str()) {
            quote.as_str()
        } else {
            ""
        };
        format!("{}{quote}{REDACTED}{close}", &c[1])
    });
    let runs = OPAQUE_RUN.replace_all(&pairs, |c: &regex::Captures<'_>| {
        let run = &c[0];
        // A Fernet token anywhere in the run (not only at its start: `----gAAAA…` is one run).
        let mixed = run.contains("gAAAA")
            || (run.chars().any(|c| c.is_ascii_uppercase())
                && run.chars().any(|c| c.is_ascii_lowercase())
                && run.chars().any(|c| c.is_ascii_digit()));
        if mixed {
            REDACTED.to_string()
        } else {
            run.to_string()
        }
    });
    let clean: String = runs
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > MAX_MESSAGE {
        clean.chars().take(MAX_MESSAGE).collect::<String>() + "…"
    } else {
        clean
    }
}

/// Extracts the service's message and (Neutron) error type from an error body:
/// `{"<kind>": {"message": …, "code": …}}` (Nova, Cinder), `{"NeutronError": {"type": …,
/// "message": …}}`, `{"error": {"message": …}}` (Keystone), `{"message": …}`, or plain text.
///
/// The message is sanitized ([`sanitize_cloud_text`]): capped, with anything token-like
/// redacted, since services echo requests (and their tokens) in their errors.
pub fn parse_error_body(body: &[u8]) -> (String, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if let Some((message, kind)) = serde_json::from_str::<serde_json::Value>(trimmed)
        .ok()
        .and_then(|v| find_message(&v))
    {
        return (
            sanitize_cloud_text(&message),
            kind.map(|k| sanitize_cloud_text(&k)),
        );
    }
    let mut message: String = strip_html(trimmed);
    if message.is_empty() {
        message = "(no message in the response)".to_string();
    }
    (sanitize_cloud_text(&message), None)
}

fn find_message(value: &serde_json::Value) -> Option<(String, Option<String>)> {
    let obj = value.as_object()?;
    if let Some(m) = obj.get("message").and_then(|m| m.as_str()) {
        let kind = obj.get("type").and_then(|t| t.as_str()).map(str::to_string);
        return Some((m.to_string(), kind));
    }
    if let Some(m) = obj.get("faultstring").and_then(|m| m.as_str()) {
        return Some((m.to_string(), None));
    }
    // One level down: {"badRequest": {...}}, {"NeutronError": {...}}, {"error": {...}}.
    for inner in obj.values() {
        if let Some(found) = inner.as_object().and_then(|_| find_message(inner)) {
            return Some(found);
        }
    }
    // Neutron also answers {"NeutronError": "text"} in some paths.
    obj.get("NeutronError")
        .and_then(|m| m.as_str())
        .map(|m| (m.to_string(), None))
}

/// Turns an HTML error page into its text (tags dropped, whitespace collapsed).
fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_each_service_shape() {
        let (m, t) = parse_error_body(
            br#"{"forbidden": {"code": 403, "message": "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"}}"#,
        );
        assert!(m.starts_with("Quota exceeded for instances"));
        assert_eq!(t, None);
        assert_eq!(
            ApiErrorKind::classify(403, &m, None),
            ApiErrorKind::QuotaExceeded
        );

        let (m, t) = parse_error_body(
            br#"{"overLimit": {"code": 413, "message": "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded for quota 'volumes'.", "retryAfter": "0"}}"#,
        );
        assert!(m.contains("exceeded for quota 'volumes'"));
        assert_eq!(
            ApiErrorKind::classify(413, &m, t.as_deref()),
            ApiErrorKind::QuotaExceeded
        );

        let (m, t) = parse_error_body(
            br#"{"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['security_group'].", "detail": ""}}"#,
        );
        assert_eq!(t.as_deref(), Some("OverQuota"));
        assert_eq!(
            ApiErrorKind::classify(409, &m, t.as_deref()),
            ApiErrorKind::QuotaExceeded
        );

        let (m, t) = parse_error_body(
            br#"{"NeutronError": {"type": "SecurityGroupRuleExists", "message": "Security group rule already exists. Rule id is 5.", "detail": ""}}"#,
        );
        assert_eq!(
            ApiErrorKind::classify(409, &m, t.as_deref()),
            ApiErrorKind::Conflict
        );

        let (m, _) = parse_error_body(
            br#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#,
        );
        assert_eq!(m, "The request you have made requires authentication.");

        let (m, _) = parse_error_body(
            b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>No image found with ID x</body></html>",
        );
        assert_eq!(m, "404 Not Found 404 Not Found No image found with ID x");

        let (m, _) = parse_error_body(b"");
        assert_eq!(m, "(no message in the response)");
        let (m, _) = parse_error_body(&vec![b'x'; 5000]);
        assert!(m.chars().count() <= MAX_MESSAGE + 1);
    }

    /// A Keystone Fernet token, an application credential secret and a password, as a cloud
    /// might echo them back.
    const TOKEN: &str = "gAAAAABnX2kq8f3vT9Zb1c7yW4uPqLrS0mDxE6aHjK5oNtI3gVfYzC2bRwQ8eUiOl";
    const APP_SECRET: &str = "Zk3vQ9pL2mX7rT5wY8nB4cF6hJ1dG0sA-eKuIoPq_RtUyWzVxNbMcL";
    const PASSWORD: &str = "hunter2-Secret!";

    fn assert_clean(message: &str) {
        for secret in [TOKEN, APP_SECRET, PASSWORD, "gAAAAABnX2kq8f3v"] {
            assert!(!message.contains(secret), "{secret} survived in {message}");
        }
    }

    #[test]
    fn error_bodies_that_echo_credentials_are_stripped() {
        let bodies = [
            format!(
                r#"{{"badRequest": {{"code": 400, "message": "Invalid request headers {{'X-Auth-Token': '{TOKEN}', 'Accept': 'application/json'}}"}}}}"#
            ),
            format!(
                r#"{{"error": {{"code": 400, "message": "Invalid input for field 'identity': {{"token": {{"id": "{TOKEN}"}}, "methods": ["token"]}}"}}}}"#
            ),
            format!(
                r#"{{"error": {{"code": 401, "message": "bad auth {{"password": {{"user": {{"name": "admin", "password": "{PASSWORD}"}}}}}}"}}}}"#
            ),
            format!(
                r#"{{"error": {{"message": "application_credential: {{'id': 'a1b2', 'secret': '{APP_SECRET}'}}"}}}}"#
            ),
            format!(
                r#"{{"NeutronError": {{"type": "BadRequest", "message": "echo X-Auth-Token={TOKEN}; X-Subject-Token: {TOKEN}"}}}}"#
            ),
            format!(
                "<html><body>Request had header X-Auth-Token: {TOKEN} and body secret={APP_SECRET}</body></html>"
            ),
            format!("upstream said: {TOKEN} {APP_SECRET}"),
        ];
        for body in &bodies {
            let (message, _) = parse_error_body(body.as_bytes());
            assert_clean(&message);
            assert!(message.contains(REDACTED), "{message}");
        }
        // Useful text survives: IDs (UUIDs, hex project IDs), quota words, the field names.
        let (m, _) = parse_error_body(
            br#"{"itemNotFound": {"code": 404, "message": "Volume 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 could not be found in project 8f2e7c1d9a6b4e3f8a2d1c0b9e8f7a6d."}}"#,
        );
        assert_eq!(
            m,
            "Volume 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 could not be found in project 8f2e7c1d9a6b4e3f8a2d1c0b9e8f7a6d."
        );
    }

    /// Found by the `cloud_error_body` fuzz target (libFuzzer, 17492 runs): a Fernet token
    /// inside a longer run of dashes was kept, since the run as a whole has no digits.
    #[test]
    fn a_fernet_token_inside_a_longer_run_is_redacted() {
        let body = format!("{{&NernErrrror{}gAAAA-----------\"", "-".repeat(58));
        let (m, _) = parse_error_body(body.as_bytes());
        assert!(!m.contains("gAAAA"), "{m}");
        let body = format!("text {}{TOKEN} text", "_".repeat(50));
        let (m, _) = parse_error_body(body.as_bytes());
        assert_clean(&m);
    }

    #[test]
    fn json_messages_are_capped_too() {
        let long = format!(r#"{{"error": {{"message": "{}"}}}}"#, "word ".repeat(2000));
        let (m, _) = parse_error_body(long.as_bytes());
        assert!(m.chars().count() <= MAX_MESSAGE + 1, "{}", m.len());
        // A token at the end of a long message is gone too (redaction comes before the cap).
        let long = format!(
            r#"{{"error": {{"message": "{} X-Auth-Token: {TOKEN}"}}}}"#,
            "x".repeat(990)
        );
        let (m, _) = parse_error_body(long.as_bytes());
        assert_clean(&m);
    }

    #[test]
    fn api_error_display_and_condition_text_carry_no_token() {
        let call = CallInfo {
            service: ServiceType::Compute,
            method: "POST".into(),
            path: "/servers".into(),
        };
        let body =
            format!(r#"{{"badRequest": {{"code": 400, "message": "X-Auth-Token: {TOKEN}"}}}}"#);
        let (message, kind) = parse_error_body(body.as_bytes());
        let error = CloudError::from(ApiError {
            call,
            status: 400,
            kind: ApiErrorKind::classify(400, &message, kind.as_deref()),
            message,
            request_id: Some("req-1".into()),
            retry_after: None,
        });
        assert_clean(&error.to_string());
        assert_clean(&format!("{error:?}"));
        assert_clean(error.cloud_message().unwrap_or_default());
    }

    #[test]
    fn classification() {
        use ApiErrorKind::*;
        assert_eq!(
            ApiErrorKind::classify(400, "Invalid input", None),
            BadRequest
        );
        assert_eq!(
            ApiErrorKind::classify(403, "Policy doesn't allow x", None),
            Forbidden
        );
        assert_eq!(ApiErrorKind::classify(404, "", None), NotFound);
        assert_eq!(ApiErrorKind::classify(409, "busy", None), Conflict);
        assert_eq!(ApiErrorKind::classify(429, "", None), RateLimited);
        assert_eq!(ApiErrorKind::classify(500, "", None), ServerError);
        assert_eq!(ApiErrorKind::classify(503, "", None), ServerError);
        assert_eq!(ApiErrorKind::classify(418, "", None), Other);
        for k in [Conflict, RateLimited, ServerError] {
            assert!(k.is_retryable());
        }
        for k in [
            BadRequest,
            Unauthorized,
            Forbidden,
            QuotaExceeded,
            NotFound,
            Other,
        ] {
            assert!(!k.is_retryable());
        }
    }

    fn api(status: u16, kind: ApiErrorKind) -> CloudError {
        ApiError {
            call: CallInfo {
                service: ServiceType::Compute,
                method: "POST".into(),
                path: "/v2.1/servers".into(),
            },
            status,
            kind,
            message: "the cloud's words".into(),
            request_id: Some("req-1".into()),
            retry_after: None,
        }
        .into()
    }

    #[test]
    fn retryable_ambiguous_not_sent() {
        let transport = |kind| CloudError::Transport {
            call: CallInfo {
                service: ServiceType::Network,
                method: "GET".into(),
                path: "/".into(),
            },
            kind,
            detail: "x".into(),
        };
        let connect = transport(TransportKind::Connect);
        assert!(connect.is_retryable() && connect.is_not_sent() && !connect.is_ambiguous());
        let timeout = transport(TransportKind::Timeout);
        assert!(timeout.is_retryable() && !timeout.is_not_sent() && timeout.is_ambiguous());
        let five = api(502, ApiErrorKind::ServerError);
        assert!(five.is_retryable() && five.is_ambiguous() && !five.is_not_sent());
        let slow = api(429, ApiErrorKind::RateLimited);
        assert!(slow.is_retryable() && slow.is_not_sent() && !slow.is_ambiguous());
        let quota = api(403, ApiErrorKind::QuotaExceeded);
        assert!(!quota.is_retryable() && !quota.is_ambiguous());
        assert_eq!(quota.reason(), "QuotaExceeded");
        assert_eq!(quota.cloud_message(), Some("the cloud's words"));
        assert_eq!(quota.request_id(), Some("req-1"));
        assert_eq!(
            quota.to_string(),
            "compute POST /v2.1/servers: HTTP 403 over quota: the cloud's words (request req-1)"
        );
        assert!(api(404, ApiErrorKind::NotFound).is_not_found());
    }
}

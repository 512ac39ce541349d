//! Calls to one OpenStack service: the token header, the endpoint from the catalog, the
//! per-service limits, retries with backoff for what may be retried, one token renewal on 401,
//! and a tracing line with `x-openstack-request-id` for every attempt.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::auth::{AuthState, TokenManager};
use super::backoff::Backoff;
use super::config::CloudConfig;
use super::error::{ApiErrorKind, CallInfo, CloudError, ServiceType};
use super::limits::{Limiter, Limits};
use super::observe::{CallEvent, CallOutcome, ObserverSlot};
use super::transport::{RawResponse, Timeouts, send_once};

/// The operator's `User-Agent`: `gluster-operator/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("gluster-operator/", env!("CARGO_PKG_VERSION"));

/// Tuning of the client. The defaults suit the operator.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOptions {
    /// Connect and request timeouts.
    pub timeouts: Timeouts,
    /// Retries of idempotent requests (and of creates that were certainly not sent).
    pub backoff: Backoff,
    /// A `Retry-After` longer than this is not waited for: the error is returned, carrying the
    /// delay, so the reconciler requeues instead of holding a task.
    pub max_retry_after: Duration,
    /// Renew the token this long before it expires (at most half its lifetime).
    pub token_renew_margin: Duration,
    /// Limits applied to each service separately.
    pub limits: Limits,
    /// Limits for particular services, overriding `limits`.
    pub service_limits: Vec<(ServiceType, Limits)>,
    /// Told about every HTTP attempt to a service (service, method, outcome class).
    pub observer: ObserverSlot,
    /// The `User-Agent` of every request (the clouds' access logs tell clients apart by it).
    pub user_agent: String,
    /// The leader's write fence: a request other than GET/HEAD is not sent while it is closed
    /// ([`CloudError::Fenced`]). None: every write goes out (no leader election).
    pub fence: Option<crate::fence::Fence>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(60),
            token_renew_margin: Duration::from_secs(300),
            limits: Limits::default(),
            service_limits: Vec::new(),
            observer: ObserverSlot::default(),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            fence: None,
        }
    }
}

impl ClientOptions {
    /// The limits of `service`.
    pub fn limits_for(&self, service: ServiceType) -> Limits {
        self.service_limits
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, l)| *l)
            .unwrap_or(self.limits)
    }
}

/// What the services share: configuration, HTTP client, token.
#[derive(Debug)]
pub struct Session {
    /// The cloud configuration.
    pub config: Arc<CloudConfig>,
    /// The options.
    pub options: ClientOptions,
    /// The token cache.
    pub tokens: TokenManager,
    pub(crate) http: reqwest::Client,
}

impl Session {
    /// A session; no request is made until the first call.
    pub fn new(config: CloudConfig, options: ClientOptions, http: reqwest::Client) -> Self {
        let config = Arc::new(config);
        let tokens = TokenManager::new(
            Arc::clone(&config),
            http.clone(),
            options.backoff,
            options.token_renew_margin,
        );
        Self {
            config,
            options,
            tokens,
            http,
        }
    }
}

/// Whether a request may be repeated after a failure that might have taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT, DELETE: repeated on any retryable error.
    Idempotent,
    /// A create of something unique (a security group rule, a key pair): repeating it is safe,
    /// since a duplicate is refused with 409, which is then the answer and is not retried.
    UniqueCreate,
    /// A create (POST): repeated only when it was certainly not acted on (connect error, 429).
    /// Any other failure is returned, and [`CloudError::is_ambiguous`] tells the caller to look
    /// the resource up before creating again.
    Create,
}

/// Where a request path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// At the service endpoint (`…/v2.1`, `…/v3/<project>`, `…/v2.0`, `…/v2`).
    Endpoint,
    /// At the endpoint's version root (the versions document).
    VersionRoot,
}

/// One request to a service.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path below the root, starting with `/` (or empty), segments already encoded with
    /// [`seg`].
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// A JSON body.
    pub body: Option<Value>,
    /// Retry rule.
    pub idempotency: Idempotency,
    /// `OpenStack-API-Version` value (`compute 2.79`).
    pub microversion: Option<String>,
    /// Where `path` starts.
    pub root: Root,
}

impl Request {
    /// A request without query, body or microversion.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::Create
        } else {
            Idempotency::Idempotent
        };
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency,
            microversion: None,
            root: Root::Endpoint,
        }
    }

    /// A GET.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A POST with a JSON body (a create unless [`Request::idempotent`] says otherwise).
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path).json(body)
    }

    /// A DELETE.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// A PUT with a JSON body.
    pub fn put(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PUT, path).json(body)
    }

    /// Sets the JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    /// Marks a POST as safe to repeat (an action without lasting side effect).
    pub fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }

    /// Marks a POST as a create whose duplicate the service refuses with 409
    /// ([`Idempotency::UniqueCreate`]).
    pub fn unique_create(mut self) -> Self {
        self.idempotency = Idempotency::UniqueCreate;
        self
    }

    /// Sets the microversion header.
    pub fn microversion(mut self, value: Option<String>) -> Self {
        self.microversion = value;
        self
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Response {
    /// The call that was made.
    pub call: CallInfo,
    /// The HTTP status (2xx).
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The request ID.
    pub request_id: Option<String>,
}

impl Response {
    /// Decodes the JSON body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CloudError> {
        serde_json::from_slice(&self.body).map_err(|e| CloudError::Decode {
            call: self.call.clone(),
            detail: format!(
                "{e} (request {})",
                self.request_id.as_deref().unwrap_or("-")
            ),
        })
    }
}

/// A client for one service of the cloud. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    session: Arc<Session>,
    service: ServiceType,
    limiter: Arc<Limiter>,
    /// Turns the catalog URL into the base the paths are relative to (Neutron's catalog URL
    /// lacks `/v2.0`, Glance's `/v2`).
    base: fn(&str) -> String,
}

impl ServiceClient {
    /// A client for `service`, its base URL derived from the catalog URL by `base`.
    pub fn new(session: Arc<Session>, service: ServiceType, base: fn(&str) -> String) -> Self {
        let limiter = Arc::new(Limiter::new(session.options.limits_for(service)));
        Self {
            session,
            service,
            limiter,
            base,
        }
    }

    /// The service.
    pub fn service(&self) -> ServiceType {
        self.service
    }

    /// The session.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The base URL of the service from the current token's catalog.
    pub async fn base_url(&self) -> Result<String, CloudError> {
        let auth = self.session.tokens.current().await?;
        self.base_from(&auth)
    }

    fn base_from(&self, auth: &AuthState) -> Result<String, CloudError> {
        let cfg = &self.session.config;
        let url = auth
            .catalog
            .endpoint(self.service, cfg.interface, cfg.region.as_deref())?;
        Ok((self.base)(&url).trim_end_matches('/').to_string())
    }

    /// Sends a request; `Ok` only for a 2xx answer. Retries per [`Idempotency`] with the
    /// backoff of the options, honouring `Retry-After`; renews the token once on a 401.
    pub async fn send(&self, req: Request) -> Result<Response, CloudError> {
        let opts = &self.session.options;
        let write = !matches!(req.method, reqwest::Method::GET | reqwest::Method::HEAD);
        if write && opts.fence.as_ref().is_some_and(|f| !f.may_write()) {
            return Err(CloudError::Fenced {
                call: CallInfo {
                    service: self.service,
                    method: req.method.to_string(),
                    path: req.path.clone(),
                },
            });
        }
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            let auth = self.session.tokens.current().await?;
            let base = self.base_from(&auth)?;
            let root = match req.root {
                Root::Endpoint => base,
                Root::VersionRoot => super::catalog::version_root(&base),
            };
            let url_text = format!("{root}{}", req.path);
            let url = reqwest::Url::parse(&url_text).map_err(|e| CloudError::Decode {
                call: CallInfo {
                    service: self.service,
                    method: req.method.to_string(),
                    path: req.path.clone(),
                },
                detail: format!("bad URL {url_text:?}: {e}"),
            })?;
            let call = CallInfo {
                service: self.service,
                method: req.method.to_string(),
                path: url.path().to_string(),
            };
            let mut token =
                HeaderValue::from_str(auth.token.expose()).map_err(|_| CloudError::Decode {
                    call: call.clone(),
                    detail: "the token is not a valid header value".into(),
                })?;
            token.set_sensitive(true);
            let mut builder = self
                .session
                .http
                .request(req.method.clone(), url)
                .header("X-Auth-Token", token)
                .header(reqwest::header::ACCEPT, "application/json");
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            if let Some(mv) = &req.microversion {
                builder = builder.header("OpenStack-API-Version", mv.as_str());
            }
            if let Some(body) = &req.body {
                builder = builder.json(body);
            }
            let permit = self.limiter.acquire().await;
            let started = Instant::now();
            let result = send_once(&call, builder).await;
            drop(permit);
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let outcome = match &result {
                Ok(resp) if resp.is_success() => CallOutcome::Ok,
                Ok(resp) => {
                    CallOutcome::of_error_answer(resp.status, resp.to_api_error(&call).kind)
                }
                Err(e) => CallOutcome::of_error(e),
            };
            opts.observer.notify(&CallEvent {
                service: self.service,
                method: &call.method,
                outcome,
            });
            let err = match result {
                Ok(resp) if resp.is_success() => {
                    tracing::debug!(
                        service = %self.service,
                        method = %call.method,
                        path = %call.path,
                        status = resp.status,
                        request_id = %resp.request_id.as_deref().unwrap_or("-"),
                        attempt,
                        elapsed_ms,
                        "openstack call"
                    );
                    let RawResponse {
                        status,
                        body,
                        request_id,
                        ..
                    } = resp;
                    return Ok(Response {
                        call,
                        status,
                        body,
                        request_id,
                    });
                }
                Ok(resp) => {
                    let api = resp.to_api_error(&call);
                    tracing::warn!(
                        service = %self.service,
                        method = %call.method,
                        path = %call.path,
                        status = api.status,
                        request_id = %api.request_id.as_deref().unwrap_or("-"),
                        attempt,
                        elapsed_ms,
                        kind = %api.kind,
                        cloud_message = %api.message,
                        "openstack call failed"
                    );
                    if api.kind == ApiErrorKind::Unauthorized && !renewed {
                        renewed = true;
                        self.session.tokens.invalidate(auth.generation).await;
                        // The renewal does not count as an attempt.
                        attempt -= 1;
                        continue;
                    }
                    CloudError::from(api)
                }
                Err(e) => {
                    tracing::warn!(
                        service = %self.service,
                        method = %call.method,
                        path = %call.path,
                        request_id = %"-",
                        attempt,
                        elapsed_ms,
                        error = %e,
                        "openstack call failed"
                    );
                    e
                }
            };
            if !may_retry(req.idempotency, &err) || !opts.backoff.allows_another(attempt) {
                return Err(err);
            }
            let mut delay = opts.backoff.delay(attempt - 1);
            if let Some(ra) = err.retry_after() {
                if ra > opts.max_retry_after {
                    return Err(err);
                }
                delay = delay.max(ra);
            }
            tracing::info!(
                service = %self.service,
                method = %call.method,
                path = %call.path,
                request_id = %err.request_id().unwrap_or("-"),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying openstack call"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// GET and decode.
    pub async fn get_json<T: DeserializeOwned>(&self, req: Request) -> Result<T, CloudError> {
        self.send(req).await?.json()
    }

    /// DELETE that treats 404 as done: `Ok(true)` if it deleted, `Ok(false)` if it was already
    /// gone.
    pub async fn delete_idempotent(&self, req: Request) -> Result<bool, CloudError> {
        match self.send(req).await {
            Ok(_) => Ok(true),
            Err(e) if e.api_kind() == Some(ApiErrorKind::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Whether a request of this kind that failed with `err` may be sent again.
pub fn may_retry(idempotency: Idempotency, err: &CloudError) -> bool {
    match idempotency {
        Idempotency::Idempotent => err.is_retryable(),
        Idempotency::UniqueCreate => {
            err.is_retryable() && err.api_kind() != Some(ApiErrorKind::Conflict)
        }
        Idempotency::Create => err.is_not_sent(),
    }
}

/// The query parameters of a pagination `next` link (absolute or relative), to repeat the
/// request on our own endpoint (services sometimes advertise an internal host in links).
pub fn next_query(link: &str) -> Vec<(String, String)> {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `next` link of a Nova/Cinder `*_links` array.
pub fn next_link(links: &[Value]) -> Option<String> {
    links
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("gc-1.a_b~"), "gc-1.a_b~");
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("é"), "%C3%A9");
    }

    #[test]
    fn next_links() {
        let links = serde_json::json!([
            {"rel": "self", "href": "http://x/a"},
            {"rel": "next", "href": "http://internal:8774/v2.1/servers/detail?limit=2&marker=abc&tags=t%3D1"}
        ]);
        let next = next_link(links.as_array().unwrap()).unwrap();
        assert_eq!(
            next_query(&next),
            vec![
                ("limit".to_string(), "2".to_string()),
                ("marker".to_string(), "abc".to_string()),
                ("tags".to_string(), "t=1".to_string())
            ]
        );
        assert_eq!(
            next_query("/v2/images?marker=m"),
            vec![("marker".into(), "m".into())]
        );
        assert!(next_link(&[]).is_none());
    }

    #[test]
    fn retry_decisions() {
        use super::super::error::{ApiError, TransportKind};
        let api = |status: u16| -> CloudError {
            ApiError {
                call: CallInfo {
                    service: ServiceType::Network,
                    method: "POST".into(),
                    path: "/v2.0/x".into(),
                },
                status,
                kind: ApiErrorKind::classify(status, "", None),
                message: String::new(),
                request_id: None,
                retry_after: None,
            }
            .into()
        };
        let transport = |kind| CloudError::Transport {
            call: CallInfo {
                service: ServiceType::Network,
                method: "POST".into(),
                path: "/".into(),
            },
            kind,
            detail: String::new(),
        };
        use Idempotency::*;
        // (error, Idempotent, UniqueCreate, Create)
        let table = [
            (api(500), true, true, false),
            (api(503), true, true, false),
            (api(429), true, true, true),
            (api(409), true, false, false),
            (api(400), false, false, false),
            (api(403), false, false, false),
            (api(404), false, false, false),
            (api(413), false, false, false),
            (transport(TransportKind::Connect), true, true, true),
            (transport(TransportKind::Timeout), true, true, false),
            (transport(TransportKind::Broken), true, true, false),
        ];
        for (err, idem, unique, create) in table {
            assert_eq!(may_retry(Idempotent, &err), idem, "{err}");
            assert_eq!(may_retry(UniqueCreate, &err), unique, "{err}");
            assert_eq!(may_retry(Create, &err), create, "{err}");
        }
    }

    #[test]
    fn posts_are_creates_by_default() {
        assert_eq!(
            Request::post("/servers", Value::Null).idempotency,
            Idempotency::Create
        );
        assert_eq!(
            Request::post("/x/action", Value::Null)
                .idempotent()
                .idempotency,
            Idempotency::Idempotent
        );
        assert_eq!(Request::delete("/x").idempotency, Idempotency::Idempotent);
    }
}

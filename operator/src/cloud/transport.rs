//! One HTTP exchange over reqwest (rustls): send, read the body, map transport failures to
//! [`CloudError::Transport`], pick out the request ID. No retries, no auth: those are layered on
//! top in [`super::http`] and [`super::auth`].

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::backoff::parse_retry_after;
use super::config::{CaCert, TlsConfig};
use super::error::{ApiError, ApiErrorKind, CallInfo, CloudError, TransportKind, parse_error_body};
use super::http::ClientOptions;

/// The HTTP client [`build_http_client`] builds (reqwest's), for callers that talk to a
/// service the typed clients do not cover.
pub use reqwest::Client as HttpClient;

/// Timeouts of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// The whole request, answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 60 s per request.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// A response of any status, its body read.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// `x-openstack-request-id`, else `x-compute-request-id`.
    pub request_id: Option<String>,
}

impl RawResponse {
    /// The error this non-2xx response stands for, with the service's own message.
    pub fn to_api_error(&self, call: &CallInfo) -> ApiError {
        let (message, error_type) = parse_error_body(&self.body);
        let mut kind = ApiErrorKind::classify(self.status, &message, error_type.as_deref());
        let retry_after = self
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // A 503 that says when to come back is a rate limit, and safe to repeat even for a create.
        if self.status == 503 && retry_after.is_some() {
            kind = ApiErrorKind::RateLimited;
        }
        ApiError {
            call: call.clone(),
            status: self.status,
            kind,
            message,
            request_id: self.request_id.clone(),
            retry_after: match kind {
                ApiErrorKind::RateLimited | ApiErrorKind::ServerError => retry_after,
                _ => None,
            },
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Builds the reqwest client: rustls with the ring provider, the platform's roots plus the
/// configured CA, or no verification when `verify: false`; the options' timeouts and
/// `User-Agent`.
pub fn build_http_client(
    tls: &TlsConfig,
    options: &ClientOptions,
    read_file: impl Fn(&std::path::Path) -> std::io::Result<Vec<u8>>,
) -> Result<reqwest::Client, CloudError> {
    // reqwest is built without a default crypto provider; install ring (the provider kube
    // uses too). An Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.timeouts.connect)
        .timeout(options.timeouts.request)
        .user_agent(options.user_agent.as_str())
        .pool_idle_timeout(Duration::from_secs(30));
    if let Some(ca) = &tls.ca {
        let pem = match ca {
            CaCert::Pem(p) => p.as_bytes().to_vec(),
            CaCert::Path(p) => read_file(p).map_err(|e| CloudError::Config {
                field: "cacert".into(),
                reason: format!("cannot read {}: {e}", p.display()),
            })?,
        };
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| CloudError::Config {
                field: "cacert".into(),
                reason: format!("not a PEM certificate bundle: {e}"),
            })?;
        if certs.is_empty() {
            return Err(CloudError::Config {
                field: "cacert".into(),
                reason: "no certificate in the PEM text".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if !tls.verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| CloudError::Config {
        field: "tls".into(),
        reason: format!("cannot build the HTTP client: {}", error_chain(&e)),
    })
}

/// Sends one request and reads the whole answer. Any status is `Ok`; only a missing answer is
/// an error, classified as connect (never sent), timeout or broken connection.
pub async fn send_once(
    call: &CallInfo,
    request: reqwest::RequestBuilder,
) -> Result<RawResponse, CloudError> {
    let transport_err = |e: reqwest::Error| CloudError::Transport {
        call: call.clone(),
        kind: if e.is_connect() {
            TransportKind::Connect
        } else if e.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Broken
        },
        detail: error_chain(&e),
    };
    let response = request.send().await.map_err(transport_err)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport_err)?.to_vec();
    let request_id = ["x-openstack-request-id", "x-compute-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_string);
    Ok(RawResponse {
        status,
        headers,
        body,
        request_id,
    })
}

/// An error and its sources, joined (reqwest hides the useful part in the source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cacert_error(tls: TlsConfig) -> String {
        match build_http_client(&tls, &ClientOptions::default(), |p| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} absent", p.display()),
            ))
        }) {
            Err(CloudError::Config { field, reason }) => {
                assert_eq!(field, "cacert");
                reason
            }
            other => panic!("expected a cacert error, got {other:?}"),
        }
    }

    #[test]
    fn bad_ca_settings_name_the_field() {
        let reason = cacert_error(TlsConfig {
            verify: true,
            ca: Some(CaCert::Path("/nope/ca.pem".into())),
        });
        assert!(reason.contains("/nope/ca.pem"), "{reason}");
        let reason = cacert_error(TlsConfig {
            verify: true,
            ca: Some(CaCert::Pem("not a certificate".into())),
        });
        assert!(reason.contains("certificate"), "{reason}");
    }

    #[test]
    fn builds_with_and_without_verification() {
        for verify in [true, false] {
            build_http_client(
                &TlsConfig { verify, ca: None },
                &ClientOptions::default(),
                |_| Ok(Vec::new()),
            )
            .expect("client");
        }
    }

    #[test]
    fn api_errors_from_responses() {
        let call = CallInfo {
            service: super::super::error::ServiceType::BlockStorage,
            method: "POST".into(),
            path: "/v3/p/volumes".into(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().expect("header"));
        let resp = RawResponse {
            status: 503,
            headers: headers.clone(),
            body: br#"{"serviceUnavailable": {"message": "busy", "code": 503}}"#.to_vec(),
            request_id: Some("req-1".into()),
        };
        let e = resp.to_api_error(&call);
        assert_eq!(
            e.kind,
            ApiErrorKind::RateLimited,
            "503 + Retry-After is a rate limit"
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(e.message, "busy");
        let resp = RawResponse {
            status: 413,
            headers,
            body: br#"{"overLimit": {"message": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota.", "code": 413, "retryAfter": "0"}}"#.to_vec(),
            request_id: None,
        };
        let e = resp.to_api_error(&call);
        assert_eq!(e.kind, ApiErrorKind::QuotaExceeded);
        assert_eq!(e.retry_after, None, "a quota is not waited out");
    }
}

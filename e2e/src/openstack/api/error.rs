//! Error answers in each service's own format:
//! - Keystone and keystonemiddleware (a missing, unknown or expired token on any service):
//!   `{"error": {"code", "title", "message"}}`, with `WWW-Authenticate: Keystone uri="..."` on 401;
//! - Nova and Cinder: `{"<faultName>": {"code", "message"}}` where the name follows the status
//!   (`badRequest`, `itemNotFound`, `forbidden`, `conflictingRequest`, `overLimit`, ...; statuses
//!   without a name, such as 406 and 500, are `computeFault`), plus `retryAfter` on 413/429;
//! - Neutron: `{"NeutronError": {"type", "message", "detail"}}`;
//! - Glance (webob): `{"code": "404 Not Found", "title": "Not Found", "message"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The simulated service a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Identity,
    Compute,
    Volume,
    Network,
    Image,
}

impl Service {
    /// The service a path belongs to (by its first segment).
    pub(crate) fn of_path(path: &str) -> Option<Service> {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "identity" => Some(Service::Identity),
            "compute" => Some(Service::Compute),
            "volume" => Some(Service::Volume),
            "networking" => Some(Service::Network),
            "image" => Some(Service::Image),
            _ => None,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub service: Service,
    pub status: StatusCode,
    pub message: String,
    /// Neutron's exception class name (`type`).
    pub neutron_type: Option<&'static str>,
    /// `Retry-After` seconds (429, and Cinder's 413 carries `0`).
    pub retry_after: Option<u64>,
    /// Keystone URI for `WWW-Authenticate` on 401.
    pub challenge: Option<String>,
    /// Keystonemiddleware-style body even on another service (token failures).
    pub keystone_style: bool,
}

impl ApiError {
    pub(crate) fn new(service: Service, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            service,
            status,
            message: message.into(),
            neutron_type: None,
            retry_after: None,
            challenge: None,
            keystone_style: service == Service::Identity,
        }
    }

    pub(crate) fn bad_request(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::CONFLICT, message)
    }

    /// A Neutron error with its exception type.
    pub(crate) fn neutron(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::new(Service::Network, status, message);
        e.neutron_type = Some(kind);
        e
    }

    /// 401 as keystonemiddleware (or Keystone itself) answers it.
    pub(crate) fn unauthorized(service: Service, keystone_uri: &str) -> Self {
        let mut e = Self::new(
            service,
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        );
        e.keystone_style = true;
        e.challenge = Some(keystone_uri.to_string());
        e
    }

    pub(crate) fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    fn body(&self) -> serde_json::Value {
        let code = self.status.as_u16();
        let title = self.status.canonical_reason().unwrap_or("Error");
        if self.keystone_style {
            return json!({"error": {"code": code, "title": title, "message": self.message}});
        }
        match self.service {
            Service::Identity => {
                json!({"error": {"code": code, "title": title, "message": self.message}})
            }
            Service::Compute | Service::Volume => {
                let name = fault_name(self.service, code);
                let mut inner = json!({"code": code, "message": self.message});
                if (code == 413 || code == 429)
                    && let Some(r) = self.retry_after
                {
                    inner["retryAfter"] = json!(r.to_string());
                }
                json!({ name: inner })
            }
            Service::Network => json!({"NeutronError": {
                "type": self.neutron_type.unwrap_or_else(|| neutron_http_type(code)),
                "message": self.message,
                "detail": "",
            }}),
            Service::Image => json!({
                "code": format!("{code} {title}"),
                "title": title,
                "message": self.message,
            }),
        }
    }
}

/// Nova's and Cinder's `Fault._fault_names`.
fn fault_name(service: Service, code: u16) -> &'static str {
    match code {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        // Nova names 429 overLimit; Cinder's table has no entry for it.
        429 if service == Service::Compute => "overLimit",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// The webob exception names Neutron reports for errors that are not its own exceptions.
fn neutron_http_type(code: u16) -> &'static str {
    match code {
        400 => "HTTPBadRequest",
        401 => "HTTPUnauthorized",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        409 => "HTTPConflict",
        429 => "HTTPTooManyRequests",
        503 => "HTTPServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut resp = (self.status, axum::Json(body)).into_response();
        let headers = resp.headers_mut();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED
            && let Some(uri) = &self.challenge
            && let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{uri}\""))
        {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_each_service() {
        let e = ApiError::new(Service::Compute, StatusCode::NOT_ACCEPTABLE, "v");
        assert_eq!(
            e.body(),
            json!({"computeFault": {"code": 406, "message": "v"}})
        );
        let e =
            ApiError::new(Service::Volume, StatusCode::PAYLOAD_TOO_LARGE, "q").with_retry_after(0);
        assert_eq!(
            e.body(),
            json!({"overLimit": {"code": 413, "message": "q", "retryAfter": "0"}})
        );
        let e = ApiError::neutron(StatusCode::CONFLICT, "SecurityGroupRuleExists", "m");
        assert_eq!(e.body()["NeutronError"]["type"], "SecurityGroupRuleExists");
        let e = ApiError::unauthorized(Service::Volume, "http://x/identity");
        assert_eq!(e.body()["error"]["title"], "Unauthorized");
        assert_eq!(
            Service::of_path("/volume/v3/p/volumes"),
            Some(Service::Volume)
        );
        assert_eq!(Service::of_path("/_sim/faults"), None);
    }
}

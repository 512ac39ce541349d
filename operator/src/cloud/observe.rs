//! A hook told about every HTTP attempt to a service (for metrics): the service type, the
//! method and the outcome class. Nothing else leaves the client this way — no URL (it holds
//! IDs), no body, no token.

use std::fmt;
use std::sync::Arc;

use super::error::{ApiErrorKind, CloudError, ServiceType};

/// The class of one attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// A 2xx answer.
    Ok,
    /// A 4xx answer other than a rate limit (404s of idempotent deletes included).
    ClientError,
    /// A 5xx answer other than a rate limit.
    ServerError,
    /// A rate limit: 429, or 503 with `Retry-After`.
    Throttled,
    /// No answer: the connection failed, broke or timed out.
    TransportError,
}

impl CallOutcome {
    /// The label value (`ok`, `client_error`, `server_error`, `throttled`, `transport_error`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::ClientError => "client_error",
            CallOutcome::ServerError => "server_error",
            CallOutcome::Throttled => "throttled",
            CallOutcome::TransportError => "transport_error",
        }
    }

    /// The class of an error answer of `status`, already classified as `kind`.
    pub fn of_error_answer(status: u16, kind: ApiErrorKind) -> Self {
        match kind {
            ApiErrorKind::RateLimited => CallOutcome::Throttled,
            _ if status >= 500 => CallOutcome::ServerError,
            _ => CallOutcome::ClientError,
        }
    }

    /// The class of an attempt that ended in `err` before any answer was read, or after one
    /// (then as [`CallOutcome::of_error_answer`]).
    pub fn of_error(err: &CloudError) -> Self {
        match err {
            CloudError::Api(api) => Self::of_error_answer(api.status, api.kind),
            _ => CallOutcome::TransportError,
        }
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP attempt, as an observer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallEvent<'a> {
    /// The service called.
    pub service: ServiceType,
    /// The HTTP method (`GET`, `POST`, …).
    pub method: &'a str,
    /// How the attempt ended.
    pub outcome: CallOutcome,
}

/// Told about every HTTP attempt a service client makes (retries and the attempt before a
/// token renewal each count). Called on the request's task: keep it quick and non-blocking.
pub trait CallObserver: Send + Sync {
    /// One attempt ended.
    fn observe(&self, event: &CallEvent<'_>);
}

/// An optional [`CallObserver`] in the client options; equal when it is the same observer.
#[derive(Clone, Default)]
pub struct ObserverSlot(Option<Arc<dyn CallObserver>>);

impl ObserverSlot {
    /// A slot holding `observer`.
    pub fn new(observer: Arc<dyn CallObserver>) -> Self {
        Self(Some(observer))
    }

    /// Whether an observer is set.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Tells the observer, if any.
    pub fn notify(&self, event: &CallEvent<'_>) {
        if let Some(o) = &self.0 {
            o.observe(event);
        }
    }
}

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() {
            "ObserverSlot(set)"
        } else {
            "ObserverSlot(none)"
        })
    }
}

impl PartialEq for ObserverSlot {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::{ApiError, CallInfo, TransportKind};
    use super::*;
    use std::sync::Mutex;

    fn call() -> CallInfo {
        CallInfo {
            service: ServiceType::Compute,
            method: "GET".into(),
            path: "/v2.1/servers/x".into(),
        }
    }

    fn api(status: u16, kind: ApiErrorKind) -> CloudError {
        ApiError {
            call: call(),
            status,
            kind,
            message: String::new(),
            request_id: None,
            retry_after: None,
        }
        .into()
    }

    #[test]
    fn outcomes_are_classified() {
        let table = [
            (api(400, ApiErrorKind::BadRequest), "client_error"),
            (api(401, ApiErrorKind::Unauthorized), "client_error"),
            (api(403, ApiErrorKind::QuotaExceeded), "client_error"),
            (api(404, ApiErrorKind::NotFound), "client_error"),
            (api(409, ApiErrorKind::Conflict), "client_error"),
            (api(413, ApiErrorKind::QuotaExceeded), "client_error"),
            (api(429, ApiErrorKind::RateLimited), "throttled"),
            (api(503, ApiErrorKind::RateLimited), "throttled"),
            (api(500, ApiErrorKind::ServerError), "server_error"),
            (api(503, ApiErrorKind::ServerError), "server_error"),
        ];
        for (err, want) in table {
            assert_eq!(CallOutcome::of_error(&err).as_str(), want, "{err}");
        }
        for kind in [
            TransportKind::Connect,
            TransportKind::Timeout,
            TransportKind::Broken,
        ] {
            let err = CloudError::Transport {
                call: call(),
                kind,
                detail: String::new(),
            };
            assert_eq!(CallOutcome::of_error(&err), CallOutcome::TransportError);
        }
        assert_eq!(CallOutcome::Ok.to_string(), "ok");
    }

    struct Record(Mutex<Vec<String>>);

    impl CallObserver for Record {
        fn observe(&self, e: &CallEvent<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {} {}", e.service, e.method, e.outcome));
        }
    }

    #[test]
    fn slots_notify_and_compare_by_identity() {
        let record = Arc::new(Record(Mutex::new(Vec::new())));
        let slot = ObserverSlot::new(record.clone());
        slot.notify(&CallEvent {
            service: ServiceType::BlockStorage,
            method: "POST",
            outcome: CallOutcome::Throttled,
        });
        ObserverSlot::default().notify(&CallEvent {
            service: ServiceType::Compute,
            method: "GET",
            outcome: CallOutcome::Ok,
        });
        assert_eq!(
            *record.0.lock().unwrap(),
            vec!["block-storage POST throttled".to_string()]
        );
        assert_eq!(slot, slot.clone());
        assert_eq!(slot, ObserverSlot::new(record));
        assert_ne!(
            slot,
            ObserverSlot::new(Arc::new(Record(Mutex::new(Vec::new()))))
        );
        assert_ne!(slot, ObserverSlot::default());
        assert_eq!(format!("{slot:?}"), "ObserverSlot(set)");
    }
}

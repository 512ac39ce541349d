//! "Create or adopt": a create (POST) is never repeated blindly. When it fails in a way that
//! may have taken effect (timeout, broken connection, 5xx) or reports a duplicate (409), the
//! resource is looked up by its deterministic name and tags first; only when it is certainly
//! absent is the create tried again.

use std::future::Future;

use super::backoff::Backoff;
use super::error::{ApiErrorKind, CloudError};

/// The result of an ensure/create-or-adopt call.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensured<T> {
    /// The resource (or its ID).
    pub value: T,
    /// `true` when it already existed (created by an earlier, ambiguous attempt or an earlier
    /// run) and was adopted rather than created now.
    pub adopted: bool,
}

/// Runs `create`; on an ambiguous failure or a 409 runs `find`, adopting what it finds, and
/// otherwise creates again after a backoff delay (up to `backoff.max_attempts` creates).
/// Terminal errors (400, quota, 403, …) are returned at once.
pub async fn create_or_adopt<T, C, CF, F, FF>(
    backoff: Backoff,
    kind: &'static str,
    name: &str,
    mut create: C,
    mut find: F,
) -> Result<Ensured<T>, CloudError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, CloudError>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, CloudError>>,
{
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let err = match create().await {
            Ok(value) => {
                return Ok(Ensured {
                    value,
                    adopted: false,
                });
            }
            Err(e) => e,
        };
        let conflict = err.api_kind() == Some(ApiErrorKind::Conflict);
        if !(err.is_ambiguous() || conflict) {
            return Err(err);
        }
        tracing::warn!(
            kind,
            name,
            attempt,
            request_id = %err.request_id().unwrap_or("-"),
            error = %err,
            "create failed in a way that may have taken effect: looking for the resource before trying again"
        );
        if let Some(value) = find().await? {
            tracing::info!(kind, name, "adopted the resource an earlier create made");
            return Ok(Ensured {
                value,
                adopted: true,
            });
        }
        if conflict || !backoff.allows_another(attempt) {
            return Err(err);
        }
        tokio::time::sleep(backoff.delay(attempt - 1)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;
    use crate::cloud::error::{ApiError, CallInfo, ServiceType, TransportKind};

    fn fast() -> Backoff {
        Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_attempts: 3,
        }
    }

    fn api(status: u16) -> CloudError {
        let kind = ApiErrorKind::classify(status, "m", None);
        ApiError {
            call: CallInfo {
                service: ServiceType::Compute,
                method: "POST".into(),
                path: "/servers".into(),
            },
            status,
            kind,
            message: "m".into(),
            request_id: None,
            retry_after: None,
        }
        .into()
    }

    #[tokio::test]
    async fn adopts_after_ambiguous_failure() {
        let creates = Cell::new(0);
        let finds = Cell::new(0);
        let r = create_or_adopt(
            fast(),
            "server",
            "n",
            || {
                creates.set(creates.get() + 1);
                async { Err::<u32, _>(api(502)) }
            },
            || {
                finds.set(finds.get() + 1);
                async { Ok(Some(7)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            r,
            Ensured {
                value: 7,
                adopted: true
            }
        );
        assert_eq!((creates.get(), finds.get()), (1, 1));
    }

    #[tokio::test]
    async fn creates_again_only_when_absent() {
        let creates = Cell::new(0);
        let r = create_or_adopt(
            fast(),
            "volume",
            "n",
            || {
                creates.set(creates.get() + 1);
                let n = creates.get();
                async move {
                    if n == 1 {
                        Err(CloudError::Transport {
                            call: CallInfo {
                                service: ServiceType::BlockStorage,
                                method: "POST".into(),
                                path: "/volumes".into(),
                            },
                            kind: TransportKind::Timeout,
                            detail: "t".into(),
                        })
                    } else {
                        Ok(n)
                    }
                }
            },
            || async { Ok(None) },
        )
        .await
        .unwrap();
        assert_eq!(
            r,
            Ensured {
                value: 2,
                adopted: false
            }
        );
    }

    #[tokio::test]
    async fn terminal_errors_pass_through_without_lookup() {
        let finds = Cell::new(0);
        let r = create_or_adopt(
            fast(),
            "server",
            "n",
            || async { Err::<u32, _>(api(403)) },
            || {
                finds.set(finds.get() + 1);
                async { Ok(None) }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(403));
        assert_eq!(finds.get(), 0);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let creates = Cell::new(0);
        let r = create_or_adopt(
            fast(),
            "server",
            "n",
            || {
                creates.set(creates.get() + 1);
                async { Err::<u32, _>(api(500)) }
            },
            || async { Ok(None) },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(500));
        assert_eq!(creates.get(), 3);
    }

    #[tokio::test]
    async fn conflict_without_resource_is_returned() {
        let r = create_or_adopt(
            fast(),
            "keypair",
            "n",
            || async { Err::<u32, _>(api(409)) },
            || async { Ok(None) },
        )
        .await;
        assert_eq!(r.unwrap_err().status(), Some(409));
    }
}

//! A small client of OpenStack Heat (orchestration API v1) for the real-cloud comparison:
//! create a stack from a template and its nested files, read its status and events, signal a
//! resource (a scaling policy), delete it. The operator's own client has no orchestration API,
//! so this authenticates with the same Keystone request and HTTP client.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gluster_operator::cloud::auth::{auth_request_body, parse_token_response};
use gluster_operator::cloud::transport::HttpClient;
use gluster_operator::cloud::{ClientOptions, CloudConfig};
use serde::Deserialize;
use serde_json::{Value, json};

use super::BenchError;

/// The bench's Heat client's `User-Agent` (its polling of heat-api is the bench's, not Heat's).
pub const HEAT_CLIENT_USER_AGENT: &str = "bench-heat";

/// A Heat endpoint with a token.
pub struct Heat {
    http: HttpClient,
    token: String,
    endpoint: String,
}

/// A stack: its name and ID.
#[derive(Debug, Clone)]
pub struct StackRef {
    /// The stack name.
    pub name: String,
    /// The stack ID.
    pub id: String,
}

/// The part of a stack the bench reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    /// `CREATE_COMPLETE`, `UPDATE_IN_PROGRESS`, …
    pub stack_status: String,
    /// Why it is in that status.
    #[serde(default)]
    pub stack_status_reason: Option<String>,
}

/// One stack event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// The resource's logical name (the stack's own name for stack events).
    pub resource_name: String,
    /// The status it reached.
    pub resource_status: String,
    /// When, as Heat writes it (`2026-12-05T02:41:07Z`).
    pub event_time: String,
}

impl Heat {
    /// Authenticates as entry `cloud` of `clouds_yaml` and finds the public orchestration
    /// endpoint in the catalog.
    pub async fn connect(clouds_yaml: &str, cloud: &str) -> Result<Heat, BenchError> {
        let config = CloudConfig::from_clouds_yaml(clouds_yaml, cloud)?;
        let options = ClientOptions {
            user_agent: HEAT_CLIENT_USER_AGENT.to_string(),
            ..ClientOptions::default()
        };
        let http =
            gluster_operator::cloud::transport::build_http_client(&config.tls, &options, |p| {
                std::fs::read(p)
            })?;
        let resp = http
            .post(format!("{}/auth/tokens", config.identity_v3_url()))
            .json(&auth_request_body(&config.credentials))
            .send()
            .await
            .map_err(|e| BenchError::Heat(format!("Keystone: {e}")))?;
        let status = resp.status().as_u16();
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .bytes()
            .await
            .map_err(|e| BenchError::Heat(format!("Keystone: {e}")))?;
        let token = match (status, token) {
            (201, Some(t)) => t,
            _ => {
                return Err(BenchError::Heat(format!(
                    "Keystone answered {status} to the token request of cloud {cloud}"
                )));
            }
        };
        let info = parse_token_response(&body, SystemTime::now()).map_err(BenchError::Heat)?;
        let region = config.region.as_deref();
        let endpoint = info
            .catalog
            .entries
            .iter()
            .filter(|e| e.service_type == "orchestration")
            .flat_map(|e| e.endpoints.iter())
            .find(|ep| ep.interface == "public" && region.is_none_or(|r| ep.in_region(r)))
            .map(|ep| ep.url.trim_end_matches('/').to_owned())
            .ok_or_else(|| {
                BenchError::Heat(format!(
                    "no public orchestration endpoint in the catalog of cloud {cloud}"
                ))
            })?;
        Ok(Heat {
            http,
            token,
            endpoint,
        })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), BenchError> {
        let url = format!("{}{path}", self.endpoint);
        let req = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            "DELETE" => self.http.delete(&url),
            other => return Err(BenchError::Heat(format!("method {other} not used"))),
        };
        let req = req.header("x-auth-token", &self.token);
        let req = match body {
            Some(b) => req.json(b),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| BenchError::Heat(format!("{method} {path}: {e}")))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| BenchError::Heat(format!("{method} {path}: {e}")))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// Creates stack `name` from `template` (YAML text), with `files` for the nested
    /// templates it names, and `parameters`; rollback disabled (a failure stays visible).
    pub async fn create_stack(
        &self,
        name: &str,
        template: &str,
        files: &BTreeMap<String, String>,
        parameters: &BTreeMap<String, String>,
    ) -> Result<StackRef, BenchError> {
        let body = json!({
            "stack_name": name,
            "template": template,
            "files": files,
            "parameters": parameters,
            "disable_rollback": true,
            "timeout_mins": 30,
        });
        let (status, value) = self.call("POST", "/stacks", Some(&body)).await?;
        let id = value["stack"]["id"].as_str().map(str::to_owned);
        match (status, id) {
            (201, Some(id)) => Ok(StackRef {
                name: name.to_owned(),
                id,
            }),
            _ => Err(BenchError::Heat(format!(
                "creating stack {name}: {status} {value}"
            ))),
        }
    }

    /// The stack, or `None` once it is gone.
    pub async fn stack(&self, stack: &StackRef) -> Result<Option<Stack>, BenchError> {
        let (status, value) = self
            .call("GET", &format!("/stacks/{}/{}", stack.name, stack.id), None)
            .await?;
        match status {
            200 => serde_json::from_value(value["stack"].clone())
                .map(Some)
                .map_err(|e| BenchError::Heat(format!("stack {}: {e}", stack.name))),
            404 => Ok(None),
            _ => Err(BenchError::Heat(format!(
                "reading stack {}: {status} {value}",
                stack.name
            ))),
        }
    }

    /// Waits until the stack reaches `want` (or is gone, for `DELETE_COMPLETE`), polling every
    /// half second; a `*_FAILED` status is an error.
    pub async fn wait_stack(
        &self,
        stack: &StackRef,
        want: &str,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.stack(stack).await? {
                None if want == "DELETE_COMPLETE" => return Ok(()),
                Some(s) if s.stack_status == want => return Ok(()),
                Some(s) if s.stack_status.ends_with("_FAILED") => {
                    return Err(BenchError::Heat(format!(
                        "stack {} is {}: {}",
                        stack.name,
                        s.stack_status,
                        s.stack_status_reason.unwrap_or_default()
                    )));
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BenchError::Heat(format!(
                    "stack {} not {want} after {} s",
                    stack.name,
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The stack's own events (not its nested stacks'), oldest first.
    pub async fn events(&self, stack: &StackRef) -> Result<Vec<Event>, BenchError> {
        let (status, value) = self
            .call(
                "GET",
                &format!("/stacks/{}/{}/events?sort_dir=asc", stack.name, stack.id),
                None,
            )
            .await?;
        if status != 200 {
            return Err(BenchError::Heat(format!(
                "events of {}: {status} {value}",
                stack.name
            )));
        }
        serde_json::from_value(value["events"].clone())
            .map_err(|e| BenchError::Heat(format!("events of {}: {e}", stack.name)))
    }

    /// Signals resource `resource` of the stack (a scaling policy: scale now).
    pub async fn signal(&self, stack: &StackRef, resource: &str) -> Result<(), BenchError> {
        let path = format!(
            "/stacks/{}/{}/resources/{resource}/signal",
            stack.name, stack.id
        );
        let (status, value) = self.call("POST", &path, Some(&json!({}))).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(BenchError::Heat(format!(
                "signal {resource} of {}: {status} {value}",
                stack.name
            )))
        }
    }

    /// Deletes the stack (the wait is [`Heat::wait_stack`] with `DELETE_COMPLETE`).
    pub async fn delete_stack(&self, stack: &StackRef) -> Result<(), BenchError> {
        let (status, value) = self
            .call(
                "DELETE",
                &format!("/stacks/{}/{}", stack.name, stack.id),
                None,
            )
            .await?;
        if matches!(status, 204 | 404) {
            Ok(())
        } else {
            Err(BenchError::Heat(format!(
                "deleting stack {}: {status} {value}",
                stack.name
            )))
        }
    }
}

/// Seconds between the stack's own `from` event and its last `to` event after it (Heat's
/// time for an action, by its own clock, to the second): e.g. `CREATE_IN_PROGRESS` →
/// `CREATE_COMPLETE` of the stack itself.
pub fn stack_action_seconds(
    events: &[Event],
    stack_name: &str,
    from: &str,
    to: &str,
) -> Option<f64> {
    let of_stack = |status: &str| {
        events
            .iter()
            .filter(|e| e.resource_name == stack_name && e.resource_status == status)
            .filter_map(|e| parse_event_time(&e.event_time))
            .collect::<Vec<_>>()
    };
    let start = of_stack(from).into_iter().min()?;
    let end = of_stack(to).into_iter().filter(|t| *t >= start).max()?;
    Some((end - start).num_milliseconds() as f64 / 1000.0)
}

fn parse_event_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let with_zone = if text.ends_with('Z') || text.contains('+') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    chrono::DateTime::parse_from_rfc3339(&with_zone)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, status: &str, time: &str) -> Event {
        Event {
            resource_name: name.into(),
            resource_status: status.into(),
            event_time: time.into(),
        }
    }

    #[test]
    fn the_stack_s_own_create_time_comes_from_its_first_and_last_events() {
        let events = [
            event("s", "CREATE_IN_PROGRESS", "2026-12-05T02:41:07Z"),
            event("nodes", "CREATE_IN_PROGRESS", "2026-12-05T02:41:08Z"),
            event("nodes", "CREATE_COMPLETE", "2026-12-05T02:41:40Z"),
            event("s", "CREATE_COMPLETE", "2026-12-05T02:41:32"),
        ];
        assert_eq!(
            stack_action_seconds(&events, "s", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"),
            Some(25.0)
        );
        assert_eq!(
            stack_action_seconds(&events, "s", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"),
            None
        );
    }
}

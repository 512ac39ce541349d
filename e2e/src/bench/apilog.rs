//! Calls counted from a real cloud's API access logs (the conformance cloud: one gunicorn log
//! per API in `DIR/log/<api>.log`, lines as `e2e/conformance/cloud.sh` formats them:
//! `[05/Dec/2026:02:41:07 +0000] 127.0.0.1 "GET /v2.1/servers HTTP/1.1" 200 604 12ms "UA"`).
//!
//! A [`Mark`] remembers how far each log was read; [`calls_since`] parses what was written
//! after it. Every request is counted, whoever made it (the client under test, or a service
//! on its behalf: Nova calling Neutron and Cinder, Cinder calling Nova, Heat's engine), and
//! the counts are kept by service and by client (the first word of the User-Agent), so the
//! bench's own measuring instruments can be left out by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The API logs of the conformance cloud and the service each serves.
pub const API_LOGS: &[(&str, &str)] = &[
    ("keystone", "identity"),
    ("nova-api", "compute"),
    ("cinder-api", "block-storage"),
    ("neutron-api", "network"),
    ("glance", "image"),
    ("placement", "placement"),
    ("heat-api", "orchestration"),
];

/// The services whose calls the issue compares (Heat's figure: Nova + Cinder + Neutron).
pub const INFRA_SERVICES: &[&str] = &["compute", "block-storage", "network"];

/// One request from an access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLine {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status.
    pub status: u16,
    /// The client: the User-Agent's first word, without its version (`gluster-operator`,
    /// `nova-compute`, `python-neutronclient`, …; `-` when there was none).
    pub client: String,
}

/// Parses one access-log line; `None` for anything else in the log (the service's own log
/// lines share the file).
pub fn parse_line(line: &str) -> Option<AccessLine> {
    // `[time] host "METHOD PATH PROTO" STATUS SIZE DURATIONms "UA"`
    let rest = line.strip_prefix('[')?;
    let (_, rest) = rest.split_once("] ")?;
    let (_host, rest) = rest.split_once(" \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut words = request.split(' ');
    let method = words.next()?;
    let target = words.next()?;
    if !method.chars().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
        return None;
    }
    let mut fields = rest.splitn(4, ' ');
    let status: u16 = fields.next()?.parse().ok()?;
    let _size = fields.next()?;
    let duration = fields.next()?;
    if !duration.ends_with("ms") {
        return None;
    }
    let agent = fields.next()?.trim().trim_matches('"');
    let client = agent
        .split_whitespace()
        .next()
        .map_or("-", |w| w.split('/').next().unwrap_or(w));
    Some(AccessLine {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or(target).to_owned(),
        status,
        client: if client.is_empty() { "-" } else { client }.to_owned(),
    })
}

/// How far each API log had been written.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    offsets: BTreeMap<String, u64>,
}

/// The logs' sizes now.
pub fn mark(log_dir: &Path) -> Mark {
    let offsets = API_LOGS
        .iter()
        .map(|(file, _)| {
            let size = std::fs::metadata(log_path(log_dir, file)).map_or(0, |m| m.len());
            ((*file).to_owned(), size)
        })
        .collect();
    Mark { offsets }
}

fn log_path(log_dir: &Path, file: &str) -> PathBuf {
    log_dir.join(format!("{file}.log"))
}

/// Calls counted between two marks (or a mark and now).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallCount {
    /// Calls by service (`compute`, `block-storage`, `network`, `identity`, …), instruments
    /// excluded.
    pub by_service: BTreeMap<String, u64>,
    /// Calls by service and client.
    pub by_service_client: BTreeMap<String, BTreeMap<String, u64>>,
    /// Nova + Cinder + Neutron calls, instruments excluded.
    pub compute_volume_network: u64,
    /// Calls made by the instruments (left out of the counts above), by client.
    pub instruments: BTreeMap<String, u64>,
}

/// Counts the access-log lines of `log_dir` written between `from` and `to`, leaving the
/// clients named in `instruments` out (counted apart).
pub fn calls_between(log_dir: &Path, from: &Mark, to: &Mark, instruments: &[&str]) -> CallCount {
    let mut count = CallCount::default();
    for (file, service) in API_LOGS {
        let start = from.offsets.get(*file).copied().unwrap_or(0);
        let end = to.offsets.get(*file).copied().unwrap_or(0);
        let Ok(bytes) = std::fs::read(log_path(log_dir, file)) else {
            continue;
        };
        let end = (end as usize).min(bytes.len());
        let start = (start as usize).min(end);
        let text = String::from_utf8_lossy(&bytes[start..end]);
        for line in text.lines().filter_map(parse_line) {
            count.add(service, &line.client, instruments);
        }
    }
    count
}

impl CallCount {
    fn add(&mut self, service: &str, client: &str, instruments: &[&str]) {
        if instruments.contains(&client) {
            *self.instruments.entry(client.to_owned()).or_default() += 1;
            return;
        }
        *self.by_service.entry(service.to_owned()).or_default() += 1;
        *self
            .by_service_client
            .entry(service.to_owned())
            .or_default()
            .entry(client.to_owned())
            .or_default() += 1;
        if INFRA_SERVICES.contains(&service) {
            self.compute_volume_network += 1;
        }
    }

    /// Calls to `service` by `client`.
    pub fn of(&self, service: &str, client: &str) -> u64 {
        self.by_service_client
            .get(service)
            .and_then(|c| c.get(client))
            .copied()
            .unwrap_or(0)
    }

    /// Nova + Cinder + Neutron calls made by `client` itself.
    pub fn infra_by(&self, client: &str) -> u64 {
        INFRA_SERVICES.iter().map(|s| self.of(s, client)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_line_is_parsed_and_the_client_is_the_agent_s_first_word() {
        let line = r#"[05/Dec/2026:02:41:07 +0000] 127.0.0.1 "GET /v2.1/servers/detail?all_tenants=1 HTTP/1.1" 200 604 12ms "gluster-operator/0.1.0""#;
        assert_eq!(
            parse_line(line),
            Some(AccessLine {
                method: "GET".into(),
                path: "/v2.1/servers/detail".into(),
                status: 200,
                client: "gluster-operator".into(),
            })
        );
        let ks = r#"[05/Dec/2026:02:41:07 +0000] 127.0.0.1 "POST /v2.0/ports HTTP/1.1" 201 1604 300ms "nova-compute keystoneauth1/5.9.1 python-requests/2.32.3 CPython/3.11.2""#;
        assert_eq!(parse_line(ks).unwrap().client, "nova-compute");
        let none =
            r#"[05/Dec/2026:02:41:07 +0000] 127.0.0.1 "DELETE /v3/x HTTP/1.1" 204 - 3ms "-""#;
        assert_eq!(parse_line(none).unwrap().client, "-");
    }

    #[test]
    fn service_log_lines_are_not_calls() {
        for line in [
            "2026-12-05 02:41:07.123 1234 INFO nova.api.openstack.requestlog [req-1] 127.0.0.1 \"GET /v2.1\" status: 200",
            "[2026-12-05 02:41:07 +0000] [1234] [INFO] Booting worker with pid: 1235",
            "",
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
    }

    #[test]
    fn calls_between_marks_are_counted_by_service_and_client_without_the_instruments() {
        let dir = tempfile::tempdir().unwrap();
        let line = |m: &str, p: &str, ua: &str| {
            format!(
                "[05/Dec/2026:02:41:07 +0000] 127.0.0.1 \"{m} {p} HTTP/1.1\" 200 10 5ms \"{ua}\"\n"
            )
        };
        std::fs::write(dir.path().join("nova-api.log"), line("GET", "/v2.1", "old")).unwrap();
        let before = mark(dir.path());
        let mut nova = std::fs::read_to_string(dir.path().join("nova-api.log")).unwrap();
        nova += &line("POST", "/v2.1/servers", "gluster-operator/0.1");
        nova += "2026-12-05 INFO something the service logged\n";
        nova += &line("GET", "/v2.1/servers/detail", "bench-observer");
        std::fs::write(dir.path().join("nova-api.log"), nova).unwrap();
        std::fs::write(
            dir.path().join("neutron-api.log"),
            line("POST", "/v2.0/ports", "nova-compute keystoneauth1/5"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("keystone.log"),
            line("POST", "/v3/auth/tokens", "gluster-operator/0.1"),
        )
        .unwrap();
        let after = mark(dir.path());
        let count = calls_between(dir.path(), &before, &after, &["bench-observer"]);
        assert_eq!(count.compute_volume_network, 2);
        assert_eq!(count.by_service["identity"], 1);
        assert_eq!(count.of("compute", "gluster-operator"), 1);
        assert_eq!(count.of("network", "nova-compute"), 1);
        assert_eq!(count.infra_by("gluster-operator"), 1);
        assert_eq!(count.instruments["bench-observer"], 1);
        assert!(!count.by_service_client["compute"].contains_key("old"));
    }
}

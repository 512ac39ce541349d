//! Fault injection: rules that make matching HTTP calls fail (5xx), throttle (429 with
//! `Retry-After`), slow down or lose their connection, and rules that make servers go to ERROR or
//! volumes fail to create. Decisions are made in call order from a seeded generator, so the same
//! seed and the same sequence of calls give the same faults.

use super::error::SimError;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// All fault rules (the `faults` section of the configuration, and the body of the admin
/// endpoint `PUT /_sim/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the generator behind `probability`; without one, a seed is taken from the clock.
    pub seed: Option<u64>,
    /// Rules on HTTP calls, tried in order for every call.
    pub http: Vec<HttpFault>,
    /// Rules that send new servers to ERROR.
    pub servers: Vec<ResourceFault>,
    /// Rules that make new volumes fail (status `error`).
    pub volumes: Vec<ResourceFault>,
}

/// A rule on HTTP calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFault {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path to match: a route template exactly as the call counters name it
    /// (`/compute/v2.1/servers/{id}`), a prefix ending in `*` (`/volume/*`), or `*` for all.
    pub path: String,
    /// What happens to a matching call.
    pub action: FaultAction,
    /// Chance in [0, 1] that a matching call is hit (default 1).
    #[serde(default = "always")]
    pub probability: f64,
    /// Hit at most this many calls, then the rule is spent (unlimited when absent). A 429 burst
    /// is a `throttle` rule with `times`.
    #[serde(default)]
    pub times: Option<u32>,
}

/// What a [`HttpFault`] does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this 5xx status and the service's own error body.
    Error {
        /// 500–599.
        #[serde(default = "internal_error")]
        status: u16,
    },
    /// Answer 429 with `Retry-After`.
    Throttle {
        /// Seconds in `Retry-After`.
        #[serde(default = "one_second")]
        retry_after_secs: u64,
    },
    /// Delay the call, then serve it (latency rules add up; later rules still apply).
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Close the connection without answering.
    Drop,
}

/// A rule that makes servers go to ERROR or volumes fail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceFault {
    /// Only resources whose name matches this regular expression (all when absent).
    pub name_regex: Option<String>,
    /// Only this many resources, then the rule is spent (unlimited when absent): `times: 2` with
    /// no `name_regex` is "the next two".
    pub times: Option<u32>,
    /// For servers: the `fault.message` (default: Nova's "No valid host was found. ...").
    pub message: Option<String>,
}

fn always() -> f64 {
    1.0
}
fn internal_error() -> u16 {
    500
}
fn one_second() -> u64 {
    1
}

/// The message Nova's scheduler leaves in a server's fault when it cannot place it.
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

impl FaultConfig {
    /// Checks the rules; the error names the offending field under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), SimError> {
        for (i, r) in self.http.iter().enumerate() {
            let f = format!("{prefix}.http[{i}]");
            if r.path.is_empty() || !(r.path.starts_with('/') || r.path == "*") {
                return Err(SimError::config(
                    format!("{f}.path"),
                    "must be `*` or start with `/`",
                ));
            }
            if !(0.0..=1.0).contains(&r.probability) {
                return Err(SimError::config(
                    format!("{f}.probability"),
                    "must lie in [0, 1]",
                ));
            }
            if let FaultAction::Error { status } = r.action
                && !(500..=599).contains(&status)
            {
                return Err(SimError::config(
                    format!("{f}.action.status"),
                    "must be a 5xx status",
                ));
            }
        }
        for (list, rules) in [("servers", &self.servers), ("volumes", &self.volumes)] {
            for (i, r) in rules.iter().enumerate() {
                if let Some(re) = &r.name_regex {
                    Regex::new(re).map_err(|e| {
                        SimError::config(format!("{prefix}.{list}[{i}].name_regex"), e.to_string())
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// What to do with one HTTP call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HttpDecision {
    /// Delay before anything else.
    pub latency: Duration,
    /// The fault that replaces the call, if any.
    pub outcome: Option<HttpOutcome>,
}

/// A fault that replaces the call's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpOutcome {
    Error(u16),
    Throttle(u64),
    Drop,
}

/// SplitMix64: a tiny, well-known generator; enough for reproducible coin flips.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The rules plus the generator and what is left of each rule's `times`.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    config: FaultConfig,
    rng: SplitMix64,
    server_res: Vec<Option<Regex>>,
    volume_res: Vec<Option<Regex>>,
}

impl FaultEngine {
    pub(crate) fn new(config: FaultConfig) -> Result<Self, SimError> {
        config.validate("faults")?;
        let seed = config.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        let compile = |rules: &[ResourceFault]| {
            // Validated just above, so compiling again cannot fail; a failure would only drop the
            // filter, never panic.
            rules
                .iter()
                .map(|r| r.name_regex.as_deref().and_then(|re| Regex::new(re).ok()))
                .collect()
        };
        Ok(FaultEngine {
            server_res: compile(&config.servers),
            volume_res: compile(&config.volumes),
            rng: SplitMix64(seed),
            config,
        })
    }

    pub(crate) fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Decides the fate of one call to `method` on the route `template`.
    pub(crate) fn decide_http(&mut self, method: &str, template: &str) -> HttpDecision {
        let mut decision = HttpDecision::default();
        for rule in self.config.http.iter_mut() {
            if rule.times == Some(0) || !matches(rule, method, template) {
                continue;
            }
            if rule.probability < 1.0 && self.rng.next_f64() >= rule.probability {
                continue;
            }
            if let Some(t) = rule.times.as_mut() {
                *t -= 1;
            }
            match rule.action {
                FaultAction::Latency { ms } => decision.latency += Duration::from_millis(ms),
                FaultAction::Error { status } => {
                    decision.outcome = Some(HttpOutcome::Error(status));
                    break;
                }
                FaultAction::Throttle { retry_after_secs } => {
                    decision.outcome = Some(HttpOutcome::Throttle(retry_after_secs));
                    break;
                }
                FaultAction::Drop => {
                    decision.outcome = Some(HttpOutcome::Drop);
                    break;
                }
            }
        }
        decision
    }

    /// Whether a new server called `name` is to go to ERROR, and with which fault message.
    pub(crate) fn decide_server(&mut self, name: &str) -> Option<String> {
        take_resource(&mut self.config.servers, &self.server_res, name)
            .map(|m| m.unwrap_or_else(|| NO_VALID_HOST.to_string()))
    }

    /// Whether a new volume called `name` is to fail.
    pub(crate) fn decide_volume(&mut self, name: &str) -> bool {
        take_resource(&mut self.config.volumes, &self.volume_res, name).is_some()
    }
}

fn matches(rule: &HttpFault, method: &str, template: &str) -> bool {
    if let Some(m) = &rule.method
        && !m.eq_ignore_ascii_case(method)
    {
        return false;
    }
    match rule.path.strip_suffix('*') {
        Some(prefix) => template.starts_with(prefix),
        None => rule.path == template,
    }
}

/// The first live rule matching `name` is consumed; returns its message (`Some(None)` when it
/// has none).
fn take_resource(
    rules: &mut [ResourceFault],
    res: &[Option<Regex>],
    name: &str,
) -> Option<Option<String>> {
    for (rule, re) in rules.iter_mut().zip(res) {
        if rule.times == Some(0) {
            continue;
        }
        if rule.name_regex.is_some() && !re.as_ref().is_some_and(|re| re.is_match(name)) {
            continue;
        }
        if let Some(t) = rule.times.as_mut() {
            *t -= 1;
        }
        return Some(rule.message.clone());
    }
    None
}

/// A handle to the running simulator's fault rules; cheap to clone. Changes apply to calls that
/// arrive afterwards (the admin endpoint `/_sim/faults` does the same over HTTP).
#[derive(Debug, Clone)]
pub struct FaultHandle {
    pub(crate) inner: Arc<Mutex<FaultEngine>>,
}

impl FaultHandle {
    pub(crate) fn new(engine: FaultEngine) -> Self {
        FaultHandle {
            inner: Arc::new(Mutex::new(engine)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, FaultEngine> {
        // A panic while holding this lock can only come from a bug in the simulator itself; the
        // rules stay usable, so recover the guard instead of poisoning every later call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces every rule (and reseeds the generator).
    pub fn set(&self, config: FaultConfig) -> Result<(), SimError> {
        let engine = FaultEngine::new(config)?;
        *self.lock() = engine;
        Ok(())
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let seed = self.lock().config.seed;
        // An empty rule set is always valid.
        if let Ok(engine) = FaultEngine::new(FaultConfig {
            seed,
            ..FaultConfig::default()
        }) {
            *self.lock() = engine;
        }
    }

    /// The rules as they stand now (`times` counts what is left).
    pub fn current(&self) -> FaultConfig {
        self.lock().config().clone()
    }

    /// Appends an HTTP rule.
    pub fn add_http(&self, rule: HttpFault) -> Result<(), SimError> {
        self.extend(FaultConfig {
            http: vec![rule],
            ..FaultConfig::default()
        })
    }

    /// Appends every rule of `more` (its `seed` is ignored; the generator continues).
    pub fn extend(&self, more: FaultConfig) -> Result<(), SimError> {
        let mut config = self.current();
        config.http.extend(more.http);
        config.servers.extend(more.servers);
        config.volumes.extend(more.volumes);
        self.replace_keeping_rng(config)
    }

    /// Sends the next `n` servers created to ERROR with `message` (Nova's no-valid-host message
    /// when `None`).
    pub fn fail_next_servers(&self, n: u32, message: Option<String>) {
        self.push_resource(
            true,
            ResourceFault {
                name_regex: None,
                times: Some(n),
                message,
            },
        );
    }

    /// Sends every new server whose name matches `name_regex` to ERROR.
    pub fn fail_servers_named(
        &self,
        name_regex: &str,
        message: Option<String>,
    ) -> Result<(), SimError> {
        Regex::new(name_regex).map_err(|e| SimError::config("name_regex", e.to_string()))?;
        self.push_resource(
            true,
            ResourceFault {
                name_regex: Some(name_regex.to_string()),
                times: None,
                message,
            },
        );
        Ok(())
    }

    /// Makes the next `n` volumes created fail.
    pub fn fail_next_volumes(&self, n: u32) {
        self.push_resource(
            false,
            ResourceFault {
                name_regex: None,
                times: Some(n),
                message: None,
            },
        );
    }

    /// Makes every new volume whose name matches `name_regex` fail.
    pub fn fail_volumes_named(&self, name_regex: &str) -> Result<(), SimError> {
        Regex::new(name_regex).map_err(|e| SimError::config("name_regex", e.to_string()))?;
        self.push_resource(
            false,
            ResourceFault {
                name_regex: Some(name_regex.to_string()),
                times: None,
                message: None,
            },
        );
        Ok(())
    }

    fn push_resource(&self, server: bool, rule: ResourceFault) {
        let mut guard = self.lock();
        let re = rule.name_regex.as_deref().and_then(|r| Regex::new(r).ok());
        if server {
            guard.config.servers.push(rule);
            guard.server_res.push(re);
        } else {
            guard.config.volumes.push(rule);
            guard.volume_res.push(re);
        }
    }

    fn replace_keeping_rng(&self, config: FaultConfig) -> Result<(), SimError> {
        let mut fresh = FaultEngine::new(config)?;
        let mut guard = self.lock();
        fresh.rng = guard.rng.clone();
        *guard = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(yaml: &str) -> FaultEngine {
        FaultEngine::new(serde_yaml::from_str(yaml).expect("yaml")).expect("valid")
    }

    #[test]
    fn times_limits_a_burst() {
        let mut e = engine(
            "http: [{path: /compute/*, method: GET, action: {kind: throttle, retry_after_secs: 3}, times: 2}]",
        );
        let t = "/compute/v2.1/servers/{id}";
        assert_eq!(
            e.decide_http("GET", t).outcome,
            Some(HttpOutcome::Throttle(3))
        );
        assert_eq!(e.decide_http("POST", t).outcome, None);
        assert_eq!(
            e.decide_http("get", t).outcome,
            Some(HttpOutcome::Throttle(3))
        );
        assert_eq!(e.decide_http("GET", t).outcome, None);
        assert_eq!(e.config().http[0].times, Some(0));
    }

    #[test]
    fn latency_adds_up_and_later_rules_apply() {
        let mut e = engine(
            "http:\n- {path: '*', action: {kind: latency, ms: 5}}\n- {path: '*', action: {kind: latency, ms: 7}}\n- {path: /x, action: {kind: drop}}",
        );
        let d = e.decide_http("GET", "/x");
        assert_eq!(d.latency, Duration::from_millis(12));
        assert_eq!(d.outcome, Some(HttpOutcome::Drop));
        assert_eq!(e.decide_http("GET", "/y").outcome, None);
    }

    #[test]
    fn a_seed_makes_the_sequence_reproducible() {
        let yaml =
            "seed: 42\nhttp: [{path: '*', action: {kind: error, status: 503}, probability: 0.5}]";
        let run = || {
            let mut e = engine(yaml);
            (0..64)
                .map(|_| e.decide_http("GET", "/a").outcome.is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|h| **h).count();
        assert!(hits > 0 && hits < 64, "a coin flip hits sometimes: {hits}");
    }

    #[test]
    fn server_rules_by_count_and_name() {
        let mut e = engine("servers: [{times: 1}, {name_regex: '^doomed-', message: boom}]");
        assert_eq!(e.decide_server("a").as_deref(), Some(NO_VALID_HOST));
        assert_eq!(e.decide_server("b"), None);
        assert_eq!(e.decide_server("doomed-1").as_deref(), Some("boom"));
        assert_eq!(e.decide_server("doomed-2").as_deref(), Some("boom"));
    }

    #[test]
    fn validation_names_the_field() {
        let c: FaultConfig = serde_yaml::from_str("volumes: [{name_regex: '('}]").expect("yaml");
        let e = c.validate("faults").expect_err("bad regex");
        assert!(
            e.to_string().contains("faults.volumes[0].name_regex"),
            "{e}"
        );
        let c: FaultConfig =
            serde_yaml::from_str("http: [{path: x, action: {kind: drop}}]").expect("yaml");
        assert!(c.validate("faults").is_err());
        let c: FaultConfig =
            serde_yaml::from_str("http: [{path: /x, action: {kind: error, status: 404}}]")
                .expect("yaml");
        let e = c.validate("faults").expect_err("not 5xx");
        assert!(
            e.to_string().contains("faults.http[0].action.status"),
            "{e}"
        );
    }

    #[test]
    fn handle_helpers_add_rules() {
        let h = FaultHandle::new(FaultEngine::new(FaultConfig::default()).expect("empty"));
        h.fail_next_servers(1, None);
        h.fail_volumes_named("^bad").expect("regex");
        assert!(h.fail_volumes_named("(").is_err());
        assert_eq!(h.lock().decide_server("x").as_deref(), Some(NO_VALID_HOST));
        assert!(h.lock().decide_volume("bad-1"));
        assert!(!h.lock().decide_volume("good"));
        h.clear();
        assert_eq!(h.current().servers.len(), 0);
    }
}

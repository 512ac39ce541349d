//! What the observability tests share: the chart's Argo CD health check run by the real Lua
//! interpreter (Debian's `lua5.4`), the kstatus rules (sigs.k8s.io/cli-utils `kstatus`, the
//! library Flux's `healthChecks` use) written out, and the chart's PrometheusRule and Grafana
//! dashboard rendered by the real helm.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The repository's root.
pub fn workspace() -> PathBuf {
    e2e::controlplane::workspace()
}

/// The committed status fixtures (GlusterCluster objects recorded from real runs).
pub fn fixtures_dir() -> PathBuf {
    workspace().join("e2e/tests/fixtures/status")
}

/// A program from Debian's packages (`make setup` installs them), with a hint when missing.
pub fn debian_tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: run `make setup` (hack/setup.sh installs it)")
}

/// What Argo CD would show for the object: `(hs.status, hs.message)` from the chart's health
/// check (`charts/gluster-operator/argocd/health.lua`) run by `lua5.4` with `obj` set the way
/// Argo CD sets it (the object's JSON as Lua tables).
pub fn argocd_health(obj: &Value) -> (String, String) {
    let script =
        std::fs::read_to_string(workspace().join("charts/gluster-operator/argocd/health.lua"))
            .expect("the health check");
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{script}\nend)()\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_literal(obj)
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("health.lua");
    std::fs::write(&file, program).expect("writing the Lua program");
    let out = Command::new(debian_tool("lua5.4"))
        .arg(&file)
        .output()
        .expect("running lua5.4");
    assert!(
        out.status.success(),
        "lua5.4: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), message.to_string())
}

/// `value` as a Lua table constructor (objects keyed by string, arrays 1-based, null as nil).
pub fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua_literal).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_literal(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// A Lua string literal: every byte outside plain ASCII letters, digits and spaces escaped.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

/// kstatus' verdict on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kstatus {
    /// Not yet where the spec says (`Reconciling=True`, or the status describes an older
    /// generation).
    InProgress,
    /// Cannot get there (`Stalled=True`).
    Failed,
    /// Reconciled.
    Current,
}

/// The generic kstatus rules for a custom resource (cli-utils `pkg/kstatus/status`,
/// `checkGenericProperties`): a deletion timestamp, or `status.observedGeneration` present and
/// different from `metadata.generation`, is InProgress; then `Reconciling=True` is InProgress,
/// `Stalled=True` Failed; anything else Current.
pub fn kstatus(obj: &Value) -> Kstatus {
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return Kstatus::InProgress;
    }
    let generation = obj["metadata"]["generation"].as_i64();
    if let Some(observed) = obj["status"]["observedGeneration"].as_i64()
        && Some(observed) != generation
    {
        return Kstatus::InProgress;
    }
    let is_true = |t: &str| condition_status(obj, t) == Some("True");
    if is_true("Reconciling") {
        Kstatus::InProgress
    } else if is_true("Stalled") {
        Kstatus::Failed
    } else {
        Kstatus::Current
    }
}

/// The status (`True`/`False`/`Unknown`) of condition `type_`.
pub fn condition_status<'a>(obj: &'a Value, type_: &str) -> Option<&'a str> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?["status"]
        .as_str()
}

/// The reason of condition `type_`.
pub fn condition_reason<'a>(obj: &'a Value, type_: &str) -> Option<&'a str> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?["reason"]
        .as_str()
}

/// Checks one status (recorded or live) against the operator's contract with GitOps tools and
/// returns what Argo CD shows: the Lua check and kstatus agree (Stalled is Failed and Degraded,
/// Healthy is Current), a status that describes the latest generation is Ready, Reconciling or
/// Stalled (so kstatus never calls a cluster that is not Ready Current), and an older
/// observedGeneration is Progressing in both.
pub fn check_contract(obj: &Value) -> (String, String) {
    let what = format!(
        "{} (generation {}, resourceVersion {})",
        obj["metadata"]["name"], obj["metadata"]["generation"], obj["metadata"]["resourceVersion"]
    );
    let (health, message) = argocd_health(obj);
    let k = kstatus(obj);
    let ready = condition_status(obj, "Ready") == Some("True");
    let stalled = condition_status(obj, "Stalled") == Some("True");
    let degraded = condition_status(obj, "Degraded") == Some("True");
    let reconciling = condition_status(obj, "Reconciling") == Some("True");
    let has_conditions = obj["status"]["conditions"]
        .as_array()
        .is_some_and(|c| !c.is_empty());
    let behind =
        obj["status"]["observedGeneration"].as_i64() != obj["metadata"]["generation"].as_i64();
    assert!(
        ["Healthy", "Progressing", "Degraded"].contains(&health.as_str()),
        "{what}: Argo CD health {health:?}"
    );
    if !has_conditions || behind {
        assert_eq!(health, "Progressing", "{what}: {message}");
        if has_conditions {
            assert_eq!(k, Kstatus::InProgress, "{what}");
        }
        return (health, message);
    }
    // One verdict per status: exactly one of Ready, Reconciling, Stalled.
    assert_eq!(
        [ready, reconciling, stalled].iter().filter(|b| **b).count(),
        1,
        "{what}: Ready={ready} Reconciling={reconciling} Stalled={stalled}"
    );
    match k {
        Kstatus::Failed => {
            assert!(stalled, "{what}");
            assert_eq!(health, "Degraded", "{what}: {message}");
            assert!(message.starts_with("Stalled: "), "{what}: {message}");
        }
        Kstatus::InProgress => {
            assert!(reconciling, "{what}");
            let want = if degraded { "Degraded" } else { "Progressing" };
            assert_eq!(health, want, "{what}: {message}");
        }
        Kstatus::Current => {
            assert!(ready, "{what}: kstatus Current but not Ready");
            let want = if degraded { "Degraded" } else { "Healthy" };
            assert_eq!(health, want, "{what}: {message}");
        }
    }
    if degraded && !stalled {
        let reason = condition_reason(obj, "Degraded").unwrap_or_default();
        assert!(
            message.starts_with(&format!("Degraded: {reason}")),
            "{what}: {message}"
        );
    }
    (health, message)
}

/// `helm template` of the chart with `values`, only the one template `show_only` (a path under
/// the chart, e.g. `templates/prometheusrule.yaml`), parsed.
pub fn render(values: &str, show_only: &str) -> serde_yaml::Value {
    let all = e2e::controlplane::chart::template("gluster", "gluster-system", values, false)
        .unwrap_or_else(|e| panic!("helm template: {e}"));
    let source = format!("# Source: gluster-operator/{show_only}");
    let doc = all
        .split("\n---")
        .find(|d| d.contains(&source))
        .unwrap_or_else(|| panic!("no {show_only} in the rendered chart"));
    serde_yaml::from_str(doc).expect("a rendered document")
}

/// The Prometheus rule file the chart's PrometheusRule carries (its `spec`: `groups:`) with
/// `values` (YAML under `metrics.prometheusRule`, e.g. shorter `for`s), written to `dir/rules.yaml`.
pub fn write_rules(dir: &Path, rule_values: &str) -> PathBuf {
    let values = format!(
        "metrics:\n  prometheusRule:\n    enabled: true\n{}",
        rule_values
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let rule = render(&values, "templates/prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml::to_string(&rule["spec"]).expect("yaml")).expect("rules.yaml");
    path
}

/// The chart's Grafana dashboard, as its ConfigMap carries it.
pub fn dashboard() -> Value {
    let cm = render(
        "metrics:\n  grafanaDashboard:\n    enabled: true\n",
        "templates/grafana-dashboard.yaml",
    );
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let json = cm["data"]["gluster-operator.json"]
        .as_str()
        .expect("the dashboard JSON in the ConfigMap");
    serde_json::from_str(json).expect("the dashboard is JSON")
}

/// Every PromQL expression of the dashboard's panels, with the template variables (`$namespace`,
/// `$cluster`: regex matchers) set to match everything.
pub fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            out.push(expr.replace("$namespace", ".*").replace("$cluster", ".*"));
        }
    }
    out
}

/// The metric names (`gluster_operator_…`) an expression uses.
pub fn metric_names(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"gluster_operator_[a-z_]+").expect("regex");
    let mut names: Vec<String> = re.find_iter(expr).map(|m| m.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// The metric families the operator exports once each kind of event has happened (a family
/// appears in `/metrics` only after its first sample: the reconcile error counter is absent
/// until the first error): a `Metrics` fed one of each, its `# TYPE` lines.
pub fn exported_families() -> Vec<String> {
    use gluster_operator::api::{HealthStatus, NodeStatus};
    use gluster_operator::cloud::ServiceType;
    use gluster_operator::cloud::observe::{CallEvent, CallObserver, CallOutcome};
    let m = gluster_operator::controller::metrics::Metrics::default();
    m.reconciled(std::time::Duration::from_millis(10));
    m.error("QuotaExceeded");
    m.nodes("ns", "c", &[NodeStatus::default()]);
    m.health("ns", "c", &HealthStatus::default(), Some("BrickOffline"));
    m.set_leader(true);
    m.observe(&CallEvent {
        service: ServiceType::Compute,
        method: "GET",
        outcome: CallOutcome::Ok,
    });
    m.encode()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether metric `name` (a sample name: `_total`, `_bucket`, `_count`, `_sum` allowed) belongs
/// to one of `families`.
pub fn is_exported(families: &[String], name: &str) -> bool {
    ["", "_total", "_bucket", "_count", "_sum"]
        .iter()
        .any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|f| families.iter().any(|x| x == f))
        })
}

/// Runs `promtool` with `args` in `dir`, returning its output; panics with it on failure.
pub fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(debian_tool("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

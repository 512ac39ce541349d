//! The chart's GitOps and monitoring pieces, checked with the real tools in a few seconds:
//! the Argo CD health check (`charts/gluster-operator/argocd/health.lua`) run by Debian's
//! `lua5.4` and the kstatus rules over GlusterCluster objects recorded from real runs
//! (`e2e/tests/fixtures/status/`, written by `observability_live.rs` with
//! `RECORD_STATUS_FIXTURES=1`); the PrometheusRule the chart renders through `promtool check
//! rules` and the unit tests of `e2e/tests/fixtures/alerts/alerts_test.yaml` through `promtool
//! test rules`; the Grafana dashboard naming only metrics the operator exports. The same
//! rules and dashboard run against a real Prometheus in `observability_live.rs`.

mod observability_support;

use observability_support::{Kstatus, check_contract, kstatus};
use serde_json::Value;

/// The recorded objects and what Argo CD and kstatus must say about each.
const RECORDED: [(&str, &str, Kstatus); 6] = [
    // As created: no status yet (kstatus has nothing to go by: Current, as for any new CR;
    // Argo CD waits).
    ("created.json", "Progressing", Kstatus::Current),
    ("reconciling.json", "Progressing", Kstatus::InProgress),
    ("ready.json", "Healthy", Kstatus::Current),
    // An offline brick holds Ready back (Reconciling=True) while Degraded names it.
    (
        "degraded-brick-offline.json",
        "Degraded",
        Kstatus::InProgress,
    ),
    ("stalled-secret-missing.json", "Degraded", Kstatus::Failed),
    // The spec changed (generation +1) and the operator has not looked yet.
    ("generation-ahead.json", "Progressing", Kstatus::InProgress),
];

fn fixture(name: &str) -> Value {
    let path = observability_support::fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn argocd_health_and_kstatus_agree_on_every_recorded_status() {
    let mut on_disk: Vec<String> = std::fs::read_dir(observability_support::fixtures_dir())
        .expect("the status fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = RECORDED.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every recorded status has its expectation here"
    );
    for (file, health, want) in RECORDED {
        let obj = fixture(file);
        let (got, message) = check_contract(&obj);
        assert_eq!(got, health, "{file}: {message}");
        assert_eq!(kstatus(&obj), want, "{file}");
        assert!(!message.is_empty(), "{file}: Argo CD shows a message");
    }
    // The messages name what a person should look at.
    let (_, m) = observability_support::argocd_health(&fixture("degraded-brick-offline.json"));
    assert!(m.starts_with("Degraded: BrickOffline"), "{m}");
    let (_, m) = observability_support::argocd_health(&fixture("stalled-secret-missing.json"));
    assert!(
        m.starts_with("Stalled: CloudSecretInvalid") && m.contains("secretName"),
        "{m}"
    );
    let ahead = fixture("generation-ahead.json");
    let (_, m) = observability_support::argocd_health(&ahead);
    assert_eq!(
        m,
        format!(
            "Waiting for the operator to observe generation {}",
            ahead["metadata"]["generation"]
        )
    );
}

#[test]
fn the_readme_snippets_carry_the_health_check_and_the_kstatus_conditions() {
    let readme = std::fs::read_to_string(observability_support::workspace().join("README.md"))
        .expect("README.md");
    let lua = std::fs::read_to_string(
        observability_support::workspace().join("charts/gluster-operator/argocd/health.lua"),
    )
    .expect("health.lua");
    // The Argo CD snippet embeds the script as it is (indented under health.lua: |).
    for line in lua.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            readme
                .lines()
                .any(|r| r.ends_with(line) && r.trim() == line.trim()),
            "README's resource.customizations lacks the line {line:?} of health.lua"
        );
    }
    assert!(readme.contains("storage.glusterops.dev_GlusterCluster:"));
    assert!(readme.contains("healthChecks:") && readme.contains("kind: GlusterCluster"));
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    observability_support::write_rules(dir.path(), "");
    let checked = observability_support::promtool(dir.path(), &["check", "rules", "rules.yaml"]);
    assert!(checked.contains("SUCCESS: 8 rules found"), "{checked}");
    std::fs::copy(
        observability_support::workspace().join("e2e/tests/fixtures/alerts/alerts_test.yaml"),
        dir.path().join("alerts_test.yaml"),
    )
    .expect("copying the unit tests");
    let tested =
        observability_support::promtool(dir.path(), &["test", "rules", "alerts_test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn alerts_and_dashboard_name_only_metrics_the_operator_exports() {
    let families = observability_support::exported_families();
    let exported = |name: &str| observability_support::is_exported(&families, name);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = std::fs::read_to_string(observability_support::write_rules(dir.path(), ""))
        .expect("rules.yaml");
    let dashboard = observability_support::dashboard();
    let queries = observability_support::dashboard_queries(&dashboard);
    assert!(queries.len() >= 12, "{queries:?}");
    let mut names = observability_support::metric_names(&rules);
    for q in &queries {
        names.extend(observability_support::metric_names(q));
    }
    names.sort();
    names.dedup();
    assert!(names.len() >= 9, "{names:?}");
    for name in &names {
        assert!(
            exported(name),
            "{name} is not exported (families: {families:?})"
        );
    }
    // A misspelt name is caught.
    assert!(!exported("gluster_operator_brick"));
}

//! Entry points of the fuzz targets (`operator/fuzz`, cargo-fuzz with libFuzzer), shared with
//! the corpus replay test (`operator/tests/fuzz_corpora.rs`) so that `make test` runs every
//! committed corpus file through exactly what the fuzzer runs, on stable Rust.
//!
//! Each entry takes arbitrary bytes, must never panic, and panics (with the reason) when an
//! invariant of the code under test breaks: that panic is the fuzzer's finding.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::api::{GlusterClusterSpec, INSECURE_APT_OPTION_PATTERN, REPOSITORY_PATTERN};
use crate::bootstrap::{BrickDevice, DistroFamily, NodeBootstrap, SshKeyPair, render_user_data};
use crate::cloud::config::CloudConfig;
use crate::cloud::error::{MAX_MESSAGE, parse_error_body};
use crate::gluster::xml;
use crate::plan::{CloudFacts, CurrentState, plan_change, plan_cluster, report};

/// A fuzz target: its name (the directory of its corpus and the file of its target) and entry.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, by name.
pub const TARGETS: [Target; 10] = [
    ("gluster_envelope", gluster_envelope),
    ("gluster_volume_info", gluster_volume_info),
    ("gluster_volume_status", gluster_volume_status),
    ("gluster_heal_info", gluster_heal_info),
    ("gluster_peers", gluster_peers),
    ("gluster_migration", gluster_migration),
    ("cloud_config", cloud_config),
    ("cloud_error_body", cloud_error_body),
    ("spec_plan", spec_plan),
    ("spec_cloud_init", spec_cloud_init),
];

/// The bytes as text, as the gluster CLI's output reaches the parsers (lossy UTF-8).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `gluster … --xml` envelope (`opRet`, `opErrno`, `opErrstr`) of any document.
pub fn gluster_envelope(data: &[u8]) {
    if let Ok(envelope) = xml::parse_envelope(&text(data)) {
        let ok = envelope.op_ret == 0;
        assert_eq!(envelope.check().is_ok(), ok, "check() follows opRet");
    }
}

/// `gluster volume info --xml`.
pub fn gluster_volume_info(data: &[u8]) {
    if let Ok(volumes) = xml::parse_volume_info(&text(data)) {
        for v in &volumes {
            let _ = (v.subvolume_size(), v.is_started());
            for b in &v.bricks {
                let _ = b.name();
            }
        }
    }
}

/// `gluster volume status --xml`.
pub fn gluster_volume_status(data: &[u8]) {
    if let Ok(volumes) = xml::parse_volume_status(&text(data)) {
        for v in &volumes {
            for b in &v.bricks {
                let _ = b.name();
            }
        }
    }
}

/// `gluster volume heal … info [summary] --xml`.
pub fn gluster_heal_info(data: &[u8]) {
    if let Ok(info) = xml::parse_heal_info(&text(data)) {
        let _ = (
            info.pending_entries(),
            info.is_healed(),
            info.split_brain_entries(),
        );
        for b in &info.bricks {
            let _ = (b.connected(), b.name());
        }
    }
}

/// `gluster peer status --xml` and `gluster pool list --xml`.
pub fn gluster_peers(data: &[u8]) {
    let output = text(data);
    for peers in [
        xml::parse_peer_status(&output),
        xml::parse_pool_list(&output),
    ]
    .into_iter()
    .flatten()
    {
        for p in &peers {
            let _ = (p.in_cluster(), p.is_named("node-0"));
        }
    }
}

/// `gluster volume rebalance … status --xml` and `remove-brick … status --xml`.
pub fn gluster_migration(data: &[u8]) {
    let output = text(data);
    for status in [
        xml::parse_rebalance_status(&output),
        xml::parse_remove_brick_status(&output),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (status.outcome(), status.failures(), status.failed_nodes());
        for node in &status.nodes {
            let status = &node.totals.status;
            let _ = (
                status.is_running(),
                status.is_failed(),
                status.is_stopped(),
                status.is_completed(),
            );
        }
        if status.safe_to_commit() {
            assert_eq!(status.failures(), 0, "safe to commit with failures");
        }
    }
}

/// clouds.yaml and `OS_*` parsing. The first line names the cloud; the rest is the clouds.yaml
/// text, and also read as `KEY=VALUE` lines of an environment whose `OS_CLIENT_CONFIG_FILE`
/// reads that text. Neither a parsed configuration (`Debug`) nor an error (`Display`, `Debug`)
/// shows a password or secret of the input.
pub fn cloud_config(data: &[u8]) {
    let input = text(data);
    let (cloud, yaml) = input.split_once('\n').unwrap_or((input.as_str(), ""));
    let env: Vec<(&str, &str)> = yaml
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    let mut secrets = yaml_secrets(yaml);
    secrets.extend(
        env.iter()
            .filter(|(k, _)| SECRET_ENV.contains(k))
            .map(|(_, v)| v.trim().to_string()),
    );
    // A secret is only looked for when it is long enough and occurs once in the input (else
    // the text around it could show it by right, as a user name or a URL).
    secrets.retain(|s| s.len() >= 8 && input.matches(s.as_str()).count() == 1);
    check_config(CloudConfig::from_clouds_yaml(yaml, cloud), &secrets);
    let lookup = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_string())
    };
    check_config(
        CloudConfig::from_env_with(lookup, |_| Ok(yaml.to_string())),
        &secrets,
    );
}

/// The `OS_*` variables that hold secrets.
const SECRET_ENV: [&str; 2] = ["OS_PASSWORD", "OS_APPLICATION_CREDENTIAL_SECRET"];

/// The scalar values of `password` and `application_credential_secret` keys anywhere in a YAML
/// document.
fn yaml_secrets(yaml: &str) -> Vec<String> {
    fn walk(value: &serde_yaml::Value, out: &mut Vec<String>) {
        match value {
            serde_yaml::Value::Mapping(map) => {
                for (k, v) in map {
                    let secret_key = matches!(
                        k.as_str(),
                        Some("password" | "application_credential_secret")
                    );
                    match v {
                        serde_yaml::Value::String(s) if secret_key => {
                            out.push(s.trim().to_string())
                        }
                        serde_yaml::Value::Number(n) if secret_key => out.push(n.to_string()),
                        other => walk(other, out),
                    }
                }
            }
            serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| walk(v, out)),
            serde_yaml::Value::Tagged(tagged) => walk(&tagged.value, out),
            _ => {}
        }
    }
    let mut out = vec![];
    if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(yaml) {
        walk(&value, &mut out);
    }
    out
}

fn check_config(result: Result<CloudConfig, crate::cloud::error::CloudError>, secrets: &[String]) {
    let shown = match result {
        Ok(config) => {
            let _ = config.identity_v3_url();
            format!("{config:?}")
        }
        Err(e) => format!("{e} {e:?}"),
    };
    for secret in secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "the secret {secret:?} shows in {shown}"
        );
    }
}

/// A cloud's error body as it reaches status: capped, and no Fernet token left in it.
pub fn cloud_error_body(data: &[u8]) {
    let (message, _) = parse_error_body(data);
    assert!(
        message.chars().count() <= MAX_MESSAGE + 1,
        "message of {} characters",
        message.chars().count()
    );
    let fernet = message.match_indices("gAAAA").any(|(at, _)| {
        message[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '='))
            .count()
            >= 15
    });
    assert!(!fernet, "a Fernet token survived: {message}");
}

/// The specs of a YAML (or JSON) stream: each document a GlusterCluster (its `spec`) or a bare
/// spec; documents that are neither are skipped.
fn specs(data: &[u8]) -> Vec<GlusterClusterSpec> {
    let mut out = vec![];
    for doc in serde_yaml::Deserializer::from_slice(data).take(4) {
        let Ok(value) = serde_yaml::Value::deserialize(doc) else {
            break;
        };
        let spec = match value.get("spec") {
            Some(spec) => spec.clone(),
            None => value,
        };
        if let Ok(spec) = serde_yaml::from_value::<GlusterClusterSpec>(spec) {
            out.push(spec);
        }
    }
    out
}

/// The cloud facts each spec is planned with: unknown, every zone with block storage, none.
fn facts(spec: &GlusterClusterSpec) -> [CloudFacts; 3] {
    let all: BTreeSet<String> = spec.zones.iter().map(|z| z.name.clone()).collect();
    [
        CloudFacts {
            block_storage_zones: None,
        },
        CloudFacts {
            block_storage_zones: Some(all),
        },
        CloudFacts {
            block_storage_zones: Some(BTreeSet::new()),
        },
    ]
}

/// GlusterCluster spec → planner: the first document planned from nothing, then each next one
/// planned as a change from the state the previous plan leaves.
pub fn spec_plan(data: &[u8]) {
    let specs = specs(data);
    let Some(first) = specs.first() else { return };
    for facts in facts(first) {
        let Ok(plan) = plan_cluster("fuzz", first, &facts) else {
            continue;
        };
        let _ = report::render("fuzz", &plan);
        let names: BTreeSet<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), plan.nodes.len(), "node names are unique");
        let mut current = CurrentState::after(&plan);
        for next in &specs[1..] {
            match plan_change("fuzz", next, &facts, &current) {
                Ok(plan) => current = CurrentState::after(&plan),
                Err(_) => break,
            }
        }
    }
}

/// The operator's key and a host key, generated once per process (their values do not matter).
static KEYS: LazyLock<Option<(SshKeyPair, SshKeyPair)>> = LazyLock::new(|| {
    Some((
        SshKeyPair::generate("gluster-operator@fuzz").ok()?,
        SshKeyPair::generate("fuzz-node").ok()?,
    ))
});

/// The top-level keys of the operator's cloud-config.
const CLOUD_CONFIG_KEYS: [&str; 8] = [
    "apt",
    "packages",
    "users",
    "ssh_pwauth",
    "ssh_deletekeys",
    "ssh_keys",
    "write_files",
    "runcmd",
];

/// Spec → cloud-init user-data, for both distribution families and both brick devices. A
/// rendering that is not refused holds no unquoted input: its header is two comment lines, it
/// parses to the operator's keys only, `runcmd` is argument vectors (never a shell string built
/// from input), the apt source is the repository exactly and in the CRD's documented form, and
/// the pin file is the four lines it should be.
pub fn spec_cloud_init(data: &[u8]) {
    let Some((operator, host)) = KEYS.as_ref() else {
        return;
    };
    for spec in specs(data).iter().take(1) {
        let zone = spec.zones.first().map(|z| z.name.as_str()).unwrap_or("a");
        for distro in [DistroFamily::Debian, DistroFamily::El] {
            for device in [
                BrickDevice::Ephemeral,
                BrickDevice::Volume {
                    id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
                },
            ] {
                let node = NodeBootstrap::from_spec(
                    spec,
                    "fuzz",
                    &format!("fuzz-{zone}-0"),
                    distro,
                    device,
                    operator.public_key().clone(),
                    host.clone(),
                );
                if let Ok(user_data) = render_user_data(&node) {
                    check_user_data(spec, distro, user_data.as_str());
                }
            }
        }
    }
}

static REPOSITORY: LazyLock<regex::Regex> = LazyLock::new(|| {
    // Invariant: a constant pattern, checked by the CRD tests too.
    regex::Regex::new(REPOSITORY_PATTERN).expect("REPOSITORY_PATTERN compiles")
});
static INSECURE: LazyLock<regex::Regex> = LazyLock::new(|| {
    // Invariant: a constant pattern, checked by the CRD tests too.
    regex::Regex::new(INSECURE_APT_OPTION_PATTERN).expect("INSECURE_APT_OPTION_PATTERN compiles")
});

fn check_user_data(spec: &GlusterClusterSpec, distro: DistroFamily, text: &str) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#cloud-config"));
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("# gluster-operator: ")),
        "a one-line header comment"
    );
    let first_key = lines.next().unwrap_or_default();
    assert!(
        CLOUD_CONFIG_KEYS
            .iter()
            .any(|k| first_key.starts_with(&format!("{k}:"))),
        "the body starts with an operator key, not {first_key:?}"
    );
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(doc) => doc,
        Err(e) => panic!("rendered user-data is not YAML: {e}"),
    };
    let Some(map) = doc.as_mapping() else {
        panic!("user-data is not a mapping")
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        assert!(CLOUD_CONFIG_KEYS.contains(&key), "unexpected key {key:?}");
    }
    let runcmd = doc["runcmd"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(runcmd.first().and_then(|v| v.as_str()), Some("set -e"));
    for cmd in &runcmd[1..] {
        let argv = cmd.as_sequence();
        assert!(
            argv.is_some_and(|a| a.iter().all(|v| v.as_str().is_some())),
            "runcmd entry is not an argument vector: {cmd:?}"
        );
    }
    let repository = spec.gluster.repository.as_deref().map(str::trim);
    let source = doc["apt"]["sources"]["gluster"]["source"].as_str();
    match distro {
        DistroFamily::Debian => {
            assert_eq!(
                source, repository,
                "the apt source is the repository as given"
            );
            if let Some(source) = source {
                assert!(
                    REPOSITORY.is_match(source) && !INSECURE.is_match(source),
                    "accepted an apt source the CRD refuses: {source:?}"
                );
            }
        }
        DistroFamily::El => assert_eq!(source, None),
    }
    for file in doc["write_files"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if file["path"].as_str() == Some(crate::bootstrap::APT_PIN_PATH) {
            let content = file["content"].as_str().unwrap_or_default();
            assert_eq!(content.lines().count(), 4, "pin file: {content:?}");
        }
    }
}

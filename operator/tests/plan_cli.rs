//! `gluster-operator plan` end to end: the built binary over every example, compared with the
//! committed golden output (operator/tests/golden/), and its refusals.
//!
//! Regenerate the golden files after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p gluster-operator --test plan_cli`, then review the diff.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The block storage zones of the local simulated world (zone-c has none).
const SIM_BLOCK_STORAGE: &str = "zone-a,zone-b";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the operator crate sits in the workspace root")
        .to_path_buf()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Run `gluster-operator ARGS` from the repository root, with `stdin` piped in.
fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gluster-operator"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gluster-operator binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin accepts the manifest");
    child.wait_with_output().expect("gluster-operator finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// Compare `actual` with the golden file `name`, or rewrite it when UPDATE_GOLDEN=1.
fn check_golden(name: &str, actual: &str) -> Result<(), String> {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).map_err(|e| e.to_string())?;
        std::fs::write(&path, actual).map_err(|e| format!("writing {}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run UPDATE_GOLDEN=1 cargo test -p gluster-operator --test plan_cli)",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let first_diff = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{} differs from the output at line {}:\n  golden: {:?}\n  actual: {:?}\n(if the change \
         is intended: UPDATE_GOLDEN=1 cargo test -p gluster-operator --test plan_cli)",
        path.display(),
        first_diff + 1,
        expected.lines().nth(first_diff).unwrap_or("<end>"),
        actual.lines().nth(first_diff).unwrap_or("<end>"),
    ))
}

fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ exists")
        .map(|e| {
            e.expect("examples/ is readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_example_plans_as_its_golden_output() {
    let examples = examples();
    assert!(
        examples.len() >= 6,
        "examples/ holds the seed's scenarios: {examples:?}"
    );
    let mut failures = Vec::new();
    for example in &examples {
        let path = format!("examples/{example}");
        let out = run(
            &[
                "plan",
                "-f",
                &path,
                "--block-storage-zones",
                SIM_BLOCK_STORAGE,
            ],
            "",
        );
        let stderr = text(&out.stderr);
        if !out.status.success() || !stderr.is_empty() {
            failures.push(format!(
                "{path}: exit {:?}, stderr:\n{stderr}",
                out.status.code()
            ));
            continue;
        }
        let stem = example.trim_end_matches(".yaml");
        if let Err(e) = check_golden(&format!("{stem}.txt"), &text(&out.stdout)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn undecided_storage_without_cloud_facts() {
    let out = run(&["plan", "-f", "examples/ephemeral-zone.yaml"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("m1.medium or m1.xlarge"), "{stdout}");
    check_golden("ephemeral-zone.no-facts.txt", &stdout).unwrap_or_else(|e| panic!("{e}"));
}

/// Change plans (`--from`): each is (golden name, new manifest, current manifest).
const CHANGES: [(&str, &str, &str); 4] = [
    (
        "change-seed-grow.txt",
        "operator/tests/fixtures/seed-5-nodes.yaml",
        "examples/seed-4-nodes-replica.yaml",
    ),
    (
        "change-seed-shrink.txt",
        "operator/tests/fixtures/seed-3-nodes.yaml",
        "examples/seed-4-nodes-replica.yaml",
    ),
    (
        "change-two-zones-grow.txt",
        "operator/tests/fixtures/two-zones-3-3.yaml",
        "examples/two-zones-replica2.yaml",
    ),
    (
        "change-two-zones-shrink.txt",
        "examples/two-zones-replica2.yaml",
        "operator/tests/fixtures/two-zones-3-3.yaml",
    ),
];

#[test]
fn change_plans_match_their_golden_output() {
    let mut failures = Vec::new();
    for (golden, new, current) in CHANGES {
        let out = run(
            &[
                "plan",
                "-f",
                new,
                "--from",
                current,
                "--block-storage-zones",
                SIM_BLOCK_STORAGE,
            ],
            "",
        );
        let stderr = text(&out.stderr);
        if !out.status.success() || !stderr.is_empty() {
            failures.push(format!(
                "{new} from {current}: exit {:?}, stderr:\n{stderr}",
                out.status.code()
            ));
            continue;
        }
        if let Err(e) = check_golden(golden, &text(&out.stdout)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_change_that_breaks_sets_is_refused() {
    let current = "examples/two-zones-replica2.yaml";
    let example = std::fs::read_to_string(repo_root().join(current)).expect("two-zones example");
    // Emptying zone-b would split both replica sets.
    let new = example.replacen(
        "- name: zone-b\n      nodes: 2",
        "- name: zone-b\n      nodes: 0",
        1,
    );
    assert_ne!(new, example, "the edit applies");
    let out = run(&["plan", "-f", "-", "--from", current], &new);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: GlusterCluster twozones (-, document 1) refused [NotWholeSets]: scale-in must \
         remove whole replica sets of 2, but removing zone-b: 2 matches no combination of the \
         volume's sets (set 1: zone-a: 1, zone-b: 1; set 2: zone-a: 1, zone-b: 1)\n"
    );
}

#[test]
fn no_stale_golden_files() {
    let mut expected: Vec<String> = examples()
        .iter()
        .map(|e| format!("{}.txt", e.trim_end_matches(".yaml")))
        .collect();
    expected.push("ephemeral-zone.no-facts.txt".to_string());
    expected.extend(CHANGES.iter().map(|(golden, _, _)| golden.to_string()));
    expected.sort();
    let mut present: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("operator/tests/golden exists")
        .map(|e| {
            e.expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    present.sort();
    let stale: Vec<&String> = present.iter().filter(|p| !expected.contains(p)).collect();
    assert!(
        stale.is_empty(),
        "golden files without an example: {stale:?}"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_none_or(|v| v != "1") {
        // (While regenerating, the other tests may not have written theirs yet.)
        assert_eq!(present, expected, "every example has a golden file");
    }
}

#[test]
fn reads_stdin_and_several_documents() {
    let seed = std::fs::read_to_string(repo_root().join("examples/seed-4-nodes-replica.yaml"))
        .expect("seed example");
    let pair = std::fs::read_to_string(repo_root().join("examples/2-nodes-replica-2.yaml"))
        .expect("pair example");
    let both =
        format!("{seed}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{pair}");
    let out = run(
        &[
            "plan",
            "-f",
            "-",
            "--block-storage-zones",
            SIM_BLOCK_STORAGE,
        ],
        &both,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("GlusterCluster seed (-)\n"), "{stdout}");
    assert!(stdout.contains("\n\nGlusterCluster pair (-)\n"), "{stdout}");
    assert_eq!(
        text(&out.stderr),
        "note: -: document 2 is a ConfigMap, not a GlusterCluster; skipped\n"
    );
    // Same plan as from the file, apart from the title line.
    let golden = std::fs::read_to_string(golden_dir().join("seed-4-nodes-replica.txt"))
        .expect("seed golden");
    let body = |s: &str| {
        s.lines()
            .skip(1)
            .take_while(|l| !l.starts_with("GlusterCluster "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&stdout).trim_end(), body(&golden).trim_end());
}

const BAD: &str = "apiVersion: storage.glusterops.dev/v1alpha1
kind: GlusterCluster
metadata:
  name: bad
  namespace: storage
spec:
  cloud: {secretName: openstack, cloudName: sim}
  image: ubuntu-22.04
  flavor: m1.medium
  network: private
  zones:
    - name: zone-a
      nodes: 4
  brick: {size: 10Gi}
  volume:
    name: data
    replicas: 3
";

#[test]
fn a_refused_spec_exits_non_zero_with_the_reason_and_others_still_plan() {
    let pair = std::fs::read_to_string(repo_root().join("examples/2-nodes-replica-2.yaml"))
        .expect("pair example");
    let input = format!("{BAD}---\n{pair}");
    let out = run(&["plan", "-f", "-"], &input);
    assert_eq!(out.status.code(), Some(1), "a refusal fails the command");
    assert_eq!(
        text(&out.stderr),
        "error: GlusterCluster storage/bad (-, document 1) refused [ReplicasDoNotDivideNodes]: \
         spec.volume.replicas 3 does not divide the 4 nodes of spec.zones (zone-a: 4)\n"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("GlusterCluster pair (-)\n"),
        "the good cluster is still planned: {stdout}"
    );
    assert!(
        !stdout.contains("bad"),
        "nothing of the refused cluster on stdout: {stdout}"
    );
}

#[test]
fn every_refusal_is_reported_across_files() {
    let uneven = BAD
        .replace("name: bad", "name: uneven")
        .replace(
            "      nodes: 4\n",
            "      nodes: 4\n    - name: zone-b\n      nodes: 2\n",
        )
        .replace("replicas: 3", "replicas: 2");
    let out = run(
        &["plan", "-f", "-", "-f", "examples/does-not-exist.yaml"],
        &uneven,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "error: GlusterCluster storage/uneven (-, document 1) refused [UnevenZones]: cannot \
             spread the 3 replica sets of 2 across zones (zone-a: 4, zone-b: 2)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: examples/does-not-exist.yaml: "),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn malformed_manifests_name_the_field() {
    let out = run(
        &["plan", "-f", "-"],
        &BAD.replace("nodes: 4", "nodes: four"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: -: document 1: spec.zones[0].nodes: invalid type: string \"four\""
        ),
        "{stderr}"
    );
}

#[test]
fn plan_needs_a_file() {
    let out = run(&["plan"], "");
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(
        text(&out.stderr).contains("--filename <FILE>"),
        "{}",
        text(&out.stderr)
    );
}

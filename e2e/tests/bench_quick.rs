//! The bench harness end to end in its quick mode (4 real loopback nodes at a 2 s boot delay,
//! 10 s idle, 1 and 10 simulated clusters): every figure of `bench-results.json` is there and
//! consistent with the others. No speed is asserted here — targets are the bench's business
//! (`make bench`). Needs root (loopback nodes) and the operator binary of the same profile
//! (`cargo test --workspace` builds it): it fails, never skips.

use std::path::Path;

use e2e::bench::{self, BenchOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_bench_writes_every_figure() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the bench needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
    );
    let scratch = tempfile::Builder::new()
        .prefix("bench-quick-")
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = BenchOptions::quick(&repo);
    // Away from the bench's own 127.110/16 and the reconcile tests' 127.100/16.
    options.subnet_octet = 111;
    options.work_dir = scratch.path().join("work");
    options.json_path = scratch.path().join("bench-results.json");
    options.svg_path = scratch.path().join("bench-results.svg");
    let results = bench::run(&options).await.expect("the bench ran");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&options.json_path).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(json["mode"], "quick");
    assert!(json["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
    assert!(json["machine"]["memory_bytes"].as_u64().unwrap_or(0) > 0);

    let runs = json["time_to_ready"].as_array().expect("time_to_ready");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["nodes"], 4);
    assert_eq!(run["error"], serde_json::Value::Null, "{run:#}");
    let ready = run["time_to_ready_seconds"].as_f64().expect("Ready");
    let path = &run["critical_path"];
    let critical = path["seconds"].as_f64().expect("critical path");
    // The parts add up, each is a duration, and the path lies within the run.
    let parts: f64 = [
        "slowest_server_active_seconds",
        "volume_attach_seconds",
        "brick_script_seconds",
        "gluster_ops_seconds",
    ]
    .iter()
    .map(|k| {
        let v = path[k].as_f64().unwrap_or(-1.0);
        assert!(v >= 0.0, "{k}: {path:#}");
        v
    })
    .sum();
    assert!((parts - critical).abs() < 1e-6, "{path:#}");
    // The boot delay is on the path; the path is part of the run.
    assert!(
        path["slowest_server_active_seconds"]
            .as_f64()
            .unwrap_or(0.0)
            >= 2.0
    );
    assert!(
        critical <= ready,
        "critical path {critical} s, Ready after {ready} s"
    );
    let ratio = run["ratio_to_critical_path"].as_f64().expect("ratio");
    assert!((ratio - ready / critical).abs() < 1e-9);
    // Probes of the three other nodes, create, auth.allow, start.
    let commands = path["gluster_commands"].as_array().expect("commands");
    let count = |verb: &str| {
        commands
            .iter()
            .filter(|c| c["command"].as_str().unwrap_or("").contains(verb))
            .count()
    };
    assert_eq!(count("peer probe"), 3, "{commands:#?}");
    assert_eq!(count("volume create"), 1);
    assert_eq!(count("volume start"), 1);

    // Calls: the four servers, volumes and attachments are among them; the minimum is 3 per
    // node plus 14, and the ratio is their quotient.
    let calls = run["calls_total"].as_u64().expect("calls_total");
    let minimum = run["minimum_calls"]["total"].as_u64().expect("minimum");
    assert_eq!(minimum, 3 * 4 + 14);
    let by_service = &run["calls_by_service_verb"];
    assert_eq!(by_service["compute"]["POST /compute/v2.1/servers"], 4);
    assert_eq!(
        by_service["volume"]["POST /volume/v3/{project_id}/volumes"],
        4
    );
    let summed: u64 = by_service
        .as_object()
        .expect("by service")
        .values()
        .flat_map(|m| m.as_object().expect("by verb").values())
        .map(|n| n.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(summed, calls);
    assert!(
        (run["calls_ratio_to_minimum"].as_f64().unwrap_or(0.0) - calls as f64 / minimum as f64)
            .abs()
            < 1e-9
    );

    let idle = &json["idle"];
    assert_eq!(idle["window_seconds"].as_f64(), Some(10.0));
    let per_minute = idle["calls_per_minute"].as_f64().expect("idle calls");
    let split = idle["writes_per_minute"].as_f64().unwrap_or(-1.0)
        + idle["reads_per_minute"].as_f64().unwrap_or(-1.0);
    assert!(split <= per_minute + 1e-9 && split >= 0.0);

    let scale = json["scale"].as_array().expect("scale");
    assert_eq!(
        scale
            .iter()
            .map(|s| s["clusters"].as_u64())
            .collect::<Vec<_>>(),
        [Some(1), Some(10)]
    );
    for s in scale {
        // A running Rust process with a tokio runtime and a kube client: more than 1 MiB.
        assert!(s["rss_bytes"].as_u64().unwrap_or(0) > 1 << 20, "{s:#}");
        assert!(s["peak_rss_bytes"].as_u64() >= s["rss_bytes"].as_u64());
        assert!(s["cpu_seconds_total"].as_f64().unwrap_or(-1.0) > 0.0);
    }
    // Ten clusters retrying their gluster step reconcile within a 10 s window.
    assert!(
        scale[1]["reconcile_latency"]["reconciles"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert!(
        scale[1]["reconcile_latency"]["p50_seconds"]
            .as_f64()
            .is_some()
    );

    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 4);
    assert_eq!(
        json["all_targets_met"].as_bool(),
        Some(targets.iter().all(|t| t["met"] == true))
    );
    assert_eq!(results.targets.len(), targets.len());

    let svg = std::fs::read_to_string(&options.svg_path).expect("SVG written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("4n@2s"), "the run's label is plotted");
    let table = bench::table(&results);
    assert!(table.contains("time to Ready vs critical path"));
    assert!(!options.work_dir.exists(), "the work directory is removed");
}

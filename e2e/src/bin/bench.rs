//! `make bench`: time to Ready against the critical path, OpenStack calls against the minimum,
//! idle calls, and the operator's memory/CPU with 1–1,000 GlusterClusters (see
//! `e2e::bench`). Prints a table, writes `bench-results.json` and `bench-results.svg` at the
//! repository root, and exits 1 when a target is missed (2 when the bench itself failed).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use e2e::bench::real_cloud::{self, RealCloudOptions};
use e2e::bench::{self, BenchOptions};

/// Benchmarks of gluster-operator on the local world (simulator, real Kubernetes control plane, loopback nodes).
#[derive(Parser)]
struct Args {
    /// 4 nodes at 2 s, 10 s idle, 1 and 10 clusters (about a minute).
    #[arg(long)]
    quick: bool,
    /// Cluster sizes (comma-separated): runs every size at every boot delay.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<u32>>,
    /// Simulator boot delays in seconds (comma-separated).
    #[arg(long, value_delimiter = ',')]
    boot_delays: Option<Vec<u64>>,
    /// Only the scale measurement (no time-to-Ready runs, no idle window).
    #[arg(long)]
    scale_only: bool,
    /// GlusterCluster counts of the scale measurement (comma-separated, increasing).
    #[arg(long, value_delimiter = ',')]
    scale_counts: Option<Vec<u32>>,
    /// The operator binary (default: gluster-operator next to this one, built if missing).
    #[arg(long)]
    operator_bin: Option<PathBuf>,
    /// The loopback /16 of the simulator's subnet: 127.X.0.0/16.
    #[arg(long, default_value_t = 110)]
    subnet_octet: u8,
    /// Where the JSON results go.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where the SVG plot goes.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Keep the work directory (operator logs, node logs) and print its path.
    #[arg(long)]
    keep: bool,
    /// Instead: the operator beside Heat and direct calls on the real cloud of this directory
    /// (`e2e/conformance/cloud.sh up DIR`; `make bench-real-cloud` starts one).
    #[arg(long, value_name = "DIR")]
    real_cloud: Option<PathBuf>,
    /// Node counts of the real-cloud comparison (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "4,8")]
    real_cloud_sizes: Vec<u32>,
    /// Rounds of the real-cloud comparison (each size this many times; medians compared).
    #[arg(long, default_value_t = 2)]
    real_cloud_rounds: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BENCH_LOG")
                // The client's warning for each expected 404 of a deletion wait is noise here.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,gluster_operator::cloud::http=error")
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(dir) = &args.real_cloud {
        let mut options = RealCloudOptions::new(&repo, dir);
        options.sizes = args.real_cloud_sizes.clone();
        options.rounds = args.real_cloud_rounds.max(1);
        options.keep_work_dir = args.keep;
        options.operator_bin = args.operator_bin.clone();
        options.command = std::iter::once("bench".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(p) = &args.json {
            options.json_path = p.clone();
        }
        return run_real_cloud(&options);
    }
    let mut options = if args.quick {
        BenchOptions::quick(&repo)
    } else {
        BenchOptions::full(&repo)
    };
    options.command = std::iter::once("bench".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    if args.sizes.is_some() || args.boot_delays.is_some() {
        let sizes = args
            .sizes
            .unwrap_or_else(|| options.runs.iter().map(|r| r.0).collect());
        let delays = args
            .boot_delays
            .unwrap_or_else(|| options.runs.iter().map(|r| r.1).collect());
        let mut runs: Vec<(u32, u64)> = Vec::new();
        for &n in &sizes {
            for &d in &delays {
                if !runs.contains(&(n, d)) {
                    runs.push((n, d));
                }
            }
        }
        options.runs = runs;
    }
    if args.scale_only {
        options.runs.clear();
    }
    if let Some(v) = args.scale_counts {
        options.scale_counts = v;
    }
    options.operator_bin = args.operator_bin;
    options.subnet_octet = args.subnet_octet;
    options.keep_work_dir = args.keep;
    if let Some(p) = args.json {
        options.json_path = p;
    }
    if let Some(p) = args.svg {
        options.svg_path = p;
    }
    let results = match block_on(bench::run(&options)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    println!("\n{}", bench::table(&results));
    println!(
        "wrote {} and {}",
        options.json_path.display(),
        options.svg_path.display()
    );
    if options.keep_work_dir {
        println!("work directory kept: {}", options.work_dir.display());
    }
    if results.all_targets_met {
        ExitCode::SUCCESS
    } else {
        println!("some targets were missed (see above)");
        ExitCode::from(1)
    }
}

/// Runs `bench` on a new runtime; a failure of the bench itself is printed and exit code 2.
fn block_on<T>(
    bench: impl std::future::Future<Output = Result<T, bench::BenchError>>,
) -> Result<T, ExitCode> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("bench: tokio runtime: {e}");
        ExitCode::from(2)
    })?;
    runtime.block_on(bench).map_err(|e| {
        eprintln!("bench: {e}");
        ExitCode::from(2)
    })
}

/// `--real-cloud`: prints the table, writes the JSON; exit 1 when a goal is missed.
fn run_real_cloud(options: &RealCloudOptions) -> ExitCode {
    let results = match block_on(real_cloud::run(options)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    println!("\n{}", real_cloud::table(&results));
    println!("wrote {}", options.json_path.display());
    if results.all_goals_met {
        ExitCode::SUCCESS
    } else {
        println!("some goals were missed (see above)");
        ExitCode::from(1)
    }
}

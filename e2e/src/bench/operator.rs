//! The operator under test as a child process: the `gluster-operator run` binary, pointed at the
//! real API server by a kubeconfig (the chart's ServiceAccount), its JSON log in a file, its `/metrics` scraped over HTTP, its
//! memory and CPU read from `/proc/<pid>`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BenchError;

/// The operator's log filter: info, plus the SSH executor's per-command lines (the critical
/// path's gluster durations come from them).
const LOG_FILTER: &str = "info,gluster_operator::gluster=debug";

/// A running operator process.
pub struct OperatorProcess {
    child: Child,
    http: SocketAddr,
    log: PathBuf,
}

impl OperatorProcess {
    /// Starts `binary run` with `kubeconfig`, watching `namespace`, logging to `log` (with
    /// `log_filter`, default: info and the SSH executor's command lines).
    pub fn start(
        binary: &Path,
        kubeconfig: &Path,
        namespace: &str,
        log: &Path,
        log_filter: Option<&str>,
    ) -> Result<Self, BenchError> {
        let http = free_port()?;
        let log_file = std::fs::File::create(log).map_err(|e| BenchError::io(log, e))?;
        let child = Command::new(binary)
            .arg("run")
            .arg(format!("--http-addr={http}"))
            .arg(format!("--log-level={}", log_filter.unwrap_or(LOG_FILTER)))
            .arg(format!("--watch-namespace={namespace}"))
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", "bench")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| BenchError::io(binary, e))?;
        Ok(OperatorProcess {
            child,
            http,
            log: log.to_path_buf(),
        })
    }

    /// Writes `kubeconfig_yaml` into `dir`, starts `binary run` against it (log in
    /// `dir/operator.log`) and waits until it serves its metrics.
    pub async fn launch(
        binary: &Path,
        dir: &Path,
        kubeconfig_yaml: &str,
        namespace: &str,
        log_filter: Option<&str>,
    ) -> Result<Self, BenchError> {
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml).map_err(|e| BenchError::io(&kubeconfig, e))?;
        let operator = Self::start(
            binary,
            &kubeconfig,
            namespace,
            &dir.join("operator.log"),
            log_filter,
        )?;
        operator.metrics().await?;
        Ok(operator)
    }

    /// Its process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its `/metrics` text (waits up to 10 s for the server to answer).
    pub async fn metrics(&self) -> Result<String, BenchError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match get(self.http, "/metrics").await {
                Ok(body) => return Ok(body),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(BenchError::Operator(format!("GET /metrics: {e}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Resident memory and CPU time so far.
    pub fn usage(&self) -> Result<Usage, BenchError> {
        usage_of(self.pid())
    }

    /// Stops it with SIGTERM (SIGKILL after 10 s) and waits for it.
    pub fn stop(mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        for _ in 0..100 {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Memory and CPU of a process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    /// Resident set size (`VmRSS`), bytes.
    pub rss_bytes: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`.
pub fn usage_of(pid: u32) -> Result<Usage, BenchError> {
    let status_path = PathBuf::from(format!("/proc/{pid}/status"));
    let status =
        std::fs::read_to_string(&status_path).map_err(|e| BenchError::io(&status_path, e))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |k| k * 1024)
    };
    let stat_path = PathBuf::from(format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(&stat_path).map_err(|e| BenchError::io(&stat_path, e))?;
    // Fields after the command name (which may hold spaces, inside parentheses): utime and
    // stime are fields 14 and 15 of the line, i.e. 12 and 13 after ") ".
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Ok(Usage {
        rss_bytes: kib("VmRSS:"),
        peak_rss_bytes: kib("VmHWM:"),
        cpu_seconds: (ticks(11) + ticks(12)) as f64 / hz.max(1.0),
    })
}

fn free_port() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Operator(format!("no free port: {e}")))?;
    listener
        .local_addr()
        .map_err(|e| BenchError::Operator(format!("no free port: {e}")))
}

/// A plain HTTP/1.0 GET (the body).
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_owned())
        }
        _ => Err(std::io::Error::other(format!(
            "unexpected answer: {}",
            text.lines().next().unwrap_or_default()
        ))),
    }
}

/// A counter's value in OpenMetrics text (`name` with no labels), 0 when absent.
pub fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The cumulative buckets of the reconcile duration histogram: upper bound (s) → count.
pub fn duration_buckets(metrics: &str) -> BTreeMap<OrderedBound, u64> {
    let prefix = "gluster_operator_reconcile_duration_seconds_bucket{le=\"";
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|rest| {
            let (le, value) = rest.split_once("\"} ")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count = value.split_whitespace().next()?.parse::<f64>().ok()? as u64;
            Some((OrderedBound(bound), count))
        })
        .collect()
}

/// A histogram bucket bound that sorts (never NaN: parsed from the operator's own output).
#[derive(Debug, Clone, Copy)]
pub struct OrderedBound(pub f64);

impl PartialEq for OrderedBound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for OrderedBound {}

impl PartialOrd for OrderedBound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedBound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Reconcile latency percentiles, from the histogram's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Reconciles counted.
    pub reconciles: u64,
    /// Median, seconds (linear within its bucket; buckets double from 10 ms).
    pub p50_seconds: Option<f64>,
    /// 99th percentile, seconds (same resolution).
    pub p99_seconds: Option<f64>,
    /// The histogram's largest finite bucket bound: a percentile equal to it means "at least".
    pub top_bucket_seconds: f64,
}

/// Percentiles of the reconciles between two scrapes (`before` may be empty: since start).
pub fn latency(
    before: &BTreeMap<OrderedBound, u64>,
    after: &BTreeMap<OrderedBound, u64>,
) -> Latency {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(b, n)| (b.0, n.saturating_sub(before.get(b).copied().unwrap_or(0))))
        .collect();
    let total = delta.last().map_or(0, |(_, n)| *n);
    let quantile = |q: f64| -> Option<f64> {
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut prev = (0.0, 0u64);
        for &(bound, cum) in &delta {
            if cum as f64 >= rank {
                if bound.is_infinite() {
                    return Some(prev.0);
                }
                let in_bucket = (cum - prev.1) as f64;
                let frac = if in_bucket > 0.0 {
                    (rank - prev.1 as f64) / in_bucket
                } else {
                    1.0
                };
                return Some(prev.0 + (bound - prev.0) * frac.clamp(0.0, 1.0));
            }
            prev = (bound, cum);
        }
        None
    };
    Latency {
        top_bucket_seconds: delta
            .iter()
            .map(|(b, _)| *b)
            .filter(|b| b.is_finite())
            .fold(0.0, f64::max),
        reconciles: total,
        p50_seconds: quantile(0.5),
        p99_seconds: quantile(0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_cumulative_buckets() {
        let text = "gluster_operator_reconcile_duration_seconds_bucket{le=\"0.01\"} 50\n\
                    gluster_operator_reconcile_duration_seconds_bucket{le=\"0.02\"} 90\n\
                    gluster_operator_reconcile_duration_seconds_bucket{le=\"0.04\"} 100\n\
                    gluster_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} 100\n\
                    gluster_operator_reconciles_total 100\n";
        let buckets = duration_buckets(text);
        assert_eq!(buckets.len(), 4);
        let l = latency(&BTreeMap::new(), &buckets);
        assert_eq!(l.reconciles, 100);
        assert!((l.p50_seconds.unwrap_or(0.0) - 0.01).abs() < 1e-9);
        assert!((l.p99_seconds.unwrap_or(0.0) - 0.038).abs() < 1e-9);
        assert_eq!(counter(text, "gluster_operator_reconciles_total"), 100.0);
    }

    #[test]
    fn own_usage_is_readable() {
        let u = usage_of(std::process::id()).expect("usage");
        assert!(u.rss_bytes > 0 && u.peak_rss_bytes >= u.rss_bytes);
    }
}

//! `gluster-operator run` as the Helm chart starts it (the chart's flags), with a kubeconfig
//! pointing at a closed local port: it logs JSON lines, serves /healthz, /readyz and /metrics
//! while it keeps trying to reach the API server (campaigning for its Lease), and exits 0 on
//! SIGTERM. The controller itself runs in e2e/tests/reconcile_*.rs against a real API server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;

fn closed_port() -> u16 {
    // Bind and drop: nothing listens there afterwards.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the operator's HTTP server");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn run_serves_health_and_metrics_logs_json_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\nusers:\n- name: u\n  user: {{}}\ncurrent-context: c\n",
            closed_port()
        ),
    )
    .expect("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gluster-operator"))
        .args([
            "run",
            "--http-addr=127.0.0.1:0",
            "--log-level=info",
            "--leader-election-lease=gluster-operator",
            "--watch-namespace=storage",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", "operators")
        .env("POD_NAME", "gluster-operator-0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start gluster-operator run");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("a log line");
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            let _ = tx.send(value.clone());
            lines.push(value);
        }
        lines
    });
    let mut addr = None;
    let mut campaigning = false;
    while addr.is_none() || !campaigning {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the operator logs its address and its campaign");
        let fields = &line["fields"];
        if fields["message"] == "serving /healthz, /readyz, /metrics" {
            addr = fields["addr"]
                .as_str()
                .map(|a| a.parse().expect("an address"));
        }
        if fields["message"] == "waiting for the leader lease" {
            assert_eq!(fields["lease"], "gluster-operator");
            assert_eq!(fields["identity"], "gluster-operator-0");
            campaigning = true;
        }
    }
    let addr: SocketAddr = addr.expect("address");
    assert_eq!(get(addr, "/healthz"), (200, "ok".to_string()));
    assert_eq!(get(addr, "/readyz"), (200, "ready".to_string()));
    let (code, metrics) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("gluster_operator_leader 0"), "{metrics}");
    assert!(
        metrics.contains("gluster_operator_reconciles_total 0"),
        "{metrics}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "exit status {exit:?}");
    let lines = reader.join().expect("reader");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "shutdown signal received"),
        "{lines:?}"
    );
}

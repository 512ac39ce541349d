//! Clients nobody here wrote: the real `openstack` CLI (PyPI python-openstackclient, installed
//! by hack/setup.sh into .tools/venv-osc) against the simulator's clouds.yaml; and the
//! `openstack-sim` binary itself, with its boot-hook command and signal handling.

mod openstack_sim_support;

use base64::Engine;
use openstack_sim_support::{Recorder, eventually, fast_config, start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The CLI: `$OPENSTACK_CLI`, else the venv hack/setup.sh makes.
fn cli() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENSTACK_CLI") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv-osc/bin/openstack");
    assert!(
        p.exists(),
        "the openstack CLI is missing at {}: run `make setup` (hack/setup.sh installs python-openstackclient)",
        p.display()
    );
    p
}

struct Osc {
    dir: tempfile::TempDir,
}

/// What one CLI run printed.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert!(self.ok, "openstack failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Osc {
    fn new(clouds_yaml: &str) -> Osc {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("clouds.yaml"), clouds_yaml).expect("clouds.yaml");
        Osc { dir }
    }

    fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("file");
        p.display().to_string()
    }

    async fn run(&self, cloud: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(cli());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OS_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("OS_CLIENT_CONFIG_FILE", self.dir.path().join("clouds.yaml"))
            .env("OS_CLOUD", cloud)
            .env("XDG_CACHE_HOME", self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("openstack CLI runs");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn column(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|i| i[key].as_str().expect("string column").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openstack_cli_lists_what_the_simulator_serves() {
    let sim = start(fast_config(5)).await;
    let osc = Osc::new(&sim.clouds_yaml());
    let flavors = osc
        .run("sim", &["flavor", "list", "-f", "json"])
        .await
        .json();
    assert_eq!(
        column(&flavors, "Name"),
        ["m1.small", "m1.medium", "m1.xlarge"]
    );
    let xl = flavors
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["Name"] == "m1.xlarge")
        .expect("xlarge")
        .clone();
    assert_eq!(
        (
            xl["VCPUs"].clone(),
            xl["RAM"].clone(),
            xl["Ephemeral"].clone()
        ),
        (json!(8), json!(16384), json!(100))
    );

    // Compute zones, then block-storage zones: zone-c only has compute.
    let zones = osc
        .run("sim", &["availability", "zone", "list", "-f", "json"])
        .await
        .json();
    assert_eq!(
        column(&zones, "Zone Name"),
        ["zone-a", "zone-b", "zone-c", "zone-a", "zone-b"]
    );
    let volume_zones = osc
        .run(
            "sim",
            &["availability", "zone", "list", "--volume", "-f", "json"],
        )
        .await
        .json();
    assert_eq!(column(&volume_zones, "Zone Name"), ["zone-a", "zone-b"]);

    let images = osc
        .run("sim", &["image", "list", "-f", "json"])
        .await
        .json();
    assert_eq!(column(&images, "Name"), ["debian-12", "ubuntu-22.04"]);
    let networks = osc
        .run("sim", &["network", "list", "-f", "json"])
        .await
        .json();
    assert_eq!(column(&networks, "Name"), ["private"]);
    // The application-credential cloud authenticates too.
    let servers = osc
        .run("sim-appcred", &["server", "list", "-f", "json"])
        .await
        .json();
    assert_eq!(servers, json!([]));
    assert!(sim.counters().get("POST", "/identity/v3/auth/tokens") >= 6);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openstack_cli_drives_servers_volumes_and_security_groups() {
    let sim = start(fast_config(5)).await;
    let hook = Arc::new(Recorder::default());
    sim.set_boot_hook(hook.clone());
    let osc = Osc::new(&sim.clouds_yaml());

    let key = osc.file(
        "key.pub",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6xCOCST3hqYUm2kVsZkJL+ovxcxdSNZdxjvcGArnvc test\n",
    );
    let kp = osc
        .run(
            "sim",
            &[
                "keypair",
                "create",
                "--public-key",
                &key,
                "ops",
                "-f",
                "json",
            ],
        )
        .await
        .json();
    assert_eq!(kp["name"], "ops");
    assert_eq!(
        kp["fingerprint"],
        "ea:9b:8f:b7:57:1f:9b:49:65:e8:fc:8b:60:17:6a:87"
    );

    let sg = osc
        .run(
            "sim",
            &["security", "group", "create", "gluster-u1", "-f", "json"],
        )
        .await
        .json();
    assert_eq!(sg["name"], "gluster-u1");
    let rule_args = [
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "24007:24008",
        "--remote-ip",
        "10.0.0.0/8",
        "gluster-u1",
        "-f",
        "json",
    ];
    let rule = osc.run("sim", &rule_args).await.json();
    assert_eq!(
        (
            rule["port_range_min"].clone(),
            rule["port_range_max"].clone()
        ),
        (json!(24007), json!(24008))
    );
    let again = osc.run("sim", &rule_args).await;
    assert!(!again.ok, "a duplicate rule is refused");
    assert!(
        again.stderr.contains("Security group rule already exists"),
        "{}",
        again.stderr
    );

    let vol = osc
        .run(
            "sim",
            &[
                "volume",
                "create",
                "--size",
                "2",
                "--availability-zone",
                "zone-a",
                "--property",
                "cluster-uid=u1",
                "brick-0",
                "-f",
                "json",
            ],
        )
        .await
        .json();
    assert_eq!(vol["status"], "creating");
    assert_eq!(vol["availability_zone"], "zone-a");
    let refused = osc
        .run(
            "sim",
            &[
                "volume",
                "create",
                "--size",
                "1",
                "--availability-zone",
                "zone-c",
                "nope",
            ],
        )
        .await;
    assert!(
        !refused.ok
            && refused
                .stderr
                .contains("Availability zone 'zone-c' is invalid."),
        "{}",
        refused.stderr
    );

    let user_data = osc.file("user-data", "#cloud-config\nhostname: node-0\n");
    let server = osc
        .run(
            "sim",
            &[
                "server",
                "create",
                "--flavor",
                "m1.small",
                "--image",
                "ubuntu-22.04",
                "--network",
                "private",
                "--availability-zone",
                "zone-b",
                "--user-data",
                &user_data,
                "--key-name",
                "ops",
                "--security-group",
                "gluster-u1",
                "--property",
                "cluster-uid=u1",
                "--wait",
                "node-0",
                "-f",
                "json",
            ],
        )
        .await
        .json();
    assert_eq!(server["status"], "ACTIVE");
    assert_eq!(server["addresses"], json!({"private": ["127.100.0.10"]}));
    assert_eq!(server["security_groups"], json!([{"name": "gluster-u1"}]));
    let booted = &hook.server_events("active")[0];
    assert_eq!(
        booted.user_data_text(),
        Some("#cloud-config\nhostname: node-0\n")
    );
    assert_eq!(
        booted.metadata.get("cluster-uid").map(String::as_str),
        Some("u1")
    );

    let listed = osc
        .run("sim", &["server", "list", "--name", "^node-", "-f", "json"])
        .await
        .json();
    assert_eq!(column(&listed, "Status"), ["ACTIVE"]);
    let volumes = osc
        .run(
            "sim",
            &[
                "volume",
                "list",
                "--property",
                "cluster-uid=u1",
                "-f",
                "json",
            ],
        )
        .await
        .json();
    assert_eq!(column(&volumes, "Name"), ["brick-0"]);
    assert_eq!(column(&volumes, "Status"), ["available"]);

    let attached = osc
        .run(
            "sim",
            &["server", "add", "volume", "node-0", "brick-0", "-f", "json"],
        )
        .await
        .json();
    assert_eq!(attached["Device"], "/dev/vdb");
    let vid = vol["id"].as_str().expect("id").to_string();
    let c = openstack_sim_support::Client::login(&sim).await;
    c.wait_volume(&vid, "in-use").await;
    let shown = osc
        .run("sim", &["volume", "show", "brick-0", "-f", "json"])
        .await
        .json();
    assert_eq!(shown["status"], "in-use");
    let busy = osc.run("sim", &["volume", "delete", "brick-0"]).await;
    assert!(
        !busy.ok && busy.stderr.contains("Invalid volume"),
        "{}",
        busy.stderr
    );

    let removed = osc
        .run("sim", &["server", "remove", "volume", "node-0", "brick-0"])
        .await;
    assert!(removed.ok, "{}", removed.stderr);
    c.wait_volume(&vid, "available").await;
    let deleted = osc
        .run("sim", &["server", "delete", "--wait", "node-0"])
        .await;
    assert!(deleted.ok, "{}", deleted.stderr);
    assert_eq!(hook.server_events("deleted").len(), 1);
    assert_eq!(
        osc.run("sim", &["server", "list", "-f", "json"])
            .await
            .json(),
        json!([])
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_clouds_yaml_runs_the_hook_command_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sim.yaml");
    std::fs::write(
        &config,
        "timing: {server_build_ms: 5, server_delete_ms: 5}\nidentity: {password: from-config}\n",
    )
    .expect("config");
    let clouds = dir.path().join("clouds.yaml");
    let events = dir.path().join("events.jsonl");
    let hook = format!(
        "cat >> '{}'; echo >> '{}'",
        events.display(),
        events.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_openstack-sim"))
        .arg("--config")
        .arg(&config)
        .arg("--clouds-yaml")
        .arg(&clouds)
        .arg("--boot-hook")
        .arg(&hook)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openstack-sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let base = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read")
        .expect("base URL line");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&clouds).expect("clouds.yaml"))
            .expect("yaml");
    let auth = &yaml["clouds"]["sim"]["auth"];
    assert_eq!(
        auth["auth_url"].as_str(),
        Some(format!("{base}/identity/v3").as_str())
    );
    assert_eq!(auth["password"].as_str(), Some("from-config"));

    // Log in with what clouds.yaml says, boot a server with user data, delete it.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"].as_str(), "domain": {"name": auth["user_domain_name"].as_str()},
            "password": auth["password"].as_str()}}},
            "scope": {"project": {"name": auth["project_name"].as_str(), "domain": {"name": auth["project_domain_name"].as_str()}}}}}))
        .send()
        .await
        .expect("token");
    let token = resp.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_string();
    let ud = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n");
    let created: Value = http
        .post(format!("{base}/compute/v2.1/servers"))
        .header("x-auth-token", &token)
        .json(&json!({"server": {"name": "bin-1", "flavorRef": "2", "imageRef": "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21", "user_data": ud}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["server"]["id"].as_str().expect("id").to_string();
    let read_events = || -> Vec<Value> {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("event JSON"))
            .collect()
    };
    eventually("server_active event", || async {
        (read_events().len() == 1).then_some(())
    })
    .await;
    let status = http
        .delete(format!("{base}/compute/v2.1/servers/{id}"))
        .header("x-auth-token", &token)
        .send()
        .await
        .expect("delete")
        .status();
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    eventually("server_deleted event", || async {
        (read_events().len() == 2).then_some(())
    })
    .await;
    let ev = read_events();
    assert_eq!(ev[0]["event"], "server_active");
    assert_eq!(ev[0]["server"]["id"], id.as_str());
    assert_eq!(ev[0]["server"]["address"], "127.100.0.10");
    assert_eq!(ev[0]["server"]["user_data"], "#!/bin/sh\necho hi\n");
    assert_eq!(ev[0]["server"]["user_data_base64"], ud.as_str());
    assert_eq!(ev[1]["event"], "server_deleted");

    let pid = child.id().expect("pid").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let exit = child.wait().await.expect("exit");
    assert!(exit.success(), "stops cleanly on SIGTERM: {exit:?}");
}

#[tokio::test]
async fn the_binary_refuses_a_bad_config_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sim.yaml");
    std::fs::write(
        &config,
        "networks:\n- {id: n, name: private, subnet: {id: s, name: s, cidr: 127.0.0.1/8}}\n",
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_openstack-sim"))
        .arg("--config")
        .arg(&config)
        .arg("--clouds-yaml")
        .arg(dir.path().join("clouds.yaml"))
        .output()
        .await
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("networks[0].subnet.cidr"), "{stderr}");
    assert!(!dir.path().join("clouds.yaml").exists());
}

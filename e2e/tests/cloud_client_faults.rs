//! The cloud client under injected faults: what it retries (5xx, dropped connections, 429 with
//! Retry-After, timeouts on reads), what it surfaces at once, how it never repeats a create
//! blindly, token expiry and renewal, and idempotent deletes.

mod cloud_client_support;

use std::time::Duration;

use cloud_client_support::*;
use e2e::openstack::{FaultAction, HttpFault};
use gluster_operator::cloud::network::gluster_rules;
use gluster_operator::cloud::{
    ApiErrorKind, ClientOptions, CloudError, SecurityGroupSpec, ServerCreate, ServerQuery,
    Timeouts, VolumeCreate, VolumeQuery,
};

const NETWORK_ID: &str = "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c";
const UBUNTU_ID: &str = "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21";

fn fault(method: &str, path: &str, action: FaultAction, times: Option<u32>) -> HttpFault {
    HttpFault {
        method: Some(method.into()),
        path: path.into(),
        action,
        probability: 1.0,
        times,
    }
}

fn server_spec(name: &str) -> ServerCreate {
    ServerCreate {
        name: name.into(),
        flavor_id: "2".into(),
        image_id: UBUNTU_ID.into(),
        availability_zone: Some("zone-a".into()),
        networks: vec![NETWORK_ID.into()],
        ports: vec![],
        metadata: meta(&[("gluster.cluster-uid", "faults")]),
        tags: vec!["gluster-cluster-faults".into()],
        ..Default::default()
    }
}

fn servers_named(name: &str) -> ServerQuery {
    ServerQuery {
        name: Some(name.into()),
        ..Default::default()
    }
}

const FLAVORS: &str = "/compute/v2.1/flavors/detail";
const SERVERS: &str = "/compute/v2.1/servers";
const VOLUMES: &str = "/volume/v3/{project_id}/volumes";
const RULES: &str = "/networking/v2.0/security-group-rules";

#[tokio::test]
async fn reads_are_retried_through_5xx_and_dropped_connections() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud.authenticate().await.expect("auth");
    cloud.compute().microversion().await.expect("mv");

    sim.faults()
        .add_http(fault(
            "GET",
            FLAVORS,
            FaultAction::Error { status: 503 },
            Some(2),
        ))
        .expect("fault");
    let flavor = cloud.compute().flavor("m1.small").await.expect("third try");
    assert_eq!(flavor.name, "m1.small");
    assert_eq!(calls(&sim, "GET", FLAVORS), 3);

    sim.faults()
        .add_http(fault(
            "GET",
            "/networking/v2.0/networks",
            FaultAction::Drop,
            Some(1),
        ))
        .expect("fault");
    cloud
        .network()
        .network("private")
        .await
        .expect("second try");
    assert_eq!(calls(&sim, "GET", "/networking/v2.0/networks"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn persistent_5xx_is_surfaced_after_the_last_attempt() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud.compute().microversion().await.expect("mv");
    sim.faults()
        .add_http(fault(
            "GET",
            FLAVORS,
            FaultAction::Error { status: 500 },
            None,
        ))
        .expect("fault");
    let err = cloud
        .compute()
        .flavor("m1.small")
        .await
        .expect_err("keeps failing");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::ServerError), "{err:?}");
    assert!(err.is_retryable(), "the reconciler may requeue");
    assert!(err.request_id().is_some());
    assert_eq!(
        calls(&sim, "GET", FLAVORS),
        u64::from(fast_options().backoff.max_attempts)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud.authenticate().await.expect("auth");

    // A short Retry-After is waited out, even for a create (a 429 was not acted on).
    sim.faults()
        .add_http(fault(
            "GET",
            "/image/v2/images",
            FaultAction::Throttle {
                retry_after_secs: 1,
            },
            Some(1),
        ))
        .expect("fault");
    cloud
        .image()
        .image("debian-12")
        .await
        .expect("after the wait");
    assert_eq!(calls(&sim, "GET", "/image/v2/images"), 2);

    sim.faults()
        .add_http(fault(
            "POST",
            VOLUMES,
            FaultAction::Throttle {
                retry_after_secs: 1,
            },
            Some(1),
        ))
        .expect("fault");
    let spec = VolumeCreate {
        name: "gc-throttled-0".into(),
        size_gib: 1,
        ..Default::default()
    };
    cloud
        .volume()
        .create_volume(&spec)
        .await
        .expect("after the wait");
    assert_eq!(calls(&sim, "POST", VOLUMES), 2);
    let listed = cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: Some(spec.name.clone()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);

    // A Retry-After longer than the client will wait is returned with the delay.
    sim.faults()
        .add_http(fault(
            "GET",
            "/image/v2/images",
            FaultAction::Throttle {
                retry_after_secs: 120,
            },
            Some(1),
        ))
        .expect("fault");
    let err = cloud
        .image()
        .image("debian-12")
        .await
        .expect_err("too long to wait");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::RateLimited), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(calls(&sim, "GET", "/image/v2/images"), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried_on_reads() {
    let sim = start(fast_config()).await;
    let options = ClientOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_millis(500),
        },
        ..fast_options()
    };
    let cloud = client(&sim, "sim", options);
    cloud.compute().microversion().await.expect("mv");
    sim.faults()
        .add_http(fault(
            "GET",
            FLAVORS,
            FaultAction::Latency { ms: 3000 },
            Some(1),
        ))
        .expect("fault");
    cloud
        .compute()
        .flavor("m1.medium")
        .await
        .expect("second try is fast");
    assert_eq!(calls(&sim, "GET", FLAVORS), 2);

    sim.faults()
        .add_http(fault(
            "GET",
            FLAVORS,
            FaultAction::Latency { ms: 3000 },
            None,
        ))
        .expect("fault");
    let err = cloud
        .compute()
        .flavor("m1.medium")
        .await
        .expect_err("always slow");
    assert!(
        matches!(
            err,
            CloudError::Transport {
                kind: gluster_operator::cloud::error::TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    sim.faults().clear();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_create_is_never_repeated_blindly() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud.compute().microversion().await.expect("mv");

    // The plain create does not retry a 5xx: the caller gets an ambiguous error.
    sim.faults()
        .add_http(fault(
            "POST",
            SERVERS,
            FaultAction::Error { status: 500 },
            Some(1),
        ))
        .expect("fault");
    let err = cloud
        .compute()
        .create_server(&server_spec("gc-f-0"))
        .await
        .expect_err("500");
    assert!(err.is_ambiguous(), "{err:?}");
    assert_eq!(calls(&sim, "POST", SERVERS), 1);

    // create-or-adopt looks first, finds nothing, creates again.
    sim.faults()
        .add_http(fault(
            "POST",
            SERVERS,
            FaultAction::Error { status: 500 },
            Some(1),
        ))
        .expect("fault");
    let lookups = calls(&sim, "GET", "/compute/v2.1/servers/detail");
    let made = cloud
        .compute()
        .create_server_or_adopt(&server_spec("gc-f-0"))
        .await
        .expect("created on the second try");
    assert!(!made.adopted);
    assert_eq!(calls(&sim, "POST", SERVERS), 3);
    assert_eq!(
        calls(&sim, "GET", "/compute/v2.1/servers/detail"),
        lookups + 1,
        "looked before creating again"
    );
    assert_eq!(
        cloud
            .compute()
            .list_servers(&servers_named("gc-f-0"))
            .await
            .expect("list")
            .len(),
        1
    );

    // A dropped connection on a create: the same.
    sim.faults()
        .add_http(fault("POST", SERVERS, FaultAction::Drop, Some(1)))
        .expect("fault");
    let made = cloud
        .compute()
        .create_server_or_adopt(&server_spec("gc-f-1"))
        .await
        .expect("created after the drop");
    assert!(!made.adopted);
    assert_eq!(
        cloud
            .compute()
            .list_servers(&servers_named("gc-f-1"))
            .await
            .expect("list")
            .len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_create_adopts_what_exists() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    // An earlier attempt made the server (its answer was lost); this attempt's create fails.
    let first = cloud
        .compute()
        .create_server(&server_spec("gc-a-0"))
        .await
        .expect("create");
    sim.faults()
        .add_http(fault(
            "POST",
            SERVERS,
            FaultAction::Error { status: 502 },
            Some(1),
        ))
        .expect("fault");
    let made = cloud
        .compute()
        .create_server_or_adopt(&server_spec("gc-a-0"))
        .await
        .expect("adopted");
    assert!(made.adopted);
    assert_eq!(made.value, first);
    assert_eq!(calls(&sim, "POST", SERVERS), 2, "no third create");
    assert_eq!(
        cloud
            .compute()
            .list_servers(&servers_named("gc-a-0"))
            .await
            .expect("list")
            .len(),
        1
    );

    // Volumes: the same through a dropped connection.
    let spec = VolumeCreate {
        name: "gc-a-vol-0".into(),
        size_gib: 1,
        metadata: meta(&[("gluster.cluster-uid", "faults")]),
        ..Default::default()
    };
    let existing = cloud.volume().create_volume(&spec).await.expect("create");
    sim.faults()
        .add_http(fault("POST", VOLUMES, FaultAction::Drop, Some(1)))
        .expect("fault");
    let made = cloud
        .volume()
        .create_volume_or_adopt(&spec)
        .await
        .expect("adopted");
    assert!(made.adopted);
    assert_eq!(made.value.id, existing.id);
    assert_eq!(calls(&sim, "POST", VOLUMES), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn deletes_of_missing_resources_succeed() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let missing = "00000000-0000-4000-8000-000000000000";
    assert!(
        !cloud
            .compute()
            .delete_server(missing)
            .await
            .expect("server")
    );
    assert!(
        !cloud
            .compute()
            .delete_keypair("no-such-key")
            .await
            .expect("keypair")
    );
    assert!(!cloud.volume().delete_volume(missing).await.expect("volume"));
    assert!(
        !cloud
            .network()
            .delete_security_group(missing)
            .await
            .expect("sg")
    );
    assert!(
        cloud
            .compute()
            .get_server(missing)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        cloud
            .volume()
            .get_volume(missing)
            .await
            .expect("get")
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_are_renewed_before_expiry() {
    let mut config = fast_config();
    config.identity.token_ttl_secs = 2;
    let sim = start(config).await;
    let cloud = client(&sim, "sim", fast_options());
    cloud.compute().flavor("m1.small").await.expect("first");
    assert_eq!(cloud.tokens_issued(), 1);
    // Renewal is due at half the lifetime (1 s) at the latest.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cloud.compute().flavor("m1.small").await.expect("renewed");
    assert_eq!(cloud.tokens_issued(), 2);
    assert_eq!(calls(&sim, "POST", "/identity/v3/auth/tokens"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_share_one_token() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = cloud.clone();
        tasks.push(tokio::spawn(async move {
            c.image().image("ubuntu-22.04").await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("image");
    }
    assert_eq!(calls(&sim, "POST", "/identity/v3/auth/tokens"), 1);
    assert_eq!(cloud.tokens_issued(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once() {
    // A restarted Keystone (here: a new simulator on the same port) no longer knows the cached
    // token: the first call gets 401, the client renews and repeats it.
    let sim = start(fast_config()).await;
    let addr = sim.addr();
    let cloud = client(&sim, "sim", fast_options());
    cloud.image().image("debian-12").await.expect("first");
    sim.shutdown().await;
    let sim = e2e::openstack::Simulator::start(fast_config(), addr)
        .await
        .expect("restart on the same port");
    cloud
        .image()
        .image("debian-12")
        .await
        .expect("after renewal");
    assert_eq!(cloud.tokens_issued(), 2);
    assert_eq!(calls(&sim, "POST", "/identity/v3/auth/tokens"), 1);
    assert_eq!(
        calls(&sim, "GET", "/image/v2/images"),
        2,
        "401, then success"
    );
    sim.shutdown().await;
}

fn group_spec(cidrs: &[&str]) -> SecurityGroupSpec {
    SecurityGroupSpec {
        name: "gc-busy".into(),
        description: "busy".into(),
        tags: vec!["gluster-cluster-busy".into()],
        rules: {
            // Clients and SSH from the same CIDRs: three rules per CIDR.
            let cidrs: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
            gluster_rules(&cidrs, &cidrs).expect("rules")
        },
    }
}

#[tokio::test]
async fn a_duplicate_rule_409_counts_as_done() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let group = cloud
        .network()
        .ensure_security_group(&group_spec(&["10.0.0.0/8"]))
        .await
        .expect("group");
    let posts = calls(&sim, "POST", RULES);
    // Two reconcilers widen the group at once; rule creates are slowed so both see the same
    // missing rules, and the second create of each rule meets Neutron's 409.
    sim.faults()
        .add_http(fault(
            "POST",
            RULES,
            FaultAction::Latency { ms: 1000 },
            None,
        ))
        .expect("fault");
    let wider = group_spec(&["10.0.0.0/8", "192.0.2.0/24"]);
    let (a, b) = tokio::join!(
        cloud.network().ensure_security_group(&wider),
        cloud.network().ensure_security_group(&wider)
    );
    assert_eq!(a.expect("first").value, group.value);
    assert_eq!(b.expect("second").value, group.value);
    assert_eq!(
        calls(&sim, "POST", RULES),
        posts + 6,
        "both posted the 3 new rules"
    );
    let seen = cloud
        .network()
        .get_security_group(&group.value)
        .await
        .expect("get")
        .expect("exists");
    let new_rules = seen
        .security_group_rules
        .iter()
        .filter(|r| r.remote_ip_prefix.as_deref() == Some("192.0.2.0/24"))
        .count();
    assert_eq!(new_rules, 3, "no duplicates");
    sim.faults().clear();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_busy_resource_409_is_retried_then_surfaced() {
    let sim = start(fast_config()).await;
    let cloud = client(&sim, "sim", fast_options());
    let group = cloud
        .network()
        .ensure_security_group(&group_spec(&["10.0.0.0/8"]))
        .await
        .expect("group");
    let mut spec = server_spec("gc-busy-0");
    spec.security_groups = vec!["gc-busy".into()];
    let server = cloud.compute().create_server(&spec).await.expect("server");
    cloud
        .compute()
        .wait_for_server_active(&server, fast_wait())
        .await
        .expect("active");
    let err = cloud
        .network()
        .delete_security_group(&group.value)
        .await
        .expect_err("in use");
    assert_eq!(err.api_kind(), Some(ApiErrorKind::Conflict), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.cloud_message().is_some_and(|m| m.contains("in use")),
        "{err:?}"
    );
    assert_eq!(
        calls(&sim, "DELETE", "/networking/v2.0/security-groups/{id}"),
        u64::from(fast_options().backoff.max_attempts)
    );
    cloud
        .compute()
        .delete_server(&server)
        .await
        .expect("delete server");
    cloud
        .compute()
        .wait_for_server_deleted(&server, fast_wait())
        .await
        .expect("gone");
    assert!(
        cloud
            .network()
            .delete_security_group(&group.value)
            .await
            .expect("free now")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_cloud_is_a_retryable_connect_error() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let sim = start(fast_config()).await;
    let yaml = sim
        .clouds_yaml()
        .replace(&sim.base_url(), &format!("http://127.0.0.1:{port}"));
    sim.shutdown().await;
    let cloud =
        gluster_operator::cloud::Cloud::from_clouds_yaml(&yaml, "sim", None, fast_options())
            .expect("client");
    let err = cloud.authenticate().await.expect_err("nobody listens");
    assert!(
        matches!(
            err,
            CloudError::Transport {
                kind: gluster_operator::cloud::error::TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && err.is_not_sent() && !err.is_ambiguous());
    assert_eq!(err.reason(), "CloudUnreachable");
}

#[tokio::test]
async fn a_closed_leader_fence_sends_no_write_but_reads_go_on() {
    let sim = start(fast_config()).await;
    let fence = gluster_operator::fence::Fence::new();
    let options = ClientOptions {
        fence: Some(fence.clone()),
        ..fast_options()
    };
    let cloud = client(&sim, "sim", options);
    // Open (leading): the group and its rules are written.
    fence.open_until(tokio::time::Instant::now() + Duration::from_secs(60));
    cloud
        .network()
        .ensure_security_group(&group_spec(&["10.0.0.0/8"]))
        .await
        .expect("written while leading");
    let posts = calls(&sim, "POST", RULES);
    assert!(posts > 0);
    // Closed (the Lease lost): reads still answer, no write request leaves the client.
    fence.close();
    let before = sim.counters();
    let err = cloud
        .network()
        .ensure_security_group(&group_spec(&["10.0.0.0/8", "192.0.2.0/24"]))
        .await
        .expect_err("fenced");
    assert!(matches!(err, CloudError::Fenced { .. }), "{err:?}");
    assert!(err.to_string().contains("no longer leads"), "{err}");
    let after = sim.counters();
    let writes = |c: &e2e::openstack::CallCounters| -> u64 {
        c.calls
            .iter()
            .filter(|(k, _)| !k.starts_with("GET ") && !k.starts_with("POST /identity/"))
            .map(|(_, n)| *n)
            .sum()
    };
    assert_eq!(writes(&after), writes(&before), "{after:?}");
    assert!(
        after.get("GET", "/networking/v2.0/security-groups")
            > before.get("GET", "/networking/v2.0/security-groups"),
        "the group was still looked up"
    );
}

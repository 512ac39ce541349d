//! Passwords, application-credential secrets and tokens never reach logs (at TRACE level, the
//! HTTP stack's included), errors or `Debug` output.

mod cloud_client_support;

use cloud_client_support::*;
use e2e::openstack::{FaultAction, HttpFault};
use gluster_operator::cloud::{CloudConfig, ServerCreate};

#[tokio::test]
async fn secrets_never_show() {
    let sim = start(fast_config()).await;
    for name in ["sim", "sim-appcred"] {
        let cloud = client(&sim, name, fast_options());
        assert_no_secrets("Debug of the client", &format!("{cloud:?}"));
        let config = CloudConfig::from_clouds_yaml(&sim.clouds_yaml(), name).expect("config");
        assert_no_secrets("Debug of the config", &format!("{config:?} {config:#?}"));
        cloud.authenticate().await.expect("auth");
        assert_no_secrets("Debug of an authenticated client", &format!("{cloud:#?}"));
        cloud.compute().flavor("m1.small").await.expect("flavor");
        cloud.network().network("private").await.expect("network");
        // Failures log too: a retried 5xx, a terminal 400.
        sim.faults()
            .add_http(HttpFault {
                method: Some("GET".into()),
                path: "/image/v2/images".into(),
                action: FaultAction::Error { status: 500 },
                probability: 1.0,
                times: Some(1),
            })
            .expect("fault");
        cloud.image().image("debian-12").await.expect("image");
        let err = cloud
            .compute()
            .create_server(&ServerCreate {
                name: "x".into(),
                flavor_id: "nope".into(),
                image_id: "nope".into(),
                ..Default::default()
            })
            .await
            .expect_err("bad request");
        assert_no_secrets("an error", &format!("{err} {err:?}"));
    }
    // Keystone refusing a wrong password: the error names neither password.
    let yaml = sim.clouds_yaml().replace(PASSWORD, "wrong-pw-123");
    let bad = gluster_operator::cloud::Cloud::from_clouds_yaml(&yaml, "sim", None, fast_options())
        .expect("client");
    let err = bad.authenticate().await.expect_err("refused");
    assert!(!format!("{err} {err:?}").contains("wrong-pw-123"));

    let logs = logs();
    assert!(
        logs.contains("openstack call"),
        "the capture works:\n{logs}"
    );
    assert!(
        logs.contains("request_id=req-"),
        "request IDs are logged:\n{logs}"
    );
    assert!(!logs.contains("wrong-pw-123"));
    assert_no_secrets("the logs", &logs);
    sim.shutdown().await;
}

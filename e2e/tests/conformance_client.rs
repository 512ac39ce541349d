//! The client integration scenarios (cloud_client_support/scenarios.rs, the same that
//! tests/cloud_client.rs runs against the simulator) against a real OpenStack cloud: Keystone,
//! Nova, Neutron, Cinder and Glance as e2e/conformance/cloud.sh brings them up.
//!
//! `E2E_CONFORMANCE_CLOUDS=DIR/clouds.yaml` (cloud `E2E_CONFORMANCE_CLOUD`, default
//! `conformance`). Every call goes through the recorder proxy (e2e::recorder), which counts
//! calls and injects the faults (5xx, 429 with Retry-After, latency, dropped connections) a real
//! cloud would not produce on demand. Each test uses names of its own and asserts that nothing
//! it created is left. With `E2E_RECORD_FIXTURES=1` the real responses of every call kind are
//! written to tests/fixtures/openstack-real (what tests/openstack_sim_conformance.rs holds the
//! simulator to).

mod cloud_client_support;

use cloud_client_support::env::Env;

macro_rules! on_the_real_cloud {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let env = Env::real(stringify!($name)).await;
            cloud_client_support::scenarios::$name(&env).await;
            env.finish().await;
        }
    };
}

client_scenarios!(on_the_real_cloud);

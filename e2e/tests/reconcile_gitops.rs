//! GitOps order independence against the real API server: objects arrive in whatever order a
//! tool syncs them. A GlusterCluster applied before its credentials Secret is Stalled, then goes
//! on by itself soon after the Secret arrives (a short backoff, not the stalled interval); an
//! operator started before its CRD exists serves GlusterClusters once the CRD is installed,
//! without a restart. Deleting the namespace of a live cluster cleans its cloud resources
//! first: the credentials Secret stays (the operator's finalizer on it) until they are gone.

mod reconcile_support;

use std::time::Duration;

use e2e::openstack::{SimConfig, TimingConfig};
use gluster_operator::api::GlusterCluster;
use gluster_operator::controller::credentials::CREDENTIALS_FINALIZER;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use reconcile_support::{World, condition, example};

fn fast() -> SimConfig {
    SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    }
}

/// Every desired node has a server in status (the cloud side went on).
fn servers_for_every_node(c: &GlusterCluster) -> bool {
    c.status
        .as_ref()
        .is_some_and(|s| s.desired_nodes > 0 && s.nodes.len() as u32 == s.desired_nodes)
}

/// Deletes the cluster and waits until the finalizer let it go (the cloud cleaned).
async fn delete(world: &World, c: &GlusterCluster) {
    world
        .clusters
        .delete(&c.name_any(), &DeleteParams::default())
        .await
        .unwrap();
    world
        .wait_deleted(&c.name_any(), &c.uid().unwrap_or_default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_applied_before_its_secret_goes_on_soon_after_the_secret_arrives() {
    if reconcile_support::skip_in_external_mode(
        "a_cluster_applied_before_its_secret_goes_on_soon_after_the_secret_arrives",
        "the Secret is made from the simulator's clouds.yaml",
    ) {
        return;
    }
    // The production delays that matter here: a Stalled cluster is looked at again only after
    // 10 minutes, a failure worth retrying after 15 s. A Secret that arrives late must not wait
    // for the first.
    let world = World::start_configured(fast(), |c| {
        c.requeue_stalled = Duration::from_secs(600);
        c.requeue_error = Duration::from_secs(15);
        c.requeue_working = Duration::from_secs(2);
    })
    .await;
    let mut cluster = example("two-zones-replica2.yaml");
    cluster.spec.cloud.secret_name = "late-openstack".into();
    let created = world.apply(&cluster).await;
    let name = created.name_any();
    let stalled = world
        .wait_for(&name, "Stalled on the missing Secret", |c| {
            condition(c, "Stalled")
                .is_some_and(|(s, r, _)| s == "True" && r == "CloudSecretInvalid")
        })
        .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(
        message.contains("spec.cloud.secretName") && message.contains("late-openstack"),
        "{message}"
    );
    // A few passes find it missing (the backoff grows), then the GitOps tool syncs it.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    let mut secret = Secret::default();
    secret.metadata.name = Some("late-openstack".into());
    secret.data = Some(
        [(
            "clouds.yaml".to_string(),
            ByteString(world.sim().clouds_yaml().into_bytes()),
        )]
        .into(),
    );
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // Nobody touches the cluster: within a minute of the Secret it is no longer Stalled and
    // its servers exist (a hang guard, far from the 10 minutes of the stalled interval).
    let going = tokio::time::timeout(
        Duration::from_secs(60),
        world.wait_for(&name, "servers for every node after the Secret", |c| {
            servers_for_every_node(c)
                && condition(c, "Stalled").is_some_and(|(s, _, _)| s == "False")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("{name} still waiting a minute after its Secret arrived"));
    let going_generation = going.metadata.generation;
    assert_eq!(going.status.unwrap().nodes.len(), 4);

    // The GitOps tool syncs the same manifest again by server-side apply under its own field
    // manager: no conflict with what the operator wrote (status, its finalizer), nothing to
    // change, and `kubectl diff` shows nothing.
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    world.write_kubeconfig(&kubeconfig);
    let mut manifest = cluster.clone();
    manifest.metadata.namespace = Some(world.ns.clone());
    manifest.spec.cloud.cloud_name = world.cloud_name.clone();
    let yaml = serde_yaml::to_string(&manifest).unwrap();
    let ssa = ["--server-side", "--field-manager=argocd-controller"];
    let applied = e2e::controlplane::chart::run_kubectl(
        &kubeconfig,
        &[&["apply", "-f", "-"][..], &ssa[..]].concat(),
        &yaml,
    )
    .unwrap_or_else(|e| panic!("server-side apply by a second manager: {e}"));
    assert!(applied.contains("serverside-applied"), "{applied}");
    let diff = e2e::controlplane::chart::kubectl_output(
        &kubeconfig,
        &[&["diff", "-f", "-"][..], &ssa[..]].concat(),
        &yaml,
    )
    .unwrap();
    assert!(
        diff.status.success(),
        "kubectl diff found differences: {}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    let after = world.clusters.get(&name).await.unwrap();
    assert_eq!(after.metadata.generation, going_generation);
    delete(&world, &created).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_started_before_its_crd_serves_clusters_once_the_crd_is_installed() {
    if reconcile_support::skip_in_external_mode(
        "an_operator_started_before_its_crd_serves_clusters_once_the_crd_is_installed",
        "it needs a control plane of its own without the CRD",
    ) {
        return;
    }
    let world = World::start_before_crd(fast()).await;
    // The controller's watch finds no such resource meanwhile, and keeps trying.
    tokio::time::sleep(Duration::from_secs(3)).await;
    world.install_crd().await;
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let cluster = world
        .wait_for(
            &created.name_any(),
            "servers for every node, without an operator restart",
            servers_for_every_node,
        )
        .await;
    assert_eq!(
        cluster.status.as_ref().and_then(|s| s.observed_generation),
        cluster.metadata.generation
    );
    delete(&world, &created).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_namespace_of_a_live_cluster_cleans_its_cloud_before_the_credentials_go() {
    if reconcile_support::skip_in_external_mode(
        "deleting_the_namespace_of_a_live_cluster_cleans_its_cloud_before_the_credentials_go",
        "it looks at the simulator's resources after the namespace is gone",
    ) {
        return;
    }
    let world = World::start(fast()).await;
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let uid = created.uid().unwrap();
    world
        .wait_for(
            &created.name_any(),
            "servers for every node",
            servers_for_every_node,
        )
        .await;
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    let held = secrets.get("openstack").await.unwrap();
    assert!(
        held.finalizers().iter().any(|f| f == CREDENTIALS_FINALIZER),
        "{:?}",
        held.finalizers()
    );

    // The real namespace controller deletes everything in it at once, the Secret included.
    let namespaces: Api<Namespace> = Api::all(world.client.clone());
    namespaces
        .delete(&world.ns, &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::timeout(world.patience, async {
        while namespaces.get_opt(&world.ns).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("namespace {} never went away", world.ns));

    // deletionPolicy Retain (the default): only the brick volumes stay, detached.
    world.assert_only_retained_volumes_left(&uid, 4).await;
    world.stop().await;
}

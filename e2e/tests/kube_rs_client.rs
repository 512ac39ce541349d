//! kube-rs 5 against the real kube-apiserver, as the operator uses it: typed CRUD on the
//! project's GlusterCluster, error statuses, watches resumed from a resourceVersion and after
//! the API server restarts, server-side apply, an event recorder, garbage collection by the
//! real garbage collector, pagination, and a small Controller with a finalizer running to
//! completion.

mod kube_support;

use std::sync::Arc;
use std::time::Duration;

use ::kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent,
    WatchParams,
};
use ::kube::runtime::controller::{Action, Controller};
use ::kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use ::kube::runtime::finalizer::{Event as Finalizer, finalizer};
use ::kube::runtime::wait::{await_condition, conditions};
use ::kube::runtime::{WatchStreamExt, watcher};
use ::kube::{Client, Resource, ResourceExt};
use e2e::controlplane::ControlPlane;
use futures::{StreamExt, TryStreamExt};
use gluster_operator::api::GlusterCluster;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_support::{Cluster, crd_path, fixture, text};
use serde_json::json;

const CRD_NAME: &str = "glusterclusters.storage.glusterops.dev";

/// Applies the project's CRD (server-side, so every test may) and waits until it is
/// established.
async fn install_crd(client: &Client) {
    let crd: CustomResourceDefinition =
        serde_yaml::from_str(&std::fs::read_to_string(crd_path()).unwrap()).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    await_condition(crds, CRD_NAME, conditions::is_crd_established())
        .await
        .unwrap();
}

fn demo(ns: &str, name: &str) -> GlusterCluster {
    let mut g: GlusterCluster = serde_yaml::from_str(
        &std::fs::read_to_string(fixture("glustercluster-minimal.yaml")).unwrap(),
    )
    .unwrap();
    g.metadata.name = Some(name.into());
    g.metadata.namespace = Some(ns.into());
    g
}

async fn setup() -> (Cluster, Client, Api<GlusterCluster>) {
    let c = Cluster::start().await;
    let client = c.client().await;
    install_crd(&client).await;
    let api = Api::namespaced(client.clone(), &c.ns);
    (c, client, api)
}

fn api_error(e: ::kube::Error) -> ::kube::core::Status {
    match e {
        ::kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_crud_and_error_statuses() {
    let (c, _client, api) = setup().await;
    let created = api
        .create(&PostParams::default(), &demo(&c.ns, "a"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.uid().is_some());
    let rv1: u64 = created.resource_version().unwrap().parse().unwrap();

    let err = api_error(
        api.create(&PostParams::default(), &demo(&c.ns, "a"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        err.message,
        "glusterclusters.storage.glusterops.dev \"a\" already exists"
    );

    let err = api_error(api.get("missing").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));

    let mut bad = demo(&c.ns, "bad");
    bad.spec.volume.replicas = Some(0);
    let err = api_error(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    let causes = err.details.unwrap().causes;
    assert_eq!(causes[0].field, "spec.volume.replicas");
    assert_eq!(causes[0].reason, "FieldValueInvalid");

    // Replace with the current resourceVersion works; with the old one, 409 Conflict.
    let mut next = created.clone();
    next.spec.image = "ubuntu-24.04".into();
    let replaced = api
        .replace("a", &PostParams::default(), &next)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    assert!(replaced.resource_version().unwrap().parse::<u64>().unwrap() > rv1);
    let err = api_error(
        api.replace("a", &PostParams::default(), &next)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    // Status goes through the status subresource only.
    let st = json!({"status": {"readyNodes": 2, "nodeSummary": "2/4"}});
    let after = api
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
    assert_eq!(after.status.as_ref().unwrap().ready_nodes, 2);
    assert_eq!(after.metadata.generation, Some(2));
    let listed = api
        .list(&ListParams::default().labels("missing-label"))
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    let listed = api
        .list(&ListParams::default().fields("metadata.name=a"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Deleted at once (no finalizer): the real API server answers with a Success Status
    // naming the object, not with the object (what kube-runtime's finalizer helper expects).
    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
    let status = deleted.right().expect("a Status for an immediate delete");
    assert_eq!(
        status.status,
        Some(::kube::core::response::StatusSummary::Success)
    );
    assert_eq!(status.details.map(|d| d.name), Some("a".to_string()));
    let err = api_error(api.get("a").await.unwrap_err());
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let (c, _client, api) = setup().await;
    api.create(&PostParams::default(), &demo(&c.ns, "w1"))
        .await
        .unwrap();
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &demo(&c.ns, "w2"))
        .await
        .unwrap();
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"flavor": "m1.xlarge"}})),
    )
    .await
    .unwrap();
    api.delete("w2", &DeleteParams::default()).await.unwrap();
    let stream = api.watch(&WatchParams::default(), &rv).await.unwrap();
    let events: Vec<_> = stream.take(3).try_collect().await.unwrap();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(o) => ("ADDED".to_string(), o.name_any()),
            WatchEvent::Modified(o) => ("MODIFIED".to_string(), o.name_any()),
            WatchEvent::Deleted(o) => ("DELETED".to_string(), o.name_any()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".into(), "w2".into()),
            ("MODIFIED".into(), "w1".into()),
            ("DELETED".into(), "w2".into())
        ]
    );
}

/// Sets the ConfigMap `cm`'s `n`.
async fn set_n(cms: &Api<ConfigMap>, n: &str) {
    cms.patch(
        "cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": n}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn watches_resume_after_the_api_server_restarts() {
    // A control plane of this test's own: the API server goes away under the watcher.
    let mut cp = ControlPlane::start().await.unwrap();
    let client = cp.client().await.unwrap();
    let ns = cp.namespace(&client, "restart").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"n": "0"}})).unwrap(),
    )
    .await
    .unwrap();
    // The runtime watcher (what the operator's controller runs on) lists, then follows.
    let mut w = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    let initial = w.try_next().await.unwrap().unwrap();
    assert_eq!(initial.data.unwrap()["n"], "0");

    cp.stop_apiserver();
    cp.start_apiserver().await.unwrap();
    set_n(&cms, "1").await;
    let changed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            // While the server is away the watcher yields its errors and retries (backoff).
            if let Ok(Some(o)) = w.try_next().await
                && o.data.as_ref().is_some_and(|d| d["n"] == "1")
            {
                return o;
            }
        }
    })
    .await
    .expect("the watcher saw the change made after the restart");
    assert_eq!(changed.name_any(), "cm");

    // A plain watch from a resourceVersion taken before a restart: the new server's watch
    // cache starts at the revision it found, so the watch either resumes (the change) or is
    // told 410 Expired, after which a client must list again (what the runtime watcher above
    // does). Either answer is the API's contract; anything else is not.
    let rv = cms.get("cm").await.unwrap().resource_version().unwrap();
    cp.restart_apiserver().await.unwrap();
    set_n(&cms, "2").await;
    let outcome = match cms.watch(&WatchParams::default(), &rv).await {
        Ok(stream) => stream.boxed().try_next().await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(WatchEvent::Modified(o))) => assert_eq!(o.data.unwrap()["n"], "2"),
        Ok(Some(WatchEvent::Error(e))) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        Err(::kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected the change or 410 Expired, got {other:?}"),
    }
}

#[tokio::test]
async fn server_side_apply_with_kube_rs() {
    let (c, _client, api) = setup().await;
    let cfg = serde_json::to_value(demo(&c.ns, "ssa")).unwrap();
    let applied = api
        .patch("ssa", &PatchParams::apply("mgr-a"), &Patch::Apply(&cfg))
        .await
        .unwrap();
    assert_eq!(applied.spec.flavor, "m1.large");
    let mut changed = cfg.clone();
    changed["spec"]["flavor"] = json!("m1.xlarge");
    let err = api_error(
        api.patch("ssa", &PatchParams::apply("mgr-b"), &Patch::Apply(&changed))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("conflict with \"mgr-a\""),
        "{}",
        err.message
    );
    let cause = &err.details.unwrap().causes[0];
    assert_eq!(cause.reason, "FieldManagerConflict");
    let forced = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(&changed),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.flavor, "m1.xlarge");
    // Dropping a field from one's own apply configuration removes it when nobody else owns it.
    // (`volume.allowedClients`: a field that may change on a live cluster.)
    let mut with_clients = changed.clone();
    with_clients["spec"]["volume"]["allowedClients"] = json!(["192.0.2.0/24"]);
    let with = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(&with_clients),
        )
        .await
        .unwrap();
    assert_eq!(with.spec.volume.allowed_clients, ["192.0.2.0/24"]);
    let without = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(&changed),
        )
        .await
        .unwrap();
    assert!(without.spec.volume.allowed_clients.is_empty());
}

#[tokio::test]
async fn recorder_events_show_in_kubectl_describe() {
    let (c, client, api) = setup().await;
    let obj = api
        .create(&PostParams::default(), &demo(&c.ns, "ev"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "gluster-operator".into(),
            instance: Some("test".into()),
        },
    );
    let ev = KubeEvent {
        type_: EventType::Normal,
        reason: "Provisioning".into(),
        note: Some("creating 4 servers".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = obj.object_ref(&());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), &c.ns);
    let found = core
        .list(&ListParams::default().fields(&format!(
            "involvedObject.name=ev,involvedObject.uid={}",
            obj.uid().unwrap()
        )))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1, "one event, counted as a series");
    assert_eq!(
        found.items[0].message.as_deref(),
        Some("creating 4 servers")
    );
    let describe = c.ok(&["describe", "gcl", "ev"]).await;
    assert!(describe.contains("Provisioning"), "{describe}");
    assert!(describe.contains("creating 4 servers"), "{describe}");
    let table = c.ok(&["get", "events"]).await;
    assert!(table.contains("glustercluster/ev"), "{table}");
}

#[tokio::test]
async fn garbage_collection_and_pagination() {
    let (c, client, api) = setup().await;
    let owner = api
        .create(&PostParams::default(), &demo(&c.ns, "owner"))
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &c.ns);
    let owner_ref = owner.controller_owner_ref(&()).unwrap();
    for i in 0..5 {
        let mut cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("dep-{i}"), "labels": {"set": "gc"}}}),
        )
        .unwrap();
        cm.metadata.owner_references = Some(vec![owner_ref.clone()]);
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    // Pages of two, consistent at the first page's resourceVersion.
    let mut names = Vec::new();
    let mut lp = ListParams::default().labels("set=gc").limit(2);
    let mut first_rv = None;
    loop {
        let page = cms.list(&lp).await.unwrap();
        assert!(page.items.len() <= 2);
        first_rv.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(Some(page.metadata.resource_version.clone()), first_rv);
        names.extend(page.items.iter().map(|c| c.name_any()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
        // A change between pages does not show in the rest of the list.
        cms.delete("dep-4", &DeleteParams::default()).await.ok();
    }
    assert_eq!(names, ["dep-0", "dep-1", "dep-2", "dep-3", "dep-4"]);
    // Foreground deletion: the owner waits for its dependents, then goes.
    let uid = owner.uid().unwrap();
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    let marked = api.delete("owner", &dp).await.unwrap().left().unwrap();
    assert!(
        marked
            .finalizers()
            .contains(&"foregroundDeletion".to_string())
    );
    await_condition(api.clone(), "owner", conditions::is_deleted(&uid))
        .await
        .unwrap();
    let left = cms
        .list(&ListParams::default().labels("set=gc"))
        .await
        .unwrap();
    assert!(
        left.items.is_empty(),
        "dependents collected: {:?}",
        left.items.iter().map(|c| c.name_any()).collect::<Vec<_>>()
    );
}

#[derive(Clone)]
struct Ctx {
    api: Api<GlusterCluster>,
    cleaned: Arc<tokio::sync::Mutex<Vec<String>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReconcileError(String);

const FINALIZER: &str = "storage.glusterops.dev/test-cleanup";

async fn reconcile(obj: Arc<GlusterCluster>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let api = ctx.api.clone();
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => {
                let status = json!({"status": {"observedGeneration": o.metadata.generation, "conditions": [{
                    "type": "Ready", "status": "True", "reason": "Reconciled", "message": "test controller",
                    "lastTransitionTime": "2025-01-01T00:00:00Z", "observedGeneration": o.metadata.generation}]}});
                ctx.api
                    .patch_status(&o.name_any(), &PatchParams::default(), &Patch::Merge(&status))
                    .await
                    .map_err(|e| ReconcileError(e.to_string()))?;
                Ok::<_, ReconcileError>(Action::await_change())
            }
            Finalizer::Cleanup(o) => {
                ctx.cleaned.lock().await.push(o.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| ReconcileError(e.to_string()))
}

fn error_policy(_obj: Arc<GlusterCluster>, _err: &ReconcileError, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(100))
}

#[tokio::test]
async fn controller_with_finalizer_runs_to_completion() {
    let (c, _client, api) = setup().await;
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        cleaned: Arc::default(),
    });
    let controller = tokio::spawn(
        Controller::new(api.clone(), watcher::Config::default())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|_| async {}),
    );
    let created = api
        .create(&PostParams::default(), &demo(&c.ns, "ctl"))
        .await
        .unwrap();
    let uid = created.uid().unwrap();
    let ready = |o: Option<&GlusterCluster>| {
        o.and_then(|o| o.status.as_ref()).is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    };
    let obj = await_condition(api.clone(), "ctl", ready)
        .await
        .unwrap()
        .unwrap();
    assert!(
        obj.finalizers().contains(&FINALIZER.to_string()),
        "the finalizer helper added its finalizer"
    );
    let out = c
        .ok(&["wait", "--for=condition=Ready", "gcl/ctl", "--timeout=60s"])
        .await;
    assert!(out.contains("condition met"), "{out}");
    api.delete("ctl", &DeleteParams::default()).await.unwrap();
    await_condition(api.clone(), "ctl", conditions::is_deleted(&uid))
        .await
        .unwrap();
    assert_eq!(*ctx.cleaned.lock().await, ["ctl"]);
    controller.abort();
    let out = c.kubectl(&["get", "gcl", "ctl"]).await;
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
}

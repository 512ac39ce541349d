//! The control-plane loops the emulator runs after writes: the namespace controller
//! (empties a terminating namespace, then finalizes it), CRD instance cleanup, and the
//! garbage collector (ownerReferences: background, foreground and orphan propagation).

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use super::meta;
use super::store::{StoreKey, World};

const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Runs every loop until nothing changes (bounded); returns whether anything changed.
pub fn reconcile(world: &mut World) -> bool {
    let mut changed = false;
    for _ in 0..64 {
        let before = world.rv();
        namespaces(world);
        crd_cleanup(world);
        garbage_collect(world);
        if world.rv() == before {
            break;
        }
        changed = true;
    }
    changed
}

fn snapshot(world: &World) -> Vec<(StoreKey, Arc<Value>)> {
    world.all().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn namespaces(world: &mut World) {
    let all = snapshot(world);
    for (key, ns) in all
        .iter()
        .filter(|(k, _)| k.storage.group.is_empty() && k.storage.resource == "namespaces")
    {
        if !meta::deleting(ns) {
            continue;
        }
        let name = meta::name(ns);
        let content: Vec<&StoreKey> = all
            .iter()
            .filter(|(k, _)| k.namespace == name)
            .map(|(k, _)| k)
            .collect();
        for k in &content {
            world.system_delete(k);
        }
        if content.is_empty() {
            world.system_update(key, |o| {
                o["spec"]["finalizers"] = json!([]);
                if let Some(m) = o["spec"].as_object_mut() {
                    m.remove("finalizers");
                }
            });
        }
    }
}

fn crd_cleanup(world: &mut World) {
    let all = snapshot(world);
    for (key, crd) in all
        .iter()
        .filter(|(k, _)| k.storage.group == "apiextensions.k8s.io")
    {
        if !meta::deleting(crd) || !meta::finalizers(crd).iter().any(|f| f == CRD_CLEANUP) {
            continue;
        }
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        let instances: Vec<&StoreKey> = all
            .iter()
            .filter(|(k, _)| k.storage.group == group && k.storage.resource == plural)
            .map(|(k, _)| k)
            .collect();
        for k in &instances {
            world.system_delete(k);
        }
        if instances.is_empty() {
            world.system_update(key, |o| {
                let f: Vec<String> = meta::finalizers(o)
                    .into_iter()
                    .filter(|f| f != CRD_CLEANUP)
                    .collect();
                meta::set_finalizers(o, &f);
            });
        }
    }
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn garbage_collect(world: &mut World) {
    let all = snapshot(world);
    let by_uid: HashMap<String, (StoreKey, Arc<Value>)> = all
        .iter()
        .map(|(k, v)| (meta::meta_str(v, "uid").to_string(), (k.clone(), v.clone())))
        .collect();
    for (key, obj) in &all {
        let uids = owner_uids(obj);
        if uids.is_empty() {
            continue;
        }
        let mut dangling = Vec::new();
        let mut orphaning = Vec::new();
        let mut foreground = false;
        for u in &uids {
            match by_uid.get(u) {
                None => dangling.push(u.clone()),
                Some((_, owner)) => {
                    let fins = meta::finalizers(owner);
                    if meta::deleting(owner) && fins.iter().any(|f| f == "orphan") {
                        orphaning.push(u.clone());
                    } else if meta::deleting(owner)
                        && fins.iter().any(|f| f == "foregroundDeletion")
                    {
                        foreground = true;
                    }
                }
            }
        }
        if dangling.len() == uids.len() || foreground {
            world.system_delete(key);
        } else if !dangling.is_empty() || !orphaning.is_empty() {
            world.system_update(key, |o| {
                if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| {
                        let u = r["uid"].as_str().unwrap_or_default();
                        !dangling.iter().any(|d| d == u) && !orphaning.iter().any(|d| d == u)
                    });
                }
                if o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|a| a.is_empty())
                    && let Some(m) = o["metadata"].as_object_mut()
                {
                    m.remove("ownerReferences");
                }
            });
        }
    }
    // Owners waiting on their dependents: drop the finalizer once none refer to them.
    let all = snapshot(world);
    for (key, owner) in &all {
        if !meta::deleting(owner) {
            continue;
        }
        let fins = meta::finalizers(owner);
        if !fins
            .iter()
            .any(|f| f == "foregroundDeletion" || f == "orphan")
        {
            continue;
        }
        let uid = meta::meta_str(owner, "uid");
        let has_dependents = all
            .iter()
            .any(|(_, d)| owner_uids(d).iter().any(|u| u == uid));
        if !has_dependents {
            world.system_update(key, |o| {
                let f: Vec<String> = meta::finalizers(o)
                    .into_iter()
                    .filter(|f| f != "foregroundDeletion" && f != "orphan")
                    .collect();
                meta::set_finalizers(o, &f);
            });
        }
    }
}

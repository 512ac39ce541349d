//! The object store: every object in its storage form, one global resourceVersion
//! counter, a bounded history of changes (for watch resumption, consistent list pages and
//! `410 Gone`), and a broadcast of changes to watchers.

use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

use super::builtin;
use super::registry::{Builtin, Origin, Registry, ResourceType, StorageId};
use super::status::ApiError;

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreKey {
    /// Its storage.
    pub storage: StorageId,
    /// Its namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion it produced.
    pub rv: u64,
    /// The object's key.
    pub key: StoreKey,
    /// What happened.
    pub event: EventType,
    /// The object after (for a delete: its last state, with the new resourceVersion).
    pub object: Arc<Value>,
    /// The object before, if any.
    pub prev: Option<Arc<Value>>,
}

/// A watch's start: the changes still in history, and a receiver for those to come.
pub type WatchStart = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// Tunables of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How many changes the history keeps; watches from older versions get 410 Gone.
    pub history: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { history: 10_000 }
    }
}

/// The whole emulated cluster state.
pub struct World {
    rv: u64,
    /// The served resource types.
    pub registry: Registry,
    objects: BTreeMap<StoreKey, Arc<Value>>,
    history: VecDeque<Arc<Change>>,
    cap: usize,
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
    next_ip: u32,
}

impl World {
    /// A fresh cluster with the default namespaces.
    pub fn new(config: StoreConfig) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let mut w = World {
            rv: 0,
            registry: Registry::with_builtins(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            cap: config.history.max(1),
            compacted: 0,
            tx,
            next_ip: 1,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let rv = w.next_rv();
            let obj = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "uid": uuid::Uuid::new_v4().to_string(),
                    "resourceVersion": rv.to_string(),
                    "creationTimestamp": super::meta::now(),
                    "labels": {"kubernetes.io/metadata.name": ns},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            w.objects.insert(Self::ns_key(ns), Arc::new(obj));
        }
        w.compacted = w.rv;
        w
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// The key of a namespace object.
    pub fn ns_key(name: &str) -> StoreKey {
        StoreKey {
            storage: StorageId {
                group: String::new(),
                resource: "namespaces".into(),
            },
            namespace: String::new(),
            name: name.into(),
        }
    }

    /// The key of an object of type `t`.
    pub fn key(t: &ResourceType, namespace: &str, name: &str) -> StoreKey {
        StoreKey {
            storage: t.storage.clone(),
            namespace: if t.namespaced {
                namespace.into()
            } else {
                String::new()
            },
            name: name.into(),
        }
    }

    /// An object by key.
    pub fn get(&self, key: &StoreKey) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Every object of a storage (optionally one namespace), in key order.
    pub fn list(&self, storage: &StorageId, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let start = StoreKey {
            storage: storage.clone(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(|(k, _)| {
                &k.storage == storage && namespace.is_none_or(|n| k.namespace == n)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every stored object with its key.
    pub fn all(&self) -> impl Iterator<Item = (&StoreKey, &Arc<Value>)> {
        self.objects.iter()
    }

    /// The objects of a storage as they were at resourceVersion `rv`, or 410 when the
    /// history no longer reaches back that far.
    pub fn list_at(
        &self,
        storage: &StorageId,
        namespace: Option<&str>,
        rv: u64,
    ) -> Result<Vec<Arc<Value>>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "The resourceVersion for the provided list is too old. (requested {rv}, oldest {})",
                self.compacted
            )));
        }
        let mut state: BTreeMap<StoreKey, Arc<Value>> = self
            .objects
            .iter()
            .filter(|(k, _)| &k.storage == storage && namespace.is_none_or(|n| k.namespace == n))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for c in self.history.iter().rev().take_while(|c| c.rv > rv) {
            if &c.key.storage != storage || namespace.is_some_and(|n| c.key.namespace != n) {
                continue;
            }
            match &c.prev {
                Some(p) if c.event != EventType::Added => {
                    state.insert(c.key.clone(), p.clone());
                }
                _ => {
                    state.remove(&c.key);
                }
            }
        }
        Ok(state.into_values().collect())
    }

    /// Stores an object and records the change; returns the committed object.
    pub fn commit(&mut self, key: StoreKey, mut obj: Value, event: EventType) -> Arc<Value> {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let obj = Arc::new(obj);
        let prev = match event {
            EventType::Deleted => self.objects.remove(&key),
            _ => self.objects.insert(key.clone(), obj.clone()),
        };
        let change = Arc::new(Change {
            rv,
            key,
            event,
            object: obj.clone(),
            prev,
        });
        self.history.push_back(change.clone());
        while self.history.len() > self.cap {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // Nobody listening is fine: the history keeps the change for later watchers.
        let _ = self.tx.send(change);
        obj
    }

    /// Starts a watch: the changes after `rv` still in history, and a receiver for the
    /// ones to come. 410 when `rv` is older than the history.
    pub fn watch_from(&self, rv: u64) -> Result<WatchStart, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted + 1
            )));
        }
        let backlog = self.history.iter().filter(|c| c.rv > rv).cloned().collect();
        Ok((backlog, self.tx.subscribe()))
    }

    /// A Service cluster IP from 10.96.0.0/12.
    pub fn allocate_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip += 1;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    /// The served form of a stored object for type `t` (apiVersion, Event conversion).
    pub fn present(t: &ResourceType, stored: &Value) -> Value {
        if t.origin == Origin::Builtin(Builtin::EventsEvent) {
            return builtin::event_to_events_v1(stored);
        }
        let mut v = stored.clone();
        v["apiVersion"] = json!(t.api_version());
        v["kind"] = json!(t.kind);
        v
    }

    /// The stored form of an object received for type `t`.
    pub fn to_storage(&self, t: &ResourceType, obj: Value) -> Value {
        if t.origin == Origin::Builtin(Builtin::EventsEvent) {
            return builtin::events_v1_to_event(&obj);
        }
        let mut v = obj;
        if let Some(st) = self
            .registry
            .by_storage(&t.storage)
            .find(|s| s.storage_version)
        {
            v["apiVersion"] = json!(st.api_version());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_reconstructs_lists_and_expires() {
        let mut w = World::new(StoreConfig { history: 3 });
        let t = w.registry.get("", "v1", "configmaps").unwrap().clone();
        let k = World::key(&t, "default", "a");
        w.commit(
            k.clone(),
            json!({"metadata": {"name": "a"}, "data": {"v": "1"}}),
            EventType::Added,
        );
        let rv1 = w.rv();
        w.commit(
            k.clone(),
            json!({"metadata": {"name": "a"}, "data": {"v": "2"}}),
            EventType::Modified,
        );
        let at1 = w.list_at(&t.storage, Some("default"), rv1).unwrap();
        assert_eq!(at1[0]["data"]["v"], "1");
        let (backlog, _rx) = w.watch_from(rv1).unwrap();
        assert_eq!(backlog.len(), 1);
        for i in 0..4 {
            w.commit(
                k.clone(),
                json!({"metadata": {"name": "a"}, "data": {"v": i.to_string()}}),
                EventType::Modified,
            );
        }
        assert_eq!(w.watch_from(rv1).unwrap_err().code, 410);
        assert_eq!(w.list_at(&t.storage, None, rv1).unwrap_err().code, 410);
    }
}

//! The timed state transitions, each a task that sleeps for its configured delay and then moves
//! the world on: servers BUILD → ACTIVE/ERROR and deletion, volumes creating → available/error,
//! attaching → in-use, detaching → available, deleting → gone, snapshots likewise. The boot hook
//! runs on a blocking thread before the new state becomes visible. Tasks end early when the
//! simulator shuts down.

use super::api::Shared;
use super::hook::{BootHook, ServerEvent, VolumeEvent};
use super::world::{ServerFault, ServerStatus, World};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Sleeps `ms`; false when the simulator is shutting down.
async fn pause(sh: &Shared, ms: u64) -> bool {
    tokio::select! {
        _ = sh.cancel.cancelled() => false,
        _ = tokio::time::sleep(Duration::from_millis(ms)) => true,
    }
}

/// Runs the hook (if any) on a blocking thread and waits for it.
async fn run_hook(sh: &Shared, call: impl FnOnce(&dyn BootHook) + Send + 'static) {
    let Some(hook) = sh.hook() else { return };
    if let Err(e) = tokio::task::spawn_blocking(move || call(hook.as_ref())).await {
        tracing::warn!(error = %e, "boot hook panicked");
    }
}

fn spawn<F>(sh: &Arc<Shared>, f: impl FnOnce(Arc<Shared>) -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    sh.tasks.spawn(f(sh.clone()));
}

/// The hook's view of a server.
pub(crate) fn server_event(w: &World, id: &str) -> Option<ServerEvent> {
    let s = w.servers.get(id)?;
    let mut addresses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let all = w.server_addresses(s);
    for (net, ip, _) in &all {
        addresses
            .entry(net.clone())
            .or_default()
            .push(ip.to_string());
    }
    Some(ServerEvent {
        id: s.id.clone(),
        name: s.name.clone(),
        availability_zone: s.availability_zone.clone(),
        address: all.first().map(|(_, ip, _)| ip.to_string()),
        addresses,
        flavor: w
            .config
            .flavors
            .iter()
            .find(|f| f.id == s.flavor_id)
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        image_id: s.image_id.clone(),
        key_name: s.key_name.clone(),
        public_key: s
            .key_name
            .as_ref()
            .and_then(|k| w.keypairs.get(k))
            .map(|k| k.public_key.clone()),
        user_data: s.user_data.clone(),
        metadata: s.metadata.clone(),
        tags: s.tags.clone(),
        volumes: s.bdms.iter().map(|b| b.volume_id.clone()).collect(),
    })
}

fn volume_event(w: &World, server_id: &str, volume_id: &str) -> Option<VolumeEvent> {
    let s = w.servers.get(server_id)?;
    let b = s.bdms.iter().find(|b| b.volume_id == volume_id)?;
    Some(VolumeEvent {
        server_id: s.id.clone(),
        server_name: s.name.clone(),
        address: w
            .server_addresses(s)
            .first()
            .map(|(_, ip, _)| ip.to_string()),
        volume_id: volume_id.to_string(),
        device: b.device.clone(),
        size_gb: w.volumes.get(volume_id).map_or(0, |v| v.size),
    })
}

fn lifecycle_lock(sh: &Shared, id: &str) -> Option<Arc<tokio::sync::Mutex<()>>> {
    sh.world().servers.get(id).map(|s| s.lifecycle.clone())
}

/// BUILD → (ports, hook) → ACTIVE, or → ERROR with a fault.
pub(crate) fn spawn_server_build(sh: &Arc<Shared>, id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.server_build_ms).await {
            return;
        }
        let Some(lock) = lifecycle_lock(&sh, &id) else {
            return;
        };
        let _serial = lock.lock().await;
        let event = {
            let mut w = sh.world();
            let Some(s) = w.servers.get_mut(&id) else {
                return;
            };
            if s.deleting {
                return;
            }
            let now = Utc::now();
            if let Some(message) = s.doomed.take() {
                s.status = ServerStatus::Error;
                s.task_state = None;
                s.fault = Some(ServerFault {
                    code: 500,
                    message,
                    created: now,
                });
                s.updated = now;
                return;
            }
            s.task_state = Some("spawning");
            let (nets, az, groups) = (
                s.networks.clone(),
                s.availability_zone.clone(),
                s.security_group_ids.clone(),
            );
            let mut ports: Vec<String> = Vec::new();
            let requested = s.requested_ports.clone();
            for pid in requested {
                let free = w
                    .ports
                    .get(&pid)
                    .is_some_and(|p| p.device_id.is_empty() || p.device_id == id);
                if !free {
                    for p in &ports {
                        w.let_go_of_port(p);
                    }
                    if let Some(s) = w.servers.get_mut(&id) {
                        s.status = ServerStatus::Error;
                        s.task_state = None;
                        s.fault = Some(ServerFault {
                            code: 500,
                            message: format!(
                                "Build of instance {id} aborted: Port {pid} is still in use or gone."
                            ),
                            created: now,
                        });
                    }
                    return;
                }
                if let Some(p) = w.ports.get_mut(&pid) {
                    p.device_id = id.clone();
                    p.device_owner = format!("compute:{az}");
                    p.updated_at = now;
                    p.revision += 1;
                }
                ports.push(pid);
            }
            for net in nets {
                match w.allocate_port(net, &id, &az, groups.clone()) {
                    Some(p) => ports.push(p),
                    None => {
                        for p in &ports {
                            w.let_go_of_port(p);
                        }
                        if let Some(s) = w.servers.get_mut(&id) {
                            s.status = ServerStatus::Error;
                            s.task_state = None;
                            s.fault = Some(ServerFault {
                                code: 500,
                                message: format!(
                                    "Build of instance {id} aborted: Failed to allocate the network(s), not rescheduling."
                                ),
                                created: now,
                            });
                        }
                        return;
                    }
                }
            }
            if let Some(s) = w.servers.get_mut(&id) {
                s.ports = ports;
                s.hooked = true;
            }
            server_event(&w, &id)
        };
        if let Some(event) = event {
            run_hook(&sh, move |h| h.server_active(&event)).await;
        }
        let mut w = sh.world();
        let ports = match w.servers.get_mut(&id) {
            Some(s) => {
                let now = Utc::now();
                s.status = ServerStatus::Active;
                s.task_state = None;
                s.launched_at = Some(now);
                s.updated = now;
                s.ports.clone()
            }
            None => return,
        };
        for p in ports {
            if let Some(port) = w.ports.get_mut(&p) {
                port.status = "ACTIVE";
            }
        }
    });
}

/// Deleting → (hook) → gone: volumes detached (or deleted when `delete_on_termination`),
/// ports and addresses freed.
pub(crate) fn spawn_server_delete(sh: &Arc<Shared>, id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.server_delete_ms).await {
            return;
        }
        let Some(lock) = lifecycle_lock(&sh, &id) else {
            return;
        };
        let _serial = lock.lock().await;
        let event = {
            let w = sh.world();
            match w.servers.get(&id) {
                Some(s) if s.hooked => server_event(&w, &id),
                _ => None,
            }
        };
        if let Some(event) = event {
            run_hook(&sh, move |h| h.server_deleted(&event)).await;
        }
        let mut w = sh.world();
        let Some(s) = w.servers.remove(&id) else {
            return;
        };
        for b in &s.bdms {
            let has_snapshots = w.snapshots.values().any(|x| x.volume_id == b.volume_id);
            if b.delete_on_termination && !has_snapshots {
                w.volumes.remove(&b.volume_id);
            } else if let Some(v) = w.volumes.get_mut(&b.volume_id) {
                v.status = "available";
                v.attachment = None;
                v.updated_at = Some(Utc::now());
            }
        }
        for p in &s.ports {
            w.let_go_of_port(p);
        }
    });
}

/// A hard reboot: after a build's time, ACTIVE with the fault cleared, or ERROR with
/// `doomed`'s fault (a fault rule for servers of its name).
pub(crate) fn spawn_hard_reboot(sh: &Arc<Shared>, id: String, doomed: Option<String>) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.server_build_ms).await {
            return;
        }
        let mut w = sh.world();
        let Some(s) = w.servers.get_mut(&id) else {
            return;
        };
        if s.deleting {
            return;
        }
        let now = Utc::now();
        s.task_state = None;
        s.updated = now;
        match doomed {
            Some(message) => {
                s.status = ServerStatus::Error;
                s.fault = Some(ServerFault {
                    code: 500,
                    message,
                    created: now,
                });
            }
            None => {
                s.status = ServerStatus::Active;
                s.fault = None;
            }
        }
    });
}

/// creating → available, or → error when a fault rule says so.
pub(crate) fn spawn_volume_create(sh: &Arc<Shared>, id: String, fail: bool) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.volume_create_ms).await {
            return;
        }
        let mut w = sh.world();
        if let Some(v) = w.volumes.get_mut(&id)
            && v.status == "creating"
        {
            v.status = if fail { "error" } else { "available" };
            v.updated_at = Some(Utc::now());
        }
    });
}

/// deleting → gone.
pub(crate) fn spawn_volume_delete(sh: &Arc<Shared>, id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.volume_delete_ms).await {
            return;
        }
        sh.world().volumes.remove(&id);
    });
}

/// attaching → (hook) → in-use.
pub(crate) fn spawn_attach(sh: &Arc<Shared>, server_id: String, volume_id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.volume_attach_ms).await {
            return;
        }
        let Some(lock) = lifecycle_lock(&sh, &server_id) else {
            reset_if_attaching(&sh, &volume_id);
            return;
        };
        let _serial = lock.lock().await;
        let event = {
            let w = sh.world();
            let live = w.servers.get(&server_id).is_some_and(|s| !s.deleting)
                && w.volumes
                    .get(&volume_id)
                    .is_some_and(|v| v.status == "attaching");
            if !live {
                return;
            }
            volume_event(&w, &server_id, &volume_id)
        };
        if let Some(event) = event.clone() {
            run_hook(&sh, move |h| h.volume_attached(&event)).await;
        }
        let mut w = sh.world();
        let Some(device) = w
            .servers
            .get(&server_id)
            .and_then(|s| s.bdms.iter().find(|b| b.volume_id == volume_id))
            .map(|b| (b.device.clone(), b.attachment_id.clone()))
        else {
            return;
        };
        if let Some(v) = w.volumes.get_mut(&volume_id)
            && v.status == "attaching"
        {
            let now = Utc::now();
            v.status = "in-use";
            v.updated_at = Some(now);
            v.attachment = Some(super::world::VolumeAttachment {
                attachment_id: device.1,
                server_id: server_id.clone(),
                device: device.0,
                attached_at: now,
            });
        }
    });
}

fn reset_if_attaching(sh: &Shared, volume_id: &str) {
    if let Some(v) = sh.world().volumes.get_mut(volume_id)
        && v.status == "attaching"
    {
        v.status = "available";
    }
}

/// detaching → (hook) → available.
pub(crate) fn spawn_detach(sh: &Arc<Shared>, server_id: String, volume_id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.volume_detach_ms).await {
            return;
        }
        let Some(lock) = lifecycle_lock(&sh, &server_id) else {
            return;
        };
        let _serial = lock.lock().await;
        let event = volume_event(&sh.world(), &server_id, &volume_id);
        if let Some(event) = event {
            run_hook(&sh, move |h| h.volume_detached(&event)).await;
        }
        let mut w = sh.world();
        if let Some(s) = w.servers.get_mut(&server_id) {
            s.bdms.retain(|b| b.volume_id != volume_id);
        }
        if let Some(v) = w.volumes.get_mut(&volume_id)
            && v.status == "detaching"
        {
            v.status = "available";
            v.attachment = None;
            v.updated_at = Some(Utc::now());
        }
    });
}

/// Snapshot creating → available.
pub(crate) fn spawn_snapshot_create(sh: &Arc<Shared>, id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.snapshot_ms).await {
            return;
        }
        if let Some(s) = sh.world().snapshots.get_mut(&id)
            && s.status == "creating"
        {
            s.status = "available";
            s.updated_at = Some(Utc::now());
        }
    });
}

/// Snapshot deleting → gone.
pub(crate) fn spawn_snapshot_delete(sh: &Arc<Shared>, id: String) {
    spawn(sh, |sh| async move {
        if !pause(&sh, sh.config.timing.snapshot_ms).await {
            return;
        }
        sh.world().snapshots.remove(&id);
    });
}

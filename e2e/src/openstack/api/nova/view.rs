//! How Nova shows a server at a given microversion (the member's view, plus the extended
//! server attributes an administrator sees).

use super::super::{Mv, Shared, ts_micro, ts_z};
use crate::openstack::world::{Server, ServerStatus, World};
use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha224};

/// `self` and `bookmark` links of a compute resource (`servers/<id>`, `flavors/<id>`).
pub(crate) fn links(sh: &Shared, path: &str) -> Value {
    json!([
        {"href": format!("{}/{path}", sh.compute_url()), "rel": "self"},
        {"href": format!("{}/compute/{path}", sh.base_url), "rel": "bookmark"},
    ])
}

fn bookmark(sh: &Shared, path: &str) -> Value {
    json!([{"href": format!("{}/compute/{path}", sh.base_url), "rel": "bookmark"}])
}

/// The short entry of `GET /servers`.
pub(crate) fn summary(sh: &Shared, s: &Server) -> Value {
    json!({"id": s.id, "name": s.name, "links": links(sh, &format!("servers/{}", s.id))})
}

/// Nova's task state while a hard reboot runs (the status shows `HARD_REBOOT`).
pub(crate) const REBOOTING_HARD: &str = "reboot_started_hard";

/// Status, vm_state, power_state as Nova derives them.
fn states(s: &Server) -> (&'static str, &'static str, u8) {
    if s.task_state == Some(REBOOTING_HARD) {
        let vm_state = match s.status {
            ServerStatus::Error => "error",
            _ => "active",
        };
        return ("HARD_REBOOT", vm_state, 0);
    }
    match s.status {
        ServerStatus::Build => ("BUILD", "building", 0),
        ServerStatus::Active => ("ACTIVE", "active", 1),
        ServerStatus::Error => ("ERROR", "error", 0),
    }
}

/// The simulated compute host of a zone.
fn host_id(project_id: &str, az: &str) -> String {
    let digest = Sha224::digest(format!("{project_id}sim-compute-{az}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The full server view (`GET /servers/{id}`, `GET /servers/detail`); `admin` when the token
/// has the admin role (Nova's `os_compute_api:os-extended-server-attributes` policy).
pub(crate) fn detail(sh: &Shared, w: &World, s: &Server, mv: Mv, show: bool, admin: bool) -> Value {
    let cfg = &sh.config;
    let (status, vm_state, power) = states(s);
    let mut addresses = Map::new();
    if s.status != ServerStatus::Build {
        for (net, ip, mac) in w.server_addresses(s) {
            let entry = json!({"addr": ip.to_string(), "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac});
            match addresses.get_mut(&net) {
                Some(Value::Array(list)) => list.push(entry),
                _ => {
                    addresses.insert(net, json!([entry]));
                }
            }
        }
    }
    let flavor = cfg.flavors.iter().find(|f| f.id == s.flavor_id);
    let flavor_view = if mv.at_least(2, 47) {
        match flavor {
            Some(f) => json!({
                "vcpus": f.vcpus, "ram": f.ram_mib, "disk": f.disk_gb, "ephemeral": f.ephemeral_gb,
                "swap": f.swap_mib, "original_name": f.name, "extra_specs": {},
            }),
            None => json!({}),
        }
    } else {
        json!({"id": s.flavor_id, "links": bookmark(sh, &format!("flavors/{}", s.flavor_id))})
    };
    let volumes: Vec<Value> = s
        .bdms
        .iter()
        .map(|b| {
            if mv.at_least(2, 3) {
                json!({"id": b.volume_id, "delete_on_termination": b.delete_on_termination})
            } else {
                json!({"id": b.volume_id})
            }
        })
        .collect();
    // Nova shows each group's current Neutron name, whichever way the request named it.
    let mut groups: Vec<&str> = Vec::new();
    for (given, id) in s.security_groups.iter().zip(&s.security_group_ids) {
        let name = w
            .security_groups
            .get(id)
            .map_or(given.as_str(), |g| g.name.as_str());
        if !groups.contains(&name) {
            groups.push(name);
        }
    }
    let task_state = if s.deleting {
        Some("deleting")
    } else {
        s.task_state
    };
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "status": status,
        "tenant_id": cfg.identity.project_id,
        "user_id": cfg.identity.user_id,
        "metadata": s.metadata,
        "hostId": if s.status == ServerStatus::Build { String::new() } else { host_id(&cfg.identity.project_id, &s.availability_zone) },
        "image": {"id": s.image_id, "links": bookmark(sh, &format!("images/{}", s.image_id))},
        "flavor": flavor_view,
        "created": ts_z(&s.created),
        "updated": ts_z(&s.updated),
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(sh, &format!("servers/{}", s.id)),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": s.availability_zone,
        "config_drive": "",
        "key_name": s.key_name,
        "OS-SRV-USG:launched_at": s.launched_at.as_ref().map(ts_micro),
        "OS-SRV-USG:terminated_at": null,
        "security_groups": groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
        "OS-EXT-STS:task_state": task_state,
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": power,
        "os-extended-volumes:volumes_attached": volumes,
    });
    if let Some(f) = &s.fault {
        v["fault"] = json!({"code": f.code, "created": ts_z(&f.created), "message": f.message});
    }
    if mv.at_least(2, 9) {
        v["locked"] = json!(false);
    }
    if mv.at_least(2, 19) {
        v["description"] = json!(s.description);
    }
    if mv.at_least(2, 26) {
        v["tags"] = json!(s.tags);
    }
    if mv.at_least(2, 63) {
        v["trusted_image_certificates"] = Value::Null;
    }
    if show && mv.at_least(2, 71) {
        v["server_groups"] = json!([]);
    }
    if mv.at_least(2, 73) {
        v["locked_reason"] = Value::Null;
    }
    if admin {
        extended_attributes(&mut v, s, mv);
    } else if mv.at_least(2, 90) {
        v["OS-EXT-SRV-ATTR:hostname"] = json!(hostname(&s.name));
    }
    if mv.at_least(2, 96) {
        v["pinned_availability_zone"] = json!(s.requested_zone);
    }
    v
}

/// The extended server attributes Nova shows administrators: the host fields always, and from
/// microversion 2.3 on the rest, with the user-data (base64, `null` when none was given).
fn extended_attributes(v: &mut Value, s: &Server, mv: Mv) {
    let building = s.status == ServerStatus::Build;
    let host = (!building).then(|| format!("sim-compute-{}", s.availability_zone));
    v["OS-EXT-SRV-ATTR:host"] = json!(host);
    v["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(host);
    v["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{:08x}", s.seq));
    if mv.at_least(2, 3) {
        let user_data = s
            .user_data
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
        v["OS-EXT-SRV-ATTR:reservation_id"] = json!(format!("r-{}", &s.id[..8.min(s.id.len())]));
        v["OS-EXT-SRV-ATTR:launch_index"] = json!(0);
        v["OS-EXT-SRV-ATTR:hostname"] = json!(hostname(&s.name));
        v["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
        v["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
        v["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
        v["OS-EXT-SRV-ATTR:user_data"] = json!(user_data);
    }
}

/// The hostname Nova derives from a display name (lower case, `[a-z0-9-]`, at most 63).
pub(crate) fn hostname(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches('-').to_string();
    out.truncate(63);
    if out.is_empty() { "server".into() } else { out }
}

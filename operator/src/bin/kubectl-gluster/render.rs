//! What `kubectl gluster` prints and patches, from plain data (pure; `main.rs` does the I/O).

use std::fmt::Write as _;

use gluster_operator::api::{GlusterCluster, HealthStatus};
use serde_json::{Value, json};

/// One Event about the cluster, as the status report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// When it was last seen (RFC 3339), for ordering and display.
    pub when: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// The Event's reason.
    pub reason: String,
    /// The Event's note.
    pub note: String,
}

/// Why a command cannot answer from the object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The operator has not written the part of the status the command reads.
    #[error(
        "{cluster}: status has no {what} yet (is the operator running? see `kubectl gluster status {cluster}`)"
    )]
    NotYet {
        /// The cluster's name.
        cluster: String,
        /// The missing part.
        what: &'static str,
    },
    /// `scale` names a zone the spec does not have.
    #[error("{cluster}: no zone {zone} in spec.zones (zones: {known})")]
    NoSuchZone {
        /// The cluster's name.
        cluster: String,
        /// The zone asked for.
        zone: String,
        /// The zones the spec has, comma-separated.
        known: String,
    },
}

/// A table: rows of cells, columns padded to the widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}   ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn name_of(c: &GlusterCluster) -> String {
    c.metadata.name.clone().unwrap_or_default()
}

/// `1.5 GiB`-style size of a byte count.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

fn health_rows(h: &HealthStatus) -> Vec<Vec<String>> {
    let capacity = match (h.capacity_used_bytes, h.capacity_total_bytes) {
        (Some(used), Some(total)) if total > 0 => format!(
            "{} of {} used ({}%)",
            bytes(used),
            bytes(total),
            used.saturating_mul(100) / total
        ),
        _ => "unknown".into(),
    };
    let mut rows = vec![
        vec![
            "Peers".into(),
            format!("{}/{} connected", h.peers_connected, h.peers_total),
        ],
        vec!["Bricks".into(), format!("{} online", h.bricks)],
        vec!["Heal pending".into(), opt(h.heal_pending)],
        vec!["Split-brain".into(), opt(h.split_brain)],
        vec!["Capacity".into(), capacity],
    ];
    if !h.peers_lost.is_empty() {
        rows.push(vec!["Peers lost".into(), h.peers_lost.join(", ")]);
    }
    if !h.bricks_offline.is_empty() {
        rows.push(vec!["Bricks offline".into(), h.bricks_offline.join(", ")]);
    }
    if !h.in_progress.is_empty() {
        rows.push(vec!["In progress".into(), h.in_progress.join("; ")]);
    }
    rows
}

/// `kubectl gluster status NAME`: conditions, nodes, bricks, heal, capacity and the last
/// `events` (newest last, at most 10).
pub fn status_report(c: &GlusterCluster, events: &[EventLine]) -> String {
    let name = name_of(c);
    let ns = c.metadata.namespace.clone().unwrap_or_default();
    let mut out = format!("GlusterCluster {ns}/{name}\n");
    let Some(s) = c.status.as_ref() else {
        out.push_str("No status yet: the operator has not reconciled this cluster.\n");
        return out;
    };
    let behind = s.observed_generation != c.metadata.generation;
    if behind {
        let _ = writeln!(
            out,
            "The status describes generation {} of the spec; the spec is at generation {}.",
            s.observed_generation.unwrap_or_default(),
            c.metadata.generation.unwrap_or_default()
        );
    }
    out.push('\n');
    let mut rows = vec![vec![
        "CONDITION".into(),
        "STATUS".into(),
        "REASON".into(),
        "MESSAGE".into(),
    ]];
    for cond in &s.conditions {
        rows.push(vec![
            cond.type_.clone(),
            cond.status.clone(),
            cond.reason.clone(),
            cond.message.clone(),
        ]);
    }
    out.push_str(&table(&rows));
    out.push('\n');
    if let Some(h) = s.health.as_ref() {
        out.push_str(&table(&health_rows(h)));
        out.push('\n');
    }
    let volume = s.volume.as_ref();
    if let Some(v) = volume {
        let _ = writeln!(
            out,
            "Volume {} ({}, {}), capacity {}",
            v.name,
            v.type_,
            v.state.as_deref().unwrap_or("state unknown"),
            s.capacity.as_deref().unwrap_or("unknown")
        );
    }
    let _ = writeln!(
        out,
        "Nodes {}\n",
        s.node_summary.as_deref().unwrap_or("unknown")
    );
    let mut rows = vec![vec![
        "NODE".into(),
        "ZONE".into(),
        "STATE".into(),
        "ADDRESS".into(),
        "BRICK".into(),
        "ONLINE".into(),
    ]];
    for n in &s.nodes {
        let online = volume
            .and_then(|v| v.bricks.iter().find(|b| b.node == n.name))
            .map_or("-", |b| if b.online { "yes" } else { "NO" });
        rows.push(vec![
            n.name.clone(),
            n.zone.clone(),
            format!("{:?}", n.state),
            n.address.clone().unwrap_or_else(|| "-".into()),
            n.brick.clone().unwrap_or_else(|| "-".into()),
            online.into(),
        ]);
    }
    out.push_str(&table(&rows));
    out.push('\n');
    if events.is_empty() {
        out.push_str("No Events.\n");
    } else {
        let mut sorted = events.to_vec();
        sorted.sort_by(|a, b| a.when.cmp(&b.when));
        let start = sorted.len().saturating_sub(10);
        let mut rows = vec![vec![
            "LAST SEEN".into(),
            "TYPE".into(),
            "REASON".into(),
            "MESSAGE".into(),
        ]];
        for e in &sorted[start..] {
            rows.push(vec![
                e.when.clone(),
                e.type_.clone(),
                e.reason.clone(),
                e.note.clone(),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out
}

/// `kubectl gluster mount NAME`: the mount command a client runs (the volfile server, the
/// backup volfile servers as a mount option) and the fstab line; with TLS (`tls`: whether the
/// client Secret `<name>-client-tls` exists, `None` when it could not be read) first the
/// commands that put the client certificate where gluster's client reads it.
pub fn mount_report(c: &GlusterCluster, tls: Option<bool>) -> Result<String, RenderError> {
    let name = name_of(c);
    let s = c.status.as_ref();
    let spec = s
        .and_then(|s| s.mount.clone())
        .ok_or_else(|| RenderError::NotYet {
            cluster: name.clone(),
            what: "mount (status.mount)",
        })?;
    let backups = s
        .map(|s| s.backup_volfile_servers.clone())
        .unwrap_or_default();
    let mut options = vec![];
    if !backups.is_empty() {
        options.push(format!("backup-volfile-servers={}", backups.join(":")));
    }
    let target = format!("/mnt/{name}");
    let mut out = String::from("# On a client with glusterfs-client (FUSE):\n");
    let secret = format!("{name}-client-tls");
    let ns = c.metadata.namespace.as_deref().unwrap_or("default");
    match tls {
        Some(true) => {
            let _ = writeln!(
                out,
                "# TLS is on: the client certificate is in Secret {ns}/{secret}; gluster's \
                 client reads it at fixed paths (Debian/Ubuntu: /usr/lib/ssl/)."
            );
            for file in ["glusterfs.pem", "glusterfs.key", "glusterfs.ca"] {
                let key = file.replace('.', "\\.");
                let _ = writeln!(
                    out,
                    "kubectl -n {ns} get secret {secret} -o jsonpath='{{.data.{key}}}' | base64 -d > /usr/lib/ssl/{file}"
                );
            }
            let _ = writeln!(out, "chmod 600 /usr/lib/ssl/glusterfs.key");
            let _ = writeln!(
                out,
                "mkdir -p /var/lib/glusterd && touch /var/lib/glusterd/secure-access"
            );
        }
        Some(false) => {}
        None => {
            let _ = writeln!(
                out,
                "# Secret {ns}/{secret} could not be read: if it exists, TLS is on and the \
                 client needs its glusterfs.pem, glusterfs.key and glusterfs.ca in /usr/lib/ssl/ \
                 and /var/lib/glusterd/secure-access."
            );
        }
    }
    let _ = writeln!(out, "mkdir -p {target}");
    if options.is_empty() {
        let _ = writeln!(out, "mount -t glusterfs {spec} {target}");
    } else {
        let _ = writeln!(
            out,
            "mount -t glusterfs -o {} {spec} {target}",
            options.join(",")
        );
    }
    options.push("_netdev".into());
    let _ = writeln!(
        out,
        "# /etc/fstab:\n{spec} {target} glusterfs {} 0 0",
        options.join(",")
    );
    let clients = &c.spec.volume.allowed_clients;
    if !clients.is_empty() {
        let _ = writeln!(
            out,
            "# Only clients in {} may mount (spec.volume.allowedClients).",
            clients.join(", ")
        );
    }
    Ok(out)
}

/// `kubectl gluster heal NAME`: the heal figures of the last health read, per brick.
pub fn heal_report(c: &GlusterCluster) -> Result<String, RenderError> {
    let name = name_of(c);
    let h = c
        .status
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .ok_or_else(|| RenderError::NotYet {
            cluster: name.clone(),
            what: "health (status.health)",
        })?;
    let mut out = format!(
        "{name}: {} entries pending heal, {} in split-brain (read from {})\n\n",
        opt(h.heal_pending),
        opt(h.split_brain),
        h.read_from.as_deref().unwrap_or("unknown")
    );
    let mut rows = vec![vec![
        "BRICK".into(),
        "NODE".into(),
        "STATUS".into(),
        "PENDING".into(),
        "SPLIT-BRAIN".into(),
    ]];
    for b in &h.heal_by_brick {
        rows.push(vec![
            b.brick.clone(),
            b.node.clone().unwrap_or_else(|| "-".into()),
            b.status.clone(),
            opt(b.pending),
            opt(b.split_brain),
        ]);
    }
    out.push_str(&table(&rows));
    if h.split_brain.is_some_and(|n| n > 0) {
        out.push_str(
            "\nSplit-brain entries need a person: `gluster volume heal VOLUME info split-brain` \
             on a node lists them, `gluster volume heal VOLUME split-brain ...` resolves one.\n",
        );
    }
    Ok(out)
}

/// `kubectl gluster scale NAME --zone Z --nodes N`: a JSON patch setting the zone's node count,
/// guarded by a `test` of the zone's name at that index (a concurrent edit that reorders the
/// zones makes the API server refuse it instead of scaling the wrong zone).
pub fn scale_patch(c: &GlusterCluster, zone: &str, nodes: u32) -> Result<Value, RenderError> {
    let index = c
        .spec
        .zones
        .iter()
        .position(|z| z.name == zone)
        .ok_or_else(|| RenderError::NoSuchZone {
            cluster: name_of(c),
            zone: zone.to_string(),
            known: c
                .spec
                .zones
                .iter()
                .map(|z| z.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok(json!([
        {"op": "test", "path": format!("/spec/zones/{index}/name"), "value": zone},
        {"op": "replace", "path": format!("/spec/zones/{index}/nodes"), "value": nodes},
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gluster_operator::api::{
        BrickHeal, BrickStatus, GlusterClusterStatus, NodeState, NodeStatus, VolumeStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    fn cluster() -> GlusterCluster {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/two-zones-replica2.yaml"
        ))
        .expect("example");
        let mut c: GlusterCluster = serde_yaml::from_str(&text).expect("a GlusterCluster");
        c.metadata.namespace = Some("storage".into());
        c.metadata.generation = Some(2);
        c
    }

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                Default::default(),
            ),
            observed_generation: Some(2),
        }
    }

    fn degraded() -> GlusterCluster {
        let mut c = cluster();
        let node = |i: u32, zone: &str| NodeStatus {
            name: format!("twozones-{zone}-{i}"),
            index: i,
            zone: zone.into(),
            address: Some(format!("10.0.0.{i}")),
            state: NodeState::Ready,
            brick: Some(format!("10.0.0.{i}:/export/shared/brick")),
            ..NodeStatus::default()
        };
        let nodes = vec![node(0, "zone-a"), node(1, "zone-b")];
        c.status = Some(GlusterClusterStatus {
            observed_generation: Some(2),
            conditions: vec![
                condition("Ready", "True", "VolumeStarted", "all 2 nodes ready"),
                condition(
                    "Degraded",
                    "True",
                    "BrickOffline",
                    "brick of twozones-zone-b-1 offline",
                ),
            ],
            node_summary: Some("2/2".into()),
            volume: Some(VolumeStatus {
                name: "shared".into(),
                type_: "Replicate".into(),
                state: Some("Started".into()),
                bricks: nodes
                    .iter()
                    .map(|n| BrickStatus {
                        name: n.brick.clone().unwrap_or_default(),
                        node: n.name.clone(),
                        online: n.index == 0,
                    })
                    .collect(),
                ..VolumeStatus::default()
            }),
            nodes,
            capacity: Some("10Gi".into()),
            mount: Some("10.0.0.0:/shared".into()),
            backup_volfile_servers: vec!["10.0.0.1".into()],
            health: Some(HealthStatus {
                peers_connected: 2,
                peers_total: 2,
                bricks_online: 1,
                bricks_total: 2,
                bricks: "1/2".into(),
                bricks_offline: vec!["twozones-zone-b-1".into()],
                heal_pending: Some(7),
                split_brain: Some(1),
                heal_by_brick: vec![BrickHeal {
                    brick: "10.0.0.0:/export/shared/brick".into(),
                    node: Some("twozones-zone-a-0".into()),
                    status: "Connected".into(),
                    pending: Some(7),
                    split_brain: Some(1),
                }],
                capacity_used_bytes: Some(3 * 1024 * 1024 * 1024),
                capacity_total_bytes: Some(10 * 1024 * 1024 * 1024),
                ..HealthStatus::default()
            }),
            ..GlusterClusterStatus::default()
        });
        c
    }

    #[test]
    fn status_lists_conditions_health_nodes_and_the_last_events() {
        let events: Vec<EventLine> = (0..12)
            .map(|i| EventLine {
                when: format!("2026-01-01T00:00:{i:02}Z"),
                type_: "Normal".into(),
                reason: format!("Step{i}"),
                note: "did".into(),
            })
            .collect();
        let text = status_report(&degraded(), &events);
        assert!(
            text.starts_with("GlusterCluster storage/twozones\n"),
            "{text}"
        );
        let line = |start: &str| {
            text.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no {start} in\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            line("Degraded"),
            "Degraded True BrickOffline brick of twozones-zone-b-1 offline"
        );
        assert_eq!(line("Bricks "), "Bricks 1/2 online");
        assert_eq!(line("Bricks offline"), "Bricks offline twozones-zone-b-1");
        assert_eq!(line("Heal pending"), "Heal pending 7");
        assert_eq!(line("Capacity"), "Capacity 3.0 GiB of 10.0 GiB used (30%)");
        assert_eq!(
            line("twozones-zone-b-1"),
            "twozones-zone-b-1 zone-b Ready 10.0.0.1 10.0.0.1:/export/shared/brick NO"
        );
        assert_eq!(
            line("Volume"),
            "Volume shared (Replicate, Started), capacity 10Gi"
        );
        // The ten newest Events, oldest first.
        assert!(!text.contains("Step1 "), "{text}");
        assert!(
            text.contains("Step2 ") && text.contains("Step11 "),
            "{text}"
        );
        assert!(!text.contains("spec is at generation"));
    }

    #[test]
    fn status_says_when_it_describes_an_older_spec_or_none_yet() {
        let mut c = degraded();
        c.metadata.generation = Some(3);
        assert!(status_report(&c, &[]).contains(
            "The status describes generation 2 of the spec; the spec is at generation 3."
        ));
        c.status = None;
        assert!(status_report(&c, &[]).contains("No status yet"));
    }

    #[test]
    fn mount_gives_the_command_with_backup_servers_and_the_fstab_line() {
        let text = mount_report(&degraded(), Some(false)).expect("mount");
        assert!(!text.contains("glusterfs.pem"), "no TLS: {text}");
        assert!(
            text.contains(
                "mount -t glusterfs -o backup-volfile-servers=10.0.0.1 10.0.0.0:/shared /mnt/twozones\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "10.0.0.0:/shared /mnt/twozones glusterfs backup-volfile-servers=10.0.0.1,_netdev 0 0"
            ),
            "{text}"
        );
        assert!(text.contains("127.0.0.0/8"), "{text}");
        assert_eq!(
            mount_report(&cluster(), Some(false)),
            Err(RenderError::NotYet {
                cluster: "twozones".into(),
                what: "mount (status.mount)"
            })
        );
    }

    #[test]
    fn mount_with_tls_puts_the_client_certificate_in_place_first() {
        let text = mount_report(&degraded(), Some(true)).expect("mount");
        let ns = degraded()
            .metadata
            .namespace
            .unwrap_or_else(|| "default".into());
        let pem = format!(
            "kubectl -n {ns} get secret twozones-client-tls -o jsonpath='{{.data.glusterfs\\.pem}}' | base64 -d > /usr/lib/ssl/glusterfs.pem"
        );
        let (certificate, mount) = (
            text.find(&pem).expect(&text),
            text.find("mount -t glusterfs").expect(&text),
        );
        assert!(certificate < mount, "{text}");
        for line in [
            "chmod 600 /usr/lib/ssl/glusterfs.key",
            "touch /var/lib/glusterd/secure-access",
            "/usr/lib/ssl/glusterfs.ca",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        // Unknown (the Secret could not be read): said so, nothing guessed.
        let text = mount_report(&degraded(), None).expect("mount");
        assert!(text.contains("could not be read"), "{text}");
    }

    #[test]
    fn heal_lists_bricks_and_points_at_split_brain() {
        let text = heal_report(&degraded()).expect("heal");
        assert!(
            text.starts_with("twozones: 7 entries pending heal, 1 in split-brain"),
            "{text}"
        );
        assert!(text.contains("split-brain ..."), "{text}");
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("10.0.0.0:"))
            .expect("brick row")
            .split_whitespace()
            .collect();
        assert_eq!(
            row,
            [
                "10.0.0.0:/export/shared/brick",
                "twozones-zone-a-0",
                "Connected",
                "7",
                "1"
            ]
        );
        assert!(heal_report(&cluster()).is_err());
    }

    #[test]
    fn scale_patches_the_named_zone_with_a_guard() {
        let patch = scale_patch(&cluster(), "zone-b", 4).expect("patch");
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/spec/zones/1/name", "value": "zone-b"},
                {"op": "replace", "path": "/spec/zones/1/nodes", "value": 4},
            ])
        );
        assert_eq!(
            scale_patch(&cluster(), "zone-c", 4),
            Err(RenderError::NoSuchZone {
                cluster: "twozones".into(),
                zone: "zone-c".into(),
                known: "zone-a, zone-b".into()
            })
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(20 * 1024 * 1024 * 1024), "20.0 GiB");
    }
}

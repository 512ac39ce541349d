//! Tests of the health rules: figures from real gluster 10.3 output (the fixtures of
//! `tests/fixtures/gluster`), the Degraded condition as a table, what holds Ready back and
//! which bricks are restarted.

use super::*;
use crate::api::conditions::{FALSE, TRUE};
use crate::controller::decide::gluster::volume_status;
use crate::controller::observe::SeenHealth;
use crate::gluster::xml::{
    parse_heal_info, parse_pool_list, parse_volume_info, parse_volume_status,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/gluster/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Nodes n1, n2, n3 on 127.0.73.1–3 (the fixtures' peers).
fn nodes() -> GlusterNodes {
    let mut g = GlusterNodes::default();
    for i in 1..=3 {
        g.order.push(format!("n{i}"));
        g.addresses.insert(format!("n{i}"), format!("127.0.73.{i}"));
    }
    g
}

/// The replica-2 volume `rep` (bricks on n1 and n2) read from n1: `status`, `pool` and `heal`
/// are fixture names.
fn seen(status: &str, pool: &str, heal: Option<&str>, detail: Option<&str>) -> SeenVolume {
    let info = parse_volume_info(&fixture("volume-info-replicate.xml"))
        .expect("volume info")
        .remove(0);
    let status = parse_volume_status(&fixture(status))
        .expect("volume status")
        .remove(0);
    SeenVolume {
        info: Box::new(info),
        status: Some(Box::new(status)),
        strangers: Vec::new(),
        health: Some(SeenHealth {
            read_from: "n1".into(),
            read_address: Some("127.0.73.1".into()),
            unanswered: Vec::new(),
            pool: Some(parse_pool_list(&fixture(pool)).expect("pool")),
            detail: detail
                .map(|d| Box::new(parse_volume_status(&fixture(d)).expect("detail").remove(0))),
            heal: heal.map(|h| parse_heal_info(&fixture(h)).expect("heal")),
        }),
    }
}

fn health_of(s: &SeenVolume) -> HealthStatus {
    let api = volume_status(&s.info, s.status.as_deref(), &nodes());
    figures(s, &api, &nodes()).expect("figures of a started volume")
}

#[test]
fn a_killed_brick_shows_offline_with_its_node_and_unknown_heal() {
    let s = seen(
        "volume-status-brick-down.xml",
        "pool-list.xml",
        Some("heal-info-summary-brick-down.xml"),
        None,
    );
    let h = health_of(&s);
    assert_eq!((h.bricks_online, h.bricks_total), (1, 2));
    assert_eq!(h.bricks, "1/2");
    assert_eq!(h.bricks_offline, ["n2 (127.0.73.2:/tmp/gx2/mnt/rep)"]);
    assert_eq!((h.peers_connected, h.peers_total), (3, 3));
    assert!(h.peers_lost.is_empty());
    // The brick down could not be asked: the total is unknown, not 0.
    assert_eq!(h.heal_pending, None);
    assert_eq!(h.heal_by_brick[0].pending, Some(3));
    assert_eq!(h.heal_by_brick[0].node.as_deref(), Some("n1"));
    assert_eq!(h.heal_by_brick[1].pending, None);
    let d = degraded(&h, 90);
    assert_eq!((d.status, d.reason), (TRUE, BRICK_OFFLINE));
    assert!(
        d.message.contains("n2 (127.0.73.2:/tmp/gx2/mnt/rep)"),
        "{}",
        d.message
    );
    assert!(matches!(
        holds_ready(&h),
        Some(Progress::Working { reason, .. }) if reason == BRICK_OFFLINE
    ));
    // glusterd of n2 is connected: its brick is restarted.
    assert_eq!(restartable(&s), ["127.0.73.2:/tmp/gx2/mnt/rep"]);
}

#[test]
fn a_disconnected_peer_is_lost_and_its_brick_not_restarted() {
    let mut s = seen(
        "volume-status-brick-down.xml",
        "pool-list-one-disconnected.xml",
        None,
        None,
    );
    let h = health_of(&s);
    assert_eq!((h.peers_connected, h.peers_total), (2, 3));
    assert_eq!(h.peers_lost, ["n3"]);
    let d = degraded(&h, 90);
    assert_eq!((d.status, d.reason), (TRUE, PEER_LOST));
    // Both problems are named.
    assert!(
        d.message.contains("n3") && d.message.contains("n2 ("),
        "{}",
        d.message
    );
    // n2 (connected) is restarted; a brick on n3 would not be.
    assert_eq!(restartable(&s), ["127.0.73.2:/tmp/gx2/mnt/rep"]);
    if let Some(h) = s.health.as_mut() {
        h.pool = Some(
            parse_pool_list(&fixture("pool-list-one-disconnected.xml"))
                .expect("pool")
                .into_iter()
                .filter(|p| !p.is_named("127.0.73.2"))
                .collect(),
        );
    }
    assert!(restartable(&s).is_empty());
}

#[test]
fn back_online_with_entries_to_heal_holds_ready_then_healthy() {
    let s = seen(
        "volume-status-replicate.xml",
        "pool-list.xml",
        Some("heal-info-summary.xml"),
        Some("volume-status-detail.xml"),
    );
    let h = health_of(&s);
    assert_eq!(h.bricks, "2/2");
    assert_eq!((h.heal_pending, h.split_brain), (Some(1), Some(0)));
    assert_eq!(h.in_progress, ["heal: 1 entries pending"]);
    // Capacity per copy: two bricks of a replica 2.
    assert_eq!(h.capacity_total_bytes, Some(270553174016));
    assert_eq!(h.capacity_used_bytes, Some(270553174016 - 244416843776));
    assert_eq!(h.fullest_brick_percent, Some(9));
    let d = degraded(&h, 90);
    assert_eq!((d.status, d.reason), (TRUE, HEAL_PENDING));
    assert!(matches!(
        holds_ready(&h),
        Some(Progress::Working { reason, .. }) if reason == HEAL_PENDING
    ));
    assert!(restartable(&s).is_empty());
    let healed = HealthStatus {
        heal_pending: Some(0),
        ..h
    };
    let d = degraded(&healed, 90);
    assert_eq!((d.status, d.reason), (FALSE, HEALTHY));
    assert_eq!(holds_ready(&healed), None);
}

#[test]
fn no_figures_before_the_health_read_or_when_not_started() {
    let mut s = seen("volume-status-replicate.xml", "pool-list.xml", None, None);
    let api = volume_status(&s.info, s.status.as_deref(), &nodes());
    s.info.state = VolumeState::Stopped;
    assert_eq!(figures(&s, &api, &nodes()), None);
    assert!(restartable(&s).is_empty());
    s.info.state = VolumeState::Started;
    // `volume status` did not answer (another transaction held the lock): no figures, no
    // brick called offline.
    let no_status = SeenVolume {
        status: None,
        ..s.clone()
    };
    assert_eq!(figures(&no_status, &api, &nodes()), None);
    assert!(restartable(&no_status).is_empty());
    s.health = None;
    assert_eq!(figures(&s, &api, &nodes()), None);
}

#[test]
fn the_degraded_condition_as_a_table() {
    let healthy = HealthStatus {
        peers_connected: 4,
        peers_total: 4,
        bricks_online: 4,
        bricks_total: 4,
        bricks: "4/4".into(),
        heal_pending: Some(0),
        split_brain: Some(0),
        fullest_brick_percent: Some(50),
        ..HealthStatus::default()
    };
    let offline = HealthStatus {
        bricks_online: 3,
        bricks: "3/4".into(),
        bricks_offline: vec!["c-b-1 (10.0.0.4:/export/v/brick)".into()],
        heal_pending: None,
        ..healthy.clone()
    };
    let lost = HealthStatus {
        peers_connected: 3,
        peers_lost: vec!["c-b-1".into()],
        ..offline.clone()
    };
    let pending = HealthStatus {
        heal_pending: Some(12),
        ..healthy.clone()
    };
    let split = HealthStatus {
        heal_pending: Some(2),
        split_brain: Some(2),
        heal_by_brick: vec![BrickHeal {
            brick: "10.0.0.4:/export/v/brick".into(),
            split_brain: Some(2),
            ..BrickHeal::default()
        }],
        ..healthy.clone()
    };
    let full = HealthStatus {
        fullest_brick_percent: Some(93),
        ..healthy.clone()
    };
    let at_threshold = HealthStatus {
        fullest_brick_percent: Some(90),
        ..healthy.clone()
    };
    let unknown_heal = HealthStatus {
        heal_pending: None,
        split_brain: None,
        ..healthy.clone()
    };
    // (case, figures, status, reason, message contains, holds Ready with)
    type Row<'a> = (
        &'a str,
        &'a HealthStatus,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
    );
    let table: [Row; 8] = [
        (
            "healthy",
            &healthy,
            FALSE,
            HEALTHY,
            "4/4 bricks online",
            None,
        ),
        (
            "brick offline",
            &offline,
            TRUE,
            BRICK_OFFLINE,
            "c-b-1 (10.0.0.4",
            Some(BRICK_OFFLINE),
        ),
        (
            "peer lost",
            &lost,
            TRUE,
            PEER_LOST,
            "node(s) c-b-1",
            Some(PEER_LOST),
        ),
        (
            "heal pending",
            &pending,
            TRUE,
            HEAL_PENDING,
            "12 entries pending heal",
            Some(HEAL_PENDING),
        ),
        (
            "split-brain",
            &split,
            TRUE,
            SPLIT_BRAIN,
            "2 entries in split-brain on 10.0.0.4",
            Some(SPLIT_BRAIN),
        ),
        (
            "capacity low",
            &full,
            TRUE,
            CAPACITY_LOW,
            "93% used (threshold 90%)",
            None,
        ),
        (
            "at the threshold",
            &at_threshold,
            TRUE,
            CAPACITY_LOW,
            "90% used",
            None,
        ),
        (
            "heal unknown, bricks online",
            &unknown_heal,
            FALSE,
            HEALTHY,
            "nothing to heal",
            None,
        ),
    ];
    for (case, h, status, reason, contains, holds) in table {
        let d = degraded(h, 90);
        assert_eq!((d.status, d.reason), (status, reason), "{case}");
        assert!(d.message.contains(contains), "{case}: {}", d.message);
        let held = holds_ready(h).map(|p| match p {
            Progress::Working { reason, .. } | Progress::Stalled { reason, .. } => reason,
            Progress::Ready { .. } => "Ready".into(),
        });
        assert_eq!(held.as_deref(), holds, "{case}");
    }
    // Split-brain needs a person: Stalled, not Reconciling.
    assert!(matches!(
        holds_ready(&split),
        Some(Progress::Stalled { .. })
    ));
    assert_eq!(unreachable("ssh: timed out").reason, PEER_LOST);
}

//! A killed brick through the whole pure pipeline (decide → act's report → conclude): Degraded
//! with the node, Ready held, the bricks restarted once per error delay, one Event per
//! transition (`docs/design.md`, "Health").

use super::*;

/// The started volume with the brick of `c-a-2` killed, its health read from `c-a-1` whose
/// pool shows `c-a-2`'s glusterd `connected`.
fn brick_killed(connected: bool) -> SeenVolume {
    let mut seen = started(true, Vec::new());
    if let Some(status) = seen.status.as_mut() {
        status.bricks[1].online = false;
        status.bricks[1].pid = None;
    }
    let peer = |host: &str, connected: bool| crate::gluster::xml::Peer {
        uuid: format!("u-{host}"),
        hostname: host.into(),
        hostnames: vec![host.into()],
        connected,
        state: (host != "localhost").then_some(3),
        state_str: None,
    };
    seen.health = Some(crate::controller::observe::SeenHealth {
        read_from: "c-a-1".into(),
        read_address: Some("10.0.0.1".into()),
        unanswered: Vec::new(),
        pool: Some(vec![peer("10.0.0.2", connected), peer("localhost", true)]),
        detail: None,
        heal: None,
    });
    seen
}

#[test]
fn a_killed_brick_is_degraded_restarted_once_per_error_delay_and_an_event() {
    use crate::api::conditions::{BRICK_OFFLINE, DEGRADED, PEER_LOST};
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(brick_killed(true)),
        },
    );
    let ran = |_: &Decision| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: None,
            after: None,
        }),
        repairs: vec![Done {
            reason: "BricksRestarted".into(),
            note: "restarted".into(),
        }],
        ..Outcome::default()
    };
    let r = run(&spec, None, &snap, &Memory::default(), ran);
    let d = r.decision.expect("decision");
    assert_eq!(
        kinds(&d.actions),
        ["EnsureSecurityGroup", "Gluster", "RestartBricks"]
    );
    match d.actions.last() {
        Some(Action::RestartBricks { volume, on, bricks }) => {
            assert_eq!((volume.as_str(), on.as_str()), ("v", "c-a-1"));
            assert_eq!(bricks, &["10.0.0.2:/export/v/brick"]);
        }
        other => panic!("{other:?}"),
    }
    let pass = r.pass.expect("pass");
    assert_eq!(
        condition_reason(&pass.status, DEGRADED),
        (TRUE.into(), BRICK_OFFLINE.into())
    );
    assert_eq!(
        condition_reason(&pass.status, READY),
        ("False".into(), BRICK_OFFLINE.into())
    );
    let health = pass.status.health.clone().expect("health");
    assert_eq!(health.bricks, "1/2");
    assert_eq!(health.bricks_offline, ["c-a-2 (10.0.0.2:/export/v/brick)"]);
    // The transition is a Warning Event, the restart a Normal one.
    assert!(
        pass.notes
            .iter()
            .any(|n| n.warning && n.reason == BRICK_OFFLINE && n.note.contains("c-a-2"))
    );
    assert!(
        pass.notes
            .iter()
            .any(|n| !n.warning && n.reason == "BricksRestarted")
    );
    // Newly wrong: the next pass looks at the cloud; the restart is remembered.
    assert!(pass.memory.cloud_check && pass.memory.restarted_at.is_some());
    assert!(pass.requeue <= tuning().health_interval);
    // The next pass, within the error delay, restarts nothing; the same Degraded is no
    // second Event.
    let again = run(&spec, Some(&pass.status), &snap, &pass.memory, |_| {
        Outcome {
            gluster: Some(GlusterOutcome::Ran {
                done: Vec::new(),
                waiting: None,
                after: None,
            }),
            ..Outcome::default()
        }
    });
    let d = again.decision.expect("decision");
    assert!(!kinds(&d.actions).contains(&"RestartBricks"));
    let next = again.pass.expect("pass");
    assert!(!next.notes.iter().any(|n| n.reason == BRICK_OFFLINE));
    assert!(!next.memory.cloud_check);
    // The brick back: Degraded clears with a `Recovered` Event, Ready again.
    let mut back = brick_killed(true);
    if let Some(status) = back.status.as_mut() {
        status.bricks[1].online = true;
    }
    let healthy = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(back),
        },
    );
    let recovered = run(&spec, Some(&next.status), &healthy, &next.memory, |_| {
        Outcome {
            gluster: Some(GlusterOutcome::Ran {
                done: Vec::new(),
                waiting: None,
                after: None,
            }),
            ..Outcome::default()
        }
    })
    .pass
    .expect("pass");
    assert_eq!(
        condition_reason(&recovered.status, DEGRADED),
        ("False".into(), "Healthy".into())
    );
    assert_eq!(condition_reason(&recovered.status, READY).0, TRUE);
    assert!(
        recovered
            .notes
            .iter()
            .any(|n| !n.warning && n.reason == "Recovered")
    );
    assert_eq!(
        recovered.status.health.as_ref().map(|h| h.bricks.as_str()),
        Some("2/2")
    );
    // Its glusterd gone too: a lost peer, its brick not restarted.
    let lost = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(brick_killed(false)),
        },
    );
    let r = run(&spec, None, &lost, &Memory::default(), |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: None,
            after: None,
        }),
        ..Outcome::default()
    });
    assert!(!kinds(&r.decision.expect("decision").actions).contains(&"RestartBricks"));
    assert_eq!(
        condition_reason(&r.pass.expect("pass").status, DEGRADED),
        (TRUE.into(), PEER_LOST.into())
    );
}

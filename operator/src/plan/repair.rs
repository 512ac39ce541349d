//! Steps derived from what gluster shows, not from what an earlier pass did (`docs/design.md`,
//! "Crash-safe gluster steps"): a pass that ended anywhere — the operator killed, a command
//! that failed — is finished by the next one, and no step runs twice where gluster refuses it.
//!
//! - a volume in `Created` (the pass ended between `volume create` and `volume start`) gets its
//!   options, then `volume start`;
//! - an option whose value differs from the spec (`features.shard`, `auth.allow` from
//!   `allowedClients` and the node addresses, `spec.volume.options`) is set again, so changing
//!   `allowedClients` later re-applies it; an `auth.allow` left when `allowedClients` became
//!   empty is set to `*` (gluster's default). Options removed from the spec are left as set;
//! - a volume that someone stopped is not started behind their back: the planner refuses
//!   ([`PlanError::VolumeStopped`](super::PlanError::VolumeStopped)) and status says so;
//! - a data movement owed to the volume — the rebalance after new sets, the full heal after a
//!   raised replica count — is recorded in gluster itself, in the option [`PENDING_KEY`], set
//!   before the `add-brick` and set back to `none` only after the movement completed: gluster
//!   alone cannot tell bricks that were rebalanced from bricks that were not.
//!
//! A rebalance start on a running rebalance is refused by gluster, so the marker records the
//! rebalance task `volume status` showed before the `add-brick`: a task with another ID is the
//! owed rebalance, already started, and is only waited for.

use std::collections::HashSet;

use super::change::runner_from;
use super::command::Arg;
use super::model::{ObservedVolume, VolumeState};
use super::planner::Planner;
use super::steps::Step;

/// The volume option holding the data movement the operator owes the volume (a `user.*`
/// option: gluster stores it without validation and shows it in `volume info`; `volume reset`
/// of one `user.*` key is refused, so it is set to `none` rather than removed).
pub const PENDING_KEY: &str = "user.gluster-operator.pending";

const REBALANCE_AFTER: &str = "rebalance-after-";

/// A data movement the operator owes the volume, as [`PENDING_KEY`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Nothing owed (`none`, or the option not set).
    Nothing,
    /// New sets were added (or are being added): a rebalance is owed. `after` is the rebalance
    /// task `volume status` showed before the `add-brick`; a task with another ID is the owed
    /// one, already started.
    Rebalance {
        /// The earlier rebalance task, if there was one.
        after: Option<String>,
    },
    /// A brick was added (or is being added) raising the replica count: a full heal is owed.
    Heal,
}

impl Pending {
    /// What the option's value says. A value the operator never writes counts as nothing owed.
    pub fn parse(value: Option<&str>) -> Pending {
        match value {
            Some("rebalance") => Pending::Rebalance { after: None },
            Some("heal") => Pending::Heal,
            Some(v) => match v.strip_prefix(REBALANCE_AFTER) {
                Some(id) if !id.is_empty() => Pending::Rebalance {
                    after: Some(id.to_string()),
                },
                _ => Pending::Nothing,
            },
            None => Pending::Nothing,
        }
    }

    /// The option's value.
    pub fn value(&self) -> String {
        match self {
            Pending::Nothing => "none".to_string(),
            Pending::Heal => "heal".to_string(),
            Pending::Rebalance { after: None } => "rebalance".to_string(),
            Pending::Rebalance { after: Some(id) } => format!("{REBALANCE_AFTER}{id}"),
        }
    }
}

impl Planner<'_> {
    /// Records `pending` in the volume ([`PENDING_KEY`]).
    pub(super) fn mark(&self, steps: &mut Vec<Step>, runner: &str, pending: &Pending) {
        steps.push(Step::SetOption {
            on: runner.to_string(),
            key: PENDING_KEY.to_string(),
            command: self
                .gluster
                .volume_set(PENDING_KEY, Arg::text(pending.value())),
        });
    }

    /// The options the spec asks for, in the order a new volume gets them, with their values
    /// (hosts as node names): `auth.ssl-allow` of a volume with TLS, `features.shard`,
    /// `auth.allow` (with `nodes`), the spec's own.
    fn desired_options<'n>(
        &self,
        volume: &ObservedVolume,
        nodes: impl IntoIterator<Item = &'n str> + Clone,
    ) -> Vec<(String, Arg)> {
        let mut out = Vec::new();
        out.extend(self.tls_options(volume, nodes.clone()));
        if self.shape.sharding() {
            out.push(("features.shard".to_string(), Arg::text("on")));
        }
        out.push(("auth.allow".to_string(), self.auth_value(nodes)));
        for (key, value) in &self.spec.volume.options {
            out.push((key.clone(), Arg::text(value.clone())));
        }
        out
    }

    /// The steps that bring an existing volume to what the spec asks, apart from its layout
    /// (which `change` plans): options that differ, the start of a `Created` volume, and the
    /// data movement [`PENDING_KEY`] says is owed. `change` is the layout change's steps (an
    /// option it sets, or a movement it does itself, is left to it); `nodes` the target nodes.
    pub(super) fn repairs<'n>(
        &self,
        volume: &ObservedVolume,
        change: &[Step],
        nodes: impl IntoIterator<Item = &'n str> + Clone,
    ) -> Vec<Step> {
        let runner = runner_from(&volume.bricks, &HashSet::new(), &self.current.nodes);
        let set_by_change: HashSet<&str> = change
            .iter()
            .filter_map(|s| match s {
                Step::SetOption { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let mut steps = Vec::new();
        for (key, value) in self.desired_options(volume, nodes) {
            if set_by_change.contains(key.as_str()) {
                continue;
            }
            let command = self.gluster.volume_set(&key, value);
            let wanted = command.argv().last().cloned().unwrap_or_default();
            let have = volume.options.get(&key);
            // `auth.allow` unset is gluster's default, `*`.
            let same = match have {
                Some(v) => *v == wanted,
                None => key == "auth.allow" && wanted == "*",
            };
            if !same {
                steps.push(Step::SetOption {
                    on: runner.clone(),
                    key,
                    command,
                });
            }
        }
        if volume.state == VolumeState::Created {
            steps.push(Step::StartVolume {
                on: runner.clone(),
                command: self.gluster.volume_start(),
            });
        }
        let moves_itself = change.iter().any(|s| matches!(s, Step::AddBricks { .. }));
        if !moves_itself {
            self.owed(&mut steps, &runner, volume);
        }
        steps
    }

    /// The data movement [`PENDING_KEY`] says is owed, then the marker set back to `none`.
    fn owed(&self, steps: &mut Vec<Step>, runner: &str, volume: &ObservedVolume) {
        let pending = Pending::parse(volume.options.get(PENDING_KEY).map(String::as_str));
        match pending {
            Pending::Nothing => return,
            Pending::Heal => {
                steps.push(Step::HealFull {
                    on: runner.to_string(),
                    command: self.gluster.heal_full(),
                });
                steps.push(Step::WaitHealed {
                    on: runner.to_string(),
                    command: self.gluster.heal_info(),
                });
            }
            // Which rebalance ran is known only from `volume status`: without it, wait.
            Pending::Rebalance { .. } if !volume.tasks_known => return,
            Pending::Rebalance { after } => {
                let started = volume.rebalance_task.is_some() && volume.rebalance_task != after;
                if !started {
                    steps.push(Step::RebalanceStart {
                        on: runner.to_string(),
                        command: self.gluster.rebalance_start(),
                    });
                }
                steps.push(Step::WaitRebalance {
                    on: runner.to_string(),
                    command: self.gluster.rebalance_status(),
                });
            }
        }
        self.mark(steps, runner, &Pending::Nothing);
    }
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;

//! Gluster TLS in the plan (`docs/design.md`, "Gluster TLS"): a new volume of a cluster with
//! `spec.volume.tls` gets `client.ssl on`, `server.ssl on` and `auth.ssl-allow` before it
//! starts; a volume that has TLS keeps its `auth.ssl-allow` in step with the nodes. A volume
//! without TLS is never switched over (that restarts every brick and cuts off every client that
//! has no certificate).
//!
//! `auth.ssl-allow` names every node's certificate (gluster judges its own servers' self-heal,
//! rebalance and heal-info connections by CN too) and the client certificate.

use super::command::Arg;
use super::model::ObservedVolume;
use super::planner::Planner;
use super::steps::Step;

/// The option that lists the certificate names a brick accepts.
pub const SSL_ALLOW: &str = "auth.ssl-allow";

/// The CN of the client certificate of cluster `cluster` (as [`crate::tls::Subject::Client`]
/// issues it).
pub fn client_common_name(cluster: &str) -> String {
    crate::tls::Subject::Client(cluster.to_string()).common_name()
}

/// The value of `auth.ssl-allow`: the nodes' names (their certificates' CNs) sorted, without
/// repeats (the same set of nodes always gives the same value), then the client's CN.
pub fn ssl_allow<'n>(cluster: &str, nodes: impl IntoIterator<Item = &'n str>) -> String {
    let mut names: Vec<String> = nodes.into_iter().map(str::to_string).collect();
    names.sort();
    names.dedup();
    names.push(client_common_name(cluster));
    names.join(",")
}

/// Whether an observed volume has TLS on its I/O path (`client.ssl` or `server.ssl` on).
pub fn volume_has_tls(volume: &ObservedVolume) -> bool {
    ["client.ssl", "server.ssl"].iter().any(|k| {
        volume
            .options
            .get(*k)
            .is_some_and(|v| matches!(v.as_str(), "on" | "yes" | "true" | "enable" | "1"))
    })
}

impl Planner<'_> {
    /// The TLS options of a new volume (nothing when the spec turns TLS off).
    pub(super) fn set_tls<'n>(
        &self,
        steps: &mut Vec<Step>,
        runner: &str,
        nodes: impl IntoIterator<Item = &'n str>,
    ) {
        if !self.spec.volume.tls_wanted() {
            return;
        }
        let options = [
            (SSL_ALLOW, ssl_allow(self.name, nodes)),
            ("client.ssl", "on".to_string()),
            ("server.ssl", "on".to_string()),
        ];
        for (key, value) in options {
            steps.push(Step::SetOption {
                on: runner.to_string(),
                key: key.to_string(),
                command: self.gluster.volume_set(key, Arg::text(value)),
            });
        }
    }

    /// `auth.ssl-allow` as the TLS options of an existing volume want it: `None` for a volume
    /// without TLS (left as it is). It names the target `nodes` and every node that still
    /// exists: a node on its way out keeps its name until it is gone, so its bricks and
    /// self-heal still reach the others while its data moves off.
    pub(super) fn tls_options<'n>(
        &self,
        volume: &ObservedVolume,
        nodes: impl IntoIterator<Item = &'n str>,
    ) -> Option<(String, Arg)> {
        if !volume_has_tls(volume) {
            return None;
        }
        let mut names: Vec<&str> = nodes.into_iter().collect();
        names.extend(self.current.nodes.iter().map(|n| n.name.as_str()));
        Some((
            SSL_ALLOW.to_string(),
            Arg::text(ssl_allow(self.name, names)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_allow_lists_the_nodes_sorted_then_the_client() {
        assert_eq!(
            ssl_allow("demo", ["demo-b-0", "demo-a-0", "demo-b-0"]),
            "demo-a-0,demo-b-0,demo-client"
        );
    }

    #[test]
    fn tls_is_seen_from_either_ssl_option() {
        let mut volume = ObservedVolume::default();
        assert!(!volume_has_tls(&volume));
        volume.options.insert("client.ssl".into(), "off".into());
        assert!(!volume_has_tls(&volume));
        volume.options.insert("server.ssl".into(), "on".into());
        assert!(volume_has_tls(&volume));
    }
}

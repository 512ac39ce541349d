//! Gluster commands as argument vectors. Hosts stay symbolic (node names) in the plan; the
//! reconciler renders them with the node addresses it observed ([`Command::argv_with`]).
//!
//! Every command starts `gluster --mode=script` (no interactive questions). The executor may add
//! `--xml` after `--mode=script` where it parses the output.

use std::collections::BTreeMap;
use std::fmt;

use super::error::PlanError;
use super::shape::{SetKind, VolumeShape};

/// One piece of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// The host of a node: its name in the plan, its address when rendered.
    Host(String),
}

/// One argument, made of parts (a brick is `Host(node)` + `Text(":/export/data/brick")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg(pub Vec<Part>);

impl Arg {
    /// A literal argument.
    pub fn text(s: impl Into<String>) -> Arg {
        Arg(vec![Part::Text(s.into())])
    }

    /// A node's host.
    pub fn host(node: &str) -> Arg {
        Arg(vec![Part::Host(node.to_string())])
    }

    /// A brick: `host:path`.
    pub fn brick(node: &str, path: &str) -> Arg {
        Arg(vec![
            Part::Host(node.to_string()),
            Part::Text(format!(":{path}")),
        ])
    }

    /// The argument with hosts rendered by `address`.
    fn render(
        &self,
        address: &dyn Fn(&str) -> Result<String, PlanError>,
    ) -> Result<String, PlanError> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Host(node) => out.push_str(&address(node)?),
            }
        }
        Ok(out)
    }
}

/// A command: the program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `gluster`, `--mode=script`, then the subcommand's words.
    pub args: Vec<Arg>,
}

impl Command {
    fn gluster(words: &[&str]) -> Command {
        let mut args = vec![Arg::text("gluster"), Arg::text("--mode=script")];
        args.extend(words.iter().map(|w| Arg::text(*w)));
        Command { args }
    }

    fn push(mut self, arg: Arg) -> Command {
        self.args.push(arg);
        self
    }

    fn extend(mut self, args: impl IntoIterator<Item = Arg>) -> Command {
        self.args.extend(args);
        self
    }

    /// The same command with its last word replaced (`remove-brick … start` → `… status`).
    pub fn with_last(&self, word: &str) -> Command {
        let mut c = self.clone();
        c.args.pop();
        c.push(Arg::text(word))
    }

    /// The argument vector with node names as hosts.
    pub fn argv(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.render(&|node| Ok(node.to_string())).unwrap_or_default())
            .collect()
    }

    /// The argument vector with each node's host replaced by its address from `addresses`
    /// (node name → address); fails naming the first node without one.
    pub fn argv_with(
        &self,
        addresses: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, PlanError> {
        let lookup = |node: &str| {
            addresses
                .get(node)
                .cloned()
                .ok_or_else(|| PlanError::MissingAddress {
                    node: node.to_string(),
                })
        };
        self.args.iter().map(|a| a.render(&lookup)).collect()
    }

    /// The nodes this command names as hosts (each once, in order).
    pub fn hosts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for part in self.args.iter().flat_map(|a| a.0.iter()) {
            if let Part::Host(node) = part
                && !out.contains(&node.as_str())
            {
                out.push(node);
            }
        }
        out
    }
}

impl Command {
    /// The arguments (hosts as node names) quoted where a shell would need it.
    pub fn shell_words(&self) -> Vec<String> {
        self.argv().iter().map(|a| shell_quote(a)).collect()
    }
}

impl fmt::Display for Command {
    /// The command as a shell line (arguments quoted where the shell would need it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shell_words().join(" "))
    }
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | ',' | '=' | '+' | '@' | '%')
        });
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Builders of the gluster commands the planner uses. `volume` is the gluster volume name and
/// `brick_path` the brick directory on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gluster {
    /// The gluster volume name.
    pub volume: String,
    /// The brick directory on every node (`<mountPath>/brick`).
    pub brick_path: String,
}

impl Gluster {
    fn bricks<'a>(&self, nodes: impl IntoIterator<Item = &'a str>) -> Vec<Arg> {
        nodes
            .into_iter()
            .map(|n| Arg::brick(n, &self.brick_path))
            .collect()
    }

    /// `peer probe HOST`.
    pub fn peer_probe(&self, node: &str) -> Command {
        Command::gluster(&["peer", "probe"]).push(Arg::host(node))
    }

    /// `peer detach HOST`.
    pub fn peer_detach(&self, node: &str) -> Command {
        Command::gluster(&["peer", "detach"]).push(Arg::host(node))
    }

    /// `pool list`: the pool members and whether they are connected.
    pub fn pool_list(&self) -> Command {
        Command::gluster(&["pool", "list"])
    }

    /// `volume create VOL [replica R [arbiter 1] | disperse D redundancy K] transport tcp BRICKS…`.
    pub fn volume_create<'a>(
        &self,
        shape: &VolumeShape,
        bricks: impl IntoIterator<Item = &'a str>,
    ) -> Command {
        let mut cmd = Command::gluster(&["volume", "create", &self.volume]);
        cmd = cmd.extend(self.counts(shape));
        cmd.extend([Arg::text("transport"), Arg::text("tcp")])
            .extend(self.bricks(bricks))
    }

    /// The count words of `volume create` / `add-brick`: `replica R [arbiter 1]` or
    /// `disperse D redundancy K`, nothing for plain distribute.
    fn counts(&self, shape: &VolumeShape) -> Vec<Arg> {
        let mut out = Vec::new();
        match shape.kind {
            SetKind::Replica if shape.replica > 1 => {
                out.push(Arg::text("replica"));
                out.push(Arg::text(shape.replica.to_string()));
                if shape.arbiter > 0 {
                    out.push(Arg::text("arbiter"));
                    out.push(Arg::text(shape.arbiter.to_string()));
                }
            }
            SetKind::Replica => {}
            SetKind::Disperse => {
                out.push(Arg::text("disperse"));
                out.push(Arg::text(shape.disperse.to_string()));
                out.push(Arg::text("redundancy"));
                out.push(Arg::text(shape.redundancy.to_string()));
            }
        }
        out
    }

    /// `volume set VOL KEY VALUE`.
    pub fn volume_set(&self, key: &str, value: Arg) -> Command {
        Command::gluster(&["volume", "set", &self.volume, key]).push(value)
    }

    /// `volume start VOL`.
    pub fn volume_start(&self) -> Command {
        Command::gluster(&["volume", "start", &self.volume])
    }

    /// `volume add-brick VOL replica R BRICK`: one more brick in a pure replicate volume.
    pub fn add_replica_brick(&self, replica: u32, node: &str) -> Command {
        Command::gluster(&[
            "volume",
            "add-brick",
            &self.volume,
            "replica",
            &replica.to_string(),
        ])
        .extend(self.bricks([node]))
    }

    /// `volume add-brick VOL [replica R [arbiter 1]] BRICKS…`: whole new sets of the same shape.
    pub fn add_sets<'a>(
        &self,
        shape: &VolumeShape,
        bricks: impl IntoIterator<Item = &'a str>,
    ) -> Command {
        let cmd = Command::gluster(&["volume", "add-brick", &self.volume]);
        let counts = match shape.kind {
            SetKind::Replica => self.counts(shape),
            // add-brick takes no disperse words: bricks come in multiples of the disperse count.
            SetKind::Disperse => Vec::new(),
        };
        cmd.extend(counts).extend(self.bricks(bricks))
    }

    /// `volume remove-brick VOL replica R BRICK force`: one brick less in a pure replicate volume
    /// (gluster requires `force` to lower the replica count; no data moves, the others hold it).
    pub fn remove_replica_brick(&self, replica: u32, node: &str) -> Command {
        Command::gluster(&[
            "volume",
            "remove-brick",
            &self.volume,
            "replica",
            &replica.to_string(),
        ])
        .extend(self.bricks([node]))
        .push(Arg::text("force"))
    }

    /// `volume remove-brick VOL BRICKS… ACTION` with ACTION `start`, `status` or `commit`.
    pub fn remove_bricks<'a>(
        &self,
        bricks: impl IntoIterator<Item = &'a str>,
        action: &str,
    ) -> Command {
        Command::gluster(&["volume", "remove-brick", &self.volume])
            .extend(self.bricks(bricks))
            .push(Arg::text(action))
    }

    /// `volume heal VOL full`: crawl everything (needed after raising the replica count).
    pub fn heal_full(&self) -> Command {
        Command::gluster(&["volume", "heal", &self.volume, "full"])
    }

    /// `volume heal VOL info summary`: entries still to heal, per brick.
    pub fn heal_info(&self) -> Command {
        Command::gluster(&["volume", "heal", &self.volume, "info", "summary"])
    }

    /// `volume rebalance VOL start`.
    pub fn rebalance_start(&self) -> Command {
        Command::gluster(&["volume", "rebalance", &self.volume, "start"])
    }

    /// `volume rebalance VOL status`.
    pub fn rebalance_status(&self) -> Command {
        Command::gluster(&["volume", "rebalance", &self.volume, "status"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Gluster {
        Gluster {
            volume: "data".into(),
            brick_path: "/export/data/brick".into(),
        }
    }

    #[test]
    fn bricks_render_with_addresses() {
        let cmd = g().remove_bricks(["n1", "n2"], "start");
        assert_eq!(
            cmd.argv(),
            [
                "gluster",
                "--mode=script",
                "volume",
                "remove-brick",
                "data",
                "n1:/export/data/brick",
                "n2:/export/data/brick",
                "start"
            ]
        );
        let mut addrs = BTreeMap::new();
        addrs.insert("n1".to_string(), "10.0.0.1".to_string());
        assert_eq!(
            cmd.argv_with(&addrs).expect_err("n2 has no address"),
            PlanError::MissingAddress { node: "n2".into() }
        );
        addrs.insert("n2".to_string(), "10.0.0.2".to_string());
        let argv = cmd.argv_with(&addrs).expect("all known");
        assert_eq!(argv[5], "10.0.0.1:/export/data/brick");
        assert_eq!(argv[6], "10.0.0.2:/export/data/brick");
        assert_eq!(cmd.hosts(), ["n1", "n2"]);
    }

    #[test]
    fn display_quotes_for_the_shell() {
        let cmd = g().volume_set("performance.cache-size", Arg::text("256 MB"));
        assert_eq!(
            cmd.to_string(),
            "gluster --mode=script volume set data performance.cache-size '256 MB'"
        );
        let cmd = g().volume_set("x", Arg::text("it's"));
        assert!(cmd.to_string().ends_with(r"'it'\''s'"), "{cmd}");
    }
}

//! Gluster CLI command lines as argument vectors: the read-only queries the operator observes
//! with, and the adaptation of the planner's commands (volume create, peer probe…) to a node.
//!
//! Every command runs with `--mode=script` (no prompts) and `--xml` (parsed, not scraped). A
//! node whose glusterd listens on a non-default socket (the loopback test nodes) is reached with
//! `--glusterd-sock=PATH`.

use std::fmt;

/// A command that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// The volume name breaks gluster's rules.
    #[error("invalid gluster volume name {name:?}: {reason}")]
    InvalidVolumeName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A brick is not `host:/absolute/path`.
    #[error("invalid brick {brick:?}: {reason}")]
    InvalidBrick {
        /// The brick given.
        brick: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A planned command is not a gluster CLI command.
    #[error("not a gluster command: {0}")]
    NotGluster(String),
    /// A command that needs bricks got none.
    #[error("{0} needs at least one brick")]
    NoBricks(&'static str),
}

/// A gluster volume name, checked against the CLI's own rules (`cli_validate_volname`):
/// letters, digits, `_` and `-`, not starting with `-`, at most 255 characters, not a reserved
/// word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VolumeName(String);

impl VolumeName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, CliError> {
        let name = name.into();
        let bad = |reason| CliError::InvalidVolumeName {
            name: name.clone(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.len() > 255 {
            return Err(bad("longer than 255 characters"));
        }
        if name.starts_with('-') {
            return Err(bad("starts with '-'"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad("only letters, digits, '_' and '-' are allowed"));
        }
        if crate::api::RESERVED_VOLUME_NAMES.contains(&name.as_str()) {
            return Err(bad("a reserved word"));
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolumeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A brick as gluster names it: `host:/absolute/path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrickRef {
    /// The peer's host name or address, as probed.
    pub host: String,
    /// The brick directory on that host.
    pub path: String,
}

impl BrickRef {
    /// A brick on `host` at `path`, checked.
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Result<Self, CliError> {
        let (host, path) = (host.into(), path.into());
        let brick = format!("{host}:{path}");
        let bad = |reason| CliError::InvalidBrick {
            brick: brick.clone(),
            reason,
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if host.starts_with('-') || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(bad("the host has a leading '-', whitespace or '/'"));
        }
        if !path.starts_with('/') {
            return Err(bad("the path is not absolute"));
        }
        if path.contains(|c: char| c.is_control()) {
            return Err(bad("the path contains control characters"));
        }
        Ok(Self { host, path })
    }

    /// Parses `host:/path` (the host ends at the first `:/`).
    pub fn parse(brick: &str) -> Result<Self, CliError> {
        match brick.find(":/") {
            Some(i) => Self::new(&brick[..i], &brick[i + 1..]),
            None => Err(CliError::InvalidBrick {
                brick: brick.to_string(),
                reason: "not host:/path",
            }),
        }
    }
}

impl fmt::Display for BrickRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.path)
    }
}

/// Where and how the gluster CLI runs on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlusterCli {
    /// The CLI program (`gluster`; `/usr/sbin/gluster` where PATH lacks sbin).
    pub program: String,
    /// A non-default glusterd socket (`--glusterd-sock=PATH`); `None` on real nodes.
    pub glusterd_socket: Option<String>,
    /// A CLI log file (`--log-file=PATH`); `None` keeps gluster's default.
    pub log_file: Option<String>,
    /// The `glfsheal` helper. The CLI's `volume heal VOL info` starts it without passing the
    /// glusterd socket on, so with a custom socket the operator runs it directly.
    pub glfsheal: String,
}

impl Default for GlusterCli {
    fn default() -> Self {
        Self {
            program: "gluster".into(),
            glusterd_socket: None,
            log_file: None,
            glfsheal: DEBIAN_GLFSHEAL.into(),
        }
    }
}

/// Where Debian and Ubuntu install `glfsheal`.
pub const DEBIAN_GLFSHEAL: &str = "/usr/lib/x86_64-linux-gnu/glusterfs/glfsheal";

impl GlusterCli {
    /// The CLI against the default glusterd socket.
    pub fn new() -> Self {
        Self::default()
    }

    /// The CLI against glusterd listening on `socket`.
    pub fn with_glusterd_socket(mut self, socket: impl Into<String>) -> Self {
        self.glusterd_socket = Some(socket.into());
        self
    }

    /// The CLI logging to `path` instead of gluster's default log.
    pub fn with_log_file(mut self, path: impl Into<String>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// `gluster [--glusterd-sock=…] [--log-file=…] --mode=script --xml`
    fn base(&self) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.global_options());
        argv.push("--mode=script".into());
        argv.push("--xml".into());
        argv
    }

    fn global_options(&self) -> Vec<String> {
        let mut opts = Vec::new();
        if let Some(sock) = &self.glusterd_socket {
            opts.push(format!("--glusterd-sock={sock}"));
        }
        if let Some(log) = &self.log_file {
            opts.push(format!("--log-file={log}"));
        }
        opts
    }

    fn with(&self, words: &[&str]) -> Vec<String> {
        let mut argv = self.base();
        argv.extend(words.iter().map(|w| w.to_string()));
        argv
    }

    /// `volume info [VOL]` (all volumes when `None`).
    pub fn volume_info(&self, volume: Option<&VolumeName>) -> Vec<String> {
        match volume {
            Some(v) => self.with(&["volume", "info", v.as_str()]),
            None => self.with(&["volume", "info"]),
        }
    }

    /// `volume status VOL|all`: bricks with host, path, port, online state and pid.
    pub fn volume_status(&self, volume: Option<&VolumeName>) -> Vec<String> {
        let v = volume.map_or("all", VolumeName::as_str);
        self.with(&["volume", "status", v])
    }

    /// `volume status VOL detail`: bricks with online state and their filesystem's size and
    /// free bytes (no daemons, no tasks).
    pub fn volume_status_detail(&self, volume: &VolumeName) -> Vec<String> {
        self.with(&["volume", "status", volume.as_str(), "detail"])
    }

    /// `peer status`: the other peers as this node sees them.
    pub fn peer_status(&self) -> Vec<String> {
        self.with(&["peer", "status"])
    }

    /// `pool list`: every peer of the trusted pool, this node (`localhost`) included.
    pub fn pool_list(&self) -> Vec<String> {
        self.with(&["pool", "list"])
    }

    /// `volume heal VOL info`: entries waiting for heal on each brick.
    pub fn heal_info(&self, volume: &VolumeName) -> Vec<String> {
        self.heal(volume, None)
    }

    /// `volume heal VOL info summary`: per brick totals, split-brain counts included.
    pub fn heal_info_summary(&self, volume: &VolumeName) -> Vec<String> {
        self.heal(volume, Some("summary"))
    }

    fn heal(&self, volume: &VolumeName, variant: Option<&str>) -> Vec<String> {
        match &self.glusterd_socket {
            None => {
                let mut argv = self.with(&["volume", "heal", volume.as_str(), "info"]);
                argv.extend(variant.map(String::from));
                argv
            }
            Some(sock) => {
                // glfsheal VOL [info-summary] --xml glusterd-sock SOCK (its own syntax; the
                // socket pair must come last).
                let mut argv = vec![self.glfsheal.clone(), volume.to_string()];
                if variant.is_some() {
                    argv.push("info-summary".into());
                }
                argv.push("--xml".into());
                argv.push("glusterd-sock".into());
                argv.push(sock.clone());
                argv
            }
        }
    }

    /// `volume rebalance VOL status`.
    pub fn rebalance_status(&self, volume: &VolumeName) -> Vec<String> {
        self.with(&["volume", "rebalance", volume.as_str(), "status"])
    }

    /// `volume remove-brick VOL BRICK… status`: the data migration of a scale-in.
    pub fn remove_brick_status(
        &self,
        volume: &VolumeName,
        bricks: &[BrickRef],
    ) -> Result<Vec<String>, CliError> {
        if bricks.is_empty() {
            return Err(CliError::NoBricks("remove-brick status"));
        }
        let mut argv = self.with(&["volume", "remove-brick", volume.as_str()]);
        argv.extend(bricks.iter().map(BrickRef::to_string));
        argv.push("status".into());
        Ok(argv)
    }

    /// Adapts a planned command (`["gluster", "--mode=script", "volume", "create", …]`) to this
    /// node: the program and global options of this CLI, `--mode=script` and `--xml` added when
    /// missing, the planner's own words kept in order.
    pub fn prepare(&self, planned: &[String]) -> Result<Vec<String>, CliError> {
        let Some((program, rest)) = planned.split_first() else {
            return Err(CliError::NotGluster("empty command".into()));
        };
        let base = program.rsplit('/').next().unwrap_or(program);
        if base != "gluster" {
            return Err(CliError::NotGluster(program.clone()));
        }
        let mut argv = vec![self.program.clone()];
        argv.extend(self.global_options());
        let mut words = Vec::with_capacity(rest.len());
        let (mut script, mut xml) = (false, false);
        for word in rest {
            if word.starts_with("--glusterd-sock=") || word.starts_with("--log-file=") {
                // This node's own settings win.
                continue;
            }
            if word.starts_with("--mode=") {
                script = true;
                if word != "--mode=script" {
                    return Err(CliError::NotGluster(format!(
                        "{word}: the operator only runs gluster in script mode"
                    )));
                }
            }
            xml |= word == "--xml";
            words.push(word.clone());
        }
        if !script {
            argv.push("--mode=script".into());
        }
        if !xml {
            argv.push("--xml".into());
        }
        argv.extend(words);
        Ok(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str) -> VolumeName {
        VolumeName::new(name).unwrap()
    }

    #[test]
    fn volume_names_follow_gluster_rules() {
        assert!(VolumeName::new("gv0").is_ok());
        assert!(VolumeName::new("data_set-1").is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("-x", "starts with '-'"),
            ("a/b", "only letters"),
            ("a b", "only letters"),
            ("all", "reserved"),
            ("$(id)", "only letters"),
        ] {
            let e = VolumeName::new(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(VolumeName::new("x".repeat(256)).is_err());
    }

    #[test]
    fn bricks_parse_and_print() {
        let b = BrickRef::parse("10.0.0.5:/export/gv0/brick").unwrap();
        assert_eq!(b.host, "10.0.0.5");
        assert_eq!(b.path, "/export/gv0/brick");
        assert_eq!(b.to_string(), "10.0.0.5:/export/gv0/brick");
        assert!(BrickRef::parse("nohost").is_err());
        assert!(BrickRef::parse(":/p").is_err());
        assert!(BrickRef::new("h", "relative").is_err());
        assert!(BrickRef::new("-h", "/p").is_err());
    }

    #[test]
    fn queries_use_script_and_xml_mode() {
        let cli = GlusterCli::new();
        assert_eq!(
            cli.volume_info(Some(&vol("gv0"))),
            ["gluster", "--mode=script", "--xml", "volume", "info", "gv0"]
        );
        assert_eq!(
            cli.volume_status(None),
            [
                "gluster",
                "--mode=script",
                "--xml",
                "volume",
                "status",
                "all"
            ]
        );
        assert_eq!(
            cli.pool_list(),
            ["gluster", "--mode=script", "--xml", "pool", "list"]
        );
        assert_eq!(
            cli.heal_info(&vol("gv0")),
            [
                "gluster",
                "--mode=script",
                "--xml",
                "volume",
                "heal",
                "gv0",
                "info"
            ]
        );
        assert_eq!(
            cli.heal_info_summary(&vol("gv0")),
            [
                "gluster",
                "--mode=script",
                "--xml",
                "volume",
                "heal",
                "gv0",
                "info",
                "summary"
            ]
        );
        let bricks = [
            BrickRef::parse("h1:/b").unwrap(),
            BrickRef::parse("h2:/b").unwrap(),
        ];
        assert_eq!(
            cli.remove_brick_status(&vol("gv0"), &bricks).unwrap(),
            [
                "gluster",
                "--mode=script",
                "--xml",
                "volume",
                "remove-brick",
                "gv0",
                "h1:/b",
                "h2:/b",
                "status"
            ]
        );
        assert_eq!(
            cli.remove_brick_status(&vol("gv0"), &[]),
            Err(CliError::NoBricks("remove-brick status"))
        );
    }

    #[test]
    fn a_custom_socket_reaches_the_cli_and_glfsheal() {
        let cli = GlusterCli::new()
            .with_glusterd_socket("/run/n1/glusterd.sock")
            .with_log_file("/tmp/cli.log");
        assert_eq!(
            cli.peer_status(),
            [
                "gluster",
                "--glusterd-sock=/run/n1/glusterd.sock",
                "--log-file=/tmp/cli.log",
                "--mode=script",
                "--xml",
                "peer",
                "status"
            ]
        );
        assert_eq!(
            cli.heal_info(&vol("gv0")),
            [
                DEBIAN_GLFSHEAL,
                "gv0",
                "--xml",
                "glusterd-sock",
                "/run/n1/glusterd.sock"
            ]
        );
        assert_eq!(
            cli.heal_info_summary(&vol("gv0")),
            [
                DEBIAN_GLFSHEAL,
                "gv0",
                "info-summary",
                "--xml",
                "glusterd-sock",
                "/run/n1/glusterd.sock"
            ]
        );
    }

    #[test]
    fn planned_commands_are_adapted_to_the_node() {
        let cli = GlusterCli::new().with_glusterd_socket("/s");
        let planned: Vec<String> = [
            "gluster",
            "--mode=script",
            "volume",
            "create",
            "gv0",
            "replica",
            "2",
            "a:/b",
            "c:/d",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            cli.prepare(&planned).unwrap(),
            [
                "gluster",
                "--glusterd-sock=/s",
                "--xml",
                "--mode=script",
                "volume",
                "create",
                "gv0",
                "replica",
                "2",
                "a:/b",
                "c:/d"
            ]
        );
        let bare: Vec<String> = ["/usr/sbin/gluster", "peer", "probe", "h2"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            GlusterCli::new().prepare(&bare).unwrap(),
            ["gluster", "--mode=script", "--xml", "peer", "probe", "h2"]
        );
        assert!(matches!(
            cli.prepare(&["rm".to_string(), "-rf".to_string()]),
            Err(CliError::NotGluster(_))
        ));
        assert!(cli.prepare(&[]).is_err());
        let interactive: Vec<String> = ["gluster", "--mode=interactive", "volume", "stop", "v"]
            .map(String::from)
            .to_vec();
        assert!(cli.prepare(&interactive).is_err());
    }
}

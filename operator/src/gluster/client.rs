//! Gluster on a node: builds the command, runs it through a [`NodeExecutor`], parses the XML.
//!
//! Gluster's exit status is not trusted either way (the CLI exits 0 on many failures in XML
//! mode and glfsheal exits non-zero on answers): when the output holds an XML document, its
//! envelope decides; when it does not, the command failed and its stderr says why.

use std::time::Duration;

use super::cli::{BrickRef, CliError, GlusterCli, VolumeName};
use super::exec::{CommandOutput, ExecError, NodeEndpoint, NodeExecutor, display_command, excerpt};
use super::xml::{
    Envelope, GlusterOpError, HealInfo, MigrationStatus, OutputError, ParseError, Peer, VolumeInfo,
    VolumeStatus, parse_envelope, parse_heal_info, parse_peer_status, parse_pool_list,
    parse_rebalance_status, parse_remove_brick_status, parse_volume_info, parse_volume_status,
};

/// Why a gluster operation on a node gave no result. Every variant names the node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlusterError {
    /// The command could not be built.
    #[error(transparent)]
    Cli(#[from] CliError),
    /// The node could not run it (connection, authentication, host key, timeout…).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Gluster ran and refused, with its own message.
    #[error("node {node}: `{command}`: {source}")]
    Refused {
        /// Node name.
        node: String,
        /// The command (quoted).
        command: String,
        /// Gluster's answer.
        #[source]
        source: GlusterOpError,
    },
    /// The command printed no XML: it failed before gluster could answer (glusterd down,
    /// usage error, program missing).
    #[error("node {node}: `{command}` gave no XML answer (exit {exit}): {message}")]
    NoAnswer {
        /// Node name.
        node: String,
        /// The command (quoted).
        command: String,
        /// Exit status, or the signal.
        exit: String,
        /// Its stderr, else its stdout (the CLI prints some errors there).
        message: String,
    },
    /// The XML could not be read.
    #[error("node {node}: `{command}`: {source}")]
    Unreadable {
        /// Node name.
        node: String,
        /// The command (quoted).
        command: String,
        /// What is wrong.
        #[source]
        source: ParseError,
    },
}

impl GlusterError {
    /// Gluster's own refusal, when that is what happened.
    pub fn gluster_refusal(&self) -> Option<&GlusterOpError> {
        match self {
            GlusterError::Refused { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A short machine-readable reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            GlusterError::Cli(_) => "InvalidGlusterCommand",
            GlusterError::Exec(e) => e.reason(),
            GlusterError::Refused { .. } => "GlusterRefused",
            GlusterError::NoAnswer { .. } => "GlusterNoAnswer",
            GlusterError::Unreadable { .. } => "GlusterOutputUnreadable",
        }
    }
}

/// The result of a state-changing gluster command (volume create, start, peer probe…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlusterReply {
    /// Gluster's envelope (`opRet` 0).
    pub envelope: Envelope,
    /// Everything the command printed, for events and conditions.
    pub output: CommandOutput,
}

/// Runs gluster commands on nodes through an executor.
#[derive(Debug, Clone)]
pub struct GlusterClient<E> {
    executor: E,
    cli: GlusterCli,
    timeout: Duration,
}

impl<E: NodeExecutor> GlusterClient<E> {
    /// A client using `executor` and `cli`, with a 3-minute limit per command (gluster's own
    /// CLI gives up after 2 minutes).
    pub fn new(executor: E, cli: GlusterCli) -> Self {
        Self {
            executor,
            cli,
            timeout: Duration::from_secs(180),
        }
    }

    /// Sets the limit per command.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The CLI settings in use.
    pub fn cli(&self) -> &GlusterCli {
        &self.cli
    }

    /// The executor in use.
    pub fn executor(&self) -> &E {
        &self.executor
    }

    /// Runs `argv` and hands its output to `parse`, mapping every failure to [`GlusterError`].
    pub async fn query<T>(
        &self,
        node: &NodeEndpoint,
        argv: &[String],
        parse: impl FnOnce(&str) -> Result<T, OutputError>,
    ) -> Result<T, GlusterError> {
        let output = self.executor.run(node, argv, self.timeout).await?;
        interpret(node, argv, &output, parse)
    }

    /// `volume info` of one volume (`Ok(None)` when gluster says it does not exist) .
    pub async fn volume_info(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<Option<VolumeInfo>, GlusterError> {
        let argv = self.cli.volume_info(Some(volume));
        match self.query(node, &argv, parse_volume_info).await {
            Ok(mut volumes) => Ok(volumes.pop()),
            Err(GlusterError::Refused { source, .. }) if is_no_such_volume(&source) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `volume info` of every volume.
    pub async fn volumes(&self, node: &NodeEndpoint) -> Result<Vec<VolumeInfo>, GlusterError> {
        self.query(node, &self.cli.volume_info(None), parse_volume_info)
            .await
    }

    /// `volume status VOL`.
    pub async fn volume_status(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<VolumeStatus, GlusterError> {
        let argv = self.cli.volume_status(Some(volume));
        self.one_volume_status(node, volume, argv).await
    }

    /// `volume status VOL detail`: the bricks with their filesystem sizes.
    pub async fn volume_status_detail(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<VolumeStatus, GlusterError> {
        let argv = self.cli.volume_status_detail(volume);
        self.one_volume_status(node, volume, argv).await
    }

    async fn one_volume_status(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
        argv: Vec<String>,
    ) -> Result<VolumeStatus, GlusterError> {
        let mut all = self.query(node, &argv, parse_volume_status).await?;
        match all.iter().position(|v| v.name == volume.as_str()) {
            Some(i) => Ok(all.swap_remove(i)),
            None => Err(GlusterError::Unreadable {
                node: node.name.clone(),
                command: display_command(&argv),
                source: ParseError::Missing {
                    what: "volume status",
                    field: format!("volume named {volume}"),
                },
            }),
        }
    }

    /// `peer status`: the other peers as this node sees them.
    pub async fn peer_status(&self, node: &NodeEndpoint) -> Result<Vec<Peer>, GlusterError> {
        self.query(node, &self.cli.peer_status(), parse_peer_status)
            .await
    }

    /// `pool list`: every peer, this node included.
    pub async fn pool_list(&self, node: &NodeEndpoint) -> Result<Vec<Peer>, GlusterError> {
        self.query(node, &self.cli.pool_list(), parse_pool_list)
            .await
    }

    /// `volume heal VOL info`.
    pub async fn heal_info(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<HealInfo, GlusterError> {
        self.query(node, &self.cli.heal_info(volume), parse_heal_info)
            .await
    }

    /// `volume heal VOL info summary`.
    pub async fn heal_info_summary(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<HealInfo, GlusterError> {
        self.query(node, &self.cli.heal_info_summary(volume), parse_heal_info)
            .await
    }

    /// `volume rebalance VOL status`.
    pub async fn rebalance_status(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
    ) -> Result<MigrationStatus, GlusterError> {
        self.query(
            node,
            &self.cli.rebalance_status(volume),
            parse_rebalance_status,
        )
        .await
    }

    /// `volume remove-brick VOL BRICK… status`.
    pub async fn remove_brick_status(
        &self,
        node: &NodeEndpoint,
        volume: &VolumeName,
        bricks: &[BrickRef],
    ) -> Result<MigrationStatus, GlusterError> {
        let argv = self.cli.remove_brick_status(volume, bricks)?;
        self.query(node, &argv, parse_remove_brick_status).await
    }

    /// Runs a planned, state-changing command (`["gluster", "--mode=script", "volume",
    /// "create", …]`) adapted to this node ([`GlusterCli::prepare`]); succeeds when gluster's
    /// envelope says so.
    pub async fn execute(
        &self,
        node: &NodeEndpoint,
        planned: &[String],
    ) -> Result<GlusterReply, GlusterError> {
        let argv = self.cli.prepare(planned)?;
        let output = self.executor.run(node, &argv, self.timeout).await?;
        let envelope = interpret(node, &argv, &output, |text| {
            Ok(parse_envelope(text)?.check()?)
        })?;
        Ok(GlusterReply { envelope, output })
    }
}

/// glusterd's "volume not found" (`GD_OP_RET_VOLUME_NOT_FOUND`-style errno, or its message).
fn is_no_such_volume(e: &GlusterOpError) -> bool {
    e.op_errno == 30806 || e.message.contains("does not exist")
}

fn interpret<T>(
    node: &NodeEndpoint,
    argv: &[String],
    output: &CommandOutput,
    parse: impl FnOnce(&str) -> Result<T, OutputError>,
) -> Result<T, GlusterError> {
    let command = || display_command(argv);
    match parse(&output.stdout) {
        Ok(value) => Ok(value),
        Err(OutputError::Gluster(source)) => Err(GlusterError::Refused {
            node: node.name.clone(),
            command: command(),
            source,
        }),
        Err(OutputError::Parse(ParseError::NoXml(_))) => {
            let text = if output.stderr.trim().is_empty() {
                &output.stdout
            } else {
                &output.stderr
            };
            Err(GlusterError::NoAnswer {
                node: node.name.clone(),
                command: command(),
                exit: match (&output.exit_status, &output.exit_signal) {
                    (Some(s), _) => s.to_string(),
                    (None, Some(sig)) => format!("signal {sig}"),
                    (None, None) => "unknown".into(),
                },
                message: excerpt(text),
            })
        }
        Err(OutputError::Parse(source)) => Err(GlusterError::Unreadable {
            node: node.name.clone(),
            command: command(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::gluster::exec::ExecFuture;
    use crate::gluster::keys::PinnedHostKey;

    /// Answers every command with one canned output and records the argv it was given. The
    /// real executors are exercised against real programs in tests/gluster_*.rs; this one pins
    /// down how outputs map to results.
    struct Canned {
        output: CommandOutput,
        seen: Mutex<Vec<Vec<String>>>,
    }

    impl NodeExecutor for Canned {
        fn run<'a>(
            &'a self,
            _node: &'a NodeEndpoint,
            argv: &'a [String],
            _timeout: Duration,
        ) -> ExecFuture<'a> {
            self.seen.lock().unwrap().push(argv.to_vec());
            let output = self.output.clone();
            Box::pin(async move { Ok(output) })
        }
    }

    fn node() -> NodeEndpoint {
        use russh::keys::PrivateKey;
        use russh::keys::ssh_key::private::Ed25519Keypair;
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&[5; 32]));
        let public = key.public_key().to_openssh().unwrap();
        NodeEndpoint::new(
            "n1",
            "10.0.0.1",
            22,
            PinnedHostKey::from_openssh(&public).unwrap(),
        )
    }

    fn client(status: Option<u32>, stdout: &str, stderr: &str) -> GlusterClient<Arc<Canned>> {
        let canned = Arc::new(Canned {
            output: CommandOutput {
                exit_status: status,
                exit_signal: status.is_none().then(|| "KILL".to_string()),
                stdout: stdout.into(),
                stderr: stderr.into(),
            },
            seen: Mutex::new(Vec::new()),
        });
        GlusterClient::new(canned, GlusterCli::new())
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const REFUSED: &str = "<?xml version=\"1.0\"?><cliOutput><opRet>-1</opRet><opErrno>30800</opErrno>\
        <opErrstr>Volume gv0 is not started</opErrstr></cliOutput>";

    #[test]
    fn the_envelope_decides_whatever_the_exit_status() {
        let vol = VolumeName::new("gv0").unwrap();
        for status in [Some(0), Some(1), Some(234)] {
            let c = client(status, REFUSED, "");
            let e = block(c.volume_status(&node(), &vol)).unwrap_err();
            let refusal = e.gluster_refusal().unwrap();
            assert_eq!(refusal.message, "Volume gv0 is not started");
            assert_eq!(e.reason(), "GlusterRefused");
            assert!(e.to_string().starts_with("node n1: `gluster"), "{e}");
        }
    }

    #[test]
    fn no_xml_is_no_answer_with_stderr_or_stdout() {
        let c = client(
            Some(1),
            "Connection failed. Please check if gluster daemon is operational.\n",
            "",
        );
        let e = block(c.pool_list(&node())).unwrap_err();
        assert!(
            matches!(&e, GlusterError::NoAnswer { exit, message, .. }
                if exit == "1" && message.starts_with("Connection failed")),
            "{e:?}"
        );
        let c = client(None, "", "sh: gluster: not found\n");
        let e = block(c.pool_list(&node())).unwrap_err();
        assert!(
            matches!(&e, GlusterError::NoAnswer { exit, message, .. }
                if exit == "signal KILL" && message == "sh: gluster: not found"),
            "{e:?}"
        );
    }

    #[test]
    fn malformed_xml_is_unreadable() {
        let c = client(
            Some(0),
            "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><peerStatus><peer><uuid>x</uuid></peer></peerStatus></cliOutput>",
            "",
        );
        let e = block(c.peer_status(&node())).unwrap_err();
        assert_eq!(e.reason(), "GlusterOutputUnreadable");
        assert!(e.to_string().contains("peer[0].hostname"), "{e}");
    }

    #[test]
    fn a_missing_volume_is_none_and_execute_sends_the_adapted_command() {
        let missing = "<?xml version=\"1.0\"?><cliOutput><opRet>-1</opRet><opErrno>30806</opErrno>\
            <opErrstr>Volume does not exist</opErrstr><volInfo><volumes><count>0</count></volumes></volInfo></cliOutput>";
        let c = client(Some(0), missing, "");
        let vol = VolumeName::new("gv0").unwrap();
        assert_eq!(block(c.volume_info(&node(), &vol)).unwrap(), None);

        let ok = "<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>\
            <volCreate><volume><name>gv0</name></volume></volCreate></cliOutput>";
        let c = client(Some(0), ok, "");
        let planned: Vec<String> = [
            "gluster",
            "--mode=script",
            "volume",
            "create",
            "gv0",
            "h:/b",
        ]
        .map(String::from)
        .to_vec();
        let reply = block(c.execute(&node(), &planned)).unwrap();
        assert_eq!(reply.envelope.op_ret, 0);
        let seen = c.executor().seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [[
                "gluster",
                "--xml",
                "--mode=script",
                "volume",
                "create",
                "gv0",
                "h:/b"
            ]]
        );
        let e = block(c.execute(&node(), &["ls".to_string()])).unwrap_err();
        assert_eq!(e.reason(), "InvalidGlusterCommand");
    }

    #[test]
    fn executors_are_object_safe() {
        let canned: Arc<dyn NodeExecutor> = Arc::new(Canned {
            output: CommandOutput::default(),
            seen: Mutex::new(Vec::new()),
        });
        let c = GlusterClient::new(canned, GlusterCli::new());
        assert!(block(c.pool_list(&node())).is_err());
    }
}

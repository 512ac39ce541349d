//! Data migration status: `gluster volume rebalance VOL status --xml` and
//! `gluster volume remove-brick VOL BRICK… status --xml` (same body, under `volRebalance` or
//! `volRemoveBrick`).
//!
//! Per node: files moved, bytes, files looked up, failures, skipped, status and run time; then
//! an aggregate. Nodes whose migration never started are left out by the CLI (so `nodeCount`
//! may exceed the nodes listed). For remove-brick the CLI counts skipped files as failures:
//! a file not moved off a brick that is about to go is data that would be lost.

use serde::Deserialize;

use super::{OutputError, ParseError, counter, int, parse_document, req};

/// Where a rebalance or remove-brick stands on a node (`gf_defrag_status_t`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TaskStatus {
    /// Not started.
    NotStarted,
    /// Running.
    InProgress,
    /// Stopped by a user.
    Stopped,
    /// Finished.
    Completed,
    /// Failed.
    Failed,
    /// Fixing the layout (rebalance fix-layout).
    FixLayoutInProgress,
    /// Fix-layout stopped.
    FixLayoutStopped,
    /// Fix-layout finished.
    FixLayoutCompleted,
    /// Fix-layout failed.
    FixLayoutFailed,
    /// A status code this version does not know, with gluster's words for it.
    Other(i32, String),
}

impl TaskStatus {
    /// From gluster's status code; the words are kept only for unknown codes.
    pub fn from_code(code: i32, words: Option<&str>) -> Self {
        match code {
            0 => Self::NotStarted,
            1 => Self::InProgress,
            2 => Self::Stopped,
            3 => Self::Completed,
            4 => Self::Failed,
            5 => Self::FixLayoutInProgress,
            6 => Self::FixLayoutStopped,
            7 => Self::FixLayoutCompleted,
            8 => Self::FixLayoutFailed,
            other => Self::Other(other, words.unwrap_or_default().to_string()),
        }
    }

    /// Still moving data or fixing the layout.
    pub fn is_running(&self) -> bool {
        matches!(self, Self::InProgress | Self::FixLayoutInProgress)
    }

    /// Ended in failure.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed | Self::FixLayoutFailed)
    }

    /// Stopped by someone before the end.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped | Self::FixLayoutStopped)
    }

    /// Finished.
    pub fn is_completed(&self) -> bool {
        matches!(self, Self::Completed | Self::FixLayoutCompleted)
    }
}

/// A rebalance or remove-brick migration, as the node asked sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStatus {
    /// The task UUID, when one exists.
    pub task_id: Option<String>,
    /// Per node, for nodes where the migration started.
    pub nodes: Vec<MigrationNode>,
    /// Gluster's aggregate, when printed.
    pub aggregate: Option<MigrationTotals>,
}

/// One node's share of a migration.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationNode {
    /// The node's name (`localhost` for the node asked).
    pub name: String,
    /// The node's peer UUID.
    pub id: String,
    /// Counters and status on that node.
    pub totals: MigrationTotals,
}

/// Counters and status of a migration (one node or the aggregate).
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationTotals {
    /// Files moved.
    pub files: u64,
    /// Bytes moved.
    pub size_bytes: u64,
    /// Files looked at.
    pub lookups: u64,
    /// Files that could not be moved (for remove-brick, skipped files included).
    pub failures: u64,
    /// Files skipped (rebalance only).
    pub skipped: u64,
    /// Where it stands.
    pub status: TaskStatus,
    /// Run time in seconds.
    pub runtime_secs: f64,
}

/// The verdict on a whole migration, for deciding the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationOutcome {
    /// No node has started it.
    NotStarted,
    /// Some node is still moving data: wait.
    InProgress,
    /// Every node finished and nothing failed: safe to go on (e.g. `remove-brick commit`).
    Completed,
    /// Every node finished but some files were not moved: committing would lose them.
    CompletedWithFailures {
        /// Files not moved, over all nodes.
        failures: u64,
    },
    /// Someone stopped it.
    Stopped,
    /// It failed on at least one node.
    Failed,
}

impl MigrationStatus {
    /// The verdict, computed from the nodes (not from gluster's aggregate, which ranks "in
    /// progress" above "failed" and would let a failure hide behind a slower node): no node
    /// started → not started; any node running or not started yet → in progress; else any
    /// failed → failed; any stopped → stopped; all
    /// completed → completed, with failures if any file was not moved.
    pub fn outcome(&self) -> MigrationOutcome {
        let statuses = || self.nodes.iter().map(|n| &n.totals.status);
        if self.nodes.is_empty() || statuses().all(|s| *s == TaskStatus::NotStarted) {
            return MigrationOutcome::NotStarted;
        }
        // A node that has not started yet (its migration process is still being spawned) is
        // as good as running: "completed" needs every node to have finished.
        if statuses().any(|s| s.is_running() || *s == TaskStatus::NotStarted) {
            return MigrationOutcome::InProgress;
        }
        if statuses().any(|s| s.is_failed() || matches!(s, TaskStatus::Other(..))) {
            return MigrationOutcome::Failed;
        }
        if statuses().any(TaskStatus::is_stopped) {
            return MigrationOutcome::Stopped;
        }
        match self.failures() {
            0 => MigrationOutcome::Completed,
            failures => MigrationOutcome::CompletedWithFailures { failures },
        }
    }

    /// Files not moved, over all nodes.
    pub fn failures(&self) -> u64 {
        self.nodes.iter().map(|n| n.totals.failures).sum()
    }

    /// Whether it is safe to commit a remove-brick: completed everywhere, nothing failed.
    pub fn safe_to_commit(&self) -> bool {
        self.outcome() == MigrationOutcome::Completed
    }

    /// Nodes where it failed, by name.
    pub fn failed_nodes(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.totals.status.is_failed())
            .map(|n| n.name.as_str())
            .collect()
    }
}

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "volRebalance")]
    rebalance: Option<RawMigration>,
    #[serde(rename = "volRemoveBrick")]
    remove_brick: Option<RawMigration>,
}

#[derive(Deserialize)]
struct RawMigration {
    #[serde(rename = "task-id")]
    task_id: Option<String>,
    #[serde(default)]
    node: Vec<RawTotals>,
    aggregate: Option<RawTotals>,
}

#[derive(Deserialize)]
struct RawTotals {
    #[serde(rename = "nodeName")]
    node_name: Option<String>,
    id: Option<String>,
    files: Option<String>,
    size: Option<String>,
    lookups: Option<String>,
    failures: Option<String>,
    skipped: Option<String>,
    status: Option<String>,
    #[serde(rename = "statusStr")]
    status_str: Option<String>,
    runtime: Option<String>,
}

/// Parses `volume rebalance VOL status --xml`.
pub fn parse_rebalance_status(output: &str) -> Result<MigrationStatus, OutputError> {
    const WHAT: &str = "rebalance status";
    let root: Root = parse_document(output, WHAT)?;
    let raw = root.rebalance.ok_or_else(|| ParseError::Missing {
        what: WHAT,
        field: "volRebalance".into(),
    })?;
    Ok(convert(WHAT, raw)?)
}

/// Parses `volume remove-brick VOL BRICK… status --xml`.
pub fn parse_remove_brick_status(output: &str) -> Result<MigrationStatus, OutputError> {
    const WHAT: &str = "remove-brick status";
    let root: Root = parse_document(output, WHAT)?;
    let raw = root.remove_brick.ok_or_else(|| ParseError::Missing {
        what: WHAT,
        field: "volRemoveBrick".into(),
    })?;
    Ok(convert(WHAT, raw)?)
}

fn convert(what: &'static str, raw: RawMigration) -> Result<MigrationStatus, ParseError> {
    let mut nodes = Vec::with_capacity(raw.node.len());
    for (i, n) in raw.node.into_iter().enumerate() {
        let prefix = format!("node[{i}]");
        let name = req(what, &format!("{prefix}.nodeName"), n.node_name.clone())?;
        let id = n.id.clone().unwrap_or_default();
        nodes.push(MigrationNode {
            name,
            id,
            totals: totals(what, &prefix, n)?,
        });
    }
    let aggregate = raw
        .aggregate
        .map(|a| totals(what, "aggregate", a))
        .transpose()?;
    Ok(MigrationStatus {
        task_id: raw.task_id.filter(|t| !t.is_empty()),
        nodes,
        aggregate,
    })
}

fn totals(what: &'static str, prefix: &str, raw: RawTotals) -> Result<MigrationTotals, ParseError> {
    let field = |name: &str| format!("{prefix}.{name}");
    let num = |name: &str, v: Option<String>| -> Result<u64, ParseError> {
        counter(what, &field(name), req(what, &field(name), v)?)
    };
    let code = int(
        what,
        &field("status"),
        req(what, &field("status"), raw.status)?,
    )?;
    let runtime = req(what, &field("runtime"), raw.runtime)?;
    let runtime_secs = runtime
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| ParseError::Invalid {
            what,
            field: field("runtime"),
            value: runtime.clone(),
        })?;
    Ok(MigrationTotals {
        files: num("files", raw.files)?,
        size_bytes: num("size", raw.size)?,
        lookups: num("lookups", raw.lookups)?,
        failures: num("failures", raw.failures)?,
        skipped: num("skipped", raw.skipped)?,
        status: TaskStatus::from_code(code, raw.status_str.as_deref()),
        runtime_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, status: TaskStatus, failures: u64) -> MigrationNode {
        MigrationNode {
            name: name.into(),
            id: String::new(),
            totals: MigrationTotals {
                files: 1,
                size_bytes: 1,
                lookups: 1,
                failures,
                skipped: 0,
                status,
                runtime_secs: 0.0,
            },
        }
    }

    fn status(nodes: Vec<MigrationNode>) -> MigrationStatus {
        MigrationStatus {
            task_id: None,
            nodes,
            aggregate: None,
        }
    }

    #[test]
    fn a_failure_is_never_hidden() {
        let s = status(vec![
            node("a", TaskStatus::Completed, 0),
            node("b", TaskStatus::Failed, 3),
        ]);
        assert_eq!(s.outcome(), MigrationOutcome::Failed);
        assert_eq!(s.failed_nodes(), ["b"]);
        assert!(!s.safe_to_commit());
        // A running node means wait, but the failure stays visible.
        let s = status(vec![
            node("a", TaskStatus::InProgress, 0),
            node("b", TaskStatus::Failed, 3),
        ]);
        assert_eq!(s.outcome(), MigrationOutcome::InProgress);
        assert_eq!(s.failed_nodes(), ["b"]);
    }

    #[test]
    fn a_node_not_started_yet_is_not_completed() {
        // Seen with real gluster right after `remove-brick start`: one node done (nothing to
        // move), the other's migration not spawned yet. Committing then loses its files.
        let s = status(vec![
            node("a", TaskStatus::Completed, 0),
            node("b", TaskStatus::NotStarted, 0),
        ]);
        assert_eq!(s.outcome(), MigrationOutcome::InProgress);
        assert!(!s.safe_to_commit());
    }

    #[test]
    fn completed_with_unmoved_files_is_not_safe_to_commit() {
        let s = status(vec![
            node("a", TaskStatus::Completed, 0),
            node("b", TaskStatus::Completed, 2),
        ]);
        assert_eq!(
            s.outcome(),
            MigrationOutcome::CompletedWithFailures { failures: 2 }
        );
        assert!(!s.safe_to_commit());
        let s = status(vec![node("a", TaskStatus::Completed, 0)]);
        assert!(s.safe_to_commit());
    }

    #[test]
    fn unknown_codes_are_not_taken_for_success() {
        let s = status(vec![node(
            "a",
            TaskStatus::from_code(9, Some("reset due to replace-brick")),
            0,
        )]);
        assert_eq!(s.outcome(), MigrationOutcome::Failed);
        assert_eq!(status(vec![]).outcome(), MigrationOutcome::NotStarted);
        assert_eq!(
            status(vec![node("a", TaskStatus::Stopped, 0)]).outcome(),
            MigrationOutcome::Stopped
        );
    }
}

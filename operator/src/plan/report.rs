//! A plan as text for a human (what `gluster-operator plan` prints). Pure: a string out.

use std::fmt::Write as _;

use super::command::Command;
use super::model::ClusterPlan;
use super::quantity::format_bytes;
use super::shape::SetKind;

/// The plan as a readable report. `title` is its first line (e.g. `GlusterCluster default/seed`).
pub fn render(title: &str, plan: &ClusterPlan) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on that invariant.
    let _ = writeln!(out, "{title}");
    let shape = &plan.shape;
    let counts = match shape.kind {
        SetKind::Disperse => format!(
            "disperse {} redundancy {}, {} set{}",
            shape.disperse,
            shape.redundancy,
            shape.sets,
            plural(shape.sets)
        ),
        SetKind::Replica if shape.replica == 1 => {
            format!(
                "{} brick{}, no replication",
                shape.nodes,
                plural(shape.nodes)
            )
        }
        SetKind::Replica => format!(
            "replica {}{}, {} set{}",
            shape.replica,
            if shape.arbiter > 0 { " arbiter 1" } else { "" },
            shape.sets,
            plural(shape.sets)
        ),
    };
    let _ = writeln!(
        out,
        "  volume {}: {} {} ({counts}), transport tcp{}",
        plan.volume,
        shape.volume_type,
        shape.notation(),
        if shape.sharding() {
            ", features.shard on"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  bricks: {} on each node (XFS mounted at {}), {} each; usable capacity {}",
        plan.brick_path,
        plan.mount_path,
        format_bytes(plan.brick_bytes),
        format_bytes(plan.capacity())
    );

    let _ = writeln!(out, "\n  zones:");
    for z in &plan.zones {
        let bound = |b: Option<u32>| b.map_or_else(|| "-".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "    {}: {} node{} (min {}, max {}); storage {}",
            z.name,
            z.nodes,
            plural(z.nodes),
            bound(z.min_nodes),
            bound(z.max_nodes),
            z.storage
        );
    }

    let _ = writeln!(out, "\n  nodes:");
    let any_existing = plan.nodes.iter().any(|n| n.existing);
    let mut header = vec!["INDEX", "NAME", "ZONE", "STORAGE", "FLAVOR"];
    if any_existing {
        header.push("NOW");
    }
    let rows: Vec<Vec<String>> = plan
        .nodes
        .iter()
        .map(|n| {
            let mut row = vec![
                n.index.to_string(),
                n.name.clone(),
                n.zone.clone(),
                n.storage.label().to_string(),
                n.storage.flavor_label(),
            ];
            if any_existing {
                row.push(if n.existing { "exists" } else { "new" }.to_string());
            }
            row
        })
        .collect();
    table(&mut out, &header, &rows);
    if !plan.removed.is_empty() {
        let _ = writeln!(out, "\n  nodes removed:");
        for n in &plan.removed {
            let _ = writeln!(out, "    {} (index {}, zone {})", n.name, n.index, n.zone);
        }
    }

    let _ = writeln!(
        out,
        "\n  {} sets (brick order; each set spans the zones shown):",
        shape.kind.word()
    );
    for (i, set) in plan.sets.iter().enumerate() {
        let bricks: Vec<String> = set
            .bricks
            .iter()
            .map(|b| {
                if b.arbiter {
                    format!("{} ({}, arbiter)", b.node, b.zone)
                } else {
                    format!("{} ({})", b.node, b.zone)
                }
            })
            .collect();
        let zones = set.zones();
        let _ = writeln!(
            out,
            "    set {}: {}  [{} zone{}]",
            i + 1,
            bricks.join(", "),
            zones.len(),
            plural(zones.len() as u32)
        );
    }

    let _ = writeln!(out, "\n  steps:");
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 1;
        match (step.command(), step.on(), step.explanation()) {
            (Some(cmd), Some(on), Some(why)) => {
                let _ = writeln!(out, "    {n:>2}. on {on}, {why}:\n          {}", wrap(cmd));
            }
            (Some(cmd), Some(on), None) => {
                let one_line = format!("    {n:>2}. on {on}: {cmd}");
                if one_line.len() <= 110 {
                    let _ = writeln!(out, "{one_line}");
                } else {
                    let _ = writeln!(out, "    {n:>2}. on {on}:\n          {}", wrap(cmd));
                }
            }
            (_, _, Some(why)) => {
                let _ = writeln!(out, "    {n:>2}. {why}");
            }
            _ => {
                let _ = writeln!(out, "    {n:>2}. {}", step.kind());
            }
        }
    }

    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\n  notes:");
        for note in &plan.notes {
            let _ = writeln!(out, "    - {note}");
        }
    }
    out
}

/// A command as a shell line; a long one is broken before each brick argument (`host:/path`)
/// with shell continuations, so it still pastes into a shell.
fn wrap(cmd: &Command) -> String {
    let words = cmd.shell_words();
    let line = words.join(" ");
    if line.len() <= 100 {
        return line;
    }
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push_str(if word.contains(":/") {
                " \\\n            "
            } else {
                " "
            });
        }
        out.push_str(word);
    }
    out
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("    {}", padded.join("  ").trim_end())
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

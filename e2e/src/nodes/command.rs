//! Running programs with errors that say what ran and how it ended.

use std::process::{Command, Output, Stdio};

use super::error::NodeError;

/// How many trailing lines of a failed command's output an error keeps.
const OUTPUT_LINES: usize = 20;

/// Runs `cmd` to completion (stdin closed); on success returns its stdout.
pub fn run(cmd: &mut Command, what: &str) -> Result<String, NodeError> {
    let output = output(cmd, what)?;
    if !output.status.success() {
        return Err(failure(cmd, what, &output));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `cmd` to completion (stdin closed) and returns what it did, failed or not.
pub fn output(cmd: &mut Command, what: &str) -> Result<Output, NodeError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| NodeError::Command {
            what: what.to_string(),
            command: describe(cmd),
            outcome: format!("could not be started: {e}"),
        })
}

/// The error of a command that ran and failed, with the end of its output.
pub fn failure(cmd: &Command, what: &str, output: &Output) -> NodeError {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    NodeError::Command {
        what: what.to_string(),
        command: describe(cmd),
        outcome: format!("{}{}", output.status, tail(&text)),
    }
}

/// The last lines of `text`, prefixed for an error message, or nothing.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(OUTPUT_LINES);
    format!(": {}", lines[start..].join(" | "))
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fails unless `program` is on PATH (or is an executable path).
pub fn require_program(program: &str, package: &str) -> Result<(), NodeError> {
    let found = if program.contains('/') {
        is_executable(std::path::Path::new(program))
    } else {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .chain(["/usr/sbin", "/sbin"].map(Into::into))
            .any(|dir| is_executable(&dir.join(program)))
    };
    if found {
        Ok(())
    } else {
        Err(NodeError::Requirement(format!(
            "`{program}` (Debian package {package}; `make setup` installs it)"
        )))
    }
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_what_ran_and_how_it_ended() {
        let err = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            "a test",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "a test: `sh -c echo out; echo err >&2; exit 3` exit status: 3: out | err"
        );
        let err = run(&mut Command::new("/nonexistent/x"), "nothing").unwrap_err();
        assert!(err.to_string().contains("could not be started"), "{err}");
        assert_eq!(run(Command::new("echo").arg("hi"), "echo").unwrap(), "hi\n");
    }

    #[test]
    fn tails_keep_the_last_lines() {
        let text: String = (0..30).map(|i| format!("l{i}\n")).collect();
        let t = tail(&text);
        assert!(t.starts_with(": l10 | "), "{t}");
        assert!(t.ends_with("l29"));
        assert_eq!(tail("\n \n"), "");
    }

    #[test]
    fn programs_are_found_on_path() {
        require_program("sh", "dash").unwrap();
        let err = require_program("surely-not-a-program", "nothing").unwrap_err();
        assert!(err.to_string().contains("Debian package nothing"));
    }
}

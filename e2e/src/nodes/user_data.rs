//! Reading a node's `#cloud-config` user-data (pure): what a loopback node does of it, the way
//! cloud-init would on a real server, minus package installation.
//!
//! | key | on a loopback node |
//! |---|---|
//! | `users` | each user is created in the node (`useradd`), with its `ssh_authorized_keys` and its `sudo` rule in `/etc/sudoers.d/90-cloud-init-users`; `default` (the image's user) is skipped |
//! | `ssh_keys` | the ed25519 pair becomes the node's only host key; other key types are refused (the node must present exactly the host key of the user-data, and never generates one) |
//! | `write_files` | written in the node, under `/etc`, `/usr/local`, `/usr/lib/ssl` and `/var/lib/glusterd` (the node's own copies: gluster's TLS files and `secure-access` land there); other paths are skipped |
//! | `runcmd` | the brick script ([`BRICK_SCRIPT_PATH`]) runs with its arguments, unchanged (its `--glusterd-uuid` lands in the node's own `/var/lib/glusterd/glusterd.info`); package installs and other commands are skipped (they would run on this machine) |
//! | `packages`, `apt`, … | skipped: gluster is installed on this machine |
//!
//! What is skipped is listed in [`NodeUserData::skipped`] and in the node's boot log.

use std::fmt;

use gluster_operator::bootstrap::{
    AuthorizedKey, BRICK_SCRIPT_PATH, BrickDevice, GLUSTERD_DIR, SshKeyPair,
};
use serde_yaml::{Mapping, Value};

use super::error::NodeError;
use super::spec::validate_volume_id;

/// The directories a node has its own copies of, where `write_files` may write.
pub const WRITABLE_PREFIXES: [&str; 4] = [
    "/etc/",
    "/usr/local/",
    "/usr/lib/ssl/",
    "/var/lib/glusterd/",
];

/// The brick script arguments whose paths the node provides, with the value it provides.
pub const NODE_PATHS: [(&str, &str); 3] = [
    ("--by-id-dir", "/dev/disk/by-id"),
    ("--fstab", "/etc/fstab"),
    ("--ephemeral-mount", "/mnt"),
];

/// Top-level directories a brick mount path may not live in: the node gives the brick's
/// top-level directory a private copy, which would hide these.
const SYSTEM_DIRS: [&str; 20] = [
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt",
    "proc", "root", "run", "sbin", "sys", "tmp", "usr", "var",
];

/// What a loopback node takes from its user-data.
#[derive(Clone, Debug)]
pub struct NodeUserData {
    /// The users to create.
    pub users: Vec<UserSpec>,
    /// The node's SSH host key (its `Debug` shows the public half only).
    pub host_key: SshKeyPair,
    /// The files to write in the node.
    pub files: Vec<FileSpec>,
    /// The brick script's run.
    pub brick: BrickCommand,
    /// What the node does not do, one note per item (e.g. `packages: not installed`).
    pub skipped: Vec<String>,
}

/// A user of `users`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    /// The login name.
    pub name: String,
    /// The GECOS comment.
    pub gecos: Option<String>,
    /// The login shell (default `/bin/sh`).
    pub shell: String,
    /// sudoers rules (the part after the user name), e.g. `ALL=(root) NOPASSWD: /usr/sbin/gluster`.
    pub sudo: Vec<String>,
    /// The keys it logs in with.
    pub authorized_keys: Vec<AuthorizedKey>,
}

/// A file of `write_files`. `Debug` shows the content's size only (user-data files may hold
/// secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The absolute path in the node.
    pub path: String,
    /// The content.
    pub content: String,
    /// The permission bits (default 0644).
    pub mode: u32,
    /// The owning user (default `root`).
    pub owner: String,
    /// The owning group (default `root`).
    pub group: String,
}

impl fmt::Debug for FileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSpec")
            .field("path", &self.path)
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("owner", &self.owner)
            .field("group", &self.group)
            .finish()
    }
}

/// The brick script's entry of `runcmd`, with what the node needs to know of its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrickCommand {
    /// The script ([`BRICK_SCRIPT_PATH`]).
    pub program: String,
    /// Its arguments, exactly as the user-data gives them.
    pub args: Vec<String>,
    /// The disk it prepares.
    pub device: BrickDevice,
    /// Where it mounts the brick file system.
    pub mount_path: String,
    /// Whether it starts glusterd (`--start-glusterd`).
    pub start_glusterd: bool,
}

impl BrickCommand {
    /// The top-level directory of the mount path (`/export` of `/export/vol`), which the node
    /// gets a private copy of.
    pub fn mount_root(&self) -> String {
        let first = self
            .mount_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        format!("/{first}")
    }
}

/// Reads the user-data of a node. Errors name the key at fault and never quote key material.
pub fn parse_user_data(text: &str) -> Result<NodeUserData, NodeError> {
    let first = text.lines().next().unwrap_or_default().trim_end();
    if first != "#cloud-config" {
        return Err(NodeError::user_data(
            "header",
            "the first line must be `#cloud-config` (scripts and MIME multi-part user-data are not booted by loopback nodes)",
        ));
    }
    let doc: Mapping = match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => m,
        Ok(_) => {
            return Err(NodeError::user_data(
                "document",
                "expected a mapping of cloud-config keys",
            ));
        }
        // The YAML error's position is safe to show; its message may quote the document, so it
        // is left out (the document holds the private host key).
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            return Err(NodeError::user_data(
                "document",
                format!("not valid YAML{at}"),
            ));
        }
    };

    let mut users = Vec::new();
    let mut host_key = None;
    let mut files = Vec::new();
    let mut commands = None;
    let mut skipped = Vec::new();
    for (key, value) in &doc {
        let Some(key) = key.as_str() else {
            return Err(NodeError::user_data(
                "document",
                "every top-level key must be a string",
            ));
        };
        match key {
            "users" => users = parse_users(value, &mut skipped)?,
            "ssh_keys" => host_key = Some(parse_host_key(value)?),
            "write_files" => files = parse_files(value, &mut skipped)?,
            "runcmd" => commands = Some(value),
            "packages" | "apt" | "yum_repos" | "package_update" | "package_upgrade"
            | "package_reboot_if_required" => skipped.push(format!(
                "{key}: not applied (gluster is installed on this machine; loopback nodes install no packages)"
            )),
            "ssh_pwauth" => {
                if value.as_bool() != Some(false) {
                    skipped.push(
                        "ssh_pwauth: ignored (loopback nodes never accept passwords)".to_string(),
                    );
                }
            }
            // Honoured: the node's sshd has the user-data's host key and no other.
            "ssh_deletekeys" => {}
            other => skipped.push(format!("{other}: not applied by loopback nodes")),
        }
    }
    let host_key = host_key.ok_or_else(|| {
        NodeError::user_data(
            "ssh_keys",
            "missing: the node needs the ed25519 host key the operator pinned (loopback nodes never generate one)",
        )
    })?;
    let commands = commands
        .ok_or_else(|| NodeError::user_data("runcmd", "missing: nothing runs the brick script"))?;
    let brick = parse_runcmd(commands, &files, &mut skipped)?;
    Ok(NodeUserData {
        users,
        host_key,
        files,
        brick,
        skipped,
    })
}

fn parse_users(value: &Value, skipped: &mut Vec<String>) -> Result<Vec<UserSpec>, NodeError> {
    let Value::Sequence(items) = value else {
        return Err(NodeError::user_data("users", "expected a list"));
    };
    let mut users: Vec<UserSpec> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("users[{i}]");
        match item {
            Value::String(s) if s == "default" => skipped.push(format!(
                "{at}: the image's default user is not created on loopback nodes"
            )),
            Value::Mapping(m) => {
                let user = parse_user(&at, m, skipped)?;
                if users.iter().any(|u| u.name == user.name) {
                    return Err(NodeError::user_data(
                        format!("{at}.name"),
                        format!("user {} is listed twice", user.name),
                    ));
                }
                users.push(user);
            }
            _ => {
                return Err(NodeError::user_data(
                    at,
                    "expected `default` or a mapping with a `name`",
                ));
            }
        }
    }
    Ok(users)
}

fn parse_user(at: &str, m: &Mapping, skipped: &mut Vec<String>) -> Result<UserSpec, NodeError> {
    let name = required_str(m, at, "name")?;
    let valid_name = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if !valid_name {
        return Err(NodeError::user_data(
            format!("{at}.name"),
            format!(
                "`{}` is not a user name (lower-case letters, digits, '_' and '-', at most 32, starting with a letter or '_')",
                name.escape_debug()
            ),
        ));
    }
    let gecos = optional_str(m, at, "gecos")?;
    if let Some(g) = &gecos
        && g.chars().any(|c| c.is_control() || c == ':')
    {
        return Err(NodeError::user_data(
            format!("{at}.gecos"),
            "must be one line without ':'",
        ));
    }
    let shell = optional_str(m, at, "shell")?.unwrap_or_else(|| "/bin/sh".to_string());
    if !shell.starts_with('/') || shell.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err(NodeError::user_data(
            format!("{at}.shell"),
            format!("`{}` is not an absolute path", shell.escape_debug()),
        ));
    }
    let sudo = match m.get("sudo") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Vec::new(),
        Some(Value::String(rule)) => vec![sudo_rule(&format!("{at}.sudo"), rule)?],
        Some(Value::Sequence(rules)) => rules
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let key = format!("{at}.sudo[{j}]");
                r.as_str()
                    .ok_or_else(|| NodeError::user_data(&key, "expected a sudoers rule"))
                    .and_then(|r| sudo_rule(&key, r))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(NodeError::user_data(
                format!("{at}.sudo"),
                "expected a sudoers rule, a list of them, or false",
            ));
        }
    };
    let authorized_keys = match m.get("ssh_authorized_keys") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(keys)) => keys
            .iter()
            .enumerate()
            .map(|(j, k)| {
                let key = format!("{at}.ssh_authorized_keys[{j}]");
                let line = k
                    .as_str()
                    .ok_or_else(|| NodeError::user_data(&key, "expected an OpenSSH public key"))?;
                AuthorizedKey::parse(&key, line)
                    .map_err(|e| NodeError::user_data(&key, e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(NodeError::user_data(
                format!("{at}.ssh_authorized_keys"),
                "expected a list of OpenSSH public keys",
            ));
        }
    };
    if let Some(lock) = m.get("lock_passwd")
        && !lock.is_bool()
    {
        return Err(NodeError::user_data(
            format!("{at}.lock_passwd"),
            "expected true or false",
        ));
    }
    for key in m.keys().filter_map(Value::as_str) {
        if !matches!(
            key,
            "name" | "gecos" | "shell" | "sudo" | "ssh_authorized_keys" | "lock_passwd"
        ) {
            skipped.push(format!(
                "{at}.{key}: not applied (loopback nodes set no passwords, groups or other user settings)"
            ));
        }
    }
    Ok(UserSpec {
        name,
        gecos,
        shell,
        sudo,
        authorized_keys,
    })
}

fn sudo_rule(key: &str, rule: &str) -> Result<String, NodeError> {
    let rule = rule.trim();
    if rule.is_empty() || rule.contains(['\n', '\r']) {
        return Err(NodeError::user_data(
            key,
            "expected one sudoers rule on one line",
        ));
    }
    Ok(rule.to_string())
}

fn parse_host_key(value: &Value) -> Result<SshKeyPair, NodeError> {
    let Value::Mapping(m) = value else {
        return Err(NodeError::user_data("ssh_keys", "expected a mapping"));
    };
    for key in m.keys() {
        let name = key.as_str().unwrap_or_default();
        if !matches!(name, "ed25519_private" | "ed25519_public") {
            return Err(NodeError::user_data(
                format!("ssh_keys.{name}"),
                "loopback nodes take exactly one ed25519 host key (ed25519_private and ed25519_public)",
            ));
        }
    }
    let private = required_str(m, "ssh_keys", "ed25519_private")?;
    let pair = SshKeyPair::from_private_openssh("ssh_keys.ed25519_private", &private)
        .map_err(|e| NodeError::user_data("ssh_keys.ed25519_private", e.to_string()))?;
    if let Some(public) = optional_str(m, "ssh_keys", "ed25519_public")? {
        let public = AuthorizedKey::parse("ssh_keys.ed25519_public", &public)
            .map_err(|e| NodeError::user_data("ssh_keys.ed25519_public", e.to_string()))?;
        if public.fingerprint() != pair.public_key().fingerprint() {
            return Err(NodeError::user_data(
                "ssh_keys.ed25519_public",
                format!(
                    "{} is not the public half of ssh_keys.ed25519_private ({})",
                    public.fingerprint(),
                    pair.public_key().fingerprint()
                ),
            ));
        }
    }
    Ok(pair)
}

fn parse_files(value: &Value, skipped: &mut Vec<String>) -> Result<Vec<FileSpec>, NodeError> {
    let Value::Sequence(items) = value else {
        return Err(NodeError::user_data("write_files", "expected a list"));
    };
    let mut files = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("write_files[{i}]");
        let Value::Mapping(m) = item else {
            return Err(NodeError::user_data(at, "expected a mapping with a `path`"));
        };
        let path = required_str(m, &at, "path")?;
        validate_file_path(&format!("{at}.path"), &path)?;
        if let Some(encoding) = optional_str(m, &at, "encoding")?
            && !matches!(encoding.as_str(), "text/plain" | "text")
        {
            return Err(NodeError::user_data(
                format!("{at}.encoding"),
                format!("`{encoding}` is not supported by loopback nodes (plain text only)"),
            ));
        }
        if m.get("append").and_then(Value::as_bool) == Some(true) {
            return Err(NodeError::user_data(
                format!("{at}.append"),
                "appending is not supported by loopback nodes",
            ));
        }
        let content = optional_str(m, &at, "content")?.unwrap_or_default();
        let mode = match optional_str(m, &at, "permissions")? {
            None => 0o644,
            Some(p) => u32::from_str_radix(p.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| {
                    NodeError::user_data(
                        format!("{at}.permissions"),
                        format!("`{}` is not an octal mode such as '0755'", p.escape_debug()),
                    )
                })?,
        };
        let owner = optional_str(m, &at, "owner")?.unwrap_or_else(|| "root:root".to_string());
        let (user, group) = owner.split_once(':').unwrap_or((owner.as_str(), "root"));
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        };
        if !valid(user) || !valid(group) {
            return Err(NodeError::user_data(
                format!("{at}.owner"),
                format!("`{}` is not USER:GROUP", owner.escape_debug()),
            ));
        }
        if !WRITABLE_PREFIXES.iter().any(|p| path.starts_with(p)) {
            skipped.push(format!(
                "{at}: {path} not written (loopback nodes write under /etc, /usr/local, /usr/lib/ssl and /var/lib/glusterd only)"
            ));
            continue;
        }
        files.push(FileSpec {
            path,
            content,
            mode,
            owner: user.to_string(),
            group: group.to_string(),
        });
    }
    Ok(files)
}

fn validate_file_path(key: &str, path: &str) -> Result<(), NodeError> {
    let ok = path.starts_with('/')
        && !path.ends_with('/')
        && path
            .split('/')
            .skip(1)
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !path.chars().any(char::is_control);
    if !ok {
        return Err(NodeError::user_data(
            key,
            format!(
                "`{}` is not an absolute file path without `.`, `..` or empty components",
                path.escape_debug()
            ),
        ));
    }
    Ok(())
}

const PACKAGE_MANAGERS: [&str; 7] = ["apt", "apt-get", "dnf", "yum", "zypper", "rpm", "dpkg"];

fn parse_runcmd(
    value: &Value,
    files: &[FileSpec],
    skipped: &mut Vec<String>,
) -> Result<BrickCommand, NodeError> {
    let Value::Sequence(items) = value else {
        return Err(NodeError::user_data("runcmd", "expected a list"));
    };
    let mut brick = None;
    for (i, item) in items.iter().enumerate() {
        let at = format!("runcmd[{i}]");
        let argv: Vec<String> = match item {
            // cloud-init runs runcmd as one script; loopback nodes stop at the first failure.
            Value::String(s) if s.trim() == "set -e" => continue,
            Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
            Value::Sequence(words) => words
                .iter()
                .map(|w| match w {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(NodeError::user_data(&at, "expected a list of words")),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(NodeError::user_data(
                    at,
                    "expected a command line or a list of words",
                ));
            }
        };
        let program = argv.first().map(String::as_str).unwrap_or_default();
        let base = program.rsplit('/').next().unwrap_or_default();
        if program == BRICK_SCRIPT_PATH && matches!(item, Value::Sequence(_)) {
            if brick.is_some() {
                return Err(NodeError::user_data(
                    at,
                    "runs the brick script a second time",
                ));
            }
            if !files.iter().any(|f| f.path == BRICK_SCRIPT_PATH) {
                return Err(NodeError::user_data(
                    at,
                    format!("runs {BRICK_SCRIPT_PATH}, which write_files does not write"),
                ));
            }
            brick = Some(parse_brick_args(&at, argv[1..].to_vec())?);
        } else if PACKAGE_MANAGERS.contains(&base) {
            skipped.push(format!("{at}: `{base} …` not run (no package installs)"));
        } else {
            skipped.push(format!(
                "{at}: `{base} …` not run (loopback nodes run the brick script only)"
            ));
        }
    }
    brick.ok_or_else(|| {
        NodeError::user_data(
            "runcmd",
            format!("no entry runs the brick script {BRICK_SCRIPT_PATH} (as a list of words)"),
        )
    })
}

fn parse_brick_args(at: &str, args: Vec<String>) -> Result<BrickCommand, NodeError> {
    let mut volume_id = None;
    let mut ephemeral = false;
    let mut mount_path = None;
    let mut start_glusterd = false;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = || {
            args.get(i + 1)
                .cloned()
                .ok_or_else(|| NodeError::user_data(at, format!("{flag} needs a value")))
        };
        match flag {
            "--ephemeral" => ephemeral = true,
            "--start-glusterd" => start_glusterd = true,
            "--volume-id" => {
                let id = value()?;
                validate_volume_id(&id)
                    .map_err(|r| NodeError::user_data(format!("{at} --volume-id"), r))?;
                volume_id = Some(id);
                i += 1;
            }
            "--mount-path" => {
                mount_path = Some(value()?);
                i += 1;
            }
            "--log" => {
                let log = value()?;
                if !log.starts_with("/var/log/") {
                    return Err(NodeError::user_data(
                        format!("{at} --log"),
                        format!(
                            "`{}`: loopback nodes keep logs under /var/log",
                            log.escape_debug()
                        ),
                    ));
                }
                i += 1;
            }
            "--wait" => {
                value()?;
                i += 1;
            }
            "--glusterd-uuid" => {
                let uuid = value()?;
                if uuid::Uuid::try_parse(&uuid).is_err() {
                    return Err(NodeError::user_data(
                        format!("{at} --glusterd-uuid"),
                        format!("`{}` is not a UUID", uuid.escape_debug()),
                    ));
                }
                i += 1;
            }
            "--peer" => {
                let peer = value()?;
                let shaped = peer.split_once('=').is_some_and(|(u, a)| {
                    uuid::Uuid::try_parse(u).is_ok()
                        && !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-'))
                });
                if !shaped {
                    return Err(NodeError::user_data(
                        format!("{at} --peer"),
                        format!("`{}` is not UUID=ADDRESS", peer.escape_debug()),
                    ));
                }
                i += 1;
            }
            "--glusterd-dir" => {
                let given = value()?;
                if given.trim_end_matches('/') != GLUSTERD_DIR {
                    return Err(NodeError::user_data(
                        format!("{at} --glusterd-dir"),
                        format!(
                            "`{}`: a loopback node has its glusterd state at {GLUSTERD_DIR} only",
                            given.escape_debug()
                        ),
                    ));
                }
                i += 1;
            }
            "--by-id-dir" | "--fstab" | "--ephemeral-mount" => {
                let given = value()?;
                let provided = NODE_PATHS
                    .iter()
                    .find(|(f, _)| *f == flag)
                    .map(|(_, p)| *p)
                    .unwrap_or_default();
                if given.trim_end_matches('/') != provided {
                    return Err(NodeError::user_data(
                        format!("{at} {flag}"),
                        format!(
                            "`{}`: a loopback node provides {provided} only",
                            given.escape_debug()
                        ),
                    ));
                }
                i += 1;
            }
            other => {
                return Err(NodeError::user_data(
                    at,
                    format!("unknown brick script argument `{}`", other.escape_debug()),
                ));
            }
        }
        i += 1;
    }
    let device = match (volume_id, ephemeral) {
        (Some(id), false) => BrickDevice::Volume { id },
        (None, true) => BrickDevice::Ephemeral,
        _ => {
            return Err(NodeError::user_data(
                at,
                "the brick script needs exactly one of --volume-id ID and --ephemeral",
            ));
        }
    };
    let mount_path =
        mount_path.ok_or_else(|| NodeError::user_data(at, "--mount-path is missing"))?;
    validate_mount_path(&format!("{at} --mount-path"), &mount_path)?;
    Ok(BrickCommand {
        program: BRICK_SCRIPT_PATH.to_string(),
        args,
        device,
        mount_path,
        start_glusterd,
    })
}

fn validate_mount_path(key: &str, path: &str) -> Result<(), NodeError> {
    validate_file_path(key, path)?;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.len() < 2 {
        return Err(NodeError::user_data(
            key,
            format!(
                "`{path}`: loopback nodes need the brick below a top-level directory, such as /export/vol"
            ),
        ));
    }
    if SYSTEM_DIRS.contains(&parts[0]) {
        return Err(NodeError::user_data(
            key,
            format!(
                "`{path}`: the node gets a private /{} for its brick, which would hide the system's; use a dedicated top-level directory such as /export",
                parts[0]
            ),
        ));
    }
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
    {
        return Err(NodeError::user_data(
            key,
            format!(
                "`{}` may only contain letters, digits, '.', '_', '-' and '/'",
                path.escape_debug()
            ),
        ));
    }
    Ok(())
}

fn required_str(m: &Mapping, at: &str, key: &str) -> Result<String, NodeError> {
    optional_str(m, at, key)?.ok_or_else(|| NodeError::user_data(format!("{at}.{key}"), "missing"))
}

fn optional_str(m: &Mapping, at: &str, key: &str) -> Result<Option<String>, NodeError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(NodeError::user_data(
            format!("{at}.{key}"),
            "expected a string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use gluster_operator::api::GlusterSpec;
    use gluster_operator::bootstrap::{DistroFamily, NodeBootstrap, render_user_data};

    use super::*;

    const VOLUME: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn bootstrap(device: BrickDevice) -> (NodeBootstrap, SshKeyPair) {
        let operator = SshKeyPair::generate("gluster-operator@test").unwrap();
        let node = NodeBootstrap {
            cluster_name: "demo".into(),
            node_name: "demo-a-0".into(),
            distro: DistroFamily::Debian,
            gluster: GlusterSpec::default(),
            device,
            mount_path: "/export/vol".into(),
            operator_key: operator.public_key().clone(),
            host_key: SshKeyPair::generate("demo-a-0").unwrap(),
            extra_user_data: None,
            glusterd_uuid: Some("6f1c2a57-3f0e-5b8e-9a51-0c5d1e2f3a4b".into()),
            glusterd_peers: vec![(
                "0a1b2c3d-0000-4000-8000-000000000002".into(),
                "127.100.0.11".into(),
            )],
            tls: None,
        };
        (node, operator)
    }

    fn rendered(node: &NodeBootstrap) -> String {
        render_user_data(node).unwrap().into_string()
    }

    fn key_of(err: NodeError) -> String {
        match err {
            NodeError::UserData { key, .. } => key,
            other => panic!("expected UserData, got {other}"),
        }
    }

    #[test]
    fn rendered_user_data_gives_user_key_host_key_script_and_arguments() {
        let (node, operator) = bootstrap(BrickDevice::Volume { id: VOLUME.into() });
        let parsed = parse_user_data(&rendered(&node)).unwrap();

        assert_eq!(parsed.users.len(), 1);
        let user = &parsed.users[0];
        assert_eq!(user.name, "gluster-operator");
        assert_eq!(user.shell, "/bin/sh");
        assert_eq!(user.sudo, ["ALL=(root) NOPASSWD: /usr/sbin/gluster"]);
        assert_eq!(user.authorized_keys, [operator.public_key().clone()]);
        assert_eq!(parsed.host_key.public_key(), node.host_key.public_key());
        assert_eq!(
            parsed.host_key.private_openssh(),
            node.host_key.private_openssh()
        );

        assert_eq!(parsed.files.len(), 1);
        assert_eq!(parsed.files[0].path, BRICK_SCRIPT_PATH);
        assert_eq!(
            parsed.files[0].content,
            gluster_operator::bootstrap::BRICK_SCRIPT
        );
        assert_eq!(parsed.files[0].mode, 0o755);

        let mut params = gluster_operator::bootstrap::BrickScriptParams::new(
            BrickDevice::Volume { id: VOLUME.into() },
            "/export/vol",
        );
        params.glusterd_uuid = node.glusterd_uuid.clone();
        params.peers = node.glusterd_peers.clone();
        assert_eq!(parsed.brick.args, params.args());
        assert!(parsed.brick.args.contains(&"--glusterd-uuid".to_string()));
        assert!(parsed.brick.args.contains(&"--peer".to_string()));
        assert_eq!(
            parsed.brick.device,
            BrickDevice::Volume { id: VOLUME.into() }
        );
        assert_eq!(parsed.brick.mount_path, "/export/vol");
        assert_eq!(parsed.brick.mount_root(), "/export");
        assert!(parsed.brick.start_glusterd);

        assert!(parsed.skipped.iter().any(|s| s.starts_with("packages:")));
        assert!(parsed.skipped.iter().any(|s| s.starts_with("users[0]:")));
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }

    #[test]
    fn ephemeral_and_el_user_data() {
        let (mut node, _) = bootstrap(BrickDevice::Ephemeral);
        node.distro = DistroFamily::El;
        let parsed = parse_user_data(&rendered(&node)).unwrap();
        assert_eq!(parsed.brick.device, BrickDevice::Ephemeral);
        // The EL node installs gluster with dnf in runcmd: skipped, not run.
        assert_eq!(
            parsed
                .skipped
                .iter()
                .filter(|s| s.contains("`dnf …` not run"))
                .count(),
            2,
            "{:?}",
            parsed.skipped
        );
    }

    #[test]
    fn extra_user_data_is_reported_not_run() {
        let (mut node, _) = bootstrap(BrickDevice::Volume { id: VOLUME.into() });
        node.extra_user_data = Some(
            "runcmd:\n- [touch, /root/x]\nwrite_files:\n- {path: /opt/x, content: y}\n- {path: /etc/motd, content: hi}\ntimezone: UTC\n"
                .into(),
        );
        let parsed = parse_user_data(&rendered(&node)).unwrap();
        assert!(
            parsed
                .skipped
                .iter()
                .any(|s| s
                    == "runcmd[2]: `touch …` not run (loopback nodes run the brick script only)"),
            "{:?}",
            parsed.skipped
        );
        assert!(
            parsed
                .skipped
                .iter()
                .any(|s| s.starts_with("write_files[1]: /opt/x not written"))
        );
        assert!(
            parsed
                .skipped
                .iter()
                .any(|s| s == "timezone: not applied by loopback nodes")
        );
        assert!(parsed.files.iter().any(|f| f.path == "/etc/motd"));
    }

    #[test]
    fn bad_user_data_names_the_key() {
        let (node, _) = bootstrap(BrickDevice::Volume { id: VOLUME.into() });
        let good = rendered(&node);
        let other_host_key = SshKeyPair::generate("other").unwrap();
        let cases: Vec<(String, &str)> = vec![
            ("#!/bin/sh\necho\n".into(), "header"),
            ("#cloud-config\n- a\n".into(), "document"),
            ("#cloud-config\nusers: [\n".into(), "document"),
            (good.replace("ssh_keys:", "ssh_keys_gone:"), "ssh_keys"),
            (good.replace("runcmd:", "runcmd_gone:"), "runcmd"),
            (
                good.replace("ed25519_public:", "rsa_public:"),
                "ssh_keys.rsa_public",
            ),
            (
                good.replace(
                    node.host_key.public_key().openssh(),
                    other_host_key.public_key().openssh(),
                ),
                "ssh_keys.ed25519_public",
            ),
            (
                good.replace("name: gluster-operator", "name: Root!"),
                "users[1].name",
            ),
            (
                good.replace("- ssh-ed25519 ", "- ssh-nope "),
                "users[1].ssh_authorized_keys[0]",
            ),
            (
                good.replace("/dev/disk/by-id", "/srv/by-id"),
                "runcmd[1] --by-id-dir",
            ),
            (
                good.replace("- /export/vol", "- /var/vol"),
                "runcmd[1] --mount-path",
            ),
            (
                good.replace("- /export/vol", "- /export"),
                "runcmd[1] --mount-path",
            ),
            (
                good.replace("- --ephemeral-mount", "- --bogus"),
                "runcmd[1]",
            ),
            (
                good.replace("permissions: '0755'", "permissions: '0999'"),
                "write_files[0].permissions",
            ),
            (
                good.replace(
                    "path: /usr/local/sbin/gluster-brick-setup",
                    "path: /usr/local/sbin/other",
                ),
                "runcmd[1]",
            ),
        ];
        for (text, want) in cases {
            let err = parse_user_data(&text).unwrap_err();
            let shown = err.to_string();
            assert!(
                !shown.contains("PRIVATE KEY") && !shown.contains("b3BlbnNzaC1rZXk"),
                "{shown}"
            );
            assert_eq!(key_of(err), want, "{shown}");
        }
    }

    #[test]
    fn mount_path_rules() {
        for ok in ["/export/vol", "/data/gluster/brick1", "/srv2/x"] {
            validate_mount_path("k", ok).unwrap();
        }
        for bad in [
            "/export",
            "/var/lib/x",
            "/mnt/x",
            "/home/x",
            "/export/a b",
            "/export/../etc",
            "export/x",
        ] {
            assert!(validate_mount_path("k", bad).is_err(), "{bad}");
        }
    }
}

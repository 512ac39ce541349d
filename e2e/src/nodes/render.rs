//! The files a loopback node gets besides its user-data's (pure): its sshd configuration, its
//! glusterd volfile bound to its address, the init script `service glusterd start` runs, its
//! fstab, hosts and sudoers.

use std::net::Ipv4Addr;

use gluster_operator::bootstrap::AuthorizedKey;

use super::user_data::UserSpec;

/// The node's `/etc/ssh/sshd_config`: its own address only, the user-data's host key only, public
/// keys only, the user-data's users only.
pub fn sshd_config(address: Ipv4Addr, users: &[UserSpec]) -> String {
    let allowed: Vec<&str> = users
        .iter()
        .filter(|u| !u.authorized_keys.is_empty())
        .map(|u| u.name.as_str())
        .collect();
    // With no user to let in, a name no account can have keeps everyone out.
    let allow = if allowed.is_empty() {
        "no-user-in-user-data".to_string()
    } else {
        allowed.join(" ")
    };
    format!(
        "# sshd of this loopback node (e2e): the address, host key, users and keys of its user-data.
ListenAddress {address}:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PermitEmptyPasswords no
# No PAM: nothing but the authorized keys decides; accounts have no password at all.
UsePAM no
AllowUsers {allow}
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
"
    )
}

/// The node's `/etc/glusterfs/glusterd.vol`: the packaged settings with glusterd (and through it
/// the bricks, self-heal and other daemons it starts) bound to the node's address. The working
/// and run directories and the socket are the defaults, which are the node's own (its
/// `/var/lib/glusterd` and `/run` are private); they are spelt out here.
pub fn glusterd_vol(address: Ipv4Addr) -> String {
    format!(
        "# glusterd of this loopback node (e2e): bound to {address}.
volume management
    type mgmt/glusterd
    option working-directory /var/lib/glusterd
    option run-directory /var/run/gluster
    option glusterd-sockfile /var/run/glusterd.socket
    option transport-type socket
    option transport.socket.bind-address {address}
    option transport.socket.listen-port 24007
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option max-port 60999
end-volume
"
    )
}

/// Where the node's glusterd writes its PID.
pub const GLUSTERD_PID_FILE: &str = "/run/glusterd.pid";

/// The node's `/etc/init.d/glusterd`. There is no systemd here, so the brick script's
/// `--start-glusterd` falls back to `service glusterd start`, which runs this: glusterd with
/// the options of the packaged systemd unit (and `/etc/default/glusterd`), reading the node's
/// `glusterd.vol`. glusterd daemonizes once it listens.
pub const GLUSTERD_INIT_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          glusterd
# Required-Start:    $local_fs $network
# Required-Stop:     $local_fs $network
# Short-Description: GlusterFS management daemon (e2e loopback node)
### END INIT INFO
# Written by the e2e loopback nodes: glusterd as the packaged systemd unit starts it.
PIDFILE=/run/glusterd.pid
LOG_LEVEL=INFO
GLUSTERD_OPTIONS=
# shellcheck source=/dev/null # the packaged defaults, if any
[ -r /etc/default/glusterd ] && . /etc/default/glusterd

running() {
    [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

case "$1" in
start)
    if running; then
        echo "glusterd is already running"
        exit 0
    fi
    # shellcheck disable=SC2086 # GLUSTERD_OPTIONS holds several words
    /usr/sbin/glusterd -p "$PIDFILE" --log-level "$LOG_LEVEL" $GLUSTERD_OPTIONS
    ;;
stop)
    if running; then
        kill "$(cat "$PIDFILE")"
    fi
    ;;
restart)
    "$0" stop
    while running; do sleep 1; done
    "$0" start
    ;;
status)
    if running; then
        echo "glusterd is running"
        exit 0
    fi
    echo "glusterd is not running"
    exit 3
    ;;
*)
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
    ;;
esac
"#;

/// The node's `/etc/fstab` as the image and cloud-init leave it: nothing but, with an ephemeral
/// disk, cloud-init's line mounting it at `/mnt`.
pub fn fstab(hostname: &str, ephemeral_device: Option<&str>) -> String {
    let mut out = format!("# /etc/fstab of loopback node {hostname} (e2e)\n");
    if let Some(device) = ephemeral_device {
        out.push_str(&format!(
            "{device}\t/mnt\tauto\tdefaults,nofail,x-systemd.after=cloud-init.service,comment=cloudconfig\t0\t2\n"
        ));
    }
    out
}

/// The node's `/etc/hosts`: its name resolves to its address (sudo looks it up).
pub fn hosts(address: Ipv4Addr, hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{address}\t{hostname}\n"
    )
}

/// Where cloud-init writes the users' sudo rules.
pub const SUDOERS_PATH: &str = "/etc/sudoers.d/90-cloud-init-users";

/// The sudo rules of the user-data's users, as cloud-init writes them, or `None` when there are
/// none.
pub fn sudoers(users: &[UserSpec]) -> Option<String> {
    let mut out = String::from(
        "# Created by the e2e loopback node from the user-data (as cloud-init does)\n",
    );
    let mut any = false;
    for user in users.iter().filter(|u| !u.sudo.is_empty()) {
        out.push_str(&format!("\n# User rules for {}\n", user.name));
        for rule in &user.sudo {
            out.push_str(&format!("{} {rule}\n", user.name));
        }
        any = true;
    }
    any.then_some(out)
}

/// The `authorized_keys` of a user.
pub fn authorized_keys(user: &UserSpec) -> String {
    user.authorized_keys
        .iter()
        .map(|k| format!("{}\n", k.openssh()))
        .collect()
}

/// A `known_hosts` line pinning the node's host key at its address.
pub fn known_hosts_line(address: Ipv4Addr, host_key: &AuthorizedKey) -> String {
    let mut fields = host_key.openssh().split(' ');
    let algorithm = fields.next().unwrap_or_default();
    let key = fields.next().unwrap_or_default();
    format!("{address} {algorithm} {key}")
}

#[cfg(test)]
mod tests {
    use gluster_operator::bootstrap::SshKeyPair;

    use super::*;

    fn user(name: &str, sudo: &[&str], keys: usize) -> UserSpec {
        UserSpec {
            name: name.into(),
            gecos: None,
            shell: "/bin/sh".into(),
            sudo: sudo.iter().map(|s| s.to_string()).collect(),
            authorized_keys: (0..keys)
                .map(|i| {
                    SshKeyPair::generate(&format!("k{i}"))
                        .unwrap()
                        .public_key()
                        .clone()
                })
                .collect(),
        }
    }

    #[test]
    fn sshd_listens_on_the_address_with_one_host_key_and_keys_only() {
        let cfg = sshd_config(
            Ipv4Addr::new(127, 100, 0, 3),
            &[user("gluster-operator", &[], 1), user("nokeys", &[], 0)],
        );
        assert!(cfg.contains("\nListenAddress 127.100.0.3:22\n"));
        assert_eq!(cfg.matches("HostKey ").count(), 1);
        assert!(cfg.contains("\nPasswordAuthentication no\n"));
        assert!(cfg.contains("\nAllowUsers gluster-operator\n"));
        let nobody = sshd_config(Ipv4Addr::new(127, 100, 0, 3), &[]);
        assert!(nobody.contains("\nAllowUsers no-user-in-user-data\n"));
    }

    #[test]
    fn glusterd_binds_the_address() {
        let vol = glusterd_vol(Ipv4Addr::new(127, 100, 0, 7));
        assert!(vol.contains("option transport.socket.bind-address 127.100.0.7\n"));
        assert!(vol.starts_with("# glusterd"));
        assert!(vol.ends_with("end-volume\n"));
    }

    #[test]
    fn fstab_hosts_sudoers_known_hosts() {
        assert_eq!(
            fstab("n1", None),
            "# /etc/fstab of loopback node n1 (e2e)\n"
        );
        assert!(fstab("n1", Some("/dev/loop4")).contains("\n/dev/loop4\t/mnt\tauto\t"));
        assert!(hosts(Ipv4Addr::new(127, 100, 0, 2), "n2").ends_with("\n127.100.0.2\tn2\n"));
        assert_eq!(sudoers(&[user("a", &[], 1)]), None);
        let s = sudoers(&[user(
            "gluster-operator",
            &["ALL=(root) NOPASSWD: /usr/sbin/gluster"],
            1,
        )])
        .unwrap();
        assert!(s.ends_with("\ngluster-operator ALL=(root) NOPASSWD: /usr/sbin/gluster\n"));
        let u = user("a", &[], 2);
        assert_eq!(authorized_keys(&u).lines().count(), 2);
        let line = known_hosts_line(Ipv4Addr::new(127, 100, 0, 2), &u.authorized_keys[0]);
        assert!(line.starts_with("127.100.0.2 ssh-ed25519 AAAA"), "{line}");
        assert_eq!(line.split(' ').count(), 3);
    }
}

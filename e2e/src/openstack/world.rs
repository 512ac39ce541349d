//! The simulated cloud's state: tokens, servers, ports, volumes, snapshots, key pairs and
//! security groups. Plain data with no I/O; the API handlers read and change it under one lock,
//! the life-cycle tasks move it through its timed transitions.

use super::config::{Derived, SimConfig};
use super::ipam::Pool;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// An issued Keystone token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Scoped to the project (carries a catalog) or unscoped.
    pub scoped: bool,
    pub methods: Vec<&'static str>,
    pub application_credential: bool,
    /// Issued to the administrator (role `admin`).
    pub admin: bool,
    pub audit_id: String,
}

/// Nova's server status as the simulator tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerStatus {
    Build,
    Active,
    Error,
}

/// A Nova block device mapping for an attached (or attaching) volume.
#[derive(Debug, Clone)]
pub(crate) struct Bdm {
    pub volume_id: String,
    pub device: String,
    pub attachment_id: String,
    pub bdm_uuid: String,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

/// A server's fault, shown when it is in ERROR.
#[derive(Debug, Clone)]
pub(crate) struct ServerFault {
    pub code: u16,
    pub message: String,
    pub created: DateTime<Utc>,
}

/// A Nova server.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub seq: u64,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub flavor_id: String,
    pub image_id: String,
    pub availability_zone: String,
    /// The zone the request named (Nova's `pinned_availability_zone`), if any.
    pub requested_zone: Option<String>,
    /// Networks asked for (indexes into the configured networks).
    pub networks: Vec<usize>,
    /// Security group names (as Nova reports them).
    pub security_groups: Vec<String>,
    /// The same groups' Neutron IDs (the server's ports carry them).
    pub security_group_ids: Vec<String>,
    pub key_name: Option<String>,
    pub user_data: Option<Vec<u8>>,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub status: ServerStatus,
    pub task_state: Option<&'static str>,
    pub deleting: bool,
    /// The fault to end in, decided at create time by the fault rules.
    pub doomed: Option<String>,
    pub fault: Option<ServerFault>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
    pub ports: Vec<String>,
    /// Ports the request named (made through Neutron beforehand), bound at build.
    pub requested_ports: Vec<String>,
    pub bdms: Vec<Bdm>,
    /// Whether the boot hook saw this server become active (so it must see it deleted).
    pub hooked: bool,
    /// Serialises this server's timed transitions (build, delete, attach, detach).
    pub lifecycle: Arc<tokio::sync::Mutex<()>>,
}

/// A Neutron port: made by Nova for a server (deleted with it), or through Neutron's API
/// (kept when its server is deleted, as Nova does with a port it did not make).
#[derive(Debug, Clone)]
pub(crate) struct Port {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Whether Nova made it (for a server's `networks: [{uuid}]`).
    pub nova_made: bool,
    pub network: usize,
    pub ip: Ipv4Addr,
    pub mac: String,
    pub device_id: String,
    pub device_owner: String,
    pub status: &'static str,
    pub security_groups: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revision: u64,
}

/// A Cinder volume attachment (present once the attach completed).
#[derive(Debug, Clone)]
pub(crate) struct VolumeAttachment {
    pub attachment_id: String,
    pub server_id: String,
    pub device: String,
    pub attached_at: DateTime<Utc>,
}

/// A Cinder volume.
#[derive(Debug, Clone)]
pub(crate) struct Volume {
    pub seq: u64,
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: u64,
    pub availability_zone: String,
    pub volume_type: String,
    pub source_volid: Option<String>,
    pub snapshot_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub status: &'static str,
    pub attachment: Option<VolumeAttachment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A Cinder snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub seq: u64,
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_id: String,
    pub size: u64,
    pub metadata: BTreeMap<String, String>,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A Nova key pair.
#[derive(Debug, Clone)]
pub(crate) struct Keypair {
    pub id: u64,
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// A Neutron security group.
#[derive(Debug, Clone)]
pub(crate) struct SecurityGroup {
    pub seq: u64,
    pub id: String,
    pub name: String,
    pub description: String,
    pub stateful: bool,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revision: u64,
}

/// A Neutron security group rule.
#[derive(Debug, Clone)]
pub(crate) struct SgRule {
    pub seq: u64,
    pub id: String,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<u16>,
    pub port_range_max: Option<u16>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// Everything the simulated cloud holds. Not `Debug`: it holds the issued tokens.
pub(crate) struct World {
    pub config: Arc<SimConfig>,
    pub tokens: HashMap<String, Token>,
    pub servers: BTreeMap<String, Server>,
    pub ports: BTreeMap<String, Port>,
    pub volumes: BTreeMap<String, Volume>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub keypairs: BTreeMap<String, Keypair>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub sg_rules: BTreeMap<String, SgRule>,
    pub pools: Vec<Pool>,
    seq: u64,
}

/// A fresh UUID string.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh Keystone-style ID (32 hex digits).
pub(crate) fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl World {
    pub(crate) fn new(config: Arc<SimConfig>, derived: &Derived) -> Self {
        let pools = derived
            .pools
            .iter()
            .map(|(_, start, end)| Pool::new(*start, *end))
            .collect();
        let mut world = World {
            config,
            tokens: HashMap::new(),
            servers: BTreeMap::new(),
            ports: BTreeMap::new(),
            volumes: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            keypairs: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            sg_rules: BTreeMap::new(),
            pools,
            seq: 0,
        };
        world.create_default_security_group();
        world
    }

    /// The next sequence number (creation order; lists sort by it).
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Neutron makes a `default` group per project: ingress from members of the group itself,
    /// egress anywhere, both address families.
    fn create_default_security_group(&mut self) {
        let now = Utc::now();
        let id = new_id();
        let seq = self.next_seq();
        self.security_groups.insert(
            id.clone(),
            SecurityGroup {
                seq,
                id: id.clone(),
                name: "default".into(),
                description: "Default security group".into(),
                stateful: true,
                tags: vec![],
                created_at: now,
                updated_at: now,
                revision: 1,
            },
        );
        for (direction, remote_group) in [("ingress", Some(id.clone())), ("egress", None)] {
            for ethertype in ["IPv4", "IPv6"] {
                self.add_rule_unchecked(&id, direction, ethertype, remote_group.clone());
            }
        }
    }

    /// Adds a rule without any protocol/port (the implicit ones of a new group).
    pub(crate) fn add_rule_unchecked(
        &mut self,
        sg_id: &str,
        direction: &str,
        ethertype: &str,
        remote_group_id: Option<String>,
    ) {
        let seq = self.next_seq();
        let rule = SgRule {
            seq,
            id: new_id(),
            security_group_id: sg_id.to_string(),
            direction: direction.into(),
            ethertype: ethertype.into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id,
            description: String::new(),
            created_at: Utc::now(),
        };
        self.sg_rules.insert(rule.id.clone(), rule);
    }

    /// Looks a token up; `None` when unknown or expired (expired ones are forgotten).
    pub(crate) fn valid_token(&mut self, token: &str, now: DateTime<Utc>) -> Option<Token> {
        match self.tokens.get(token) {
            Some(t) if t.expires_at > now => Some(t.clone()),
            Some(_) => {
                self.tokens.remove(token);
                None
            }
            None => None,
        }
    }

    /// Servers, cores and RAM (MiB) in use (every server not yet gone counts, ERROR ones too).
    pub(crate) fn compute_usage(&self) -> (u64, u64, u64) {
        let mut usage = (0, 0, 0);
        for s in self.servers.values() {
            usage.0 += 1;
            if let Some(f) = self.config.flavors.iter().find(|f| f.id == s.flavor_id) {
                usage.1 += f.vcpus;
                usage.2 += f.ram_mib;
            }
        }
        usage
    }

    /// Volumes and gigabytes in use.
    pub(crate) fn volume_usage(&self) -> (u64, u64) {
        let count = self.volumes.len() as u64;
        let gb = self.volumes.values().map(|v| v.size).sum::<u64>()
            + self.snapshots.values().map(|s| s.size).sum::<u64>();
        (count, gb)
    }

    /// Allocates a port on network `net` for `server_id`; `None` when the pool is exhausted.
    pub(crate) fn allocate_port(
        &mut self,
        net: usize,
        server_id: &str,
        az: &str,
        security_groups: Vec<String>,
    ) -> Option<String> {
        let ip = self.pools.get_mut(net)?.allocate()?;
        let o = ip.octets();
        let now = Utc::now();
        let port = Port {
            id: new_id(),
            name: String::new(),
            description: String::new(),
            nova_made: true,
            network: net,
            ip,
            mac: format!("fa:16:3e:{:02x}:{:02x}:{:02x}", o[1], o[2], o[3]),
            device_id: server_id.to_string(),
            device_owner: format!("compute:{az}"),
            status: "DOWN",
            security_groups,
            tags: vec![],
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        let id = port.id.clone();
        self.ports.insert(id.clone(), port);
        Some(id)
    }

    /// Creates an unbound port on network `net` (at `ip` when given); `None` when the address
    /// is taken or outside the pool, or the pool is exhausted.
    pub(crate) fn create_port(
        &mut self,
        net: usize,
        ip: Option<Ipv4Addr>,
        name: String,
        description: String,
        security_groups: Vec<String>,
    ) -> Option<String> {
        let pool = self.pools.get_mut(net)?;
        let ip = match ip {
            Some(ip) => pool.take(ip).then_some(ip)?,
            None => pool.allocate()?,
        };
        let o = ip.octets();
        let now = Utc::now();
        let port = Port {
            id: new_id(),
            name,
            description,
            nova_made: false,
            network: net,
            ip,
            mac: format!("fa:16:3e:{:02x}:{:02x}:{:02x}", o[1], o[2], o[3]),
            device_id: String::new(),
            device_owner: String::new(),
            status: "DOWN",
            security_groups,
            tags: vec![],
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        let id = port.id.clone();
        self.ports.insert(id.clone(), port);
        Some(id)
    }

    /// A server lets go of its port: one Nova made is deleted (its address freed), one made
    /// through Neutron is unbound and kept.
    pub(crate) fn let_go_of_port(&mut self, port_id: &str) {
        match self.ports.get_mut(port_id) {
            Some(p) if !p.nova_made => {
                p.device_id.clear();
                p.device_owner.clear();
                p.status = "DOWN";
                p.updated_at = Utc::now();
                p.revision += 1;
            }
            Some(_) => self.release_port(port_id),
            None => {}
        }
    }

    /// Deletes a port and frees its address.
    pub(crate) fn release_port(&mut self, port_id: &str) {
        if let Some(p) = self.ports.remove(port_id)
            && let Some(pool) = self.pools.get_mut(p.network)
        {
            pool.release(p.ip);
        }
    }

    /// A server's fixed addresses by network name, in port order.
    pub(crate) fn server_addresses(&self, server: &Server) -> Vec<(String, Ipv4Addr, String)> {
        server
            .ports
            .iter()
            .filter_map(|pid| self.ports.get(pid))
            .filter_map(|p| {
                let net = self.config.networks.get(p.network)?;
                Some((net.name.clone(), p.ip, p.mac.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        let c = SimConfig::default();
        let d = c.derive().expect("valid");
        World::new(Arc::new(c), &d)
    }

    #[test]
    fn default_group_exists_with_four_rules() {
        let w = world();
        let sg = w.security_groups.values().next().expect("default group");
        assert_eq!(sg.name, "default");
        assert_eq!(w.sg_rules.len(), 4);
    }

    #[test]
    fn ports_take_and_give_back_addresses() {
        let mut w = world();
        let p1 = w.allocate_port(0, "s1", "zone-a", vec![]).expect("port");
        let p2 = w.allocate_port(0, "s2", "zone-a", vec![]).expect("port");
        assert_eq!(w.ports[&p1].ip, Ipv4Addr::new(127, 100, 0, 10));
        assert_eq!(w.ports[&p2].ip, Ipv4Addr::new(127, 100, 0, 11));
        w.release_port(&p1);
        let p3 = w.allocate_port(0, "s3", "zone-a", vec![]).expect("port");
        assert_eq!(w.ports[&p3].ip, Ipv4Addr::new(127, 100, 0, 10));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let mut w = world();
        let now = Utc::now();
        w.tokens.insert(
            "t".into(),
            Token {
                issued_at: now,
                expires_at: now + chrono::Duration::seconds(1),
                scoped: true,
                methods: vec!["password"],
                application_credential: false,
                admin: false,
                audit_id: "a".into(),
            },
        );
        assert!(w.valid_token("t", now).is_some());
        assert!(
            w.valid_token("t", now + chrono::Duration::seconds(2))
                .is_none()
        );
        assert!(w.valid_token("t", now).is_none(), "forgotten once expired");
    }
}

//! The simulator's configuration: the world it starts with (identity, zones, flavors, images,
//! networks, quotas), how long things take, which microversions it serves and which faults it
//! injects. Read from YAML or JSON; every field has a default, and [`SimConfig::default`] is the
//! default world of docs/design.md, "The local world".

use super::error::SimError;
use super::faults::FaultConfig;
use super::microversion::ApiVersion;
use super::secret::Secret;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

/// The whole configuration (file format: YAML or JSON, every key optional).
///
/// ```yaml
/// identity: { password: s3cret, token_ttl_secs: 60 }
/// timing: { server_build_ms: 50 }
/// faults:
///   seed: 7
///   http:
///     - { method: POST, path: /compute/v2.1/servers, action: { kind: error, status: 503 }, times: 1 }
///   servers:
///     - { name_regex: "^doomed-", message: "No valid host was found." }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Region of every catalog endpoint.
    pub region: String,
    /// Keystone: domain, project, user, application credential, token lifetime.
    pub identity: IdentityConfig,
    /// Availability zones (Nova's; those with `block_storage` are Cinder's too).
    pub zones: Vec<ZoneConfig>,
    /// Nova flavors.
    pub flavors: Vec<FlavorConfig>,
    /// Glance images.
    pub images: Vec<ImageConfig>,
    /// Neutron networks, each with one IPv4 subnet.
    pub networks: Vec<NetworkConfig>,
    /// Cinder volume types; the first is the default.
    pub volume_types: Vec<String>,
    /// Project quotas.
    pub quotas: QuotaConfig,
    /// Delays of the asynchronous state transitions.
    pub timing: TimingConfig,
    /// Microversion ranges served by Nova and Cinder.
    pub microversions: MicroversionConfig,
    /// Faults injected from the start (more can be added at run time).
    pub faults: FaultConfig,
}

/// Keystone's single domain, project, user and application credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Domain ID (Keystone's default domain is `default`).
    pub domain_id: String,
    /// Domain name.
    pub domain_name: String,
    /// Project ID (32 hex digits, as Keystone makes them).
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// User ID.
    pub user_id: String,
    /// User name.
    pub username: String,
    /// The user's password.
    pub password: Secret,
    /// The one application credential (of the user, on the project).
    pub application_credential: AppCredentialConfig,
    /// The administrator: a second user with the `admin` role on the project. Nova shows its
    /// tokens the admin-only server fields (`OS-EXT-SRV-ATTR:user_data` and the host fields
    /// at microversion 2.3 and later).
    pub admin: AdminUserConfig,
    /// Lifetime of issued tokens, in seconds.
    pub token_ttl_secs: u64,
}

/// The administrator user (same domain and project as the user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminUserConfig {
    /// User ID.
    pub user_id: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: Secret,
}

impl Default for AdminUserConfig {
    fn default() -> Self {
        AdminUserConfig {
            user_id: "5e6f708192a34b5c8d9eafb0c1d2e3f4".into(),
            username: "sim-admin".into(),
            password: Secret::new("sim-admin-password"),
        }
    }
}

/// An application credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppCredentialConfig {
    /// ID (32 hex digits).
    pub id: String,
    /// Name (unique per user).
    pub name: String,
    /// Secret.
    pub secret: Secret,
}

/// An availability zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone name.
    pub name: String,
    /// Whether Cinder serves this zone (volumes can be created in it).
    #[serde(default = "yes")]
    pub block_storage: bool,
}

/// A Nova flavor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorConfig {
    /// Flavor ID.
    pub id: String,
    /// Flavor name.
    pub name: String,
    /// Virtual CPUs.
    pub vcpus: u64,
    /// Memory in MiB.
    pub ram_mib: u64,
    /// Root disk in GiB.
    #[serde(default)]
    pub disk_gb: u64,
    /// Ephemeral disk in GiB (`OS-FLV-EXT-DATA:ephemeral`).
    #[serde(default)]
    pub ephemeral_gb: u64,
    /// Swap in MiB.
    #[serde(default)]
    pub swap_mib: u64,
}

/// A Glance image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Image ID (a UUID).
    pub id: String,
    /// Image name.
    pub name: String,
    /// Minimum root disk in GiB.
    #[serde(default)]
    pub min_disk_gb: u64,
    /// Size of the image data in bytes.
    #[serde(default = "default_image_size")]
    pub size_bytes: u64,
}

/// A Neutron network with one IPv4 subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Network ID (a UUID).
    pub id: String,
    /// Network name (servers' `addresses` are keyed by it).
    pub name: String,
    /// Its subnet.
    pub subnet: SubnetConfig,
}

/// An IPv4 subnet. Addresses are allocated lowest-free-first from the allocation pool, so the
/// same sequence of creates always yields the same addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// Subnet ID (a UUID).
    pub id: String,
    /// Subnet name.
    pub name: String,
    /// CIDR, e.g. `127.100.0.0/16`.
    pub cidr: String,
    /// Gateway; none by default (a loopback subnet has no router).
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// First address handed out (default: the subnet's tenth address).
    #[serde(default)]
    pub allocation_start: Option<String>,
    /// Last address handed out (default: the last before broadcast).
    #[serde(default)]
    pub allocation_end: Option<String>,
}

/// Project quotas (Nova: instances, cores, RAM, key pairs; Cinder: volumes, gigabytes, snapshots).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Servers.
    pub instances: u64,
    /// vCPUs over all servers.
    pub cores: u64,
    /// RAM over all servers, MiB.
    pub ram_mib: u64,
    /// Key pairs per user.
    pub key_pairs: u64,
    /// Volumes.
    pub volumes: u64,
    /// Gigabytes over all volumes.
    pub gigabytes: u64,
    /// Snapshots.
    pub snapshots: u64,
}

/// Delays of the asynchronous transitions, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimingConfig {
    /// BUILD → ACTIVE (or ERROR).
    pub server_build_ms: u64,
    /// DELETE → gone.
    pub server_delete_ms: u64,
    /// creating → available (or error).
    pub volume_create_ms: u64,
    /// deleting → gone.
    pub volume_delete_ms: u64,
    /// attaching → in-use.
    pub volume_attach_ms: u64,
    /// detaching → available.
    pub volume_detach_ms: u64,
    /// Snapshot creating → available, deleting → gone.
    pub snapshot_ms: u64,
}

/// Microversion ranges (`X.Y` strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicroversionConfig {
    /// Nova minimum.
    pub compute_min: String,
    /// Nova maximum.
    pub compute_max: String,
    /// Cinder minimum.
    pub volume_min: String,
    /// Cinder maximum.
    pub volume_max: String,
}

fn yes() -> bool {
    true
}

fn default_image_size() -> u64 {
    // A cloud image's size, order of magnitude.
    600 * 1024 * 1024
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            region: "RegionOne".into(),
            identity: IdentityConfig::default(),
            zones: vec![
                ZoneConfig {
                    name: "zone-a".into(),
                    block_storage: true,
                },
                ZoneConfig {
                    name: "zone-b".into(),
                    block_storage: true,
                },
                ZoneConfig {
                    name: "zone-c".into(),
                    block_storage: false,
                },
            ],
            flavors: vec![
                flavor("2", "m1.small", 1, 2048, 20, 0),
                flavor("3", "m1.medium", 2, 4096, 40, 0),
                flavor("5", "m1.xlarge", 8, 16384, 160, 100),
            ],
            images: vec![
                ImageConfig {
                    id: "5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21".into(),
                    name: "ubuntu-22.04".into(),
                    min_disk_gb: 0,
                    size_bytes: default_image_size(),
                },
                ImageConfig {
                    id: "a3c9d7e2-1b4f-4e8a-8c6d-9f0e1d2c3b45".into(),
                    name: "debian-12".into(),
                    min_disk_gb: 0,
                    size_bytes: default_image_size(),
                },
            ],
            networks: vec![NetworkConfig {
                id: "6f2c8e1a-4b3d-4c5e-9a7f-0d1e2f3a4b5c".into(),
                name: "private".into(),
                subnet: SubnetConfig {
                    id: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b".into(),
                    name: "private-subnet".into(),
                    cidr: "127.100.0.0/16".into(),
                    gateway_ip: None,
                    allocation_start: None,
                    allocation_end: None,
                },
            }],
            volume_types: vec!["__DEFAULT__".into()],
            quotas: QuotaConfig::default(),
            timing: TimingConfig::default(),
            microversions: MicroversionConfig::default(),
            faults: FaultConfig::default(),
        }
    }
}

fn flavor(
    id: &str,
    name: &str,
    vcpus: u64,
    ram_mib: u64,
    disk_gb: u64,
    ephemeral_gb: u64,
) -> FlavorConfig {
    FlavorConfig {
        id: id.into(),
        name: name.into(),
        vcpus,
        ram_mib,
        disk_gb,
        ephemeral_gb,
        swap_mib: 0,
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            domain_id: "default".into(),
            domain_name: "Default".into(),
            project_id: "3f0f6b3a1c1e4c6e9d3f5a7b9c1d2e4f".into(),
            project_name: "demo".into(),
            user_id: "0a1b2c3d4e5f40718293a4b5c6d7e8f9".into(),
            username: "admin".into(),
            password: Secret::new("sim-password"),
            application_credential: AppCredentialConfig::default(),
            admin: AdminUserConfig::default(),
            token_ttl_secs: 3600,
        }
    }
}

impl Default for AppCredentialConfig {
    fn default() -> Self {
        AppCredentialConfig {
            id: "7c6d5e4f3a2b41c0b9a8f7e6d5c4b3a2".into(),
            name: "gluster-operator".into(),
            secret: Secret::new("sim-appcred-secret"),
        }
    }
}

impl Default for QuotaConfig {
    fn default() -> Self {
        // Large enough for 64 servers of the largest default flavor, each with a brick volume.
        QuotaConfig {
            instances: 64,
            cores: 64 * 8,
            ram_mib: 64 * 16384,
            key_pairs: 100,
            volumes: 128,
            gigabytes: 64 * 1024,
            snapshots: 64,
        }
    }
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            server_build_ms: 1000,
            server_delete_ms: 300,
            volume_create_ms: 300,
            volume_delete_ms: 300,
            volume_attach_ms: 300,
            volume_detach_ms: 300,
            snapshot_ms: 300,
        }
    }
}

impl TimingConfig {
    /// Every delay set to `ms` (tests use a few milliseconds).
    pub fn uniform(ms: u64) -> Self {
        TimingConfig {
            server_build_ms: ms,
            server_delete_ms: ms,
            volume_create_ms: ms,
            volume_delete_ms: ms,
            volume_attach_ms: ms,
            volume_detach_ms: ms,
            snapshot_ms: ms,
        }
    }
}

impl Default for MicroversionConfig {
    fn default() -> Self {
        MicroversionConfig {
            compute_min: "2.1".into(),
            compute_max: "2.96".into(),
            volume_min: "3.0".into(),
            volume_max: "3.71".into(),
        }
    }
}

/// The parts of a configuration that are derived once it is validated.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub compute_min: ApiVersion,
    pub compute_max: ApiVersion,
    pub volume_min: ApiVersion,
    pub volume_max: ApiVersion,
    /// Per network (same order as `networks`): subnet, first and last allocatable address.
    pub pools: Vec<(Ipv4Net, Ipv4Addr, Ipv4Addr)>,
}

impl SimConfig {
    /// Reads a YAML or JSON configuration file.
    pub fn from_file(path: &Path) -> Result<SimConfig, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        serde_yaml::from_str(&text).map_err(|source| SimError::ParseConfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks the configuration; the error names the offending field.
    pub fn validate(&self) -> Result<(), SimError> {
        self.derive().map(|_| ())
    }

    pub(crate) fn derive(&self) -> Result<Derived, SimError> {
        let id = &self.identity;
        for (field, value) in [
            ("identity.domain_id", &id.domain_id),
            ("identity.domain_name", &id.domain_name),
            ("identity.project_id", &id.project_id),
            ("identity.project_name", &id.project_name),
            ("identity.user_id", &id.user_id),
            ("identity.username", &id.username),
            ("identity.admin.user_id", &id.admin.user_id),
            ("identity.admin.username", &id.admin.username),
            (
                "identity.application_credential.id",
                &id.application_credential.id,
            ),
            (
                "identity.application_credential.name",
                &id.application_credential.name,
            ),
            ("region", &self.region),
        ] {
            if value.trim().is_empty() {
                return Err(SimError::config(field, "must not be empty"));
            }
        }
        if id.password.expose().is_empty() {
            return Err(SimError::config("identity.password", "must not be empty"));
        }
        if id.admin.password.expose().is_empty() {
            return Err(SimError::config(
                "identity.admin.password",
                "must not be empty",
            ));
        }
        if id.admin.username == id.username || id.admin.user_id == id.user_id {
            return Err(SimError::config(
                "identity.admin",
                "the administrator must be a user of its own (name and ID)",
            ));
        }
        if id.application_credential.secret.expose().is_empty() {
            return Err(SimError::config(
                "identity.application_credential.secret",
                "must not be empty",
            ));
        }
        if id.token_ttl_secs == 0 {
            return Err(SimError::config(
                "identity.token_ttl_secs",
                "must be at least 1",
            ));
        }
        if self.zones.is_empty() {
            return Err(SimError::config(
                "zones",
                "at least one availability zone is needed",
            ));
        }
        unique(self.zones.iter().map(|z| z.name.as_str()), "zones", "name")?;
        unique(self.flavors.iter().map(|f| f.id.as_str()), "flavors", "id")?;
        unique(
            self.flavors.iter().map(|f| f.name.as_str()),
            "flavors",
            "name",
        )?;
        for (i, f) in self.flavors.iter().enumerate() {
            if f.vcpus == 0 || f.ram_mib == 0 {
                return Err(SimError::config(
                    format!("flavors[{i}]"),
                    "vcpus and ram_mib must be at least 1",
                ));
            }
        }
        unique(self.images.iter().map(|x| x.id.as_str()), "images", "id")?;
        if self.volume_types.is_empty() {
            return Err(SimError::config(
                "volume_types",
                "at least one volume type is needed",
            ));
        }
        unique(
            self.networks.iter().map(|n| n.id.as_str()),
            "networks",
            "id",
        )?;
        unique(
            self.networks.iter().map(|n| n.name.as_str()),
            "networks",
            "name",
        )?;
        let pools = self
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| subnet_pool(&n.subnet, &format!("networks[{i}].subnet")))
            .collect::<Result<Vec<_>, _>>()?;
        let mv = |field: &str, s: &str| {
            ApiVersion::parse(s)
                .ok_or_else(|| SimError::config(field, format!("{s:?} is not a microversion X.Y")))
        };
        let m = &self.microversions;
        let derived = Derived {
            compute_min: mv("microversions.compute_min", &m.compute_min)?,
            compute_max: mv("microversions.compute_max", &m.compute_max)?,
            volume_min: mv("microversions.volume_min", &m.volume_min)?,
            volume_max: mv("microversions.volume_max", &m.volume_max)?,
            pools,
        };
        if derived.compute_min > derived.compute_max {
            return Err(SimError::config(
                "microversions.compute_min",
                "is above compute_max",
            ));
        }
        if derived.volume_min > derived.volume_max {
            return Err(SimError::config(
                "microversions.volume_min",
                "is above volume_max",
            ));
        }
        self.faults.validate("faults")?;
        Ok(derived)
    }
}

fn unique<'a>(
    values: impl Iterator<Item = &'a str>,
    list: &str,
    key: &str,
) -> Result<(), SimError> {
    let mut seen = BTreeSet::new();
    for (i, v) in values.enumerate() {
        if v.trim().is_empty() {
            return Err(SimError::config(
                format!("{list}[{i}].{key}"),
                "must not be empty",
            ));
        }
        if !seen.insert(v) {
            return Err(SimError::config(
                format!("{list}[{i}].{key}"),
                format!("{v:?} appears twice"),
            ));
        }
    }
    Ok(())
}

/// Parses a subnet and its allocation pool. The pool must lie inside the subnet and must not
/// contain 127.0.0.1 (the host's own loopback address, which a simulated node must never get).
fn subnet_pool(s: &SubnetConfig, field: &str) -> Result<(Ipv4Net, Ipv4Addr, Ipv4Addr), SimError> {
    let net: Ipv4Net = s
        .cidr
        .parse()
        .map_err(|e| SimError::config(format!("{field}.cidr"), format!("{:?}: {e}", s.cidr)))?;
    if net != net.trunc() {
        return Err(SimError::config(
            format!("{field}.cidr"),
            format!("{} has host bits set", s.cidr),
        ));
    }
    if net.prefix_len() > 30 {
        return Err(SimError::config(
            format!("{field}.cidr"),
            "prefix must be /30 or shorter",
        ));
    }
    let addr = |key: &str, v: &Option<String>, default: Ipv4Addr| -> Result<Ipv4Addr, SimError> {
        match v {
            None => Ok(default),
            Some(text) => {
                let a: Ipv4Addr = text.parse().map_err(|e| {
                    SimError::config(format!("{field}.{key}"), format!("{text:?}: {e}"))
                })?;
                if !net.contains(&a) {
                    return Err(SimError::config(
                        format!("{field}.{key}"),
                        format!("{a} is outside {net}"),
                    ));
                }
                Ok(a)
            }
        }
    };
    let first_host = u32::from(net.network()) + 1;
    let last_host = u32::from(net.broadcast()) - 1;
    let default_start = Ipv4Addr::from(first_host.saturating_add(9).min(last_host));
    let start = addr("allocation_start", &s.allocation_start, default_start)?;
    let end = addr(
        "allocation_end",
        &s.allocation_end,
        Ipv4Addr::from(last_host),
    )?;
    if let Some(gw) = &s.gateway_ip {
        addr("gateway_ip", &Some(gw.clone()), Ipv4Addr::UNSPECIFIED)?;
    }
    if start > end {
        return Err(SimError::config(
            format!("{field}.allocation_start"),
            "is after allocation_end",
        ));
    }
    let loopback = Ipv4Addr::new(127, 0, 0, 1);
    if start <= loopback && loopback <= end {
        return Err(SimError::config(
            format!("{field}.cidr"),
            "the allocation pool contains 127.0.0.1, which simulated servers must never get",
        ));
    }
    Ok((net, start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_is_valid_and_matches_the_design() {
        let c = SimConfig::default();
        let d = c.derive().expect("default config is valid");
        let zones: Vec<_> = c
            .zones
            .iter()
            .map(|z| (z.name.as_str(), z.block_storage))
            .collect();
        assert_eq!(
            zones,
            [("zone-a", true), ("zone-b", true), ("zone-c", false)]
        );
        let xl = c
            .flavors
            .iter()
            .find(|f| f.name == "m1.xlarge")
            .expect("m1.xlarge");
        assert_eq!((xl.vcpus, xl.ram_mib, xl.ephemeral_gb), (8, 16384, 100));
        assert_eq!(d.pools[0].1, Ipv4Addr::new(127, 100, 0, 10));
        assert!(c.quotas.instances >= 64);
    }

    #[test]
    fn yaml_overrides_only_what_it_names() {
        let c: SimConfig =
            serde_yaml::from_str("identity: {password: pw}\ntiming: {server_build_ms: 5}\n")
                .expect("parses");
        assert_eq!(c.identity.password.expose(), "pw");
        assert_eq!(c.identity.username, "admin");
        assert_eq!(c.timing.server_build_ms, 5);
        assert_eq!(
            c.timing.server_delete_ms,
            TimingConfig::default().server_delete_ms
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = serde_yaml::from_str::<SimConfig>("zonez: []").expect_err("unknown key");
        assert!(e.to_string().contains("zonez"), "{e}");
    }

    #[test]
    fn errors_name_the_field() {
        let mut c = SimConfig::default();
        c.networks[0].subnet.cidr = "127.0.0.0/8".into();
        c.validate()
            .expect("the default pool of 127.0.0.0/8 starts at 127.0.0.10");
        c.networks[0].subnet.allocation_start = Some("127.0.0.1".into());
        let e = c.validate().expect_err("pool holds 127.0.0.1");
        assert!(e.to_string().contains("networks[0].subnet.cidr"), "{e}");

        let mut c = SimConfig::default();
        c.zones.push(ZoneConfig {
            name: "zone-a".into(),
            block_storage: false,
        });
        let e = c.validate().expect_err("duplicate zone");
        assert!(e.to_string().contains("zones[3].name"), "{e}");

        let mut c = SimConfig::default();
        c.microversions.compute_max = "2".into();
        let e = c.validate().expect_err("bad microversion");
        assert!(e.to_string().contains("microversions.compute_max"), "{e}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let text = format!("{:?}", SimConfig::default());
        assert!(
            !text.contains("sim-password") && !text.contains("sim-appcred-secret"),
            "{text}"
        );
    }
}

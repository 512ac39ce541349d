//! The `clouds.yaml` the simulator writes for its clients.

use super::config::SimConfig;
use serde_yaml::{Mapping, Value};

/// Name of the password-auth cloud in the generated clouds.yaml.
pub const CLOUD_PASSWORD: &str = "sim";
/// Name of the application-credential cloud in the generated clouds.yaml.
pub const CLOUD_APPCRED: &str = "sim-appcred";
/// Name of the administrator's cloud in the admin clouds.yaml.
pub const CLOUD_ADMIN: &str = "sim-admin";

/// Renders clouds.yaml with the clouds [`CLOUD_PASSWORD`] (`password` auth, project-scoped) and
/// [`CLOUD_APPCRED`] (`v3applicationcredential` auth), both pointing at `auth_url`.
pub(crate) fn render(config: &SimConfig, auth_url: &str) -> String {
    let id = &config.identity;
    let password_auth = map([
        ("auth_url", auth_url.to_string()),
        ("username", id.username.clone()),
        ("password", id.password.expose().to_string()),
        ("user_domain_name", id.domain_name.clone()),
        ("project_name", id.project_name.clone()),
        ("project_domain_name", id.domain_name.clone()),
    ]);
    let appcred_auth = map([
        ("auth_url", auth_url.to_string()),
        (
            "application_credential_id",
            id.application_credential.id.clone(),
        ),
        (
            "application_credential_secret",
            id.application_credential.secret.expose().to_string(),
        ),
    ]);
    let mut clouds = Mapping::new();
    clouds.insert(
        CLOUD_PASSWORD.into(),
        cloud(config, "password", password_auth),
    );
    clouds.insert(
        CLOUD_APPCRED.into(),
        cloud(config, "v3applicationcredential", appcred_auth),
    );
    document(clouds)
}

/// Renders clouds.yaml with the one cloud [`CLOUD_ADMIN`]: the administrator, password auth,
/// project-scoped.
pub(crate) fn render_admin(config: &SimConfig, auth_url: &str) -> String {
    let id = &config.identity;
    let auth = map([
        ("auth_url", auth_url.to_string()),
        ("username", id.admin.username.clone()),
        ("password", id.admin.password.expose().to_string()),
        ("user_domain_name", id.domain_name.clone()),
        ("project_name", id.project_name.clone()),
        ("project_domain_name", id.domain_name.clone()),
    ]);
    let mut clouds = Mapping::new();
    clouds.insert(CLOUD_ADMIN.into(), cloud(config, "password", auth));
    document(clouds)
}

fn cloud(config: &SimConfig, auth_type: &str, auth: Mapping) -> Value {
    let mut m = Mapping::new();
    m.insert("auth_type".into(), auth_type.into());
    m.insert("auth".into(), Value::Mapping(auth));
    m.insert("region_name".into(), config.region.clone().into());
    m.insert("interface".into(), "public".into());
    m.insert("identity_api_version".into(), 3.into());
    Value::Mapping(m)
}

fn document(clouds: Mapping) -> String {
    let mut root = Mapping::new();
    root.insert("clouds".into(), Value::Mapping(clouds));
    // Serialising a mapping of strings and integers cannot fail.
    serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default()
}

fn map<const N: usize>(pairs: [(&str, String); N]) -> Mapping {
    pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), Value::from(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_clouds_point_at_the_auth_url() {
        let text = render(&SimConfig::default(), "http://127.0.0.1:1/identity/v3");
        let v: Value = serde_yaml::from_str(&text).expect("yaml");
        let sim = &v["clouds"]["sim"];
        assert_eq!(sim["auth_type"], Value::from("password"));
        assert_eq!(
            sim["auth"]["auth_url"],
            Value::from("http://127.0.0.1:1/identity/v3")
        );
        assert_eq!(sim["auth"]["project_name"], Value::from("demo"));
        let ac = &v["clouds"]["sim-appcred"];
        assert_eq!(ac["auth_type"], Value::from("v3applicationcredential"));
        assert_eq!(
            ac["auth"]["application_credential_secret"],
            Value::from("sim-appcred-secret")
        );
        assert_eq!(ac["region_name"], Value::from("RegionOne"));
        assert!(v["clouds"].get(CLOUD_ADMIN).is_none(), "no admin in {text}");
    }

    #[test]
    fn the_admin_cloud_is_the_admin_user() {
        let text = render_admin(&SimConfig::default(), "http://127.0.0.1:1/identity/v3");
        let v: Value = serde_yaml::from_str(&text).expect("yaml");
        let admin = &v["clouds"][CLOUD_ADMIN];
        assert_eq!(admin["auth"]["username"], Value::from("sim-admin"));
        assert_eq!(admin["auth"]["password"], Value::from("sim-admin-password"));
        assert_eq!(admin["auth"]["project_name"], Value::from("demo"));
    }
}

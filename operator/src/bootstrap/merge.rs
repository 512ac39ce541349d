//! Merging a user's extra cloud-config into the one the operator renders.
//!
//! Rules, predictable and strict: mappings merge key by key, recursively; lists are concatenated
//! (the operator's items first, so e.g. extra `runcmd` commands run after the brick is ready);
//! a key only the user sets is added; a key both set to different scalars (or to different
//! kinds of value) is a conflict and an error naming the key — the operator never silently
//! overrides the user, and the user cannot silently weaken what the operator needs.

use serde_yaml::{Mapping, Value};

/// A key both the operator and the extra cloud-config set, to values that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("extra user-data sets `{path}`, which the operator sets to something else")]
pub struct MergeConflict {
    /// The dotted path of the key (list items as `[i]`), e.g. `ssh_deletekeys`.
    pub path: String,
}

/// Merges `extra` into `base` by the rules of this module.
pub fn merge_into(base: &mut Mapping, extra: Mapping) -> Result<(), MergeConflict> {
    merge_mapping(base, extra, "")
}

fn merge_mapping(base: &mut Mapping, extra: Mapping, prefix: &str) -> Result<(), MergeConflict> {
    for (key, value) in extra {
        let path = match key.as_str() {
            Some(k) if prefix.is_empty() => k.to_string(),
            Some(k) => format!("{prefix}.{k}"),
            None => format!("{prefix}.{key:?}"),
        };
        match base.get_mut(&key) {
            None => {
                base.insert(key, value);
            }
            Some(existing) => merge_value(existing, value, &path)?,
        }
    }
    Ok(())
}

fn merge_value(base: &mut Value, extra: Value, path: &str) -> Result<(), MergeConflict> {
    match (base, extra) {
        (Value::Mapping(b), Value::Mapping(e)) => merge_mapping(b, e, path),
        (Value::Sequence(b), Value::Sequence(e)) => {
            b.extend(e);
            Ok(())
        }
        (b, e) if *b == e => Ok(()),
        _ => Err(MergeConflict {
            path: path.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(yaml: &str) -> Mapping {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn maps_merge_lists_append_new_keys_added() {
        let mut base = map(
            "packages: [glusterfs-server]\napt: {sources: {gluster: {source: 'ppa:a/b'}}}\nssh_pwauth: false\n",
        );
        merge_into(
            &mut base,
            map("packages: [htop]\napt: {sources: {gluster: {keyid: ABC}, other: {source: 'ppa:c/d'}}}\nssh_pwauth: false\ntimezone: UTC\n"),
        )
        .unwrap();
        assert_eq!(
            base,
            map(
                "packages: [glusterfs-server, htop]\napt: {sources: {gluster: {source: 'ppa:a/b', keyid: ABC}, other: {source: 'ppa:c/d'}}}\nssh_pwauth: false\ntimezone: UTC\n"
            )
        );
    }

    #[test]
    fn conflicting_scalars_name_the_key() {
        let mut base = map("ssh_keys: {ed25519_public: a}\nssh_deletekeys: true\n");
        let err = merge_into(&mut base, map("ssh_deletekeys: false\n")).unwrap_err();
        assert_eq!(err.path, "ssh_deletekeys");
        let err = merge_into(&mut base, map("ssh_keys: {ed25519_public: b}\n")).unwrap_err();
        assert_eq!(err.path, "ssh_keys.ed25519_public");
        let err = merge_into(&mut base, map("ssh_keys: [x]\n")).unwrap_err();
        assert_eq!(err.path, "ssh_keys");
        assert_eq!(
            err.to_string(),
            "extra user-data sets `ssh_keys`, which the operator sets to something else"
        );
    }
}

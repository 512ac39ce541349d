//! Serde helpers for the services' JSON.

use serde::{Deserialize, Deserializer};

/// Deserializes a field that the services send as `null` as well as omit: `null` becomes the
/// type's default (an empty name, no tags), as an absent field does with `#[serde(default)]`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

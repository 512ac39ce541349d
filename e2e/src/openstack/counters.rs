//! Call counters: how many calls each route received, keyed by `METHOD /route/{template}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Calls per method and route template, e.g. `"GET /compute/v2.1/servers/{id}": 3`. Calls that
/// matched no route are counted under their literal path. Admin calls (`/_sim/...`) are not
/// counted. Faulted calls are counted (the client made them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounters {
    /// The counts.
    pub calls: BTreeMap<String, u64>,
}

impl CallCounters {
    /// The key under which a call is counted.
    pub fn key(method: &str, template: &str) -> String {
        format!("{} {}", method.to_ascii_uppercase(), template)
    }

    /// Calls to `method` on `template` (0 when none).
    pub fn get(&self, method: &str, template: &str) -> u64 {
        self.calls
            .get(&Self::key(method, template))
            .copied()
            .unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    /// Calls whose route starts with `prefix` (e.g. `/compute/` for Nova), any method.
    pub fn total_under(&self, prefix: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| {
                k.split_once(' ')
                    .is_some_and(|(_, path)| path.starts_with(prefix))
            })
            .map(|(_, v)| v)
            .sum()
    }

    pub(crate) fn record(&mut self, method: &str, template: &str) {
        *self.calls.entry(Self::key(method, template)).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_method_and_template() {
        let mut c = CallCounters::default();
        c.record("get", "/compute/v2.1/servers/{id}");
        c.record("GET", "/compute/v2.1/servers/{id}");
        c.record("POST", "/volume/v3/{project_id}/volumes");
        assert_eq!(c.get("GET", "/compute/v2.1/servers/{id}"), 2);
        assert_eq!(c.get("DELETE", "/compute/v2.1/servers/{id}"), 0);
        assert_eq!(c.total(), 3);
        assert_eq!(c.total_under("/compute/"), 2);
    }
}

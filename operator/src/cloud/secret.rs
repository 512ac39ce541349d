//! [`Secret`]: a string that never shows itself in `Debug`, `Display` or logs.

use std::fmt;

use zeroize::Zeroize;

/// What `Debug` and `Display` print instead of a secret's value.
pub const REDACTED: &str = "[REDACTED]";

/// A password, application-credential secret or token. `Debug` and `Display` print
/// [`REDACTED`]; the value is only reachable through [`Secret::expose`], and it is wiped from
/// memory when dropped. It deliberately implements neither `Serialize` nor `Deserialize`, so it
/// cannot leak through a serialised struct by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send it (an auth request, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert_eq!(s.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug only
        struct Holder {
            password: Secret,
        }
        let h = Holder { password: s };
        assert!(!format!("{h:?}").contains("hunter2"));
        assert!(!format!("{h:#?}").contains("hunter2"));
    }
}

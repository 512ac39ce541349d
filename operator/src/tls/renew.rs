//! When certificates are renewed, and which CAs are trusted during a CA rollover (pure).
//!
//! gluster loads its certificate files anew for every connection it accepts and every
//! reconnect, while open sessions keep what they started with; so new files can be put in
//! place under a running volume, provided every party trusts the other's certificate at every
//! moment. The rules:
//!
//! - A node or client certificate is renewed once less than a third of its lifetime is left,
//!   or when the CA that signs new certificates is no longer the one that signed it.
//! - A CA gets a successor once less than a third of its lifetime is left. The bundle
//!   (`glusterfs.ca`) holds the old CA and the new one from then on; new certificates are still
//!   signed by the old CA until the successor has been in the bundle for [`BUNDLE_GRACE`] (time
//!   for every node and client to receive the bundle). An old CA leaves the bundle only once it
//!   has expired: until then a certificate it signed may still be presented.

use jiff::{SignedDuration, Timestamp};

/// How long a successor CA is in the bundle before it signs: time for every node and client to
/// get the bundle that trusts it.
pub const BUNDLE_GRACE: SignedDuration = SignedDuration::from_hours(30 * 24);

/// A certificate's validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertWindow {
    /// Valid from.
    pub not_before: Timestamp,
    /// Valid until.
    pub not_after: Timestamp,
}

impl CertWindow {
    fn lifetime(&self) -> SignedDuration {
        self.not_after.duration_since(self.not_before)
    }

    fn remaining(&self, now: Timestamp) -> SignedDuration {
        self.not_after.duration_since(now)
    }

    /// Whether less than a third of the lifetime is left at `now` (or none at all).
    pub fn due(&self, now: Timestamp) -> bool {
        self.remaining(now) * 3 < self.lifetime()
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        now >= self.not_after
    }
}

/// What to do with a node or client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// It is good.
    Keep,
    /// Issue a new one: less than a third of its lifetime is left.
    Expiring,
    /// Issue a new one: the signing CA changed (a rollover's second step).
    NewSigner,
}

/// The rule for a node or client certificate valid over `leaf`, signed by the CA at index
/// `signed_by` of the bundle, when the CA at index `signer` signs new certificates.
pub fn leaf_renewal(
    now: Timestamp,
    leaf: &CertWindow,
    signed_by: Option<usize>,
    signer: usize,
) -> Renewal {
    if signed_by != Some(signer) {
        Renewal::NewSigner
    } else if leaf.due(now) {
        Renewal::Expiring
    } else {
        Renewal::Keep
    }
}

/// The state of the CAs after the rollover rule, for `cas` (the bundle, oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRollover {
    /// Issue a successor CA (it goes last in the bundle).
    pub issue_successor: bool,
    /// Indices into `cas` that stay in the bundle (oldest first).
    pub keep: Vec<usize>,
    /// The index into `cas` of the CA that signs new certificates.
    pub signer: usize,
}

/// The rollover rule for the bundle `cas` (oldest first, not empty) at `now`.
pub fn ca_rollover(now: Timestamp, cas: &[CertWindow]) -> CaRollover {
    let newest = cas.len().saturating_sub(1);
    let issue_successor = cas.last().is_some_and(|ca| ca.due(now));
    // The newest always stays; the others until they expire.
    let keep: Vec<usize> = (0..cas.len())
        .filter(|&i| i == newest || !cas[i].expired(now))
        .collect();
    // The newest CA that has been in the bundle long enough signs; a lone CA always does.
    let signer = keep
        .iter()
        .rev()
        .copied()
        .find(|&i| i == keep[0] || now.duration_since(cas[i].not_before) >= BUNDLE_GRACE)
        .unwrap_or(newest);
    CaRollover {
        issue_successor,
        keep,
        signer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        format!("{s}T00:00:00Z").parse().expect("a date")
    }

    fn w(from: &str, to: &str) -> CertWindow {
        CertWindow {
            not_before: t(from),
            not_after: t(to),
        }
    }

    #[test]
    fn a_leaf_is_renewed_in_the_last_third_of_its_life() {
        let leaf = w("2026-01-01", "2027-01-01");
        let table = [
            ("2026-01-02", Renewal::Keep),
            ("2026-08-31", Renewal::Keep),
            ("2026-09-03", Renewal::Expiring),
            ("2027-02-01", Renewal::Expiring),
        ];
        for (now, want) in table {
            assert_eq!(leaf_renewal(t(now), &leaf, Some(0), 0), want, "at {now}");
        }
    }

    #[test]
    fn a_leaf_of_another_signer_is_renewed() {
        let leaf = w("2026-01-01", "2027-01-01");
        assert_eq!(
            leaf_renewal(t("2026-02-01"), &leaf, Some(0), 1),
            Renewal::NewSigner
        );
        // Signed by no CA of the bundle (a foreign or dropped CA).
        assert_eq!(
            leaf_renewal(t("2026-02-01"), &leaf, None, 0),
            Renewal::NewSigner
        );
    }

    #[test]
    fn a_young_ca_is_kept_alone() {
        let cas = [w("2026-01-01", "2036-01-01")];
        assert_eq!(
            ca_rollover(t("2027-01-01"), &cas),
            CaRollover {
                issue_successor: false,
                keep: vec![0],
                signer: 0
            }
        );
    }

    #[test]
    fn an_ageing_ca_gets_a_successor_and_keeps_signing() {
        let cas = [w("2026-01-01", "2036-01-01")];
        let r = ca_rollover(t("2033-01-01"), &cas);
        assert!(r.issue_successor);
        assert_eq!(r.keep, vec![0]);
        assert_eq!(r.signer, 0);
    }

    #[test]
    fn the_bundle_holds_old_and_new_and_the_new_signs_after_the_grace() {
        let cas = [w("2026-01-01", "2036-01-01"), w("2033-01-01", "2043-01-01")];
        // Just added: both trusted, the old one still signs.
        let r = ca_rollover(t("2033-01-10"), &cas);
        assert_eq!(
            (r.keep.clone(), r.signer, r.issue_successor),
            (vec![0, 1], 0, false)
        );
        // After the grace: both trusted, the new one signs (leaves move over: NewSigner).
        let r = ca_rollover(t("2033-03-01"), &cas);
        assert_eq!((r.keep.clone(), r.signer), (vec![0, 1], 1));
        // Once the old one has expired it leaves the bundle.
        let r = ca_rollover(t("2036-01-02"), &cas);
        assert_eq!((r.keep.clone(), r.signer), (vec![1], 1));
    }

    #[test]
    fn an_expired_lone_ca_stays_and_asks_for_a_successor() {
        let cas = [w("2016-01-01", "2026-01-01")];
        let r = ca_rollover(t("2026-06-01"), &cas);
        assert_eq!(
            (r.keep.clone(), r.signer, r.issue_successor),
            (vec![0], 0, true)
        );
    }
}

//! Address allocation in a simulated subnet: lowest free address of the pool first, so a given
//! sequence of creates and deletes always yields the same addresses.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The allocation pool of one subnet.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    start: u32,
    end: u32,
    used: BTreeSet<u32>,
}

impl Pool {
    pub(crate) fn new(start: Ipv4Addr, end: Ipv4Addr) -> Self {
        Pool {
            start: start.into(),
            end: end.into(),
            used: BTreeSet::new(),
        }
    }

    /// The lowest free address, now taken; `None` when the pool is exhausted.
    pub(crate) fn allocate(&mut self) -> Option<Ipv4Addr> {
        let mut candidate = self.start;
        for &u in self.used.range(self.start..=self.end) {
            if u != candidate {
                break;
            }
            candidate = candidate.checked_add(1)?;
        }
        if candidate > self.end {
            return None;
        }
        self.used.insert(candidate);
        Some(Ipv4Addr::from(candidate))
    }

    /// Takes `addr` when it is in the pool and free; `false` otherwise.
    pub(crate) fn take(&mut self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        (self.start..=self.end).contains(&a) && self.used.insert(a)
    }

    /// Gives an address back.
    pub(crate) fn release(&mut self, addr: Ipv4Addr) {
        self.used.remove(&u32::from(addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_first_and_reuse() {
        let mut p = Pool::new(
            Ipv4Addr::new(127, 100, 0, 10),
            Ipv4Addr::new(127, 100, 0, 12),
        );
        let a = p.allocate();
        let b = p.allocate();
        assert_eq!(a, Some(Ipv4Addr::new(127, 100, 0, 10)));
        assert_eq!(b, Some(Ipv4Addr::new(127, 100, 0, 11)));
        p.release(Ipv4Addr::new(127, 100, 0, 10));
        assert_eq!(p.allocate(), Some(Ipv4Addr::new(127, 100, 0, 10)));
        assert_eq!(p.allocate(), Some(Ipv4Addr::new(127, 100, 0, 12)));
        assert_eq!(p.allocate(), None);
        p.release(Ipv4Addr::new(127, 100, 0, 11));
        assert!(!p.take(Ipv4Addr::new(127, 100, 0, 12)), "in use");
        assert!(!p.take(Ipv4Addr::new(127, 100, 0, 13)), "outside the pool");
        assert!(p.take(Ipv4Addr::new(127, 100, 0, 11)));
    }
}

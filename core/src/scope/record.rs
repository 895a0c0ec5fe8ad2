//! Each thread's record of its live scopes (guards), kept without allocation so that it can
//! be used from a signal handler, and the rules that decide the effective set when a scope
//! ends.
//!
//! # The rules
//!
//! - While guards live, each capability one of them names takes the value the *latest* live
//!   guard naming it asks for (an additive guard names the capabilities it raises, an
//!   exclusive guard names all of them); a capability no live guard names is back to what it
//!   was before the first of them ("base").
//! - When a guard ends, exactly the capabilities whose asked-for value changes are changed, so
//!   ending a guard in the middle (any drop order) never lowers what a later guard still needs.
//! - A guard's end **lowers** what is no longer asked for, but **raises** a capability only if a
//!   guard lowered it (an exclusive guard, which is restoring what it found). A capability
//!   lowered by other code (by hand, with `cap_effective().drop`) is never raised again by a
//!   guard's end.
//! - A guard that is never dropped (`mem::forget`) keeps its scope open for good, as a
//!   forgotten lock stays locked: what it raised stays asked for. By the rule above, it can
//!   never make another guard's end raise a capability lowered by hand since.

use std::cell::Cell;

use crate::CapSet;

/// How many guards one thread can hold live at once.
pub(crate) const MAX_LIVE: usize = 64;

/// One live guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Live {
    id: u64,
    exclusive: bool,
    caps: u64,
}

const NONE: Live = Live {
    id: 0,
    exclusive: false,
    caps: 0,
};

/// The thread's record. Only touched inside a `thread::rmw` section of its own thread.
pub(crate) struct Record {
    /// Live guards, oldest first.
    live: [Cell<Live>; MAX_LIVE],
    len: Cell<usize>,
    /// What each capability named by a live guard was before the oldest live guard naming it.
    base: Cell<u64>,
    /// Capabilities a guard lowered (exclusive) that may be raised again when no guard names
    /// them any more.
    restorable: Cell<u64>,
    next_id: Cell<u64>,
}

/// What ending a guard changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leave {
    /// Capabilities to lower.
    pub(crate) lower: CapSet,
    /// Capabilities to raise again.
    pub(crate) raise: CapSet,
}

impl Record {
    pub(crate) const fn new() -> Record {
        Record {
            live: [const { Cell::new(NONE) }; MAX_LIVE],
            len: Cell::new(0),
            base: Cell::new(0),
            restorable: Cell::new(0),
            next_id: Cell::new(1),
        }
    }

    fn entries(&self) -> impl Iterator<Item = Live> + '_ {
        self.live[..self.len.get()].iter().map(Cell::get)
    }

    /// (the capabilities some live guard names, what the live guards ask for them).
    fn wanted(&self) -> (u64, u64) {
        let (mut named, mut value) = (0u64, 0u64);
        for g in self.entries() {
            if g.exclusive {
                named = u64::MAX;
                value = g.caps;
            } else {
                named |= g.caps;
                value |= g.caps;
            }
        }
        (named, value & named)
    }

    /// What the live guards hold raised: the capabilities they ask for that were not
    /// effective before them.
    pub(crate) fn raised(&self) -> CapSet {
        let (named, value) = self.wanted();
        CapSet::from_bits(value & !self.base.get() & named)
    }

    /// Other code lowered (or may have lowered) `caps` while guards live (a process-wide drop,
    /// say): no guard's end raises them again.
    pub(crate) fn forget_restorable(&self, caps: CapSet) {
        self.restorable.set(self.restorable.get() & !caps.bits());
    }

    /// Whether another guard fits.
    pub(crate) fn has_room(&self) -> bool {
        self.len.get() < MAX_LIVE
    }

    /// Records a new guard asking for `caps` (exactly, if `exclusive`), made when the effective
    /// set was `before` and left it `after`; returns its id. The caller checked [`has_room`].
    ///
    /// [`has_room`]: Self::has_room
    pub(crate) fn enter(
        &self,
        caps: CapSet,
        exclusive: bool,
        before: CapSet,
        after: CapSet,
    ) -> u64 {
        let (named, _) = self.wanted();
        let newly = if exclusive {
            !named
        } else {
            caps.bits() & !named
        };
        self.base
            .set((self.base.get() & named) | (before.bits() & newly));
        self.restorable
            .set(self.restorable.get() | (before.bits() & !after.bits()));
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let n = self.len.get();
        self.live[n].set(Live {
            id,
            exclusive,
            caps: caps.bits(),
        });
        self.len.set(n + 1);
        id
    }

    /// Removes guard `id`; `None` if the record does not know it.
    pub(crate) fn leave(&self, id: u64) -> Option<Leave> {
        let n = self.len.get();
        let pos = self.entries().position(|g| g.id == id)?;
        let (named_before, value_before) = self.wanted();
        let before = value_before | (self.base.get() & !named_before);
        for i in pos..n - 1 {
            self.live[i].set(self.live[i + 1].get());
        }
        self.live[n - 1].set(NONE);
        self.len.set(n - 1);
        let (named_after, value_after) = self.wanted();
        // Capabilities no live guard names any more go back to their base.
        let after = value_after | (self.base.get() & !named_after);
        self.base.set(self.base.get() & named_after);
        let changed = (before ^ after) & named_before;
        let lower = changed & !after;
        let raise = changed & after & self.restorable.get();
        // What a guard lowers may be raised back by a later end; what was raised back, or is
        // named by no live guard any more, may not.
        self.restorable
            .set(((self.restorable.get() & !raise) | lower) & named_after);
        Some(Leave {
            lower: CapSet::from_bits(lower),
            raise: CapSet::from_bits(raise),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cap;

    fn set(caps: &[Cap]) -> CapSet {
        caps.iter().copied().collect()
    }

    #[test]
    fn latest_guard_naming_each_capability_decides() {
        let r = Record::new();
        let a = r.enter(
            set(&[Cap::CHOWN]),
            false,
            CapSet::empty(),
            set(&[Cap::CHOWN]),
        );
        let b = r.enter(
            set(&[Cap::KILL]),
            true,
            set(&[Cap::CHOWN]),
            set(&[Cap::KILL]),
        );
        assert_eq!(r.raised(), set(&[Cap::KILL]));
        // Out of order: a ends while b (exclusive) still rules.
        assert_eq!(
            r.leave(a),
            Some(Leave {
                lower: CapSet::empty(),
                raise: CapSet::empty()
            })
        );
        let end = r.leave(b).unwrap();
        assert_eq!(end.lower, set(&[Cap::KILL]));
        assert_eq!(
            end.raise,
            CapSet::empty(),
            "chown was raised by a, not lowered"
        );
        assert!(r.leave(b).is_none());
    }

    #[test]
    fn an_exclusive_guard_restores_what_it_lowered_in_any_drop_order() {
        let r = Record::new();
        let x = set(&[Cap::NET_RAW]);
        let a = r.enter(CapSet::empty(), true, x, CapSet::empty());
        let b = r.enter(CapSet::empty(), true, CapSet::empty(), CapSet::empty());
        assert_eq!(r.leave(a).unwrap().raise, CapSet::empty(), "b still rules");
        assert_eq!(r.leave(b).unwrap().raise, x);
    }

    #[test]
    fn lowering_by_an_end_can_be_undone_by_a_later_end() {
        let r = Record::new();
        let x = set(&[Cap::NET_BIND_SERVICE]);
        let a = r.enter(CapSet::empty(), true, x, CapSet::empty());
        let b = r.enter(x, true, CapSet::empty(), x);
        let c = r.enter(CapSet::empty(), true, x, CapSet::empty());
        assert_eq!(r.leave(c).unwrap().raise, x);
        assert_eq!(r.leave(b).unwrap().lower, x);
        assert_eq!(r.leave(a).unwrap().raise, x, "back to what it was before a");
    }

    #[test]
    fn a_forgotten_guard_never_makes_another_guard_raise_what_was_lowered_by_hand() {
        let r = Record::new();
        let x = set(&[Cap::NET_RAW]);
        let _forgotten = r.enter(x, false, CapSet::empty(), x);
        // The user lowers net_raw by hand, then an exclusive guard comes and goes.
        let b = r.enter(CapSet::empty(), true, CapSet::empty(), CapSet::empty());
        let end = r.leave(b).unwrap();
        assert!(!end.raise.has(Cap::NET_RAW), "{end:?}");
    }
}

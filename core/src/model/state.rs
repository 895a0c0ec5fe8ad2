//! [`CapState`]: a thread's effective, permitted and inheritable sets, as data. Reading and
//! writing a thread's sets (`capget`/`capset`) is in `thread/caps.rs`.

use crate::CapSet;
use rustix::thread::{CapabilitySet, CapabilitySets};

/// A thread's three capability sets, as `capget(2)` reads and `capset(2)` writes them.
///
/// All 64 bits of each set are kept both ways: capabilities newer than the library are neither
/// lost on read nor cleared on write.
///
/// # Examples
///
/// ```
/// use capscope::{Cap, CapState};
///
/// let state = CapState::get_current()?;
/// assert!(state.effective.is_subset(state.permitted));
/// let text = format!("{:?}", state.effective.has(Cap::NET_RAW));
/// # let _ = text;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capget(2), capabilities(7)
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct CapState {
    /// What the kernel checks: the capabilities in force.
    pub effective: CapSet,
    /// The limiting superset: what the thread may raise into its effective set.
    pub permitted: CapSet,
    /// What may be kept across `execve` (together with file inheritable or ambient sets).
    pub inheritable: CapSet,
}

impl CapState {
    /// The empty state: no capability in any set.
    #[must_use]
    pub const fn empty() -> CapState {
        CapState {
            effective: CapSet::empty(),
            permitted: CapSet::empty(),
            inheritable: CapSet::empty(),
        }
    }

    #[inline]
    #[cfg(test)]
    pub(crate) fn from_rustix(s: CapabilitySets) -> CapState {
        CapState {
            effective: CapSet::from_bits(s.effective.bits()),
            permitted: CapSet::from_bits(s.permitted.bits()),
            inheritable: CapSet::from_bits(s.inheritable.bits()),
        }
    }

    #[inline]
    pub(crate) fn to_rustix(self) -> CapabilitySets {
        CapabilitySets {
            effective: CapabilitySet::from_bits_retain(self.effective.bits()),
            permitted: CapabilitySet::from_bits_retain(self.permitted.bits()),
            inheritable: CapabilitySet::from_bits_retain(self.inheritable.bits()),
        }
    }
}

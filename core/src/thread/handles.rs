//! Set handles in the style of pyprctl: `cap_effective()`, `cap_permitted()`,
//! `cap_inheritable()`, `cap_ambient()`, `capbset()`.
//!
//! Each handle names one of the calling thread's sets and offers the same verbs: `has`, `add`,
//! `drop`, `limit`, `clear`, `replace`, `probe`. They are convenient for one change at a time;
//! for several sets at once, a single [`CapState::set_current`] makes fewer system calls.
//!
//! Costs: on the effective, permitted and inheritable handles, every call is one `capget` plus
//! at most one `capset` (none when nothing would change). Ambient and bounding calls make one
//! `prctl` per capability touched.
//!
//! # Thread scope
//!
//! Every handle reads and changes the calling thread only.
//!
//! # Examples
//!
//! ```
//! use capscope::{cap_effective, cap_permitted, capbset, Cap};
//!
//! let _ = cap_permitted().has(Cap::NET_RAW)?;
//! // Nothing to lower is no system call beyond the capget:
//! let e = cap_effective().probe()?;
//! cap_effective().replace(e)?;
//! // The bounding set never grows:
//! assert!(capbset().add(Cap::CHOWN).is_err());
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # References
//!
//! capabilities(7), capget(2), prctl(2)

use crate::error::{Error, Result};
use crate::{ambient, bounding, CapSet, CapState};

/// Which of the calling thread's sets a [`SetHandle`] works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Which {
    /// The effective set.
    Effective,
    /// The permitted set.
    Permitted,
    /// The inheritable set.
    Inheritable,
    /// The ambient set.
    Ambient,
    /// The bounding set.
    Bounding,
}

/// A handle on one of the calling thread's capability sets. Get one with [`cap_effective`],
/// [`cap_permitted`], [`cap_inheritable`], [`cap_ambient`] or [`capbset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetHandle(Which);

/// The calling thread's effective set.
#[must_use]
pub const fn cap_effective() -> SetHandle {
    SetHandle(Which::Effective)
}

/// The calling thread's permitted set.
#[must_use]
pub const fn cap_permitted() -> SetHandle {
    SetHandle(Which::Permitted)
}

/// The calling thread's inheritable set.
#[must_use]
pub const fn cap_inheritable() -> SetHandle {
    SetHandle(Which::Inheritable)
}

/// The calling thread's ambient set.
#[must_use]
pub const fn cap_ambient() -> SetHandle {
    SetHandle(Which::Ambient)
}

/// The calling thread's bounding set (it only shrinks: [`SetHandle::add`] is an error).
#[must_use]
pub const fn capbset() -> SetHandle {
    SetHandle(Which::Bounding)
}

impl SetHandle {
    /// Which set this handle works on.
    #[must_use]
    pub const fn which(self) -> Which {
        self.0
    }

    fn field(self, s: &mut CapState) -> &mut CapSet {
        match self.0 {
            Which::Effective => &mut s.effective,
            Which::Permitted => &mut s.permitted,
            Which::Inheritable => &mut s.inheritable,
            Which::Ambient | Which::Bounding => {
                unreachable!("ambient and bounding are not in CapState")
            }
        }
    }

    /// Reads E/P/I once, applies `f` to this handle's set and writes back only when it changed.
    fn update(self, f: impl FnOnce(CapSet) -> CapSet) -> Result<()> {
        let old = CapState::get_current()?;
        let mut new = old;
        let field = self.field(&mut new);
        *field = f(*field);
        if new == old {
            return Ok(());
        }
        new.set_current()
    }

    /// The whole set.
    ///
    /// # Errors
    ///
    /// As [`CapState::get_current`], [`ambient::probe`] or [`bounding::probe`].
    pub fn probe(self) -> Result<CapSet> {
        match self.0 {
            Which::Ambient => ambient::probe(),
            Which::Bounding => bounding::probe(),
            _ => Ok(*self.field(&mut CapState::get_current()?)),
        }
    }

    /// Whether every capability of `caps` is in the set.
    ///
    /// # Errors
    ///
    /// As [`probe`](Self::probe) (ambient and bounding read only the capabilities asked about).
    pub fn has(self, caps: impl Into<CapSet>) -> Result<bool> {
        let caps = caps.into();
        match self.0 {
            Which::Ambient => all_of(caps, ambient::is_set),
            Which::Bounding => all_of(caps, bounding::read),
            _ => Ok(self.probe()?.has_all(caps)),
        }
    }

    /// Raises every capability of `caps` in the set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] on the bounding set (it can only shrink), before any system
    /// call; otherwise as [`CapState::set_current`] or [`ambient::raise`].
    #[allow(
        clippy::should_implement_trait,
        reason = "pyprctl's verb; this is not arithmetic"
    )]
    pub fn add(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        match self.0 {
            Which::Bounding => Err(Error::invalid(
                "capbset.add",
                "the bounding set can only shrink: no capability can be added",
            )),
            Which::Ambient => caps.iter().try_for_each(ambient::raise),
            _ => self.update(|s| s | caps),
        }
    }

    /// Lowers every capability of `caps` in the set.
    ///
    /// # Errors
    ///
    /// As [`CapState::set_current`], [`ambient::lower`] or [`bounding::drop`] (capabilities
    /// already absent from the bounding set are not an error).
    pub fn drop(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        match self.0 {
            Which::Ambient => caps.iter().try_for_each(ambient::lower),
            Which::Bounding => caps.iter().try_for_each(bounding::ensure_dropped),
            _ => self.update(|s| s - caps),
        }
    }

    /// Lowers every capability except those of `caps`.
    ///
    /// # Errors
    ///
    /// As [`drop`](Self::drop).
    pub fn limit(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        match self.0 {
            Which::Ambient => {
                if caps.is_empty() {
                    return ambient::clear();
                }
                (ambient::probe()? - caps)
                    .iter()
                    .try_for_each(ambient::lower)
            }
            Which::Bounding => bounding::limit(caps),
            _ => self.update(|s| s & caps),
        }
    }

    /// Lowers every capability, including those the library does not name.
    ///
    /// # Errors
    ///
    /// As [`limit`](Self::limit).
    pub fn clear(self) -> Result<()> {
        self.limit(CapSet::empty())
    }

    /// Makes the set exactly `caps`.
    ///
    /// # Errors
    ///
    /// On the bounding set, [`Error::InvalidInput`] when `caps` holds a capability the set does
    /// not (it cannot grow), checked before anything is dropped. On the ambient set, every
    /// capability of `caps` must be permitted and inheritable: checked with one `capget` before
    /// anything changes. Otherwise as [`CapState::set_current`].
    pub fn replace(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        match self.0 {
            Which::Bounding => {
                let current = bounding::probe()?;
                if !caps.is_subset(current) {
                    return Err(Error::invalid(
                        "capbset.replace",
                        format!(
                            "the bounding set can only shrink: {:?} are not in it",
                            caps - current
                        ),
                    ));
                }
                bounding::limit(caps)
            }
            Which::Ambient => {
                let s = CapState::get_current()?;
                let allowed = s.permitted & s.inheritable;
                if !caps.is_subset(allowed) {
                    return Err(Error::invalid(
                        "cap_ambient.replace",
                        format!(
                            "ambient capabilities must be permitted and inheritable: {:?} are not",
                            caps - allowed
                        ),
                    ));
                }
                let current = ambient::probe()?;
                (current - caps).iter().try_for_each(ambient::lower)?;
                (caps - current).iter().try_for_each(ambient::raise)
            }
            _ => self.update(|_| caps),
        }
    }
}

fn all_of(caps: CapSet, read: impl Fn(crate::Cap) -> Result<Option<bool>>) -> Result<bool> {
    for cap in caps {
        if read(cap)? != Some(true) {
            return Ok(false);
        }
    }
    Ok(true)
}

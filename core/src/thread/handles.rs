//! Set handles in the style of pyprctl: `cap_effective()`, `cap_permitted()`,
//! `cap_inheritable()`, `cap_ambient()`, `capbset()`.
//!
//! Each handle names one of the calling thread's sets and offers pyprctl's verbs: `has`, `add`,
//! `drop`, `limit`, `clear`, `replace`, `probe`. They are thin views: the effective, permitted
//! and inheritable handles read and write [`CapState`] (one `capget`, plus one `capset` when
//! something changes); the ambient handle calls [`ambient`](crate::ambient) and the bounding
//! handle [`bounding`](crate::bounding) (one `prctl` per capability touched). Each handle is its
//! own type, so a verb a set does not have is a compile error: the bounding set only shrinks,
//! and [`BoundingSet`] has no `add`:
//!
//! ```compile_fail
//! capscope::capbset().add(capscope::Cap::CHOWN); // no method `add` on `BoundingSet`
//! ```
//!
//! For several sets at once, a single [`CapState::set_current`] makes fewer system calls.
//!
//! # Thread scope
//!
//! Every handle reads and changes the calling thread only.
//!
//! # Examples
//!
//! ```
//! use capscope::{cap_effective, cap_permitted, Cap};
//!
//! let _ = cap_permitted().has(Cap::NET_RAW)?;
//! // Nothing to change is no system call beyond the capget:
//! let e = cap_effective().probe()?;
//! cap_effective().replace(e)?;
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # References
//!
//! capabilities(7), capget(2), prctl(2)

use crate::error::{Error, Op, Result};
use crate::{ambient, bounding, CapSet, CapState};

macro_rules! state_handle {
    ($(#[$doc:meta])* $ty:ident, $ctor:ident, $field:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $ty(());

        #[doc = concat!("The calling thread's ", $name, " set.")]
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let set = capscope::", stringify!($ctor), "().probe()?;")]
        /// # let _ = set;
        /// # Ok::<(), capscope::Error>(())
        /// ```
        #[must_use]
        pub const fn $ctor() -> $ty {
            $ty(())
        }

        impl $ty {
            /// Reads the three sets once, applies `f` to this one and writes them back only
            /// when it changed.
            fn update(self, f: impl FnOnce(CapSet) -> CapSet) -> Result<()> {
                crate::thread::rmw::run(Op::Capset, || {
                    let old = CapState::get_current()?;
                    let new = CapState {
                        $field: f(old.$field),
                        ..old
                    };
                    if new == old {
                        return Ok(());
                    }
                    new.set_current()
                })
            }

            /// The whole set: one `capget`.
            ///
            /// # Errors
            ///
            /// As [`CapState::get_current`].
            pub fn probe(self) -> Result<CapSet> {
                Ok(CapState::get_current()?.$field)
            }

            /// Whether every capability of `caps` is in the set: one `capget`.
            ///
            /// # Errors
            ///
            /// As [`CapState::get_current`].
            pub fn has(self, caps: impl Into<CapSet>) -> Result<bool> {
                Ok(self.probe()?.has_all(caps.into()))
            }

            /// Raises every capability of `caps` in the set.
            ///
            /// # Errors
            ///
            /// As [`CapState::set_current`] (the hint says which rule a refusal broke).
            #[allow(
                clippy::should_implement_trait,
                reason = "pyprctl's verb; this is not arithmetic"
            )]
            pub fn add(self, caps: impl Into<CapSet>) -> Result<()> {
                let caps = caps.into();
                self.update(|s| s | caps)
            }

            /// Lowers every capability of `caps` in the set.
            ///
            /// # Errors
            ///
            /// As [`CapState::set_current`].
            pub fn drop(self, caps: impl Into<CapSet>) -> Result<()> {
                let caps = caps.into();
                self.update(|s| s - caps)
            }

            /// Lowers every capability except those of `caps`.
            ///
            /// # Errors
            ///
            /// As [`CapState::set_current`].
            pub fn limit(self, caps: impl Into<CapSet>) -> Result<()> {
                let caps = caps.into();
                self.update(|s| s & caps)
            }

            /// Lowers every capability, all 64 bits.
            ///
            /// # Errors
            ///
            /// As [`CapState::set_current`].
            pub fn clear(self) -> Result<()> {
                self.update(|_| CapSet::empty())
            }

            /// Makes the set exactly `caps`.
            ///
            /// # Errors
            ///
            /// As [`CapState::set_current`].
            pub fn replace(self, caps: impl Into<CapSet>) -> Result<()> {
                let caps = caps.into();
                self.update(|_| caps)
            }
        }
    };
}

state_handle!(
    /// The calling thread's effective set: what the kernel checks. Get it with
    /// [`cap_effective`].
    EffectiveSet,
    cap_effective,
    effective,
    "effective"
);
state_handle!(
    /// The calling thread's permitted set: what it may raise. It only shrinks. Get it with
    /// [`cap_permitted`].
    PermittedSet,
    cap_permitted,
    permitted,
    "permitted"
);
state_handle!(
    /// The calling thread's inheritable set. Get it with [`cap_inheritable`].
    InheritableSet,
    cap_inheritable,
    inheritable,
    "inheritable"
);

/// The calling thread's ambient set: a view over [`ambient`](crate::ambient). Get it with
/// [`cap_ambient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AmbientSet(());

/// The calling thread's ambient set.
///
/// # Examples
///
/// ```
/// assert!(capscope::cap_ambient().probe()?.is_subset(capscope::cap_permitted().probe()?));
/// # Ok::<(), capscope::Error>(())
/// ```
#[must_use]
pub const fn cap_ambient() -> AmbientSet {
    AmbientSet(())
}

impl AmbientSet {
    /// The whole set: [`ambient::probe`].
    ///
    /// # Errors
    ///
    /// As [`ambient::probe`].
    pub fn probe(self) -> Result<CapSet> {
        ambient::probe()
    }

    /// [`ambient::has`].
    ///
    /// # Errors
    ///
    /// As [`ambient::has`].
    pub fn has(self, caps: impl Into<CapSet>) -> Result<bool> {
        ambient::has(caps)
    }

    /// [`ambient::raise`].
    ///
    /// # Errors
    ///
    /// As [`ambient::raise`].
    #[allow(
        clippy::should_implement_trait,
        reason = "pyprctl's verb; this is not arithmetic"
    )]
    pub fn add(self, caps: impl Into<CapSet>) -> Result<()> {
        ambient::raise(caps)
    }

    /// [`ambient::lower`].
    ///
    /// # Errors
    ///
    /// As [`ambient::lower`].
    pub fn drop(self, caps: impl Into<CapSet>) -> Result<()> {
        ambient::lower(caps)
    }

    /// Lowers every ambient capability except those of `caps` ([`ambient::clear`] when `caps`
    /// is empty).
    ///
    /// # Errors
    ///
    /// As [`ambient::probe`] and [`ambient::lower`].
    pub fn limit(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        if caps.is_empty() {
            return ambient::clear();
        }
        ambient::lower(ambient::probe()? - caps)
    }

    /// [`ambient::clear`].
    ///
    /// # Errors
    ///
    /// As [`ambient::clear`].
    pub fn clear(self) -> Result<()> {
        ambient::clear()
    }

    /// Makes the ambient set exactly `caps`. Every capability of `caps` must be permitted and
    /// inheritable: checked with one `capget` before anything changes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (nothing changed) for capabilities not both permitted and
    /// inheritable; otherwise as [`ambient::raise`] and [`ambient::lower`].
    pub fn replace(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        crate::thread::rmw::run(Op::AmbientRaise, || Self::replace_now(caps))
    }

    fn replace_now(caps: CapSet) -> Result<()> {
        let s = CapState::get_current()?;
        let allowed = s.permitted & s.inheritable;
        if !caps.is_subset(allowed) {
            return Err(Error::invalid(
                Op::AmbientRaise,
                format!(
                    "ambient capabilities must be permitted and inheritable: {:?} are not",
                    caps - allowed
                ),
            ));
        }
        let current = ambient::probe()?;
        ambient::lower(current - caps)?;
        ambient::raise(caps - current)
    }
}

/// The calling thread's bounding set: a view over [`bounding`](crate::bounding). It only
/// shrinks, so it has no `add`. Get it with [`capbset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BoundingSet(());

/// The calling thread's bounding set.
///
/// # Examples
///
/// ```
/// assert!(capscope::capbset().probe()?.is_subset(capscope::Cap::probe_supported()?));
/// # Ok::<(), capscope::Error>(())
/// ```
#[must_use]
pub const fn capbset() -> BoundingSet {
    BoundingSet(())
}

impl BoundingSet {
    /// The whole set: [`bounding::probe`].
    ///
    /// # Errors
    ///
    /// As [`bounding::probe`].
    pub fn probe(self) -> Result<CapSet> {
        bounding::probe()
    }

    /// [`bounding::has`].
    ///
    /// # Errors
    ///
    /// As [`bounding::has`].
    pub fn has(self, caps: impl Into<CapSet>) -> Result<bool> {
        bounding::has(caps)
    }

    /// [`bounding::drop`]. Irreversible.
    ///
    /// # Errors
    ///
    /// As [`bounding::drop`].
    pub fn drop(self, caps: impl Into<CapSet>) -> Result<()> {
        bounding::drop(caps)
    }

    /// [`bounding::limit`]. Irreversible.
    ///
    /// # Errors
    ///
    /// As [`bounding::limit`].
    pub fn limit(self, caps: impl Into<CapSet>) -> Result<()> {
        bounding::limit(caps)
    }

    /// [`bounding::clear`]. Irreversible.
    ///
    /// # Errors
    ///
    /// As [`bounding::clear`].
    pub fn clear(self) -> Result<()> {
        bounding::clear()
    }

    /// Makes the bounding set exactly `caps`, which must be a subset of it (it cannot grow):
    /// checked before anything is dropped. Irreversible.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (nothing dropped) when `caps` holds a capability the set does
    /// not; otherwise as [`bounding::limit`].
    pub fn replace(self, caps: impl Into<CapSet>) -> Result<()> {
        let caps = caps.into();
        let current = bounding::probe()?;
        if !caps.is_subset(current) {
            return Err(Error::invalid(
                Op::CapbsetDrop,
                format!(
                    "the bounding set can only shrink: {:?} are not in it",
                    caps - current
                ),
            ));
        }
        bounding::limit(caps)
    }
}

//! Scoped raising of capabilities: [`RaiseGuard`] and [`with_caps`].
//!
//! A guard raises capabilities of the permitted set into the effective set of the calling
//! thread and, when dropped, puts the effective set back as it was (intersected with the
//! permitted set as it is then). It never touches the permitted, inheritable, ambient or
//! bounding sets. This is what `#[requires_caps]` expands to.
//!
//! # Cost
//!
//! Creating a guard makes one `capget`, plus one `capset` when something must change. Dropping a
//! guard that changed nothing makes no system call; otherwise one `capget` and one `capset`.
//!
//! # Any drop order
//!
//! Guards are normally dropped in the reverse order of their creation, but they need not be
//! (`drop(a)` before `drop(b)`, guards stored in a collection, `mem::forget` aside). Each thread
//! keeps a record of its live guards; the effective set that the live guards ask for is
//! computed capability by capability: the latest live guard that names a capability decides
//! (an additive guard names the capabilities it raises, an exclusive guard names all of them),
//! and a capability no live guard names is back to what it was before the first of them. When a
//! guard is dropped, exactly the capabilities whose answer changes are changed, so dropping a
//! guard in the middle never lowers a capability that a later guard still needs.
//!
//! # Failure
//!
//! If restoring fails, the effective set is emptied; if that fails too, the process aborts with
//! a message. A thread never goes on with more privilege than its scopes ask for.
//!
//! # Threads
//!
//! Capabilities belong to threads. A thread spawned inside a raised scope starts with the
//! spawning thread's sets, raised capabilities included, and keeps them after the scope ends:
//! no guard of its own will lower them. Spawn threads outside raised scopes, or lower the
//! capabilities at the start of the new thread. In debug builds [`inherited_raised`] tells a
//! thread which of its effective capabilities were raised by a live guard of another thread
//! (and [`debug_assert_not_inherited`] panics on them); [`raised_on_this_thread`] tells it what
//! its own live guards hold raised.
//!
//! # References
//!
//! capabilities(7), capget(2), capset(2)

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::{CapSet, CapState};

/// One live guard, as the thread's record keeps it.
#[derive(Clone, Copy, Debug)]
struct Live {
    id: u64,
    exclusive: bool,
    caps: CapSet,
}

/// The thread's record of its live guards.
#[derive(Debug)]
struct Scopes {
    /// Live guards, oldest first.
    live: Vec<Live>,
    /// What each capability named by a live guard was before the oldest live guard naming it.
    base: u64,
    next_id: u64,
}

impl Scopes {
    const fn new() -> Scopes {
        Scopes {
            live: Vec::new(),
            base: 0,
            next_id: 0,
        }
    }

    /// (the capabilities some live guard names, what the live guards ask for them).
    fn wanted(&self) -> (u64, u64) {
        let (mut named, mut value) = (0u64, 0u64);
        for g in &self.live {
            if g.exclusive {
                named = u64::MAX;
                value = g.caps.bits();
            } else {
                named |= g.caps.bits();
                value |= g.caps.bits();
            }
        }
        (named, value & named)
    }
}

thread_local! {
    static SCOPES: RefCell<Scopes> = const { RefCell::new(Scopes::new()) };
}

#[cfg(debug_assertions)]
mod debug_track {
    //! Debug builds only: how many live guards of any thread raised each capability.
    use std::sync::atomic::{AtomicU32, Ordering};

    static RAISED: [AtomicU32; 64] = [const { AtomicU32::new(0) }; 64];

    pub(super) fn add(bits: u64) {
        for n in crate::CapSet::from_bits(bits) {
            RAISED[usize::from(n.as_u8())].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn sub(bits: u64) {
        for n in crate::CapSet::from_bits(bits) {
            RAISED[usize::from(n.as_u8())].fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(super) fn any() -> u64 {
        let mut bits = 0;
        for (n, c) in RAISED.iter().enumerate() {
            if c.load(Ordering::Relaxed) > 0 {
                bits |= 1 << n;
            }
        }
        bits
    }
}

/// Raises capabilities into the calling thread's effective set until it is dropped.
///
/// [`RaiseGuard::raise`] adds capabilities to the effective set; [`RaiseGuard::exclusive`]
/// makes the effective set exactly the given capabilities. On drop — on every path, early
/// `return`, `?` and unwinding included — the effective set goes back to what it was,
/// intersected with the permitted set as it is then. See the [module docs](self) for the rules
/// under any drop order and on failure.
///
/// The guard is neither `Send` nor `Sync`: capabilities belong to the thread that raised them,
/// and only that thread can lower them.
///
/// # Examples
///
/// ```no_run
/// use capscope::{guard::RaiseGuard, Cap};
///
/// let listener = {
///     let _guard = RaiseGuard::raise(Cap::NET_BIND_SERVICE)?;
///     std::net::TcpListener::bind("0.0.0.0:80")
/// }; // CAP_NET_BIND_SERVICE is lowered again here
/// # let _ = listener;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capabilities(7), capget(2), capset(2)
#[must_use = "the capabilities are lowered again as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RaiseGuard {
    id: u64,
    caps: CapSet,
    exclusive: bool,
    /// What this guard itself raised (for the debug-build record of inherited capabilities).
    #[cfg(debug_assertions)]
    raised: u64,
    _not_send: PhantomData<*const ()>,
}

impl RaiseGuard {
    /// Adds `caps` to the calling thread's effective set until the guard is dropped.
    ///
    /// One `capget`; one `capset` only if some of `caps` are not effective yet.
    ///
    /// # Errors
    ///
    /// [`Error::MissingCaps`] listing every capability of `caps` missing from the permitted set
    /// (nothing is changed then); [`Error::Os`] if `capget` or `capset` fails.
    ///
    /// # Thread scope
    ///
    /// Changes the calling thread's effective set only. Threads spawned while the guard lives
    /// inherit the raised set and keep it (see the [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{guard::RaiseGuard, CapState};
    ///
    /// // Raising what is already permitted always works (here: the effective set itself).
    /// let before = CapState::get_current()?;
    /// let guard = RaiseGuard::raise(before.effective)?;
    /// drop(guard);
    /// assert_eq!(CapState::get_current()?, before);
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// capset(2)
    #[inline]
    pub fn raise(caps: impl Into<CapSet>) -> Result<RaiseGuard> {
        RaiseGuard::enter(caps.into(), false, "RaiseGuard::raise")
    }

    /// Makes the calling thread's effective set exactly `caps` until the guard is dropped.
    ///
    /// One `capget`; one `capset` only if the effective set is not already `caps`.
    ///
    /// # Errors
    ///
    /// As [`RaiseGuard::raise`].
    ///
    /// # Thread scope
    ///
    /// As [`RaiseGuard::raise`].
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{guard::RaiseGuard, CapSet, CapState};
    ///
    /// let before = CapState::get_current()?;
    /// {
    ///     let _g = RaiseGuard::exclusive(CapSet::empty())?;
    ///     assert!(CapState::get_current()?.effective.is_empty());
    /// }
    /// assert_eq!(CapState::get_current()?, before);
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// capset(2)
    #[inline]
    pub fn exclusive(caps: impl Into<CapSet>) -> Result<RaiseGuard> {
        RaiseGuard::enter(caps.into(), true, "RaiseGuard::exclusive")
    }

    /// The capabilities this guard raises.
    #[must_use]
    pub fn caps(&self) -> CapSet {
        self.caps
    }

    /// Whether this guard is exclusive (the effective set is exactly [`caps`](Self::caps)).
    #[must_use]
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// What `#[requires_caps]` calls: `function` names the scope in the error.
    #[inline]
    pub(crate) fn enter(
        caps: CapSet,
        exclusive: bool,
        function: &'static str,
    ) -> Result<RaiseGuard> {
        let state = CapState::get_current()?;
        let missing = caps - state.permitted;
        if !missing.is_empty() {
            return Err(Error::missing_caps(function, missing));
        }
        let target = if exclusive {
            caps
        } else {
            state.effective | caps
        };
        if target != state.effective {
            CapState {
                effective: target,
                ..state
            }
            .set_current()?;
        }
        let recorded = SCOPES.try_with(|s| {
            let mut s = s.borrow_mut();
            let (named, _) = s.wanted();
            let newly = if exclusive {
                !named
            } else {
                caps.bits() & !named
            };
            s.base = (s.base & named) | (state.effective.bits() & newly);
            let id = s.next_id;
            s.next_id += 1;
            s.live.push(Live {
                id,
                exclusive,
                caps,
            });
            id
        });
        let Ok(id) = recorded else {
            // The thread's record is gone (a guard made in a thread-local destructor): undo.
            if target != state.effective {
                if let Err(e) = state.set_current() {
                    empty_effective_or_abort(&e.to_string());
                }
            }
            return Err(Error::kernel(
                function,
                "no capability guard can be made while the thread exits",
            ));
        };
        #[cfg(debug_assertions)]
        let raised = (target - state.effective).bits();
        #[cfg(debug_assertions)]
        debug_track::add(raised);
        Ok(RaiseGuard {
            id,
            caps,
            exclusive,
            #[cfg(debug_assertions)]
            raised,
            _not_send: PhantomData,
        })
    }

    /// Removes the guard from the thread's record; returns (the capabilities whose wanted state
    /// changes, their new state).
    fn leave(&self) -> Option<(u64, u64)> {
        SCOPES
            .try_with(|s| {
                let mut s = s.borrow_mut();
                let (named_before, value_before) = s.wanted();
                let before = value_before | (s.base & !named_before);
                let pos = s.live.iter().position(|g| g.id == self.id)?;
                s.live.remove(pos);
                let (named_after, value_after) = s.wanted();
                // Capabilities no live guard names any more go back to their base.
                let after = value_after | (s.base & !named_after);
                s.base &= named_after;
                let changed = (before ^ after) & named_before;
                Some((changed, after))
            })
            .ok()
            .flatten()
    }
}

impl Drop for RaiseGuard {
    #[inline]
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        debug_track::sub(self.raised);
        match self.leave() {
            Some((0, _)) => {}
            Some((changed, after)) => restore(CapSet::from_bits(changed), CapSet::from_bits(after)),
            // The thread's record is gone (thread-local destructors) or does not know the
            // guard: fail closed.
            None => empty_effective_or_abort("the thread's guard record is unavailable"),
        }
    }
}

/// Sets the capabilities `changed` of the effective set to their value in `after`, within the
/// permitted set; on failure empties the effective set; on failure of that, aborts.
#[cold]
fn restore(changed: CapSet, after: CapSet) {
    let result = CapState::get_current().and_then(|state| {
        let target = ((state.effective - changed) | (after & changed)) & state.permitted;
        if target == state.effective {
            Ok(())
        } else {
            CapState {
                effective: target,
                ..state
            }
            .set_current()
        }
    });
    if let Err(e) = result {
        empty_effective_or_abort(&e.to_string());
    }
}

/// Empties the calling thread's effective set; aborts the process if that fails.
#[cold]
pub(crate) fn empty_effective_or_abort(why: &str) {
    let emptied = CapState::get_current().and_then(|s| {
        CapState {
            effective: CapSet::empty(),
            ..s
        }
        .set_current()
    });
    if let Err(e) = emptied {
        eprintln!(
            "capscope: cannot restore the effective capability set ({why}) nor empty it ({e}); \
             aborting rather than running with capabilities raised"
        );
        std::process::abort();
    }
}

/// Runs `f` with `caps` raised into the calling thread's effective set, then restores it.
///
/// The closure form of [`RaiseGuard::raise`]: the capabilities are lowered again when `f`
/// returns or unwinds.
///
/// # Errors
///
/// As [`RaiseGuard::raise`]; `f` is not called then.
///
/// # Thread scope
///
/// Changes the calling thread's effective set only, for the duration of `f`.
///
/// # Examples
///
/// ```
/// use capscope::{with_caps, CapState};
///
/// let permitted = CapState::get_current()?.permitted;
/// let effective_inside = with_caps(permitted, || CapState::get_current())??.effective;
/// assert_eq!(effective_inside, permitted);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// capset(2)
pub fn with_caps<T>(caps: impl Into<CapSet>, f: impl FnOnce() -> T) -> Result<T> {
    let _guard = RaiseGuard::enter(caps.into(), false, "capscope::with_caps")?;
    Ok(f())
}

/// What the live guards of the calling thread hold raised: the capabilities they name that
/// were not effective before them. No system call.
///
/// # Examples
///
/// ```
/// assert!(capscope::guard::raised_on_this_thread().is_empty());
/// ```
#[must_use]
pub fn raised_on_this_thread() -> CapSet {
    SCOPES
        .try_with(|s| {
            let s = s.borrow();
            let (named, value) = s.wanted();
            CapSet::from_bits(value & !s.base & named)
        })
        .unwrap_or_default()
}

/// Debug builds: the capabilities effective on the calling thread that a live guard of
/// another thread raised and no live guard of this thread holds — typically because this
/// thread was spawned inside a raised scope and inherited them. One `capget`.
///
/// In release builds the record is not kept and this returns the empty set.
///
/// # Errors
///
/// [`Error::Os`] if `capget` fails.
///
/// # Examples
///
/// ```
/// assert!(capscope::guard::inherited_raised()?.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn inherited_raised() -> Result<CapSet> {
    #[cfg(debug_assertions)]
    {
        let effective = CapState::get_current()?.effective;
        let (named, _) = SCOPES.try_with(|s| s.borrow().wanted()).unwrap_or((0, 0));
        Ok(effective & CapSet::from_bits(debug_track::any() & !named))
    }
    #[cfg(not(debug_assertions))]
    {
        Ok(CapSet::empty())
    }
}

/// Debug builds: panics if [`inherited_raised`] is not empty, naming the capabilities. Call it
/// at the start of a thread that must not run with a scope's raised capabilities.
///
/// # Panics
///
/// In debug builds, when the calling thread holds capabilities another thread's live guard
/// raised (or when `capget` fails).
///
/// # Examples
///
/// ```
/// capscope::guard::debug_assert_not_inherited();
/// ```
#[track_caller]
pub fn debug_assert_not_inherited() {
    if cfg!(debug_assertions) {
        match inherited_raised() {
            Ok(s) if s.is_empty() => {}
            Ok(s) => panic!(
                "this thread holds {s:?} raised by a live capscope guard of another thread \
                 (was it spawned inside a #[requires_caps] scope?)"
            ),
            Err(e) => panic!("capget failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_follows_the_latest_guard_naming_each_capability() {
        let mut s = Scopes::new();
        s.live.push(Live {
            id: 0,
            exclusive: false,
            caps: CapSet::from_bits(0b001),
        });
        s.live.push(Live {
            id: 1,
            exclusive: true,
            caps: CapSet::from_bits(0b010),
        });
        s.live.push(Live {
            id: 2,
            exclusive: false,
            caps: CapSet::from_bits(0b100),
        });
        assert_eq!(s.wanted(), (u64::MAX, 0b110));
        s.live.remove(1);
        assert_eq!(s.wanted(), (0b101, 0b101));
    }
}

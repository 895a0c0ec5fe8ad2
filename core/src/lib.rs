//! capscope: Linux capabilities and `prctl()` in pure Rust, with compile-time declared
//! privilege scopes.
//!
//! capscope talks to the kernel directly (system calls through [`rustix`]; no libcap, no C):
//!
//! - [`Cap`] and [`CapSet`]: capabilities and sets of them, all 64 bits kept.
//! - [`CapState`]: a thread's effective, permitted and inheritable sets (`capget`/`capset`);
//!   [`FullCapState`] adds ambient, bounding, securebits, no_new_privs and keepcaps.
//! - [`bounding`], [`ambient`], [`securebits`]: the other per-thread sets and flags.
//! - Set handles in the style of pyprctl: [`cap_effective`], [`cap_permitted`],
//!   [`cap_inheritable`], [`cap_ambient`], [`capbset`].
//! - [`kernel`]: what the running kernel supports.
//! - [`prctl`]: the other `prctl()` attributes (thread name, parent-death signal,
//!   no_new_privs, seccomp strict mode, ...).
//! - [`cap_set_ids`]: change uid, gid and groups keeping capabilities; [`fsid`]: filesystem
//!   ids; [`ThreadIds`]: read them all.
//! - libcap's text form: [`CapState`] implements `FromStr` and `Display` exactly as
//!   `cap_from_text`/`cap_to_text` ([`ParseStateError`] says where a text is wrong).
//! - [`FileCaps`]: file capabilities (the `security.capability` extended attribute), as bytes,
//!   as the text `getcap` prints and `setcap` reads, and on files.
//! - Scoped privilege: [`guard::RaiseGuard`] and [`with_caps`] raise capabilities for a scope
//!   and restore them after; [`future::RaisedFuture`] does it around each poll of a future;
//!   [`drop_after`] drops everything for good; [`manifest`] lists what the program may raise.
//! - With the default `macros` feature, the attribute macros [`requires_caps`] and
//!   [`drop_caps_after`] that declare all of this on functions.
//! - [`process`]: changes applied to every thread of the process.
//! - [`launch`]: start a program with a declared privilege state (ids, groups, every
//!   capability set, securebits, no_new_privs), checked before `fork`, applied between `fork`
//!   and `execve`, optionally verified afterwards (`cap_launch`, `setpriv`, `capsh` in Rust).
//!
//! # Thread scope
//!
//! On Linux every credential (uids, gids, each capability set, securebits) belongs to a
//! thread, not to the process. Every function that changes state says in its `# Thread scope`
//! section which thread it changes; unless it says otherwise, only the calling thread.
//!
//! # Examples
//!
//! ```
//! use capscope::{Cap, CapState};
//!
//! let state = CapState::get_current()?;
//! println!("effective: {:?}", state.effective);
//! if state.permitted.has(Cap::NET_BIND_SERVICE) {
//!     println!("this thread may bind ports below 1024");
//! }
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # References
//!
//! capabilities(7), capget(2), prctl(2)

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

mod error;
mod model;
mod scope;
#[allow(unsafe_code)]
mod sys;
mod thread;

pub mod launch;
pub mod prctl;
pub mod process;

#[cfg(feature = "tokio")]
pub use scope::tokio;
pub use scope::{drop_after, future, guard, manifest};
pub use thread::{ambient, bounding, fsid, kernel, securebits};

pub use error::{Errno, Error, Result};
pub use model::cap::{Cap, ParseCapError};
pub use model::capset::{CapSet, Iter as CapSetIter};
pub use model::filecaps::{FileCaps, FileCapsBytesError, ParseFileCapsError};
pub use model::full::FullCapState;
pub use model::print::{IabText, PrintText};
pub use model::secbits::Secbits;
pub use model::signal::Signal;
pub use model::state::CapState;
pub use model::text::{ParseStateError, StateText};
pub use thread::handles::{
    cap_ambient, cap_effective, cap_inheritable, cap_permitted, capbset, AmbientSet, BoundingSet,
    EffectiveSet, InheritableSet, PermittedSet,
};
pub use thread::identity::{cap_set_ids, IdChange, MAX_GROUPS};
pub use thread::ids::ThreadIds;

pub use error::{Op, ThreadFailures};
pub use scope::guard::{with_caps, RaiseGuard};

#[cfg(feature = "macros")]
#[doc(inline)]
pub use capscope_macros::{drop_caps_after, requires_caps};

/// What the attribute macros expand to. Not public API: no stability promise.
#[doc(hidden)]
pub use scope::private as __private;

thread_local! {
    /// The calling thread's id, once asked (0 before); reset in a child after `fork`.
    static TID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The calling thread's kernel thread id (`gettid`), asked of the kernel once per thread and
/// kept (a child after `fork`, whose thread has a new id, asks again). Async-signal-safe.
///
/// # Examples
///
/// ```
/// let tid = capscope::current_tid();
/// assert!(tid > 0);
/// assert_eq!(tid, rustix::thread::gettid().as_raw_nonzero().get() as u32);
/// ```
#[must_use]
pub fn current_tid() -> u32 {
    let ask = || {
        rustix::thread::gettid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs()
    };
    TID.try_with(|t| match t.get() {
        0 => {
            sys::spawn::hook_forks();
            let tid = ask();
            t.set(tid);
            tid
        }
        tid => tid,
    })
    .unwrap_or_else(|_| ask())
}

/// In a child after `fork`: the calling thread's id is new.
pub(crate) fn forget_tid() {
    let _ = TID.try_with(|t| t.set(0));
}

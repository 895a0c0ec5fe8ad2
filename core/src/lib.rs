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
//! # Features
//!
//! `macros` and `contain` are on by default; `tokio`, `serde` and `tracing` are off. See the
//! README's table; `contain` is described in [`guard`] ("Confinement").
//!
//! # Audit events
//!
//! With the `tracing` feature, capscope emits a [`tracing`](https://docs.rs/tracing) event
//! under the target `capscope::audit` for every raise, restore, refusal, drop, containment of
//! a thread and process-wide change:
//!
//! | event (`event` field) | level | fields |
//! |---|---|---|
//! | `raise` | DEBUG | `function`, `caps` (asked), `raised` (turned on), `tid` |
//! | `restore` | DEBUG | `function`, `caps`, `lowered`, `held_us` (how long the scope held them), `tid` |
//! | `refuse` | WARN | `function`, `missing`, `tid` |
//! | `drop` | INFO | `op`, `keep`, `bounding`, `no_new_privs`, `uid`, `gid`, `threads`, `tid` |
//! | `contain` | DEBUG | `lowered` (what a thread born inside a scope started without), `tid` (the new thread) |
//! | `lower_strays` | WARN | `caps`, `threads` (ids of threads started behind capscope's back, lowered), `tid` |
//! | `process` | INFO | `op`, `threads`, `signalled`, `passes`, `io_threads`, `tid` |
//!
//! Capabilities print in libcap's list form (`cap_chown,cap_net_raw`). A `restore` event comes
//! with its scope's `raise` (a subscriber that starts listening mid-scope sees the next scopes
//! whole). Without the feature nothing is compiled in; with it and no subscriber listening,
//! each event costs tracing's check of its callsite, and a scope reads no clock. To see them,
//! with `capscope = { version = "0.1", features = ["tracing"] }` and the `tracing-subscriber`
//! crate:
//!
//! ```text
//! tracing_subscriber::fmt().with_env_filter("capscope::audit=debug").init();
//! ```
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
// docs.rs builds with `--cfg docsrs` (Cargo.toml, `[package.metadata.docs.rs]`) and shows which
// feature each gated item needs: give every `#[cfg(feature = "x")]` public item a
// `#[cfg_attr(docsrs, doc(cfg(feature = "x")))]` beside it.
#![cfg_attr(docsrs, feature(doc_cfg))]
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
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
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

/// `#[requires_caps(caps..., options)]`: the capabilities a function needs, raised for each
/// call only.
///
/// # Examples
///
/// A capability missing from the permitted set is an `Err` of the declared `Result` type (here
/// `std::io::Result`, under an alias) and the body does not run; the effective set is the same
/// after the call as before, however it ends.
///
/// ```
/// use capscope::{requires_caps, CapState};
///
/// type Outcome<T> = std::io::Result<T>;
///
/// #[requires_caps(net_bind_service)]
/// fn bind_http() -> Outcome<std::net::TcpListener> {
///     // CAP_NET_BIND_SERVICE is effective here, and only here.
///     std::net::TcpListener::bind("127.0.0.1:0")
/// }
///
/// let before = CapState::get_current()?;
/// match bind_http() {
///     Ok(listener) => println!("listening on {}", listener.local_addr()?),
///     Err(e) => println!("not permitted: {e}"),
/// }
/// assert_eq!(CapState::get_current()?, before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Options, methods, `async fn` (raised around each poll), and a function that panics instead
/// (it returns no `Result`):
///
/// ```
/// use capscope::{requires_caps, Cap, CapState};
///
/// struct Probe;
///
/// impl Probe {
///     /// The effective set is exactly CAP_NET_RAW inside.
///     #[requires_caps(net_raw, exclusive)]
///     fn raw_only(&self) -> capscope::Result<bool> {
///         Ok(CapState::get_current()?.effective == Cap::NET_RAW.into())
///     }
///
///     #[requires_caps(CAP_NET_RAW)]
///     async fn later(&self) -> capscope::Result<()> {
///         Ok(())
///     }
///
///     #[requires_caps(net_raw)]
///     fn count(&self) -> usize {
///         1
///     }
/// }
///
/// let probe = Probe;
/// if CapState::get_current()?.permitted.has(Cap::NET_RAW) {
///     assert!(probe.raw_only()?);
///     assert_eq!(probe.count(), 1);
/// } else {
///     assert!(matches!(probe.raw_only(), Err(capscope::Error::MissingCaps { .. })));
///     assert!(std::panic::catch_unwind(|| probe.count()).is_err());
/// }
/// fn is_send<T: Send>(_: &T) {}
/// is_send(&probe.later()); // a future any multi-threaded runtime can run
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// With `capscope` renamed in `Cargo.toml` (`cs = { package = "capscope", ... }`), give the
/// path: `#[cs::requires_caps(net_raw, crate = cs)]`.
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc(inline)]
pub use capscope_macros::requires_caps;

/// `#[drop_caps_after(options)]`: every capability gone for good when the function ends.
///
/// # Examples
///
/// Privileged set-up, then nothing: when `init` returns (or fails, or panics), the permitted
/// set keeps only `CAP_NET_BIND_SERVICE` (if it had it), and no `execve` can give anything back
/// (`no_new_privs`).
///
/// ```
/// use capscope::{drop_caps_after, Cap, CapState};
///
/// #[drop_caps_after(keep(net_bind_service), no_new_privs)]
/// fn init() -> std::io::Result<()> {
///     // ... open privileged files, bind ports ...
///     Ok(())
/// }
///
/// init()?;
/// let now = CapState::get_current()?;
/// assert!(now.effective.is_empty() && now.inheritable.is_empty());
/// assert!(now.permitted.is_subset(Cap::NET_BIND_SERVICE.into()));
/// assert!(capscope::prctl::no_new_privs()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The daemon pattern: become `nobody` (uid and gid 65534, no groups) at the end. Without
/// `CAP_SETUID` and `CAP_SETGID` the drop is refused before the body runs, and nothing changes.
///
/// ```
/// use capscope::{drop_caps_after, CapState, ThreadIds};
///
/// #[drop_caps_after(uid = 65534, gid = 65534)]
/// fn become_nobody() -> capscope::Result<()> {
///     Ok(())
/// }
///
/// match become_nobody() {
///     Ok(()) => {
///         let ids = ThreadIds::current()?;
///         assert_eq!((ids.uid, ids.euid, ids.suid, ids.fsuid), (65534, 65534, 65534, 65534));
///         assert!(ids.groups.is_empty());
///         assert_eq!(CapState::get_current()?, CapState::empty());
///     }
///     Err(e) => assert!(matches!(e, capscope::Error::Refused { .. }), "{e}"),
/// }
/// # Ok::<(), capscope::Error>(())
/// ```
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc(inline)]
pub use capscope_macros::drop_caps_after;

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

/// Forgets what capscope knows of the parent process: call it first thing in a child process
/// made with `clone` or `clone3` directly (a container runtime's child, say), before it makes a
/// scope or a process-wide change.
///
/// A child made with glibc's `fork` needs nothing: capscope's `pthread_atfork` handler does
/// this. (`std::process::Command`, `posix_spawn` and capscope's launcher run no capscope code
/// in their children, which `execve` at once.) A child made with `clone` runs no such handler
/// and starts with a copy of the parent's memory, so without this call capscope would count the
/// *parent's* threads at the end of a scope (and miss the child's own), and would cache the
/// parent's thread id. Async-signal-safe: no allocation, no lock.
///
/// Only in a child with memory of its own: in a task made with `CLONE_VM` (which shares the
/// parent's memory) it would wipe the *parent's* records.
///
/// # Thread scope
///
/// The process's record of its threads (capscope's state), not any credential.
///
/// # Examples
///
/// ```no_run
/// extern "C" fn child(_arg: *mut libc::c_void) -> libc::c_int {
///     capscope::after_clone();
///     // ... scopes, drops, then exec or exit ...
///     0
/// }
/// ```
///
/// # References
///
/// clone(2), pthread_atfork(3)
pub fn after_clone() {
    sys::spawn::forked_child();
}

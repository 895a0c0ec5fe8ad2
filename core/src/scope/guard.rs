//! Scoped raising of capabilities: [`RaiseGuard`] and [`with_caps`].
//!
//! A guard raises capabilities of the permitted set into the effective set of the calling
//! thread and, when dropped, puts the effective set back (intersected with the permitted set as
//! it is then). It never touches the permitted, inheritable, ambient or bounding sets. This is
//! what `#[requires_caps]` expands to.
//!
//! # Confinement
//!
//! A raised capability belongs to the scope's thread, for the scope's duration: no other
//! thread runs the program's code with it, and no set-up hook is needed.
//!
//! - **Threads born inside a scope** (a `std::thread::spawn` in a `#[requires_caps]` function,
//!   tokio's blocking pool growing during a raised poll, the thread `block_in_place` hands the
//!   worker to, a rayon pool started in the scope) start with what their creator's scopes held
//!   raised **lowered, before any of their code runs**: capscope defines `pthread_create` in the
//!   program (feature `contain`, on by default, with glibc and dynamic linking), calls the C
//!   library's own (`dlsym(RTLD_NEXT, ..)`), and starts the new thread in a trampoline that
//!   lowers those capabilities and reads the result back (or aborts the process if it cannot)
//!   before calling the thread's start routine. No signal handler runs on the new thread before
//!   that either: a thread created while its creator holds something raised starts with
//!   **every signal blocked** (the creator blocks them around the C library's call, and an
//!   attribute's own signal mask, `pthread_attr_setsigmask_np`, or that of glibc's default
//!   attribute, is held back by creating the thread with a private copy of the attribute
//!   without it; the caller's is never written), and takes the mask it was meant to have (its
//!   creator's, or its attribute's) only once it has lowered. This is exact whatever else
//!   happens meanwhile (a birth while another thread dies, a thousand births per second, a
//!   signal arriving during the birth), costs nothing per scope and one small allocation per
//!   thread, plus, only for threads created while a scope is raised, three `rt_sigprocmask`
//!   calls (two in the creator, one in the new thread) and, when the attribute carries a
//!   signal mask, the private copy of it; it covers every thread started through
//!   `pthread_create` by std, tokio, rayon or C libraries the program calls through its own
//!   symbol table. Such threads are *contained* and counted. What is lowered is what the
//!   creator's scopes raised: a thread born inside an exclusive scope also starts without what
//!   that scope lowered (it starts with only what was effective before the scope and the scope
//!   kept), and keeps that smaller set, as a thread born in any state does.
//! - **Threads started by other means** (a raw `clone`, a shared library bound directly to the
//!   C library's `pthread_create`, glibc's own helper threads, a build without `contain`, a
//!   static binary), and any thread such a thread starts, are lowered, verified, **before the
//!   scope ends** (for an `async fn`, before the poll returns): when a scope whose end lowers
//!   something ends, the kernel's count of the process's threads (one `fstat` of a
//!   `/proc/self/task` directory opened when the first thread is started, or at the first
//!   scope that needs it, and kept, so it survives a `chroot`; in a process with no contained
//!   thread, one `unshare(CLONE_THREAD)` instead, which the kernel refuses when another thread
//!   exists) is compared with the number of contained threads, read before the count and
//!   checked unchanged after it; if the kernel counts more, every thread that is not contained
//!   is read with `capget(tid)`, and those holding a capability the scope's end lowered (that
//!   no live scope of their own holds) are lowered through [`process`](crate::process)'s
//!   broadcast, each reading its own sets back; the listing is made again until a pass finds
//!   no such thread (a stray may start one while it is being lowered), and a thread started
//!   through `pthread_create` that has not reached its trampoline yet is waited for rather than
//!   taken for a stray. The kept descriptor is the program's like any other: a close-all loop
//!   may close it, and another `open` may get its number; every count checks that it is still
//!   the directory (device and inode) and opens it again if not, with the first open's checks
//!   (a procfs, this PID namespace's).
//! - **Fail closed**: if such a thread cannot be lowered (it blocks the broadcast signal; it is
//!   an io_uring SQPOLL thread set up inside the scope, whose ring keeps the scope's
//!   credentials for good), the scope's own thread is lowered and the process aborts with a
//!   message naming it. io_uring's `iou-wrk` workers are left alone: each request they run
//!   uses its submitter's credentials. Without a `/proc` of the process's own PID namespace
//!   (none mounted, or another namespace's, and none opened before a `chroot`; the first raise
//!   or the first thread opens it), threads cannot be checked: a scope that would raise
//!   something while the calling thread is not provably alone is refused ([`Error::Refused`]),
//!   and a scope during which a thread appeared aborts the process at its end. glibc's own helper threads (`timer_create` with `SIGEV_THREAD`, `mq_notify`, POSIX
//!   AIO) block every signal and are not started through the program's `pthread_create`: one
//!   started inside a scope that raised something makes the scope's end abort.
//!
//! Limits, stated exactly: a task made with `clone(CLONE_VM)` *without* `CLONE_THREAD` shares
//! the program's memory but is not in its thread group, so nothing lists or counts it: it keeps
//! what it was born with. Likewise a process forked, during the scope, by a thread started
//! behind capscope's back (a stray, before it is lowered) keeps what the stray held: a scope's
//! end reaches the threads of its own process only. A child process made with `clone`/`clone3` directly (not `fork`,
//! which capscope's `pthread_atfork` handler covers) starts with a copy of capscope's record of
//! the parent's threads and must call [`after_clone`](crate::after_clone) before its first
//! scope. A contained thread that ends without running its thread-local destructors (a raw
//! `SYS_exit` other than [`prctl::exit_thread`](crate::prctl::exit_thread), a seccomp
//! `SECCOMP_RET_KILL_THREAD`) stays counted, which can hide one thread started by other means.
//! A thread started by other means that makes scopes of its own has what those scopes hold
//! respected, and anything else a scope raised lowered. The private copy of a thread attribute
//! that carries a signal mask holds what glibc's interface exposes of it (the few cases it
//! cannot tell apart are listed in `sys/spawn.rs`: an explicit scheduling policy or priority
//! left unset, an affinity of every CPU). Blocking work inside an `async fn` scope runs on
//! tokio's blocking pool, *without* the capabilities: use `capscope::tokio::spawn_blocking`
//! (feature `tokio`) to run it with them.
//!
//! # Cost
//!
//! Creating a guard makes one `capget`, plus one `capset` when something must change. Dropping a
//! guard that changed nothing makes no system call; otherwise one `capget`, one `capset`, and the
//! confinement check: one `unshare(CLONE_THREAD)` in a process with no contained thread alive
//! (the kernel refuses it when other threads exist, and it changes nothing), else one `fstat`
//! of `/proc/self/task`. Nothing is allocated. Measured (`cargo bench -p capscope-tests --bench
//! guards -- --ratios`, Linux 6.18, 2 vCPUs): a cold scope (raise one capability, then restore
//! it) takes 1.20 to 1.23× the raw floor of 2 `capget` + 2 `capset` made directly, the fifth system
//! call being the confinement check; a warm one (already effective) 1.13× one `capget`.
//!
//! # Any drop order, and forgotten guards
//!
//! Guards are normally dropped in the reverse order of their creation, but they need not be.
//! Each thread keeps a record of its live guards; when one is dropped, exactly the capabilities
//! whose asked-for state changes are changed. A guard's end lowers what is no longer asked for,
//! and raises again only what a guard (an exclusive one) lowered: never a capability that other
//! code lowered by hand. A guard that is never dropped (`mem::forget`) keeps its capabilities
//! raised, as a forgotten lock stays locked; it cannot make a later guard raise anything. The
//! rules are spelled out in the record's documentation (`scope/record.rs`).
//!
//! # Signal handlers and process-wide changes
//!
//! A guard's read of the effective set and its write are one section that a process-wide
//! broadcast on the same thread waits for, so a [`process`](crate::process) change is never
//! overwritten by the write-back of older sets. A guard can be made in a signal handler
//! (the record needs no allocation, up to [`MAX_LIVE`] live guards per thread), unless the
//! handler interrupted the same thread in the middle of a guard's own bookkeeping: then
//! making it fails with [`Error::Refused`], it never aborts.
//!
//! # Async-signal safety
//!
//! These may be called from a signal handler: [`RaiseGuard::raise`], [`RaiseGuard::exclusive`],
//! [`with_caps`], dropping a guard, [`raised_on_this_thread`], and `CapState::get_current`.
//! They take no lock and allocate nothing, their errors included ([`Error::MissingCaps`],
//! [`Error::Refused`], [`Error::Os`] without a hint), with these exceptions, all when threads
//! exist: opening `/proc/self/task` (once per process, normally when the first thread starts;
//! again if the program closed the descriptor), the refusal when it cannot be opened, and the
//! slow path of a scope's end, taken when the kernel counts a thread the census does not (one
//! started behind capscope's back, or one still on its way to its trampoline): it reads
//! `/proc`, allocates, and lowers strays through the broadcast lock. A guard made in a handler
//! that interrupted another guard's own bookkeeping on the same thread is refused
//! ([`Error::Refused`]); a handler that interrupted code merely
//! *inside* a scope works normally. The process-wide functions, the per-thread functions that
//! explain an `EPERM` (their hints are formatted), the launcher and `/proc` readers are not
//! async-signal-safe.
//!
//! # Failure
//!
//! If restoring fails, the effective set is emptied; if that fails too, the process aborts with
//! a message. A thread never goes on with more privilege than its scopes ask for.
//!
//! # References
//!
//! capabilities(7), capget(2), capset(2)

use std::cell::Cell;
use std::marker::PhantomData;

use crate::error::{Error, Op, Result};
use crate::scope::record::{Record, MAX_LIVE as RECORD_MAX};
use crate::scope::{audit, contain};
use crate::thread::{ops, rmw};
use crate::{CapSet, CapState};

/// How many guards one thread can hold live at once (the record needs no allocation).
pub const MAX_LIVE: usize = RECORD_MAX;

thread_local! {
    static RECORD: Record = const { Record::new() };
    /// What the scopes of the creating thread held raised when this thread was born (and were
    /// lowered before its code ran).
    static BIRTH_MASK: Cell<u64> = const { Cell::new(0) };
}

/// Raise the capabilities on top of the effective set, or make the effective set exactly them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RaiseMode {
    /// Add the capabilities to the effective set (`#[requires_caps(...)]`).
    #[default]
    Add,
    /// Make the effective set exactly the capabilities (`#[requires_caps(..., exclusive)]`).
    Exclusive,
}

/// Raises capabilities into the calling thread's effective set until it is dropped.
///
/// [`RaiseGuard::raise`] adds capabilities to the effective set; [`RaiseGuard::exclusive`]
/// makes the effective set exactly the given capabilities. On drop — on every path, early
/// `return`, `?` and unwinding included — the effective set goes back to what it was,
/// intersected with the permitted set as it is then. See the [module docs](self) for the rules
/// under any drop order, in signal handlers and on failure.
///
/// The guard is neither `Send` nor `Sync`: capabilities belong to the thread that raised them,
/// and only that thread can lower them.
///
/// # Examples
///
/// ```no_run
/// use capscope::{Cap, RaiseGuard};
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
    mode: RaiseMode,
    /// What this guard itself turned on.
    raised: CapSet,
    function: &'static str,
    since: audit::Since,
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
    /// (nothing is changed then); [`Error::Os`] if `capget` or `capset` fails;
    /// [`Error::Refused`] in a signal handler that interrupted a guard's bookkeeping on the same
    /// thread, or with [`MAX_LIVE`] guards already live on the thread.
    ///
    /// # Thread scope
    ///
    /// Changes the calling thread's effective set only. Threads created while the guard lives
    /// start with the raised capabilities lowered (see the [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{CapState, RaiseGuard};
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
        RaiseGuard::enter(caps.into(), RaiseMode::Add, "RaiseGuard::raise")
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
    /// use capscope::{CapSet, CapState, RaiseGuard};
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
        RaiseGuard::enter(caps.into(), RaiseMode::Exclusive, "RaiseGuard::exclusive")
    }

    /// The capabilities this guard raises.
    #[must_use]
    pub fn caps(&self) -> CapSet {
        self.caps
    }

    /// Whether this guard adds its capabilities or makes the effective set exactly them.
    #[must_use]
    pub fn mode(&self) -> RaiseMode {
        self.mode
    }

    /// What `#[requires_caps]` calls: `function` names the scope in the error.
    #[inline]
    pub(crate) fn enter(
        caps: CapSet,
        mode: RaiseMode,
        function: &'static str,
    ) -> Result<RaiseGuard> {
        let exclusive = mode == RaiseMode::Exclusive;
        let entered = rmw::section(|| {
            RECORD.with(|record| -> Result<(u64, CapSet)> {
                if !record.has_room() {
                    return Err(Error::refused(
                        Op::Raise,
                        "64 guards are already live on this thread (capscope::guard::MAX_LIVE)",
                    ));
                }
                let state = ops::capget().map_err(|f| fail(f, Op::Raise))?;
                let missing = caps - state.permitted;
                if !missing.is_empty() {
                    audit::refuse(function, missing);
                    return Err(Error::MissingCaps { function, missing });
                }
                let target = if exclusive {
                    caps
                } else {
                    state.effective | caps
                };
                if target != state.effective {
                    if !(target - state.effective).is_empty() {
                        contain::checkable(Op::Raise)?;
                    }
                    ops::capset(&CapState {
                        effective: target,
                        ..state
                    })
                    .map_err(|f| fail(f, Op::Raise))?;
                }
                let id = record.enter(caps, exclusive, state.effective, target);
                contain::publish(record.raised());
                Ok((id, target - state.effective))
            })
        });
        let (id, raised) = entered.unwrap_or_else(|| {
            Err(Error::refused(
                Op::Raise,
                "a guard cannot be made in a signal handler that interrupted another guard's \
                 bookkeeping on the same thread",
            ))
        })?;
        let since = audit::raise(function, caps, raised);
        Ok(RaiseGuard {
            id,
            caps,
            mode,
            raised,
            function,
            since,
            _not_send: PhantomData,
        })
    }
}

fn fail(f: ops::Fail, op: Op) -> Error {
    crate::thread::identity::fail_error(op, f, None)
}

impl Drop for RaiseGuard {
    #[inline]
    fn drop(&mut self) {
        let left = rmw::section(|| {
            RECORD.with(|record| match record.leave(self.id) {
                Some(end) => {
                    if !(end.lower.is_empty() && end.raise.is_empty()) {
                        restore(end.lower, end.raise);
                    }
                    contain::publish(record.raised());
                    audit::restore(self.function, self.caps, end.lower, self.since);
                    Some(end.lower)
                }
                None => None,
            })
        });
        let lowered = match left {
            Some(Some(lowered)) => lowered,
            // The record does not know the guard, or this drop runs in a signal handler that
            // interrupted the thread's guard bookkeeping: fail closed.
            Some(None) | None => {
                empty_effective_or_abort("the thread's guard record is unavailable");
                self.raised
            }
        };
        // What this end lowered (whichever guard raised it: guards may end in any order), and
        // what this guard raised.
        contain::scope_ended(lowered | self.raised);
    }
}

/// Lowers `lower` and raises `raise` in the effective set, within the permitted set; on
/// failure empties the effective set; on failure of that, aborts.
#[cold]
fn restore(lower: CapSet, raise: CapSet) {
    let result = ops::capget().and_then(|state| {
        let target = ((state.effective - lower) | raise) & state.permitted;
        if target == state.effective {
            Ok(())
        } else {
            ops::capset(&CapState {
                effective: target,
                ..state
            })
        }
    });
    if let Err(f) = result {
        empty_effective_or_abort(&fail(f, Op::Restore).to_string());
    }
}

/// Empties the calling thread's effective set; aborts the process if that fails.
#[cold]
pub(crate) fn empty_effective_or_abort(why: &str) {
    let emptied = ops::capget().and_then(|s| {
        ops::capset(&CapState {
            effective: CapSet::empty(),
            ..s
        })
    });
    if let Err(f) = emptied {
        eprintln!(
            "capscope: cannot restore the effective capability set ({why}) nor empty it ({}); \
             aborting rather than running with capabilities raised",
            fail(f, Op::Restore)
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
    let _guard = RaiseGuard::enter(caps.into(), RaiseMode::Add, "capscope::with_caps")?;
    Ok(f())
}

/// What the live guards of the calling thread hold raised: the capabilities they ask for that
/// were not effective before them. No system call.
///
/// # Examples
///
/// ```
/// assert!(capscope::guard::raised_on_this_thread().is_empty());
/// ```
#[must_use]
pub fn raised_on_this_thread() -> CapSet {
    RECORD.with(Record::raised)
}

/// A change made to the calling thread outside its guards (a process-wide change, a drop) may
/// have lowered `caps`: no guard's end raises them again. Async-signal-safe; called inside the
/// change's read-modify-write section, or from the broadcast handler (which runs outside one).
pub(crate) fn forget_restorable(caps: CapSet) {
    if !caps.is_empty() {
        let _ = RECORD.try_with(|r| r.forget_restorable(caps));
    }
}

/// Whether this program contains threads at birth: capscope's `pthread_create` lowers, in a
/// new thread, what the creating thread's scopes hold raised (feature `contain`, on by default,
/// with glibc and dynamic linking, and capscope linked into the program itself: in a library
/// loaded with `dlopen` the program's `pthread_create` is the C library's, which this checks
/// once, at run time). Without it, threads born inside a scope are lowered when the scope ends
/// (see the [module docs](self#confinement)).
///
/// # Examples
///
/// ```
/// if capscope::guard::births_contained() {
///     println!("threads born in a scope never run with its capabilities");
/// }
/// ```
#[must_use]
pub fn births_contained() -> bool {
    crate::sys::spawn::interposed()
}

/// Records, in a thread being born, what its creator's scopes held raised (already lowered).
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn set_birth_mask(mask: CapSet) {
    BIRTH_MASK.with(|m| m.set(mask.bits()));
}

/// The capabilities effective on the calling thread that the scopes of the thread that created
/// it held raised when it was born, and that no live scope of this thread holds. With
/// confinement working this is empty unless the thread raised them again itself by other means
/// (a thread born in a scope has them lowered before its code runs); a thread that was not
/// started through capscope's `pthread_create` (or was started outside any scope) has nothing
/// to report. One `capget`.
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
    let effective = CapState::get_current()?.effective;
    let own = raised_on_this_thread();
    let born = CapSet::from_bits(BIRTH_MASK.with(Cell::get));
    Ok(effective & (born - own))
}

/// Panics if [`inherited_raised`] is not empty, naming the capabilities. Call it at the start of
/// a thread that must not run with another scope's raised capabilities.
///
/// # Panics
///
/// When the calling thread holds capabilities another scope raised (or when `capget` fails).
///
/// # Examples
///
/// ```
/// capscope::guard::assert_not_inherited();
/// ```
#[track_caller]
pub fn assert_not_inherited() {
    match inherited_raised() {
        Ok(s) if s.is_empty() => {}
        Ok(s) => panic!("this thread holds {s:?}, raised by a capscope scope it is not in"),
        Err(e) => panic!("capget failed: {e}"),
    }
}

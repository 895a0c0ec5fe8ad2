//! Process-wide changes: apply a capability or identity change to every thread of the
//! process.
//!
//! Linux keeps capabilities, securebits, no_new_privs and uids per **thread**. A program that
//! drops its capabilities on one thread while a worker thread keeps them has dropped nothing:
//! the worker can still use them (libcap's `tests/exploit.c` shows the escalation). glibc hides
//! this for its own `setuid` family by signalling every thread; libcap needs its extra libpsx
//! library for it. This module does it natively:
//!
//! 1. The calling thread makes the change itself. If that fails, nothing else is touched.
//! 2. Every other thread listed in `/proc/self/task` is sent a dedicated real-time signal with
//!    `tgkill`; its handler makes the same system calls on its own thread, reads the result
//!    back, and reports through atomics (waking the caller with a futex).
//! 3. The list is read again until a pass finds no thread that has not made the change:
//!    threads created meanwhile by a thread that had not changed yet are caught this way
//!    (threads created by a changed thread inherit the new state). A listing counts only when
//!    the kernel's thread count is the same just before and just after it: the kernel's walk
//!    of `/proc/<pid>/task` stops early when a thread exits under it, and would otherwise
//!    hide the threads after that one.
//! 4. Finally every thread's state is read from outside (`capget(tid)` and
//!    `/proc/self/task/<tid>/status`) and compared with what was asked.
//!
//! The operations: [`set_caps`] (E, P, I), [`bounding_drop`], [`ambient_clear`],
//! [`ambient_raise`], [`set_no_new_privs`], [`set_securebits`], [`cap_set_ids`] (uid, gid and
//! groups, keeping capabilities), and [`drop_all`] (everything at once, what
//! `#[drop_caps_after(all_threads)]` calls). [`Broadcast`] sets the timeouts. Each returns a
//! [`Report`] of how many threads it changed and verified.
//!
//! Any thread that fails, blocks the signal, or does not answer within the timeout turns the
//! call into [`Error::Threads`] naming the thread ids: never a silent partial success. After
//! such an error the threads hold different credentials (the calling thread has changed): the
//! program should abort, or retry once the named threads can answer.
//!
//! # The signal
//!
//! By default `SIGRTMAX() - 2` ([`default_signal`]), computed at run time. glibc reserves the
//! two real-time signals below the `SIGRTMIN()` it reports (32 for thread cancellation, 33 for
//! its own setuid broadcast) and musl reserves three; programs conventionally take real-time
//! signals counting up from `SIGRTMIN()` (systemd's PID 1, for one, reads `SIGRTMIN+0` to
//! `SIGRTMIN+26` as commands) and some take `SIGRTMAX()` itself as "the last one". Two below the
//! top keeps clear of all of these. A real-time signal rather than a standard one: it has no
//! meaning to any library, and queued instances are never lost. A program that uses that signal
//! itself chooses another with [`set_signal`] before its first broadcast. The handler is
//! installed on the first broadcast (`sigaction`, `SA_SIGINFO | SA_RESTART`, every signal
//! blocked while it runs); a signal that already has another handler is refused rather than
//! taken over, and a handler replaced behind capscope's back is detected before each
//! broadcast.
//!
//! # Thread scope
//!
//! Every function here changes **every thread of the calling process**.
//!
//! Threads that block the broadcast signal cannot take part. One that sleeps with it in its
//! `SigBlk` mask for longer than [`Broadcast::blocked_grace`] is named in
//! [`Error::Threads::blocked`] right away; one that blocks every signal (as glibc does for a
//! moment around thread creation and exit, and as the "one thread calls `sigwait`" pattern does
//! for good) or is runnable is named there only if it still blocks it at the
//! [`Broadcast::timeout`]. Threads in an uninterruptible wait (a `vfork` parent, for example) answer late or, past
//! [`Broadcast::timeout`], not at all ([`Error::Threads::unanswered`]). Before the call
//! returns, the broadcast is retired and every handler still at work has finished, so the
//! threads named in the error did not make the change and the others did; a signal such a
//! thread receives later does nothing. Only one broadcast runs at a time: another thread's call
//! waits; a call from a signal handler that interrupted a broadcast on the same thread is
//! refused.
//!
//! # Limits
//!
//! - Threads created during a broadcast are caught: by a changed thread, they are born changed
//!   (checked from outside and counted in [`Report::settled`]); by a thread that had not
//!   changed yet, they are signalled in the next pass. A program that creates threads faster
//!   than passes complete for the whole timeout gets an error, not a partial success.
//! - A child forked during a broadcast inherits a half-done state; capscope's lock is taken
//!   over in the child (its owner is not a thread there), nothing else is repaired.
//! - A seccomp filter that forbids `capset` or `prctl` on some thread makes that thread fail:
//!   [`Error::Threads::failed`] names it with its errno.
//!
//! # Examples
//!
//! ```no_run
//! use capscope::{process, CapSet, CapState};
//!
//! // Workers already run; drop every capability in all of them.
//! let workers: Vec<_> = (0..4).map(|_| std::thread::spawn(|| std::thread::park())).collect();
//! let report = process::drop_all(CapSet::empty(), true, true)?;
//! assert!(report.threads >= 5);
//! # drop(workers);
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # References
//!
//! capabilities(7) ("Thread and process capability sets"), signal(7) ("Real-time signals"),
//! tgkill(2), futex(2), nptl(7) (glibc's own broadcast for the setuid family), libcap's
//! `psx` and `tests/exploit.c`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::{kernel, CapSet, CapState, Secbits};

mod broadcast;
mod handler;
mod verify;

use handler::Op;

/// What a successful broadcast did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Threads verified after the change, the calling thread included.
    pub threads: usize,
    /// Threads signalled (every thread but the caller that was seen during the broadcast).
    pub signalled: usize,
    /// Threads that appeared during the broadcast already holding the new state (created by a
    /// changed thread): checked from outside, not signalled.
    pub settled: usize,
    /// Passes over `/proc/self/task`; more than 2 means threads appeared meanwhile.
    pub passes: u32,
}

/// A process-wide change with its knobs: the timeout and the grace period for threads that
/// block the signal. The free functions of this module use the defaults.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use capscope::process::Broadcast;
///
/// Broadcast::new().timeout(Duration::from_secs(1)).ambient_clear()?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Broadcast {
    settings: broadcast::Settings,
}

impl Default for Broadcast {
    fn default() -> Broadcast {
        Broadcast::new()
    }
}

impl Broadcast {
    /// How long a broadcast waits for all threads to answer, by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// How long a thread may keep the signal blocked before it is named, by default.
    pub const DEFAULT_BLOCKED_GRACE: Duration = Duration::from_millis(100);

    /// The defaults: [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT),
    /// [`DEFAULT_BLOCKED_GRACE`](Self::DEFAULT_BLOCKED_GRACE).
    #[must_use]
    pub const fn new() -> Broadcast {
        Broadcast {
            settings: broadcast::Settings {
                timeout: Broadcast::DEFAULT_TIMEOUT,
                blocked_grace: Broadcast::DEFAULT_BLOCKED_GRACE,
            },
        }
    }

    /// How long to wait for every thread to answer before failing with the stragglers named.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Broadcast {
        self.settings.timeout = timeout;
        self
    }

    /// How long a sleeping thread may keep the broadcast signal blocked before the call fails
    /// naming it (glibc blocks every signal for a moment while it creates a thread, so this is
    /// not 0). A runnable thread that blocks it is named at the [`timeout`](Self::timeout): it
    /// may simply not have run yet. When the call fails this way, threads still pending then
    /// are named as not having answered.
    #[must_use]
    pub const fn blocked_grace(mut self, grace: Duration) -> Broadcast {
        self.settings.blocked_grace = grace;
        self
    }

    /// Sets the effective, permitted and inheritable sets of every thread to `state`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (no system call) when the effective set is not a subset of the
    /// permitted set. [`Error::Os`] when the calling thread's `capset` fails (nothing changed;
    /// the hint names the rule). [`Error::Threads`] when another thread fails, blocks the
    /// signal, does not answer, or does not hold `state` afterwards.
    /// [`Error::Indeterminate`] when the machinery itself fails part-way.
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::{process, CapState};
    /// let mut s = CapState::get_current()?;
    /// s.effective = capscope::CapSet::empty(); // lower E everywhere, keep P
    /// process::Broadcast::new().set_caps(&s)?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// capset(2)
    #[doc(alias = "capset")]
    pub fn set_caps(&self, state: &CapState) -> Result<Report> {
        const OP: &str = "process::set_caps";
        if !state.effective.is_subset(state.permitted) {
            return Err(Error::invalid(
                OP,
                format!(
                    "{:?} would be effective but not permitted",
                    state.effective - state.permitted
                ),
            ));
        }
        broadcast::run(Op::SetCaps(*state), OP, self.settings)
    }

    /// Drops `caps` from the bounding set of every thread. Irreversible.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] (no system call) for a capability the kernel lacks. Otherwise as
    /// [`set_caps`](Self::set_caps); `EPERM` without `CAP_SETPCAP` in the effective set.
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAPBSET_DROP`)
    #[doc(alias = "PR_CAPBSET_DROP")]
    pub fn bounding_drop(&self, caps: CapSet) -> Result<Report> {
        const OP: &str = "process::bounding_drop";
        check_supported(OP, caps)?;
        broadcast::run(Op::BoundingDrop { caps }, OP, self.settings)
    }

    /// Empties the ambient set of every thread.
    ///
    /// # Errors
    ///
    /// As [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAP_AMBIENT_CLEAR_ALL`)
    #[doc(alias = "PR_CAP_AMBIENT_CLEAR_ALL")]
    pub fn ambient_clear(&self) -> Result<Report> {
        let last = kernel::last_supported()?.as_u8();
        broadcast::run(
            Op::AmbientClear { last },
            "process::ambient_clear",
            self.settings,
        )
    }

    /// Raises `caps` in the ambient set of every thread (each must be permitted and inheritable
    /// there).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] (no system call) for a capability the kernel lacks. Otherwise as
    /// [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAP_AMBIENT_RAISE`)
    #[doc(alias = "PR_CAP_AMBIENT_RAISE")]
    pub fn ambient_raise(&self, caps: CapSet) -> Result<Report> {
        const OP: &str = "process::ambient_raise";
        check_supported(OP, caps)?;
        broadcast::run(Op::AmbientRaise { caps }, OP, self.settings)
    }

    /// Sets no_new_privs on every thread. Irreversible.
    ///
    /// # Errors
    ///
    /// As [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// prctl(2) (`PR_SET_NO_NEW_PRIVS`)
    #[doc(alias = "PR_SET_NO_NEW_PRIVS")]
    pub fn set_no_new_privs(&self) -> Result<Report> {
        broadcast::run(Op::NoNewPrivs, "process::set_no_new_privs", self.settings)
    }

    /// Sets the securebits of every thread to exactly `bits`. Each thread reads its bits back;
    /// `/proc` does not show them, so that read-back is the verification.
    ///
    /// # Errors
    ///
    /// As [`set_caps`](Self::set_caps); `EPERM` without `CAP_SETPCAP` in the effective set or
    /// when a locked flag would change.
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// prctl(2) (`PR_SET_SECUREBITS`), capabilities(7)
    #[doc(alias = "PR_SET_SECUREBITS")]
    pub fn set_securebits(&self, bits: Secbits) -> Result<Report> {
        broadcast::run(
            Op::Securebits(bits),
            "process::set_securebits",
            self.settings,
        )
    }

    /// Drops every capability on every thread: with `bounding`, the bounding set down to
    /// `keep` (raising `CAP_SETPCAP` into the effective set first where it is only permitted); the ambient set cleared; with `no_new_privs`, no_new_privs set; then the
    /// effective and inheritable sets emptied and the permitted set cut down to `keep` (all 64
    /// bits). What `#[drop_caps_after(all_threads)]` calls.
    ///
    /// # Errors
    ///
    /// As [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # References
    ///
    /// capset(2), prctl(2) (`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT_CLEAR_ALL`, `PR_SET_NO_NEW_PRIVS`)
    pub fn drop_all(&self, keep: CapSet, bounding: bool, no_new_privs: bool) -> Result<Report> {
        let last = kernel::last_supported()?.as_u8();
        broadcast::run(
            Op::DropAll {
                keep,
                bounding,
                no_new_privs,
                last,
            },
            "process::drop_all",
            self.settings,
        )
    }

    /// [`cap_set_ids`](crate::cap_set_ids) on every thread: uid, gid and supplementary groups
    /// changed, permitted capabilities kept, with the same validation and the same read-back
    /// on each thread (`getresuid`, `getresgid`, `getgroups`, `capget`); then every thread's
    /// `Uid:`, `Gid:` and `Groups:` lines in `/proc/self/task/<tid>/status` are compared too.
    ///
    /// Unlike glibc's `setresuid` broadcast, the capabilities survive (keepcaps on each
    /// thread), and a thread that does not make the change is reported, not ignored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (no system call) for what `cap_set_ids` refuses. The calling
    /// thread's own change fails as `cap_set_ids` does ([`Error::Os`]: nothing changed;
    /// [`Error::Indeterminate`]: abort). Then as [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::process;
    /// // A root daemon with worker threads becomes uid/gid 1000 everywhere, keeping its
    /// // permitted capabilities.
    /// process::cap_set_ids(Some(1000), Some(1000), Some(&[]), false)?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// setresuid(2), setgroups(2), capabilities(7), nptl(7)
    #[doc(alias = "cap_setuid")]
    #[doc(alias = "cap_setgroups")]
    pub fn cap_set_ids(
        &self,
        uid: Option<u32>,
        gid: Option<u32>,
        groups: Option<&[u32]>,
        preserve_effective: bool,
    ) -> Result<Report> {
        crate::thread::identity::IdRequest::new(uid, gid, groups, preserve_effective)?;
        // The handlers read the groups from a copy that outlives every handler.
        let owned: Option<Box<[u32]>> = groups.map(Box::from);
        let op = Op::SetIds {
            uid,
            gid,
            groups: owned.as_ref().map(|b| (b.as_ptr(), b.len())),
            preserve_effective,
        };
        let caller = || crate::cap_set_ids(uid, gid, groups, preserve_effective);
        broadcast::run_with(
            op,
            "process::cap_set_ids",
            self.settings,
            owned,
            Some(&caller),
        )
    }
}

fn check_supported(op: &'static str, caps: CapSet) -> Result<()> {
    let last = kernel::last_supported()?;
    match caps.difference(CapSet::up_to(last)).first() {
        Some(cap) => Err(Error::Unsupported { op, cap, last }),
        None => Ok(()),
    }
}

/// [`Broadcast::set_caps`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::set_caps`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// let mut s = capscope::CapState::get_current()?;
/// s.effective = capscope::CapSet::empty();
/// capscope::process::set_caps(&s)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "capset")]
pub fn set_caps(state: &CapState) -> Result<Report> {
    Broadcast::new().set_caps(state)
}

/// [`Broadcast::bounding_drop`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::bounding_drop`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// capscope::process::bounding_drop(capscope::capset![capscope::Cap::SYS_MODULE])?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAPBSET_DROP")]
pub fn bounding_drop(caps: CapSet) -> Result<Report> {
    Broadcast::new().bounding_drop(caps)
}

/// [`Broadcast::ambient_clear`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::ambient_clear`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```
/// let report = capscope::process::ambient_clear()?;
/// assert!(report.threads >= 1);
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_CLEAR_ALL")]
pub fn ambient_clear() -> Result<Report> {
    Broadcast::new().ambient_clear()
}

/// [`Broadcast::ambient_raise`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::ambient_raise`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// capscope::process::ambient_raise(capscope::capset![capscope::Cap::NET_BIND_SERVICE])?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_RAISE")]
pub fn ambient_raise(caps: CapSet) -> Result<Report> {
    Broadcast::new().ambient_raise(caps)
}

/// [`Broadcast::set_no_new_privs`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::set_no_new_privs`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// capscope::process::set_no_new_privs()?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_SET_NO_NEW_PRIVS")]
pub fn set_no_new_privs() -> Result<Report> {
    Broadcast::new().set_no_new_privs()
}

/// [`Broadcast::set_securebits`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::set_securebits`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::{process, securebits, Secbits};
/// process::set_securebits(securebits::get()? | Secbits::NOROOT)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_SET_SECUREBITS")]
pub fn set_securebits(bits: Secbits) -> Result<Report> {
    Broadcast::new().set_securebits(bits)
}

/// [`Broadcast::drop_all`] with the default settings: the entry point of
/// `#[drop_caps_after(all_threads)]`.
///
/// # Errors
///
/// As [`Broadcast::drop_all`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::{process, Cap, CapSet};
/// // Keep only CAP_NET_BIND_SERVICE in the permitted sets, everywhere, for good.
/// process::drop_all(CapSet::from(Cap::NET_BIND_SERVICE), true, true)?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn drop_all(keep: CapSet, bounding: bool, no_new_privs: bool) -> Result<Report> {
    Broadcast::new().drop_all(keep, bounding, no_new_privs)
}

/// [`Broadcast::cap_set_ids`] with the default settings.
///
/// # Errors
///
/// As [`Broadcast::cap_set_ids`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// capscope::process::cap_set_ids(Some(1000), Some(1000), Some(&[]), false)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "cap_setuid")]
pub fn cap_set_ids(
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<&[u32]>,
    preserve_effective: bool,
) -> Result<Report> {
    Broadcast::new().cap_set_ids(uid, gid, groups, preserve_effective)
}

/// The signal broadcasts use: the one chosen with [`set_signal`], or [`default_signal`].
///
/// A thread that must not be interrupted by a broadcast can block it, but a broadcast then
/// fails naming that thread.
///
/// # Examples
///
/// ```
/// let sig = capscope::process::signal();
/// assert!((32..=64).contains(&sig)); // a real-time signal
/// ```
#[must_use]
pub fn signal() -> i32 {
    broadcast::signal()
}

/// The default broadcast signal, `SIGRTMAX() - 2` (see the module docs for why).
///
/// # Examples
///
/// ```
/// assert_eq!(capscope::process::default_signal(), capscope::process::signal());
/// ```
#[must_use]
pub fn default_signal() -> i32 {
    broadcast::default_signal()
}

/// Chooses the real-time signal broadcasts use, for a program that uses the default one
/// itself. Only before the first broadcast (which installs the handler); choosing the signal
/// already installed is accepted.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a signal outside `SIGRTMIN()..=SIGRTMAX()`, or when the handler
/// is already installed on another signal.
///
/// # Thread scope
///
/// The process (signal dispositions are process-wide).
///
/// # Examples
///
/// ```
/// use capscope::process;
/// assert!(process::set_signal(9).is_err()); // SIGKILL is no real-time signal
/// ```
///
/// # References
///
/// signal(7), sigaction(2)
pub fn set_signal(sig: i32) -> Result<()> {
    broadcast::set_signal(sig)
}

//! Process-wide changes: apply a capability or identity change to every thread of the
//! process.
//!
//! Linux keeps capabilities, securebits, no_new_privs and uids per **thread**. A program that
//! drops its capabilities on one thread while a worker thread keeps them has dropped nothing:
//! the worker can still use them (libcap's `tests/exploit.c` shows the escalation). glibc hides
//! this for its own `setuid` family by signalling every thread; libcap needs its extra libpsx
//! library for it. This module does it natively, with the same per-thread code as the
//! per-thread API:
//!
//! | per thread | every thread |
//! |---|---|
//! | [`CapState::set_current`] | [`set_caps`] |
//! | [`bounding::drop`](crate::bounding::drop) | [`bounding_drop`] |
//! | [`ambient::clear`](crate::ambient::clear) | [`ambient_clear`] |
//! | [`ambient::raise`](crate::ambient::raise) | [`ambient_raise`] |
//! | [`prctl::set_no_new_privs`](crate::prctl::set_no_new_privs) | [`set_no_new_privs`] |
//! | [`securebits::set`](crate::securebits::set) | [`set_securebits`] |
//! | [`cap_set_ids`](crate::cap_set_ids) | [`cap_set_ids`] |
//! | [`drop_after::drop_all`](crate::drop_after::drop_all) | [`drop_all`] |
//!
//! # How
//!
//! 1. A calling thread that is provably alone (`unshare(CLONE_THREAD)` succeeds: the kernel
//!    refuses it exactly when the thread group has other members) makes the change and reads
//!    it back itself: no signal, no `/proc`, which also makes the single-threaded case cheap
//!    and makes it work in a chroot.
//! 2. Otherwise capscope first makes sure the `/proc` in use is the process's own (a `/proc`
//!    of another PID namespace lists thread ids `tgkill` cannot use): if there is none, or it
//!    belongs to another namespace, the call is refused before any change, with the cause and
//!    the fix ([`Error::Refused`]). A directory of `/proc/self/task` opened once is kept (it
//!    survives a `chroot`).
//! 3. The calling thread makes the change itself. If that fails, nothing else is touched.
//! 4. Every other thread is sent a dedicated real-time signal with `tgkill`; its handler makes
//!    the same system calls on its own thread, reads the result back through system calls, and
//!    reports through atomics (the last answer wakes the caller with a futex, as glibc's own
//!    broadcast does). The threads come from capscope's own records when they account for all
//!    of them: the kernel's thread count (one `fstat` of the kept directory) is exactly the
//!    threads capscope's `pthread_create` saw born and still alive, plus the main thread, and
//!    no such thread was born or exited around that count (so no thread was started by other
//!    means, not even one paired with an exit). Otherwise (a thread started behind capscope's
//!    back, one still being born, an io thread, an exited main thread) they are listed from
//!    `/proc/self/task`. A contained thread that ended without its exit being seen (killed by
//!    its own seccomp filter, a raw `SYS_exit`) leaves a record that stays counted and could
//!    stand for a thread capscope does not know: when an id from the records turns out gone,
//!    the next pass lists.
//! 5. The list is read (from `/proc/self/task`) again until a pass finds no thread that has
//!    not made the change:
//!    threads created meanwhile are signalled in the next pass, unless capscope's
//!    `pthread_create` saw them born from a thread that had already made the change (they
//!    hold it by inheritance: [`Report::settled`]), so a program that keeps starting threads
//!    does not keep the broadcast going. A listing counts only when
//!    the kernel's thread count is the same just before and just after it: the kernel's walk
//!    of `/proc/<pid>/task` stops early when a thread exits under it. The second listing is
//!    skipped when every live thread is accounted for without it: no thread was started
//!    through `pthread_create` since the first listing, and the kernel counts exactly the
//!    threads listed, which are the threads capscope saw born, the main thread and io
//!    threads (so none was started by other means, not even one paired with a death).
//! 6. Every thread verified its own change by reading it back through system calls (in
//!    parallel, on each thread); a thread born after the last pass was born from a changed
//!    thread and holds the new state by inheritance. Group lists longer than a handler's stack
//!    holds (32) are compared by the caller from each thread's `status` file.
//!
//! Any thread that fails, blocks the signal, or does not answer within the timeout turns the
//! call into [`Error::Threads`] naming the thread ids: never a silent partial success. After
//! such an error the threads hold different credentials (the calling thread has changed): the
//! program should abort, or retry once the named threads can answer.
//!
//! # Threads that take no signal
//!
//! - **Kernel io threads** (io_uring's `iou-sqp-*` SQPOLL threads and `iou-wrk-*` workers,
//!   marked `PF_IO_WORKER` in `/proc/<tid>/stat`) never take signals and never run the
//!   program's code: they are recognised, not signalled, not waited for, and listed in
//!   [`Report::io_threads`]. What the kernel does with credentials there: io-wq workers run
//!   each request with the credentials its submitter had when it submitted it, so a change
//!   made here reaches them with the next request; but an **SQPOLL ring runs every request
//!   with the credentials its creator had when it set the ring up** (`ctx->sq_creds`), for the
//!   life of the ring: a ring set up before a drop keeps doing its I/O with the old
//!   capabilities. Set up SQPOLL rings after dropping, or register a personality.
//! - **A full signal queue**: when the real-time signal queue is full (`RLIMIT_SIGPENDING`),
//!   `tgkill` fails with `EAGAIN`; the signal is sent again until the timeout, then the thread
//!   is named in [`ThreadFailures::queue_full`](crate::ThreadFailures::queue_full).
//! - **Exited threads** (a zombie main thread, after `pthread_exit` in `main`) are not live:
//!   they are skipped.
//! - **Threads that block the signal**: one that sleeps with it in its `SigBlk` mask for longer
//!   than [`Broadcast::blocked_grace`] is named in
//!   [`ThreadFailures::blocked`](crate::ThreadFailures::blocked) right away; one that blocks
//!   every signal (as glibc does for a moment around thread creation and exit, and as the "one
//!   thread calls `sigwait`" pattern does for good) or is runnable is named there only if it
//!   still blocks it at the [`Broadcast::timeout`]. Threads in an uninterruptible wait (a
//!   `vfork` parent, for example) answer late or, past the timeout, not at all.
//!
//! Before the call returns, the broadcast is retired and every handler still at work has
//! finished, so the threads named in the error did not make the change and the others did; a
//! signal such a thread receives later does nothing. Only one broadcast runs at a time:
//! another thread's call waits; a call from a signal handler that interrupted a broadcast on
//! the same thread is refused. A thread in the middle of one of capscope's own
//! read-modify-writes of its capability sets (a guard being made or dropped) answers when it
//! ends, so a broadcast's change is never overwritten by a write-back of older sets.
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
//! # Limits
//!
//! - A program that creates threads faster than passes complete for the whole timeout gets an
//!   error, not a partial success.
//! - A child forked during a broadcast inherits a half-done state; capscope's lock is taken
//!   over in the child (its owner is not a thread there), nothing else is repaired.
//! - A seccomp filter that forbids `capset` or `prctl` on some thread makes that thread fail:
//!   [`ThreadFailures::failed`](crate::ThreadFailures::failed) names it with its step and errno.
//! - A filter that answers these calls with 0 without doing anything is caught by the
//!   read-backs: `capget` writes into a buffer that starts with capability 63 set (which no
//!   kernel reports), and a read-back that expects "absent" also asks about capability 63
//!   (which the kernel must refuse with `EINVAL`). A filter, or a user-notification
//!   supervisor, that matches each capability argument and answers every read consistently
//!   is not: nothing a thread can ask tells its answers from the kernel's.
//!
//! # Cost
//!
//! Single-threaded: `unshare` plus the change and its read-back (no lock, no `/proc`). With
//! threads all started through capscope's `pthread_create` (std, tokio, rayon): per broadcast,
//! one `fstat` before the signals and one after them to account for every thread, one
//! `sigaction` to check the handler, one `getpid`, then per thread one `tgkill` and the
//! handler's own system calls (the change and its read-back); no `/proc` directory or file is
//! read. A thread started by other means adds one listing of the task directory (`lseek` and
//! `getdents64` on the kept descriptor, between two `fstat`s) per pass.
//!
//! Measured in one run (`target/release/deps/process-* --ratios`, built by `cargo bench -p
//! capscope-tests --bench process`; 2 vCPUs, Linux 6.18; ranges over 13 runs): one thread,
//! 1.33 to 1.37× one `capset`; 8 and 64 threads, 0.93 to 1.12× and 0.99 to 1.04× glibc's
//! broadcast of a real change (`setresgid` flipping the effective gid, which commits new
//! credentials on every thread as `capset` does), and 1.06 to 1.27× / 1.12 to 1.19× glibc's
//! broadcast of an unchanged `setresuid` (which the kernel returns from without doing
//! anything). What is left above glibc is one `capget` per thread (the read-back) and, per
//! call, two `fstat`s, one `sigaction` and the caller's own read-back; almost all the rest is
//! the kernel delivering the signals, as for glibc. The read-back is kept: a seccomp filter
//! (`SECCOMP_RET_ERRNO` with 0) or a user-notification supervisor can make `capset` return 0
//! without changing anything, and a drop reported done must be done.
//!
//! # Examples
//!
//! ```no_run
//! use capscope::{drop_after::DropOptions, process};
//!
//! // Workers already run; drop every capability in all of them.
//! let workers: Vec<_> = (0..4).map(|_| std::thread::spawn(|| std::thread::park())).collect();
//! let report = process::drop_all(&DropOptions::new().bounding().no_new_privs())?;
//! assert!(report.threads >= 5);
//! # drop(workers);
//! # Ok::<(), capscope::Error>(())
//! ```
//!
//! # References
//!
//! capabilities(7) ("Thread and process capability sets"), signal(7) ("Real-time signals"),
//! tgkill(2), futex(2), unshare(2), nptl(7) (glibc's own broadcast for the setuid family),
//! libcap's `psx` and `tests/exploit.c`, io_uring_setup(2) (`IORING_SETUP_SQPOLL`).

use std::time::Duration;

use crate::drop_after::DropOptions;
use crate::error::{Errno, Error, Op, Result};
use crate::sys::proc::TaskDir;
use crate::thread::ops::{self, Change, DropSpec};
use crate::{kernel, CapSet, CapState, IdChange, Secbits};

mod broadcast;
mod handler;
mod signal;
mod verify;

pub use signal::{default_signal, set_signal, signal};

use broadcast::{Job, Settings, Target};

/// What a successful broadcast did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Threads that hold the change, the calling thread included: each thread that made it
    /// and read it back itself, plus the [`settled`](Self::settled) ones, which hold it by
    /// inheritance and were not asked.
    pub threads: usize,
    /// Threads signalled (every thread but the caller that was seen during the broadcast).
    pub signalled: usize,
    /// Threads that appeared during the broadcast already holding the change (born, through
    /// capscope's `pthread_create`, from a thread that had made it): counted, not signalled.
    pub settled: usize,
    /// Passes over `/proc/self/task`; more than 2 means threads appeared meanwhile (0: the
    /// calling thread was alone).
    pub passes: u32,
    /// Kernel io threads (io_uring) found, which take no signals and were left alone: see the
    /// [module docs](self) for what the kernel does with their credentials.
    pub io_threads: Vec<u32>,
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
    settings: Settings,
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
            settings: Settings {
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

    fn run(&self, change: Change, op: Op, groups: Option<&[u32]>) -> Result<Report> {
        let job = Job {
            change,
            op,
            settings: self.settings,
            target: Target::All,
            groups,
        };
        broadcast::run(&job, None)
    }

    /// Sets the effective, permitted and inheritable sets of every thread to `state`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (no system call) when the effective set is not a subset of the
    /// permitted set. [`Error::Refused`] (nothing changed) without a `/proc` of the process's
    /// own PID namespace while other threads live. [`Error::Os`] when the calling thread's
    /// `capset` fails (nothing changed; the hint names the rule). [`Error::Threads`] when
    /// another thread fails, blocks the signal, does not answer, or does not hold `state`
    /// afterwards. [`Error::Indeterminate`] when the machinery itself fails part-way.
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
        const OP: Op = Op::ProcessSetCaps;
        if !state.effective.is_subset(state.permitted) {
            return Err(Error::invalid(
                OP,
                format!(
                    "{:?} would be effective but not permitted",
                    state.effective - state.permitted
                ),
            ));
        }
        self.run(Change::SetCaps(*state), OP, None)
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
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::{process::Broadcast, Cap};
    /// Broadcast::new().bounding_drop(Cap::SYS_MODULE)?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAPBSET_DROP`)
    #[doc(alias = "PR_CAPBSET_DROP")]
    pub fn bounding_drop(&self, caps: impl Into<CapSet>) -> Result<Report> {
        const OP: Op = Op::ProcessBoundingDrop;
        let caps = caps.into();
        kernel::check_supported(OP, caps)?;
        self.run(Change::BoundingDrop(caps), OP, None)
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
    /// # Examples
    ///
    /// ```
    /// capscope::process::Broadcast::new().ambient_clear()?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAP_AMBIENT_CLEAR_ALL`)
    #[doc(alias = "PR_CAP_AMBIENT_CLEAR_ALL")]
    pub fn ambient_clear(&self) -> Result<Report> {
        let last = kernel::last_supported()?;
        self.run(Change::AmbientClear { last }, Op::ProcessAmbientClear, None)
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
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::{process::Broadcast, Cap};
    /// Broadcast::new().ambient_raise(Cap::NET_BIND_SERVICE)?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// prctl(2) (`PR_CAP_AMBIENT_RAISE`)
    #[doc(alias = "PR_CAP_AMBIENT_RAISE")]
    pub fn ambient_raise(&self, caps: impl Into<CapSet>) -> Result<Report> {
        const OP: Op = Op::ProcessAmbientRaise;
        let caps = caps.into();
        kernel::check_supported(OP, caps)?;
        self.run(Change::AmbientRaise(caps), OP, None)
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
    /// # Examples
    ///
    /// ```no_run
    /// capscope::process::Broadcast::new().set_no_new_privs()?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// prctl(2) (`PR_SET_NO_NEW_PRIVS`)
    #[doc(alias = "PR_SET_NO_NEW_PRIVS")]
    pub fn set_no_new_privs(&self) -> Result<Report> {
        self.run(Change::NoNewPrivs, Op::ProcessSetNoNewPrivs, None)
    }

    /// Sets the securebits of every thread to exactly `bits`. Each thread reads its bits back
    /// (`/proc` does not show them, so that read-back is the verification).
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
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::{process::Broadcast, securebits, Secbits};
    /// Broadcast::new().set_securebits(securebits::get()? | Secbits::NOROOT)?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// prctl(2) (`PR_SET_SECUREBITS`), capabilities(7)
    #[doc(alias = "PR_SET_SECUREBITS")]
    pub fn set_securebits(&self, bits: Secbits) -> Result<Report> {
        self.run(Change::Securebits(bits), Op::ProcessSetSecurebits, None)
    }

    /// [`drop_after::drop_all`](crate::drop_after::drop_all) on every thread: with `bounding`,
    /// the bounding set down to the kept capabilities (raising `CAP_SETPCAP` into the effective
    /// set first where it is only permitted); with `uid`/`gid`, the groups cleared and the ids
    /// changed; the ambient set cleared; with `no_new_privs`, the flag set; then the effective
    /// and inheritable sets emptied and the permitted set cut down to the kept capabilities
    /// (all 64 bits). What `#[drop_caps_after(all_threads)]` calls. Whether `opts` says
    /// `all_threads` or not, every thread is changed.
    ///
    /// # Errors
    ///
    /// Before any change, as [`drop_after::drop_all`](crate::drop_after::drop_all)'s checks.
    /// Then as [`set_caps`](Self::set_caps).
    ///
    /// # Thread scope
    ///
    /// Every thread of the process.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use capscope::{drop_after::DropOptions, process::Broadcast, Cap};
    /// Broadcast::new().drop_all(&DropOptions::new().keep(Cap::NET_BIND_SERVICE))?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// capset(2), prctl(2) (`PR_CAPBSET_DROP`, `PR_CAP_AMBIENT_CLEAR_ALL`, `PR_SET_NO_NEW_PRIVS`)
    pub fn drop_all(&self, opts: &DropOptions) -> Result<Report> {
        let spec = opts.resolve(Op::ProcessDropAll)?;
        let report = self.run(Change::DropAll(spec), Op::ProcessDropAll, None)?;
        crate::scope::audit::drop(Op::ProcessDropAll, &spec, report.threads);
        Ok(report)
    }

    /// [`cap_set_ids`](crate::cap_set_ids) on every thread: uid, gid and supplementary groups
    /// changed, permitted capabilities kept, with the same validation and the same read-back
    /// on each thread (`getresuid`, `getresgid`, the filesystem ids, `getgroups`, `capget`).
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
    /// use capscope::{process::Broadcast, IdChange};
    /// // A root daemon with worker threads becomes uid/gid 1000 everywhere, keeping its
    /// // permitted capabilities.
    /// Broadcast::new().cap_set_ids(&IdChange::new().uid(1000).gid(1000).clear_groups())?;
    /// # Ok::<(), capscope::Error>(())
    /// ```
    ///
    /// # References
    ///
    /// setresuid(2), setgroups(2), capabilities(7), nptl(7)
    #[doc(alias = "cap_setuid")]
    #[doc(alias = "cap_setgroups")]
    pub fn cap_set_ids(&self, change: &IdChange<'_>) -> Result<Report> {
        let req = change.validate(Op::ProcessCapSetIds)?;
        self.run(
            Change::SetIds {
                uid: req.uid,
                gid: req.gid,
                preserve_effective: req.preserve_effective,
            },
            Op::ProcessCapSetIds,
            req.groups,
        )
    }
}

/// The error for the calling thread's own change failing (before any other thread is
/// touched).
fn caller_error(job: &Job<'_>, f: ops::Fail) -> Error {
    let hint = match (job.change, f.errno) {
        (_, Some(e)) if e != Errno::PERM => None,
        (Change::SetCaps(_), _) => Some(
            "the new permitted set must be a subset of the current one and the effective set a \
             subset of the new permitted set; raising inheritable capabilities outside the \
             permitted set needs CAP_SETPCAP",
        ),
        (Change::BoundingDrop(_), _) => Some(crate::bounding::DROP_HINT),
        (Change::DropAll(_), _) if f.op == Op::CapbsetDrop => Some(crate::bounding::DROP_HINT),
        (Change::Securebits(_), _) => Some(crate::securebits::SET_HINT),
        (Change::AmbientRaise(_), _) => Some(crate::ambient::RAISE_HINT),
        _ => None,
    };
    crate::thread::identity::fail_error(job.op, f, hint)
}

/// The drop of `#[drop_caps_after]` on every thread, through a task directory opened before the
/// function body ran (so that a `chroot` in the body does not matter).
pub(crate) fn drop_with(spec: &DropSpec, tasks: &TaskDir) -> Result<Report> {
    let job = Job {
        change: Change::DropAll(*spec),
        op: Op::ProcessDropAll,
        settings: Broadcast::new().settings,
        target: Target::All,
        groups: None,
    };
    let report = broadcast::run(&job, Some(tasks))?;
    crate::scope::audit::drop(Op::ProcessDropAll, spec, report.threads);
    Ok(report)
}

/// Lowers `mask` from the effective set of the threads `tids` (not the calling thread), each
/// thread reading its own sets back: how threads born inside a scope by means the library could
/// not intercept lose what the scope raised.
pub(crate) fn lower_on(tids: &[u32], mask: CapSet, tasks: &TaskDir) -> Result<Report> {
    let job = Job {
        change: Change::LowerEffective(mask),
        op: Op::ProcessLower,
        settings: Broadcast::new().settings,
        target: Target::Only(tids),
        groups: None,
    };
    broadcast::run(&job, Some(tasks))
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
/// capscope::process::bounding_drop(capscope::Cap::SYS_MODULE)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAPBSET_DROP")]
pub fn bounding_drop(caps: impl Into<CapSet>) -> Result<Report> {
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
/// capscope::process::ambient_raise(capscope::Cap::NET_BIND_SERVICE)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_RAISE")]
pub fn ambient_raise(caps: impl Into<CapSet>) -> Result<Report> {
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
/// use capscope::{drop_after::DropOptions, process, Cap};
/// // Keep only CAP_NET_BIND_SERVICE in the permitted sets, everywhere, for good.
/// process::drop_all(&DropOptions::new().keep(Cap::NET_BIND_SERVICE).bounding().no_new_privs())?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn drop_all(opts: &DropOptions) -> Result<Report> {
    Broadcast::new().drop_all(opts)
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
/// use capscope::IdChange;
/// capscope::process::cap_set_ids(&IdChange::new().uid(1000).gid(1000).clear_groups())?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "cap_setuid")]
pub fn cap_set_ids(change: &IdChange<'_>) -> Result<Report> {
    Broadcast::new().cap_set_ids(change)
}

//! The broadcasting half: the one-at-a-time lock, the choice and installation of the signal,
//! and the loop that signals every thread, waits for the answers and rescans.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex;

use crate::error::{Error, Result};
use crate::Errno;

use super::handler::{self, Fail, Op, MISMATCH, OUTSTANDING};
use super::verify;
use super::Report;

const OP_LOCK: &str = "process broadcast";

/// The thread id holding the broadcast lock; 0 when free.
static LOCK: AtomicU32 = AtomicU32::new(0);
/// The signal chosen with `set_signal`; 0 for the default.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The signal our handler is installed on; 0 before the first broadcast.
static INSTALLED: AtomicI32 = AtomicI32::new(0);
/// The last generation handed out.
static GEN: AtomicU32 = AtomicU32::new(0);

/// How often a thread that has not answered is signalled again (a signal the kernel refused
/// with `EAGAIN`, its queue being full, is sent again this way).
const RESEND: Duration = Duration::from_millis(200);
/// The longest single futex sleep, so that deadlines and exited threads are noticed.
const SLICE: Duration = Duration::from_millis(10);

/// Holding the broadcast lock. Dropping it ends the broadcast (handlers that run later do
/// nothing) and lets the next one start.
#[derive(Debug)]
pub(super) struct LockGuard(());

impl Drop for LockGuard {
    fn drop(&mut self) {
        handler::retire();
        LOCK.store(0, Ordering::Release);
        let _ = futex::wake(&LOCK, futex::Flags::PRIVATE, u32::MAX);
    }
}

fn pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

fn tid_i32(tid: u32) -> i32 {
    i32::try_from(tid).unwrap_or(i32::MAX)
}

/// `tgkill(pid, tid, sig)` (`pid` is ours); `sig` 0 only checks that the thread exists.
fn tgkill(pid: i32, tid: u32, sig: i32) -> std::result::Result<(), Errno> {
    // SAFETY: tgkill takes plain integers; it signals only a thread of our own process.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid_i32(tid), sig) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Takes the broadcast lock, waiting for a broadcast running on another thread. A thread that
/// already holds it (a broadcast started from a signal handler that interrupted a broadcast on
/// the same thread) is refused: waiting would never end.
pub(super) fn lock() -> Result<LockGuard> {
    let me = crate::current_tid();
    loop {
        match LOCK.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(LockGuard(())),
            Err(owner) if owner == me => {
                return Err(Error::invalid(
                    OP_LOCK,
                    "a broadcast is already running on this thread (called from a signal handler that \
                     interrupted it); broadcasts do not nest",
                ));
            }
            Err(owner) => {
                // An owner that is not a thread of this process: we are a child forked while
                // another thread of the parent was broadcasting. Its broadcast is not ours.
                if tgkill(pid(), owner, 0) == Err(Errno::SRCH) {
                    let _ = LOCK.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                    continue;
                }
                let slice = futex::Timespec {
                    tv_sec: 0,
                    tv_nsec: 100_000_000,
                };
                // EAGAIN (owner changed), EINTR (a signal, maybe ours: the handler ran) and
                // ETIMEDOUT all mean: look again.
                let _ = futex::wait(&LOCK, futex::Flags::PRIVATE, owner, Some(&slice));
            }
        }
    }
}

#[cfg(test)]
pub(super) fn lock_for_tests() -> LockGuard {
    lock().expect("broadcast lock")
}

/// The default signal: `SIGRTMAX() - 2`, see the module docs of `process` for why.
pub(super) fn default_signal() -> i32 {
    libc::SIGRTMAX() - 2
}

/// The signal broadcasts use (installed or about to be).
pub(super) fn signal() -> i32 {
    match INSTALLED.load(Ordering::Acquire) {
        0 => match SIGNAL.load(Ordering::Acquire) {
            0 => default_signal(),
            s => s,
        },
        s => s,
    }
}

pub(super) fn set_signal(sig: i32) -> Result<()> {
    const OP: &str = "process::set_signal";
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if !(min..=max).contains(&sig) {
        return Err(Error::invalid(
            OP,
            format!("signal {sig} is not a real-time signal usable here ({min}..={max})"),
        ));
    }
    let _guard = lock()?;
    match INSTALLED.load(Ordering::Acquire) {
        0 => {
            SIGNAL.store(sig, Ordering::Release);
            Ok(())
        }
        s if s == sig => Ok(()),
        s => Err(Error::invalid(
            OP,
            format!("the broadcast handler is already installed on signal {s}; choose the signal before the first broadcast"),
        )),
    }
}

fn handler_address() -> usize {
    handler::on_signal as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
        as usize
}

fn current_action(sig: i32) -> Result<libc::sigaction> {
    // SAFETY: sigaction with a null new action only writes the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = core::mem::zeroed();
        if libc::sigaction(sig, core::ptr::null(), &mut old) != 0 {
            return Err(Error::os("sigaction", Errno::last()));
        }
        Ok(old)
    }
}

/// Installs the handler on the chosen signal if needed, and checks that it is still ours.
fn ensure_installed() -> Result<i32> {
    let installed = INSTALLED.load(Ordering::Acquire);
    if installed != 0 {
        let now = current_action(installed)?;
        if now.sa_sigaction != handler_address() {
            return Err(Error::kernel(
                "sigaction",
                format!(
                    "the broadcast handler on signal {installed} was replaced by another handler"
                ),
            ));
        }
        return Ok(installed);
    }
    let sig = signal();
    let old = current_action(sig)?;
    if old.sa_sigaction != libc::SIG_DFL
        && old.sa_sigaction != libc::SIG_IGN
        && old.sa_sigaction != handler_address()
    {
        return Err(Error::invalid(
            "sigaction",
            format!("signal {sig} already has a handler of the program; choose another with process::set_signal"),
        ));
    }
    // SAFETY: `action` is fully initialised: the handler is an extern "C" fn with the
    // SA_SIGINFO signature, the mask is filled (every signal blocked while it runs).
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = handler_address();
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(sig, &action, core::ptr::null_mut()) != 0 {
            return Err(Error::os("sigaction", Errno::last()));
        }
    }
    INSTALLED.store(sig, Ordering::Release);
    Ok(sig)
}

fn next_gen() -> u32 {
    loop {
        let g = GEN.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if g != 0 {
            return g;
        }
    }
}

/// Knobs of one broadcast.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) timeout: Duration,
    pub(super) blocked_grace: Duration,
}

struct Entry {
    index: usize,
    sent: Option<Instant>,
    first_sent: Instant,
    result: Option<u32>,
    gone: bool,
    /// Since when every look found the thread blocking the signal.
    blocked_since: Option<Instant>,
}

struct Run {
    op: Op,
    /// Threads found already changed from outside, never signalled.
    settled: Vec<u32>,
    name: &'static str,
    gen: u32,
    sig: i32,
    /// Our process id, read once (one `getpid` per broadcast, not per thread).
    pid: i32,
    me: u32,
    threads: HashMap<u32, Entry>,
    blocked: Vec<u32>,
    unanswered: Vec<u32>,
}

/// Applies `op` on the calling thread, then on every other thread, then verifies them all.
pub(super) fn run(op: Op, name: &'static str, settings: Settings) -> Result<Report> {
    run_with(op, name, settings, None, None)
}

/// How long a broadcast waits, at its end, for handlers still applying the operation.
const QUIESCE: Duration = Duration::from_secs(1);

/// [`run`] with the buffer `op` points to (`data`, kept alive until no handler can read it,
/// leaked if one still might) and the calling thread's own apply-and-verify step, when it is
/// not [`handler::apply`].
pub(super) fn run_with(
    op: Op,
    name: &'static str,
    settings: Settings,
    data: Option<Box<[u32]>>,
    caller: Option<&dyn Fn() -> Result<()>>,
) -> Result<Report> {
    let guard = lock()?;
    let sig = ensure_installed()?;
    // The calling thread first: if it cannot make the change, nothing else is touched.
    match caller {
        Some(f) => f()?,
        None => handler::apply(op).map_err(|f| caller_error(op, name, f))?,
    }
    let gen = next_gen();
    handler::reset_table();
    handler::publish(op, gen);
    let mut run = Run {
        op,
        settled: Vec::new(),
        name,
        gen,
        sig,
        pid: pid(),
        me: crate::current_tid(),
        threads: HashMap::new(),
        blocked: Vec::new(),
        unanswered: Vec::new(),
    };
    // From here on the calling thread has changed: any failure is a partial change.
    let result = run.signal_all(settings);
    handler::retire(); // handlers that start from now on do nothing
    if !handler::quiesce(QUIESCE) {
        // A handler is still inside the change: it may read `data` until it ends.
        Box::leak(data.unwrap_or_default());
        return Err(Error::Indeterminate {
            op: name,
            source: Box::new(Error::kernel(
                name,
                "a thread stayed inside the broadcast handler for over a second",
            )),
        });
    }
    let passes = match result {
        Ok(p) => p,
        Err(e) => {
            return Err(Error::Indeterminate {
                op: name,
                source: Box::new(e),
            })
        }
    };
    // Everything answered; collect failures.
    run.collect();
    let mut failed = Vec::new();
    let mut unverified = Vec::new();
    for (&tid, e) in &run.threads {
        match e.result {
            Some(0) | None => {}
            Some(MISMATCH) => unverified.push(tid),
            Some(code) => failed.push((
                tid,
                Errno::from_raw(i32::try_from(code).unwrap_or(i32::MAX)),
            )),
        }
    }
    if !(run.blocked.is_empty()
        && run.unanswered.is_empty()
        && failed.is_empty()
        && unverified.is_empty())
    {
        return Err(run.error(failed, unverified));
    }
    let (checked, wrong) =
        verify::verify_all(op, data.as_deref()).map_err(|e| Error::Indeterminate {
            op: name,
            source: Box::new(e),
        })?;
    if !wrong.is_empty() {
        return Err(run.error(Vec::new(), wrong));
    }
    let signalled = run.threads.len();
    drop(guard);
    Ok(Report {
        threads: checked,
        signalled,
        settled: run.settled.len(),
        passes,
    })
}

impl Run {
    fn error(&mut self, mut failed: Vec<(u32, Errno)>, mut unverified: Vec<u32>) -> Error {
        self.blocked.sort_unstable();
        self.unanswered.sort_unstable();
        failed.sort_unstable_by_key(|f| f.0);
        unverified.sort_unstable();
        Error::Threads {
            op: self.name,
            blocked: std::mem::take(&mut self.blocked),
            unanswered: std::mem::take(&mut self.unanswered),
            failed,
            unverified,
        }
    }

    /// The signalling loop; `Ok(passes)` when a pass found every listed thread done, or
    /// `Err` for a failure of the machinery itself. Threads that block the signal or do not
    /// answer end the loop with `Ok` and are left in `blocked` / `unanswered`.
    fn signal_all(&mut self, settings: Settings) -> Result<u32> {
        let start = Instant::now();
        let deadline = start + settings.timeout;
        let mut passes = 0;
        loop {
            passes += 1;
            let tids = crate::sys::proc::list_tasks_settled()?;
            let mut fresh = 0;
            for &tid in &tids {
                if tid == self.me || self.threads.contains_key(&tid) {
                    continue;
                }
                // After the first pass, most new threads were created by changed threads and
                // were born with the new state: a look from outside (no signal) settles them.
                // Whatever such a thread creates is born changed too.
                if passes > 1 && verify::already_done(self.op, tid) {
                    self.settled.push(tid);
                    continue;
                }
                fresh += 1;
                let index = handler::register(tid, self.gen);
                let now = Instant::now();
                let mut entry = Entry {
                    index,
                    sent: None,
                    first_sent: now,
                    result: None,
                    gone: false,
                    blocked_since: None,
                };
                self.send(tid, &mut entry)?;
                self.threads.insert(tid, entry);
            }
            if !self.wait(deadline, settings.blocked_grace)? {
                return Ok(passes); // blocked or unanswered threads: reported by the caller
            }
            // A settled listing in which every thread is done: a thread it could miss was born
            // during it, from a listed (so changed) thread.
            if fresh == 0 {
                return Ok(passes);
            }
            if Instant::now() >= deadline {
                return Err(Error::kernel(
                    self.name,
                    format!(
                        "new threads kept appearing for {:?}; the broadcast could not settle",
                        settings.timeout
                    ),
                ));
            }
        }
    }

    /// Gives up pending threads that exited (checked with a signal-0 `tgkill`).
    fn reap_exited(&mut self, pending: &[u32]) {
        for tid in pending {
            if tgkill(self.pid, *tid, 0) == Err(Errno::SRCH) {
                let e = self
                    .threads
                    .get_mut(tid)
                    .expect("pending threads are registered");
                e.gone = handler::abandon(e.index, self.gen);
            }
        }
    }

    fn send(&self, tid: u32, entry: &mut Entry) -> Result<()> {
        match tgkill(self.pid, tid, self.sig) {
            Ok(()) => entry.sent = Some(Instant::now()),
            Err(Errno::SRCH) => entry.gone = handler::abandon(entry.index, self.gen),
            Err(e) if e.raw() == rustix::io::Errno::AGAIN.raw_os_error() => entry.sent = None,
            Err(e) => return Err(Error::os("tgkill", e)),
        }
        Ok(())
    }

    /// Reads the results of the threads still pending; returns those still pending.
    fn collect(&mut self) -> Vec<u32> {
        let mut pending = Vec::new();
        for (&tid, e) in &mut self.threads {
            if e.result.is_some() || e.gone {
                continue;
            }
            e.result = handler::result(e.index, self.gen);
            if e.result.is_none() {
                pending.push(tid);
            }
        }
        pending
    }

    /// Waits until every registered thread answered or is gone (`Ok(true)`), or until some
    /// block the signal past the grace period or the deadline passes (`Ok(false)`, with
    /// `blocked` / `unanswered` filled).
    fn wait(&mut self, deadline: Instant, grace: Duration) -> Result<bool> {
        let mut last_check: Option<Instant> = None;
        loop {
            let pending = self.collect();
            if pending.is_empty() {
                return Ok(true);
            }
            let now = Instant::now();
            let slow = pending
                .iter()
                .any(|t| now.duration_since(self.threads[t].first_sent) >= grace);
            if now >= deadline
                || (slow && last_check.is_none_or(|t| now.duration_since(t) >= SLICE))
            {
                last_check = Some(now);
                if self.check_pending(&pending, now >= deadline, grace)? {
                    return Ok(false);
                }
                continue;
            }
            // Sleep until the last pending thread answers (its handler wakes us), or a slice
            // passes: then look for threads that exited instead of answering.
            let seen = OUTSTANDING.load(Ordering::SeqCst);
            if seen == 0 {
                continue; // everyone answered since `collect`
            }
            let left = SLICE.min(deadline - now);
            let ts = futex::Timespec {
                tv_sec: 0,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            if futex::wait(&OUTSTANDING, futex::Flags::PRIVATE, seen, Some(&ts))
                == Err(rustix::io::Errno::TIMEDOUT)
            {
                self.reap_exited(&pending);
            }
        }
    }

    /// The slow path for threads that have not answered for a while: drop those that exited,
    /// signal the others again, and name those that block the signal (or, past the deadline,
    /// all that are left). `Ok(true)` ends the wait with an error to report.
    fn check_pending(
        &mut self,
        pending: &[u32],
        past_deadline: bool,
        grace: Duration,
    ) -> Result<bool> {
        let now = Instant::now();
        let mut stuck = Vec::new();
        for &tid in pending {
            let status = crate::sys::proc::task_status(tid);
            let mut entry = self
                .threads
                .remove(&tid)
                .expect("pending threads are registered");
            let blocks = status.as_ref().is_some_and(|s| s.blocks(self.sig));
            if blocks {
                entry.blocked_since.get_or_insert(now);
            } else {
                entry.blocked_since = None;
            }
            // Named before the deadline: a thread seen blocking the signal at every look for
            // the grace period, sleeping, and not blocking every signal. glibc blocks every
            // signal for a moment in a thread being created or exiting (and a thread in a
            // signal handler may too), and a runnable thread may just not have run yet: those
            // are only named at the deadline, if they still block it then.
            let early = status
                .as_ref()
                .is_some_and(|s| !s.running && !s.blocks_all())
                && entry
                    .blocked_since
                    .is_some_and(|t| now.duration_since(t) >= grace);
            if status.as_ref().is_some_and(|s| s.zombie)
                || tgkill(self.pid, tid, 0) == Err(Errno::SRCH)
            {
                // Exited (or answered just before exiting: then its result is collected).
                entry.gone = handler::abandon(entry.index, self.gen);
            } else if blocks && (past_deadline || early) {
                self.blocked.push(tid);
            } else if past_deadline {
                stuck.push(tid);
            } else if entry.sent.is_none_or(|t| now.duration_since(t) >= RESEND) {
                self.send(tid, &mut entry)?;
            }
            self.threads.insert(tid, entry);
        }
        if self.blocked.is_empty() && stuck.is_empty() {
            return Ok(false);
        }
        // Stop handlers from starting the change now, let those already inside finish, then
        // take a last look: a thread that answered meanwhile did change, the others did not.
        // (If one stays inside, `run_with`'s own wait fails the whole call.)
        handler::retire();
        handler::quiesce(QUIESCE);
        let still = self.collect();
        self.blocked.retain(|t| still.contains(t));
        self.unanswered = still
            .into_iter()
            .filter(|t| !self.blocked.contains(t) && !self.threads[t].gone)
            .collect();
        Ok(!(self.blocked.is_empty() && self.unanswered.is_empty()))
    }
}

fn hint(op: Op) -> &'static str {
    match op {
        Op::SetCaps(_) => {
            "the new permitted set must be a subset of the current one and the effective set a subset of \
             the new permitted set; raising inheritable capabilities outside the permitted set needs CAP_SETPCAP"
        }
        Op::BoundingDrop { .. } | Op::DropAll { bounding: true, .. } => {
            "dropping from the bounding set needs CAP_SETPCAP in the effective set"
        }
        Op::Securebits(_) => {
            "setting securebits needs CAP_SETPCAP in the effective set, and a locked flag (or its lock) cannot change"
        }
        Op::AmbientRaise { .. } => {
            "an ambient capability must be in both the permitted and the inheritable set, and the securebit \
             NO_CAP_AMBIENT_RAISE must be clear"
        }
        Op::AmbientClear { .. } | Op::NoNewPrivs | Op::DropAll { .. } | Op::SetIds { .. } => "",
    }
}

/// The error for the calling thread's own change failing (before any other thread is touched).
fn caller_error(op: Op, name: &'static str, f: Fail) -> Error {
    let base = if f.code == MISMATCH {
        Error::kernel(
            name,
            "the calling thread's state, read back after the change, is not what was asked",
        )
    } else {
        let e = Error::os(
            name,
            Errno::from_raw(i32::try_from(f.code).unwrap_or(i32::MAX)),
        );
        match hint(op) {
            h if !h.is_empty() && f.code == Errno::PERM.raw().unsigned_abs() => e.with_hint(h),
            _ => e,
        }
    };
    if f.partial {
        Error::Indeterminate {
            op: name,
            source: Box::new(base),
        }
    } else {
        base
    }
}

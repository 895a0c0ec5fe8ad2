//! The broadcasting half: the one-at-a-time lock and the loop that signals every thread, waits
//! for the answers and rescans.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex;

use crate::error::{Errno, Error, Op, Result, ThreadFailures};
use crate::sys::proc::TaskDir;
use crate::sys::{shared, signal};
use crate::thread::ops::{self, Change};

use super::handler::{self, Answer, OUTSTANDING};
use super::Report;

/// The thread id holding the broadcast lock; 0 when free.
static LOCK: AtomicU32 = AtomicU32::new(0);
/// The last generation handed out.
static GEN: AtomicU32 = AtomicU32::new(0);
/// Threads waiting for the broadcast lock (woken only when there are some).
static WAITERS: AtomicU32 = AtomicU32::new(0);

/// How often a thread that has not answered, and does not have the signal pending, is
/// signalled again (a signal the kernel refused with `EAGAIN`, its queue being full, is sent
/// again this way).
const RESEND: Duration = Duration::from_millis(200);
/// The longest single futex sleep, so that deadlines and exited threads are noticed.
const SLICE: Duration = Duration::from_millis(10);
/// How long a broadcast waits, at its end, for handlers still applying the change.
const QUIESCE: Duration = Duration::from_secs(1);

thread_local! {
    /// The calling thread holds the broadcast lock (a signal handler that interrupted its
    /// broadcast must not start another).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

fn nested(op: Op) -> Error {
    Error::refused(
        op,
        "a broadcast is already running on this thread (called from a signal handler that \
         interrupted it); broadcasts do not nest",
    )
}

/// Holding the broadcast lock. Dropping it ends the broadcast (handlers that run later do
/// nothing) and lets the next one start.
#[derive(Debug)]
pub(super) struct LockGuard(());

impl Drop for LockGuard {
    fn drop(&mut self) {
        handler::retire();
        HOLDING.with(|h| h.set(false));
        LOCK.store(0, Ordering::SeqCst);
        if WAITERS.load(Ordering::SeqCst) != 0 {
            let _ = futex::wake(&LOCK, futex::Flags::PRIVATE, u32::MAX);
        }
    }
}

/// Takes the broadcast lock, waiting for a broadcast running on another thread. A thread that
/// already holds it (a broadcast started from a signal handler that interrupted a broadcast on
/// the same thread) is refused: waiting would never end.
pub(super) fn lock(op: Op) -> Result<LockGuard> {
    let me = crate::current_tid();
    loop {
        match LOCK.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                HOLDING.with(|h| h.set(true));
                return Ok(LockGuard(()));
            }
            Err(owner) if owner == me => return Err(nested(op)),
            Err(owner) => {
                // An owner that is not a thread of this process: we are a child forked while
                // another thread of the parent was broadcasting. Its broadcast is not ours.
                if signal::tgkill(crate::sys::pid(), owner, 0) == Err(Errno::SRCH) {
                    let _ = LOCK.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
                    continue;
                }
                let slice = futex::Timespec {
                    tv_sec: 0,
                    tv_nsec: 100_000_000,
                };
                // EAGAIN (owner changed), EINTR (a signal, maybe ours: the handler ran) and
                // ETIMEDOUT all mean: look again.
                WAITERS.fetch_add(1, Ordering::SeqCst);
                let _ = futex::wait(&LOCK, futex::Flags::PRIVATE, owner, Some(&slice));
                WAITERS.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
pub(super) fn lock_for_tests() -> LockGuard {
    lock(Op::ProcessSetCaps).expect("broadcast lock")
}

fn next_gen() -> u32 {
    loop {
        let g = GEN.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if g != 0 {
            return g;
        }
    }
}

/// Kernel io threads seen by earlier broadcasts of this process: (pid, tid).
static IO_THREADS: std::sync::Mutex<Vec<(i32, u32)>> = std::sync::Mutex::new(Vec::new());

/// The io threads of process `me` seen by earlier broadcasts.
fn io_cache(me: i32) -> Vec<u32> {
    IO_THREADS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|&&(p, _)| p == me)
        .map(|&(_, t)| t)
        .collect()
}

fn io_cache_add(me: i32, tid: u32) {
    let mut cache = IO_THREADS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.retain(|&(p, _)| p == me);
    if cache.len() < 4096 {
        cache.push((me, tid));
    }
}

/// Knobs of one broadcast.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) timeout: Duration,
    pub(super) blocked_grace: Duration,
}

/// Which threads a broadcast changes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Target<'a> {
    /// Every thread of the process, the calling thread first.
    All,
    /// These threads only (the calling thread is not changed).
    Only(&'a [u32]),
}

/// One broadcast.
pub(super) struct Job<'a> {
    pub(super) change: Change,
    pub(super) op: Op,
    pub(super) settings: Settings,
    pub(super) target: Target<'a>,
    /// The groups of a `Change::SetIds`.
    pub(super) groups: Option<&'a [u32]>,
}

struct Entry {
    index: usize,
    sent: Option<Instant>,
    first_sent: Instant,
    answer: Option<Answer>,
    gone: bool,
    /// Whether `/proc` was asked if this is a kernel io thread.
    io_checked: bool,
    /// The last `tgkill` met a full signal queue.
    queue_full: bool,
    /// Since when every look found the thread blocking the signal.
    blocked_since: Option<Instant>,
    /// Who answered (`contain::identity`), 0 when unknown.
    ident: u64,
}

struct Run<'a> {
    op: Op,
    gen: u32,
    sig: i32,
    /// Our process id, read once (one `getpid` per broadcast, not per thread).
    pid: i32,
    me: u32,
    tasks: &'a TaskDir,
    threads: HashMap<u32, Entry>,
    io_threads: Vec<u32>,
    /// Io threads earlier broadcasts found.
    known_io: Vec<u32>,
    /// Threads born holding the change (from a changed thread), not signalled.
    settled: Vec<u32>,
    /// The threads the last pass listed (the calling thread included).
    listed: Vec<u32>,
    blocked: Vec<u32>,
    unanswered: Vec<u32>,
}

/// Runs `job`: the calling thread first (for [`Target::All`]; if it cannot make the change,
/// nothing else is touched), then every other thread; each thread applies and reads back the
/// change itself (a group list longer than a thread can read back on its signal stack is
/// compared from `/proc` instead).
pub(super) fn run(job: &Job<'_>, tasks: Option<&TaskDir>) -> Result<Report> {
    // A process whose calling thread is provably alone needs no lock (no other thread can
    // broadcast), no /proc and no signal: the change and its read-back, on this thread.
    // (A live thread started through capscope's pthread_create answers "not alone" without
    // the system call.)
    if matches!(job.target, Target::All)
        && crate::scope::contain::census().contained == 0
        && crate::sys::threads::alone() == Some(true)
    {
        if HOLDING.with(Cell::get) {
            return Err(nested(job.op));
        }
        apply_here(job)?;
        let report = Report {
            threads: 1,
            signalled: 0,
            settled: 0,
            passes: 0,
            io_threads: Vec::new(),
        };
        crate::scope::audit::process(job.op, &report);
        return Ok(report);
    }
    let guard = lock(job.op)?;
    let tasks = match tasks {
        Some(t) => t,
        None => TaskDir::cached(job.op)?,
    };
    let me = crate::sys::pid();
    if tasks.pid() != me {
        return Err(Error::refused(
            job.op,
            "the /proc/self/task directory was opened by the parent of this forked process",
        ));
    }
    let sig = super::signal::ensure_installed(job.op)?;
    let gen = next_gen();
    if matches!(job.target, Target::All) {
        apply_here(job)?;
        crate::scope::contain::applied(gen);
    }
    handler::reset_table();
    if let Some(g) = job.groups {
        shared::publish(g.into());
    }
    handler::publish(&job.change, gen);
    let mut run = Run {
        op: job.op,
        gen,
        sig,
        pid: me,
        me: crate::current_tid(),
        tasks,
        threads: HashMap::new(),
        io_threads: Vec::new(),
        known_io: io_cache(me),
        settled: Vec::new(),
        listed: Vec::new(),
        blocked: Vec::new(),
        unanswered: Vec::new(),
    };
    // From here on the calling thread has changed: any failure is a partial change.
    let result = run.signal_all(job.target, job.settings);
    handler::retire(); // handlers that start from now on do nothing
    let quiet = handler::quiesce(QUIESCE);
    shared::retract(QUIESCE);
    if !quiet {
        return Err(Error::indeterminate(
            job.op,
            Error::kernel(
                job.op,
                "a thread stayed inside the broadcast handler for over a second",
            ),
        ));
    }
    let passes = result.map_err(|e| Error::indeterminate(job.op, e))?;
    run.collect();
    let mut failures = ThreadFailures {
        op: Some(job.op),
        blocked: std::mem::take(&mut run.blocked),
        unanswered: std::mem::take(&mut run.unanswered),
        ..ThreadFailures::default()
    };
    let mut answered = Vec::with_capacity(run.threads.len());
    for (&tid, e) in &run.threads {
        match e.answer {
            Some(Answer::Failed(_, None)) => failures.unverified.push(tid),
            Some(Answer::Failed(op, Some(errno))) => failures.failed.push((tid, op, errno)),
            Some(Answer::Done) => answered.push(tid),
            None => {}
        }
    }
    failures.queue_full = failures
        .unanswered
        .iter()
        .copied()
        .filter(|t| run.threads.get(t).is_some_and(|e| e.queue_full))
        .collect();
    failures
        .unanswered
        .retain(|t| !failures.queue_full.contains(t));
    super::verify::long_groups(job, tasks, &answered, &mut failures);
    // Every thread that answered verified itself; so did the calling thread.
    let checked = answered.len() + usize::from(matches!(job.target, Target::All));
    if !failures.blocked.is_empty()
        || !failures.unanswered.is_empty()
        || !failures.queue_full.is_empty()
        || !failures.failed.is_empty()
        || !failures.unverified.is_empty()
    {
        for v in [
            &mut failures.blocked,
            &mut failures.unanswered,
            &mut failures.queue_full,
            &mut failures.unverified,
        ] {
            v.sort_unstable();
            v.dedup();
        }
        failures.failed.sort_unstable_by_key(|f| f.0);
        return Err(Error::Threads(Box::new(failures)));
    }
    let signalled = run.threads.len();
    run.io_threads.sort_unstable();
    drop(guard);
    let report = Report {
        threads: checked + run.settled.len(),
        signalled,
        settled: run.settled.len(),
        passes,
        io_threads: run.io_threads,
    };
    crate::scope::audit::process(job.op, &report);
    Ok(report)
}

/// The calling thread's own change, with its public error (nothing else is touched yet).
fn apply_here(job: &Job<'_>) -> Result<()> {
    crate::thread::rmw::section(|| {
        let r = ops::apply(&job.change, job.groups);
        crate::scope::guard::forget_restorable(job.change.may_lower());
        r
    })
    .unwrap_or(Err(ops::Fail::os(job.op, Errno::AGAIN)))
    .map_err(|f| super::caller_error(job, f))
}

impl Run<'_> {
    /// The signalling loop; `Ok(passes)` when a pass found every listed thread done, or `Err`
    /// for a failure of the machinery itself. Threads that block the signal or do not answer
    /// end the loop with `Ok` and are left in `blocked` / `unanswered`.
    fn signal_all(&mut self, target: Target<'_>, settings: Settings) -> Result<u32> {
        let start = Instant::now();
        let deadline = start + settings.timeout;
        let mut passes = 0;
        loop {
            passes += 1;
            let births = crate::scope::contain::census().births;
            let (tids, from_records) = match target {
                Target::All if passes == 1 => match self.accounted()? {
                    Some(tids) => (tids, true),
                    None => (self.tasks.list_settled()?, false),
                },
                Target::All => (self.tasks.list_settled()?, false),
                Target::Only(t) => (t.to_vec(), false),
            };
            self.listed.clone_from(&tids);
            let mut fresh = 0;
            for tid in tids {
                // A thread id seen before is skipped, unless that thread exited: then the id has
                // been given to a new thread (ids wrap at pid_max), which must be signalled too.
                if tid == self.me {
                    continue;
                }
                // Settled (born holding the change) or a kernel io thread on an earlier pass: the
                // id may have been given to a new thread since (ids wrap), so a later pass checks
                // again that it is still that thread, and asks it otherwise.
                if self.settled.contains(&tid) {
                    if crate::scope::contain::born_with(tid, self.gen) {
                        continue;
                    }
                    self.settled.retain(|&t| t != tid);
                }
                if self.io_threads.contains(&tid) {
                    if self.tasks.status(tid).is_some_and(|s| s.io_thread) {
                        continue;
                    }
                    self.io_threads.retain(|&t| t != tid);
                }
                let mut again = false;
                if let Some(e) = self.threads.get(&tid) {
                    // Seen before. Still awaited: skipped. Exited: the id may now name a new,
                    // live thread (ids wrap at pid_max), asked if so (a zombie main thread
                    // stays listed and is not live). Answered on an earlier pass: the thread
                    // may have exited since and its id been given to a new thread; it is
                    // still the same thread when its record (slot and epoch, given with its
                    // answer) is unchanged, or when it is the main thread (whose id lives as
                    // long as the process); otherwise it is asked again (a thread that already
                    // holds the change applies it again, which changes nothing).
                    let awaited = !e.gone && e.answer.is_none();
                    let same = !e.gone
                        && (tid == self.pid.unsigned_abs()
                            || crate::scope::contain::same_thread(tid, e.ident));
                    // A listed id that was gone is still gone when it is a zombie (the main
                    // thread), or when its status cannot be read and `tgkill` no longer finds
                    // it; otherwise it names a new thread.
                    let still_gone = e.gone
                        && match self.tasks.status(tid) {
                            Some(s) => s.zombie,
                            None => signal::tgkill(self.pid, tid, 0) == Err(Errno::SRCH),
                        };
                    if awaited || same || still_gone {
                        continue;
                    }
                    again = true;
                }
                // Born, after the first listing, from a thread that had already changed: it holds
                // the change by inheritance (capscope's pthread_create knows), and so does
                // everything it creates. Looked at without a signal.
                if passes > 1 && crate::scope::contain::born_with(tid, self.gen) {
                    self.settled.push(tid);
                    continue;
                }
                // Kernel io threads (io_uring) never take signals and never run user code:
                // they are reported, not waited for (see the module docs). One seen before is
                // recognised at once; a new one when it does not answer (`reap`).
                if self.known_io.contains(&tid)
                    && self.tasks.status(tid).is_some_and(|s| s.io_thread)
                {
                    self.io_threads.push(tid);
                    continue;
                }
                if !again {
                    fresh += 1;
                }
                let Some(index) = handler::register(tid, self.gen) else {
                    return Err(Error::refused(
                        self.op,
                        format!(
                            "more than {} threads: a broadcast cannot register more",
                            handler::CAPACITY
                        ),
                    ));
                };
                let now = Instant::now();
                let mut entry = Entry {
                    index,
                    sent: None,
                    first_sent: now,
                    answer: None,
                    gone: false,
                    io_checked: false,
                    queue_full: false,
                    blocked_since: None,
                    ident: 0,
                };
                self.send(tid, &mut entry)?;
                self.threads.insert(tid, entry);
            }
            if !self.wait(deadline, settings.blocked_grace)? {
                return Ok(passes); // blocked or unanswered threads: reported by the caller
            }
            // A record that named a thread no longer there: a contained thread that ended
            // without its exit being seen (killed by its own seccomp filter, a raw `SYS_exit`)
            // stays counted, and its count may stand for a live thread capscope does not know.
            // The records are not trusted for this broadcast: the next pass lists.
            if from_records
                && self
                    .listed
                    .iter()
                    .any(|t| self.threads.get(t).is_some_and(|e| e.gone))
            {
                continue;
            }
            // A settled listing in which every thread is done: a thread it could miss was born
            // during it, from a listed (so changed) thread. A targeted broadcast is one pass.
            if fresh == 0 || matches!(target, Target::Only(_)) {
                return Ok(passes);
            }
            // No new listing is needed when every live thread is accounted for: no thread was
            // started through pthread_create since the listing, the kernel counts exactly the
            // threads listed, and they are the contained ones, the main thread and the io
            // threads (so none was started by other means, not even one paired with a death).
            // The census is read before the count and checked after it: a contained birth or
            // death in between makes this pass inconclusive.
            let census = crate::scope::contain::census();
            let count = self.tasks.count()?;
            if census.held()
                && census.births == births
                && count == self.listed.len()
                && count == census.contained + 1 + self.io_threads.len()
            {
                return Ok(passes);
            }
            if Instant::now() >= deadline {
                return Err(Error::refused(
                    self.op,
                    format!(
                        "new threads kept appearing for {:?}; the broadcast could not settle",
                        settings.timeout
                    ),
                ));
            }
        }
    }

    /// Every thread of the process without reading `/proc`, when capscope's `pthread_create`
    /// accounts for all of them: the kernel counts exactly the contained threads and the main
    /// thread (one `fstat`), while no contained thread is born or exits (the census holds
    /// around the count and the records). Then the threads are the contained ones, whose ids
    /// their records give, and the main thread. `None` (list `/proc` instead) otherwise: a
    /// thread started by other means, one still on its way to its trampoline, a kernel io
    /// thread, or an exited main thread all make the count differ. What happens during the
    /// pass is caught after it, as for a listing: a birth through `pthread_create` moves the
    /// census, any other changes the count.
    fn accounted(&self) -> Result<Option<Vec<u32>>> {
        if !self.known_io.is_empty() {
            return Ok(None);
        }
        let census = crate::scope::contain::census();
        let count = self.tasks.count()?;
        let Some(mut tids) = crate::scope::contain::contained_tids(&census) else {
            return Ok(None);
        };
        if !census.held() || count != census.contained + 1 {
            return Ok(None);
        }
        let main = self.pid.unsigned_abs();
        if tids.contains(&main) {
            return Ok(None);
        }
        tids.push(main);
        Ok(Some(tids))
    }

    /// Gives up pending threads that exited (checked with a signal-0 `tgkill`) and those that
    /// are kernel io threads (asked once of `/proc`: they never answer a signal).
    fn reap(&mut self, pending: &[u32]) {
        for tid in pending {
            let e = self
                .threads
                .get_mut(tid)
                .expect("pending threads are registered");
            if signal::tgkill(self.pid, *tid, 0) == Err(Errno::SRCH) {
                e.gone = handler::abandon(e.index, self.gen);
            } else if !e.io_checked {
                e.io_checked = true;
                match self.tasks.status(*tid) {
                    // A zombie main thread: `tgkill` still finds it, but it runs nothing.
                    Some(s) if s.zombie => e.gone = handler::abandon(e.index, self.gen),
                    Some(s) if s.io_thread => {
                        handler::abandon(e.index, self.gen);
                        e.gone = true;
                        self.io_threads.push(*tid);
                        io_cache_add(self.pid, *tid);
                    }
                    _ => {}
                }
            }
        }
    }

    fn send(&self, tid: u32, entry: &mut Entry) -> Result<()> {
        match signal::tgkill(self.pid, tid, self.sig) {
            Ok(()) => {
                entry.sent = Some(Instant::now());
                entry.queue_full = false;
            }
            Err(Errno::SRCH) => entry.gone = handler::abandon(entry.index, self.gen),
            // The real-time signal queue is full (RLIMIT_SIGPENDING): sent again every RESEND
            // until the timeout, then reported as such.
            Err(Errno::AGAIN) => {
                entry.sent = Some(Instant::now());
                entry.queue_full = true;
            }
            Err(e) => return Err(Error::os(Op::Tgkill, e)),
        }
        Ok(())
    }

    /// Reads the answers of the threads still pending; returns those still pending.
    fn collect(&mut self) -> Vec<u32> {
        let mut pending = Vec::new();
        for (&tid, e) in &mut self.threads {
            if e.answer.is_some() || e.gone {
                continue;
            }
            e.answer = handler::result(e.index, self.gen);
            if e.answer.is_none() {
                pending.push(tid);
            } else {
                e.ident = handler::answered_by(e.index);
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
            // The fast path, as glibc's: sleep until the last registered thread answers (its
            // handler wakes us) without looking at each thread; only a slice without progress
            // leads to the per-thread look below.
            let seen = OUTSTANDING.load(Ordering::SeqCst);
            let now = Instant::now();
            if seen != 0 && now < deadline {
                let left = SLICE.min(deadline - now);
                let ts = futex::Timespec {
                    tv_sec: 0,
                    tv_nsec: i64::from(left.subsec_nanos()),
                };
                match futex::wait(&OUTSTANDING, futex::Flags::PRIVATE, seen, Some(&ts)) {
                    // Woken, or the count moved on (EAGAIN), or a signal: look at the count.
                    Ok(()) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                    Err(_) => {} // a slice passed: the per-thread look
                }
            }
            let pending = self.collect();
            if pending.is_empty() {
                return Ok(true);
            }
            self.reap(&pending);
            let now = Instant::now();
            let slow = pending
                .iter()
                .any(|t| now.duration_since(self.threads[t].first_sent) >= grace);
            let queue_full = pending.iter().any(|t| self.threads[t].queue_full);
            if now >= deadline
                || ((slow || queue_full)
                    && last_check.is_none_or(|t| now.duration_since(t) >= SLICE))
            {
                last_check = Some(now);
                let pending = self.collect();
                if self.check_pending(&pending, now >= deadline, grace)? {
                    return Ok(false);
                }
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
            let status = self.tasks.status(tid);
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
                || signal::tgkill(self.pid, tid, 0) == Err(Errno::SRCH)
            {
                // Exited (or answered just before exiting: then its answer is collected).
                entry.gone = handler::abandon(entry.index, self.gen);
            } else if blocks && (past_deadline || early) {
                self.blocked.push(tid);
            } else if past_deadline {
                stuck.push(tid);
            } else if entry.sent.is_none_or(|t| now.duration_since(t) >= RESEND)
                && (entry.queue_full || !status.as_ref().is_some_and(|s| s.pending(self.sig)))
            {
                // Sent again only when it is not pending already (a thread that blocks it
                // keeps it queued: a second copy would only fill its queue, or reach the
                // program's own `sigwait`), or when the queue was full.
                self.send(tid, &mut entry)?;
            }
            self.threads.insert(tid, entry);
        }
        if self.blocked.is_empty() && stuck.is_empty() {
            return Ok(false);
        }
        // Stop handlers from starting the change now, let those already inside finish, then
        // take a last look: a thread that answered meanwhile did change, the others did not.
        // (If one stays inside, `run`'s own wait fails the whole call.)
        handler::retire();
        handler::quiesce(QUIESCE);
        let still = self.collect();
        self.blocked.retain(|t| still.contains(t));
        self.unanswered = still
            .into_iter()
            .filter(|t| !self.blocked.contains(t) && !self.threads[t].gone)
            .collect();
        if self.blocked.is_empty() && self.unanswered.is_empty() {
            // Everyone answered meanwhile: the broadcast goes on (a later pass may signal new
            // threads, whose handlers must make the change).
            handler::resume(self.gen);
            return Ok(false);
        }
        Ok(true)
    }
}

//! Confinement: no thread but a scope's own runs with what the scope raised.
//!
//! Two mechanisms, described in the [scope docs](crate::scope#confinement):
//!
//! - **At birth** (feature `contain`): capscope's `pthread_create` runs [`born`] first in every
//!   new thread, which lowers what the creating thread's live scopes held raised
//!   ([`birth_mask`]) and reads the result back, before any code of the thread runs, signal
//!   handlers included: the thread is started with every signal blocked and takes its own
//!   mask only after [`born`] (see `sys/spawn.rs`). Such a thread is *contained* and counted.
//! - **At the end of a scope** that raised something ([`scope_ended`]): the kernel's count of
//!   the process's threads (one `fstat` of a `/proc/self/task` directory kept open) is compared
//!   with the threads known to be contained (plus the main thread). Only when the kernel counts
//!   more (a thread started by means capscope cannot intercept: a raw `clone`, a C library
//!   bound directly to the C library's own `pthread_create`, a build without `contain`) does
//!   the slow path run: every thread that is not contained is read with `capget(tid)`, and
//!   those holding a capability this scope raised (that no live scope of their own holds) are
//!   lowered through the broadcast machinery of [`process`](crate::process), each reading its
//!   own sets back. A thread that cannot be lowered (it blocks the signal; an io_uring SQPOLL
//!   thread born in the scope) makes the process abort with a message: a capability outside
//!   its scope, with nothing able to take it back, is the one thing capscope never returns
//!   with.
//!
//! The count and [`CONTAINED`] are compared only when a [`Census`] taken before the count still
//! holds after it (no contained birth or death in between); a thread started by a thread that
//! is not contained itself is not counted as contained (it is checked like its creator); the
//! kept `/proc/self/task` descriptor is checked to still be that directory at every count (a
//! program may close it, or get its number back from another `open`) and opened again if not.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::error::Errno;
use crate::sys::proc::TaskDir;
use crate::thread::{ops, rmw};
use crate::{CapSet, CapState, Op};

/// Threads with a published record: (thread id, what their own live scopes hold raised,
/// whether they were contained at birth). Claimed without allocation, so usable from a signal
/// handler; a slot of an exited thread is reclaimed by the next claim that finds it stale.
const SLOTS: usize = 4096;

struct Slot {
    tid: AtomicU32,
    own: AtomicU64,
    contained: AtomicU32,
    /// The process-wide change (broadcast generation) the thread was born holding.
    born_with: AtomicU32,
    /// Bumped at every claim: (slot, epoch) names one thread, even after its id is reused.
    epoch: AtomicU32,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        tid: AtomicU32::new(0),
        own: AtomicU64::new(0),
        contained: AtomicU32::new(0),
        born_with: AtomicU32::new(0),
        epoch: AtomicU32::new(0),
    }
}; SLOTS];

/// Contained threads alive (their trampoline ran, their exit has not).
static CONTAINED: AtomicUsize = AtomicUsize::new(0);

/// One more than the highest slot ever claimed: the slots beyond it were never used, so a scan
/// of the table stops there.
static HIGH: AtomicUsize = AtomicUsize::new(0);

/// Threads started through capscope's `pthread_create` (counted before the C library's call).
static BIRTHS: AtomicU64 = AtomicU64::new(0);

/// Bumped by every change of [`CONTAINED`] (a contained birth or death), after it: a count of
/// the kernel's threads compared with [`CONTAINED`] is trusted only when this did not move
/// around both reads.
static CHANGES: AtomicU64 = AtomicU64::new(0);

fn contained_changed() {
    CHANGES.fetch_add(1, Ordering::SeqCst);
}

/// Threads started through capscope's `pthread_create` inside a scope (with something to
/// lower, so with every signal blocked) that have not yet run [`born`]: while some are, a
/// thread the kernel lists holding a scope's capabilities, and unable to answer a signal, may
/// be one of them. (A thread born outside scopes has nothing to lower and takes signals.)
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// A thread is about to be started through `pthread_create` (just before the C library's
/// call); `masked`: inside a scope.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn birth_started(masked: bool) {
    BIRTHS.fetch_add(1, Ordering::SeqCst);
    if masked {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    }
}

/// The C library's `pthread_create` failed: no thread is coming.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn birth_failed(masked: bool) {
    if masked {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits (sleeping, so that lower-priority threads run) until no thread started through
/// `pthread_create` is still on its way to [`born`], or `deadline`.
fn births_settled(deadline: std::time::Instant) {
    while IN_FLIGHT.load(Ordering::SeqCst) != 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

/// A reading of the contained threads, to compare with the kernel's count of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Census {
    /// Threads started through `pthread_create` so far.
    pub(crate) births: u64,
    /// Contained threads alive.
    pub(crate) contained: usize,
    /// [`CHANGES`] when read.
    changes: u64,
}

/// Reads the census: take it **before** the kernel's count, and check with [`Census::held`]
/// after it.
pub(crate) fn census() -> Census {
    let changes = CHANGES.load(Ordering::SeqCst);
    Census {
        births: BIRTHS.load(Ordering::SeqCst),
        contained: CONTAINED.load(Ordering::SeqCst),
        changes,
    }
}

impl Census {
    /// Whether no contained thread was born or died since the census was read: then a kernel
    /// count read in between can be compared with it. (A contained thread is counted after the
    /// kernel made it and uncounted before it leaves the kernel, so in a held census
    /// `contained` never exceeds the contained threads the kernel counts; a thread still on its
    /// way to its trampoline only makes the kernel count more, which takes the slow path.)
    pub(crate) fn held(&self) -> bool {
        CHANGES.load(Ordering::SeqCst) == self.changes
    }
}

thread_local! {
    /// This thread's slot index + 1 (0: none yet).
    static MY_SLOT: Cell<usize> = const { Cell::new(0) };
    /// The last process-wide change (broadcast generation) this thread holds.
    static APPLIED: Cell<u32> = const { Cell::new(0) };
    /// Decrements [`CONTAINED`] when a contained thread exits.
    static EXIT: ContainedExit = const { ContainedExit(Cell::new(false)) };
}

struct ContainedExit(Cell<bool>);

impl Drop for ContainedExit {
    fn drop(&mut self) {
        // `EXIT` itself is being destroyed: its own flag, not `EXIT.try_with`.
        if self.0.replace(false) {
            CONTAINED.fetch_sub(1, Ordering::SeqCst);
            contained_changed();
        }
        release_slot();
    }
}

/// The calling thread ends: its record is released (no system call, so usable under strict
/// seccomp before the raw thread exit).
pub(crate) fn thread_exits() {
    if EXIT.try_with(|e| e.0.replace(false)).unwrap_or(false) {
        CONTAINED.fetch_sub(1, Ordering::SeqCst);
        contained_changed();
    }
    release_slot();
}

/// A slot being claimed: no thread has this id, so no lookup by id finds it meanwhile.
const CLAIMING: u32 = u32::MAX;

/// This thread's slot, claimed on first use; `None` when the table is full. A free slot is
/// taken without a system call; only when none is free are the slots of exited threads looked
/// for (one `tgkill(.., 0)` each).
fn my_slot() -> Option<&'static Slot> {
    let known = MY_SLOT.try_with(Cell::get).unwrap_or(0);
    if known != 0 {
        return Some(&TABLE[known - 1]);
    }
    let me = crate::current_tid();
    let claim = |i: usize, owner: u32| -> Option<&'static Slot> {
        let slot = &TABLE[i];
        slot.tid
            .compare_exchange(owner, CLAIMING, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        slot.own.store(0, Ordering::Release);
        slot.contained.store(0, Ordering::Release);
        slot.born_with.store(0, Ordering::Release);
        // A new epoch before the id is published: (slot, epoch) never names two threads.
        slot.epoch.fetch_add(1, Ordering::AcqRel);
        slot.tid.store(me, Ordering::Release);
        HIGH.fetch_max(i + 1, Ordering::AcqRel);
        let _ = MY_SLOT.try_with(|s| s.set(i + 1));
        // Registers the thread-exit destructor, which releases the slot (a thread that is not
        // contained too: its published set must not outlive it).
        let _ = EXIT.try_with(|_| ());
        Some(slot)
    };
    for (i, slot) in TABLE.iter().enumerate() {
        let owner = slot.tid.load(Ordering::Acquire);
        // A slot of this thread's id while it has none is a dead thread's whose id was reused.
        if owner == 0 || owner == me {
            if let Some(s) = claim(i, owner) {
                return Some(s);
            }
        }
    }
    let process = crate::sys::pid();
    for (i, slot) in TABLE.iter().enumerate() {
        let owner = slot.tid.load(Ordering::Acquire);
        if owner != CLAIMING && crate::sys::signal::tgkill(process, owner, 0) == Err(Errno::SRCH) {
            if let Some(s) = claim(i, owner) {
                return Some(s);
            }
        }
    }
    None
}

fn release_slot() {
    let known = MY_SLOT.try_with(Cell::get).unwrap_or(0);
    if known != 0 {
        let slot = &TABLE[known - 1];
        slot.own.store(0, Ordering::Release);
        slot.contained.store(0, Ordering::Release);
        slot.tid.store(0, Ordering::Release);
        let _ = MY_SLOT.try_with(|s| s.set(0));
    }
}

/// Publishes what the calling thread's own live scopes hold raised, for the slow path of other
/// threads' checks. Async-signal-safe.
pub(crate) fn publish(raised: CapSet) {
    let already = MY_SLOT.try_with(Cell::get).unwrap_or(0) != 0;
    if !already && raised.is_empty() {
        return;
    }
    if let Some(slot) = my_slot() {
        slot.own.store(raised.bits(), Ordering::Release);
    }
}

/// Records that the calling thread holds the process-wide change `gen` (it applied it, or was
/// born from a thread that had). Async-signal-safe.
pub(crate) fn applied(gen: u32) {
    let _ = APPLIED.try_with(|a| a.set(gen));
}

/// The process-wide change a thread created now is born holding (what its creator holds).
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn applied_gen() -> u32 {
    APPLIED.try_with(Cell::get).unwrap_or(0)
}

/// Who the calling thread is, beyond its id: its record's slot and that slot's epoch (0 when
/// it has no record). Async-signal-safe.
pub(crate) fn identity() -> u64 {
    let known = MY_SLOT.try_with(Cell::get).unwrap_or(0);
    if known == 0 {
        return 0;
    }
    (known as u64) << 32 | u64::from(TABLE[known - 1].epoch.load(Ordering::Acquire))
}

/// Whether thread `tid` is still the thread that gave `identity` (its record was not
/// released and claimed again since). `false` for 0.
pub(crate) fn same_thread(tid: u32, identity: u64) -> bool {
    let Some(slot) = usize::try_from(identity >> 32)
        .ok()
        .and_then(|k| k.checked_sub(1))
        .and_then(|i| TABLE.get(i))
    else {
        return false;
    };
    slot.tid.load(Ordering::Acquire) == tid
        && u64::from(slot.epoch.load(Ordering::Acquire)) == identity & 0xffff_ffff
}

/// Whether thread `tid` was born, through capscope's `pthread_create`, from a thread that
/// already held the process-wide change `gen`: then it holds it too, by inheritance.
pub(crate) fn born_with(tid: u32, gen: u32) -> bool {
    used().iter().any(|s| {
        s.tid.load(Ordering::Acquire) == tid
            && s.contained.load(Ordering::Acquire) != 0
            && s.born_with.load(Ordering::Acquire) == gen
    })
}

/// The slots claimed so far (those beyond were never used).
fn used() -> &'static [Slot] {
    &TABLE[..HIGH.load(Ordering::Acquire).min(SLOTS)]
}

/// The thread ids of the contained threads alive, read from their records without a system
/// call, when they are exactly the census's: `None` if the records do not match
/// `census.contained` (a birth or an exit is between its record and its count) or name one
/// id twice. A contained thread that ended without its exit being seen (killed by its own
/// seccomp filter, a raw `SYS_exit`) leaves a record behind that is counted: the caller must
/// treat an id that turns out gone as a sign that the records cannot be trusted.
///
/// Take the census first and check [`Census::held`] after this: a contained thread's record is
/// marked before it is counted and unmarked after it is uncounted, so while the census holds
/// every counted thread is among the marked records; as many marked records as counted
/// threads are then those threads and no other.
pub(crate) fn contained_tids(census: &Census) -> Option<Vec<u32>> {
    let mut tids = Vec::with_capacity(census.contained);
    for slot in used() {
        if slot.contained.load(Ordering::Acquire) == 0 {
            continue;
        }
        let tid = slot.tid.load(Ordering::Acquire);
        if tid == 0 || tid == CLAIMING || tids.len() == census.contained {
            return None;
        }
        tids.push(tid);
    }
    // A thread id twice: one record is a dead thread's whose id was given again.
    tids.sort_unstable();
    let twice = tids.windows(2).any(|w| w[0] == w[1]);
    (tids.len() == census.contained && !twice).then_some(tids)
}

/// What a thread created now must not start with: what the calling thread's live scopes hold
/// raised.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn birth_mask() -> CapSet {
    crate::guard::raised_on_this_thread()
}

/// Whether a thread created now by the calling thread can be counted as contained: the
/// calling thread is contained itself, or is the main thread. A thread started behind
/// capscope's back (a raw `clone`) may hold a scope's capabilities it never published; what it
/// starts is left to the scope-end check, like itself.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn creator_contained() -> bool {
    EXIT.try_with(|e| e.0.get()).unwrap_or(false)
        || crate::current_tid() == crate::sys::pid().unsigned_abs()
}

/// The first thing a thread started through `pthread_create` runs: lowers `mask` (what the
/// creator's scopes held raised) from its effective set and reads it back, then records the
/// thread as contained when its creator was ([`creator_contained`]). If the capabilities cannot be lowered, the process aborts: the thread's
/// own code never runs with them.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn born(mask: CapSet, gen: u32, creator_contained: bool) {
    applied(gen);
    if !mask.is_empty() {
        let lowered = rmw::section(|| ops::lower_effective(mask))
            .unwrap_or(Err(ops::Fail::os(Op::Capset, Errno::AGAIN)));
        if let Err(f) = lowered {
            eprintln!(
                "capscope: a thread born inside a scope that raised {mask} cannot lower them \
                 ({}); aborting rather than letting it run with them",
                crate::thread::identity::fail_error(Op::ProcessLower, f, None)
            );
            std::process::abort();
        }
        crate::scope::guard::set_birth_mask(mask);
        crate::scope::audit::contain(mask);
    }
    if creator_contained {
        if let Some(slot) = my_slot() {
            slot.born_with.store(gen, Ordering::Release);
            slot.contained.store(1, Ordering::Release);
            CONTAINED.fetch_add(1, Ordering::SeqCst);
            contained_changed();
            let _ = EXIT.try_with(|e| e.0.set(true));
        }
    }
    if !mask.is_empty() {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// In a child after `fork` (async-signal-safe): only the forking thread is left, and it is the
/// child's main thread.
pub(crate) fn forked() {
    for slot in &TABLE {
        slot.tid.store(0, Ordering::Relaxed);
        slot.own.store(0, Ordering::Relaxed);
        slot.contained.store(0, Ordering::Relaxed);
    }
    CONTAINED.store(0, Ordering::SeqCst);
    IN_FLIGHT.store(0, Ordering::SeqCst);
    NO_PROC.store(false, Ordering::SeqCst);
    let _ = MY_SLOT.try_with(|s| s.set(0));
    let _ = EXIT.try_with(|e| e.0.set(false));
}

/// `/proc/self/task` could not be opened in this process (no `/proc` of its own): not tried
/// again at every raise or thread birth.
static NO_PROC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Opens the process's `/proc/self/task` (once, kept) unless it is open already or could not
/// be opened before; the error of a first failure.
fn open_task_dir(op: Op) -> Option<crate::Error> {
    if TaskDir::is_cached() || NO_PROC.load(Ordering::SeqCst) {
        return None;
    }
    match TaskDir::cached(op) {
        Ok(_) => None,
        Err(e) => {
            NO_PROC.store(true, Ordering::SeqCst);
            Some(e)
        }
    }
}

/// Opens the process's `/proc/self/task` while the program still sees its `/proc`: called
/// when a thread is started through `pthread_create` (not in a signal handler), so that a
/// later `chroot` does not take the scope-end checks away.
#[cfg_attr(not(feature = "contain"), allow(dead_code))]
pub(crate) fn prepare() {
    let _ = open_task_dir(Op::Raise);
}

/// Before a scope raises something: the check at the scope's end needs the process's
/// `/proc/self/task` whenever other threads may exist, so it is opened now (once) if it is not
/// yet; without it, the raise is refused unless the calling thread is provably alone (then a
/// thread that appears during the scope makes its end abort). One load once the directory is
/// open.
pub(crate) fn checkable(op: Op) -> crate::Result<()> {
    let why = open_task_dir(op);
    if TaskDir::is_cached() {
        return Ok(());
    }
    if CONTAINED.load(Ordering::SeqCst) == 0 && crate::sys::threads::alone() == Some(true) {
        return Ok(());
    }
    Err(crate::Error::refused(
        op,
        format!(
            "this process has other threads, and without a /proc of its own capscope cannot \
             check, when the scope ends, that none of them keeps the capabilities{}: mount a \
             /proc for this process, or make the first scope or start the first thread before \
             the chroot",
            why.map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    ))
}

/// How many times a scope's end reads the census and the kernel's count before it takes the
/// slow path because contained threads kept being born or dying in between.
const CENSUS_TRIES: u32 = 3;

/// The end of a scope whose guard has lowered `lowered` on the calling thread: makes sure no
/// other thread holds them, lowering those that do; aborts if one cannot be lowered, or if
/// other threads exist and cannot be checked.
pub(crate) fn scope_ended(lowered: CapSet) {
    if lowered.is_empty() {
        return;
    }
    // No contained thread lives and the calling thread is provably alone
    // (`unshare(CLONE_THREAD)`, cheaper than the count below): nobody to check.
    if CONTAINED.load(Ordering::SeqCst) == 0 && crate::sys::threads::alone() == Some(true) {
        return;
    }
    let fail = |why: String| -> ! {
        eprintln!(
            "capscope: a scope raised {lowered}, and {why}; aborting rather than going on with \
             them"
        );
        std::process::abort()
    };
    let tasks = TaskDir::cached(Op::Restore).unwrap_or_else(|e| {
        fail(format!(
            "a thread appeared during the scope that capscope cannot check without a /proc of \
             this process ({e}); mount a /proc for this process, or make the first scope or \
             start the first thread before the chroot"
        ))
    });
    // The census first, then the kernel's count, then the census again: a contained birth or
    // death in between is seen, and the count taken again.
    for _ in 0..CENSUS_TRIES {
        let census = census();
        let count = tasks
            .count()
            .unwrap_or_else(|e| fail(format!("the threads cannot be counted ({e})")));
        if census.held() {
            if count <= census.contained + 1 {
                return;
            }
            break;
        }
    }
    // The slow path, until a pass finds no thread holding what the scope lowered: a stray may
    // start a thread while it is being lowered, and that one is found by the next pass.
    let deadline = std::time::Instant::now() + STRAY_DEADLINE;
    loop {
        // A thread started through pthread_create that has not run its trampoline yet is not
        // counted: let it get there (it lowers itself) rather than take it for a stray.
        let pass = std::time::Instant::now();
        births_settled(deadline);
        match lower_strays(lowered, tasks) {
            Ok(0) => return,
            // Lowered some: look again, unless threads holding them have kept appearing since
            // the deadline (the time spent waiting for births does not count against a pass).
            Ok(_) if pass < deadline => {}
            Ok(_) => fail(format!(
                "threads holding them kept appearing for {STRAY_DEADLINE:?}"
            )),
            Err(why) => fail(format!(
                "a thread started during it still holds them and cannot be lowered ({why})"
            )),
        }
    }
}

/// How long a scope's end keeps lowering threads that appear holding what it raised.
const STRAY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// The slow path: every thread that was not contained at birth is read; those holding part of
/// `raised` outside their own scopes are lowered and verified. Returns how many were.
fn lower_strays(raised: CapSet, tasks: &TaskDir) -> Result<usize, String> {
    let me = crate::current_tid();
    let main = crate::sys::pid().unsigned_abs();
    let tids = tasks.list_settled().map_err(|e| e.to_string())?;
    let mut strays = Vec::new();
    for tid in tids {
        if tid == me || tid == main {
            continue;
        }
        let published = used()
            .iter()
            .find(|s| s.tid.load(Ordering::Acquire) == tid)
            .map(|s| {
                (
                    s.contained.load(Ordering::Acquire) != 0,
                    CapSet::from_bits(s.own.load(Ordering::Acquire)),
                )
            });
        if published.is_some_and(|(contained, _)| contained) {
            continue;
        }
        let own = published.map_or(CapSet::empty(), |(_, own)| own);
        let caps = match CapState::get_for_pid(tid) {
            Ok(c) => c,
            Err(e) if e.errno() == Some(Errno::SRCH) => continue,
            Err(e) => return Err(e.to_string()),
        };
        if (caps.effective & (raised - own)).is_empty() {
            continue;
        }
        match tasks.status(tid) {
            // Unreadable: skipped only if the thread is gone; otherwise lowered like any stray
            // (the broadcast verifies it, or the scope's end fails closed).
            None if crate::sys::signal::tgkill(crate::sys::pid(), tid, 0) == Err(Errno::SRCH) => {
                continue
            }
            None => strays.push(tid),
            Some(s) if s.zombie => continue,
            // An io_uring SQPOLL thread born in the scope: the ring it serves runs every
            // request with its creator's credentials of that moment, for good.
            Some(s) if s.sqpoll => {
                return Err(format!(
                    "thread {tid} is an io_uring SQPOLL thread set up inside the scope; its ring \
                     keeps the scope's credentials for good"
                ))
            }
            // io-wq workers run each request with its submitter's credentials: harmless.
            Some(s) if s.io_thread => continue,
            Some(_) => strays.push(tid),
        }
    }
    if strays.is_empty() {
        return Ok(0);
    }
    crate::scope::audit::lower_strays(raised, &strays);
    crate::process::lower_on(&strays, raised, tasks)
        .map(|_| strays.len())
        .map_err(|e| e.to_string())
}

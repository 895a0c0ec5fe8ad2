//! The async-signal-safe half of a broadcast: the operation area, the per-thread result table,
//! the signal handler and the per-thread `apply` step it shares with the broadcasting thread.
//!
//! Everything reachable from [`on_signal`] is async-signal-safe: raw system calls through
//! rustix (no libc wrapper, no `errno` write, and `errno` is saved and restored anyway), atomics,
//! and reads of memory that is never freed. No allocation, no lock, no thread-local.
//!
//! # Protocol
//!
//! The broadcaster (holding the broadcast lock) writes the operation into [`OP`] and then
//! publishes a fresh, non-zero generation in [`ACTIVE`] (release); it stores 0 there when the
//! broadcast ends. The handler reads `ACTIVE`, the operation, then `ACTIVE` again (a seqlock):
//! if the generation is 0 or changed, the signal is stale and the handler does nothing.
//! Otherwise it applies the operation on its own thread, then records `(generation, result)`
//! in the table slot the broadcaster registered for its thread id, with a compare-exchange from
//! `(generation, PENDING)` so that a late handler can never overwrite a later broadcast's slot.
//! The first answer of each registered thread decrements [`OUTSTANDING`]; the one that takes it
//! to 0 wakes the broadcaster with a futex.

use core::ffi::{c_int, c_void};
use core::ptr;
use core::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rustix::thread::futex;
use rustix::thread::{CapabilitiesSecureBits, CapabilitySet as RSet};

use crate::thread::identity::{self, IdRequest, VerifyError};
use crate::{CapSet, CapState, Secbits};

/// A slot's result while its thread has not answered.
pub(super) const PENDING: u32 = u32::MAX;
/// A slot's result when the thread's read-back after the change differs from what was asked.
pub(super) const MISMATCH: u32 = u32::MAX - 1;
/// A slot's result when the broadcaster gave the thread up (it exited).
const ABANDONED: u32 = u32::MAX - 2;

/// One operation, as the broadcaster publishes it and each thread applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `capset` to exactly this state.
    SetCaps(CapState),
    /// `PR_CAPBSET_DROP` each capability of the set still in the bounding set.
    BoundingDrop { caps: CapSet },
    /// `PR_CAP_AMBIENT_CLEAR_ALL`; `last` is the kernel's last capability (for the read-back).
    AmbientClear { last: u8 },
    /// `PR_CAP_AMBIENT_RAISE` each capability of the set.
    AmbientRaise { caps: CapSet },
    /// `PR_SET_NO_NEW_PRIVS` 1.
    NoNewPrivs,
    /// `PR_SET_SECUREBITS` to exactly these bits.
    Securebits(Secbits),
    /// Drop everything: bounding (if asked) down to `keep`, ambient cleared, no_new_privs (if
    /// asked), then E = I = empty and P = P ∩ `keep`.
    DropAll {
        keep: CapSet,
        bounding: bool,
        no_new_privs: bool,
        last: u8,
    },
    /// `cap_set_ids` (see `identity`): a request validated by `IdRequest::new`, its groups in a
    /// buffer the broadcaster keeps alive until no handler runs ([`quiesce`]).
    SetIds {
        uid: Option<u32>,
        gid: Option<u32>,
        groups: Option<(*const u32, usize)>,
        preserve_effective: bool,
    },
}

/// Why `apply` failed: an errno (or [`MISMATCH`]), and whether part of the change had already
/// taken effect on the thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) code: u32,
    pub(crate) partial: bool,
}

// ---------------------------------------------------------------------------------------------
// The operation area (written by the broadcaster under the lock, read by handlers).

struct OpArea {
    kind: AtomicU32,
    w0: AtomicU64,
    w1: AtomicU64,
    w2: AtomicU64,
    w3: AtomicU32,
    w4: AtomicU64,
}

static OP: OpArea = OpArea {
    kind: AtomicU32::new(0),
    w0: AtomicU64::new(0),
    w1: AtomicU64::new(0),
    w2: AtomicU64::new(0),
    w3: AtomicU32::new(0),
    w4: AtomicU64::new(0),
};

/// The generation of the running broadcast; 0 when none runs.
pub(super) static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// Registered threads that have neither answered nor been abandoned; the broadcaster's futex
/// word. The handler that takes it to 0 wakes the broadcaster (one wake per pass, as glibc's
/// own setxid broadcast does).
pub(super) static OUTSTANDING: AtomicU32 = AtomicU32::new(0);
/// Handlers between their first look at [`ACTIVE`] and their end.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);

/// Publishes `op` under generation `gen` (non-zero). Broadcaster only, with the lock held and
/// `ACTIVE` at 0.
pub(super) fn publish(op: Op, gen: u32) {
    debug_assert_ne!(gen, 0);
    // Seqlock writer: any handler that reads a value stored below and then re-reads ACTIVE sees
    // 0 or a later generation, never the one it started with.
    fence(Ordering::Release);
    let (kind, w0, w1, w2, w3, w4) = encode(op);
    OP.kind.store(kind, Ordering::Relaxed);
    OP.w0.store(w0, Ordering::Relaxed);
    OP.w1.store(w1, Ordering::Relaxed);
    OP.w2.store(w2, Ordering::Relaxed);
    OP.w3.store(w3, Ordering::Relaxed);
    OP.w4.store(w4, Ordering::Relaxed);
    OUTSTANDING.store(0, Ordering::SeqCst);
    ACTIVE.store(gen, Ordering::SeqCst);
}

/// Ends the broadcast: handlers that run from now on do nothing.
pub(super) fn retire() {
    ACTIVE.store(0, Ordering::SeqCst);
}

/// After [`retire`]: waits (up to `limit`) until no handler is still applying the operation.
/// `false` if one still is (then the operation's data must outlive the broadcast).
pub(super) fn quiesce(limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    // A handler increments IN_FLIGHT before it reads ACTIVE (both SeqCst); retire stored 0 in
    // ACTIVE before this load. So either the handler saw 0 and does nothing, or we see it here.
    while IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Some(x) as x + 2^32, None as 0.
fn opt(v: Option<u32>) -> u64 {
    v.map_or(0, |x| 1 << 32 | u64::from(x))
}

fn unopt(w: u64) -> Option<u32> {
    (w >> 32 != 0).then_some(w as u32)
}

fn encode(op: Op) -> (u32, u64, u64, u64, u32, u64) {
    match op {
        Op::SetCaps(s) => {
            let (e, p, i) = (s.effective.bits(), s.permitted.bits(), s.inheritable.bits());
            (1, e, p, i, 0, 0)
        }
        Op::BoundingDrop { caps } => (2, caps.bits(), 0, 0, 0, 0),
        Op::AmbientClear { last } => (3, 0, 0, 0, u32::from(last), 0),
        Op::AmbientRaise { caps } => (4, caps.bits(), 0, 0, 0, 0),
        Op::NoNewPrivs => (5, 0, 0, 0, 0, 0),
        Op::Securebits(b) => (6, 0, 0, 0, b.bits(), 0),
        Op::DropAll {
            keep,
            bounding,
            no_new_privs,
            last,
        } => {
            let w3 = u32::from(last) | u32::from(bounding) << 8 | u32::from(no_new_privs) << 9;
            (7, keep.bits(), 0, 0, w3, 0)
        }
        Op::SetIds {
            uid,
            gid,
            groups,
            preserve_effective,
        } => {
            let (ptr, len) = groups.map_or((0, u64::MAX), |(p, n)| (p as u64, n as u64));
            (
                8,
                opt(uid),
                opt(gid),
                ptr,
                u32::from(preserve_effective),
                len,
            )
        }
    }
}

fn decode(kind: u32, w0: u64, w1: u64, w2: u64, w3: u32, w4: u64) -> Option<Op> {
    let last = (w3 & 0xff) as u8;
    Some(match kind {
        1 => Op::SetCaps(CapState {
            effective: CapSet::from_bits(w0),
            permitted: CapSet::from_bits(w1),
            inheritable: CapSet::from_bits(w2),
        }),
        2 => Op::BoundingDrop {
            caps: CapSet::from_bits(w0),
        },
        3 => Op::AmbientClear { last },
        4 => Op::AmbientRaise {
            caps: CapSet::from_bits(w0),
        },
        5 => Op::NoNewPrivs,
        6 => Op::Securebits(Secbits::from_bits_retain(w3)),
        7 => Op::DropAll {
            keep: CapSet::from_bits(w0),
            bounding: w3 & 1 << 8 != 0,
            no_new_privs: w3 & 1 << 9 != 0,
            last,
        },
        8 => Op::SetIds {
            uid: unopt(w0),
            gid: unopt(w1),
            groups: (w4 != u64::MAX).then_some((w2 as usize as *const u32, w4 as usize)),
            preserve_effective: w3 & 1 != 0,
        },
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The result table: chunks of slots, linked, never freed (so a late handler never reads freed
// memory). Registration is the broadcaster's job; handlers only look up and complete.

const CHUNK: usize = 128;

pub(super) struct Slot {
    tid: AtomicU32,
    result: AtomicU64,
}

struct Chunk {
    slots: [Slot; CHUNK],
    next: AtomicPtr<Chunk>,
}

impl Chunk {
    const fn new() -> Chunk {
        Chunk {
            slots: [const {
                Slot {
                    tid: AtomicU32::new(0),
                    result: AtomicU64::new(0),
                }
            }; CHUNK],
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

static FIRST: Chunk = Chunk::new();
/// How many slots the running broadcast registered.
static USED: AtomicUsize = AtomicUsize::new(0);

const fn pack(gen: u32, code: u32) -> u64 {
    (gen as u64) << 32 | code as u64
}

/// The slot at `index`; with `grow`, missing chunks are allocated (broadcaster only).
fn slot_at(index: usize, grow: bool) -> Option<&'static Slot> {
    let mut chunk: &'static Chunk = &FIRST;
    for _ in 0..index / CHUNK {
        let mut next = chunk.next.load(Ordering::Acquire);
        if next.is_null() {
            if !grow {
                return None;
            }
            next = Box::into_raw(Box::new(Chunk::new()));
            // Only the lock holder grows the table, so nobody else stores here.
            chunk.next.store(next, Ordering::Release);
        }
        // SAFETY: chunks are leaked boxes (or the static), never freed, and fully initialised
        // before their pointer is published with release ordering.
        chunk = unsafe { &*next };
    }
    Some(&chunk.slots[index % CHUNK])
}

/// Forgets every registration (broadcaster only, lock held, before publishing).
pub(super) fn reset_table() {
    USED.store(0, Ordering::Release);
}

/// Registers thread `tid` as pending for `gen` and returns its slot index (broadcaster only).
pub(super) fn register(tid: u32, gen: u32) -> usize {
    OUTSTANDING.fetch_add(1, Ordering::SeqCst);
    let index = USED.load(Ordering::Relaxed);
    let slot = slot_at(index, true).expect("slot_at with grow always returns a slot");
    slot.tid.store(tid, Ordering::Relaxed);
    slot.result.store(pack(gen, PENDING), Ordering::Relaxed);
    USED.store(index + 1, Ordering::Release);
    index
}

/// Gives up the thread of slot `index` (it exited): `true` if it had not answered, `false` if
/// it answered meanwhile (its result is then there to collect). Exactly one of the handler and
/// this call takes the slot out of [`OUTSTANDING`].
pub(super) fn abandon(index: usize, gen: u32) -> bool {
    let Some(slot) = slot_at(index, false) else {
        return false;
    };
    let done = slot.result.compare_exchange(
        pack(gen, PENDING),
        pack(gen, ABANDONED),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    if done.is_ok() {
        OUTSTANDING.fetch_sub(1, Ordering::SeqCst);
    }
    done.is_ok()
}

/// The result recorded at slot `index` for `gen`: `None` while pending.
pub(super) fn result(index: usize, gen: u32) -> Option<u32> {
    let slot = slot_at(index, false)?;
    let r = slot.result.load(Ordering::Acquire);
    if (r >> 32) as u32 != gen {
        return None;
    }
    match r as u32 {
        PENDING => None,
        code => Some(code),
    }
}

fn find(tid: u32) -> Option<&'static Slot> {
    let used = USED.load(Ordering::Acquire);
    (0..used)
        .filter_map(|i| slot_at(i, false))
        .find(|s| s.tid.load(Ordering::Relaxed) == tid)
}

// ---------------------------------------------------------------------------------------------
// The handler.

/// The signal handler (installed with `SA_SIGINFO | SA_RESTART` and every signal masked).
pub(super) extern "C" fn on_signal(_sig: c_int, _info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    // SAFETY: __errno_location returns the calling thread's errno slot; reading and writing it
    // is async-signal-safe. rustix's raw system calls do not touch errno, but whatever runs
    // here must leave the interrupted code's errno as it was.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above, errno points to this thread's errno.
    let saved = unsafe { *errno };
    answer();
    // SAFETY: as above.
    unsafe { *errno = saved };
}

fn answer() {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    answer_in_flight();
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

fn answer_in_flight() {
    let gen = ACTIVE.load(Ordering::SeqCst);
    if gen == 0 {
        return; // stale: no broadcast runs
    }
    let op = decode(
        OP.kind.load(Ordering::Relaxed),
        OP.w0.load(Ordering::Relaxed),
        OP.w1.load(Ordering::Relaxed),
        OP.w2.load(Ordering::Relaxed),
        OP.w3.load(Ordering::Relaxed),
        OP.w4.load(Ordering::Relaxed),
    );
    fence(Ordering::Acquire);
    if ACTIVE.load(Ordering::Relaxed) != gen {
        return; // the broadcast ended while we read the operation
    }
    let Some(op) = op else { return };
    let code = match apply(op) {
        Ok(()) => 0,
        Err(f) => f.code,
    };
    let me = rustix::thread::gettid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs();
    let Some(slot) = find(me) else { return };
    let recorded = slot.result.compare_exchange(
        pack(gen, PENDING),
        pack(gen, code),
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
    // Only the first answer of a registered thread counts (a thread signalled twice answers
    // twice; a slot abandoned or reused for a later broadcast is left alone).
    if recorded.is_ok() && OUTSTANDING.fetch_sub(1, Ordering::SeqCst) == 1 {
        let _ = futex::wake(&OUTSTANDING, futex::Flags::PRIVATE, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// apply: the change on the calling thread, raw system calls only, with a read-back.

fn errno(e: rustix::io::Errno) -> u32 {
    e.raw_os_error().unsigned_abs()
}

fn one(cap: u8) -> RSet {
    RSet::from_bits_retain(1 << cap)
}

fn capget() -> Result<CapState, u32> {
    rustix::thread::capabilities(None)
        .map(CapState::from_rustix)
        .map_err(errno)
}

fn bounding_has(cap: u8) -> Result<bool, u32> {
    rustix::thread::capability_is_in_bounding_set(one(cap)).map_err(errno)
}

fn ambient_any(last: u8) -> Result<bool, u32> {
    for cap in 0..=last {
        if rustix::thread::capability_is_in_ambient_set(one(cap)).map_err(errno)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Applies `op` to the calling thread and reads the result back. Async-signal-safe.
pub(crate) fn apply(op: Op) -> Result<(), Fail> {
    let mut changed = false;
    let r = apply_steps(op, &mut changed);
    r.map_err(|code| Fail {
        code,
        partial: changed,
    })
}

fn apply_steps(op: Op, changed: &mut bool) -> Result<(), u32> {
    match op {
        Op::SetCaps(s) => {
            rustix::thread::set_capabilities(None, s.to_rustix()).map_err(errno)?;
            *changed = true;
            ok_if(capget()? == s)
        }
        Op::BoundingDrop { caps } => {
            for cap in caps {
                if bounding_has(cap.as_u8())? {
                    rustix::thread::remove_capability_from_bounding_set(one(cap.as_u8()))
                        .map_err(errno)?;
                    *changed = true;
                }
            }
            for cap in caps {
                if bounding_has(cap.as_u8())? {
                    return Err(MISMATCH);
                }
            }
            Ok(())
        }
        Op::AmbientClear { last } => {
            rustix::thread::clear_ambient_capability_set().map_err(errno)?;
            *changed = true;
            ok_if(!ambient_any(last)?)
        }
        Op::AmbientRaise { caps } => {
            for cap in caps {
                rustix::thread::configure_capability_in_ambient_set(one(cap.as_u8()), true)
                    .map_err(errno)?;
                *changed = true;
            }
            for cap in caps {
                if !rustix::thread::capability_is_in_ambient_set(one(cap.as_u8())).map_err(errno)? {
                    return Err(MISMATCH);
                }
            }
            Ok(())
        }
        Op::NoNewPrivs => {
            rustix::thread::set_no_new_privs(true).map_err(errno)?;
            *changed = true;
            ok_if(rustix::thread::no_new_privs().map_err(errno)?)
        }
        Op::Securebits(bits) => {
            let want = CapabilitiesSecureBits::from_bits_retain(bits.bits());
            rustix::thread::set_capabilities_secure_bits(want).map_err(errno)?;
            *changed = true;
            ok_if(
                rustix::thread::capabilities_secure_bits()
                    .map_err(errno)?
                    .bits()
                    == bits.bits(),
            )
        }
        Op::DropAll {
            keep,
            bounding,
            no_new_privs,
            last,
        } => {
            // Bounding first: dropping from it needs CAP_SETPCAP in the effective set, raised
            // here when it is only permitted (the effective set is emptied below anyway).
            if bounding {
                let now = capget()?;
                let setpcap = CapSet::from(crate::Cap::SETPCAP);
                if now.permitted.is_superset(setpcap) && !now.effective.is_superset(setpcap) {
                    let raised = CapState {
                        effective: now.effective.union(setpcap),
                        ..now
                    };
                    rustix::thread::set_capabilities(None, raised.to_rustix()).map_err(errno)?;
                    *changed = true;
                }
                for cap in 0..=last {
                    if !keep.has_bit(cap) && bounding_has(cap)? {
                        rustix::thread::remove_capability_from_bounding_set(one(cap))
                            .map_err(errno)?;
                        *changed = true;
                    }
                }
            }
            rustix::thread::clear_ambient_capability_set().map_err(errno)?;
            *changed = true;
            if no_new_privs {
                rustix::thread::set_no_new_privs(true).map_err(errno)?;
            }
            let old = capget()?;
            let want = CapState {
                effective: CapSet::empty(),
                permitted: old.permitted.intersection(keep),
                inheritable: CapSet::empty(),
            };
            rustix::thread::set_capabilities(None, want.to_rustix()).map_err(errno)?;
            // Read everything back.
            if capget()? != want || ambient_any(last)? {
                return Err(MISMATCH);
            }
            if no_new_privs && !rustix::thread::no_new_privs().map_err(errno)? {
                return Err(MISMATCH);
            }
            if bounding {
                for cap in 0..=last {
                    if !keep.has_bit(cap) && bounding_has(cap)? {
                        return Err(MISMATCH);
                    }
                }
            }
            Ok(())
        }
        Op::SetIds {
            uid,
            gid,
            groups,
            preserve_effective,
        } => {
            // SAFETY: the broadcaster publishes a pointer and length of a live `[u32]` that it
            // keeps alive (and unchanged) until `quiesce` says no handler runs any more.
            let groups = groups.map(|(p, n)| unsafe { core::slice::from_raw_parts(p, n) });
            set_ids(
                &IdRequest {
                    uid,
                    gid,
                    groups,
                    preserve_effective,
                },
                changed,
            )
        }
    }
}

/// How many groups the handler's read-back compares itself (its scratch space is on the
/// stack); longer lists are compared from `/proc` by the broadcaster.
const GROUPS_ON_STACK: usize = 256;

fn set_ids(req: &IdRequest<'_>, changed: &mut bool) -> Result<(), u32> {
    let applied = identity::apply(req).map_err(|e| {
        *changed = e.changed;
        e.errno.raw().unsigned_abs()
    })?;
    *changed = true;
    let mut scratch = [0u32; 2 * GROUPS_ON_STACK];
    let check = if req.scratch_len() <= scratch.len() {
        *req
    } else {
        IdRequest {
            groups: None,
            ..*req
        }
    };
    identity::verify(&check, &applied, &mut scratch).map_err(|e| match e {
        VerifyError::Syscall(_, errno) => errno.raw().unsigned_abs(),
        _ => MISMATCH,
    })
}

fn ok_if(good: bool) -> Result<(), u32> {
    if good {
        Ok(())
    } else {
        Err(MISMATCH)
    }
}

/// `CapSet` lookups by raw number, for loops over `0..=last`.
trait HasBit {
    fn has_bit(self, cap: u8) -> bool;
}

impl HasBit for CapSet {
    fn has_bit(self, cap: u8) -> bool {
        cap < 64 && self.bits() & 1 << cap != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let ops = [
            Op::SetCaps(CapState {
                effective: CapSet::from_bits(1),
                permitted: CapSet::from_bits(u64::MAX),
                inheritable: CapSet::from_bits(1 << 63),
            }),
            Op::BoundingDrop {
                caps: CapSet::from_bits(0b1010),
            },
            Op::AmbientClear { last: 40 },
            Op::AmbientRaise {
                caps: CapSet::from_bits(1 << 10),
            },
            Op::NoNewPrivs,
            Op::Securebits(Secbits::from_bits_retain(0x5)),
            Op::DropAll {
                keep: CapSet::from_bits(1 << 12),
                bounding: true,
                no_new_privs: false,
                last: 40,
            },
            Op::DropAll {
                keep: CapSet::empty(),
                bounding: false,
                no_new_privs: true,
                last: 63,
            },
            Op::SetIds {
                uid: Some(0),
                gid: None,
                groups: None,
                preserve_effective: true,
            },
            Op::SetIds {
                uid: None,
                gid: Some(u32::MAX - 1),
                groups: Some((GROUPS_ON_STACK as *const u32, 3)),
                preserve_effective: false,
            },
        ];
        for op in ops {
            let (k, a, b, c, d, e) = encode(op);
            assert_eq!(decode(k, a, b, c, d, e), Some(op));
        }
        assert_eq!(decode(0, 0, 0, 0, 0, 0), None);
    }

    #[test]
    fn table_grows_and_keeps_generations_apart() {
        // Registration is single-writer; this unit test is the only user of the table in the
        // lib test binary that registers, and it takes the broadcast lock to be sure.
        let _lock = super::super::broadcast::lock_for_tests();
        reset_table();
        let n = CHUNK * 2 + 3;
        for i in 0..n {
            assert_eq!(register(1_000_000 + i as u32, 7), i);
        }
        assert_eq!(result(n - 1, 7), None);
        let slot = find(1_000_000 + n as u32 - 1).unwrap();
        slot.result
            .compare_exchange(
                pack(7, PENDING),
                pack(7, 0),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .unwrap();
        assert_eq!(result(n - 1, 7), Some(0));
        assert_eq!(
            result(n - 1, 8),
            None,
            "another generation's result is not this one's"
        );
        assert!(find(42).is_none());
        reset_table();
    }
}

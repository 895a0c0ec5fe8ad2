//! The async-signal-safe half of a broadcast: the change area, the per-thread result table and
//! the signal handler. The change itself is [`ops::apply`], the same code every per-thread
//! path runs.
//!
//! Everything reachable from [`on_signal`] is async-signal-safe: raw system calls through
//! rustix, atomics, reads of memory that is never freed (or freed only once no handler can
//! read it), and two thread-local flags (`errno` is saved and restored anyway). No allocation,
//! no lock.
//!
//! # Protocol
//!
//! The broadcaster (holding the broadcast lock) writes the change into the change area and
//! then publishes a fresh, non-zero generation in [`ACTIVE`] (release); it stores 0 there when
//! the broadcast ends. The handler reads `ACTIVE`, the change, then `ACTIVE` again (a seqlock):
//! if the generation is 0 or changed, the signal is stale and the handler does nothing.
//! Otherwise it applies the change on its own thread (deferring it to the end of a
//! read-modify-write section the signal interrupted, see `thread::rmw`), then records
//! `(generation, result)` in the table slot the broadcaster registered for its thread id,
//! with a compare-exchange from `(generation, PENDING)` so that a late handler can never
//! overwrite a later broadcast's slot. The first answer of each registered thread decrements
//! [`OUTSTANDING`]; the one that takes it to 0 wakes the broadcaster with a futex.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use rustix::thread::futex;

use crate::error::{Errno, Op};
use crate::sys::{shared, signal};
use crate::thread::ops::{self, Change, DropSpec, Fail};
use crate::thread::rmw;
use crate::{Cap, CapSet, CapState, Secbits};

/// A slot's result while its thread has not answered.
const PENDING: u32 = u32::MAX;
/// A slot's result when the broadcaster gave the thread up (it exited).
const ABANDONED: u32 = u32::MAX - 1;

/// What a thread answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// Applied and read back.
    Done,
    /// Failed: the step and its errno, or `None` for a read-back that differs.
    Failed(Op, Option<Errno>),
}

// ---------------------------------------------------------------------------------------------
// The change area (written by the broadcaster under the lock, read by handlers).

const WORDS: usize = 5;
static AREA: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];

/// The generation of the running broadcast; 0 when none runs.
pub(super) static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// Registered threads that have neither answered nor been abandoned; the broadcaster's futex
/// word. The handler that takes it to 0 wakes the broadcaster (one wake per pass, as glibc's
/// own setxid broadcast does).
pub(super) static OUTSTANDING: AtomicU32 = AtomicU32::new(0);
/// Handlers between their first look at [`ACTIVE`] and their end.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);

/// Publishes `change` under generation `gen` (non-zero). Broadcaster only, with the lock held
/// and `ACTIVE` at 0.
pub(super) fn publish(change: &Change, gen: u32) {
    debug_assert_ne!(gen, 0);
    // Seqlock writer: any handler that reads a value stored below and then re-reads ACTIVE sees
    // 0 or a later generation, never the one it started with.
    fence(Ordering::Release);
    for (slot, word) in AREA.iter().zip(encode(change)) {
        slot.store(word, Ordering::Relaxed);
    }
    OUTSTANDING.store(0, Ordering::SeqCst);
    ACTIVE.store(gen, Ordering::SeqCst);
}

/// Ends the broadcast: handlers that run from now on do nothing.
pub(super) fn retire() {
    ACTIVE.store(0, Ordering::SeqCst);
}

/// Undoes [`retire`] for the same broadcast (the published change is unchanged, so a handler
/// that read it across the two sees the same words).
pub(super) fn resume(gen: u32) {
    ACTIVE.store(gen, Ordering::SeqCst);
}

/// After [`retire`]: waits (up to `limit`) until no handler is still applying the change.
/// `false` if one still is.
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

fn opt(v: Option<u32>) -> u64 {
    v.map_or(0, |x| 1 << 32 | u64::from(x))
}

fn unopt(w: u64) -> Option<u32> {
    (w >> 32 != 0).then_some(w as u32)
}

fn cap(w: u64) -> Cap {
    Cap::from_u8((w & 63) as u8).unwrap_or(Cap::MAX)
}

/// The change as five words: (kind | flags << 8 | last << 16, a, b, c, d).
fn encode(change: &Change) -> [u64; WORDS] {
    match *change {
        Change::SetCaps(s) => [
            1,
            s.effective.bits(),
            s.permitted.bits(),
            s.inheritable.bits(),
            0,
        ],
        Change::BoundingDrop(caps) => [2, caps.bits(), 0, 0, 0],
        Change::AmbientClear { last } => [3 | u64::from(last.as_u8()) << 16, 0, 0, 0, 0],
        Change::AmbientRaise(caps) => [4, caps.bits(), 0, 0, 0],
        Change::NoNewPrivs => [5, 0, 0, 0, 0],
        Change::Securebits(b) => [6, u64::from(b.bits()), 0, 0, 0],
        Change::DropAll(spec) => {
            let flags = u64::from(spec.bounding) | u64::from(spec.no_new_privs) << 1;
            [
                7 | flags << 8 | u64::from(spec.last.as_u8()) << 16,
                spec.keep.bits(),
                opt(spec.uid),
                opt(spec.gid),
                0,
            ]
        }
        Change::LowerEffective(mask) => [8, mask.bits(), 0, 0, 0],
        Change::SetIds {
            uid,
            gid,
            preserve_effective,
        } => [
            9 | u64::from(preserve_effective) << 8,
            opt(uid),
            opt(gid),
            0,
            0,
        ],
    }
}

fn decode(w: [u64; WORDS]) -> Option<Change> {
    let (kind, flags, last) = (w[0] & 0xff, (w[0] >> 8) & 0xff, cap(w[0] >> 16));
    Some(match kind {
        1 => Change::SetCaps(CapState {
            effective: CapSet::from_bits(w[1]),
            permitted: CapSet::from_bits(w[2]),
            inheritable: CapSet::from_bits(w[3]),
        }),
        2 => Change::BoundingDrop(CapSet::from_bits(w[1])),
        3 => Change::AmbientClear { last },
        4 => Change::AmbientRaise(CapSet::from_bits(w[1])),
        5 => Change::NoNewPrivs,
        6 => Change::Securebits(Secbits::from_bits_retain(w[1] as u32)),
        7 => Change::DropAll(DropSpec {
            keep: CapSet::from_bits(w[1]),
            bounding: flags & 1 != 0,
            no_new_privs: flags & 2 != 0,
            uid: unopt(w[2]),
            gid: unopt(w[3]),
            last,
        }),
        8 => Change::LowerEffective(CapSet::from_bits(w[1])),
        9 => Change::SetIds {
            uid: unopt(w[1]),
            gid: unopt(w[2]),
            preserve_effective: flags & 1 != 0,
        },
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The result table: chunks of slots, allocated by the broadcaster, never freed (so a late
// handler never reads freed memory). Handlers only look up and complete.

const CHUNK: usize = 128;
const CHUNKS: usize = 1024;

struct Slot {
    tid: AtomicU32,
    result: AtomicU64,
    /// Who answered ([`contain::identity`](crate::scope::contain::identity)), written before
    /// the result.
    ident: AtomicU64,
}

type Chunk = [Slot; CHUNK];

const fn new_chunk() -> Chunk {
    [const {
        Slot {
            tid: AtomicU32::new(0),
            result: AtomicU64::new(0),
            ident: AtomicU64::new(0),
        }
    }; CHUNK]
}

static FIRST: Chunk = new_chunk();
static MORE: [OnceLock<Box<Chunk>>; CHUNKS - 1] = [const { OnceLock::new() }; CHUNKS - 1];
/// How many slots the running broadcast registered.
static USED: AtomicUsize = AtomicUsize::new(0);

/// The most threads one broadcast can register.
pub(super) const CAPACITY: usize = CHUNK * CHUNKS;

const fn pack(gen: u32, code: u32) -> u64 {
    (gen as u64) << 32 | code as u64
}

/// The slot at `index`; with `grow`, a missing chunk is allocated (broadcaster only).
fn slot_at(index: usize, grow: bool) -> Option<&'static Slot> {
    let (c, i) = (index / CHUNK, index % CHUNK);
    let chunk: &'static Chunk = match c {
        0 => &FIRST,
        c if c < CHUNKS => {
            let cell = &MORE[c - 1];
            match cell.get() {
                Some(chunk) => chunk,
                None if grow => cell.get_or_init(|| Box::new(new_chunk())),
                None => return None,
            }
        }
        _ => return None,
    };
    Some(&chunk[i])
}

/// Forgets every registration (broadcaster only, lock held, before publishing).
pub(super) fn reset_table() {
    USED.store(0, Ordering::Release);
}

/// Registers thread `tid` as pending for `gen`; returns its slot index, or `None` when the
/// table is full (broadcaster only).
pub(super) fn register(tid: u32, gen: u32) -> Option<usize> {
    let index = USED.load(Ordering::Relaxed);
    let slot = slot_at(index, true)?;
    OUTSTANDING.fetch_add(1, Ordering::SeqCst);
    slot.tid.store(tid, Ordering::Relaxed);
    slot.result.store(pack(gen, PENDING), Ordering::Relaxed);
    USED.store(index + 1, Ordering::Release);
    Some(index)
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

/// The answer recorded at slot `index` for `gen`: `None` while pending.
/// Who answered in slot `index` (see [`Slot::ident`]); meaningful once [`result`] gave an
/// answer.
pub(super) fn answered_by(index: usize) -> u64 {
    slot_at(index, false).map_or(0, |s| s.ident.load(Ordering::Relaxed))
}

pub(super) fn result(index: usize, gen: u32) -> Option<Answer> {
    let r = slot_at(index, false)?.result.load(Ordering::Acquire);
    if (r >> 32) as u32 != gen {
        return None;
    }
    match r as u32 {
        PENDING | ABANDONED => None,
        code => Some(unpack_answer(code)),
    }
}

/// An answer in 31 bits: 0 = done; otherwise op index << 16 | errno (0xffff: read-back).
fn pack_answer(r: &Result<(), Fail>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(f) => {
            let errno = f.errno.map_or(0xffff, |e| e.raw().clamp(0, 0xfffe) as u32);
            1 << 30 | (u32::from(f.op.code()) << 16) | errno
        }
    }
}

fn unpack_answer(code: u32) -> Answer {
    if code == 0 {
        return Answer::Done;
    }
    let op = Op::from_code((code >> 16) & 0x3fff).unwrap_or(Op::Capset);
    let errno = code & 0xffff;
    Answer::Failed(op, (errno != 0xffff).then(|| Errno::from_raw(errno as i32)))
}

/// The slot registered last for thread `tid`: a thread id can be reused within one broadcast
/// (a thread exits, a new one gets its number), and the newer registration is the live one.
fn find(tid: u32) -> Option<&'static Slot> {
    let used = USED.load(Ordering::Acquire);
    (0..used)
        .rev()
        .filter_map(|i| slot_at(i, false))
        .find(|s| s.tid.load(Ordering::Relaxed) == tid)
}

// ---------------------------------------------------------------------------------------------
// The handler.

/// The signal handler (installed with `SA_SIGINFO | SA_RESTART` and every signal masked).
pub(super) extern "C" fn on_signal(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    let _errno = signal::ErrnoGuard::save();
    // Inside a read-modify-write of the thread's sets: answer when it ends, not under it.
    if rmw::defer_if_busy(answer) {
        return;
    }
    answer();
}

/// Applies the published change on the calling thread and records the answer. Called by the
/// handler, or by a read-modify-write section that the handler interrupted, when it ends.
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
    let mut words = [0u64; WORDS];
    for (w, slot) in words.iter_mut().zip(&AREA) {
        *w = slot.load(Ordering::Relaxed);
    }
    fence(Ordering::Acquire);
    if ACTIVE.load(Ordering::Relaxed) != gen {
        return; // the broadcast ended while we read the change
    }
    let Some(change) = decode(words) else { return };
    let r = shared::with_groups(|groups| ops::apply(&change, groups));
    crate::scope::guard::forget_restorable(change.may_lower());
    if r.is_ok() {
        crate::scope::contain::applied(gen);
    }
    let me = crate::current_tid();
    let Some(slot) = find(me) else { return };
    slot.ident
        .store(crate::scope::contain::identity(), Ordering::Relaxed);
    let recorded = slot.result.compare_exchange(
        pack(gen, PENDING),
        pack(gen, pack_answer(&r)),
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
    // Only the first answer of a registered thread counts (a thread signalled twice answers
    // twice; a slot abandoned or reused for a later broadcast is left alone).
    if recorded.is_ok() && OUTSTANDING.fetch_sub(1, Ordering::SeqCst) == 1 {
        let _ = futex::wake(&OUTSTANDING, futex::Flags::PRIVATE, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let last = Cap::CHECKPOINT_RESTORE;
        let changes = [
            Change::SetCaps(CapState {
                effective: CapSet::from_bits(1),
                permitted: CapSet::from_bits(u64::MAX),
                inheritable: CapSet::from_bits(1 << 63),
            }),
            Change::BoundingDrop(CapSet::from_bits(0b1010)),
            Change::AmbientClear { last },
            Change::AmbientRaise(CapSet::from_bits(1 << 10)),
            Change::NoNewPrivs,
            Change::Securebits(Secbits::from_bits_retain(0x5)),
            Change::DropAll(DropSpec {
                keep: CapSet::from_bits(1 << 12),
                bounding: true,
                no_new_privs: false,
                uid: Some(0),
                gid: None,
                last,
            }),
            Change::DropAll(DropSpec {
                keep: CapSet::empty(),
                bounding: false,
                no_new_privs: true,
                uid: None,
                gid: Some(u32::MAX - 1),
                last: Cap::MAX,
            }),
            Change::LowerEffective(CapSet::from_bits(1 << 21)),
            Change::SetIds {
                uid: Some(0),
                gid: None,
                preserve_effective: true,
            },
        ];
        for c in changes {
            assert_eq!(decode(encode(&c)), Some(c));
        }
        assert_eq!(decode([0; WORDS]), None);
    }

    #[test]
    fn answers_round_trip() {
        assert_eq!(unpack_answer(pack_answer(&Ok(()))), Answer::Done);
        for op in [
            Op::Capget,
            Op::Capset,
            Op::Setgroups,
            Op::ProcessLower,
            Op::Launch,
        ] {
            for errno in [Some(Errno::PERM), None] {
                let f = Fail {
                    op,
                    errno,
                    partial: true,
                };
                assert_eq!(
                    unpack_answer(pack_answer(&Err(f))),
                    Answer::Failed(op, errno)
                );
            }
        }
    }

    #[test]
    fn table_grows_and_keeps_generations_apart() {
        // Registration is single-writer; take the broadcast lock to be the only one.
        let _lock = super::super::broadcast::lock_for_tests();
        reset_table();
        let n = CHUNK * 2 + 3;
        for i in 0..n {
            assert_eq!(register(1_000_000 + i as u32, 7), Some(i));
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
        assert_eq!(result(n - 1, 7), Some(Answer::Done));
        assert_eq!(
            result(n - 1, 8),
            None,
            "another generation's result is not this one's"
        );
        assert!(find(42).is_none());
        OUTSTANDING.store(0, Ordering::SeqCst);
        reset_table();
    }
}

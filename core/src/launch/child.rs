//! The child's half: the [`Steps`] of a plan carried out between `fork` and `execve`, and the
//! way a failed step travels to the parent.
//!
//! Everything reachable from [`Program::run`] is **async-signal-safe**: the per-thread
//! operations of `thread::ops` and `thread::identity` (raw system calls through rustix, no
//! allocation, no lock, no `/proc`, no formatting), reads of the plan (plain data and a group
//! list allocated by the parent), writes to a scratch buffer allocated by the parent, and one
//! atomic. That is what makes it sound to run it in `pre_exec` after a `fork` of a
//! multi-threaded process (see `sys::launch`).
//!
//! # How a failure reaches the parent
//!
//! `std::process::Command::spawn` sends the OS error code of an error returned by a `pre_exec`
//! closure back to the parent through its own close-on-exec pipe, and returns it from `spawn`
//! (std documents that "the OS error code will be communicated back to the parent"). The code
//! is an `i32` and arrives whole, so the child puts the step in it too: [`encode`] packs a
//! signature, the step and the errno into one positive `i32` far above any errno (errnos are
//! below 4096), and [`decode`] unpacks it in the parent. Nothing else travels, nothing is
//! allocated, and no extra descriptor exists that could leak or go stale.

use std::sync::atomic::{AtomicBool, Ordering};

use super::plan::Steps;
use crate::error::{Errno, Op};
use crate::thread::identity::{self, IdRequest};
use crate::thread::ops::{self, Fail, Step};
use crate::{Cap, Secbits};

/// Set in a child once a declared state has been applied there. The parent never sets it (a
/// child's memory is its own copy), so it tells a second declared state on the same command
/// from the first.
static APPLIED: AtomicBool = AtomicBool::new(false);

/// The signature of an encoded failure: bits 24 to 30.
const SIGNATURE: i32 = 0x5C << 24;
const SIGNATURE_MASK: i32 = 0x7F << 24;

/// The step a second declared state on one command fails at: errno `EALREADY`.
const TWICE: Errno = Errno::from_raw(114);

/// One failed step as a single `i32`: signature, the step's [`Op::code`] (bits 16 to 23), errno
/// (bits 0 to 15; 0 for a read-back that differs from what was asked).
pub(crate) fn encode(f: Fail) -> i32 {
    let errno = f.errno.map_or(0, |e| e.raw().clamp(0, 0xFFFF));
    SIGNATURE | i32::from(f.op.code()) << 16 | errno
}

/// What the child reported: the step and its errno (`None`: the read-back differed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reported {
    pub(crate) op: Op,
    pub(crate) errno: Option<Errno>,
    /// A second declared state on the same command.
    pub(crate) twice: bool,
}

/// The failure [`encode`] packed into `code`, or `None` for any other error code.
pub(crate) fn decode(code: i32) -> Option<Reported> {
    if code & SIGNATURE_MASK != SIGNATURE {
        return None;
    }
    let op = Op::from_code(((code >> 16) & 0xFF) as u32)?;
    let errno = code & 0xFFFF;
    let errno = (errno != 0).then_some(Errno::from_raw(errno));
    Some(Reported {
        op,
        errno,
        twice: op == Op::Launch && errno == Some(TWICE),
    })
}

/// What a child runs: the plan's steps, its group list and scratch space for the group
/// read-back, all allocated by the parent.
#[derive(Debug)]
pub(crate) struct Program {
    pub(crate) steps: Steps,
    pub(crate) groups: Box<[u32]>,
    pub(crate) scratch: Box<[u32]>,
}

impl Program {
    /// The steps for `plan`, with their buffers.
    pub(crate) fn new(plan: &super::Plan) -> Program {
        let groups: Box<[u32]> = plan.groups.as_deref().unwrap_or(&[]).into();
        let scratch = vec![0u32; 2 * groups.len()].into_boxed_slice();
        Program {
            steps: plan.steps,
            groups,
            scratch,
        }
    }

    /// Carries out the steps on the calling thread (the only thread of a child between `fork`
    /// and `execve`), returning the encoded failure. Async-signal-safe.
    pub(crate) fn run(&mut self) -> Result<(), i32> {
        if APPLIED.swap(true, Ordering::Relaxed) {
            return Err(encode(Fail::os(Op::Launch, TWICE)));
        }
        apply(&self.steps, &self.groups, &mut self.scratch).map_err(encode)
    }
}

/// The bounding cut. A spawning thread may hold more in its bounding set than the planning
/// one, with `CAP_SETPCAP` only permitted where the plan did not need it (so did not raise
/// it): when a drop is refused for that, `CAP_SETPCAP` is raised and the cut made again, and
/// the effective set is put back afterwards unless a later step sets it. Nothing is raised for
/// a cut that finds nothing to drop.
fn cut(s: &Steps) -> Step {
    let refused = match ops::bounding_drop_expecting(s.bounding_drop, s.bounding_present) {
        Err(f) if f.op == Op::CapbsetDrop && f.errno == Some(Errno::PERM) && !s.raise_setpcap => f,
        other => return other,
    };
    let now = ops::capget()?;
    if !now.permitted.has(Cap::SETPCAP) || now.effective.has(Cap::SETPCAP) {
        return Err(refused);
    }
    ops::raise_from(&now, Cap::SETPCAP)?;
    ops::bounding_drop_expecting(s.bounding_drop, s.bounding_present)?;
    if s.caps_tmp.is_none() {
        ops::set_caps(&now)?;
    }
    Ok(())
}

/// Whether securebits `now` must be set to `want`. `SECBIT_KEEP_CAPS` alone does not count
/// unless locked: `execve` clears it, and the id change sets and restores it itself (a
/// spawning thread that set keepcaps must not make the child ask for `CAP_SETPCAP`).
fn differ(now: Secbits, want: Secbits) -> bool {
    let mut diff = now.symmetric_difference(want);
    if !now.union(want).contains(Secbits::KEEP_CAPS_LOCKED) {
        diff.remove(Secbits::KEEP_CAPS);
    }
    !diff.is_empty()
}

fn check(op: Op, good: bool) -> Step {
    if good {
        Ok(())
    } else {
        Err(Fail::mismatch(op))
    }
}

/// The steps, in the order the kernel needs (see the `launch` module docs).
fn apply(s: &Steps, groups: &[u32], scratch: &mut [u32]) -> Step {
    if s.raise_setpcap {
        ops::raise_effective(Cap::SETPCAP)?;
    }
    if !s.bounding_drop.is_empty() {
        cut(s)?;
    }
    if let Some((uid, gid, has_groups)) = s.ids {
        let req = IdRequest {
            uid,
            gid,
            groups: has_groups.then_some(groups),
            preserve_effective: true,
        };
        let applied = identity::apply(&req)?;
        identity::verify(&req, &applied, scratch).map_err(identity::VerifyError::into_fail)?;
    }
    if let Some(tmp) = s.caps_tmp {
        ops::capset(&tmp)?;
    }
    if let Some(ambient) = s.ambient {
        ops::ambient_clear()?;
        ops::ambient_raise(ambient)?;
    }
    if let Some(bits) = s.securebits {
        if differ(ops::securebits()?, bits) {
            ops::securebits_checked(bits)?;
        }
    }
    if let Some(last) = s.caps_final {
        ops::capset(&last)?;
    }
    if s.no_new_privs {
        ops::no_new_privs_checked()?;
    }
    if let Some(want) = s.expect_caps {
        check(Op::Capset, ops::capget()? == want)?;
        // The sets just read back bound the ambient set (the kernel keeps it inside both).
        check(
            Op::AmbientRaise,
            ops::ambient_within(want.permitted & want.inheritable)? == s.expect_ambient,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_stay_clear_of_errnos() {
        for (i, op) in [Op::Launch, Op::Capset, Op::Setgroups, Op::GetNoNewPrivs]
            .into_iter()
            .enumerate()
        {
            for errno in [None, Some(Errno::PERM), Some(Errno::from_raw(4095))] {
                let f = Fail {
                    op,
                    errno,
                    partial: i % 2 == 0,
                };
                let code = encode(f);
                assert!(code > 4096, "{code}");
                let r = decode(code).unwrap();
                assert_eq!((r.op, r.errno), (op, errno));
            }
        }
        for plain in [0, 1, 2, 13, 22, 4095, -1, i32::MAX, i32::MIN] {
            assert_eq!(decode(plain), None, "{plain}");
        }
        assert!(decode(encode(Fail::os(Op::Launch, TWICE))).unwrap().twice);
        // Any operation is reported as itself.
        assert_eq!(
            decode(encode(Fail::os(Op::Tgkill, Errno::PERM)))
                .unwrap()
                .op,
            Op::Tgkill
        );
    }
}

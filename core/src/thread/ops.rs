//! Every change capscope makes to a thread's capability state, written once.
//!
//! The public per-thread API (`CapState::set_current`, [`bounding`](crate::bounding),
//! [`ambient`](crate::ambient), [`securebits`](crate::securebits), `prctl::set_no_new_privs`,
//! [`drop_all`](crate::drop_after::drop_all)), the scopes (guards, `#[drop_caps_after]`,
//! [`manifest::restrict`](crate::manifest::restrict)), the broadcast handler of
//! [`process`](crate::process) and the launcher's child all call the functions here.
//!
//! Everything here is **async-signal-safe**: raw system calls through rustix (which never
//! touches `errno`), no allocation, no lock, no `/proc`, no formatting. So the same code runs
//! in a signal handler on every thread, and between `fork` and `exec`.
//!
//! Each change comes in two parts: the change itself, and a read-back through system calls only
//! (`capget`, `PR_CAPBSET_READ`, `PR_CAP_AMBIENT_IS_SET`, `PR_GET_SECUREBITS`,
//! `PR_GET_NO_NEW_PRIVS`, `getresuid`, ...) that checks the thread holds what was asked; the
//! read-back needs no `/proc`, so it works in a chroot and in a PID namespace whose `/proc`
//! belongs to someone else. The public single-call functions make the change only (their cost
//! is documented as one system call); compound changes ([`drop_all`], [`apply`]) read back.

use rustix::thread::{CapabilitiesSecureBits, CapabilitySet as RSet};

use crate::error::{Errno, Op};
use crate::sys::capget::CapgetError;
use crate::thread::identity::{self, IdRequest};
use crate::{Cap, CapSet, CapState, Secbits};

/// A failed step: the system call, its errno (`None` when the read-back after the change is
/// not what was asked), and whether the thread had already changed when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) op: Op,
    pub(crate) errno: Option<Errno>,
    pub(crate) partial: bool,
}

impl Fail {
    /// A system call `op` failing with `errno`, nothing changed yet.
    pub(crate) const fn os(op: Op, errno: Errno) -> Fail {
        Fail {
            op,
            errno: Some(errno),
            partial: false,
        }
    }

    /// The read-back after `op` differs from what was asked.
    pub(crate) const fn mismatch(op: Op) -> Fail {
        Fail {
            op,
            errno: None,
            partial: true,
        }
    }

    /// The plain error of this step (not marked indeterminate; see
    /// `identity::fail_error` for that).
    pub(crate) fn error(self) -> crate::Error {
        match self.errno {
            Some(errno) => crate::Error::os(self.op, errno),
            None => crate::Error::kernel(self.op, self.op.unanswered()),
        }
    }

    /// A question the kernel did not answer itself (`capget` that wrote nothing, a
    /// capability-63 question that did not fail): nothing changed because of it.
    pub(crate) const fn not_the_kernel(op: Op) -> Fail {
        Fail {
            op,
            errno: None,
            partial: false,
        }
    }

    /// The same failure, after a change had already been made.
    pub(crate) const fn after_change(self) -> Fail {
        Fail {
            partial: true,
            ..self
        }
    }
}

/// Why a `capget` that returned 0 without filling in the sets is refused.
pub(crate) const UNWRITTEN: &str =
    "capget returned success without filling in the capability sets: a \
seccomp filter or a supervisor answers it in the kernel's place, so the sets cannot be read";

impl Op {
    /// What a failure of this step without an errno means: a read-back that differs, or (for
    /// the questions `capget`, `PR_CAPBSET_READ` and `PR_CAP_AMBIENT_IS_SET`, which fail
    /// without an errno only so) an answer that did not come from the kernel.
    pub(crate) const fn unanswered(self) -> &'static str {
        match self {
            Op::Capget => UNWRITTEN,
            Op::CapbsetRead | Op::AmbientIsSet => NOT_THE_KERNEL,
            _ => "the state read back after the change is not what was asked",
        }
    }
}

/// Why a read-back whose answers do not come from the kernel is refused.
const NOT_THE_KERNEL: &str = "asked about capability 63, which no kernel knows, the call did \
not fail with EINVAL: something (a seccomp filter) answers it in the kernel's place, so what it \
says cannot be trusted";

/// The result of a step.
pub(crate) type Step<T = ()> = Result<T, Fail>;

fn os(op: Op) -> impl Fn(rustix::io::Errno) -> Fail {
    move |e| Fail::os(op, Errno::from(e))
}

fn one(cap: u8) -> RSet {
    RSet::from_bits_retain(1 << cap)
}

// ---------------------------------------------------------------------------------------------
// Single system calls.

/// `capget` of the calling thread.
#[inline]
pub(crate) fn capget() -> Step<CapState> {
    crate::sys::capget::capget(0).map_err(|e| match e {
        CapgetError::Os(errno) => Fail::os(Op::Capget, errno),
        CapgetError::Unwritten => Fail::not_the_kernel(Op::Capget),
    })
}

/// `capset` of the calling thread.
#[inline]
pub(crate) fn capset(state: &CapState) -> Step {
    rustix::thread::set_capabilities(None, state.to_rustix()).map_err(os(Op::Capset))
}

/// `PR_CAPBSET_READ`: `None` when the kernel does not know `cap`.
pub(crate) fn bounding_read(cap: Cap) -> Step<Option<bool>> {
    match rustix::thread::capability_is_in_bounding_set(one(cap.as_u8())) {
        Ok(b) => Ok(Some(b)),
        Err(rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(Fail::os(Op::CapbsetRead, e.into())),
    }
}

/// `PR_CAPBSET_DROP` of one capability.
pub(crate) fn bounding_drop_one(cap: Cap) -> Step {
    rustix::thread::remove_capability_from_bounding_set(one(cap.as_u8()))
        .map_err(os(Op::CapbsetDrop))
}

/// `PR_CAP_AMBIENT_IS_SET`: `None` when the kernel does not know `cap` (or has no ambient set).
pub(crate) fn ambient_is_set(cap: Cap) -> Step<Option<bool>> {
    match rustix::thread::capability_is_in_ambient_set(one(cap.as_u8())) {
        Ok(b) => Ok(Some(b)),
        Err(rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(Fail::os(Op::AmbientIsSet, e.into())),
    }
}

/// `PR_CAP_AMBIENT_RAISE` (or `_LOWER`) of one capability.
pub(crate) fn ambient_set_one(cap: Cap, raise: bool) -> Step {
    let op = if raise {
        Op::AmbientRaise
    } else {
        Op::AmbientLower
    };
    rustix::thread::configure_capability_in_ambient_set(one(cap.as_u8()), raise).map_err(os(op))
}

/// `PR_CAP_AMBIENT_CLEAR_ALL`.
pub(crate) fn ambient_clear() -> Step {
    rustix::thread::clear_ambient_capability_set().map_err(os(Op::AmbientClearAll))
}

/// `PR_GET_SECUREBITS`.
pub(crate) fn securebits() -> Step<Secbits> {
    rustix::thread::capabilities_secure_bits()
        .map(|b| Secbits::from_bits_retain(b.bits()))
        .map_err(os(Op::GetSecurebits))
}

/// `PR_SET_SECUREBITS` to exactly `bits`.
pub(crate) fn set_securebits(bits: Secbits) -> Step {
    rustix::thread::set_capabilities_secure_bits(CapabilitiesSecureBits::from_bits_retain(
        bits.bits(),
    ))
    .map_err(os(Op::SetSecurebits))
}

/// `PR_GET_KEEPCAPS`.
pub(crate) fn keepcaps() -> Step<bool> {
    rustix::thread::get_keep_capabilities().map_err(os(Op::GetKeepcaps))
}

/// `PR_SET_KEEPCAPS`.
pub(crate) fn set_keepcaps(keep: bool) -> Step {
    rustix::thread::set_keep_capabilities(keep).map_err(os(Op::SetKeepcaps))
}

/// `PR_GET_NO_NEW_PRIVS`.
pub(crate) fn no_new_privs() -> Step<bool> {
    rustix::thread::no_new_privs().map_err(os(Op::GetNoNewPrivs))
}

/// `PR_SET_NO_NEW_PRIVS` 1.
pub(crate) fn set_no_new_privs() -> Step {
    rustix::thread::set_no_new_privs(true).map_err(os(Op::SetNoNewPrivs))
}

// ---------------------------------------------------------------------------------------------
// Read-backs through system calls only.

/// Whether `read` answers `Some(true)` for every capability of `caps` (stops at the first that
/// is not).
pub(crate) fn all_of(caps: CapSet, read: impl Fn(Cap) -> Step<Option<bool>>) -> Step<bool> {
    for cap in caps {
        if read(cap)? != Some(true) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The capabilities of `caps` for which `read` answers `Some(true)`.
fn collect(caps: CapSet, read: impl Fn(Cap) -> Step<Option<bool>>) -> Step<CapSet> {
    let mut set = CapSet::empty();
    for cap in caps {
        if read(cap)? == Some(true) {
            set.add(cap);
        }
    }
    Ok(set)
}

/// The bounding set, capabilities `0..=last`: one `PR_CAPBSET_READ` each.
pub(crate) fn bounding_set(last: Cap) -> Step<CapSet> {
    collect(CapSet::up_to(last), bounding_read)
}

/// The ambient set, capabilities `0..=last`: one `PR_CAP_AMBIENT_IS_SET` each.
pub(crate) fn ambient_set(last: Cap) -> Step<CapSet> {
    collect(CapSet::up_to(last), ambient_is_set)
}

/// The ambient capabilities among `candidates`: one `PR_CAP_AMBIENT_IS_SET` each. Given the
/// permitted and inheritable sets just read back (and checked) with `capget`, their
/// intersection holds the whole ambient set: the kernel keeps every ambient capability in both
/// (capabilities(7): "no capability can ever be ambient if it is not both permitted and
/// inheritable"; `capset` and `PR_CAP_AMBIENT_RAISE` enforce it), so no other needs a
/// question. With an empty inheritable set, no system call at all.
pub(crate) fn ambient_within(candidates: CapSet) -> Step<CapSet> {
    if !candidates.is_empty() {
        kernel_answers(Op::AmbientIsSet, ambient_is_set)?;
    }
    collect(candidates, ambient_is_set)
}

fn check(op: Op, good: bool) -> Step {
    if good {
        Ok(())
    } else {
        Err(Fail::mismatch(op))
    }
}

/// Raises `cap` into the effective set of a thread whose sets are `now` (it must be
/// permitted), unless it is there already.
pub(crate) fn raise_from(now: &CapState, cap: Cap) -> Step {
    if now.effective.has(cap) {
        return Ok(());
    }
    capset(&CapState {
        effective: now.effective.with(cap),
        ..*now
    })
}

/// [`raise_from`] the sets read now.
pub(crate) fn raise_effective(cap: Cap) -> Step {
    raise_from(&capget()?, cap)
}

/// Capability 63: no kernel knows it (the last one is far below), so a question about it must
/// fail with `EINVAL`.
const UNKNOWN: Cap = match Cap::from_u8(63) {
    Some(c) => c,
    None => panic!("capability 63 is representable"),
};

/// Checks that `read`'s answers come from the kernel: asked about [`UNKNOWN`], the kernel
/// fails with `EINVAL`. A read-back that expects "absent" (a drop, a clear) cannot tell a 0
/// returned by the kernel from a 0 returned by a seccomp filter (`SECCOMP_RET_ERRNO` with 0)
/// that answers the whole `prctl` option in its place; this one question can. (A filter that
/// matches the capability argument too is not caught.)
fn kernel_answers(op: Op, read: impl Fn(Cap) -> Step<Option<bool>>) -> Step {
    if read(UNKNOWN)?.is_none() {
        Ok(())
    } else {
        Err(Fail::not_the_kernel(op))
    }
}

// ---------------------------------------------------------------------------------------------
// Changes with their read-back.

/// `capset` to exactly `state`, read back with `capget`.
pub(crate) fn set_caps(state: &CapState) -> Step {
    capset(state)?;
    check(Op::Capset, capget().map_err(Fail::after_change)? == *state)
}

/// Drops every capability of `caps` still in the bounding set, then checks none is left.
/// Capabilities the kernel does not know are skipped (the caller refuses them beforehand).
pub(crate) fn bounding_drop(caps: CapSet) -> Step {
    bounding_drop_expecting(caps, CapSet::empty())
}

/// [`bounding_drop`], told which of `caps` are expected in the bounding set (`present`): those
/// are dropped at once, the others are looked at first (dropping one that is already gone
/// would commit new credentials for nothing, or fail without `CAP_SETPCAP`). A drop that
/// fails counts only if the capability is still there. Then every capability dropped is read
/// back (one that was not there can never come back).
pub(crate) fn bounding_drop_expecting(caps: CapSet, present: CapSet) -> Step {
    let mut dropped = CapSet::empty();
    let partial = |f: Fail, dropped: CapSet| {
        if dropped.is_empty() {
            f
        } else {
            f.after_change()
        }
    };
    for cap in caps {
        if present.has(cap) {
            match bounding_drop_one(cap) {
                Ok(()) => dropped.add(cap),
                Err(f) => {
                    if bounding_read(cap).map_err(|e| partial(e, dropped))? == Some(true) {
                        return Err(partial(f, dropped));
                    }
                }
            }
        } else if bounding_read(cap).map_err(|f| partial(f, dropped))? == Some(true) {
            bounding_drop_one(cap).map_err(|f| partial(f, dropped))?;
            dropped.add(cap);
        }
    }
    for cap in dropped {
        if bounding_read(cap).map_err(Fail::after_change)? == Some(true) {
            return Err(Fail::mismatch(Op::CapbsetDrop));
        }
    }
    // Whatever was asked, dropped or found absent: the answers were the kernel's.
    if !caps.is_empty() {
        kernel_answers(Op::CapbsetRead, bounding_read).map_err(|f| partial(f, dropped))?;
    }
    Ok(())
}

/// Empties the ambient set and checks it is empty over `0..=last`.
pub(crate) fn ambient_clear_checked(last: Cap) -> Step {
    ambient_clear()?;
    check(
        Op::AmbientClearAll,
        ambient_set(last).map_err(Fail::after_change)?.is_empty(),
    )?;
    kernel_answers(Op::AmbientIsSet, ambient_is_set).map_err(Fail::after_change)
}

/// Raises every capability of `caps` in the ambient set, then checks they all are.
pub(crate) fn ambient_raise(caps: CapSet) -> Step {
    let mut changed = false;
    for cap in caps {
        ambient_set_one(cap, true).map_err(|f| if changed { f.after_change() } else { f })?;
        changed = true;
    }
    for cap in caps {
        if ambient_is_set(cap).map_err(Fail::after_change)? != Some(true) {
            return Err(Fail::mismatch(Op::AmbientRaise));
        }
    }
    Ok(())
}

/// Sets no_new_privs and reads it back.
pub(crate) fn no_new_privs_checked() -> Step {
    set_no_new_privs()?;
    check(
        Op::SetNoNewPrivs,
        no_new_privs().map_err(Fail::after_change)?,
    )
}

/// Sets the securebits to exactly `bits` and reads them back.
pub(crate) fn securebits_checked(bits: Secbits) -> Step {
    set_securebits(bits)?;
    check(
        Op::SetSecurebits,
        securebits().map_err(Fail::after_change)? == bits,
    )
}

/// Lowers `mask` from the effective set (nothing else), and checks it is gone: how a thread
/// born inside a scope loses what the scope raised. No `capset` when nothing is to lower.
pub(crate) fn lower_effective(mask: CapSet) -> Step {
    let now = capget()?;
    if now.effective.intersection(mask).is_empty() {
        return Ok(());
    }
    let want = CapState {
        effective: now.effective.difference(mask),
        ..now
    };
    capset(&want)?;
    check(
        Op::Capset,
        capget()
            .map_err(Fail::after_change)?
            .effective
            .intersection(mask)
            .is_empty(),
    )
}

/// "Drop everything but `keep`": the one drop, whoever asks for it (`#[drop_caps_after]`,
/// [`drop_all`](crate::drop_after::drop_all), [`manifest::restrict`](crate::manifest::restrict),
/// [`process::drop_all`](crate::process::drop_all), the launcher).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DropSpec {
    /// Capabilities kept in the permitted set (those of them that are there).
    pub(crate) keep: CapSet,
    /// Also drop from the bounding set everything not kept.
    pub(crate) bounding: bool,
    /// Also set no_new_privs.
    pub(crate) no_new_privs: bool,
    /// Switch to this uid (real, effective, saved and filesystem) first.
    pub(crate) uid: Option<u32>,
    /// Switch to this gid (real, effective, saved and filesystem) first.
    pub(crate) gid: Option<u32>,
    /// The kernel's last capability, for the bounding and ambient loops.
    pub(crate) last: Cap,
}

impl DropSpec {
    /// The id change the drop makes first, if any: the uid and gid asked, supplementary groups
    /// cleared.
    pub(crate) fn ids(&self) -> Option<IdRequest<'static>> {
        (self.uid.is_some() || self.gid.is_some()).then_some(IdRequest {
            uid: self.uid,
            gid: self.gid,
            groups: Some(&[]),
            preserve_effective: false,
        })
    }

    /// The capability sets the drop leaves, given the permitted set before it.
    pub(crate) fn result(&self, permitted: CapSet) -> CapState {
        CapState {
            effective: CapSet::empty(),
            permitted: permitted.intersection(self.keep),
            inheritable: CapSet::empty(),
        }
    }
}

/// Drops the calling thread's capabilities as `spec` says, then reads everything back:
///
/// 1. with `bounding`: `CAP_SETPCAP` raised into the effective set if it is only permitted,
///    then every capability `0..=last` not kept dropped from the bounding set;
/// 2. with a uid or gid: supplementary groups cleared, gid then uid changed (real, effective,
///    saved; the filesystem ids follow), the permitted set kept across the change;
/// 3. the ambient set cleared; with `no_new_privs`, the flag set;
/// 4. the effective and inheritable sets emptied and the permitted set cut down to `keep` (all
///    64 bits);
/// 5. read back: `capget`, the ambient and bounding sets, no_new_privs, and the ids.
pub(crate) fn drop_all(spec: &DropSpec) -> Step {
    let before = capget()?;
    let mut changed = false;
    let mut raised_setpcap = false;
    // A failure before anything but `CAP_SETPCAP` changed puts the effective set back (and is
    // a partial change only if that fails too).
    let mark = |f: Fail, changed: bool, raised_setpcap: bool| {
        if changed || (raised_setpcap && capset(&before).is_err()) {
            f.after_change()
        } else {
            f
        }
    };
    if spec.bounding {
        if before.permitted.has(Cap::SETPCAP) && !before.effective.has(Cap::SETPCAP) {
            raise_from(&before, Cap::SETPCAP)?;
            raised_setpcap = true;
        }
        for cap in CapSet::up_to(spec.last).difference(spec.keep) {
            if bounding_read(cap).map_err(|f| mark(f, changed, raised_setpcap))? == Some(true) {
                bounding_drop_one(cap).map_err(|f| mark(f, changed, raised_setpcap))?;
                changed = true;
            }
        }
    }
    let ids = spec.ids();
    if let Some(req) = &ids {
        identity::apply(req).map_err(|f| mark(f, changed, raised_setpcap))?;
        changed = true;
    }
    ambient_clear().map_err(|f| mark(f, changed, raised_setpcap))?;
    if spec.no_new_privs {
        set_no_new_privs().map_err(Fail::after_change)?;
    }
    let now = capget().map_err(Fail::after_change)?;
    let want = spec.result(now.permitted);
    capset(&want).map_err(Fail::after_change)?;

    // Read everything back.
    let got = capget().map_err(Fail::after_change)?;
    check(Op::Capset, got == want)?;
    check(
        Op::AmbientClearAll,
        ambient_within(got.permitted & got.inheritable)
            .map_err(Fail::after_change)?
            .is_empty(),
    )?;
    if spec.no_new_privs {
        check(
            Op::SetNoNewPrivs,
            no_new_privs().map_err(Fail::after_change)?,
        )?;
    }
    if spec.bounding {
        check(
            Op::CapbsetDrop,
            bounding_set(spec.last)
                .map_err(Fail::after_change)?
                .is_subset(spec.keep),
        )?;
        kernel_answers(Op::CapbsetRead, bounding_read).map_err(Fail::after_change)?;
    }
    if let Some(req) = &ids {
        identity::verify_ids(req).map_err(Fail::after_change)?;
    }
    Ok(())
}

/// One change for [`apply`]: what a process-wide broadcast asks every thread to make, and what
/// the launcher's child makes before `exec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// `capset` to exactly this state.
    SetCaps(CapState),
    /// Drop each capability of the set still in the bounding set.
    BoundingDrop(CapSet),
    /// Empty the ambient set (read back over `0..=last`).
    AmbientClear { last: Cap },
    /// Raise each capability of the set in the ambient set.
    AmbientRaise(CapSet),
    /// Set no_new_privs.
    NoNewPrivs,
    /// Set the securebits to exactly these bits.
    Securebits(Secbits),
    /// Drop everything but what the spec keeps.
    DropAll(DropSpec),
    /// Lower these capabilities from the effective set (containment of threads born inside a
    /// scope).
    LowerEffective(CapSet),
    /// Change ids keeping the permitted set (`cap_set_ids`); the groups are passed apart
    /// (they are borrowed).
    SetIds {
        uid: Option<u32>,
        gid: Option<u32>,
        preserve_effective: bool,
    },
}

impl Change {
    /// The effective capabilities the change may leave lowered: what a scope that lowered them
    /// before the change must not raise again when it ends (an over-estimate is safe: it can
    /// only keep a scope's end from raising).
    pub(crate) fn may_lower(&self) -> CapSet {
        match *self {
            Change::SetCaps(s) => s.effective.complement(),
            Change::DropAll(_) | Change::SetIds { .. } => CapSet::from_bits(u64::MAX),
            Change::LowerEffective(mask) => mask,
            Change::BoundingDrop(_)
            | Change::AmbientClear { .. }
            | Change::AmbientRaise(_)
            | Change::NoNewPrivs
            | Change::Securebits(_) => CapSet::empty(),
        }
    }
}

/// Applies `change` to the calling thread and reads it back. `groups` is the group list of a
/// [`Change::SetIds`] (`None`: groups unchanged). Async-signal-safe.
pub(crate) fn apply(change: &Change, groups: Option<&[u32]>) -> Step {
    match *change {
        Change::SetCaps(s) => set_caps(&s),
        Change::BoundingDrop(caps) => bounding_drop(caps),
        Change::AmbientClear { last } => ambient_clear_checked(last),
        Change::AmbientRaise(caps) => ambient_raise(caps),
        Change::NoNewPrivs => no_new_privs_checked(),
        Change::Securebits(bits) => securebits_checked(bits),
        Change::DropAll(spec) => drop_all_cold(&spec),
        Change::LowerEffective(mask) => lower_effective(mask),
        Change::SetIds {
            uid,
            gid,
            preserve_effective,
        } => set_ids(&IdRequest {
            uid,
            gid,
            groups,
            preserve_effective,
        }),
    }
}

// The larger changes get frames of their own, so that `apply`'s frame, on the signal path of
// every broadcast, stays small (a handler may run on a small alternate signal stack).

#[inline(never)]
fn drop_all_cold(spec: &DropSpec) -> Step {
    drop_all(spec)
}

#[inline(never)]
fn set_ids(req: &IdRequest<'_>) -> Step {
    let applied = identity::apply(req)?;
    identity::verify_on_stack(req, &applied).map_err(Fail::after_change)
}

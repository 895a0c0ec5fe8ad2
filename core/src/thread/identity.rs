//! Changing a thread's uid, gid and supplementary groups while keeping its permitted
//! capabilities: [`cap_set_ids`] (libcap's `cap_setuid` and `cap_setgroups` in one call).
//!
//! The work is split in three steps so that the broadcast handler of `capscope::process`, the
//! drop of `#[drop_caps_after(uid = ..)]` and the launcher's child run the middle ones:
//!
//! 1. [`IdChange::validate`] checks the input (no system call, no allocation) into a plain,
//!    `Copy` [`IdRequest`] that borrows the groups;
//! 2. [`apply`] makes the change on the calling thread with raw system calls only: no
//!    allocation, no lock, no `/proc`, no formatting, so it is async-signal-safe; it fails
//!    with the shared [`Fail`] (step, errno, whether anything had changed);
//! 3. [`verify`] reads the thread's ids, groups and capabilities back (raw system calls into a
//!    caller-provided buffer, so it is async-signal-safe too) and compares them with the
//!    request.

use crate::error::{Errno, Error, Op, Result};
use crate::sys::creds;
use crate::thread::ops::{self, Fail, Step};
use crate::{Cap, CapSet, CapState};

/// The most supplementary groups the kernel accepts (`NGROUPS_MAX`).
pub const MAX_GROUPS: usize = 65_536;

/// What [`cap_set_ids`] (and [`process::cap_set_ids`](crate::process::cap_set_ids)) changes:
/// built with named steps, so that a call site reads without the docs.
///
/// Nothing given means nothing to change, which [`cap_set_ids`] refuses.
///
/// # Examples
///
/// ```
/// use capscope::IdChange;
///
/// let change = IdChange::new().uid(1000).gid(1000).clear_groups();
/// let keeping = IdChange::new().uid(1000).keep_effective();
/// # let _ = (change, keeping);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[must_use]
pub struct IdChange<'a> {
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<&'a [u32]>,
    keep_effective: bool,
}

impl<'a> IdChange<'a> {
    /// No change yet.
    pub const fn new() -> IdChange<'a> {
        IdChange {
            uid: None,
            gid: None,
            groups: None,
            keep_effective: false,
        }
    }

    /// Set the real, effective and saved uid (`setresuid(uid, uid, uid)`; the filesystem uid
    /// follows).
    pub const fn uid(mut self, uid: u32) -> IdChange<'a> {
        self.uid = Some(uid);
        self
    }

    /// Set the real, effective and saved gid (`setresgid`; the filesystem gid follows).
    pub const fn gid(mut self, gid: u32) -> IdChange<'a> {
        self.gid = Some(gid);
        self
    }

    /// Set the supplementary groups (`setgroups`).
    pub const fn groups(mut self, groups: &'a [u32]) -> IdChange<'a> {
        self.groups = Some(groups);
        self
    }

    /// Clear the supplementary groups.
    pub const fn clear_groups(self) -> IdChange<'a> {
        self.groups(&[])
    }

    /// What a drop to `uid`/`gid` changes: those ids, and the groups cleared.
    pub(crate) const fn drop_to(uid: Option<u32>, gid: Option<u32>) -> IdChange<'static> {
        IdChange {
            uid,
            gid,
            groups: Some(&[]),
            keep_effective: false,
        }
    }

    /// Afterwards, restore the effective set as it was (intersected with the permitted set)
    /// instead of leaving it empty.
    pub const fn keep_effective(mut self) -> IdChange<'a> {
        self.keep_effective = true;
        self
    }

    /// Checks everything [`cap_set_ids`] refuses, before any system call: at least one of
    /// uid, gid, groups; no id equal to `u32::MAX` (the kernel's "unchanged"); at most
    /// [`MAX_GROUPS`] groups.
    pub(crate) fn validate(&self, op: Op) -> Result<IdRequest<'a>> {
        if self.uid.is_none() && self.gid.is_none() && self.groups.is_none() {
            return Err(Error::invalid(
                op,
                "nothing to change: give a uid, a gid or groups",
            ));
        }
        for (what, id) in [("uid", self.uid), ("gid", self.gid)] {
            if id == Some(u32::MAX) {
                return Err(Error::invalid(
                    op,
                    format!("{what} 4294967295 (-1) means \"unchanged\" to the kernel"),
                ));
            }
        }
        if let Some(g) = self.groups {
            if g.len() > MAX_GROUPS {
                return Err(Error::invalid(
                    op,
                    format!("{} groups, the kernel allows at most {MAX_GROUPS}", g.len()),
                ));
            }
            if let Some(i) = g.iter().position(|&x| x == u32::MAX) {
                return Err(Error::invalid(
                    op,
                    format!("group {i} is 4294967295 (-1), not a group id"),
                ));
            }
        }
        Ok(IdRequest {
            uid: self.uid,
            gid: self.gid,
            groups: self.groups,
            preserve_effective: self.keep_effective,
        })
    }
}

/// A validated [`IdChange`]: plain data, no allocation, borrowed groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdRequest<'a> {
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<&'a [u32]>,
    pub(crate) preserve_effective: bool,
}

impl IdRequest<'_> {
    /// The capabilities the change needs in the effective set.
    pub(crate) const fn needed_caps(&self) -> CapSet {
        let mut s = CapSet::empty();
        if self.gid.is_some() || self.groups.is_some() {
            s = s.with(Cap::SETGID);
        }
        if self.uid.is_some() {
            s = s.with(Cap::SETUID);
        }
        s
    }

    /// How many `u32`s of scratch space [`verify`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        2 * self.groups.map_or(0, <[u32]>::len)
    }
}

/// What [`apply`] did, for [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The thread's capability sets before the change.
    pub(crate) before: CapState,
    /// The effective set [`apply`] left.
    pub(crate) effective: CapSet,
}

/// Lowers the effective set to empty; aborts the process if even that fails (never go on with
/// capabilities raised). Async-signal-safe.
fn lower_effective_or_abort() {
    if let Ok(now) = ops::capget() {
        if now.effective.is_empty()
            || ops::capset(&CapState {
                effective: CapSet::empty(),
                ..now
            })
            .is_ok()
        {
            return;
        }
    }
    std::process::abort()
}

/// Applies `req` to the calling thread. Async-signal-safe: raw system calls only (`capget`,
/// `capset`, `prctl`, `setresgid`, `setgroups`, `setresuid`), no allocation, no lock.
///
/// Raises the needed CAP_SETUID/CAP_SETGID (those in the permitted set) into the effective
/// set, sets keepcaps, changes gid → groups → uid, restores keepcaps, then leaves the
/// effective set empty (or as before, with `preserve_effective`). On a failure before any id
/// changed it restores keepcaps and the effective set exactly and fails with `partial: false`;
/// after, it lowers the effective set to empty and fails with `partial: true`. If the effective
/// set cannot be lowered, it aborts the process.
pub(crate) fn apply(req: &IdRequest<'_>) -> Step<Applied> {
    let before = ops::capget()?;
    let raised = before.effective | (req.needed_caps() & before.permitted);
    if raised != before.effective {
        ops::capset(&CapState {
            effective: raised,
            ..before
        })?;
    }
    // Nothing changed yet but the effective set: undo it on these early failures.
    let undo_early = |f: Fail| -> Fail {
        if raised != before.effective && ops::capset(&before).is_err() {
            lower_effective_or_abort();
            return f.after_change();
        }
        f
    };
    let old_keep = ops::keepcaps().map_err(undo_early)?;
    if !old_keep {
        ops::set_keepcaps(true).map_err(undo_early)?;
    }

    let mut changed = false;
    let ids = change_ids(req, &mut changed);
    let keep = if old_keep {
        Ok(())
    } else {
        ops::set_keepcaps(false)
    };

    match (ids, keep) {
        (Err(f), keep) if !changed => {
            if keep.is_err() {
                lower_effective_or_abort();
                return Err(f.after_change());
            }
            Err(undo_early(f))
        }
        (Err(f), _) | (Ok(()), Err(f)) => {
            lower_effective_or_abort();
            Err(f.after_change())
        }
        (Ok(()), Ok(())) => {
            let now = ops::capget().map_err(|f| {
                lower_effective_or_abort();
                f.after_change()
            })?;
            let effective = if req.preserve_effective {
                before.effective & now.permitted
            } else {
                CapSet::empty()
            };
            if now.effective != effective {
                ops::capset(&CapState { effective, ..now }).map_err(|f| {
                    lower_effective_or_abort();
                    f.after_change()
                })?;
            }
            Ok(Applied { before, effective })
        }
    }
}

/// gid → groups → uid, with per-thread raw system calls (never the C library's all-thread
/// wrappers). `changed` becomes true as soon as one call succeeded.
fn change_ids(req: &IdRequest<'_>, changed: &mut bool) -> Step {
    use rustix::thread::{Gid, Uid};
    let fail = |op: Op, changed: bool| {
        move |e: Errno| {
            let f = Fail::os(op, e);
            if changed {
                f.after_change()
            } else {
                f
            }
        }
    };
    if let Some(g) = req.gid {
        let g = Gid::from_raw_unchecked(g);
        rustix::thread::set_thread_res_gid(g, g, g)
            .map_err(|e| fail(Op::Setresgid, *changed)(e.into()))?;
        *changed = true;
    }
    if let Some(groups) = req.groups {
        // Clearing groups that are already clear changes nothing: no system call, so it also
        // works where setgroups is denied (an unprivileged user namespace).
        let already_clear = groups.is_empty() && creds::group_count() == Ok(0);
        if !already_clear {
            creds::set_thread_groups(groups).map_err(fail(Op::Setgroups, *changed))?;
            *changed = true;
        }
    }
    if let Some(u) = req.uid {
        let u = Uid::from_raw_unchecked(u);
        rustix::thread::set_thread_res_uid(u, u, u)
            .map_err(|e| fail(Op::Setresuid, *changed)(e.into()))?;
        *changed = true;
    }
    Ok(())
}

/// What [`verify`] found different from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// A read-back system call failed.
    Syscall(Fail),
    /// `getresuid` disagrees: (real, effective, saved).
    Uids([u32; 3]),
    /// `getresgid` disagrees: (real, effective, saved).
    Gids([u32; 3]),
    /// The filesystem uid or gid is not the one asked: (uid, gid).
    FsIds(u32, u32),
    /// `getgroups` returns another list (its length).
    Groups(usize),
    /// The permitted set changed: (before, after).
    Permitted(CapSet, CapSet),
    /// The effective set is not what [`apply`] left: (expected, found).
    Effective(CapSet, CapSet),
}

impl VerifyError {
    /// The failed step, for the signal-safe callers.
    pub(crate) fn into_fail(self) -> Fail {
        match self {
            VerifyError::Syscall(f) => f.after_change(),
            VerifyError::Uids(_) => Fail::mismatch(Op::Setresuid),
            VerifyError::Gids(_) => Fail::mismatch(Op::Setresgid),
            VerifyError::FsIds(..) => Fail::mismatch(Op::Setfsuid),
            VerifyError::Groups(_) => Fail::mismatch(Op::Setgroups),
            VerifyError::Permitted(..) | VerifyError::Effective(..) => Fail::mismatch(Op::Capset),
        }
    }

    /// The public error: always [`Error::Indeterminate`] (the change has been made).
    pub(crate) fn into_error(self, op: Op) -> Error {
        let source = match self {
            VerifyError::Syscall(f) => return fail_error(op, f.after_change(), None),
            VerifyError::Uids(u) => Error::kernel(Op::Getresuid, format!("{u:?} after the change")),
            VerifyError::Gids(g) => Error::kernel(Op::Getresgid, format!("{g:?} after the change")),
            VerifyError::FsIds(u, g) => Error::kernel(
                Op::Setfsuid,
                format!("the filesystem ids are {u}/{g} after the change"),
            ),
            VerifyError::Groups(n) => Error::kernel(
                Op::Getgroups,
                format!("another list ({n} groups) after the change"),
            ),
            VerifyError::Permitted(b, a) => Error::kernel(
                Op::Capget,
                format!("the permitted set changed from {b:?} to {a:?}"),
            ),
            VerifyError::Effective(x, f) => Error::kernel(
                Op::Capget,
                format!("the effective set is {f:?}, expected {x:?}"),
            ),
        };
        Error::indeterminate(op, source)
    }
}

/// The public error for a failed step of an id change: [`Error::Os`] when nothing changed
/// (with a hint for the classic mistakes), [`Error::Indeterminate`] otherwise. `hint` overrides
/// the built-in one.
pub(crate) fn fail_error(op: Op, f: Fail, hint: Option<&'static str>) -> Error {
    let inner = match f.errno {
        None => f.error(),
        Some(errno) => {
            let builtin = match (f.op, errno) {
                (Op::Setresuid, Errno::PERM) => {
                    Some("changing to another uid needs CAP_SETUID in the permitted set")
                }
                (Op::Setresgid, Errno::PERM) => {
                    Some("changing to another gid needs CAP_SETGID in the permitted set")
                }
                (Op::Setgroups, Errno::PERM) => Some(
                    "setgroups needs CAP_SETGID in the permitted set, and in a user namespace \
                     /proc/<pid>/setgroups must say \"allow\"",
                ),
                (Op::Setresuid | Op::Setresgid | Op::Setgroups, Errno::INVAL) => {
                    Some("the id is not mapped in the thread's user namespace")
                }
                (Op::SetKeepcaps, Errno::PERM) => Some("SECBIT_KEEP_CAPS_LOCKED is set"),
                _ => None,
            };
            let e = Error::os(f.op, errno);
            match hint.or(builtin) {
                Some(h) => e.with_hint(h),
                None => e,
            }
        }
    };
    if f.partial {
        Error::indeterminate(op, inner)
    } else {
        inner
    }
}

fn read<T>(op: Op, r: core::result::Result<T, Errno>) -> core::result::Result<T, VerifyError> {
    r.map_err(|e| VerifyError::Syscall(Fail::os(op, e)))
}

/// Checks the ids alone: uids and gids (real, effective, saved, filesystem) and, when asked,
/// the group count (a multiset comparison needs [`verify`]'s scratch space). Async-signal-safe.
fn verify_id_numbers(req: &IdRequest<'_>) -> core::result::Result<(), VerifyError> {
    if let Some(u) = req.uid {
        let r = read(Op::Getresuid, creds::getresuid())?;
        if r != [u; 3] {
            return Err(VerifyError::Uids(r));
        }
    }
    if let Some(g) = req.gid {
        let r = read(Op::Getresgid, creds::getresgid())?;
        if r != [g; 3] {
            return Err(VerifyError::Gids(r));
        }
    }
    let (fsuid, fsgid) = (creds::fsuid(), creds::fsgid());
    if req.uid.is_some_and(|u| u != fsuid) || req.gid.is_some_and(|g| g != fsgid) {
        return Err(VerifyError::FsIds(fsuid, fsgid));
    }
    if let Some(want) = req.groups {
        let count = read(Op::Getgroups, creds::group_count())?;
        if count != want.len() {
            return Err(VerifyError::Groups(count));
        }
    }
    Ok(())
}

/// The ids of an id change, read back: the step [`ops::drop_all`] uses (its groups are empty, so
/// the count says it all).
pub(crate) fn verify_ids(req: &IdRequest<'_>) -> Step {
    verify_id_numbers(req).map_err(VerifyError::into_fail)
}

/// Reads the calling thread back and checks it against `req` and what [`apply`] reported:
/// the ids, the groups (as a multiset: the kernel sorts the list), `capget` (permitted set
/// unchanged, effective set as left). `scratch` must hold at least [`IdRequest::scratch_len`]
/// values. Async-signal-safe: raw system calls, no allocation.
pub(crate) fn verify(
    req: &IdRequest<'_>,
    applied: &Applied,
    scratch: &mut [u32],
) -> core::result::Result<(), VerifyError> {
    verify_id_numbers(req)?;
    if let Some(want) = req.groups {
        let n = want.len();
        if scratch.len() >= 2 * n {
            let (a, b) = scratch[..2 * n].split_at_mut(n);
            let got = read(Op::Getgroups, creds::groups_into(b))?;
            if got != n {
                return Err(VerifyError::Groups(got));
            }
            a.copy_from_slice(want);
            a.sort_unstable();
            b.sort_unstable();
            if a != b {
                return Err(VerifyError::Groups(n));
            }
        }
        // With less scratch space the caller compares the lists itself (the process-wide path
        // reads them from /proc); the count was checked above.
    }
    let now = ops::capget().map_err(VerifyError::Syscall)?;
    if now.permitted != applied.before.permitted {
        return Err(VerifyError::Permitted(
            applied.before.permitted,
            now.permitted,
        ));
    }
    if now.effective != applied.effective {
        return Err(VerifyError::Effective(applied.effective, now.effective));
    }
    Ok(())
}

/// How many groups [`verify_on_stack`] compares itself. Small on purpose: a signal handler can
/// run on a thread's small alternate signal stack (glibc's own setxid handler runs there, and
/// ours may interrupt it), so its frames must stay a few hundred bytes.
pub(crate) const GROUPS_ON_STACK: usize = 32;

/// [`verify`] with scratch space on the stack (for the signal handler): lists of more than
/// [`GROUPS_ON_STACK`] groups are compared by count only here, and in full by the caller.
pub(crate) fn verify_on_stack(req: &IdRequest<'_>, applied: &Applied) -> Step {
    let mut scratch = [0u32; 2 * GROUPS_ON_STACK];
    verify(req, applied, &mut scratch).map_err(VerifyError::into_fail)
}

/// Changes the calling thread's uid, gid and supplementary groups, keeping its permitted
/// capabilities (libcap's `cap_setuid` and `cap_setgroups`).
///
/// What changes is built with [`IdChange`]: `uid` (real, effective and saved uid,
/// `setresuid(uid, uid, uid)`), `gid` (`setresgid`), `groups` / `clear_groups` (`setgroups`),
/// and `keep_effective` (afterwards, restore the effective set as it was, intersected with the
/// permitted set; otherwise it is left empty). The filesystem ids follow the effective ids.
///
/// Everything is checked before the first system call (see `# Errors`). Then: one `capget`;
/// a `capset` raising only the CAP_SETUID/CAP_SETGID the change needs (and the thread has
/// permitted) into the effective set; keepcaps set (and restored afterwards on every path);
/// the gid, then the groups, then the uid changed with the kernel's per-thread system calls
/// (never the C library's `setuid` family, which changes every thread); the effective set
/// settled; then a read-back of uids, gids (with the filesystem ids), groups and capabilities.
/// Capabilities that are not permitted are not raised: the kernel then decides (an
/// unprivileged thread may still switch among its own real, effective and saved ids).
///
/// When the uids go from including 0 to all non-zero, the kernel clears the ambient set
/// (keepcaps does not keep it). As any change of effective or filesystem ids, this clears the
/// thread's parent-death signal and resets the process's dumpable attribute.
///
/// # Thread scope
///
/// Changes the calling thread only: other threads keep their ids and capabilities. See
/// [`process::cap_set_ids`](crate::process::cap_set_ids) for a change to every thread.
///
/// # Errors
///
/// - [`Error::InvalidInput`], before any system call: nothing to change; `u32::MAX` (which the
///   kernel reads as "unchanged") as the uid, the gid or a group; more than [`MAX_GROUPS`]
///   (65,536) groups.
/// - [`Error::Os`] when a call fails before any id changed (e.g. `EPERM` without the
///   capability, `EINVAL` for an id not mapped in the user namespace): keepcaps and the
///   effective set are restored, the thread is as before.
/// - [`Error::Indeterminate`] when anything fails after the first id changed, or the read-back
///   disagrees: the thread's credentials are neither the old nor the requested ones. **The
///   caller must abort the process** (or at least end the thread without running anything
///   else); capscope has already lowered the effective set to empty, and aborts itself if it
///   cannot.
///
/// # Examples
///
/// ```no_run
/// use capscope::{cap_set_ids, CapState, IdChange};
/// // A root daemon becoming uid/gid 1000 with no supplementary groups, keeping its permitted
/// // capabilities (e.g. CAP_NET_BIND_SERVICE) to raise later.
/// match cap_set_ids(&IdChange::new().uid(1000).gid(1000).clear_groups()) {
///     Ok(()) => {}
///     Err(e) if e.is_indeterminate() => {
///         eprintln!("{e}");
///         std::process::abort();
///     }
///     Err(e) => return Err(e),
/// }
/// assert!(CapState::get_current()?.effective.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// setresuid(2), setgroups(2), capabilities(7) ("Effect of user ID changes on capabilities"),
/// prctl(2) (`PR_SET_KEEPCAPS`), libcap's cap_setuid(3)
#[doc(alias = "cap_setuid")]
#[doc(alias = "cap_setgroups")]
#[doc(alias = "setresuid")]
#[doc(alias = "setgroups")]
pub fn cap_set_ids(change: &IdChange<'_>) -> Result<()> {
    let req = change.validate(Op::CapSetIds)?;
    let mut scratch = vec![0u32; req.scratch_len()];
    crate::thread::rmw::run(Op::CapSetIds, || {
        let applied = apply(&req).map_err(|f| fail_error(Op::CapSetIds, f, None))?;
        verify(&req, &applied, &mut scratch).map_err(|e| e.into_error(Op::CapSetIds))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let bad = [
            IdChange::new(),
            IdChange::new().uid(u32::MAX),
            IdChange::new().gid(u32::MAX),
            IdChange::new().groups(&[1, u32::MAX]),
            IdChange::new()
                .uid(u32::MAX)
                .gid(u32::MAX)
                .groups(&[u32::MAX]),
            IdChange::new().keep_effective(),
        ];
        for change in bad {
            let e = change.validate(Op::CapSetIds).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        }
        let many = vec![7u32; MAX_GROUPS + 1];
        assert!(IdChange::new()
            .groups(&many)
            .validate(Op::CapSetIds)
            .is_err());
        let ok = IdChange::new()
            .groups(&many[..MAX_GROUPS])
            .keep_effective()
            .validate(Op::CapSetIds)
            .unwrap();
        assert_eq!(ok.scratch_len(), 2 * MAX_GROUPS);
        assert!(ok.preserve_effective);
        assert_eq!(ok.needed_caps(), CapSet::empty().with(Cap::SETGID));
        let ok = IdChange::new()
            .uid(u32::MAX - 1)
            .clear_groups()
            .validate(Op::CapSetIds)
            .unwrap();
        assert_eq!(
            ok.needed_caps(),
            CapSet::empty().with(Cap::SETGID).with(Cap::SETUID)
        );
    }

    #[test]
    fn failures_are_indeterminate_only_after_a_change() {
        let e = fail_error(Op::CapSetIds, Fail::os(Op::Setresuid, Errno::PERM), None);
        assert!(!e.is_indeterminate());
        assert_eq!(e.errno(), Some(Errno::PERM));
        assert!(e.hint().is_some());
        let e = fail_error(
            Op::CapSetIds,
            Fail::os(Op::Setgroups, Errno::PERM).after_change(),
            None,
        );
        assert!(e.is_indeterminate());
        assert_eq!(e.errno(), Some(Errno::PERM));
        assert!(VerifyError::Groups(3)
            .into_error(Op::CapSetIds)
            .is_indeterminate());
    }
}

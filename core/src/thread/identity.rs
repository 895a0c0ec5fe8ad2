//! Changing a thread's uid, gid and supplementary groups while keeping its permitted
//! capabilities: [`cap_set_ids`] (libcap's `cap_setuid` and `cap_setgroups` in one call).
//!
//! The work is split in three steps so that `capscope::process` can run the middle one
//! on every thread from a signal handler:
//!
//! 1. [`IdRequest::new`] validates the input (no system call, no allocation) into a plain,
//!    `Copy` request that borrows the groups;
//! 2. [`apply`] makes the change on the calling thread with raw system calls only: no
//!    allocation, no lock, no `/proc`, no formatting, so it is async-signal-safe; it fails
//!    with a small `Copy` [`ApplyError`] (step, errno, whether anything had changed);
//! 3. [`verify`] reads the thread's ids, groups and capabilities back (raw system calls into a
//!    caller-provided buffer, so it is async-signal-safe too) and compares them with the
//!    request.

use crate::error::{Errno, Error, Result};
use crate::{Cap, CapSet, CapState};

/// The most supplementary groups the kernel accepts (`NGROUPS_MAX`).
pub const MAX_GROUPS: usize = 65_536;

const OP: &str = "cap_set_ids";

/// A validated [`cap_set_ids`] request: plain data, no allocation, borrowed groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdRequest<'a> {
    /// New real, effective and saved uid.
    pub(crate) uid: Option<u32>,
    /// New real, effective and saved gid.
    pub(crate) gid: Option<u32>,
    /// New supplementary groups (an empty slice clears them).
    pub(crate) groups: Option<&'a [u32]>,
    /// Restore the effective set as it was (intersected with the permitted set) instead of
    /// leaving it empty.
    pub(crate) preserve_effective: bool,
}

impl<'a> IdRequest<'a> {
    /// Checks everything [`cap_set_ids`] refuses, before any system call: at least one of
    /// `uid`, `gid`, `groups`; no id equal to `u32::MAX` (the kernel's "unchanged"); at most
    /// [`MAX_GROUPS`] groups.
    pub(crate) fn new(
        uid: Option<u32>,
        gid: Option<u32>,
        groups: Option<&'a [u32]>,
        preserve_effective: bool,
    ) -> Result<IdRequest<'a>> {
        if uid.is_none() && gid.is_none() && groups.is_none() {
            return Err(Error::invalid(
                OP,
                "nothing to change: give a uid, a gid or groups",
            ));
        }
        if uid == Some(u32::MAX) {
            return Err(Error::invalid(
                OP,
                "uid 4294967295 (-1) means \"unchanged\" to the kernel",
            ));
        }
        if gid == Some(u32::MAX) {
            return Err(Error::invalid(
                OP,
                "gid 4294967295 (-1) means \"unchanged\" to the kernel",
            ));
        }
        if let Some(g) = groups {
            if g.len() > MAX_GROUPS {
                return Err(Error::invalid(
                    OP,
                    format!("{} groups, the kernel allows at most {MAX_GROUPS}", g.len()),
                ));
            }
            if let Some(i) = g.iter().position(|&x| x == u32::MAX) {
                return Err(Error::invalid(
                    OP,
                    format!("group {i} is 4294967295 (-1), not a group id"),
                ));
            }
        }
        Ok(IdRequest {
            uid,
            gid,
            groups,
            preserve_effective,
        })
    }

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

/// The step of [`apply`] (or [`verify`]) that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStep {
    Capget,
    RaiseCaps,
    GetKeepcaps,
    SetKeepcaps,
    Setresgid,
    Setgroups,
    Setresuid,
    RestoreKeepcaps,
    SetEffective,
    Getresuid,
    Getresgid,
    Getgroups,
}

impl IdStep {
    /// The system call, as [`Error::op`] names it.
    pub(crate) const fn op(self) -> &'static str {
        match self {
            IdStep::Capget => "capget",
            IdStep::RaiseCaps => "capset (raise CAP_SETUID/CAP_SETGID)",
            IdStep::GetKeepcaps => "prctl(PR_GET_KEEPCAPS)",
            IdStep::SetKeepcaps => "prctl(PR_SET_KEEPCAPS)",
            IdStep::Setresgid => "setresgid",
            IdStep::Setgroups => "setgroups",
            IdStep::Setresuid => "setresuid",
            IdStep::RestoreKeepcaps => "prctl(PR_SET_KEEPCAPS) (restore)",
            IdStep::SetEffective => "capset (effective set afterwards)",
            IdStep::Getresuid => "getresuid",
            IdStep::Getresgid => "getresgid",
            IdStep::Getgroups => "getgroups",
        }
    }
}

/// Why [`apply`] failed: which step, its errno, and whether an id had already changed (then
/// the thread's credentials are indeterminate and the caller must abort).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ApplyError {
    pub(crate) step: IdStep,
    pub(crate) errno: Errno,
    pub(crate) changed: bool,
}

impl ApplyError {
    /// The public error: [`Error::Os`] when nothing changed, [`Error::Indeterminate`] otherwise.
    pub(crate) fn into_error(self) -> Error {
        let mut e = Error::os(self.step.op(), self.errno);
        let hint = match (self.step, self.errno.raw()) {
            (IdStep::Setresuid, libc::EPERM) => {
                Some("changing to another uid needs CAP_SETUID in the permitted set")
            }
            (IdStep::Setresgid, libc::EPERM) => {
                Some("changing to another gid needs CAP_SETGID in the permitted set")
            }
            (IdStep::Setgroups, libc::EPERM) => Some(
                "setgroups needs CAP_SETGID in the permitted set, and in a user namespace \
                 /proc/<pid>/setgroups must say \"allow\"",
            ),
            (IdStep::Setresuid | IdStep::Setresgid | IdStep::Setgroups, libc::EINVAL) => {
                Some("the id is not mapped in the thread's user namespace")
            }
            (IdStep::SetKeepcaps, libc::EPERM) => Some("SECBIT_KEEP_CAPS_LOCKED is set"),
            _ => None,
        };
        if let Some(h) = hint {
            e = e.with_hint(h);
        }
        if self.changed {
            Error::Indeterminate {
                op: OP,
                source: Box::new(e),
            }
        } else {
            e
        }
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

type Step<T> = core::result::Result<T, (IdStep, Errno)>;

fn capget() -> Step<CapState> {
    rustix::thread::capabilities(None)
        .map(CapState::from_rustix)
        .map_err(|e| (IdStep::Capget, e.into()))
}

fn capset(s: CapState, step: IdStep) -> Step<()> {
    rustix::thread::set_capabilities(None, s.to_rustix()).map_err(|e| (step, e.into()))
}

/// Lowers the effective set to empty; aborts the process if even that fails (never go on with
/// capabilities raised).
fn lower_effective_or_abort() {
    if let Ok(now) = capget() {
        if now.effective.is_empty()
            || capset(
                CapState {
                    effective: CapSet::empty(),
                    ..now
                },
                IdStep::SetEffective,
            )
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
/// changed it restores keepcaps and the effective set exactly and returns `changed: false`;
/// after, it lowers the effective set to empty and returns `changed: true`. If the effective
/// set cannot be lowered, it aborts the process.
pub(crate) fn apply(req: &IdRequest<'_>) -> core::result::Result<Applied, ApplyError> {
    let fail = |(step, errno): (IdStep, Errno), changed: bool| ApplyError {
        step,
        errno,
        changed,
    };
    let before = capget().map_err(|e| fail(e, false))?;
    let raised = before.effective | (req.needed_caps() & before.permitted);
    if raised != before.effective {
        capset(
            CapState {
                effective: raised,
                ..before
            },
            IdStep::RaiseCaps,
        )
        .map_err(|e| fail(e, false))?;
    }
    // Nothing changed yet but the effective set: undo it on these early failures.
    let undo_early = |e: (IdStep, Errno)| -> ApplyError {
        if raised != before.effective && capset(before, IdStep::SetEffective).is_err() {
            lower_effective_or_abort();
            return fail(e, true);
        }
        fail(e, false)
    };
    let old_keep = rustix::thread::get_keep_capabilities()
        .map_err(|e| undo_early((IdStep::GetKeepcaps, e.into())))?;
    if !old_keep {
        rustix::thread::set_keep_capabilities(true)
            .map_err(|e| undo_early((IdStep::SetKeepcaps, e.into())))?;
    }

    let mut changed = false;
    let ids = change_ids(req, &mut changed);
    let keep = if old_keep {
        Ok(())
    } else {
        rustix::thread::set_keep_capabilities(false)
            .map_err(|e| (IdStep::RestoreKeepcaps, Errno::from(e)))
    };

    match (ids, keep) {
        (Err(e), keep) if !changed => {
            if keep.is_err() {
                lower_effective_or_abort();
                return Err(fail(e, true));
            }
            Err(undo_early(e))
        }
        (Err(e), _) | (Ok(()), Err(e)) => {
            lower_effective_or_abort();
            Err(fail(e, true))
        }
        (Ok(()), Ok(())) => {
            let now = capget().map_err(|e| {
                lower_effective_or_abort();
                fail(e, true)
            })?;
            let effective = if req.preserve_effective {
                before.effective & now.permitted
            } else {
                CapSet::empty()
            };
            if now.effective != effective {
                capset(CapState { effective, ..now }, IdStep::SetEffective).map_err(|e| {
                    lower_effective_or_abort();
                    fail(e, true)
                })?;
            }
            Ok(Applied { before, effective })
        }
    }
}

/// gid → groups → uid, with per-thread raw system calls (never the C library's all-thread
/// wrappers). `changed` becomes true as soon as one call succeeded.
fn change_ids(req: &IdRequest<'_>, changed: &mut bool) -> Step<()> {
    use rustix::thread::{Gid, Uid};
    if let Some(g) = req.gid {
        let g = Gid::from_raw_unchecked(g);
        rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| (IdStep::Setresgid, e.into()))?;
        *changed = true;
    }
    if let Some(groups) = req.groups {
        // SAFETY: rustix's `Gid` is `#[repr(transparent)]` over `u32` (`gid_t`), so a `[u32]`
        // has the layout of a `[Gid]` of the same length; the values are valid gids (none is
        // u32::MAX, checked by `IdRequest::new`).
        let gids =
            unsafe { core::slice::from_raw_parts(groups.as_ptr().cast::<Gid>(), groups.len()) };
        rustix::thread::set_thread_groups(gids).map_err(|e| (IdStep::Setgroups, e.into()))?;
        *changed = true;
    }
    if let Some(u) = req.uid {
        let u = Uid::from_raw_unchecked(u);
        rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| (IdStep::Setresuid, e.into()))?;
        *changed = true;
    }
    Ok(())
}

/// What [`verify`] found different from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// A read-back system call failed.
    Syscall(IdStep, Errno),
    /// `getresuid` disagrees: (real, effective, saved).
    Uids([u32; 3]),
    /// `getresgid` disagrees: (real, effective, saved).
    Gids([u32; 3]),
    /// `getgroups` returns another list (its length).
    Groups(usize),
    /// The permitted set changed: (before, after).
    Permitted(CapSet, CapSet),
    /// The effective set is not what [`apply`] left: (expected, found).
    Effective(CapSet, CapSet),
    /// The scratch buffer is shorter than [`IdRequest::scratch_len`].
    Scratch,
}

impl VerifyError {
    /// The public error: always [`Error::Indeterminate`] (the change has been made).
    pub(crate) fn into_error(self) -> Error {
        let source = match self {
            VerifyError::Syscall(step, errno) => Error::os(step.op(), errno),
            VerifyError::Uids(u) => {
                Error::kernel(OP, format!("getresuid reports {u:?} after the change"))
            }
            VerifyError::Gids(g) => {
                Error::kernel(OP, format!("getresgid reports {g:?} after the change"))
            }
            VerifyError::Groups(n) => {
                Error::kernel(OP, format!("getgroups reports another list ({n} groups)"))
            }
            VerifyError::Permitted(b, a) => {
                Error::kernel(OP, format!("the permitted set changed from {b:?} to {a:?}"))
            }
            VerifyError::Effective(x, f) => {
                Error::kernel(OP, format!("the effective set is {f:?}, expected {x:?}"))
            }
            VerifyError::Scratch => Error::kernel(OP, "verify: scratch buffer too short"),
        };
        Error::Indeterminate {
            op: OP,
            source: Box::new(source),
        }
    }
}

fn errno() -> Errno {
    Errno::last()
}

/// Reads the calling thread back and checks it against `req` and what [`apply`] reported:
/// `getresuid`, `getresgid`, `getgroups` (as a multiset: the kernel sorts the list), `capget`
/// (permitted set unchanged, effective set as left). `scratch` must hold at least
/// [`IdRequest::scratch_len`] values. Async-signal-safe: raw system calls, no allocation.
pub(crate) fn verify(
    req: &IdRequest<'_>,
    applied: &Applied,
    scratch: &mut [u32],
) -> core::result::Result<(), VerifyError> {
    if let Some(u) = req.uid {
        let mut r = [0u32; 3];
        // SAFETY: three valid out-pointers; getresuid is a plain per-thread system call.
        if unsafe { libc::getresuid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
            return Err(VerifyError::Syscall(IdStep::Getresuid, errno()));
        }
        if r != [u; 3] {
            return Err(VerifyError::Uids(r));
        }
    }
    if let Some(g) = req.gid {
        let mut r = [0u32; 3];
        // SAFETY: as above.
        if unsafe { libc::getresgid(&mut r[0], &mut r[1], &mut r[2]) } != 0 {
            return Err(VerifyError::Syscall(IdStep::Getresgid, errno()));
        }
        if r != [g; 3] {
            return Err(VerifyError::Gids(r));
        }
    }
    if let Some(want) = req.groups {
        let n = want.len();
        if scratch.len() < 2 * n {
            return Err(VerifyError::Scratch);
        }
        // SAFETY: size 0 asks for the count only; the pointer is not used.
        let count = unsafe { libc::getgroups(0, core::ptr::null_mut()) };
        let count =
            usize::try_from(count).map_err(|_| VerifyError::Syscall(IdStep::Getgroups, errno()))?;
        if count != n {
            return Err(VerifyError::Groups(count));
        }
        let (a, b) = scratch[..2 * n].split_at_mut(n);
        if n > 0 {
            // SAFETY: `b` has room for `n` gids, and `n` fits in an int (at most MAX_GROUPS).
            let got = unsafe { libc::getgroups(n as libc::c_int, b.as_mut_ptr()) };
            if usize::try_from(got) != Ok(n) {
                return Err(VerifyError::Groups(usize::try_from(got).unwrap_or(0)));
            }
        }
        a.copy_from_slice(want);
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            return Err(VerifyError::Groups(n));
        }
    }
    let now = capget().map_err(|(s, e)| VerifyError::Syscall(s, e))?;
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

/// Changes the calling thread's uid, gid and supplementary groups, keeping its permitted
/// capabilities (libcap's `cap_setuid` and `cap_setgroups`).
///
/// - `uid`: the new real, effective and saved uid (`setresuid(uid, uid, uid)`);
/// - `gid`: the new real, effective and saved gid (`setresgid`);
/// - `groups`: the new supplementary groups (`setgroups`; `Some(&[])` clears them);
/// - `preserve_effective`: afterwards, restore the effective set as it was (intersected with
///   the permitted set); otherwise leave it empty.
///
/// Everything is checked before the first system call (see `# Errors`). Then: one `capget`;
/// a `capset` raising only the CAP_SETUID/CAP_SETGID the change needs (and the thread has
/// permitted) into the effective set; keepcaps set (and restored afterwards on every path);
/// the gid, then the groups, then the uid changed with the kernel's per-thread system calls
/// (never the C library's `setuid` family, which changes every thread); the effective set
/// settled; then a read-back of uids, gids, groups and capabilities. Capabilities that are
/// not permitted are not raised: the kernel then decides (an unprivileged thread may still
/// switch among its own real, effective and saved ids).
///
/// When the uids go from including 0 to all non-zero, the kernel clears the ambient set
/// (keepcaps does not keep it). As any change of effective or filesystem ids, this clears the
/// thread's parent-death signal and resets the process's dumpable attribute.
///
/// # Thread scope
///
/// Changes the calling thread only: other threads keep their ids and capabilities. See
/// `capscope::process` for a change to every thread.
///
/// # Errors
///
/// - [`Error::InvalidInput`], before any system call: none of `uid`, `gid`, `groups` given;
///   `u32::MAX` (which the kernel reads as "unchanged") as the uid, the gid or a group; more
///   than [`MAX_GROUPS`] (65,536) groups.
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
/// use capscope::{cap_set_ids, Cap, CapState};
/// // A root daemon becoming uid/gid 1000 with no supplementary groups, keeping its permitted
/// // capabilities (e.g. CAP_NET_BIND_SERVICE) to raise later.
/// match cap_set_ids(Some(1000), Some(1000), Some(&[]), false) {
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
pub fn cap_set_ids(
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<&[u32]>,
    preserve_effective: bool,
) -> Result<()> {
    let req = IdRequest::new(uid, gid, groups, preserve_effective)?;
    let applied = apply(&req).map_err(ApplyError::into_error)?;
    let mut scratch = vec![0u32; req.scratch_len()];
    verify(&req, &applied, &mut scratch).map_err(VerifyError::into_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        type Ids<'a> = (Option<u32>, Option<u32>, Option<&'a [u32]>);
        let bad: [Ids<'_>; 5] = [
            (None, None, None),
            (Some(u32::MAX), None, None),
            (None, Some(u32::MAX), None),
            (None, None, Some(&[1, u32::MAX])),
            (Some(u32::MAX), Some(u32::MAX), Some(&[u32::MAX])),
        ];
        for (u, g, gs) in bad {
            let e = IdRequest::new(u, g, gs, false).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        }
        let many = vec![7u32; MAX_GROUPS + 1];
        assert!(IdRequest::new(None, None, Some(&many), false).is_err());
        let ok = IdRequest::new(None, None, Some(&many[..MAX_GROUPS]), true).unwrap();
        assert_eq!(ok.scratch_len(), 2 * MAX_GROUPS);
        assert_eq!(ok.needed_caps(), CapSet::empty().with(Cap::SETGID));
        let ok = IdRequest::new(Some(u32::MAX - 1), None, Some(&[]), false).unwrap();
        assert_eq!(
            ok.needed_caps(),
            CapSet::empty().with(Cap::SETGID).with(Cap::SETUID)
        );
    }

    #[test]
    fn apply_error_maps_to_indeterminate_only_after_a_change() {
        let e = ApplyError {
            step: IdStep::Setresuid,
            errno: Errno::PERM,
            changed: false,
        }
        .into_error();
        assert!(!e.is_indeterminate());
        assert_eq!(e.code(), Some(libc::EPERM));
        assert!(e.hint().is_some());
        let e = ApplyError {
            step: IdStep::Setgroups,
            errno: Errno::PERM,
            changed: true,
        }
        .into_error();
        assert!(e.is_indeterminate());
        assert_eq!(e.code(), Some(libc::EPERM));
        assert!(VerifyError::Groups(3).into_error().is_indeterminate());
    }
}

//! Reading and writing a thread's effective, permitted and inheritable sets: `capget` and
//! `capset` as methods of [`CapState`].

use crate::error::{Error, Op, Result};
use crate::sys::capget::CapgetError;
use crate::thread::ops;
use crate::{Cap, CapState};

impl CapState {
    /// The calling thread's sets: one `capget`, no allocation.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if `capget` fails (only under a seccomp filter or similar).
    ///
    /// # Thread scope
    ///
    /// Reads the calling thread only.
    ///
    /// # References
    ///
    /// capget(2)
    #[doc(alias = "capget")]
    #[inline]
    pub fn get_current() -> Result<CapState> {
        ops::capget().map_err(ops::Fail::error)
    }

    /// The sets of the thread (or process leader) with id `pid`: one `capget`. `0` means the
    /// calling thread.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a `pid` above `i32::MAX` (no system call);
    /// [`Error::Os`] with `ESRCH` when no such thread exists.
    ///
    /// # Thread scope
    ///
    /// Reads the named thread; a process id names its main thread.
    ///
    /// # References
    ///
    /// capget(2)
    #[doc(alias = "capget")]
    pub fn get_for_pid(pid: u32) -> Result<CapState> {
        let raw = i32::try_from(pid)
            .map_err(|_| Error::invalid(Op::Capget, format!("pid {pid} is above i32::MAX")))?;
        crate::sys::capget::capget(raw).map_err(|e| match e {
            CapgetError::Os(errno) => Error::os(Op::Capget, errno),
            CapgetError::Unwritten => Error::kernel(Op::Capget, crate::thread::ops::UNWRITTEN),
        })
    }

    /// Makes this the calling thread's state: one `capset`.
    ///
    /// The kernel's rules: the new effective set must be a subset of the new permitted set; the
    /// permitted set can only shrink; the inheritable set can only gain capabilities that are in
    /// the bounding set and in the permitted set, unless the thread has `CAP_SETPCAP` in its
    /// effective set (then the bounding set alone limits it). Capabilities dropped from the
    /// permitted set are also lowered in the ambient set by the kernel.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] with `EPERM` when a rule above is broken; the error's hint then says which
    /// (found with one more `capget`, on the error path only).
    ///
    /// # Thread scope
    ///
    /// Changes the calling thread only. Other threads keep their sets: see
    /// [`process`](crate::process) for a change to all of them.
    ///
    /// # References
    ///
    /// capset(2), capabilities(7)
    #[doc(alias = "capset")]
    #[inline]
    pub fn set_current(&self) -> Result<()> {
        ops::capset(self).map_err(|f| self.explain_capset_failure(f))
    }

    #[cold]
    fn explain_capset_failure(&self, f: ops::Fail) -> Error {
        let err = f.error();
        if f.errno != Some(crate::Errno::PERM) {
            return err;
        }
        let Ok(old) = CapState::get_current() else {
            return err;
        };
        match capset_rule_broken(&old, self) {
            Some(hint) => err.with_hint(hint),
            None => err.with_hint(
                "the change follows the capability rules, so something else refused it (a \
                 seccomp filter or a security module)",
            ),
        }
    }
}

/// Which rule of `capset` changing `old` into `new` breaks, if any (the kernel answers `EPERM`
/// for each of them).
fn capset_rule_broken(old: &CapState, new: &CapState) -> Option<String> {
    if !new.effective.is_subset(new.permitted) {
        return Some(format!(
            "the effective set must be a subset of the permitted set: {:?} are effective but \
             not permitted",
            new.effective - new.permitted
        ));
    }
    if !new.permitted.is_subset(old.permitted) {
        return Some(format!(
            "the permitted set can only shrink: {:?} are not in the current permitted set",
            new.permitted - old.permitted
        ));
    }
    let gained = new.inheritable - old.inheritable;
    if !old.effective.has(Cap::SETPCAP) && !gained.is_subset(old.permitted) {
        return Some(format!(
            "without CAP_SETPCAP in the effective set, the inheritable set can only gain \
             permitted capabilities: {:?} are not permitted",
            gained - old.permitted
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CapSet;

    #[test]
    fn the_hint_blames_only_the_rule_that_is_broken() {
        let old = CapState {
            effective: CapSet::empty(),
            permitted: Cap::CHOWN.into(),
            inheritable: CapSet::empty(),
        };
        // Nothing wrong: a refusal is someone else's (seccomp, LSM).
        assert_eq!(capset_rule_broken(&old, &old), None);
        let more_inh = CapState {
            inheritable: Cap::NET_RAW.into(),
            ..old
        };
        assert!(capset_rule_broken(&old, &more_inh)
            .unwrap()
            .contains("inheritable"));
        let with_setpcap = CapState {
            effective: Cap::SETPCAP.into(),
            permitted: Cap::SETPCAP | Cap::CHOWN,
            ..old
        };
        let inh = CapState {
            inheritable: Cap::NET_RAW.into(),
            ..with_setpcap
        };
        assert_eq!(capset_rule_broken(&with_setpcap, &inh), None);
        let grow = CapState {
            permitted: Cap::CHOWN | Cap::NET_RAW,
            ..old
        };
        assert!(capset_rule_broken(&old, &grow).unwrap().contains("shrink"));
    }
}

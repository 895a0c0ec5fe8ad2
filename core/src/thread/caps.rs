//! Reading and writing a thread's effective, permitted and inheritable sets: `capget` and
//! `capset` as methods of [`CapState`].

use crate::error::{Error, OsContext, Result};
use crate::CapState;

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
        rustix::thread::capabilities(None)
            .map(CapState::from_rustix)
            .op("capget")
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
            .map_err(|_| Error::invalid("capget", format!("pid {pid} is above i32::MAX")))?;
        let pid = rustix::process::Pid::from_raw(raw);
        rustix::thread::capabilities(pid)
            .map(CapState::from_rustix)
            .op("capget")
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
        match rustix::thread::set_capabilities(None, self.to_rustix()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.explain_capset_failure(e)),
        }
    }

    #[cold]
    fn explain_capset_failure(&self, e: rustix::io::Errno) -> Error {
        let err = Error::os("capset", e);
        if e != rustix::io::Errno::PERM {
            return err;
        }
        let Ok(old) = CapState::get_current() else {
            return err;
        };
        let hint = if !self.effective.is_subset(self.permitted) {
            format!(
                "the effective set must be a subset of the permitted set: {:?} are effective but not permitted",
                self.effective - self.permitted
            )
        } else if !self.permitted.is_subset(old.permitted) {
            format!(
                "the permitted set can only shrink: {:?} are not in the current permitted set",
                self.permitted - old.permitted
            )
        } else if !old.effective.has(crate::Cap::SETPCAP) {
            format!(
                "without CAP_SETPCAP in the effective set, the inheritable set can only gain \
                 permitted capabilities: {:?} are not permitted",
                (self.inheritable - old.inheritable) - old.permitted
            )
        } else {
            "the inheritable set can only gain capabilities in the bounding set".to_owned()
        };
        err.with_hint(hint)
    }
}

//! The filesystem user and group ids (`setfsuid`, `setfsgid`): the ids the kernel checks for
//! file access. They follow the effective ids unless set on their own.
//!
//! The kernel's `setfsuid` never reports an error: it returns the previous value whether or
//! not the change took. capscope reads the value back and turns a change that did not take
//! into an error. Reading uses the same call with `-1`, which is never a valid id and so
//! changes nothing.
//!
//! # Thread scope
//!
//! Filesystem ids are per thread. Every function here reads or changes the calling thread
//! only.
//!
//! # References
//!
//! setfsuid(2), setfsgid(2), capabilities(7) ("Effect of user ID changes on capabilities")

use crate::error::{Errno, Error, Op, Result};

/// The uid or the gid flavour of the filesystem-id calls.
#[derive(Clone, Copy)]
struct Kind {
    op: Op,
    what: &'static str,
    cap: &'static str,
    call: fn(u32) -> u32,
}

const UID: Kind = Kind {
    op: Op::Setfsuid,
    what: "uid",
    cap: "CAP_SETUID",
    call: crate::sys::creds::set_fsuid,
};

const GID: Kind = Kind {
    op: Op::Setfsgid,
    what: "gid",
    cap: "CAP_SETGID",
    call: crate::sys::creds::set_fsgid,
};

impl Kind {
    /// The current value: the call with `-1`, which is never a valid id, changes nothing and
    /// returns the current value.
    fn get(self) -> u32 {
        (self.call)(u32::MAX)
    }

    /// Sets `id`, reads it back, and turns a change that did not take into an error.
    fn set(self, id: u32) -> Result<u32> {
        if id == u32::MAX {
            return Err(Error::invalid(
                self.op,
                format!(
                    "{} 4294967295 (-1) means \"unchanged\" to the kernel",
                    self.what
                ),
            ));
        }
        let old = (self.call)(id);
        let now = self.get();
        if now != id {
            return Err(Error::os(self.op, Errno::PERM).with_hint(format!(
                "the kernel ignored {}({id}) (the filesystem {} is still {now}): it needs {}, \
                 or one of the thread's real, effective, saved or filesystem {}s, mapped in its \
                 user namespace",
                self.op, self.what, self.cap, self.what
            )));
        }
        Ok(old)
    }
}

/// The calling thread's filesystem uid. One `setfsuid(-1)`, which changes nothing.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// None in practice; the `Result` is for symmetry with the other getters.
///
/// # Examples
///
/// ```
/// let fsuid = capscope::fsid::fsuid()?;
/// // SAFETY: geteuid has no preconditions.
/// assert_eq!(fsuid, unsafe { libc::geteuid() });
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// setfsuid(2)
#[doc(alias = "setfsuid")]
pub fn fsuid() -> Result<u32> {
    Ok(UID.get())
}

/// The calling thread's filesystem gid. One `setfsgid(-1)`, which changes nothing.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// None in practice.
///
/// # Examples
///
/// ```
/// let fsgid = capscope::fsid::fsgid()?;
/// // SAFETY: getegid has no preconditions.
/// assert_eq!(fsgid, unsafe { libc::getegid() });
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// setfsgid(2)
#[doc(alias = "setfsgid")]
pub fn fsgid() -> Result<u32> {
    Ok(GID.get())
}

/// Sets the calling thread's filesystem uid and returns the previous one; the new value is
/// read back (a second `setfsuid(-1)`), and a change that did not take is an error.
///
/// The kernel allows it with `CAP_SETUID`, or when `uid` is the thread's real, effective,
/// saved or current filesystem uid. Going from fsuid 0 to non-zero clears `CAP_CHOWN`,
/// `CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`, `CAP_FSETID`,
/// `CAP_LINUX_IMMUTABLE`, `CAP_MAC_OVERRIDE` and `CAP_MKNOD` from the effective set; back to 0
/// raises those of them that are permitted (unless `SECBIT_NO_SETUID_FIXUP`). A change also
/// clears the parent-death signal and resets the process's dumpable attribute.
///
/// # Thread scope
///
/// Changes the calling thread only.
///
/// # Errors
///
/// [`Error::InvalidInput`] for `u32::MAX` (the kernel's "unchanged"), before any system
/// call; [`Error::Os`] with `EPERM` when the kernel did not apply the change (no
/// `CAP_SETUID`, or `uid` not mapped in the thread's user namespace); the fsuid is then
/// unchanged.
///
/// # Examples
///
/// ```no_run
/// let old = capscope::fsid::set_fsuid(1000)?;
/// // ... open files as uid 1000 ...
/// capscope::fsid::set_fsuid(old)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// setfsuid(2), capabilities(7)
#[doc(alias = "setfsuid")]
pub fn set_fsuid(uid: u32) -> Result<u32> {
    UID.set(uid)
}

/// Sets the calling thread's filesystem gid and returns the previous one, verified as
/// [`set_fsuid`] is.
///
/// The kernel allows it with `CAP_SETGID`, or when `gid` is the thread's real, effective,
/// saved or current filesystem gid.
///
/// # Thread scope
///
/// Changes the calling thread only.
///
/// # Errors
///
/// [`Error::InvalidInput`] for `u32::MAX`, before any system call; [`Error::Os`] with `EPERM`
/// when the kernel did not apply the change (the fsgid is then unchanged).
///
/// # Examples
///
/// ``` no_run
/// let old = capscope::fsid::set_fsgid(1000)?;
/// capscope::fsid::set_fsgid(old)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// setfsgid(2)
#[doc(alias = "setfsgid")]
pub fn set_fsgid(gid: u32) -> Result<u32> {
    GID.set(gid)
}

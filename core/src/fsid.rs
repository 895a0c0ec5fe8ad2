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

use crate::error::{Errno, Error, Result};

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
    // SAFETY: setfsuid takes an integer; -1 is invalid, so the kernel only returns the current
    // value. glibc's setfsuid is the plain per-thread system call.
    Ok(unsafe { libc::setfsuid(u32::MAX) } as u32)
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
    // SAFETY: as in `fsuid`.
    Ok(unsafe { libc::setfsgid(u32::MAX) } as u32)
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
    if uid == u32::MAX {
        return Err(Error::invalid(
            "setfsuid",
            "uid 4294967295 (-1) means \"unchanged\" to the kernel",
        ));
    }
    // SAFETY: setfsuid takes an integer and changes only the calling thread.
    let old = unsafe { libc::setfsuid(uid) } as u32;
    let now = fsuid()?;
    if now != uid {
        return Err(Error::os("setfsuid", Errno::PERM).with_hint(format!(
            "the kernel ignored setfsuid({uid}) (fsuid is still {now}): it needs CAP_SETUID, or one of the \
             thread's real, effective, saved or filesystem uids, mapped in its user namespace"
        )));
    }
    Ok(old)
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
    if gid == u32::MAX {
        return Err(Error::invalid(
            "setfsgid",
            "gid 4294967295 (-1) means \"unchanged\" to the kernel",
        ));
    }
    // SAFETY: setfsgid takes an integer and changes only the calling thread.
    let old = unsafe { libc::setfsgid(gid) } as u32;
    let now = fsgid()?;
    if now != gid {
        return Err(Error::os("setfsgid", Errno::PERM).with_hint(format!(
            "the kernel ignored setfsgid({gid}) (fsgid is still {now}): it needs CAP_SETGID, or one of the \
             thread's real, effective, saved or filesystem gids, mapped in its user namespace"
        )));
    }
    Ok(old)
}

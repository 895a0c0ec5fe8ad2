//! Securebits: the flags that switch off root's special treatment, and keepcaps.
//!
//! # Thread scope
//!
//! Securebits are per thread. Every function here reads or changes the calling thread only;
//! threads and children created afterwards inherit them (except `KEEP_CAPS`, which `execve`
//! clears).
//!
//! # References
//!
//! capabilities(7) ("The securebits flags"), prctl(2) (`PR_GET_SECUREBITS`,
//! `PR_SET_SECUREBITS`, `PR_GET_KEEPCAPS`, `PR_SET_KEEPCAPS`)

use crate::error::Result;
use crate::thread::ops;

use crate::Secbits;

/// The calling thread's securebits. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if the call fails.
///
/// # Examples
///
/// ```
/// let bits = capscope::securebits::get()?;
/// # let _ = bits;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_GET_SECUREBITS")]
pub fn get() -> Result<Secbits> {
    ops::securebits().map_err(ops::Fail::error)
}

/// Sets the calling thread's securebits to exactly `bits`. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) with `EPERM` without `CAP_SETPCAP` in the effective set, or when the change
/// touches a locked flag (or clears a lock); `EINVAL` for bits the kernel does not know.
///
/// # Examples
///
/// ```no_run
/// use capscope::{securebits, Secbits};
/// securebits::set(securebits::get()? | Secbits::NOROOT | Secbits::NOROOT_LOCKED)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_SET_SECUREBITS")]
pub fn set(bits: Secbits) -> Result<()> {
    ops::set_securebits(bits).map_err(|f| {
        let e = f.error();
        if f.errno == Some(crate::Errno::PERM) {
            e.with_hint(SET_HINT)
        } else {
            e
        }
    })
}

/// Why setting securebits fails with `EPERM`.
pub(crate) const SET_HINT: &str = "setting securebits needs CAP_SETPCAP in the effective set, \
                                   and a locked flag (or its lock) cannot change";

/// The calling thread's keepcaps flag (`SECBIT_KEEP_CAPS`). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if the call fails.
#[doc(alias = "PR_GET_KEEPCAPS")]
pub fn keepcaps() -> Result<bool> {
    ops::keepcaps().map_err(ops::Fail::error)
}

/// Sets the calling thread's keepcaps flag: with it, a thread whose uids all become non-zero
/// keeps its permitted set (the effective set is still cleared). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) with `EPERM` when `SECBIT_KEEP_CAPS_LOCKED` is set.
///
/// # Examples
///
/// ```
/// let before = capscope::securebits::keepcaps()?;
/// capscope::securebits::set_keepcaps(before)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_SET_KEEPCAPS")]
pub fn set_keepcaps(keep: bool) -> Result<()> {
    ops::set_keepcaps(keep).map_err(ops::Fail::error)
}

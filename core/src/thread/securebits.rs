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

use crate::error::{Error, Op, OsContext, Result};

use crate::Secbits;

/// The calling thread's securebits. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
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
    rustix::thread::capabilities_secure_bits()
        .map(|b| Secbits::from_bits_retain(b.bits()))
        .op(Op::GetSecurebits)
}

/// Sets the calling thread's securebits to exactly `bits`. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] with `EPERM` without `CAP_SETPCAP` in the effective set, or when the change
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
    let r = rustix::thread::set_capabilities_secure_bits(
        rustix::thread::CapabilitiesSecureBits::from_bits_retain(bits.bits()),
    );
    match r {
        Ok(()) => Ok(()),
        Err(e @ rustix::io::Errno::PERM) => Err(Error::os(Op::SetSecurebits, e).with_hint(
            "setting securebits needs CAP_SETPCAP in the effective set, and a locked flag (or its lock) cannot change",
        )),
        Err(e) => Err(Error::os(Op::SetSecurebits, e)),
    }
}

/// The calling thread's keepcaps flag (`SECBIT_KEEP_CAPS`). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
#[doc(alias = "PR_GET_KEEPCAPS")]
pub fn keepcaps() -> Result<bool> {
    rustix::thread::get_keep_capabilities().op(Op::GetKeepcaps)
}

/// Sets the calling thread's keepcaps flag: with it, a thread whose uids all become non-zero
/// keeps its permitted set (the effective set is still cleared). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] with `EPERM` when `SECBIT_KEEP_CAPS_LOCKED` is set.
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
    rustix::thread::set_keep_capabilities(keep).op(Op::SetKeepcaps)
}

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

use crate::error::{Error, OsContext, Result};

bitflags::bitflags! {
    /// The securebits flags. Bits the library does not name are kept (`from_bits_retain`,
    /// and a read-modify-write never clears them).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::Secbits;
    /// let b = Secbits::from_bits_retain(1 << 20 | 1);
    /// assert!(b.contains(Secbits::NOROOT));
    /// assert_eq!((b | Secbits::KEEP_CAPS).bits(), 1 << 20 | 1 | 1 << 4);
    /// assert_eq!(Secbits::EXEC_DENY_INTERACTIVE_LOCKED.bits(), 1 << 11);
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Secbits: u32 {
        /// `SECBIT_NOROOT`: uid 0 gets no capabilities from `execve`.
        const NOROOT = 1 << 0;
        /// `SECBIT_NOROOT_LOCKED`: `NOROOT` cannot change any more.
        const NOROOT_LOCKED = 1 << 1;
        /// `SECBIT_NO_SETUID_FIXUP`: uid changes between 0 and non-0 leave capabilities alone.
        const NO_SETUID_FIXUP = 1 << 2;
        /// `SECBIT_NO_SETUID_FIXUP_LOCKED`: `NO_SETUID_FIXUP` cannot change any more.
        const NO_SETUID_FIXUP_LOCKED = 1 << 3;
        /// `SECBIT_KEEP_CAPS`: keep the permitted set when all uids become non-zero.
        const KEEP_CAPS = 1 << 4;
        /// `SECBIT_KEEP_CAPS_LOCKED`: `KEEP_CAPS` cannot change any more.
        const KEEP_CAPS_LOCKED = 1 << 5;
        /// `SECBIT_NO_CAP_AMBIENT_RAISE`: the ambient set cannot be raised.
        const NO_CAP_AMBIENT_RAISE = 1 << 6;
        /// `SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED`: `NO_CAP_AMBIENT_RAISE` cannot change any more.
        const NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7;
        /// `SECBIT_EXEC_RESTRICT_FILE` (Linux 6.14): script interpreters must check
        /// `execveat(AT_EXECVE_CHECK)` before running a file.
        const EXEC_RESTRICT_FILE = 1 << 8;
        /// `SECBIT_EXEC_RESTRICT_FILE_LOCKED` (Linux 6.14).
        const EXEC_RESTRICT_FILE_LOCKED = 1 << 9;
        /// `SECBIT_EXEC_DENY_INTERACTIVE` (Linux 6.14): interpreters must refuse interactive
        /// input.
        const EXEC_DENY_INTERACTIVE = 1 << 10;
        /// `SECBIT_EXEC_DENY_INTERACTIVE_LOCKED` (Linux 6.14).
        const EXEC_DENY_INTERACTIVE_LOCKED = 1 << 11;

        // Keep every bit, named or not.
        const _ = !0;
    }
}

impl Secbits {
    /// The lock bits (each flag's `_LOCKED` companion).
    pub const ALL_LOCKS: Secbits = Secbits::NOROOT_LOCKED
        .union(Secbits::NO_SETUID_FIXUP_LOCKED)
        .union(Secbits::KEEP_CAPS_LOCKED)
        .union(Secbits::NO_CAP_AMBIENT_RAISE_LOCKED)
        .union(Secbits::EXEC_RESTRICT_FILE_LOCKED)
        .union(Secbits::EXEC_DENY_INTERACTIVE_LOCKED);
}

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
        .op("prctl(PR_GET_SECUREBITS)")
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
        Err(e @ rustix::io::Errno::PERM) => Err(Error::os("prctl(PR_SET_SECUREBITS)", e).with_hint(
            "setting securebits needs CAP_SETPCAP in the effective set, and a locked flag (or its lock) cannot change",
        )),
        Err(e) => Err(Error::os("prctl(PR_SET_SECUREBITS)", e)),
    }
}

/// The calling thread's keepcaps flag (`SECBIT_KEEP_CAPS`). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
#[doc(alias = "PR_GET_KEEPCAPS")]
pub fn keepcaps() -> Result<bool> {
    rustix::thread::get_keep_capabilities().op("prctl(PR_GET_KEEPCAPS)")
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
    rustix::thread::set_keep_capabilities(keep).op("prctl(PR_SET_KEEPCAPS)")
}

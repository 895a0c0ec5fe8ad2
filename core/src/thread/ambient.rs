//! The ambient capability set: capabilities kept across `execve` of unprivileged programs.
//!
//! A capability can be ambient only while it is both permitted and inheritable; the kernel
//! lowers it from the ambient set as soon as either is dropped. Raising also fails while the
//! securebit `NO_CAP_AMBIENT_RAISE` is set. Linux 4.3 added ambient capabilities.
//!
//! # Thread scope
//!
//! The ambient set is per thread. Every function here reads or changes the calling thread only.
//!
//! # References
//!
//! capabilities(7) ("Ambient capability set"), prctl(2) (`PR_CAP_AMBIENT`)

use rustix::thread::CapabilitySet as RSet;

use crate::error::{Error, OsContext, Result};
use crate::kernel;
use crate::{Cap, CapSet};

const RAISE_HINT: &str = "an ambient capability must be in both the permitted and the inheritable \
                          set, and the securebit NO_CAP_AMBIENT_RAISE must be clear";

fn one(cap: Cap) -> RSet {
    RSet::from_bits_retain(1 << cap.as_u8())
}

/// Whether the kernel supports ambient capabilities (Linux 4.3 and later). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the probe fails for another reason than `EINVAL`.
#[doc(alias = "PR_CAP_AMBIENT_IS_SET")]
pub fn is_supported() -> Result<bool> {
    match rustix::thread::capability_is_in_ambient_set(one(Cap::CHOWN)) {
        Ok(_) => Ok(true),
        Err(rustix::io::Errno::INVAL) => Ok(false),
        Err(e) => Err(Error::os("prctl(PR_CAP_AMBIENT_IS_SET)", e)),
    }
}

/// Whether `cap` is in the calling thread's ambient set: `None` when the kernel does not know
/// the capability (or has no ambient set). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails for another reason.
///
/// # Examples
///
/// ```
/// use capscope::{ambient, Cap};
/// assert!(ambient::is_set(Cap::NET_RAW)?.is_some());
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_IS_SET")]
pub fn is_set(cap: Cap) -> Result<Option<bool>> {
    match rustix::thread::capability_is_in_ambient_set(one(cap)) {
        Ok(b) => Ok(Some(b)),
        Err(rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(Error::os("prctl(PR_CAP_AMBIENT_IS_SET)", e)),
    }
}

fn configure(cap: Cap, raise: bool, name: &'static str) -> Result<()> {
    // Checked first (cached after the first call), so the answer does not depend on the order
    // of the kernel's own checks.
    kernel::check_supported(name, cap)?;
    match rustix::thread::configure_capability_in_ambient_set(one(cap), raise) {
        Ok(()) => Ok(()),
        Err(e @ rustix::io::Errno::PERM) if raise => Err(Error::os(name, e).with_hint(RAISE_HINT)),
        Err(e) => Err(Error::os(name, e)),
    }
}

/// Raises `cap` in the ambient set. One `prctl`.
///
/// # Errors
///
/// [`Error::Unsupported`] for a capability the kernel lacks; [`Error::Os`] with `EPERM` (and a
/// hint) when `cap` is not both permitted and inheritable, or `NO_CAP_AMBIENT_RAISE` is set.
///
/// # Examples
///
/// ```no_run
/// use capscope::{ambient, Cap, CapState};
/// let mut s = CapState::get_current()?;
/// s.inheritable.add(Cap::NET_BIND_SERVICE);
/// s.set_current()?;
/// ambient::raise(Cap::NET_BIND_SERVICE)?; // now kept across execve of a normal binary
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_RAISE")]
pub fn raise(cap: Cap) -> Result<()> {
    configure(cap, true, "prctl(PR_CAP_AMBIENT_RAISE)")
}

/// Lowers `cap` in the ambient set (no error when it is not set). One `prctl`.
///
/// # Errors
///
/// [`Error::Unsupported`] for a capability the kernel lacks.
#[doc(alias = "PR_CAP_AMBIENT_LOWER")]
pub fn lower(cap: Cap) -> Result<()> {
    configure(cap, false, "prctl(PR_CAP_AMBIENT_LOWER)")
}

/// Empties the ambient set, capabilities the library does not name included. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the kernel has no ambient set (`EINVAL`, before Linux 4.3).
#[doc(alias = "PR_CAP_AMBIENT_CLEAR_ALL")]
pub fn clear() -> Result<()> {
    rustix::thread::clear_ambient_capability_set().op("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
}

/// The whole ambient set: one `PR_CAP_AMBIENT_IS_SET` per capability the kernel supports.
///
/// # Errors
///
/// As [`is_set`] and [`kernel::last_supported`].
pub fn probe() -> Result<CapSet> {
    kernel::probe_each(is_set)
}

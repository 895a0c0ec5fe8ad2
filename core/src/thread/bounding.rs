//! The capability bounding set: the limit on what a thread can ever gain again.
//!
//! The bounding set caps the permitted set a thread can get from `execve` and the inheritable
//! set it can raise. It only shrinks: a capability dropped from it is gone for the thread and
//! every child it creates afterwards. Dropping needs `CAP_SETPCAP` in the effective set.
//!
//! # Thread scope
//!
//! The bounding set is per thread. Every function here reads or changes the calling thread
//! only; new threads and children inherit the set their creator had at the time.
//!
//! # References
//!
//! capabilities(7) ("Capability bounding set"), prctl(2) (`PR_CAPBSET_READ`, `PR_CAPBSET_DROP`)

use rustix::thread::CapabilitySet as RSet;

use crate::error::{Error, Result};
use crate::kernel;
use crate::{Cap, CapSet};

const DROP_HINT: &str = "dropping from the bounding set needs CAP_SETPCAP in the effective set";

fn one(cap: Cap) -> RSet {
    RSet::from_bits_retain(1 << cap.as_u8())
}

/// Whether `cap` is in the calling thread's bounding set: `None` when the running kernel does
/// not know the capability. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails for another reason than an unknown capability.
///
/// # Examples
///
/// ```
/// use capscope::{bounding, Cap};
/// assert!(bounding::read(Cap::CHOWN)?.is_some());
/// assert_eq!(bounding::read(Cap::from_u8(63).unwrap())?, None); // no kernel has 63 yet
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAPBSET_READ")]
pub fn read(cap: Cap) -> Result<Option<bool>> {
    match rustix::thread::capability_is_in_bounding_set(one(cap)) {
        Ok(b) => Ok(Some(b)),
        Err(rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(Error::os("prctl(PR_CAPBSET_READ)", e)),
    }
}

/// Drops `cap` from the calling thread's bounding set. Irreversible. One `prctl`.
///
/// # Errors
///
/// [`Error::Unsupported`] when the kernel does not know `cap`; [`Error::Os`] with `EPERM` (and
/// a hint) without `CAP_SETPCAP` in the effective set, even when `cap` is already absent (use
/// [`ensure_dropped`] for that case).
///
/// # Examples
///
/// ```no_run
/// capscope::bounding::drop(capscope::Cap::SYS_MODULE)?;
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAPBSET_DROP")]
pub fn drop(cap: Cap) -> Result<()> {
    // Checked first (cached after the first call): without CAP_SETPCAP the kernel would answer
    // EPERM before it looks at the capability.
    kernel::check_supported("prctl(PR_CAPBSET_DROP)", cap)?;
    match rustix::thread::remove_capability_from_bounding_set(one(cap)) {
        Ok(()) => Ok(()),
        Err(e @ rustix::io::Errno::PERM) => {
            Err(Error::os("prctl(PR_CAPBSET_DROP)", e).with_hint(DROP_HINT))
        }
        Err(e) => Err(Error::os("prctl(PR_CAPBSET_DROP)", e)),
    }
}

/// Makes sure `cap` is not in the bounding set: no error when it is already absent (or the
/// kernel does not know it). One `PR_CAPBSET_READ`, plus one `PR_CAPBSET_DROP` when present.
///
/// # Errors
///
/// As [`drop`], when `cap` is present.
pub fn ensure_dropped(cap: Cap) -> Result<()> {
    match read(cap)? {
        Some(true) => drop(cap),
        Some(false) | None => Ok(()),
    }
}

/// The whole bounding set of the calling thread: one `PR_CAPBSET_READ` per capability the
/// kernel supports (plus, once per process, the probe of [`kernel::last_supported`]).
///
/// # Errors
///
/// As [`read`] and [`kernel::last_supported`].
///
/// # Examples
///
/// ```
/// let b = capscope::bounding::probe()?;
/// assert!(b.is_subset(capscope::kernel::supported()?));
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn probe() -> Result<CapSet> {
    kernel::probe_each(read)
}

/// Drops every capability from the bounding set except those in `keep`: capabilities 0 up to
/// the kernel's last one, including those the library does not name. Irreversible.
///
/// # Errors
///
/// As [`drop`]; on error, the capabilities before the failing one are already dropped.
pub fn limit(keep: CapSet) -> Result<()> {
    for cap in kernel::supported()? - keep {
        ensure_dropped(cap)?;
    }
    Ok(())
}

/// Drops every capability from the bounding set (0 up to the kernel's last, named or not).
///
/// # Errors
///
/// As [`limit`].
///
/// # Examples
///
/// ```no_run
/// capscope::bounding::clear()?;
/// assert!(capscope::bounding::probe()?.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn clear() -> Result<()> {
    limit(CapSet::empty())
}

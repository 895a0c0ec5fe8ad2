//! The capability bounding set: the limit on what a thread can ever gain again.
//!
//! The bounding set caps the permitted set a thread can get from `execve` and the inheritable
//! set it can raise. It only shrinks: a capability dropped from it is gone for the thread and
//! every child it creates afterwards. Dropping needs `CAP_SETPCAP` in the effective set.
//!
//! [`drop`] has a process-wide twin, [`process::bounding_drop`](crate::process::bounding_drop),
//! taking the same argument.
//!
//! # Thread scope
//!
//! The bounding set is per thread. Every function here reads or changes the calling thread
//! only; new threads and children inherit the set their creator had at the time.
//!
//! # References
//!
//! capabilities(7) ("Capability bounding set"), prctl(2) (`PR_CAPBSET_READ`, `PR_CAPBSET_DROP`)

use crate::error::{Errno, Error, Op, Result};
use crate::kernel;
use crate::thread::ops;
use crate::{Cap, CapSet};

/// Why dropping from the bounding set fails with `EPERM`.
pub(crate) const DROP_HINT: &str =
    "dropping from the bounding set needs CAP_SETPCAP in the effective set";

fn drop_error(f: ops::Fail) -> Error {
    let e = f.error();
    if f.errno == Some(Errno::PERM) {
        e.with_hint(DROP_HINT)
    } else {
        e
    }
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
///
/// # References
///
/// prctl(2) (`PR_CAPBSET_READ`)
#[doc(alias = "PR_CAPBSET_READ")]
pub fn read(cap: Cap) -> Result<Option<bool>> {
    ops::bounding_read(cap).map_err(ops::Fail::error)
}

/// Whether every capability of `caps` is in the bounding set: one `prctl` per capability
/// (stops at the first one missing). Capabilities the kernel does not know are not in it.
///
/// # Errors
///
/// As [`read`].
///
/// # Examples
///
/// ```
/// use capscope::{bounding, Cap};
/// let _ = bounding::has(Cap::NET_RAW | Cap::CHOWN)?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn has(caps: impl Into<CapSet>) -> Result<bool> {
    ops::all_of(caps.into(), ops::bounding_read).map_err(ops::Fail::error)
}

/// Drops `caps` from the calling thread's bounding set, those of them still in it. Irreversible.
/// One `PR_CAPBSET_READ` per capability, plus, for each one present, one `PR_CAPBSET_DROP` and
/// one `PR_CAPBSET_READ` to check it is gone, and one question about capability 63 that the
/// kernel must refuse (so that a seccomp filter answering every read with 0 is not taken for
/// the kernel); no error for capabilities already absent.
///
/// # Errors
///
/// [`Error::Unsupported`] (before any system call) for a capability the kernel does not know;
/// [`Error::Os`] with `EPERM` (and a hint) without `CAP_SETPCAP` in the effective set;
/// [`Error::Kernel`] when a capability is still there after its drop, or when the answers do
/// not come from the kernel. On an error, the capabilities before the failing one are already
/// dropped.
///
/// # Thread scope
///
/// The calling thread only; see [`process::bounding_drop`](crate::process::bounding_drop) for
/// every thread.
///
/// # Examples
///
/// ```no_run
/// use capscope::{bounding, Cap};
/// bounding::drop(Cap::SYS_MODULE | Cap::SYS_RAWIO)?;
/// assert!(!bounding::has(Cap::SYS_MODULE)?);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_CAPBSET_DROP`)
#[doc(alias = "PR_CAPBSET_DROP")]
pub fn drop(caps: impl Into<CapSet>) -> Result<()> {
    let caps = caps.into();
    kernel::check_supported(Op::CapbsetDrop, caps)?;
    ops::bounding_drop(caps).map_err(drop_error)
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
/// assert!(b.is_subset(capscope::Cap::probe_supported()?));
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn probe() -> Result<CapSet> {
    ops::bounding_set(kernel::last_supported()?).map_err(ops::Fail::error)
}

/// Drops every capability from the bounding set except those in `keep`: capabilities 0 up to
/// the kernel's last one, including those the library does not name. Irreversible.
///
/// # Errors
///
/// As [`drop`]; on error, the capabilities before the failing one are already dropped.
///
/// # Examples
///
/// ```no_run
/// use capscope::{bounding, Cap};
/// bounding::limit(Cap::NET_BIND_SERVICE)?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn limit(keep: impl Into<CapSet>) -> Result<()> {
    drop(CapSet::up_to(kernel::last_supported()?) - keep.into())
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

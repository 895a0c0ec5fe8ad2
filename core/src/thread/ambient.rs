//! The ambient capability set: capabilities kept across `execve` of unprivileged programs.
//!
//! A capability can be ambient only while it is both permitted and inheritable; the kernel
//! lowers it from the ambient set as soon as either is dropped. Raising also fails while the
//! securebit `NO_CAP_AMBIENT_RAISE` is set. Linux 4.3 added ambient capabilities.
//!
//! [`raise`] and [`clear`] have process-wide twins,
//! [`process::ambient_raise`](crate::process::ambient_raise) and
//! [`process::ambient_clear`](crate::process::ambient_clear), taking the same arguments.
//!
//! # Thread scope
//!
//! The ambient set is per thread. Every function here reads or changes the calling thread only.
//!
//! # References
//!
//! capabilities(7) ("Ambient capability set"), prctl(2) (`PR_CAP_AMBIENT`)

use crate::error::{Errno, Error, Op, Result};
use crate::kernel;
use crate::thread::ops;
use crate::{Cap, CapSet};

/// Why raising an ambient capability fails with `EPERM`.
pub(crate) const RAISE_HINT: &str =
    "an ambient capability must be in both the permitted and the inheritable set, and the \
     securebit NO_CAP_AMBIENT_RAISE must be clear";

fn error(f: ops::Fail) -> Error {
    let e = f.error();
    if f.op == Op::AmbientRaise && f.errno == Some(Errno::PERM) {
        e.with_hint(RAISE_HINT)
    } else {
        e
    }
}

/// Whether the kernel supports ambient capabilities (Linux 4.3 and later). One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the probe fails for another reason than `EINVAL`.
///
/// # Examples
///
/// ```
/// assert!(capscope::ambient::is_supported()?); // any kernel of the last years
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_IS_SET")]
pub fn is_supported() -> Result<bool> {
    Ok(ops::ambient_is_set(Cap::CHOWN).map_err(error)?.is_some())
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
    ops::ambient_is_set(cap).map_err(error)
}

/// Whether every capability of `caps` is ambient: one `prctl` per capability (stops at the
/// first one missing).
///
/// # Errors
///
/// As [`is_set`].
///
/// # Examples
///
/// ```
/// use capscope::{ambient, Cap};
/// let _ = ambient::has(Cap::NET_BIND_SERVICE)?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn has(caps: impl Into<CapSet>) -> Result<bool> {
    ops::all_of(caps.into(), ops::ambient_is_set).map_err(error)
}

/// Raises `caps` in the ambient set: one `prctl` per capability.
///
/// # Errors
///
/// [`Error::Unsupported`] (before any system call) for a capability the kernel lacks;
/// [`Error::Os`] with `EPERM` (and a hint) when a capability is not both permitted and
/// inheritable, or `NO_CAP_AMBIENT_RAISE` is set; the capabilities before it are raised then.
///
/// # Thread scope
///
/// The calling thread only; see [`process::ambient_raise`](crate::process::ambient_raise).
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
///
/// # References
///
/// prctl(2) (`PR_CAP_AMBIENT_RAISE`)
#[doc(alias = "PR_CAP_AMBIENT_RAISE")]
pub fn raise(caps: impl Into<CapSet>) -> Result<()> {
    set_each(caps.into(), true)
}

/// Lowers `caps` in the ambient set (no error for those not set): one `prctl` per capability.
///
/// # Errors
///
/// [`Error::Unsupported`] (before any system call) for a capability the kernel lacks.
///
/// # Examples
///
/// ```
/// use capscope::{ambient, Cap};
/// ambient::lower(Cap::NET_RAW)?;
/// assert_eq!(ambient::is_set(Cap::NET_RAW)?, Some(false));
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_LOWER")]
pub fn lower(caps: impl Into<CapSet>) -> Result<()> {
    set_each(caps.into(), false)
}

/// Raises or lowers each capability of `caps`, after checking the kernel knows them all.
fn set_each(caps: CapSet, raise: bool) -> Result<()> {
    let op = if raise {
        Op::AmbientRaise
    } else {
        Op::AmbientLower
    };
    kernel::check_supported(op, caps)?;
    caps.iter()
        .try_for_each(|cap| ops::ambient_set_one(cap, raise).map_err(error))
}

/// Empties the ambient set, capabilities the library does not name included. One `prctl`.
///
/// # Errors
///
/// [`Error::Os`] if the kernel has no ambient set (`EINVAL`, before Linux 4.3).
///
/// # Thread scope
///
/// The calling thread only; see [`process::ambient_clear`](crate::process::ambient_clear).
///
/// # Examples
///
/// ```
/// capscope::ambient::clear()?;
/// assert!(capscope::ambient::probe()?.is_empty());
/// # Ok::<(), capscope::Error>(())
/// ```
#[doc(alias = "PR_CAP_AMBIENT_CLEAR_ALL")]
pub fn clear() -> Result<()> {
    ops::ambient_clear().map_err(error)
}

/// The whole ambient set: one `PR_CAP_AMBIENT_IS_SET` per capability the kernel supports.
/// (It does not narrow the questions with a `capget` first: an LSM such as AppArmor may report
/// a permitted set narrower than the thread's, and a refused `capget` must not make the
/// ambient set unreadable.)
///
/// # Errors
///
/// As [`is_set`] and [`kernel::last_supported`].
///
/// # Examples
///
/// ```
/// let a = capscope::ambient::probe()?;
/// # let _ = a;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn probe() -> Result<CapSet> {
    ops::ambient_set(kernel::last_supported()?).map_err(error)
}

//! `prctl()`: the per-thread and per-process attributes pyprctl wraps, and the safe ones rustix
//! adds.
//!
//! | Area | Functions | Scope |
//! |---|---|---|
//! | thread name | [`name`], [`set_name`] | thread |
//! | parent-death signal | [`pdeathsig`], [`set_pdeathsig`], [`Signal`](crate::Signal) | thread |
//! | keepcaps | [`securebits::keepcaps`](crate::securebits::keepcaps), [`securebits::set_keepcaps`](crate::securebits::set_keepcaps) | thread |
//! | no_new_privs | [`no_new_privs`], [`set_no_new_privs`] | thread |
//! | dumpable | [`dumpable`], [`dumpable_mode`], [`set_dumpable`] | process |
//! | child subreaper | [`child_subreaper`], [`set_child_subreaper`] | process |
//! | ptracer (Yama) | [`set_ptracer`] | process |
//! | THP disable | [`thp_disabled`], [`set_thp_disabled`] | process |
//! | I/O flusher | [`io_flusher`], [`set_io_flusher`] | thread |
//! | machine-check kill policy | [`mce_kill`], [`set_mce_kill`] | thread |
//! | timing | [`timing`], [`set_timing`] | process |
//! | timer slack | [`timerslack`], [`set_timerslack`] | thread |
//! | seccomp | [`seccomp_mode`], [`set_seccomp_strict`], [`exit_thread`] | thread |
//! | speculation control | [`speculation`], [`set_speculation`] | thread |
//!
//! # Thread scope
//!
//! Each function's documentation says whether the attribute belongs to the calling thread
//! (other threads keep theirs) or to the whole process (every thread sees the change).
//!
//! # References
//!
//! prctl(2)

mod name;
mod process;
mod seccomp;
mod signals;
mod speculation;
mod timerslack;

pub use name::{name, set_name, NAME_MAX};
pub use process::{
    child_subreaper, dumpable, dumpable_mode, io_flusher, mce_kill, set_child_subreaper,
    set_dumpable, set_io_flusher, set_mce_kill, set_ptracer, set_thp_disabled, set_timing,
    thp_disabled, timing, Dumpable, MceKill, Ptracer, Timing,
};
pub use seccomp::{exit_thread, seccomp_mode, set_seccomp_strict, SeccompMode};
pub use signals::{pdeathsig, set_pdeathsig};
pub use speculation::{
    set_speculation, speculation, SpeculationControl, SpeculationFeature, SpeculationState,
};
pub use timerslack::{set_timerslack, timerslack, TIMERSLACK_MAX};

use crate::error::Result;
#[cfg(doc)]
use crate::Error;

/// The calling thread's no_new_privs flag. One `prctl`.
///
/// # Thread scope
///
/// Reads the calling thread. The flag is per thread, inherited by threads and children
/// created afterwards and kept across `execve`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails (kernels before 3.5 answer `EINVAL`).
///
/// # Examples
///
/// ```
/// let nnp = capscope::prctl::no_new_privs()?;
/// # let _ = nnp;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_NO_NEW_PRIVS`)
#[doc(alias = "PR_GET_NO_NEW_PRIVS")]
pub fn no_new_privs() -> Result<bool> {
    crate::thread::ops::no_new_privs().map_err(crate::thread::ops::Fail::error)
}

/// Sets the calling thread's no_new_privs flag: from now on `execve` grants no privilege
/// (set-user-ID and set-group-ID bits and file capabilities are ignored). The flag can never
/// be cleared again, hence no argument. One `prctl`.
///
/// # Thread scope
///
/// Changes the calling thread only; threads and children it creates afterwards inherit the
/// flag. Other existing threads keep theirs: see `capscope::process` for all of them.
///
/// # Errors
///
/// [`Error::Os`] if the call fails (`EINVAL` before Linux 3.5).
///
/// # Examples
///
/// ```no_run
/// capscope::prctl::set_no_new_privs()?; // irreversible
/// assert!(capscope::prctl::no_new_privs()?);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_NO_NEW_PRIVS`), <https://docs.kernel.org/userspace-api/no_new_privs.html>
#[doc(alias = "PR_SET_NO_NEW_PRIVS")]
pub fn set_no_new_privs() -> Result<()> {
    crate::thread::ops::set_no_new_privs().map_err(crate::thread::ops::Fail::error)
}

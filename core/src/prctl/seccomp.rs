//! Seccomp mode (`PR_GET_SECCOMP`), strict mode (`PR_SET_SECCOMP`, `SECCOMP_MODE_STRICT`) and
//! a raw thread exit that strict mode allows.

use crate::error::{Error, Op, OsContext, Result};

/// A thread's seccomp mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeccompMode {
    /// `SECCOMP_MODE_DISABLED` (0).
    Disabled,
    /// `SECCOMP_MODE_STRICT` (1): only `read`, `write`, `_exit` and `sigreturn`.
    Strict,
    /// `SECCOMP_MODE_FILTER` (2): BPF filters.
    Filter,
}

/// The calling thread's seccomp mode. One `prctl`.
///
/// Under strict mode this call itself is forbidden: the kernel kills the thread with
/// `SIGKILL`, so it can only ever return [`SeccompMode::Disabled`] or
/// [`SeccompMode::Filter`] (a filter may also make it fail or kill).
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] for an unknown mode.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{seccomp_mode, SeccompMode};
/// assert_ne!(seccomp_mode()?, SeccompMode::Strict);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_SECCOMP`), seccomp(2)
#[doc(alias = "PR_GET_SECCOMP")]
pub fn seccomp_mode() -> Result<SeccompMode> {
    match crate::sys::prctl::int(crate::sys::prctl::IntOption::GetSeccomp, 0, 0)? {
        0 => Ok(SeccompMode::Disabled),
        1 => Ok(SeccompMode::Strict),
        2 => Ok(SeccompMode::Filter),
        n => Err(Error::kernel(Op::GetSeccomp, format!("mode {n}"))),
    }
}

/// Puts the calling thread in strict seccomp mode: from now on it may only call `read`,
/// `write`, `_exit` (the thread exit, not `exit_group`) and `rt_sigreturn`; any other system
/// call kills the process with `SIGKILL`. There is no way back. One `prctl`.
///
/// After it, the thread can only compute, read and write already open descriptors and leave
/// through [`exit_thread`]: returning from `main` (which calls `exit_group`), allocating
/// memory that needs `mmap`/`brk`, or taking a contended lock (`futex`) kills it. This call
/// returns without making any further system call.
///
/// # Thread scope
///
/// Changes the calling thread only; threads it creates later would inherit the mode, but it
/// cannot create any (`clone` is forbidden).
///
/// # Errors
///
/// [`Error::Os`] with `EINVAL` if a seccomp filter is already installed (a thread cannot
/// switch mode) or the kernel lacks `CONFIG_SECCOMP`.
///
/// # Examples
///
/// ```no_run
/// use capscope::prctl::{exit_thread, set_seccomp_strict};
/// // In a forked child that only computes and writes its answer to an open pipe:
/// set_seccomp_strict()?;
/// // ... read(2)/write(2) only ...
/// // SAFETY: nothing on this thread needs to run a destructor or release a lock.
/// unsafe { exit_thread(0) }
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_SECCOMP`), seccomp(2) (`SECCOMP_MODE_STRICT`)
#[doc(alias = "PR_SET_SECCOMP")]
#[doc(alias = "SECCOMP_MODE_STRICT")]
pub fn set_seccomp_strict() -> Result<()> {
    rustix::thread::set_secure_computing_mode(rustix::thread::SecureComputingMode::Strict)
        .op(Op::SetSeccompStrict)
}

/// Ends the calling thread with the raw `exit` system call (`SYS_exit`), the only way out
/// that strict seccomp mode allows. If it is the last thread, the process exits with status
/// `status & 0xff`. Nothing else runs: no destructor, no `atexit` handler, no unwinding, no
/// flushing of buffered output.
///
/// # Thread scope
///
pub use crate::sys::prctl::exit_thread;

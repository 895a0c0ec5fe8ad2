//! Process attributes and a few thread flags: dumpable, child subreaper, ptracer, THP disable,
//! I/O flusher, machine-check kill policy, timing.

use rustix::process::{
    self as rp, DumpableBehavior, MachineCheckMemoryCorruptionKillPolicy as Mce,
};

use crate::error::{Error, Op, OsContext, Result};

/// The three values of the dumpable attribute, as `PR_GET_DUMPABLE` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dumpable {
    /// `SUID_DUMP_DISABLE` (0): no core dumps; only a tracer with `CAP_SYS_PTRACE` may attach,
    /// and `/proc/pid` files belong to root.
    No,
    /// `SUID_DUMP_USER` (1): the normal state.
    User,
    /// `SUID_DUMP_ROOT` (2): core dumps readable by root only (set by the kernel from
    /// `fs.suid_dumpable`, never by `PR_SET_DUMPABLE`); ptrace needs `CAP_SYS_PTRACE`.
    Root,
}

/// Whether the process is dumpable: `true` for [`Dumpable::User`] and [`Dumpable::Root`] (as
/// pyprctl's `get_dumpable`); use [`dumpable_mode`] to tell them apart. One `prctl`.
///
/// # Thread scope
///
/// The attribute belongs to the process (its memory map): every thread sees the same value.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] for a value other than 0, 1 or 2.
///
/// # Examples
///
/// ```
/// let d = capscope::prctl::dumpable()?;
/// # let _ = d;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_DUMPABLE`), proc(5) (`/proc/sys/fs/suid_dumpable`)
#[doc(alias = "PR_GET_DUMPABLE")]
pub fn dumpable() -> Result<bool> {
    Ok(dumpable_mode()? != Dumpable::No)
}

/// The dumpable attribute with its three values. One `prctl`.
///
/// # Thread scope
///
/// As [`dumpable`]: per process.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] for a value other than 0, 1 or 2.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{dumpable_mode, Dumpable};
/// if dumpable_mode()? == Dumpable::Root {
///     println!("core dumps are readable by root only");
/// }
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_DUMPABLE`)
#[doc(alias = "PR_GET_DUMPABLE")]
pub fn dumpable_mode() -> Result<Dumpable> {
    match crate::sys::prctl::int(crate::sys::prctl::IntOption::GetDumpable, 0, 0)? {
        0 => Ok(Dumpable::No),
        1 => Ok(Dumpable::User),
        2 => Ok(Dumpable::Root),
        n => Err(Error::kernel(
            Op::GetDumpable,
            format!("dumpable value {n}"),
        )),
    }
}

/// Makes the process dumpable (`true`, `SUID_DUMP_USER`) or not (`false`). One `prctl`.
///
/// The kernel resets the attribute to `/proc/sys/fs/suid_dumpable` when the process's
/// credentials change or it runs a set-user-ID or file-capability program.
///
/// # Thread scope
///
/// Changes the whole process (every thread).
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```no_run
/// capscope::prctl::set_dumpable(false)?; // no core dumps, no ptrace by same-uid processes
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_DUMPABLE`)
#[doc(alias = "PR_SET_DUMPABLE")]
pub fn set_dumpable(dumpable: bool) -> Result<()> {
    let v = if dumpable {
        DumpableBehavior::Dumpable
    } else {
        DumpableBehavior::NotDumpable
    };
    rp::set_dumpable_behavior(v).op(Op::SetDumpable)
}

/// Whether the process is a child subreaper: orphaned descendants are re-parented to it
/// instead of to init. One `prctl`.
///
/// # Thread scope
///
/// The attribute belongs to the process.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// let s = capscope::prctl::child_subreaper()?;
/// # let _ = s;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_CHILD_SUBREAPER`)
#[doc(alias = "PR_GET_CHILD_SUBREAPER")]
pub fn child_subreaper() -> Result<bool> {
    Ok(crate::sys::prctl::get_int(crate::sys::prctl::IntOutOption::GetChildSubreaper)? != 0)
}

/// Makes the process a child subreaper (or not). One `prctl`.
///
/// # Thread scope
///
/// Changes the whole process. Children do not inherit it; `execve` keeps it.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```no_run
/// capscope::prctl::set_child_subreaper(true)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_CHILD_SUBREAPER`)
#[doc(alias = "PR_SET_CHILD_SUBREAPER")]
pub fn set_child_subreaper(subreaper: bool) -> Result<()> {
    crate::sys::prctl::int(
        crate::sys::prctl::IntOption::SetChildSubreaper,
        u64::from(subreaper),
        0,
    )
    .map(drop)
}

/// Who may `ptrace` this process under the Yama LSM's `ptrace_scope` 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ptracer {
    /// Nobody beyond Yama's normal rule (clears an earlier exception).
    None,
    /// Any process (`PR_SET_PTRACER_ANY`).
    Any,
    /// The process with this id (1 to `i32::MAX`) and its descendants.
    Process(u32),
}

/// Declares which process may `ptrace` the calling process as if it were an ancestor (Yama).
/// One `prctl`.
///
/// # Thread scope
///
/// The exception belongs to the process (its thread-group leader).
///
/// # Errors
///
/// [`Error::InvalidInput`] for `Ptracer::Process(0)` or an id above `i32::MAX` (no system
/// call); [`Error::Os`] with `EINVAL` when the Yama LSM is not active, or the process does not
/// exist.
///
/// # Examples
///
/// ```no_run
/// capscope::prctl::set_ptracer(capscope::prctl::Ptracer::Any)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_PTRACER`), <https://docs.kernel.org/admin-guide/LSM/Yama.html>
#[doc(alias = "PR_SET_PTRACER")]
pub fn set_ptracer(tracer: Ptracer) -> Result<()> {
    let t = match tracer {
        Ptracer::None => rp::PTracer::None,
        Ptracer::Any => rp::PTracer::Any,
        Ptracer::Process(pid) => {
            let raw = i32::try_from(pid)
                .ok()
                .and_then(rp::Pid::from_raw)
                .ok_or_else(|| {
                    Error::invalid(
                        Op::SetPtracer,
                        format!("{pid} is not a process id (1 to i32::MAX)"),
                    )
                })?;
            rp::PTracer::ProcessID(raw)
        }
    };
    rp::set_ptracer(t).op(Op::SetPtracer)
}

/// Whether transparent huge pages are disabled for the process. One `prctl`.
///
/// # Thread scope
///
/// The flag belongs to the process's memory map (all threads).
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// let off = capscope::prctl::thp_disabled()?;
/// # let _ = off;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_THP_DISABLE`)
#[doc(alias = "PR_GET_THP_DISABLE")]
pub fn thp_disabled() -> Result<bool> {
    rustix::thread::transparent_huge_pages_are_disabled().op(Op::GetThpDisable)
}

/// Disables (or re-enables) transparent huge pages for the process. One `prctl`.
///
/// # Thread scope
///
/// Changes the whole process; inherited by `fork` children and kept across `execve`.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```no_run
/// capscope::prctl::set_thp_disabled(true)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_THP_DISABLE`)
#[doc(alias = "PR_SET_THP_DISABLE")]
pub fn set_thp_disabled(disabled: bool) -> Result<()> {
    rustix::thread::disable_transparent_huge_pages(disabled).op(Op::SetThpDisable)
}

/// Whether the calling thread is an I/O flusher (its allocations avoid recursing into I/O).
/// One `prctl`.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// [`Error::Os`] with `EPERM` without `CAP_SYS_RESOURCE` in the effective set (the kernel
/// asks for it to read the flag too); `EINVAL` before Linux 5.6.
///
/// # Examples
///
/// ```
/// match capscope::prctl::io_flusher() {
///     Ok(on) => println!("I/O flusher: {on}"),
///     Err(e) => println!("cannot tell: {e}"), // EPERM without CAP_SYS_RESOURCE
/// }
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_IO_FLUSHER`)
#[doc(alias = "PR_GET_IO_FLUSHER")]
pub fn io_flusher() -> Result<bool> {
    match rp::is_io_flusher() {
        Ok(b) => Ok(b),
        Err(e @ rustix::io::Errno::PERM) => Err(Error::os(Op::GetIoFlusher, e)
            .with_hint("PR_GET_IO_FLUSHER needs CAP_SYS_RESOURCE in the effective set")),
        Err(e) => Err(Error::os(Op::GetIoFlusher, e)),
    }
}

/// Marks the calling thread as an I/O flusher (or not), for user-space block or filesystem
/// drivers. One `prctl`.
///
/// # Thread scope
///
/// Changes the calling thread; inherited by children and kept across `execve`.
///
/// # Errors
///
/// [`Error::Os`] with `EPERM` without `CAP_SYS_RESOURCE` in the effective set (in the initial
/// user namespace); `EINVAL` before Linux 5.6.
///
/// # Examples
///
/// ``` no_run
/// capscope::prctl::set_io_flusher(true)?; // a FUSE or NBD server thread
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_IO_FLUSHER`)
#[doc(alias = "PR_SET_IO_FLUSHER")]
pub fn set_io_flusher(flusher: bool) -> Result<()> {
    match rp::configure_io_flusher_behavior(flusher) {
        Ok(()) => Ok(()),
        Err(e @ rustix::io::Errno::PERM) => Err(Error::os(Op::SetIoFlusher, e)
            .with_hint("PR_SET_IO_FLUSHER needs CAP_SYS_RESOURCE in the effective set")),
        Err(e) => Err(Error::os(Op::SetIoFlusher, e)),
    }
}

/// The machine-check memory-corruption kill policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MceKill {
    /// `PR_MCE_KILL_LATE`: killed only when the corrupted page is accessed.
    Late,
    /// `PR_MCE_KILL_EARLY`: killed as soon as corruption is detected.
    Early,
    /// `PR_MCE_KILL_DEFAULT`: the system-wide policy (`vm.memory_failure_early_kill`).
    Default,
}

/// The calling thread's machine-check kill policy. One `prctl`.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] for an unknown value.
///
/// # Examples
///
/// ```
/// let p = capscope::prctl::mce_kill()?;
/// # let _ = p;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_MCE_KILL_GET`)
#[doc(alias = "PR_MCE_KILL_GET")]
pub fn mce_kill() -> Result<MceKill> {
    match crate::sys::prctl::int(crate::sys::prctl::IntOption::GetMceKill, 0, 0)? {
        0 => Ok(MceKill::Late),
        1 => Ok(MceKill::Early),
        2 => Ok(MceKill::Default),
        n => Err(Error::kernel(Op::GetMceKill, format!("policy {n}"))),
    }
}

/// Sets the calling thread's machine-check kill policy; [`MceKill::Default`] clears the
/// thread's own policy (`PR_MCE_KILL_CLEAR`). One `prctl`.
///
/// # Thread scope
///
/// Changes the calling thread; inherited by threads and children it creates.
///
/// # Errors
///
/// [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{mce_kill, set_mce_kill, MceKill};
/// std::thread::spawn(|| {
///     set_mce_kill(MceKill::Early)?;
///     assert_eq!(mce_kill()?, MceKill::Early);
///     Ok::<(), capscope::Error>(())
/// }).join().unwrap()?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_MCE_KILL`)
#[doc(alias = "PR_MCE_KILL")]
pub fn set_mce_kill(policy: MceKill) -> Result<()> {
    let p = match policy {
        MceKill::Late => Some(Mce::Late),
        MceKill::Early => Some(Mce::Early),
        MceKill::Default => None,
    };
    rp::set_machine_check_memory_corruption_kill_policy(p).op(Op::SetMceKill)
}

/// Process timing methods (`PR_TIMING_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timing {
    /// `PR_TIMING_STATISTICAL`: the normal method, the only one Linux implements.
    Statistical,
    /// `PR_TIMING_TIMESTAMP`: accurate timestamp-based timing; Linux rejects it (`EINVAL`).
    Timestamp,
}

/// The process timing method: always [`Timing::Statistical`] on Linux. One `prctl`.
///
/// # Thread scope
///
/// Per process.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] for an unknown value.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{timing, Timing};
/// assert_eq!(timing()?, Timing::Statistical);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_TIMING`)
#[doc(alias = "PR_GET_TIMING")]
pub fn timing() -> Result<Timing> {
    match crate::sys::prctl::int(crate::sys::prctl::IntOption::GetTiming, 0, 0)? {
        0 => Ok(Timing::Statistical),
        1 => Ok(Timing::Timestamp),
        n => Err(Error::kernel(Op::GetTiming, format!("timing method {n}"))),
    }
}

/// Sets the process timing method. One `prctl`.
///
/// # Thread scope
///
/// Per process (Linux changes nothing: only the statistical method exists).
///
/// # Errors
///
/// [`Error::Os`] with `EINVAL` for [`Timing::Timestamp`], which Linux does not implement.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{set_timing, Timing};
/// set_timing(Timing::Statistical)?;
/// assert!(set_timing(Timing::Timestamp).is_err());
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_TIMING`)
#[doc(alias = "PR_SET_TIMING")]
pub fn set_timing(method: Timing) -> Result<()> {
    let v = match method {
        Timing::Statistical => 0,
        Timing::Timestamp => 1,
    };
    crate::sys::prctl::int(crate::sys::prctl::IntOption::SetTiming, v, 0).map(drop)
}

//! `prctl` options that rustix does not offer, and the raw thread exit.
//!
//! [`int`] takes the option as a typed value: every option it accepts has integer arguments
//! only (the kernel reads no memory from them), so the call is safe whatever the arguments.
//! [`get_int`] covers the two options that write an `int` through a pointer, which is ours.

use crate::error::{Errno, Error, Op, Result};

/// A `prctl` option whose arguments are plain integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntOption {
    GetTimerslack,
    SetTimerslack,
    SetPdeathsig,
    GetDumpable,
    SetChildSubreaper,
    GetMceKill,
    GetTiming,
    SetTiming,
    GetSeccomp,
    GetSpeculationCtrl,
    SetSpeculationCtrl,
}

impl IntOption {
    fn raw(self) -> (libc::c_int, Op) {
        match self {
            IntOption::GetTimerslack => (libc::PR_GET_TIMERSLACK, Op::GetTimerslack),
            IntOption::SetTimerslack => (libc::PR_SET_TIMERSLACK, Op::SetTimerslack),
            IntOption::SetPdeathsig => (libc::PR_SET_PDEATHSIG, Op::SetPdeathsig),
            IntOption::GetDumpable => (libc::PR_GET_DUMPABLE, Op::GetDumpable),
            IntOption::SetChildSubreaper => (libc::PR_SET_CHILD_SUBREAPER, Op::SetChildSubreaper),
            IntOption::GetMceKill => (libc::PR_MCE_KILL_GET, Op::GetMceKill),
            IntOption::GetTiming => (libc::PR_GET_TIMING, Op::GetTiming),
            IntOption::SetTiming => (libc::PR_SET_TIMING, Op::SetTiming),
            IntOption::GetSeccomp => (libc::PR_GET_SECCOMP, Op::GetSeccomp),
            IntOption::GetSpeculationCtrl => {
                (libc::PR_GET_SPECULATION_CTRL, Op::GetSpeculationCtrl)
            }
            IntOption::SetSpeculationCtrl => {
                (libc::PR_SET_SPECULATION_CTRL, Op::SetSpeculationCtrl)
            }
        }
    }
}

/// `prctl(option, a2, a3, 0, 0)`, returning the raw result. Allocation-free and
/// async-signal-safe (the raw system call; `errno` is read right after it).
pub(crate) fn int(option: IntOption, a2: u64, a3: u64) -> Result<i64> {
    let (raw, op) = option.raw();
    // SAFETY: every `IntOption` takes plain integers, so the kernel reads no memory from the
    // arguments; the unused ones are zero as prctl(2) requires.
    let r = unsafe { libc::syscall(libc::SYS_prctl, libc::c_long::from(raw), a2, a3, 0u64, 0u64) };
    if r == -1 {
        Err(Error::os(op, Errno::last()))
    } else {
        Ok(r)
    }
}

/// The `prctl` options that write one `int` through the pointer in their second argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntOutOption {
    GetPdeathsig,
    GetChildSubreaper,
}

/// `prctl(option, &mut value)`: the `int` the kernel writes.
pub(crate) fn get_int(option: IntOutOption) -> Result<i32> {
    let (raw, op) = match option {
        IntOutOption::GetPdeathsig => (libc::PR_GET_PDEATHSIG, Op::GetPdeathsig),
        IntOutOption::GetChildSubreaper => (libc::PR_GET_CHILD_SUBREAPER, Op::GetChildSubreaper),
    };
    let mut v: libc::c_int = 0;
    // SAFETY: both options write one int to the address in arg2, which is `v`.
    let r = unsafe { libc::prctl(raw, &mut v as *mut libc::c_int, 0, 0, 0) };
    if r == -1 {
        return Err(Error::os(op, Errno::last()));
    }
    Ok(v)
}

/// Ends the calling thread only; other threads go on.
///
/// # Errors
///
/// None: it does not return. (If the system call ever came back, the process aborts.)
///
/// # Safety
///
/// The thread disappears in the middle of whatever its callers were doing. The caller must
/// make sure that nothing else depends on it finishing: no lock it holds, no value on its
/// stack borrowed by another thread (e.g. from `std::thread::scope`), no `JoinHandle` that
/// expects a result (joining a `std` thread that left this way panics), no buffered data that
/// still has to be written. Its stack and thread-local storage are leaked (capscope's own record
/// of the thread is released first, without a system call, so this works under strict seccomp).
///
/// # Examples
///
/// ```no_run
/// // SAFETY: a forked child with nothing left to clean up.
/// unsafe { capscope::prctl::exit_thread(3) }
/// ```
///
/// # References
///
/// _exit(2) (the raw `exit` system call, not `exit_group`), seccomp(2)
#[doc(alias = "SYS_exit")]
pub unsafe fn exit_thread(status: i32) -> ! {
    crate::scope::contain::thread_exits();
    // SAFETY: SYS_exit takes one integer and does not return; the caller guarantees (see
    // above) that ending the thread here is sound.
    unsafe {
        libc::syscall(libc::SYS_exit, libc::c_long::from(status));
    }
    // SYS_exit cannot fail; if it ever returned, stopping hard is the only safe answer.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_errno_and_op() {
        // PR_SET_TIMING with an unknown method is refused.
        let e = int(IntOption::SetTiming, 99, 0).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::INVAL));
        assert_eq!(e.op(), Some(Op::SetTiming));
    }
}

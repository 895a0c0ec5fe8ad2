//! Signals: the broadcast signal's handler (`sigaction`), `tgkill`, the calling thread's signal
//! mask, and `errno` around a handler.

use crate::error::Errno;

/// The signal handler's type (`SA_SIGINFO`).
pub(crate) type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// `SIGRTMIN()` as the C library reports it (glibc reserves the two below it).
pub(crate) fn rtmin() -> i32 {
    libc::SIGRTMIN()
}

/// `SIGRTMAX()`.
pub(crate) fn rtmax() -> i32 {
    libc::SIGRTMAX()
}

/// The handler address installed on `sig` now (`SIG_DFL` = 0, `SIG_IGN` = 1).
pub(crate) fn current_handler(sig: i32) -> Result<usize, Errno> {
    // SAFETY: sigaction with a null new action only writes the current one into `old`, a
    // zeroed (valid) sigaction.
    unsafe {
        let mut old: libc::sigaction = core::mem::zeroed();
        if libc::sigaction(sig, core::ptr::null(), &mut old) != 0 {
            return Err(Errno::last());
        }
        Ok(old.sa_sigaction)
    }
}

/// Whether `addr` is the default or ignore disposition.
pub(crate) fn is_default_or_ignored(addr: usize) -> bool {
    addr == libc::SIG_DFL || addr == libc::SIG_IGN
}

/// The address of `handler`, as [`current_handler`] reports it.
pub(crate) fn address(handler: Handler) -> usize {
    handler as usize
}

/// Installs `handler` on `sig` with `SA_SIGINFO | SA_RESTART` and every signal blocked while it
/// runs.
pub(crate) fn install(sig: i32, handler: Handler) -> Result<(), Errno> {
    // SAFETY: `action` is fully initialised: the handler is an extern "C" fn with the
    // SA_SIGINFO signature, the mask is filled.
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(sig, &action, core::ptr::null_mut()) != 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// `tgkill(pid, tid, sig)`; `sig` 0 only checks that the thread exists.
pub(crate) fn tgkill(pid: i32, tid: u32, sig: i32) -> Result<(), Errno> {
    let tid = i32::try_from(tid).unwrap_or(i32::MAX);
    // SAFETY: tgkill takes plain integers.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Keeps the calling thread's `errno` across a signal handler: whatever the handler does, the
/// interrupted code finds `errno` as it left it.
pub(crate) struct ErrnoGuard(i32);

impl ErrnoGuard {
    /// Saves `errno`.
    pub(crate) fn save() -> ErrnoGuard {
        // SAFETY: __errno_location returns the calling thread's errno slot; reading it is
        // async-signal-safe.
        ErrnoGuard(unsafe { *libc::__errno_location() })
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        // SAFETY: as above; writing the thread's own errno slot.
        unsafe { *libc::__errno_location() = self.0 };
    }
}

/// A set of signals.
#[cfg(test)]
#[derive(Clone, Copy)]
pub(crate) struct SigSet(libc::sigset_t);

#[cfg(test)]
impl SigSet {
    /// No signal.
    pub(crate) fn empty() -> SigSet {
        // SAFETY: sigemptyset initialises the zeroed set.
        unsafe {
            let mut s: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut s);
            SigSet(s)
        }
    }

    /// Every signal.
    pub(crate) fn all() -> SigSet {
        // SAFETY: sigfillset initialises the zeroed set.
        unsafe {
            let mut s: libc::sigset_t = core::mem::zeroed();
            libc::sigfillset(&mut s);
            SigSet(s)
        }
    }

    /// Just `sig`.
    pub(crate) fn one(sig: i32) -> SigSet {
        let mut s = SigSet::empty();
        // SAFETY: `s` is an initialised set; an invalid `sig` only makes this fail.
        unsafe { libc::sigaddset(&mut s.0, sig) };
        s
    }
}

/// Blocks `set` on the calling thread for the duration of `f`, then restores the mask.
#[cfg(test)]
pub(crate) fn block_only_for_test<T>(set: SigSet, f: impl FnOnce() -> T) -> T {
    // SAFETY: pthread_sigmask on valid sets; `old` receives the previous mask.
    let old = unsafe {
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set.0, &mut old);
        old
    };
    let out = f();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
    out
}

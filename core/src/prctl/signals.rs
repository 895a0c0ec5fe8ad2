//! The parent-death signal (`PR_GET_PDEATHSIG` / `PR_SET_PDEATHSIG`) and [`Signal`].

use std::fmt;

use crate::error::{Error, Result};

/// A signal number the kernel accepts: 1 to 64 (`_NSIG`) inclusive.
///
/// The range is checked when the value is made, so a call taking a `Signal` never sends an
/// out-of-range number to the kernel. Real-time signals (32 to 64) are allowed, including the
/// two or three the C library reserves for itself; the named constants use the running
/// architecture's numbers (from `libc`).
///
/// # Examples
///
/// ```
/// use capscope::prctl::Signal;
/// assert_eq!(Signal::new(15)?, Signal::TERM);
/// assert!(Signal::new(0).is_err());
/// assert!(Signal::new(65).is_err());
/// assert_eq!(Signal::try_from(64)?.raw(), 64);
/// # Ok::<(), capscope::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(u8);

impl Signal {
    /// The largest signal number (`_NSIG`).
    pub const MAX: i32 = 64;
    /// `SIGHUP`.
    pub const HUP: Signal = Signal(libc::SIGHUP as u8);
    /// `SIGINT`.
    pub const INT: Signal = Signal(libc::SIGINT as u8);
    /// `SIGQUIT`.
    pub const QUIT: Signal = Signal(libc::SIGQUIT as u8);
    /// `SIGABRT`.
    pub const ABRT: Signal = Signal(libc::SIGABRT as u8);
    /// `SIGKILL`.
    pub const KILL: Signal = Signal(libc::SIGKILL as u8);
    /// `SIGUSR1`.
    pub const USR1: Signal = Signal(libc::SIGUSR1 as u8);
    /// `SIGUSR2`.
    pub const USR2: Signal = Signal(libc::SIGUSR2 as u8);
    /// `SIGPIPE`.
    pub const PIPE: Signal = Signal(libc::SIGPIPE as u8);
    /// `SIGALRM`.
    pub const ALRM: Signal = Signal(libc::SIGALRM as u8);
    /// `SIGTERM`.
    pub const TERM: Signal = Signal(libc::SIGTERM as u8);
    /// `SIGCHLD`.
    pub const CHLD: Signal = Signal(libc::SIGCHLD as u8);
    /// `SIGCONT`.
    pub const CONT: Signal = Signal(libc::SIGCONT as u8);
    /// `SIGSTOP`.
    pub const STOP: Signal = Signal(libc::SIGSTOP as u8);

    /// The signal numbered `raw`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] unless `1 <= raw <= 64`.
    pub fn new(raw: i32) -> Result<Signal> {
        match u8::try_from(raw) {
            Ok(n) if (1..=64).contains(&n) => Ok(Signal(n)),
            _ => Err(Error::invalid(
                "signal",
                format!("{raw} is not a signal number (1 to 64)"),
            )),
        }
    }

    /// The signal number.
    #[must_use]
    pub const fn raw(self) -> i32 {
        self.0 as i32
    }
}

impl TryFrom<i32> for Signal {
    type Error = Error;

    fn try_from(raw: i32) -> Result<Signal> {
        Signal::new(raw)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({})", self.0)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The calling thread's parent-death signal: the signal it gets when the thread that created
/// it exits. `None` when there is none. One `prctl`.
///
/// # Thread scope
///
/// Reads the calling thread's setting.
///
/// # Errors
///
/// [`Error::Os`] if the call fails; [`Error::Kernel`] if the kernel reports a number outside
/// 1 to 64.
///
/// # Examples
///
/// ```
/// assert_eq!(capscope::prctl::pdeathsig()?, None);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_PDEATHSIG`)
#[doc(alias = "PR_GET_PDEATHSIG")]
pub fn pdeathsig() -> Result<Option<Signal>> {
    let mut sig: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG writes one int to the address in arg2, which is `sig`.
    let r = unsafe {
        libc::prctl(
            libc::PR_GET_PDEATHSIG,
            &mut sig as *mut libc::c_int,
            0,
            0,
            0,
        )
    };
    if r == -1 {
        return Err(Error::os("prctl(PR_GET_PDEATHSIG)", errno()));
    }
    match sig {
        0 => Ok(None),
        n => Signal::new(n)
            .map(Some)
            .map_err(|_| Error::kernel("prctl(PR_GET_PDEATHSIG)", format!("signal number {n}"))),
    }
}

/// Sets (or with `None` clears) the calling thread's parent-death signal. One `prctl`;
/// allocation-free.
///
/// The signal is sent when the **thread** that created this one (with `fork` or `clone`)
/// exits, not when its whole process does: a child forked from a short-lived worker thread
/// gets it as soon as that worker ends. The setting is cleared in a child at `fork`, by
/// `execve` of a set-user-ID, set-group-ID or file-capability program, and when the thread's
/// effective or filesystem user or group id changes (so also by
/// [`cap_set_ids`](crate::cap_set_ids)). Check `getppid()` after setting it: if the parent is already gone, no signal
/// comes.
///
/// # Thread scope
///
/// Changes the calling thread only.
///
/// # Errors
///
/// [`Error::Os`] if the call fails. Out-of-range numbers cannot reach this call: [`Signal`]
/// rejects them when it is made.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{pdeathsig, set_pdeathsig, Signal};
/// std::thread::spawn(|| {
///     set_pdeathsig(Some(Signal::TERM))?;
///     assert_eq!(pdeathsig()?, Some(Signal::TERM));
///     set_pdeathsig(None)
/// }).join().unwrap()?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_PDEATHSIG`)
#[doc(alias = "PR_SET_PDEATHSIG")]
pub fn set_pdeathsig(signal: Option<Signal>) -> Result<()> {
    let raw = signal.map_or(0, |s| u64::from(s.0));
    super::raw_prctl("prctl(PR_SET_PDEATHSIG)", libc::PR_SET_PDEATHSIG, raw, 0).map(drop)
}

fn errno() -> crate::Errno {
    crate::Errno::last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        for n in [i32::MIN, -1, 0, 65, 255, 256, 320, i32::MAX] {
            assert!(Signal::new(n).is_err(), "{n}");
        }
        for n in 1..=64 {
            assert_eq!(Signal::new(n).unwrap().raw(), n);
        }
        assert_eq!(Signal::KILL.raw(), 9);
        assert_eq!(Signal::KILL.to_string(), "9");
    }
}

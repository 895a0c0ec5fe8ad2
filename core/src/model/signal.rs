//! [`Signal`]: a signal number the kernel accepts.

use std::fmt;

use crate::error::{Error, Op, Result};

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
/// use capscope::Signal;
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
                Op::Signal,
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

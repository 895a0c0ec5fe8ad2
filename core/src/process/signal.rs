//! The broadcast signal: which one, and its handler's installation.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Op, Result};
use crate::sys::signal as sys;
use crate::Signal;

use super::handler;

/// The signal chosen with `set_signal`; 0 for the default.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The signal our handler is installed on; 0 before the first broadcast.
static INSTALLED: AtomicI32 = AtomicI32::new(0);

/// The default signal: `SIGRTMAX() - 2`, see the module docs of `process` for why.
fn default_raw() -> Signal {
    Signal::new(sys::rtmax() - 2).expect("SIGRTMAX() - 2 is a signal")
}

/// The signal broadcasts use (installed or about to be).
fn current() -> Signal {
    let raw = match INSTALLED.load(Ordering::Acquire) {
        0 => SIGNAL.load(Ordering::Acquire),
        s => s,
    };
    Signal::new(raw).unwrap_or_else(|_| default_raw())
}

fn choose(sig: Signal) -> Result<()> {
    const OP: Op = Op::ProcessSetSignal;
    let (min, max) = (sys::rtmin(), sys::rtmax());
    if !(min..=max).contains(&sig.raw()) {
        return Err(Error::invalid(
            OP,
            format!(
                "signal {} is not a real-time signal usable here ({min}..={max})",
                sig.raw()
            ),
        ));
    }
    let _guard = super::broadcast::lock(OP)?;
    match INSTALLED.load(Ordering::Acquire) {
        0 => {
            SIGNAL.store(sig.raw(), Ordering::Release);
            Ok(())
        }
        s if s == sig.raw() => Ok(()),
        s => Err(Error::refused(
            OP,
            format!(
                "the broadcast handler is already installed on signal {s}; choose the signal \
                 before the first broadcast"
            ),
        )),
    }
}

/// Installs the handler on the chosen signal if needed, and checks that it is still ours.
pub(super) fn ensure_installed(op: Op) -> Result<i32> {
    let ours = sys::address(handler::on_signal);
    let installed = INSTALLED.load(Ordering::Acquire);
    if installed != 0 {
        let now = sys::current_handler(installed).map_err(|e| Error::os(Op::Sigaction, e))?;
        if now != ours {
            return Err(Error::refused(
                op,
                format!(
                    "the broadcast handler on signal {installed} was replaced by another \
                     handler; choose another signal with process::set_signal"
                ),
            ));
        }
        return Ok(installed);
    }
    let sig = current().raw();
    let old = sys::current_handler(sig).map_err(|e| Error::os(Op::Sigaction, e))?;
    if !sys::is_default_or_ignored(old) && old != ours {
        return Err(Error::refused(
            op,
            format!(
                "signal {sig} already has a handler of the program; choose another with \
                 process::set_signal"
            ),
        ));
    }
    sys::install(sig, handler::on_signal).map_err(|e| Error::os(Op::Sigaction, e))?;
    INSTALLED.store(sig, Ordering::Release);
    Ok(sig)
}

/// The signal broadcasts use: the one chosen with [`set_signal`], or [`default_signal`].
///
/// A thread that must not be interrupted by a broadcast can block it, but a broadcast then
/// fails naming that thread.
///
/// # Examples
///
/// ```
/// let sig = capscope::process::signal();
/// assert!((32..=64).contains(&sig.raw())); // a real-time signal
/// ```
#[must_use]
pub fn signal() -> Signal {
    current()
}

/// The default broadcast signal, `SIGRTMAX() - 2` (see the module docs for why).
///
/// # Examples
///
/// ```
/// assert_eq!(capscope::process::default_signal(), capscope::process::signal());
/// ```
#[must_use]
pub fn default_signal() -> Signal {
    default_raw()
}

/// Chooses the real-time signal broadcasts use, for a program that uses the default one
/// itself. Only before the first broadcast (which installs the handler); choosing the signal
/// already installed is accepted.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a signal outside `SIGRTMIN()..=SIGRTMAX()`;
/// [`Error::Refused`] when the handler is already installed on another signal.
///
/// # Thread scope
///
/// The process (signal dispositions are process-wide).
///
/// # Examples
///
/// ```
/// use capscope::{process, Signal};
/// assert!(process::set_signal(Signal::KILL).is_err()); // not a real-time signal
/// ```
///
/// # References
///
/// signal(7), sigaction(2)
pub fn set_signal(sig: Signal) -> Result<()> {
    choose(sig)
}

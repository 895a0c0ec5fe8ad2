//! The parent-death signal (`PR_GET_PDEATHSIG` / `PR_SET_PDEATHSIG`).

use crate::error::{Error, Op, Result};
use crate::Signal;

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
    match crate::sys::prctl::get_int(crate::sys::prctl::IntOutOption::GetPdeathsig)? {
        0 => Ok(None),
        n => Signal::new(n)
            .map(Some)
            .map_err(|_| Error::kernel(Op::GetPdeathsig, format!("signal number {n}"))),
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
/// use capscope::prctl::{pdeathsig, set_pdeathsig};
/// use capscope::Signal;
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
    let raw = signal.map_or(0, |s| s.raw().unsigned_abs().into());
    crate::sys::prctl::int(crate::sys::prctl::IntOption::SetPdeathsig, raw, 0).map(drop)
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

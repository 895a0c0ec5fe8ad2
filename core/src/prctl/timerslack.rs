//! The timer slack (`PR_GET_TIMERSLACK` / `PR_SET_TIMERSLACK`).

use crate::error::{Error, Op, Result};

/// The largest slack [`set_timerslack`] accepts: `u64::MAX - 4095` nanoseconds.
///
/// `PR_GET_TIMERSLACK` returns the slack as the system call's result, and results from
/// `-4095` to `-1` (as a signed long) mean an error. A slack in the top 4095 values of `u64`
/// would read back as an error, so capscope refuses to set one.
pub const TIMERSLACK_MAX: u64 = u64::MAX - 4095;

/// The calling thread's timer slack, in nanoseconds. One `prctl`.
///
/// # Huge values
///
/// The kernel returns the slack as the call's result. capscope reads the whole 64-bit result
/// (rustix's `current_timer_slack` truncates it to 32 bits), so values above `u32::MAX` and
/// above `i64::MAX` read back exactly. The one ambiguity left is the top 4095 values of `u64`,
/// which the kernel's calling convention cannot tell from an error: capscope never sets them
/// (see [`TIMERSLACK_MAX`]), but if another library did, this call reports the error number
/// `2^64 - slack` instead.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// [`Error::Os`] if the call fails (or see above).
///
/// # Examples
///
/// ```
/// let ns = capscope::prctl::timerslack()?;
/// assert!(ns > 0);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_TIMERSLACK`)
#[doc(alias = "PR_GET_TIMERSLACK")]
pub fn timerslack() -> Result<u64> {
    // The result is the slack reinterpreted as a signed long; cast back losslessly.
    crate::sys::prctl::int(crate::sys::prctl::IntOption::GetTimerslack, 0, 0).map(|r| r as u64)
}

/// Sets the calling thread's timer slack to `ns` nanoseconds; `0` restores the thread's
/// default slack (the slack its creator had when it was created). One `prctl`.
///
/// The kernel ignores the slack of real-time (`SCHED_FIFO`, `SCHED_RR`, deadline) threads.
///
/// # Thread scope
///
/// Changes the calling thread; threads and children it creates afterwards take it as their
/// slack and their default.
///
/// # Errors
///
/// [`Error::InvalidInput`] for `ns` above [`TIMERSLACK_MAX`] (no system call; see
/// [`timerslack`] for why); [`Error::Os`] if the call fails.
///
/// # Examples
///
/// ```
/// std::thread::spawn(|| {
///     capscope::prctl::set_timerslack(1_000)?;
///     assert_eq!(capscope::prctl::timerslack()?, 1_000);
///     Ok::<(), capscope::Error>(())
/// }).join().unwrap()?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_TIMERSLACK`)
#[doc(alias = "PR_SET_TIMERSLACK")]
pub fn set_timerslack(ns: u64) -> Result<()> {
    if ns > TIMERSLACK_MAX {
        return Err(Error::invalid(
            Op::SetTimerslack,
            format!("{ns} ns is above {TIMERSLACK_MAX}: PR_GET_TIMERSLACK could not read it back"),
        ));
    }
    crate::sys::prctl::int(crate::sys::prctl::IntOption::SetTimerslack, ns, 0).map(drop)
}

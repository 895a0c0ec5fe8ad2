//! What the running kernel supports: its last capability.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Op, Result};
use crate::{Cap, CapSet};

const UNKNOWN: u8 = u8::MAX;
static LAST_CAP: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The kernel's last (highest) capability.
///
/// Found by a binary search over `prctl(PR_CAPBSET_READ)` (which fails with `EINVAL` exactly
/// for capabilities the kernel does not have: 6 calls at most), then cross-checked with
/// `/proc/sys/kernel/cap_last_cap` when that file can be read: `/proc` alone is never trusted
/// (it may be a different kernel's view, or not mounted). The answer is cached for the life of
/// the process: the kernel's capability count cannot change while it runs.
///
/// # Errors
///
/// [`Error::Os`] if `PR_CAPBSET_READ` fails for another reason than `EINVAL` (for example under
/// a seccomp filter), [`Error::Kernel`] if capability 0 is unknown to the kernel or `/proc`
/// disagrees with the kernel's answer.
///
/// # Thread scope
///
/// None: the answer is the same for every thread.
///
/// # Examples
///
/// ```
/// let last = capscope::kernel::last_supported()?;
/// assert!(last >= capscope::Cap::CHOWN);
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_CAPBSET_READ`), proc(5) (`/proc/sys/kernel/cap_last_cap`)
#[doc(alias = "cap_last_cap")]
pub fn last_supported() -> Result<Cap> {
    let cached = LAST_CAP.load(Ordering::Relaxed);
    if let Some(cap) = Cap::from_u8(cached) {
        return Ok(cap);
    }
    let found = probe_last_cap()?;
    if let Some(from_proc) = crate::sys::proc::cap_last_cap() {
        if from_proc != found.as_u8() {
            return Err(Error::kernel(
                Op::CapLastCap,
                format!(
                    "PR_CAPBSET_READ says the last capability is {}, /proc/sys/kernel/cap_last_cap says {}",
                    found.as_u8(),
                    from_proc
                ),
            ));
        }
    }
    LAST_CAP.store(found.as_u8(), Ordering::Relaxed);
    Ok(found)
}

/// Whether the kernel knows capability `cap`: `PR_CAPBSET_READ` answers for it.
fn kernel_has(cap: u8) -> Result<bool> {
    let set = rustix::thread::CapabilitySet::from_bits_retain(1 << cap);
    match rustix::thread::capability_is_in_bounding_set(set) {
        Ok(_) => Ok(true),
        Err(rustix::io::Errno::INVAL) => Ok(false),
        Err(e) => Err(Error::os(Op::CapbsetRead, e)),
    }
}

fn probe_last_cap() -> Result<Cap> {
    if !kernel_has(0)? {
        return Err(Error::kernel(
            Op::CapLastCap,
            "PR_CAPBSET_READ rejects capability 0",
        ));
    }
    // Invariant: lo is supported, hi + 1 is not (or hi = 63).
    let (mut lo, mut hi) = (0u8, 63u8);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if kernel_has(mid)? {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(Cap::from_u8(lo).expect("binary search stays within 0..=63"))
}

/// An [`Error::Unsupported`] naming the first capability of `caps` the kernel lacks. Checked
/// before a change so that the answer does not depend on privilege (the kernel checks
/// `CAP_SETPCAP` before it looks at the capability).
pub(crate) fn check_supported(op: Op, caps: CapSet) -> Result<()> {
    let last = last_supported()?;
    match caps.difference(CapSet::up_to(last)).first() {
        Some(cap) => Err(Error::Unsupported { op, cap, last }),
        None => Ok(()),
    }
}

impl Cap {
    /// Whether the running kernel supports this capability (see [`last_supported`]).
    ///
    /// # Errors
    ///
    /// As [`last_supported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::Cap;
    /// assert!(Cap::CHOWN.is_supported()?);
    /// assert!(!Cap::from_u8(63).unwrap().is_supported()?);
    /// # Ok::<(), capscope::Error>(())
    /// ```
    pub fn is_supported(self) -> Result<bool> {
        Ok(self <= last_supported()?)
    }

    /// Every capability the running kernel supports, as a set: 0 through [`last_supported`].
    ///
    /// # Errors
    ///
    /// As [`last_supported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::Cap;
    /// assert!(Cap::probe_supported()?.has(Cap::CHOWN));
    /// # Ok::<(), capscope::Error>(())
    /// ```
    pub fn probe_supported() -> Result<CapSet> {
        Ok(CapSet::up_to(last_supported()?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn probe_matches_proc() {
        let last = super::probe_last_cap().unwrap();
        let proc =
            crate::sys::proc::cap_last_cap().expect("/proc/sys/kernel/cap_last_cap readable");
        assert_eq!(last.as_u8(), proc);
        assert_eq!(super::last_supported().unwrap(), last);
    }
}

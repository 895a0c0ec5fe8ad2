//! Speculation control (`PR_GET_SPECULATION_CTRL` / `PR_SET_SPECULATION_CTRL`).

use crate::error::{Error, Op, Result};

/// A speculative-execution misfeature the kernel lets a thread control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpeculationFeature {
    /// `PR_SPEC_STORE_BYPASS`: speculative store bypass (Spectre v4).
    StoreBypass,
    /// `PR_SPEC_INDIRECT_BRANCH`: indirect branch speculation (Spectre v2 user-to-user).
    IndirectBranch,
    /// `PR_SPEC_L1D_FLUSH`: flush the L1D cache when the thread is switched out (Linux 5.15).
    L1dFlush,
}

impl SpeculationFeature {
    const fn raw(self) -> u64 {
        match self {
            SpeculationFeature::StoreBypass => 0,
            SpeculationFeature::IndirectBranch => 1,
            SpeculationFeature::L1dFlush => 2,
        }
    }
}

bitflags::bitflags! {
    /// What `PR_GET_SPECULATION_CTRL` reports. Empty means `PR_SPEC_NOT_AFFECTED`: the CPU is
    /// not vulnerable. Bits the library does not name are kept.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SpeculationState: u32 {
        /// `PR_SPEC_PRCTL`: the mitigation can be controlled per thread with
        /// [`set_speculation`].
        const PRCTL = 1 << 0;
        /// `PR_SPEC_ENABLE`: the speculation is enabled, the mitigation off.
        const ENABLE = 1 << 1;
        /// `PR_SPEC_DISABLE`: the speculation is disabled, the mitigation on.
        const DISABLE = 1 << 2;
        /// `PR_SPEC_FORCE_DISABLE`: as `DISABLE`, and it cannot be enabled again.
        const FORCE_DISABLE = 1 << 3;
        /// `PR_SPEC_DISABLE_NOEXEC`: as `DISABLE` until the next `execve`.
        const DISABLE_NOEXEC = 1 << 4;

        const _ = !0;
    }
}

/// What [`set_speculation`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpeculationControl {
    /// `PR_SPEC_ENABLE`: allow the speculation (mitigation off).
    Enable,
    /// `PR_SPEC_DISABLE`: disable the speculation (mitigation on).
    Disable,
    /// `PR_SPEC_FORCE_DISABLE`: disable it for good (no later `Enable`).
    ForceDisable,
    /// `PR_SPEC_DISABLE_NOEXEC`: disable it until the next `execve` (store bypass only).
    DisableNoexec,
}

/// The calling thread's state for `feature`. One `prctl`.
///
/// # Thread scope
///
/// Reads the calling thread.
///
/// # Errors
///
/// [`Error::Os`] with `EINVAL` when the kernel does not know the feature (or has no
/// speculation control), `ENODEV` for an unsupported architecture.
///
/// # Examples
///
/// ```
/// use capscope::prctl::{speculation, SpeculationFeature};
/// match speculation(SpeculationFeature::StoreBypass) {
///     Ok(state) => println!("store bypass: {state:?}"),
///     Err(e) => println!("no speculation control: {e}"),
/// }
/// ```
///
/// # References
///
/// prctl(2) (`PR_GET_SPECULATION_CTRL`),
/// <https://docs.kernel.org/userspace-api/spec_ctrl.html>
#[doc(alias = "PR_GET_SPECULATION_CTRL")]
pub fn speculation(feature: SpeculationFeature) -> Result<SpeculationState> {
    let r = crate::sys::prctl::int(
        crate::sys::prctl::IntOption::GetSpeculationCtrl,
        feature.raw(),
        0,
    )?;
    u32::try_from(r)
        .map(SpeculationState::from_bits_retain)
        .map_err(|_| Error::kernel(Op::GetSpeculationCtrl, format!("state {r}")))
}

/// Sets the calling thread's control of `feature`. One `prctl`.
///
/// Only possible when [`speculation`] reports [`SpeculationState::PRCTL`]; after
/// [`SpeculationControl::ForceDisable`], `Enable` fails.
///
/// # Thread scope
///
/// Changes the calling thread; inherited by threads and children it creates, and kept across
/// `execve` (except `DisableNoexec`).
///
/// # Errors
///
/// [`Error::Os`] with `ENXIO` when the feature cannot be controlled per thread (the CPU is not
/// vulnerable or the store-bypass mitigation is set system-wide); `EPERM` to enable after
/// `ForceDisable`, or to disable indirect branch speculation that the kernel keeps on for
/// everyone; `ERANGE`/`EINVAL` for an unknown feature or control. Where the kernel forces a
/// mitigation on for everyone, a request to disable may succeed without changing anything.
///
/// # Examples
///
/// ``` no_run
/// use capscope::prctl::{set_speculation, SpeculationControl, SpeculationFeature};
/// // Before running untrusted code on this thread:
/// set_speculation(SpeculationFeature::StoreBypass, SpeculationControl::ForceDisable)?;
/// # Ok::<(), capscope::Error>(())
/// ```
///
/// # References
///
/// prctl(2) (`PR_SET_SPECULATION_CTRL`),
/// <https://docs.kernel.org/userspace-api/spec_ctrl.html>
#[doc(alias = "PR_SET_SPECULATION_CTRL")]
pub fn set_speculation(feature: SpeculationFeature, control: SpeculationControl) -> Result<()> {
    let c = match control {
        SpeculationControl::Enable => SpeculationState::ENABLE,
        SpeculationControl::Disable => SpeculationState::DISABLE,
        SpeculationControl::ForceDisable => SpeculationState::FORCE_DISABLE,
        SpeculationControl::DisableNoexec => SpeculationState::DISABLE_NOEXEC,
    };
    crate::sys::prctl::int(
        crate::sys::prctl::IntOption::SetSpeculationCtrl,
        feature.raw(),
        u64::from(c.bits()),
    )
    .map(drop)
}

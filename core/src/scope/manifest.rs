//! The link-time capability manifest: every function annotated with `#[requires_caps]` in the
//! program, and the capabilities it may raise.
//!
//! Each `#[requires_caps]` expansion records an [`Entry`] in a link-time registry (a
//! [`linkme`] distributed slice), so the final program knows, without running anything, every
//! capability its code may ever raise. [`required`] is their union and [`restrict`] drops every
//! other capability at start-up.
//!
//! # Examples
//!
//! ```
//! for entry in capscope::manifest::entries() {
//!     println!("{} ({}:{}) raises {}", entry.function, entry.file, entry.line, entry.caps);
//! }
//! let all = capscope::manifest::required();
//! # let _ = all;
//! ```
//!
//! # References
//!
//! capabilities(7)

use crate::error::Result;
use crate::{bounding, guard::RaiseGuard, Cap, CapSet, CapState};

/// One annotated function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Its path: `module::path::function`.
    pub function: &'static str,
    /// The capabilities it raises.
    pub caps: CapSet,
    /// Whether its effective set is exactly `caps` (`exclusive`).
    pub exclusive: bool,
    /// The source file of the function.
    pub file: &'static str,
    /// The line of the attribute.
    pub line: u32,
}

impl Entry {
    /// Used by the macro expansion.
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(
        function: &'static str,
        caps: CapSet,
        exclusive: bool,
        file: &'static str,
        line: u32,
    ) -> Entry {
        Entry {
            function,
            caps,
            exclusive,
            file,
            line,
        }
    }
}

#[doc(hidden)]
#[linkme::distributed_slice]
pub static __MANIFEST: [Entry];

/// Every annotated function linked into the program, in no particular order.
#[must_use]
pub fn entries() -> &'static [Entry] {
    &__MANIFEST
}

/// The union of the capabilities of every annotated function: all the program may raise.
///
/// # Examples
///
/// ```
/// let caps = capscope::manifest::required();
/// assert!(capscope::manifest::entries().iter().all(|e| e.caps.is_subset(caps)));
/// ```
#[must_use]
pub fn required() -> CapSet {
    __MANIFEST
        .iter()
        .fold(CapSet::empty(), |acc, e| acc | e.caps)
}

/// Drops every capability that no annotated function needs ([`required`]) from the calling
/// thread's permitted, effective and inheritable sets (the kernel lowers them from the ambient
/// set with them), and, if `bounding`, from the bounding set.
///
/// Call it at start-up, before spawning threads.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if a system call fails: `bounding` needs `CAP_SETPCAP` in the
/// permitted set (it is raised for the drop, then dropped itself unless required).
///
/// # Thread scope
///
/// The calling thread only: threads spawned afterwards inherit its restricted sets.
///
/// # Examples
///
/// ```no_run
/// fn main() -> capscope::Result<()> {
///     capscope::manifest::restrict(true)?;
///     // From here on, only the capabilities of #[requires_caps] functions can be raised.
///     Ok(())
/// }
/// ```
///
/// # References
///
/// capset(2), prctl(2) (`PR_CAPBSET_DROP`)
pub fn restrict(bounding: bool) -> Result<()> {
    restrict_to(required(), bounding)
}

/// [`restrict`] with an explicit set instead of the manifest's.
///
/// # Errors
///
/// As [`restrict`].
///
/// # Thread scope
///
/// The calling thread only.
///
/// # Examples
///
/// ```no_run
/// capscope::manifest::restrict_to(capscope::capset![capscope::Cap::NET_BIND_SERVICE], false)?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn restrict_to(keep: CapSet, bounding: bool) -> Result<()> {
    if bounding {
        let _setpcap = RaiseGuard::raise(Cap::SETPCAP)?;
        bounding::limit(keep)?;
    }
    let s = CapState::get_current()?;
    let target = CapState {
        effective: s.effective & keep,
        permitted: s.permitted & keep,
        inheritable: s.inheritable & keep,
    };
    if target != s {
        target.set_current()?;
    }
    Ok(())
}

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

use crate::drop_after::DropOptions;
use crate::error::Result;
use crate::process::Report;
use crate::CapSet;

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
    /// An entry (what the macro expansion records).
    pub(crate) const fn new(
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

/// Every annotated function linked into the program, in no particular order.
#[must_use]
pub fn entries() -> &'static [Entry] {
    &crate::scope::private::MANIFEST
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
    crate::scope::private::MANIFEST
        .iter()
        .fold(CapSet::empty(), |acc, e| acc | e.caps)
}

/// Drops every capability that no annotated function needs ([`required`]), for good: the
/// permitted set keeps only [`required`] (plus what `opts` keeps), the effective and
/// inheritable sets are emptied (scopes raise what they need when they run), the ambient set is
/// cleared, and with [`DropOptions::bounding`] the bounding set keeps only the same
/// capabilities. It is [`drop_all`](crate::drop_after::drop_all) with the manifest's
/// capabilities kept, applied to **every thread** of the process (through
/// [`process::drop_all`](crate::process::drop_all), each thread verified), so it can be called
/// in `main` after a runtime started its threads.
///
/// # Errors
///
/// As [`process::drop_all`](crate::process::drop_all): [`Error::Refused`](crate::Error::Refused)
/// before any change when a needed capability is not permitted (`bounding` needs
/// `CAP_SETPCAP`) or when other threads live and no `/proc` of the process's PID namespace
/// can list them.
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::drop_after::DropOptions;
///
/// fn main() -> capscope::Result<()> {
///     capscope::manifest::restrict(&DropOptions::new().bounding())?;
///     // From here on, only the capabilities of #[requires_caps] functions can be raised.
///     Ok(())
/// }
/// ```
///
/// # References
///
/// capset(2), prctl(2) (`PR_CAPBSET_DROP`)
pub fn restrict(opts: &DropOptions) -> Result<Report> {
    restrict_to(required(), opts)
}

/// [`restrict`] keeping `keep` instead of the manifest's capabilities (plus what `opts` keeps).
///
/// # Errors
///
/// As [`restrict`].
///
/// # Thread scope
///
/// Every thread of the process.
///
/// # Examples
///
/// ```no_run
/// use capscope::{drop_after::DropOptions, manifest, Cap};
/// manifest::restrict_to(Cap::NET_BIND_SERVICE.into(), &DropOptions::new())?;
/// # Ok::<(), capscope::Error>(())
/// ```
pub fn restrict_to(keep: CapSet, opts: &DropOptions) -> Result<Report> {
    crate::process::drop_all(&opts.keep(keep))
}

//! `#[requires_caps]` and `#[drop_caps_after]` in a crate that depends on capscope under the
//! name `cs` (`cs = { package = "capscope", ... }`), with the `crate = ...` option in each of
//! its spellings. Nothing here can name `capscope`: an expansion that used `::capscope`
//! instead of the given path would not compile. `tests/renamed.rs` runs the functions.

use cs::{drop_caps_after, requires_caps, CapSet, CapState};

/// The runtime, re-exported under a path of this crate.
pub mod facade {
    pub use cs as caps;
}

fn effective() -> cs::Result<CapSet> {
    Ok(CapState::get_current()?.effective)
}

/// `crate = cs`.
///
/// # Errors
///
/// When `CAP_NET_RAW` is not permitted.
#[requires_caps(net_raw, crate = cs)]
pub fn bare_path() -> cs::Result<CapSet> {
    effective()
}

/// `crate = "cs"`.
///
/// # Errors
///
/// When `CAP_NET_RAW` is not permitted.
#[cs::requires_caps(net_raw, crate = "cs")]
pub fn string() -> std::io::Result<CapSet> {
    Ok(effective()?)
}

/// `crate = ::cs`, exclusive, in an `async fn`.
///
/// # Errors
///
/// When `CAP_NET_RAW` is not permitted.
#[requires_caps(net_raw, exclusive, crate = ::cs)]
pub async fn leading_colons() -> cs::Result<CapSet> {
    effective()
}

/// `crate = crate::facade::caps` (a re-export), panicking when the capability is missing.
///
/// # Panics
///
/// When `CAP_NET_RAW` is not permitted.
#[requires_caps(net_raw, crate = crate::facade::caps)]
pub fn through_a_reexport() -> CapSet {
    effective().unwrap_or_default()
}

/// `#[drop_caps_after]` with `crate = cs`.
///
/// # Errors
///
/// When the process has other threads.
#[drop_caps_after(keep(net_raw), crate = cs)]
pub fn init() -> cs::Result<()> {
    Ok(())
}

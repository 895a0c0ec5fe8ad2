//! What the attribute macros expand to: the only items the expansion touches, reached as
//! `::capscope::__private` (or through the path given with `crate = ...`). Not public API: no
//! stability promise; `capscope` pins `capscope-macros` to its exact version.

pub use crate::drop_after::{DropAfter, DropOptions};
pub use crate::future::RaisedFuture;
pub use crate::guard::{RaiseGuard, RaiseMode};
pub use crate::manifest::Entry;
pub use crate::{Cap, CapSet, Error};
pub use linkme;

/// The link-time registry of annotated functions.
#[linkme::distributed_slice]
pub static MANIFEST: [Entry];

/// A manifest entry.
#[must_use]
pub const fn entry(
    function: &'static str,
    caps: CapSet,
    exclusive: bool,
    file: &'static str,
    line: u32,
) -> Entry {
    Entry::new(function, caps, exclusive, file, line)
}

/// `#[requires_caps]`: raise or fail.
///
/// # Errors
///
/// As [`RaiseGuard::raise`].
#[inline]
pub fn enter(caps: CapSet, mode: RaiseMode, function: &'static str) -> crate::Result<RaiseGuard> {
    RaiseGuard::enter(caps, mode, function)
}

/// `#[drop_caps_after(...)]`'s options, from constants.
pub const fn drop_options(
    keep: CapSet,
    bounding: bool,
    no_new_privs: bool,
    all_threads: bool,
) -> DropOptions {
    let mut o = DropOptions::new().keep_const(keep);
    if bounding {
        o = o.bounding();
    }
    if no_new_privs {
        o = o.no_new_privs();
    }
    if all_threads {
        o = o.all_threads();
    }
    o
}

/// `on_missing = panic`: the message of the error.
#[cold]
#[track_caller]
pub fn missing(e: Error) -> ! {
    panic!("{e}")
}

/// Pins the output type of an async block to the function's return type, so that `?` and
/// `return` inside it infer as they do in the function.
#[inline]
pub fn async_body<R, F: core::future::Future<Output = R>>(f: F) -> F {
    f
}

//! What the attribute macros expand to: the only items the expansion touches, reached as
//! `::capscope::__private` (or through the path given with `crate = ...`). Not public API: no
//! stability promise; `capscope` pins `capscope-macros` to its exact version.

pub use crate::drop_after::{DropAfter, DropOptions};
pub use crate::future::RaisedFuture;
pub use crate::guard::{RaiseGuard, RaiseMode};
pub use crate::manifest::Entry;
pub use crate::{Cap, CapSet, Error};
pub use linkme;

use core::marker::PhantomData;

/// The link-time registry of annotated functions: the ELF section `linkme_CAPSCOPE_MANIFEST`
/// ([`SECTION`](crate::manifest::SECTION)).
#[linkme::distributed_slice]
pub static CAPSCOPE_MANIFEST: [Entry];

/// The manifest record of a `#[requires_caps]` function.
#[must_use]
pub const fn requires_entry(
    function: &str,
    caps: CapSet,
    exclusive: bool,
    file: &str,
    line: u32,
) -> Entry {
    Entry::requires(function, caps, exclusive, file, line)
}

/// The manifest record of a `#[drop_caps_after]` function.
#[must_use]
pub const fn drop_entry(function: &str, opts: &DropOptions, file: &str, line: u32) -> Entry {
    Entry::drop(function, opts, file, line)
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
#[allow(clippy::fn_params_excessive_bools)]
pub const fn drop_options(
    keep: CapSet,
    bounding: bool,
    no_new_privs: bool,
    all_threads: bool,
    uid: Option<u32>,
    gid: Option<u32>,
    user: Option<&'static str>,
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
    if let Some(uid) = uid {
        o = o.uid(uid);
    }
    if let Some(gid) = gid {
        o = o.gid(gid);
    }
    if let Some(user) = user {
        o = o.user(user);
    }
    o
}

/// The declared return type `R` of an annotated function, to decide what a missing capability
/// does by the type rather than by its spelling: `Ret::<R>::new().on_missing(e)` returns
/// `Err(e.into())` when `R` is a `Result` (under any name: `io::Result<()>`, an alias), and
/// panics otherwise.
///
/// The inherent method exists for `Ret<Result<T, E>>` only, so method resolution picks it for a
/// `Result` and otherwise derefs to [`Panic`]. Its `E: From<Error>` bound is a method bound,
/// which resolution does not look at: a `Result` whose error type cannot hold a
/// `capscope::Error` is a compile error, not a silent panic. A generic `R` panics unless its
/// bounds make it a `Result`.
#[derive(Debug)]
pub struct Ret<R>(Panic<R>);

/// Where [`Ret`] derefs to when `R` is not a `Result`.
#[derive(Debug)]
pub struct Panic<R>(PhantomData<fn() -> R>);

impl<R> Ret<R> {
    /// The dispatch for return type `R`.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Ret(Panic(PhantomData))
    }
}

impl<R> Default for Ret<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Ret<Result<T, E>> {
    /// `Err(e.into())`.
    ///
    /// # Errors
    ///
    /// Always: that is its purpose.
    #[inline]
    pub fn on_missing(&self, e: Error) -> Result<T, E>
    where
        E: From<Error>,
    {
        Err(E::from(e))
    }
}

impl<R> core::ops::Deref for Ret<R> {
    type Target = Panic<R>;

    fn deref(&self) -> &Panic<R> {
        &self.0
    }
}

impl<R> Panic<R> {
    /// Panics with the error's message.
    #[cold]
    #[track_caller]
    pub fn on_missing(&self, e: Error) -> R {
        missing(e)
    }
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

//! Attribute macros of [capscope](https://docs.rs/capscope): `#[requires_caps(...)]` and
//! `#[drop_caps_after]`. Use them through `capscope`, which re-exports them and documents them
//! in full; the generated code calls `capscope`'s runtime (`capscope::__private`).

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod caps;
mod expand;

/// Raises the named capabilities into the calling thread's effective set for each call of the
/// function, and restores the set when the call ends (return, `?`, unwinding).
///
/// ```ignore
/// #[capscope::requires_caps(net_bind_service)]
/// fn bind_http() -> std::io::Result<std::net::TcpListener> {
///     std::net::TcpListener::bind("127.0.0.1:80")
/// }
/// # bind_http().unwrap();
/// ```
///
/// Names as libcap reads them (ASCII case-insensitive, with or without `cap_`). Options:
/// `exclusive` (the effective set is exactly these capabilities for the call);
/// `on_missing = error | panic` (default: `error` when the function returns a `Result`, whose
/// error type must implement `From<capscope::Error>`; `panic` otherwise). The body never runs
/// when a capability is missing from the permitted set. An `async fn` is raised around each poll
/// only. Each annotated function is recorded in `capscope::manifest`, and its rustdoc gains a
/// line naming its capabilities.
///
/// # Thread scope
///
/// The calling thread's effective set, for the duration of the call (of each poll, for an
/// `async fn`). Threads spawned during the call inherit the raised set and keep it.
///
/// # Errors
///
/// `capscope::Error::MissingCaps` (converted with `From`) when a capability is missing from the
/// permitted set, in `on_missing = error` mode; `capget`/`capset` failures likewise.
///
/// # References
///
/// capabilities(7), capset(2)
#[proc_macro_attribute]
pub fn requires_caps(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::requires_caps(attr.into(), item.into()).into()
}

/// Drops the calling thread's capabilities for good when the function returns or unwinds:
/// ambient cleared, effective, permitted and inheritable emptied over all 64 bits, then verified;
/// any failure aborts the process.
///
/// ```ignore
/// #[capscope::drop_caps_after(keep(net_bind_service), bounding, no_new_privs)]
/// fn init() -> std::io::Result<()> {
///     Ok(())
/// }
/// # init().unwrap();
/// ```
///
/// Options: `keep(caps...)` (stay in the permitted set), `bounding` (also drop the bounding
/// set), `no_new_privs`, `all_threads` (apply the drop to every thread of the process through
/// `capscope::process`, each thread changed by itself and verified). Without `all_threads` it
/// refuses to run (error or panic, by return type, before the body) while the process has
/// other threads, which would keep their capabilities. Not for `async fn`.
///
/// # Thread scope
///
/// The calling thread, which must be the process's only thread; with `all_threads`, every
/// thread of the process.
///
/// # Errors
///
/// Without `all_threads`, when the process has other threads: an error naming `all_threads`
/// (converted with `From` for a `Result`), or a panic otherwise; the body does not run. A
/// failure of the drop itself (with `all_threads`: any thread not changed or not verified)
/// aborts the process.
///
/// # References
///
/// capabilities(7), capset(2), prctl(2)
#[proc_macro_attribute]
pub fn drop_caps_after(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::drop_caps_after(attr.into(), item.into()).into()
}

/// Not public API: expands to `callback! { 0 CHOWN "cap_chown" "description"; ... }`, the
/// capability table, for `capscope` to generate `Cap` from.
#[doc(hidden)]
#[proc_macro]
pub fn __cap_table(input: TokenStream) -> TokenStream {
    caps::expand(input.into()).into()
}

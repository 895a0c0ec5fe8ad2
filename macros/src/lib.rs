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
///     std::net::TcpListener::bind("0.0.0.0:80")
/// }
/// ```
///
/// Names as libcap reads them (ASCII case-insensitive, with or without `cap_`). Options:
/// `exclusive` (the effective set is exactly these capabilities for the call);
/// `on_missing = error | panic` (default: `error` when the function returns a `Result`, whose
/// error type must implement `From<capscope::Error>`; `panic` otherwise). The body never runs
/// when a capability is missing from the permitted set. An `async fn` is raised around each poll
/// only. Each annotated function is recorded in `capscope::manifest`.
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
/// fn init() -> std::io::Result<()> { Ok(()) }
/// ```
///
/// Options: `keep(caps...)` (stay in the permitted set), `bounding` (also drop the bounding
/// set), `no_new_privs`. It refuses to run (error or panic, by return type, before the body)
/// while the process has other threads. Not for `async fn`.
#[proc_macro_attribute]
pub fn drop_caps_after(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::drop_caps_after(attr.into(), item.into()).into()
}

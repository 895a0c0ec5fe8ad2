//! Attribute macros of [capscope](https://docs.rs/capscope): `#[requires_caps(...)]` and
//! `#[drop_caps_after(...)]`.
//!
//! Use them through `capscope`, which re-exports them (default feature `macros`) and documents
//! them with tested examples. The generated code calls `capscope`'s runtime through its hidden
//! `__private` module only, and `capscope` depends on this crate at exactly its own version, so
//! the two always match. This crate also holds the table of capabilities that `capscope` is
//! generated from.

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod caps;
mod expand;

/// Raises the named capabilities into the calling thread's effective set for each call of the
/// function, and restores the set when the call ends: on return, `?`, early `return` and
/// unwinding.
///
/// `#[requires_caps(net_bind_service)]` on a function that binds port 80: the capability must
/// be in the permitted set, and is effective only while the function runs. Documented with
/// tested examples in `capscope`, which re-exports it.
///
/// # Arguments
///
/// - **Capability names**, as libcap reads them: ASCII case-insensitive, with or without
///   `cap_` (`net_raw`, `CAP_NET_RAW`). An unknown or repeated name, or none, is a compile
///   error with a suggestion.
/// - `exclusive`: the effective set is exactly these capabilities for the call (others that
///   were effective are lowered, then restored).
/// - `on_missing = error | panic`: what a missing capability does (below).
/// - `crate = path` (or `crate = "path"`): the path of the `capscope` crate, for a renamed
///   dependency (`cs = { package = "capscope", ... }` → `crate = cs`) or a re-export
///   (`crate = my_runtime::capscope`). Default: `::capscope`.
///
/// # A missing capability
///
/// If a capability is missing from the permitted set, the body does not run. By default the
/// declared return type decides, not its spelling:
///
/// - a `Result<T, E>` under any name (`std::io::Result<()>`, `type Outcome = ...`, `Self` in
///   `impl Make for io::Result<u8>`, `Result<impl Display, E>`) returns
///   `Err(E::from(error))`; `E` must implement `From<capscope::Error>` (otherwise it is a
///   compile error: implement it, or write `on_missing = panic`);
/// - anything else panics with the error's message: `()`, `!`, `Option<T>`, a lone
///   `impl Trait`, and a type parameter `T` even when a caller picks a `Result` for it
///   (bound it as `Result<T, E>` with `E: From<capscope::Error>` to get the error).
///
/// `on_missing = error` or `on_missing = panic` forces one of the two.
///
/// # Where it applies
///
/// Free functions, methods (`self`, `&self`, `&mut self`), associated functions, trait impls,
/// generics and where clauses, lifetimes, `impl Trait`, `unsafe fn`, `extern "C" fn` and
/// `async fn`; other attributes (`#[inline]`, `#[must_use]`, doc comments) and inner
/// attributes of the body (`#![allow(..)]`) keep working, and a one-line body raises no
/// `unused_braces`. Not on a `const fn`, nor on `main`: a scope around `main` is the whole
/// program (with `#[tokio::main]` above it, the whole runtime, every task and thread), so both
/// are compile errors: annotate the functions that need the capabilities, and lower the
/// effective set at start-up (`capscope::manifest::restrict`).
///
/// An `async fn` is raised around each poll of its body only, on whichever thread polls it, so
/// other tasks on the same worker threads never run with the capabilities, and the future stays
/// `Send`.
///
/// The function's rustdoc gains a section `# Capabilities` naming them, and the function is
/// recorded in the program's link-time manifest (`capscope::manifest`), which
/// `capscope manifest PROGRAM` reads from the built file.
///
/// # Thread scope
///
/// The calling thread's effective set, for the duration of the call (of each poll, for an
/// `async fn`). Threads started during the call begin with the raised capabilities lowered
/// (see `capscope::guard`, "Confinement").
///
/// # Errors
///
/// `capscope::Error::MissingCaps`, listing every missing capability and how to grant it, when a
/// capability is missing from the permitted set; a `capget`/`capset` failure likewise. Returned
/// (converted with `From`) or raised as a panic, as above.
///
/// # References
///
/// capabilities(7), capset(2)
#[proc_macro_attribute]
pub fn requires_caps(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::requires_caps(attr.into(), item.into()).into()
}

/// Drops the calling thread's capabilities (or every thread's) for good when the function
/// returns or unwinds.
///
/// `#[drop_caps_after]` on a start-up function: whatever privileged set-up it does, the
/// capabilities are gone when it ends, on every way out. Documented with tested examples in
/// `capscope`, which re-exports it.
///
/// # Arguments and what each guarantees
///
/// - Always: the ambient set is cleared; the effective and inheritable sets are emptied and the
///   permitted set cut down to the kept capabilities, over all 64 bits; everything is read back
///   through system calls, and any failure aborts the process.
/// - `keep(caps...)`: those stay in the permitted set (not in the effective set: raise them
///   for a scope with `#[requires_caps]`).
/// - `bounding`: every capability not kept leaves the bounding set too, so no `execve` (of a
///   setuid-root or file-capability program) can give it back. Needs `CAP_SETPCAP`.
/// - `no_new_privs`: sets no_new_privs: `execve` never grants privileges again (setuid bits
///   and file capabilities are ignored).
/// - `uid = N`, `gid = N`: first the real, effective, saved and filesystem uid (gid) become `N`
///   and the supplementary groups are cleared, before the capabilities go: the daemon pattern
///   "bind as root, then become nobody". Needs `CAP_SETUID` (`CAP_SETGID`). A `u32` literal;
///   4294967295 (-1, "unchanged" to the kernel) is a compile error.
/// - `user = "name"`: as `uid` and `gid`, with the uid and primary gid of `name` in
///   `/etc/passwd`, looked up before the body runs (an unknown name is an error then). Not
///   together with `uid` or `gid`.
/// - `all_threads`: the drop applies to every thread of the process (`capscope::process`:
///   each thread changed by itself and verified). Without it, the function refuses to run
///   while the process has other threads (they would keep their capabilities), and threads
///   started in the body are dropped too when it ends.
/// - `on_missing = error | panic`: what a refusal before the body does (below).
/// - `crate = path` (or `crate = "path"`): the path of the `capscope` crate, as for
///   `#[requires_caps]`.
///
/// **A process that stays uid 0 gets every capability back on `execve`**: the kernel gives
/// root's programs a full permitted set (limited by the bounding set). Dropping capabilities
/// does not make a root daemon unprivileged; `uid`/`gid` (or `user`) does, and `bounding` or
/// `no_new_privs` keep `execve` from giving capabilities back.
///
/// # Refusals
///
/// Everything is checked before the body runs: other live threads (without `all_threads`), a
/// capability the drop needs, an unknown user. A refusal does not run the body and changes
/// nothing; as with `#[requires_caps]`, a function returning a `Result` (by type) returns the
/// error converted with `From`, and any other function panics. Not for `async fn` (its polls
/// may run on any thread) nor `const fn`: both are compile errors.
///
/// The function's rustdoc gains a section `# Capabilities` saying what the drop does, and the
/// function is recorded, with its options, in the program's link-time manifest
/// (`capscope::manifest`).
///
/// # Thread scope
///
/// The calling thread, which must be the process's only thread; with `all_threads`, every
/// thread of the process.
///
/// # Errors
///
/// The refusals above, as `capscope::Error` (converted with `From`) or a panic. A failure of
/// the drop itself (with `all_threads`: any thread not changed or not verified) aborts the
/// process.
///
/// # References
///
/// capabilities(7), capset(2), prctl(2), setresuid(2)
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

//! Annotated code compiles without a warning under the strictest lints users set.
#![deny(warnings, unused_qualifications, clippy::pedantic, missing_docs, unused_results)]
#![deny(unsafe_op_in_unsafe_fn, unreachable_pub, rust_2018_idioms, unused_lifetimes)]

use capscope::{drop_caps_after, requires_caps};

/// Binds a port.
///
/// # Errors
///
/// When the capability is missing or the bind fails.
#[requires_caps(net_bind_service)]
pub fn bind(port: u16) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port))
}

// No doc comment: the macro's rustdoc line documents it, so `missing_docs` is satisfied.
#[requires_caps(net_raw, exclusive)]
pub fn undocumented() {}

/// Async.
///
/// # Errors
///
/// When the capability is missing.
#[requires_caps(net_raw)]
pub async fn later(x: u8) -> capscope::Result<u8> {
    Ok(x)
}

/// Drops.
///
/// # Errors
///
/// When other threads run.
#[drop_caps_after(keep(net_bind_service), no_new_privs)]
pub fn init() -> capscope::Result<()> {
    Ok(())
}

/// # Safety
///
/// `p` must be valid for reads.
#[requires_caps(chown)]
pub unsafe fn read(p: *const u8) -> u8 {
    // SAFETY: the caller's promise.
    unsafe { *p }
}

fn main() {
    let _ = (bind, undocumented, later, init, read);
}

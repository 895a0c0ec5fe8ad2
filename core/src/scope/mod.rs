//! Scopes: what the attribute macros expand to. Guards and futures that raise capabilities for
//! a scope, the drop at the end of a function, and the link-time manifest.

pub(crate) mod audit;
pub(crate) mod contain;
pub mod drop_after;
pub mod future;
pub mod guard;
pub mod manifest;
pub mod private;
pub(crate) mod record;
#[cfg(feature = "tokio")]
pub mod tokio;

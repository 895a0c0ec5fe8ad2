//! The unit tests of the macros' argument parser (`macros/src/args.rs`), compiled here: a
//! proc-macro crate's own test binary links libstd dynamically and cannot run unprivileged.

#[allow(dead_code, unreachable_pub)]
#[path = "../../macros/src/caps.rs"]
mod caps;

#[allow(dead_code, unreachable_pub)]
#[path = "../../macros/src/args.rs"]
mod args;

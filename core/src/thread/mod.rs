//! The per-thread kernel layer: every system call that reads or changes the calling thread's
//! capabilities, securebits and ids. Each change is written once, async-signal-safe, in
//! `ops`; the public modules here are thin, documented entry points to it.

pub mod ambient;
pub mod bounding;
pub(crate) mod caps;
pub(crate) mod files;
pub mod fsid;
pub(crate) mod full;
pub(crate) mod handles;
pub(crate) mod identity;
pub(crate) mod ids;
pub mod kernel;
pub(crate) mod ops;
pub(crate) mod rmw;
pub mod securebits;

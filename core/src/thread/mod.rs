//! The per-thread kernel layer: every system call that reads or changes the calling thread's
//! capabilities, securebits and ids.

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
pub mod securebits;

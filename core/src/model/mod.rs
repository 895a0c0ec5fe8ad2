//! The data model: capabilities, sets, states, the libcap text form and the file-capability
//! format. Nothing here makes a system call.

pub(crate) mod cap;
pub(crate) mod capset;
pub(crate) mod filecaps;
pub(crate) mod full;
pub(crate) mod print;
pub(crate) mod secbits;
#[cfg(feature = "serde")]
pub(crate) mod serde;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod text;

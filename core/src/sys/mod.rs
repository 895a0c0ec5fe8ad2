//! The one place for `unsafe` code and `/proc` readers: raw system calls that rustix does not
//! offer (or offers reading a buffer the kernel may not have written: `capget`), signal handling, memory shared with signal handlers, and the files of `/proc`. Every
//! other module denies `unsafe_code`.

pub(crate) mod capget;
pub(crate) mod creds;
pub(crate) mod launch;
pub(crate) mod passwd;
pub(crate) mod prctl;
pub(crate) mod proc;
pub(crate) mod shared;
pub(crate) mod signal;
pub(crate) mod spawn;
pub(crate) mod threads;

/// The calling process's id (`getpid`).
pub(crate) fn pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

//! The one place for `unsafe` code and `/proc` readers: raw system calls that rustix does not
//! offer, signal handling, and the files of `/proc`. Every other module denies `unsafe_code`.

pub(crate) mod ids;
pub(crate) mod proc;

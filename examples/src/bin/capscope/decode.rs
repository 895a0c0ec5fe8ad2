//! `capscope decode HEX...`: `capsh --decode=HEX`, byte for byte.
//!
//! HEX is read as capsh reads it (C's `strtoull` with base 16: leading spaces, a sign and
//! `0x` are fine, reading stops at the first other byte, no digits is 0, overflow is all 64
//! bits), then printed as `0x` and 16 hex digits, `=`, and the capabilities of those bits
//! separated by commas (libcap's names, numbers for the capabilities it does not name).

use std::ffi::OsString;
use std::io::Write;

use capscope::CapSet;

use crate::cnum::strtoull_hex;
use crate::out::{bytes, stdout};

/// The usage line.
pub(crate) const USAGE: &str = "usage: capscope decode HEX...\n\n\
    \tprints the capabilities of each bitmask HEX, as capsh --decode=HEX does\n";

/// The line `capsh --decode=HEX` prints for `hex`, without its newline.
pub(crate) fn line(hex: &[u8]) -> String {
    let bits = strtoull_hex(hex);
    format!("0x{bits:016x}={}", CapSet::from_bits(bits))
}

/// Runs `decode` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    if args.is_empty() {
        eprint!("{USAGE}");
        return 1;
    }
    if matches!(bytes(&args[0]), b"-h" | b"--help") {
        print!("{USAGE}");
        return 0;
    }
    let mut out = stdout();
    for a in args {
        let _ = writeln!(out, "{}", line(bytes(a)));
    }
    i32::from(out.flush().is_err())
}

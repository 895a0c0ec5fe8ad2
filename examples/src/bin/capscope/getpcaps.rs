//! `capscope getpcaps [--verbose|--legacy|--iab] PID...`: libcap 2.66's `getpcaps`, byte for
//! byte.
//!
//! Each argument is read in order: `--verbose`, `--legacy` (or `--ugly`) and `--iab` change
//! the format of the pids after them; `-h`, `--help` and `--usage` print the usage (exit 0);
//! `--license` prints capscope's license where getpcaps prints libcap's.
//! A pid is read as getpcaps reads it (`strtol`, base 10: leading spaces and a sign are fine,
//! anything after the digits is not, and the empty text is 0, the calling thread). For each:
//! `capget` of that thread, printed in libcap's text for the running kernel:
//!
//! - default: `PID: TEXT`
//! - `--verbose`: `Capabilities for 'PID': TEXT`
//! - `--legacy`: ``Capabilities for `PID': TEXT``, on standard error (as getpcaps does)
//! - `--iab`: `PID:`, then ` "TEXT"` unless TEXT is `=` (always with `--verbose`), then
//!   ` [IAB]` (libcap's IAB text, from `/proc/PID/status`) when the ambient set is not empty or
//!   the bounding set not full (always with `--verbose`). A pid whose `/proc` entry cannot be
//!   read ends the command, as in getpcaps.
//!
//! A pid that does not parse or whose capabilities cannot be read is reported on standard
//! error and makes the exit status 1; the others are still printed.

use std::ffi::OsString;
use std::io::Write;

use capscope::{CapSet, CapState, FullCapState};

use crate::cnum::getpcaps_pid;
use crate::out::{bytes, err_bytes, stdout, strerror};

const USAGE: &str = "usage: getcaps [opts] <pid> [<pid> ...]

  This program displays the capabilities on the queried process(es).
  The capabilities are displayed in the cap_from_text(3) format.

  Optional arguments:
     --help, -h or --usage display this message.
     --verbose             use a more verbose output format.
     --ugly or --legacy    use the archaic legacy output format.
     --iab                 show IAB of process too.
     --license             display license info
";

fn usage(code: i32) -> i32 {
    err_bytes(&[USAGE.as_bytes()]);
    code
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Verbose,
    Legacy,
}

/// Runs `getpcaps` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    if args.is_empty() {
        return usage(1);
    }
    let last = match capscope::kernel::last_supported() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("getpcaps: cannot find the kernel's last capability: {e}");
            return 1;
        }
    };
    let mut out = stdout();
    let (mut format, mut iab, mut status) = (Format::Plain, false, 0);
    for a in args {
        let arg = bytes(a);
        match arg {
            b"--help" | b"--usage" | b"-h" => {
                let _ = out.flush();
                return usage(0);
            }
            b"--license" => {
                let _ = writeln!(
                    out,
                    "capscope getpcaps: MIT OR Apache-2.0 (libcap's getpcaps is its model)"
                );
                let _ = out.flush();
                return 0;
            }
            b"--verbose" => {
                format = Format::Verbose;
                continue;
            }
            b"--ugly" | b"--legacy" => {
                format = Format::Legacy;
                continue;
            }
            b"--iab" => {
                iab = true;
                continue;
            }
            _ => {}
        }
        let pid = match getpcaps_pid(arg) {
            Ok(p) => p,
            Err(e) => {
                let _ = out.flush();
                err_bytes(&[
                    b"Cannot parse pid ",
                    arg,
                    b": (",
                    strerror(e.errno()).as_bytes(),
                    b")\n",
                ]);
                status = 1;
                continue;
            }
        };
        let caps = match CapState::get_for_pid(pid.unsigned_abs()) {
            Ok(c) => c,
            Err(e) => {
                let _ = out.flush();
                let errno = e.code().unwrap_or(libc::EINVAL);
                eprintln!(
                    "Failed to get cap's for process {pid}: ({})",
                    strerror(errno)
                );
                status = 1;
                continue;
            }
        };
        let text = caps.text_for(last).to_string();
        if iab {
            let _ = out.write_all(arg);
            let _ = out.write_all(b":");
            if format != Format::Plain || text != "=" {
                let _ = write!(out, " \"{text}\"");
            }
            let Ok(full) = FullCapState::get_for_pid(pid.unsigned_abs()) else {
                let _ = out.flush();
                eprintln!(" no IAB value for {pid}");
                return 1;
            };
            let within = CapSet::up_to(last);
            if format != Format::Plain
                || !(full.ambient & within).is_empty()
                || !within.is_subset(full.bounding)
            {
                let _ = write!(out, " [{}]", full.iab_for(last));
            }
            let _ = out.write_all(b"\n");
        } else {
            match format {
                Format::Plain => {
                    let _ = out.write_all(arg);
                    let _ = writeln!(out, ": {text}");
                }
                Format::Verbose => {
                    let _ = out.write_all(b"Capabilities for '");
                    let _ = out.write_all(arg);
                    let _ = writeln!(out, "': {text}");
                }
                Format::Legacy => {
                    let _ = out.flush();
                    err_bytes(&[b"Capabilities for `", arg, b"': ", text.as_bytes(), b"\n"]);
                }
            }
        }
    }
    match out.flush() {
        Ok(()) => status,
        Err(_) => 1,
    }
}

//! `capscope explain CAP...`: what each capability is. CAP is a name in any ASCII case, with
//! or without `cap_` (`net_raw`, `NET_RAW`, `cap_net_raw`, `CAP_NET_RAW`), or a number from 0
//! to 63. Each prints one line:
//!
//! ```text
//! 13 cap_net_raw CAP_NET_RAW: use RAW and PACKET sockets; bind to any address for transparent proxying
//! ```
//!
//! A capability the library does not name (41..=63) prints its number and says so; one the
//! running kernel does not have says that too. An unknown name is an error that suggests the
//! nearest known one; the other arguments are still explained, and the exit status is 1.

use std::ffi::OsString;
use std::io::Write;

use capscope::Cap;

use crate::out::stdout;

/// The usage line.
pub(crate) const USAGE: &str = "usage: capscope explain CAP...\n\n\
    \tprints the number, libcap name, kernel name and a description of each capability;\n\
    \tCAP is net_raw, NET_RAW, cap_net_raw, CAP_NET_RAW or 13\n";

/// The line for `cap` (without a newline), given the kernel's last capability if known.
pub(crate) fn line(cap: Cap, last: Option<Cap>) -> String {
    let unsupported = match last {
        Some(l) if cap > l => " (not supported by the running kernel)",
        _ => "",
    };
    match (cap.name(), cap.kernel_name(), cap.description()) {
        (Some(name), Some(kernel), Some(desc)) => {
            format!("{} {name} CAP_{kernel}: {desc}{unsupported}", cap.as_u8())
        }
        _ => format!(
            "{} (no name: a capability newer than this library){unsupported}",
            cap.as_u8()
        ),
    }
}

/// Runs `explain` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    if args.is_empty() {
        eprint!("{USAGE}");
        return 1;
    }
    if args[0] == "-h" || args[0] == "--help" {
        print!("{USAGE}");
        return 0;
    }
    let last = capscope::kernel::last_supported().ok();
    let mut out = stdout();
    let mut status = 0;
    for a in args {
        match a.to_string_lossy().parse::<Cap>() {
            Ok(cap) => {
                let _ = writeln!(out, "{}", line(cap, last));
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("capscope explain: {e}");
                status = 1;
            }
        }
    }
    if out.flush().is_err() {
        status = 1;
    }
    status
}

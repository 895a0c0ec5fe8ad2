//! The program the launch tests start: it prints what it holds, so that a test can compare a
//! child started by capscope with one started by `setpriv`.
//!
//! ```text
//! launch-probe                 print the state
//! launch-probe touch PATH      create PATH first (to show that the program ran)
//! ```
//!
//! Output, one `Name: value` per line: the `Uid`, `Gid`, `Groups`, `CapInh`, `CapPrm`,
//! `CapEff`, `CapBnd`, `CapAmb` and `NoNewPrivs` lines of `/proc/self/status` as they are,
//! `Securebits: 0x..` (`PR_GET_SECUREBITS`), and `RawSocket: ok` or `RawSocket: errno N` for an
//! attempt to open a raw ICMP socket (which needs `CAP_NET_RAW`).

use std::io::Write;

const FIELDS: [&str; 9] = [
    "Uid",
    "Gid",
    "Groups",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, path] = args.as_slice() {
        if cmd == "touch" {
            std::fs::write(path, b"ran\n").expect("cannot create the marker file");
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let mut out = String::new();
    for name in FIELDS {
        let line = status
            .lines()
            .find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(':')))
            .unwrap_or_else(|| panic!("no {name} line"));
        let value = line[name.len() + 1..]
            .split_whitespace()
            .collect::<Vec<_>>();
        out.push_str(&format!("{name}: {}\n", value.join(" ")));
    }
    // SAFETY: prctl with integer arguments only.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    out.push_str(&format!("Securebits: {bits:#x}\n"));
    // SAFETY: plain socket(2) call; the descriptor is closed right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd >= 0 {
        // SAFETY: closing the descriptor just opened.
        unsafe { libc::close(fd) };
        out.push_str("RawSocket: ok\n");
    } else {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        out.push_str(&format!("RawSocket: errno {e}\n"));
    }
    std::io::stdout().write_all(out.as_bytes()).expect("stdout");
}

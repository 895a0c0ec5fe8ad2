//! `capscope`: libcap's command-line tools in pure Rust, on top of the capscope library.
//!
//! ```text
//! capscope getcap [-r] [-n] [-v] PATH...          as libcap's getcap
//! capscope setcap [-q] [-v] [-n ROOTID] TEXT PATH  as libcap's setcap (also -r PATH, - PATH)
//! capscope getpcaps [--verbose|--legacy|--iab] PID...   as libcap's getpcaps
//! capscope decode HEX...                          as capsh --decode=HEX
//! capscope print                                  as capsh --print
//! capscope explain CAP...                         what a capability is
//! capscope exec [OPTIONS] -- PROGRAM [ARGS...]     run a program with a declared privilege
//!                                                  state (as setpriv and capsh do)
//! capscope manifest [--format F] PROGRAM          a built program's capability manifest
//! ```
//!
//! Where a subcommand has a libcap counterpart, its output is byte for byte libcap 2.66's, and
//! its exit status and what it accepts follow the libcap tool (each module says where and why
//! capscope differs). Install with `cargo install --path examples`; run from the workspace with
//! `cargo run -p capscope-examples --bin capscope -- getcap -r /usr`.

mod cnum;
mod decode;
mod exec;
mod explain;
mod getcap;
mod getpcaps;
mod manifest;
mod out;
mod print;
mod setcap;

use std::ffi::OsString;

/// The subcommands: name, one-line summary.
const COMMANDS: &[(&str, &str)] = &[
    (
        "getcap",
        "[-r] [-n] [-v] PATH...            print file capabilities (libcap's getcap)",
    ),
    (
        "setcap",
        "[-q] [-v] [-n ROOTID] (TEXT|-|-r) PATH ...  set or remove them (libcap's setcap)",
    ),
    (
        "getpcaps",
        "[--verbose|--legacy|--iab] PID...   print processes' capabilities (libcap's getpcaps)",
    ),
    (
        "decode",
        "HEX...                            name the capabilities of a bitmask (capsh --decode)",
    ),
    (
        "print",
        "                                  print this process's capability state (capsh --print)",
    ),
    (
        "explain",
        "CAP...                           number, names and description of capabilities",
    ),
    (
        "exec",
        "[OPTIONS] -- PROGRAM [ARGS...]     run a program with a declared privilege state",
    ),
    (
        "manifest",
        "[--format FORMAT] PROGRAM       a built program's capability manifest (text, json, setcap, systemd, docker, compose, k8s)",
    ),
];

fn usage() -> String {
    let mut s = String::from("usage: capscope COMMAND [ARGS...]\n\ncommands:\n");
    for (name, summary) in COMMANDS {
        s.push_str(&format!("  {name} {summary}\n"));
    }
    s.push_str("\n`capscope COMMAND -h` prints a command's own usage.\n");
    s
}

/// Runs subcommand `name` with `args`; `None` for an unknown name.
fn dispatch(name: &str, args: &[OsString]) -> Option<i32> {
    Some(match name {
        "getcap" => getcap::run(args),
        "setcap" => setcap::run(args),
        "getpcaps" => getpcaps::run(args),
        "decode" => decode::run(args),
        "print" => print::run(args),
        "explain" => explain::run(args),
        "exec" => exec::run(args),
        "manifest" => manifest::run(args),
        _ => return None,
    })
}

fn main() {
    // Like the C tools: a closed pipe (`capscope getcap -r / | head`) ends the program
    // quietly instead of making every write fail.
    // SAFETY: restoring the default disposition of SIGPIPE, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut args = std::env::args_os().skip(1);
    let Some(cmd) = args.next() else {
        eprint!("{}", usage());
        std::process::exit(1);
    };
    let rest: Vec<OsString> = args.collect();
    let name = cmd.to_string_lossy();
    let code = match name.as_ref() {
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            0
        }
        _ => dispatch(&name, &rest).unwrap_or_else(|| {
            eprint!("capscope: unknown command {name:?}\n\n{}", usage());
            1
        }),
    };
    std::process::exit(code);
}

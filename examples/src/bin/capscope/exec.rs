//! `capscope exec [OPTIONS] -- PROGRAM [ARGS...]`: run a program with a declared privilege
//! state, as `setpriv` and `capsh` do, with capscope's launcher (`capscope::launch`).
//!
//! Options (each at most once; `--opt VALUE` and `--opt=VALUE` both work):
//!
//! | option | meaning | setpriv |
//! |---|---|---|
//! | `--uid N` | real, effective, saved and filesystem uid | `--reuid` |
//! | `--gid N` | real, effective, saved and filesystem gid; needs one of the next three | `--regid` |
//! | `--groups N,N...` | exactly these supplementary groups | `--groups` |
//! | `--clear-groups` | no supplementary groups | `--clear-groups` |
//! | `--keep-groups` | the current supplementary groups | `--keep-groups` |
//! | `--caps TEXT` | the effective, permitted and inheritable sets, as libcap's text (`cap_net_raw=eip`); not with `--inh` | |
//! | `--inh LIST` | exactly this inheritable set (`cap_a,cap_b`; empty for none); not with `--caps` | `--inh-caps` |
//! | `--ambient LIST` | exactly this ambient set (added to the permitted and inheritable sets) | `--ambient-caps` |
//! | `--bounding-keep LIST` | drop every other capability from the bounding set | `--bounding-set` |
//! | `--secbits BITS` | exactly these securebits: names joined by commas (`noroot,noroot_locked`), or a number (`0x3`) | `--securebits` |
//! | `--no-new-privs`, `--nnp` | set no_new_privs | `--nnp` |
//! | `--keep-caps` | keep the permitted set across the uid change | |
//! | `--verify` | check the running program's state from `/proc` (kill it and fail when it differs or cannot be checked) | |
//!
//! Capability lists are libcap's (`cap_net_raw,cap_chown`, any case, `cap_` optional,
//! numbers); securebit names are the kernel's without `SECBIT_` (`noroot`, `noroot_locked`,
//! `no_setuid_fixup`, `no_setuid_fixup_locked`, `keep_caps`, `keep_caps_locked`,
//! `no_cap_ambient_raise`, `no_cap_ambient_raise_locked`, `exec_restrict_file`,
//! `exec_restrict_file_locked`, `exec_deny_interactive`, `exec_deny_interactive_locked`).
//! Where setpriv's options add to or remove from the current sets (`+cap`, `-cap`), capscope's
//! say what the set is.
//!
//! Everything is checked before anything starts. Exit status: the program's; 128+N when a
//! signal N ended it (as a shell reports it); 125 when capscope refused the options or the
//! state, or could not check the state (nothing started); 126 when a step failed in the child
//! (the program did not run) or the program cannot be executed, or `--verify` found a mismatch
//! or could not check; 127 when the program is not found.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use capscope::launch::{CommandExt, Launch};
use capscope::{CapSet, CapState, Errno, Error, Op, Secbits};

const USAGE: &str = "usage: capscope exec [OPTIONS] -- PROGRAM [ARGS...]

Runs PROGRAM with a declared privilege state (checked before anything starts).

  --uid N                  real, effective, saved and filesystem uid (setpriv --reuid)
  --gid N                  real, effective, saved and filesystem gid (setpriv --regid);
                           needs --groups, --clear-groups or --keep-groups
  --groups N,N...          exactly these supplementary groups
  --clear-groups           no supplementary groups
  --keep-groups            the current supplementary groups
  --caps TEXT              effective, permitted and inheritable sets, libcap's text
                           (e.g. cap_net_raw=eip); not with --inh
  --inh LIST               exactly this inheritable set (libcap list: cap_a,cap_b);
                           not with --caps
  --ambient LIST           exactly this ambient set (added to permitted and inheritable)
  --bounding-keep LIST     keep only these in the bounding set
  --secbits BITS           exactly these securebits: noroot,noroot_locked,... or a number
  --no-new-privs, --nnp    set no_new_privs
  --keep-caps              keep the permitted set across the uid change
  --verify                 check the running program's state; kill it when it differs
                           or cannot be checked

Exit status: the program's (128+N for signal N); 125 refused (or not checkable) before
starting; 126 a step failed in the child or PROGRAM cannot run, or --verify found a
mismatch or could not check; 127 not found.
";

const REFUSED: i32 = 125;
const CANNOT_RUN: i32 = 126;
const NOT_FOUND: i32 = 127;

/// What the command line asks for.
#[derive(Default)]
struct Request {
    launch: Launch,
    verify: bool,
    program: Vec<OsString>,
}

fn id(opt: &str, v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .map_err(|_| format!("{opt}: {v:?} is not a number from 0 to 4294967294"))
}

fn caps(opt: &str, v: &str) -> Result<CapSet, String> {
    v.parse::<CapSet>().map_err(|e| {
        let hint = match e.suggestion() {
            Some(s) => format!(" (did you mean {s}?)"),
            None if v.starts_with('+') || v.starts_with('-') => {
                " (capscope takes the list the set becomes, as libcap writes it: cap_net_raw,cap_chown)"
                    .to_owned()
            }
            None => String::new(),
        };
        format!("{opt}: {:?} is not a capability{hint}", e.input())
    })
}

fn secbits(v: &str) -> Result<Secbits, String> {
    let number = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() => v.parse().ok(),
        None => None,
    };
    if let Some(n) = number {
        return Ok(Secbits::from_bits_retain(n));
    }
    let mut bits = Secbits::empty();
    for name in v.split(',').filter(|n| !n.is_empty()) {
        // The kernel's names without `SECBIT_`, which are the flags' names, in any case.
        let name = name.to_ascii_uppercase();
        let name = name.strip_prefix("SECBIT_").unwrap_or(&name);
        bits |= Secbits::from_name(name).ok_or_else(|| {
            let known: Vec<String> = Secbits::all()
                .iter_names()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect();
            format!(
                "--secbits: {:?} is not a securebit (known: {})",
                name.to_ascii_lowercase(),
                known.join(", ")
            )
        })?;
    }
    Ok(bits)
}

fn parse(args: &[OsString]) -> Result<Option<Request>, String> {
    let mut r = Request::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut groups_given = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_str().ok_or_else(|| {
            format!(
                "{:?}: options are UTF-8 (the program and its arguments need not be)",
                args[i]
            )
        })?;
        i += 1;
        if arg == "--" {
            r.program = args[i..].to_vec();
            break;
        }
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        const FLAGS: [&str; 6] = [
            "--clear-groups",
            "--keep-groups",
            "--no-new-privs",
            "--nnp",
            "--keep-caps",
            "--verify",
        ];
        const VALUED: [&str; 9] = [
            "--uid",
            "--gid",
            "--groups",
            "--caps",
            "--inh",
            "--ambient",
            "--bounding-keep",
            "--secbits",
            "--securebits",
        ];
        let canonical = match name {
            "--nnp" => "--no-new-privs",
            "--securebits" => "--secbits",
            n => n,
        };
        if !FLAGS.contains(&name) && !VALUED.contains(&name) {
            return Err(if name.starts_with('-') {
                format!("unknown option {name:?}")
            } else {
                format!(
                    "{name:?}: put `--` before the program (capscope exec [OPTIONS] -- PROGRAM)"
                )
            });
        }
        if seen.contains(&canonical) {
            return Err(format!("{canonical} given twice"));
        }
        seen.push(canonical);
        let value = if VALUED.contains(&name) {
            match inline {
                Some(v) => v,
                None => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| format!("{name} needs a value"))?
                        .to_str()
                        .ok_or_else(|| format!("{name}: the value is not UTF-8"))?;
                    i += 1;
                    v
                }
            }
        } else if inline.is_some() {
            return Err(format!("{name} takes no value"));
        } else {
            ""
        };
        let l = std::mem::take(&mut r.launch);
        r.launch = match canonical {
            "--uid" => l.uid(id(name, value)?),
            "--gid" => l.gid(id(name, value)?),
            "--groups" | "--clear-groups" | "--keep-groups" => {
                if groups_given {
                    return Err(
                        "--groups, --clear-groups and --keep-groups exclude each other".to_owned(),
                    );
                }
                groups_given = true;
                match canonical {
                    "--groups" => l.groups(
                        value
                            .split(',')
                            .map(|g| id(name, g))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    "--clear-groups" => l.clear_groups(),
                    _ => l.keep_groups(),
                }
            }
            "--caps" | "--inh" if seen.contains(&"--caps") && seen.contains(&"--inh") => {
                return Err(
                    "--caps and --inh exclude each other (--caps sets the inheritable set too)"
                        .to_owned(),
                );
            }
            "--caps" => l.caps(
                value
                    .parse::<CapState>()
                    .map_err(|e| format!("--caps: {value:?}: {e}"))?,
            ),
            "--inh" => l.inheritable(caps(name, value)?),
            "--ambient" => l.ambient(caps(name, value)?),
            "--bounding-keep" => l.bounding_keep(caps(name, value)?),
            "--secbits" => l.securebits(secbits(value)?),
            "--no-new-privs" => l.no_new_privs(),
            "--keep-caps" => l.keep_caps(),
            _ => {
                r.verify = true;
                l
            }
        };
    }
    if r.program.is_empty() {
        return Err("no program given (capscope exec [OPTIONS] -- PROGRAM [ARGS...])".to_owned());
    }
    Ok(Some(r))
}

/// The exit status for a spawn (or `--verify`) that failed; the state was checked before.
fn failed(program: &OsStr, e: &Error) -> i32 {
    eprintln!("capscope exec: {}: {e}", Path::new(program).display());
    match e {
        Error::InvalidInput { .. } | Error::Refused { .. } | Error::Unsupported { .. }
            if e.op() == Some(Op::Launch) =>
        {
            REFUSED
        }
        _ if e.op() == Some(Op::Spawn) && e.errno() == Some(Errno::NOENT) => NOT_FOUND,
        _ => CANNOT_RUN,
    }
}

/// Runs `capscope exec` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    let r = match parse(args) {
        Ok(Some(r)) => r,
        Ok(None) => {
            print!("{USAGE}");
            return 0;
        }
        Err(why) => {
            eprint!("capscope exec: {why}\n\n{USAGE}");
            return REFUSED;
        }
    };
    // Checked first, so that whatever refuses the state (or keeps it from being checked) ends
    // with 125, before anything starts; `launch` checks it again (the same thread, the same
    // answer) and then spawns.
    if let Err(e) = r.launch.plan() {
        eprintln!("capscope exec: {e}");
        return REFUSED;
    }
    let mut cmd = Command::new(&r.program[0]);
    cmd.args(&r.program[1..]);
    let launched = if r.verify {
        cmd.launch_verified(&r.launch).map(|(child, _)| child)
    } else {
        cmd.launch(&r.launch)
    };
    let mut child = match launched {
        Ok(c) => c,
        Err(e) => return failed(&r.program[0], &e),
    };
    // Like a shell running a command: the terminal's interrupt and quit go to the program,
    // which decides; capscope reports how it ended.
    // SAFETY: setting the disposition of two signals to "ignore"; no handler runs.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => CANNOT_RUN,
        },
        Err(e) => {
            eprintln!("capscope exec: waiting for the program: {e}");
            CANNOT_RUN
        }
    }
}

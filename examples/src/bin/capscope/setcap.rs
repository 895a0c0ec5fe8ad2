//! `capscope setcap [-q] [-v] [-n ROOTID] (TEXT|-|-r) PATH ...`: libcap 2.66's `setcap`, with
//! the same acceptance and refusal and the same resulting attribute bytes.
//!
//! Arguments are read in order, as setcap reads them: `-q` (quiet) and `-v` (verify instead
//! of set) hold from where they appear on, `-n ROOTID` sets the namespace root uid of what
//! follows (a uid from 1 to 4294967294, read as C's `strtoul` with base 0, so `0x3e8` is
//! 1000; the attribute is then revision 3), and each `TEXT PATH` pair sets `PATH`'s
//! capabilities to libcap's text `TEXT` (`-` reads it from standard input, `-r` removes
//! them). Setting raises `CAP_SETFCAP` into the effective set first, as setcap does, and
//! fails when it is not permitted. The first failure ends the command with status 1; the
//! pairs before it are done.
//!
//! Like setcap, it refuses a symlink (and anything else but a regular file) as `PATH`, and a
//! text whose effective set is neither empty nor every permitted and inheritable capability.
//! Unlike setcap, it also refuses numbers in hex, octal or with leading zeros in `TEXT`
//! (libcap reads `010` as 8) and a NUL byte; a `-n` ROOTID that is not a uid from 1 to
//! 4294967294 (setcap keeps the low 32 bits: `4294967296` silently writes a capability for
//! every namespace, `4294967297` one for rootid 1, ` -5` one for rootid 4294967291); and its
//! messages name the path and the cause.
//! `-v` compares as setcap does: the text's three sets against the file's (libcap's reading
//! of them, through a symlink too), and the rootid. `--license` prints capscope's license
//! where setcap prints libcap's.

use std::ffi::OsString;
use std::io::Write;

use crate::cnum::strtoul_whole;
use crate::getcap::read_caps;
use crate::out::{bytes, err_bytes, stdout};
use capscope::{Cap, CapState, FileCaps, RaiseGuard};

const USAGE: &str = "usage: setcap [-h] [-q] [-v] [-n <rootid>] (-r|-|<caps>) <filename> \
[ ... (-r|-|<capsN>) <filenameN> ]

 Note <filename> must be a regular (non-symlink) file.
 -r          remove capability from file
 -           read capability text from stdin
 <capsN>     cap_from_text(3) formatted file capability
 [ Note: capsh --suggest=\"something...\" might help you pick. ]
 -h          this message and exit status 0
 -q          quietly
 -v          validate supplied capability matches file
 -n <rootid> write a user namespace (!= 0) limited capability
 --license   display the license info
";

fn usage(code: i32) -> i32 {
    err_bytes(&[USAGE.as_bytes()]);
    code
}

/// setcap reads at most this many bytes of text from standard input.
const MAXCAP: usize = 2048;

/// Runs `setcap` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    if args.is_empty() {
        return usage(1);
    }
    let last = match capscope::kernel::last_supported() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("setcap: cannot find the kernel's last capability: {e}");
            return 1;
        }
    };
    let (mut quiet, mut verify, mut rootid) = (false, false, 0u32);
    // Kept raised until the command ends, as setcap leaves it raised.
    let mut raised: Option<RaiseGuard> = None;
    let mut out = stdout();
    let mut i = 0;
    while i < args.len() {
        let a = bytes(&args[i]);
        i += 1;
        match a {
            b"-q" => {
                quiet = true;
                continue;
            }
            b"--license" => {
                let _ = writeln!(
                    out,
                    "capscope setcap: MIT OR Apache-2.0 (libcap's setcap is its model)"
                );
                return 0;
            }
            b"-h" => return usage(0),
            b"-v" => {
                verify = true;
                continue;
            }
            b"-n" => {
                let Some(n) = args.get(i) else {
                    eprintln!("setcap: -n needs a rootid (a positive number)");
                    return 1;
                };
                i += 1;
                let n = bytes(n);
                match rootid_arg(n) {
                    Some(v) => rootid = v,
                    None => {
                        err_bytes(&[
                            b"setcap: bad ns rootid: want a positive integer below 4294967295, \
                              got \"",
                            n,
                            b"\"\n",
                        ]);
                        return 1;
                    }
                }
                continue;
            }
            _ => {}
        }
        // A capability text (or -r), then a path.
        let state = if a == b"-r" {
            None
        } else {
            let text = if a == b"-" {
                match read_stdin(quiet) {
                    Some(t) => t,
                    None => return usage(1),
                }
            } else {
                a.to_vec()
            };
            match CapState::from_text_for(&text, last) {
                Ok(s) => Some(s),
                Err(e) => {
                    err_bytes(&[b"setcap: invalid capability text \"", &text, b"\": "]);
                    eprintln!("{e}");
                    return usage(1);
                }
            }
        };
        let Some(path) = args.get(i) else {
            return usage(1);
        };
        i += 1;
        let code = if verify {
            verify_file(
                &mut out,
                quiet,
                state.unwrap_or(CapState::empty()),
                rootid,
                bytes(path),
            )
        } else {
            if raised.is_none() {
                match RaiseGuard::raise(Cap::SETFCAP) {
                    Ok(g) => raised = Some(g),
                    Err(e) => {
                        eprintln!(
                            "setcap: cannot raise CAP_SETFCAP, which setting file capabilities \
                             needs: {e}"
                        );
                        return 1;
                    }
                }
            }
            set_file(state, rootid, path)
        };
        if code != 0 {
            let _ = out.flush();
            return code;
        }
    }
    let _ = out.flush();
    drop(raised);
    0
}

/// `-n ROOTID`: read as setcap reads it (`strtoul` with base 0, the whole text), then only
/// a uid from 1 to 4294967294. setcap keeps the low 32 bits of what `strtoul` returns, so
/// `4294967296` becomes 0 (a capability for every namespace, silently), `4294967297` becomes
/// 1, and ` -5` (a sign after spaces, which `strtoul` negates) becomes 4294967291; and
/// 4294967295 is the invalid uid (-1). capscope refuses all of these.
fn rootid_arg(n: &[u8]) -> Option<u32> {
    if n.contains(&b'-') {
        return None;
    }
    strtoul_whole(n)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v != 0 && v != u32::MAX)
}

/// Sets (or, for `None`, removes) the capabilities of `path`.
fn set_file(state: Option<CapState>, rootid: u32, path: &OsString) -> i32 {
    let shown = std::path::Path::new(path).display();
    let Some(state) = state else {
        return match FileCaps::remove_for_file(path) {
            Ok(true) => 0,
            Ok(false) => {
                eprintln!("setcap: {shown}: has no file capabilities to remove");
                1
            }
            Err(e) => {
                eprintln!("setcap: {e}");
                1
            }
        };
    };
    let fc = match FileCaps::from_state(&state) {
        Ok(fc) => FileCaps {
            rootid: (rootid != 0).then_some(rootid),
            ..fc
        },
        Err(e) => {
            eprintln!("setcap: {shown}: {e}");
            return 1;
        }
    };
    match fc.set_for_file(path) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("setcap: {e}");
            1
        }
    }
}

/// `-v`: compares `want` (and `rootid`) with what libcap reads from `path` (through symlinks,
/// as `cap_get_file` reads; no attribute, or none readable, is the empty state with rootid 0).
fn verify_file(out: &mut impl Write, quiet: bool, want: CapState, rootid: u32, path: &[u8]) -> i32 {
    let on_file = std::ffi::CString::new(path)
        .ok()
        .and_then(|p| read_caps(&p, true).ok().flatten());
    let (have, have_rootid) = match on_file {
        Some(fc) => (fc.to_state(), fc.rootid.unwrap_or(0)),
        None => (CapState::empty(), 0),
    };
    if have == want && have_rootid == rootid {
        if !quiet {
            let _ = out.write_all(path);
            let _ = out.write_all(b": OK\n");
        }
        return 0;
    }
    if !quiet {
        if have_rootid != rootid {
            let _ = write!(
                out,
                "nsowner[got={}, want={}],",
                have_rootid as i32, rootid as i32
            );
        }
        let _ = out.write_all(path);
        let _ = writeln!(
            out,
            " differs in [{}{}{}]",
            if have.permitted != want.permitted {
                "p"
            } else {
                ""
            },
            if have.inheritable != want.inheritable {
                "i"
            } else {
                ""
            },
            if have.effective != want.effective {
                "e"
            } else {
                ""
            },
        );
    }
    1
}

/// setcap's `-`: reads standard input in `read` chunks until end of file, a chunk that starts
/// with a newline (an empty line typed at a terminal), or 2048 bytes. `None` when nothing was
/// read. The text ends at a NUL byte, as a C string does.
fn read_stdin(quiet: bool) -> Option<Vec<u8>> {
    if !quiet {
        eprintln!("Please enter caps for file [empty line to end]:");
    }
    let mut buf = vec![0u8; MAXCAP];
    let mut len = 0;
    let stdin = std::io::stdin();
    while len < MAXCAP {
        // One read(2) per chunk, unbuffered, as setcap reads.
        match rustix::io::read(&stdin, &mut buf[len..]) {
            Ok(0) => break,
            Ok(_) if buf[len] == b'\n' => break,
            Ok(n) => len += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => {
                eprintln!("\n[Error - aborting]");
                std::process::exit(1);
            }
        }
    }
    if len == 0 {
        return None;
    }
    buf.truncate(len);
    if let Some(nul) = buf.iter().position(|&b| b == 0) {
        buf.truncate(nul);
    }
    Some(buf)
}

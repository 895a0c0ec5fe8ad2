//! `capscope print`: `capsh --print` (libcap 2.66), byte for byte, for the calling process.
//!
//! The capability lines are [`FullCapState::print_for`] with the running kernel's last
//! capability; then the lines capsh adds: `uid=U(name) euid=U(name)`, `gid=G(name)`,
//! `groups=...` and `Guessed mode: MODE (N)` (libcap's `cap_get_mode`).
//!
//! Names come from `/etc/passwd` and `/etc/group`, read directly (no NSS: see
//! [`Names`](crate::out::Names)); capsh asks NSS, so the two differ only for ids that NSS
//! finds elsewhere (LDAP, systemd's dynamic users). As in capsh, more than 100 supplementary
//! groups print none (its `getgroups` buffer holds 100).

use std::ffi::OsString;
use std::io::Write;

use capscope::{Cap, CapSet, FullCapState, Secbits, ThreadIds};

use crate::out::{stdout, Names};

/// The usage line.
pub(crate) const USAGE: &str = "usage: capscope print\n\n\
    \tprints the calling process's capability state and ids, as capsh --print does\n";

/// capsh's `MAX_GROUPS`: the most groups it lists.
const MAX_GROUPS: usize = 100;

/// libcap's `cap_get_mode`: which of its predefined modes the state is in, as a name and
/// number.
pub(crate) fn guessed_mode(s: &FullCapState, last: Cap) -> (&'static str, u8) {
    const UNCERTAIN: (&str, u8) = ("UNCERTAIN", 0);
    // CAP_SECURED_BITS_BASIC and CAP_SECURED_BITS_AMBIENT of libcap.
    const BASIC: Secbits = Secbits::NOROOT
        .union(Secbits::NOROOT_LOCKED)
        .union(Secbits::NO_SETUID_FIXUP)
        .union(Secbits::NO_SETUID_FIXUP_LOCKED)
        .union(Secbits::KEEP_CAPS_LOCKED);
    const AMBIENT: Secbits = BASIC
        .union(Secbits::NO_CAP_AMBIENT_RAISE)
        .union(Secbits::NO_CAP_AMBIENT_RAISE_LOCKED);
    let bits = s.securebits.unwrap_or_default();
    if bits.is_empty() {
        return ("HYBRID", 4);
    }
    if !bits.contains(BASIC) {
        return UNCERTAIN;
    }
    let within = CapSet::up_to(last);
    if !(s.ambient & within).is_empty() || bits != AMBIENT {
        return UNCERTAIN;
    }
    if !s.caps.inheritable.is_empty() {
        return ("PURE1E", 3);
    }
    if !s.caps.permitted.is_empty()
        || !s.caps.effective.is_empty()
        || !(s.bounding & within).is_empty()
    {
        return ("PURE1E_INIT", 2);
    }
    ("NOPRIV", 1)
}

/// Runs `print` with `args`; returns the exit status.
pub(crate) fn run(args: &[OsString]) -> i32 {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            print!("{USAGE}");
            return 0;
        }
        eprint!("capscope print: unexpected argument {a:?}\n{USAGE}");
        return 1;
    }
    let got = capscope::kernel::last_supported()
        .and_then(|last| Ok((last, FullCapState::get_current()?, ThreadIds::current()?)));
    let (last, state, ids) = match got {
        Ok(x) => x,
        Err(e) => {
            eprintln!("capscope print: {e}");
            return 1;
        }
    };
    let (users, groups) = (Names::read("/etc/passwd"), Names::read("/etc/group"));
    let mut out = stdout();
    let _ = write!(out, "{}", state.print_for(last));
    let _ = writeln!(
        out,
        "uid={}({}) euid={}({})",
        ids.uid,
        users.name(ids.uid),
        ids.euid,
        users.name(ids.euid)
    );
    let _ = writeln!(out, "gid={}({})", ids.gid, groups.name(ids.gid));
    let _ = out.write_all(b"groups=");
    if ids.groups.len() <= MAX_GROUPS {
        for (i, g) in ids.groups.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(out, "{sep}{g}({})", groups.name(*g));
        }
    }
    let _ = out.write_all(b"\n");
    let (name, n) = guessed_mode(&state, last);
    let _ = writeln!(out, "Guessed mode: {name} ({n})");
    i32::from(out.flush().is_err())
}

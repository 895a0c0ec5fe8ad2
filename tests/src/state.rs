//! Reading and arranging the calling thread's capability state in tests, and what a program
//! run now (`execve`) gets.

use capscope::{CapSet, CapState, FullCapState};

use crate::{check, ensure, Verdict};

/// The calling thread's effective set.
///
/// # Panics
///
/// If `capget` fails.
#[must_use]
pub fn effective() -> CapSet {
    CapState::get_current().expect("capget").effective
}

/// Keeps `pool` in the permitted set but lowers it from the effective set (so a scope has
/// something to raise).
///
/// # Errors
///
/// When the permitted set lacks part of `pool`, or `capset` fails.
pub fn lower(pool: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(
        s.permitted.is_superset(pool),
        "the child lacks {:?} in its permitted set",
        pool - s.permitted
    );
    check!(CapState {
        effective: s.effective - pool,
        ..s
    }
    .set_current());
    Ok(())
}

/// Removes `caps` from the effective, permitted and inheritable sets (so a scope misses them).
///
/// # Errors
///
/// When `capget` or `capset` fails.
pub fn unpermit(caps: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    check!(CapState {
        effective: s.effective - caps,
        permitted: s.permitted - caps,
        inheritable: s.inheritable - caps
    }
    .set_current());
    Ok(())
}

/// The calling thread's full state (ambient, bounding, securebits, no_new_privs...).
///
/// # Errors
///
/// When `/proc/self/task/<tid>/status` cannot be read.
pub fn full() -> Result<FullCapState, String> {
    FullCapState::get_for_thread(std::process::id(), capscope::current_tid())
        .map_err(|e| format!("FullCapState::get_for_thread: {e}"))
}

/// Checks that the effective, permitted, inheritable and ambient sets are all empty.
///
/// # Errors
///
/// When one is not, or cannot be read.
pub fn all_dropped() -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(s == CapState::empty(), "capget after the drop: {s:?}");
    let full = full()?;
    ensure!(full.ambient.is_empty(), "ambient: {:?}", full.ambient);
    Ok(())
}

/// The `/proc/self/status` of a program run now: `/bin/cat /proc/self/status`, started with
/// `execve` from the calling thread. What it shows is what `execve` gives a program.
///
/// # Errors
///
/// When `/bin/cat` cannot run or fails.
pub fn exec_status() -> Result<String, String> {
    let out = std::process::Command::new("/bin/cat")
        .arg("/proc/self/status")
        .output()
        .map_err(|e| format!("exec /bin/cat: {e}"))?;
    ensure!(out.status.success(), "/bin/cat failed: {:?}", out);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of field `name` of a `/proc/<pid>/status` text, words separated by one space
/// (`Uid` gives `"65534 65534 65534 65534"`); empty when the field is missing.
#[must_use]
pub fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A capability field of a `/proc/<pid>/status` text (`CapPrm`, ...) as a set.
///
/// # Errors
///
/// When the field is missing or not hexadecimal.
pub fn status_caps(status: &str, name: &str) -> Result<CapSet, String> {
    let v = status_field(status, name);
    u64::from_str_radix(&v, 16)
        .map(CapSet::from_bits)
        .map_err(|e| format!("{name}: {v:?}: {e}"))
}

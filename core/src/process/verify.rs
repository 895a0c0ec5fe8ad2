//! Reading the process's threads from outside: the thread list, a thread's blocked-signal mask,
//! and the final check that every thread holds the state a broadcast asked for.
//!
//! Thread states are read with `capget(tid)` (effective, permitted, inheritable) and from
//! `/proc/self/task/<tid>/status` (ambient, bounding, no_new_privs). Securebits are not visible
//! from outside a thread; for them the handler's own read-back is the check.

use crate::error::{Error, Result};
use crate::model::full::status_field;
use crate::sys::proc::{list_tasks_settled, task_status};
use crate::{CapState, FullCapState};

use super::handler::Op;

/// Whether `e` means the thread is gone (it exited between listing and reading).
fn gone(e: &Error) -> bool {
    matches!(e.code(), Some(c) if c == rustix::io::Errno::SRCH.raw_os_error() || c == rustix::io::Errno::NOENT.raw_os_error())
}

/// What `op` leaves in a thread, as far as it can be seen from outside.
fn caps_ok(op: Op, caps: CapState) -> bool {
    match op {
        Op::SetCaps(want) => caps == want,
        Op::SetIds {
            preserve_effective: false,
            ..
        } => caps.effective.is_empty(),
        Op::DropAll { keep, .. } => {
            caps.effective.is_empty()
                && caps.inheritable.is_empty()
                && caps.permitted.is_subset(keep)
        }
        _ => true,
    }
}

fn full_ok(op: Op, s: &FullCapState) -> bool {
    match op {
        Op::BoundingDrop { caps } => s.bounding.intersection(caps).is_empty(),
        Op::AmbientClear { .. } => s.ambient.is_empty(),
        Op::AmbientRaise { caps } => s.ambient.is_superset(caps),
        Op::NoNewPrivs => s.no_new_privs,
        Op::DropAll {
            keep,
            bounding,
            no_new_privs,
            ..
        } => {
            caps_ok(op, s.caps)
                && s.ambient.is_empty()
                && (!bounding || s.bounding.is_subset(keep))
                && (!no_new_privs || s.no_new_privs)
        }
        Op::SetCaps(_) | Op::Securebits(_) | Op::SetIds { .. } => true,
    }
}

fn needs_proc(op: Op) -> bool {
    !matches!(op, Op::SetCaps(_) | Op::Securebits(_))
}

/// The numbers of a `/proc/<pid>/status` field such as `Uid` or `Groups`.
fn numbers(text: &str, name: &str) -> Option<Vec<u32>> {
    status_field(text, name)?
        .split_ascii_whitespace()
        .map(|n| n.parse().ok())
        .collect()
}

/// Whether the ids in a status text are those a `cap_set_ids` asked for: all four uids (real,
/// effective, saved, filesystem), the same for gids, the groups as a multiset.
fn ids_ok(text: &str, op: Op, groups: Option<&[u32]>) -> bool {
    let Op::SetIds { uid, gid, .. } = op else {
        return true;
    };
    let four = |name, id: Option<u32>| id.is_none_or(|id| numbers(text, name) == Some(vec![id; 4]));
    let groups_ok = groups.is_none_or(|want| {
        let mut want = want.to_vec();
        want.sort_unstable();
        numbers(text, "Groups").is_some_and(|mut got| {
            got.sort_unstable();
            got == want
        })
    });
    four("Uid", uid) && four("Gid", gid) && groups_ok
}

/// Whether thread `tid` already holds the state `op` asks for, as far as it can be seen from
/// outside; `false` when that cannot be told (securebits, ids) or the thread is gone.
pub(super) fn already_done(op: Op, tid: u32) -> bool {
    match op {
        Op::Securebits(_) | Op::SetIds { .. } => false,
        Op::SetCaps(_) => CapState::get_for_pid(tid).is_ok_and(|c| caps_ok(op, c)),
        _ => std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
            .ok()
            .and_then(|t| FullCapState::from_status(&t).ok())
            .is_some_and(|s| full_ok(op, &s)),
    }
}

/// Checks every thread of the process now. Returns how many threads were checked and those
/// whose state is not what `op` asked for. Threads that exited meanwhile are not counted.
pub(super) fn verify_all(op: Op, groups: Option<&[u32]>) -> Result<(usize, Vec<u32>)> {
    let pid = std::process::id();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for tid in list_tasks_settled()? {
        let caps = match CapState::get_for_pid(tid) {
            Ok(c) => c,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        let mut good = caps_ok(op, caps);
        if good && needs_proc(op) {
            let text = match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {
                    continue
                }
                Err(e) => return Err(Error::from_io("read /proc/self/task/<tid>/status", &e)),
            };
            good = full_ok(op, &FullCapState::from_status(&text)?) && ids_ok(&text, op, groups);
        }
        if !good && task_status(tid).is_none_or(|s| s.zombie) {
            continue; // exited meanwhile (a zombie main thread keeps its old credentials)
        }
        checked += 1;
        if !good {
            wrong.push(tid);
        }
    }
    Ok((checked, wrong))
}

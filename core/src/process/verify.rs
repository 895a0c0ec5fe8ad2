//! Reading the process's threads from outside: the thread list, a thread's blocked-signal mask,
//! and the final check that every thread holds the state a broadcast asked for.
//!
//! Thread states are read with `capget(tid)` (effective, permitted, inheritable) and from
//! `/proc/self/task/<tid>/status` (ambient, bounding, no_new_privs). Securebits are not visible
//! from outside a thread; for them the handler's own read-back is the check.

use crate::error::{Error, Result};
use crate::full::status_field;
use crate::{CapState, FullCapState};

use super::handler::Op;

const OP_LIST: &str = "read /proc/self/task";

/// The thread ids of the calling process, from `/proc/self/task`.
pub(super) fn list_tasks() -> Result<Vec<u32>> {
    let dir = std::fs::read_dir("/proc/self/task").map_err(|e| Error::from_io(OP_LIST, &e))?;
    let mut tids = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| Error::from_io(OP_LIST, &e))?;
        let name = entry.file_name();
        let tid = name
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| Error::kernel(OP_LIST, format!("entry {name:?} is not a thread id")))?;
        tids.push(tid);
    }
    if tids.is_empty() {
        return Err(Error::kernel(
            OP_LIST,
            "no thread listed (is /proc mounted?)",
        ));
    }
    Ok(tids)
}

/// A listing of `/proc/self/task` that can be trusted not to have lost threads.
///
/// The kernel's readdir of `/proc/<pid>/task` walks the thread list and stops early when the
/// thread it stands on exits meanwhile (`next_tid()` ends the walk once `pid_alive()` fails),
/// so a listing taken while threads exit can miss every thread after the one that exited.
/// A listing is accepted only when the kernel's thread count read just before and just after
/// it is the same and the listing holds at least that many threads (a zombie main thread is
/// listed but not counted). What such a listing can still miss is a thread born during it,
/// at the end of the list; the broadcast's next pass finds it. Otherwise the listing is taken
/// again, up to [`SETTLE_TRIES`] times.
pub(super) fn list_tasks_settled() -> Result<Vec<u32>> {
    for _ in 0..SETTLE_TRIES {
        let before = num_threads()?;
        let tids = list_tasks()?;
        let after = num_threads()?;
        if before == after && tids.len() >= after {
            return Ok(tids);
        }
        std::thread::yield_now();
    }
    Err(Error::kernel(
        OP_LIST,
        format!("threads kept starting or exiting during {SETTLE_TRIES} listings"),
    ))
}

/// How many times [`list_tasks_settled`] lists before it gives up.
const SETTLE_TRIES: u32 = 10_000;

/// The kernel's count of the process's threads (`num_threads`, field 20 of `/proc/self/stat`).
pub(crate) fn num_threads() -> Result<usize> {
    const OP: &str = "read /proc/self/stat";
    let text = std::fs::read_to_string("/proc/self/stat").map_err(|e| Error::from_io(OP, &e))?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| Error::kernel(OP, "no ')' in /proc/self/stat"))?;
    // Fields after the name start with field 3 (state); num_threads is field 20.
    rest.split_ascii_whitespace()
        .nth(20 - 3)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| Error::kernel(OP, "no num_threads field in /proc/self/stat"))
}

/// What `/proc/self/task/<tid>/status` says about a thread's liveness and signal mask.
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskStatus {
    /// The thread has exited (state `Z` or `X`); a zombie main thread stays listed.
    pub(super) zombie: bool,
    /// The thread is running or runnable (state `R`).
    pub(super) running: bool,
    /// Its blocked-signal mask (`SigBlk`).
    pub(super) sigblk: u64,
}

impl TaskStatus {
    /// Whether the thread blocks every standard signal (1–31 but SIGKILL and SIGSTOP, which
    /// cannot be blocked): what glibc does around thread creation and exit.
    pub(super) fn blocks_all(&self) -> bool {
        const STANDARD: u64 = ((1 << 31) - 1) & !(1 << (9 - 1)) & !(1 << (19 - 1));
        self.sigblk & STANDARD == STANDARD
    }

    /// Whether the thread blocks `sig`.
    pub(super) fn blocks(&self, sig: i32) -> bool {
        matches!(u32::try_from(sig - 1), Ok(bit) if bit < 64 && self.sigblk & 1 << bit != 0)
    }
}

/// The status of thread `tid`: `None` when it is gone or the file cannot be read.
pub(super) fn task_status(tid: u32) -> Option<TaskStatus> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    let state = status_field(&text, "State")?;
    let sigblk = u64::from_str_radix(status_field(&text, "SigBlk")?, 16).ok()?;
    Some(TaskStatus {
        zombie: state.starts_with('Z') || state.starts_with('X'),
        running: state.starts_with('R'),
        sigblk,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_this_thread_and_counts_threads() {
        let me = crate::current_tid();
        assert!(list_tasks_settled().unwrap().contains(&me));
        assert!(num_threads().unwrap() >= 1);
    }

    #[test]
    fn sees_a_blocked_signal() {
        let sig = libc::SIGRTMAX() - 1;
        let tid = crate::current_tid();
        // SAFETY: plain sigset manipulation on a local, then pthread_sigmask on this thread.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            let mut old: libc::sigset_t = core::mem::zeroed();
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old), 0);
            let status = task_status(tid).unwrap();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()),
                0
            );
            assert!(status.blocks(sig));
            assert!(!status.blocks_all());
            assert!(!status.zombie);
        }
        assert!(!task_status(tid).unwrap().blocks(sig));
        // SAFETY: as above, with a full set.
        unsafe {
            let mut all: libc::sigset_t = core::mem::zeroed();
            libc::sigfillset(&mut all);
            let mut old: libc::sigset_t = core::mem::zeroed();
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old), 0);
            let status = task_status(tid).unwrap();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()),
                0
            );
            assert!(status.blocks_all());
            assert!(status.running, "the calling thread is running");
        }
    }
}

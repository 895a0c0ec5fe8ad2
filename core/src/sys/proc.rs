//! Every reader of `/proc`: a thread's `status` file, the process's thread list and thread
//! count.

use crate::error::{Error, Result};
use crate::model::full::status_field;

/// The text of a `/proc/<pid>/status` (or `/proc/<pid>/task/<tid>/status`) file.
pub(crate) fn read_status(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::from_io("read /proc/<pid>/status", &e))
}

const OP_LIST: &str = "read /proc/self/task";

/// The thread ids of the calling process, from `/proc/self/task`.
pub(crate) fn list_tasks() -> Result<Vec<u32>> {
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
pub(crate) fn list_tasks_settled() -> Result<Vec<u32>> {
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
pub(crate) struct TaskStatus {
    /// The thread has exited (state `Z` or `X`); a zombie main thread stays listed.
    pub(crate) zombie: bool,
    /// The thread is running or runnable (state `R`).
    pub(crate) running: bool,
    /// Its blocked-signal mask (`SigBlk`).
    pub(crate) sigblk: u64,
}

impl TaskStatus {
    /// Whether the thread blocks every standard signal (1–31 but SIGKILL and SIGSTOP, which
    /// cannot be blocked): what glibc does around thread creation and exit.
    pub(crate) fn blocks_all(&self) -> bool {
        const STANDARD: u64 = ((1 << 31) - 1) & !(1 << (9 - 1)) & !(1 << (19 - 1));
        self.sigblk & STANDARD == STANDARD
    }

    /// Whether the thread blocks `sig`.
    pub(crate) fn blocks(&self, sig: i32) -> bool {
        matches!(u32::try_from(sig - 1), Ok(bit) if bit < 64 && self.sigblk & 1 << bit != 0)
    }
}

/// The status of thread `tid`: `None` when it is gone or the file cannot be read.
pub(crate) fn task_status(tid: u32) -> Option<TaskStatus> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    let state = status_field(&text, "State")?;
    let sigblk = u64::from_str_radix(status_field(&text, "SigBlk")?, 16).ok()?;
    Some(TaskStatus {
        zombie: state.starts_with('Z') || state.starts_with('X'),
        running: state.starts_with('R'),
        sigblk,
    })
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

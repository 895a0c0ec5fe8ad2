//! Every reader of `/proc`: the process's own task directory ([`TaskDir`]), a thread's `status`
//! and `stat` files, `cap_last_cap`.
//!
//! # Whose `/proc`
//!
//! A `/proc` shows the processes of the PID namespace it was mounted for, numbered as that
//! namespace numbers them. In a PID namespace entered without mounting a new `/proc`
//! (`unshare -p -f` without `--mount-proc`, many container set-ups), `/proc/self` still works
//! but names the process by its number in the *outer* namespace, and the thread ids listed in
//! `/proc/self/task` are not the ones `tgkill` and `capget` take. [`TaskDir::open`] therefore
//! checks, before anything is changed, that the `/proc` in use is the process's own: `/proc/self`
//! resolves to `getpid()`, and the calling thread's `NSpid:` line (which lists the thread's id in
//! every namespace from the one of the `/proc` down to its own) has exactly one number, the
//! calling thread's `gettid()`. A directory opened this way keeps working after a `chroot` (it
//! is a file descriptor), which is how a drop armed before a `chroot` reaches every thread after
//! it.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd};
use std::sync::atomic::{AtomicPtr, Ordering};

use rustix::fs::{Mode, OFlags};

use crate::error::{Errno, Error, Op, Result};
use crate::model::full::status_field;

/// `/proc/sys/kernel/cap_last_cap`, when it can be read.
pub(crate) fn cap_last_cap() -> Option<u8> {
    let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok()?;
    text.trim_end().parse().ok()
}

/// The text of a `/proc/<pid>/status` (or `/proc/<pid>/task/<tid>/status`) file.
pub(crate) fn read_status(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::from_io(Op::ReadProc, &e).at_path(path))
}

use super::pid;

/// The process's own `/proc/self/task` directory, checked to belong to its PID namespace.
///
/// The descriptor is the program's like any other: a daemon's close-all loop may close it, and
/// the next `open` may be handed its number. Every count therefore checks, in the same `fstat`,
/// that the descriptor is still this directory (its device and inode); when it is not, the
/// directory is opened again (with the same checks as the first time), or the call fails. The
/// old number is never closed: it may be someone else's now.
#[derive(Debug)]
pub(crate) struct TaskDir {
    /// The current descriptor and what it must be (replaced, never freed, when the program
    /// closed or reused the previous one).
    handle: AtomicPtr<Handle>,
    /// Serializes listings, which rewind the shared descriptor.
    listing: std::sync::Mutex<()>,
    /// The process this directory belongs to.
    pid: i32,
}

/// A descriptor of `/proc/<pid>/task` and its identity.
#[derive(Debug)]
struct Handle {
    fd: i32,
    dev: u64,
    ino: u64,
}

impl Handle {
    fn borrow(&self) -> BorrowedFd<'_> {
        // SAFETY: `fd` was a valid descriptor when the handle was made; if the program closed
        // it since, the calls made through it fail with EBADF or reach another file, which
        // `TaskDir::count` detects (device and inode) before any result is used.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

/// How many times [`TaskDir::list_settled`] lists before it gives up.
const SETTLE_TRIES: u32 = 10_000;

/// The directory of this process, opened once and kept (null until first needed, and again in
/// a child after `fork`).
static CACHED: AtomicPtr<TaskDir> = AtomicPtr::new(core::ptr::null_mut());

/// In a child after `fork` (async-signal-safe): forget the parent's directory. Its descriptor
/// is left open (close-on-exec): the program may have closed it and got its number back for a
/// file of its own, which must not be closed under it.
pub(crate) fn forked() {
    CACHED.store(core::ptr::null_mut(), Ordering::Release);
}

/// Opens `/proc/self/task` as a handle, after checking that `/proc` is this process's.
fn open_handle(op: Op, me: i32) -> Result<Handle> {
    let link = match rustix::fs::readlink("/proc/self", Vec::new()) {
        Ok(l) => l,
        Err(e) => {
            return Err(Error::refused(
                op,
                format!(
                    "no /proc is mounted here (/proc/self: {}); capscope needs the process's \
                     own /proc to list and check its threads: mount one (`mount -t proc proc \
                     /proc`), or do the change before the chroot",
                    Errno::from(e)
                ),
            ))
        }
    };
    let shown = link.to_str().ok().and_then(|s| s.parse::<i32>().ok());
    if shown != Some(me) {
        return Err(foreign(
            op,
            &format!("it shows this process as {link:?}, but its pid is {me}"),
        ));
    }
    let fd = rustix::fs::open(
        "/proc/self/task",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os(Op::ReadProc, e).at_path("/proc/self/task"))?;
    // A procfs, not a directory made to look like one (a tmpfs mounted on /proc).
    let fs = rustix::fs::fstatfs(&fd).map_err(|e| Error::os(Op::ReadProc, e))?;
    #[allow(clippy::unnecessary_cast)] // f_type's integer type differs between targets
    if fs.f_type as i64 != libc::PROC_SUPER_MAGIC as i64 {
        return Err(Error::refused(
            op,
            format!(
                "/proc/self/task is not on a procfs (file system type {:#x}): mount a /proc for \
                 this process (`mount -t proc proc /proc`)",
                fs.f_type
            ),
        ));
    }
    // The calling thread is there, with one id only: its own (a /proc of an ancestor PID
    // namespace would list it with one id per namespace).
    let me_tid = crate::current_tid();
    let status = read_at(fd.as_fd(), &format!("{me_tid}/status")).ok_or_else(|| {
        foreign(
            op,
            &format!("the calling thread {me_tid} is not in /proc/self/task"),
        )
    })?;
    if let Some(nspid) = status_field(&status, "NSpid") {
        let ids: Vec<&str> = nspid.split_ascii_whitespace().collect();
        if ids != [me_tid.to_string().as_str()] {
            return Err(foreign(
                op,
                &format!(
                    "the calling thread {me_tid} appears there with the ids {nspid:?} (one per \
                     PID namespace from the one of this /proc down)"
                ),
            ));
        }
    }
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::os(Op::ReadProc, e))?;
    Ok(Handle {
        fd: fd.into_raw_fd(),
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// The text of the file `path` below the directory `dir`; `None` when it cannot be read.
fn read_at(dir: BorrowedFd<'_>, path: &str) -> Option<String> {
    let fd = rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    Some(text)
}

impl TaskDir {
    /// Opens `/proc/self/task`, refusing (with the cause and the fix) when there is no `/proc`
    /// or it belongs to another PID namespace.
    pub(crate) fn open(op: Op) -> Result<TaskDir> {
        let me = pid();
        let handle = open_handle(op, me)?;
        Ok(TaskDir {
            handle: AtomicPtr::new(Box::into_raw(Box::new(handle))),
            listing: std::sync::Mutex::new(()),
            pid: me,
        })
    }

    /// The process's directory, opened once and kept for the life of the process (a
    /// directory opened before a `chroot` stays usable after it).
    pub(crate) fn cached(op: Op) -> Result<&'static TaskDir> {
        crate::sys::spawn::hook_forks();
        let p = CACHED.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: non-null CACHED pointers are leaked boxes, never freed.
            return Ok(unsafe { &*p });
        }
        let fresh = Box::into_raw(Box::new(TaskDir::open(op)?));
        match CACHED.compare_exchange(
            core::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `fresh` is now the cached leaked box, never freed.
            Ok(_) => Ok(unsafe { &*fresh }),
            Err(existing) => {
                // SAFETY: `fresh` was never published; we still own it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `existing` is a cached leaked box, never freed.
                Ok(unsafe { &*existing })
            }
        }
    }

    /// Whether the process's directory is open already ([`cached`](Self::cached)).
    pub(crate) fn is_cached() -> bool {
        !CACHED.load(Ordering::Acquire).is_null()
    }

    /// The process this directory belongs to.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The kernel's count of the process's threads (a zombie main thread included, kernel io
    /// threads included): the directory's link count minus 2, one `fstat`.
    pub(crate) fn count(&self) -> Result<usize> {
        self.checked(false, |_| Ok(())).map(|(_, after)| after)
    }

    /// The current handle.
    fn handle(&self) -> &Handle {
        // SAFETY: handles are leaked boxes, never freed (a replaced one stays allocated).
        unsafe { &*self.handle.load(Ordering::Acquire) }
    }

    /// Runs `f` on the current descriptor between two `fstat`s that check it is still this
    /// directory, and returns the kernel's thread counts of both; when the descriptor is no
    /// longer this directory (closed, or its number reused), opens the directory again and
    /// retries. (One `fstat` when `f` does nothing.)
    fn checked(
        &self,
        with_body: bool,
        mut f: impl FnMut(BorrowedFd<'_>) -> Result<()>,
    ) -> Result<(usize, usize)> {
        for _ in 0..3 {
            let h = self.handle();
            let ident = |h: &Handle| match rustix::fs::fstat(h.borrow()) {
                Ok(st) if (st.st_dev, st.st_ino) == (h.dev, h.ino) => Ok(Some(st.st_nlink)),
                Ok(_) | Err(rustix::io::Errno::BADF) => Ok(None),
                Err(e) => Err(Error::os(Op::ReadProc, e)),
            };
            let threads = |links: u64| {
                usize::try_from(links)
                    .ok()
                    .and_then(|n| n.checked_sub(2))
                    .ok_or_else(|| {
                        Error::kernel(Op::ReadProc, "/proc/self/task has fewer than 2 links")
                    })
            };
            if let Some(before) = ident(h)? {
                let before = threads(before)?;
                if !with_body {
                    return Ok((before, before));
                }
                f(h.borrow())?;
                if let Some(after) = ident(h)? {
                    return Ok((before, threads(after)?));
                }
            }
            self.reopen(h)?;
        }
        Err(Error::kernel(
            Op::ReadProc,
            "the descriptor of /proc/self/task kept being closed or replaced",
        ))
    }

    /// Replaces `stale` (a descriptor the program closed or reused) with a new one.
    fn reopen(&self, stale: &Handle) -> Result<()> {
        if pid() != self.pid {
            return Err(Error::refused(
                Op::ReadProc,
                "the /proc/self/task directory was opened by the parent of this process",
            ));
        }
        let fresh = Box::into_raw(Box::new(open_handle(Op::ReadProc, self.pid)?));
        let stale = core::ptr::from_ref(stale).cast_mut();
        if self
            .handle
            .compare_exchange(stale, fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Another thread replaced it first: ours is not needed.
            // SAFETY: `fresh` was never published; we own it and its descriptor.
            let h = unsafe { Box::from_raw(fresh) };
            // SAFETY: closing the descriptor we just opened.
            unsafe { libc::close(h.fd) };
        }
        Ok(())
    }

    /// The live threads: [`count`](Self::count), less the main thread when it has exited (a
    /// zombie main thread stays in the thread group until the process ends).
    pub(crate) fn live_count(&self) -> Result<usize> {
        let n = self.count()?;
        if n > 1
            && self
                .status(self.pid.unsigned_abs())
                .is_some_and(|s| s.zombie)
        {
            return Ok(n - 1);
        }
        Ok(n)
    }

    /// The thread ids listed now, and the kernel's counts just before and just after.
    fn list_counted(&self) -> Result<(Vec<u32>, (usize, usize))> {
        let mut tids = Vec::new();
        let count = match self.listing.try_lock() {
            // The shared descriptor, rewound: no descriptor opened or closed.
            Ok(_serialized) => self.checked(true, |fd| {
                tids.clear();
                rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(0))
                    .map_err(|e| Error::os(Op::ReadProc, e))?;
                read_tids(fd, &mut tids)
            })?,
            // Another listing runs (possibly the one this signal handler interrupted): a
            // descriptor of our own.
            Err(_) => self.checked(true, |fd| {
                tids.clear();
                let own = rustix::fs::openat(
                    fd,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| Error::os(Op::ReadProc, e))?;
                read_tids(own.as_fd(), &mut tids)
            })?,
        };
        if tids.is_empty() {
            return Err(Error::kernel(
                Op::ReadProc,
                "no thread listed in /proc/self/task",
            ));
        }
        Ok((tids, count))
    }

    /// A listing that can be trusted not to have lost threads.
    ///
    /// The kernel's readdir of `/proc/<pid>/task` walks the thread list and stops early when
    /// the thread it stands on exits meanwhile (`next_tid()` ends the walk once `pid_alive()`
    /// fails), so a listing taken while threads exit can miss every thread after the one that
    /// exited. A listing is accepted only when the kernel's thread count read just before and
    /// just after it is the same and the listing holds at least that many threads. What such a
    /// listing can still miss is a thread born during it, at the end of the list; a broadcast's
    /// next pass finds it. Otherwise the listing is taken again, up to `SETTLE_TRIES` times.
    pub(crate) fn list_settled(&self) -> Result<Vec<u32>> {
        for _ in 0..SETTLE_TRIES {
            let (tids, (before, after)) = self.list_counted()?;
            if before == after && tids.len() >= after {
                return Ok(tids);
            }
            std::thread::yield_now();
        }
        Err(Error::kernel(
            Op::ReadProc,
            format!("threads kept starting or exiting during {SETTLE_TRIES} listings"),
        ))
    }

    /// The text of `<tid>/<file>` in this directory; `None` when the thread is gone.
    pub(crate) fn read(&self, tid: u32, file: &str) -> Option<String> {
        read_at(self.handle().borrow(), &format!("{tid}/{file}"))
    }

    /// The text of the calling thread's `file` (`uid_map`, `setgroups`, ...).
    pub(crate) fn read_mine(&self, file: &str) -> Option<String> {
        self.read(crate::current_tid(), file)
    }

    /// What thread `tid`'s `status` and `stat` say about it; `None` when it is gone.
    pub(crate) fn status(&self, tid: u32) -> Option<TaskStatus> {
        let text = self.read(tid, "status")?;
        let state = status_field(&text, "State")?;
        let sigblk = u64::from_str_radix(status_field(&text, "SigBlk")?, 16).ok()?;
        let sigpnd = u64::from_str_radix(status_field(&text, "SigPnd")?, 16).ok()?;
        let io_thread = self
            .read(tid, "stat")
            .is_some_and(|s| stat_flags(&s) & PF_IO_WORKER != 0);
        Some(TaskStatus {
            zombie: state.starts_with('Z') || state.starts_with('X'),
            running: state.starts_with('R'),
            sigblk,
            sigpnd,
            io_thread,
            // The name alone is the program's to choose: only a kernel io thread is one.
            sqpoll: io_thread
                && status_field(&text, "Name").is_some_and(|n| n.starts_with("iou-sqp")),
        })
    }
}

impl Drop for TaskDir {
    /// Closes the descriptor, unless the program already closed it and its number is now
    /// another file's.
    fn drop(&mut self) {
        let h = self.handle();
        if rustix::fs::fstat(h.borrow()).is_ok_and(|st| (st.st_dev, st.st_ino) == (h.dev, h.ino)) {
            // SAFETY: the descriptor is still the one this TaskDir opened, and it is dropped.
            unsafe { libc::close(h.fd) };
        }
    }
}

/// Appends the thread ids of a `/proc/<pid>/task` directory read from `fd`'s position.
fn read_tids(fd: BorrowedFd<'_>, tids: &mut Vec<u32>) -> Result<()> {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(fd, &mut buf);
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(|e| Error::os(Op::ReadProc, e))?;
        let name = entry.file_name().to_bytes();
        if name.starts_with(b".") {
            continue;
        }
        let tid = std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| {
                Error::kernel(
                    Op::ReadProc,
                    format!("task entry {name:?} is not a thread id"),
                )
            })?;
        tids.push(tid);
    }
    Ok(())
}

fn foreign(op: Op, what: &str) -> Error {
    Error::refused(
        op,
        format!(
            "the /proc mounted here belongs to another PID namespace ({what}), so the thread ids \
             it lists are not this process's; mount a /proc for this namespace (`mount -t proc \
             proc /proc`, or `unshare --pid --fork --mount-proc`)"
        ),
    )
}

/// `PF_IO_WORKER`: the task is a kernel io thread (io_uring's `iou-sqp-*` and `iou-wrk-*`),
/// which never runs user code and takes no signals.
const PF_IO_WORKER: u64 = 0x10;

/// The `flags` field (9) of a `stat` text.
fn stat_flags(stat: &str) -> u64 {
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_ascii_whitespace().nth(9 - 3))
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

/// What a thread's `status` and `stat` say about its liveness and signal mask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskStatus {
    /// The thread has exited (state `Z` or `X`); a zombie main thread stays listed.
    pub(crate) zombie: bool,
    /// The thread is running or runnable (state `R`).
    pub(crate) running: bool,
    /// Its blocked-signal mask (`SigBlk`).
    pub(crate) sigblk: u64,
    /// Its own pending signals (`SigPnd`).
    pub(crate) sigpnd: u64,
    /// A kernel io thread (`PF_IO_WORKER`).
    pub(crate) io_thread: bool,
    /// An io_uring SQPOLL thread (a kernel io thread named `iou-sqp-<pid>`).
    pub(crate) sqpoll: bool,
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
        bit(sig).is_some_and(|b| self.sigblk & b != 0)
    }

    /// Whether signal `sig` is pending for the thread itself (`SigPnd`): sent and not yet
    /// taken.
    pub(crate) fn pending(&self, sig: i32) -> bool {
        bit(sig).is_some_and(|b| self.sigpnd & b != 0)
    }
}

/// The bit of signal `sig` in a `/proc` signal mask.
fn bit(sig: i32) -> Option<u64> {
    u32::try_from(sig - 1)
        .ok()
        .filter(|&b| b < 64)
        .map(|b| 1u64 << b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_this_thread_and_counts_threads() {
        let dir = TaskDir::open(Op::ReadProc).unwrap();
        let me = crate::current_tid();
        assert!(dir.list_settled().unwrap().contains(&me));
        assert!(dir.count().unwrap() >= 1);
        assert!(!dir.status(me).unwrap().io_thread);
    }

    #[test]
    fn flags_of_a_stat_line() {
        assert_eq!(
            stat_flags("12 (a) b) c) S 1 2 3 4 5 4194368 0 0"),
            4_194_368
        );
        assert_eq!(stat_flags("garbage"), 0);
    }

    #[test]
    fn sees_a_blocked_signal() {
        use crate::sys::signal::{block_only_for_test, SigSet};
        let dir = TaskDir::open(Op::ReadProc).unwrap();
        let sig = libc::SIGRTMAX() - 1;
        let tid = crate::current_tid();
        let status = block_only_for_test(SigSet::one(sig), || dir.status(tid).unwrap());
        assert!(status.blocks(sig));
        assert!(!status.blocks_all());
        assert!(!status.zombie);
        assert!(!dir.status(tid).unwrap().blocks(sig));
        let status = block_only_for_test(SigSet::all(), || dir.status(tid).unwrap());
        assert!(status.blocks_all());
        assert!(status.running, "the calling thread is running");
    }
}

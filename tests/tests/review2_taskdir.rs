//! Second adversarial review: the kept `/proc/self/task` descriptor (`sys::proc::TaskDir`),
//! re-checked by device and inode and reopened when the program closed or reused it.
//!
//! Oracles: `/proc/self/task/<tid>/status` read from outside, `fcntl(F_GETFD)`.
//!
//! Each test is named for the behaviour it asserts; its comment describes the hole as the
//! review found it (fixed since).

#[path = "review/common.rs"]
mod common;

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capscope::RaiseGuard;
use capscope_tests::state::lower;
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::{holders, Stray, RAW};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn sys(what: &str, rc: libc::c_int) -> Verdict {
    ensure!(rc == 0, "{what}: {}", std::io::Error::last_os_error());
    Ok(())
}

/// A contained thread that parks until stopped (so that a scope's end counts threads).
fn peer() -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let park = Arc::new(AtomicBool::new(false));
    let p2 = park.clone();
    let h = std::thread::spawn(move || {
        while !p2.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    (park, h)
}

/// The reopen path (`TaskDir::reopen` -> `open_handle`) once trusted whatever
/// `/proc/self/task` was after the kept descriptor was closed: a tmpfs mounted over `/proc`,
/// with `self` pointing at the pid and an empty `<pid>/task` (link count: "0 threads"), hid
/// every stray, and the scope ended normally with the stray keeping the capability. Now the
/// reopen makes the first open's checks (a procfs, the calling thread's `NSpid`), refuses that
/// directory, and the scope's end, unable to check its threads, fails closed: the process
/// aborts.
#[test]
fn a_reopen_that_finds_no_procfs_fails_closed() {
    assert_pass(privileged(|| {
        // The child writes a marker right before the scope's end: the abort must come after it
        // (from the end of the scope), not from the set-up.
        let (marker_rd, marker_wr) = common::pipe();
        let outcome = capscope_tests::in_child(|| {
            lower(RAW.into())?;
            // SAFETY: a private mount namespace for this forked child.
            unsafe {
                sys("unshare(NEWNS)", libc::unshare(libc::CLONE_NEWNS))?;
                sys(
                    "make / private",
                    libc::mount(
                        std::ptr::null(),
                        c("/").as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ),
                )?;
            }
            let (park, h) = peer(); // opens and keeps /proc/self/task (first thread)
            let pid = std::process::id();
            let fds = common::fds_pointing_at(&format!("/proc/{pid}/task"));
            ensure!(!fds.is_empty(), "capscope kept no task descriptor");
            // SAFETY: mounts a tmpfs over /proc in this private namespace and builds a fake
            // /proc/self -> <pid>, /proc/<pid>/task (empty), then closes capscope's descriptor (a
            // daemon's close-all).
            unsafe {
                sys(
                    "mount tmpfs on /proc",
                    libc::mount(
                        c("none").as_ptr(),
                        c("/proc").as_ptr(),
                        c("tmpfs").as_ptr(),
                        0,
                        std::ptr::null(),
                    ),
                )?;
                sys(
                    "symlink",
                    libc::symlink(c(&pid.to_string()).as_ptr(), c("/proc/self").as_ptr()),
                )?;
                sys(
                    "mkdir",
                    libc::mkdir(c(&format!("/proc/{pid}")).as_ptr(), 0o755),
                )?;
                sys(
                    "mkdir task",
                    libc::mkdir(c(&format!("/proc/{pid}/task")).as_ptr(), 0o755),
                )?;
                for fd in &fds {
                    libc::close(*fd);
                }
            }
            let g = check!(RaiseGuard::raise(RAW));
            let stray = Stray::start_holding(RAW)?;
            // SAFETY: writes one byte from a valid buffer to the marker pipe.
            let wrote = unsafe { libc::write(marker_wr, b"M".as_ptr().cast(), 1) };
            ensure!(wrote == 1, "marker: {}", std::io::Error::last_os_error());
            drop(g); // the end counts threads through the reopened "directory"
                     // SAFETY: back to the real /proc for the oracle.
            unsafe {
                sys(
                    "umount /proc",
                    libc::umount2(c("/proc").as_ptr(), libc::MNT_DETACH),
                )?
            };
            let after = stray.effective();
            let tid = stray.tid;
            stray.stop();
            let after = after?;
            park.store(true, Ordering::SeqCst);
            h.join().unwrap();
            ensure!(
                !after.has(RAW),
                "capscope reopened a /proc/self/task that is not a procfs, counted 0 threads, and \
             stray {tid} keeps {RAW} after the scope ended"
            );
            Ok(())
        });
        // SAFETY: our copy of the write end (the child, which had its own, is gone), then the
        // marker: read until end of file.
        let marker = unsafe {
            libc::close(marker_wr);
            let mut buf = [0u8; 16];
            let n = libc::read(marker_rd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(marker_rd);
            buf[..usize::try_from(n).unwrap_or(0)].to_vec()
        };
        let aborted = format!("was killed by signal {} ", libc::SIGABRT);
        match outcome {
            Err(why) if why.contains(&aborted) && marker == b"M" => Ok(()),
            other => Err(format!(
                "expected the scope's end to abort (no procfs to check the stray) after the \
                 marker, got {other:?} with marker {marker:?}"
            )),
        }
    }));
}

/// `TaskDir`'s `Drop` closes its descriptor when `fstat` still shows the same device and inode.
/// But every open of `/proc/self/task` gets that same device and inode (the dentry is cached):
/// a program that closed the `#[drop_caps_after]` guard's descriptor (a close-all) and opened
/// `/proc/self/task` for itself gets the same number, and the guard's drop closes the
/// *program's* descriptor behind its back (its next use fails with EBADF, or reaches whatever
/// file took the number since).
#[capscope::drop_caps_after]
fn init_that_lists_its_threads() -> i32 {
    let target = format!("/proc/{}/task", std::process::id());
    let mut mine = -1;
    for fd in common::fds_pointing_at(&target) {
        // SAFETY: close-all of descriptors the program does not know, then its own open, which
        // takes the lowest free number.
        unsafe {
            libc::close(fd);
            mine = libc::open(
                c("/proc/self/task").as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
        }
    }
    mine
}

#[test]
fn a_drop_after_guard_leaves_the_programs_own_task_descriptor_open() {
    assert_pass(privileged(|| {
        let mine = init_that_lists_its_threads();
        ensure!(mine >= 0, "no descriptor was opened");
        // SAFETY: asks whether our descriptor is still open.
        let flags = unsafe { libc::fcntl(mine, libc::F_GETFD) };
        ensure!(
            flags != -1,
            "the program's own /proc/self/task descriptor {mine} was closed by the \
             #[drop_caps_after] guard's drop: {}",
            std::io::Error::last_os_error()
        );
        Ok(())
    }));
}

/// Held up: the number of capscope's descriptor reused by another process's
/// `/proc/<pid>/task` (same device, another inode, link count of a single-threaded process):
/// the identity check sees it, the directory is reopened, and the stray is lowered.
#[test]
fn held_up_a_reused_number_holding_another_processs_task_directory() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let (park, h) = peer();
        let pid = std::process::id();
        let fds = common::fds_pointing_at(&format!("/proc/{pid}/task"));
        ensure!(!fds.is_empty(), "capscope kept no task descriptor");
        for fd in &fds {
            // SAFETY: closes capscope's descriptor and opens init's task directory (the
            // lowest free number: the one just closed).
            let got = unsafe {
                libc::close(*fd);
                libc::open(
                    c("/proc/1/task").as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                )
            };
            ensure!(got == *fd, "got fd {got}, not {fd}");
        }
        let (tid, after) = common::stray_after_scope()?;
        park.store(true, Ordering::SeqCst);
        h.join().unwrap();
        ensure!(!after.has(RAW), "stray {tid} keeps {RAW}");
        Ok(())
    }));
}

/// Held up: two threads end scopes at once right after the program closed capscope's
/// descriptor, so both heal it concurrently (one's reopen loses the race and closes its own
/// descriptor); each scope lowers its strays, nothing aborts, and exactly one task descriptor
/// is left open.
#[test]
fn held_up_two_threads_healing_a_closed_descriptor_at_once() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let pid = std::process::id();
        let target = format!("/proc/{pid}/task");
        for round in 0..50 {
            let (park, h) = peer();
            for fd in common::fds_pointing_at(&target) {
                // SAFETY: the program's close-all.
                unsafe { libc::close(fd) };
            }
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let b2 = barrier.clone();
            let other = std::thread::spawn(move || -> Verdict {
                lower(RAW.into())?;
                let g = check!(RaiseGuard::raise(RAW));
                let stray = Stray::start_holding(RAW)?;
                b2.wait();
                drop(g);
                let after = stray.effective();
                stray.stop();
                let after = after?;
                ensure!(!after.has(RAW), "other thread's stray keeps {RAW}");
                Ok(())
            });
            let g = check!(RaiseGuard::raise(RAW));
            let stray = Stray::start_holding(RAW)?;
            barrier.wait();
            drop(g);
            let after = stray.effective();
            stray.stop();
            let after = after?;
            other.join().unwrap()?;
            park.store(true, Ordering::SeqCst);
            h.join().unwrap();
            ensure!(!after.has(RAW), "round {round}: stray keeps {RAW}");
            let left = holders(RAW, &[]);
            ensure!(left.is_empty(), "round {round}: holders {left:?}");
            let open = common::fds_pointing_at(&target).len();
            ensure!(open == 1, "round {round}: {open} task descriptors open");
        }
        Ok(())
    }));
}

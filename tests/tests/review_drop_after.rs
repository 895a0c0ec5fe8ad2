//! Adversarial review: `#[drop_caps_after]` (without `all_threads`) returning with threads
//! that keep their capabilities, or aborting where it could have worked (each test failed
//! before its fix).
//!
//! Oracles: `/proc/self/task/<tid>/status` read from outside.

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capscope_tests::state::task_caps;
use capscope_tests::{assert_pass, ensure, privileged, Verdict};
use common::{recv_verdict, send_verdict_and_exit};

/// The verdict of a worker's capability sets, seen from outside.
fn worker_dropped(tid: u32, what: &str) -> Verdict {
    for f in ["CapEff", "CapPrm", "CapInh"] {
        let set = task_caps(tid, f).map_err(|e| format!("{what}: worker thread {tid}: {e}"))?;
        ensure!(
            set.is_empty(),
            "{what}: worker thread {tid} still has {f} = {set:?} after #[drop_caps_after] returned"
        );
    }
    Ok(())
}

/// What a daemon's init does: forks (to detach), and in the child starts its worker pool, then
/// returns. The `DropAfter` armed before the fork travels into the child with the *parent's*
/// `/proc/<pid>/task` descriptor; in the child, `alone()` says "not alone" (the worker), and
/// `live_count()` of the parent's directory says 1 (the parent waits, single-threaded; a parent
/// that exited gives 0): so the child makes the per-thread drop only, and its worker keeps
/// every capability. No error, no abort.
#[capscope::drop_caps_after]
fn daemon_init(stop: Arc<AtomicBool>) -> Option<(i32, u32)> {
    daemon_init_body(stop)
}

#[test]
fn a_fork_in_the_body_drops_the_childs_workers_too() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let Some((fd, who)) = daemon_init(stop.clone()) else {
            return Err("no result".into());
        };
        if fd >= 0 {
            // The forked child: init has returned, its drop ran. The worker must have nothing.
            let v = worker_dropped(who, "child after fork");
            stop.store(true, Ordering::SeqCst);
            send_verdict_and_exit(fd, &v);
        }
        let rd = -fd - 1;
        recv_verdict(rd, i32::try_from(who).unwrap(), "the forked child")
    }));
}

#[capscope::drop_caps_after(all_threads)]
fn daemon_init_all_threads(stop: Arc<AtomicBool>) -> Option<(i32, u32)> {
    daemon_init_body(stop)
}

/// Forks; the child starts a worker and returns `(write end, worker tid)`; the parent returns
/// `(-read end - 1, child pid)`.
fn daemon_init_body(stop: Arc<AtomicBool>) -> Option<(i32, u32)> {
    let (rd, wr) = common::pipe();
    // SAFETY: this (forked test) process is single-threaded here.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(rd) };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            tx.send(capscope::current_tid()).unwrap();
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        return Some((wr, rx.recv().unwrap()));
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(wr) };
    Some((-rd - 1, u32::try_from(pid).unwrap()))
}

/// The same with `all_threads`: the child's drop goes to `process::drop_with` with the
/// parent's directory, which refuses ("opened by the parent of this forked process"), and the
/// child aborts, although its own `/proc/self/task` is right there: an abort where the drop
/// could have been made and verified.
#[test]
fn a_fork_in_an_all_threads_body_drops_the_childs_workers_without_an_abort() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let Some((fd, who)) = daemon_init_all_threads(stop.clone()) else {
            return Err("no result".into());
        };
        if fd >= 0 {
            let v = worker_dropped(who, "child after fork (all_threads)");
            stop.store(true, Ordering::SeqCst);
            send_verdict_and_exit(fd, &v);
        }
        recv_verdict(-fd - 1, i32::try_from(who).unwrap(), "the forked child")
    }));
}

/// The descriptor `DropAfter` opens when armed is an ordinary descriptor of the program. A body
/// that closes the descriptors it does not know (a daemon's close-all) and then opens a
/// directory gets that number back for the directory; at the end, `live_count()` reads the
/// directory's link count (2, so 0 threads) and the drop is made on the calling thread only,
/// while the worker started in the body keeps every capability.
#[capscope::drop_caps_after]
fn init_closing_fds(stop: Arc<AtomicBool>, dir: &std::path::Path) -> (u32, Vec<i32>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(capscope::current_tid()).unwrap();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let tid = rx.recv().unwrap();
    let target = format!("/proc/{}/task", std::process::id());
    let fds = common::fds_pointing_at(&target);
    let cdir = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    for fd in &fds {
        // SAFETY: closes a descriptor, then opens a directory (which takes the lowest free
        // number).
        unsafe {
            libc::close(*fd);
            libc::open(cdir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        }
    }
    (tid, fds)
}

#[test]
fn a_reused_descriptor_number_does_not_make_the_drop_per_thread_with_a_worker_alive() {
    assert_pass(privileged(|| {
        let dir = std::env::temp_dir().join(format!("capscope-review-da-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tid, fds) = init_closing_fds(stop.clone(), &dir);
        ensure!(
            !fds.is_empty(),
            "DropAfter kept no /proc/self/task descriptor"
        );
        let v = worker_dropped(tid, "after a body that reused the descriptor number");
        stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(&dir);
        v
    }));
}

//! How a process-wide change finds the threads it must change. When capscope's
//! `pthread_create` accounts for every thread (the kernel counts exactly the contained threads
//! and the main thread), the broadcast takes their ids from capscope's own records and reads
//! no `/proc` directory; a thread started by other means makes the counts differ, and the
//! broadcast lists `/proc/self/task` to find it.
//!
//! The oracle for "no listing" is a seccomp filter on the calling thread that makes
//! `getdents64` fail: a broadcast that lists fails with it. Each thread's effective set is read
//! from `/proc/<tid>/status` by the test, not by the library.

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use capscope::process;
use capscope::{Cap, CapState};
use capscope_tests::state::task_caps;
use capscope_tests::{assert_pass, check, ensure, fail_syscall, privileged, Verdict};
use common::Stray;

const CREW: usize = 16;
const RAW: Cap = Cap::NET_RAW;

/// `CREW` threads started through `std::thread` (so through capscope's `pthread_create`), each
/// publishing its id and waiting until `stop` is set.
fn crew(stop: &Arc<AtomicBool>) -> (Vec<std::thread::JoinHandle<()>>, Vec<u32>) {
    let ready = Arc::new(Barrier::new(CREW + 1));
    let tids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles = (0..CREW)
        .map(|_| {
            let (stop, ready, tids) = (stop.clone(), ready.clone(), tids.clone());
            std::thread::spawn(move || {
                tids.lock().unwrap().push(capscope::current_tid());
                ready.wait();
                while !stop.load(Ordering::SeqCst) {
                    std::thread::park_timeout(Duration::from_millis(20));
                }
            })
        })
        .collect();
    ready.wait();
    let tids = tids.lock().unwrap().clone();
    (handles, tids)
}

fn end(stop: &AtomicBool, handles: Vec<std::thread::JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.thread().unpark();
        h.join().unwrap();
    }
}

fn without_raw() -> Result<CapState, String> {
    let now = check!(CapState::get_current());
    Ok(CapState {
        effective: now.effective - RAW,
        ..now
    })
}

fn none_holds(tids: &[u32], cap: Cap) -> Verdict {
    for &tid in tids {
        let eff = task_caps(tid, "CapEff")?;
        ensure!(!eff.has(cap), "thread {tid} still holds {cap}: {eff}");
    }
    Ok(())
}

#[test]
fn contained_threads_are_changed_without_listing_proc() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, tids) = crew(&stop);
        for &tid in &tids {
            ensure!(
                task_caps(tid, "CapEff")?.has(RAW),
                "thread {tid} starts without {RAW}"
            );
        }
        let target = without_raw()?;
        // From here on, listing a directory fails on this thread (the one that broadcasts).
        fail_syscall(libc::SYS_getdents64, &[], libc::EIO as u16)?;
        let report = check!(process::set_caps(&target));
        ensure!(
            report.threads == CREW + 1 && report.signalled == CREW,
            "report: {report:?}"
        );
        none_holds(&tids, RAW)?;
        // And again in the other direction: the records stay usable.
        let back = CapState {
            effective: target.effective | RAW,
            ..target
        };
        check!(process::set_caps(&back));
        for &tid in &tids {
            ensure!(
                check!(task_caps(tid, "CapEff")).has(RAW),
                "thread {tid} did not get {RAW} back"
            );
        }
        end(&stop, handles);
        Ok(())
    }));
}

#[test]
fn a_thread_started_behind_capscopes_back_makes_the_broadcast_list_proc() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, tids) = crew(&stop);
        let stray = Stray::start()?;
        let raw = stray.tid;
        ensure!(
            check!(task_caps(raw, "CapEff")).has(RAW),
            "the raw thread starts with {RAW}"
        );
        let report = check!(process::set_caps(&without_raw()?));
        ensure!(
            report.threads == CREW + 2 && report.signalled == CREW + 1,
            "the report must count the raw thread too: {report:?}"
        );
        none_holds(&tids, RAW)?;
        none_holds(&[raw], RAW)?;
        stray.stop();
        end(&stop, handles);
        Ok(())
    }));
}

#[test]
fn without_a_listing_a_thread_capscope_does_not_know_fails_the_call() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, _tids) = crew(&stop);
        let stray = Stray::start()?;
        let raw = stray.tid;
        fail_syscall(libc::SYS_getdents64, &[], libc::EIO as u16)?;
        // The raw thread is not in capscope's records and cannot be found without a listing:
        // the call must fail, not report every thread changed.
        match process::set_caps(&without_raw()?) {
            Ok(r) => {
                return Err(format!(
                    "Ok({r:?}) although thread {raw} could not be found (it holds {})",
                    check!(task_caps(raw, "CapEff"))
                ))
            }
            Err(e) => ensure!(
                e.to_string().contains("/proc") || e.to_string().contains("EIO"),
                "the error should name the failed listing: {e}"
            ),
        }
        stray.stop();
        end(&stop, handles);
        Ok(())
    }));
}

#[test]
fn the_main_thread_is_changed_when_a_contained_thread_broadcasts() {
    assert_pass(privileged(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, tids) = crew(&stop);
        let main = capscope::current_tid();
        let target = without_raw()?;
        // The broadcast starts on a contained thread, which has the filter; the main thread
        // waits in `join`.
        let report = std::thread::spawn(move || {
            fail_syscall(libc::SYS_getdents64, &[], libc::EIO as u16)?;
            process::set_caps(&target).map_err(|e| e.to_string())
        })
        .join()
        .unwrap()?;
        ensure!(report.threads == CREW + 2, "report: {report:?}");
        none_holds(&tids, RAW)?;
        none_holds(&[main], RAW)?;
        end(&stop, handles);
        Ok(())
    }));
}

#[test]
fn kernel_count_and_records_agree_only_for_the_threads_alive() {
    // Threads that exited leave no record behind that a broadcast would count: many short-lived
    // threads, then a broadcast without a listing.
    assert_pass(privileged(|| {
        for _ in 0..50 {
            std::thread::spawn(|| ()).join().unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (handles, tids) = crew(&stop);
        fail_syscall(libc::SYS_getdents64, &[], libc::EIO as u16)?;
        let report = check!(process::set_caps(&without_raw()?));
        ensure!(report.threads == CREW + 1, "report: {report:?}");
        none_holds(&tids, RAW)?;
        end(&stop, handles);
        Ok(())
    }));
}

//! Review of commit 39d8aa5 (a process-wide change takes its first pass's thread ids from
//! capscope's records when `count == contained + 1`), as an attacker, and the fix.
//!
//! The records were trusted to be exactly the contained threads alive. A contained thread that
//! dies without running its thread-local destructors (killed by its own seccomp filter with
//! `SECCOMP_RET_KILL_THREAD`, or a raw `SYS_exit`) stays counted in `CONTAINED` and marked in
//! its slot. One such stale record made `count == contained + 1` hold while one thread that
//! capscope does not know (started with the C library's own `pthread_create`, a raw `clone`,
//! a glibc helper thread) was alive: the broadcast signalled the dead thread's id instead of
//! the live one (`tgkill` says ESRCH: "gone"), and the post-pass check was satisfied by the
//! same stale count, so `set_caps` returned `Ok` while the unknown thread never made the
//! change. Now a record-based pass in which an id turns out gone is followed by a listing.
//!
//! Oracle: each thread's effective set read by the test from `/proc/<tid>/status`.

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use capscope::process;
use capscope::{Cap, CapState};
use capscope_tests::state::task_caps;
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::Stray;

const RAW: Cap = Cap::NET_RAW;

fn without_raw() -> Result<CapState, String> {
    let now = check!(CapState::get_current());
    Ok(CapState {
        effective: now.effective - RAW,
        ..now
    })
}

/// The kernel's thread count of this process (what `TaskDir::count` reads).
fn kernel_threads() -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/self/task").map_err(|e| e.to_string())?;
    Ok(m.nlink() - 2)
}

fn wait_threads(n: u64) -> Verdict {
    let start = Instant::now();
    loop {
        let now = kernel_threads()?;
        if now == n {
            return Ok(());
        }
        ensure!(
            start.elapsed() < Duration::from_secs(10),
            "the process has {now} threads, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn gone(tid: u32) -> bool {
    // SAFETY: tgkill with signal 0 only checks that the thread exists.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
    r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// How a contained thread ends without its thread-local destructors.
#[derive(Clone, Copy)]
enum Death {
    /// Its own seccomp filter kills it (`SECCOMP_RET_KILL_THREAD` on `getppid`): the thread
    /// alone ends, as documented by seccomp(2).
    SeccompKillThread,
    /// A raw `SYS_exit` (not `capscope::prctl::exit_thread`).
    RawExit,
}

fn kill_thread_filter() -> Verdict {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_KILL_THREAD: u32 = 0;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let mut filter = [
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_getppid as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_KILL_THREAD,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments, then with a valid filter the kernel copies.
    unsafe {
        ensure!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0,
            "PR_SET_NO_NEW_PRIVS: {}",
            std::io::Error::last_os_error()
        );
        ensure!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ) == 0,
            "PR_SET_SECCOMP: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Starts a thread through `std::thread` (so through capscope's `pthread_create`: contained)
/// that ends without its thread-local destructors; returns once the kernel no longer has it.
fn contained_thread_dies_uncleanly(death: Death) -> Verdict {
    let before = kernel_threads()?;
    let tid = std::sync::Arc::new(AtomicU32::new(0));
    let t = tid.clone();
    // Detached: the thread never returns to std, so its handle must not be joined.
    drop(std::thread::spawn(move || {
        t.store(capscope::current_tid(), Ordering::SeqCst);
        match death {
            Death::SeccompKillThread => {
                if kill_thread_filter().is_ok() {
                    // SAFETY: getppid has no preconditions; the filter kills this thread here.
                    unsafe { libc::getppid() };
                }
            }
            // SAFETY: ends this thread alone; nothing else waits for it.
            Death::RawExit => unsafe {
                libc::syscall(libc::SYS_exit, 0);
            },
        }
        // Not reached when the thread died.
        t.store(u32::MAX, Ordering::SeqCst);
    }));
    let start = Instant::now();
    loop {
        let id = tid.load(Ordering::SeqCst);
        ensure!(id != u32::MAX, "the contained thread did not die");
        if id != 0 && gone(id) {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(10),
            "the contained thread never died"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    wait_threads(before)
}

/// A contained thread dies uncleanly, then a thread capscope does not know is started; a
/// process-wide drop must reach it, or fail. `Ok` with the thread still holding the capability
/// is a privilege leak.
fn stale_record_hides_an_unknown_thread(death: Death) -> Verdict {
    // The forked child: this thread is the main thread, no other thread yet.
    ensure!(
        kernel_threads()? == 1,
        "the child starts with other threads"
    );
    contained_thread_dies_uncleanly(death)?;
    let stray = Stray::start()?;
    let raw = stray.tid;
    wait_threads(2)?;
    ensure!(
        check!(task_caps(raw, "CapEff")).has(RAW),
        "the raw thread starts without {RAW}"
    );
    let result = process::set_caps(&without_raw()?);
    let still = check!(task_caps(raw, "CapEff")).has(RAW);
    stray.stop();
    match result {
        Ok(report) => ensure!(
            !still,
            "PRIVILEGE LEAK: set_caps returned Ok({report:?}) but live thread {raw} (started \
             with the C library's pthread_create) still holds {RAW}: a stale contained record \
             (a thread dead without its destructors) stood in for it"
        ),
        // The records are dropped for a listing once one of their ids is gone: the raw
        // thread is found and changed.
        Err(e) => {
            return Err(format!(
                "set_caps failed (the raw thread changed: {}): {e}",
                !still
            ))
        }
    }
    Ok(())
}

#[test]
fn a_contained_thread_killed_by_its_seccomp_filter_does_not_hide_a_raw_thread() {
    assert_pass(privileged(|| {
        stale_record_hides_an_unknown_thread(Death::SeccompKillThread)
    }));
}

#[test]
fn a_contained_thread_ended_with_raw_sys_exit_does_not_hide_a_raw_thread() {
    assert_pass(privileged(|| {
        stale_record_hides_an_unknown_thread(Death::RawExit)
    }));
}

/// The same hole reached through a glibc helper thread rather than a deliberate
/// bypass: `timer_create(SIGEV_THREAD)` starts glibc's timer helper with glibc's internal
/// `pthread_create` (not interposable) and every signal blocked. Without the stale record the
/// broadcast lists it, finds it blocking the signal and fails at its timeout (the helper is not
/// changed, and the caller is told). With one stale record the count matches, the helper is
/// never looked at, and the call returns `Ok` while the helper (which starts the threads that
/// run the program's timer callbacks, inheriting its credentials) keeps the capability.
#[test]
fn a_stale_record_does_not_hide_glibcs_timer_helper_thread() {
    assert_pass(privileged(|| {
        ensure!(
            kernel_threads()? == 1,
            "the child starts with other threads"
        );
        contained_thread_dies_uncleanly(Death::SeccompKillThread)?;
        extern "C" fn notify(_: libc::sigval) {}
        // SAFETY: a zeroed sigevent filled for SIGEV_THREAD; the timer is never armed.
        let timer = unsafe {
            let mut ev: libc::sigevent = std::mem::zeroed();
            ev.sigev_notify = libc::SIGEV_THREAD;
            // glibc's sigevent keeps the function pointer in the union after sigev_value.
            let base = std::ptr::addr_of_mut!(ev).cast::<u8>();
            let func_off =
                std::mem::size_of::<libc::sigval>() + 2 * std::mem::size_of::<libc::c_int>();
            base.add(func_off)
                .cast::<Option<extern "C" fn(libc::sigval)>>()
                .write_unaligned(Some(notify));
            let mut timer: libc::timer_t = std::ptr::null_mut();
            ensure!(
                libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut timer) == 0,
                "timer_create: {}",
                std::io::Error::last_os_error()
            );
            timer
        };
        wait_threads(2)?;
        let helper = std::fs::read_dir("/proc/self/task")
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&t| t != capscope::current_tid())
            .ok_or("no helper thread")?;
        ensure!(
            check!(task_caps(helper, "CapEff")).has(RAW),
            "the helper starts without {RAW}"
        );
        let options = process::Broadcast::new().timeout(Duration::from_secs(2));
        let result = options.set_caps(&without_raw()?);
        let still = check!(task_caps(helper, "CapEff")).has(RAW);
        // SAFETY: the timer made above.
        unsafe { libc::timer_delete(timer) };
        if let Ok(report) = result {
            ensure!(
                !still,
                "PRIVILEGE LEAK: set_caps returned Ok({report:?}) but glibc's timer helper \
                 thread {helper} still holds {RAW}"
            );
        }
        Ok(())
    }));
}

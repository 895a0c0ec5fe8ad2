//! Second adversarial review: the end-of-scope slow path (`contain::lower_strays`), which
//! lowers threads started behind capscope's back through one targeted broadcast pass.
//!
//! Oracles are independent of capscope: `/proc/self/task/<tid>/status` read from outside.
//! Every test runs in a forked child as root (or in a new user namespace).
//!
//! Each test is named for the behaviour it asserts; its comment describes the hole as the
//! review found it (fixed since).

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capscope::RaiseGuard;
use capscope_tests::state::{first_cpu, lower, task_caps};
use capscope_tests::{assert_pass, check, ensure, privileged};
use common::{holders, RAW};

/// Blocks every signal on the calling thread.
fn block_all() {
    // SAFETY: a filled set and the calling thread's mask.
    unsafe {
        let mut full: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut full);
        libc::pthread_sigmask(libc::SIG_SETMASK, &full, std::ptr::null_mut());
    }
}

fn unblock_all() {
    // SAFETY: an empty set and the calling thread's mask.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Whether a real-time signal is pending for the calling thread (or the process).
fn rt_signal_pending() -> bool {
    // SAFETY: sigpending writes the set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        (libc::SIGRTMIN()..=libc::SIGRTMAX()).any(|s| libc::sigismember(&set, s) == 1)
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The scope-end slow path lists the threads once, then lowers the strays it found with one
/// targeted pass (`process::lower_on`, `Target::Only`): nothing lists the threads again after
/// the strays were lowered. A stray started during the scope (so holding its capability) that
/// starts a thread of its own between that listing and its own lowering hands the capability
/// to a thread no one ever looks at. Made deterministic here: the stray blocks signals, waits
/// until capscope's broadcast signal is pending (it has been listed and is being lowered),
/// starts its thread (an ordinary `std::thread::spawn`), then unblocks and answers. The docs
/// promise that threads started by other means "and any thread such a thread starts" are
/// lowered before the scope ends.
#[test]
fn a_strays_child_born_while_the_stray_is_being_lowered_is_lowered_too() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stray_tid = Arc::new(AtomicU32::new(0));
        let child_tid = Arc::new(AtomicU32::new(0));
        let g = check!(RaiseGuard::raise(RAW));
        let (st, s_tid, c_tid) = (stop.clone(), stray_tid.clone(), child_tid.clone());
        let stray = common::spawn_behind_back(move || {
            block_all();
            s_tid.store(capscope::current_tid(), Ordering::SeqCst);
            // Listed and signalled by the scope's end: the broadcast signal is pending.
            while !rt_signal_pending() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let (st2, c2) = (st.clone(), c_tid.clone());
            let child = std::thread::spawn(move || {
                unblock_all();
                c2.store(capscope::current_tid(), Ordering::SeqCst);
                while !st2.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            while c_tid.load(Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            unblock_all(); // capscope's handler runs now and lowers this thread
            while !st.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = child.join();
        });
        wait_for("the stray", || stray_tid.load(Ordering::SeqCst) != 0)?;
        let s = stray_tid.load(Ordering::SeqCst);
        ensure!(
            task_caps(s, "CapEff").is_ok_and(|e| e.has(RAW)),
            "the stray was born with {RAW}"
        );
        drop(g); // the scope ends: no thread but its own may keep net_raw
        let c = child_tid.load(Ordering::SeqCst);
        let left = holders(RAW, &[]);
        stop.store(true, Ordering::SeqCst);
        // SAFETY: joins the stray started above.
        unsafe { libc::pthread_join(stray, std::ptr::null_mut()) };
        ensure!(c != 0, "the stray's child was never started");
        ensure!(
            left.is_empty(),
            "after the scope ended, threads {left:?} still hold {RAW} (stray {s}, its child {c} \
             started while the stray was being lowered)"
        );
        Ok(())
    }));
}

/// A thread started through capscope's `pthread_create` inside a scope is contained: it lowers
/// in its trampoline. If the scope ends before that trampoline ran, the kernel counts the
/// thread and the census does not. The slow path once read it with `capget`, found the
/// capability (not lowered yet) and signalled it; a program whose threads block every signal
/// (the classic `sigwait` daemon) never let it answer, and the scope's end waited the whole
/// broadcast timeout, then aborted the process. Now the end waits for births in flight. Made
/// deterministic by running the creator and the new thread on one CPU under `SCHED_FIFO` (the
/// new thread does not run until the creator sleeps); where `SCHED_FIFO` is not permitted (a
/// normal user's namespace), 50 rounds on one CPU leave the window to chance.
#[test]
fn a_contained_thread_still_being_born_when_the_scope_ends_is_waited_for() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        // The first CPU this process may run on (CPU 0 may be outside its affinity mask: a
        // container's cpuset, taskset).
        let cpu = first_cpu();
        // SAFETY: pins the calling (only) thread to that CPU and tries SCHED_FIFO 1; new threads
        // inherit both.
        let fifo = unsafe {
            let mut cpus: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut cpus);
            ensure!(
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &cpus) == 0,
                "sched_setaffinity(CPU {cpu}): {}",
                std::io::Error::last_os_error()
            );
            let p = libc::sched_param { sched_priority: 1 };
            libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) == 0
        };
        let rounds = if fifo {
            1
        } else {
            eprintln!(
                "SCHED_FIFO is not permitted here ({}): 50 rounds on one CPU, the window left \
                 to chance",
                std::io::Error::last_os_error()
            );
            50
        };
        block_all(); // the sigwait pattern: every thread blocks every signal
        for round in 0..rounds {
            let stop = Arc::new(AtomicBool::new(false));
            let st = stop.clone();
            let g = check!(RaiseGuard::raise(RAW));
            let worker = std::thread::spawn(move || {
                while !st.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let start = Instant::now();
            drop(g); // aborted after the 5 s broadcast timeout before the fix
            let took = start.elapsed();
            stop.store(true, Ordering::SeqCst);
            worker.join().unwrap();
            ensure!(
                took < Duration::from_secs(2),
                "round {round}: the scope's end took {took:?} for a thread that lowered the \
                 capability at birth"
            );
        }
        Ok(())
    }));
}

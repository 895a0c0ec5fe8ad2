//! Second adversarial review: the broadcast's passes (`process::broadcast`), after the fix that
//! asks again, on later passes, a thread id that answered before (ids are reused).
//!
//! Thread ids are made to repeat on purpose: the test runs in a new PID namespace with its own
//! `/proc` (nothing else takes ids there) and sets `ns_last_pid`. Oracles: `/proc` read from
//! outside.
//!
//! Each test is named for the behaviour it asserts; its comment describes the hole as the
//! review found it (fixed since).

#[path = "review/common.rs"]
mod common;

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capscope::process::Broadcast;
use capscope::CapState;
use capscope_tests::state::{raw_has, task_caps};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::{pipe, recv_verdict, send_verdict_and_exit, spawn_behind_back, RAW};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Runs `f` as pid 2 of a new PID namespace with its own `/proc` (in a new mount namespace),
/// and returns its verdict.
fn in_pid_ns(f: impl FnOnce() -> Verdict) -> Verdict {
    let (rd, wr) = pipe();
    // SAFETY: this forked test process is single-threaded; the namespace is for its children.
    unsafe {
        ensure!(libc::unshare(libc::CLONE_NEWPID) == 0, "unshare(NEWPID)");
    }
    // SAFETY: fork of a single-threaded process.
    let init = unsafe { libc::fork() };
    ensure!(init >= 0, "fork");
    if init == 0 {
        // pid 1 of the new namespace: its own /proc, then the test as pid 2.
        // SAFETY: mount calls of this process; fork of a single-threaded process.
        unsafe {
            libc::close(rd);
            let ok = libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    std::ptr::null(),
                    c("/").as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                && libc::mount(
                    c("proc").as_ptr(),
                    c("/proc").as_ptr(),
                    c("proc").as_ptr(),
                    0,
                    std::ptr::null(),
                ) == 0;
            if !ok {
                send_verdict_and_exit(wr, &Err("namespace set-up failed".into()));
            }
            let test = libc::fork();
            if test == 0 {
                let v = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    .unwrap_or_else(|_| Err("panicked".into()));
                send_verdict_and_exit(wr, &v);
            }
            libc::close(wr);
            let mut status = 0;
            libc::waitpid(test, &mut status, 0);
            libc::_exit(0);
        }
    }
    // SAFETY: our copy of the write end.
    unsafe { libc::close(wr) };
    recv_verdict(rd, init, "the test in a new PID namespace")
}

fn rt_signal_pending() -> bool {
    // SAFETY: sigpending writes the set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        (libc::SIGRTMIN()..=libc::SIGRTMAX()).any(|s| libc::sigismember(&set, s) == 1)
    }
}

fn set_mask(full: bool) {
    // SAFETY: a filled or empty set, the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if full {
            libc::sigfillset(&mut set);
        } else {
            libc::sigemptyset(&mut set);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

fn until(cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The broadcast of these tests: threads here sleep with every signal blocked, on purpose, for
/// as long as the scenario needs (longer than the default grace of 100 ms under load), so the
/// grace and the timeout are long enough that only the behaviour under test decides.
fn broadcast() -> Broadcast {
    Broadcast::new()
        .blocked_grace(Duration::from_secs(20))
        .timeout(Duration::from_secs(30))
}

fn gone(tid: u32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) != 0 }
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    t_tid: AtomicU32,
    t_exit: AtomicBool,
    u0_tid: AtomicU32,
    u_tid: AtomicU32,
}

/// A thread the broadcast found born from a changed thread (`born_with`) is put in `settled`
/// and skipped on every later pass, without ever being asked again; the fix that re-asks
/// reused ids covers answered threads only. If that thread exits and its id goes to a thread
/// born from one that had not changed yet, the later pass skips the new thread as "settled":
/// `process::set_caps` returns `Ok` while a thread keeps the capability the change lowered.
///
/// Sequence (each step waits for the one before): pass 1 lists main, A (a contained thread)
/// and B (a thread started by other means, blocking signals). A answers, then starts T (born
/// holding the change). B, signalled, starts U0 (not changed: born from B before B answered),
/// then answers. Pass 2 lists T (settled, never signalled) and U0; U0, signalled, lets T exit,
/// sets `ns_last_pid` so that its next thread U gets T's id, starts U (not changed), answers.
/// Pass 3 lists U under T's id: skipped. Nothing new: `Ok`.
#[test]
fn a_settled_thread_id_reused_by_an_unchanged_thread_is_asked_again() {
    assert_pass(privileged(|| {
        in_pid_ns(|| {
            let sh = Arc::new(Shared::default());
            let now = check!(CapState::get_current());
            ensure!(now.effective.has(RAW), "the test needs {RAW} effective");
            // A: contained; once changed, starts T (born holding the change).
            let a_sh = sh.clone();
            let a = std::thread::spawn(move || {
                until(|| !raw_has(RAW) || a_sh.stop.load(Ordering::SeqCst));
                let t_sh = a_sh.clone();
                let t = std::thread::spawn(move || {
                    t_sh.t_tid.store(capscope::current_tid(), Ordering::SeqCst);
                    until(|| t_sh.t_exit.load(Ordering::SeqCst));
                });
                until(|| a_sh.stop.load(Ordering::SeqCst));
                let _ = t.join();
            });
            // B: started by other means, answers only once T and U0 exist.
            let b_sh = sh.clone();
            let b = spawn_behind_back(move || {
                set_mask(true);
                until(|| rt_signal_pending() || b_sh.stop.load(Ordering::SeqCst));
                until(|| b_sh.t_tid.load(Ordering::SeqCst) != 0);
                let u0_sh = b_sh.clone();
                // U0: born from B before B changed.
                let u0 = spawn_behind_back(move || {
                    let sh = u0_sh;
                    sh.u0_tid.store(capscope::current_tid(), Ordering::SeqCst);
                    // Blocks every signal (B's mask); waits to be signalled in pass 2.
                    until(|| rt_signal_pending() || sh.stop.load(Ordering::SeqCst));
                    let t = sh.t_tid.load(Ordering::SeqCst);
                    sh.t_exit.store(true, Ordering::SeqCst);
                    until(|| gone(t));
                    // The kernel frees the number just after the thread is unhashed.
                    std::thread::sleep(Duration::from_millis(5));
                    std::fs::write("/proc/sys/kernel/ns_last_pid", (t - 1).to_string())
                        .expect("ns_last_pid");
                    let u_sh = sh.clone();
                    // U: born from U0 before U0 changed, with T's id.
                    let u = spawn_behind_back(move || {
                        set_mask(false);
                        u_sh.u_tid.store(capscope::current_tid(), Ordering::SeqCst);
                        until(|| u_sh.stop.load(Ordering::SeqCst));
                    });
                    until(|| sh.u_tid.load(Ordering::SeqCst) != 0);
                    set_mask(false); // U0 answers
                    until(|| sh.stop.load(Ordering::SeqCst));
                    // SAFETY: joins U.
                    unsafe { libc::pthread_join(u, std::ptr::null_mut()) };
                });
                until(|| b_sh.u0_tid.load(Ordering::SeqCst) != 0);
                set_mask(false); // B answers
                until(|| b_sh.stop.load(Ordering::SeqCst));
                // SAFETY: joins U0.
                unsafe { libc::pthread_join(u0, std::ptr::null_mut()) };
            });
            std::thread::sleep(Duration::from_millis(50)); // A and B wait
            let result = broadcast().set_caps(&CapState {
                effective: now.effective - RAW,
                ..now
            });
            let (t, u) = (
                sh.t_tid.load(Ordering::SeqCst),
                sh.u_tid.load(Ordering::SeqCst),
            );
            let u_eff = task_caps(u, "CapEff");
            let left = common::holders(RAW, &[]);
            sh.stop.store(true, Ordering::SeqCst);
            sh.t_exit.store(true, Ordering::SeqCst);
            let _ = a.join();
            // SAFETY: joins B.
            unsafe { libc::pthread_join(b, std::ptr::null_mut()) };
            ensure!(
                t != 0 && u != 0,
                "the threads were not started (T {t}, U {u})"
            );
            ensure!(
                u == t,
                "U got id {u}, not T's {t}: the reuse did not happen"
            );
            ensure!(
                result.is_ok(),
                "the broadcast failed ({result:?}): every thread answers in this scenario"
            );
            let u_eff = u_eff.map_err(|e| format!("U's capabilities: {e}"))?;
            ensure!(
                !u_eff.has(RAW),
                "process::set_caps returned {result:?}, but thread {u} (T's reused id, born \
                 from a thread that had not changed) still holds {RAW}; holders: {left:?}"
            );
            ensure!(
                left.is_empty(),
                "process::set_caps returned {result:?}, but threads {left:?} still hold {RAW}"
            );
            Ok(())
        })
    }));
}

/// Held up (control for the test above): a thread that *answered* in pass 1, exited, and whose
/// id went to a thread born from one that had not changed yet, is asked again on pass 2.
#[test]
fn held_up_a_reused_answered_id_is_asked_again() {
    assert_pass(privileged(|| {
        in_pid_ns(|| {
            let sh = Arc::new(Shared::default());
            let now = check!(CapState::get_current());
            // T: contained, answers in pass 1, then exits; U (same id) is started by U0, which
            // was born from B before B changed.
            let t_sh = sh.clone();
            let t = std::thread::spawn(move || {
                t_sh.t_tid.store(capscope::current_tid(), Ordering::SeqCst);
                until(|| t_sh.t_exit.load(Ordering::SeqCst));
            });
            until(|| sh.t_tid.load(Ordering::SeqCst) != 0);
            let b_sh = sh.clone();
            let b = spawn_behind_back(move || {
                set_mask(true);
                until(|| rt_signal_pending() || b_sh.stop.load(Ordering::SeqCst));
                // T has answered (it does not block): let it exit, reuse its id for U.
                until(|| {
                    !task_caps(b_sh.t_tid.load(Ordering::SeqCst), "CapEff")
                        .is_ok_and(|e| e.has(RAW))
                });
                let tid = b_sh.t_tid.load(Ordering::SeqCst);
                b_sh.t_exit.store(true, Ordering::SeqCst);
                until(|| gone(tid));
                std::thread::sleep(Duration::from_millis(5));
                std::fs::write("/proc/sys/kernel/ns_last_pid", (tid - 1).to_string())
                    .expect("ns_last_pid");
                let u_sh = b_sh.clone();
                let u = spawn_behind_back(move || {
                    set_mask(false);
                    u_sh.u_tid.store(capscope::current_tid(), Ordering::SeqCst);
                    until(|| u_sh.stop.load(Ordering::SeqCst));
                });
                until(|| b_sh.u_tid.load(Ordering::SeqCst) != 0);
                set_mask(false);
                until(|| b_sh.stop.load(Ordering::SeqCst));
                // SAFETY: joins U.
                unsafe { libc::pthread_join(u, std::ptr::null_mut()) };
            });
            std::thread::sleep(Duration::from_millis(50));
            let result = broadcast().set_caps(&CapState {
                effective: now.effective - RAW,
                ..now
            });
            let (tt, u) = (
                sh.t_tid.load(Ordering::SeqCst),
                sh.u_tid.load(Ordering::SeqCst),
            );
            let u_eff = task_caps(u, "CapEff");
            let left = common::holders(RAW, &[]);
            sh.stop.store(true, Ordering::SeqCst);
            let _ = t.join();
            // SAFETY: joins B.
            unsafe { libc::pthread_join(b, std::ptr::null_mut()) };
            ensure!(u == tt, "U got id {u}, not T's {tt}");
            ensure!(
                result.is_ok(),
                "the broadcast failed ({result:?}): every thread answers in this scenario"
            );
            let u_eff = u_eff.map_err(|e| format!("U's capabilities: {e}"))?;
            ensure!(
                !u_eff.has(RAW),
                "set_caps returned {result:?}; U ({u}, T's reused id) holds {RAW}"
            );
            ensure!(
                left.is_empty(),
                "set_caps returned {result:?}; threads {left:?} still hold {RAW}"
            );
            Ok(())
        })
    }));
}

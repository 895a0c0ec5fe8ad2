//! Adversarial review: process-wide broadcasts that return `Ok` while a live thread does not
//! hold the change (each test failed before its fix).
//!
//! Oracle: `capget(tid)` from outside, after the broadcast returned.

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use capscope::{process, CapState};
use capscope_tests::state::raw_effective;
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::{recv_verdict, send_verdict_and_exit, RAW};

fn set_all_signals(how: libc::c_int) {
    // SAFETY: a filled set, applied to the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn tid_exists(tid: u32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) == 0 }
}

/// Runs `f` as PID 1 of a new PID namespace with its own `/proc` (a private mount namespace),
/// in a grandchild of the privileged child; the verdict comes back through a pipe.
fn in_pid_namespace(f: fn() -> Verdict) -> Verdict {
    // SAFETY: unshare with flags, in a single-threaded forked child; the mount calls take
    // valid NUL-terminated strings.
    unsafe {
        ensure!(
            libc::unshare(libc::CLONE_NEWPID | libc::CLONE_NEWNS) == 0,
            "unshare: {}",
            std::io::Error::last_os_error()
        );
        ensure!(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ) == 0,
            "mount --make-rprivate /: {}",
            std::io::Error::last_os_error()
        );
    }
    let (rd, wr) = common::pipe();
    // SAFETY: single-threaded; the grandchild only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: closing the read end; mounting this namespace's /proc.
        let v = unsafe {
            libc::close(rd);
            if libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                0,
                std::ptr::null(),
            ) == 0
            {
                f()
            } else {
                Err(format!("mount proc: {}", std::io::Error::last_os_error()))
            }
        };
        send_verdict_and_exit(wr, &v);
    }
    // SAFETY: closing the write end.
    unsafe { libc::close(wr) };
    recv_verdict(rd, pid, "PID 1 of the new namespace")
}

/// A thread id seen in an earlier pass is skipped unless its entry is marked `gone`; an entry
/// is marked `gone` only when its thread exited *before answering*. So: thread A is listed,
/// answers, and exits; thread C (listed, not yet answered: it has the signal blocked for a
/// moment, as glibc does around thread creation) starts thread B, which gets A's old id
/// (ids wrap at `pid_max`; forced here with `ns_last_pid` in a private PID namespace); B is
/// born from an unchanged thread, so it holds the old state. The next pass lists B's id,
/// finds A's answered entry, skips it, finds nothing fresh, and the broadcast returns `Ok`.
/// The module docs promise "the id has been given to a new thread (ids wrap at pid_max),
/// which must be signalled too".
#[test]
fn a_new_thread_on_the_reused_id_of_a_thread_that_answered_is_changed_too() {
    assert_pass(privileged(|| in_pid_namespace(tid_reuse)));
}

fn tid_reuse() -> Verdict {
    let start = check!(CapState::get_current());
    ensure!(
        start.effective.has(RAW),
        "{RAW} is not effective to begin with"
    );
    let want = CapState {
        effective: start.effective.without(RAW),
        ..start
    };
    let want_e = want.effective.bits();
    // A: answers the broadcast, then exits.
    let (atx, arx) = mpsc::channel();
    let a = std::thread::spawn(move || {
        atx.send(capscope::current_tid()).unwrap();
        let t0 = Instant::now();
        while raw_effective() != want_e && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    let a_tid = arx.recv().unwrap();
    // C: signals blocked (the broadcast's stays pending), waits for A to be gone, starts B on
    // A's id, then unblocks and answers.
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel::<Result<u32, String>>();
    let stop_c = stop.clone();
    let c = std::thread::spawn(move || {
        set_all_signals(libc::SIG_BLOCK);
        ready_tx.send(()).unwrap();
        a.join().unwrap();
        let t0 = Instant::now();
        while tid_exists(a_tid) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_micros(100));
        }
        let mut found = Err(format!("no thread got id {a_tid} back"));
        for _ in 0..20 {
            if std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", a_tid - 1)).is_err() {
                found = Err("cannot write ns_last_pid".into());
                break;
            }
            let (ttx, trx) = mpsc::channel();
            let stop_b = stop_c.clone();
            let mine = Arc::new(AtomicBool::new(false));
            let mine_b = mine.clone();
            std::thread::spawn(move || {
                set_all_signals(libc::SIG_UNBLOCK);
                ttx.send(capscope::current_tid()).unwrap();
                // A thread that did not get the id leaves at once; B stays.
                std::thread::sleep(Duration::from_millis(1));
                while mine_b.load(Ordering::SeqCst) && !stop_b.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let t = trx.recv().unwrap();
            if t == a_tid {
                mine.store(true, Ordering::SeqCst);
                found = Ok(t);
                break;
            }
        }
        b_tx.send(found).unwrap();
        set_all_signals(libc::SIG_UNBLOCK); // C answers now
        while !stop_c.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    ready_rx.recv().unwrap();
    // C sleeps with every signal blocked for as long as the set-up takes (longer than the
    // default grace of 100 ms under load): a grace and a timeout long enough that only the
    // id reuse decides.
    let report = process::Broadcast::new()
        .blocked_grace(Duration::from_secs(20))
        .timeout(Duration::from_secs(30))
        .set_caps(&want);
    let b = b_rx.recv().unwrap();
    let b_tid = match b {
        Ok(t) => t,
        Err(e) => {
            stop.store(true, Ordering::SeqCst);
            let _ = c.join();
            return Err(format!("set-up: {e} (broadcast: {report:?})"));
        }
    };
    let b_caps = CapState::get_for_pid(b_tid);
    stop.store(true, Ordering::SeqCst);
    let _ = c.join();
    let report = check!(report);
    let b_caps = check!(b_caps);
    ensure!(
        b_caps == want,
        "process::set_caps returned Ok({report:?}), but thread {b_tid} (a new thread on the \
         reused id of a thread that had answered) holds {:?}, not {:?}",
        b_caps.effective,
        want.effective
    );
    Ok(())
}

/// An exclusive guard records the effective set it found and raises it back when it ends
/// ("raises again only what a guard (an exclusive one) lowered: never a capability that other
/// code lowered"). A process-wide drop that keeps `net_raw` permitted (so that scopes can raise
/// it) empties every effective set; a worker inside an exclusive scope at that moment raises
/// `net_raw` back into its effective set when its scope ends, and keeps it there, outside any
/// scope, after `process::drop_all` returned `Ok`.
#[test]
fn an_exclusive_scope_ending_after_a_process_wide_drop_does_not_raise_a_kept_capability_again() {
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        ensure!(
            start.effective.has(RAW),
            "{RAW} is not effective to begin with"
        );
        let (in_tx, in_rx) = mpsc::channel();
        let (end_tx, end_rx) = mpsc::channel::<()>();
        let (out_tx, out_rx) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            // #[requires_caps(net_bind_service, exclusive)] on a function the worker runs.
            let g = capscope::RaiseGuard::exclusive(capscope::Cap::NET_BIND_SERVICE)
                .expect("exclusive guard");
            in_tx.send(capscope::current_tid()).unwrap();
            end_rx.recv().unwrap();
            drop(g); // the scope ends
            out_tx
                .send(capscope::CapSet::from_bits(raw_effective()))
                .unwrap();
            end_rx.recv().ok();
        });
        let tid = in_rx.recv().unwrap();
        let report = check!(process::drop_all(
            &capscope::drop_after::DropOptions::new().keep(RAW)
        ));
        let mid = check!(CapState::get_for_pid(tid));
        ensure!(
            mid.effective.is_empty(),
            "the drop left {:?}",
            mid.effective
        );
        end_tx.send(()).unwrap();
        let after = out_rx.recv().unwrap();
        drop(end_tx);
        worker.join().unwrap();
        ensure!(
            after.is_empty(),
            "process::drop_all(keep {RAW}) returned Ok({report:?}) with every effective set \
             empty, then worker {tid}'s exclusive scope ended and raised {after:?} back: \
             effective outside any scope"
        );
        Ok(())
    }));
}

//! Failure paths found by reading the code once more: a drop that fails before it changed
//! anything leaves nothing raised behind, and an async scope that cannot raise again returns
//! an error instead of panicking. Each test runs in a forked child (root) or a user namespace
//! (a normal user).

#[path = "review/common.rs"]
mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use capscope::drop_after::{drop_all, DropOptions};
use capscope::future::RaisedFuture;
use capscope::guard::RaiseMode;
use capscope::{Cap, CapState, Error, Op};
use capscope_tests::state::{lower, unpermit};
use capscope_tests::{assert_pass, check, ensure, fail_syscall, privileged};

/// `drop_all(bounding)` raises `CAP_SETPCAP` into the effective set when it is only
/// permitted. If the first bounding-set read then fails (here a seccomp filter makes
/// `PR_CAPBSET_READ` fail), nothing else has changed: the error is a plain one (not
/// "indeterminate"), and `CAP_SETPCAP` is lowered again, so the thread is exactly as before.
#[test]
fn a_drop_failing_before_any_change_leaves_setpcap_as_it_was() {
    assert_pass(privileged(|| {
        lower(Cap::SETPCAP.into())?;
        let before = check!(CapState::get_current());
        ensure!(
            before.permitted.has(Cap::SETPCAP) && !before.effective.has(Cap::SETPCAP),
            "{before:?}"
        );
        // The kernel's last capability, probed (with PR_CAPBSET_READ) before the filter.
        check!(capscope::kernel::last_supported());
        fail_syscall(
            libc::SYS_prctl,
            &[(0, libc::PR_CAPBSET_READ as u32)],
            libc::EPERM as u16,
        )?;
        let e = match drop_all(&DropOptions::new().bounding()) {
            Err(e) => e,
            Ok(()) => return Err("the drop succeeded though every bounding read fails".into()),
        };
        ensure!(
            matches!(
                e,
                Error::Os {
                    op: Op::CapbsetRead,
                    ..
                }
            ),
            "not the plain error of the failing step: {e:#?}"
        );
        ensure!(
            check!(CapState::get_current()) == before,
            "the thread changed: {:?}",
            check!(CapState::get_current())
        );
        Ok(())
    }));
}

/// An annotated `async fn` whose capability leaves the permitted set between two polls: the
/// second poll returns an error saying the future was left half-run (no panic), and the inner
/// future is not polled again without the capability.
#[test]
fn an_async_scope_that_cannot_raise_again_returns_an_error() {
    assert_pass(privileged(|| {
        lower(Cap::NET_RAW.into())?;
        let polls = std::cell::Cell::new(0u32);
        let inner = std::future::poll_fn(|_| {
            polls.set(polls.get() + 1);
            if polls.get() == 1 {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        });
        let mut fut = pin!(RaisedFuture::new(
            Cap::NET_RAW,
            RaiseMode::Add,
            "hardening::inner",
            inner
        ));
        let mut cx = Context::from_waker(Waker::noop());
        ensure!(
            fut.as_mut().poll(&mut cx).is_pending(),
            "the first poll ended"
        );
        unpermit(Cap::NET_RAW.into())?;
        let out =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)))
                .map_err(|_| "the second poll panicked".to_owned())?;
        match out {
            Poll::Ready(Err(e)) => ensure!(e.to_string().contains("half-run"), "{e}"),
            other => return Err(format!("expected an error, got {other:?}")),
        }
        ensure!(
            polls.get() == 1,
            "the inner future was polled without the capability"
        );
        Ok(())
    }));
}

/// A thread that blocks the broadcast signal gets it once: while it is pending, the broadcast
/// does not queue more copies (each would fill the thread's signal queue, shared per user, or
/// reach the program's own `sigwait`), and the call names the thread.
#[test]
fn a_thread_blocking_the_signal_is_sent_it_once() {
    use std::sync::mpsc;
    use std::time::Duration;
    assert_pass(privileged(|| {
        let sig = capscope::process::signal().raw();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let blocker = std::thread::spawn(move || -> Result<usize, String> {
            // SAFETY: a signal set on the stack, blocked on this thread only.
            let mut set = unsafe { std::mem::zeroed::<libc::sigset_t>() };
            // SAFETY: valid set; sig is a real-time signal.
            unsafe {
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }
            ready_tx.send(capscope::current_tid()).unwrap();
            go_rx.recv().unwrap();
            // Take every queued copy without running the handler.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let mut copies = 0;
            // SAFETY: valid set and timeout; the info pointer may be null.
            while unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } == sig {
                copies += 1;
            }
            Ok(copies)
        });
        let tid = ready_rx.recv().unwrap();
        let s = check!(CapState::get_current());
        let r = capscope::process::Broadcast::new()
            .blocked_grace(Duration::from_millis(1500))
            .timeout(Duration::from_secs(2))
            .set_caps(&s);
        go_tx.send(()).unwrap();
        let copies = blocker
            .join()
            .map_err(|_| "the blocker panicked".to_owned())??;
        match r {
            Err(Error::Threads(f)) => ensure!(f.blocked.contains(&tid), "{f:?}"),
            other => return Err(format!("expected the blocker named, got {other:?}")),
        }
        ensure!(
            copies == 1,
            "the blocking thread was sent {copies} copies of the signal"
        );
        Ok(())
    }));
}

/// A drop to uid or gid `u32::MAX` (the kernel's "unchanged") is refused before anything
/// changes, per thread and process-wide.
#[test]
fn a_drop_to_the_unchanged_id_is_refused() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        for opts in [
            DropOptions::new().uid(u32::MAX),
            DropOptions::new().gid(u32::MAX),
        ] {
            for r in [
                drop_all(&opts),
                capscope::process::drop_all(&opts).map(drop),
            ] {
                ensure!(matches!(r, Err(Error::InvalidInput { .. })), "{r:?}");
            }
        }
        ensure!(
            check!(CapState::get_current()) == before,
            "the thread changed"
        );
        Ok(())
    }));
}

/// At a scope's end, a stray (a thread started behind capscope's back) whose `/proc` status
/// cannot be read (here: no descriptor can be opened, `RLIMIT_NOFILE` at 0, as in a program
/// that ran out of them) is still lowered: only `tgkill` saying it is gone lets the check pass
/// it over.
#[test]
fn a_stray_whose_status_cannot_be_read_is_still_lowered() {
    assert_pass(privileged(|| {
        let raw = Cap::NET_RAW;
        lower(raw.into())?;
        // Opens and keeps /proc/self/task (the first raise does), before descriptors run out.
        drop(check!(capscope::RaiseGuard::raise(raw)));
        let g = check!(capscope::RaiseGuard::raise(raw));
        let stray = common::Stray::start_holding(raw)?;
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out-pointer, then a lower soft limit (always allowed).
        unsafe {
            ensure!(
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) == 0,
                "getrlimit"
            );
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: old.rlim_max,
            };
            ensure!(
                libc::setrlimit(libc::RLIMIT_NOFILE, &none) == 0,
                "setrlimit"
            );
        }
        ensure!(
            std::fs::File::open("/proc/self/status").is_err(),
            "a descriptor could still be opened"
        );
        drop(g);
        // SAFETY: back to the old limit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) };
        let after = stray.effective();
        let tid = stray.tid;
        stray.stop();
        let after = after?;
        ensure!(
            !after.has(raw),
            "stray {tid}, whose status could not be read at the scope's end, keeps {raw}"
        );
        Ok(())
    }));
}

/// A `capget` that returns 0 without writing the sets (a seccomp filter answering it with
/// errno 0) is refused: reading the sets then fails with `Op::Capget`, never yields whatever
/// the buffer held. The oracle is the thread's `/proc/thread-self/status`.
#[test]
fn a_capget_that_writes_nothing_is_refused() {
    assert_pass(privileged(|| {
        let real = capscope_tests::state::status_caps(
            &std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?,
            "CapEff",
        )?;
        ensure!(!real.is_empty(), "nothing effective to compare");
        fail_syscall(libc::SYS_capget, &[], 0)?;
        for _ in 0..20 {
            match CapState::get_current() {
                Ok(s) => return Err(format!("read {s:?} from a capget that wrote nothing")),
                Err(e) => ensure!(
                    e.op() == Some(Op::Capget) && e.to_string().contains("without filling in"),
                    "{e:#?}"
                ),
            }
        }
        Ok(())
    }));
}

/// With both `capset` and `capget` faked (each returns 0 and does nothing), a read-back would
/// find in the unwritten `capget` buffer whatever the stack held, possibly the very sets just
/// given to `capset`. The drop must fail, and the sets must be as before.
#[test]
fn a_faked_capset_with_a_faked_capget_does_not_pass_the_read_back() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(!before.effective.is_empty(), "nothing effective to drop");
        fail_syscall(libc::SYS_capset, &[], 0)?;
        fail_syscall(libc::SYS_capget, &[], 0)?;
        let dropped = CapState {
            effective: capscope::CapSet::empty(),
            ..before
        };
        let single = capscope::process::set_caps(&dropped);
        ensure!(single.is_err(), "process::set_caps reported {single:?}");
        let all = drop_all(&DropOptions::new());
        ensure!(all.is_err(), "drop_all reported {all:?}");
        let now = capscope_tests::state::status_caps(
            &std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?,
            "CapEff",
        )?;
        ensure!(now == before.effective, "the effective set changed: {now}");
        Ok(())
    }));
}

/// A seccomp filter that answers a whole `prctl` option with 0 (`SECCOMP_RET_ERRNO` with
/// errno 0) makes every capability read "absent": a drop or clear read back through it would
/// look done. capscope asks the kernel about capability 63 too, which it must refuse with
/// `EINVAL`: the drop fails, and the capability is still there (`/proc/thread-self/status`).
#[test]
fn a_faked_bounding_read_does_not_pass_for_a_drop() {
    assert_pass(privileged(|| {
        // Known before the filter (and kept): `last_supported`'s own cross-check with
        // `/proc/sys/kernel/cap_last_cap` would otherwise catch the fake first.
        check!(capscope::kernel::last_supported());
        fail_syscall(libc::SYS_prctl, &[(0, libc::PR_CAPBSET_READ as u32)], 0)?;
        fail_syscall(libc::SYS_prctl, &[(0, libc::PR_CAPBSET_DROP as u32)], 0)?;
        let e = capscope::bounding::drop(Cap::NET_RAW)
            .err()
            .ok_or("bounding::drop reported success through faked reads")?;
        ensure!(
            e.op() == Some(Op::CapbsetRead) && e.to_string().contains("capability 63"),
            "{e:#?}"
        );
        let e = drop_all(&DropOptions::new().bounding())
            .err()
            .ok_or("drop_all(bounding) reported success through faked reads")?;
        ensure!(e.to_string().contains("capability 63"), "{e:#?}");
        let status =
            std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?;
        ensure!(
            capscope_tests::state::status_caps(&status, "CapBnd")?.has(Cap::NET_RAW),
            "the bounding set lost CAP_NET_RAW"
        );
        Ok(())
    }));
}

/// The same for the ambient set: `PR_CAP_AMBIENT` answered with 0 for every sub-option (clear
/// and the questions), with `CAP_NET_RAW` ambient. Clearing must fail, not report an empty set.
#[test]
fn a_faked_ambient_read_does_not_pass_for_a_clear() {
    assert_pass(privileged(|| {
        let mut now = check!(CapState::get_current());
        now.inheritable.add(Cap::NET_RAW);
        check!(now.set_current());
        check!(capscope::ambient::raise(Cap::NET_RAW));
        fail_syscall(libc::SYS_prctl, &[(0, libc::PR_CAP_AMBIENT as u32)], 0)?;
        let e = capscope::process::ambient_clear()
            .err()
            .ok_or("process::ambient_clear reported success through faked reads")?;
        ensure!(e.to_string().contains("capability 63"), "{e:#?}");
        let status =
            std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?;
        ensure!(
            capscope_tests::state::status_caps(&status, "CapAmb")?.has(Cap::NET_RAW),
            "the ambient set lost CAP_NET_RAW"
        );
        Ok(())
    }));
}

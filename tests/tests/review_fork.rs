//! Adversarial review: state carried into a child process (each test failed before its fix).

#[path = "review/common.rs"]
mod common;

use capscope::RaiseGuard;
use capscope_tests::state::lower;
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::{recv_verdict, send_verdict_and_exit, RAW};

/// A child process made with `clone()` (glibc's wrapper or the raw system call, as container
/// runtimes and sandboxes do; `pthread_atfork` handlers do not run) starts with a copy of
/// capscope's parent state: the parent's `CONTAINED` count, its thread table, its cached
/// `/proc/<parent>/task` descriptor. Nothing tells such a child apart without a system call on
/// every scope's end, so it calls `capscope::after_clone()` first (as documented); then a
/// stray started in the child's scope is lowered when the scope ends.
#[test]
fn a_clone_child_that_calls_after_clone_lowers_its_stray() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let peer = common::Peer::start();
        drop(check!(RaiseGuard::raise(RAW))); // the parent opens and keeps /proc/self/task
        let (rd, wr) = common::pipe();
        let mut stack = vec![0u8; 4 << 20];
        let arg = Box::into_raw(Box::new(wr));
        // SAFETY: a new process (no CLONE_VM: a copy of memory) running `child` on its own
        // stack; it leaves with _exit.
        let pid = unsafe {
            libc::clone(
                child,
                stack.as_mut_ptr().add(stack.len()).cast(),
                libc::SIGCHLD,
                arg.cast(),
            )
        };
        // SAFETY: the parent's copy of the box and of the write end.
        unsafe {
            drop(Box::from_raw(arg));
            libc::close(wr);
        }
        ensure!(pid > 0, "clone: {}", std::io::Error::last_os_error());
        let v = recv_verdict(rd, pid, "the clone child");
        drop(stack);
        peer.stop();
        v
    }));
}

extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the box made by the parent before clone (this process's copy).
    let wr = unsafe { *Box::from_raw(arg.cast::<i32>()) };
    let v = in_child();
    send_verdict_and_exit(wr, &v)
}

fn in_child() -> Verdict {
    capscope::after_clone();
    let (tid, after) = common::stray_after_scope()?;
    ensure!(
        !after.has(RAW),
        "in a child made with clone(), stray {tid} keeps {RAW} after the scope ended"
    );
    Ok(())
}

/// The same with glibc's `fork()` (its `pthread_atfork` handler resets capscope's state, no call
/// needed): the stray is lowered.
#[test]
fn control_a_fork_child_lowers_its_stray() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let peer = common::Peer::start();
        drop(check!(RaiseGuard::raise(RAW)));
        let (rd, wr) = common::pipe();
        // SAFETY: the child runs the scenario and leaves with _exit.
        let pid = unsafe { libc::fork() };
        ensure!(pid >= 0, "fork");
        if pid == 0 {
            send_verdict_and_exit(wr, &in_child());
        }
        // SAFETY: the parent's copy of the write end.
        unsafe { libc::close(wr) };
        let v = recv_verdict(rd, pid, "the fork child");
        peer.stop();
        v
    }));
}

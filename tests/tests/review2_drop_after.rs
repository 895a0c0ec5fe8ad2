//! Second adversarial review: `#[drop_caps_after]` in a process forked by its body
//! (`DropAfter::run` once told the arming process's `/proc/<pid>/task` from its own by the pid
//! number alone; it now goes by the fork generation).

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capscope_tests::{assert_pass, privileged, Verdict};
use common::{pipe, recv_output, send_verdict_and_exit};

/// What the body returns in each process.
enum Role {
    /// The arming process: the first fork's pid, the read end of the verdict pipe.
    Parent(i32, i32),
    /// The process that ends the function in a new PID namespace with the parent's pid number:
    /// its worker's caps, read by the worker itself after the drop.
    Child(i32, Arc<AtomicBool>, Arc<AtomicU64>),
}

/// A sandbox's set-up (a container runtime, a bubblewrap-like tool) in `#[drop_caps_after]`:
/// the body makes a PID namespace and forks into it; the process that returns from the function
/// there has, by construction, the same pid *number* as the process that armed the drop
/// (here: the namespace's init forks once more after setting `ns_last_pid`; the same happens
/// whenever the numbers meet by chance). `DropAfter::run` used to compare only
/// `t.pid() == getpid()`, take the inherited descriptor for its own, count the *parent's*
/// threads (1), and make the per-thread drop only: the child's worker kept every capability.
/// Now the child knows it is a child (the fork generation), and looks for its own
/// `/proc/self/task`: the `/proc` it sees is the parent namespace's, so it cannot reach its
/// worker, and it fails closed (aborts).
#[capscope::drop_caps_after]
fn sandbox_setup() -> Role {
    let (rd, wr) = pipe();
    let parent_pid = std::process::id();
    // SAFETY: a new PID namespace for the children of this single-threaded forked process.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWPID) }, 0, "unshare");
    // SAFETY: fork of a single-threaded process.
    let init = unsafe { libc::fork() };
    assert!(init >= 0);
    if init > 0 {
        // SAFETY: our copy of the write end.
        unsafe { libc::close(wr) };
        return Role::Parent(init, rd);
    }
    // The namespace's init (pid 1): the next pid is the parent's number.
    // SAFETY: our copy of the read end.
    unsafe { libc::close(rd) };
    std::fs::write("/proc/sys/kernel/ns_last_pid", (parent_pid - 1).to_string())
        .expect("ns_last_pid");
    // SAFETY: fork of a single-threaded process.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child > 0 {
        let mut status = 0;
        // SAFETY: waits for our child, then ends without running the drop twice, with 42 when
        // the child aborted.
        unsafe {
            libc::waitpid(child, &mut status, 0);
            let aborted = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT;
            libc::_exit(if aborted { 42 } else { 0 });
        }
    }
    // pid == parent_pid, in the new namespace: the premise of the test.
    if std::process::id() != parent_pid {
        send_verdict_and_exit(
            wr,
            &Err(format!(
                "set-up: the process in the new PID namespace got pid {}, not the parent's \
                 number {parent_pid}",
                std::process::id()
            )),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let caps = Arc::new(AtomicU64::new(u64::MAX));
    let (s2, c2) = (stop.clone(), caps.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(()).unwrap();
        while !s2.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        c2.store(capscope_tests::state::raw_effective(), Ordering::SeqCst);
    });
    rx.recv().unwrap();
    Role::Child(wr, stop, caps)
}

#[test]
fn a_child_in_a_pid_namespace_with_the_parents_pid_number_does_not_drop_one_thread_only() {
    assert_pass(privileged(|| {
        match sandbox_setup() {
            // Either the child's drop reached its worker (a verdict), or it failed closed.
            Role::Parent(init, rd) => {
                let (out, status) = recv_output(rd, init);
                let exited = |code| libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code;
                match out.strip_prefix("FAIL ") {
                    Some(why) => Err(format!("the sandboxed child: {why}")),
                    // The child's drop reached its worker, verified there.
                    None if out == "PASS" && exited(0) => Ok(()),
                    // The child failed closed: it aborted (init exits with 42 only then).
                    None if out.is_empty() && exited(42) => Ok(()),
                    None => Err(format!(
                        "the sandboxed child: no verdict ({out:?}); its namespace's init {}",
                        if libc::WIFEXITED(status) {
                            format!("exited with {}", libc::WEXITSTATUS(status))
                        } else if libc::WIFSIGNALED(status) {
                            format!("was killed by signal {}", libc::WTERMSIG(status))
                        } else {
                            format!("ended with wait status {status}")
                        }
                    )),
                }
            }
            Role::Child(wr, stop, caps) => {
                // The function has returned: its drop ran in this process.
                stop.store(true, Ordering::SeqCst);
                let mut v: Verdict = Ok(());
                let start = Instant::now();
                while caps.load(Ordering::SeqCst) == u64::MAX
                    && start.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let eff = caps.load(Ordering::SeqCst);
                if eff == u64::MAX {
                    v = Err(format!(
                        "timed out: the worker of pid {} did not report its capabilities within \
                         10 s of #[drop_caps_after] returning",
                        std::process::id()
                    ));
                } else if eff != 0 {
                    v = Err(format!(
                        "pid {} (the parent's number, in a new PID namespace): after \
                         #[drop_caps_after] returned, its worker still has effective \
                         capabilities {eff:#x}",
                        std::process::id()
                    ));
                }
                send_verdict_and_exit(wr, &v)
            }
        }
    }));
}

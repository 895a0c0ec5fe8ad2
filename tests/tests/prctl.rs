//! `capscope::prctl`, with real system calls. Per-thread attributes are changed on a thread
//! that exits (`in_thread`), per-process ones in a forked child (`in_child`), so the test
//! process keeps its own. Oracles: the getter, `/proc/thread-self/status` (or
//! `/proc/<pid>/task/<tid>/...`), and behaviour (a signal that arrives, a process that is
//! adopted, a system call that kills).
//!
//! Everything here runs the same way as root and as a normal user, except where the outcome
//! depends on a capability or a kernel feature: there the test computes the expected outcome
//! from the capability sets or the feature's presence and checks that branch (see each test).

use std::time::Duration;

use capscope::prctl::{self, Dumpable, MceKill, Ptracer, SeccompMode, SpeculationFeature};
use capscope::Signal;
use capscope::{Cap, CapState, Error};
use capscope_tests::{assert_pass, check, ensure, in_child, in_thread, privileged, Verdict};

fn status_field(path: &str, key: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| format!("{path}: no {key}"))
}

fn my_status(key: &str) -> Result<String, String> {
    status_field("/proc/thread-self/status", key)
}

fn expect_invalid<T: std::fmt::Debug>(r: capscope::Result<T>, what: &str) -> Verdict {
    match r {
        Err(Error::InvalidInput { .. }) => Ok(()),
        other => Err(format!("{what}: expected InvalidInput, got {other:?}")),
    }
}

fn expect_errno<T: std::fmt::Debug>(r: capscope::Result<T>, errno: i32, what: &str) -> Verdict {
    match r {
        Err(e) if e.code() == Some(errno) => Ok(()),
        other => Err(format!("{what}: expected errno {errno}, got {other:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Thread name

#[test]
fn thread_name_is_truncated_to_15_bytes() {
    assert_pass(in_thread(|| {
        let comm = || std::fs::read("/proc/thread-self/comm").map_err(|e| e.to_string());
        check!(prctl::set_name("abcdefghijklmnopqrstuvwxyz"));
        ensure!(check!(prctl::name()) == b"abcdefghijklmno");
        ensure!(comm()? == b"abcdefghijklmno\n");
        check!(prctl::set_name("0123456789abcde"));
        ensure!(check!(prctl::name()) == b"0123456789abcde");
        // By bytes: 9 × "é" (18 bytes) keeps 7 and the first byte of the 8th.
        check!(prctl::set_name("ééééééééé"));
        let raw = check!(prctl::name());
        ensure!(raw.len() == 15 && raw[14] == 0xC3, "{raw:?}");
        ensure!(raw[..14] == "ééééééé".as_bytes()[..]);
        ensure!(comm()?[..15] == raw[..]);
        check!(prctl::set_name(""));
        ensure!(check!(prctl::name()).is_empty());
        Ok(())
    }));
}

#[test]
fn thread_name_with_nul_is_rejected_unchanged() {
    assert_pass(in_thread(|| {
        check!(prctl::set_name("before"));
        for bad in [
            "ab\0cd",
            "\0",
            "fifteen-bytes\0!",
            "a-name-longer-than-15\0",
        ] {
            expect_invalid(prctl::set_name(bad), bad)?;
            ensure!(
                check!(prctl::name()) == b"before",
                "{bad:?} changed the name"
            );
        }
        Ok(())
    }));
}

#[test]
fn thread_name_is_per_thread() {
    let before = prctl::name().unwrap();
    assert_pass(in_thread(|| {
        check!(prctl::set_name("other-thread"));
        Ok(())
    }));
    assert_eq!(prctl::name().unwrap(), before);
}

// ---------------------------------------------------------------------------------------------
// Signals and the parent-death signal

#[test]
fn signal_numbers_are_validated() {
    for n in [i32::MIN, -1, 0, 65, 128, 256 + 9, i32::MAX] {
        assert!(Signal::new(n).is_err(), "{n} accepted");
        assert!(Signal::try_from(n).is_err(), "{n} accepted");
    }
    for n in 1..=64 {
        assert_eq!(Signal::new(n).unwrap().raw(), n);
    }
    assert_eq!(Signal::TERM.raw(), libc::SIGTERM);
    assert_eq!(Signal::USR2.raw(), libc::SIGUSR2);
}

#[test]
fn pdeathsig_roundtrip() {
    assert_pass(in_thread(|| {
        ensure!(check!(prctl::pdeathsig()).is_none());
        check!(prctl::set_pdeathsig(Some(Signal::USR1)));
        ensure!(check!(prctl::pdeathsig()) == Some(Signal::USR1));
        // Real-time signals up to 64, the C library's reserved ones included.
        for n in [32, 33, 64] {
            let s = check!(Signal::new(n));
            check!(prctl::set_pdeathsig(Some(s)));
            ensure!(check!(prctl::pdeathsig()) == Some(s));
        }
        // A rejected number never reaches the kernel: the setting stays.
        ensure!(Signal::new(65).is_err());
        ensure!(check!(prctl::pdeathsig()) == Some(check!(Signal::new(64))));
        check!(prctl::set_pdeathsig(None));
        ensure!(check!(prctl::pdeathsig()).is_none());
        Ok(())
    }));
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Forks a process that sets its parent-death signal to `sig`, says so on a pipe and then
/// waits (up to 20 s) to be killed. Called on the thread that is to be its "parent thread".
/// Returns its pid once it is ready.
fn fork_pdeathsig_child(sig: Signal) -> Result<i32, String> {
    let mut fds = [0i32; 2];
    // SAFETY: valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err("pipe2".into());
    }
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child only makes async-signal-safe calls (raw prctl, getppid, write,
    // nanosleep, _exit): the test process has other threads.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork".into());
    }
    if pid == 0 {
        let ok = prctl::set_pdeathsig(Some(sig)).is_ok();
        // SAFETY: getppid has no preconditions.
        let msg: &[u8] = if ok && unsafe { libc::getppid() } == parent {
            b"r"
        } else {
            b"e"
        };
        // SAFETY: one byte from a valid buffer.
        unsafe { libc::write(fds[1], msg.as_ptr().cast(), 1) };
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        for _ in 0..2000 {
            // SAFETY: valid timespec.
            unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        }
        // SAFETY: leaves without running anything of the parent's.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut b = [0u8; 1];
    // SAFETY: one byte into a valid buffer.
    let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
    // SAFETY: closing our read end.
    unsafe { libc::close(fds[0]) };
    if n != 1 || b[0] != b'r' {
        return Err(format!(
            "pdeathsig child {pid} did not get ready ({n}, {:?})",
            b[0] as char
        ));
    }
    Ok(pid)
}

fn wait_status(pid: i32, block: bool) -> Option<i32> {
    let mut status = 0;
    // SAFETY: pid is our child; status a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
    (r == pid).then_some(status)
}

/// The parent-death signal is tied to the thread that forked: a child forked by a worker
/// thread gets it when that worker exits, while the process lives on; a child forked by the
/// main thread does not.
#[test]
fn pdeathsig_fires_when_the_parent_thread_exits() {
    assert_pass(in_child(|| {
        let control = fork_pdeathsig_child(Signal::USR1)?;
        let worker = std::thread::spawn(|| fork_pdeathsig_child(Signal::USR2));
        let victim = worker.join().map_err(|_| "worker panicked".to_owned())??;
        // The worker thread has exited; the process (us) is alive.
        let mut status = None;
        for _ in 0..500 {
            status = wait_status(victim, false);
            if status.is_some() {
                break;
            }
            sleep_ms(10);
        }
        let status = status.ok_or("the worker's child was not signalled within 5 s")?;
        ensure!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGUSR2,
            "worker's child ended with status {status:#x}, expected SIGUSR2"
        );
        // The main thread's child is still waiting.
        ensure!(
            wait_status(control, false).is_none(),
            "the main thread's child ended"
        );
        // SAFETY: our child.
        unsafe { libc::kill(control, libc::SIGKILL) };
        let s = wait_status(control, true).ok_or("waitpid control")?;
        ensure!(libc::WIFSIGNALED(s) && libc::WTERMSIG(s) == libc::SIGKILL);
        Ok(())
    }));
}

// ---------------------------------------------------------------------------------------------
// keepcaps, no_new_privs

#[test]
fn keepcaps_via_prctl() {
    assert_pass(in_thread(|| {
        let before = check!(capscope::securebits::keepcaps());
        check!(capscope::securebits::set_keepcaps(!before));
        ensure!(check!(capscope::securebits::keepcaps()) != before);
        ensure!(
            check!(capscope::securebits::get()).contains(capscope::Secbits::KEEP_CAPS) != before
        );
        check!(capscope::securebits::set_keepcaps(before));
        ensure!(check!(capscope::securebits::keepcaps()) == before);
        Ok(())
    }));
}

#[test]
fn no_new_privs_is_set_on_one_thread_only() {
    let before = prctl::no_new_privs().unwrap();
    assert_eq!(
        my_status("NoNewPrivs").unwrap(),
        if before { "1" } else { "0" }
    );
    assert_pass(in_thread(|| {
        check!(prctl::set_no_new_privs());
        ensure!(check!(prctl::no_new_privs()));
        ensure!(my_status("NoNewPrivs")? == "1");
        // Setting it again is fine; it cannot be cleared (no API for it).
        check!(prctl::set_no_new_privs());
        Ok(())
    }));
    assert_eq!(prctl::no_new_privs().unwrap(), before);
}

// ---------------------------------------------------------------------------------------------
// Process attributes

/// Dumpable is per process: a change shows on another thread. As a normal user, also checks
/// the kernel's behaviour: `/proc/self` files of a non-dumpable process belong to root.
#[test]
fn dumpable_is_process_wide() {
    assert_pass(in_child(|| {
        let owner = || -> Result<u32, String> {
            let m = std::fs::metadata("/proc/self/status").map_err(|e| e.to_string())?;
            Ok(std::os::unix::fs::MetadataExt::uid(&m))
        };
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        check!(prctl::set_dumpable(false));
        ensure!(!check!(prctl::dumpable()) && check!(prctl::dumpable_mode()) == Dumpable::No);
        let other = std::thread::spawn(prctl::dumpable)
            .join()
            .map_err(|_| "panic")?;
        ensure!(!check!(other), "another thread sees it dumpable");
        ensure!(
            owner()? == 0,
            "non-dumpable: /proc/self owned by {}",
            owner()?
        );
        check!(prctl::set_dumpable(true));
        ensure!(check!(prctl::dumpable_mode()) == Dumpable::User);
        ensure!(check!(std::thread::spawn(prctl::dumpable)
            .join()
            .map_err(|_| "panic")?));
        ensure!(
            owner()? == euid,
            "dumpable: /proc/self owned by {}",
            owner()?
        );
        Ok(())
    }));
}

/// A child subreaper adopts its orphaned grandchildren (instead of init).
#[test]
fn child_subreaper_adopts_orphans() {
    assert_pass(in_child(|| {
        ensure!(!check!(prctl::child_subreaper()));
        check!(prctl::set_child_subreaper(true));
        ensure!(check!(prctl::child_subreaper()));
        let mut fds = [0i32; 2];
        // SAFETY: valid array.
        ensure!(unsafe { libc::pipe(fds.as_mut_ptr()) } == 0);
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        // SAFETY: single-threaded forked test child; the children only use raw calls.
        let mid = unsafe { libc::fork() };
        if mid == 0 {
            // SAFETY: getpid has no preconditions.
            let mid_pid = unsafe { libc::getpid() };
            // SAFETY: as above.
            if unsafe { libc::fork() } == 0 {
                // Grandchild: wait until orphaned (its parent is no longer `mid_pid`), report
                // the new parent.
                let mut p = mid_pid;
                for _ in 0..500 {
                    // SAFETY: getppid has no preconditions.
                    p = unsafe { libc::getppid() };
                    if p != mid_pid {
                        break;
                    }
                    sleep_ms(10);
                }
                let b = p.to_ne_bytes();
                // SAFETY: valid buffer.
                unsafe { libc::write(fds[1], b.as_ptr().cast(), b.len()) };
                // SAFETY: leave.
                unsafe { libc::_exit(0) };
            }
            // SAFETY: the middle process leaves at once, orphaning the grandchild.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: our copy of the write end.
        unsafe { libc::close(fds[1]) };
        let mut b = [0u8; 4];
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 4) };
        ensure!(n == 4, "no answer from the grandchild");
        let adopter = i32::from_ne_bytes(b);
        ensure!(
            adopter == me,
            "orphan adopted by {adopter}, not by the subreaper {me}"
        );
        // Reap both.
        for _ in 0..2 {
            let mut s = 0;
            // SAFETY: valid out-pointer.
            ensure!(unsafe { libc::waitpid(-1, &mut s, 0) } > 0);
        }
        check!(prctl::set_child_subreaper(false));
        ensure!(!check!(prctl::child_subreaper()));
        Ok(())
    }));
}

/// Transparent huge pages: per process, visible as `THP_enabled` in /proc.
#[test]
fn thp_disable_roundtrip() {
    assert_pass(in_child(|| {
        ensure!(!check!(prctl::thp_disabled()));
        check!(prctl::set_thp_disabled(true));
        ensure!(check!(prctl::thp_disabled()));
        ensure!(status_field("/proc/self/status", "THP_enabled")? == "0");
        let other = std::thread::spawn(prctl::thp_disabled)
            .join()
            .map_err(|_| "panic")?;
        ensure!(check!(other));
        check!(prctl::set_thp_disabled(false));
        ensure!(!check!(prctl::thp_disabled()));
        ensure!(status_field("/proc/self/status", "THP_enabled")? == "1");
        Ok(())
    }));
}

/// Yama's ptracer exception: ids are validated first; the call succeeds when Yama is active
/// and fails with EINVAL when it is not (the branch is chosen by /proc/sys/kernel/yama).
#[test]
fn ptracer() {
    assert_pass(in_child(|| {
        expect_invalid(prctl::set_ptracer(Ptracer::Process(0)), "pid 0")?;
        expect_invalid(prctl::set_ptracer(Ptracer::Process(u32::MAX)), "pid -1")?;
        expect_invalid(prctl::set_ptracer(Ptracer::Process(1 << 31)), "pid 2^31")?;
        let yama = std::path::Path::new("/proc/sys/kernel/yama/ptrace_scope").exists();
        for t in [Ptracer::Any, Ptracer::Process(1), Ptracer::None] {
            let r = prctl::set_ptracer(t);
            if yama {
                check!(r);
            } else {
                expect_errno(r, libc::EINVAL, "no Yama")?;
            }
        }
        Ok(())
    }));
}

/// I/O flusher: getting and setting need CAP_SYS_RESOURCE (in the initial namespace). Both
/// branches compute the expected outcome from the effective set; in this sandbox root lacks
/// CAP_SYS_RESOURCE (bounding set), so the refusal (EPERM) is what runs here, in a thread and
/// in a privileged child (a user namespace's capabilities do not count).
#[test]
fn io_flusher_needs_cap_sys_resource() {
    let body = || -> Verdict {
        let e = check!(CapState::get_current()).effective;
        let init_ns = std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(false);
        if e.has(Cap::SYS_RESOURCE) && init_ns {
            ensure!(!check!(prctl::io_flusher()));
            check!(prctl::set_io_flusher(true));
            ensure!(check!(prctl::io_flusher()));
            check!(prctl::set_io_flusher(false));
            ensure!(!check!(prctl::io_flusher()));
        } else {
            // Both the getter and the setter need the capability.
            expect_errno(
                prctl::io_flusher(),
                libc::EPERM,
                "get without CAP_SYS_RESOURCE",
            )?;
            let r = prctl::set_io_flusher(true);
            ensure!(r.as_ref().is_err_and(|e| e.hint().is_some()), "{r:?}");
            expect_errno(r, libc::EPERM, "set without CAP_SYS_RESOURCE")?;
        }
        Ok(())
    };
    assert_pass(in_thread(body));
    assert_pass(privileged(body));
}

#[test]
fn mce_kill_roundtrip() {
    assert_pass(in_thread(|| {
        ensure!(check!(prctl::mce_kill()) == MceKill::Default);
        for p in [
            MceKill::Early,
            MceKill::Late,
            MceKill::Default,
            MceKill::Early,
        ] {
            check!(prctl::set_mce_kill(p));
            ensure!(check!(prctl::mce_kill()) == p);
        }
        Ok(())
    }));
    assert_eq!(prctl::mce_kill().unwrap(), MceKill::Default);
}

#[test]
fn timing_is_statistical_only() {
    assert_eq!(prctl::timing().unwrap(), prctl::Timing::Statistical);
    prctl::set_timing(prctl::Timing::Statistical).unwrap();
    let e = prctl::set_timing(prctl::Timing::Timestamp).unwrap_err();
    assert_eq!(e.code(), Some(libc::EINVAL), "{e}");
    assert_eq!(prctl::timing().unwrap(), prctl::Timing::Statistical);
}

/// The timer slack, including values that rustix's getter would truncate (above 2^32) and
/// those above i64::MAX; values the kernel could not report are refused, unchanged.
#[test]
fn timerslack_roundtrip_and_huge_values() {
    assert_pass(in_thread(|| {
        let default = check!(prctl::timerslack());
        ensure!(default > 0);
        for v in [1, 123_456, 1 << 40, (1 << 63) | 5, prctl::TIMERSLACK_MAX] {
            check!(prctl::set_timerslack(v));
            ensure!(check!(prctl::timerslack()) == v, "{v}");
        }
        for bad in [prctl::TIMERSLACK_MAX + 1, u64::MAX - 1, u64::MAX] {
            expect_invalid(prctl::set_timerslack(bad), "huge")?;
            ensure!(check!(prctl::timerslack()) == prctl::TIMERSLACK_MAX);
        }
        check!(prctl::set_timerslack(0));
        ensure!(check!(prctl::timerslack()) == default);
        Ok(())
    }));
}

// ---------------------------------------------------------------------------------------------
// Seccomp

#[test]
fn seccomp_mode_matches_proc() {
    let want = match my_status("Seccomp").unwrap().as_str() {
        "0" => SeccompMode::Disabled,
        "2" => SeccompMode::Filter,
        other => panic!("Seccomp: {other}"),
    };
    assert_eq!(prctl::seccomp_mode().unwrap(), want);
}

/// Forks a child that enters strict seccomp mode, writes "ok", then runs `then`; returns the
/// child's output and wait status.
fn strict_child(then: fn(i32)) -> Result<(String, i32), String> {
    if prctl::seccomp_mode().map_err(|e| e.to_string())? != SeccompMode::Disabled {
        return Err(
            "this test process already has a seccomp filter: strict mode cannot be entered".into(),
        );
    }
    let mut fds = [0i32; 2];
    // SAFETY: valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err("pipe2".into());
    }
    // SAFETY: the child makes only raw system calls (prctl, write, then `then`).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork".into());
    }
    if pid == 0 {
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(fds[0]) };
        if prctl::set_seccomp_strict().is_err() {
            // SAFETY: not in strict mode: a normal _exit works.
            unsafe { libc::_exit(99) };
        }
        // SAFETY: write is allowed in strict mode.
        unsafe { libc::write(fds[1], b"ok".as_ptr().cast(), 2) };
        then(fds[1]);
        // SAFETY: the raw thread exit, the only exit strict mode allows.
        unsafe { prctl::exit_thread(98) };
    }
    // SAFETY: our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: closing the read end.
    unsafe { libc::close(fds[0]) };
    let status = wait_status(pid, true).ok_or("waitpid")?;
    Ok((String::from_utf8_lossy(&out).into_owned(), status))
}

#[test]
fn strict_seccomp_exits_cleanly_through_the_raw_thread_exit() {
    let (out, status) = strict_child(|_| {
        // SAFETY: a forked child with nothing to clean up.
        unsafe { prctl::exit_thread(7) }
    })
    .unwrap();
    assert_eq!(out, "ok");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7,
        "status {status:#x}"
    );
}

#[test]
fn strict_seccomp_kills_on_any_other_syscall() {
    // getpid: not read, write, exit or sigreturn.
    let (out, status) = strict_child(|fd| {
        // SAFETY: getpid has no preconditions (it is forbidden here, which is the point).
        unsafe { libc::getpid() };
        // SAFETY: valid buffer; only reached if the kernel failed to kill.
        unsafe { libc::write(fd, b" survived".as_ptr().cast(), 9) };
    })
    .unwrap();
    assert_eq!(out, "ok");
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "status {status:#x}"
    );
    // The ordinary process exit (exit_group) is forbidden too.
    let (out, status) = strict_child(|_| {
        // SAFETY: exit_group; forbidden in strict mode.
        unsafe { libc::syscall(libc::SYS_exit_group, 0) };
    })
    .unwrap();
    assert_eq!(out, "ok");
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "status {status:#x}"
    );
}

// ---------------------------------------------------------------------------------------------
// Speculation control

/// What fs/proc/array.c prints for a state (`Speculation_Store_Bypass`).
fn ssb_text(s: prctl::SpeculationState) -> &'static str {
    use prctl::SpeculationState as S;
    if s.is_empty() {
        "not vulnerable"
    } else if s == S::PRCTL | S::FORCE_DISABLE {
        "thread force mitigated"
    } else if s == S::PRCTL | S::DISABLE {
        "thread mitigated"
    } else if s == S::PRCTL | S::ENABLE {
        "thread vulnerable"
    } else if s == S::DISABLE {
        "globally mitigated"
    } else {
        "vulnerable"
    }
}

/// What fs/proc/array.c prints for a state (`SpeculationIndirectBranch`).
fn ib_text(s: prctl::SpeculationState) -> &'static str {
    use prctl::SpeculationState as S;
    if s.is_empty() {
        "not affected"
    } else if s == S::PRCTL | S::FORCE_DISABLE {
        "conditional force disabled"
    } else if s == S::PRCTL | S::DISABLE {
        "conditional disabled"
    } else if s == S::PRCTL | S::ENABLE {
        "conditional enabled"
    } else if s == S::ENABLE {
        "always enabled"
    } else if s == S::DISABLE {
        "always disabled"
    } else {
        "unknown"
    }
}

/// The getter agrees with /proc; the setter works when the kernel allows per-thread control
/// (`PRCTL` in the state) and changes nothing otherwise (which of the two runs depends on
/// the CPU and the kernel's mitigation mode; both are checked against the state).
#[test]
fn speculation_control() {
    assert_pass(in_thread(|| {
        for (f, key, text) in [
            (
                SpeculationFeature::StoreBypass,
                "Speculation_Store_Bypass",
                ssb_text as fn(_) -> _,
            ),
            (
                SpeculationFeature::IndirectBranch,
                "SpeculationIndirectBranch",
                ib_text,
            ),
        ] {
            let s = check!(prctl::speculation(f));
            ensure!(
                my_status(key)? == text(s),
                "{f:?}: {s:?} vs /proc {:?}",
                my_status(key)?
            );
            let r = prctl::set_speculation(f, prctl::SpeculationControl::Disable);
            if s.contains(prctl::SpeculationState::PRCTL)
                && !s.contains(prctl::SpeculationState::FORCE_DISABLE)
            {
                check!(r);
                let now = check!(prctl::speculation(f));
                ensure!(now.contains(prctl::SpeculationState::DISABLE), "{now:?}");
                ensure!(my_status(key)? == text(now));
            } else if !s.contains(prctl::SpeculationState::PRCTL) {
                // Not controllable per thread: ENXIO (store bypass), EPERM (indirect branch
                // speculation forced on), or a no-op success (forced off); never a change.
                if let Err(e) = r {
                    ensure!(
                        matches!(e.code(), Some(libc::ENXIO | libc::EPERM)),
                        "{f:?}: {e}"
                    );
                }
                ensure!(check!(prctl::speculation(f)) == s);
            }
        }
        // L1D flush: known since 5.15 (a state), EINVAL before.
        match prctl::speculation(SpeculationFeature::L1dFlush) {
            Ok(_) => {}
            Err(e) => ensure!(e.code() == Some(libc::EINVAL), "{e}"),
        }
        Ok(())
    }));
}

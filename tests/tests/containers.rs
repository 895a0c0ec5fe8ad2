//! Where programs really run (issue 10): a PID namespace whose `/proc` is someone else's, a
//! chroot without `/proc`, io_uring kernel threads, a full signal queue, a zombie main thread,
//! and the root daemon that must become `nobody`. Oracles: `capget(tid)` and the programs'
//! own `/proc/self/status` after `execve`.
//!
//! The namespace and chroot cases run the `capscope-scenario` binary (tests/src/bin) under
//! `unshare`: as root directly, as a normal user inside a new user namespace.

use std::process::Command;
use std::time::{Duration, Instant};

use capscope::drop_after::DropOptions;
use capscope::{process, Cap, CapSet, CapState};
use capscope_tests::state::{exec_status, status_caps, status_field};
use capscope_tests::{assert_pass, check, ensure, is_privileged, privileged, tool, Verdict};

/// Runs the scenario `name` with `unshare` options `opts` (plus a user namespace mapping root
/// to the caller when not root); the verdict is its last line.
fn scenario(unshare: &[&str], name: &str) -> Verdict {
    let bin = env!("CARGO_BIN_EXE_capscope-scenario");
    let mut cmd = if unshare.is_empty() && is_privileged() {
        Command::new(bin)
    } else {
        let mut c = Command::new(tool("unshare"));
        if !is_privileged() {
            c.args(["--user", "--map-root-user"]);
        }
        c.args(unshare).arg("--").arg(bin);
        c
    };
    cmd.arg(name);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {bin} under unshare (util-linux): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stdout.lines().last() {
        Some("PASS") if out.status.success() => Ok(()),
        _ => Err(format!(
            "scenario {name} ({unshare:?}): {} / stdout: {stdout} / stderr: {stderr}",
            out.status
        )),
    }
}

#[test]
fn a_pid_namespace_without_its_own_proc_is_refused_before_any_change() {
    assert_pass(scenario(&["--pid", "--fork"], "foreign-proc"));
}

#[test]
fn a_pid_namespace_with_its_own_proc_is_changed_and_verified() {
    assert_pass(scenario(&["--pid", "--fork", "--mount-proc"], "own-proc"));
}

#[test]
fn chroot_without_proc_then_drop_works() {
    assert_pass(scenario(&[], "chroot-per-thread"));
}

#[test]
fn chroot_all_threads_uses_the_directory_kept_from_before_the_body() {
    assert_pass(scenario(&[], "chroot-all-threads"));
}

#[test]
fn chroot_then_a_worker_in_the_body_is_dropped_too() {
    assert_pass(scenario(&[], "chroot-worker-in-body"));
}

#[test]
fn chroot_without_any_proc_refuses_the_process_wide_path() {
    assert_pass(scenario(&[], "chroot-refuses"));
}

#[test]
fn threads_started_before_a_chroot_keep_the_process_wide_path_working_after_it() {
    assert_pass(scenario(&[], "chroot-after-threads"));
}

/// An io_uring instance with an SQPOLL thread (`iou-sqp-<pid>`): a kernel io thread that takes
/// no signals.
fn sqpoll_ring() -> Result<std::os::fd::OwnedFd, String> {
    use std::os::fd::FromRawFd;
    const IORING_SETUP_SQPOLL: u32 = 1 << 1;
    // struct io_uring_params: 120 bytes; flags at offset 8, sq_thread_idle at 16.
    let mut params = [0u32; 30];
    params[2] = IORING_SETUP_SQPOLL;
    params[4] = 2000;
    // SAFETY: io_uring_setup writes into the 120-byte params struct it is given.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(format!(
            "io_uring_setup(SQPOLL): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(i32::try_from(fd).unwrap()) })
}

#[test]
fn kernel_io_threads_are_recognised_not_waited_for() {
    assert_pass(privileged(|| {
        let ring = sqpoll_ring()?;
        let peer = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(300)));
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        let r = check!(process::drop_all(&DropOptions::new()));
        let took = t0.elapsed();
        ensure!(!r.io_threads.is_empty(), "no io thread reported: {r:?}");
        ensure!(
            took < Duration::from_secs(1),
            "waited {took:?} for a thread that takes no signals"
        );
        for tid in &r.io_threads {
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .map_err(|e| e.to_string())?;
            ensure!(name.starts_with("iou-"), "{tid} is {name:?}");
        }
        let peers: Vec<u32> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .into_string()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .filter(|t| !r.io_threads.contains(t))
            .collect();
        for t in peers {
            ensure!(
                check!(CapState::get_for_pid(t)) == CapState::empty(),
                "thread {t} kept capabilities"
            );
        }
        drop(ring);
        peer.join().unwrap();
        Ok(())
    }));
}

#[test]
fn a_full_signal_queue_is_reported_as_such() {
    assert_pass(privileged(|| {
        let peer = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(1500)));
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid rlimit for this (forked) process.
        let r = unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &zero) };
        ensure!(r == 0, "setrlimit: {}", std::io::Error::last_os_error());
        let s = check!(CapState::get_current());
        let t0 = Instant::now();
        let e = process::Broadcast::new()
            .timeout(Duration::from_millis(400))
            .set_caps(&CapState {
                effective: CapSet::empty(),
                ..s
            })
            .map(|r| format!("{r:?}"))
            .err();
        let Some(capscope::Error::Threads(t)) = e else {
            return Err(format!("expected a thread failure, got {e:?}"));
        };
        ensure!(!t.queue_full.is_empty(), "{t}");
        ensure!(t.unanswered.is_empty(), "named as not answering: {t}");
        ensure!(t.to_string().contains("RLIMIT_SIGPENDING"), "{t}");
        ensure!(
            t0.elapsed() < Duration::from_secs(2),
            "took {:?}",
            t0.elapsed()
        );
        peer.join().unwrap();
        Ok(())
    }));
}

/// Runs `f` on a second thread of a forked child whose main thread then exits (a zombie main
/// thread); the verdict comes back through a pipe.
fn with_zombie_main(f: fn() -> Verdict) -> Verdict {
    let mut fds = [0i32; 2];
    // SAFETY: a valid array for the two descriptors.
    ensure!(unsafe { libc::pipe(fds.as_mut_ptr()) } == 0, "pipe");
    // SAFETY: the child only spawns a thread, ends its main thread and writes to the pipe.
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork");
    if pid == 0 {
        let wr = fds[1];
        std::thread::spawn(move || {
            // Until the main thread is a zombie.
            let main = std::process::id();
            let start = Instant::now();
            while !std::fs::read_to_string(format!("/proc/self/task/{main}/status")).is_ok_and(
                |s| {
                    s.lines()
                        .any(|l| l.starts_with("State:") && l.contains('Z'))
                },
            ) {
                if start.elapsed() > Duration::from_secs(5) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let verdict = match f() {
                Ok(()) => "PASS".to_owned(),
                Err(e) => format!("FAIL {e}"),
            };
            // SAFETY: writes a valid buffer, then ends the process.
            unsafe {
                libc::write(wr, verdict.as_ptr().cast(), verdict.len());
                libc::_exit(0);
            }
        });
        // SAFETY: ends the main thread only; the other thread finishes the process.
        unsafe { capscope::prctl::exit_thread(0) }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reads into a valid buffer.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..usize::try_from(n).unwrap()]);
    }
    let mut status = 0;
    // SAFETY: our child.
    unsafe {
        libc::close(fds[0]);
        libc::waitpid(pid, &mut status, 0);
    }
    let out = String::from_utf8_lossy(&out);
    match out.strip_prefix("FAIL ") {
        None if out == "PASS" => Ok(()),
        Some(why) => Err(why.to_owned()),
        None => Err(format!("no verdict (status {status}): {out:?}")),
    }
}

#[test]
fn a_zombie_main_thread_is_not_a_live_thread() {
    if !is_privileged() {
        // The same, inside a user namespace.
        assert_pass(privileged(|| with_zombie_main(zombie_case)));
    } else {
        assert_pass(with_zombie_main(zombie_case));
    }
}

fn zombie_case() -> Verdict {
    let n = check!(capscope::drop_after::thread_count());
    ensure!(
        n == 1,
        "the live thread count is {n} (a zombie main thread counted)"
    );
    // The per-thread drop is allowed (only one live thread), and the process-wide one skips the
    // zombie.
    let r = check!(process::drop_all(&DropOptions::new()));
    ensure!(r.threads == 1, "{r:?}");
    ensure!(check!(CapState::get_current()) == CapState::empty());
    drop(check!(capscope::drop_after::DropAfter::new(
        DropOptions::new(),
        "zombie"
    )));
    Ok(())
}

#[test]
fn root_stays_root_without_uid_and_execve_gives_everything_back() {
    // The warning in the docs, shown: dropping capabilities in a uid 0 process does not survive
    // execve. As a normal user, the same in a new user namespace, where the process is uid 0
    // and execve gives it the namespace's capabilities back.
    assert_pass(privileged(|| {
        check!(capscope::drop_after::drop_all(&DropOptions::new()));
        ensure!(check!(CapState::get_current()) == CapState::empty());
        let st = exec_status()?;
        let prm = status_caps(&st, "CapPrm")?;
        let eff = status_caps(&st, "CapEff")?;
        let bnd = status_caps(&st, "CapBnd")?;
        ensure!(!prm.is_empty(), "root's execve got nothing back: {st}");
        ensure!(
            prm == bnd && eff == bnd,
            "root's execve got {prm:?} permitted and {eff:?} effective back, not its whole \
             bounding set {bnd:?}"
        );
        Ok(())
    }));
}

#[test]
fn dropping_to_a_uid_survives_execve() {
    // Root in the initial namespace switches to nobody; a normal user, in a one-id user
    // namespace where only 0 is mapped, to 0 (its own id outside) under SECBIT_NOROOT (locked):
    // uid 0 without root's execve privileges, as a normal user is.
    let root = is_privileged();
    assert_pass(privileged(move || {
        let (uid, gid) = if root { (65534, 65534) } else { (0, 0) };
        if !root {
            let bits = check!(capscope::securebits::get());
            check!(capscope::securebits::set(
                bits | capscope::Secbits::NOROOT | capscope::Secbits::NOROOT_LOCKED
            ));
        }
        check!(capscope::drop_after::drop_all(
            &DropOptions::new().uid(uid).gid(gid)
        ));
        let ids = check!(capscope::ThreadIds::current());
        ensure!(
            (ids.uid, ids.euid, ids.suid, ids.fsuid) == (uid, uid, uid, uid),
            "{ids:?}"
        );
        ensure!(
            (ids.gid, ids.egid, ids.sgid, ids.fsgid) == (gid, gid, gid, gid),
            "{ids:?}"
        );
        ensure!(ids.groups.is_empty(), "{ids:?}");
        ensure!(check!(CapState::get_current()) == CapState::empty());
        let st = exec_status()?;
        for f in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            ensure!(status_field(&st, f) == "0000000000000000", "{f}: {st}");
        }
        ensure!(
            status_field(&st, "Uid") == format!("{uid} {uid} {uid} {uid}"),
            "{st}"
        );
        ensure!(
            status_field(&st, "Gid") == format!("{gid} {gid} {gid} {gid}"),
            "{st}"
        );
        Ok(())
    }));
}

#[test]
fn dropping_to_a_user_by_name_on_every_thread() {
    let root = is_privileged();
    assert_pass(privileged(move || {
        let (user, want) = if root {
            ("nobody", "65534")
        } else {
            ("root", "0")
        };
        let peer = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(300)));
        let r = check!(process::drop_all(
            &DropOptions::new().user(user).keep(Cap::NET_RAW)
        ));
        ensure!(r.threads >= 2, "{r:?}");
        for t in std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
        {
            let st = std::fs::read_to_string(format!("/proc/self/task/{t}/status"))
                .map_err(|e| e.to_string())?;
            ensure!(
                status_field(&st, "Uid") == [want; 4].join(" "),
                "thread {t}: Uid {:?}",
                status_field(&st, "Uid")
            );
            ensure!(
                status_field(&st, "CapEff") == "0000000000000000",
                "thread {t}: {st}"
            );
            ensure!(
                u64::from_str_radix(&status_field(&st, "CapPrm"), 16).unwrap() & !(1 << 13) == 0,
                "thread {t} keeps more than net_raw: {st}"
            );
        }
        let e = capscope::drop_after::drop_all(&DropOptions::new().user("no-such-user-x"))
            .err()
            .map(|e| e.to_string());
        ensure!(
            e.as_deref().is_some_and(|m| m.contains("no-such-user-x")),
            "{e:?}"
        );
        peer.join().unwrap();
        Ok(())
    }));
}

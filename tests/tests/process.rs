//! Process-wide changes (`capscope::process`): every operation broadcast to a crew of 64
//! threads (blocked in `read`, sleeping, spinning, with their own signal masks), at least 200
//! times each, every thread checked after every broadcast by an oracle independent of the
//! library's own verification; threads created during a broadcast; a thread blocking the
//! signal; a thread that cannot answer; libcap's exploit scenario; a live tokio runtime.
//!
//! All changes are irreversible for the process or affect every thread, so each test runs in a
//! forked child ([`privileged`]: root, or a new user namespace as a normal user). The child is
//! single-threaded after fork; the crews are spawned inside it.

#[path = "process/crew.rs"]
mod crew;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use capscope::drop_after::DropOptions;
use capscope::process::{self, Broadcast};
use capscope::{Cap, CapSet, CapState, Error, Secbits, Signal, ThreadFailures};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

const CREW: usize = 64;
const REPS: usize = 200;

fn report_ok(r: &process::Report, crew: usize) -> Verdict {
    ensure!(
        r.threads > crew,
        "the report counts {} threads, the crew alone has {crew}",
        r.threads
    );
    ensure!(
        r.signalled >= crew,
        "only {} threads signalled",
        r.signalled
    );
    Ok(())
}

#[test]
fn set_caps_on_64_threads_200_times() {
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        ensure!(
            !start.permitted.is_empty(),
            "the privileged child has no permitted capability"
        );
        let crew = crew::spawn(CREW);
        for rep in 0..REPS {
            // Alternate: E = P, then E empty (P and I kept).
            let want = CapState {
                effective: if rep % 2 == 0 {
                    start.permitted
                } else {
                    CapSet::empty()
                },
                ..start
            };
            let r = check!(process::set_caps(&want));
            report_ok(&r, CREW)?;
            let n = crew::check_caps(&crew.tids, &format!("rep {rep}"), |s| *s == want)?;
            ensure!(n > CREW, "rep {rep}: only {n} threads checked");
        }
        // A smaller permitted set everywhere (irreversible, last).
        let want = CapState {
            effective: CapSet::empty(),
            permitted: start.permitted.without(Cap::SYS_ADMIN),
            ..start
        };
        check!(process::set_caps(&want));
        crew::check_caps(&crew.tids, "shrunk permitted", |s| *s == want)?;
        Ok(())
    }));
}

#[test]
fn bounding_drop_200_real_drops_on_64_threads() {
    // Each drop is real (the capability was there): a child drops every capability of its
    // bounding set one broadcast at a time; fresh children until 200 drops were made. A root
    // child inherits this process's bounding set; a new user namespace starts with the full one.
    let per_child = if capscope_tests::is_privileged() {
        capscope::bounding::probe().unwrap().len()
    } else {
        capscope::Cap::probe_supported().unwrap().len()
    };
    assert!(
        per_child > 0,
        "this process has an empty bounding set: no drop to test"
    );
    let children = REPS.div_ceil(per_child);
    for child in 0..children {
        assert_pass(privileged(|| {
            let crew = crew::spawn(CREW);
            let mut bset = check!(capscope::bounding::probe());
            ensure!(bset.len() == per_child, "child {child}: bounding set {bset:?} has not the {per_child} capabilities expected ({})", capscope_tests::mode());
            // CAP_SETPCAP last (dropping it from the bounding set keeps it effective anyway).
            let order: Vec<Cap> = bset
                .without(Cap::SETPCAP)
                .iter()
                .chain(bset.has(Cap::SETPCAP).then_some(Cap::SETPCAP))
                .collect();
            for cap in order {
                let r = check!(process::bounding_drop(CapSet::from(cap)));
                report_ok(&r, CREW)?;
                bset = bset.without(cap);
                crew::check_full(&crew.tids, &format!("drop {cap}"), |s| s.bounding == bset)?;
            }
            ensure!(bset.is_empty());
            // Dropping an absent capability again is a no-op that still succeeds everywhere.
            check!(process::bounding_drop(CapSet::from(Cap::CHOWN)));
            crew::check_full(&crew.tids, "repeat", |s| s.bounding.is_empty())?;
            Ok(())
        }));
    }
    eprintln!(
        "{} real bounding-set drops in {children} children of {CREW} threads",
        children * per_child
    );
}

#[test]
fn ambient_raise_and_clear_200_times_on_64_threads() {
    assert_pass(privileged(|| {
        if !check!(capscope::ambient::is_supported()) {
            return Err("the kernel has no ambient capabilities (Linux 4.3+)".into());
        }
        let cap = Cap::NET_BIND_SERVICE;
        let start = check!(CapState::get_current());
        ensure!(
            start.permitted.has(cap),
            "{cap} not permitted in the privileged child"
        );
        let crew = crew::spawn(CREW);
        // Ambient needs P and I on every thread.
        let with_i = CapState {
            inheritable: start.inheritable.with(cap),
            ..start
        };
        check!(process::set_caps(&with_i));
        let one = CapSet::from(cap);
        for rep in 0..REPS {
            let r = check!(process::ambient_raise(one));
            report_ok(&r, CREW)?;
            crew::check_full(&crew.tids, &format!("raise {rep}"), |s| s.ambient == one)?;
            let r = check!(process::ambient_clear());
            report_ok(&r, CREW)?;
            crew::check_full(&crew.tids, &format!("clear {rep}"), |s| {
                s.ambient.is_empty()
            })?;
        }
        Ok(())
    }));
}

#[test]
fn no_new_privs_200_times_on_64_threads() {
    // no_new_privs cannot be unset: each of the 200 repetitions is a fresh child whose 64
    // threads all start without it and must all end with it.
    for rep in 0..REPS {
        assert_pass(privileged(|| {
            let crew = crew::spawn(CREW);
            crew::check_full(&crew.tids, "before", |s| !s.no_new_privs)?;
            let r = check!(process::set_no_new_privs());
            report_ok(&r, CREW)?;
            crew::check_full(&crew.tids, &format!("rep {rep}"), |s| s.no_new_privs)?;
            Ok(())
        }));
    }
}

#[test]
fn securebits_200_times_on_64_threads() {
    assert_pass(privileged(|| {
        crew::install_probe();
        let base = check!(capscope::securebits::get());
        ensure!(
            !base.contains(Secbits::NOROOT_LOCKED),
            "NOROOT is locked in the test child"
        );
        let crew = crew::spawn(CREW);
        let mut tids = crew::all_tids(&crew.tids);
        tids.retain(|t| *t != capscope::current_tid());
        for rep in 0..REPS {
            let want = if rep % 2 == 0 {
                base | Secbits::NOROOT
            } else {
                base - Secbits::NOROOT
            };
            let r = check!(process::set_securebits(want));
            report_ok(&r, CREW)?;
            ensure!(check!(capscope::securebits::get()) == want);
            for (tid, bits) in crew::securebits_of(&tids) {
                ensure!(
                    bits == want.bits(),
                    "rep {rep}: thread {tid} has securebits {bits:#x}, not {:#x}",
                    want.bits()
                );
            }
        }
        Ok(())
    }));
}

#[test]
fn cap_set_ids_on_64_threads_200_times() {
    // As root: the ids really change every repetition (0 → 1000/2000 → 1001/2001 → ...), with
    // the groups alternating between [10, 20, 30] and none. In a one-id user namespace (as a
    // normal user) only uid/gid 0 exist and setgroups is denied: the ids stay 0 and what is
    // exercised is the capability handling on every thread (keepcaps, the effective set
    // emptied or preserved).
    let many = capscope_tests::is_privileged();
    assert_pass(privileged(move || {
        let start = check!(CapState::get_current());
        let crew = crew::spawn(CREW);
        let full_e = CapState {
            effective: start.permitted,
            ..start
        };
        for rep in 0..REPS {
            let (uid, gid, groups) = if many {
                let k = (rep % 2) as u32;
                (
                    1000 + k,
                    2000 + k,
                    Some(if k == 0 { vec![10, 20, 30] } else { vec![] }),
                )
            } else {
                (0, 0, None)
            };
            let preserve = rep % 2 == 1;
            check!(process::set_caps(&full_e));
            let r = check!(process::cap_set_ids(&capscope_tests::ids(
                Some(uid),
                Some(gid),
                groups.as_deref(),
                preserve
            )));
            report_ok(&r, CREW)?;
            let want_caps = CapState {
                effective: if preserve {
                    start.permitted
                } else {
                    CapSet::empty()
                },
                ..start
            };
            crew::check_caps(&crew.tids, &format!("rep {rep} caps"), |s| *s == want_caps)?;
            for tid in crew::all_tids(&crew.tids) {
                let Some((u, g, gr)) = crew::ids_of(tid) else {
                    continue;
                };
                ensure!(
                    u == vec![uid; 4],
                    "rep {rep}: thread {tid} has uids {u:?}, not {uid}"
                );
                ensure!(
                    g == vec![gid; 4],
                    "rep {rep}: thread {tid} has gids {g:?}, not {gid}"
                );
                if let Some(want) = &groups {
                    ensure!(
                        &gr == want,
                        "rep {rep}: thread {tid} has groups {gr:?}, not {want:?}"
                    );
                }
            }
        }
        Ok(())
    }));
}

#[test]
fn cap_set_ids_refuses_what_cap_set_ids_refuses() {
    assert_pass(privileged(|| {
        let crew = crew::spawn(4);
        let before: Vec<_> = crew.tids.iter().map(|&t| crew::ids_of(t)).collect();
        for bad in [
            process::cap_set_ids(&capscope_tests::ids(None, None, None, false)),
            process::cap_set_ids(&capscope_tests::ids(Some(u32::MAX), None, None, false)),
            process::cap_set_ids(&capscope_tests::ids(None, Some(u32::MAX), None, false)),
            process::cap_set_ids(&capscope_tests::ids(
                None,
                None,
                Some(&[1, u32::MAX]),
                false,
            )),
        ] {
            ensure!(matches!(bad, Err(Error::InvalidInput { .. })), "{bad:?}");
        }
        let after: Vec<_> = crew.tids.iter().map(|&t| crew::ids_of(t)).collect();
        ensure!(before == after);
        Ok(())
    }));
}

#[test]
fn threads_spawned_during_broadcasts_end_up_changed() {
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        let crew = crew::spawn(16);
        // Two spawners keep creating threads, which create threads of their own; each lives a
        // few milliseconds. Some are created by a thread that has not changed yet.
        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(AtomicU32::new(0));
        let spawners: Vec<_> = (0..2)
            .map(|_| {
                let (stop, created) = (stop.clone(), created.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let created2 = created.clone();
                        let h = std::thread::spawn(move || {
                            let g =
                                std::thread::spawn(|| std::thread::sleep(Duration::from_millis(3)));
                            created2.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(2));
                            let _ = g.join();
                        });
                        created.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_micros(300));
                        drop(h);
                    }
                })
            })
            .collect();
        let mut rescans = 0;
        let mut signalled_extra = 0;
        let mut settled = 0;
        for rep in 0..REPS {
            let want = CapState {
                effective: if rep % 2 == 0 {
                    CapSet::empty()
                } else {
                    start.permitted
                },
                ..start
            };
            let r = check!(process::set_caps(&want));
            if r.passes > 2 {
                rescans += 1;
            }
            signalled_extra += r.signalled.saturating_sub(16 + 2);
            settled += r.settled;
            // Every thread alive now, whenever it was created, holds the new state.
            crew::check_caps(&crew.tids, &format!("rep {rep}"), |s| *s == want)?;
        }
        stop.store(true, Ordering::Relaxed);
        for s in spawners {
            let _ = s.join();
        }
        let n = created.load(Ordering::Relaxed);
        ensure!(
            n > 100,
            "only {n} threads were created during the broadcasts"
        );
        ensure!(
            signalled_extra + settled > 0,
            "no broadcast saw a thread created during it"
        );
        ensure!(
            rescans > 0,
            "no broadcast ever had to rescan for new threads ({n} created)"
        );
        eprintln!("{n} threads created during {REPS} broadcasts; {rescans} needed a third pass; {signalled_extra} short-lived threads signalled, {settled} born changed");
        Ok(())
    }));
}

fn block_signal(sig: i32) {
    // SAFETY: sigset manipulation on a local, then pthread_sigmask on this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
    }
}

fn unblock_signal(sig: i32) {
    // SAFETY: as in block_signal.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()),
            0
        );
    }
}

#[test]
fn a_thread_blocking_the_signal_fails_the_call_by_name() {
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        ensure!(!start.effective.is_empty());
        let crew = crew::spawn(8);
        let (tx, rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let blocker = std::thread::spawn(move || {
            block_signal(process::signal().raw());
            tx.send(capscope::current_tid()).unwrap();
            go_rx.recv().unwrap();
            unblock_signal(process::signal().raw()); // the pending signal is handled here, late
            std::thread::sleep(Duration::from_millis(50));
        });
        let blocked_tid = rx.recv().unwrap();
        let want = CapState {
            effective: CapSet::empty(),
            ..start
        };
        let t0 = Instant::now();
        let err = match Broadcast::new()
            .blocked_grace(Duration::from_millis(50))
            .set_caps(&want)
        {
            Ok(r) => {
                return Err(format!(
                    "the broadcast claimed success with a blocking thread: {r:?}"
                ))
            }
            Err(e) => e,
        };
        let took = t0.elapsed();
        match &err {
            Error::Threads(t) => {
                let ThreadFailures {
                    blocked,
                    unanswered,
                    failed,
                    unverified,
                    ..
                } = &**t;
                ensure!(
                    blocked == &vec![blocked_tid],
                    "blocked = {blocked:?}, expected [{blocked_tid}]"
                );
                ensure!(
                    unanswered.is_empty() && failed.is_empty() && unverified.is_empty(),
                    "{err}"
                );
            }
            other => return Err(format!("wrong error: {other:?}")),
        }
        ensure!(
            err.to_string().contains(&blocked_tid.to_string()),
            "message does not name the thread: {err}"
        );
        ensure!(
            took < Broadcast::DEFAULT_TIMEOUT,
            "named only after {took:?}, not quickly"
        );
        // The others did change; the blocking thread did not.
        ensure!(
            crew::caps_of(blocked_tid) == Some(start),
            "blocking thread changed"
        );
        for &t in &crew.tids {
            ensure!(
                crew::caps_of(t) == Some(want),
                "crew thread {t} did not change"
            );
        }
        // Once it unblocks, the stale signal does nothing: the failed broadcast is over.
        go_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        ensure!(
            crew::caps_of(blocked_tid) == Some(start),
            "a stale signal applied a failed broadcast late"
        );
        blocker.join().map_err(|_| "blocker panicked")?;
        // Without it, the same change goes through.
        check!(process::set_caps(&want));
        crew::check_caps(&crew.tids, "retry", |s| *s == want)?;
        Ok(())
    }));
}

extern "C" fn vfork_child(_: *mut libc::c_void) -> libc::c_int {
    let ts = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: a raw nanosleep in the CLONE_VM child; nothing else is touched.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
    0
}

#[test]
fn a_thread_that_cannot_answer_is_named_after_the_timeout() {
    // A thread in vfork() waits uninterruptibly (killable only) until its child exits: it does
    // not block the signal, it just cannot run the handler.
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        let (tx, rx) = mpsc::channel();
        let stuck = std::thread::spawn(move || {
            let mut stack = vec![0u8; 64 * 1024];
            tx.send(capscope::current_tid()).unwrap();
            // SAFETY: the child runs vfork_child on its own stack and only sleeps; CLONE_VFORK
            // suspends this thread until it exits.
            let pid = unsafe {
                libc::clone(
                    vfork_child,
                    stack.as_mut_ptr().add(stack.len()).cast(),
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                    std::ptr::null_mut(),
                )
            };
            assert!(pid > 0);
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        });
        let tid = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100)); // let it enter the vfork wait
        let want = CapState {
            effective: CapSet::empty(),
            ..start
        };
        let err = match Broadcast::new()
            .timeout(Duration::from_millis(300))
            .set_caps(&want)
        {
            Ok(r) => {
                return Err(format!(
                    "claimed success while a thread was stuck in vfork: {r:?}"
                ))
            }
            Err(e) => e,
        };
        match &err {
            Error::Threads(t) => {
                let ThreadFailures {
                    blocked,
                    unanswered,
                    ..
                } = &**t;
                ensure!(blocked.is_empty(), "{err}");
                ensure!(
                    unanswered == &vec![tid],
                    "unanswered = {unanswered:?}, expected [{tid}]"
                );
            }
            other => return Err(format!("wrong error: {other:?}")),
        }
        ensure!(
            crew::caps_of(tid) == Some(start),
            "the stuck thread changed"
        );
        stuck.join().map_err(|_| "stuck thread panicked")?;
        ensure!(crew::caps_of(capscope::current_tid()) == Some(want));
        Ok(())
    }));
}

/// A file nobody may read (mode 000): only CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH open it.
fn secret_file() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("capscope-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir:?}: {e}"))?;
    let path = dir.join("secret");
    std::fs::write(&path, "secret").map_err(|e| format!("write {path:?}: {e}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000))
        .map_err(|e| format!("chmod: {e}"))?;
    Ok(path)
}

#[test]
fn libcap_exploit_scenario_per_thread_drop_leaves_the_peer_privileged() {
    // libcap's tests/exploit.c: a thread drops its capabilities with a per-thread call while a
    // peer thread keeps them and can still use them. With the process-wide drop it cannot.
    assert_pass(privileged(|| {
        let secret = secret_file()?;
        let open = |p: &std::path::Path| {
            std::fs::File::open(p)
                .map(drop)
                .map_err(|e| e.raw_os_error())
        };
        let (req_tx, req_rx) = mpsc::channel::<()>();
        let (res_tx, res_rx) = mpsc::channel();
        let path = secret.clone();
        let peer = std::thread::spawn(move || {
            while req_rx.recv().is_ok() {
                res_tx
                    .send((
                        std::fs::File::open(&path)
                            .map(drop)
                            .map_err(|e| e.raw_os_error()),
                        capscope::CapState::get_current().unwrap(),
                    ))
                    .unwrap();
            }
        });
        let peer_try = || {
            req_tx.send(()).unwrap();
            res_rx.recv().unwrap()
        };
        ensure!(
            open(&secret).is_ok(),
            "the privileged child cannot open its mode-000 file"
        );
        ensure!(
            peer_try().0.is_ok(),
            "the peer cannot open the file to begin with"
        );
        // Per-thread drop: this thread loses the capability, the peer keeps it.
        check!(CapState::empty().set_current());
        ensure!(
            open(&secret) == Err(Some(libc::EACCES)),
            "this thread still opens the file"
        );
        let (peer_open, peer_caps) = peer_try();
        ensure!(
            peer_open.is_ok(),
            "expected the exploit: the peer should still open the file"
        );
        ensure!(peer_caps.effective.has(Cap::DAC_OVERRIDE));
        // Process-wide drop: the peer loses it too.
        let r = check!(process::drop_all(&DropOptions::new()));
        ensure!(r.threads == 2, "{r:?}");
        let (peer_open, peer_caps) = peer_try();
        ensure!(
            peer_open == Err(Some(libc::EACCES)),
            "the peer still opens the file: {peer_open:?}"
        );
        ensure!(peer_caps == CapState::empty(), "peer state {peer_caps:?}");
        drop(req_tx);
        peer.join().map_err(|_| "peer panicked")?;
        let _ = std::fs::remove_dir_all(secret.parent().unwrap());
        Ok(())
    }));
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn tokio_runtime_with_live_workers_fully_dropped() {
    assert_pass(privileged(|| {
        let secret = secret_file()?;
        let rt = check!(tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .max_blocking_threads(4)
            .enable_all()
            .build());
        let stop = Arc::new(AtomicBool::new(false));
        // Stops the tasks on every exit path, before the runtime is dropped (which waits for
        // the blocking task).
        let _stop_on_exit = StopOnDrop(stop.clone());
        // Keep every worker busy: spinning tasks that yield, sleeping tasks, a blocking task.
        for i in 0..16 {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if i % 2 == 0 {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            });
        }
        let stop2 = stop.clone();
        rt.spawn_blocking(move || {
            while !stop2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let opened = rt.block_on({
            let s = secret.clone();
            async move { tokio::task::spawn(async move { std::fs::File::open(&s).is_ok() }).await }
        });
        ensure!(
            matches!(opened, Ok(true)),
            "a worker cannot open the file before the drop"
        );
        let tids_before = crew::all_tids(&[]);
        ensure!(
            tids_before.len() >= 6,
            "only {} threads with the runtime up",
            tids_before.len()
        );
        let r = check!(process::drop_all(
            &DropOptions::new().bounding().no_new_privs()
        ));
        ensure!(
            r.threads >= tids_before.len(),
            "{r:?} for {} threads",
            tids_before.len()
        );
        crew::check_full(&[], "after drop_all", |s| {
            s.caps == CapState::empty()
                && s.ambient.is_empty()
                && s.bounding.is_empty()
                && s.no_new_privs
        })?;
        // On every worker, tasks now run without capabilities.
        let results = rt.block_on(async {
            let mut hs = Vec::new();
            for _ in 0..32 {
                let s = secret.clone();
                hs.push(tokio::spawn(async move {
                    (
                        std::fs::File::open(&s)
                            .map_err(|e| e.raw_os_error())
                            .map(drop),
                        CapState::get_current().unwrap(),
                        capscope::current_tid(),
                    )
                }));
            }
            let mut out = Vec::new();
            for h in hs {
                out.push(h.await.unwrap());
            }
            out
        });
        for (open, caps, tid) in results {
            ensure!(
                open == Err(Some(libc::EACCES)),
                "a task on thread {tid} still opens the file"
            );
            ensure!(caps == CapState::empty(), "thread {tid}: {caps:?}");
        }
        // New blocking threads inherit the dropped state.
        let b = rt.block_on(async { tokio::task::spawn_blocking(CapState::get_current).await });
        ensure!(matches!(b, Ok(Ok(s)) if s == CapState::empty()));
        stop.store(true, Ordering::Relaxed);
        rt.shutdown_timeout(Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(secret.parent().unwrap());
        Ok(())
    }));
}

#[test]
fn drop_all_keeps_only_keep_in_permitted_and_bounding() {
    assert_pass(privileged(|| {
        let keep = CapSet::from(Cap::NET_BIND_SERVICE);
        let crew = crew::spawn(CREW);
        // CAP_SETPCAP only permitted, not effective, everywhere: drop_all raises it itself to
        // drop from the bounding set.
        let start = check!(CapState::get_current());
        check!(process::set_caps(&CapState {
            effective: CapSet::empty(),
            ..start
        }));
        let r = check!(process::drop_all(&DropOptions::new().keep(keep).bounding()));
        report_ok(&r, CREW)?;
        crew::check_full(&crew.tids, "drop_all keep", |s| {
            s.caps
                == CapState {
                    permitted: keep,
                    ..CapState::empty()
                }
                && s.bounding == keep
                && s.ambient.is_empty()
                && !s.no_new_privs
        })?;
        Ok(())
    }));
}

#[test]
fn invalid_input_is_refused_before_any_change() {
    assert_pass(privileged(|| {
        let start = check!(CapState::get_current());
        let bad = CapState {
            effective: start.permitted.with(Cap::from_u8(63).unwrap()),
            ..start
        };
        ensure!(matches!(
            process::set_caps(&bad),
            Err(Error::InvalidInput { .. })
        ));
        let last = check!(capscope::kernel::last_supported());
        if last < Cap::MAX {
            let beyond = Cap::from_u8(last.as_u8() + 1).unwrap();
            ensure!(matches!(
                process::bounding_drop(CapSet::from(beyond)),
                Err(Error::Unsupported { .. })
            ));
            ensure!(matches!(
                process::ambient_raise(CapSet::from(beyond)),
                Err(Error::Unsupported { .. })
            ));
        }
        ensure!(check!(CapState::get_current()) == start);
        ensure!(process::set_signal(Signal::USR1).is_err());
        Ok(())
    }));
}

#[test]
fn unprivileged_failure_of_the_caller_changes_nothing() {
    // Without CAP_SETPCAP, dropping from the bounding set fails on the calling thread first, so
    // no other thread is touched and the error is a plain Os error with a hint.
    assert_pass(privileged(|| {
        let crew = crew::spawn(8);
        let start = check!(CapState::get_current());
        check!(process::set_caps(&CapState {
            effective: start.effective.without(Cap::SETPCAP),
            ..start
        }));
        let before = check!(capscope::bounding::probe());
        match process::bounding_drop(CapSet::from(Cap::SYS_MODULE)) {
            Err(e @ Error::Os { .. }) => {
                ensure!(e.code() == Some(libc::EPERM), "{e}");
                ensure!(e.hint().is_some_and(|h| h.contains("CAP_SETPCAP")), "{e}");
            }
            other => return Err(format!("expected EPERM, got {other:?}")),
        }
        crew::check_full(&crew.tids, "untouched", |s| s.bounding == before)?;
        Ok(())
    }));
}

#[test]
fn a_different_signal_can_be_chosen_before_the_first_broadcast() {
    assert_pass(privileged(|| {
        let sig = libc::SIGRTMIN() + 3;
        check!(process::set_signal(Signal::new(sig).unwrap()));
        ensure!(process::signal().raw() == sig);
        let crew = crew::spawn(8);
        check!(process::ambient_clear());
        // Now installed: another signal is refused, the same one accepted.
        ensure!(process::set_signal(Signal::new(sig + 1).unwrap()).is_err());
        check!(process::set_signal(Signal::new(sig).unwrap()));
        // SAFETY: querying the disposition only.
        let handled = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            old.sa_sigaction != libc::SIG_DFL
        };
        ensure!(handled, "no handler on the chosen signal");
        drop(crew);
        Ok(())
    }));
}

/// glibc runs its own setxid handler on the alternate signal stack (`SA_ONSTACK`), which Rust
/// threads have and which is small; capscope's handler may interrupt it there. Broadcasts
/// interleaved with glibc's `setresuid` broadcast must neither crash nor fail.
#[test]
fn broadcasts_interleaved_with_glibcs_setxid_broadcast() {
    assert_pass(privileged(|| {
        let crew = crew::spawn(8);
        let start = check!(CapState::get_current());
        let (mut r, mut e, mut s) = (0, 0, 0);
        // SAFETY: three valid out-pointers.
        ensure!(unsafe { libc::getresuid(&mut r, &mut e, &mut s) } == 0);
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let glibc = std::thread::spawn(move || {
            let mut n = 0u32;
            while !s2.load(Ordering::Relaxed) {
                // SAFETY: the current ids again: glibc signals every thread, nothing changes.
                assert_eq!(unsafe { libc::setresuid(r, e, s) }, 0);
                n += 1;
            }
            n
        });
        for i in 0..400 {
            let want = CapState {
                effective: if i % 2 == 0 {
                    start.permitted
                } else {
                    start.permitted - Cap::CHOWN
                },
                ..start
            };
            check!(process::set_caps(&want));
        }
        stop.store(true, Ordering::Relaxed);
        let n = glibc
            .join()
            .map_err(|_| "the setresuid thread panicked".to_owned())?;
        ensure!(n > 10, "only {n} glibc broadcasts ran alongside");
        crew::check_caps(&crew.tids, "after", |c| c.permitted == start.permitted)?;
        Ok(())
    }));
}

/// A seccomp filter that makes `capset` return 0 without doing anything (`SECCOMP_RET_ERRNO`
/// with errno 0; a user-notification supervisor can do the same): every change reads its result
/// back, so neither the per-thread drop nor a process-wide change (on this thread and on a
/// worker the filter also covers) reports success while nothing changed.
#[test]
fn a_capset_that_pretends_to_succeed_is_caught_by_the_read_back() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(
            !before.effective.is_empty(),
            "nothing effective to drop: {before:?}"
        );
        capscope_tests::fail_syscall(libc::SYS_capset, &[], 0)?;
        // The filter is inherited by threads started from now on.
        let e = capscope::drop_after::drop_all(&DropOptions::new()).unwrap_err();
        ensure!(
            check!(CapState::get_current()) == before,
            "the sets changed"
        );
        ensure!(e.to_string().contains("capset"), "{e}");
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let worker = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let empty = CapState {
            effective: CapSet::empty(),
            ..before
        };
        let r = process::set_caps(&empty);
        stop.store(true, Ordering::SeqCst);
        worker.join().unwrap();
        ensure!(
            r.is_err(),
            "process::set_caps reported {r:?} though no capset did anything"
        );
        Ok(())
    }));
}

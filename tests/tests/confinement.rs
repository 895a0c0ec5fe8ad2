//! Confinement: a capability a scope raised is never held by another thread outside that
//! scope (issue 9). Oracles independent of the library: each thread's own raw `capget`
//! system call, and `/proc/self/task/<tid>/status` read from outside.
//!
//! Every test runs in a forked child (root) or a forked child in a new user namespace (a normal
//! user), through `capscope_tests::privileged`. The long stress versions run when
//! `CAPSCOPE_STRESS=1` is set (see the README); the default run keeps a short version of each.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use capscope::drop_after::DropOptions;
use capscope::{capset, requires_caps, Cap, CapSet, CapState, RaiseGuard};
use capscope_tests::state::{first_cpu, lower, raw_effective, raw_has};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

const RAW: Cap = Cap::NET_RAW;

/// Whether the long stress versions run.
fn stress() -> bool {
    std::env::var_os("CAPSCOPE_STRESS").is_some_and(|v| v == "1")
}

/// Every live thread of this process and its effective set, from `/proc/self/task`.
fn all_effective() -> Vec<(u32, CapSet)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let tid: u32 = e.unwrap().file_name().to_str().unwrap().parse().unwrap();
        let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")) else {
            continue;
        };
        if text
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
        {
            continue;
        }
        let eff = text
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        out.push((tid, CapSet::from_bits(eff)));
    }
    out
}

/// Fails naming every thread but `except` that holds `cap` effective.
fn no_other_thread_holds(cap: Cap, except: &[u32], what: &str) -> Verdict {
    let holders: Vec<u32> = all_effective()
        .into_iter()
        .filter(|(t, e)| e.has(cap) && !except.contains(t))
        .map(|(t, _)| t)
        .collect();
    ensure!(holders.is_empty(), "{what}: threads {holders:?} hold {cap}");
    Ok(())
}

/// The thread started inside the scope (it returns what it saw at birth and after the scope),
/// and whether `/proc` showed another thread holding the capability while it ran in the scope.
type Inside = (std::thread::JoinHandle<(bool, bool)>, Result<bool, String>);

#[requires_caps(net_raw)]
fn spawn_inside(go: Arc<Barrier>) -> capscope::Result<Inside> {
    let (ran_tx, ran_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        // The first thing the thread's code does.
        let at_birth = raw_has(RAW);
        ran_tx.send(()).unwrap();
        go.wait(); // the scope ends
        go.wait();
        (at_birth, raw_has(RAW))
    });
    // Wait until the thread has run, while the scope still holds the capability.
    let from_outside = ran_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| format!("the thread never ran during the scope: {e}"))
        .map(|()| {
            all_effective()
                .into_iter()
                .any(|(tid, e)| tid != capscope::current_tid() && e.has(RAW))
        });
    Ok((t, from_outside))
}

#[test]
fn a_std_thread_born_inside_a_scope_never_holds_its_capability() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let go = Arc::new(Barrier::new(2));
        let (t, seen_during) = check!(spawn_inside(go.clone()));
        let seen_during = seen_during?;
        ensure!(!raw_has(RAW), "the scope's own thread lowered it again");
        go.wait();
        go.wait();
        let (at_birth, after) = t.join().map_err(|_| "thread panicked".to_owned())?;
        ensure!(
            !at_birth,
            "the thread's first instruction saw the capability"
        );
        ensure!(
            !seen_during,
            "/proc showed it on the thread during the scope"
        );
        ensure!(!after, "the thread holds it after the scope");
        ensure!(capscope::guard::births_contained());
        Ok(())
    }));
}

#[test]
fn a_birth_paired_with_a_death_is_caught() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        for round in 0..50 {
            // A thread that dies exactly while the new one is born: the count stays the same.
            let (die_tx, die_rx) = mpsc::channel::<()>();
            let dying = std::thread::spawn(move || {
                let _ = die_rx.recv();
            });
            let seen = Arc::new(AtomicU64::new(u64::MAX));
            let g = check!(RaiseGuard::raise(RAW));
            die_tx.send(()).unwrap();
            let s2 = seen.clone();
            let born = std::thread::spawn(move || s2.store(raw_effective(), Ordering::SeqCst));
            dying.join().unwrap();
            born.join().unwrap();
            drop(g);
            let e = CapSet::from_bits(seen.load(Ordering::SeqCst));
            ensure!(!e.has(RAW), "round {round}: the new thread held {RAW}");
        }
        no_other_thread_holds(RAW, &[], "after the rounds")
    }));
}

#[test]
fn a_thousand_scopes_each_creating_threads() {
    let scopes = if stress() { 10_000 } else { 1_000 };
    assert_pass(privileged(move || {
        lower(RAW.into())?;
        let leaks = Arc::new(AtomicU32::new(0));
        let mut late = Vec::new();
        for i in 0..scopes {
            let g = check!(RaiseGuard::raise(RAW));
            let l = leaks.clone();
            let t = std::thread::spawn(move || {
                if raw_has(RAW) {
                    l.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(200));
                if raw_has(RAW) {
                    l.fetch_add(1, Ordering::SeqCst);
                }
            });
            if i % 2 == 0 {
                late.push(t); // outlives the scope
            } else {
                t.join().unwrap();
            }
            drop(g);
            if late.len() > 32 {
                for t in late.drain(..) {
                    t.join().unwrap();
                }
            }
        }
        for t in late {
            t.join().unwrap();
        }
        ensure!(
            leaks.load(Ordering::SeqCst) == 0,
            "threads saw the capability"
        );
        no_other_thread_holds(RAW, &[], "after the scopes")
    }));
}

/// The C library's own `pthread_create`, bypassing capscope's: what a C library bound directly
/// to libc does.
fn libc_pthread_create(
    f: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
) -> libc::pthread_t {
    type Create = unsafe extern "C" fn(
        *mut libc::pthread_t,
        *const libc::pthread_attr_t,
        extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        *mut libc::c_void,
    ) -> libc::c_int;
    // SAFETY: RTLD_NEXT from the executable finds the C library's pthread_create; its type is
    // `Create`.
    unsafe {
        let addr = libc::dlsym(libc::RTLD_NEXT, c"pthread_create".as_ptr());
        assert!(!addr.is_null(), "no pthread_create after the executable");
        let real: Create = std::mem::transmute(addr);
        let mut t: libc::pthread_t = 0;
        assert_eq!(real(&mut t, std::ptr::null(), f, std::ptr::null_mut()), 0);
        t
    }
}

static STRAY_STOP: AtomicBool = AtomicBool::new(false);
static STRAY_TID: AtomicU32 = AtomicU32::new(0);
static STRAY_EFFECTIVE: AtomicU64 = AtomicU64::new(0);
/// Bumped by the stray after each store to `STRAY_EFFECTIVE`.
static STRAY_LOOPS: AtomicU64 = AtomicU64::new(0);

extern "C" fn stray(_: *mut libc::c_void) -> *mut libc::c_void {
    STRAY_TID.store(capscope::current_tid(), Ordering::SeqCst);
    while !STRAY_STOP.load(Ordering::SeqCst) {
        STRAY_EFFECTIVE.store(raw_effective(), Ordering::SeqCst);
        STRAY_LOOPS.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
    }
    std::ptr::null_mut()
}

/// The stray's own view of its effective set, read after it has gone through its loop at least
/// twice more from now (so the value was stored after what happened before this call).
fn stray_effective_from_now() -> Result<CapSet, String> {
    let from = STRAY_LOOPS.load(Ordering::SeqCst);
    let start = Instant::now();
    while STRAY_LOOPS.load(Ordering::SeqCst) < from + 2 {
        ensure!(
            start.elapsed() < Duration::from_secs(5),
            "the stray thread did not loop twice within 5 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(CapSet::from_bits(STRAY_EFFECTIVE.load(Ordering::SeqCst)))
}

#[test]
fn a_thread_started_behind_capscopes_back_is_lowered_before_the_scope_ends() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        // A contained thread that dies during the scope, so that the thread count alone would
        // not show the stray one.
        let (die_tx, die_rx) = mpsc::channel::<()>();
        let dying = std::thread::spawn(move || {
            let _ = die_rx.recv();
        });
        let g = check!(RaiseGuard::raise(RAW));
        let t = libc_pthread_create(stray);
        die_tx.send(()).unwrap();
        dying.join().unwrap();
        let start = Instant::now();
        while STRAY_TID.load(Ordering::SeqCst) == 0 {
            ensure!(start.elapsed() < Duration::from_secs(5), "no stray thread");
            std::thread::sleep(Duration::from_millis(1));
        }
        let tid = STRAY_TID.load(Ordering::SeqCst);
        ensure!(
            stray_effective_from_now()?.has(RAW),
            "the stray thread was born with it (capscope could not intercept it)"
        );
        ensure!(
            capscope::guard::raised_on_this_thread() == CapSet::from(RAW),
            "the scope holds it"
        );
        drop(g); // the scope ends: the stray thread must lose it, verified
        let from_outside = all_effective()
            .into_iter()
            .find(|(t, _)| *t == tid)
            .map(|(_, e)| e);
        ensure!(
            from_outside.is_some_and(|e| !e.has(RAW)),
            "/proc: the stray thread holds {from_outside:?} after the scope"
        );
        ensure!(
            !stray_effective_from_now()?.has(RAW),
            "the stray thread's own capget still sees it"
        );
        STRAY_STOP.store(true, Ordering::SeqCst);
        // SAFETY: joins the thread created above.
        unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
        Ok(())
    }));
}

/// A file only `CAP_DAC_OVERRIDE` lets this process read (mode 000, ours).
fn secret_file() -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("capscope-confine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let f = dir.join("secret");
    std::fs::write(&f, b"s3cret").map_err(|e| e.to_string())?;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000))
        .map_err(|e| e.to_string())?;
    Ok(f)
}

#[requires_caps(dac_override, dac_read_search)]
async fn read_with_capscope(p: std::path::PathBuf) -> std::io::Result<Vec<u8>> {
    capscope::tokio::fs::read(p).await
}

#[requires_caps(dac_override, dac_read_search)]
async fn read_with_plain_tokio(p: std::path::PathBuf) -> std::io::Result<Vec<u8>> {
    // Runs on the blocking pool: without the capabilities (documented in capscope::tokio).
    tokio::fs::read(p).await
}

#[requires_caps(dac_override, dac_read_search)]
async fn block_in_place_inside(p: std::path::PathBuf) -> std::io::Result<Vec<u8>> {
    // The closure runs on the polling thread, inside the scope; the worker is handed to
    // another thread, which must not get the capabilities.
    tokio::task::block_in_place(|| std::fs::read(p))
}

const DAC: CapSet = capset![Cap::DAC_OVERRIDE, Cap::DAC_READ_SEARCH];

#[test]
fn tokio_blocking_work_gets_the_capability_only_inside_the_scope() {
    assert_pass(privileged(|| {
        lower(DAC)?;
        let secret = secret_file()?;
        ensure!(
            std::fs::read(&secret).is_err(),
            "the test file is readable without the capability"
        );
        let rt = check!(tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build());
        rt.block_on(async {
            // The blocking pool is empty: the first blocking task of the scope creates its
            // thread during the raised poll.
            let got = read_with_capscope(secret.clone()).await;
            ensure!(
                got.as_deref().ok() == Some(&b"s3cret"[..]),
                "capscope::tokio::fs::read inside the scope: {got:?}"
            );
            // No thread holds it now: not the pool thread born during the raised poll.
            no_other_thread_holds(Cap::DAC_OVERRIDE, &[], "after the scope")?;
            // An unrelated task after the scope: the pool thread born during the scope runs it.
            for _ in 0..4 {
                let e = tokio::fs::read(&secret).await;
                ensure!(
                    e.as_ref().err().map(std::io::Error::kind)
                        == Some(std::io::ErrorKind::PermissionDenied),
                    "an unrelated blocking task read the file: {e:?}"
                );
            }
            // Plain tokio::fs inside the scope: without the capability (documented).
            let plain = read_with_plain_tokio(secret.clone()).await;
            ensure!(
                plain.is_err(),
                "plain tokio::fs::read inside the scope: {plain:?}"
            );
            let caps_on_pool = check!(tokio::task::spawn_blocking(raw_effective).await);
            ensure!(
                CapSet::from_bits(caps_on_pool) & DAC == CapSet::empty(),
                "a pool thread holds {:?}",
                CapSet::from_bits(caps_on_pool)
            );
            Ok::<(), String>(())
        })?;
        no_other_thread_holds(Cap::DAC_OVERRIDE, &[], "after the runtime ran")?;
        rt.block_on(async {
            let inside = tokio::spawn(block_in_place_inside(secret.clone()));
            let got = check!(inside.await);
            ensure!(got.is_ok(), "block_in_place inside the scope: {got:?}");
            for _ in 0..4 {
                let e = tokio::fs::read(&secret).await;
                ensure!(e.is_err(), "a task after block_in_place read the file");
            }
            Ok::<(), String>(())
        })?;
        no_other_thread_holds(Cap::DAC_OVERRIDE, &[], "after block_in_place")?;
        drop(rt);
        let _ = std::fs::remove_dir_all(secret.parent().unwrap());
        Ok(())
    }));
}

#[capscope::drop_caps_after]
fn init_with_workers(started: &mut Vec<std::thread::JoinHandle<()>>, park: Arc<Barrier>) {
    for _ in 0..3 {
        let p = park.clone();
        started.push(std::thread::spawn(move || {
            p.wait(); // started
            p.wait(); // checked
        }));
    }
    park.wait();
}

#[test]
fn drop_caps_after_reaches_workers_started_in_its_body() {
    assert_pass(privileged(|| {
        let park = Arc::new(Barrier::new(4));
        let mut workers = Vec::new();
        init_with_workers(&mut workers, park.clone());
        let all = all_effective();
        ensure!(all.len() >= 4, "{all:?}");
        for tid in std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
        {
            let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
                .map_err(|e| e.to_string())?;
            for set in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
                let v = text
                    .lines()
                    .find_map(|l| l.strip_prefix(set))
                    .unwrap()
                    .trim();
                ensure!(
                    u64::from_str_radix(v, 16).unwrap() == 0,
                    "thread {tid} {set} {v}"
                );
            }
        }
        park.wait();
        for w in workers {
            w.join().unwrap();
        }
        Ok(())
    }));
}

#[test]
fn restrict_with_live_peers_applies_to_every_thread() {
    assert_pass(privileged(|| {
        let park = Arc::new(Barrier::new(3));
        let peers: Vec<_> = (0..2)
            .map(|_| {
                let p = park.clone();
                std::thread::spawn(move || {
                    p.wait();
                    p.wait();
                })
            })
            .collect();
        park.wait();
        let r = check!(capscope::manifest::restrict(&DropOptions::new()));
        ensure!(r.threads >= 3, "{r:?}");
        let required = capscope::manifest::required();
        for tid in std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
        {
            let tid: u32 = tid.parse().unwrap();
            let s = check!(CapState::get_for_pid(tid));
            ensure!(
                s.permitted.is_subset(required) && s.effective.is_empty(),
                "thread {tid}: {s:?} (required {required:?})"
            );
        }
        park.wait();
        for p in peers {
            p.join().unwrap();
        }
        Ok(())
    }));
}

#[test]
fn drop_caps_after_with_bounding_is_refused_before_the_body_without_setpcap() {
    assert_pass(privileged(|| {
        let s = check!(CapState::get_current());
        check!(CapState {
            effective: s.effective.without(Cap::SETPCAP),
            permitted: s.permitted.without(Cap::SETPCAP),
            ..s
        }
        .set_current());
        let e = check!(
            capscope::drop_after::DropAfter::new(DropOptions::new().bounding(), "test")
                .map(|_| ())
                .err()
                .ok_or("armed without CAP_SETPCAP")
        );
        ensure!(matches!(e, capscope::Error::Refused { .. }), "{e}");
        ensure!(e.to_string().contains("cap_setpcap"), "{e}");
        // Nothing dropped.
        ensure!(check!(CapState::get_current()).permitted == s.permitted.without(Cap::SETPCAP));
        Ok(())
    }));
}

#[test]
fn a_forgotten_guard_never_makes_a_later_guard_raise_what_was_lowered_by_hand() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        std::mem::forget(check!(RaiseGuard::raise(RAW)));
        ensure!(raw_has(RAW));
        check!(capscope::cap_effective().drop(RAW)); // lowered by hand
        for _ in 0..3 {
            drop(check!(RaiseGuard::exclusive(CapSet::empty())));
            drop(check!(RaiseGuard::raise(Cap::CHOWN)));
            ensure!(!raw_has(RAW), "a guard's end raised {RAW} again");
        }
        Ok(())
    }));
}

/// 200,000 guard operations (`CAPSCOPE_STRESS=1`; 20,000 by default) on 4 threads racing
/// 10,000 (1,000) process-wide changes of the inheritable set: no thread ever ends up with
/// an inheritable set other than the last one asked (a guard writing back sets it read before
/// a broadcast changed them), and no broadcast fails.
#[test]
fn guards_never_write_back_sets_a_broadcast_changed() {
    let (guard_ops, broadcasts) = if stress() {
        (200_000u32, 10_000u32)
    } else {
        (20_000, 1_000)
    };
    assert_pass(privileged(move || {
        lower(RAW.into())?;
        let start = check!(CapState::get_current());
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU32::new(0));
        let per = guard_ops / 4;
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (stop, done) = (stop.clone(), done.clone());
                std::thread::spawn(move || -> Result<(), String> {
                    let mut n = 0;
                    while n < per || !stop.load(Ordering::Relaxed) {
                        let g = RaiseGuard::raise(RAW).map_err(|e| e.to_string())?;
                        drop(g);
                        n += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        let mut errors = Vec::new();
        let mut stale = 0;
        for i in 0..broadcasts {
            let inheritable = if i % 2 == 0 {
                start.inheritable | Cap::CHOWN
            } else {
                start.inheritable - Cap::CHOWN
            };
            let want = CapState {
                inheritable,
                effective: start.effective,
                ..start
            };
            if let Err(e) = capscope::process::set_caps(&want) {
                errors.push(e.to_string());
                continue;
            }
            for (tid, _) in all_effective() {
                if let Ok(s) = CapState::get_for_pid(tid) {
                    if s.inheritable != inheritable {
                        stale += 1;
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().map_err(|_| "worker panicked".to_owned())??;
        }
        ensure!(
            errors.is_empty(),
            "{} broadcasts failed: {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        );
        ensure!(stale == 0, "{stale} stale inheritable sets");
        ensure!(
            done.load(Ordering::Relaxed) >= guard_ops,
            "only {} guard operations ran",
            done.load(Ordering::Relaxed)
        );
        eprintln!(
            "{} guard operations raced {broadcasts} broadcasts: 0 stale, 0 errors",
            done.load(Ordering::Relaxed)
        );
        Ok(())
    }));
}

static HANDLER_OK: AtomicU32 = AtomicU32::new(0);
static HANDLER_REFUSED: AtomicU32 = AtomicU32::new(0);
static HANDLER_WRONG: AtomicU32 = AtomicU32::new(0);

extern "C" fn guard_in_handler(_: libc::c_int) {
    match RaiseGuard::raise(RAW) {
        Ok(g) => {
            if !raw_has(RAW) {
                HANDLER_WRONG.fetch_add(1, Ordering::Relaxed);
            }
            drop(g);
            HANDLER_OK.fetch_add(1, Ordering::Relaxed);
        }
        Err(capscope::Error::Refused { .. }) => {
            HANDLER_REFUSED.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            HANDLER_WRONG.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A thread making guards in a loop is interrupted at 20 kHz by a signal whose handler makes a
/// guard too: no abort, every handler guard either works or is refused, nothing stays raised.
#[test]
fn guards_in_a_signal_handler_under_a_signal_storm() {
    let run_for = if stress() {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(500)
    };
    assert_pass(privileged(move || {
        lower(RAW.into())?;
        // SAFETY: installs a plain extern "C" handler for SIGUSR1.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = guard_in_handler as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let (tid_tx, tid_rx) = mpsc::channel();
        let target = std::thread::spawn(move || -> Result<u32, String> {
            tid_tx.send(capscope::current_tid()).unwrap();
            let mut n = 0;
            while !s2.load(Ordering::Relaxed) {
                let g = RaiseGuard::raise(Cap::CHOWN | RAW).map_err(|e| e.to_string())?;
                drop(g);
                n += 1;
            }
            Ok(n)
        });
        let tid = tid_rx.recv().unwrap();
        let pid = std::process::id();
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < run_for {
            // 20 kHz: one signal every 50 µs.
            // SAFETY: signals a thread of this process.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
            sent += 1;
            let next = start + Duration::from_micros(50) * u32::try_from(sent).unwrap();
            while Instant::now() < next {
                std::hint::spin_loop();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let loops = target.join().map_err(|_| "target panicked".to_owned())??;
        let (ok, refused, wrong) = (
            HANDLER_OK.load(Ordering::Relaxed),
            HANDLER_REFUSED.load(Ordering::Relaxed),
            HANDLER_WRONG.load(Ordering::Relaxed),
        );
        ensure!(wrong == 0, "{wrong} handler guards misbehaved");
        ensure!(ok > 0, "no handler guard ran ({sent} signals sent)");
        no_other_thread_holds(RAW, &[], "after the storm")?;
        ensure!(!raw_has(RAW));
        eprintln!(
            "{sent} signals, {loops} guard loops: {ok} handler guards worked, {refused} refused"
        );
        Ok(())
    }));
}

// ---------------------------------------------------------------------------------------------
// Signal masks of threads born inside a scope: every signal stays blocked until the thread has
// lowered, then the thread runs with exactly the mask it was meant to have (its attribute's,
// glibc's default attribute's, or its creator's). Oracle: `SigBlk` of
// `/proc/thread-self/status`, read by the new thread itself.

extern "C" {
    fn pthread_attr_setsigmask_np(
        attr: *mut libc::pthread_attr_t,
        set: *const libc::sigset_t,
    ) -> libc::c_int;
    fn pthread_attr_getsigmask_np(
        attr: *const libc::pthread_attr_t,
        set: *mut libc::sigset_t,
    ) -> libc::c_int;
    fn pthread_attr_getdetachstate(
        attr: *const libc::pthread_attr_t,
        state: *mut libc::c_int,
    ) -> libc::c_int;
    fn pthread_setattr_default_np(attr: *const libc::pthread_attr_t) -> libc::c_int;
}

/// The calling thread's blocked signals (`SigBlk`), from `/proc/thread-self/status`.
fn sigblk() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/status").expect("thread-self/status");
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .expect("SigBlk");
    u64::from_str_radix(hex.trim(), 16).expect("SigBlk hex")
}

/// `sigs` as a `SigBlk` value.
fn sig_bits(sigs: &[libc::c_int]) -> u64 {
    sigs.iter().fold(0, |m, s| m | 1 << (s - 1))
}

fn sigset(sigs: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset adds valid signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        set
    }
}

/// Sets the calling thread's signal mask to exactly `sigs`.
fn set_my_mask(sigs: &[libc::c_int]) {
    let set = sigset(sigs);
    // SAFETY: a valid set; the old mask is not asked for.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// The calling thread's CPU affinity (the first 64 CPUs).
fn my_affinity() -> u64 {
    // SAFETY: sched_getaffinity writes a cpu_set_t of the size given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..64).fold(0, |m, c| {
            if libc::CPU_ISSET(c, &set) {
                m | 1 << c
            } else {
                m
            }
        })
    }
}

/// Restricts the calling thread (or, in an attribute, the new thread) to CPU `cpu`.
fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET sets one bit of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// What a new thread saw of itself, first thing.
#[derive(Default)]
struct Seen {
    done: AtomicBool,
    sigblk: AtomicU64,
    effective: AtomicU64,
    /// The address of a local of the thread's start routine (on its stack).
    local: std::sync::atomic::AtomicUsize,
    affinity: AtomicU64,
    policy: std::sync::atomic::AtomicI32,
    detached: std::sync::atomic::AtomicI32,
    guard: std::sync::atomic::AtomicUsize,
}

extern "C" fn observe(p: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `p` is the leaked `Seen` of `start_observed`.
    let seen = unsafe { &*p.cast::<Seen>() };
    seen.sigblk.store(sigblk(), Ordering::SeqCst);
    seen.effective.store(raw_effective(), Ordering::SeqCst);
    let local = 0u8;
    seen.local
        .store(std::ptr::addr_of!(local) as usize, Ordering::SeqCst);
    seen.affinity.store(my_affinity(), Ordering::SeqCst);
    // SAFETY: sched_getscheduler of the calling thread; pthread_getattr_np fills an attribute
    // object that is destroyed after use.
    unsafe {
        seen.policy
            .store(libc::sched_getscheduler(0), Ordering::SeqCst);
        let mut a: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut a) == 0 {
            let (mut d, mut g) = (0, 0usize);
            pthread_attr_getdetachstate(&a, &mut d);
            libc::pthread_attr_getguardsize(&a, &mut g);
            seen.detached.store(d, Ordering::SeqCst);
            seen.guard.store(g, Ordering::SeqCst);
            libc::pthread_attr_destroy(&mut a);
        }
    }
    seen.done.store(true, Ordering::SeqCst);
    std::ptr::null_mut()
}

/// Starts [`observe`] with `pthread_create` (capscope's) and `attr` (null: none), waits for
/// it (joins it unless `detached`) and returns what it saw.
fn start_observed(
    attr: *const libc::pthread_attr_t,
    detached: bool,
) -> Result<&'static Seen, String> {
    let seen: &'static Seen = Box::leak(Box::default());
    let mut t: libc::pthread_t = 0;
    let arg = std::ptr::from_ref(seen).cast_mut().cast();
    // SAFETY: `attr` is null or initialised; `seen` lives for good.
    let rc = unsafe { libc::pthread_create(&mut t, attr, observe, arg) };
    ensure!(rc == 0, "pthread_create: {rc}");
    let start = Instant::now();
    while !seen.done.load(Ordering::SeqCst) {
        ensure!(
            start.elapsed() < Duration::from_secs(10),
            "the thread never ran"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    if !detached {
        // SAFETY: joins the joinable thread just created.
        unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
    }
    Ok(seen)
}

/// An attribute with signal mask `sigs`; `f` sets more of it.
struct Attr(libc::pthread_attr_t);

impl Attr {
    fn with_mask(sigs: &[libc::c_int]) -> Attr {
        // SAFETY: pthread_attr_init initialises the zeroed object; the mask is a valid set.
        unsafe {
            let mut a = Attr(std::mem::zeroed());
            assert_eq!(libc::pthread_attr_init(&mut a.0), 0);
            assert_eq!(pthread_attr_setsigmask_np(&mut a.0, &sigset(sigs)), 0);
            a
        }
    }

    /// The mask the attribute carries (`None`: none).
    fn mask(&self) -> Option<u64> {
        let mut set = sigset(&[]);
        // SAFETY: an initialised attribute and a set to write.
        let rc = unsafe { pthread_attr_getsigmask_np(&self.0, &mut set) };
        (rc == 0).then(|| {
            (1..64).fold(0, |m, s| {
                // SAFETY: `set` is initialised; `s` is a valid signal number.
                if unsafe { libc::sigismember(&set, s) } == 1 {
                    m | 1 << (s - 1)
                } else {
                    m
                }
            })
        })
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `with_mask`.
        unsafe { libc::pthread_attr_destroy(&mut self.0) };
    }
}

#[test]
fn a_thread_born_in_a_scope_runs_with_exactly_its_attributes_signal_mask() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let creator = [libc::SIGUSR1];
        set_my_mask(&creator);
        ensure!(sigblk() == sig_bits(&creator));
        let wanted = [libc::SIGWINCH, libc::SIGTERM];
        let page = 4096usize;
        let cpu = first_cpu();

        // 1. The attribute's mask, guard size, detach state and affinity.
        let mut a1 = Attr::with_mask(&wanted);
        // SAFETY: setters on an initialised attribute.
        unsafe {
            ensure!(libc::pthread_attr_setguardsize(&mut a1.0, 3 * page) == 0);
            ensure!(
                libc::pthread_attr_setdetachstate(&mut a1.0, libc::PTHREAD_CREATE_DETACHED) == 0
            );
            let set = one_cpu(cpu);
            ensure!(
                libc::pthread_attr_setaffinity_np(
                    &mut a1.0,
                    std::mem::size_of::<libc::cpu_set_t>(),
                    &set
                ) == 0
            );
        }
        // 2. A stack of the program's own, and an explicit policy (SCHED_OTHER, where the
        //    creator runs SCHED_BATCH: inheriting would give SCHED_BATCH).
        let mut stack = vec![0u8; 1 << 20];
        let mut a2 = Attr::with_mask(&wanted);
        // SAFETY: setters on an initialised attribute; the stack outlives the thread (joined).
        unsafe {
            ensure!(
                libc::pthread_attr_setstack(&mut a2.0, stack.as_mut_ptr().cast(), stack.len()) == 0
            );
            ensure!(
                libc::pthread_attr_setinheritsched(&mut a2.0, libc::PTHREAD_EXPLICIT_SCHED) == 0
            );
            ensure!(libc::pthread_attr_setschedpolicy(&mut a2.0, libc::SCHED_OTHER) == 0);
            let zero = libc::sched_param { sched_priority: 0 };
            ensure!(libc::pthread_attr_setschedparam(&mut a2.0, &zero) == 0);
        }
        // 3. A mask and nothing else, from a creator restricted to one CPU: the thread inherits
        //    that affinity (an attribute without one must not widen it).
        let a3 = Attr::with_mask(&wanted);

        let g = check!(RaiseGuard::raise(RAW));
        let s1 = start_observed(&a1.0, true)?;
        let zero = libc::sched_param { sched_priority: 0 };
        // SAFETY: the calling thread's policy, SCHED_BATCH (allowed to anyone) for this birth,
        // set through glibc, which then takes it for what an explicit attribute leaves unset.
        let batch =
            unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_BATCH, &zero) };
        ensure!(batch == 0, "SCHED_BATCH: {batch}");
        let s2 = start_observed(&a2.0, false)?;
        // SAFETY: back to SCHED_OTHER.
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_OTHER, &zero) };
        let before = my_affinity();
        // SAFETY: restricts the calling thread's affinity, restored below.
        unsafe {
            let set = one_cpu(cpu);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        let s3 = start_observed(&a3.0, false)?;
        // SAFETY: restores the affinity read above (the first 64 CPUs).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for c in (0..64).filter(|c| before & 1 << c != 0) {
                libc::CPU_SET(c, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        let creator_after = sigblk();
        drop(g);

        for (n, s) in [(1, s1), (2, s2), (3, s3)] {
            let got = s.sigblk.load(Ordering::SeqCst);
            ensure!(
                got == sig_bits(&wanted),
                "thread {n}: SigBlk {got:#x}, not the attribute's {:#x}",
                sig_bits(&wanted)
            );
            ensure!(
                !CapSet::from_bits(s.effective.load(Ordering::SeqCst)).has(RAW),
                "thread {n} held {RAW}"
            );
        }
        ensure!(
            s1.affinity.load(Ordering::SeqCst) == 1 << cpu,
            "thread 1: affinity {:#x}, not CPU {cpu}",
            s1.affinity.load(Ordering::SeqCst)
        );
        ensure!(
            s1.detached.load(Ordering::SeqCst) == libc::PTHREAD_CREATE_DETACHED,
            "thread 1 is not detached"
        );
        ensure!(
            s1.guard.load(Ordering::SeqCst) == 3 * page,
            "thread 1: guard size {}",
            s1.guard.load(Ordering::SeqCst)
        );
        let local = s2.local.load(Ordering::SeqCst);
        let range = stack.as_ptr() as usize..stack.as_ptr() as usize + stack.len();
        ensure!(
            range.contains(&local),
            "thread 2 ran on {local:#x}, not on its attribute's stack {range:x?}"
        );
        ensure!(
            s2.policy.load(Ordering::SeqCst) == libc::SCHED_OTHER,
            "thread 2: policy {}",
            s2.policy.load(Ordering::SeqCst)
        );
        ensure!(
            s3.affinity.load(Ordering::SeqCst) == 1 << cpu,
            "thread 3: affinity {:#x}, not its creator's (CPU {cpu})",
            s3.affinity.load(Ordering::SeqCst)
        );
        // The caller's attributes are untouched, the creator's mask is back.
        for (n, a) in [(1, &a1), (2, &a2), (3, &a3)] {
            ensure!(
                a.mask() == Some(sig_bits(&wanted)),
                "attribute {n} now carries {:?}",
                a.mask()
            );
        }
        ensure!(
            creator_after == sig_bits(&creator),
            "the creator's mask is {creator_after:#x} after the births"
        );
        drop(stack);
        Ok(())
    }));
}

#[test]
fn a_thread_born_in_a_scope_without_an_attribute_mask_runs_with_its_creators_mask() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let creator = [libc::SIGUSR1, libc::SIGWINCH, libc::SIGRTMIN() + 3];
        set_my_mask(&creator);
        ensure!(sigblk() == sig_bits(&creator));
        let g = check!(RaiseGuard::raise(RAW));
        // glibc's default attribute (a null one), and std's (an attribute without a mask).
        let s1 = start_observed(std::ptr::null(), false)?;
        let (blk, eff) = check!(std::thread::spawn(|| (sigblk(), raw_effective())).join());
        let creator_after = sigblk();
        drop(g);
        for (what, got, e) in [
            (
                "null attribute",
                s1.sigblk.load(Ordering::SeqCst),
                s1.effective.load(Ordering::SeqCst),
            ),
            ("std::thread", blk, eff),
        ] {
            ensure!(
                got == sig_bits(&creator),
                "{what}: SigBlk {got:#x}, not the creator's {:#x}",
                sig_bits(&creator)
            );
            ensure!(!CapSet::from_bits(e).has(RAW), "{what}: held {RAW}");
        }
        ensure!(creator_after == sig_bits(&creator));
        Ok(())
    }));
}

/// glibc's default attribute can carry a signal mask too (`pthread_setattr_default_np`); a
/// thread created with a null attribute inside a scope takes it only once it has lowered: a
/// pending process-directed signal it does not block runs its handler without the scope's
/// capability.
#[test]
fn a_default_attribute_mask_applies_only_after_the_thread_has_lowered() {
    static HANDLER_TID: AtomicU32 = AtomicU32::new(0);
    static HANDLER_EFF: AtomicU64 = AtomicU64::new(0);
    extern "C" fn on_usr2(_: libc::c_int) {
        // SAFETY: gettid and capget are async-signal-safe system calls.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        HANDLER_TID.store(tid, Ordering::SeqCst);
        HANDLER_EFF.store(raw_effective(), Ordering::SeqCst);
    }
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let default_mask = [libc::SIGTERM];
        let d = Attr::with_mask(&default_mask);
        // SAFETY: sets glibc's default attribute of this (forked) process; a handler for
        // SIGUSR2, blocked here, and left pending.
        unsafe {
            ensure!(pthread_setattr_default_np(&d.0) == 0, "setattr_default");
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_usr2 as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
        }
        set_my_mask(&[libc::SIGUSR2]);
        // SAFETY: a process-directed signal every thread blocks: it stays pending.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
        let g = check!(RaiseGuard::raise(RAW));
        let s = start_observed(std::ptr::null(), false)?;
        drop(g);
        let got = s.sigblk.load(Ordering::SeqCst);
        ensure!(
            got == sig_bits(&default_mask),
            "SigBlk {got:#x}, not the default attribute's {:#x}",
            sig_bits(&default_mask)
        );
        ensure!(!CapSet::from_bits(s.effective.load(Ordering::SeqCst)).has(RAW));
        let htid = HANDLER_TID.load(Ordering::SeqCst);
        ensure!(htid != 0, "the handler never ran");
        ensure!(
            !CapSet::from_bits(HANDLER_EFF.load(Ordering::SeqCst)).has(RAW),
            "the handler ran on {htid} with {RAW}"
        );
        Ok(())
    }));
}

#[test]
fn threads_born_outside_scopes_keep_their_signal_masks() {
    assert_pass(privileged(|| {
        let creator = [libc::SIGUSR1, libc::SIGWINCH];
        set_my_mask(&creator);
        let wanted = [libc::SIGTERM, libc::SIGHUP];
        let a = Attr::with_mask(&wanted);
        let s1 = start_observed(&a.0, false)?;
        let s2 = start_observed(std::ptr::null(), false)?;
        let blk = check!(std::thread::spawn(sigblk).join());
        ensure!(
            s1.sigblk.load(Ordering::SeqCst) == sig_bits(&wanted),
            "with a mask"
        );
        ensure!(
            s2.sigblk.load(Ordering::SeqCst) == sig_bits(&creator),
            "null attribute"
        );
        ensure!(blk == sig_bits(&creator), "std::thread");
        ensure!(a.mask() == Some(sig_bits(&wanted)));
        ensure!(sigblk() == sig_bits(&creator));
        Ok(())
    }));
}

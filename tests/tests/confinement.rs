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
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

const RAW: Cap = Cap::NET_RAW;

/// Whether the long stress versions run.
fn stress() -> bool {
    std::env::var_os("CAPSCOPE_STRESS").is_some_and(|v| v == "1")
}

/// The calling thread's effective set, by the raw system call (not through capscope).
fn raw_effective() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget writes two Data structs for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    assert_eq!(r, 0, "capget");
    u64::from(d[0].effective) | u64::from(d[1].effective) << 32
}

fn raw_has(cap: Cap) -> bool {
    raw_effective() & (1 << cap.as_u8()) != 0
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

/// In the child: `caps` permitted but not effective, the rest of the effective set untouched.
fn lower(caps: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(
        s.permitted.is_superset(caps),
        "the child lacks {:?}",
        caps - s.permitted
    );
    check!(CapState {
        effective: s.effective - caps,
        ..s
    }
    .set_current());
    Ok(())
}

#[requires_caps(net_raw)]
fn spawn_inside(
    go: Arc<Barrier>,
) -> capscope::Result<(std::thread::JoinHandle<(bool, bool)>, bool)> {
    let t = std::thread::spawn(move || {
        // The first thing the thread's code does.
        let at_birth = raw_has(RAW);
        go.wait(); // the scope ends
        go.wait();
        (at_birth, raw_has(RAW))
    });
    // Let the thread run while the scope still holds the capability.
    std::thread::sleep(Duration::from_millis(20));
    let from_outside = all_effective()
        .into_iter()
        .any(|(tid, e)| tid != capscope::current_tid() && e.has(RAW));
    Ok((t, from_outside))
}

#[test]
fn a_std_thread_born_inside_a_scope_never_holds_its_capability() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let go = Arc::new(Barrier::new(2));
        let (t, seen_during) = check!(spawn_inside(go.clone()));
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

extern "C" fn stray(_: *mut libc::c_void) -> *mut libc::c_void {
    STRAY_TID.store(capscope::current_tid(), Ordering::SeqCst);
    while !STRAY_STOP.load(Ordering::SeqCst) {
        STRAY_EFFECTIVE.store(raw_effective(), Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
    }
    std::ptr::null_mut()
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
        std::thread::sleep(Duration::from_millis(5));
        ensure!(
            CapSet::from_bits(STRAY_EFFECTIVE.load(Ordering::SeqCst)).has(RAW),
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
        std::thread::sleep(Duration::from_millis(5));
        ensure!(
            !CapSet::from_bits(STRAY_EFFECTIVE.load(Ordering::SeqCst)).has(RAW),
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

//! Behaviour of `#[requires_caps]` and `#[drop_caps_after]`: what the annotated functions see
//! and what the thread holds after every way out, in both branches (root: forked child;
//! non-root: forked child in a new user namespace).

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use capscope::{capset, drop_caps_after, requires_caps, Cap, CapSet, CapState, Error};
use capscope_tests::{assert_pass, check, ensure, in_child, privileged, Verdict};

const RAW: Cap = Cap::NET_RAW;
const BIND: Cap = Cap::NET_BIND_SERVICE;
const CHOWN: Cap = Cap::CHOWN;
const POOL: CapSet = capset![RAW, BIND, CHOWN, Cap::KILL];

fn effective() -> CapSet {
    CapState::get_current().expect("capget").effective
}

/// In the privileged child: keep `POOL` permitted but not effective.
fn lower_pool() -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(
        s.permitted.is_superset(POOL),
        "the child lacks {:?} in its permitted set",
        POOL - s.permitted
    );
    check!(CapState {
        effective: s.effective - POOL,
        ..s
    }
    .set_current());
    Ok(())
}

/// Everything but the effective set, to check the guard never touches it.
fn others() -> (CapSet, CapSet, CapSet, CapSet) {
    let s = CapState::get_current().expect("capget");
    let full = capscope::FullCapState::get_for_thread(std::process::id(), capscope::current_tid())
        .expect("status");
    (s.permitted, s.inheritable, full.ambient, full.bounding)
}

#[requires_caps(net_raw)]
fn raw_inside() -> capscope::Result<CapSet> {
    Ok(effective())
}

#[requires_caps(NET_RAW)]
fn early_return(early: bool) -> capscope::Result<CapSet> {
    if early {
        return Ok(effective());
    }
    Ok(CapSet::empty())
}

#[derive(Debug)]
#[allow(dead_code)] // the payloads are read through Debug only
enum AppError {
    Caps(Error),
    Parse(std::num::ParseIntError),
}
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Caps(e)
    }
}
impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

#[requires_caps(Cap_Net_Raw)]
fn question_mark(text: &str, seen: &Mutex<CapSet>) -> Result<u32, AppError> {
    *seen.lock().unwrap() = effective();
    let n: u32 = text.parse()?;
    Ok(n)
}

#[requires_caps(cap_net_raw)]
fn panics_inside(seen: &Mutex<CapSet>) {
    *seen.lock().unwrap() = effective();
    panic!("boom inside the scope");
}

#[requires_caps(net_raw)]
fn level1() -> capscope::Result<Vec<CapSet>> {
    let mut v = vec![effective()];
    v.extend(level2()?);
    v.push(effective());
    Ok(v)
}
#[requires_caps(net_bind_service)]
fn level2() -> capscope::Result<Vec<CapSet>> {
    let mut v = vec![effective()];
    v.extend(level3()?);
    v.push(effective());
    Ok(v)
}
#[requires_caps(chown, net_raw)]
fn level3() -> capscope::Result<Vec<CapSet>> {
    Ok(vec![effective()])
}

#[requires_caps(chown, exclusive)]
fn exclusive_inside() -> capscope::Result<CapSet> {
    Ok(effective())
}

static BODY_RAN: AtomicBool = AtomicBool::new(false);

#[requires_caps(net_raw, net_bind_service, chown)]
fn needs_three() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[requires_caps(net_raw, chown)]
fn needs_two_panicking() -> u32 {
    BODY_RAN.store(true, Ordering::SeqCst);
    7
}

#[requires_caps(net_raw, on_missing = panic)]
fn result_but_panics() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[test]
fn restored_after_return_early_return_question_mark_and_panic() {
    assert_pass(privileged(|| {
        lower_pool()?;
        let before = effective();
        let rest = others();
        ensure!(!before.has(RAW));

        let inside = check!(raw_inside());
        ensure!(
            inside == before | RAW,
            "inside: {inside:?}, before: {before:?}"
        );
        ensure!(effective() == before, "after return: {:?}", effective());

        ensure!(check!(early_return(true)) == before | RAW);
        ensure!(
            effective() == before,
            "after early return: {:?}",
            effective()
        );

        let seen = Mutex::new(CapSet::empty());
        ensure!(matches!(question_mark("x", &seen), Err(AppError::Parse(_))));
        ensure!(
            seen.lock().unwrap().has(RAW),
            "the body ran without CAP_NET_RAW"
        );
        ensure!(effective() == before, "after `?`: {:?}", effective());
        ensure!(check!(question_mark("41", &seen).map_err(|e| format!("{e:?}"))) == 41);

        let seen = Mutex::new(CapSet::empty());
        let r = catch_unwind(AssertUnwindSafe(|| panics_inside(&seen)));
        ensure!(r.is_err());
        ensure!(seen.lock().unwrap().has(RAW));
        ensure!(effective() == before, "after a panic: {:?}", effective());
        ensure!(others() == rest, "P, I, ambient or bounding changed");
        ensure!(capscope::guard::raised_on_this_thread().is_empty());
        Ok(())
    }));
}

#[test]
fn three_nested_levels_restore_level_by_level() {
    assert_pass(privileged(|| {
        lower_pool()?;
        let b = effective();
        let v = check!(level1());
        let want = [
            b | RAW,
            b | RAW | BIND,
            b | RAW | BIND | CHOWN,
            b | RAW | BIND,
            b | RAW,
        ];
        ensure!(v == want, "seen {v:?}, want {want:?}");
        ensure!(effective() == b);
        Ok(())
    }));
}

#[test]
fn exclusive_makes_the_effective_set_exactly_the_caps() {
    assert_pass(privileged(|| {
        lower_pool()?;
        let b = effective();
        ensure!(
            b.len() > 1,
            "the child should have other effective caps: {b:?}"
        );
        ensure!(check!(exclusive_inside()) == CapSet::from(CHOWN));
        ensure!(effective() == b, "after: {:?}, before: {b:?}", effective());
        Ok(())
    }));
}

/// In the child: drop `caps` from the permitted set.
fn unpermit(caps: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    check!(CapState {
        effective: s.effective - caps,
        permitted: s.permitted - caps,
        inheritable: s.inheritable - caps
    }
    .set_current());
    Ok(())
}

#[test]
fn missing_caps_give_an_error_listing_all_of_them_and_the_body_does_not_run() {
    assert_pass(privileged(|| {
        unpermit(capset![RAW, CHOWN])?;
        let before = check!(CapState::get_current());
        BODY_RAN.store(false, Ordering::SeqCst);
        let err = match needs_three() {
            Err(e) => e,
            Ok(()) => return Err("needs_three ran without its capabilities".into()),
        };
        ensure!(!BODY_RAN.load(Ordering::SeqCst), "the body ran");
        match &err {
            Error::MissingCaps {
                function, missing, ..
            } => {
                ensure!(*missing == capset![RAW, CHOWN], "missing: {missing:?}");
                ensure!(function.ends_with("::needs_three"), "function: {function}");
            }
            other => return Err(format!("wrong error: {other:?}")),
        }
        let msg = err.to_string();
        ensure!(
            msg.contains("setcap cap_chown,cap_net_raw+p"),
            "message: {msg}"
        );
        for form in [
            "--clear-groups --ambient cap_chown,cap_net_raw -- /path/to/program",
            "--inh-caps=+chown,+net_raw --ambient-caps=+chown,+net_raw",
            "AmbientCapabilities=CAP_CHOWN CAP_NET_RAW",
        ] {
            ensure!(
                msg.contains(form),
                "the message should show {form:?} (ambient capabilities): {msg}"
            );
        }
        ensure!(!msg.contains("capsh"), "capsh's advice did not work: {msg}");
        ensure!(check!(CapState::get_current()) == before, "state changed");
        Ok(())
    }));
}

#[test]
fn missing_caps_panic_without_result_or_when_asked_and_the_body_does_not_run() {
    assert_pass(privileged(|| {
        unpermit(capset![RAW])?;
        BODY_RAN.store(false, Ordering::SeqCst);
        let r = catch_unwind(needs_two_panicking);
        ensure!(r.is_err(), "needs_two_panicking returned");
        let msg = r
            .unwrap_err()
            .downcast::<String>()
            .map(|s| *s)
            .unwrap_or_default();
        ensure!(
            msg.contains("cap_net_raw") && msg.contains("needs_two_panicking"),
            "panic message: {msg}"
        );
        ensure!(!BODY_RAN.load(Ordering::SeqCst));
        let r = catch_unwind(result_but_panics);
        ensure!(r.is_err(), "on_missing = panic returned");
        ensure!(!BODY_RAN.load(Ordering::SeqCst));
        Ok(())
    }));
}

// Methods, generics, where clauses, impl Trait, unsafe fn, trait impls.
struct Counter {
    seen: Vec<CapSet>,
}

impl Counter {
    #[requires_caps(net_raw)]
    fn by_ref(&self) -> CapSet {
        let _ = self.seen.len();
        effective()
    }
    #[requires_caps(net_raw)]
    fn by_mut(&mut self) -> capscope::Result<usize> {
        self.seen.push(effective());
        Ok(self.seen.len())
    }
    #[requires_caps(net_raw)]
    fn by_value(self) -> Vec<CapSet> {
        let mut s = self.seen;
        s.push(effective());
        s
    }
}

#[requires_caps(net_raw)]
fn generic<T, U: Clone>(t: T, u: &U) -> (T, U, CapSet)
where
    T: std::fmt::Debug,
{
    (t, u.clone(), effective())
}

#[requires_caps(net_raw)]
fn returns_impl() -> impl Iterator<Item = Cap> {
    effective().into_iter()
}

/// # Safety
/// None needed: it only reads the capability sets.
#[requires_caps(net_raw)]
unsafe fn unsafe_fn(p: *const u8) -> CapSet {
    // SAFETY: the caller passes a valid pointer.
    let _ = unsafe { *p };
    effective()
}

trait Probe {
    fn probe(&self) -> CapSet;
}
impl Probe for Counter {
    #[requires_caps(net_raw, exclusive)]
    fn probe(&self) -> CapSet {
        effective()
    }
}

#[test]
fn methods_generics_impl_trait_unsafe_and_trait_impls_raise() {
    assert_pass(privileged(|| {
        lower_pool()?;
        let b = effective();
        let mut c = Counter { seen: Vec::new() };
        ensure!(c.by_ref().has(RAW));
        ensure!(check!(c.by_mut()) == 1);
        ensure!(c.probe() == CapSet::from(RAW));
        let seen = c.by_value();
        ensure!(seen.iter().all(|s| s.has(RAW)), "{seen:?}");
        let (t, u, s) = generic(5u8, &"x".to_owned());
        ensure!(t == 5 && u == "x" && s.has(RAW));
        ensure!(returns_impl().any(|c| c == RAW));
        let byte = 1u8;
        // SAFETY: a valid pointer.
        ensure!(unsafe { unsafe_fn(&byte) }.has(RAW));
        ensure!(effective() == b, "after: {:?}", effective());
        Ok(())
    }));
}

// async fn on a multi-threaded runtime.
static OUTSIDE_RAISED: AtomicUsize = AtomicUsize::new(0);
static OBSERVED: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

#[requires_caps(net_raw)]
async fn async_raised(log: Arc<Mutex<Vec<(u32, bool)>>>) -> capscope::Result<usize> {
    let mut threads = HashSet::new();
    for i in 0..20_000 {
        let tid = capscope::current_tid();
        threads.insert(tid);
        log.lock().unwrap().push((tid, effective().has(RAW)));
        if i % 4 == 0 {
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        } else {
            tokio::task::yield_now().await;
        }
        if threads.len() >= 3 && i >= 200 {
            break;
        }
    }
    Ok(threads.len())
}

#[test]
fn async_fn_is_raised_inside_its_polls_only_while_hopping_threads() {
    assert_pass(privileged(|| {
        lower_pool()?;
        let rt = check!(tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .enable_all()
            .build());
        let log = Arc::new(Mutex::new(Vec::new()));
        let observer_threads = Arc::new(Mutex::new(HashSet::new()));
        let hops = rt.block_on(async {
            let mut observers = Vec::new();
            for _ in 0..6 {
                let seen = observer_threads.clone();
                observers.push(tokio::spawn(async move {
                    while !STOP.load(Ordering::SeqCst) {
                        if effective().has(RAW) {
                            OUTSIDE_RAISED.fetch_add(1, Ordering::SeqCst);
                        }
                        OBSERVED.fetch_add(1, Ordering::SeqCst);
                        seen.lock().unwrap().insert(capscope::current_tid());
                        tokio::task::yield_now().await;
                    }
                }));
            }
            // tokio::spawn needs a Send future: the annotated async fn's future is Send.
            let hops = tokio::spawn(async_raised(log.clone())).await;
            STOP.store(true, Ordering::SeqCst);
            for o in observers {
                let _ = o.await;
            }
            hops
        });
        let hops = check!(check!(hops));
        let log = log.lock().unwrap();
        ensure!(
            log.iter().all(|&(_, raised)| raised),
            "a poll of the async fn ran without CAP_NET_RAW"
        );
        ensure!(
            hops >= 2,
            "the async fn never changed threads in {} polls",
            log.len()
        );
        let body_threads: HashSet<u32> = log.iter().map(|&(t, _)| t).collect();
        let observer_threads = observer_threads.lock().unwrap();
        ensure!(
            body_threads.intersection(&observer_threads).count() >= 2,
            "observers did not run on the threads the body ran on: body {body_threads:?}, observers {observer_threads:?}"
        );
        ensure!(
            OBSERVED.load(Ordering::SeqCst) > 100,
            "observers barely ran"
        );
        ensure!(
            OUTSIDE_RAISED.load(Ordering::SeqCst) == 0,
            "{} observer polls saw CAP_NET_RAW raised outside the async fn",
            OUTSIDE_RAISED.load(Ordering::SeqCst)
        );
        ensure!(!effective().has(RAW));
        Ok(())
    }));
}

#[requires_caps(net_raw)]
async fn async_missing() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[test]
fn async_fn_with_missing_caps_errors_before_its_body() {
    assert_pass(privileged(|| {
        unpermit(capset![RAW])?;
        BODY_RAN.store(false, Ordering::SeqCst);
        let rt = check!(tokio::runtime::Builder::new_current_thread().build());
        let r = rt.block_on(async_missing());
        ensure!(matches!(r, Err(Error::MissingCaps { .. })), "{r:?}");
        ensure!(!BODY_RAN.load(Ordering::SeqCst));
        Ok(())
    }));
}

// #[drop_caps_after]
#[drop_caps_after]
fn drop_plain(fail: bool) -> std::io::Result<CapSet> {
    let inside = effective();
    if fail {
        return Err(std::io::Error::other("asked to fail"));
    }
    Ok(inside)
}

#[drop_caps_after]
fn drop_panics() {
    BODY_RAN.store(true, Ordering::SeqCst);
    panic!("boom before the drop");
}

#[drop_caps_after(keep(net_bind_service), bounding, no_new_privs)]
fn drop_keeping() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after]
fn drop_refused() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

fn all_empty() -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(s == CapState::empty(), "capget after the drop: {s:?}");
    let full = check!(capscope::FullCapState::get_for_thread(
        std::process::id(),
        capscope::current_tid()
    ));
    ensure!(full.ambient.is_empty(), "ambient: {:?}", full.ambient);
    Ok(())
}

#[test]
fn drop_caps_after_empties_every_set_on_return_and_on_err() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(!before.permitted.is_empty());
        let inside = check!(drop_plain(false));
        ensure!(inside == before.effective, "the body ran with {inside:?}");
        all_empty()
    }));
    assert_pass(privileged(|| {
        ensure!(drop_plain(true).is_err_and(|e| e.to_string() == "asked to fail"));
        all_empty()
    }));
}

#[test]
fn drop_caps_after_still_drops_after_a_panic() {
    assert_pass(privileged(|| {
        BODY_RAN.store(false, Ordering::SeqCst);
        ensure!(catch_unwind(drop_panics).is_err());
        ensure!(BODY_RAN.load(Ordering::SeqCst));
        all_empty()
    }));
}

#[test]
fn drop_caps_after_keep_bounding_and_no_new_privs() {
    assert_pass(privileged(|| {
        check!(drop_keeping());
        let s = check!(CapState::get_current());
        ensure!(s.effective.is_empty() && s.inheritable.is_empty(), "{s:?}");
        ensure!(
            s.permitted == CapSet::from(BIND),
            "permitted: {:?}",
            s.permitted
        );
        let full = check!(capscope::FullCapState::get_for_thread(
            std::process::id(),
            capscope::current_tid()
        ));
        ensure!(
            full.bounding.is_subset(CapSet::from(BIND)),
            "bounding: {:?}",
            full.bounding
        );
        ensure!(full.no_new_privs, "no_new_privs is not set");
        ensure!(full.ambient.is_empty());
        Ok(())
    }));
}

#[test]
fn drop_caps_after_refuses_with_a_second_live_thread() {
    // The forked child has one thread; it starts a second one and keeps it alive.
    assert_pass(in_child(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        BODY_RAN.store(false, Ordering::SeqCst);
        let before = check!(CapState::get_current());
        let r = drop_refused();
        let _ = tx.send(());
        let _ = t.join();
        let e = match r {
            Err(e) => e,
            Ok(()) => return Err("drop_caps_after ran with two threads".into()),
        };
        ensure!(!BODY_RAN.load(Ordering::SeqCst), "the body ran");
        ensure!(e.to_string().contains("all_threads"), "message: {e}");
        ensure!(
            check!(CapState::get_current()) == before,
            "the state changed"
        );
        Ok(())
    }));
}

#[drop_caps_after]
fn drop_that_cannot_happen() -> capscope::Result<()> {
    Ok(())
}

#[test]
fn drop_caps_after_aborts_when_the_drop_fails() {
    let v = privileged(|| {
        capscope_tests::fail_every_capset()?;
        let r = drop_that_cannot_happen();
        Err(format!("returned {r:?} although capset fails"))
    });
    match v {
        Err(why) if why.contains(&format!("killed by signal {}", libc::SIGABRT)) => {}
        other => panic!("expected the child to abort, got {other:?}"),
    }
}

/// The expansions under the strictest lints, checked for real by CI's clippy run (trybuild runs
/// rustc only).
mod pedantic {
    #![deny(clippy::pedantic, unused_qualifications, unused_results)]

    use capscope::{drop_caps_after, requires_caps};

    /// A service.
    pub(crate) struct Service(pub(crate) u16);

    impl Service {
        /// Binds.
        ///
        /// # Errors
        ///
        /// When the capability is missing or the bind fails.
        #[requires_caps(net_bind_service)]
        pub(crate) fn bind(&self) -> std::io::Result<std::net::TcpListener> {
            std::net::TcpListener::bind(("127.0.0.1", self.0))
        }

        /// Counts, raised exclusively.
        #[requires_caps(net_raw, exclusive)]
        pub(crate) fn count(&mut self) -> u16 {
            self.0 += 1;
            self.0
        }

        /// Later.
        ///
        /// # Errors
        ///
        /// When the capability is missing.
        #[requires_caps(net_raw)]
        pub(crate) async fn later(&self) -> capscope::Result<u16> {
            Ok(self.0)
        }
    }

    /// Drops.
    ///
    /// # Errors
    ///
    /// When other threads run.
    #[drop_caps_after(keep(net_bind_service), bounding)]
    pub(crate) fn init(s: &Service) -> std::io::Result<std::net::TcpListener> {
        s.bind()
    }
}

#[test]
fn pedantic_module_compiles() {
    let _ = (
        pedantic::Service::bind,
        pedantic::Service::count,
        pedantic::Service::later,
        pedantic::init,
    );
}

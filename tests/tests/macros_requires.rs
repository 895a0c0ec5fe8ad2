//! Behaviour of `#[requires_caps]`: what the annotated functions see and what the thread holds
//! after every way out, what a missing capability does by the declared return type, in both
//! branches (root: forked child; non-root: forked child in a new user namespace).
//! `#[drop_caps_after]` is tested in `macros_drop.rs`, what must (not) compile in `ui.rs`.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use capscope::{capset, requires_caps, Cap, CapSet, CapState, Error};
use capscope_tests::state::{effective, lower, unpermit};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

const RAW: Cap = Cap::NET_RAW;
const BIND: Cap = Cap::NET_BIND_SERVICE;
const CHOWN: Cap = Cap::CHOWN;
const POOL: CapSet = capset![RAW, BIND, CHOWN, Cap::KILL];

/// In the privileged child: keep `POOL` permitted but not effective.
fn lower_pool() -> Verdict {
    lower(POOL)
}

/// Everything but the effective set, to check the guard never touches it.
fn others() -> (CapSet, CapSet, CapSet, CapSet) {
    let s = CapState::get_current().expect("capget");
    let full = capscope_tests::state::full().expect("status");
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

// What a missing capability does is decided by the declared return type, not its spelling.
type Outcome = std::io::Result<u8>;

#[requires_caps(net_raw)]
fn through_an_alias() -> Outcome {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(1)
}

#[requires_caps(net_raw)]
async fn async_through_an_alias() -> Outcome {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(2)
}

/// Not a `Result`, whatever its name.
mod not_a_result {
    #[derive(Debug)]
    pub(crate) struct Result;
}

#[requires_caps(net_raw)]
fn named_result_but_not_one() -> not_a_result::Result {
    BODY_RAN.store(true, Ordering::SeqCst);
    not_a_result::Result
}

#[requires_caps(net_raw)]
fn generic_result<T: Default, E>() -> std::result::Result<T, E>
where
    E: From<Error>,
{
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(T::default())
}

/// A bare type parameter is not a `Result` where the function is written, even when the caller
/// picks one: the dispatch happens once, on the declared type.
#[requires_caps(net_raw)]
fn generic_value<T>(value: T) -> T {
    BODY_RAN.store(true, Ordering::SeqCst);
    value
}

#[requires_caps(net_raw)]
fn result_of_impl_trait() -> std::io::Result<impl std::fmt::Display> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(3)
}

#[requires_caps(net_raw)]
fn option_is_not_a_result() -> Option<u8> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Some(4)
}

trait Make {
    fn make() -> Self;
}

/// `Self` is a `Result` here.
impl Make for std::io::Result<u8> {
    #[requires_caps(net_raw)]
    fn make() -> Self {
        BODY_RAN.store(true, Ordering::SeqCst);
        Ok(5)
    }
}

/// `Self` is not a `Result` here.
impl Make for u8 {
    #[requires_caps(net_raw)]
    fn make() -> Self {
        BODY_RAN.store(true, Ordering::SeqCst);
        6
    }
}

/// Runs `f` with the body flag cleared; `Ok(Err(message))` when it panicked, and checks that
/// the body did not run.
fn outcome<R>(f: impl FnOnce() -> R) -> Result<Result<R, String>, String> {
    BODY_RAN.store(false, Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast::<String>()
            .map(|s| *s)
            .unwrap_or_else(|_| "non-string panic".to_owned())
    });
    ensure!(!BODY_RAN.load(Ordering::SeqCst), "the body ran");
    Ok(r)
}

/// `Ok(Ok(Err(e)))`: returned an error that names the capability.
fn returned_err<T: std::fmt::Debug, E: std::fmt::Display + std::fmt::Debug>(
    what: &str,
    r: Result<Result<Result<T, E>, String>, String>,
) -> Verdict {
    match r? {
        Ok(Err(e)) => {
            ensure!(e.to_string().contains("cap_net_raw"), "{what}: error {e}");
            Ok(())
        }
        other => Err(format!("{what}: expected an Err, got {other:?}")),
    }
}

/// `Ok(Err(panic message))` naming the capability.
fn panicked<R: std::fmt::Debug>(what: &str, r: Result<Result<R, String>, String>) -> Verdict {
    match r? {
        Err(msg) => {
            ensure!(msg.contains("cap_net_raw"), "{what}: panic message {msg}");
            Ok(())
        }
        Ok(v) => Err(format!("{what}: expected a panic, got {v:?}")),
    }
}

#[test]
fn a_missing_capability_is_an_err_for_every_result_type_and_a_panic_otherwise() {
    assert_pass(privileged(|| {
        unpermit(RAW.into())?;
        returned_err("type alias", outcome(through_an_alias))?;
        let rt = check!(tokio::runtime::Builder::new_current_thread().build());
        returned_err(
            "async fn, type alias",
            outcome(|| rt.block_on(async_through_an_alias())),
        )?;
        returned_err(
            "generic Result with E: From<Error>",
            outcome(generic_result::<u8, Error>),
        )?;
        returned_err(
            "Result<impl Display, _>",
            outcome(|| result_of_impl_trait().map(|d| d.to_string())),
        )?;
        returned_err(
            "Self = io::Result<u8>",
            outcome(<std::io::Result<u8> as Make>::make),
        )?;
        panicked("a struct named Result", outcome(named_result_but_not_one))?;
        panicked("Option", outcome(option_is_not_a_result))?;
        panicked("Self = u8", outcome(<u8 as Make>::make))?;
        panicked(
            "a type parameter the caller makes a Result",
            outcome(|| generic_value::<capscope::Result<u8>>(Ok(7))),
        )?;
        Ok(())
    }));
}

/// The expansions under the strictest lints, checked for real by CI's clippy run (trybuild runs
/// rustc only).
mod pedantic {
    #![deny(clippy::pedantic, unused_qualifications, unused_results)]

    use capscope::requires_caps;

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

    /// A one-line body (`unused_braces` must not fire), with an inner attribute.
    #[requires_caps(net_raw)]
    #[must_use]
    #[rustfmt::skip]
    pub(crate) fn one_line() -> u8 { 5 }

    /// Inner attributes stay first in the body.
    #[requires_caps(net_raw)]
    pub(crate) fn inner_attribute(x: u8) -> u8 {
        #![allow(clippy::let_and_return)]
        let y = x;
        y
    }
}

#[test]
fn pedantic_module_compiles() {
    let _ = (
        pedantic::Service::bind,
        pedantic::Service::count,
        pedantic::Service::later,
        pedantic::one_line,
        pedantic::inner_attribute,
    );
}

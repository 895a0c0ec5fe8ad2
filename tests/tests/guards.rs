//! [`RaiseGuard`], [`with_caps`] and [`RaisedFuture`]: raise, restore, any drop order (a
//! proptest against a model), exclusive guards, missing capabilities, threads spawned inside a
//! scope. Both branches: root (forked child) and non-root (forked child in a user namespace).

use std::panic::{catch_unwind, AssertUnwindSafe};

use capscope::guard::{inherited_raised, raised_on_this_thread, RaiseGuard};
use capscope::{capset, with_caps, Cap, CapSet, CapState, Error, FullCapState};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const RAW: Cap = Cap::NET_RAW;
const BIND: Cap = Cap::NET_BIND_SERVICE;
const CHOWN: Cap = Cap::CHOWN;
const KILL: Cap = Cap::KILL;
const POOL: [Cap; 4] = [RAW, BIND, CHOWN, KILL];
const POOL_SET: CapSet = capset![RAW, BIND, CHOWN, KILL];

fn state() -> CapState {
    CapState::get_current().expect("capget")
}

/// In the privileged child: the pool permitted, and effective exactly as `effective` says.
fn set_pool_effective(effective: CapSet) -> Verdict {
    let s = check!(CapState::get_current());
    ensure!(
        s.permitted.is_superset(POOL_SET),
        "the child lacks {:?}",
        POOL_SET - s.permitted
    );
    check!(CapState {
        effective: (s.effective - POOL_SET) | effective,
        ..s
    }
    .set_current());
    Ok(())
}

/// Permitted, inheritable, ambient and bounding sets: what a guard must never touch.
fn untouchable() -> (CapSet, CapSet, CapSet, CapSet) {
    let s = state();
    let f =
        FullCapState::get_for_thread(std::process::id(), capscope::current_tid()).expect("status");
    (s.permitted, s.inheritable, f.ambient, f.bounding)
}

#[test]
fn raise_then_restore_touching_only_the_effective_set() {
    assert_pass(privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let before = state();
        let rest = untouchable();
        {
            let g = check!(RaiseGuard::raise(capset![RAW, BIND]));
            ensure!(g.caps() == capset![RAW, BIND] && g.mode() == capscope::guard::RaiseMode::Add);
            ensure!(state().effective == before.effective | RAW | BIND);
            ensure!(
                raised_on_this_thread() == capset![RAW, BIND],
                "{:?}",
                raised_on_this_thread()
            );
            ensure!(untouchable() == rest);
        }
        ensure!(state() == before, "{:?} != {before:?}", state());
        ensure!(raised_on_this_thread().is_empty());
        ensure!(untouchable() == rest);
        Ok(())
    }));
}

#[test]
fn a_guard_that_changed_nothing_restores_nothing() {
    assert_pass(privileged(|| {
        set_pool_effective(capset![RAW])?;
        let g = check!(RaiseGuard::raise(RAW));
        ensure!(raised_on_this_thread().is_empty(), "nothing was raised");
        // Lower it behind the guard's back: a guard that changed nothing makes no system
        // call on drop, so it does not put CAP_NET_RAW back either.
        check!(capscope::cap_effective().drop(RAW));
        drop(g);
        ensure!(
            !state().effective.has(RAW),
            "the drop of a guard that changed nothing re-raised"
        );
        Ok(())
    }));
}

#[test]
fn exclusive_guard_and_restore() {
    assert_pass(privileged(|| {
        set_pool_effective(capset![RAW, KILL])?;
        let before = state();
        {
            let _g = check!(RaiseGuard::exclusive(capset![CHOWN]));
            ensure!(
                state().effective == capset![CHOWN],
                "{:?}",
                state().effective
            );
            {
                let _inner = check!(RaiseGuard::raise(BIND));
                ensure!(state().effective == capset![CHOWN, BIND]);
            }
            ensure!(state().effective == capset![CHOWN]);
        }
        ensure!(state() == before);
        Ok(())
    }));
}

#[test]
fn out_of_order_drops_keep_what_live_guards_need() {
    assert_pass(privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let e0 = state().effective;
        let a = check!(RaiseGuard::raise(RAW));
        let b = check!(RaiseGuard::raise(capset![RAW, BIND]));
        drop(a);
        ensure!(
            state().effective == e0 | RAW | BIND,
            "dropping the outer guard first lowered what the inner needs"
        );
        drop(b);
        ensure!(state().effective == e0);

        let x = check!(RaiseGuard::exclusive(CHOWN));
        let y = check!(RaiseGuard::raise(KILL));
        drop(x);
        ensure!(state().effective == e0 | KILL, "{:?}", state().effective);
        drop(y);
        ensure!(state().effective == e0);
        Ok(())
    }));
}

#[test]
fn restore_is_intersected_with_the_current_permitted_set() {
    assert_pass(privileged(|| {
        set_pool_effective(capset![KILL])?;
        {
            let _g = check!(RaiseGuard::exclusive(RAW));
            // Inside the scope, KILL leaves the permitted set for good.
            let s = state();
            check!(CapState {
                permitted: s.permitted - KILL,
                ..s
            }
            .set_current());
        }
        let s = state();
        ensure!(!s.effective.has(KILL) && !s.effective.has(RAW), "{s:?}");
        Ok(())
    }));
}

#[test]
fn missing_caps_are_all_listed_and_nothing_changes() {
    assert_pass(privileged(|| {
        let s = state();
        check!(CapState {
            effective: s.effective - capset![RAW, CHOWN],
            permitted: s.permitted - capset![RAW, CHOWN],
            ..s
        }
        .set_current());
        let before = state();
        match RaiseGuard::raise(capset![RAW, BIND, CHOWN]) {
            Err(e @ Error::MissingCaps { missing, .. }) => {
                ensure!(missing == capset![RAW, CHOWN], "{missing:?}");
                ensure!(e.to_string().contains("cap_chown,cap_net_raw"), "{e}");
            }
            other => return Err(format!("expected MissingCaps, got {other:?}")),
        }
        let mut ran = false;
        ensure!(with_caps(RAW, || ran = true).is_err());
        ensure!(!ran, "with_caps ran the closure without the capability");
        ensure!(state() == before);
        Ok(())
    }));
}

#[test]
fn with_caps_restores_after_return_and_panic() {
    assert_pass(privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let before = state();
        ensure!(check!(with_caps(RAW, || state().effective)).has(RAW));
        ensure!(state() == before);
        let r = catch_unwind(AssertUnwindSafe(|| with_caps(RAW, || panic!("inside"))));
        ensure!(r.is_err());
        ensure!(
            state() == before,
            "a panic inside with_caps left {:?}",
            state().effective
        );
        Ok(())
    }));
}

#[test]
fn threads_spawned_inside_a_scope_start_without_the_raised_set() {
    // The thorough tests (tokio, births paired with deaths, 1,000 scopes, fallback without
    // interception) are in confinement.rs; this is the guard's own promise.
    assert_pass(privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let g = check!(RaiseGuard::raise(RAW));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ran_tx, ran_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let first = (state().effective.has(RAW), inherited_raised());
            ran_tx.send(()).unwrap(); // it has run inside the scope
            let _ = rx.recv(); // until the scope has ended on the spawning thread
            (first, state().effective.has(RAW))
        });
        check!(ran_rx.recv_timeout(std::time::Duration::from_secs(10)));
        ensure!(
            state().effective.has(RAW),
            "the scope's own thread holds it"
        );
        drop(g);
        let _ = tx.send(());
        let ((had, inherited), still) = t.join().map_err(|_| "the thread panicked".to_owned())?;
        ensure!(
            !had,
            "a thread spawned inside the scope starts without the raised set"
        );
        ensure!(!still, "and never gets it");
        ensure!(!state().effective.has(RAW));
        ensure!(check!(inherited).is_empty());
        ensure!(check!(inherited_raised()).is_empty());
        Ok(())
    }));
}

#[derive(Clone, Debug)]
enum Op {
    Raise(u8),
    Exclusive(u8),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..16).prop_map(Op::Raise),
        1 => (0u8..16).prop_map(Op::Exclusive),
        4 => (0usize..8).prop_map(Op::Drop),
    ]
}

fn pool_set(mask: u8) -> CapSet {
    POOL.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// The specification: the effective set is the initial one with each live guard applied in
/// creation order (additive: union; exclusive: replace), whatever order they were dropped in.
fn model(initial: CapSet, live: &[(bool, CapSet)]) -> CapSet {
    live.iter().fold(
        initial,
        |e, &(exclusive, caps)| if exclusive { caps } else { e | caps },
    )
}

#[test]
fn random_create_drop_interleavings_match_the_model() {
    assert_pass(privileged(|| {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (0u8..16, proptest::collection::vec(op(), 1..40));
        let result = runner.run(&strategy, |(initial_mask, ops)| {
            let initial = pool_set(initial_mask);
            set_pool_effective(initial).map_err(TestCaseError::fail)?;
            let base = state();
            let initial = base.effective;
            let mut guards: Vec<RaiseGuard> = Vec::new();
            let mut live: Vec<(bool, CapSet)> = Vec::new();
            for op in &ops {
                match *op {
                    Op::Raise(m) => {
                        guards.push(
                            RaiseGuard::raise(pool_set(m))
                                .map_err(|e| TestCaseError::fail(e.to_string()))?,
                        );
                        live.push((false, pool_set(m)));
                    }
                    Op::Exclusive(m) => {
                        guards.push(
                            RaiseGuard::exclusive(pool_set(m))
                                .map_err(|e| TestCaseError::fail(e.to_string()))?,
                        );
                        live.push((true, pool_set(m)));
                    }
                    Op::Drop(i) if !guards.is_empty() => {
                        let i = i % guards.len();
                        drop(guards.remove(i));
                        live.remove(i);
                    }
                    Op::Drop(_) => {}
                }
                let now = state();
                prop_assert_eq!(
                    now.effective,
                    model(initial, &live),
                    "after {:?} (ops {:?})",
                    op,
                    ops
                );
                prop_assert_eq!(now.permitted, base.permitted);
                prop_assert_eq!(now.inheritable, base.inheritable);
            }
            while let Some(g) = guards.pop() {
                drop(g);
                live.pop();
                prop_assert_eq!(state().effective, model(initial, &live));
            }
            prop_assert_eq!(state(), base);
            prop_assert!(raised_on_this_thread().is_empty());
            Ok(())
        });
        result.map_err(|e| e.to_string())
    }));
}

#[test]
fn raised_future_raises_around_each_poll_only() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    assert_pass(privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let mut polls = Vec::new();
        let fut = capscope::future::RaisedFuture::new(
            RAW,
            capscope::guard::RaiseMode::Add,
            "test",
            async {
                let mut seen = Vec::new();
                for _ in 0..3 {
                    seen.push(state().effective.has(RAW));
                    // Pending once, then ready.
                    let mut once = false;
                    std::future::poll_fn(|cx| {
                        if once {
                            Poll::Ready(())
                        } else {
                            once = true;
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                    })
                    .await;
                }
                seen
            },
        );
        let mut fut = std::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        let out = loop {
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(out) => break out,
                Poll::Pending => polls.push(state().effective.has(RAW)),
            }
        };
        ensure!(check!(out) == vec![true, true, true], "inside polls");
        ensure!(
            polls.len() == 3 && polls.iter().all(|raised| !raised),
            "between polls: {polls:?}"
        );
        Ok(())
    }));
}

#[test]
fn a_restore_that_cannot_be_made_aborts_the_process() {
    let v = privileged(|| {
        set_pool_effective(CapSet::empty())?;
        let g = check!(RaiseGuard::raise(RAW));
        capscope_tests::fail_every_capset()?;
        ensure!(
            CapState {
                effective: CapSet::empty(),
                ..state()
            }
            .set_current()
            .is_err(),
            "the filter does not work"
        );
        drop(g); // restore fails, emptying fails: abort
        Err("the guard's drop returned with CAP_NET_RAW still raised".into())
    });
    match v {
        Err(why) if why.contains(&format!("killed by signal {}", libc::SIGABRT)) => {}
        other => panic!("expected the child to abort, got {other:?}"),
    }
}

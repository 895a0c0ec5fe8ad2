//! The functions of this crate, annotated with `crate = ...` paths to a runtime named `cs`,
//! raise, fail, drop and are listed in the manifest like any other.

use capscope_renamed::{bare_path, init, leading_colons, string, through_a_reexport};
use capscope_tests::{assert_pass, check, ensure, privileged};
use std::future::Future;

use cs::{Cap, CapSet, CapState};

#[test]
fn every_spelling_of_the_crate_path_works() {
    assert_pass(privileged(|| {
        let s = check!(CapState::get_current());
        check!(CapState {
            effective: s.effective - Cap::NET_RAW,
            ..s
        }
        .set_current());
        ensure!(check!(bare_path()).has(Cap::NET_RAW));
        ensure!(check!(string()).has(Cap::NET_RAW));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(leading_colons());
        let std::task::Poll::Ready(inside) = fut.as_mut().poll(&mut cx) else {
            return Err("the async fn did not complete in one poll".into());
        };
        ensure!(check!(inside) == CapSet::from(Cap::NET_RAW));
        ensure!(through_a_reexport().has(Cap::NET_RAW));
        ensure!(!check!(CapState::get_current()).effective.has(Cap::NET_RAW));
        check!(init());
        let after = check!(CapState::get_current());
        ensure!(after.permitted == CapSet::from(Cap::NET_RAW), "{after:?}");
        // Gone from the permitted set: the error of the declared type.
        check!(CapState::empty().set_current());
        ensure!(bare_path().is_err() && string().is_err());
        Ok(())
    }));
}

#[test]
fn the_manifest_lists_them() {
    let _ = (bare_path, string, leading_colons, through_a_reexport);
    let names: Vec<&str> = cs::manifest::entries()
        .iter()
        .map(|e| e.function())
        .collect();
    for f in [
        "bare_path",
        "string",
        "leading_colons",
        "through_a_reexport",
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.ends_with(&format!("capscope_renamed::{f}"))),
            "{f} is not in {names:?}"
        );
    }
}

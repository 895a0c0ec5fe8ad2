//! The link-time manifest: every `#[requires_caps]` function of this test binary is listed with
//! its capabilities, and `restrict` drops every other capability.

use capscope::manifest::{entries, required, restrict, Entry};
use capscope::{capset, requires_caps, Cap, CapSet, CapState};
use capscope_tests::{assert_pass, check, ensure, privileged};

#[requires_caps(net_bind_service)]
fn bind_http() -> capscope::Result<()> {
    Ok(())
}

#[requires_caps(net_raw, chown, exclusive)]
fn raw_and_chown() {}

mod nested {
    pub(crate) struct S;
    impl S {
        #[capscope::requires_caps(kill)]
        pub(crate) async fn method(&self) {}
    }
}

fn entry(suffix: &str) -> Option<&'static Entry> {
    entries().iter().find(|e| e.function.ends_with(suffix))
}

#[test]
fn lists_every_annotated_function_of_the_binary() {
    // Referenced so that they are compiled in; the manifest does not need them to run.
    let _ = (bind_http, raw_and_chown, nested::S::method);
    assert_eq!(entries().len(), 3, "{:#?}", entries());
    let b = entry("manifest::bind_http").expect("bind_http is listed");
    assert_eq!(b.caps, CapSet::from(Cap::NET_BIND_SERVICE));
    assert!(!b.exclusive);
    assert!(b.file.ends_with("manifest.rs"), "{}", b.file);
    assert_eq!(b.line, 8);
    let r = entry("manifest::raw_and_chown").expect("raw_and_chown is listed");
    assert_eq!(r.caps, capset![Cap::NET_RAW, Cap::CHOWN]);
    assert!(r.exclusive);
    let m = entry("manifest::nested::method").expect("the async method is listed");
    assert_eq!(m.caps, CapSet::from(Cap::KILL));
    assert_eq!(
        required(),
        capset![Cap::NET_BIND_SERVICE, Cap::NET_RAW, Cap::CHOWN, Cap::KILL]
    );
}

#[test]
fn restrict_drops_every_other_capability() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(
            before.permitted.is_superset(required()),
            "the child lacks {:?}",
            required() - before.permitted
        );
        check!(restrict(&capscope::drop_after::DropOptions::new()));
        let after = check!(CapState::get_current());
        ensure!(
            after.permitted == required(),
            "permitted: {:?}",
            after.permitted
        );
        ensure!(
            after.effective.is_empty() && after.inheritable.is_empty(),
            "the effective set is left as scopes expect it (empty outside them): {after:?}"
        );
        // The functions still work.
        check!(bind_http());
        Ok(())
    }));
}

#[test]
fn restrict_with_bounding_also_limits_the_bounding_set() {
    assert_pass(privileged(|| {
        check!(restrict(
            &capscope::drop_after::DropOptions::new().bounding()
        ));
        let full = check!(capscope::FullCapState::get_for_thread(
            std::process::id(),
            capscope::current_tid()
        ));
        ensure!(
            full.bounding.is_subset(required()),
            "bounding: {:?}",
            full.bounding
        );
        ensure!(
            full.caps.permitted == required(),
            "permitted: {:?}",
            full.caps.permitted
        );
        ensure!(full.ambient.is_empty());
        Ok(())
    }));
}

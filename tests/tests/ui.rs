//! Compile-time behaviour of the macros (trybuild): what must not compile, with the committed
//! `.stderr` messages, and what must. Regenerate the snapshots with `TRYBUILD=overwrite`.
//! This binary is named `ui`: `.ci/unprivileged-tests` skips it (it runs cargo).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}

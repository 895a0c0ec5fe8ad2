//! What a program prints when its `main` returns a capscope error (issue 11.5): the readable
//! message with its advice, whether `main` returns `std::io::Result` or `capscope::Result`.

use std::process::Command;

fn run(bin: &str) -> String {
    let out = Command::new(bin).output().expect("run the test program");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check(stderr: &str) {
    assert!(stderr.starts_with("Error: "), "{stderr}");
    for advice in [
        "needs_net_raw needs cap_net_raw, missing from the permitted set",
        "setcap cap_net_raw+p /path/to/program",
        "capscope exec --uid USER --gid GROUP --clear-groups --ambient cap_net_raw -- /path/to/program",
        "AmbientCapabilities=CAP_NET_RAW",
    ] {
        assert!(stderr.contains(advice), "missing {advice:?} in: {stderr}");
    }
    assert!(
        !stderr.contains("MissingCaps {"),
        "the structure's Debug form, not the message: {stderr}"
    );
}

#[test]
fn main_returning_io_result_prints_the_message() {
    check(&run(env!("CARGO_BIN_EXE_capscope-missing-io")));
}

#[test]
fn main_returning_capscope_result_prints_the_message() {
    check(&run(env!("CARGO_BIN_EXE_capscope-missing")));
}

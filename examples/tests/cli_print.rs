//! `capscope print` against `capsh --print`, both started by `setpriv` in the same state:
//! root with full capabilities, a normal user with none, ambient capabilities, securebits
//! (each of libcap's guessed modes), no_new_privs, a reduced bounding set, supplementary
//! groups with and without names. Standard output must be identical.

mod common;

use std::path::Path;

use common::{libcap, privileged, root, run, setpriv, tool};

const SECURED: &str =
    "--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked,+keep_caps_locked";

/// Runs `capsh --print` and `capscope print` under `setpriv OPTS` and compares them.
fn same_under(opts: &[&str]) -> String {
    let capsh = tool("capsh");
    let ours = Path::new(env!("CARGO_BIN_EXE_capscope"));
    let theirs = run(setpriv(opts, &capsh).arg("--print"));
    let mine = run(setpriv(opts, ours).arg("print"));
    assert_eq!(theirs.status, Some(0), "capsh under {opts:?}: {theirs:?}");
    assert_eq!(
        mine.stdout, theirs.stdout,
        "under setpriv {opts:?}: capscope print (left) differs from capsh --print (right); \
         capscope's standard error: {}",
        mine.stderr
    );
    assert_eq!(mine.status, Some(0));
    mine.stdout
}

/// The same comparison with capsh itself as the launcher (`capsh OPTS --shell=PROGRAM --
/// ARGS`), for what setpriv cannot do: libcap's modes (`--mode=`), which set the ambient
/// securebits.
fn same_under_capsh(opts: &[&str]) -> String {
    let capsh = tool("capsh");
    let ours = Path::new(env!("CARGO_BIN_EXE_capscope"));
    let launch = |program: &Path, arg: &str| {
        let mut c = privileged(&capsh);
        c.args(opts)
            .arg(format!("--shell={}", program.display()))
            .args(["--", arg]);
        run(&mut c)
    };
    let theirs = launch(&capsh, "--print");
    let mine = launch(ours, "print");
    assert_eq!(theirs.status, Some(0), "capsh {opts:?}: {theirs:?}");
    assert_eq!(
        mine.stdout, theirs.stdout,
        "under capsh {opts:?}: capscope print (left) differs from capsh --print (right); \
         capscope's standard error: {}",
        mine.stderr
    );
    mine.stdout
}

fn mode(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("Guessed mode: "))
        .unwrap_or_else(|| panic!("no mode in {out}"))
}

#[test]
fn as_the_test_runs() {
    let theirs = run(libcap("capsh").arg("--print"));
    let ours = run(common::capscope().arg("print"));
    assert_eq!(ours, theirs);
    assert!(ours.stdout.starts_with("Current: "), "{}", ours.stdout);
}

#[test]
fn ambient_bounding_no_new_privs() {
    let out = same_under(&["--inh-caps=+net_raw,+kill", "--ambient-caps=+net_raw,+kill"]);
    assert!(
        out.contains("\nAmbient set =cap_kill,cap_net_raw\n"),
        "{out}"
    );
    assert!(out.contains("^cap_kill"), "{out}");
    let out = same_under(&["--bounding-set=-sys_admin,-net_raw", "--inh-caps=+chown"]);
    assert!(out.contains("!cap_net_raw"), "{out}");
    let out = same_under(&["--no-new-privs"]);
    assert!(out.contains("(no-new-privs=1)"), "{out}");
}

#[test]
fn securebits_and_guessed_modes() {
    let out = same_under(&["--securebits=+noroot,+no_setuid_fixup_locked"]);
    assert!(out.contains("\n secure-noroot: yes (unlocked)\n"), "{out}");
    assert!(
        out.contains("\n secure-no-suid-fixup: no (locked)\n"),
        "{out}"
    );
    assert!(out.contains("\nSecurebits: 011/0x9/4'b1001 "), "{out}");
    assert_eq!(mode(&out), "UNCERTAIN (0)");
    assert_eq!(mode(&same_under(&[SECURED])), "UNCERTAIN (0)");
    assert_eq!(mode(&same_under(&[])), "HYBRID (4)");
    let out = same_under_capsh(&["--mode=PURE1E_INIT"]);
    assert_eq!(mode(&out), "PURE1E_INIT (2)");
    assert!(
        out.contains("\n secure-no-ambient-raise: yes (locked)\n"),
        "{out}"
    );
    let out = same_under_capsh(&["--inh=cap_chown", "--mode=PURE1E"]);
    assert_eq!(mode(&out), "PURE1E (3)");
    // Nothing left anywhere: the mode libcap calls NOPRIV.
    assert_eq!(mode(&same_under_capsh(&["--mode=NOPRIV"])), "NOPRIV (1)");
}

#[test]
fn users_and_groups() {
    if !root() {
        // Inside a user namespace only the caller's own uid is mapped: one user, no groups.
        let out = same_under(&["--inh-caps=-all"]);
        assert!(out.contains("\nuid=0(root) euid=0(root)\n"), "{out}");
        return;
    }
    let out = same_under(&["--reuid=65534", "--regid=65534", "--clear-groups"]);
    assert!(out.starts_with("Current: =\n"), "{out}");
    assert!(out.contains("uid=65534("), "{out}");
    let out = same_under(&[
        "--reuid=1000",
        "--regid=1000",
        "--groups=0,4,24,27,65534,424242",
    ]);
    assert!(out.contains(",424242(???)\n"), "{out}");
    let out = same_under(&["--ruid=4242", "--euid=0", "--groups=0"]);
    assert!(out.contains("uid=4242(???) euid=0(root)\n"), "{out}");
    // More than 100 groups: capsh lists none.
    let many: Vec<String> = (2000..2150).map(|g| g.to_string()).collect();
    let out = same_under(&[&format!("--groups={}", many.join(","))]);
    assert!(out.contains("\ngroups=\n"), "{out}");
}

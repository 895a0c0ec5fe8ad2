//! `capscope exec` against `setpriv` for the same requests (the `/proc/self/status` lines of
//! the program it starts, field by field), its exit statuses, what it refuses before starting
//! anything, a step failing in the child, and the advice of capscope's `MissingCaps` error
//! run as written. As root directly; as a normal user inside a new user namespace
//! (`unshare --user --map-root-user`), where uid and gid 0 are the only ids.

mod common;

use std::path::Path;
use std::process::Command;

use common::{capscope, privileged, root, run, tmpdir, tool, Ran};

/// A program that prints its credential lines of `/proc/self/status` (grep is the program
/// whose status is read: `sh` execs it last).
const SHOW: [&str; 3] = [
    "/bin/sh",
    "-c",
    "exec grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status",
];

/// `capscope exec OPTS -- SHOW`, privileged as the module docs say.
fn ours(opts: &[&str]) -> Ran {
    let mut c = if root() {
        capscope()
    } else {
        let mut c = Command::new(tool("unshare"));
        c.args(["--user", "--map-root-user"])
            .arg(env!("CARGO_BIN_EXE_capscope"));
        c
    };
    run(c.arg("exec").args(opts).arg("--").args(SHOW))
}

/// `setpriv OPTS -- SHOW`, privileged the same way.
fn theirs(opts: &[&str]) -> Ran {
    let setpriv = tool("setpriv");
    run(privileged(&setpriv).args(opts).arg("--").args(SHOW))
}

#[test]
fn options_mean_what_setpriv_means() {
    // (capscope's options, setpriv's for the same request)
    let mut pairs: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![], vec![]),
        (
            vec!["--inh", "cap_chown,cap_kill"],
            vec!["--inh-caps=-all,+chown,+kill"],
        ),
        (
            vec!["--ambient", "cap_net_raw"],
            vec!["--inh-caps=+net_raw", "--ambient-caps=+net_raw"],
        ),
        (
            vec!["--bounding-keep=cap_net_raw,cap_chown"],
            vec!["--bounding-set=-all,+net_raw,+chown"],
        ),
        (
            vec!["--secbits", "noroot,noroot_locked"],
            vec!["--securebits=+noroot,+noroot_locked"],
        ),
        (vec!["--nnp"], vec!["--nnp"]),
        (
            vec!["--uid", "0", "--gid", "0", "--keep-groups"],
            vec!["--reuid=0", "--regid=0", "--keep-groups"],
        ),
        (
            vec![
                "--secbits=0x3",
                "--ambient=cap_net_raw",
                "--bounding-keep=cap_net_raw",
                "--no-new-privs",
            ],
            vec![
                "--securebits=+noroot,+noroot_locked",
                "--inh-caps=+net_raw",
                "--ambient-caps=+net_raw",
                "--bounding-set=-all,+net_raw",
                "--nnp",
            ],
        ),
    ];
    if root() {
        pairs.extend([
            (vec!["--uid", "65534"], vec!["--reuid=65534"]),
            (
                vec!["--gid", "65534", "--clear-groups"],
                vec!["--regid=65534", "--clear-groups"],
            ),
            (
                vec![
                    "--uid=1000",
                    "--gid=1000",
                    "--groups=20,1000",
                    "--inh=cap_chown",
                    "--ambient=cap_net_raw",
                    "--bounding-keep=cap_net_raw,cap_chown",
                    "--nnp",
                    "--verify",
                ],
                vec![
                    "--reuid=1000",
                    "--regid=1000",
                    "--groups=20,1000",
                    "--inh-caps=-all,+chown,+net_raw",
                    "--ambient-caps=+net_raw",
                    "--bounding-set=-all,+net_raw,+chown",
                    "--nnp",
                ],
            ),
        ]);
    }
    for (mine, setpriv) in pairs {
        let a = ours(&mine);
        let b = theirs(&setpriv);
        assert_eq!(a.status, Some(0), "capscope exec {mine:?}: {a:?}");
        assert_eq!(b.status, Some(0), "setpriv {setpriv:?}: {b:?}");
        assert_eq!(
            a.stdout, b.stdout,
            "capscope exec {mine:?} (left) and setpriv {setpriv:?} (right) differ"
        );
        assert!(a.stdout.contains("CapAmb:"), "{a:?}");
    }
}

#[test]
fn exit_statuses_are_the_programs() {
    let r = run(capscope().args(["exec", "--", "/bin/sh", "-c", "exit 7"]));
    assert_eq!(r.status, Some(7), "{r:?}");
    let r = run(capscope().args(["exec", "--", "/bin/sh", "-c", "kill -TERM $$"]));
    assert_eq!(r.status, Some(128 + 15), "{r:?}");
    let r = run(capscope().args(["exec", "--", "/no/such/program"]));
    assert_eq!(r.status, Some(127), "{r:?}");
    assert!(r.stderr.contains("No such file"), "{r:?}");
    let r = run(capscope().args(["exec", "--help"]));
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.starts_with("usage: capscope exec"), "{r:?}");
}

#[test]
fn bad_options_start_nothing() {
    let dir = tmpdir("exec");
    let marker = dir.join("ran");
    let touch = ["/bin/sh", "-c", "touch \"$0\""];
    let cases: &[(&[&str], &str)] = &[
        (&["--uid", "4294967295"], "unchanged"),
        (&["--uid", "-1"], "--uid"),
        (&["--gid", "5"], "groups"),
        (&["--ambient", "cap_net_rwa"], "did you mean cap_net_raw"),
        (&["--ambient", "+net_raw"], "libcap"),
        (&["--inh", "cap_chown", "--inh", "cap_kill"], "twice"),
        (&["--caps", "cap_chown=eip", "--inh", "cap_kill"], "exclude"),
        (&["--inh=cap_kill", "--caps=cap_chown=eip"], "exclude"),
        (&["--groups", "1", "--clear-groups"], "exclude"),
        (&["--secbits", "noroot,nonsense"], "not a securebit"),
        (&["--caps", "cap_chown=x"], "--caps"),
        (&["--frobnicate"], "unknown option"),
        (&["--ambient", "63"], "does not support"),
    ];
    for (opts, says) in cases {
        let r = run(capscope()
            .arg("exec")
            .args(*opts)
            .arg("--")
            .args(touch)
            .arg(&marker));
        assert_eq!(r.status, Some(125), "{opts:?}: {r:?}");
        assert!(r.stderr.contains(says), "{opts:?}: {:?}", r.stderr);
        assert!(!marker.exists(), "{opts:?}: the program ran");
    }
    let r = run(capscope().args(["exec", "--nnp"]));
    assert_eq!(r.status, Some(125), "{r:?}");
}

#[test]
fn a_capability_capscope_does_not_hold_is_refused_with_the_fix() {
    // As a normal user (nobody, when run as root) capscope holds no capability.
    let setpriv = tool("setpriv");
    let mut c = if root() {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_capscope"));
        c
    } else {
        capscope()
    };
    let r = run(c.args(["exec", "--ambient", "cap_net_raw", "--", "/bin/true"]));
    assert_eq!(r.status, Some(125), "{r:?}");
    assert!(
        r.stderr.contains("cap_net_raw not in the permitted set") && r.stderr.contains("setcap"),
        "{r:?}"
    );
}

#[test]
fn a_state_that_cannot_be_checked_starts_nothing_and_exits_125() {
    // capget fails (a seccomp filter inherited from a forked child of the test): the state
    // cannot be checked, so nothing starts, with the documented 125.
    let dir = tmpdir("exec-nocheck");
    let marker = dir.join("ran");
    capscope_tests::assert_pass(capscope_tests::in_child(|| {
        capscope_tests::fail_syscall(libc::SYS_capget, &[], libc::EACCES as u16)?;
        let r = run(capscope()
            .args(["exec", "--nnp", "--", "/bin/sh", "-c", "touch \"$0\""])
            .arg(&marker));
        capscope_tests::ensure!(r.status == Some(125), "{r:?}");
        capscope_tests::ensure!(r.stderr.contains("Permission denied"), "{r:?}");
        capscope_tests::ensure!(!marker.exists(), "the program ran");
        Ok(())
    }));
}

#[test]
fn an_id_change_capscope_may_not_make_is_refused_before_anything_starts() {
    // As a normal user (nobody, when run as root): another uid needs CAP_SETUID, another gid
    // or any supplementary group CAP_SETGID; the user's own ids, and clearing groups that
    // are already clear, need nothing.
    let as_user = || {
        if root() {
            let mut c = Command::new(tool("setpriv"));
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_capscope"));
            c
        } else {
            capscope()
        }
    };
    let dir = tmpdir("exec-ids");
    let marker = dir.join("ran");
    for (opts, says) in [
        (
            &["--uid", "4242"][..],
            "cap_setuid not in the permitted set",
        ),
        (&["--gid", "4242", "--keep-groups"], "cap_setgid not in"),
        (&["--groups", "4242"], "cap_setgid not in"),
    ] {
        let r = run(as_user()
            .arg("exec")
            .args(opts)
            .args(["--", "/bin/sh", "-c", "touch \"$0\""])
            .arg(&marker));
        assert_eq!(r.status, Some(125), "{opts:?}: {r:?}");
        assert!(r.stderr.contains(says), "{opts:?}: {r:?}");
        assert!(!marker.exists(), "{opts:?}: the program ran");
    }
    let (uid, gid) = if root() {
        (65534, 65534)
    } else {
        // SAFETY: no preconditions.
        unsafe { (libc::getuid(), libc::getgid()) }
    };
    let r = run(as_user().args([
        "exec",
        &format!("--uid={uid}"),
        &format!("--gid={gid}"),
        "--clear-groups",
        "--",
        "/bin/true",
    ]));
    assert_eq!(r.status, Some(0), "{r:?}");
}

/// A program that gains privileges at `execve` (file capabilities) is not dumpable, so a
/// normal user's capscope may not read its `/proc/<pid>/exe`: `--verify` judges it by the
/// file looked up before the spawn, as `launch_verified` does. (As root only: a normal user
/// can give a file capabilities only for a user namespace, where capscope may read anything.)
#[test]
fn verify_judges_a_program_that_gained_privileges_by_its_file() {
    if !root() {
        return;
    }
    let dir = tmpdir("exec-verify");
    let program = dir.join("sleep");
    std::fs::copy("/bin/sleep", &program).unwrap();
    capscope::FileCaps {
        effective: true,
        permitted: capscope::CapSet::from(capscope::Cap::NET_RAW),
        inheritable: capscope::CapSet::empty(),
        rootid: None,
    }
    .set_for_file(&program)
    .unwrap();
    let r = run(Command::new(tool("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_capscope"))
        .args(["exec", "--verify", "--"])
        .arg(&program)
        .arg("0.5"));
    assert_eq!(r.status, Some(0), "{r:?}");
}

#[test]
fn a_failing_step_names_it_and_the_program_does_not_run() {
    // Uid 4242 is not mapped in the user namespace: setresuid fails in the child.
    let dir = tmpdir("exec-step");
    let marker = dir.join("ran");
    let r = run(Command::new(tool("unshare"))
        .args(["--user", "--map-root-user"])
        .arg(env!("CARGO_BIN_EXE_capscope"))
        .args([
            "exec",
            "--uid",
            "4242",
            "--",
            "/bin/sh",
            "-c",
            "touch \"$0\"",
        ])
        .arg(&marker));
    assert_eq!(r.status, Some(126), "{r:?}");
    assert!(
        r.stderr.contains("setresuid failed: Invalid argument"),
        "{r:?}"
    );
    assert!(r.stderr.contains("did not run"), "{r:?}");
    assert!(!marker.exists());
}

/// The `capscope exec` and `setpriv` commands capscope's `MissingCaps` error advises, run as
/// written (with the program, user and group filled in): the program holds the capability.
#[test]
fn the_missing_caps_advice_runs_as_written() {
    let e = capscope::Error::MissingCaps {
        function: "f",
        missing: capscope::CapSet::from(capscope::Cap::NET_BIND_SERVICE),
    };
    let message = e.to_string();
    let commands: Vec<&str> = message
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("capscope exec") || c.starts_with("setpriv"))
        .collect();
    assert_eq!(commands.len(), 2, "{message}");
    let dir = tmpdir("advice");
    let program = dir.join("show");
    std::fs::write(&program, format!("#!/bin/sh\n{}\n", SHOW[2])).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // USER and GROUP: nobody as root; 0 (the only id mapped) in the user namespace of a normal
    // user.
    let id = if root() { "65534" } else { "0" };
    for cmd in commands {
        if cmd.starts_with("setpriv") && !root() {
            // setpriv --clear-groups calls setgroups even when there are none, and a normal
            // user's user namespace denies it; capscope exec makes no call for that.
            continue;
        }
        let tool_path = if cmd.starts_with("setpriv") {
            tool("setpriv").to_string_lossy().into_owned()
        } else {
            env!("CARGO_BIN_EXE_capscope").to_owned()
        };
        let (_, rest) = cmd.split_once(' ').unwrap();
        let line = format!("{tool_path} {rest}")
            .replace("/path/to/program", &program.to_string_lossy())
            .replace("USER", id)
            .replace("GROUP", id);
        let r = if root() {
            run(Command::new("/bin/sh").arg("-c").arg(&line))
        } else {
            run(Command::new(tool("unshare"))
                .args(["--user", "--map-root-user", "/bin/sh", "-c"])
                .arg(&line))
        };
        assert_eq!(r.status, Some(0), "{line}: {r:?}");
        let amb = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("CapAmb:"))
            .map(str::trim)
            .unwrap_or_default();
        assert_eq!(amb, format!("{:016x}", 1u64 << 10), "{line}: {r:?}");
        let prm = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("CapPrm:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        assert!(prm & 1 << 10 != 0, "{line}: {r:?}");
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_capscope")).is_file());
}

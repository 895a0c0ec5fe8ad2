//! The quickstart example binary runs, as root and as a normal user, and its report says what
//! must happen at each step: as root in a forked child in a new network namespace (so port 80
//! is free), as a normal user directly (the example makes its own user and network namespaces).
//! It also runs under `capscope exec` with its capability ambient.

mod common;

use capscope_examples::quickstart::loopback_up;
use capscope_tests::{assert_pass, check, ensure, in_child, is_privileged, Verdict};

/// The lines of step `n` of the report: its title line and the indented lines under it.
fn step(report: &str, n: u8) -> Vec<&str> {
    let prefix = format!("{n}. ");
    let mut lines = report.lines().skip_while(|l| !l.starts_with(&prefix));
    let Some(title) = lines.next() else {
        return Vec::new();
    };
    std::iter::once(title)
        .chain(lines.take_while(|l| l.starts_with(' ')))
        .collect()
}

/// The value of `field:` under step `n` (`effective`, `permitted`, `inheritable`).
fn set<'a>(report: &'a str, n: u8, field: &str) -> Option<&'a str> {
    step(report, n).iter().find_map(|l| {
        l.trim_start()
            .strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Runs the built example and checks its report.
fn run_and_check(mode: &str) -> Verdict {
    let bin = common::example_binary("quickstart")?;
    let out = std::process::Command::new(&bin)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let report = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{} failed: {}\n{report}\n{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(report.starts_with(mode), "{report}");
    ensure!(
        set(&report, 1, "permitted") == Some("cap_net_bind_service")
            && set(&report, 1, "effective") == Some("(none)"),
        "manifest::restrict keeps exactly what #[requires_caps] needs, not effective:\n{report}"
    );
    ensure!(
        step(&report, 2)
            .first()
            .is_some_and(|l| l.ends_with(": refused")),
        "{report}"
    );
    ensure!(
        set(&report, 3, "effective") == Some("cap_net_bind_service"),
        "inside the #[requires_caps] function:\n{report}"
    );
    for field in ["effective", "permitted", "inheritable"] {
        ensure!(
            set(&report, 4, field) == Some("(none)"),
            "{field} after #[drop_caps_after]:\n{report}"
        );
    }
    ensure!(
        step(&report, 4)
            .first()
            .is_some_and(|l| l.ends_with("127.0.0.1:80:")),
        "{report}"
    );
    ensure!(
        step(&report, 5)
            .first()
            .is_some_and(|l| l.contains(": refused (") && l.contains("cap_net_bind_service")),
        "{report}"
    );
    ensure!(
        step(&report, 6)
            .first()
            .is_some_and(|l| l.ends_with("\"pong from an unprivileged service\"")),
        "{report}"
    );
    ensure!(
        report.contains("\ndone: every capability dropped"),
        "{report}"
    );
    Ok(())
}

#[test]
fn the_example_binds_drops_and_serves() {
    if is_privileged() {
        assert_pass(in_child(|| {
            // SAFETY: unshare takes flags only; the forked child is single-threaded.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            ensure!(
                rc == 0,
                "unshare(CLONE_NEWNET) failed: {}",
                std::io::Error::last_os_error()
            );
            loopback_up().map_err(|e| format!("loopback: {e}"))?;
            run_and_check("running directly")
        }));
    } else {
        assert_pass(run_and_check("running as a normal user"));
    }
}

/// The advice the quickstart prints when a capability is missing, followed: the example run
/// by `capscope exec` as a normal user holding `CAP_NET_BIND_SERVICE` ambient (as root: uid
/// 65534; as a normal user: uid 0 of a new user namespace under `SECBIT_NOROOT`), in a network
/// namespace of its own. It binds port 80 directly, drops everything and serves.
#[test]
fn the_example_runs_under_capscope_exec_with_the_capability_ambient() {
    let bin = common::example("quickstart");
    let root = is_privileged();
    assert_pass(capscope_tests::privileged(|| {
        // SAFETY: unshare takes flags only; the forked child is single-threaded.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        ensure!(
            rc == 0,
            "unshare(CLONE_NEWNET) failed: {}",
            std::io::Error::last_os_error()
        );
        check!(loopback_up());
        let user: &[&str] = if root {
            &["--uid", "65534", "--gid", "65534", "--clear-groups"]
        } else {
            &["--secbits", "noroot,noroot_locked"]
        };
        let out = check!(std::process::Command::new(env!("CARGO_BIN_EXE_capscope"))
            .arg("exec")
            .args(user)
            .args(["--ambient", "cap_net_bind_service", "--"])
            .arg(&bin)
            .output());
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "{:?}: {stdout} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(stdout.contains("running directly"), "{stdout}");
        ensure!(
            stdout.contains("done: every capability dropped"),
            "{stdout}"
        );
        Ok(())
    }));
}

/// `QUICKSTART_PORT=65535`: the example also binds the next port, and there is none. It says
/// so and fails before binding anything, instead of panicking on the overflow.
#[test]
fn the_last_port_is_refused_with_a_message() {
    let bin = common::example("quickstart");
    let out = std::process::Command::new(&bin)
        .env("QUICKSTART_PORT", "65535")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("QUICKSTART_PORT=65535: the demo also binds the next port"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("0. start"),
        "{out:?}"
    );
}

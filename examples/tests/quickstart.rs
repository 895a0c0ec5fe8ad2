//! The quickstart runs, as root and as a normal user: its logic in a forked child (root: in a
//! new network namespace so that port 80 is free; non-root: in the user and network namespaces
//! the example itself makes), and the built example binary itself.

use capscope::{CapSet, CapState};
use capscope_examples::quickstart::{loopback_up, prepare, run, Mode};
use capscope_tests::{assert_pass, check, ensure, in_child, is_privileged};

#[test]
fn quickstart_logic_binds_drops_and_serves() {
    assert_pass(in_child(|| {
        if is_privileged() {
            // Root: the example's direct path, in a network namespace of its own.
            // SAFETY: unshare takes flags only; the forked child is single-threaded.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            ensure!(
                rc == 0,
                "unshare(CLONE_NEWNET) failed: {}",
                std::io::Error::last_os_error()
            );
            check!(loopback_up());
            ensure!(check!(prepare()) == Mode::Direct);
        } else {
            ensure!(check!(prepare()) == Mode::Namespaces);
        }
        let mut out = Vec::new();
        let o = check!(run(&mut out, 80));
        let text = String::from_utf8_lossy(&out);
        ensure!(
            o.refused_without_caps,
            "port 80 was bound without the capability:\n{text}"
        );
        ensure!(
            o.effective_inside == CapSet::from(capscope::Cap::NET_BIND_SERVICE),
            "{text}"
        );
        ensure!(o.after_drop == CapState::empty(), "{text}");
        ensure!(o.refused_after_drop, "{text}");
        ensure!(o.reply == "pong from an unprivileged service", "{text}");
        ensure!(o.addr.port() == 80);
        ensure!(text.contains("4. after #[drop_caps_after]"), "{text}");
        Ok(())
    }));
}

/// The example binary `cargo test` built next to this test (`<target>/<profile>/examples/`).
fn example_binary() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut candidates = Vec::new();
    if let Some(profile_dir) = exe.parent().and_then(|deps| deps.parent()) {
        candidates.push(profile_dir.join("examples/quickstart"));
    }
    // .ci/unprivileged-tests runs a copy of this binary from elsewhere.
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    candidates.push(target.join(profile).join("examples/quickstart"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| format!("the quickstart example binary is not built (looked at {candidates:?}); run `cargo test`, which builds it"))
}

#[test]
fn the_example_binary_runs() {
    let bin = example_binary().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(&bin)
        .output()
        .expect("cannot run the quickstart example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed: {}\n{stdout}\n{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = if is_privileged() {
        "running directly"
    } else {
        "inside new user and network namespaces"
    };
    assert!(stdout.contains(mode), "{stdout}");
    assert!(
        stdout.contains("done: every capability dropped"),
        "{stdout}"
    );
}

/// The advice the quickstart prints when a capability is missing, followed: the example run
/// by `capscope exec` as a normal user holding `CAP_NET_BIND_SERVICE` ambient (as root: uid
/// 65534; as a normal user: uid 0 of a new user namespace under `SECBIT_NOROOT`), in a network
/// namespace of its own. It binds port 80 directly, drops everything and serves.
#[test]
fn the_example_runs_under_capscope_exec_with_the_capability_ambient() {
    let bin = example_binary().unwrap_or_else(|e| panic!("{e}"));
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

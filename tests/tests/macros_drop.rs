//! Behaviour of `#[drop_caps_after]`: every set empty after every way out (return, `Err`,
//! unwinding), the options (`keep`, `bounding`, `no_new_privs`, `uid`/`gid`, `user`), what a
//! program started afterwards with `execve` gets, the refusal before the body, and the abort
//! when the drop itself fails. Each test runs in a forked child: as root directly, as a normal
//! user in a new user namespace where only its own id is mapped, as 0 (see each test for what
//! that branch can show). `#[requires_caps]` is tested in `macros_requires.rs`.

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, Ordering};

use capscope::{drop_caps_after, Cap, CapSet, CapState, ThreadIds};
use capscope_tests::state::{all_dropped, effective, exec_status, full, status_caps, status_field};
use capscope_tests::{
    assert_pass, check, ensure, in_child, in_userns_mapped, is_privileged, privileged, Verdict,
};

const BIND: Cap = Cap::NET_BIND_SERVICE;

static BODY_RAN: AtomicBool = AtomicBool::new(false);

#[drop_caps_after]
fn drop_plain(fail: bool) -> std::io::Result<CapSet> {
    let inside = effective();
    if fail {
        return Err(std::io::Error::other("asked to fail"));
    }
    Ok(inside)
}

#[drop_caps_after]
fn drop_panics() {
    BODY_RAN.store(true, Ordering::SeqCst);
    panic!("boom before the drop");
}

#[drop_caps_after(keep(net_bind_service), bounding, no_new_privs)]
fn drop_keeping() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after]
fn drop_refused() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[test]
fn drop_caps_after_empties_every_set_on_return_and_on_err() {
    assert_pass(privileged(|| {
        let before = check!(CapState::get_current());
        ensure!(!before.permitted.is_empty());
        let inside = check!(drop_plain(false));
        ensure!(inside == before.effective, "the body ran with {inside:?}");
        all_dropped()
    }));
    assert_pass(privileged(|| {
        ensure!(drop_plain(true).is_err_and(|e| e.to_string() == "asked to fail"));
        all_dropped()
    }));
}

#[test]
fn drop_caps_after_still_drops_after_a_panic() {
    assert_pass(privileged(|| {
        BODY_RAN.store(false, Ordering::SeqCst);
        ensure!(catch_unwind(drop_panics).is_err());
        ensure!(BODY_RAN.load(Ordering::SeqCst));
        all_dropped()
    }));
}

#[test]
fn drop_caps_after_keep_bounding_and_no_new_privs() {
    assert_pass(privileged(|| {
        check!(drop_keeping());
        let s = check!(CapState::get_current());
        ensure!(s.effective.is_empty() && s.inheritable.is_empty(), "{s:?}");
        ensure!(
            s.permitted == CapSet::from(BIND),
            "permitted: {:?}",
            s.permitted
        );
        let full = check!(capscope::FullCapState::get_for_thread(
            std::process::id(),
            capscope::current_tid()
        ));
        ensure!(
            full.bounding.is_subset(CapSet::from(BIND)),
            "bounding: {:?}",
            full.bounding
        );
        ensure!(full.no_new_privs, "no_new_privs is not set");
        ensure!(full.ambient.is_empty());
        Ok(())
    }));
}

#[test]
fn drop_caps_after_refuses_with_a_second_live_thread() {
    // The forked child has one thread; it starts a second one and keeps it alive.
    assert_pass(in_child(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        BODY_RAN.store(false, Ordering::SeqCst);
        let before = check!(CapState::get_current());
        let r = drop_refused();
        let _ = tx.send(());
        let _ = t.join();
        let e = match r {
            Err(e) => e,
            Ok(()) => return Err("drop_caps_after ran with two threads".into()),
        };
        ensure!(!BODY_RAN.load(Ordering::SeqCst), "the body ran");
        ensure!(e.to_string().contains("all_threads"), "message: {e}");
        ensure!(
            check!(CapState::get_current()) == before,
            "the state changed"
        );
        Ok(())
    }));
}

#[drop_caps_after]
fn drop_that_cannot_happen() -> capscope::Result<()> {
    Ok(())
}

#[test]
fn drop_caps_after_aborts_when_the_drop_fails() {
    let v = privileged(|| {
        capscope_tests::fail_every_capset()?;
        let r = drop_that_cannot_happen();
        Err(format!("returned {r:?} although capset fails"))
    });
    match v {
        Err(why) if why.contains(&format!("killed by signal {}", libc::SIGABRT)) => {}
        other => panic!("expected the child to abort, got {other:?}"),
    }
}

type Outcome = std::io::Result<()>;

#[drop_caps_after]
fn drop_refused_alias() -> Outcome {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[drop_caps_after]
fn drop_refused_unit() {
    BODY_RAN.store(true, Ordering::SeqCst);
}

#[test]
fn the_refusal_is_an_err_for_any_result_type_and_a_panic_otherwise() {
    assert_pass(in_child(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        BODY_RAN.store(false, Ordering::SeqCst);
        let alias = drop_refused_alias();
        let unit = catch_unwind(drop_refused_unit);
        let _ = tx.send(());
        let _ = t.join();
        ensure!(!BODY_RAN.load(Ordering::SeqCst), "a body ran");
        match alias {
            Err(e) => ensure!(e.to_string().contains("all_threads"), "message: {e}"),
            Ok(()) => return Err("drop_refused_alias ran with two threads".into()),
        }
        let msg = match unit {
            Err(p) => p.downcast::<String>().map(|s| *s).unwrap_or_default(),
            Ok(()) => return Err("drop_refused_unit ran with two threads".into()),
        };
        ensure!(msg.contains("all_threads"), "panic message: {msg}");
        Ok(())
    }));
}

/// The capability fields of `/proc/self/status` of a program started now, all empty.
fn exec_gets_nothing(uid: u32) -> Verdict {
    let st = exec_status()?;
    for f in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        ensure!(
            status_field(&st, f) == "0000000000000000",
            "{f} after execve: {st}"
        );
    }
    ensure!(
        status_field(&st, "Uid") == format!("{uid} {uid} {uid} {uid}"),
        "Uid after execve: {st}"
    );
    Ok(())
}

/// Every id of the calling thread is `uid`/`gid`, the groups are empty, so are the sets.
fn became(uid: u32, gid: u32) -> Verdict {
    let ids = check!(ThreadIds::current());
    ensure!(
        (ids.uid, ids.euid, ids.suid, ids.fsuid) == (uid, uid, uid, uid),
        "{ids:?}"
    );
    ensure!(
        (ids.gid, ids.egid, ids.sgid, ids.fsgid) == (gid, gid, gid, gid),
        "{ids:?}"
    );
    ensure!(ids.groups.is_empty(), "groups: {ids:?}");
    all_dropped()
}

#[drop_caps_after(uid = 65534, gid = 65534)]
fn become_nobody() -> capscope::Result<CapSet> {
    Ok(effective())
}

/// In a user namespace where only the caller's own id is mapped (as 0), 0 is the one id a
/// drop can switch to.
#[drop_caps_after(uid = 0, gid = 0)]
fn become_zero() -> capscope::Result<()> {
    Ok(())
}

/// Root switches to 65534 (nobody), in the initial user namespace and in one where 65,536 ids
/// are mapped: every uid, gid and filesystem id is 65534 afterwards, the groups are empty, no
/// capability is left, and a program started with `execve` gets none either. A normal user
/// cannot map 65534 (only its own id, as 0): there `uid = 0, gid = 0` is tested, which changes
/// and checks the same calls but cannot show the `execve` part (uid 0 gets every capability of
/// its namespace back: see the next test).
#[test]
fn uid_and_gid_switch_every_id_and_execve_gets_nothing() {
    let nobody = || -> Verdict {
        let before = check!(CapState::get_current());
        ensure!(
            check!(become_nobody()) == before.effective,
            "the body did not run with the capabilities it had"
        );
        became(65534, 65534)?;
        exec_gets_nothing(65534)
    };
    if is_privileged() {
        assert_pass(in_child(nobody));
        assert_pass(in_userns_mapped(65536, nobody));
    } else {
        assert_pass(privileged(|| {
            check!(become_zero());
            became(0, 0)
        }));
    }
}

#[drop_caps_after(uid = 65534, gid = 65534)]
fn become_unmapped() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

#[drop_caps_after(uid = 0, gid = 0)]
fn become_zero_counted() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

/// The drop refused `f` before its body, with a message holding `want`, and nothing changed.
fn refused_before_the_body(f: fn() -> capscope::Result<()>, want: &str) -> Verdict {
    let before = check!(CapState::get_current());
    BODY_RAN.store(false, Ordering::SeqCst);
    let e = match f() {
        Err(e) => e.to_string(),
        Ok(()) => return Err(format!("accepted; expected a refusal naming {want:?}")),
    };
    ensure!(e.contains(want), "message: {e}");
    ensure!(!BODY_RAN.load(Ordering::SeqCst), "the body ran");
    ensure!(
        check!(CapState::get_current()) == before,
        "the state changed"
    );
    Ok(())
}

/// In a user namespace with one mapped id (0) and `setgroups` denied, as containers and
/// rootless tools make them: a uid or gid that is not mapped, and supplementary groups that
/// cannot be cleared, are refused before the body runs, where they would otherwise make the
/// drop fail half-way (and abort the process). As root the child first takes a supplementary
/// group so the refusal is exercised; a normal user keeps its own groups (with none, the drop
/// to 0 succeeds, and the test says so).
#[test]
fn an_id_change_the_kernel_would_refuse_is_refused_before_the_body() {
    let root = is_privileged();
    assert_pass(in_child(move || {
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        if root {
            // SAFETY: a valid one-element list; this forked child is single-threaded.
            let set = unsafe { libc::setgroups(1, [100].as_ptr()) };
            ensure!(set == 0, "setgroups");
        }
        // SAFETY: unshare takes flags only; this forked child is single-threaded.
        let unshared = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
        ensure!(
            unshared == 0,
            "unshare: {}",
            std::io::Error::last_os_error()
        );
        check!(std::fs::write("/proc/self/setgroups", "deny"));
        check!(std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")));
        check!(std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")));
        refused_before_the_body(become_unmapped, "uid 65534 is not mapped")?;
        // SAFETY: getgroups(0, NULL) only counts.
        let groups = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        if groups > 0 {
            refused_before_the_body(become_zero_counted, "cannot be cleared")
        } else {
            eprintln!("no supplementary groups: the drop to 0 must succeed (nothing to clear)");
            check!(become_zero_counted());
            became(0, 0)
        }
    }));
}

#[drop_caps_after(user = "nobody")]
fn become_user_nobody() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after(user = "root")]
fn become_user_root() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after(user = "no-such-user-of-capscope")]
fn become_no_one() -> capscope::Result<()> {
    BODY_RAN.store(true, Ordering::SeqCst);
    Ok(())
}

/// `user = "name"` takes the uid and primary gid of `/etc/passwd` (root: `nobody`; a normal
/// user, in its one-id namespace: `root`, 0); an unknown name is an error before the body runs,
/// and nothing changes.
#[test]
fn user_takes_its_ids_from_etc_passwd_and_an_unknown_name_is_refused() {
    let root = is_privileged();
    assert_pass(privileged(move || {
        refused_before_the_body(become_no_one, "no-such-user-of-capscope")?;
        if root {
            check!(become_user_nobody());
            became(65534, 65534)?;
            exec_gets_nothing(65534)
        } else {
            check!(become_user_root());
            became(0, 0)
        }
    }));
}

#[drop_caps_after]
fn drop_only() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after(no_new_privs)]
fn drop_with_no_new_privs() -> capscope::Result<()> {
    Ok(())
}

#[drop_caps_after(bounding)]
fn drop_with_bounding() -> capscope::Result<()> {
    Ok(())
}

/// The warning of the docs, shown: a process that stays uid 0 (root; or a normal user's uid 0
/// in its user namespace) has no capability left after a plain `#[drop_caps_after]`, yet the
/// next program it starts with `execve` gets a full permitted set back (its bounding set).
/// With `no_new_privs` or `bounding` it gets nothing back.
#[test]
fn uid_0_gets_every_capability_back_on_execve_unless_nnp_or_bounding() {
    assert_pass(privileged(|| {
        let bounding = full()?.bounding;
        check!(drop_only());
        all_dropped()?;
        let st = exec_status()?;
        ensure!(status_field(&st, "Uid").starts_with("0 "), "{st}");
        let permitted = status_caps(&st, "CapPrm")?;
        ensure!(
            permitted == bounding && !permitted.is_empty(),
            "after execve: CapPrm {permitted:?}, bounding {bounding:?}"
        );
        Ok(())
    }));
    for (what, drop) in [
        (
            "no_new_privs",
            drop_with_no_new_privs as fn() -> capscope::Result<()>,
        ),
        ("bounding", drop_with_bounding),
    ] {
        assert_pass(privileged(|| {
            check!(drop());
            all_dropped()?;
            let st = exec_status()?;
            ensure!(status_field(&st, "Uid").starts_with("0 "), "{st}");
            for f in ["CapPrm", "CapEff"] {
                ensure!(
                    status_caps(&st, f)?.is_empty(),
                    "{what}: {f} after execve: {st}"
                );
            }
            Ok(())
        }));
    }
}

/// The expansions under the strictest lints, checked for real by CI's clippy run (trybuild runs
/// rustc only).
mod pedantic {
    #![deny(clippy::pedantic, unused_qualifications, unused_results)]

    use capscope::drop_caps_after;

    /// Drops.
    ///
    /// # Errors
    ///
    /// When other threads run.
    #[drop_caps_after(keep(net_bind_service), bounding)]
    pub(crate) fn init(port: u16) -> std::io::Result<std::net::TcpListener> {
        std::net::TcpListener::bind(("127.0.0.1", port))
    }

    /// A one-line body, ids.
    ///
    /// # Errors
    ///
    /// When other threads run.
    #[drop_caps_after(uid = 65534, gid = 65534, no_new_privs)]
    #[rustfmt::skip]
    pub(crate) fn become_nobody() -> capscope::Result<u8> { Ok(1) }
}

#[test]
fn pedantic_module_compiles() {
    let _ = (pedantic::init, pedantic::become_nobody);
}

//! `cap_set_ids`, the filesystem ids, and the kernel's setuid capability fixups, with real
//! system calls, checked against `capget` and per-thread reads (`getresuid`, `getresgid`,
//! `getgroups`, `/proc/self/task/<tid>/status`).
//!
//! # The two branches
//!
//! - As root, every test runs in forked children: in the initial user namespace, and again in
//!   a new user namespace where ids `0..N_IDS` are mapped (`in_userns_mapped`, written by a
//!   helper in the parent namespace).
//! - As a normal user (CI runs this binary as uid 65534), a new user namespace can map only
//!   the caller's own id, so only uid/gid 0 exist there and `setgroups` is denied. Changes to
//!   another id are impossible; the tests then run the paths that exist: 0→0 transitions, the
//!   failure paths (an unmapped id, a denied `setgroups`, a missing capability), validation,
//!   and the capability handling of `cap_set_ids` (raise, keepcaps, effective set). The root
//!   run covers the 0→n rows. Each test says which rows run in which branch.

use capscope::fsid::{fsgid, fsuid, set_fsgid, set_fsuid};
use capscope::{cap_set_ids, capset, securebits, Cap, CapSet, CapState, Error, Secbits};
use capscope_tests::{
    assert_pass, check, ensure, in_child, in_userns_mapped, is_privileged, privileged, Verdict,
};

/// The uid/gid the root branch switches to.
const N: u32 = 1000;
/// How many ids `in_userns_mapped` maps.
const N_IDS: u32 = 4000;

/// capabilities(7): the capabilities an fsuid 0→non-0 change clears from the effective set.
const FS_SET: CapSet = capset![
    Cap::CHOWN,
    Cap::DAC_OVERRIDE,
    Cap::DAC_READ_SEARCH,
    Cap::FOWNER,
    Cap::FSETID,
    Cap::LINUX_IMMUTABLE,
    Cap::MAC_OVERRIDE,
    Cap::MKNOD
];

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The raw per-thread `setresuid` system call (-1 = unchanged).
fn raw_setresuid(r: u32, e: u32, s: u32) -> Result<(), i32> {
    // SAFETY: setresuid takes three integers and changes the calling thread only.
    if unsafe { libc::syscall(libc::SYS_setresuid, r, e, s) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn resuid() -> [u32; 3] {
    let mut r = [0u32; 3];
    // SAFETY: three valid out-pointers.
    unsafe { libc::getresuid(&mut r[0], &mut r[1], &mut r[2]) };
    r
}

fn resgid() -> [u32; 3] {
    let mut r = [0u32; 3];
    // SAFETY: three valid out-pointers.
    unsafe { libc::getresgid(&mut r[0], &mut r[1], &mut r[2]) };
    r
}

fn groups() -> Vec<u32> {
    // SAFETY: size 0 returns the count only.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut v = vec![0u32; usize::try_from(n).unwrap_or(0)];
    // SAFETY: v has room for n gids.
    let m = unsafe { libc::getgroups(n, v.as_mut_ptr()) };
    v.truncate(usize::try_from(m).unwrap_or(0));
    v
}

fn caps() -> Result<CapState, String> {
    CapState::get_current().map_err(|e| e.to_string())
}

/// Everything `cap_set_ids` and the fs-id setters may touch, for before/after comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Snap {
    uids: [u32; 3],
    gids: [u32; 3],
    groups: Vec<u32>,
    fsuid: u32,
    fsgid: u32,
    caps: CapState,
    ambient: CapSet,
    securebits: Secbits,
}

fn snap() -> Result<Snap, String> {
    Ok(Snap {
        uids: resuid(),
        gids: resgid(),
        groups: groups(),
        fsuid: check!(fsuid()),
        fsgid: check!(fsgid()),
        caps: caps()?,
        ambient: check!(capscope::ambient::probe()),
        securebits: check!(securebits::get()),
    })
}

fn set_caps(effective: CapSet, permitted: CapSet, inheritable: CapSet) -> capscope::Result<()> {
    CapState {
        effective,
        permitted,
        inheritable,
    }
    .set_current()
}

/// Runs `f` in every namespace the branch offers: as root in the initial namespace and in a
/// user namespace with `N_IDS` ids mapped; as a normal user in a one-id user namespace.
fn everywhere(f: fn() -> Verdict) {
    if is_privileged() {
        assert_pass(in_child(f).map_err(|e| format!("initial namespace: {e}")));
        assert_pass(in_userns_mapped(N_IDS, f).map_err(|e| format!("mapped user namespace: {e}")));
    } else {
        assert_pass(privileged(f).map_err(|e| format!("one-id user namespace: {e}")));
    }
}

/// Whether more than one uid is mapped in this thread's user namespace (root branch: the
/// initial namespace or `in_userns_mapped`) or only one (the one-id namespace).
fn many_ids() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            m.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
                .sum::<u64>()
                > 1
        })
        .unwrap_or(false)
}

fn expect_invalid(r: capscope::Result<()>, what: &str) -> Verdict {
    match r {
        Err(Error::InvalidInput { .. }) => Ok(()),
        other => Err(format!("{what}: expected InvalidInput, got {other:?}")),
    }
}

#[test]
fn rejected_inputs_change_nothing() {
    everywhere(|| {
        let before = snap()?;
        let too_many = vec![5u32; capscope::MAX_GROUPS + 1];
        expect_invalid(
            cap_set_ids(&capscope_tests::ids(None, None, None, false)),
            "nothing given",
        )?;
        expect_invalid(
            cap_set_ids(&capscope_tests::ids(Some(u32::MAX), None, None, false)),
            "uid -1",
        )?;
        expect_invalid(
            cap_set_ids(&capscope_tests::ids(None, Some(u32::MAX), None, true)),
            "gid -1",
        )?;
        expect_invalid(
            cap_set_ids(&capscope_tests::ids(
                Some(0),
                Some(0),
                Some(&[0, u32::MAX]),
                false,
            )),
            "group -1",
        )?;
        expect_invalid(
            cap_set_ids(&capscope_tests::ids(Some(0), None, Some(&too_many), false)),
            "65,537 groups",
        )?;
        expect_invalid(set_fsuid(u32::MAX).map(drop), "fsuid -1")?;
        expect_invalid(set_fsgid(u32::MAX).map(drop), "fsgid -1")?;
        ensure!(
            snap()? == before,
            "state changed: {before:?} -> {:?}",
            snap()?
        );
        Ok(())
    });
}

/// The kernel's fixups (capabilities(7), "Effect of user ID changes on capabilities"), each
/// row in its own forked child, checked with capget. Root branch: every row. One-id user
/// namespace: the 0→0 rows and the refusal of an unmapped id.
#[test]
fn setuid_fixup_table() {
    everywhere(|| {
        if !many_ids() {
            return fixup_rows_one_id();
        }
        in_child(|| {
            // root → non-root, no keepcaps: P and E cleared.
            let b = caps()?;
            ensure!(!b.permitted.is_empty());
            ensure!(!check!(securebits::keepcaps()));
            check!(raw_setresuid(N, N, N));
            let a = caps()?;
            ensure!(a.permitted.is_empty() && a.effective.is_empty(), "{a:?}");
            ensure!(a.inheritable == b.inheritable);
            Ok(())
        })
        .map_err(|e| format!("root→non-root without keepcaps: {e}"))?;
        in_child(|| {
            // root → non-root with keepcaps: P kept, E and ambient cleared.
            let b = caps()?;
            check!(set_caps(
                b.effective,
                b.permitted,
                capset![Cap::NET_BIND_SERVICE]
            ));
            check!(capscope::ambient::raise(Cap::NET_BIND_SERVICE));
            check!(securebits::set_keepcaps(true));
            check!(raw_setresuid(N, N, N));
            let a = caps()?;
            ensure!(a.permitted == b.permitted, "{a:?} vs {b:?}");
            ensure!(a.effective.is_empty(), "{a:?}");
            ensure!(check!(capscope::ambient::probe()).is_empty());
            Ok(())
        })
        .map_err(|e| format!("root→non-root with keepcaps: {e}"))?;
        in_child(|| {
            // euid 0 → n (ruid stays 0): E cleared, P kept; euid n → 0: E = P.
            let b = caps()?;
            check!(raw_setresuid(u32::MAX, N, u32::MAX));
            ensure!(resuid() == [0, N, 0]);
            let a = caps()?;
            ensure!(
                a.effective.is_empty() && a.permitted == b.permitted,
                "{a:?}"
            );
            check!(raw_setresuid(u32::MAX, 0, u32::MAX));
            let a = caps()?;
            ensure!(
                a.effective == a.permitted && a.permitted == b.permitted,
                "{a:?}"
            );
            Ok(())
        })
        .map_err(|e| format!("euid 0→n→0: {e}"))?;
        in_child(|| {
            // fsuid 0 → n: exactly the filesystem capabilities leave E; n → 0: they come back
            // (those permitted).
            let b = caps()?;
            check!(set_fsuid(N));
            ensure!(check!(fsuid()) == N && resuid() == [0, 0, 0]);
            let a = caps()?;
            ensure!(
                a.effective == b.effective - FS_SET && a.permitted == b.permitted,
                "{a:?}"
            );
            check!(set_caps(
                a.effective - capset![Cap::NET_RAW],
                a.permitted,
                a.inheritable
            ));
            check!(set_fsuid(0));
            let a = caps()?;
            let want = (b.effective - FS_SET - capset![Cap::NET_RAW]) | (FS_SET & b.permitted);
            ensure!(a.effective == want, "{a:?}, want {want:?}");
            Ok(())
        })
        .map_err(|e| format!("fsuid 0→n→0: {e}"))?;
        in_child(|| {
            // SECBIT_NO_SETUID_FIXUP: nothing changes.
            let b = caps()?;
            check!(securebits::set(Secbits::NO_SETUID_FIXUP));
            check!(raw_setresuid(N, N, N));
            ensure!(caps()? == b);
            Ok(())
        })
        .map_err(|e| format!("NO_SETUID_FIXUP: {e}"))
    });
}

/// The rows of the fixup table that exist with only id 0 mapped.
fn fixup_rows_one_id() -> Verdict {
    let b = caps()?;
    ensure!(resuid() == [0, 0, 0], "{:?}", resuid());
    check!(raw_setresuid(0, 0, 0));
    ensure!(caps()? == b, "0→0 changed the capabilities");
    check!(set_fsuid(0));
    ensure!(caps()? == b, "fsuid 0→0 changed the capabilities");
    ensure!(
        raw_setresuid(1, 1, 1) == Err(libc::EINVAL),
        "unmapped uid 1"
    );
    ensure!(
        set_fsuid(1).is_err(),
        "unmapped fsuid 1 reported as applied"
    );
    ensure!(check!(fsuid()) == 0 && caps()? == b && resuid() == [0, 0, 0]);
    Ok(())
}

/// `cap_set_ids` keeps P, empties E (or preserves it), restores keepcaps, and the ids read
/// back. Root branch: to uid/gid N with groups; one-id namespace: to 0/0 (groups denied).
#[test]
fn cap_set_ids_keeps_permitted() {
    everywhere(|| {
        let many = many_ids();
        let (uid, gid) = if many { (N, N + 1) } else { (0, 0) };
        let grp: Option<&[u32]> = if many {
            Some(&[N + 7, 3, N + 7, 0])
        } else {
            None
        };
        for keep_before in [false, true] {
            for preserve in [false, true] {
                let r = in_child(|| {
                    check!(securebits::set_keepcaps(keep_before));
                    let b = caps()?;
                    check!(cap_set_ids(&capscope_tests::ids(
                        Some(uid),
                        Some(gid),
                        grp,
                        preserve
                    )));
                    let a = caps()?;
                    ensure!(resuid() == [uid; 3] && resgid() == [gid; 3]);
                    if let Some(g) = grp {
                        let mut want = g.to_vec();
                        want.sort_unstable();
                        ensure!(groups() == want, "{:?} vs {want:?}", groups());
                    }
                    ensure!(a.permitted == b.permitted, "P {a:?} vs {b:?}");
                    ensure!(a.inheritable == b.inheritable);
                    let want_e = if preserve {
                        b.effective
                    } else {
                        CapSet::empty()
                    };
                    ensure!(a.effective == want_e, "E {a:?}, want {want_e:?}");
                    ensure!(check!(securebits::keepcaps()) == keep_before);
                    Ok(())
                });
                assert_pass_or(r, &format!("keepcaps {keep_before}, preserve {preserve}"))?;
            }
        }
        // CAP_SETUID/CAP_SETGID permitted but not effective: raised for the call only; with
        // preserve_effective, E is exactly as before ({NET_RAW}). (Groups only where setgroups is allowed.)
        let clear: Option<&[u32]> = if many { Some(&[]) } else { None };
        in_child(move || {
            let b = caps()?;
            let p = capset![Cap::SETUID, Cap::SETGID, Cap::NET_RAW];
            let e = capset![Cap::NET_RAW];
            check!(set_caps(e, p & b.permitted, CapSet::empty()));
            check!(cap_set_ids(&capscope_tests::ids(
                Some(uid),
                Some(gid),
                clear,
                true
            )));
            let a = caps()?;
            ensure!(a.effective == e && a.permitted == p, "{a:?}");
            ensure!(resuid() == [uid; 3] && resgid() == [gid; 3]);
            ensure!(clear.is_none() || groups().is_empty());
            Ok(())
        })
        .map_err(|e| format!("SETUID/SETGID permitted only: {e}"))
    });
}

fn assert_pass_or(v: Verdict, what: &str) -> Verdict {
    v.map_err(|e| format!("{what}: {e}"))
}

/// A failure before the first id changed is a plain error and leaves the thread exactly as it
/// was (E, keepcaps, ids). Both branches: without CAP_SETUID, another uid is refused (EPERM
/// as root, EINVAL for an unmapped id in the one-id namespace); without CAP_SETGID, setgroups
/// is refused.
#[test]
fn failure_before_any_change_is_clean() {
    everywhere(|| {
        for keep in [false, true] {
            let r = in_child(move || {
                let s = caps()?;
                check!(set_caps(
                    s.effective - capset![Cap::SETUID, Cap::SETGID],
                    s.permitted - capset![Cap::SETUID, Cap::SETGID],
                    s.inheritable
                ));
                check!(securebits::set_keepcaps(keep));
                let before = snap()?;
                let e =
                    cap_set_ids(&capscope_tests::ids(Some(4242), None, None, true)).unwrap_err();
                ensure!(!e.is_indeterminate(), "{e}");
                ensure!(matches!(e.code(), Some(libc::EPERM | libc::EINVAL)), "{e}");
                ensure!(e.op() == Some(capscope::Op::Setresuid), "{e}");
                ensure!(snap()? == before, "{before:?} -> {:?}", snap()?);
                let e = cap_set_ids(&capscope_tests::ids(None, None, Some(&[1, 2]), false))
                    .unwrap_err();
                ensure!(
                    !e.is_indeterminate() && e.code() == Some(libc::EPERM),
                    "{e}"
                );
                ensure!(snap()? == before, "{before:?} -> {:?}", snap()?);
                Ok(())
            });
            r.map_err(|e| format!("keepcaps {keep}: {e}"))?;
        }
        Ok(())
    });
}

/// A failure after the gid changed is `Indeterminate`; E is left empty, keepcaps restored.
/// Both branches: without CAP_SETGID, setresgid to the current gid succeeds and setgroups
/// then fails.
#[test]
fn failure_after_a_change_is_indeterminate() {
    everywhere(|| {
        let s = caps()?;
        check!(set_caps(
            s.effective - capset![Cap::SETGID],
            s.permitted - capset![Cap::SETGID],
            s.inheritable
        ));
        let gid = resgid()[0];
        let e = cap_set_ids(&capscope_tests::ids(
            None,
            Some(gid),
            Some(&[gid, 77]),
            true,
        ))
        .unwrap_err();
        ensure!(e.is_indeterminate(), "{e}");
        ensure!(e.code() == Some(libc::EPERM), "{e}");
        ensure!(e.to_string().contains("must abort"), "{e}");
        let a = caps()?;
        ensure!(a.effective.is_empty(), "{a:?}");
        ensure!(!check!(securebits::keepcaps()));
        Ok(())
    });
}

/// Credentials are per thread: `cap_set_ids` on one thread leaves another's uids, gids,
/// groups and capabilities alone. Root branch: to uid N; one-id namespace: to 0 (only the
/// capability change is visible there; the ids cannot differ).
#[test]
fn cap_set_ids_leaves_other_threads_alone() {
    everywhere(|| {
        let many = many_ids();
        let (uid, gid) = if many { (N, N) } else { (0, 0) };
        let main_before = snap()?;
        let main_tid = capscope::current_tid();
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || -> Verdict {
            let b = caps()?;
            check!(cap_set_ids(&capscope_tests::ids(
                Some(uid),
                Some(gid),
                None,
                false
            )));
            ensure!(resuid() == [uid; 3] && caps()?.effective.is_empty());
            ensure!(caps()?.permitted == b.permitted);
            tx.send(capscope::current_tid())
                .map_err(|e| e.to_string())?;
            done_rx.recv().map_err(|e| e.to_string())?;
            Ok(())
        });
        let tid = rx.recv().map_err(|e| format!("worker: {e}"))?;
        // The worker, seen from /proc while it is alive.
        let pid = std::process::id();
        let w = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
            .map_err(|e| e.to_string())?;
        let line = |t: &str, k: &str| {
            t.lines()
                .find(|l| l.starts_with(k))
                .unwrap_or("")
                .to_owned()
        };
        ensure!(
            line(&w, "Uid:").split_whitespace().nth(1) == Some(&uid.to_string()[..]),
            "{w}"
        );
        ensure!(line(&w, "CapEff:").ends_with("0000000000000000"), "{w}");
        // This thread: unchanged, by syscalls and by /proc.
        ensure!(snap()? == main_before, "{main_before:?} -> {:?}", snap()?);
        let m = std::fs::read_to_string(format!("/proc/{pid}/task/{main_tid}/status"))
            .map_err(|e| e.to_string())?;
        ensure!(
            line(&m, "Uid:").split_whitespace().nth(1)
                == Some(&main_before.uids[0].to_string()[..]),
            "{m}"
        );
        ensure!(
            !main_before.caps.effective.is_empty()
                && line(&m, "CapEff:")
                    .ends_with(&format!("{:016x}", main_before.caps.effective.bits())),
            "{m}"
        );
        let _ = done_tx.send(());
        worker.join().map_err(|_| "worker panicked".to_owned())??;
        ensure!(snap()? == main_before);
        Ok(())
    });
}

/// fsuid/fsgid: read = euid/egid; a permitted set takes and is read back; one that the kernel
/// ignores is an error with the id unchanged. Root branch: to N and back, then again after
/// dropping to uid N without capabilities. One-id namespace: 0 takes, 1 is refused.
#[test]
fn fs_ids_set_and_verify() {
    everywhere(|| {
        ensure!(check!(fsuid()) == resuid()[1] && check!(fsgid()) == resgid()[1]);
        if !many_ids() {
            ensure!(check!(set_fsuid(0)) == 0 && check!(set_fsgid(0)) == 0);
            let e = set_fsgid(1).unwrap_err();
            ensure!(e.code() == Some(libc::EPERM) && e.hint().is_some(), "{e}");
            ensure!(check!(fsgid()) == 0);
            return Ok(());
        }
        ensure!(check!(set_fsuid(N)) == 0 && check!(fsuid()) == N);
        ensure!(check!(set_fsgid(N)) == 0 && check!(fsgid()) == N);
        ensure!(check!(set_fsuid(0)) == N && check!(set_fsgid(0)) == N);
        // Unprivileged: a uid with no capabilities may only pick its own ids.
        check!(raw_setresuid(N, N, N));
        ensure!(caps()?.permitted.is_empty());
        let e = set_fsuid(0).unwrap_err();
        ensure!(e.code() == Some(libc::EPERM), "{e}");
        ensure!(check!(fsuid()) == N);
        ensure!(set_fsgid(N + 1).is_err() && check!(fsgid()) == 0);
        ensure!(check!(set_fsuid(N)) == N);
        Ok(())
    });
}

/// Unprivileged in the initial namespace (as root: after dropping to a non-root uid without
/// capabilities; as a normal user: as it is): the kernel ignores setfsuid to someone else.
#[test]
fn fs_ids_unprivileged() {
    assert_pass(in_child(|| {
        if resuid()[1] == 0 {
            check!(raw_setresuid(N, N, N));
        }
        ensure!(caps()?.effective.is_empty());
        let me = resuid()[1];
        let other = if me == 0 { 1 } else { 0 };
        ensure!(set_fsuid(other).is_err() && check!(fsuid()) == me);
        ensure!(check!(set_fsuid(me)) == me);
        Ok(())
    }));
}

//! The kernel's capability rules, exercised for real through capscope's core API.
//!
//! Each privileged test runs in a forked child: as root directly, as a normal user inside a
//! new user namespace (see `capscope_tests::privileged`). Every test also checks the
//! unprivileged branch, by dropping capabilities inside the child first.

use capscope::{
    ambient, bounding, capset, securebits, Cap, CapSet, CapState, Errno, Error, Secbits,
};
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};

fn expect_os(
    r: impl std::borrow::Borrow<capscope::Result<()>>,
    errno: Errno,
    what: &str,
) -> Verdict {
    match r.borrow() {
        Err(Error::Os { errno: e, .. }) if *e == errno => Ok(()),
        other => Err(format!("{what}: expected errno {errno}, got {other:?}")),
    }
}

fn state() -> Result<CapState, String> {
    CapState::get_current().map_err(|e| e.to_string())
}

fn set(effective: CapSet, permitted: CapSet, inheritable: CapSet) -> capscope::Result<()> {
    CapState {
        effective,
        permitted,
        inheritable,
    }
    .set_current()
}

#[test]
fn effective_must_be_subset_of_permitted() {
    assert_pass(privileged(|| {
        let s = state()?;
        ensure!(s.effective.is_subset(s.permitted));
        let without = s.permitted.without(Cap::NET_RAW);
        let r = set(s.effective, without, s.inheritable);
        expect_os(&r, Errno::PERM, "E not a subset of P")?;
        let err = r.unwrap_err();
        ensure!(
            err.hint().is_some_and(|h| h.contains("subset")),
            "hint: {err}"
        );
        // Nothing changed.
        ensure!(state()? == s);
        // Dropping both is fine.
        check!(set(
            s.effective.without(Cap::NET_RAW),
            without,
            s.inheritable
        ));
        ensure!(!state()?.effective.has(Cap::NET_RAW));
        Ok(())
    }));
}

#[test]
fn permitted_only_shrinks() {
    assert_pass(privileged(|| {
        let s = state()?;
        let p = s.permitted.without(Cap::NET_ADMIN);
        check!(set(s.effective & p, p, s.inheritable));
        let r = set(s.effective & p, s.permitted, s.inheritable);
        let err = &r;
        expect_os(err, Errno::PERM, "re-adding to P")?;
        ensure!(r
            .unwrap_err()
            .hint()
            .is_some_and(|h| h.contains("only shrink")));
        ensure!(!state()?.permitted.has(Cap::NET_ADMIN));
        Ok(())
    }));
}

#[test]
fn inheritable_rules_with_and_without_setpcap() {
    assert_pass(privileged(|| {
        let s = state()?;
        // Without NET_ADMIN in P and without SETPCAP in E, I cannot gain NET_ADMIN.
        let p = s.permitted.without(Cap::NET_ADMIN);
        check!(set(p.without(Cap::SETPCAP), p, CapSet::empty()));
        let r = set(p.without(Cap::SETPCAP), p, capset![Cap::NET_ADMIN]);
        expect_os(
            &r,
            Errno::PERM,
            "I gains a non-permitted cap without SETPCAP",
        )?;
        ensure!(r
            .unwrap_err()
            .hint()
            .is_some_and(|h| h.contains("CAP_SETPCAP")));
        // A permitted cap may be added without SETPCAP.
        check!(set(p.without(Cap::SETPCAP), p, capset![Cap::CHOWN]));
        // With SETPCAP effective (the kernel checks the state before the call), I may gain any
        // cap in the bounding set, even one that is not permitted.
        check!(set(p, p, capset![Cap::CHOWN]));
        check!(set(p, p, capset![Cap::CHOWN, Cap::NET_ADMIN]));
        ensure!(state()?.inheritable == capset![Cap::CHOWN, Cap::NET_ADMIN]);
        // ...but not one dropped from the bounding set.
        check!(bounding::drop(Cap::SYS_BOOT));
        let r = set(p, p, capset![Cap::SYS_BOOT]);
        expect_os(r, Errno::PERM, "I gains a cap outside the bounding set")?;
        Ok(())
    }));
}

#[test]
fn bounding_drop_needs_setpcap_and_is_irreversible() {
    assert_pass(privileged(|| {
        let s = state()?;
        ensure!(check!(bounding::read(Cap::SYS_MODULE)) == Some(true));
        // Without SETPCAP in E (still in P): EPERM with the hint.
        check!(set(
            s.effective.without(Cap::SETPCAP),
            s.permitted,
            s.inheritable
        ));
        let r = bounding::drop(Cap::SYS_MODULE);
        expect_os(&r, Errno::PERM, "bounding drop without SETPCAP")?;
        ensure!(r
            .unwrap_err()
            .hint()
            .is_some_and(|h| h.contains("CAP_SETPCAP")));
        ensure!(check!(bounding::read(Cap::SYS_MODULE)) == Some(true));
        // With it: dropped, and nothing brings it back.
        check!(set(s.effective, s.permitted, s.inheritable));
        check!(bounding::drop(Cap::SYS_MODULE));
        ensure!(check!(bounding::read(Cap::SYS_MODULE)) == Some(false));
        ensure!(!check!(bounding::probe()).has(Cap::SYS_MODULE));
        // Already absent: dropping again is fine (nothing to drop), and the thread still has it
        // in P (bounding limits what it can gain, not what it holds).
        check!(bounding::drop(Cap::SYS_MODULE));
        ensure!(state()?.permitted.has(Cap::SYS_MODULE) == s.permitted.has(Cap::SYS_MODULE));
        // Clear drops everything up to the kernel's last capability.
        check!(bounding::clear());
        ensure!(check!(bounding::probe()).is_empty());
        for cap in check!(Cap::probe_supported()) {
            ensure!(
                check!(bounding::read(cap)) == Some(false),
                "{cap} still in bounding"
            );
        }
        // And clearing again without SETPCAP is not an error: nothing is left to drop.
        check!(set(CapSet::empty(), s.permitted, CapSet::empty()));
        check!(bounding::clear());
        Ok(())
    }));
}

#[test]
fn ambient_needs_permitted_and_inheritable_and_follows_them() {
    assert_pass(privileged(|| {
        ensure!(check!(ambient::is_supported()));
        let s = state()?;
        check!(set(s.effective, s.permitted, CapSet::empty()));
        // Not inheritable: EPERM with the hint.
        let r = ambient::raise(Cap::NET_BIND_SERVICE);
        expect_os(&r, Errno::PERM, "ambient raise without I")?;
        ensure!(r
            .unwrap_err()
            .hint()
            .is_some_and(|h| h.contains("inheritable")));
        // Permitted and inheritable: fine.
        check!(set(
            s.effective,
            s.permitted,
            capset![Cap::NET_BIND_SERVICE, Cap::NET_RAW]
        ));
        check!(ambient::raise(Cap::NET_BIND_SERVICE));
        check!(ambient::raise(Cap::NET_RAW));
        ensure!(check!(ambient::probe()) == capset![Cap::NET_BIND_SERVICE, Cap::NET_RAW]);
        // Dropping from I lowers it from ambient.
        check!(set(s.effective, s.permitted, capset![Cap::NET_RAW]));
        ensure!(check!(ambient::is_set(Cap::NET_BIND_SERVICE)) == Some(false));
        ensure!(check!(ambient::is_set(Cap::NET_RAW)) == Some(true));
        // Dropping from P lowers it too.
        let p = s.permitted.without(Cap::NET_RAW);
        check!(set(s.effective & p, p, capset![Cap::NET_RAW]));
        ensure!(check!(ambient::probe()).is_empty());
        // Lower and clear.
        let p2 = s.permitted.without(Cap::NET_RAW);
        check!(set(s.effective & p2, p2, capset![Cap::CHOWN]));
        check!(ambient::raise(Cap::CHOWN));
        check!(ambient::lower(Cap::CHOWN));
        ensure!(check!(ambient::probe()).is_empty());
        check!(ambient::raise(Cap::CHOWN));
        check!(ambient::clear());
        ensure!(check!(ambient::probe()).is_empty());
        // Not permitted (but inheritable): EPERM.
        expect_os(
            ambient::raise(Cap::NET_RAW),
            Errno::PERM,
            "ambient raise without P",
        )?;
        Ok(())
    }));
}

#[test]
fn securebit_locks_hold() {
    assert_pass(privileged(|| {
        let before = check!(securebits::get());
        ensure!(!before.contains(Secbits::NOROOT));
        check!(securebits::set(
            before | Secbits::NOROOT | Secbits::NOROOT_LOCKED
        ));
        let now = check!(securebits::get());
        ensure!(now.contains(Secbits::NOROOT | Secbits::NOROOT_LOCKED));
        // A locked flag cannot change, and the lock cannot be cleared.
        expect_os(
            securebits::set(now - Secbits::NOROOT),
            Errno::PERM,
            "clearing a locked flag",
        )?;
        expect_os(
            securebits::set(now - Secbits::NOROOT_LOCKED),
            Errno::PERM,
            "clearing a lock",
        )?;
        // Other flags still can.
        check!(securebits::set(now | Secbits::NO_CAP_AMBIENT_RAISE));
        ensure!(check!(securebits::get()).contains(Secbits::NO_CAP_AMBIENT_RAISE));
        // NO_CAP_AMBIENT_RAISE blocks ambient raises.
        let s = state()?;
        check!(set(s.effective, s.permitted, capset![Cap::CHOWN]));
        expect_os(
            ambient::raise(Cap::CHOWN),
            Errno::PERM,
            "ambient raise under NO_CAP_AMBIENT_RAISE",
        )?;
        // keepcaps: a securebit, settable by prctl, and locked by KEEP_CAPS_LOCKED.
        check!(securebits::set_keepcaps(true));
        ensure!(check!(securebits::keepcaps()));
        ensure!(check!(securebits::get()).contains(Secbits::KEEP_CAPS));
        check!(securebits::set(
            check!(securebits::get()) | Secbits::KEEP_CAPS_LOCKED
        ));
        expect_os(
            securebits::set_keepcaps(false),
            Errno::PERM,
            "keepcaps under its lock",
        )?;
        // Without SETPCAP, securebits cannot be set at all.
        check!(set(
            s.effective.without(Cap::SETPCAP),
            s.permitted,
            CapSet::empty()
        ));
        let bits = check!(securebits::get());
        expect_os(
            securebits::set(bits | Secbits::NO_SETUID_FIXUP),
            Errno::PERM,
            "securebits without SETPCAP",
        )?;
        Ok(())
    }));
}

#[test]
fn unknown_bits_survive_read_modify_write() {
    // Bits of capabilities the library does not name, as the kernel would report them.
    let status = "Name:\tx\nCapInh:\t0000020000000000\nCapPrm:\t80000000000000ff\nCapEff:\t8000000000000001\n\
                  CapBnd:\tffffffffffffffff\nCapAmb:\t0000020000000000\nNoNewPrivs:\t1\n";
    let full = capscope::FullCapState::from_status(status).unwrap();
    assert_eq!(full.caps.permitted.bits(), 0x8000_0000_0000_00ff);
    assert_eq!(full.caps.inheritable.unknown(), CapSet::from_bits(1 << 41));
    assert_eq!(full.bounding, CapSet::full());
    assert!(full.no_new_privs);
    let mut p = full.caps.permitted;
    p.drop(Cap::CHOWN);
    assert_eq!(p.bits(), 0x8000_0000_0000_00fe);
    let b = Secbits::from_bits_retain(1 << 30 | 1);
    assert_eq!((b | Secbits::KEEP_CAPS).bits(), 1 << 30 | 1 << 4 | 1);

    // A real read-modify-write through the set handles changes exactly one bit of 64.
    assert_pass(privileged(|| {
        let before = state()?;
        check!(capscope::cap_effective().drop(Cap::KILL));
        let after = state()?;
        ensure!(after.effective.bits() == before.effective.bits() & !(1 << Cap::KILL.as_u8()));
        ensure!(after.permitted.bits() == before.permitted.bits());
        ensure!(after.inheritable.bits() == before.inheritable.bits());
        let sb = check!(securebits::get());
        check!(securebits::set(sb | Secbits::NO_SETUID_FIXUP));
        ensure!(check!(securebits::get()).bits() == (sb | Secbits::NO_SETUID_FIXUP).bits());
        Ok(())
    }));
}

#[test]
fn unsupported_capabilities_are_typed_not_panics() {
    let last = capscope::kernel::last_supported().unwrap();
    assert_eq!(
        last.as_u8().to_string(),
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
    );
    let beyond = Cap::from_u8(last.as_u8() + 1).expect("the kernel has fewer than 64 capabilities");
    assert!(!beyond.is_supported().unwrap());
    assert!(last.is_supported().unwrap());
    assert_eq!(Cap::probe_supported().unwrap(), CapSet::up_to(last));
    assert_eq!(bounding::read(beyond).unwrap(), None);
    assert_eq!(ambient::is_set(beyond).unwrap(), None);
    assert!(matches!(bounding::drop(beyond), Err(Error::Unsupported { cap, .. }) if cap == beyond));
    assert!(matches!(
        ambient::raise(beyond),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        ambient::lower(beyond),
        Err(Error::Unsupported { .. })
    ));
    assert!(Cap::from_u8(64).is_none() && Cap::from_u8(255).is_none());
}

#[test]
fn get_for_pid_and_proc_agree() {
    let me = CapState::get_current().unwrap();
    assert_eq!(CapState::get_for_pid(0).unwrap(), me);
    assert_eq!(CapState::get_for_pid(capscope::current_tid()).unwrap(), me);
    let full = capscope::FullCapState::get_current().unwrap();
    let proc = capscope::FullCapState::get_for_thread(std::process::id(), capscope::current_tid())
        .unwrap();
    assert_eq!(proc.caps, full.caps);
    assert_eq!(proc.ambient, full.ambient);
    assert_eq!(proc.bounding, full.bounding);
    assert_eq!(proc.no_new_privs, full.no_new_privs);
    assert_eq!((proc.securebits, proc.keepcaps), (None, None));
    // No such process: ESRCH from capget, ENOENT from /proc; a pid above i32::MAX: no syscall.
    let free_pid = 4_194_303; // pid_max's ceiling; never a live pid in a test
    assert_eq!(
        CapState::get_for_pid(free_pid).unwrap_err().errno(),
        Some(Errno::SRCH)
    );
    assert!(capscope::FullCapState::get_for_pid(free_pid).is_err());
    assert!(matches!(
        CapState::get_for_pid(u32::MAX),
        Err(Error::InvalidInput { .. })
    ));
    // Another thread's state, read while it differs from ours.
    assert_pass(privileged(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let s = CapState::get_current().unwrap();
            CapState {
                effective: CapSet::empty(),
                ..s
            }
            .set_current()
            .unwrap();
            tx.send(capscope::current_tid()).unwrap();
            done_rx.recv().unwrap();
        });
        let tid = check!(rx.recv());
        let other = check!(CapState::get_for_pid(tid));
        let via_proc = check!(capscope::FullCapState::get_for_thread(
            std::process::id(),
            tid
        ));
        let _ = done_tx.send(());
        t.join().map_err(|_| "thread panicked".to_owned())?;
        ensure!(other.effective.is_empty() && via_proc.caps == other);
        ensure!(
            !state()?.effective.is_empty(),
            "our own thread must be unchanged"
        );
        Ok(())
    }));
}

#[test]
fn set_handles_follow_pyprctl() {
    use capscope::{cap_ambient, cap_effective, cap_inheritable, cap_permitted, capbset};
    assert_pass(privileged(|| {
        let s = state()?;
        ensure!(check!(cap_permitted().has(capset![Cap::CHOWN, Cap::KILL])));
        check!(cap_effective().drop(Cap::CHOWN | Cap::KILL));
        ensure!(!check!(cap_effective().has(Cap::CHOWN)));
        check!(cap_effective().add(Cap::CHOWN));
        ensure!(check!(cap_effective().probe()) == s.effective.without(Cap::KILL));
        check!(cap_effective().limit(Cap::CHOWN | Cap::SETPCAP));
        ensure!(check!(cap_effective().probe()) == (Cap::CHOWN | Cap::SETPCAP));
        check!(cap_effective().replace(s.effective));
        ensure!(state()? == s);
        // Inheritable and ambient.
        check!(cap_inheritable().replace(Cap::NET_RAW | Cap::CHOWN));
        check!(cap_ambient().add(Cap::NET_RAW | Cap::CHOWN));
        ensure!(check!(cap_ambient().has(Cap::NET_RAW | Cap::CHOWN)));
        check!(cap_ambient().limit(Cap::CHOWN));
        ensure!(check!(cap_ambient().probe()) == CapSet::from(Cap::CHOWN));
        check!(cap_ambient().replace(Cap::NET_RAW));
        ensure!(check!(cap_ambient().probe()) == CapSet::from(Cap::NET_RAW));
        ensure!(matches!(
            cap_ambient().replace(Cap::KILL),
            Err(Error::InvalidInput { .. })
        ));
        ensure!(
            check!(cap_ambient().probe()) == CapSet::from(Cap::NET_RAW),
            "refused replace changed nothing"
        );
        check!(cap_ambient().clear());
        ensure!(check!(cap_ambient().probe()).is_empty());
        check!(cap_inheritable().clear());
        // Bounding: there is no add (a compile error, see ui/fail/capbset_add.rs); drop,
        // limit, replace shrink.
        check!(capbset().drop(Cap::SYS_BOOT));
        ensure!(!check!(capbset().has(Cap::SYS_BOOT)));
        let b = check!(capbset().probe());
        ensure!(matches!(
            capbset().replace(b.with(Cap::SYS_BOOT)),
            Err(Error::InvalidInput { .. })
        ));
        ensure!(
            check!(capbset().probe()) == b,
            "refused replace changed nothing"
        );
        check!(capbset().replace(b.without(Cap::SYS_TIME)));
        ensure!(check!(capbset().probe()) == b.without(Cap::SYS_TIME));
        check!(capbset().limit(Cap::CHOWN | Cap::SETPCAP));
        ensure!(check!(capbset().probe()) == (Cap::CHOWN | Cap::SETPCAP));
        check!(capbset().clear());
        ensure!(check!(capbset().probe()).is_empty());
        // Permitted: clear takes E with it (the kernel requires E ⊆ P, so clear E first).
        check!(cap_effective().clear());
        check!(cap_permitted().clear());
        ensure!(state()?.permitted.is_empty());
        Ok(())
    }));
}

/// The unprivileged branch: with every capability gone, each privileged call fails cleanly.
#[test]
fn without_capabilities_everything_privileged_fails() {
    assert_pass(privileged(|| {
        check!(CapState::empty().set_current());
        ensure!(state()? == CapState::empty());
        expect_os(bounding::drop(Cap::CHOWN), Errno::PERM, "bounding drop")?;
        expect_os(ambient::raise(Cap::CHOWN), Errno::PERM, "ambient raise")?;
        expect_os(
            capscope::cap_permitted().add(Cap::CHOWN),
            Errno::PERM,
            "P add",
        )?;
        expect_os(
            capscope::cap_inheritable().add(Cap::CHOWN),
            Errno::PERM,
            "I add",
        )?;
        expect_os(securebits::set(Secbits::NOROOT), Errno::PERM, "securebits")?;
        // Reading still works, and lowering what is not there is not an error.
        check!(ambient::clear());
        check!(capscope::cap_effective().clear());
        ensure!(check!(bounding::probe()).has(Cap::CHOWN));
        Ok(())
    }));
}

/// A behavioural oracle: CAP_DAC_OVERRIDE decides whether a mode-000 file opens.
#[test]
fn dac_override_is_what_the_kernel_checks() {
    assert_pass(privileged(|| {
        let dir = std::env::temp_dir().join(format!("capscope-dac-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        check!(std::fs::create_dir(&dir));
        let file = dir.join("locked");
        check!(std::fs::write(&file, b"x"));
        check!(std::fs::set_permissions(
            &file,
            std::os::unix::fs::PermissionsExt::from_mode(0o000)
        ));
        let open = || std::fs::File::open(&file).map(|_| ());
        let with = open();
        check!(capscope::cap_effective().drop(Cap::DAC_OVERRIDE | Cap::DAC_READ_SEARCH));
        let without = open();
        check!(capscope::cap_effective().add(Cap::DAC_OVERRIDE));
        let again = open();
        let _ = std::fs::remove_dir_all(&dir);
        ensure!(with.is_ok(), "open with CAP_DAC_OVERRIDE: {with:?}");
        ensure!(
            without
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied),
            "{without:?}"
        );
        ensure!(again.is_ok(), "open after raising again: {again:?}");
        Ok(())
    }));
}

/// The test helpers themselves: a failing or panicking child is reported, not lost.
#[test]
fn helpers_report_child_failures() {
    assert_eq!(
        capscope_tests::in_child(|| Err("boom".into())),
        Err("boom".to_owned())
    );
    let p = capscope_tests::in_child(|| panic!("kaboom"));
    assert!(p.as_ref().is_err_and(|m| m.contains("kaboom")), "{p:?}");
    let k = capscope_tests::in_child(|| {
        // SAFETY: raising SIGKILL on ourselves ends only the child.
        unsafe { libc::raise(libc::SIGKILL) };
        Ok(())
    });
    assert!(k.as_ref().is_err_and(|m| m.contains("signal 9")), "{k:?}");
    assert_pass(capscope_tests::in_userns(|| {
        let s = state()?;
        ensure!(
            s.permitted.has(Cap::SYS_ADMIN),
            "full capabilities inside the new user namespace: {s:?}"
        );
        Ok(())
    }));
    eprintln!("privileged tests run as: {}", capscope_tests::mode());
}

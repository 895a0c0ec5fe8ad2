//! Adversarial review of b523335 + 6abc236 (launch: every declared part applied absolutely;
//! ambient read-back over permitted ∩ inheritable only; bounding cut without asking first).
//!
//! Each test states the scenario as the review found it (all five failed on the reviewed code;
//! fixed since): the bounding cut now drops everything outside the planned set; the child
//! raises `CAP_SETPCAP` for a cut whenever it is permitted; `SECBIT_KEEP_CAPS` alone (unlocked)
//! does not make the child set securebits; the public ambient read (`ambient::probe`) asks for
//! every capability again, and only read-backs that just checked `capget` use the shortcut;
//! `capget` itself refuses a result the kernel did not write.

use std::collections::BTreeMap;
use std::process::Command;

use capscope::launch::{spawn_error, CommandExt, Launch};
use capscope::{capset, Cap, CapSet, CapState, Secbits};
use capscope_tests::{assert_pass, check, ensure, fail_syscall, privileged, Verdict};

const PROBE: &str = env!("CARGO_BIN_EXE_launch-probe");

/// Runs the probe with `plan` declared; what it printed.
fn probe(plan: &capscope::launch::Plan) -> Result<BTreeMap<String, String>, String> {
    match Command::new(PROBE)
        .declare(plan)
        .output()
        .map_err(spawn_error)
    {
        Ok(out) => capscope_tests::probe_fields(&out),
        Err(e) => Err(format!("the launch failed: {e:#?}")),
    }
}

fn hex(f: &BTreeMap<String, String>, name: &str) -> Result<u64, String> {
    u64::from_str_radix(&f[name], 16).map_err(|e| e.to_string())
}

/// Finding 1. A plan made on a thread that lacks a capability of the declared bounding limit
/// (`keep`), spawned from a thread that holds it: the child keeps it in its bounding set
/// (the cut is "everything not in keep", not "everything not in the planned bounding set"),
/// the spawn reports success, and `plan.state().bounding` / `plan.verify` say otherwise.
#[test]
fn the_child_bounding_set_is_the_planned_one_when_a_wider_thread_spawns() {
    assert_pass(privileged(|| {
        let plan = std::thread::spawn(|| -> Result<capscope::launch::Plan, String> {
            // This thread exits: its bounding set is its own.
            check!(capscope::bounding::drop(Cap::SYS_ADMIN));
            Ok(check!(Launch::new()
                .bounding_keep(capset![Cap::NET_RAW, Cap::SYS_ADMIN])
                .plan()))
        })
        .join()
        .unwrap()?;
        let planned = plan.state().bounding;
        ensure!(!planned.has(Cap::SYS_ADMIN), "planned {planned}");
        // This thread still holds CAP_SYS_ADMIN in its bounding set.
        ensure!(check!(capscope::bounding::has(Cap::SYS_ADMIN)));
        let got = probe(&plan)?;
        let bnd = hex(&got, "CapBnd")?;
        ensure!(
            bnd == planned.bits(),
            "the spawn succeeded, the child's bounding set is {bnd:#x} but the plan reports \
             {:#x} ({planned}); CAP_SYS_ADMIN kept: {}",
            planned.bits(),
            bnd & (1 << Cap::SYS_ADMIN.as_u8()) != 0
        );
        // And the plan's own check of the child agrees with the spawn's success.
        let seen = capscope_tests::verify_a_sleeper(&plan);
        ensure!(seen.is_ok(), "spawn succeeded but verify: {seen:?}");
        Ok(())
    }));
}

/// Finding 2. `ambient::probe` (and every ambient read-back) now starts with a `capget`: a
/// thread where `capget` is refused (a seccomp profile, an LSM denying getcap) can no longer
/// read its ambient set, which needed only `PR_CAP_AMBIENT_IS_SET` before; a process-wide
/// ambient clear that succeeded now reports a failed read-back after the change.
#[test]
fn the_ambient_set_reads_where_capget_is_refused() {
    assert_pass(privileged(|| {
        check!(fail_syscall(libc::SYS_capget, &[], libc::EACCES as u16));
        let probe = capscope::ambient::probe();
        ensure!(probe.is_ok(), "ambient::probe: {probe:?}");
        let clear = capscope::process::ambient_clear();
        ensure!(clear.is_ok(), "process::ambient_clear: {clear:?}");
        Ok(())
    }));
}

/// Finding 3. A seccomp filter that fakes `capget` (SECCOMP_RET_ERRNO with errno 0: success,
/// nothing written) now hides ambient capabilities from `ambient::probe`: it asks
/// `PR_CAP_AMBIENT_IS_SET` only for what the (unwritten) capget buffer says is permitted and
/// inheritable. Before, the answer came from `PR_CAP_AMBIENT_IS_SET` for every capability.
/// (rustix reads the capget buffer uninitialised: what it "sees" is stack garbage; here it
/// never held CAP_NET_RAW in both sets.)
#[test]
fn a_faked_capget_does_not_hide_the_ambient_set() {
    assert_pass(privileged(|| {
        let mut now = check!(CapState::get_current());
        now.inheritable.add(Cap::NET_RAW);
        check!(now.set_current());
        check!(capscope::ambient::raise(Cap::NET_RAW));
        ensure!(check!(capscope::ambient::probe()).has(Cap::NET_RAW));
        check!(fail_syscall(libc::SYS_capget, &[], 0));
        let mut misses = 0;
        for _ in 0..20 {
            let seen = check!(capscope::ambient::probe());
            if !seen.has(Cap::NET_RAW) {
                misses += 1;
            }
        }
        ensure!(
            misses == 0,
            "ambient::probe missed the ambient CAP_NET_RAW {misses} times out of 20"
        );
        Ok(())
    }));
}

/// Finding 4. The fix's own promise ("a spawn from a thread holding more — a wider bounding
/// set — still gives the child exactly the declared limits"), with a spawning thread that
/// holds CAP_SETPCAP permitted but not effective (a scope lowered it): the plan was made on a
/// thread with nothing left to cut, so it never plans to raise CAP_SETPCAP, and the child's
/// `PR_CAPBSET_DROP` of the wider thread's extra capabilities is refused (EPERM) although the
/// child could raise CAP_SETPCAP itself. (Before b523335 the launch succeeded with the wider
/// bounding set; now it fails closed instead of applying the limit.)
#[test]
fn a_wider_thread_with_setpcap_only_permitted_gets_the_declared_limit() {
    assert_pass(privileged(|| {
        let keep = CapSet::from(Cap::NET_RAW) | Cap::SETPCAP;
        let last = check!(capscope::kernel::last_supported());
        let plan = std::thread::spawn(move || -> Result<capscope::launch::Plan, String> {
            check!(capscope::bounding::drop(CapSet::up_to(last) - keep));
            Ok(check!(Launch::new().bounding_keep(keep).plan()))
        })
        .join()
        .unwrap()?;
        // This thread: full bounding set, CAP_SETPCAP permitted only.
        check!(capscope::cap_effective().drop(Cap::SETPCAP));
        let got = probe(&plan)?;
        let bnd = hex(&got, "CapBnd")?;
        ensure!(bnd & !keep.bits() == 0, "bounding set {bnd:#x}");
        Ok(())
    }));
}

/// Finding 5. Declared securebits are now compared with the child's current ones, KEEP_CAPS
/// included: a spawning thread that set keepcaps (PR_SET_KEEPCAPS, cleared by `execve`
/// anyway) makes the child try PR_SET_SECUREBITS after its capability sets were cut, which
/// fails (EPERM) although every declared securebit already holds. Before, no step ran and
/// the child got exactly the declared state.
#[test]
fn keepcaps_on_the_spawning_thread_does_not_fail_a_launch() {
    assert_pass(privileged(|| -> Verdict {
        let locked = Secbits::NOROOT | Secbits::NOROOT_LOCKED;
        // Every thread started from here on holds the same securebits.
        check!(capscope::securebits::set(locked));
        let plan = std::thread::spawn(move || -> Result<capscope::launch::Plan, String> {
            Ok(check!(Launch::new()
                .securebits(locked)
                .caps(CapState::empty())
                .plan()))
        })
        .join()
        .unwrap()?;
        // This thread sets keepcaps (say, before a setuid of its own).
        check!(capscope::securebits::set_keepcaps(true));
        let got = probe(&plan)?;
        ensure!(hex(&got, "CapPrm")? == 0, "{got:#?}");
        ensure!(
            got["Securebits"] == format!("{:#x}", locked.bits()),
            "{got:#?}"
        );
        Ok(())
    }));
}

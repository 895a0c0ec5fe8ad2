//! Adversarial review of 0894499 + 3ea2914 (capget into a buffer with capability 63 set; read-backs
//! that expect "absent" ask about capability 63; the launch child raises CAP_SETPCAP for any
//! bounding cut when permitted; `bounding::drop` checked; one message for a failed read-back).
//!
//! Each test states the scenario as the review found it (both failed on the reviewed code;
//! fixed since: a `capget` that wrote nothing is a plain failure, nothing changed because of
//! it; the launch child raises `CAP_SETPCAP` for a cut only when a drop is refused for want of
//! it). The review also found that kernels before 3.16 report capability 63 for root: `capget`
//! now asks again into a buffer of zeros and accepts two equal answers.

use std::process::Command;

use capscope::launch::{CommandExt, Launch};
use capscope::{Cap, CapSet, CapState, IdChange, RaiseGuard, ThreadIds};
use capscope_tests::{assert_pass, check, ensure, fail_syscall, privileged, Verdict};

const PROBE: &str = env!("CARGO_BIN_EXE_launch-probe");

/// Finding 1. A `capget` refused as "not written by the kernel" is `Fail::mismatch(Op::Capget)`,
/// which is marked `partial` (a change was made). When it is the *first* step (nothing
/// changed yet), callers report [`capscope::Error::Indeterminate`], whose documented handling
/// is to abort the process (`cap_set_ids` docs), and `RaiseGuard::raise` reports a raise that
/// never happened as half-made. A refused `capget` with an errno (EACCES) is a plain error in
/// the same place.
#[test]
fn a_faked_capget_before_any_change_is_not_indeterminate() {
    assert_pass(privileged(|| -> Verdict {
        let uid = check!(ThreadIds::current()).uid;
        // SECCOMP_RET_ERRNO with errno 0: capget "succeeds" without writing anything.
        check!(fail_syscall(libc::SYS_capget, &[], 0));
        let mut bad = Vec::new();
        match RaiseGuard::raise(CapSet::empty()) {
            Ok(_) => bad.push("RaiseGuard::raise succeeded".to_owned()),
            Err(e) if e.is_indeterminate() => {
                bad.push(format!("RaiseGuard::raise (nothing changed): {e:?}"))
            }
            Err(_) => {}
        }
        match capscope::cap_set_ids(&IdChange::new().uid(uid)) {
            Ok(()) => bad.push("cap_set_ids succeeded".to_owned()),
            Err(e) if e.is_indeterminate() => {
                bad.push(format!("cap_set_ids (nothing changed): {e:?}"))
            }
            Err(_) => {}
        }
        ensure!(bad.is_empty(), "{bad:#?}");
        Ok(())
    }));
}

/// Finding 2. A launch that only declares a bounding limit the thread already meets, from a
/// thread holding CAP_SETPCAP permitted but not effective, where `capset` is denied (a seccomp
/// profile such as systemd's `~@privileged`, SELinux without `process:setcap`): the child now
/// raises CAP_SETPCAP (and puts it back) before finding there is nothing to drop, the `capset`
/// fails and the program does not run. Before 0894499 the child only read the bounding set and
/// the launch succeeded; nothing needed CAP_SETPCAP.
#[test]
fn a_bounding_limit_already_met_launches_where_capset_is_denied() {
    assert_pass(privileged(|| -> Verdict {
        let keep = CapSet::from(Cap::NET_RAW) | Cap::SETPCAP;
        let last = check!(capscope::kernel::last_supported());
        check!(capscope::bounding::drop(CapSet::up_to(last) - keep));
        check!(capscope::cap_effective().drop(Cap::SETPCAP));
        let now = check!(CapState::get_current());
        ensure!(now.permitted.has(Cap::SETPCAP) && !now.effective.has(Cap::SETPCAP));
        let plan = check!(Launch::new().bounding_keep(keep).plan());
        check!(fail_syscall(libc::SYS_capset, &[], libc::EPERM as u16));
        let r = Command::new(PROBE).declare(&plan).spawn_declared();
        match r {
            Ok(mut c) => {
                let st = check!(c.wait());
                ensure!(st.success(), "probe: {st:?}");
                Ok(())
            }
            Err(e) => Err(format!(
                "nothing to drop, yet the launch failed (it succeeded before 0894499): {e:#?}"
            )),
        }
    }));
}

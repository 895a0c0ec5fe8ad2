//! Adversarial review: attacks that did NOT break confinement (kept as
//! regression tests).

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capscope::{CapSet, RaiseGuard};
use capscope_tests::state::{lower, raw_effective, raw_has, status_caps};
use capscope_tests::{assert_pass, check, ensure, privileged};
use common::{Stray, RAW};

static SEEN: AtomicU64 = AtomicU64::new(u64::MAX);
static DONE: AtomicBool = AtomicBool::new(false);

extern "C" fn record(_: *mut libc::c_void) -> *mut libc::c_void {
    SEEN.store(raw_effective(), Ordering::SeqCst);
    DONE.store(true, Ordering::SeqCst);
    std::ptr::null_mut()
}

/// `pthread_create` with an attribute (detached, own stack size) goes through the interposer
/// and the thread starts lowered.
#[test]
fn a_detached_thread_with_an_attribute_starts_lowered() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let g = check!(RaiseGuard::raise(RAW));
        // SAFETY: a detached thread with its own attribute.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            libc::pthread_attr_setstacksize(&mut attr, 1 << 20);
            let mut t: libc::pthread_t = 0;
            ensure!(libc::pthread_create(&mut t, &attr, record, std::ptr::null_mut()) == 0);
            libc::pthread_attr_destroy(&mut attr);
        }
        while !DONE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(g);
        let seen = CapSet::from_bits(SEEN.load(Ordering::SeqCst));
        ensure!(!seen.has(RAW), "the detached thread started with {RAW}");
        Ok(())
    }));
}

extern "C" fn exit_early(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: ends this thread as C code does; glibc unwinds to start_thread and runs the TLS
    // destructors (capscope's ContainedExit included).
    unsafe { libc::pthread_exit(std::ptr::null_mut()) }
}

/// Contained threads that end with `pthread_exit` (C code) still run their TLS destructors:
/// `CONTAINED` is not over-counted, and a later stray is still found.
#[test]
fn contained_threads_ending_with_pthread_exit_do_not_hide_a_stray() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        for _ in 0..4 {
            // SAFETY: a joinable thread running `exit_early`, joined at once.
            unsafe {
                let mut t: libc::pthread_t = 0;
                ensure!(
                    libc::pthread_create(
                        &mut t,
                        std::ptr::null(),
                        exit_early,
                        std::ptr::null_mut()
                    ) == 0
                );
                libc::pthread_join(t, std::ptr::null_mut());
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let peer = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let g = check!(RaiseGuard::raise(RAW));
        let stray = Stray::start_holding(RAW)?;
        drop(g);
        let after = stray.effective();
        stray.stop();
        let after = after?;
        stop.store(true, Ordering::SeqCst);
        peer.join().unwrap();
        ensure!(!after.has(RAW), "the stray kept {RAW}");
        Ok(())
    }));
}

/// A program run with `Command` inside a scope by a non-root process with the capability only
/// permitted (kept across a uid change): the raised effective capability does not cross
/// `execve` (no ambient set, no file capabilities). As root, the process becomes nobody; as a
/// normal user (a one-id user namespace, no second uid), it stays uid 0 under `SECBIT_NOROOT`
/// (locked), which takes root's execve privileges away as the uid change does.
#[test]
fn a_command_spawned_in_a_scope_by_a_non_root_process_gets_nothing() {
    let root = capscope_tests::is_privileged();
    assert_pass(privileged(move || {
        if root {
            check!(capscope::cap_set_ids(
                &capscope::IdChange::new()
                    .uid(65534)
                    .gid(65534)
                    .clear_groups()
            ));
        } else {
            let bits = check!(capscope::securebits::get());
            check!(capscope::securebits::set(
                bits | capscope::Secbits::NOROOT | capscope::Secbits::NOROOT_LOCKED
            ));
        }
        // Only permitted, so that the scope raises it.
        lower(RAW.into())?;
        let g = check!(RaiseGuard::raise(RAW));
        ensure!(raw_has(RAW), "the scope raised {RAW}");
        let out = check!(std::process::Command::new("/bin/cat")
            .arg("/proc/self/status")
            .output());
        drop(g);
        ensure!(out.status.success(), "/bin/cat: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for f in ["CapEff", "CapPrm", "CapAmb"] {
            let set = status_caps(&text, f)?;
            ensure!(set.is_empty(), "the exec'd program has {f} {set:?}");
        }
        Ok(())
    }));
}

//! Second adversarial review: the raise-time refusal `contain::checkable` (a scope that could
//! not be checked at its end is refused before it raises).

#[path = "review/common.rs"]
mod common;

use std::ffi::CString;

use capscope::RaiseGuard;
use capscope_tests::state::{lower, raw_has};
use capscope_tests::{assert_pass, ensure, privileged};
use common::{Stray, RAW};

/// `checkable` once refused a raise without `/proc` only when *contained* threads lived
/// (`CONTAINED != 0`). A thread started by other means before the scope (a C library bound to
/// libc's `pthread_create`, glibc's `timer_create(SIGEV_THREAD)` helper: nothing opens
/// `/proc/self/task` for them) followed by a `chroot` left `CONTAINED == 0`: the raise was
/// allowed, and the scope's end, which saw "not alone" and could not open `/proc`, aborted the
/// process, although the thread predates the scope (it cannot even hold what the scope
/// raised). Now a raise without a `/proc` of the process's own is refused ([`Error::Refused`],
/// nothing raised) unless the calling thread is provably alone, as the guard docs say; only
/// that outcome passes.
///
/// [`Error::Refused`]: capscope::Error::Refused
#[test]
fn a_raise_after_a_chroot_with_a_thread_started_by_other_means_is_refused() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let stray = Stray::start()?; // before the scope, without the capability
        let dir = std::env::temp_dir().join(format!("capscope-review2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cdir = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: chroot of this forked child into an empty directory (no /proc).
        unsafe {
            ensure!(libc::chroot(cdir.as_ptr()) == 0, "chroot");
            ensure!(libc::chdir(c"/".as_ptr()) == 0, "chdir");
        }
        // Documented (guard docs): without a /proc of its own, a raise while the calling thread
        // is not provably alone is refused, nothing raised.
        let r = RaiseGuard::raise(RAW);
        let refused = matches!(r, Err(capscope::Error::Refused { .. }));
        let outcome = format!("{r:?}");
        drop(r); // a guard, if one was made, ends here (it aborted the process before the fix)
        let raised_after = raw_has(RAW);
        stray.stop();
        ensure!(
            refused,
            "the raise without /proc and with a thread started by other means was not refused: \
             {outcome}"
        );
        ensure!(!raised_after, "{RAW} is effective after the refusal");
        Ok(())
    }));
}

//! Second adversarial review: the raise-time refusal `contain::checkable` (a scope that could
//! not be checked at its end is refused before it raises).

#[path = "review/common.rs"]
mod common;

use std::ffi::CString;

use capscope::RaiseGuard;
use capscope_tests::{assert_pass, ensure, privileged};
use capscope_tests::state::lower;
use common::{Stray, RAW};

/// `checkable` refuses a raise without `/proc` only when *contained* threads live
/// (`CONTAINED != 0`). A thread started by other means before the scope (a C library bound to
/// libc's `pthread_create`, glibc's `timer_create(SIGEV_THREAD)` helper: nothing opens
/// `/proc/self/task` for them) followed by a `chroot` leaves `CONTAINED == 0`: the raise is
/// allowed, and the scope's end, which sees "not alone" and cannot open `/proc`, aborts the
/// process. The docs say such a scope is refused when contained threads live, and that a scope
/// aborts at its end only if "a thread appeared" during it: here the thread predates the scope
/// (it cannot even hold what the scope raised), so the raise should have been refused, or the
/// end should not abort.
#[test]
fn a_thread_started_by_other_means_before_a_chroot_makes_every_scope_end_abort() {
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
        match RaiseGuard::raise(RAW) {
            Err(e) => eprintln!("refused up front (fine): {e}"),
            Ok(g) => drop(g), // aborts the process today
        }
        stray.stop();
        Ok(())
    }));
}

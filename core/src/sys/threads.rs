//! Whether the calling thread is alone in its process, told without `/proc`.

/// `unshare(CLONE_THREAD)`: the kernel refuses it with `EINVAL` exactly when the calling
/// thread's thread group has other members (kernel io threads and a zombie main thread
/// included), and otherwise does nothing at all (no namespace, no file table, no credentials
/// change). So `Some(true)`: no other thread exists right now; `Some(false)`: another thread
/// exists, or the calling thread is not the main thread; `None`: a seccomp filter (Docker's
/// default profile, for one) or the kernel refused the call, so nothing is known.
///
/// A refusal other than `EINVAL` (a seccomp filter, which stays once installed) is remembered
/// for the process: later calls answer `None` without the system call, which is always safe
/// (callers then count the threads through `/proc`).
pub(crate) fn alone() -> Option<bool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REFUSED: AtomicBool = AtomicBool::new(false);
    if REFUSED.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: with CLONE_THREAD alone, unshare unshares nothing (the file table, the one hazard
    // of `unshare_unsafe`, is untouched): it only checks the thread group.
    match unsafe {
        rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::from_bits_retain(
            libc::CLONE_THREAD as u32,
        ))
    } {
        Ok(()) => Some(true),
        Err(rustix::io::Errno::INVAL) => Some(false),
        Err(_) => {
            REFUSED.store(true, Ordering::Relaxed);
            None
        }
    }
}

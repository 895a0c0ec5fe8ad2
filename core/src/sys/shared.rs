//! A group list handed from the broadcasting thread to the signal handlers of every other
//! thread: published before the broadcast, read by handlers, freed only when no handler can
//! still read it.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static PTR: AtomicPtr<u32> = AtomicPtr::new(core::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);
/// Handlers inside [`with_groups`].
static READERS: AtomicU32 = AtomicU32::new(0);

/// Publishes `groups` (the previous list, if any, must have been retracted).
pub(crate) fn publish(groups: Box<[u32]>) {
    let len = groups.len();
    let ptr = Box::into_raw(groups).cast::<u32>();
    LEN.store(len, Ordering::SeqCst);
    PTR.store(ptr, Ordering::SeqCst);
}

/// Runs `f` with the published list (`None` when none is). Async-signal-safe: atomics only.
pub(crate) fn with_groups<T>(f: impl FnOnce(Option<&[u32]>) -> T) -> T {
    READERS.fetch_add(1, Ordering::SeqCst);
    let ptr = PTR.load(Ordering::SeqCst);
    let out = if ptr.is_null() {
        f(None)
    } else {
        let len = LEN.load(Ordering::SeqCst);
        // SAFETY: a non-null PTR points to a leaked `Box<[u32]>` of LEN elements; `retract`
        // nulls PTR first and frees it only once READERS, incremented above before the load,
        // has dropped to 0, so the list outlives this use.
        f(Some(unsafe { core::slice::from_raw_parts(ptr, len) }))
    };
    READERS.fetch_sub(1, Ordering::SeqCst);
    out
}

/// Withdraws the published list and frees it once no handler reads it; if one still does after
/// `limit`, the list is leaked instead (it stays valid for that handler). Returns whether it
/// was freed.
pub(crate) fn retract(limit: Duration) -> bool {
    let ptr = PTR.swap(core::ptr::null_mut(), Ordering::SeqCst);
    if ptr.is_null() {
        return true;
    }
    let len = LEN.load(Ordering::SeqCst);
    let start = Instant::now();
    while READERS.load(Ordering::SeqCst) != 0 {
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::yield_now();
    }
    // SAFETY: `ptr` and `len` come from `publish`'s `Box::into_raw` of a `Box<[u32]>`; PTR no
    // longer holds it and no reader is left, so this is the only owner.
    drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len)) });
    true
}

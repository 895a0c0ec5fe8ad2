//! Read-modify-write sections that a process-wide broadcast never splits.
//!
//! A guard raises a capability with `capget`, then `capset` of what it read plus the
//! capability. If the broadcast handler of [`process`](crate::process) ran on the same thread
//! between the two calls (say, to change the inheritable set of every thread), the `capset`
//! would write back the sets read *before* the handler's change, undoing it on this thread
//! after the handler had reported it done. So every read-modify-write of the calling thread's
//! capability sets that capscope makes runs inside [`section`] (or [`run`], for the public
//! per-thread functions): a signal handler that
//! interrupts it sees the thread busy and defers its work ([`defer_if_busy`]); the section runs
//! the deferred work as soon as it ends, so the broadcast's change lands after the write-back,
//! never under it. No system call is added (two thread-local flag writes per section).
//!
//! A section inside a signal handler that interrupted another section of the same thread
//! (a guard made in a signal handler, say) cannot run: the interrupted section's state is
//! half-written. [`section`] then returns `None` and the caller reports an error.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, Ordering};

thread_local! {
    /// Inside a section.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// Work a signal handler deferred while the thread was busy.
    static DEFERRED: Cell<Option<fn()>> = const { Cell::new(None) };
}

/// Runs `f` as a section: `None` (and `f` not run) when the calling thread is already inside
/// one (a signal handler interrupted it).
pub(crate) fn section<T>(f: impl FnOnce() -> T) -> Option<T> {
    // Thread-locals without a destructor: the accesses cannot fail; `try_with` keeps this
    // usable while the thread's other thread-locals are being destroyed.
    let entered = BUSY
        .try_with(|b| {
            if b.get() {
                false
            } else {
                b.set(true);
                true
            }
        })
        .unwrap_or(false);
    if !entered {
        return None;
    }
    // A signal handler on this thread sees BUSY before any system call of `f` runs.
    compiler_fence(Ordering::SeqCst);
    let out = f();
    compiler_fence(Ordering::SeqCst);
    let _ = BUSY.try_with(|b| b.set(false));
    compiler_fence(Ordering::SeqCst);
    if let Ok(Some(work)) = DEFERRED.try_with(Cell::take) {
        work();
    }
    Some(out)
}

/// [`section`] for a public read-modify-write: its error, or [`Error::Refused`] when a signal
/// handler calls it in the middle of another section of the same thread.
pub(crate) fn run<T>(op: crate::Op, f: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    section(f).unwrap_or_else(|| {
        Err(crate::Error::refused(
            op,
            "called from a signal handler that interrupted a read-modify-write of this \
             thread's capability sets",
        ))
    })
}

/// For a signal handler: if the interrupted code is inside a section, remember `work` to run
/// when the section ends and return `true`; otherwise `false` (run it now). Async-signal-safe:
/// two thread-local accesses.
pub(crate) fn defer_if_busy(work: fn()) -> bool {
    let busy = BUSY.try_with(Cell::get).unwrap_or(false);
    if busy {
        let _ = DEFERRED.try_with(|d| d.set(Some(work)));
    }
    busy
}

/// Whether the calling thread is inside a section (a signal handler interrupted it there).
#[cfg(test)]
fn busy() -> bool {
    BUSY.try_with(Cell::get).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    static RAN: AtomicU32 = AtomicU32::new(0);

    fn work() {
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn deferred_work_runs_when_the_section_ends() {
        RAN.store(0, Ordering::SeqCst);
        assert!(!defer_if_busy(work));
        let out = section(|| {
            assert!(busy());
            assert!(defer_if_busy(work));
            assert_eq!(RAN.load(Ordering::SeqCst), 0);
            assert!(section(|| ()).is_none(), "sections do not nest");
            7
        });
        assert_eq!(out, Some(7));
        assert_eq!(RAN.load(Ordering::SeqCst), 1);
        assert!(!busy());
    }
}

//! Costs that are counts, not times: heap allocations of the hot calls (a counting global
//! allocator) and system calls (counted with strace in the closing notes; see README).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use capscope::{Cap, CapSet, CapState};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether the allocations of this thread are being counted (other threads of the test
    /// harness allocate at any time).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(std::cell::Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations `f` makes on the calling thread.
fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    // The tests in this file run one at a time through this lock (one counter).
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap();
    count(f)
}

/// [`allocations`] without its lock, for a forked child: its only thread, whose copy of the
/// lock may have been taken by another test's thread of the parent at the moment of the fork
/// (and would then never be released).
fn count<T>(f: impl FnOnce() -> T) -> usize {
    let before = ALLOCS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let out = std::hint::black_box(f());
    COUNTING.with(|c| c.set(false));
    let n = ALLOCS.load(Ordering::SeqCst) - before;
    drop(out);
    n
}

#[test]
fn hot_calls_do_not_allocate() {
    // Warm the kernel's last-capability cache first (it reads /proc once).
    capscope::kernel::last_supported().unwrap();
    let s = CapState::get_current().unwrap();
    assert_eq!(
        allocations(|| CapState::get_current().unwrap()),
        0,
        "get_current"
    );
    assert_eq!(allocations(|| s.set_current().unwrap()), 0, "set_current");
    assert_eq!(
        allocations(|| capscope::bounding::read(Cap::CHOWN).unwrap()),
        0,
        "bounding::read"
    );
    assert_eq!(
        allocations(|| capscope::bounding::probe().unwrap()),
        0,
        "bounding::probe"
    );
    assert_eq!(
        allocations(|| capscope::ambient::probe().unwrap()),
        0,
        "ambient::probe"
    );
    assert_eq!(
        allocations(|| capscope::cap_effective().has(Cap::CHOWN).unwrap()),
        0,
        "handle has"
    );
    let set: CapSet = Cap::known().collect();
    assert_eq!(
        allocations(|| assert_eq!(set.iter().count(), 41)),
        0,
        "CapSet iteration"
    );
    assert_eq!(
        allocations(|| "cap_sys_admin".parse::<Cap>().unwrap()),
        0,
        "Cap::from_str"
    );
}

/// A guard that raises and restores a capability allocates nothing (what lets it run in a
/// signal handler), the end-of-scope confinement check included. Measured twice: with the
/// calling thread alone (the scope's end has nobody to check), and with a parked peer thread
/// (the end takes the census path: `fstat` of the process's `/proc/self/task`, opened by the
/// warm-up scope before the measured one).
#[test]
fn a_cold_guard_does_not_allocate() {
    capscope_tests::assert_pass(capscope_tests::privileged(|| {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        capscope_tests::state::lower(Cap::NET_RAW.into())?;
        // Alone.
        drop(capscope::RaiseGuard::raise(Cap::NET_RAW).map_err(|e| e.to_string())?);
        let alone = count(|| drop(capscope::RaiseGuard::raise(Cap::NET_RAW).unwrap()));
        // With a peer thread, parked until the end.
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let (running_tx, running) = std::sync::mpsc::channel();
        let peer = std::thread::spawn(move || {
            running_tx.send(()).unwrap();
            while !s2.load(Ordering::SeqCst) {
                std::thread::park();
            }
        });
        // Running its own code: its birth is complete (contained and counted); until then a
        // scope's end would take it for a thread started behind capscope's back.
        running
            .recv_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| format!("the peer thread never ran: {e}"))?;
        drop(capscope::RaiseGuard::raise(Cap::NET_RAW).map_err(|e| e.to_string())?);
        let with_peer = count(|| drop(capscope::RaiseGuard::raise(Cap::NET_RAW).unwrap()));
        let threads = capscope::drop_after::thread_count().map_err(|e| e.to_string());
        stop.store(true, Ordering::SeqCst);
        peer.thread().unpark();
        peer.join()
            .map_err(|_| "the peer thread panicked".to_owned())?;
        let threads = threads?;
        if threads < 2 {
            return Err(format!(
                "the peer thread was not alive during the measurement ({threads} threads)"
            ));
        }
        if alone != 0 || with_peer != 0 {
            return Err(format!(
                "a cold guard allocated {alone} times alone and {with_peer} times with a peer \
                 thread"
            ));
        }
        Ok(())
    }));
}

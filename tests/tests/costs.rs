//! Costs that are counts, not times: heap allocations of the hot calls (a counting global
//! allocator) and system calls (counted with strace in the closing notes; see README).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use capscope::{Cap, CapSet, CapState};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
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

fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    // Only this test's thread runs `f` between the two loads; other test threads may allocate,
    // so the tests in this file run one at a time through this lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap();
    let before = ALLOCS.load(Ordering::SeqCst);
    let out = std::hint::black_box(f());
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

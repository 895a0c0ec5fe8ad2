//! Thread births and forks: the `pthread_create` interposer (feature `contain`, glibc, dynamic
//! linking) and the `pthread_atfork` hook.
//!
//! The executable that links capscope defines `pthread_create`; every thread that std, tokio,
//! rayon or a C library of the program starts through `pthread_create` comes here. The real
//! function is found with `dlsym(RTLD_NEXT, "pthread_create")`; the new thread runs a trampoline
//! that first lowers what the creating thread's scopes held raised
//! ([`contain::born`](crate::scope::contain)), then the thread's own start routine. The
//! interposer costs one small allocation per thread and nothing per scope.

use std::sync::Once;

#[cfg(all(
    feature = "contain",
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
mod interposer {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What a new thread needs before its own code runs.
    struct Birth {
        start: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        arg: *mut libc::c_void,
        mask: crate::CapSet,
        /// The process-wide change the creator held.
        gen: u32,
        /// Whether the creator is contained (or the main thread).
        creator_contained: bool,
    }

    type Create = unsafe extern "C" fn(
        *mut libc::pthread_t,
        *const libc::pthread_attr_t,
        extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        *mut libc::c_void,
    ) -> libc::c_int;

    static REAL: AtomicUsize = AtomicUsize::new(0);

    fn real() -> Option<Create> {
        let mut addr = REAL.load(Ordering::Acquire);
        if addr == 0 {
            // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name; it returns the next
            // definition of the symbol after this object (the C library's), or null.
            addr = unsafe { libc::dlsym(libc::RTLD_NEXT, c"pthread_create".as_ptr()) } as usize;
            if addr == 0 {
                return None;
            }
            REAL.store(addr, Ordering::Release);
        }
        // SAFETY: `addr` is the C library's pthread_create, whose type is `Create`.
        Some(unsafe { core::mem::transmute::<usize, Create>(addr) })
    }

    extern "C" fn trampoline(p: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `p` is the `Box<Birth>` leaked by `pthread_create` below for this thread
        // alone; it is taken back exactly once, here.
        let birth = unsafe { Box::from_raw(p.cast::<Birth>()) };
        crate::scope::contain::born(birth.mask, birth.gen, birth.creator_contained);
        (birth.start)(birth.arg)
    }

    /// The interposed `pthread_create`: the C library's, with the new thread started through
    /// [`trampoline`].
    ///
    /// # Safety
    ///
    /// As `pthread_create(3)`.
    #[no_mangle]
    pub(crate) unsafe extern "C" fn pthread_create(
        thread: *mut libc::pthread_t,
        attr: *const libc::pthread_attr_t,
        start: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        arg: *mut libc::c_void,
    ) -> libc::c_int {
        super::hook_forks();
        // The process's /proc/self/task, opened now (once) while the program still has a file
        // system view with its /proc (before a chroot, say), for the scope-end checks.
        crate::scope::contain::prepare();
        crate::scope::contain::birth_started();
        let Some(real) = real() else {
            return libc::EAGAIN;
        };
        let birth = Box::into_raw(Box::new(Birth {
            start,
            arg,
            mask: crate::scope::contain::birth_mask(),
            gen: crate::scope::contain::applied_gen(),
            creator_contained: crate::scope::contain::creator_contained(),
        }));
        // SAFETY: the caller's pointers are passed on unchanged; the start routine and its
        // argument are ours, and `birth` stays alive until the trampoline takes it back.
        let rc = unsafe { real(thread, attr, trampoline, birth.cast()) };
        if rc != 0 {
            // SAFETY: the thread was not created, so the trampoline never runs: the box is
            // still ours.
            drop(unsafe { Box::from_raw(birth) });
        }
        rc
    }
}

/// Whether threads started through `pthread_create` are contained at birth in this build.
pub(crate) const INTERPOSED: bool = cfg!(all(
    feature = "contain",
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
));

static HOOK: Once = Once::new();

extern "C" fn in_child_after_fork() {
    forked_child();
}

/// What a child process resets first: the parent's thread records, thread id and
/// `/proc/<parent>/task` directory. Async-signal-safe.
pub(crate) fn forked_child() {
    crate::forget_tid();
    crate::scope::contain::forked();
    crate::sys::proc::forked();
}

/// Registers (once) what a child forked by any thread must reset: the records of the parent's
/// threads and the parent's `/proc/self/task` directory.
pub(crate) fn hook_forks() {
    HOOK.call_once(|| {
        // SAFETY: registers a plain extern "C" function without arguments as the child
        // handler; it only stores to atomics.
        unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) };
    });
}

//! Thread births and forks: the `pthread_create` interposer (feature `contain`, glibc, dynamic
//! linking) and the `pthread_atfork` hook.
//!
//! The executable that links capscope defines `pthread_create`; every thread that std, tokio,
//! rayon or a C library of the program starts through `pthread_create` comes here. The real
//! function is found with `dlsym(RTLD_NEXT, "pthread_create")`; the new thread runs a trampoline
//! that first lowers what the creating thread's scopes held raised
//! ([`contain::born`](crate::scope::contain)), then the thread's own start routine. The
//! interposer costs one small allocation per thread and nothing per scope.
//!
//! # Signals before the trampoline
//!
//! glibc blocks every signal in the creator around `clone`, so a new thread starts with all of
//! them blocked; but its `start_thread` then sets the thread's own mask (the creator's, or the
//! one set on the attribute with `pthread_attr_setsigmask_np`) *before* it calls the start
//! routine, here the trampoline: a signal taken in between would run the program's handler on
//! the new thread with the creator's raised capabilities. So when the creating thread holds
//! something raised (and only then), the new thread keeps **every signal blocked** until it
//! has lowered:
//!
//! - the creating thread blocks every signal around the C library's `pthread_create`
//!   (`pthread_sigmask(SIG_SETMASK, full)`, restored on every return path), so the mask the
//!   new thread inherits, and that `start_thread` sets, is the full one (but glibc's two
//!   internal signals, which run no code of the program);
//! - if the attribute carries a signal mask of its own (glibc 2.32 and later:
//!   `pthread_attr_getsigmask_np` says so; glibc's default attribute, used for a null one, can
//!   carry one too, through `pthread_setattr_default_np`), glibc would set that one instead:
//!   the thread is created with a private attribute without a mask. The caller's attribute is
//!   `const` and may be shared with other threads: it is only read. For the default attribute,
//!   glibc's own deep copy (`pthread_getattr_default_np`) with its mask cleared; for the
//!   caller's, a fresh attribute given every property glibc exposes (detach state, guard size,
//!   stack address or size, scope, inherit-scheduler and, when explicit, policy and priority,
//!   CPU affinity): glibc offers no deep copy of an arbitrary attribute (its
//!   `__pthread_attr_copy` is internal);
//! - the trampoline, once [`born`](crate::scope::contain) has lowered, sets the mask the
//!   thread was meant to have (the creator's, or the attribute's), then calls the start
//!   routine.
//!
//! Cost, only for threads created while the creator holds something raised: three
//! `rt_sigprocmask` calls (two in the creator, one in the new thread); with a null attribute
//! (glibc 2.32 and later), one `pthread_getattr_default_np` (a lock and a copy, no system
//! call); with an attribute that carries a signal mask, the private attribute (a few library
//! calls and small allocations). Threads created outside scopes go through unchanged: no
//! extra system call.
//!
//! Limits: with glibc older than 2.32 (`pthread_attr_getsigmask_np` absent: it is looked up
//! with `dlsym`) attributes cannot carry a mask, so blocking in the creator is all there is to
//! do. The private copy of a caller's attribute holds what glibc's public interface tells:
//! under `PTHREAD_EXPLICIT_SCHED`, the policy is taken as set (for one never set glibc would
//! take the creator's, so a `SCHED_OTHER` attribute from a creator of another policy differs),
//! a priority of 0 as unset under `SCHED_FIFO`/`SCHED_RR` (where it is invalid) and as set
//! under the others; an affinity of every CPU (read over 8192 CPUs) is taken as none (the
//! thread then inherits its creator's). A property a later glibc adds to attributes is not
//! copied.

use std::sync::Once;

#[cfg(all(
    feature = "contain",
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
mod interposer {
    use core::ffi::{c_int, c_void, CStr};
    use core::mem::MaybeUninit;
    use core::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What a new thread needs before its own code runs.
    struct Birth {
        start: extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
        mask: crate::CapSet,
        /// The process-wide change the creator held.
        gen: u32,
        /// The signal mask the thread is meant to run with, when it was started with every
        /// signal blocked (the creator held something raised).
        sigmask: Option<libc::sigset_t>,
        /// Whether the creator is contained (or the main thread).
        creator_contained: bool,
    }

    type Create = unsafe extern "C" fn(
        *mut libc::pthread_t,
        *const libc::pthread_attr_t,
        extern "C" fn(*mut c_void) -> *mut c_void,
        *mut c_void,
    ) -> c_int;

    /// `pthread_attr_getsigmask_np` (glibc 2.32).
    type GetSigmask =
        unsafe extern "C" fn(*const libc::pthread_attr_t, *mut libc::sigset_t) -> c_int;
    /// `pthread_attr_setsigmask_np` (glibc 2.32).
    type SetSigmask =
        unsafe extern "C" fn(*mut libc::pthread_attr_t, *const libc::sigset_t) -> c_int;
    /// `pthread_getattr_default_np` (glibc 2.18).
    type GetDefault = unsafe extern "C" fn(*mut libc::pthread_attr_t) -> c_int;

    // In every glibc, but not in the `libc` crate.
    extern "C" {
        fn pthread_attr_getdetachstate(
            attr: *const libc::pthread_attr_t,
            state: *mut c_int,
        ) -> c_int;
        fn pthread_attr_getscope(attr: *const libc::pthread_attr_t, scope: *mut c_int) -> c_int;
        fn pthread_attr_setscope(attr: *mut libc::pthread_attr_t, scope: c_int) -> c_int;
    }

    static REAL: AtomicUsize = AtomicUsize::new(0);
    static GET_SIGMASK: AtomicUsize = AtomicUsize::new(0);
    static SET_SIGMASK: AtomicUsize = AtomicUsize::new(0);
    static GET_DEFAULT: AtomicUsize = AtomicUsize::new(0);

    /// The address of `name` (`RTLD_NEXT` or `RTLD_DEFAULT`), looked up once: 0 when absent.
    fn lookup(cache: &AtomicUsize, handle: *mut c_void, name: &CStr) -> usize {
        const ABSENT: usize = 1;
        let mut addr = cache.load(Ordering::Acquire);
        if addr == 0 {
            // SAFETY: dlsym with a pseudo-handle and a NUL-terminated name; it returns the
            // symbol's address or null.
            addr = unsafe { libc::dlsym(handle, name.as_ptr()) } as usize;
            if addr == 0 {
                addr = ABSENT;
            }
            cache.store(addr, Ordering::Release);
        }
        if addr == ABSENT {
            0
        } else {
            addr
        }
    }

    fn real() -> Option<Create> {
        // The next definition of the symbol after this object: the C library's.
        let addr = lookup(&REAL, libc::RTLD_NEXT, c"pthread_create");
        // SAFETY: `addr` is the C library's pthread_create, whose type is `Create`.
        (addr != 0).then(|| unsafe { core::mem::transmute::<usize, Create>(addr) })
    }

    fn get_sigmask() -> Option<GetSigmask> {
        let addr = lookup(
            &GET_SIGMASK,
            libc::RTLD_DEFAULT,
            c"pthread_attr_getsigmask_np",
        );
        // SAFETY: glibc's pthread_attr_getsigmask_np has type `GetSigmask`.
        (addr != 0).then(|| unsafe { core::mem::transmute::<usize, GetSigmask>(addr) })
    }

    fn set_sigmask() -> Option<SetSigmask> {
        let addr = lookup(
            &SET_SIGMASK,
            libc::RTLD_DEFAULT,
            c"pthread_attr_setsigmask_np",
        );
        // SAFETY: glibc's pthread_attr_setsigmask_np has type `SetSigmask`.
        (addr != 0).then(|| unsafe { core::mem::transmute::<usize, SetSigmask>(addr) })
    }

    fn get_default() -> Option<GetDefault> {
        let addr = lookup(
            &GET_DEFAULT,
            libc::RTLD_DEFAULT,
            c"pthread_getattr_default_np",
        );
        // SAFETY: glibc's pthread_getattr_default_np has type `GetDefault`.
        (addr != 0).then(|| unsafe { core::mem::transmute::<usize, GetDefault>(addr) })
    }

    extern "C" fn trampoline(p: *mut c_void) -> *mut c_void {
        let (start, arg, sigmask) = {
            // SAFETY: `p` is the `Box<Birth>` leaked by `pthread_create` below for this thread
            // alone; it is taken back exactly once, here, and freed at the end of this block.
            let birth = unsafe { Box::from_raw(p.cast::<Birth>()) };
            crate::scope::contain::born(birth.mask, birth.gen, birth.creator_contained);
            (birth.start, birth.arg, birth.sigmask)
        };
        if let Some(set) = sigmask {
            // The thread started with every signal blocked and has lowered: the signals it is
            // meant to take may run their handlers from now on.
            // SAFETY: `set` is an initialised signal set; the old mask is not asked for.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, ptr::null_mut()) };
        }
        // Nothing of this frame is left to drop while the start routine runs (it may end the
        // thread with `pthread_exit`, which unwinds through here).
        start(arg)
    }

    /// An attribute object this module initialised and destroys.
    struct OwnedAttr(libc::pthread_attr_t);

    impl OwnedAttr {
        /// A fresh attribute with glibc's defaults (`pthread_attr_init`).
        fn init() -> Result<OwnedAttr, c_int> {
            let mut a = MaybeUninit::<libc::pthread_attr_t>::uninit();
            // SAFETY: pthread_attr_init initialises the object it is given.
            let rc = unsafe { libc::pthread_attr_init(a.as_mut_ptr()) };
            if rc != 0 {
                return Err(rc);
            }
            // SAFETY: initialised just above.
            Ok(OwnedAttr(unsafe { a.assume_init() }))
        }

        /// glibc's own copy of the default attribute (`pthread_getattr_default_np`).
        fn default(get: GetDefault) -> Result<OwnedAttr, c_int> {
            let mut a = MaybeUninit::<libc::pthread_attr_t>::uninit();
            // SAFETY: pthread_getattr_default_np initialises the object it is given (a deep
            // copy, which pthread_attr_destroy releases).
            let rc = unsafe { get(a.as_mut_ptr()) };
            if rc != 0 {
                return Err(rc);
            }
            // SAFETY: initialised just above.
            Ok(OwnedAttr(unsafe { a.assume_init() }))
        }

        fn ptr(&mut self) -> *mut libc::pthread_attr_t {
            &mut self.0
        }
    }

    impl Drop for OwnedAttr {
        fn drop(&mut self) {
            // SAFETY: the object was initialised by `init` or `default` and is destroyed once.
            unsafe { libc::pthread_attr_destroy(&mut self.0) };
        }
    }

    /// `Err(rc)` unless `rc` is 0.
    fn ok(rc: c_int) -> Result<(), c_int> {
        if rc == 0 {
            Ok(())
        } else {
            Err(rc)
        }
    }

    /// A fresh attribute holding every property of `src` that glibc exposes, but no signal
    /// mask. `src` is only read.
    ///
    /// # Safety
    ///
    /// `src` points to an initialised attribute object.
    unsafe fn copy_without_sigmask(src: *const libc::pthread_attr_t) -> Result<OwnedAttr, c_int> {
        let mut own = OwnedAttr::init()?;
        let dst = own.ptr();
        // SAFETY: `src` is initialised (the caller's promise), `dst` is ours; every getter
        // writes a value of the type it is given and every setter validates its value.
        unsafe {
            let mut detach: c_int = 0;
            ok(pthread_attr_getdetachstate(src, &mut detach))?;
            ok(libc::pthread_attr_setdetachstate(dst, detach))?;

            let mut guard: usize = 0;
            ok(libc::pthread_attr_getguardsize(src, &mut guard))?;
            ok(libc::pthread_attr_setguardsize(dst, guard))?;

            // pthread_attr_getstack reports the attribute's own fields (the stack's top minus
            // its size, and the size, 0 when never set): the top is 0 unless a stack was given.
            let (mut low, mut size) = (ptr::null_mut::<c_void>(), 0usize);
            ok(libc::pthread_attr_getstack(src, &mut low, &mut size))?;
            let top = low.cast::<u8>().wrapping_add(size);
            if !top.is_null() {
                ok(libc::pthread_attr_setstack(dst, low, size))?;
            } else if size != 0 {
                ok(libc::pthread_attr_setstacksize(dst, size))?;
            }

            let mut scope: c_int = 0;
            ok(pthread_attr_getscope(src, &mut scope))?;
            ok(pthread_attr_setscope(dst, scope))?;

            let mut inherit: c_int = 0;
            ok(libc::pthread_attr_getinheritsched(src, &mut inherit))?;
            ok(libc::pthread_attr_setinheritsched(dst, inherit))?;
            if inherit == libc::PTHREAD_EXPLICIT_SCHED {
                // Read by glibc only then. Whether each was set is not exposed: the policy is
                // taken as set; a priority of 0 as unset where 0 is invalid (real-time
                // policies: glibc then takes the creator's), as set elsewhere.
                let mut policy: c_int = 0;
                ok(libc::pthread_attr_getschedpolicy(src, &mut policy))?;
                ok(libc::pthread_attr_setschedpolicy(dst, policy))?;
                let mut param = MaybeUninit::<libc::sched_param>::zeroed();
                ok(libc::pthread_attr_getschedparam(src, param.as_mut_ptr()))?;
                let param = param.assume_init();
                let realtime = policy == libc::SCHED_FIFO || policy == libc::SCHED_RR;
                if param.sched_priority != 0 || !realtime {
                    ok(libc::pthread_attr_setschedparam(dst, &param))?;
                }
            }

            copy_affinity(src, dst)?;
        }
        Ok(own)
    }

    /// Copies the CPU affinity of `src` to `dst`, if `src` has one. glibc reports "none set"
    /// as every CPU, whatever the size asked: a mask of every CPU over the size read here
    /// (8192 CPUs, more than Linux supports) is taken as none, so that the thread inherits the
    /// creator's affinity as it would have.
    ///
    /// # Safety
    ///
    /// `src` and `dst` point to initialised attribute objects.
    unsafe fn copy_affinity(
        src: *const libc::pthread_attr_t,
        dst: *mut libc::pthread_attr_t,
    ) -> Result<(), c_int> {
        let mut bytes = 1024usize;
        loop {
            let mut set = vec![0u8; bytes];
            // SAFETY: `set` holds `bytes` bytes; glibc writes that many.
            let rc =
                unsafe { libc::pthread_attr_getaffinity_np(src, bytes, set.as_mut_ptr().cast()) };
            // EINVAL: the attribute's mask has CPUs beyond `bytes`.
            if rc == libc::EINVAL && bytes < 1 << 16 {
                bytes *= 8;
                continue;
            }
            ok(rc)?;
            if set.iter().all(|b| *b == 0xff) {
                return Ok(());
            }
            // SAFETY: as above; glibc copies the mask.
            return ok(unsafe {
                libc::pthread_attr_setaffinity_np(dst, bytes, set.as_ptr().cast())
            });
        }
    }

    /// Restores the calling thread's signal mask when dropped.
    struct MaskRestore(libc::sigset_t);

    impl Drop for MaskRestore {
        fn drop(&mut self) {
            // SAFETY: restores the mask saved by `block_all`.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
        }
    }

    /// Blocks every signal on the calling thread (glibc keeps its own two, which run no code
    /// of the program); the previous mask is restored when the result is dropped.
    fn block_all() -> MaskRestore {
        // SAFETY: sigfillset initialises `full`; pthread_sigmask writes the previous mask to
        // `old` (it cannot fail with SIG_SETMASK and valid pointers).
        unsafe {
            let mut full = MaybeUninit::<libc::sigset_t>::zeroed().assume_init();
            libc::sigfillset(&mut full);
            let mut old = MaybeUninit::<libc::sigset_t>::zeroed().assume_init();
            libc::pthread_sigmask(libc::SIG_SETMASK, &full, &mut old);
            MaskRestore(old)
        }
    }

    /// Calls the C library's `pthread_create`, starting the thread in [`trampoline`] with
    /// `birth`.
    ///
    /// # Safety
    ///
    /// As `pthread_create(3)`.
    unsafe fn create(
        real: Create,
        thread: *mut libc::pthread_t,
        attr: *const libc::pthread_attr_t,
        birth: Birth,
    ) -> c_int {
        let masked = !birth.mask.is_empty();
        let birth = Box::into_raw(Box::new(birth));
        crate::scope::contain::birth_started(masked);
        // SAFETY: the caller's pointers are passed on unchanged; the start routine and its
        // argument are ours, and `birth` stays alive until the trampoline takes it back.
        let rc = unsafe { real(thread, attr, trampoline, birth.cast()) };
        if rc != 0 {
            crate::scope::contain::birth_failed(masked);
            // SAFETY: the thread was not created, so the trampoline never runs: the box is
            // still ours.
            drop(unsafe { Box::from_raw(birth) });
        }
        rc
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
        start: extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> c_int {
        super::hook_forks();
        // The process's /proc/self/task, opened now (once) while the program still has a file
        // system view with its /proc (before a chroot, say), for the scope-end checks.
        crate::scope::contain::prepare();
        let Some(real) = real() else {
            return libc::EAGAIN;
        };
        let mask = crate::scope::contain::birth_mask();
        let gen = crate::scope::contain::applied_gen();
        let creator_contained = crate::scope::contain::creator_contained();
        if mask.is_empty() {
            let birth = Birth {
                start,
                arg,
                mask,
                gen,
                sigmask: None,
                creator_contained,
            };
            // SAFETY: as this function's.
            return unsafe { create(real, thread, attr, birth) };
        }
        // The creator holds something raised: the thread starts with every signal blocked
        // and takes its own mask once it has lowered.
        let restore = block_all();
        let mut intended = restore.0;
        let mut private: Option<OwnedAttr> = None;
        if let Some(get) = get_sigmask() {
            let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
            if attr.is_null() {
                // glibc uses its default attribute, which may carry a mask
                // (pthread_setattr_default_np): its own copy, with the mask cleared.
                if let (Some(get_default), Some(clear)) = (get_default(), set_sigmask()) {
                    let mut def = match OwnedAttr::default(get_default) {
                        Ok(def) => def,
                        Err(rc) => return if rc == libc::ENOMEM { libc::EAGAIN } else { rc },
                    };
                    // SAFETY: `def` is initialised; `set` has room for a mask.
                    if unsafe { get(def.ptr(), set.as_mut_ptr()) } == 0 {
                        // SAFETY: `set` was written.
                        intended = unsafe { set.assume_init() };
                        // SAFETY: `def` is ours; a null mask clears the attribute's.
                        let rc = unsafe { clear(def.ptr(), ptr::null()) };
                        if rc != 0 {
                            return rc;
                        }
                        private = Some(def);
                    }
                }
            // SAFETY: `attr` is the caller's initialised attribute (pthread_create's contract).
            } else if unsafe { get(attr, set.as_mut_ptr()) } == 0 {
                // SAFETY: `set` was written.
                intended = unsafe { set.assume_init() };
                // SAFETY: as above; the caller's attribute is only read.
                match unsafe { copy_without_sigmask(attr) } {
                    Ok(copy) => private = Some(copy),
                    Err(rc) => return if rc == libc::ENOMEM { libc::EAGAIN } else { rc },
                }
            }
        }
        let attr = match private.as_mut() {
            Some(own) => own.ptr().cast_const(),
            None => attr,
        };
        let birth = Birth {
            start,
            arg,
            mask,
            gen,
            sigmask: Some(intended),
            creator_contained,
        };
        // SAFETY: as this function's; `private` outlives the call (glibc needs an attribute
        // only during it).
        let rc = unsafe { create(real, thread, attr, birth) };
        drop(private);
        drop(restore);
        rc
    }
}

/// Whether the program's `pthread_create` is capscope's: built in (feature `contain`, glibc,
/// dynamic linking) and the definition the program's symbol lookup finds (not so when capscope
/// lives in a library loaded with `dlopen`, a plugin or a Python extension: the program's
/// own `pthread_create` came first). Looked up once.
pub(crate) fn interposed() -> bool {
    #[cfg(all(
        feature = "contain",
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    ))]
    {
        static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FOUND.get_or_init(|| {
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
            let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pthread_create".as_ptr()) };
            std::ptr::eq(
                found.cast_const(),
                (interposer::pthread_create as *const ()).cast(),
            )
        })
    }
    #[cfg(not(all(
        feature = "contain",
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static")
    )))]
    {
        false
    }
}

static HOOK: Once = Once::new();

extern "C" fn in_child_after_fork() {
    forked_child();
}

/// How many times this process's memory was copied into a child ([`forked_child`] ran): a
/// value read before a `fork` and compared after it tells the child from the parent without a
/// system call, whatever the pid numbers (a child in a new PID namespace may get its parent's).
static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current fork generation (see [`FORKS`]).
pub(crate) fn fork_generation() -> u64 {
    FORKS.load(std::sync::atomic::Ordering::Acquire)
}

/// What a child process resets first: the parent's thread records, thread id and
/// `/proc/<parent>/task` directory. Async-signal-safe.
pub(crate) fn forked_child() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
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

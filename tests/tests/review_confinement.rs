//! Adversarial review: ways a capability raised by a scope reached a thread outside that
//! scope and stayed there after the scope ended (each test failed before its fix). A task made
//! with `clone(CLONE_VM)` without `CLONE_THREAD` is a stated limit instead (the guard docs):
//! it is not in the thread group, so nothing lists or counts it.
//!
//! Oracles are independent of capscope: `/proc/self/task/<tid>/status` read from outside and
//! the raw `capget` system call. Every test runs in a forked child (root) or a forked child
//! in a new user namespace (a normal user), through `capscope_tests::privileged`.

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use capscope::{CapSet, RaiseGuard};
use capscope_tests::state::{lower, raw_effective, raw_has, task_caps};
use capscope_tests::{assert_pass, check, ensure, privileged};
use common::{holders, Stray, RAW};

/// Two guards naming the same capability, dropped out of order. The second guard found the
/// capability already effective, so its own `raised` is empty; when it ends it is the one that
/// lowers the capability (the first one has ended), but `scope_ended` is called with the
/// guard's `raised` (empty), so the check for threads started behind capscope's back is
/// skipped. A stray started while only the second guard lived keeps the capability.
#[test]
fn an_out_of_order_drop_still_lowers_a_stray_at_the_scope_that_lowers() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let g1 = check!(RaiseGuard::raise(RAW)); // raises net_raw
        let g2 = check!(RaiseGuard::raise(RAW)); // already effective: raises nothing itself
        drop(g1); // g2 still names net_raw: it stays raised, as documented
        ensure!(raw_has(RAW), "g2 still asks for {RAW}");
        // A thread started by other means (a C library bound to libc's pthread_create) while
        // the capability is raised.
        let stray = Stray::start_holding(RAW)?;
        drop(g2); // the last scope naming net_raw ends: it is lowered here
        ensure!(!raw_has(RAW), "the scope's own thread lowered it");
        let after = stray.effective();
        let tid = stray.tid;
        stray.stop();
        let after = after?;
        ensure!(
            !after.has(RAW),
            "after every scope ended, stray thread {tid} still holds {RAW} ({after:?})"
        );
        Ok(())
    }));
}

/// A stray (started behind capscope's back, inside a scope, so holding the raised
/// capability) starts a thread through `pthread_create`, i.e. through capscope's interposer.
/// The birth mask is the creator's *own* scopes' raised set (empty for the stray), so the new
/// thread keeps the capability; but it is recorded as *contained*, and the end-of-scope slow
/// path skips contained threads. The stray itself is lowered; its child is not.
#[test]
fn a_thread_started_by_a_stray_during_the_scope_is_lowered_too() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let g = check!(RaiseGuard::raise(RAW));
        let child_tid = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ct, st) = (child_tid.clone(), stop.clone());
        let (tx, rx) = mpsc::channel();
        let stray = Stray::start_holding_with(RAW, move || {
            // On the stray: an ordinary std thread (capscope's pthread_create).
            let h = std::thread::spawn(move || {
                ct.store(capscope::current_tid(), Ordering::SeqCst);
                while !st.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            tx.send(h).unwrap();
        })?;
        let child = rx.recv().unwrap();
        let start = Instant::now();
        while child_tid.load(Ordering::SeqCst) == 0 {
            ensure!(start.elapsed() < Duration::from_secs(10), "no child thread");
            std::thread::sleep(Duration::from_millis(1));
        }
        let child_tid = child_tid.load(Ordering::SeqCst);
        drop(g); // the scope ends: nothing outside it may hold net_raw
        let stray_after = stray.effective();
        let child_after = task_caps(child_tid, "CapEff");
        let left = holders(RAW, &[]);
        stop.store(true, Ordering::SeqCst);
        child.join().unwrap();
        let stray_tid = stray.tid;
        stray.stop();
        let stray_after = stray_after?;
        let child_after = child_after?;
        ensure!(
            !stray_after.has(RAW),
            "the stray {stray_tid} itself was not lowered"
        );
        ensure!(
            !child_after.has(RAW),
            "thread {child_tid}, started by the stray through pthread_create during the scope, \
             still holds {RAW} after the scope ended (holders: {left:?})"
        );
        Ok(())
    }));
}

/// The `/proc/self/task` descriptor that capscope opens once and keeps is an ordinary file
/// descriptor of the program: a daemon that closes the descriptors it does not know
/// (`closefrom`, a close-all loop before dropping into its main loop) closes it. The next
/// end-of-scope check then fails its `fstat` and *returns* (`let Ok(count) = .. else { return }`):
/// a stray thread keeps the capability, silently.
#[test]
fn a_closed_task_dir_descriptor_is_reopened_and_the_stray_lowered() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        // One contained thread, so that a scope's end opens (and caches) /proc/self/task.
        let peer = common::Peer::start();
        drop(check!(RaiseGuard::raise(RAW)));
        let target = format!("/proc/{}/task", std::process::id());
        let fds = common::fds_pointing_at(&target);
        ensure!(!fds.is_empty(), "capscope kept no descriptor of {target}");
        // The daemon's close-all (here: only the descriptors it does not know).
        for fd in &fds {
            // SAFETY: closing a descriptor of this (forked) process.
            unsafe { libc::close(*fd) };
        }
        let (tid, after) = common::stray_after_scope()?;
        peer.stop();
        ensure!(
            !after.has(RAW),
            "with capscope's /proc/self/task descriptor (fd {fds:?}) closed by the program, \
             stray {tid} keeps {RAW} after the scope ended, and nothing failed"
        );
        Ok(())
    }));
}

/// The same descriptor, reused: after the program closed it, the number is handed out again
/// to the next `open` (here an empty directory, as `cap-std`'s `Dir::open_ambient_dir` or any
/// `O_DIRECTORY` open would get it). `fstat` then reads that directory's link count (2), so
/// the "thread count" is 0 and the check concludes there is nobody to lower.
#[test]
fn a_reused_task_dir_descriptor_number_does_not_fool_the_thread_count() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let peer = common::Peer::start();
        drop(check!(RaiseGuard::raise(RAW)));
        let target = format!("/proc/{}/task", std::process::id());
        let fds = common::fds_pointing_at(&target);
        ensure!(!fds.is_empty(), "capscope kept no descriptor of {target}");
        let dir = std::env::temp_dir().join(format!("capscope-review-{}", std::process::id()));
        check!(std::fs::create_dir_all(&dir));
        let cdir = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        for fd in &fds {
            // SAFETY: closes one descriptor, then opens a directory, which takes the lowest
            // free number: the one just closed.
            let got = unsafe {
                libc::close(*fd);
                libc::open(cdir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY)
            };
            ensure!(got == *fd, "the directory got fd {got}, not {fd}");
        }
        let (tid, after) = common::stray_after_scope()?;
        peer.stop();
        let _ = std::fs::remove_dir_all(&dir);
        ensure!(
            !after.has(RAW),
            "with capscope's task-dir descriptor number reused by a directory, stray {tid} \
             keeps {RAW} after the scope ended"
        );
        Ok(())
    }));
}

/// A signal the new thread takes as soon as glibc's `start_thread` sets its signal mask runs
/// the program's handler *before* capscope's trampoline lowers what the creator's scope
/// raised: program code on a thread outside the scope, with the capability. Made
/// deterministic here with a process-directed signal left pending while every existing
/// thread blocks it, and a thread created with its own mask (`pthread_attr_setsigmask_np`,
/// which goes through capscope's `pthread_create` like any other call); the same happens,
/// by chance, whenever a process-directed signal (SIGCHLD, SIGALRM, SIGPROF, ...) arrives while
/// a thread is being created.
#[test]
fn a_signal_handler_on_a_new_thread_runs_without_the_scopes_capability() {
    static HANDLER_TID: AtomicU32 = AtomicU32::new(0);
    static HANDLER_EFF: AtomicU64 = AtomicU64::new(0);
    static CREATED_TID: AtomicU32 = AtomicU32::new(0);
    extern "C" fn on_usr2(_: libc::c_int) {
        // SAFETY: gettid and capget are async-signal-safe system calls.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        HANDLER_TID.store(tid, Ordering::SeqCst);
        HANDLER_EFF.store(raw_effective(), Ordering::SeqCst);
    }
    extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
        CREATED_TID.store(capscope::current_tid(), Ordering::SeqCst);
        std::ptr::null_mut()
    }
    extern "C" {
        fn pthread_attr_setsigmask_np(
            attr: *mut libc::pthread_attr_t,
            set: *const libc::sigset_t,
        ) -> libc::c_int;
    }
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        // SAFETY: signal set-up of this single-threaded forked child, a pending
        // process-directed signal, and a thread created with an attribute carrying an empty
        // signal mask.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_usr2 as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
            let mut usr2: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut usr2);
            libc::sigaddset(&mut usr2, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &usr2, std::ptr::null_mut());
            libc::kill(libc::getpid(), libc::SIGUSR2); // pending: every thread blocks it
        }
        let g = check!(RaiseGuard::raise(RAW));
        // SAFETY: as above.
        let t = unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            libc::pthread_attr_init(&mut attr);
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            ensure!(
                pthread_attr_setsigmask_np(&mut attr, &none) == 0,
                "setsigmask"
            );
            let mut t: libc::pthread_t = 0;
            ensure!(
                libc::pthread_create(&mut t, &attr, body, std::ptr::null_mut()) == 0,
                "pthread_create"
            );
            libc::pthread_attr_destroy(&mut attr);
            t
        };
        // SAFETY: joins the thread just created.
        unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
        drop(g);
        let (htid, heff, ctid) = (
            HANDLER_TID.load(Ordering::SeqCst),
            CapSet::from_bits(HANDLER_EFF.load(Ordering::SeqCst)),
            CREATED_TID.load(Ordering::SeqCst),
        );
        ensure!(htid != 0, "the handler never ran");
        ensure!(
            htid == ctid,
            "the handler ran on {htid}, not the new thread {ctid}"
        );
        ensure!(
            !heff.has(RAW),
            "the program's signal handler ran on the new thread {htid}, outside the scope, with \
             {RAW} effective ({heff:?}), before capscope lowered it"
        );
        Ok(())
    }));
}

/// The slow path takes any thread whose `Name:` starts with `iou-sqp` for an io_uring SQPOLL
/// kernel thread and aborts the process ("its ring keeps the scope's credentials for good"),
/// before looking at `PF_IO_WORKER`. A thread's name is the program's to choose
/// (`PR_SET_NAME`, `pthread_setname_np`, `std::thread::Builder::name`): an ordinary stray that
/// happens to be named so makes the end of the scope abort, where lowering it (it takes
/// signals) would have worked.
#[test]
fn a_stray_named_like_an_sqpoll_thread_is_lowered_without_an_abort() {
    assert_pass(privileged(|| {
        lower(RAW.into())?;
        let g = check!(RaiseGuard::raise(RAW));
        let stray = Stray::start_holding_with(RAW, || {
            // SAFETY: names the calling thread.
            unsafe { libc::prctl(libc::PR_SET_NAME, c"iou-sqp-worker".as_ptr()) };
        })?;
        drop(g); // aborted the process before the fix
        let after = stray.effective();
        stray.stop();
        let after = after?;
        ensure!(!after.has(RAW), "the stray was not lowered");
        Ok(())
    }));
}

/// `inherited_raised` / `assert_not_inherited` ("with confinement working this is always
/// empty") report any effective capability that *some other thread's* live scope raised, even
/// when this thread holds it as its own base (it never was in any scope). A thread that starts
/// with the process's full effective set, while a worker (which lowered its own set) runs a
/// scope raising `net_raw`, is told it holds `net_raw` "raised by a capscope scope it is not
/// in", and `assert_not_inherited` panics.
#[test]
fn inherited_raised_does_not_report_a_base_capability_as_inherited() {
    assert_pass(privileged(|| {
        let (in_tx, in_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            lower(RAW.into()).unwrap();
            let g = RaiseGuard::raise(RAW).unwrap(); // the worker's scope raises net_raw
            in_tx.send(()).unwrap();
            end_rx.recv().unwrap();
            drop(g);
        });
        in_rx.recv().unwrap();
        // This thread: full effective set since the process started, no scope ever.
        ensure!(raw_has(RAW));
        let t =
            std::thread::spawn(|| capscope::guard::inherited_raised().map_err(|e| e.to_string()));
        let got = t.join().unwrap()?;
        let here = check!(capscope::guard::inherited_raised());
        end_tx.send(()).unwrap();
        worker.join().unwrap();
        ensure!(
            got.is_empty() && here.is_empty(),
            "inherited_raised() says {got:?} (new thread) / {here:?} (main thread), which \
             never were in any scope"
        );
        Ok(())
    }));
}

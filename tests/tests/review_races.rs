//! Adversarial review: check-then-act races in the thread accounting, made deterministic.
//!
//! Both checks compare the kernel's thread count (one `fstat` of `/proc/self/task`) with
//! capscope's count of contained threads (`CONTAINED`), but read the two at different
//! moments, and each can move in between:
//!
//! - `contain::scope_ended` reads the kernel count, *then* `CONTAINED`: a contained thread
//!   whose trampoline runs in between makes `CONTAINED` one larger than it was when the kernel
//!   counted, which hides one thread started by other means (it keeps the capability).
//! - the census shortcut of `broadcast.rs` reads `CONTAINED`, *then* the kernel count: a
//!   contained thread that exits in between makes the kernel count one smaller, which hides
//!   one thread started by other means after the pass's own count ("not even one paired with
//!   a death" is what the comment promises); the broadcast returns `Ok` without it.
//!
//! The interleaving is forced with a seccomp user-notification filter on the thread under
//! test: its `fstat` of capscope's task-directory descriptor is held by a supervisor thread,
//! which lets another thread be born (or die) at exactly the moment a preemption at that
//! system call's return would allow, then lets the `fstat` complete (the kernel's own answer,
//! or the answer the kernel gave a moment earlier). Nothing of capscope is patched. x86_64.
//!
//! Each test is named for the behaviour it asserts; its comment describes the hole as the
//! review found it (fixed since).
#![cfg(target_arch = "x86_64")]

#[path = "review/common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use capscope::{process, CapState, RaiseGuard};
use capscope_tests::state::lower;
use capscope_tests::{assert_pass, check, ensure, privileged, Verdict};
use common::{Stray, RAW};

/// Installs, on the calling thread only, a filter that sends `fstat(fd)` to a user-space
/// supervisor; returns the listener descriptor.
fn notify_fstat_of(fd: i32) -> Result<i32, String> {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    let st = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k, jf| libc::sock_filter {
        code: BPF_JMP_JEQ_K,
        jt: 0,
        jf,
        k,
    };
    let mut filter = [
        st(BPF_LD_W_ABS, 0),
        jeq(u32::try_from(libc::SYS_fstat).unwrap(), 3),
        st(BPF_LD_W_ABS, 16),
        jeq(u32::try_from(fd).unwrap(), 1),
        st(BPF_RET_K, libc::SECCOMP_RET_USER_NOTIF),
        st(BPF_RET_K, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: 6,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: a valid filter program that outlives the call (the kernel copies it).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(format!("seccomp: {}", std::io::Error::last_os_error()));
    }
    Ok(i32::try_from(r).unwrap())
}

/// One held `fstat`: its id and the address of the caller's `struct stat`.
struct Held {
    id: u64,
    buf: u64,
}

fn recv(listener: i32) -> Option<Held> {
    loop {
        // SAFETY: a zeroed notification for the kernel to fill.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the listener and a valid out-pointer.
        let r = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        if r == 0 {
            return Some(Held {
                id: req.id,
                buf: req.data.args[1],
            });
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// Completes a held `fstat`: with the kernel's own call now (`continue_`), or as already done.
fn reply(listener: i32, held: &Held, continue_: bool) {
    let mut resp = libc::seccomp_notif_resp {
        id: held.id,
        val: 0,
        error: 0,
        flags: if continue_ {
            u32::try_from(libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE).unwrap()
        } else {
            0
        },
    };
    loop {
        // SAFETY: the listener and a valid response.
        let r = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Answers a held `fstat(fd, buf)` with what the kernel says *now* (same address space).
fn fstat_into(fd: i32, held: &Held) {
    // SAFETY: `buf` is the held caller's `struct stat`, in this process's memory; the caller
    // is blocked in the system call until we reply.
    unsafe { libc::fstat(fd, held.buf as *mut libc::stat) };
}

/// One raw `fstat(fd)` (glibc's own `fstat` is `newfstatat`): held, then continued by the
/// supervisor, which then sees that the test is over.
fn wake(fd: i32) {
    // SAFETY: a raw fstat into a local buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::syscall(libc::SYS_fstat, fd, &mut st);
    }
}

fn task_fd() -> Result<i32, String> {
    let target = format!("/proc/{}/task", std::process::id());
    let fds = common::fds_pointing_at(&target);
    ensure!(fds.len() == 1, "capscope's task-dir descriptors: {fds:?}");
    Ok(fds[0])
}

fn parked(stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// `scope_ended`: kernel count first, `CONTAINED` second. A contained thread born between the
/// two hides the stray.
#[test]
fn a_contained_birth_between_the_count_and_contained_does_not_hide_a_stray() {
    assert_pass(privileged(|| birth_race(true)));
}

/// The harness without the birth: the stray is found and lowered (passed before the fix too).
#[test]
fn control_without_the_birth_the_stray_is_lowered() {
    assert_pass(privileged(|| birth_race(false)));
}

fn birth_race(birth: bool) -> Verdict {
    lower(RAW.into())?;
    let stop = Arc::new(AtomicBool::new(false));
    let peer = parked(&stop);
    drop(check!(RaiseGuard::raise(RAW))); // opens and keeps /proc/self/task
    let fd = task_fd()?;
    // The supervisor (started before the filter, so not under it).
    let (ltx, lrx) = mpsc::channel::<i32>();
    let stop_s = stop.clone();
    let sup = std::thread::spawn(move || -> Result<(), String> {
        let listener = lrx.recv().unwrap();
        let held = recv(listener).ok_or("no held fstat")?;
        // The kernel counts now (stray included)...
        fstat_into(fd, &held);
        // ...then a thread of the program is started (an ordinary std thread: contained),
        // and its trampoline runs, before the scope's thread reads CONTAINED.
        let born = birth.then(|| {
            let (btx, brx) = mpsc::channel();
            let s = stop_s.clone();
            let h = std::thread::spawn(move || {
                btx.send(()).unwrap();
                while !s.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            brx.recv().unwrap();
            h
        });
        reply(listener, &held, false);
        // Later fstats (the slow path's listing) go through, until the test is over.
        while let Some(h) = recv(listener) {
            reply(listener, &h, true);
            if stop_s.load(Ordering::SeqCst) {
                break;
            }
        }
        // SAFETY: closing the listener.
        unsafe { libc::close(listener) };
        if let Some(b) = born {
            b.join().unwrap();
        }
        Ok(())
    });
    let listener = notify_fstat_of(fd)?;
    ltx.send(listener).unwrap();
    let (tid, after) = common::stray_after_scope()?;
    stop.store(true, Ordering::SeqCst);
    peer.join().unwrap();
    wake(fd);
    sup.join().unwrap()?;
    ensure!(
        !after.has(RAW),
        "stray {tid} keeps {RAW} after the scope: a contained thread born between the \
         kernel's count and the read of CONTAINED hid it"
    );
    Ok(())
}

/// The broadcast's census shortcut: `CONTAINED` first, kernel count second. A stray born after
/// the first pass's count (from a thread that has not changed yet) and a contained thread
/// exiting between the two reads of the check after the pass make the numbers match; the
/// listing is skipped and the call returns `Ok` without the stray. (Found when the first pass
/// listed `/proc/self/task`; the first pass now takes its ids from capscope's records, and the
/// same race is forced around that pass's count.)
#[test]
fn a_contained_death_between_census_and_count_does_not_hide_a_stray_from_a_broadcast() {
    assert_pass(privileged(|| broadcast_census_race(true)));
}

/// The harness without the death: the listing after the first pass finds the stray (passed
/// before the fix too).
#[test]
fn control_without_the_death_the_broadcast_reaches_the_stray() {
    assert_pass(privileged(|| broadcast_census_race(false)));
}

fn broadcast_census_race(death: bool) -> Verdict {
    let start = check!(CapState::get_current());
    ensure!(start.effective.has(RAW));
    let want = CapState {
        effective: start.effective.without(RAW),
        ..start
    };
    // C: a thread of the program that starts a thread by other means when told.
    let (ctx, crx) = mpsc::channel::<()>();
    let (stx, srx) = mpsc::channel::<Stray>();
    let c = std::thread::spawn(move || {
        if crx.recv().is_ok() {
            stx.send(Stray::start().expect("stray")).unwrap();
        }
        // Stays until the test ends (its channel closes).
        let _ = crx.recv();
    });
    // D: a contained thread that exits when told.
    let (dtx, drx) = mpsc::channel::<()>();
    let d_tid = Arc::new(AtomicU32::new(0));
    let dt = d_tid.clone();
    let d = std::thread::spawn(move || {
        dt.store(capscope::current_tid(), Ordering::SeqCst);
        let _ = drx.recv();
    });
    while d_tid.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let d_tid = d_tid.load(Ordering::SeqCst);
    // A first broadcast (the same state): installs the handler and opens /proc/self/task.
    check!(process::set_caps(&start));
    let fd = task_fd()?;
    let (ltx, lrx) = mpsc::channel::<i32>();
    let sup = std::thread::spawn(move || -> Result<(), String> {
        let listener = lrx.recv().unwrap();
        // fstat 1: the kernel's count that the first pass checks capscope's records against
        // (every thread here is contained, so the pass takes its ids from the records). The
        // kernel answers, then C (in the records, not signalled yet: the broadcaster waits for
        // this answer) starts a thread by other means: it is born after the count, holding
        // the old state.
        let held = recv(listener).ok_or("no fstat 1")?;
        fstat_into(fd, &held);
        ctx.send(()).unwrap();
        let stray = srx.recv().unwrap();
        reply(listener, &held, false);
        // fstat 2: the count after the pass, read after the census. D (contained, changed)
        // exits now, so that the count (stray in, D out) matches what was signalled.
        let held = recv(listener).ok_or("no fstat 2")?;
        if death {
            dtx.send(()).unwrap();
            let t0 = Instant::now();
            // SAFETY: signal 0 only checks that D still exists.
            while unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), d_tid, 0) } == 0 {
                if t0.elapsed() > Duration::from_secs(5) {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        reply(listener, &held, true);
        // Later fstats by the broadcaster (if the shortcut was not taken) go through.
        while let Some(h) = recv(listener) {
            reply(listener, &h, true);
            if stray_done() {
                break;
            }
        }
        drop(dtx); // D leaves now if it has not
                   // Hand the stray back for the oracle.
        STRAY_TID.store(stray.tid, Ordering::SeqCst);
        *STRAY.lock().unwrap() = Some(stray);
        // SAFETY: closing the listener.
        unsafe { libc::close(listener) };
        Ok(())
    });
    let listener = notify_fstat_of(fd)?;
    ltx.send(listener).unwrap();
    let report = process::set_caps(&want);
    DONE.store(true, Ordering::SeqCst);
    wake(fd);
    sup.join().unwrap()?;
    let stray = STRAY.lock().unwrap().take().ok_or("no stray")?;
    let stray_caps = CapState::get_for_pid(stray.tid);
    stray.stop();
    d.join().unwrap();
    drop(c);
    let report = check!(report);
    let stray_caps = check!(stray_caps);
    ensure!(
        stray_caps == want,
        "process::set_caps returned Ok({report:?}), but thread {} (started at the end of the \
         listing by a thread that had not changed yet) holds {:?} in its effective set, not \
         {:?}",
        STRAY_TID.load(Ordering::SeqCst),
        stray_caps.effective,
        want.effective
    );
    Ok(())
}

static DONE: AtomicBool = AtomicBool::new(false);
static STRAY_TID: AtomicU32 = AtomicU32::new(0);
static STRAY: std::sync::Mutex<Option<Stray>> = std::sync::Mutex::new(None);

fn stray_done() -> bool {
    DONE.load(Ordering::SeqCst)
}

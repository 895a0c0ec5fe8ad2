//! Helpers shared by the adversarial review tests (`review_*.rs`): threads started behind
//! capscope's back, forked verdicts. The raw oracles are in `capscope_tests::state`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capscope::{Cap, CapSet};
use capscope_tests::state::{raw_effective, task_caps};
use capscope_tests::{ensure, Verdict};

pub(crate) const RAW: Cap = Cap::NET_RAW;

type Create = unsafe extern "C" fn(
    *mut libc::pthread_t,
    *const libc::pthread_attr_t,
    extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    *mut libc::c_void,
) -> libc::c_int;

/// The C library's own `pthread_create` (what a C library bound directly to libc calls).
fn real_pthread_create() -> Create {
    // SAFETY: RTLD_NEXT from the executable finds the C library's pthread_create.
    unsafe {
        let addr = libc::dlsym(libc::RTLD_NEXT, c"pthread_create".as_ptr());
        assert!(!addr.is_null(), "no pthread_create after the executable");
        std::mem::transmute::<*mut libc::c_void, Create>(addr)
    }
}

extern "C" fn run_boxed(p: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `p` is the box leaked by `spawn_behind_back`, taken back once.
    let f = unsafe { Box::from_raw(p.cast::<Box<dyn FnOnce() + Send>>()) };
    f();
    std::ptr::null_mut()
}

/// Starts `f` on a thread created with the C library's own `pthread_create`, bypassing
/// capscope's interposer (a thread "started by other means").
pub(crate) fn spawn_behind_back(f: impl FnOnce() + Send + 'static) -> libc::pthread_t {
    let boxed: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
    let mut t: libc::pthread_t = 0;
    // SAFETY: a valid start routine and the leaked box as its argument.
    let rc = unsafe {
        real_pthread_create()(
            &mut t,
            std::ptr::null(),
            run_boxed,
            Box::into_raw(boxed).cast(),
        )
    };
    assert_eq!(rc, 0, "pthread_create");
    t
}

/// A thread started behind capscope's back that parks until stopped; its tid is known.
pub(crate) struct Stray {
    pub(crate) tid: u32,
    stop: Arc<AtomicBool>,
    handle: libc::pthread_t,
}

impl Stray {
    /// Starts it and waits until it runs. `then` runs on the stray first (with its tid).
    pub(crate) fn start_with(then: impl FnOnce() + Send + 'static) -> Result<Stray, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicU32::new(0));
        let (s2, t2) = (stop.clone(), tid.clone());
        let handle = spawn_behind_back(move || {
            then();
            t2.store(capscope::current_tid(), Ordering::SeqCst);
            while !s2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let start = Instant::now();
        while tid.load(Ordering::SeqCst) == 0 {
            ensure!(
                start.elapsed() < Duration::from_secs(10),
                "the stray never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Stray {
            tid: tid.load(Ordering::SeqCst),
            stop,
            handle,
        })
    }

    pub(crate) fn start() -> Result<Stray, String> {
        Stray::start_with(|| {})
    }

    /// [`start_with`](Self::start_with), and fails unless the stray was born holding `cap`
    /// effective: its own raw `capget`, the first thing it does (before `then`). The premise
    /// of a test whose stray must be lowered at a scope's end.
    pub(crate) fn start_holding_with(
        cap: Cap,
        then: impl FnOnce() + Send + 'static,
    ) -> Result<Stray, String> {
        let born = Arc::new(AtomicU64::new(0));
        let b2 = born.clone();
        let stray = Stray::start_with(move || {
            b2.store(raw_effective(), Ordering::SeqCst);
            then();
        })?;
        let at_birth = CapSet::from_bits(born.load(Ordering::SeqCst));
        if !at_birth.has(cap) {
            let tid = stray.tid;
            stray.stop();
            return Err(format!(
                "stray {tid} was born without {cap} (effective {at_birth:?}): the test's premise \
                 does not hold"
            ));
        }
        Ok(stray)
    }

    /// [`start`](Self::start), and fails unless the stray was born holding `cap` effective.
    pub(crate) fn start_holding(cap: Cap) -> Result<Stray, String> {
        Stray::start_holding_with(cap, || {})
    }

    /// Its effective set, read from outside (`/proc`).
    ///
    /// # Errors
    ///
    /// When its `status` file cannot be read or has no `CapEff`.
    pub(crate) fn effective(&self) -> Result<CapSet, String> {
        task_caps(self.tid, "CapEff").map_err(|e| format!("stray {}: {e}", self.tid))
    }

    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        // SAFETY: joins the thread created in `start_with`.
        unsafe { libc::pthread_join(self.handle, std::ptr::null_mut()) };
    }
}

/// Every live thread of this process but `except` that holds `cap` effective (from `/proc`).
pub(crate) fn holders(cap: Cap, except: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let tid: u32 = e.unwrap().file_name().to_str().unwrap().parse().unwrap();
        if except.contains(&tid) {
            continue;
        }
        if task_caps(tid, "CapEff").is_ok_and(|e| e.has(cap)) {
            out.push(tid);
        }
    }
    out
}

/// The descriptor numbers of this process whose target is `target` (`readlink` of
/// `/proc/self/fd/N`).
pub(crate) fn fds_pointing_at(target: &str) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for e in dir.flatten() {
            let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == target) {
                out.push(n);
            }
        }
    }
    out
}

/// A pipe whose write end a forked process uses to send its verdict.
pub(crate) fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: a valid array for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

/// Writes a verdict to `fd` and ends the process with `_exit` (a forked process).
pub(crate) fn send_verdict_and_exit(fd: i32, v: &Verdict) -> ! {
    let text = match v {
        Ok(()) => "PASS".to_owned(),
        Err(e) => format!("FAIL {e}"),
    };
    // SAFETY: writes a valid buffer, then ends the process without unwinding.
    unsafe {
        libc::write(fd, text.as_ptr().cast(), text.len());
        libc::_exit(0)
    }
}

/// Reads what was written to `fd` (until EOF), closes it, and waits for process `pid`: the text
/// and `pid`'s wait status.
pub(crate) fn recv_output(fd: i32, pid: i32) -> (String, i32) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reads into a valid buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..usize::try_from(n).unwrap()]);
    }
    let mut status = 0;
    // SAFETY: our child; a valid out-pointer.
    unsafe {
        libc::close(fd);
        libc::waitpid(pid, &mut status, 0);
    }
    (String::from_utf8_lossy(&out).into_owned(), status)
}

/// Reads a verdict written by [`send_verdict_and_exit`] from `fd` (until EOF), after waiting
/// for process `pid`.
pub(crate) fn recv_verdict(fd: i32, pid: i32, who: &str) -> Verdict {
    let (out, status) = recv_output(fd, pid);
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "{who} was killed by signal {} (verdict so far: {out:?})",
            libc::WTERMSIG(status)
        ));
    }
    match out.strip_prefix("FAIL ") {
        Some(why) => Err(format!("{who}: {why}")),
        None if out == "PASS" => Ok(()),
        None => Err(format!("{who}: no verdict (status {status}): {out:?}")),
    }
}

/// A stray started inside a scope that raised [`RAW`] (so born holding it: checked), then the
/// scope's end: the stray's tid and its effective set once the scope has ended (from `/proc`).
///
/// # Errors
///
/// When the raise fails, the stray was not born holding [`RAW`], or its set cannot be read.
pub(crate) fn stray_after_scope() -> Result<(u32, CapSet), String> {
    let g = capscope::RaiseGuard::raise(RAW).map_err(|e| format!("raise: {e}"))?;
    let stray = Stray::start_holding(RAW)?;
    drop(g);
    let after = stray.effective();
    let tid = stray.tid;
    stray.stop();
    Ok((tid, after?))
}

/// A thread started through std (so contained) that sleeps until stopped.
pub(crate) struct Peer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Peer {
    pub(crate) fn start() -> Peer {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Peer { stop, handle }
    }

    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap();
    }
}

//! A crew of worker threads in every state a broadcast must reach, and independent oracles
//! that read each thread's state (from `capget(tid)`, `/proc`, or, for securebits, the thread
//! itself through a test-owned signal).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use capscope::{CapState, FullCapState};

/// What a crew member does while the broadcasts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Blocked in `read(2)` on a pipe nobody writes to.
    Read,
    /// `thread::sleep` in a loop (nanosleep, interrupted and resumed).
    Sleep,
    /// A busy loop without system calls.
    Spin,
    /// Its own signal mask (SIGUSR2, SIGTERM, SIGALRM, SIGRTMIN and more blocked; not the
    /// broadcast signal, not the probe signal), sleeping.
    Masked,
}

/// The live crew. Dropping it stops the threads that can stop (the read-blocked ones end when
/// the pipe's write end closes).
pub(crate) struct Crew {
    pub(crate) tids: Vec<u32>,
    stop: Arc<AtomicBool>,
    _pipe_wr: OwnedFd,
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn kind_of(i: usize) -> Kind {
    match i % 16 {
        0 => Kind::Spin,
        1..=5 => Kind::Read,
        6..=10 => Kind::Sleep,
        _ => Kind::Masked,
    }
}

/// Blocks a set of signals on the calling thread, never the broadcast signal nor the probe.
fn block_some_signals() {
    let ours = capscope::process::signal().raw();
    // SAFETY: sigset manipulation on a local, then pthread_sigmask on this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [
            libc::SIGUSR2,
            libc::SIGTERM,
            libc::SIGALRM,
            libc::SIGHUP,
            libc::SIGRTMIN(),
            libc::SIGRTMIN() + 1,
        ] {
            if sig != ours && sig != PROBE_SIGNAL {
                libc::sigaddset(&mut set, sig);
            }
        }
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
    }
}

/// Spawns `n` threads of every kind and waits until each has reported its tid.
pub(crate) fn spawn(n: usize) -> Crew {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors we own.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let rd = Arc::new(rd);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    for i in 0..n {
        let kind = kind_of(i);
        let (tx, stop, rd) = (tx.clone(), stop.clone(), rd.clone());
        std::thread::spawn(move || {
            if kind == Kind::Masked {
                block_some_signals();
            }
            tx.send((i, capscope::current_tid())).unwrap();
            drop(tx);
            match kind {
                Kind::Read => {
                    let mut b = [0u8; 1];
                    // SAFETY: reading into a valid one-byte buffer; returns 0 at EOF.
                    while unsafe { libc::read(rd.as_raw_fd(), b.as_mut_ptr().cast(), 1) } != 0 {}
                }
                Kind::Sleep | Kind::Masked => {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(20 + (i as u64 % 7) * 10));
                    }
                }
                Kind::Spin => {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
            }
        });
    }
    drop(tx);
    let mut tids = vec![0; n];
    for (i, tid) in rx {
        tids[i] = tid;
    }
    assert!(tids.iter().all(|&t| t != 0));
    Crew {
        tids,
        stop,
        _pipe_wr: wr,
    }
}

/// Every thread to check: the crew, the calling thread, and whatever `/proc/self/task` lists.
pub(crate) fn all_tids(extra: &[u32]) -> Vec<u32> {
    let mut tids: Vec<u32> = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    tids.extend_from_slice(extra);
    tids.push(capscope::current_tid());
    tids.sort_unstable();
    tids.dedup();
    tids
}

/// `capget(tid)` for every thread; `None` for threads that exited.
pub(crate) fn caps_of(tid: u32) -> Option<CapState> {
    match CapState::get_for_pid(tid) {
        Ok(s) => Some(s),
        Err(e) if e.code() == Some(libc::ESRCH) => None,
        Err(e) => panic!("capget({tid}): {e}"),
    }
}

/// `/proc/self/task/<tid>/status` for a thread; `None` for threads that exited.
pub(crate) fn full_of(tid: u32) -> Option<FullCapState> {
    match FullCapState::get_for_thread(std::process::id(), tid) {
        Ok(s) => Some(s),
        Err(e) if e.code() == Some(libc::ENOENT) || e.code() == Some(libc::ESRCH) => None,
        Err(e) => panic!("/proc status of {tid}: {e}"),
    }
}

/// Checks `good` on the capget state of every thread (crew, caller, /proc listing); returns
/// how many were checked.
pub(crate) fn check_caps(
    crew: &[u32],
    what: &str,
    good: impl Fn(&CapState) -> bool,
) -> Result<usize, String> {
    check_each(crew, what, caps_of, good)
}

/// Like [`check_caps`] with the `/proc` status of every thread.
pub(crate) fn check_full(
    crew: &[u32],
    what: &str,
    good: impl Fn(&FullCapState) -> bool,
) -> Result<usize, String> {
    check_each(crew, what, full_of, good)
}

/// Reads every thread with `read` (`None`: the thread is gone) and checks `good` on it; a crew
/// thread that vanished is a failure, any other vanished thread is skipped.
fn check_each<S: std::fmt::Debug>(
    crew: &[u32],
    what: &str,
    read: impl Fn(u32) -> Option<S>,
    good: impl Fn(&S) -> bool,
) -> Result<usize, String> {
    let mut n = 0;
    for tid in all_tids(crew) {
        let Some(s) = read(tid) else {
            if crew.contains(&tid) {
                return Err(format!("{what}: crew thread {tid} vanished"));
            }
            continue;
        };
        if !good(&s) {
            return Err(format!("{what}: thread {tid} has {s:?}"));
        }
        n += 1;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The securebits probe: /proc does not show securebits, so each thread is asked for its own
// with a test-owned signal whose handler calls prctl(PR_GET_SECUREBITS) on that thread.

/// The probe's signal (not blocked by any crew member).
pub(crate) const PROBE_SIGNAL: i32 = libc::SIGUSR1;
const PROBE_SLOTS: usize = 256;
const UNSET: u64 = u32::MAX as u64;
static PROBE: [AtomicU64; PROBE_SLOTS] = [const { AtomicU64::new(0) }; PROBE_SLOTS];

extern "C" fn probe_handler(_: libc::c_int) {
    // SAFETY: raw system calls only; async-signal-safe.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u64;
    // SAFETY: as above.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) } as u32 as u64;
    for slot in &PROBE {
        if slot.load(Ordering::Acquire) == tid << 32 | UNSET {
            slot.store(tid << 32 | bits, Ordering::Release);
            return;
        }
    }
}

/// Installs the probe handler (once per process; call before spawning the crew).
pub(crate) fn install_probe() {
    // SAFETY: installing a plain handler that only makes raw system calls and atomic stores.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = probe_handler as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigfillset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(PROBE_SIGNAL, &sa, std::ptr::null_mut()), 0);
    }
}

/// Asks each of `tids` for its securebits. Panics after 10 s without an answer.
pub(crate) fn securebits_of(tids: &[u32]) -> Vec<(u32, u32)> {
    assert!(tids.len() <= PROBE_SLOTS);
    for (slot, &tid) in PROBE.iter().zip(tids) {
        slot.store(u64::from(tid) << 32 | UNSET, Ordering::Release);
    }
    for &tid in tids {
        // SAFETY: signals a thread of our own process.
        let r =
            unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid as i32, PROBE_SIGNAL) };
        assert_eq!(r, 0, "tgkill({tid}) for the probe");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answers: Vec<u64> = PROBE
            .iter()
            .take(tids.len())
            .map(|s| s.load(Ordering::Acquire))
            .collect();
        if answers.iter().all(|a| a & UNSET != UNSET) {
            return answers
                .iter()
                .map(|a| ((a >> 32) as u32, *a as u32))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "the securebits probe got no answer from every thread"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Thread `tid`'s uids and gids (real, effective, saved, filesystem) and sorted groups, from
/// `/proc/self/task/<tid>/status`; `None` for a thread that exited.
pub(crate) fn ids_of(tid: u32) -> Option<(Vec<u32>, Vec<u32>, Vec<u32>)> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    let nums = |name: &str| -> Vec<u32> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} line"));
        line.split_ascii_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let mut groups = nums("Groups:");
    groups.sort_unstable();
    Some((nums("Uid:"), nums("Gid:"), groups))
}

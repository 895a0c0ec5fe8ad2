//! A process-wide effective-set change (`capscope::process::set_caps`) with 1, 8 and 64
//! threads, against glibc's own broadcast of the setuid family and the single-thread `capset`
//! floor, in one run. glibc's broadcast is measured two ways: `setresuid` with the current
//! ids (glibc signals every thread, and each thread's call returns at once: since Linux 5.x an
//! unchanged `setresuid` commits no new credentials), and, as root, `setresgid` flipping the
//! effective gid between 0 and 1 (each thread commits new credentials, as each thread's
//! `capset` does for capscope): the like-for-like comparison.
//!
//! Run: `cargo bench -p capscope-tests --bench process`. Divide by the thread count for the
//! time per thread. criterion runs without its rayon feature so that the only threads are the
//! ones benchmarked (the count is printed).
//!
//! `target/release/deps/process-* --ratios` measures the same paired instead (rounds of 50
//! capscope broadcasts then 50 glibc ones, alternating which goes first; the median of the
//! per-round ratios), which a loaded machine does not skew the way separate runs are; it
//! prints the time per call and per thread of each, and for one thread the ratio to a
//! calling-thread-only `capset`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capscope::{process, Cap, CapSet, CapState};
use criterion::{criterion_group, BenchmarkId, Criterion};

struct Idle {
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Idle {
    /// `n - 1` idle threads, so that the process has `n` with the caller.
    fn spawn(n: usize) -> Idle {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (1..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(Duration::from_millis(100));
                    }
                })
            })
            .collect();
        Idle { stop, handles }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            h.thread().unpark();
            h.join().unwrap();
        }
    }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn bench(c: &mut Criterion) {
    let start = CapState::get_current().unwrap();
    // Toggle one capability in the effective set (when there is one to toggle).
    let a = CapState {
        effective: start.permitted,
        ..start
    };
    let b = CapState {
        effective: start.permitted.difference(CapSet::from(Cap::CHOWN)),
        ..start
    };
    let (mut ruid, mut euid, mut suid) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    let got = unsafe { libc::getresuid(&mut ruid, &mut euid, &mut suid) };
    assert_eq!(got, 0);

    let mut group = c.benchmark_group("process_wide");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for n in [1usize, 8, 64] {
        let idle = Idle::spawn(n);
        std::thread::sleep(Duration::from_millis(20));
        eprintln!(
            "process_wide/{n}: {} threads in /proc/self/task",
            thread_count()
        );
        let mut flip = false;
        group.bench_with_input(BenchmarkId::new("capscope_set_caps", n), &n, |bch, _| {
            bch.iter(|| {
                flip = !flip;
                process::set_caps(if flip { &a } else { &b }).unwrap()
            });
        });
        group.bench_with_input(BenchmarkId::new("glibc_setresuid", n), &n, |bch, _| {
            bch.iter(|| {
                // SAFETY: setting the ids to their current values; glibc broadcasts to every
                // thread (its setxid signal), the kernel then changes nothing.
                let r = unsafe { libc::setresuid(ruid, euid, suid) };
                assert_eq!(r, 0);
            });
        });
        if euid == 0 {
            let mut gflip = false;
            group.bench_with_input(
                BenchmarkId::new("glibc_setresgid_change", n),
                &n,
                |bch, _| {
                    bch.iter(|| {
                        gflip = !gflip;
                        // SAFETY: flips the effective gid between 0 and 1 (root has CAP_SETGID).
                        let r = unsafe { libc::setresgid(u32::MAX, u32::from(gflip), u32::MAX) };
                        assert_eq!(r, 0);
                    });
                },
            );
            // SAFETY: back to the effective gid 0.
            assert_eq!(unsafe { libc::setresgid(u32::MAX, 0, u32::MAX) }, 0);
        }
        group.bench_with_input(
            BenchmarkId::new("capset_calling_thread_only", n),
            &n,
            |bch, _| {
                bch.iter(|| {
                    flip = !flip;
                    (if flip { &a } else { &b }).set_current().unwrap();
                });
            },
        );
        idle.stop();
        start.set_current().unwrap();
    }
    group.finish();
}

/// The median over `rounds` of (time of `n` calls of `a` / time of `n` calls of `b`), running
/// them back to back and alternating which goes first; also the mean time per call of each.
fn paired(rounds: usize, n: u32, a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> (f64, f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let (mut sa, mut sb) = (0.0, 0.0);
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|i| {
            let (ta, tb) = if i % 2 == 0 {
                let ta = time(a);
                (ta, time(b))
            } else {
                let tb = time(b);
                (time(a), tb)
            };
            sa += ta;
            sb += tb;
            ta / tb
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let calls = (rounds as f64) * f64::from(n);
    (ratios[rounds / 2], sa / calls, sb / calls)
}

fn ratios() {
    let start = CapState::get_current().unwrap();
    let a = CapState {
        effective: start.permitted,
        ..start
    };
    let b = CapState {
        effective: start.permitted.difference(CapSet::from(Cap::CHOWN)),
        ..start
    };
    let (mut ruid, mut euid, mut suid) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    let got = unsafe { libc::getresuid(&mut ruid, &mut euid, &mut suid) };
    assert_eq!(got, 0);
    for n in [1usize, 8, 64] {
        let idle = Idle::spawn(n);
        std::thread::sleep(Duration::from_millis(20));
        let mut flip = false;
        let mut capscope_call = || {
            flip = !flip;
            process::set_caps(if flip { &a } else { &b }).unwrap();
        };
        let mut glibc_call = || {
            // SAFETY: the current ids again; glibc broadcasts, the kernel changes nothing.
            assert_eq!(unsafe { libc::setresuid(ruid, euid, suid) }, 0);
        };
        let rounds = if n == 64 { 41 } else { 101 };
        let (r, tc, tg) = paired(rounds, 50, &mut capscope_call, &mut glibc_call);
        let per = |t: f64| t * 1e6 / n as f64;
        println!(
            "{n:>2} threads ({} listed): capscope {:.1} us ({:.2} us/thread), glibc setresuid {:.1} us ({:.2} us/thread), paired ratio capscope/glibc {r:.3}",
            thread_count(),
            tc * 1e6,
            per(tc),
            tg * 1e6,
            per(tg)
        );
        if euid == 0 {
            let mut gflip = false;
            let mut glibc_change = || {
                gflip = !gflip;
                // SAFETY: flips the effective gid between 0 and 1 (root has CAP_SETGID); glibc
                // broadcasts, and every thread commits new credentials.
                let rc = unsafe { libc::setresgid(u32::MAX, u32::from(gflip), u32::MAX) };
                assert_eq!(rc, 0);
            };
            let (r, tc, tg) = paired(rounds, 50, &mut capscope_call, &mut glibc_change);
            println!(
                "{n:>2} threads, a change on every thread: capscope {:.1} us ({:.2} us/thread), glibc setresgid {:.1} us ({:.2} us/thread), paired ratio capscope/glibc {r:.3}",
                tc * 1e6,
                per(tc),
                tg * 1e6,
                per(tg)
            );
            // SAFETY: back to the effective gid 0.
            assert_eq!(unsafe { libc::setresgid(u32::MAX, 0, u32::MAX) }, 0);
        } else {
            println!("{n:>2} threads, a change on every thread: needs root (two gids)");
        }
        if n == 1 {
            let mut flip2 = false;
            let mut capset_call = || {
                flip2 = !flip2;
                (if flip2 { &a } else { &b }).set_current().unwrap();
            };
            let (r, tc, tk) = paired(101, 200, &mut capscope_call, &mut capset_call);
            println!(
                " 1 thread: capscope {:.2} us vs one capset {:.2} us, paired ratio {r:.3}",
                tc * 1e6,
                tk * 1e6
            );
        }
        idle.stop();
        start.set_current().unwrap();
    }
}

criterion_group!(benches, bench);

fn main() {
    if std::env::args().any(|a| a == "--ratios") {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

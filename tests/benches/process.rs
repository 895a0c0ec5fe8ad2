//! A process-wide effective-set change (`capscope::process::set_caps`) with 1, 8 and 64
//! threads, against glibc's own broadcast of the setuid family (`setresuid` with the current
//! ids, which glibc signals to every thread) and the single-thread `capset` floor, in one run.
//!
//! Run: `cargo bench -p capscope-tests --bench process`. Divide by the thread count for the
//! time per thread. criterion runs without its rayon feature so that the only threads are the
//! ones benchmarked (the count is printed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capscope::{process, Cap, CapSet, CapState};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

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

criterion_group!(benches, bench);
criterion_main!(benches);

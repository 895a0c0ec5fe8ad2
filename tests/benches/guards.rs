//! Guards against the raw system-call floor, in one run (criterion):
//!
//! - `cold`: raise one capability that is permitted but not effective, then restore it — the
//!   same 2 `capget` + 2 `capset` made directly through rustix, through a `RaiseGuard`, through
//!   a `#[requires_caps]` function and the same function with a hand-written guard, and through
//!   the `caps` and `capctl` crates;
//! - `warm`: the capability is already effective — 1 `capget` directly, and a guard (which
//!   makes no `capset`).
//!
//! As a normal user the benchmark first enters a new user namespace. `--probe-syscalls
//! cold|warm|raw N` runs N guarded calls and exits, for `strace -f -c -e trace=capget,capset`.
//! `--ratios` prints the ratios measured paired (a, b, a, b ... in rounds, median of
//! the per-round ratios), which a loaded machine does not skew the way separate runs are.

use std::hint::black_box;

use capscope::{requires_caps, Cap, CapState, RaiseGuard};
use criterion::Criterion;
use rustix::thread::{capabilities, set_capabilities, CapabilitySet};

const COLD: Cap = Cap::NET_RAW;
const WARM: Cap = Cap::NET_BIND_SERVICE;

#[requires_caps(net_raw)]
fn annotated(x: u64) -> u64 {
    black_box(x)
}

fn hand_written(x: u64) -> u64 {
    let _guard = match RaiseGuard::raise(COLD) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    };
    black_box(x)
}

fn raw_cold() {
    let bit = CapabilitySet::from_bits_retain(1 << COLD.as_u8());
    let mut s = capabilities(None).unwrap();
    let before = s.effective;
    s.effective |= bit;
    set_capabilities(None, s).unwrap();
    let mut s = capabilities(None).unwrap();
    s.effective = (s.effective - bit) | (before & bit);
    set_capabilities(None, s).unwrap();
}

fn setup() {
    let s = CapState::get_current().expect("capget");
    if !s.permitted.has(COLD) || !s.permitted.has(WARM) {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        // SAFETY: unshare takes flags only; main is still single-threaded.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
        assert_eq!(rc, 0, "cannot enter a user namespace");
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).expect("uid_map");
    }
    let s = CapState::get_current().expect("capget");
    CapState {
        effective: (s.effective - COLD) | WARM,
        ..s
    }
    .set_current()
    .expect("capset");
}

fn probe(kind: &str, n: u64) {
    for i in 0..n {
        match kind {
            "cold" => drop(black_box(annotated(i))),
            "warm" => drop(black_box(RaiseGuard::raise(WARM).expect("raise"))),
            "raw" => raw_cold(),
            other => panic!("unknown probe {other}"),
        }
    }
    assert!(!CapState::get_current().expect("capget").effective.has(COLD));
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cold");
    g.bench_function("raw_rustix", |b| b.iter(raw_cold));
    g.bench_function("raise_guard", |b| {
        b.iter(|| drop(black_box(RaiseGuard::raise(COLD).unwrap())))
    });
    g.bench_function("annotated_fn", |b| b.iter(|| annotated(black_box(1))));
    g.bench_function("hand_written_guard_fn", |b| {
        b.iter(|| hand_written(black_box(1)))
    });
    g.bench_function("with_caps", |b| {
        b.iter(|| capscope::with_caps(COLD, || black_box(1)).unwrap())
    });
    g.bench_function("caps_crate", |b| {
        b.iter(|| {
            caps::raise(None, caps::CapSet::Effective, caps::Capability::CAP_NET_RAW).unwrap();
            caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_NET_RAW).unwrap();
        });
    });
    g.bench_function("capctl_crate", |b| {
        b.iter(|| {
            let mut s = capctl::CapState::get_current().unwrap();
            s.effective.add(capctl::Cap::NET_RAW);
            s.set_current().unwrap();
            let mut s = capctl::CapState::get_current().unwrap();
            s.effective.drop(capctl::Cap::NET_RAW);
            s.set_current().unwrap();
        });
    });
    g.finish();
    let mut g = c.benchmark_group("warm");
    g.bench_function("raw_rustix_capget", |b| {
        b.iter(|| black_box(capabilities(None).unwrap()))
    });
    g.bench_function("raise_guard", |b| {
        b.iter(|| drop(black_box(RaiseGuard::raise(WARM).unwrap())))
    });
    g.finish();
}

/// The median over `rounds` of (time of `a` / time of `b`), each round running `n` calls of
/// `a` then `n` of `b` back to back, so that both see the same machine load.
fn paired_ratio(rounds: usize, n: u32, a: &dyn Fn(), b: &dyn Fn()) -> f64 {
    let time = |f: &dyn Fn()| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|i| {
            // Alternate which runs first.
            if i % 2 == 0 {
                let ta = time(a);
                ta / time(b)
            } else {
                let tb = time(b);
                time(a) / tb
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}

/// `--ratios`: the ratios, measured paired (see [`paired_ratio`]).
fn ratios() {
    let guard = || drop(black_box(RaiseGuard::raise(COLD).unwrap()));
    let annotated = || {
        black_box(annotated(1));
    };
    let hand = || {
        black_box(hand_written(1));
    };
    let warm_guard = || drop(black_box(RaiseGuard::raise(WARM).unwrap()));
    let capget = || {
        black_box(capabilities(None).unwrap());
    };
    println!(
        "cold RaiseGuard / raw rustix (2 capget + 2 capset): {:.3}",
        paired_ratio(301, 200, &guard, &raw_cold)
    );
    println!(
        "cold #[requires_caps] fn / hand-written guard fn:    {:.3}",
        paired_ratio(301, 200, &annotated, &hand)
    );
    println!(
        "cold #[requires_caps] fn / raw rustix:               {:.3}",
        paired_ratio(301, 200, &annotated, &raw_cold)
    );
    println!(
        "warm RaiseGuard / one raw capget:                    {:.3}",
        paired_ratio(301, 2000, &warm_guard, &capget)
    );
}

fn main() {
    setup();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--ratios") {
        ratios();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--probe-syscalls") {
        let n = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        probe(args.get(i + 1).map_or("cold", String::as_str), n);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

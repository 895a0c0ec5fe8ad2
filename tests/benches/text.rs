//! Parse + print of a capability state text: capscope against libcap's `cap_from_text` +
//! `cap_to_text` (loaded at run time), in the same run; plus a 16 MiB input (linear time)
//! and the `capget` system call as the floor of anything that touches the kernel.
//!
//! ```text
//! cargo bench -p capscope-tests --bench text
//! ```

#[path = "../support/libcap.rs"]
mod libcap;

use std::hint::black_box;

use capscope::{Cap, CapState};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const TEXT: &str = "cap_chown,cap_net_raw=ep cap_sys_admin+i";

fn round_trip(c: &mut Criterion) {
    let lc = libcap::Libcap::load().unwrap_or_else(|why| panic!("{why}"));
    let ctext = std::ffi::CString::new(TEXT).unwrap();
    let ours = TEXT.parse::<CapState>().unwrap().to_string();
    assert_eq!(
        lc.round_trip(&ctext).as_deref(),
        Some(ours.as_str()),
        "libcap and capscope disagree"
    );

    let mut g = c.benchmark_group("parse+print");
    g.bench_function("capscope", |b| {
        b.iter(|| {
            let s: CapState = black_box(TEXT).parse().unwrap();
            black_box(s.to_string())
        })
    });
    g.bench_function("libcap", |b| {
        b.iter(|| black_box(lc.round_trip_len(black_box(&ctext))))
    });
    g.bench_function("capget syscall floor", |b| {
        b.iter(|| black_box(CapState::get_current().unwrap()))
    });
    g.finish();
}

fn sixteen_mib(c: &mut Criterion) {
    let mut input = Vec::with_capacity(16 << 20);
    while input.len() < 16 << 20 {
        input.extend_from_slice(b"cap_chown,cap_kill+e-e+p cap_sys_admin=ip\t");
    }
    let mut g = c.benchmark_group("parse 16 MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("capscope", |b| {
        b.iter(|| black_box(CapState::from_text_for(black_box(&input), Cap::LAST_KNOWN).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, round_trip, sixteen_mib);
criterion_main!(benches);

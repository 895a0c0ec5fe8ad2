//! `capscope decode` against `capsh --decode` on 1,200 values: every single bit (up to 63,
//! past the kernel's last capability and past 40), random masks over all 64 bits, and the
//! odd spellings capsh's `strtoull` accepts (no prefix, upper case, signs, spaces, trailing
//! garbage, overflow, nothing at all).

mod common;

use capscope_tests::Rng;
use common::{capscope, libcap, run};

fn values() -> Vec<String> {
    let mut v: Vec<String> = (0..64).map(|n| format!("0x{:x}", 1u64 << n)).collect();
    v.extend(
        [
            "0",
            "",
            "0x",
            "zz",
            "-1",
            "-0x2",
            "+0x10",
            " 0x10g",
            "\t7",
            "0X1F",
            "FFFFFFFFFFFFFFFF",
            "ffffffffffffffffffff",
            "-ffffffffffffffffffff",
            "0x0000000000000001",
            "1ffffffffff",
            "3fffffffffff",
            "0xg",
            "- 1",
            "0x-1",
            "10000000000000000",
        ]
        .map(String::from),
    );
    let mut r = Rng(0xdec0_de5e_ed00_0001);
    while v.len() < 1200 {
        let bits = match r.below(4) {
            0 => r.next_u64(),
            1 => r.next_u64() & r.next_u64() & ((1 << 41) - 1), // known capabilities only
            2 => r.next_u64() & !((1 << 41) - 1),               // above the last known one
            _ => r.next_u64() >> r.below(64),
        };
        v.push(match r.below(4) {
            0 => format!("{bits:x}"),
            1 => format!("0x{bits:X}"),
            2 => format!("0x{bits:016x}"),
            _ => format!("{bits:#x}"),
        });
    }
    v
}

#[test]
fn thousand_values_byte_for_byte() {
    let v = values();
    let theirs = run(libcap("capsh").args(v.iter().map(|x| format!("--decode={x}"))));
    let ours = run(capscope().arg("decode").args(&v));
    assert_eq!(theirs.status, Some(0), "{theirs:?}");
    assert_eq!(theirs.stdout.lines().count(), v.len());
    for ((t, o), x) in theirs.stdout.lines().zip(ours.stdout.lines()).zip(&v) {
        assert_eq!(o, t, "decode {x:?}");
    }
    assert_eq!(ours, theirs);
    assert!(ours.stdout.contains("0x0000020000000000=41\n"));
    assert!(ours.stdout.contains("0x8000000000000000=63\n"));
    assert!(ours.stdout.contains("0x0000000000002000=cap_net_raw\n"));
}

#[test]
fn usage() {
    let r = run(capscope().arg("decode"));
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.starts_with("usage: capscope decode"), "{r:?}");
    let r = run(capscope().args(["decode", "--help"]));
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.starts_with("usage: capscope decode"), "{r:?}");
}

//! Differential tests against the real libcap (`libcap.so.2`, loaded at run time): for random
//! states, `Display` must equal `cap_to_text`; for random and grammar-generated texts (valid and
//! invalid), what capscope accepts libcap accepts with the same state, and what libcap rejects
//! capscope rejects. capscope may be stricter only for hex/octal/leading-zero numbers and NUL.
//!
//! A missing libcap fails these tests (with the reason); the RNG is seeded, so a failure
//! reproduces.

#[path = "../support/libcap.rs"]
mod libcap;

use capscope::{Cap, CapSet, CapState};
use capscope_tests::Rng;
use libcap::Libcap;

fn load() -> Libcap {
    match Libcap::load() {
        Ok(l) => l,
        Err(why) => panic!("{why}"),
    }
}

/// The kernel's last capability, checked to be the one libcap uses.
fn last(lc: &Libcap) -> Cap {
    let last = capscope::kernel::last_supported().expect("kernel's last capability");
    assert_eq!(
        lc.max_bits(),
        u32::from(last.as_u8()) + 1,
        "libcap's cap_max_bits() disagrees with capscope's kernel::last_supported()"
    );
    last
}

/// A random set: dense, sparse, or with a few exceptions, over all 64 bits or the named ones.
fn random_set(r: &mut Rng) -> CapSet {
    let base = match r.below(6) {
        0 => 0,
        1 => u64::MAX,
        2 => CapSet::all_known().bits(),
        3 => r.next_u64() & r.next_u64(),
        4 => r.next_u64() | r.next_u64(),
        _ => r.next_u64(),
    };
    let mut bits = base;
    for _ in 0..r.below(4) {
        bits ^= 1 << r.below(64);
    }
    CapSet::from_bits(bits)
}

fn random_state(r: &mut Rng) -> CapState {
    CapState {
        effective: random_set(r),
        permitted: random_set(r),
        inheritable: random_set(r),
    }
}

#[test]
fn display_equals_cap_to_text_for_random_states() {
    let lc = load();
    let last = last(&lc);
    let mut r = Rng(0x5eed_0001);
    let mut n = 0;
    for i in 0..20_000 {
        let s = if i < 64 * 8 {
            // Every single capability with every flag combination.
            let (cap, t) = (Cap::from_u8((i / 8) as u8).unwrap(), i % 8);
            let one = |f: usize| {
                if t & f != 0 {
                    CapSet::from(cap)
                } else {
                    CapSet::empty()
                }
            };
            CapState {
                effective: one(1),
                permitted: one(2),
                inheritable: one(4),
            }
        } else {
            random_state(&mut r)
        };
        let ours = s.text_for(last).to_string();
        let theirs = lc.to_text(&s);
        assert_eq!(ours, theirs, "cap_to_text differs for {s:?}");
        if last == Cap::LAST_KNOWN {
            assert_eq!(s.to_string(), theirs);
        }
        // Both parse the text back to the same state.
        assert_eq!(
            lc.parse(theirs.as_bytes()),
            Some(s),
            "libcap does not read back {theirs:?}"
        );
        assert_eq!(
            CapState::from_text_for(ours.as_bytes(), last),
            Ok(s),
            "we do not read back {ours:?}"
        );
        n += 1;
    }
    assert!(n >= 10_000);
}

const NAMES: &[&str] = &[
    "cap_chown",
    "CAP_NET_RAW",
    "Cap_Sys_Admin",
    "cap_setpcap",
    "cap_checkpoint_restore",
    "cap_bpf",
    "cap_kill",
    "cap_setfcap",
    "all",
    "ALL",
    "All",
    "cap_ſys_admin",
    "cap_sys_admin2",
    "chown",
    "cap_",
    "cap",
    "_",
    "cap_net_raw_",
    "allx",
    "all_",
    "cap_chown\u{0}",
    "x",
];

fn random_number(r: &mut Rng) -> String {
    match r.below(10) {
        0 => format!("0{}", r.below(64)),
        1 => format!("0x{:x}", r.below(70)),
        2 => format!("0X{:X}", r.below(70)),
        3 => format!("{}", 41 + r.below(23)),
        4 => format!("{}", 60 + r.below(10)),
        5 => "18446744073709551657".to_owned(),
        6 => "0".to_owned(),
        7 => format!("{}x", r.below(10)),
        _ => format!("{}", r.below(64)),
    }
}

fn random_item(r: &mut Rng) -> String {
    if r.chance(30) {
        random_number(r)
    } else if r.chance(90) {
        let name = Cap::from_u8(r.below(41) as u8).unwrap().name().unwrap();
        match r.below(3) {
            0 => name.to_ascii_uppercase(),
            1 => name.to_owned(),
            _ => name
                .chars()
                .map(|c| {
                    if r.chance(50) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
        }
    } else {
        (r.pick(NAMES)).to_owned()
    }
}

const SPACES: &[&str] = &[
    " ", "  ", "\t", "\n", "\u{b}", "\u{c}", "\r", " \t\n", "\u{a0}", "\u{0}", "",
];
const OPS: &[&str] = &["=", "+", "-", "=+", "=-", "==", "+-", "", "!", "="];
const FLAGS: &[&str] = &[
    "e", "i", "p", "ep", "eip", "pie", "ee", "", "E", "P", "x", "e ", "eip", "pi",
];

/// A clause of libcap's grammar, mostly valid, sometimes with a deliberate mistake.
fn random_clause(r: &mut Rng) -> String {
    let mut s = String::new();
    if !r.chance(10) {
        let n = 1 + r.below(4);
        for k in 0..n {
            if k > 0 {
                s.push_str(if r.chance(97) {
                    ","
                } else {
                    r.pick(&[",,", ", ", ""])
                });
            }
            s.push_str(&random_item(r));
        }
    }
    let actions = 1 + r.below(3);
    for k in 0..actions {
        let op = if k == 0 {
            r.pick(OPS)
        } else {
            r.pick(&["+", "-", "+", "-", "="])
        };
        s.push_str(if r.chance(92) { op } else { "" });
        s.push_str(r.pick(FLAGS));
    }
    if r.chance(5) {
        s.push_str(r.pick(&["+", "-", ",", "=", "+e-"]));
    }
    s
}

fn random_text(r: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    if r.chance(20) {
        s.push_str(r.pick(SPACES));
    }
    for k in 0..r.below(5) {
        if k > 0 {
            s.push_str(if r.chance(95) { " " } else { r.pick(SPACES) });
        }
        s.push_str(&random_clause(r));
    }
    if r.chance(20) {
        s.push_str(r.pick(SPACES));
    }
    let mut bytes = s.into_bytes();
    // Byte-level mutations reach what the generator does not.
    for _ in 0..if r.chance(25) { 1 + r.below(3) } else { 0 } {
        let at = r.below(bytes.len() + 1);
        match r.below(4) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, r.pick(b"=+-,eipEIP0189x_ \t\x0b\x0c\x00\xc5\xbf\xff")),
            2 if at < bytes.len() => bytes[at] = r.pick(b"=+-,eip 0a_\x00\xc5"),
            _ => bytes.insert(at, (r.next_u64() & 0xff) as u8),
        }
    }
    bytes
}

/// Whether capscope may refuse what libcap accepts: a number in hex, octal or with a leading
/// zero, or a NUL byte (libcap stops reading there).
fn stricter_allowed(text: &[u8], err: &capscope::ParseStateError) -> bool {
    let at = err.offset();
    text.get(at) == Some(&0)
        || (text.get(at) == Some(&b'0')
            && text
                .get(at + 1)
                .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'x' | b'X')))
}

/// Compares one text; returns whether capscope accepted it.
fn compare(lc: &Libcap, last: Cap, text: &[u8], stricter: &mut usize) -> bool {
    let ours = CapState::from_text_for(text, last);
    let theirs = lc.parse(text);
    if let Ok(s) = std::str::from_utf8(text) {
        if last == Cap::LAST_KNOWN {
            assert_eq!(
                s.parse::<CapState>(),
                ours,
                "FromStr and from_text_for differ on {s:?}"
            );
        }
    }
    match (&ours, theirs) {
        (Ok(a), Some(b)) => assert_eq!(
            *a,
            b,
            "different states for {:?}",
            String::from_utf8_lossy(text)
        ),
        (Ok(a), None) => panic!(
            "we accept {:?} as {a:?}; libcap rejects it",
            String::from_utf8_lossy(text)
        ),
        (Err(e), Some(b)) => {
            assert!(
                stricter_allowed(text, e),
                "libcap accepts {:?} as {b:?}; we reject it: {e}",
                String::from_utf8_lossy(text)
            );
            *stricter += 1;
        }
        (Err(e), None) => assert!(e.offset() <= text.len()),
    }
    ours.is_ok()
}

#[test]
fn parsing_agrees_with_cap_from_text_on_generated_texts() {
    let lc = load();
    let last = last(&lc);
    let mut r = Rng(0x5eed_0002);
    let (mut accepted, mut rejected, mut stricter) = (0, 0, 0);
    for _ in 0..40_000 {
        let text = random_text(&mut r);
        if compare(&lc, last, &text, &mut stricter) {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // The generator must exercise both sides substantially.
    assert!(
        accepted >= 5_000 && rejected >= 5_000,
        "accepted {accepted}, rejected {rejected}"
    );
    assert!(stricter > 0, "no hex/octal/NUL case was generated");
    eprintln!("generated texts: {accepted} accepted, {rejected} rejected, {stricter} refused only by capscope");
}

#[test]
fn parsing_agrees_with_cap_from_text_on_hard_cases() {
    let lc = load();
    let last = last(&lc);
    let mut stricter = 0;
    let hard: &[&[u8]] = &[
        b"",
        b" ",
        b"=",
        b"all=e",
        b"ALL=eip",
        b"all",
        b"=ep",
        b" = e",
        b"=+e",
        b"=-e",
        b"+e",
        b"-e",
        b"cap_chown=+e",
        b"cap_chown=-e",
        b"cap_chown=+",
        b"cap_chown=-",
        b"cap_chown=+ ",
        b"cap_chown+e-e+p",
        b"cap_chown=ei-e",
        b"cap_chown+e-",
        b"cap_chown+e+",
        b"cap_chown=e+",
        b"cap_chown=e ",
        b"cap_chown= e",
        b"cap_chown=e,",
        b"cap_chown,=e",
        b"cap_chown,,cap_kill=e",
        b",cap_chown=e",
        b"cap_chown",
        b"cap_chown =e",
        b"cap_chown==e",
        b"cap_chown=E",
        b"CAP_CHOWN=e",
        b"cap_\xc5\xbfys_admin=e",
        b"cap_sys_admin\xc5\xbf=e",
        b"cap_chown=e\x00cap_kill=p",
        b"cap_chown=e\x00",
        b"\x00",
        b"cap_chown=\x0be",
        b"cap_chown=e\x0bcap_kill=p",
        b"cap_chown=e\x0ccap_kill=p\r\n",
        b"cap_chown=e\xa0cap_kill=p",
        b"41=p",
        b"63=p",
        b"64=p",
        b"40,41,42,63=eip",
        b"all,41=e",
        b"41,all=e",
        b"cap_chown,41,all,cap_kill=e",
        b"=ep 41-ep",
        b"=ep 41+ep",
        b"010=p",
        b"00=p",
        b"0=p",
        b"0x10=p",
        b"0X1=p",
        b"0x=p",
        b"1x=p",
        b"99999999999999999999999=p",
        b"18446744073709551616=p",
        b"cap_chown=p,cap_kill",
        b"=p cap_chown",
        b"=p cap_chown=",
        b"=e\t=p",
        b"_=e",
        b"cap_chown=pp",
        b"cap_chown=e=p",
        b"cap_chown=e+p-i+e",
        b"cap_chown+e=p",
        b"cap_chown=\xff",
        b"\xff=e",
    ];
    let mut accepted = 0;
    for text in hard {
        if compare(&lc, last, text, &mut stricter) {
            accepted += 1;
        }
    }
    assert!(accepted > 20, "accepted {accepted}");
    // NUL (3 texts), 010, 00, 0x10, 0X1.
    assert_eq!(stricter, 7);
    // All the states from random texts built only of numbers and flags, including 41..=63.
    let mut r = Rng(0x5eed_0003);
    for _ in 0..10_000 {
        let mut text = String::new();
        for _ in 0..1 + r.below(4) {
            let list: Vec<String> = (0..1 + r.below(3))
                .map(|_| r.below(64).to_string())
                .collect();
            text.push_str(&list.join(","));
            text.push_str(r.pick(&["=", "+", "-", "=+", "=-"]));
            text.push_str(r.pick(&["e", "i", "p", "ei", "ep", "ip", "eip"]));
            text.push(' ');
        }
        assert!(
            compare(&lc, last, text.as_bytes(), &mut stricter),
            "{text:?} must parse"
        );
    }
}

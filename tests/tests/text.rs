//! libcap's text form of capability states: known texts, round trips over all masks
//! (proptest), error positions, linear-time inputs of 16 MiB, and allocation counts.
//! The comparison with libcap itself is in `libcap_diff.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use capscope::{Cap, CapSet, CapState};
use proptest::prelude::*;

/// Counts the calling thread's allocations (libtest runs each test on its own thread).
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds alloc's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds dealloc's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds realloc's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCS.with(Cell::get);
    let out = f();
    (out, ALLOCS.with(Cell::get) - before)
}

fn state(e: u64, p: u64, i: u64) -> CapState {
    CapState {
        effective: CapSet::from_bits(e),
        permitted: CapSet::from_bits(p),
        inheritable: CapSet::from_bits(i),
    }
}

const CHOWN: u64 = 1;
const KILL: u64 = 1 << 5;
const ALL: u64 = (1 << 41) - 1;

#[test]
fn known_texts() {
    // (text libcap prints, state); every one checked against libcap in libcap_diff.rs too.
    let cases = [
        ("=", state(0, 0, 0)),
        ("=ep", state(ALL, ALL, 0)),
        ("=eip", state(ALL, ALL, ALL)),
        ("cap_chown=ep", state(CHOWN, CHOWN, 0)),
        (
            "cap_chown,cap_kill=ei",
            state(CHOWN | KILL, 0, CHOWN | KILL),
        ),
        ("cap_kill=i cap_chown+e", state(CHOWN, 0, KILL)),
        ("=ep cap_chown-e", state(ALL & !CHOWN, ALL, 0)),
        ("=p cap_chown-p", state(0, ALL & !CHOWN, 0)),
        ("cap_chown=p 41+p", state(0, CHOWN | 1 << 41, 0)),
        ("= 41+p", state(0, 1 << 41, 0)),
        ("= 42+i 41+p", state(0, 1 << 41, 1 << 42)),
        (
            "=ep 41,63+ep",
            state(ALL | 1 << 41 | 1 << 63, ALL | 1 << 41 | 1 << 63, 0),
        ),
    ];
    for (text, s) in cases {
        assert_eq!(s.to_string(), text);
        assert_eq!(text.parse::<CapState>(), Ok(s), "{text}");
    }
}

#[test]
fn libcap_quirks_are_reproduced() {
    let p = |t: &str| t.parse::<CapState>().unwrap();
    assert_eq!(p("cap_chown=+e"), p("cap_chown=e"));
    assert_eq!(p("cap_chown=-e"), CapState::empty());
    assert_eq!(p("cap_chown+e-e+p"), state(0, CHOWN, 0));
    assert_eq!(p("all,41=e"), state(ALL | 1 << 41, 0, 0));
    assert_eq!(p("41,all=e"), state(ALL, 0, 0)); // `all` replaces what was listed before it
    assert_eq!(p("Cap_Chown=e\u{b}cap_kill=p\u{c}"), state(CHOWN, KILL, 0));
    assert_eq!(p("=e\t=p"), state(0, ALL, 0));
    assert_eq!(p(" \t\n\r"), CapState::empty());
}

#[test]
fn rejected_texts_report_where_and_what() {
    let cases: &[(&str, usize, &str)] = &[
        ("cap_chown", 9, "operator"),
        ("cap_chown+", 10, "flag"),
        ("cap_chown+e-", 12, "flag"),
        ("=+e", 1, "flag"),
        ("+e", 0, "capability list"),
        ("cap_chown,=e", 10, "capability name"),
        ("cap_chown=E", 10, "flag"),
        ("cap_ſys_admin=e", 0, "capability name"),
        ("cap_chown=e\0", 11, "NUL"),
        ("010=p", 0, "leading zeros"),
        ("0x10=p", 0, "leading zeros"),
        ("64=p", 0, "0 to 63"),
        ("cap_chown=e cap_kill=p all", 26, "operator"),
        ("cap_chown=\u{b}e", 11, "capability name"),
    ];
    for &(text, offset, word) in cases {
        let e = text.parse::<CapState>().unwrap_err();
        assert_eq!(e.offset(), offset, "{text:?}: {e}");
        assert!(e.expected().contains(word), "{text:?}: {e}");
        assert!(e.to_string().contains(&format!("byte {offset}")));
    }
    assert!(CapState::from_text_for(b"cap_chown=e \xff", Cap::LAST_KNOWN).is_err());
}

#[test]
fn sixteen_mib_inputs_are_answered() {
    const N: usize = 16 << 20;
    let mut valid = Vec::with_capacity(N + 32);
    while valid.len() < N {
        valid.extend_from_slice(b"cap_chown,cap_kill+e-e+p cap_sys_admin=ip\t");
    }
    assert_eq!(
        CapState::from_text_for(&valid, Cap::LAST_KNOWN),
        Ok(state(0, CHOWN | KILL | 1 << 21, 1 << 21))
    );

    let spaces = vec![b' '; N];
    assert_eq!(
        CapState::from_text_for(&spaces, Cap::LAST_KNOWN),
        Ok(CapState::empty())
    );

    let mut long_list = b"cap_chown".repeat(N / 10);
    long_list
        .iter_mut()
        .skip(9)
        .step_by(9)
        .for_each(|b| *b = b',');
    long_list.extend_from_slice(b"=p");
    // ",ap_chown" items: the second item is not a name.
    assert_eq!(
        CapState::from_text_for(&long_list, Cap::LAST_KNOWN)
            .unwrap_err()
            .offset(),
        10
    );
    let mut long_list = b"cap_chown,".repeat(N / 10);
    long_list.extend_from_slice(b"cap_kill=p");
    assert_eq!(
        CapState::from_text_for(&long_list, Cap::LAST_KNOWN),
        Ok(state(0, CHOWN | KILL, 0))
    );

    let mut digits = vec![b'1'; N];
    digits.extend_from_slice(b"=e");
    assert_eq!(
        CapState::from_text_for(&digits, Cap::LAST_KNOWN)
            .unwrap_err()
            .offset(),
        0
    );
    let mut letters = vec![b'a'; N];
    letters.extend_from_slice(b"=e");
    assert_eq!(
        CapState::from_text_for(&letters, Cap::LAST_KNOWN)
            .unwrap_err()
            .offset(),
        0
    );
    let mut flags = b"cap_chown=".to_vec();
    flags.resize(N, b'e');
    assert_eq!(
        CapState::from_text_for(&flags, Cap::LAST_KNOWN),
        Ok(state(CHOWN, 0, 0))
    );
    let mut ops = b"cap_chown".to_vec();
    while ops.len() < N {
        ops.extend_from_slice(b"+e-i");
    }
    assert_eq!(
        CapState::from_text_for(&ops, Cap::LAST_KNOWN),
        Ok(state(CHOWN, 0, 0))
    );
}

#[test]
fn parsing_allocates_nothing_and_printing_allocates_once() {
    let text = "cap_chown,cap_net_raw=ep cap_sys_admin+i";
    let (s, n) = allocations(|| text.parse::<CapState>().unwrap());
    assert_eq!(n, 0, "parsing allocated");
    let (out, n) = allocations(|| s.to_string());
    assert_eq!(out, "cap_sys_admin=i cap_chown,cap_net_raw+ep"); // libcap's encoding
    assert_eq!(n, 1, "printing must allocate the output string once");
    // The longest texts too: every capability in its own group.
    let worst = state(
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0f0f_0f0f_0f0f_0f0f,
    );
    let (out, n) = allocations(|| worst.to_string());
    assert!(out.len() > 500);
    assert_eq!(n, 1);
}

#[test]
fn width_and_alignment_are_honoured() {
    let s: CapState = "cap_chown=p".parse().unwrap();
    assert_eq!(format!("[{s:>14}]"), "[   cap_chown=p]");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn display_parses_back_for_every_mask(e in any::<u64>(), p in any::<u64>(), i in any::<u64>()) {
        let s = state(e, p, i);
        prop_assert_eq!(s.to_string().parse::<CapState>(), Ok(s));
    }

    #[test]
    fn display_parses_back_for_every_kernel(e in any::<u64>(), p in any::<u64>(), i in any::<u64>(), last in 0u8..64) {
        let s = state(e, p, i);
        let last = Cap::from_u8(last).unwrap();
        let text = s.text_for(last).to_string();
        prop_assert_eq!(CapState::from_text_for(text.as_bytes(), last), Ok(s));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Err(e) = CapState::from_text_for(&bytes, Cap::LAST_KNOWN) {
            prop_assert!(e.offset() <= bytes.len());
        }
    }

    #[test]
    fn sparse_states_round_trip(bits in proptest::collection::vec((0u8..64, 0u8..8), 0..6), base in 0u8..8) {
        // Mostly-uniform states with a few exceptions: the encodings with `-` clauses.
        let all = |f: u8| if base & f != 0 { u64::MAX } else { 0 };
        let mut s = state(all(1), all(2), all(4));
        for (n, t) in bits {
            let c = Cap::from_u8(n).unwrap();
            for (f, set) in [(1, &mut s.effective), (2, &mut s.permitted), (4, &mut s.inheritable)] {
                if t & f != 0 { set.add(c) } else { set.drop(c) }
            }
        }
        prop_assert_eq!(s.to_string().parse::<CapState>(), Ok(s));
    }
}

//! The real libcap (`libcap.so.2`), loaded at run time with `libloading`, as an oracle for the
//! differential tests and the benchmark. Shared by `tests/libcap_diff.rs` and
//! `benches/text.rs` through `#[path]`; capscope itself never links libcap.

#![allow(dead_code, unreachable_pub)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};

use capscope::{CapSet, CapState};
use libloading::Library;

type CapT = *mut c_void;

/// libcap's `cap_flag_t`.
const CAP_EFFECTIVE: c_int = 0;
const CAP_PERMITTED: c_int = 1;
const CAP_INHERITABLE: c_int = 2;
const CAP_SET: c_int = 1;

/// The functions of libcap this oracle calls.
pub struct Libcap {
    init: unsafe extern "C" fn() -> CapT,
    from_text: unsafe extern "C" fn(*const c_char) -> CapT,
    to_text: unsafe extern "C" fn(CapT, *mut isize) -> *mut c_char,
    get_flag: unsafe extern "C" fn(CapT, c_int, c_int, *mut c_int) -> c_int,
    set_flag: unsafe extern "C" fn(CapT, c_int, c_int, *const c_int, c_int) -> c_int,
    max_bits: unsafe extern "C" fn() -> c_int,
    free: unsafe extern "C" fn(*mut c_void) -> c_int,
    _lib: Library,
}

/// The library's path on Debian and the soname, tried in this order.
const CANDIDATES: [&str; 2] = ["/usr/lib/x86_64-linux-gnu/libcap.so.2", "libcap.so.2"];

impl Libcap {
    /// Loads libcap, or explains why it cannot (the caller fails the test with this message).
    pub fn load() -> Result<Libcap, String> {
        let mut why = Vec::new();
        for path in CANDIDATES {
            // SAFETY: loading libcap runs its constructor, which only probes the kernel's
            // capability count (prctl); it has no other global effect.
            match unsafe { Library::new(path) } {
                Ok(lib) => return Libcap::resolve(lib),
                Err(e) => why.push(format!("{path}: {e}")),
            }
        }
        Err(format!(
            "libcap.so.2 is needed as the oracle and could not be loaded ({}); install Debian's \
             libcap2 (`apt-get install libcap2`, as .ci/run does)",
            why.join("; ")
        ))
    }

    fn resolve(lib: Library) -> Result<Libcap, String> {
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol has this C signature in libcap 2.x (sys/capability.h).
                *unsafe { lib.get($name) }
                    .map_err(|e| format!("libcap lacks {}: {e}", stringify!($name)))?
            };
        }
        Ok(Libcap {
            init: sym!(b"cap_init\0"),
            from_text: sym!(b"cap_from_text\0"),
            to_text: sym!(b"cap_to_text\0"),
            get_flag: sym!(b"cap_get_flag\0"),
            set_flag: sym!(b"cap_set_flag\0"),
            max_bits: sym!(b"cap_max_bits\0"),
            free: sym!(b"cap_free\0"),
            _lib: lib,
        })
    }

    /// libcap's `cap_max_bits()`: the running kernel's capability count, as libcap sees it.
    pub fn max_bits(&self) -> u32 {
        // SAFETY: no arguments.
        let n = unsafe { (self.max_bits)() };
        u32::try_from(n).expect("cap_max_bits is positive")
    }

    /// `cap_from_text` on the C string `text` (the bytes up to the first NUL, as C reads them):
    /// the state it yields, or `None` when libcap rejects the text.
    pub fn parse(&self, text: &[u8]) -> Option<CapState> {
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let c = CString::new(&text[..end]).expect("no NUL before end");
        // SAFETY: c is a valid NUL-terminated string.
        let cap = unsafe { (self.from_text)(c.as_ptr()) };
        if cap.is_null() {
            return None;
        }
        let state = self.read(cap);
        // SAFETY: cap came from cap_from_text and is freed once.
        unsafe { (self.free)(cap) };
        Some(state)
    }

    fn read(&self, cap: CapT) -> CapState {
        let get = |flag: c_int| {
            let mut bits = 0u64;
            for n in 0..64 {
                let mut v: c_int = 0;
                // SAFETY: cap is a live cap_t; v a valid out-pointer.
                let rc = unsafe { (self.get_flag)(cap, n, flag, &mut v) };
                assert_eq!(rc, 0, "cap_get_flag({n}) failed");
                if v != 0 {
                    bits |= 1 << n;
                }
            }
            CapSet::from_bits(bits)
        };
        CapState {
            effective: get(CAP_EFFECTIVE),
            permitted: get(CAP_PERMITTED),
            inheritable: get(CAP_INHERITABLE),
        }
    }

    /// `cap_to_text` of `state` (built with `cap_init` and `cap_set_flag`).
    pub fn to_text(&self, state: &CapState) -> String {
        // SAFETY: no arguments; the result is checked.
        let cap = unsafe { (self.init)() };
        assert!(!cap.is_null(), "cap_init failed");
        for (flag, set) in [
            (CAP_EFFECTIVE, state.effective),
            (CAP_PERMITTED, state.permitted),
            (CAP_INHERITABLE, state.inheritable),
        ] {
            for c in set.iter() {
                let one = [c_int::from(c.as_u8())];
                // SAFETY: one holds one valid capability number.
                let rc = unsafe { (self.set_flag)(cap, flag, 1, one.as_ptr(), CAP_SET) };
                assert_eq!(rc, 0, "cap_set_flag({c:?}) failed");
            }
        }
        let text = self.text_of(cap);
        // SAFETY: cap came from cap_init and is freed once.
        unsafe { (self.free)(cap) };
        text
    }

    fn text_of(&self, cap: CapT) -> String {
        // SAFETY: cap is a live cap_t; a NULL length pointer is allowed.
        let p = unsafe { (self.to_text)(cap, std::ptr::null_mut()) };
        assert!(!p.is_null(), "cap_to_text failed");
        // SAFETY: p is the NUL-terminated string cap_to_text returned.
        let s = unsafe { CStr::from_ptr(p) }
            .to_str()
            .expect("ASCII")
            .to_owned();
        // SAFETY: p came from cap_to_text and is freed once.
        unsafe { (self.free)(p.cast()) };
        s
    }

    /// `cap_from_text` then `cap_to_text`, as a program using libcap would round-trip a text
    /// (the benchmark's unit of work). `None` when the text is rejected.
    pub fn round_trip(&self, text: &CStr) -> Option<String> {
        // SAFETY: text is a valid C string.
        let cap = unsafe { (self.from_text)(text.as_ptr()) };
        if cap.is_null() {
            return None;
        }
        let s = self.text_of(cap);
        // SAFETY: cap came from cap_from_text and is freed once.
        unsafe { (self.free)(cap) };
        Some(s)
    }

    /// Like [`round_trip`](Self::round_trip) but only checks the length, without building a
    /// Rust `String` (for the benchmark).
    pub fn round_trip_len(&self, text: &CStr) -> usize {
        // SAFETY: text is a valid C string.
        let cap = unsafe { (self.from_text)(text.as_ptr()) };
        assert!(!cap.is_null());
        let mut len: isize = 0;
        // SAFETY: cap is a live cap_t; len a valid out-pointer.
        let p = unsafe { (self.to_text)(cap, &mut len) };
        assert!(!p.is_null());
        // SAFETY: each pointer came from libcap and is freed once.
        unsafe {
            (self.free)(p.cast());
            (self.free)(cap);
        }
        usize::try_from(len).expect("non-negative")
    }
}

//! Outer attributes (`#[inline]`, `#[must_use]`, doc comments, `#[cfg]`), lifetimes and
//! `extern "C"` functions keep working.
#![deny(warnings, missing_docs, unused_must_use)]

use capscope::{drop_caps_after, requires_caps};

/// Documented.
#[inline]
#[must_use]
#[requires_caps(net_raw)]
pub fn first<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

/// Documented, attributes after the macro.
#[requires_caps(net_raw)]
#[inline(always)]
#[must_use = "the length is the point"]
pub fn len<'a>(s: &'a str) -> usize {
    s.len()
}

/// Holds a reference.
pub struct Holder<'a>(pub &'a [u8]);

impl<'a> Holder<'a> {
    /// Elided and named lifetimes in a method.
    #[requires_caps(net_raw)]
    pub fn get(&self, i: usize) -> Option<&'a u8> {
        self.0.get(i)
    }
}

/// Callable from C.
#[requires_caps(net_raw)]
pub extern "C" fn from_c(x: u32) -> u32 {
    x + 1
}

/// Callable from C, unsafe.
///
/// # Safety
///
/// `p` must be valid for reads.
#[requires_caps(net_raw)]
pub unsafe extern "C" fn read_from_c(p: *const u8) -> u8 {
    // SAFETY: the caller's promise.
    unsafe { *p }
}

/// Drops, from C.
#[drop_caps_after]
pub extern "C" fn init_from_c() -> i32 {
    0
}

/// Only on Linux.
#[cfg(target_os = "linux")]
#[requires_caps(net_raw)]
pub fn linux_only() {}

fn main() {
    let _ = first("a", "b");
    let _ = len("abc");
    let _ = Holder(&[1]).get(0);
    let _ = (from_c, read_from_c, init_from_c, linux_only);
}

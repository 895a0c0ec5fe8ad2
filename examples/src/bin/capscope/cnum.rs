//! C's number parsing, as libcap's tools use it, so that `capscope` accepts and reads numbers
//! exactly as they do: `strtoul` (setcap's `-n`), `strtoull` with base 16 (capsh's `--decode`)
//! and `strtol` with base 10 (getpcaps' pids), in the C locale.

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtoull`/`strtol` found: the magnitude (saturated), whether there was a minus sign,
/// whether it overflowed 64 bits, and how many bytes they consumed (0 when there were no
/// digits: C then sets the end pointer to the start of the text).
struct Scan {
    magnitude: u64,
    negative: bool,
    overflow: bool,
    end: usize,
}

/// The shared part of glibc's `strtoul`/`strtol`: spaces, a sign, a base prefix, digits.
/// `base` is 0 (detect: `0x` hex, `0` octal, else decimal), 10 or 16.
fn scan(s: &[u8], base: u32) -> Scan {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let hex_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let base = match base {
        0 if hex_prefix => 16,
        0 if s.get(i) == Some(&b'0') => 8,
        0 => 10,
        b => b,
    };
    if base == 16 && hex_prefix {
        i += 2;
    }
    let start = i;
    let (mut magnitude, mut overflow) = (0u64, false);
    while let Some(d) = s.get(i).and_then(|&b| char::from(b).to_digit(base)) {
        match magnitude
            .checked_mul(u64::from(base))
            .and_then(|m| m.checked_add(u64::from(d)))
        {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    Scan {
        magnitude: if overflow { u64::MAX } else { magnitude },
        negative,
        overflow,
        end: if i == start { 0 } else { i },
    }
}

/// `strtoull(s, NULL, 16)`: hex digits after optional spaces, sign and `0x`; no digits is 0;
/// overflow is `u64::MAX`; a minus sign negates (modulo 2^64). Never fails.
pub(crate) fn strtoull_hex(s: &[u8]) -> u64 {
    let r = scan(s, 16);
    if r.overflow || !r.negative {
        r.magnitude
    } else {
        r.magnitude.wrapping_neg()
    }
}

/// `strtoul(s, &end, 0)` as setcap's `pos_uint` uses it: the value when the whole text is a
/// number, `None` when something follows it (or there is no number).
pub(crate) fn strtoul_whole(s: &[u8]) -> Option<u64> {
    let r = scan(s, 0);
    if r.end != s.len() || s.is_empty() {
        return None;
    }
    Some(if r.overflow || !r.negative {
        r.magnitude
    } else {
        r.magnitude.wrapping_neg()
    })
}

/// Why `strtol` followed by getpcaps' checks refuses a pid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PidError {
    /// `EINVAL`: something follows the number, or there is none.
    Invalid,
    /// `ERANGE`: beyond a `long`.
    Range,
    /// `EOVERFLOW`: negative, or beyond a `pid_t`.
    Overflow,
}

impl PidError {
    /// The errno getpcaps reports.
    pub(crate) fn errno(&self) -> i32 {
        match self {
            PidError::Invalid => libc::EINVAL,
            PidError::Range => libc::ERANGE,
            PidError::Overflow => libc::EOVERFLOW,
        }
    }
}

/// getpcaps' pid: `strtol(s, &end, 10)`, then refused when it overflowed a `long`, when
/// anything follows the digits, or when it is negative or not a `pid_t`. The empty text is
/// pid 0 (the end pointer is at the terminating NUL), as getpcaps reads it.
pub(crate) fn getpcaps_pid(s: &[u8]) -> Result<i32, PidError> {
    let r = scan(s, 10);
    let limit = if r.negative {
        1u64 << 63
    } else {
        (1u64 << 63) - 1
    };
    if r.overflow || r.magnitude > limit {
        return Err(PidError::Range);
    }
    // With no digits, the end pointer is the start of the text (`r.end` is 0).
    if r.end != s.len() {
        return Err(PidError::Invalid);
    }
    if r.negative && r.magnitude != 0 {
        return Err(PidError::Overflow);
    }
    i32::try_from(r.magnitude).map_err(|_| PidError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_as_strtoull() {
        for (s, v) in [
            ("0x1", 1),
            ("1", 1),
            ("zz", 0),
            ("", 0),
            ("-1", u64::MAX),
            (" 0x10g", 0x10),
            ("ffffffffffffffffffff", u64::MAX),
            ("-ffffffffffffffffffff", u64::MAX),
            ("0x", 0),
            ("0xg", 0),
            ("+1f", 0x1f),
            ("\t\n 3", 3),
            ("1 2", 1),
            ("FfFf", 0xffff),
        ] {
            assert_eq!(strtoull_hex(s.as_bytes()), v, "{s:?}");
        }
    }

    #[test]
    fn rootid_as_strtoul() {
        for (s, v) in [
            ("1000", Some(1000)),
            ("0x10", Some(16)),
            ("010", Some(8)),
            ("0", Some(0)),
            (" 5", Some(5)),
            ("+5", Some(5)),
            ("5 ", None),
            ("0x", None),
            ("08", None),
            ("abc", None),
            ("", None),
            ("99999999999999999999", Some(u64::MAX)),
            (" -5", Some(5u64.wrapping_neg())),
        ] {
            assert_eq!(strtoul_whole(s.as_bytes()), v, "{s:?}");
        }
    }

    #[test]
    fn pids_as_getpcaps() {
        use PidError::*;
        for (s, v) in [
            ("1", Ok(1)),
            ("", Ok(0)),
            ("+1", Ok(1)),
            (" 1", Ok(1)),
            ("-0", Ok(0)),
            ("1 ", Err(Invalid)),
            ("x", Err(Invalid)),
            ("   ", Err(Invalid)),
            ("+", Err(Invalid)),
            ("0x10", Err(Invalid)),
            ("-5", Err(Overflow)),
            ("2147483648", Err(Overflow)),
            ("2147483647", Ok(i32::MAX)),
            ("9223372036854775807", Err(Overflow)),
            ("9223372036854775808", Err(Range)),
            ("99999999999999999999", Err(Range)),
            ("99999999999999999999x", Err(Range)),
            ("-9223372036854775808", Err(Overflow)),
            ("-9223372036854775809", Err(Range)),
        ] {
            assert_eq!(getpcaps_pid(s.as_bytes()), v, "{s:?}");
        }
    }
}

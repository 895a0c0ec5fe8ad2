//! libcap's text form of a [`CapState`]: `cap_from_text` (parsing) and `cap_to_text`
//! (printing), byte for byte.
//!
//! The grammar (cap_from_text(3)): whitespace-separated clauses `LIST OP FLAGS [OP FLAGS]...`.
//! LIST is a comma-separated list of capability names (`cap_net_raw`, ASCII case-insensitive),
//! decimal numbers (0..=63) or `all`; an empty LIST means `all` and is allowed only before a
//! plain `=`. OP is `=`, `+` or `-` (and `=+` or `=-` right after a non-empty list); FLAGS are
//! `e`, `i` and `p` in any order, possibly repeated. Clauses apply from left to right to a
//! state that starts empty.
//!
//! capscope reads every accepted string exactly as libcap 2.66 does, including its quirks
//! (`=+e` after a list means `=e`, `=-e` means `=`; an `all` later in a list replaces the
//! capabilities listed before it). It is stricter in three places only: numbers written in hex,
//! octal or with a leading zero (`0x10`, `010`, `00`), which libcap reads with `strtoul(.., 0)`,
//! are refused; a NUL byte is an error (libcap stops reading there); only ASCII case folding
//! and the C locale's `isspace` separators (space, `\t`, `\n`, `\v`, `\f`, `\r`) are used.
//!
//! libcap adapts two things to the running kernel: `all` (and the empty list) mean every
//! capability up to the kernel's last one, and `cap_to_text` prints the capabilities above the
//! kernel's last one apart, as `+` clauses. [`CapState`]'s [`FromStr`] and [`Display`] behave
//! as libcap on a kernel whose last capability is [`Cap::LAST_KNOWN`] (Linux 5.9 and later, up
//! to the time of writing); [`CapState::from_text_for`] and [`CapState::text_for`] take the
//! kernel's last capability explicitly (see [`kernel::last_supported`](crate::kernel::last_supported)).
//!
//! Parsing is one left-to-right pass over the bytes (linear time, no allocation); printing
//! formats into a stack buffer and hands it to the formatter in one piece, so
//! `state.to_string()` allocates exactly once.

use std::fmt;
use std::str::FromStr;

use crate::model::cap::parse_cap_number;
use crate::{Cap, CapSet, CapState};

/// Why a capability state text did not parse: the byte offset of the first offending byte and
/// what was expected there.
///
/// # Examples
///
/// ```
/// use capscope::CapState;
///
/// let err = "cap_chown+q".parse::<CapState>().unwrap_err();
/// assert_eq!(err.offset(), 10);
/// assert_eq!(err.expected(), "a flag `e`, `i` or `p`");
/// assert_eq!(err.to_string(), "invalid capability text at byte 10: expected a flag `e`, `i` or `p`");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseStateError {
    offset: usize,
    expected: &'static str,
}

impl ParseStateError {
    /// The byte offset in the input where parsing failed (the input's length when it ended
    /// too early).
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// What the parser expected at [`offset`](Self::offset), in words.
    #[must_use]
    pub const fn expected(&self) -> &'static str {
        self.expected
    }
}

impl fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid capability text at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

impl std::error::Error for ParseStateError {}

const EXPECT_NAME: &str =
    "a capability name (`cap_net_raw`), a decimal number from 0 to 63, or `all`";
const EXPECT_LIST: &str = "a capability list before `+` or `-` (only `=` may have an empty list)";
const EXPECT_OP: &str = "an operator `=`, `+` or `-`";
const EXPECT_FLAG: &str = "a flag `e`, `i` or `p`";
const EXPECT_NUMBER: &str = "a decimal capability number without leading zeros (not hex or octal)";
const EXPECT_RANGE: &str = "a capability number from 0 to 63";
const EXPECT_NO_NUL: &str = "no NUL byte";

// libcap's numbering (LIBCAP_EFF, LIBCAP_PER, LIBCAP_INH): it orders `cap_to_text`'s clauses.
const FLAG_E: u8 = 1;
const FLAG_P: u8 = 2;
const FLAG_I: u8 = 4;

/// C's `isspace` in the C locale.
#[inline]
const fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Bytes that may start a list item, as libcap tests them (`isalnum || '_'`, C locale).
#[inline]
const fn starts_item(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    all: u64,
    sets: [u64; 3], // indexed by flag bit: 0 = e, 1 = p, 2 = i
}

impl Parser<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn err<T>(&self, at: usize, expected: &'static str) -> Result<T, ParseStateError> {
        Err(ParseStateError {
            offset: at,
            expected,
        })
    }

    /// One item of a list: `all`, a number or a name.
    fn item(&mut self, list: &mut u64) -> Result<(), ParseStateError> {
        let start = self.i;
        let rest = &self.s[start..];
        if rest.len() >= 3
            && rest[..3].eq_ignore_ascii_case(b"all")
            && !rest.get(3).is_some_and(|&b| starts_item(b))
        {
            // libcap's forceall() overwrites the list: capabilities listed before `all` above
            // the kernel's last one are dropped, those after it are kept.
            *list = self.all;
            self.i += 3;
            return Ok(());
        }
        if rest[0].is_ascii_digit() {
            let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let digits = &rest[..len];
            if digits[0] == b'0' && (len > 1 || matches!(rest.get(1), Some(b'x' | b'X'))) {
                return self.err(start, EXPECT_NUMBER);
            }
            let Some(cap) = parse_cap_number(digits) else {
                return self.err(start, EXPECT_RANGE);
            };
            *list |= 1 << cap.as_u8();
            self.i += len;
            return Ok(());
        }
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == b'_')
            .count();
        // The token is ASCII, hence valid UTF-8.
        let cap = std::str::from_utf8(&rest[..len])
            .ok()
            .and_then(Cap::from_name);
        match cap {
            Some(cap) => {
                *list |= 1 << cap.as_u8();
                self.i += len;
                Ok(())
            }
            None => self.err(start, EXPECT_NAME),
        }
    }

    #[inline]
    fn apply(&mut self, op: u8, list: u64, flags: u8) {
        if matches!(op, b'=' | b'P' | b'M') {
            for s in &mut self.sets {
                *s &= !list;
            }
        }
        for (bit, s) in self.sets.iter_mut().enumerate() {
            if flags & (1 << bit) != 0 {
                match op {
                    b'=' | b'P' | b'+' => *s |= list,
                    _ => *s &= !list,
                }
            }
        }
    }

    fn clause(&mut self) -> Result<(), ParseStateError> {
        let mut list = 0u64;
        let listed = starts_item(self.s[self.i]);
        if listed {
            loop {
                self.item(&mut list)?;
                if self.peek() != Some(b',') {
                    break;
                }
                self.i += 1;
                if !self.peek().is_some_and(starts_item) {
                    return self.err(self.i, EXPECT_NAME);
                }
            }
        } else if matches!(self.peek(), Some(b'+' | b'-')) {
            return self.err(self.i, EXPECT_LIST);
        } else {
            list = self.all;
        }

        let op_at = self.i;
        let mut op = match self.peek() {
            Some(op @ (b'=' | b'+' | b'-')) => op,
            _ => return self.err(op_at, if listed { EXPECT_OP } else { EXPECT_NAME }),
        };
        self.i += 1;
        if op == b'=' && matches!(self.peek(), Some(b'+' | b'-')) {
            if !listed {
                return self.err(self.i, EXPECT_FLAG);
            }
            // `=+` and `=-`: libcap clears the listed capabilities, then adds (or removes) flags.
            op = if self.s[self.i] == b'+' { b'P' } else { b'M' };
            self.i += 1;
        }

        let mut flags = 0u8;
        loop {
            match self.peek() {
                Some(b) if !is_c_space(b) => {
                    flags |= match b {
                        b'e' => FLAG_E,
                        b'i' => FLAG_I,
                        b'p' => FLAG_P,
                        _ => return self.err(self.i, EXPECT_FLAG),
                    };
                    self.i += 1;
                }
                _ if op != b'=' => return self.err(self.i, EXPECT_FLAG),
                _ => {}
            }
            self.apply(op, list, flags);
            if let Some(next @ (b'+' | b'-')) = self.peek() {
                if !listed {
                    return self.err(self.i, EXPECT_LIST);
                }
                flags = 0;
                op = next;
                self.i += 1;
                if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                    return self.err(self.i, EXPECT_FLAG);
                }
            }
            match self.peek() {
                Some(b) if !is_c_space(b) => {}
                _ => return Ok(()),
            }
        }
    }
}

/// Parses `text` as libcap's `cap_from_text` does on a kernel whose last capability is `last`.
pub(crate) fn parse(text: &[u8], last: Cap) -> Result<CapState, ParseStateError> {
    if let Some(at) = text.iter().position(|&b| b == 0) {
        return Err(ParseStateError {
            offset: at,
            expected: EXPECT_NO_NUL,
        });
    }
    let mut p = Parser {
        s: text,
        i: 0,
        all: CapSet::up_to(last).bits(),
        sets: [0; 3],
    };
    loop {
        while p.peek().is_some_and(is_c_space) {
            p.i += 1;
        }
        if p.i == text.len() {
            break;
        }
        p.clause()?;
    }
    Ok(CapState {
        effective: CapSet::from_bits(p.sets[0]),
        permitted: CapSet::from_bits(p.sets[1]),
        inheritable: CapSet::from_bits(p.sets[2]),
    })
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// Sum of the lengths of the library's names.
const NAMES_LEN: usize = {
    let mut n = 0;
    let mut total = 0;
    while n < Cap::KNOWN_COUNT {
        total += match Cap::from_u8(n) {
            Some(c) => match c.name() {
                Some(name) => name.len(),
                None => 0,
            },
            None => 0,
        };
        n += 1;
    }
    total
};

/// The longest text `cap_to_text` can produce: every name or number once with a comma, the
/// leading `=eip`, and at most 14 clauses each with a space and `+eip-eip`.
const MAX_TEXT: usize = NAMES_LEN + 64 * 3 + 4 + 14 * 9;

struct Buf {
    b: [u8; MAX_TEXT],
    len: usize,
}

impl Buf {
    #[inline]
    fn push(&mut self, byte: u8) {
        self.b[self.len] = byte;
        self.len += 1;
    }

    #[inline]
    fn push_str(&mut self, s: &str) {
        self.b[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
    }

    #[inline]
    fn push_flags(&mut self, f: u8) {
        if f & FLAG_E != 0 {
            self.push(b'e');
        }
        if f & FLAG_I != 0 {
            self.push(b'i');
        }
        if f & FLAG_P != 0 {
            self.push(b'p');
        }
    }

    fn push_cap(&mut self, n: u8) {
        match Cap::from_u8(n).and_then(Cap::name) {
            Some(name) => self.push_str(name),
            None => {
                if n >= 10 {
                    self.push(b'0' + n / 10);
                }
                self.push(b'0' + n % 10);
            }
        }
    }
}

/// The capabilities of `state` whose (e, i, p) flags are exactly `t`.
#[inline]
fn with_flags(s: &CapState, t: u8) -> u64 {
    let pick = |set: CapSet, flag: u8| {
        if t & flag != 0 {
            set.bits()
        } else {
            !set.bits()
        }
    };
    pick(s.effective, FLAG_E) & pick(s.inheritable, FLAG_I) & pick(s.permitted, FLAG_P)
}

/// Formats `s` as libcap's `cap_to_text`, for a kernel whose last capability is `last`.
fn format(s: &CapState, last: Cap, out: &mut Buf) -> usize {
    let cmb = u32::from(last.as_u8()) + 1; // libcap's cap_max_bits()
    let low = if cmb >= 64 {
        u64::MAX
    } else {
        (1u64 << cmb) - 1
    };
    let mut groups = [0u64; 8];
    let mut histo = [0u32; 8];
    for (t, g) in groups.iter_mut().enumerate() {
        *g = with_flags(s, t as u8);
        histo[t] = (*g & low).count_ones();
    }
    // The most common combination among the kernel's capabilities; ties go to fewer flags.
    let mut m = 7usize;
    for t in (0..7).rev() {
        if histo[t] >= histo[m] {
            m = t;
        }
    }
    let mut base = 0usize;
    out.push(b'=');
    out.push_flags(m as u8);
    for t in (0..8).rev() {
        if t == m || histo[t] == 0 {
            continue;
        }
        out.push(b' ');
        push_list(out, groups[t] & low);
        let add = (t & !m) as u8;
        if add != 0 {
            let mut op = b'+';
            if out.b[base] == b'=' && out.b[base + 1] == b' ' {
                // "= foo+eip ..." is shortened to "foo=eip ...".
                base += 2;
                op = b'=';
            }
            out.push(op);
            out.push_flags(add);
        }
        let sub = (!t & m) as u8;
        if sub != 0 {
            out.push(b'-');
            out.push_flags(sub);
        }
    }
    // Capabilities above the kernel's last one: only `+` clauses.
    for t in (1..8).rev() {
        let high = groups[t] & !low;
        if high == 0 {
            continue;
        }
        out.push(b' ');
        push_list(out, high);
        out.push(b'+');
        out.push_flags(t as u8);
    }
    base
}

fn push_list(out: &mut Buf, mut bits: u64) {
    let mut first = true;
    while bits != 0 {
        let n = bits.trailing_zeros() as u8;
        bits &= bits - 1;
        if !first {
            out.push(b',');
        }
        first = false;
        out.push_cap(n);
    }
}

/// A [`CapState`] in libcap's text form for a given kernel: see [`CapState::text_for`].
#[derive(Debug, Clone, Copy)]
pub struct StateText {
    state: CapState,
    last: Cap,
}

impl fmt::Display for StateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Buf {
            b: [0; MAX_TEXT],
            len: 0,
        };
        let base = format(&self.state, self.last, &mut buf);
        // Only ASCII was written.
        let text = std::str::from_utf8(&buf.b[base..buf.len]).map_err(|_| fmt::Error)?;
        f.pad(text)
    }
}

impl CapState {
    /// Parses libcap's text form as `cap_from_text` does on a kernel whose last capability is
    /// `last` (what `all` and an empty list mean: capabilities 0 up to `last`). Takes bytes, so
    /// non-UTF-8 input is rejected with a position like any other bad byte.
    ///
    /// # Errors
    ///
    /// [`ParseStateError`], with the byte offset, for anything libcap rejects, and for hex,
    /// octal or leading-zero numbers and NUL bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{Cap, CapSet, CapState};
    ///
    /// let older_kernel = Cap::from_u8(37).unwrap(); // Linux 5.4: up to CAP_AUDIT_READ
    /// let s = CapState::from_text_for(b"=p", older_kernel)?;
    /// assert_eq!(s.permitted, CapSet::up_to(older_kernel));
    /// # Ok::<(), capscope::ParseStateError>(())
    /// ```
    ///
    /// # References
    ///
    /// cap_from_text(3)
    #[doc(alias = "cap_from_text")]
    pub fn from_text_for(text: &[u8], last: Cap) -> Result<CapState, ParseStateError> {
        parse(text, last)
    }

    /// This state in libcap's text form as `cap_to_text` prints it on a kernel whose last
    /// capability is `last`; the result implements [`Display`](fmt::Display).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{Cap, CapState};
    ///
    /// let s: CapState = "cap_chown=ep cap_kill+i".parse()?;
    /// assert_eq!(s.text_for(Cap::LAST_KNOWN).to_string(), "cap_kill=i cap_chown+ep");
    /// let older_kernel = Cap::from_u8(37).unwrap();
    /// let s: CapState = "cap_bpf=p".parse()?;
    /// assert_eq!(s.text_for(older_kernel).to_string(), "= cap_bpf+p");
    /// # Ok::<(), capscope::ParseStateError>(())
    /// ```
    ///
    /// # References
    ///
    /// cap_to_text(3)
    #[doc(alias = "cap_to_text")]
    #[must_use]
    pub fn text_for(&self, last: Cap) -> StateText {
        StateText { state: *self, last }
    }
}

impl FromStr for CapState {
    type Err = ParseStateError;

    /// Parses libcap's text form (`cap_chown,cap_net_raw=ep cap_sys_admin+i`) exactly as
    /// libcap's `cap_from_text` does on a kernel whose last capability is [`Cap::LAST_KNOWN`];
    /// see the [grammar](CapState::from_text_for) and the few places capscope is stricter.
    ///
    /// ```
    /// use capscope::{Cap, CapState};
    ///
    /// let s: CapState = "cap_chown,cap_net_raw=ep cap_sys_admin+i".parse()?;
    /// assert!(s.effective.has(Cap::NET_RAW) && s.inheritable.has(Cap::SYS_ADMIN));
    /// assert!("010=p".parse::<CapState>().is_err()); // libcap reads 8; capscope refuses
    /// # Ok::<(), capscope::ParseStateError>(())
    /// ```
    fn from_str(s: &str) -> Result<CapState, ParseStateError> {
        parse(s.as_bytes(), Cap::LAST_KNOWN)
    }
}

impl fmt::Display for CapState {
    /// libcap's `cap_to_text`, byte for byte, as on a kernel whose last capability is
    /// [`Cap::LAST_KNOWN`]: the most common flag combination first (`=ep`), then the exceptions;
    /// capabilities 41..=63 as numbers in `+` clauses (`cap_chown=p 41+p`).
    ///
    /// ```
    /// use capscope::{Cap, CapSet, CapState};
    ///
    /// let mut s = CapState::empty();
    /// assert_eq!(s.to_string(), "=");
    /// s.permitted = CapSet::all_known();
    /// s.effective = CapSet::all_known() - Cap::CHOWN;
    /// assert_eq!(s.to_string(), "=ep cap_chown-e");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.text_for(Cap::LAST_KNOWN), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CapState, ParseStateError> {
        s.parse()
    }

    #[test]
    fn buffer_bound_holds_for_the_longest_text() {
        // Every capability in its own one-of-eight group maximises the text.
        let mut s = CapState::empty();
        for n in 0..64u8 {
            let t = n % 8;
            let c = Cap::from_u8(n).unwrap();
            if t & FLAG_E != 0 {
                s.effective.add(c);
            }
            if t & FLAG_I != 0 {
                s.inheritable.add(c);
            }
            if t & FLAG_P != 0 {
                s.permitted.add(c);
            }
        }
        let text = s.to_string();
        assert!(text.len() <= MAX_TEXT);
        assert_eq!(p(&text).unwrap(), s);
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(p("cap_chown+").unwrap_err().offset(), 10);
        assert_eq!(p("+e").unwrap_err().offset(), 0);
        assert_eq!(p("=+e").unwrap_err().offset(), 1);
        assert_eq!(p("cap_chown=e\0").unwrap_err().offset(), 11);
        assert_eq!(p("cap_chown=e cap_kilL+x").unwrap_err().offset(), 21);
        assert_eq!(p("0x1=e").unwrap_err().expected(), EXPECT_NUMBER);
        assert_eq!(p("64=e").unwrap_err().expected(), EXPECT_RANGE);
    }
}

//! [`CapSet`]: a set of capabilities, as the kernel stores it (a `u64` bitmask).

use std::fmt;
use std::ops::{
    BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Not, Sub, SubAssign,
};
use std::str::FromStr;

use crate::{Cap, ParseCapError};

/// A set of capabilities: a `u64` bitmask where bit `n` is capability `n`.
///
/// All 64 bits are kept, including those of capabilities the library does not name, so a set
/// read from the kernel and written back loses nothing. Every operation is a `const fn` or an
/// operator on the bitmask: no allocation, no system call.
///
/// # Examples
///
/// ```
/// use capscope::{capset, Cap, CapSet};
///
/// const NET: CapSet = capset![Cap::NET_RAW, Cap::NET_BIND_SERVICE];
/// let mut s = CapSet::empty();
/// s.add(Cap::NET_RAW);
/// assert!(NET.has(Cap::NET_RAW) && s.is_subset(NET));
/// assert_eq!(NET - s, CapSet::from(Cap::NET_BIND_SERVICE));
/// assert_eq!((NET | Cap::CHOWN).len(), 3);
/// assert_eq!(format!("{NET:?}"), "{NET_BIND_SERVICE, NET_RAW}");
/// let v: Vec<Cap> = NET.iter().collect();
/// assert_eq!(v, [Cap::NET_BIND_SERVICE, Cap::NET_RAW]);
/// assert_eq!(NET.to_string(), "cap_net_bind_service,cap_net_raw");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct CapSet(u64);

/// Builds a [`CapSet`] from capabilities; usable in `const` items.
///
/// ```
/// use capscope::{capset, Cap, CapSet};
/// const S: CapSet = capset![Cap::CHOWN, Cap::KILL];
/// assert_eq!(S.bits(), 0b10_0001);
/// assert_eq!(capset![], CapSet::empty());
/// ```
#[macro_export]
macro_rules! capset {
    ($($cap:expr),* $(,)?) => {
        $crate::CapSet::empty()$(.with($cap))*
    };
}

impl CapSet {
    /// The empty set.
    #[must_use]
    pub const fn empty() -> CapSet {
        CapSet(0)
    }

    /// Every capability the library names (0..=40).
    #[must_use]
    pub const fn all_known() -> CapSet {
        CapSet::up_to(Cap::LAST_KNOWN)
    }

    /// All 64 bits.
    #[must_use]
    pub const fn full() -> CapSet {
        CapSet(u64::MAX)
    }

    /// Capabilities 0 up to and including `last`.
    #[must_use]
    pub const fn up_to(last: Cap) -> CapSet {
        let n = last.as_u8();
        if n >= 63 {
            CapSet(u64::MAX)
        } else {
            CapSet((1u64 << (n + 1)) - 1)
        }
    }

    /// The set with exactly these bits (all 64 kept).
    #[must_use]
    pub const fn from_bits(bits: u64) -> CapSet {
        CapSet(bits)
    }

    /// The bitmask.
    #[must_use]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `cap` is in the set.
    #[must_use]
    pub const fn has(self, cap: Cap) -> bool {
        self.0 & (1 << cap.as_u8()) != 0
    }

    /// Whether every capability of `other` is in the set.
    #[must_use]
    pub const fn has_all(self, other: CapSet) -> bool {
        other.is_subset(self)
    }

    /// Adds `cap`.
    pub fn add(&mut self, cap: Cap) {
        *self = self.with(cap);
    }

    /// Removes `cap`.
    pub fn drop(&mut self, cap: Cap) {
        *self = self.without(cap);
    }

    /// The set with `cap` added.
    #[must_use]
    pub const fn with(self, cap: Cap) -> CapSet {
        CapSet(self.0 | (1 << cap.as_u8()))
    }

    /// The set with `cap` removed.
    #[must_use]
    pub const fn without(self, cap: Cap) -> CapSet {
        CapSet(self.0 & !(1 << cap.as_u8()))
    }

    /// Capabilities in either set.
    #[must_use]
    pub const fn union(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    /// Capabilities in both sets.
    #[must_use]
    pub const fn intersection(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// Capabilities in `self` but not in `other`.
    #[must_use]
    pub const fn difference(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// Capabilities in exactly one of the sets.
    #[must_use]
    pub const fn symmetric_difference(self, other: CapSet) -> CapSet {
        CapSet(self.0 ^ other.0)
    }

    /// Every capability (of all 64) not in the set.
    #[must_use]
    pub const fn complement(self) -> CapSet {
        CapSet(!self.0)
    }

    /// Whether every capability of `self` is in `other`.
    #[must_use]
    pub const fn is_subset(self, other: CapSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether every capability of `other` is in `self`.
    #[must_use]
    pub const fn is_superset(self, other: CapSet) -> bool {
        other.is_subset(self)
    }

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many capabilities the set holds.
    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The lowest capability in the set.
    #[must_use]
    pub const fn first(self) -> Option<Cap> {
        if self.0 == 0 {
            None
        } else {
            Cap::from_u8(self.0.trailing_zeros() as u8)
        }
    }

    /// The capabilities of the set that the library does not name (41..=63).
    #[must_use]
    pub const fn unknown(self) -> CapSet {
        self.difference(CapSet::all_known())
    }

    /// The capabilities in ascending order.
    #[must_use]
    pub const fn iter(self) -> Iter {
        Iter(self.0)
    }
}

/// Iterator over the capabilities of a [`CapSet`], in ascending order.
#[derive(Clone, Debug)]
pub struct Iter(u64);

impl Iterator for Iter {
    type Item = Cap;

    #[inline]
    fn next(&mut self) -> Option<Cap> {
        let cap = CapSet(self.0).first()?;
        self.0 &= self.0 - 1;
        Some(cap)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Cap> {
        if self.0 == 0 {
            return None;
        }
        let n = 63 - self.0.leading_zeros() as u8;
        self.0 &= !(1 << n);
        Cap::from_u8(n)
    }
}

impl ExactSizeIterator for Iter {}
impl std::iter::FusedIterator for Iter {}

impl IntoIterator for CapSet {
    type Item = Cap;
    type IntoIter = Iter;
    fn into_iter(self) -> Iter {
        self.iter()
    }
}

impl From<Cap> for CapSet {
    fn from(cap: Cap) -> CapSet {
        CapSet::empty().with(cap)
    }
}

impl<const N: usize> From<[Cap; N]> for CapSet {
    fn from(caps: [Cap; N]) -> CapSet {
        caps.into_iter().collect()
    }
}

impl FromIterator<Cap> for CapSet {
    fn from_iter<I: IntoIterator<Item = Cap>>(iter: I) -> CapSet {
        let mut s = CapSet::empty();
        s.extend(iter);
        s
    }
}

impl Extend<Cap> for CapSet {
    fn extend<I: IntoIterator<Item = Cap>>(&mut self, iter: I) {
        for c in iter {
            self.add(c);
        }
    }
}

impl fmt::Debug for CapSet {
    /// `{CHOWN, NET_RAW, Cap(45)}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for CapSet {
    /// libcap's list form: `cap_chown,cap_net_raw,45`; the empty set prints nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(&c, f)?;
        }
        Ok(())
    }
}

impl FromStr for CapSet {
    type Err = ParseCapError;

    /// Reads what [`Display`](#impl-Display-for-CapSet) prints: capabilities separated by
    /// commas, with no space (`cap_chown,cap_net_raw,45`). Each item is read as [`Cap`]'s
    /// `FromStr` reads it (any ASCII case, `cap_` optional, or a decimal number 0..=63), and
    /// may repeat. The empty text is the empty set, since that is how the empty set prints;
    /// an empty item (`cap_chown,`, `,,`) is an error.
    ///
    /// This is libcap's capability list, without the `=`, `+`, `-` operators and flags of its
    /// state text (for those, see [`CapState`](crate::CapState)), and without `all`.
    ///
    /// # Errors
    ///
    /// The [`ParseCapError`] of the first item that is not a capability
    /// ([`input`](ParseCapError::input) is that item, with a suggestion when there is one).
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::{capset, Cap, CapSet};
    ///
    /// let s: CapSet = "cap_chown,cap_net_raw,45".parse()?;
    /// assert_eq!(s, capset![Cap::CHOWN, Cap::NET_RAW, Cap::from_u8(45).unwrap()]);
    /// assert_eq!(s.to_string().parse::<CapSet>()?, s);
    /// assert_eq!("".parse::<CapSet>()?, CapSet::empty());
    /// assert_eq!("NET_RAW,13".parse::<CapSet>()?, CapSet::from(Cap::NET_RAW));
    /// let e = "cap_chown,cap_net_rwa".parse::<CapSet>().unwrap_err();
    /// assert_eq!((e.input(), e.suggestion()), ("cap_net_rwa", Some(Cap::NET_RAW)));
    /// assert!("cap_chown,".parse::<CapSet>().is_err());
    /// # Ok::<(), capscope::ParseCapError>(())
    /// ```
    fn from_str(s: &str) -> Result<CapSet, ParseCapError> {
        if s.is_empty() {
            return Ok(CapSet::empty());
        }
        s.split(',').map(str::parse::<Cap>).collect()
    }
}

macro_rules! binop {
    ($tr:ident $m:ident $atr:ident $am:ident $f:ident) => {
        impl<T: Into<CapSet>> $tr<T> for CapSet {
            type Output = CapSet;
            #[inline]
            fn $m(self, rhs: T) -> CapSet {
                self.$f(rhs.into())
            }
        }
        impl<T: Into<CapSet>> $atr<T> for CapSet {
            #[inline]
            fn $am(&mut self, rhs: T) {
                *self = self.$f(rhs.into());
            }
        }
    };
}
binop!(BitOr bitor BitOrAssign bitor_assign union);
binop!(BitAnd bitand BitAndAssign bitand_assign intersection);
binop!(BitXor bitxor BitXorAssign bitxor_assign symmetric_difference);
binop!(Sub sub SubAssign sub_assign difference);

impl Not for CapSet {
    type Output = CapSet;
    fn not(self) -> CapSet {
        self.complement()
    }
}

impl BitOr for Cap {
    type Output = CapSet;
    fn bitor(self, rhs: Cap) -> CapSet {
        CapSet::from(self).with(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algebra_keeps_all_bits() {
        let hi = CapSet::from_bits(1 << 63 | 1 << 41);
        let s = hi | Cap::CHOWN;
        assert_eq!(s.bits(), 1 << 63 | 1 << 41 | 1);
        assert_eq!(s.unknown(), hi);
        assert_eq!(s.iter().map(Cap::as_u8).collect::<Vec<_>>(), [0, 41, 63]);
        assert_eq!(
            s.iter().rev().map(Cap::as_u8).collect::<Vec<_>>(),
            [63, 41, 0]
        );
        assert_eq!(!CapSet::empty(), CapSet::full());
        assert_eq!(CapSet::up_to(Cap::MAX), CapSet::full());
        assert_eq!(CapSet::all_known().len(), 41);
        assert_eq!(s ^ hi, CapSet::from(Cap::CHOWN));
        assert_eq!(s & hi, hi);
        assert!(hi.is_subset(s) && s.is_superset(hi) && !s.is_subset(hi));
        let mut t = s;
        t -= hi;
        t |= Cap::KILL;
        t &= capset![Cap::KILL];
        assert_eq!(t, Cap::KILL.into());
        assert_eq!(format!("{s:?}"), "{CHOWN, Cap(41), Cap(63)}");
        assert_eq!(s.to_string(), "cap_chown,41,63");
        assert_eq!(CapSet::empty().to_string(), "");
    }

    #[test]
    fn text_round_trips_over_all_64_bits() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for k in 0..2000u32 {
            // xorshift; plus the edges.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bits = match k {
                0 => 0,
                1 => u64::MAX,
                2 => CapSet::all_known().bits(),
                3 => !CapSet::all_known().bits(),
                _ => x,
            };
            let s = CapSet::from_bits(bits);
            let text = s.to_string();
            assert_eq!(text.parse::<CapSet>(), Ok(s), "{text}");
            assert_eq!(text.to_ascii_uppercase().parse::<CapSet>(), Ok(s), "{text}");
        }
    }

    #[test]
    fn text_errors() {
        for bad in [
            ",",
            "cap_chown,",
            ",cap_chown",
            "cap_chown,,cap_kill",
            " cap_chown",
            "cap_chown, cap_kill",
            "all",
            "cap_chown=p",
            "64",
            "cap_chown;cap_kill",
        ] {
            assert!(bad.parse::<CapSet>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "chown,chown".parse::<CapSet>(),
            Ok(CapSet::from(Cap::CHOWN))
        );
        assert_eq!("cap_kill,x".parse::<CapSet>().unwrap_err().input(), "x");
    }
}

//! [`Cap`]: one Linux capability, named or not.

use std::fmt;
use std::str::FromStr;

/// One Linux capability: a number from 0 to 63.
///
/// The 41 capabilities this library knows are associated constants with their kernel names
/// ([`Cap::CHOWN`] = 0 … [`Cap::CHECKPOINT_RESTORE`] = 40). Numbers 41..=63 (capabilities newer
/// than the library) are representable through [`Cap::from_u8`] and kept everywhere; they print
/// as numbers, as libcap prints them. A `Cap` above 63 cannot be built: the kernel's 64-bit
/// capability sets have no room for it.
///
/// # Examples
///
/// ```
/// use capscope::Cap;
///
/// assert_eq!(Cap::NET_RAW.as_u8(), 13);
/// assert_eq!(Cap::NET_RAW.to_string(), "cap_net_raw");
/// assert_eq!("CAP_NET_RAW".parse::<Cap>().unwrap(), Cap::NET_RAW);
/// assert_eq!("net_raw".parse::<Cap>().unwrap(), Cap::NET_RAW); // `cap_` is optional
/// assert_eq!("13".parse::<Cap>().unwrap(), Cap::NET_RAW);
/// let future = Cap::from_u8(45).unwrap();
/// assert_eq!(future.to_string(), "45");
/// assert_eq!(future.name(), None);
/// assert!(Cap::from_u8(64).is_none());
/// let typo = "net_rwa".parse::<Cap>().unwrap_err();
/// assert_eq!(typo.suggestion(), Some(Cap::NET_RAW));
/// ```
///
/// # References
///
/// capabilities(7)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cap(u8);

macro_rules! cap_table {
    ($($num:literal $name:ident $text:literal $desc:literal;)*) => {
        impl Cap {
            $(
                #[doc = $desc]
                #[doc = ""]
                #[doc = concat!("`", $text, "`, number ", stringify!($num), ".")]
                pub const $name: Cap = Cap($num);
            )*
        }

        /// (libcap name, kernel constant name, description), indexed by number.
        const TABLE: &[(&str, &str, &str)] = &[$(($text, stringify!($name), $desc)),*];
        const NUMBERS: &[u8] = &[$($num),*];
    };
}
capscope_macros::__cap_table!(cap_table);

// Entry `n` of the table must be capability `n`.
const _: () = {
    let mut i = 0;
    while i < NUMBERS.len() {
        assert!(
            NUMBERS[i] as usize == i,
            "the capability table must list capabilities in order"
        );
        i += 1;
    }
};

impl Cap {
    /// How many capabilities this library names (41: [`Cap::CHOWN`] … [`Cap::CHECKPOINT_RESTORE`]).
    pub const KNOWN_COUNT: u8 = TABLE.len() as u8;

    /// The highest capability this library names.
    pub const LAST_KNOWN: Cap = Cap(Cap::KNOWN_COUNT - 1);

    /// The highest capability number a 64-bit capability set can hold.
    pub const MAX: Cap = Cap(63);

    /// The capability with number `n`, or `None` when `n` is 64 or more.
    #[must_use]
    pub const fn from_u8(n: u8) -> Option<Cap> {
        if n <= 63 {
            Some(Cap(n))
        } else {
            None
        }
    }

    /// The capability's number.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// Whether this library names the capability (numbers 0..=40).
    #[must_use]
    pub const fn is_known(self) -> bool {
        self.0 < Cap::KNOWN_COUNT
    }

    /// libcap's name (`"cap_net_raw"`), or `None` for a capability the library does not name.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        if self.is_known() {
            Some(TABLE[self.0 as usize].0)
        } else {
            None
        }
    }

    /// The kernel constant's name without `CAP_` (`"NET_RAW"`), or `None` when not named.
    #[must_use]
    pub const fn kernel_name(self) -> Option<&'static str> {
        if self.is_known() {
            Some(TABLE[self.0 as usize].1)
        } else {
            None
        }
    }

    /// A one-line description of what the capability allows, or `None` when not named.
    #[must_use]
    pub const fn description(self) -> Option<&'static str> {
        if self.is_known() {
            Some(TABLE[self.0 as usize].2)
        } else {
            None
        }
    }

    /// Every capability the library names, in order.
    pub fn known() -> impl DoubleEndedIterator<Item = Cap> + ExactSizeIterator + Clone {
        (0..Cap::KNOWN_COUNT).map(Cap)
    }

    /// Every representable capability, 0..=63, in order.
    pub fn all() -> impl DoubleEndedIterator<Item = Cap> + ExactSizeIterator + Clone {
        (0..=63).map(Cap)
    }

    /// Looks a capability up by libcap name (ASCII case-insensitive, `cap_` prefix required);
    /// numbers are not accepted here, see [`FromStr`](#impl-FromStr-for-Cap).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Cap> {
        let b = name.as_bytes();
        if b.len() < 4 || !b[..4].eq_ignore_ascii_case(b"cap_") {
            return None;
        }
        Cap::from_bare_name(&name[4..])
    }

    /// Looks a capability up by its name without the `cap_` prefix (`"net_raw"`, any ASCII case).
    #[must_use]
    pub fn from_bare_name(bare: &str) -> Option<Cap> {
        TABLE
            .iter()
            .position(|(text, _, _)| text[4..].eq_ignore_ascii_case(bare))
            .map(|i| Cap(i as u8))
    }
}

impl fmt::Display for Cap {
    /// libcap's name (`cap_net_raw`), or the number for capabilities the library does not name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kernel_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Cap({})", self.0),
        }
    }
}

/// Why a capability name did not parse; with the nearest known name when the text looks like
/// a typo of one.
///
/// # Examples
///
/// ```
/// use capscope::Cap;
///
/// let e = "CAP_SYS_ADMN".parse::<Cap>().unwrap_err();
/// assert_eq!(e.input(), "CAP_SYS_ADMN");
/// assert_eq!(e.suggestion(), Some(Cap::SYS_ADMIN));
/// assert!(e.to_string().ends_with("did you mean cap_sys_admin?"));
/// assert_eq!("frobnicate".parse::<Cap>().unwrap_err().suggestion(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCapError {
    input: String,
    suggestion: Option<Cap>,
}

impl ParseCapError {
    pub(crate) fn new(input: &str) -> ParseCapError {
        ParseCapError {
            input: input.to_owned(),
            suggestion: suggest(input),
        }
    }

    /// The text that was not a capability.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The known capability whose name is nearest to the input (Levenshtein distance, ASCII
    /// case and the `cap_` prefix ignored), if it is near enough to be a likely typo.
    #[must_use]
    pub fn suggestion(&self) -> Option<Cap> {
        self.suggestion
    }
}

impl fmt::Display for ParseCapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a capability: expected a name such as cap_net_raw or net_raw \
             (any ASCII case) or a decimal number from 0 to 63 without leading zeros",
            self.input
        )?;
        match self.suggestion {
            Some(c) => write!(f, "; did you mean {c}?"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ParseCapError {}

/// Levenshtein distance between two ASCII-lowercased byte strings.
fn distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The known capability nearest to `name` (ASCII case and a `cap_` prefix ignored), when the
/// distance is at most a third of the name's length, and at least 2: the rule the attribute
/// macros use for their compile-time suggestions.
pub(crate) fn suggest(name: &str) -> Option<Cap> {
    let b = name.as_bytes();
    let bare = if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"cap_") {
        &b[4..]
    } else {
        b
    };
    let (best, d) = Cap::known()
        .map(|c| {
            (
                c,
                distance(bare, &c.name().unwrap_or_default().as_bytes()[4..]),
            )
        })
        .min_by_key(|&(_, d)| d)?;
    (d <= (bare.len() / 3).max(2)).then_some(best)
}

/// Parses a decimal capability number 0..=63: ASCII digits only, no sign, no leading zero.
pub(crate) fn parse_cap_number(s: &[u8]) -> Option<Cap> {
    match s {
        [] => None,
        [b'0'] => Some(Cap(0)),
        [b'0', ..] => None,
        _ if s.len() > 2 || !s.iter().all(u8::is_ascii_digit) => None,
        _ => {
            let n = s.iter().fold(0u8, |n, d| n * 10 + (d - b'0'));
            Cap::from_u8(n)
        }
    }
}

impl FromStr for Cap {
    type Err = ParseCapError;

    /// A capability name in any ASCII case, with or without the `cap_` prefix (`cap_net_raw`,
    /// `CAP_NET_RAW`, `net_raw`, `NET_RAW`: the spellings the attribute macros take), or a
    /// decimal number from 0 to 63 without leading zeros. Anything else is an error, with the
    /// nearest name as a [suggestion](ParseCapError::suggestion) when there is one: `0x0d`,
    /// `013`, `13 `, `+13`, `cap_`, non-ASCII text.
    ///
    /// libcap's text (`CapState`'s `FromStr`) stays strict, as libcap is: there, a name needs
    /// its `cap_` prefix.
    ///
    /// No allocation unless the text is not a capability.
    fn from_str(s: &str) -> Result<Cap, ParseCapError> {
        Cap::from_name(s)
            .or_else(|| Cap::from_bare_name(s))
            .or_else(|| parse_cap_number(s.as_bytes()))
            .ok_or_else(|| ParseCapError::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_consistent() {
        assert_eq!(Cap::KNOWN_COUNT, 41);
        assert_eq!(Cap::CHECKPOINT_RESTORE, Cap::LAST_KNOWN);
        for c in Cap::known() {
            let name = c.name().unwrap();
            assert_eq!(
                name,
                format!("cap_{}", c.kernel_name().unwrap().to_ascii_lowercase())
            );
            assert_eq!(name.parse::<Cap>().unwrap(), c);
            assert_eq!(name.to_ascii_uppercase().parse::<Cap>().unwrap(), c);
            assert_eq!(c.as_u8().to_string().parse::<Cap>().unwrap(), c);
            assert!(!c.description().unwrap().is_empty());
        }
    }

    #[test]
    fn numbers() {
        for n in 0..=63u8 {
            let c = Cap::from_u8(n).unwrap();
            assert_eq!(n.to_string().parse::<Cap>().unwrap(), c);
            if n > 40 {
                assert_eq!(c.to_string(), n.to_string());
            }
        }
        for n in 64..=255u8 {
            assert!(Cap::from_u8(n).is_none());
        }
        for bad in [
            "64",
            "100",
            "010",
            "00",
            "0x10",
            "+1",
            "-1",
            " 1",
            "1 ",
            "",
            "cap_",
            "cap_cap_chown",
            "_chown",
            "cap_chown ",
            "cap_chownx",
            "cap_ſys_admin",
            "cap_chown\0",
            "all",
            "CAP-CHOWN",
            "١",
        ] {
            assert!(bad.parse::<Cap>().is_err(), "{bad:?} must not parse");
        }
        assert_eq!("0".parse::<Cap>().unwrap(), Cap::CHOWN);
        assert_eq!("Cap_Sys_Admin".parse::<Cap>().unwrap(), Cap::SYS_ADMIN);
    }

    #[test]
    fn every_spelling_the_macros_take() {
        for c in Cap::known() {
            let k = c.kernel_name().unwrap();
            for s in [
                k.to_owned(),
                k.to_ascii_lowercase(),
                format!("cap_{}", k.to_ascii_lowercase()),
                format!("CAP_{k}"),
                format!("Cap_{k}"),
            ] {
                assert_eq!(s.parse::<Cap>(), Ok(c), "{s}");
            }
        }
        // Bare names stay out of libcap's text, which needs the prefix as libcap does.
        assert!("chown=p".parse::<crate::CapState>().is_err());
        assert!("cap_chown=p".parse::<crate::CapState>().is_ok());
    }

    #[test]
    fn suggestions() {
        let sug = |s: &str| s.parse::<Cap>().unwrap_err().suggestion();
        assert_eq!(sug("net_bind_servce"), Some(Cap::NET_BIND_SERVICE));
        assert_eq!(sug("CAP_SYS_ADMN"), Some(Cap::SYS_ADMIN));
        assert_eq!(sug("cap_chwon"), Some(Cap::CHOWN));
        assert_eq!(sug("sysadmin"), Some(Cap::SYS_ADMIN));
        assert_eq!(sug("frobnicate_everything"), None);
        assert_eq!(sug("64"), None);
        let e = "net_rwa".parse::<Cap>().unwrap_err();
        assert!(
            e.to_string().ends_with("; did you mean cap_net_raw?"),
            "{e}"
        );
        assert_eq!(distance(b"kitten", b"sitting"), 3);
        assert_eq!(distance(b"", b"abc"), 3);
        assert_eq!(distance(b"ABC", b"abc"), 0);
    }

    #[test]
    fn display_and_debug() {
        assert_eq!(Cap::SYS_ADMIN.to_string(), "cap_sys_admin");
        assert_eq!(format!("{:?}", Cap::SYS_ADMIN), "SYS_ADMIN");
        assert_eq!(format!("{:?}", Cap::from_u8(50).unwrap()), "Cap(50)");
    }
}

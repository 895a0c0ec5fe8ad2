//! [`Entry`]: one record of the manifest, as the macros write it into the program and as
//! `capscope manifest` reads it back from the file.
//!
//! A record is 512 bytes of plain data with no pointer (so it can be read from the file without
//! applying relocations), every integer little-endian whatever the target, strings as UTF-8
//! bytes with their length:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..8 | magic `CAPSCOPE` |
//! | 8..10 | layout version, 1 |
//! | 10 | kind: 1 `#[requires_caps]`, 2 `#[drop_caps_after]` |
//! | 11 | flags: 1 exclusive, 2 bounding, 4 no_new_privs, 8 all_threads, 16 uid, 32 gid, 64 user |
//! | 12 | truncated: 1 function, 2 file, 4 user |
//! | 13 | length of the user name |
//! | 14..16, 16..18 | lengths of the function path and of the file |
//! | 18..20 | reserved, 0 |
//! | 20..24 | line |
//! | 24..32 | capabilities: raised (`requires_caps`) or kept (`drop_caps_after`), bit n = cap n |
//! | 32..36, 36..40 | uid, gid (when their flag is set) |
//! | 40..280 | function path, `module::path::name` (240 bytes) |
//! | 280..480 | source file (200 bytes) |
//! | 480..512 | user name (32 bytes) |
//!
//! A string longer than its field keeps its end (the function's name, the file's name), cut on
//! a character boundary, and is marked truncated.

use std::fmt;

use crate::drop_after::DropOptions;
use crate::{Cap, CapSet};

/// The size of one record, in bytes.
pub const RECORD_SIZE: usize = 512;

/// The name of the ELF section that holds the records (a `linkme` distributed slice: the
/// records of every crate of the program, one after the other).
pub const SECTION: &str = "linkme_CAPSCOPE_MANIFEST";

const MAGIC: [u8; 8] = *b"CAPSCOPE";
const VERSION: u16 = 1;
const FUNCTION_MAX: usize = 240;
const FILE_MAX: usize = 200;
const USER_MAX: usize = 32;

const EXCLUSIVE: u8 = 1;
const BOUNDING: u8 = 2;
const NO_NEW_PRIVS: u8 = 4;
const ALL_THREADS: u8 = 8;
const UID: u8 = 16;
const GID: u8 = 32;
const USER: u8 = 64;
const KNOWN_FLAGS: u8 = 127;

const CUT_FUNCTION: u8 = 1;
const CUT_FILE: u8 = 2;
const CUT_USER: u8 = 4;

/// Which attribute an [`Entry`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `#[requires_caps]`: the function raises [`Entry::caps`] for each call.
    RequiresCaps,
    /// `#[drop_caps_after]`: the function drops every capability but [`Entry::caps`] when it
    /// ends.
    DropCapsAfter,
}

impl Kind {
    /// The attribute's name: `requires_caps` or `drop_caps_after`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kind::RequiresCaps => "requires_caps",
            Kind::DropCapsAfter => "drop_caps_after",
        }
    }
}

/// One annotated function: what its attribute declares, and where it is.
///
/// Made at compile time by the attribute macros (see [`manifest`](super)), or read from a
/// program's file with [`Entry::from_bytes`]. [`Display`](fmt::Display) prints it as the
/// attribute it comes from, followed by the function and its place:
///
/// ```text
/// #[drop_caps_after(keep(cap_net_bind_service), bounding, uid = 65534)] server::init at src/main.rs:42
/// ```
///
/// # Examples
///
/// ```
/// use capscope::manifest::{Entry, Kind};
///
/// for entry in capscope::manifest::entries() {
///     match entry.kind() {
///         Kind::RequiresCaps => println!("{} raises {}", entry.function(), entry.caps()),
///         Kind::DropCapsAfter => println!("{} drops all but {}", entry.function(), entry.caps()),
///     }
///     // The record as it is in the program's file, and back.
///     assert_eq!(Entry::from_bytes(&entry.to_bytes())?, *entry);
/// }
/// # Ok::<(), capscope::manifest::ParseEntryError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Entry {
    magic: [u8; 8],
    version: [u8; 2],
    kind: u8,
    flags: u8,
    truncated: u8,
    user_len: u8,
    function_len: [u8; 2],
    file_len: [u8; 2],
    reserved: [u8; 2],
    line: [u8; 4],
    caps: [u8; 8],
    uid: [u8; 4],
    gid: [u8; 4],
    function: [u8; FUNCTION_MAX],
    file: [u8; FILE_MAX],
    user: [u8; USER_MAX],
}

const _: () = assert!(
    size_of::<Entry>() == RECORD_SIZE && align_of::<Entry>() == 1,
    "the record layout is fixed"
);

/// The end of `s` that fits in `N` bytes, cut on a character boundary: (bytes, length, cut).
const fn tail<const N: usize>(s: &str) -> ([u8; N], usize, bool) {
    let b = s.as_bytes();
    let mut start = b.len().saturating_sub(N);
    while start < b.len() && b[start] & 0xC0 == 0x80 {
        start += 1;
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while start + i < b.len() {
        out[i] = b[start + i];
        i += 1;
    }
    (out, i, start > 0)
}

/// `flag` if `on`.
const fn bit(on: bool, flag: u8) -> u8 {
    if on {
        flag
    } else {
        0
    }
}

/// `u16::to_le_bytes` of a length no more than 240.
#[allow(clippy::cast_possible_truncation)] // the lengths are at most FUNCTION_MAX
const fn len16(n: usize) -> [u8; 2] {
    (n as u16).to_le_bytes()
}

impl Entry {
    /// The common part of both kinds.
    #[allow(clippy::cast_possible_truncation)] // user.1 is at most USER_MAX
    const fn base(kind: Kind, function: &str, caps: CapSet, file: &str, line: u32) -> Entry {
        let (function, function_len, cut_function) = tail::<FUNCTION_MAX>(function);
        let (file, file_len, cut_file) = tail::<FILE_MAX>(file);
        Entry {
            magic: MAGIC,
            version: VERSION.to_le_bytes(),
            kind: match kind {
                Kind::RequiresCaps => 1,
                Kind::DropCapsAfter => 2,
            },
            flags: 0,
            truncated: bit(cut_function, CUT_FUNCTION) | bit(cut_file, CUT_FILE),
            user_len: 0,
            function_len: len16(function_len),
            file_len: len16(file_len),
            reserved: [0; 2],
            line: line.to_le_bytes(),
            caps: caps.bits().to_le_bytes(),
            uid: [0; 4],
            gid: [0; 4],
            function,
            file,
            user: [0; USER_MAX],
        }
    }

    /// The record of a `#[requires_caps]` function (what the macro expansion writes).
    pub(crate) const fn requires(
        function: &str,
        caps: CapSet,
        exclusive: bool,
        file: &str,
        line: u32,
    ) -> Entry {
        let mut e = Entry::base(Kind::RequiresCaps, function, caps, file, line);
        if exclusive {
            e.flags |= EXCLUSIVE;
        }
        e
    }

    /// The record of a `#[drop_caps_after]` function (what the macro expansion writes).
    #[allow(clippy::cast_possible_truncation)] // the user name's length is at most USER_MAX
    pub(crate) const fn drop(function: &str, opts: &DropOptions, file: &str, line: u32) -> Entry {
        let mut e = Entry::base(Kind::DropCapsAfter, function, opts.keeps(), file, line);
        e.flags = bit(opts.drops_bounding(), BOUNDING)
            | bit(opts.sets_no_new_privs(), NO_NEW_PRIVS)
            | bit(opts.is_all_threads(), ALL_THREADS);
        let (uid, gid) = opts.ids();
        if let Some(uid) = uid {
            e.flags |= UID;
            e.uid = uid.to_le_bytes();
        }
        if let Some(gid) = gid {
            e.flags |= GID;
            e.gid = gid.to_le_bytes();
        }
        if let Some(user) = opts.user_name() {
            let (bytes, len, cut) = tail::<USER_MAX>(user);
            e.flags |= USER;
            e.user = bytes;
            e.user_len = len as u8;
            if cut {
                e.truncated |= CUT_USER;
            }
        }
        e
    }

    /// Reads a record from the bytes of a program's manifest section ([`SECTION`]): exactly
    /// [`RECORD_SIZE`] bytes, as [`to_bytes`](Self::to_bytes) gives them.
    ///
    /// # Errors
    ///
    /// [`ParseEntryError`] when the bytes are not a record of this layout: wrong size or magic,
    /// another layout version, an unknown kind or flag, a length past its field, a string that
    /// is not UTF-8, a nonzero reserved byte.
    ///
    /// # Examples
    ///
    /// ```
    /// use capscope::manifest::{Entry, ParseEntryError, RECORD_SIZE};
    ///
    /// let e = Entry::from_bytes(&[0u8; RECORD_SIZE]).unwrap_err();
    /// assert!(e.to_string().contains("magic"), "{e}");
    /// assert!(Entry::from_bytes(&[0u8; 3]).is_err());
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, ParseEntryError> {
        let err = |what: String| Err(ParseEntryError(what));
        let Ok(b) = <&[u8; RECORD_SIZE]>::try_from(bytes) else {
            return err(format!(
                "a record is {RECORD_SIZE} bytes, not {}",
                bytes.len()
            ));
        };
        let field = |start: usize, end: usize| &b[start..end];
        let mut e = Entry {
            magic: field(0, 8).try_into().unwrap_or_default(),
            version: [b[8], b[9]],
            kind: b[10],
            flags: b[11],
            truncated: b[12],
            user_len: b[13],
            function_len: [b[14], b[15]],
            file_len: [b[16], b[17]],
            reserved: [b[18], b[19]],
            line: field(20, 24).try_into().unwrap_or_default(),
            caps: field(24, 32).try_into().unwrap_or_default(),
            uid: field(32, 36).try_into().unwrap_or_default(),
            gid: field(36, 40).try_into().unwrap_or_default(),
            function: [0; FUNCTION_MAX],
            file: [0; FILE_MAX],
            user: [0; USER_MAX],
        };
        e.function.copy_from_slice(field(40, 280));
        e.file.copy_from_slice(field(280, 480));
        e.user.copy_from_slice(field(480, 512));
        if e.magic != MAGIC {
            return err(format!(
                "no capscope magic: the record starts with {:02x?}",
                e.magic
            ));
        }
        let version = u16::from_le_bytes(e.version);
        if version != VERSION {
            return err(format!(
                "layout version {version}; this capscope reads version {VERSION}"
            ));
        }
        if !matches!(e.kind, 1 | 2) {
            return err(format!("unknown kind {}", e.kind));
        }
        if e.flags & !KNOWN_FLAGS != 0 || e.truncated & !(CUT_FUNCTION | CUT_FILE | CUT_USER) != 0 {
            return err(format!("unknown flags {:#x} / {:#x}", e.flags, e.truncated));
        }
        if e.reserved != [0; 2] {
            return err("nonzero reserved bytes".to_owned());
        }
        let lens = [
            (
                "function",
                usize::from(u16::from_le_bytes(e.function_len)),
                FUNCTION_MAX,
            ),
            (
                "file",
                usize::from(u16::from_le_bytes(e.file_len)),
                FILE_MAX,
            ),
            ("user", usize::from(e.user_len), USER_MAX),
        ];
        for (what, len, max) in lens {
            if len > max {
                return err(format!("{what} length {len} past its {max} bytes"));
            }
        }
        if (e.flags & USER == 0) != (e.user_len == 0) {
            return err("a user name without its flag, or the reverse".to_owned());
        }
        for (what, bytes) in [
            ("function", e.function_bytes()),
            ("file", e.file_bytes()),
            ("user", e.user_bytes()),
        ] {
            if std::str::from_utf8(bytes).is_err() {
                return err(format!("the {what} is not UTF-8"));
            }
        }
        Ok(e)
    }

    /// The record's bytes, as they are in the program's file.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut out = [0u8; RECORD_SIZE];
        let parts: [&[u8]; 16] = [
            &self.magic,
            &self.version,
            &[self.kind],
            &[self.flags],
            &[self.truncated],
            &[self.user_len],
            &self.function_len,
            &self.file_len,
            &self.reserved,
            &self.line,
            &self.caps,
            &self.uid,
            &self.gid,
            &self.function,
            &self.file,
            &self.user,
        ];
        let mut at = 0;
        for p in parts {
            out[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        out
    }

    fn function_bytes(&self) -> &[u8] {
        let len = usize::from(u16::from_le_bytes(self.function_len));
        self.function.get(..len).unwrap_or_default()
    }

    fn file_bytes(&self) -> &[u8] {
        let len = usize::from(u16::from_le_bytes(self.file_len));
        self.file.get(..len).unwrap_or_default()
    }

    fn user_bytes(&self) -> &[u8] {
        self.user
            .get(..usize::from(self.user_len))
            .unwrap_or_default()
    }

    /// Which attribute this records.
    #[must_use]
    pub fn kind(&self) -> Kind {
        if self.kind == 2 {
            Kind::DropCapsAfter
        } else {
            Kind::RequiresCaps
        }
    }

    /// The function's path, `module::path::name` (a method's path has its module, not its
    /// type). If it was longer than 240 bytes, its end ([`is_truncated`](Self::is_truncated)).
    #[must_use]
    pub fn function(&self) -> &str {
        std::str::from_utf8(self.function_bytes()).unwrap_or_default()
    }

    /// The source file, as `file!()` gives it (relative to the package for a workspace
    /// member); its end if it was longer than 200 bytes.
    #[must_use]
    pub fn file(&self) -> &str {
        std::str::from_utf8(self.file_bytes()).unwrap_or_default()
    }

    /// The line of the attribute.
    #[must_use]
    pub fn line(&self) -> u32 {
        u32::from_le_bytes(self.line)
    }

    /// The capabilities the function raises (`#[requires_caps]`), or keeps in the permitted
    /// set (`#[drop_caps_after(keep(..))]`).
    #[must_use]
    pub fn caps(&self) -> CapSet {
        CapSet::from_bits(u64::from_le_bytes(self.caps))
    }

    /// `#[requires_caps(.., exclusive)]`: the effective set is exactly [`caps`](Self::caps).
    #[must_use]
    pub fn is_exclusive(&self) -> bool {
        self.flags & EXCLUSIVE != 0
    }

    /// `#[drop_caps_after(bounding)]`.
    #[must_use]
    pub fn drops_bounding(&self) -> bool {
        self.flags & BOUNDING != 0
    }

    /// `#[drop_caps_after(no_new_privs)]`.
    #[must_use]
    pub fn sets_no_new_privs(&self) -> bool {
        self.flags & NO_NEW_PRIVS != 0
    }

    /// `#[drop_caps_after(all_threads)]`.
    #[must_use]
    pub fn is_all_threads(&self) -> bool {
        self.flags & ALL_THREADS != 0
    }

    /// `#[drop_caps_after(uid = N)]`.
    #[must_use]
    pub fn uid(&self) -> Option<u32> {
        (self.flags & UID != 0).then(|| u32::from_le_bytes(self.uid))
    }

    /// `#[drop_caps_after(gid = N)]`.
    #[must_use]
    pub fn gid(&self) -> Option<u32> {
        (self.flags & GID != 0).then(|| u32::from_le_bytes(self.gid))
    }

    /// `#[drop_caps_after(user = "name")]`; its end if it was longer than 32 bytes.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        (self.flags & USER != 0).then(|| std::str::from_utf8(self.user_bytes()).unwrap_or_default())
    }

    /// Whether a string of the record (function, file or user) was too long and keeps only
    /// its end.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.truncated != 0
    }

    /// The strings of the record that keep only their end (see
    /// [`is_truncated`](Self::is_truncated)): some of `"function"`, `"file"` and `"user"`, in
    /// that order.
    pub fn truncated_fields(&self) -> impl Iterator<Item = &'static str> {
        let cut = self.truncated;
        [
            (CUT_FUNCTION, "function"),
            (CUT_FILE, "file"),
            (CUT_USER, "user"),
        ]
        .into_iter()
        .filter(move |(bit, _)| cut & bit != 0)
        .map(|(_, name)| name)
    }

    /// What the function needs in the permitted set when it is called: the capabilities a
    /// `#[requires_caps]` function raises; for a `#[drop_caps_after]` function, what the drop
    /// itself needs: `cap_setpcap` for `bounding`, `cap_setuid` for a uid or user,
    /// `cap_setgid` for any id change (the groups are cleared).
    #[must_use]
    pub fn needs(&self) -> CapSet {
        match self.kind() {
            Kind::RequiresCaps => self.caps(),
            Kind::DropCapsAfter => {
                let mut needs = CapSet::empty();
                if self.drops_bounding() {
                    needs.add(Cap::SETPCAP);
                }
                if self.flags & (UID | USER) != 0 {
                    needs.add(Cap::SETUID);
                }
                if self.flags & (UID | GID | USER) != 0 {
                    needs.add(Cap::SETGID);
                }
                needs
            }
        }
    }
}

/// Every field of a record, as its JSON form (`capscope manifest --format json`, serde) shows
/// them; [`Entry::from_parts`] makes a record of them.
#[cfg_attr(not(feature = "serde"), allow(dead_code))]
pub(crate) struct Parts<'a> {
    pub(crate) kind: Kind,
    pub(crate) function: &'a str,
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    pub(crate) caps: CapSet,
    pub(crate) exclusive: bool,
    pub(crate) bounding: bool,
    pub(crate) no_new_privs: bool,
    pub(crate) all_threads: bool,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) user: Option<&'a str>,
    /// Cut strings, as [`Entry::truncated_fields`] names them.
    pub(crate) truncated: &'a [&'a str],
}

#[cfg_attr(not(feature = "serde"), allow(dead_code))]
impl Entry {
    /// The record of `parts`, refusing what no attribute writes: a string longer than its
    /// field (the record keeps the end of a long string and says so in `truncated`; it never
    /// takes a long one whole), `exclusive` on a `drop_caps_after` record, drop options on a
    /// `requires_caps` one, a user name with a uid or gid, a cut user name without a user, an
    /// unknown name in `truncated`.
    pub(crate) fn from_parts(p: &Parts<'_>) -> Result<Entry, ParseEntryError> {
        let err = |what: String| Err(ParseEntryError(what));
        for (what, s, max) in [
            ("function", p.function, FUNCTION_MAX),
            ("file", p.file, FILE_MAX),
            ("user", p.user.unwrap_or_default(), USER_MAX),
        ] {
            if s.len() > max {
                return err(format!(
                    "the {what} is {} bytes, past its {max}: a record keeps the end of a long \
                     string and lists it in `truncated`",
                    s.len()
                ));
            }
        }
        let drop_options = p.bounding
            || p.no_new_privs
            || p.all_threads
            || p.uid.is_some()
            || p.gid.is_some()
            || p.user.is_some();
        if p.user.is_some() && (p.uid.is_some() || p.gid.is_some()) {
            return err("`user` with a uid or gid: the user gives both".to_owned());
        }
        let mut e = match p.kind {
            Kind::RequiresCaps if drop_options => {
                return err("drop options on a requires_caps record".to_owned());
            }
            Kind::RequiresCaps => Entry::requires(p.function, p.caps, p.exclusive, p.file, p.line),
            Kind::DropCapsAfter if p.exclusive => {
                return err("`exclusive` on a drop_caps_after record".to_owned());
            }
            Kind::DropCapsAfter => {
                // The user name is set below: the options hold a `&'static str`.
                let opts = crate::scope::private::drop_options(
                    p.caps,
                    p.bounding,
                    p.no_new_privs,
                    p.all_threads,
                    p.uid,
                    p.gid,
                    None,
                );
                let mut e = Entry::drop(p.function, &opts, p.file, p.line);
                if let Some(user) = p.user {
                    let (bytes, len, _) = tail::<USER_MAX>(user);
                    e.flags |= USER;
                    e.user = bytes;
                    e.user_len = u8::try_from(len).unwrap_or(u8::MAX);
                }
                e
            }
        };
        for name in p.truncated {
            e.truncated |= match *name {
                "function" => CUT_FUNCTION,
                "file" => CUT_FILE,
                "user" if p.user.is_some() => CUT_USER,
                "user" => return err("a cut user name on a record without one".to_owned()),
                other => {
                    return err(format!(
                        "{other:?} in `truncated`: expected \"function\", \"file\" or \"user\""
                    ))
                }
            };
        }
        Entry::from_bytes(&e.to_bytes())
    }
}

/// `…` before a string that keeps only its end.
fn cut(s: &str, truncated: bool) -> String {
    if truncated {
        format!("…{s}")
    } else {
        s.to_owned()
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut args: Vec<String> = Vec::new();
        match self.kind() {
            Kind::RequiresCaps => {
                args.extend(self.caps().iter().map(|c| c.to_string()));
                if self.is_exclusive() {
                    args.push("exclusive".to_owned());
                }
            }
            Kind::DropCapsAfter => {
                if !self.caps().is_empty() {
                    args.push(format!("keep({})", self.caps()));
                }
                for (on, name) in [
                    (self.drops_bounding(), "bounding"),
                    (self.sets_no_new_privs(), "no_new_privs"),
                    (self.is_all_threads(), "all_threads"),
                ] {
                    if on {
                        args.push(name.to_owned());
                    }
                }
                if let Some(uid) = self.uid() {
                    args.push(format!("uid = {uid}"));
                }
                if let Some(gid) = self.gid() {
                    args.push(format!("gid = {gid}"));
                }
                if let Some(user) = self.user() {
                    args.push(format!(
                        "user = {:?}",
                        cut(user, self.truncated & CUT_USER != 0)
                    ));
                }
            }
        }
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        write!(
            f,
            "#[{}{args}] {} at {}:{}",
            self.kind().name(),
            cut(self.function(), self.truncated & CUT_FUNCTION != 0),
            cut(self.file(), self.truncated & CUT_FILE != 0),
            self.line()
        )
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.kind())
            .field("function", &self.function())
            .field("file", &self.file())
            .field("line", &self.line())
            .field("caps", &self.caps())
            .field("exclusive", &self.is_exclusive())
            .field("bounding", &self.drops_bounding())
            .field("no_new_privs", &self.sets_no_new_privs())
            .field("all_threads", &self.is_all_threads())
            .field("uid", &self.uid())
            .field("gid", &self.gid())
            .field("user", &self.user())
            .field("truncated", &self.is_truncated())
            .finish()
    }
}

/// Bytes that are not a manifest record of this layout ([`Entry::from_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseEntryError(String);

impl ParseEntryError {
    /// A section whose length is not a whole number of records.
    pub(super) fn section(len: usize) -> ParseEntryError {
        ParseEntryError(format!(
            "the section's {len} bytes are not a whole number of {RECORD_SIZE}-byte records"
        ))
    }
}

impl fmt::Display for ParseEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a capscope manifest record: {}", self.0)
    }
}

impl std::error::Error for ParseEntryError {}

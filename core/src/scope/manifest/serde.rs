//! `Serialize` and `Deserialize` (feature `serde`) for manifest [`Entry`]s.
//!
//! In a human-readable format an entry is the object `capscope manifest --format json` writes
//! for it, key for key:
//!
//! ```json
//! {"kind": "requires_caps", "function": "server::bind_http", "file": "src/main.rs", "line": 12,
//!  "caps": ["cap_net_bind_service"], "exclusive": false, "truncated": []}
//! {"kind": "drop_caps_after", "function": "server::init", "file": "src/main.rs", "line": 20,
//!  "keep": [], "bounding": true, "no_new_privs": false, "all_threads": false,
//!  "uid": 65534, "gid": null, "user": null, "truncated": []}
//! ```
//!
//! The capabilities are a list of [`Cap`](crate::Cap)s (each its libcap name); `truncated`
//! names the strings that keep only their end ([`Entry::truncated_fields`]). In a binary
//! format an entry is its 512-byte record, the bytes of the program's manifest section
//! ([`Entry::to_bytes`]), read back with [`Entry::from_bytes`].
//!
//! Deserializing refuses unknown and repeated keys, a key of the other kind (`keep` on a
//! `requires_caps` entry, `exclusive` on a `drop_caps_after` one), a string longer than the
//! record holds, and any record [`Entry::from_bytes`] refuses. Missing `uid`, `gid`, `user`
//! mean none, a missing `truncated` means nothing was cut; every other key is required.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::entry::{Entry, Kind, Parts};
use crate::model::serde::{once, Field};
use crate::{Cap, CapSet};

/// A [`CapSet`] as a list of capabilities.
struct CapList(CapSet);

impl Serialize for CapList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for cap in self.0 {
            seq.serialize_element(&cap)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for CapList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CapList, D::Error> {
        Vec::<Cap>::deserialize(d).map(|caps| CapList(caps.into_iter().collect()))
    }
}

/// The names of a `truncated` list.
struct Cut(Vec<&'static str>);

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.serialize_bytes(&self.to_bytes());
        }
        let requires = self.kind() == Kind::RequiresCaps;
        let mut m = s.serialize_map(Some(if requires { 7 } else { 12 }))?;
        m.serialize_entry("kind", self.kind().name())?;
        m.serialize_entry("function", self.function())?;
        m.serialize_entry("file", self.file())?;
        m.serialize_entry("line", &self.line())?;
        if requires {
            m.serialize_entry("caps", &CapList(self.caps()))?;
            m.serialize_entry("exclusive", &self.is_exclusive())?;
        } else {
            m.serialize_entry("keep", &CapList(self.caps()))?;
            m.serialize_entry("bounding", &self.drops_bounding())?;
            m.serialize_entry("no_new_privs", &self.sets_no_new_privs())?;
            m.serialize_entry("all_threads", &self.is_all_threads())?;
            m.serialize_entry("uid", &self.uid())?;
            m.serialize_entry("gid", &self.gid())?;
            m.serialize_entry("user", &self.user())?;
        }
        let cut: Vec<&str> = self.truncated_fields().collect();
        m.serialize_entry("truncated", &cut)?;
        m.end()
    }
}

/// Reads what `Serialize` writes: the JSON object of `capscope manifest` (human-readable) or
/// the 512-byte record (binary).
impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
        if d.is_human_readable() {
            d.deserialize_map(EntryObject)
        } else {
            d.deserialize_bytes(EntryRecord)
        }
    }
}

const FIELDS: &[&str] = &[
    "kind",
    "function",
    "file",
    "line",
    "caps",
    "exclusive",
    "keep",
    "bounding",
    "no_new_privs",
    "all_threads",
    "uid",
    "gid",
    "user",
    "truncated",
];

/// The keys only a `requires_caps` entry has, and those only a `drop_caps_after` one has.
const REQUIRES_ONLY: &[usize] = &[4, 5];
const DROP_ONLY: &[usize] = &[6, 7, 8, 9, 10, 11, 12];

/// The values read so far, by key.
#[derive(Default)]
struct Seen {
    kind: Option<String>,
    function: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    caps: Option<CapList>,
    exclusive: Option<bool>,
    keep: Option<CapList>,
    flags: [Option<bool>; 3],
    uid: Option<Option<u32>>,
    gid: Option<Option<u32>>,
    user: Option<Option<String>>,
    truncated: Option<Cut>,
    keys: Vec<usize>,
}

impl<'de> Deserialize<'de> for Cut {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cut, D::Error> {
        const NAMES: &[&str] = &["function", "file", "user"];
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| {
                NAMES.iter().copied().find(|k| k == n).ok_or_else(|| {
                    de::Error::invalid_value(
                        de::Unexpected::Str(n),
                        &"\"function\", \"file\" or \"user\"",
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(Cut)
    }
}

fn required<T, E: de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
    v.ok_or_else(|| E::missing_field(name))
}

impl Seen {
    fn entry<E: de::Error>(self) -> Result<Entry, E> {
        let kind = match required(self.kind, "kind")?.as_str() {
            "requires_caps" => Kind::RequiresCaps,
            "drop_caps_after" => Kind::DropCapsAfter,
            other => {
                return Err(E::invalid_value(
                    de::Unexpected::Str(other),
                    &"\"requires_caps\" or \"drop_caps_after\"",
                ))
            }
        };
        let (foreign, caps) = match kind {
            Kind::RequiresCaps => (DROP_ONLY, required(self.caps, "caps")?),
            Kind::DropCapsAfter => (REQUIRES_ONLY, required(self.keep, "keep")?),
        };
        if let Some(&k) = self.keys.iter().find(|k| foreign.contains(k)) {
            return Err(E::custom(format_args!(
                "`{}` is not a key of a {} entry",
                FIELDS[k],
                kind.name()
            )));
        }
        let [bounding, no_new_privs, all_threads] = match kind {
            Kind::RequiresCaps => [false; 3],
            Kind::DropCapsAfter => [
                required(self.flags[0], "bounding")?,
                required(self.flags[1], "no_new_privs")?,
                required(self.flags[2], "all_threads")?,
            ],
        };
        let user = self.user.flatten();
        let cut = self.truncated.map(|c| c.0).unwrap_or_default();
        Entry::from_parts(&Parts {
            kind,
            function: &required(self.function, "function")?,
            file: &required(self.file, "file")?,
            line: required(self.line, "line")?,
            caps: caps.0,
            exclusive: match kind {
                Kind::RequiresCaps => required(self.exclusive, "exclusive")?,
                Kind::DropCapsAfter => false,
            },
            bounding,
            no_new_privs,
            all_threads,
            uid: self.uid.flatten(),
            gid: self.gid.flatten(),
            user: user.as_deref(),
            truncated: &cut,
        })
        .map_err(E::custom)
    }
}

struct EntryObject;

impl<'de> Visitor<'de> for EntryObject {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest entry, as `capscope manifest --format json` writes it")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut s = Seen::default();
        while let Some(key) = map.next_key::<Field>()? {
            let i = key.index(FIELDS)?;
            s.keys.push(i);
            match i {
                0 => s.kind = Some(once(&s.kind, "kind", &mut map)?),
                1 => s.function = Some(once(&s.function, "function", &mut map)?),
                2 => s.file = Some(once(&s.file, "file", &mut map)?),
                3 => s.line = Some(once(&s.line, "line", &mut map)?),
                4 => s.caps = Some(once(&s.caps, "caps", &mut map)?),
                5 => s.exclusive = Some(once(&s.exclusive, "exclusive", &mut map)?),
                6 => s.keep = Some(once(&s.keep, "keep", &mut map)?),
                7..=9 => {
                    let f = i - 7;
                    s.flags[f] = Some(once(&s.flags[f], FIELDS[i], &mut map)?);
                }
                10 => s.uid = Some(once(&s.uid, "uid", &mut map)?),
                11 => s.gid = Some(once(&s.gid, "gid", &mut map)?),
                12 => s.user = Some(once(&s.user, "user", &mut map)?),
                _ => s.truncated = Some(once(&s.truncated, "truncated", &mut map)?),
            }
        }
        s.entry()
    }
}

struct EntryRecord;

impl<'de> Visitor<'de> for EntryRecord {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 512-byte capscope manifest record")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Entry, E> {
        Entry::from_bytes(v).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let mut buf = Vec::with_capacity(super::RECORD_SIZE);
        while let Some(b) = seq.next_element::<u8>()? {
            if buf.len() == super::RECORD_SIZE {
                return Err(de::Error::invalid_length(buf.len() + 1, &self));
            }
            buf.push(b);
        }
        self.visit_bytes(&buf)
    }
}

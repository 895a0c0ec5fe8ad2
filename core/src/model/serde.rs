//! `Serialize` and `Deserialize` (feature `serde`) for [`Cap`], [`CapSet`], [`CapState`],
//! [`FullCapState`] and [`FileCaps`]; manifest entries have theirs with the manifest
//! ([`Entry`](crate::manifest::Entry)).
//!
//! Each type has two forms, chosen by the format's
//! [`is_human_readable`](serde::Serializer::is_human_readable):
//!
//! | type | human-readable (JSON, TOML, YAML, ...) | binary (postcard, bincode, ...) |
//! |---|---|---|
//! | [`Cap`] | `"cap_net_raw"` (its `Display`; `"45"` for a capability the library does not name) | its number, a `u8` |
//! | [`CapSet`] | `"cap_chown,cap_net_raw"` (its `Display`; `""` for the empty set) | its bits, a `u64` |
//! | [`CapState`] | libcap's text, `"cap_net_raw+ep"` (its `Display`; `"="` for the empty state) | three `u64`s: effective, permitted, inheritable |
//! | [`FileCaps`] | `{"caps": "cap_net_raw=ep", "rootid": null}`: `getcap`'s text and the rootid | the `security.capability` attribute's bytes ([`FileCaps::to_bytes`]) |
//! | [`FullCapState`] | a struct: `effective`, `permitted`, `inheritable`, `ambient`, `bounding` as [`CapSet`] strings, `securebits` (a number or null), `no_new_privs`, `keepcaps` (a bool or null) | the same struct, the sets as `u64`s |
//! | [`Entry`](crate::manifest::Entry) | the object `capscope manifest --format json` writes for it | its 512-byte record |
//!
//! Deserializing accepts what serializing produces and refuses, with the type's own error
//! message, whatever the type's parser refuses: an unknown capability name (with the nearest
//! name as a suggestion, from [`ParseCapError`](crate::ParseCapError)), a number of 64 or more,
//! text libcap would not read, attribute bytes the kernel would not write. A human-readable
//! string is read by the type's `FromStr`, so it also takes the spellings that accepts
//! (`"NET_RAW"`, `"13"`); a human-readable format never takes the binary form (a number for a
//! [`Cap`]) nor the reverse.
//!
//! Structs refuse unknown and repeated fields. A missing field is an error, except the optional
//! ones: `rootid` of [`FileCaps`], `securebits` and `keepcaps` of [`FullCapState`] (missing
//! means `None`).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::{Cap, CapSet, CapState, FileCaps, FullCapState, Secbits};

/// A visitor for a value read from a string with `parse`, refusing everything else.
struct FromText<T>(&'static str, PhantomData<T>);

impl<T> Visitor<'_> for FromText<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

fn from_text<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    d.deserialize_str(FromText(expecting, PhantomData))
}

/// `Cap`: its libcap name (human-readable) or its number (binary).
impl Serialize for Cap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u8(self.as_u8())
        }
    }
}

/// Reads what `Serialize` writes: a name or decimal number in a string as [`Cap`]'s `FromStr`
/// reads it (human-readable), or a number from 0 to 63 (binary).
impl<'de> Deserialize<'de> for Cap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cap, D::Error> {
        if d.is_human_readable() {
            from_text(d, "a capability name such as \"cap_net_raw\"")
        } else {
            d.deserialize_u8(CapNumber)
        }
    }
}

struct CapNumber;

impl Visitor<'_> for CapNumber {
    type Value = Cap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a capability number from 0 to 63")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cap, E> {
        u8::try_from(v).ok().and_then(Cap::from_u8).ok_or_else(|| {
            E::custom(format_args!(
                "{v} is not a capability number: a capability is a number from 0 to 63"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cap, E> {
        match u64::try_from(v) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
}

/// `CapSet`: libcap's list, `"cap_chown,cap_net_raw"`, `""` when empty (human-readable), or
/// the 64 bits (binary).
impl Serialize for CapSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u64(self.bits())
        }
    }
}

/// Reads what `Serialize` writes: a list as [`CapSet`]'s `FromStr` reads it (human-readable),
/// or a `u64` (binary; every bit kept).
impl<'de> Deserialize<'de> for CapSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CapSet, D::Error> {
        if d.is_human_readable() {
            from_text(
                d,
                "a comma-separated list of capabilities such as \"cap_chown,cap_net_raw\"",
            )
        } else {
            d.deserialize_u64(SetBits).map(CapSet::from_bits)
        }
    }
}

struct SetBits;

impl Visitor<'_> for SetBits {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a capability set as a 64-bit number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
}

/// `CapState`: libcap's text, `"cap_net_raw+ep"`, `"="` when empty (human-readable), or the
/// effective, permitted and inheritable sets as three `u64`s (binary).
impl Serialize for CapState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            let mut t = s.serialize_tuple(3)?;
            t.serialize_element(&self.effective)?;
            t.serialize_element(&self.permitted)?;
            t.serialize_element(&self.inheritable)?;
            t.end()
        }
    }
}

/// Reads what `Serialize` writes: libcap's text as [`CapState`]'s `FromStr` reads it
/// (human-readable), or three `u64`s (binary).
impl<'de> Deserialize<'de> for CapState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CapState, D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(StateText)
        } else {
            d.deserialize_tuple(3, StateSets)
        }
    }
}

struct StateText;

impl Visitor<'_> for StateText {
    type Value = CapState;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("libcap's capability text such as \"cap_net_raw+ep\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CapState, E> {
        // The error gives a byte offset: show the text it is an offset into.
        v.parse()
            .map_err(|e| E::custom(format_args!("{e}, in {v:?}")))
    }
}

struct StateSets;

impl<'de> Visitor<'de> for StateSets {
    type Value = CapState;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("three capability sets: effective, permitted, inheritable")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CapState, A::Error> {
        let mut next = |i: usize| -> Result<CapSet, A::Error> {
            seq.next_element()?
                .ok_or_else(|| de::Error::invalid_length(i, &self))
        };
        let state = CapState {
            effective: next(0)?,
            permitted: next(1)?,
            inheritable: next(2)?,
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &StateSets));
        }
        Ok(state)
    }
}

/// The text of file capabilities: `getcap`'s, except for the one value that text cannot show,
/// the effective flag on with no capability (`getcap` prints `=`, as for no flag): `=e`, which
/// `setcap` (and [`FileCaps`]'s `FromStr`) read back as exactly that.
fn filecaps_text(fc: &FileCaps) -> String {
    if fc.effective && (fc.permitted | fc.inheritable).is_empty() {
        "=e".to_owned()
    } else {
        fc.to_string()
    }
}

/// `FileCaps`: a struct `{"caps": TEXT, "rootid": null or N}` where TEXT is what `getcap`
/// prints (`"cap_net_raw=ep"`; `"=e"` for the effective flag with no capability, which
/// `getcap` cannot show) (human-readable), or the `security.capability` attribute's bytes,
/// revision 2 or, with a rootid, 3 (binary).
impl Serialize for FileCaps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let mut st = s.serialize_struct("FileCaps", 2)?;
            st.serialize_field("caps", &filecaps_text(self))?;
            st.serialize_field("rootid", &self.rootid)?;
            st.end()
        } else {
            s.serialize_bytes(&self.to_bytes())
        }
    }
}

/// Reads what `Serialize` writes: the struct, with `caps` read as [`FileCaps`]'s `FromStr`
/// reads `setcap`'s text and `rootid` optional (human-readable); attribute bytes of revision
/// 1, 2 or 3, checked as [`FileCaps::from_bytes`] checks them (binary).
impl<'de> Deserialize<'de> for FileCaps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FileCaps, D::Error> {
        if d.is_human_readable() {
            d.deserialize_struct("FileCaps", FILECAPS_FIELDS, FileCapsFields)
        } else {
            d.deserialize_bytes(FileCapsBytes)
        }
    }
}

const FILECAPS_FIELDS: &[&str] = &["caps", "rootid"];

struct FileCapsFields;

impl<'de> Visitor<'de> for FileCapsFields {
    type Value = FileCaps;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("file capabilities: {\"caps\": \"cap_net_raw=ep\", \"rootid\": null}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileCaps, A::Error> {
        let mut caps: Option<FileCaps> = None;
        let mut rootid: Option<Option<u32>> = None;
        while let Some(key) = map.next_key::<Field>()? {
            match key.index(FILECAPS_FIELDS)? {
                0 => {
                    let text: FileCapsText = once(&caps, "caps", &mut map)?;
                    caps = Some(text.0);
                }
                _ => rootid = Some(once(&rootid, "rootid", &mut map)?),
            }
        }
        let caps = caps.ok_or_else(|| de::Error::missing_field("caps"))?;
        Ok(FileCaps {
            rootid: rootid.flatten(),
            ..caps
        })
    }
}

struct FileCapsBytes;

impl<'de> Visitor<'de> for FileCapsBytes {
    type Value = FileCaps;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a security.capability attribute (12, 20 or 24 bytes)")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<FileCaps, E> {
        FileCaps::from_bytes(v).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileCaps, A::Error> {
        let mut buf = [0u8; FileCaps::MAX_SIZE + 1];
        let mut len = 0;
        while let Some(b) = seq.next_element::<u8>()? {
            if len == buf.len() {
                return Err(de::Error::invalid_length(len + 1, &self));
            }
            buf[len] = b;
            len += 1;
        }
        self.visit_bytes(&buf[..len])
    }
}

/// The `caps` field: `setcap`'s text, read with [`FileCaps`]'s `FromStr`.
struct FileCapsText(FileCaps);

impl<'de> Deserialize<'de> for FileCapsText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(
            d,
            "file capabilities in setcap's text such as \"cap_net_raw=ep\"",
        )
        .map(FileCapsText)
    }
}

/// A struct's field name.
pub(crate) struct Field(String);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        String::deserialize(d).map(Field)
    }
}

impl Field {
    /// The field's position in `fields`, or an error naming the ones expected.
    pub(crate) fn index<E: de::Error>(&self, fields: &'static [&'static str]) -> Result<usize, E> {
        fields
            .iter()
            .position(|f| *f == self.0)
            .ok_or_else(|| E::unknown_field(&self.0, fields))
    }
}

/// The value of a field not seen before (`seen` is what was read for it so far).
pub(crate) fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>, U>(
    seen: &Option<U>,
    name: &'static str,
    map: &mut A,
) -> Result<T, A::Error> {
    if seen.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    map.next_value()
}

const FULL_FIELDS: &[&str] = &[
    "effective",
    "permitted",
    "inheritable",
    "ambient",
    "bounding",
    "securebits",
    "no_new_privs",
    "keepcaps",
];

/// `FullCapState`: a struct of eight fields, `effective`, `permitted`, `inheritable`,
/// `ambient` and `bounding` (each a [`CapSet`]: a string such as `"cap_chown,cap_net_raw"` in
/// human-readable formats, a `u64` in binary ones), `securebits` (the bits as a number, or
/// none), `no_new_privs` (a bool) and `keepcaps` (a bool, or none).
impl Serialize for FullCapState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("FullCapState", FULL_FIELDS.len())?;
        st.serialize_field("effective", &self.caps.effective)?;
        st.serialize_field("permitted", &self.caps.permitted)?;
        st.serialize_field("inheritable", &self.caps.inheritable)?;
        st.serialize_field("ambient", &self.ambient)?;
        st.serialize_field("bounding", &self.bounding)?;
        st.serialize_field("securebits", &self.securebits.map(|b| b.bits()))?;
        st.serialize_field("no_new_privs", &self.no_new_privs)?;
        st.serialize_field("keepcaps", &self.keepcaps)?;
        st.end()
    }
}

/// Reads what `Serialize` writes; every securebit is kept, named or not. `securebits` and
/// `keepcaps` may be missing (`None`).
impl<'de> Deserialize<'de> for FullCapState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FullCapState, D::Error> {
        d.deserialize_struct("FullCapState", FULL_FIELDS, FullFields)
    }
}

struct FullFields;

impl FullFields {
    fn build(
        sets: [Option<CapSet>; 5],
        securebits: Option<Option<u32>>,
        no_new_privs: Option<bool>,
        keepcaps: Option<Option<bool>>,
    ) -> Result<FullCapState, &'static str> {
        let set = |i: usize| sets[i].ok_or(FULL_FIELDS[i]);
        Ok(FullCapState {
            caps: CapState {
                effective: set(0)?,
                permitted: set(1)?,
                inheritable: set(2)?,
            },
            ambient: set(3)?,
            bounding: set(4)?,
            securebits: securebits.flatten().map(Secbits::from_bits_retain),
            no_new_privs: no_new_privs.ok_or("no_new_privs")?,
            keepcaps: keepcaps.flatten(),
        })
    }
}

impl<'de> Visitor<'de> for FullFields {
    type Value = FullCapState;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a full capability state (struct FullCapState)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FullCapState, A::Error> {
        let mut sets: [Option<CapSet>; 5] = [None; 5];
        let (mut securebits, mut no_new_privs, mut keepcaps) = (None, None, None);
        while let Some(key) = map.next_key::<Field>()? {
            match key.index(FULL_FIELDS)? {
                i @ 0..=4 => sets[i] = Some(once(&sets[i], FULL_FIELDS[i], &mut map)?),
                5 => securebits = Some(once(&securebits, "securebits", &mut map)?),
                6 => no_new_privs = Some(once(&no_new_privs, "no_new_privs", &mut map)?),
                _ => keepcaps = Some(once(&keepcaps, "keepcaps", &mut map)?),
            }
        }
        FullFields::build(sets, securebits, no_new_privs, keepcaps)
            .map_err(de::Error::missing_field)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FullCapState, A::Error> {
        let mut sets: [Option<CapSet>; 5] = [None; 5];
        for (i, set) in sets.iter_mut().enumerate() {
            *set = Some(
                seq.next_element()?
                    .ok_or_else(|| de::Error::invalid_length(i, &self))?,
            );
        }
        let securebits: Option<u32> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(5, &self))?;
        let no_new_privs = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(6, &self))?;
        let keepcaps = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(7, &self))?;
        FullFields::build(sets, Some(securebits), Some(no_new_privs), Some(keepcaps))
            .map_err(de::Error::missing_field)
    }
}

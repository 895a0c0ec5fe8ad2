//! The `serde` feature: round trips of every value through a human-readable format (JSON) and
//! two binary ones (postcard, compact; CBOR, self-describing), golden texts and bytes, and
//! refusals with the types' own messages.

use capscope::manifest::Entry;
use capscope::{requires_caps, Cap, CapSet, CapState, FileCaps, FullCapState, Secbits};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

fn postcard<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).unwrap()
}

fn from_postcard<T: DeserializeOwned>(b: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(b)
}

fn cbor<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn from_cbor<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    ciborium::from_reader(b).map_err(|e| e.to_string())
}

/// Every format gives the value back.
fn round_trips<T>(v: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    prop_assert_eq!(&from_json::<T>(&json(v)).unwrap(), v);
    prop_assert_eq!(&from_postcard::<T>(&postcard(v)).unwrap(), v);
    prop_assert_eq!(&from_cbor::<T>(&cbor(v)).unwrap(), v);
    Ok(())
}

fn state(e: u64, p: u64, i: u64) -> CapState {
    CapState {
        effective: CapSet::from_bits(e),
        permitted: CapSet::from_bits(p),
        inheritable: CapSet::from_bits(i),
    }
}

fn any_cap() -> impl Strategy<Value = Cap> {
    (0u8..64).prop_map(|n| Cap::from_u8(n).unwrap())
}

/// Any 64 bits, with the edges (empty, full, one capability) often.
fn bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        (0u32..64).prop_map(|n| 1u64 << n),
        any::<u64>(),
        any::<u64>(),
    ]
}

prop_compose! {
    fn any_filecaps()(effective: bool, p in bits(), i in bits(), rootid: Option<u32>) -> FileCaps {
        FileCaps { effective, permitted: CapSet::from_bits(p), inheritable: CapSet::from_bits(i), rootid }
    }
}

prop_compose! {
    fn any_full()(
        sets in [bits(), bits(), bits(), bits(), bits()],
        securebits: Option<u32>,
        no_new_privs: bool,
        keepcaps: Option<bool>,
    ) -> FullCapState {
        FullCapState {
            caps: state(sets[0], sets[1], sets[2]),
            ambient: CapSet::from_bits(sets[3]),
            bounding: CapSet::from_bits(sets[4]),
            securebits: securebits.map(Secbits::from_bits_retain),
            no_new_privs,
            keepcaps,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn caps_round_trip(c in any_cap()) {
        round_trips(&c)?;
        prop_assert_eq!(json(&c), format!("\"{c}\""));
        prop_assert_eq!(postcard(&c), vec![c.as_u8()]);
    }

    #[test]
    fn sets_round_trip(b in bits()) {
        let s = CapSet::from_bits(b);
        round_trips(&s)?;
        prop_assert_eq!(json(&s), format!("\"{s}\""));
    }

    #[test]
    fn states_round_trip(e in bits(), p in bits(), i in bits()) {
        let s = state(e, p, i);
        round_trips(&s)?;
        prop_assert_eq!(json(&s), format!("\"{s}\""));
    }

    #[test]
    fn file_caps_round_trip(fc in any_filecaps()) {
        round_trips(&fc)?;
        prop_assert_eq!(postcard(&fc)[1..].to_vec(), fc.to_bytes());
    }

    #[test]
    fn full_states_round_trip(s in any_full()) {
        round_trips(&s)?;
    }

    #[test]
    fn values_inside_a_program_s_own_types_round_trip(keep in bits(), raise in proptest::collection::vec(any_cap(), 0..5), file in proptest::option::of(any_filecaps())) {
        let p = Policy { keep: CapSet::from_bits(keep), raise, file };
        round_trips(&p)?;
    }
}

/// A program's own configuration, with derived impls around capscope's.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Policy {
    keep: CapSet,
    raise: Vec<Cap>,
    file: Option<FileCaps>,
}

#[test]
fn golden_json() {
    let unnamed = Cap::from_u8(45).unwrap();
    assert_eq!(json(&Cap::NET_RAW), r#""cap_net_raw""#);
    assert_eq!(json(&unnamed), r#""45""#);
    assert_eq!(
        json(&(Cap::CHOWN | Cap::NET_RAW)),
        r#""cap_chown,cap_net_raw""#
    );
    assert_eq!(json(&CapSet::empty()), r#""""#);
    assert_eq!(json(&CapSet::from(unnamed)), r#""45""#);
    let net_raw = 1 << 13;
    assert_eq!(json(&state(net_raw, net_raw, 0)), r#""cap_net_raw=ep""#);
    assert_eq!(
        json(&state(0, 1 | net_raw, 1)),
        r#""cap_chown=ip cap_net_raw+p""#
    );
    assert_eq!(json(&CapState::empty()), r#""=""#);

    let fc: FileCaps = "cap_net_bind_service=ep".parse().unwrap();
    assert_eq!(
        json(&fc),
        r#"{"caps":"cap_net_bind_service=ep","rootid":null}"#
    );
    let ns = FileCaps {
        rootid: Some(1000),
        ..fc
    };
    assert_eq!(
        json(&ns),
        r#"{"caps":"cap_net_bind_service=ep","rootid":1000}"#
    );
    // getcap prints `=` for the effective flag without capabilities; `=e` keeps the flag.
    let flag_only = FileCaps {
        effective: true,
        ..FileCaps::empty()
    };
    assert_eq!(json(&flag_only), r#"{"caps":"=e","rootid":null}"#);
    assert_eq!(json(&FileCaps::empty()), r#"{"caps":"=","rootid":null}"#);

    let full = FullCapState {
        caps: state(net_raw, net_raw, 0),
        ambient: CapSet::empty(),
        bounding: CapSet::all_known(),
        securebits: Some(Secbits::KEEP_CAPS),
        no_new_privs: true,
        keepcaps: Some(true),
    };
    let bounding = CapSet::all_known().to_string();
    assert_eq!(
        json(&full),
        format!(
            r#"{{"effective":"cap_net_raw","permitted":"cap_net_raw","inheritable":"","ambient":"","bounding":"{bounding}","securebits":16,"no_new_privs":true,"keepcaps":true}}"#
        )
    );
    let from_proc = FullCapState {
        securebits: None,
        keepcaps: None,
        ..full
    };
    assert!(json(&from_proc).ends_with(r#""securebits":null,"no_new_privs":true,"keepcaps":null}"#));
}

#[test]
fn golden_binary() {
    // postcard: a Cap is one byte, a CapSet a varint, a CapState three varints.
    assert_eq!(postcard(&Cap::NET_RAW), [13]);
    assert_eq!(postcard(&CapSet::from(Cap::CHOWN)), [1]);
    assert_eq!(postcard(&(Cap::CHOWN | Cap::NET_RAW)), [0x81, 0x40]);
    assert_eq!(postcard(&state(1, 1, 0)), [1, 1, 0]);
    assert_eq!(postcard(&CapSet::full()).len(), 10);
    // FileCaps: the attribute's bytes, with postcard's length prefix.
    let fc: FileCaps = "cap_chown=ep".parse().unwrap();
    let mut want = vec![20];
    want.extend([1, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(postcard(&fc), want);
    // CBOR: unsigned integers, a byte string.
    assert_eq!(cbor(&Cap::NET_RAW), [0x0d]);
    assert_eq!(cbor(&state(1, 1, 0)), [0x83, 1, 1, 0]);
    assert_eq!(cbor(&fc)[0], 0x54); // bytes, length 20
}

#[test]
fn human_readable_input_takes_what_from_str_takes() {
    assert_eq!(from_json::<Cap>(r#""NET_RAW""#), Ok(Cap::NET_RAW));
    assert_eq!(from_json::<Cap>(r#""13""#), Ok(Cap::NET_RAW));
    assert_eq!(
        from_json::<CapSet>(r#""net_raw,CAP_CHOWN""#),
        Ok(Cap::CHOWN | Cap::NET_RAW)
    );
    assert_eq!(
        from_json::<CapState>(r#""cap_net_raw,cap_chown+ep""#),
        Ok(state(1 | 1 << 13, 1 | 1 << 13, 0))
    );
    // rootid may be missing; securebits and keepcaps too.
    assert_eq!(
        from_json::<FileCaps>(r#"{"caps":"cap_chown=ep"}"#),
        Ok("cap_chown=ep".parse().unwrap())
    );
    let full = from_json::<FullCapState>(
        r#"{"effective":"","permitted":"","inheritable":"","ambient":"","bounding":"cap_chown","no_new_privs":false}"#,
    )
    .unwrap();
    assert_eq!((full.securebits, full.keepcaps), (None, None));
    assert_eq!(full.bounding, CapSet::from(Cap::CHOWN));
    // Securebits the library does not name are kept.
    let mut full_json = json(&full);
    full_json = full_json.replace(r#""securebits":null"#, r#""securebits":1048577"#);
    let back = from_json::<FullCapState>(&full_json).unwrap();
    assert_eq!(back.securebits.map(|b| b.bits()), Some(1 << 20 | 1));
}

/// `err` is an error whose message contains every one of `parts`.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, String>, parts: &[&str]) {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => {
            for p in parts {
                assert!(e.contains(p), "{e:?} does not say {p:?}");
            }
        }
    }
}

#[test]
fn human_readable_refusals() {
    refused(
        from_json::<Cap>(r#""cap_net_rwa""#),
        &[
            "\"cap_net_rwa\" is not a capability",
            "did you mean cap_net_raw?",
        ],
    );
    refused(from_json::<Cap>(r#""64""#), &["\"64\" is not a capability"]);
    refused(
        from_json::<Cap>(r#""010""#),
        &["\"010\" is not a capability"],
    );
    // The binary form is not the human-readable one.
    refused(
        from_json::<Cap>("13"),
        &["invalid type: integer `13`", "cap_net_raw"],
    );
    refused(from_json::<CapSet>("8192"), &["invalid type: integer"]);
    refused(
        from_json::<CapSet>(r#""cap_chown,cap_sys_admn""#),
        &["\"cap_sys_admn\"", "did you mean cap_sys_admin?"],
    );
    refused(
        from_json::<CapSet>(r#""cap_chown,""#),
        &["\"\" is not a capability"],
    );
    refused(
        from_json::<CapSet>(r#""all""#),
        &["\"all\" is not a capability"],
    );
    refused(
        from_json::<CapState>(r#""cap_chown+q""#),
        &["at byte 10", "a flag", "\"cap_chown+q\""],
    );
    refused(from_json::<CapState>(r#""010=p""#), &["at byte 0"]);
    refused(
        from_json::<CapState>("[1,1,0]"),
        &["invalid type: sequence"],
    );
    refused(
        from_json::<FileCaps>(r#"{"caps":"cap_chown=p cap_kill=eip"}"#),
        &["one effective flag"],
    );
    refused(
        from_json::<FileCaps>(r#"{"caps":"cap_chown=ep","rootid":-1}"#),
        &["invalid value: integer `-1`"],
    );
    refused(
        from_json::<FileCaps>(r#"{"rootid":1}"#),
        &["missing field `caps`"],
    );
    refused(
        from_json::<FileCaps>(r#"{"caps":"=","caps":"="}"#),
        &["duplicate field `caps`"],
    );
    refused(
        from_json::<FileCaps>(r#"{"caps":"=","effective":true}"#),
        &["unknown field `effective`", "expected `caps` or `rootid`"],
    );
    let full = json(&FullCapState {
        caps: CapState::empty(),
        ambient: CapSet::empty(),
        bounding: CapSet::empty(),
        securebits: None,
        no_new_privs: false,
        keepcaps: None,
    });
    refused(
        from_json::<FullCapState>(&full.replace(r#""bounding":"""#, r#""bounding":"cap_bogus""#)),
        &["\"cap_bogus\" is not a capability"],
    );
    refused(
        from_json::<FullCapState>(&full.replace(r#","no_new_privs":false"#, "")),
        &["missing field `no_new_privs`"],
    );
    refused(
        from_json::<FullCapState>(&full.replace(r#""ambient":"","#, "")),
        &["missing field `ambient`"],
    );
    refused(
        from_json::<FullCapState>(&full.replace(r#""ambient""#, r#""amibent""#)),
        &["unknown field `amibent`"],
    );
}

#[test]
fn binary_refusals() {
    // CBOR keeps the messages.
    refused(
        from_cbor::<Cap>(&cbor(&64u8)),
        &["64 is not a capability number", "0 to 63"],
    );
    refused(
        from_cbor::<Cap>(&cbor(&1000u32)),
        &["1000 is not a capability number"],
    );
    refused(from_cbor::<Cap>(&cbor(&-1i8)), &["negative"]);
    refused(
        from_cbor::<Cap>(&cbor(&"cap_chown")),
        &["invalid type: string"],
    );
    refused(
        from_cbor::<CapSet>(&cbor(&"cap_chown")),
        &["invalid type: string"],
    );
    refused(
        from_cbor::<CapState>(&cbor(&[1u64, 1])),
        &["invalid length 2"],
    );
    refused(
        from_cbor::<CapState>(&cbor(&[1u64, 1, 0, 0])),
        &["invalid length 4"],
    );
    let bytes = |b: &[u8]| cbor(&serde_bytes_like(b));
    refused(
        from_cbor::<FileCaps>(&bytes(&[0, 0, 0, 4, 0, 0, 0, 0])),
        &["unknown revision 0x4"],
    );
    refused(
        from_cbor::<FileCaps>(&bytes(&[0, 0, 0, 2, 0, 0, 0, 0])),
        &["revision 2 must be 20 bytes, found 8"],
    );
    refused(from_cbor::<FileCaps>(&bytes(&[1, 2])), &["too short"]);
    // postcard drops messages, but refuses the same.
    assert!(from_postcard::<Cap>(&[64]).is_err());
    assert!(from_postcard::<Cap>(&[255]).is_err());
    assert!(from_postcard::<FileCaps>(&[3, 0, 0, 0]).is_err());
    let mut rev3 = postcard(&FileCaps {
        rootid: Some(7),
        ..FileCaps::empty()
    });
    assert_eq!(rev3[0], 24);
    rev3[1] |= 2; // an unknown flag bit
    assert!(from_postcard::<FileCaps>(&rev3).is_err());
    // Every Cap byte below 64 is accepted, every other refused.
    for b in 0..=255u8 {
        assert_eq!(from_postcard::<Cap>(&[b]).is_ok(), b < 64, "{b}");
    }
}

/// A byte string for CBOR (serde serializes `&[u8]` as a sequence, not as bytes).
fn serde_bytes_like(b: &[u8]) -> ciborium::Value {
    ciborium::Value::Bytes(b.to_vec())
}

#[test]
fn revision_1_attributes_are_read() {
    let v1 = [0, 0, 0, 1, 1, 0, 0, 0, 2, 0, 0, 0];
    let fc = from_cbor::<FileCaps>(&cbor(&serde_bytes_like(&v1))).unwrap();
    assert_eq!(fc, FileCaps::from_bytes(&v1).unwrap());
}

#[requires_caps(net_bind_service, exclusive)]
fn annotated() -> capscope::Result<()> {
    Ok(())
}

#[capscope::drop_caps_after(keep(chown), bounding, uid = 65534)]
fn annotated_drop() {}

fn entry_named(suffix: &str) -> &'static Entry {
    capscope::manifest::entries()
        .iter()
        .find(|e| e.function().ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} is in the manifest"))
}

#[test]
fn manifest_entries_are_their_manifest_json_and_round_trip() {
    let _ = (annotated, annotated_drop);
    let mine = entry_named("::annotated");
    assert_eq!(
        json(mine),
        format!(
            r#"{{"kind":"requires_caps","function":"{}","file":"{}","line":{},"caps":["cap_net_bind_service"],"exclusive":true,"truncated":[]}}"#,
            mine.function(),
            mine.file(),
            mine.line()
        )
    );
    let dropper = entry_named("::annotated_drop");
    assert_eq!(
        json(dropper),
        format!(
            r#"{{"kind":"drop_caps_after","function":"{}","file":"{}","line":{},"keep":["cap_chown"],"bounding":true,"no_new_privs":false,"all_threads":false,"uid":65534,"gid":null,"user":null,"truncated":[]}}"#,
            dropper.function(),
            dropper.file(),
            dropper.line()
        )
    );
    // The binary form is the record, as it is in the program's file.
    assert_eq!(
        postcard(mine)[..],
        {
            let mut v = vec![0x80, 0x04]; // postcard's varint length, 512
            v.extend_from_slice(&mine.to_bytes());
            v
        }[..]
    );
    // Each entry is the object `capscope manifest --format json` writes for it.
    let m = capscope::manifest::Manifest::current();
    let rendered: serde_json::Value =
        serde_json::from_str(&m.render(capscope::manifest::Format::Json, "prog")).unwrap();
    for (e, r) in m
        .entries()
        .iter()
        .zip(rendered["entries"].as_array().unwrap())
    {
        assert_eq!(&serde_json::to_value(e).unwrap(), r, "{e}");
    }
    for e in m.entries() {
        round_trips(e).unwrap();
    }
}

#[test]
fn manifest_entries_keep_what_was_cut() {
    let long = format!("crate::{}", "m::".repeat(77)); // 238 bytes
    let text = format!(
        r#"{{"kind":"drop_caps_after","function":"{long}f","file":"src/lib.rs","line":3,"keep":[],"bounding":false,"no_new_privs":true,"all_threads":true,"truncated":["function"]}}"#
    );
    let e: Entry = from_json(&text).unwrap();
    assert!(e.is_truncated() && e.sets_no_new_privs() && e.uid().is_none());
    assert_eq!(e.truncated_fields().collect::<Vec<_>>(), ["function"]);
    assert!(e.to_string().contains("…crate::m::"), "{e}");
    round_trips(&e).unwrap();
}

#[test]
fn manifest_entries_refuse_what_no_attribute_writes() {
    let requires = |extra: &str| {
        format!(
            r#"{{"kind":"requires_caps","function":"f","file":"x.rs","line":1,"caps":["cap_chown"],"exclusive":false{extra}}}"#
        )
    };
    let refused = |text: &str, want: &str| {
        let err = from_json::<Entry>(text).unwrap_err();
        assert!(err.contains(want), "{text}: {err}");
    };
    assert!(from_json::<Entry>(&requires("")).is_ok());
    refused(
        &requires("").replace("cap_chown", "cap_nope"),
        "\"cap_nope\" is not a capability",
    );
    refused(
        &requires("").replace(r#","line":1"#, ""),
        "missing field `line`",
    );
    refused(
        &requires(r#","keep":[]"#),
        "`keep` is not a key of a requires_caps entry",
    );
    refused(
        &requires(r#","uid":0"#),
        "`uid` is not a key of a requires_caps entry",
    );
    refused(&requires(r#","line":2"#), "duplicate field `line`");
    refused(
        r#"{"kind":"drop_caps_after","function":"f","file":"x.rs","line":1,"keep":[],"bounding":false,"no_new_privs":false,"all_threads":false,"uid":1,"user":"nobody"}"#,
        "`user` with a uid or gid",
    );
    refused(&requires(r#","colour":1"#), "unknown field `colour`");
    refused(
        &requires(r#","truncated":["name"]"#),
        "\"function\", \"file\" or \"user\"",
    );
    refused(&requires(r#","truncated":["user"]"#), "without one");
    refused(
        &requires("").replace("requires_caps", "sandbox"),
        "\"requires_caps\" or",
    );
    refused(
        &requires("").replace(r#""f""#, &format!("\"{}\"", "f".repeat(241))),
        "241 bytes, past its 240",
    );
    refused(
        r#"{"kind":"drop_caps_after","function":"f","file":"x.rs","line":1,"keep":[],"bounding":false,"no_new_privs":false,"all_threads":false,"exclusive":true}"#,
        "`exclusive` is not a key of a drop_caps_after entry",
    );
    refused(
        r#"{"kind":"drop_caps_after","function":"f","file":"x.rs","line":1,"keep":[],"no_new_privs":false,"all_threads":false}"#,
        "missing field `bounding`",
    );
    // A binary form is a record: refused as `Entry::from_bytes` refuses it.
    let mut record = entry_named("::annotated").to_bytes();
    record[0] = b'X';
    // (postcard keeps no message: `SerdeDeCustom`.)
    assert!(from_postcard::<Entry>(&postcard(&serde_bytes_like(&record))).is_err());
    let err = from_cbor::<Entry>(&cbor(&serde_bytes_like(&record))).unwrap_err();
    assert!(err.contains("no capscope magic"), "{err}");
    let err = from_cbor::<Entry>(&cbor(&serde_bytes_like(&record[..511]))).unwrap_err();
    assert!(err.contains("a record is 512 bytes, not 511"), "{err}");
}

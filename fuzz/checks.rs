//! The properties the fuzz targets check, shared with `tests/tests/fuzz_corpus.rs`, which
//! replays the committed corpora as ordinary tests. Each function panics when a property fails.

#![allow(dead_code, unreachable_pub)]

use capscope::{Cap, CapState, FileCaps};

/// libcap state text: parsing never panics, errors point inside the input, and whatever parses
/// prints to a text that parses back to the same state (for several kernels' last capability).
pub fn text(data: &[u8]) {
    for last in [
        Cap::LAST_KNOWN,
        Cap::from_u8(37).unwrap(),
        Cap::MAX,
        Cap::CHOWN,
    ] {
        match CapState::from_text_for(data, last) {
            Ok(state) => {
                let text = state.text_for(last).to_string();
                let again =
                    CapState::from_text_for(text.as_bytes(), last).expect("printed text parses");
                assert_eq!(again, state, "{text:?} does not parse back");
            }
            Err(e) => assert!(e.offset() <= data.len()),
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(
            s.parse::<CapState>().ok(),
            CapState::from_text_for(data, Cap::LAST_KNOWN).ok()
        );
        if let Ok(fc) = s.parse::<FileCaps>() {
            let back: FileCaps = fc.to_string().parse().expect("printed file caps parse");
            assert_eq!(back.permitted, fc.permitted);
            assert_eq!(back.inheritable, fc.inheritable);
            assert_eq!(
                back.effective,
                fc.effective && !(fc.permitted | fc.inheritable).is_empty()
            );
        }
    }
}

/// Capability names: parsing never panics and round-trips through `Display`.
pub fn cap_name(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(cap) = s.parse::<Cap>() {
            assert_eq!(cap.to_string().parse::<Cap>().unwrap(), cap);
            // A name with or without `cap_`, in any ASCII case, or the number.
            let name = cap.to_string();
            assert!(
                s.eq_ignore_ascii_case(&name)
                    || name
                        .get(4..)
                        .is_some_and(|bare| s.eq_ignore_ascii_case(bare))
                    || s == cap.as_u8().to_string()
            );
        }
        if let Some(cap) = Cap::from_name(s) {
            assert_eq!(cap.name().map(str::len), Some(s.len()));
        }
    }
}

/// `security.capability` bytes: decoding never panics; what decodes re-encodes to the same
/// bytes (revisions 2 and 3) and decodes again to the same value.
pub fn xattr(data: &[u8]) {
    if let Ok(fc) = FileCaps::from_bytes(data) {
        let bytes = fc.to_bytes();
        if data[3] != 1 {
            assert_eq!(bytes, data);
        }
        assert_eq!(FileCaps::from_bytes(&bytes).unwrap(), fc);
        let _ = fc.to_string();
    }
}

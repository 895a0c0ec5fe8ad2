//! libcap state text: parsing never panics, and whatever parses prints to a text that parses
//! back to the same state (for the library's kernel and for the running one's).
#![no_main]

use capscope::{Cap, CapState, FileCaps};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for last in [Cap::LAST_KNOWN, Cap::from_u8(37).unwrap(), Cap::MAX] {
        if let Ok(state) = CapState::from_text_for(data, last) {
            let text = state.text_for(last).to_string();
            let again = CapState::from_text_for(text.as_bytes(), last).expect("printed text parses");
            assert_eq!(again, state, "{text:?} does not parse back");
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(s.parse::<CapState>().ok(), CapState::from_text_for(data, Cap::LAST_KNOWN).ok());
        if let Ok(fc) = s.parse::<FileCaps>() {
            let back: FileCaps = fc.to_string().parse().expect("printed file caps parse");
            assert_eq!(back.permitted, fc.permitted);
            assert_eq!(back.inheritable, fc.inheritable);
            assert_eq!(back.effective, fc.effective && !(fc.permitted | fc.inheritable).is_empty());
        }
    }
});

//! Capability names: parsing never panics and round-trips through Display.
#![no_main]

use capscope::Cap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(cap) = s.parse::<Cap>() {
            assert_eq!(cap.to_string().parse::<Cap>().unwrap(), cap);
            assert!(s.eq_ignore_ascii_case(&cap.to_string()) || s == cap.as_u8().to_string());
        }
        if let Some(cap) = Cap::from_name(s) {
            assert_eq!(cap.name().map(str::len), Some(s.len()));
        }
    }
});

//! security.capability bytes: decoding never panics; what decodes re-encodes to the same
//! bytes (revisions 2 and 3) and decodes again to the same value.
#![no_main]

use capscope::FileCaps;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fc) = FileCaps::from_bytes(data) {
        let bytes = fc.to_bytes();
        if data[3] != 1 {
            assert_eq!(bytes, data);
        }
        assert_eq!(FileCaps::from_bytes(&bytes).unwrap(), fc);
        let _ = fc.to_string();
    }
});

//! Fuzz target `cap_name`: see `checks::cap_name` (shared with the corpus replay test).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cap_name(data));

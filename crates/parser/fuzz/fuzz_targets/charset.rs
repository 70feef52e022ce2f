//! `decode_html` on arbitrary bytes and Content-Types (see `checks::charset`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::charset(data));

//! `Parser::extract` on arbitrary bytes (see `checks::extract_links`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::extract_links(data));

//! The link pass (byte-level lexer) on arbitrary bytes (see `checks::link_pass`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::link_pass(data));

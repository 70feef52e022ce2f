//! URL canonicalisation of arbitrary strings (see `checks::canonicalize`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::canonicalize(data));

//! `parse_sitemap` on arbitrary bytes (see `checks::sitemap`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::sitemap(data));

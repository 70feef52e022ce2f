//! `trawl export`: streams a store's pages out in one of several formats, without collecting them
//! in memory.

mod jsonl;

pub use jsonl::export_jsonl;

//! `trawl export`: streams a store's pages out in one of several formats, without collecting them
//! in memory.

mod csv;
mod jsonl;
mod readable;
mod records;
mod warc;

pub use csv::export_csv;
pub use jsonl::export_jsonl;
pub use readable::Exported;
pub use records::export_records;
pub use warc::export_warc;

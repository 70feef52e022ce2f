//! trawl's integration tests: the `trawl` binary and library against real local servers
//! (`trawl-testsite` and small fixture servers on 127.0.0.1:0) and real stores in temp dirs.

mod support;

mod cli;
mod crawl;
mod https;
mod memory;
mod parsing;
mod politeness;
mod resume;
mod rules;
mod store_cli;

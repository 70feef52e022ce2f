//! Prints the title and the followable links of a saved HTML page.
//!
//! Usage: `cargo run -p trawl-parser --example extract_links -- page.html https://example.com/page`

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use trawl_parser::{parse_url, Parser, ParserConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, base] = args.as_slice() else {
        eprintln!("usage: extract_links <file.html> <base-url>");
        return ExitCode::from(2);
    };
    let base = match parse_url(base) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match std::fs::read(path) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("error: reading {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = Parser::new(ParserConfig::default()).extract(&base, &body, None, None);
    // Write through a locked, buffered stdout and stop quietly if the reader goes away
    // (e.g. `| head`).
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = writeln!(out, "title: {}", parsed.title.as_deref().unwrap_or(""))
        .and_then(|()| {
            parsed
                .links_to_follow()
                .try_for_each(|url| writeln!(out, "{url}"))
        })
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

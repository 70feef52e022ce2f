//! Parse throughput: reads every `.html` file under a directory into memory, then times
//! `Parser::extract` over all of them on one thread and on N threads.
//!
//! Usage: `cargo run --release -p trawl-parser --example parse_bench -- [DIR] [--threads N]
//! [--limit FILES] [--rounds R]`
//!
//! `DIR` defaults to the local Rust documentation, `$(rustc --print sysroot)/share/doc/rust/html`;
//! `--threads` to the number of CPUs. Each file gets the base URL
//! `https://doc.example/<relative path>`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use trawl_parser::{Parser, ParserConfig};
use url::Url;

struct Args {
    dir: Option<PathBuf>,
    threads: usize,
    limit: usize,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        limit: usize::MAX,
        rounds: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--threads" | "-t" => args.threads = number("--threads")?,
            "--limit" => args.limit = number("--limit")?,
            "--rounds" => args.rounds = number("--rounds")?,
            "-h" | "--help" => {
                return Err(
                    "usage: parse_bench [DIR] [--threads N] [--limit FILES] [--rounds R]".into(),
                )
            }
            _ if args.dir.is_none() && !arg.starts_with('-') => args.dir = Some(arg.into()),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(args)
}

fn default_dir() -> Result<PathBuf, String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running rustc --print sysroot: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(Path::new(&sysroot).join("share/doc/rust/html"))
}

/// All `.html` files under `dir`, sorted, with their URLs.
fn collect(dir: &Path, limit: usize) -> std::io::Result<Vec<(Url, Vec<u8>)>> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && path.extension().is_some_and(|e| e == "html") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths.truncate(limit);
    let mut pages = Vec::with_capacity(paths.len());
    for path in paths {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let rel = rel.to_string_lossy().replace('\\', "/");
        let url = Url::parse("https://doc.example/")
            .and_then(|b| b.join(&rel))
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        pages.push((url, std::fs::read(&path)?));
    }
    Ok(pages)
}

/// Extracts every page `rounds` times; returns the total number of links (so nothing is
/// optimised away).
fn run(parser: &Parser, pages: &[(Url, Vec<u8>)], rounds: usize) -> usize {
    let mut links = 0;
    for _ in 0..rounds {
        for (url, body) in pages {
            links += parser
                .extract(url, body, Some("text/html; charset=utf-8"), None)
                .links
                .len();
        }
    }
    links
}

fn report(label: &str, files: usize, bytes: usize, elapsed: Duration, links: usize) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mb = bytes as f64 / 1e6;
    println!(
        "{label:<12} {files:>7} pages {mb:>9.1} MB {secs:>8.2} s {:>8.1} MB/s {:>9.0} pages/s  ({links} links)",
        mb / secs,
        files as f64 / secs,
    );
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let dir = match args.dir.clone().map_or_else(default_dir, Ok) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pages = match collect(&dir, args.limit) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            eprintln!("error: no .html files under {}", dir.display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: reading {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum::<usize>() * args.rounds;
    let files = pages.len() * args.rounds;
    println!(
        "{} files, {:.1} MB from {} ({} round(s))",
        pages.len(),
        bytes as f64 / 1e6 / args.rounds as f64,
        dir.display(),
        args.rounds
    );
    let parser = Parser::new(ParserConfig::default());

    let start = Instant::now();
    let links = run(&parser, &pages, args.rounds);
    report("1 thread", files, bytes, start.elapsed(), links);

    if args.threads > 1 {
        let chunk = pages.len().div_ceil(args.threads);
        let start = Instant::now();
        let links: usize = std::thread::scope(|s| {
            let handles: Vec<_> = pages
                .chunks(chunk)
                .map(|part| s.spawn(|| run(&parser, part, args.rounds)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        report(
            &format!("{} threads", args.threads),
            files,
            bytes,
            start.elapsed(),
            links,
        );
    }
    ExitCode::SUCCESS
}

//! Measures what storing bodies costs at each zstd level, the way the store does it: every file
//! of a directory compressed on its own (one frame per body, one reused context), single thread.
//! Prints MB/s and the compression ratio per level, to choose `[store] compression_level`.
//!
//! Level 2 is the default: on all 48,000 pages (537 MB) level 1 and 2 ran at 584-612 MB/s
//! (ratios 4.58x, 4.64x), level 3 at 504-508 MB/s (4.73x), level -1 at 786-804 MB/s (3.73x).
//!
//! ```text
//! cargo run --release -p trawl-store --example body_levels -- "$(rustc --print sysroot)/share/doc/rust/html" 48000
//! ```

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: body_levels DIR [MAX_FILES]")?);
    let max_files: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(15_000);
    let mut bodies = Vec::new();
    let mut stack = vec![dir];
    while let Some(path) = stack.pop() {
        if bodies.len() >= max_files {
            break;
        }
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path)?.filter_map(|e| e.ok().map(|e| e.path())));
        } else if path.extension().is_some_and(|e| e == "html") {
            bodies.push(std::fs::read(&path)?);
        }
    }
    let total: usize = bodies.iter().map(Vec::len).sum();
    println!("{} bodies, {:.1} MB", bodies.len(), total as f64 / 1e6);
    for level in [-1, 1, 2, 3, 4, 6] {
        let mut compressor = zstd::bulk::Compressor::new(level)?;
        let started = Instant::now();
        let mut stored = 0usize;
        for body in &bodies {
            stored += compressor.compress(body)?.len();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "level {level:>2}: {:>7.1} MB/s  ratio {:.2}x  ({:.2} s)",
            total as f64 / 1e6 / secs,
            total as f64 / stored as f64,
            secs
        );
    }
    Ok(())
}

//! The `trawl` command: parses the command line, runs the command, and maps the outcome to an
//! exit code (0 done, 1 could not complete, 2 usage or config error, 130 interrupted).

#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
mod allocator;
mod bench;
mod cli;
mod progress;
mod store_commands;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use trawl::{Crawl, CrawlRun, Error};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(err),
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("trawl: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        // The reader of our output went away (`trawl export | head`): not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err
                .downcast_ref::<Error>()
                .map_or(1, |err| err.exit_code() as u8);
            eprintln!("trawl: {}", one_line(&err));
            ExitCode::from(code)
        }
    }
}

/// glibc malloc tuning for a build without the `jemalloc` feature (which replaces glibc malloc
/// for Rust allocations), unless the environment sets the same knob (MALLOC_ARENA_MAX,
/// MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES):
/// - two arenas: glibc gives each thread that allocates its own arena (up to 8 per core); with
///   tokio's workers and the blocking pool that fragments memory: a 300,000-page crawl peaked at
///   220 MB RSS, 179 MB with two arenas.
/// - a fixed mmap threshold of 256 KiB: by default glibc raises the threshold to the size of each
///   large block freed (up to 32 MiB), so after one multi-MB page every body, record and buffer
///   below that size comes from the arenas and their holes stay resident. With the threshold
///   fixed, blocks from 256 KiB go to mmap and back to the OS when freed: the Rust docs crawl
///   (14,210 pages) peaked at 76 MiB RSS instead of 98 (medians of 7), for about 1% more CPU;
///   128 KiB saved 4 MiB more for 6% more CPU (page faults).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "jemalloc")))]
    {
        let set_in_env = |var: &str, tunable: &str| {
            std::env::var_os(var).is_some()
                || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains(tunable))
        };
        if !set_in_env("MALLOC_ARENA_MAX", "glibc.malloc.arena_max") {
            // SAFETY: mallopt only sets an allocator tunable; called first thing, before other
            // threads exist.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if !set_in_env("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") {
            // SAFETY: as above.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
            }
        }
    }
}

/// Clap's errors on one line (help and version go to stdout as usual).
fn clap_exit(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::from(
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            },
        );
    }
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    eprintln!("trawl: {first}; see `trawl --help`");
    ExitCode::from(2)
}

/// Whether `err` comes from writing to a pipe whose reader has gone.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn one_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.replace('\n', " ")
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr (`trawl crawl ... 2>&1 | head`) must not make every logging thread
        // panic on tracing's own eprintln! of the write error.
        .log_internal_errors(false)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Crawl(command) => {
            let config = command.config()?;
            if !config.fetcher.obey_robots {
                tracing::warn!(
                    "robots.txt is ignored (--ignore-robots): be sure the sites allow it"
                );
            }
            let crawl = Crawl::new(config).await?;
            drive(crawl, command.options.quiet).await
        }
        Command::Resume(command) => {
            let options = command.options;
            let crawl = Crawl::resume(&command.store, |config| options.apply(config)).await?;
            drive(crawl, options.quiet).await
        }
        Command::Export(command) => store_commands::export(command).await,
        Command::Stats(command) => store_commands::stats(command).await,
        Command::Verify(command) => store_commands::verify(command).await,
        Command::Bench(command) => bench::run(command).await,
        Command::ServeSite(command) => {
            bench::serve::serve_site(command.pages, command.hosts, command.latency_ms).await
        }
        Command::ServeDir(command) => bench::serve::serve_dir(command.path).await,
        Command::BenchFill(command) => bench::fill(command).await,
    }
}

/// Runs a crawl with progress, Ctrl-C handling and a summary; returns the exit code.
async fn drive(crawl: Crawl, quiet: bool) -> anyhow::Result<u8> {
    let store_dir = crawl.config().crawl.store_dir.clone();
    // The CLI reports counts, never bodies: let each body go as soon as it is stored.
    let mut run: CrawlRun = crawl.without_page_bodies().start();
    let cancel = run.cancel_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("trawl: stopping: finishing the pages in flight (Ctrl-C again to quit at once)");
        cancel.cancel();
        wait_for_signal().await;
        eprintln!("trawl: quit; the store is consistent, resume with `trawl resume --store DIR`");
        std::process::exit(130);
    });
    let progress = progress::Progress::new(quiet);
    let live = run.live();
    while run.next_page().await.is_some() {
        progress.update(&live);
    }
    progress.finish();
    let summary = run.finish().await?;
    if !quiet {
        eprint!("{}", summary.render());
    }
    if summary.interrupted {
        eprintln!(
            "trawl: interrupted; continue with `trawl resume --store {}`",
            store_dir.display()
        );
        return Ok(130);
    }
    Ok(0)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

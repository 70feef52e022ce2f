//! Live progress on stderr (indicatif) while a crawl runs: pages done, pages/s, queued, in flight
//! and errors. Shown only on a terminal and never with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trawl::LiveStats;

/// A spinner line redrawn a few times a second from the crawl's live counters.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// A progress display, or a silent one when `quiet` or stderr is not a terminal.
    pub fn new(quiet: bool) -> Progress {
        let show = !quiet && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
            let style = ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    /// Redraws the line from the live counters.
    pub fn update(&self, live: &Arc<LiveStats>) {
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} pages, {:.0} pages/s, {} queued, {} in flight, {} errors, {}",
                live.pages(),
                live.pages() as f64 / secs,
                live.queued(),
                live.in_flight(),
                live.errors(),
                trawl::human_bytes(live.bytes()),
            ));
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

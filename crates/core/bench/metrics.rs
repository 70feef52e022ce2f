//! What a bench run measures, and how it is printed (a table, or one JSON object).

use std::time::{Duration, Instant};

use trawl::CrawlRun;

/// The figures of one bench run.
#[derive(Debug, Default)]
pub struct Report {
    pub scenario: String,
    pub pages: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
    pub cpu_seconds: f64,
    pub peak_rss: u64,
    pub store_bytes: u64,
    pub first_half_pps: f64,
    pub second_half_pps: f64,
    /// Pages/s over each tenth of the pages, in order: the shape of a long crawl.
    pub tenths_pps: Vec<f64>,
    pub ideal_pages_per_second: Option<f64>,
    pub resume_open: Option<Duration>,
    pub first_page: Option<Duration>,
    pub known_urls: Option<u64>,
}

impl Report {
    /// Reads the crawl's page stream to the end, timing it.
    pub async fn measure(
        name: &str,
        mut run: CrawlRun,
        started: Instant,
    ) -> anyhow::Result<Report> {
        let mut report = Report {
            scenario: name.to_string(),
            ..Report::default()
        };
        let mut marks = Vec::new();
        while let Some(page) = run.next_page().await {
            if report.first_page.is_none() {
                report.first_page = Some(started.elapsed());
            }
            report
                .latencies_us
                .push(page.elapsed.as_micros().min(u32::MAX as u128) as u32);
            if report.latencies_us.len() % 1000 == 0 {
                marks.push(started.elapsed());
            }
        }
        let summary = run.finish().await?;
        report.pages = summary.pages;
        report.bytes = summary.bytes;
        report.elapsed = started.elapsed();
        report.peak_rss = trawl::peak_rss_bytes().unwrap_or(0);
        // Rates over the first and the second half of the pages.
        if marks.len() >= 2 {
            let half = marks.len() / 2;
            let first = marks[half - 1];
            let last = marks[marks.len() - 1];
            report.first_half_pps = (half * 1000) as f64 / first.as_secs_f64();
            report.second_half_pps =
                ((marks.len() - half) * 1000) as f64 / (last - first).as_secs_f64().max(1e-9);
        }
        report.tenths_pps = tenths(&marks, 1000);
        report.latencies_us.sort_unstable();
        Ok(report)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }

    fn pages_per_second(&self) -> f64 {
        self.pages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.scenario,
            "pages": self.pages,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "pages_per_s": self.pages_per_second(),
            "mb_per_s": self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9),
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "cpu_s": self.cpu_seconds,
            "peak_rss_mb": self.peak_rss as f64 / 1e6,
            "store_bytes_per_page": self.store_bytes.checked_div(self.pages).unwrap_or(0),
            "first_half_pages_per_s": self.first_half_pps,
            "second_half_pages_per_s": self.second_half_pps,
            "tenths_pages_per_s": self.tenths_pps,
            "ideal_pages_per_s": self.ideal_pages_per_second,
            "resume_open_s": self.resume_open.map(|d| d.as_secs_f64()),
            "first_page_s": self.first_page.map(|d| d.as_secs_f64()),
            "known_urls": self.known_urls,
        })
    }

    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let pps = self.pages_per_second();
        let _ = writeln!(out, "scenario          {}", self.scenario);
        let _ = writeln!(
            out,
            "pages             {} in {:.2}s",
            self.pages,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(out, "pages/s           {pps:.0}");
        if let Some(ideal) = self.ideal_pages_per_second {
            let _ = writeln!(
                out,
                "of ideal          {:.1}% of {ideal:.0} pages/s",
                100.0 * pps / ideal
            );
        }
        let _ = writeln!(
            out,
            "MB/s              {:.1}",
            self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
        );
        let _ = writeln!(
            out,
            "fetch p50 / p99   {:.2} ms / {:.2} ms",
            self.percentile_ms(0.5),
            self.percentile_ms(0.99)
        );
        let _ = writeln!(
            out,
            "CPU               {:.2}s ({:.0}% of one core)",
            self.cpu_seconds,
            100.0 * self.cpu_seconds / self.elapsed.as_secs_f64().max(1e-9)
        );
        let _ = writeln!(
            out,
            "peak RSS          {:.1} MB",
            self.peak_rss as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "store             {} bytes/page",
            self.store_bytes.checked_div(self.pages).unwrap_or(0)
        );
        if self.first_half_pps > 0.0 {
            let _ = writeln!(
                out,
                "halves            {:.0} then {:.0} pages/s",
                self.first_half_pps, self.second_half_pps
            );
        }
        if !self.tenths_pps.is_empty() {
            let rates: Vec<String> = self.tenths_pps.iter().map(|r| format!("{r:.0}")).collect();
            let _ = writeln!(out, "tenths            {} pages/s", rates.join(" "));
        }
        if let (Some(open), Some(known)) = (self.resume_open, self.known_urls) {
            let _ = writeln!(
                out,
                "resume            opened {known} known URLs in {:.2}s",
                open.as_secs_f64()
            );
        }
        if let Some(first) = self.first_page {
            let _ = writeln!(
                out,
                "first page        committed after {:.2}s",
                first.as_secs_f64()
            );
        }
        out
    }
}

/// User + system CPU time of this process so far.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer is always allowed.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Pages/s over each tenth of a crawl, from `marks` (the time at every `step` pages). Empty when
/// the crawl is under ten marks long.
fn tenths(marks: &[Duration], step: usize) -> Vec<f64> {
    if marks.len() < 10 {
        return Vec::new();
    }
    let mut rates = Vec::with_capacity(10);
    let mut previous_index = None;
    for tenth in 1..=10 {
        let index = marks.len() * tenth / 10 - 1;
        let (start_pages, start_time) = match previous_index {
            Some(i) => ((i + 1) * step, marks[i]),
            None => (0, Duration::ZERO),
        };
        let pages = (index + 1) * step - start_pages;
        let seconds = (marks[index] - start_time).as_secs_f64().max(1e-9);
        rates.push(pages as f64 / seconds);
        previous_index = Some(index);
    }
    rates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_are_the_rates_of_each_tenth_of_the_marks() {
        // 20 marks, 1000 pages apart: the first 10 one second apart, the last 10 two seconds.
        let mut marks = Vec::new();
        let mut at = Duration::ZERO;
        for i in 0..20 {
            at += Duration::from_secs(if i < 10 { 1 } else { 2 });
            marks.push(at);
        }
        let rates = tenths(&marks, 1000);
        assert_eq!(
            rates,
            vec![1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 500.0, 500.0, 500.0, 500.0, 500.0]
        );
        assert!(tenths(&marks[..9], 1000).is_empty());
    }
}

//! Table-driven robots.txt matching tests: `tests/data/robots_cases.txt` (Google's
//! robots_test.cc semantics) run against the pure `RobotsRules`, plus size and long-line cases.

use trawl_fetcher::RobotsRules;

struct Case {
    name: String,
    agent: String,
    checks: Vec<(bool, String)>,
    body: Vec<u8>,
}

/// Decode `\r \n \t \xHH \\` escapes in one body line.
fn unescape(line: &str) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                    continue;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line
            .strip_prefix("== ")
            .unwrap_or_else(|| panic!("expected '== name', got {line:?}"))
            .to_string();
        let (mut agent, mut eol, mut checks) = (None, b"\n".to_vec(), Vec::new());
        for line in lines.by_ref() {
            if line == "--" {
                break;
            }
            let (key, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}: bad header line {line:?}"));
            let value = value.trim();
            match key {
                "agent" => agent = Some(value.to_string()),
                "eol" => {
                    eol = match value {
                        "lf" => b"\n".to_vec(),
                        "crlf" => b"\r\n".to_vec(),
                        "cr" => b"\r".to_vec(),
                        other => panic!("{name}: bad eol {other}"),
                    }
                }
                "check" => {
                    let (verdict, path) = value.split_once(' ').unwrap();
                    let allow = match verdict {
                        "allow" => true,
                        "disallow" => false,
                        other => panic!("{name}: bad verdict {other}"),
                    };
                    checks.push((allow, path.to_string()));
                }
                other => panic!("{name}: unknown header {other}"),
            }
        }
        let mut body_lines = Vec::new();
        for line in lines.by_ref() {
            if line == "==end" {
                break;
            }
            body_lines.push(unescape(line));
        }
        assert!(!checks.is_empty(), "{name}: no checks");
        cases.push(Case {
            name,
            agent: agent.expect("agent line"),
            checks,
            body: body_lines.join(&eol[..]),
        });
    }
    cases
}

fn url(path: &str) -> url::Url {
    url::Url::parse(&format!("http://foo.bar{path}")).unwrap()
}

#[test]
fn google_robots_cases() {
    let text = include_str!("data/robots_cases.txt");
    let cases = parse_cases(text);
    let mut total = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let rules = RobotsRules::parse(&case.body, &case.agent);
        for (allow, path) in &case.checks {
            total += 1;
            let got = rules.allows(&url(path));
            if got != *allow {
                failures.push(format!(
                    "{}: {path} expected {} got {}",
                    case.name,
                    if *allow { "allow" } else { "disallow" },
                    if got { "allow" } else { "disallow" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 100, "only {total} cases");
    eprintln!("{total} robots cases in {} blocks passed", cases.len());
}

#[test]
fn long_lines_are_cut_like_google() {
    // Google cuts lines at 8 * 2083 bytes (minus the terminator); the cut rule still applies.
    const MAX_LINE_LEN: usize = 2083 * 8;
    let disallow = "disallow: ";
    let mut longline = String::from("/x/");
    let max_length = MAX_LINE_LEN - longline.len() - disallow.len() + 1;
    while longline.len() < max_length {
        longline.push('a');
    }
    let robots = format!("user-agent: FooBot\n{disallow}{longline}/qux\n");
    let rules = RobotsRules::parse(robots.as_bytes(), "FooBot");
    assert!(rules.allows(&url("/fux")));
    assert!(!rules.allows(&url(&format!("{longline}/fux"))));

    let allow = "allow: ";
    let (mut a, mut b) = (String::from("/x/"), String::from("/x/"));
    let max_length = MAX_LINE_LEN - a.len() - allow.len() + 1;
    while a.len() < max_length {
        a.push('a');
        b.push('b');
    }
    let robots = format!("user-agent: FooBot\ndisallow: /\n{allow}{a}/qux\n{allow}{b}/qux\n");
    let rules = RobotsRules::parse(robots.as_bytes(), "FooBot");
    assert!(!rules.allows(&url("/")));
    assert!(rules.allows(&url(&format!("{a}/qux"))));
    assert!(rules.allows(&url(&format!("{b}/fux"))));
}

#[test]
fn half_megabyte_robots_txt_parses_and_its_last_rule_applies() {
    let mut body = String::from("User-agent: *\n");
    let mut i = 0;
    while body.len() < 500 * 1024 {
        body.push_str(&format!(
            "Disallow: /section-{i}/private/*.pdf$\nAllow: /section-{i}/public\n"
        ));
        i += 1;
    }
    body.push_str("Disallow: /the-very-last-rule\n");
    assert!(
        body.len() > 500 * 1024 && body.len() < 512 * 1024,
        "{}",
        body.len()
    );
    let start = std::time::Instant::now();
    let rules = RobotsRules::parse(body.as_bytes(), "trawl");
    assert!(!rules.allows(&url("/the-very-last-rule")));
    assert!(!rules.allows(&url("/section-7/private/a/b.pdf")));
    assert!(rules.allows(&url("/section-7/private/a/b.pdf?x")));
    assert!(rules.allows(&url("/elsewhere")));
    // Loose upper bound: parsing plus a few checks in a debug build.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn crawl_delay_and_sitemaps() {
    let rules = RobotsRules::parse(
        b"Sitemap: https://foo.bar/a.xml\nUser-agent: *\nCrawl-delay: 4\n\nUser-agent: FooBot\nCrawl-delay: 0.5\nDisallow: /x\nSITEMAP: /b.xml\n",
        "foobot",
    );
    assert_eq!(
        rules.crawl_delay(),
        Some(std::time::Duration::from_millis(500))
    );
    assert_eq!(rules.sitemaps(), vec!["https://foo.bar/a.xml", "/b.xml"]);
    let other = RobotsRules::parse(b"User-agent: *\nCrawl-delay: 4\n", "foobot");
    assert_eq!(other.crawl_delay(), Some(std::time::Duration::from_secs(4)));
    assert!(RobotsRules::allow_all().allows(&url("/anything")));
}

//! The `trawl-testsite` binary: prints base URLs and the seed URL, serves them, rejects bad flags.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_trawl-testsite");

#[test]
fn prints_urls_and_serves_them() {
    let mut child = Command::new(BIN)
        .args([
            "--pages", "20", "--hosts", "2", "--links", "3", "--seed", "7",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let urls: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    assert!(urls[0].starts_with("http://127.0.0.1:") && urls[1].starts_with("http://127.0.0.1:"));
    assert_ne!(urls[0], urls[1]);
    assert_eq!(urls[2], format!("{}/", urls[0]));

    let mut s = TcpStream::connect(&urls[0][7..]).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("<title>Page 0</title>"));
    assert!(
        out.contains(&format!("href=\"{}/\"", urls[1])),
        "links to page 1 on host 1"
    );
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--pages", "many"][..],
        &["--hosts", "0"],
        &["--frobnicate"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

//! Content-type checks and character-set detection: turning a fetched body into UTF-8 text.
//!
//! Order (a simplification of the WHATWG "encoding sniffing algorithm"): byte-order mark, then
//! the `charset` parameter of the Content-Type header, then a `<meta charset>` or
//! `<meta http-equiv=Content-Type content="...; charset=...">` found by the HTML "prescan" in the
//! first 1024 bytes, then UTF-8 if the body is valid UTF-8, else windows-1252.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252, X_USER_DEFINED};

/// How many bytes the `<meta>` prescan looks at.
const PRESCAN_LIMIT: usize = 1024;

/// True if the Content-Type's MIME essence is `text/html` or `application/xhtml+xml`.
///
/// `None` gives `false`: sniffing a body without a content type is the caller's business.
pub fn is_html(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/html")
        || essence.eq_ignore_ascii_case("application/xhtml+xml")
}

/// Decodes an HTML body to UTF-8 text; returns the text and the encoding used.
///
/// BOM, then the Content-Type charset, then `<meta charset>`/`<meta http-equiv=Content-Type>` in
/// the first 1024 bytes, then UTF-8 if valid, else windows-1252. Malformed sequences become
/// U+FFFD. Valid UTF-8 (and ASCII-only text in ASCII-compatible encodings) is borrowed, not
/// copied.
pub fn decode_html<'a>(
    body: &'a [u8],
    content_type: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        let (text, _) = enc.decode_without_bom_handling(&body[bom_len..]);
        return (text, enc);
    }
    let declared = content_type
        .and_then(charset_from_content_type)
        .or_else(|| prescan_meta(&body[..body.len().min(PRESCAN_LIMIT)]));
    if let Some(enc) = declared {
        let (text, _) = enc.decode_without_bom_handling(body);
        return (text, enc);
    }
    match std::str::from_utf8(body) {
        Ok(text) => (Cow::Borrowed(text), UTF_8),
        Err(_) => {
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(body);
            (text, WINDOWS_1252)
        }
    }
}

/// The encoding named by a Content-Type header's `charset` parameter, if it names a known one.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes())
    })
}

/// A declared encoding found in a `<meta>` element, adjusted as the HTML standard requires
/// (a UTF-16 declaration in an ASCII-compatible byte stream means UTF-8; x-user-defined means
/// windows-1252).
fn meta_encoding(label: &[u8]) -> Option<&'static Encoding> {
    let enc = Encoding::for_label(label)?;
    Some(if enc == UTF_16BE || enc == UTF_16LE {
        UTF_8
    } else if enc == X_USER_DEFINED {
        WINDOWS_1252
    } else {
        enc
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// The WHATWG "prescan a byte stream to determine its encoding" algorithm over `bytes`.
fn prescan_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.starts_with(b"<!--") {
            // Skip the comment; the "-->" may share the dashes of "<!--".
            pos = find(bytes, pos + 2, b"-->").map_or(bytes.len(), |p| p + 3);
        } else if rest.len() >= 6
            && rest[..5].eq_ignore_ascii_case(b"<meta")
            && (is_space(rest[5]) || rest[5] == b'/')
        {
            pos += 6;
            if let Some(enc) = meta_element(bytes, &mut pos) {
                return Some(enc);
            }
        } else if rest.len() >= 2
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Some other tag: skip its name, then its attributes.
            pos += 2;
            while pos < bytes.len() && !is_space(bytes[pos]) && bytes[pos] != b'>' {
                pos += 1;
            }
            while get_attribute(bytes, &mut pos).is_some() {}
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            pos = find(bytes, pos, b">").map_or(bytes.len(), |p| p + 1);
        } else {
            pos += 1;
        }
    }
    None
}

/// Handles the attributes of one `<meta` tag (position just after `<meta` and one space).
fn meta_element(bytes: &[u8], pos: &mut usize) -> Option<&'static Encoding> {
    let (mut seen_http_equiv, mut seen_content, mut seen_charset) = (false, false, false);
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<&'static Encoding> = None;
    while let Some((name, value)) = get_attribute(bytes, pos) {
        if name.eq_ignore_ascii_case(b"http-equiv") && !seen_http_equiv {
            seen_http_equiv = true;
            if value.eq_ignore_ascii_case(b"content-type") {
                got_pragma = true;
            }
        } else if name.eq_ignore_ascii_case(b"content") && !seen_content {
            seen_content = true;
            if charset.is_none() {
                if let Some(enc) = charset_in_meta_content(value).and_then(meta_encoding) {
                    charset = Some(enc);
                    need_pragma = Some(true);
                }
            }
        } else if name.eq_ignore_ascii_case(b"charset") && !seen_charset {
            seen_charset = true;
            if let Some(enc) = meta_encoding(value) {
                charset = Some(enc);
                need_pragma = Some(false);
            }
        }
    }
    match need_pragma {
        None => None,
        Some(true) if !got_pragma => None,
        _ => charset,
    }
}

/// The WHATWG "get an attribute" step of the prescan. Returns raw (name, value) byte slices
/// (compare them case-insensitively); `None` when the tag ends or the input runs out.
fn get_attribute<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<(&'a [u8], &'a [u8])> {
    while *pos < bytes.len() && (is_space(bytes[*pos]) || bytes[*pos] == b'/') {
        *pos += 1;
    }
    if *pos >= bytes.len() || bytes[*pos] == b'>' {
        return None;
    }
    let name_start = *pos;
    // The first byte is part of the name even if it is '='.
    *pos += 1;
    while *pos < bytes.len() {
        match bytes[*pos] {
            b'=' => break,
            b if is_space(b) => break,
            b'/' | b'>' => return Some((&bytes[name_start..*pos], &[])),
            _ => *pos += 1,
        }
    }
    let name = &bytes[name_start..*pos];
    while *pos < bytes.len() && is_space(bytes[*pos]) {
        *pos += 1;
    }
    if *pos >= bytes.len() {
        return None;
    }
    if bytes[*pos] != b'=' {
        return Some((name, &[]));
    }
    *pos += 1;
    while *pos < bytes.len() && is_space(bytes[*pos]) {
        *pos += 1;
    }
    let &first = bytes.get(*pos)?;
    if first == b'"' || first == b'\'' {
        let start = *pos + 1;
        let end = bytes[start..].iter().position(|&b| b == first)? + start;
        *pos = end + 1;
        return Some((name, &bytes[start..end]));
    }
    if first == b'>' {
        return Some((name, &[]));
    }
    let start = *pos;
    while *pos < bytes.len() && !is_space(bytes[*pos]) && bytes[*pos] != b'>' {
        *pos += 1;
    }
    Some((name, &bytes[start..*pos]))
}

/// The WHATWG "algorithm for extracting a character encoding from a meta element" (the label).
fn charset_in_meta_content(content: &[u8]) -> Option<&[u8]> {
    let mut pos = 0;
    loop {
        let at = content[pos..]
            .windows(7)
            .position(|w| w.eq_ignore_ascii_case(b"charset"))?;
        pos += at + 7;
        while pos < content.len() && is_space(content[pos]) {
            pos += 1;
        }
        if content.get(pos) == Some(&b'=') {
            break;
        }
    }
    pos += 1;
    while pos < content.len() && is_space(content[pos]) {
        pos += 1;
    }
    let &first = content.get(pos)?;
    if first == b'"' || first == b'\'' {
        let start = pos + 1;
        let end = content[start..].iter().position(|&b| b == first)? + start;
        return Some(&content[start..end]);
    }
    let end = content[pos..]
        .iter()
        .position(|&b| is_space(b) || b == b';')
        .map_or(content.len(), |p| pos + p);
    Some(&content[pos..end])
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{SHIFT_JIS, WINDOWS_1251};

    #[test]
    fn is_html_by_essence() {
        assert!(is_html(Some("text/html")));
        assert!(is_html(Some("Text/HTML; charset=utf-8")));
        assert!(is_html(Some(" application/xhtml+xml ")));
        assert!(!is_html(Some("text/plain")));
        assert!(!is_html(Some("application/json; x=text/html")));
        assert!(!is_html(Some("")));
        assert!(!is_html(None));
    }

    #[test]
    fn content_type_charset_parsing() {
        assert_eq!(
            charset_from_content_type("text/html; charset=windows-1251"),
            Some(WINDOWS_1251)
        );
        assert_eq!(
            charset_from_content_type("text/html;CHARSET=\"Shift_JIS\""),
            Some(SHIFT_JIS)
        );
        assert_eq!(
            charset_from_content_type("text/html; charset = 'latin1' "),
            Some(WINDOWS_1252)
        );
        assert_eq!(charset_from_content_type("text/html; charset=bogus"), None);
        assert_eq!(charset_from_content_type("text/html"), None);
        assert_eq!(
            charset_from_content_type("text/html; boundary=x; charset=utf-8"),
            Some(UTF_8)
        );
    }

    #[test]
    fn prescan_variants() {
        let p = |s: &str| prescan_meta(s.as_bytes()).map(Encoding::name);
        assert_eq!(p("<meta charset=shift_jis>"), Some("Shift_JIS"));
        assert_eq!(p("<META CHARSET='Windows-1251'/>"), Some("windows-1251"));
        assert_eq!(p("<meta\tcharset = \"euc-jp\">"), Some("EUC-JP"));
        assert_eq!(
            p(r#"<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">"#),
            Some("KOI8-R")
        );
        assert_eq!(
            p(r#"<meta content='text/html; charset="gbk"' http-equiv=content-type>"#),
            Some("GBK")
        );
        // content charset without the pragma is ignored
        assert_eq!(p(r#"<meta content="text/html; charset=koi8-r">"#), None);
        // commented out, or inside another tag's attribute
        assert_eq!(
            p("<!-- <meta charset=koi8-r> --><meta charset=big5>"),
            Some("Big5")
        );
        assert_eq!(
            p(r#"<div title="<meta charset=koi8-r>"><meta charset=big5>"#),
            Some("Big5")
        );
        // UTF-16 in a meta means UTF-8; x-user-defined means windows-1252
        assert_eq!(p("<meta charset=utf-16le>"), Some("UTF-8"));
        assert_eq!(p("<meta charset=x-user-defined>"), Some("windows-1252"));
        assert_eq!(
            p("<meta charset=nonsense><meta charset=utf-8>"),
            Some("UTF-8")
        );
        assert_eq!(p("<metacharset=koi8-r>"), None);
        assert_eq!(p("<meta charset"), None);
        assert_eq!(p("<meta charset=\"koi8-r"), None);
        assert_eq!(p("<meta content=\"charset"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn meta_beyond_1024_bytes_is_not_seen() {
        let mut body = vec![b' '; 1100];
        body.extend_from_slice(b"<meta charset=koi8-r>caf\xe9");
        let (text, enc) = decode_html(&body, None);
        assert_eq!(
            enc, WINDOWS_1252,
            "invalid UTF-8 falls back to windows-1252"
        );
        assert!(text.ends_with("caf\u{e9}"));
    }

    #[test]
    fn precedence_bom_then_header_then_meta() {
        let (bytes, _, _) = SHIFT_JIS.encode("<meta charset=shift_jis>日本");
        // BOM beats header and meta.
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice("<meta charset=shift_jis>日本".as_bytes());
        let (text, enc) = decode_html(&with_bom, Some("text/html; charset=windows-1251"));
        assert_eq!(enc, UTF_8);
        assert_eq!(text, "<meta charset=shift_jis>日本");
        // Header beats meta.
        let (_, enc) = decode_html(&bytes, Some("text/html; charset=windows-1251"));
        assert_eq!(enc, WINDOWS_1251);
        // Unknown header label falls through to meta.
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=nope"));
        assert_eq!(enc, SHIFT_JIS);
        assert!(text.ends_with("日本"));
    }

    #[test]
    fn utf8_is_borrowed_and_garbage_never_panics() {
        let (text, enc) = decode_html("héllo".as_bytes(), None);
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!((text.as_ref(), enc), ("héllo", UTF_8));
        let (text, enc) = decode_html(b"\xff\xfe", None);
        assert_eq!((text.as_ref(), enc), ("", UTF_16LE));
        let (text, enc) = decode_html(b"", None);
        assert_eq!((text.as_ref(), enc), ("", UTF_8));
        let mut g = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    g ^= g << 13;
                    g ^= g >> 7;
                    g ^= g << 17;
                    [b'<', b'>', b'=', b'"', b'm', b' ', (g >> 8) as u8][(g % 7) as usize]
                })
                .collect();
            let (text, _) = decode_html(&bytes, None);
            assert!(text.len() >= bytes.len() / 4);
        }
    }
}

//! HTML character references (`&amp;`, `&#x41;`, legacy `&copy` without a semicolon) decoded the
//! way the HTML tokenizer decodes them, for the byte-level lexer in [`crate::scan`]. It uses
//! html5ever's table of the 2,231 named references, so it agrees with the DOM parse.
//!
//! Decoding also applies the tokenizer's input preprocessing to the text it is given: a CR (or
//! CR LF) becomes LF, and NUL becomes U+FFFD.

use std::borrow::Cow;

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

/// The longest named reference ("CounterClockwiseContourIntegral;") has 31 letters.
const LONGEST_NAME: usize = 32;

/// Where the text came from: attribute values keep `&name` unexpanded when a legacy
/// reference without `;` is followed by `=` or a letter or digit (`?a=1&copy=2` stays a query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Attribute,
    Text,
}

/// Decodes character references in `raw` (and preprocesses CR and NUL). Borrows when there is
/// nothing to change, which is the common case.
pub(crate) fn decode(raw: &str, context: Context) -> Cow<'_, str> {
    if !raw.bytes().any(|b| matches!(b, b'&' | b'\r' | 0)) {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'&' => {
                if let Some((decoded, consumed)) = reference(&raw[pos + 1..], context) {
                    out.push_str(&raw[copied..pos]);
                    out.extend(decoded.into_iter().flatten());
                    pos += 1 + consumed;
                    copied = pos;
                } else {
                    pos += 1;
                }
            }
            b'\r' => {
                out.push_str(&raw[copied..pos]);
                out.push('\n');
                pos += if bytes.get(pos + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                copied = pos;
            }
            0 => {
                out.push_str(&raw[copied..pos]);
                out.push('\u{FFFD}');
                pos += 1;
                copied = pos;
            }
            _ => pos += 1,
        }
    }
    out.push_str(&raw[copied..]);
    Cow::Owned(out)
}

/// The reference that starts right after an `&`: its one or two characters and how many bytes
/// after the `&` it used, or `None` when the `&` stands for itself.
fn reference(after: &str, context: Context) -> Option<([Option<char>; 2], usize)> {
    let bytes = after.as_bytes();
    match bytes.first()? {
        b'#' => numeric(bytes),
        c if c.is_ascii_alphanumeric() => named(after, context),
        _ => None,
    }
}

fn named(after: &str, context: Context) -> Option<([Option<char>; 2], usize)> {
    let bytes = after.as_bytes();
    let run = bytes
        .iter()
        .take(LONGEST_NAME)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    // A name ending in ';' can only be the whole run; one without is a legacy name, and the
    // longest such prefix of the run wins.
    if bytes.get(run) == Some(&b';') {
        if let Some(chars) = lookup(&after[..=run]) {
            return Some((chars, run + 1));
        }
    }
    let (len, chars) = (1..=run)
        .rev()
        .find_map(|len| lookup(&after[..len]).map(|chars| (len, chars)))?;
    let next = bytes.get(len).copied();
    if context == Context::Attribute && next.is_some_and(|c| c == b'=' || c.is_ascii_alphanumeric())
    {
        return None;
    }
    Some((chars, len))
}

/// A full match in the table (its prefixes are in it too, mapped to NUL).
fn lookup(name: &str) -> Option<[Option<char>; 2]> {
    match NAMED_ENTITIES.get(name) {
        Some(&(0, _)) | None => None,
        Some(&(first, second)) => Some([
            char::from_u32(first),
            (second != 0).then(|| char::from_u32(second)).flatten(),
        ]),
    }
}

fn numeric(bytes: &[u8]) -> Option<([Option<char>; 2], usize)> {
    let (radix, start) = match bytes.get(1) {
        Some(b'x' | b'X') => (16, 2),
        _ => (10, 1),
    };
    let digits = bytes[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || (radix == 16 && c.is_ascii_hexdigit()))
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: u32 = 0;
    let mut too_big = false;
    for &digit in &bytes[start..start + digits] {
        let d = char::from(digit).to_digit(radix).unwrap_or(0);
        value = value.saturating_mul(radix).saturating_add(d);
        too_big |= value > 0x10FFFF;
    }
    let mut consumed = start + digits;
    if bytes.get(consumed) == Some(&b';') {
        consumed += 1;
    }
    let c = match value {
        _ if too_big => '\u{FFFD}',
        0 | 0xD800..=0xDFFF => '\u{FFFD}',
        0x80..=0x9F => C1_REPLACEMENTS[(value - 0x80) as usize]
            .or_else(|| char::from_u32(value))
            .unwrap_or('\u{FFFD}'),
        n => char::from_u32(n).unwrap_or('\u{FFFD}'),
    };
    Some(([Some(c), None], consumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(s: &str) -> String {
        decode(s, Context::Attribute).into_owned()
    }

    fn text(s: &str) -> String {
        decode(s, Context::Text).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            decode("/a/b?c=d", Context::Attribute),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn named_and_numeric_references() {
        assert_eq!(attr("x?a=1&amp;b=2"), "x?a=1&b=2");
        assert_eq!(
            text("&lt;b&gt; &quot;q&quot; &#65;&#x42;&#X43;"),
            "<b> \"q\" ABC"
        );
        assert_eq!(text("&NotNestedGreaterGreater;"), "\u{2aa2}\u{338}");
        assert_eq!(
            text("&#128;&#x81;&#0;&#xD800;&#x110000;"),
            "\u{20ac}\u{81}\u{fffd}\u{fffd}\u{fffd}"
        );
        assert_eq!(text("&#65"), "A", "numeric without ';'");
        assert_eq!(text("&#;&#x;&;& &unknown;"), "&#;&#x;&;& &unknown;");
    }

    #[test]
    fn legacy_names_without_semicolon() {
        assert_eq!(text("&copy 2024"), "\u{a9} 2024");
        assert_eq!(text("&notit;"), "\u{ac}it;");
        assert_eq!(text("&notin;"), "\u{2209}");
        // In attributes a legacy name followed by '=' or an alphanumeric stays as it is.
        assert_eq!(attr("?a=1&copy=2"), "?a=1&copy=2");
        assert_eq!(attr("?a=1&copyx"), "?a=1&copyx");
        assert_eq!(attr("?a=1&copy;=2"), "?a=1\u{a9}=2");
        assert_eq!(attr("?a=1&copy-2"), "?a=1\u{a9}-2");
        assert_eq!(text("&copyx"), "\u{a9}x");
    }

    #[test]
    fn preprocessing_of_cr_and_nul() {
        assert_eq!(text("a\r\nb\rc\0d"), "a\nb\nc\u{fffd}d");
    }
}

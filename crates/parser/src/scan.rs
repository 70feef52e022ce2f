//! A byte-level HTML lexer for the link pass. It follows the tokenizer states of the HTML
//! standard that decide where tags are (data, tag, attribute, comment, bogus comment, RCDATA,
//! RAWTEXT, script data with its escapes, PLAINTEXT) but skips everything a crawler does not
//! read: text outside RCDATA, doctypes, comments, and the attributes of tags nobody asked about.
//! It jumps between `<` with `memchr` instead of walking the text a character at a time, and
//! borrows names and values from the input unless they must be lower-cased or decoded.
//!
//! html5ever's tokenizer is the reference: the tests in [`crate::tokens`] compare what this pass
//! finds with a full DOM parse.

use std::borrow::Cow;

use memchr::memchr;

use crate::charref::{self, Context};

/// How the text after a start tag is to be read, as the tree builder would switch the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextMode {
    /// Ordinary markup.
    Data,
    /// Text with character references up to the matching end tag (`<title>`, `<textarea>`).
    Rcdata,
    /// Text up to the matching end tag (`<style>`, `<noscript>`, ...).
    Rawtext,
    /// A script, with the `<!-- <script> -->` escapes.
    ScriptData,
    /// Everything to the end is text.
    Plaintext,
}

/// One attribute of a start tag: name lower-cased, value with references decoded.
#[derive(Debug)]
pub(crate) struct Attribute<'t> {
    pub(crate) name: Cow<'t, str>,
    pub(crate) value: Cow<'t, str>,
}

/// What the lexer reports.
pub(crate) trait Handler<'t> {
    /// Whether the attributes of a start tag named `name` are wanted (others are only skipped).
    fn wants_attributes(&self, name: &str) -> bool;
    /// A start tag (`self_closing` for `<x/>`); the answer says how to read the text after it.
    fn start_tag(
        &mut self,
        name: &str,
        attributes: &[Attribute<'t>],
        self_closing: bool,
    ) -> TextMode;
    /// An end tag.
    fn end_tag(&mut self, name: &str);
    /// The raw text of an RCDATA element (references not yet decoded; see [`decode_text`]).
    fn rcdata(&mut self, raw: &'t str);
}

/// Decodes the character references of RCDATA text.
pub(crate) fn decode_text(raw: &str) -> Cow<'_, str> {
    charref::decode(raw, Context::Text)
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// Reads a whole document, reporting tags to `handler`.
pub(crate) fn scan<'t>(text: &'t str, handler: &mut impl Handler<'t>) {
    let bytes = text.as_bytes();
    let mut attributes = Vec::new();
    let mut pos = 0;
    while let Some(offset) = memchr(b'<', &bytes[pos..]) {
        let lt = pos + offset;
        let Some(&next) = bytes.get(lt + 1) else {
            return;
        };
        pos = if next.is_ascii_alphabetic() {
            let Some(tag) = read_tag(text, lt + 1, &*handler, &mut attributes) else {
                return;
            };
            match handler.start_tag(&tag.name, &attributes, tag.self_closing) {
                TextMode::Data => tag.end,
                TextMode::Plaintext => return,
                mode => match raw_text(text, tag.end, &tag.name, mode, handler) {
                    Some(end) => end,
                    None => return,
                },
            }
        } else if next == b'/' {
            match bytes.get(lt + 2) {
                None => return,
                Some(b'>') => lt + 3,
                Some(c) if c.is_ascii_alphabetic() => {
                    let Some(tag) = read_tag(text, lt + 2, &NoAttributes, &mut attributes) else {
                        return;
                    };
                    handler.end_tag(&tag.name);
                    tag.end
                }
                Some(_) => past_gt(bytes, lt + 2),
            }
        } else if next == b'!' {
            if bytes[lt + 2..].starts_with(b"--") {
                comment_end(bytes, lt + 4)
            } else {
                past_gt(bytes, lt + 2)
            }
        } else if next == b'?' {
            past_gt(bytes, lt + 1)
        } else {
            lt + 1
        };
    }
}

/// A tag that was read to its `>`.
struct Tag<'t> {
    name: Cow<'t, str>,
    /// Just past the `>`.
    end: usize,
    /// Written `<x/>`.
    self_closing: bool,
}

/// A handler for end tags, whose attributes nobody wants.
struct NoAttributes;

impl<'t> Handler<'t> for NoAttributes {
    fn wants_attributes(&self, _: &str) -> bool {
        false
    }
    fn start_tag(&mut self, _: &str, _: &[Attribute<'t>], _: bool) -> TextMode {
        TextMode::Data
    }
    fn end_tag(&mut self, _: &str) {}
    fn rcdata(&mut self, _: &'t str) {}
}

/// Reads a tag from its name (at `start`) to its `>`; `None` at the end of the input (the tag
/// is then dropped, as the tokenizer drops it). Fills `attributes` if the handler wants them.
fn read_tag<'t, 'h>(
    text: &'t str,
    start: usize,
    handler: &impl Handler<'h>,
    attributes: &mut Vec<Attribute<'t>>,
) -> Option<Tag<'t>> {
    let bytes = text.as_bytes();
    attributes.clear();
    let mut pos = start;
    while pos < bytes.len() && !is_space(bytes[pos]) && bytes[pos] != b'/' && bytes[pos] != b'>' {
        pos += 1;
    }
    let name = lower_name(&text[start..pos]);
    let collect = handler.wants_attributes(&name);
    loop {
        // Before an attribute name.
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        match *bytes.get(pos)? {
            b'>' => {
                return Some(Tag {
                    name,
                    end: pos + 1,
                    self_closing: false,
                })
            }
            b'/' => {
                pos += 1;
                if *bytes.get(pos)? == b'>' {
                    return Some(Tag {
                        name,
                        end: pos + 1,
                        self_closing: true,
                    });
                }
                continue;
            }
            _ => {}
        }
        // The attribute's name; its first character may be anything, even '='.
        let name_start = pos;
        pos += 1;
        while pos < bytes.len()
            && !matches!(bytes[pos], b'/' | b'>' | b'=')
            && !is_space(bytes[pos])
        {
            pos += 1;
        }
        let name_end = pos;
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        let mut value = (pos, pos);
        if bytes.get(pos) == Some(&b'=') {
            pos += 1;
            while pos < bytes.len() && is_space(bytes[pos]) {
                pos += 1;
            }
            match *bytes.get(pos)? {
                quote @ (b'"' | b'\'') => {
                    let close = pos + 1 + memchr(quote, &bytes[pos + 1..])?;
                    value = (pos + 1, close);
                    pos = close + 1;
                }
                b'>' => value = (pos, pos),
                _ => {
                    let value_start = pos;
                    while pos < bytes.len() && bytes[pos] != b'>' && !is_space(bytes[pos]) {
                        pos += 1;
                    }
                    value = (value_start, pos);
                }
            }
        }
        if collect {
            let attribute_name = lower_name(&text[name_start..name_end]);
            if !attributes.iter().any(|a| a.name == attribute_name) {
                attributes.push(Attribute {
                    name: attribute_name,
                    value: charref::decode(&text[value.0..value.1], Context::Attribute),
                });
            }
        }
    }
}

/// A tag or attribute name, ASCII lower-cased (borrowed when it already is), NUL as U+FFFD.
fn lower_name(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase() || b == 0) {
        Cow::Owned(name.to_ascii_lowercase().replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Just past the next `>` at or after `pos` (a bogus comment or doctype), or the end.
fn past_gt(bytes: &[u8], pos: usize) -> usize {
    memchr(b'>', &bytes[pos.min(bytes.len())..]).map_or(bytes.len(), |i| pos + i + 1)
}

/// Just past the end of a comment whose text starts at `pos` (after `<!--`): `-->`, `--!>`, or
/// the abrupt `<!-->` and `<!--->`; the end of the input if it never closes.
fn comment_end(bytes: &[u8], pos: usize) -> usize {
    let rest = &bytes[pos.min(bytes.len())..];
    if rest.starts_with(b">") {
        return pos + 1;
    }
    if rest.starts_with(b"->") {
        return pos + 2;
    }
    let mut at = pos;
    while let Some(i) = memchr::memmem::find(&bytes[at..], b"--") {
        let mut p = at + i + 2;
        while bytes.get(p) == Some(&b'-') {
            p += 1;
        }
        match bytes.get(p) {
            Some(b'>') => return p + 1,
            Some(b'!') if bytes.get(p + 1) == Some(&b'>') => return p + 2,
            _ => at = p,
        }
    }
    bytes.len()
}

/// Whether `bytes[pos..]` is `name` (any case) followed by a character that ends a tag name.
fn tag_name_at(bytes: &[u8], pos: usize, name: &str) -> bool {
    let end = pos + name.len();
    end < bytes.len()
        && bytes[pos..end].eq_ignore_ascii_case(name.as_bytes())
        && (is_space(bytes[end]) || bytes[end] == b'/' || bytes[end] == b'>')
}

/// Whether an end tag `</name` that closes the element starts at `lt`.
fn end_tag_at(bytes: &[u8], lt: usize, name: &str) -> bool {
    bytes.get(lt + 1) == Some(&b'/') && tag_name_at(bytes, lt + 2, name)
}

/// Reads the text of a raw-text element named `name` from `start`; reports RCDATA text and the
/// end tag. Returns the position past the end tag, or `None` when the text runs to the end.
fn raw_text<'t>(
    text: &'t str,
    start: usize,
    name: &str,
    mode: TextMode,
    handler: &mut impl Handler<'t>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let close = if mode == TextMode::ScriptData {
        script_end(bytes, start)
    } else {
        let mut at = start;
        loop {
            let Some(i) = memchr(b'<', &bytes[at..]) else {
                break None;
            };
            if end_tag_at(bytes, at + i, name) {
                break Some(at + i);
            }
            at += i + 1;
        }
    };
    if mode == TextMode::Rcdata {
        handler.rcdata(&text[start..close.unwrap_or(bytes.len())]);
    }
    let close = close?;
    let tag = read_tag(text, close + 2, &NoAttributes, &mut Vec::new())?;
    handler.end_tag(&tag.name);
    Some(tag.end)
}

/// Where the `</script` that ends a script starting at `pos` is, following the script data
/// escape states: inside `<!--`, a `<script>` opens a nested block whose `</script>` does not
/// end the script; `-->` leaves the escape.
fn script_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Escaped,
        DoubleEscaped,
    }
    let mut state = State::Plain;
    let mut dashes = 0;
    loop {
        if state == State::Plain {
            let lt = pos + memchr(b'<', &bytes[pos..])?;
            if bytes[lt + 1..].starts_with(b"!--") {
                state = State::Escaped;
                dashes = 2;
                pos = lt + 4;
            } else if end_tag_at(bytes, lt, "script") {
                return Some(lt);
            } else {
                pos = lt + 1;
            }
            continue;
        }
        match *bytes.get(pos)? {
            b'-' => {
                dashes += 1;
                pos += 1;
            }
            b'>' if dashes >= 2 => {
                state = State::Plain;
                dashes = 0;
                pos += 1;
            }
            b'<' => {
                dashes = 0;
                if state == State::Escaped {
                    if end_tag_at(bytes, pos, "script") {
                        return Some(pos);
                    }
                    if tag_name_at(bytes, pos + 1, "script") {
                        state = State::DoubleEscaped;
                        pos += 7;
                        continue;
                    }
                } else if end_tag_at(bytes, pos, "script") {
                    state = State::Escaped;
                    pos += 8;
                    continue;
                }
                pos += 1;
            }
            _ => {
                dashes = 0;
                pos += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records everything the lexer reports, as text.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl<'t> Handler<'t> for Log {
        fn wants_attributes(&self, name: &str) -> bool {
            name != "skip"
        }
        fn start_tag(&mut self, name: &str, attributes: &[Attribute<'t>], _: bool) -> TextMode {
            let attrs: Vec<String> = attributes
                .iter()
                .map(|a| format!("{}={}", a.name, a.value))
                .collect();
            self.0.push(format!("<{name} {}>", attrs.join(" ")));
            match name {
                "title" | "textarea" => TextMode::Rcdata,
                "style" => TextMode::Rawtext,
                "script" => TextMode::ScriptData,
                "plaintext" => TextMode::Plaintext,
                _ => TextMode::Data,
            }
        }
        fn end_tag(&mut self, name: &str) {
            self.0.push(format!("</{name}>"));
        }
        fn rcdata(&mut self, raw: &'t str) {
            self.0.push(format!("text:{}", decode_text(raw)));
        }
    }

    fn log(html: &str) -> Vec<String> {
        let mut log = Log::default();
        scan(html, &mut log);
        log.0
    }

    #[test]
    fn attributes_in_every_syntax() {
        assert_eq!(
            log(r#"<A HREF="/x?a=1&amp;b" id=u1 data-x='q"r' checked rel = "next"/>"#),
            [r#"<a href=/x?a=1&b id=u1 data-x=q"r checked= rel=next>"#]
        );
        assert_eq!(
            log("<a href=/one href=/two>"),
            ["<a href=/one>"],
            "first wins"
        );
        assert_eq!(log("<a =x b=>"), ["<a =x= b=>"]);
        assert_eq!(log("<a/b/c>"), ["<a b= c=>"]);
        assert_eq!(log("<a x=\"1\"y=2>"), ["<a x=1 y=2>"]);
    }

    #[test]
    fn quotes_and_gt_inside_tags_of_any_kind() {
        assert_eq!(
            log(r#"<skip title='>'><a href="/a>b"></x title=">"><b>"#),
            ["<skip >", "<a href=/a>b>", "</x>", "<b >"]
        );
    }

    #[test]
    fn comments_doctypes_and_bogus_comments() {
        assert_eq!(
            log("<!DOCTYPE html><!-- <a> --><!--><b><!---><i><!-- x --!><p><?php <q> ?><u></><s><![CDATA[<t>]]>"),
            ["<b >", "<i >", "<p >", "<u >", "<s >"]
        );
        assert_eq!(log("<!-- never closed <a>"), Vec::<String>::new());
        assert_eq!(log("<!----- x ---><a>"), ["<a >"]);
    }

    #[test]
    fn raw_text_elements() {
        assert_eq!(
            log("<title>A &amp; <b>B</b></title ><a><style></STYLE2></style><i>"),
            [
                "<title >",
                "text:A & <b>B</b>",
                "</title>",
                "<a >",
                "<style >",
                "</style>",
                "<i >"
            ]
        );
        assert_eq!(
            log("<textarea>never closed <a>"),
            ["<textarea >", "text:never closed <a>"]
        );
        assert_eq!(log("<plaintext></plaintext><a>"), ["<plaintext >"]);
    }

    #[test]
    fn script_escapes() {
        assert_eq!(
            log("<script>if (a</b) x='</scripty>'</script><a>"),
            ["<script >", "</script>", "<a >"]
        );
        assert_eq!(
            log("<script><!-- document.write('<script></script>'); --></script><a>"),
            ["<script >", "</script>", "<a >"],
            "a nested script inside an escape does not end the outer one"
        );
        assert_eq!(
            log("<script><!-- x </script><a>"),
            ["<script >", "</script>", "<a >"],
            "an escaped script still ends at </script>"
        );
        assert_eq!(
            log("<script><!--><script></script><b>"),
            ["<script >", "</script>", "<b >"],
            "<!--> leaves the escape at once"
        );
    }

    #[test]
    fn unfinished_input_drops_the_last_tag() {
        assert_eq!(log("<a><b href=\"/x"), ["<a >"]);
        assert_eq!(log("<a><b href=/x"), ["<a >"]);
        assert_eq!(log("<a><b"), ["<a >"]);
        assert_eq!(log("<a></"), ["<a >"]);
        assert_eq!(log("<a><"), ["<a >"]);
        assert_eq!(log("< a><1><a>"), ["<a >"]);
    }

    /// Arbitrary mixes of the characters the lexer branches on, multi-byte ones included, never
    /// make it panic (every slice it takes must fall on a character boundary).
    #[test]
    fn arbitrary_text_never_panics() {
        const ALPHABET: &[&str] = &[
            "<",
            ">",
            "/",
            "!",
            "-",
            "&",
            "#",
            "x",
            ";",
            "\"",
            "'",
            "=",
            " ",
            "\t",
            "a",
            "A",
            "s",
            "c",
            "r",
            "i",
            "p",
            "t",
            "S",
            "T",
            "y",
            "l",
            "e",
            "é",
            "\u{1F600}",
            "\0",
            "?",
            "[",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let len = (state % 60) as usize;
            let mut text = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let _ = log(&text);
        }
    }
}

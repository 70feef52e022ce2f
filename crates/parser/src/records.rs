//! Data extraction: `[[extract]]` rules from the config (a URL regex plus named CSS-selector
//! fields), compiled once into an [`Extractor`] that turns a parsed page into JSON records.
//!
//! ```toml
//! [[extract]]
//! url = "^https://shop\\.example/product/"
//! fields.name  = { css = "h1.title", take = "text" }
//! fields.image = { css = "img.main", take = "attr:src", all = true }
//! ```

use std::collections::BTreeMap;

use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::extract::collapsed_text;
use crate::ParseError;

/// One extraction rule: on pages whose URL matches `url`, produce a record with `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRule {
    /// Regular expression (Rust `regex` syntax) searched for in the page's URL; anchor it with
    /// `^` to match from the start.
    pub url: String,
    /// The record's fields by name (`rule` is reserved for the rule's index).
    pub fields: BTreeMap<String, FieldRule>,
}

/// How to compute one field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// CSS selector for the element(s).
    pub css: String,
    /// What to take from each element: `"text"` (whitespace-collapsed, trimmed text; the
    /// default), `"html"` (the element's outer HTML), `"inner_html"`, or `"attr:NAME"` (an
    /// attribute; URL attributes such as `href` and `src` are resolved against the page's base
    /// URL). Elements without the attribute are skipped.
    #[serde(default = "default_take")]
    pub take: String,
    /// `false`: the first match as a string, or `null`; `true`: every match as an array.
    #[serde(default)]
    pub all: bool,
}

fn default_take() -> String {
    "text".to_owned()
}

/// Attributes whose values are URLs and so are resolved against the page's base URL.
const URL_ATTRS: [&str; 9] = [
    "href",
    "src",
    "poster",
    "action",
    "formaction",
    "cite",
    "background",
    "longdesc",
    "data-src",
];

#[derive(Debug, Clone)]
enum Take {
    Text,
    Html,
    InnerHtml,
    Attr { name: String, is_url: bool },
}

impl Take {
    fn parse(take: &str) -> Result<Take, String> {
        match take.trim() {
            "text" => Ok(Take::Text),
            "html" => Ok(Take::Html),
            "inner_html" => Ok(Take::InnerHtml),
            other => match other.strip_prefix("attr:").map(str::trim) {
                Some(name) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                    let name = name.to_ascii_lowercase();
                    let is_url = URL_ATTRS.contains(&name.as_str());
                    Ok(Take::Attr { name, is_url })
                }
                Some(_) => Err("`take = \"attr:NAME\"` needs an attribute name".to_owned()),
                None => Err(format!(
                    "unknown `take` {take:?}: expected \"text\", \"html\", \"inner_html\" or \
                     \"attr:NAME\""
                )),
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    selector: Selector,
    take: Take,
    all: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    url: Regex,
    fields: Vec<Field>,
}

/// Extraction rules compiled once (regexes and selectors); `Send + Sync`, cheap to share.
///
/// ```
/// use std::collections::BTreeMap;
/// use trawl_parser::{ExtractRule, Extractor, FieldRule, Parser, ParserConfig};
///
/// let rule = ExtractRule {
///     url: "/product/".into(),
///     fields: BTreeMap::from([(
///         "name".to_owned(),
///         FieldRule { css: "h1".into(), take: "text".into(), all: false },
///     )]),
/// };
/// let parser = Parser::with_extractor(ParserConfig::default(), Extractor::new(&[rule]).unwrap());
/// let page = url::Url::parse("https://shop.example/product/1").unwrap();
/// let parsed = parser.extract(&page, b"<h1> Blue\n mug </h1>", Some("text/html"), None);
/// assert_eq!(parsed.records, [serde_json::json!({"rule": 0, "name": "Blue mug"})]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Extractor {
    rules: Vec<Rule>,
}

impl Extractor {
    /// Compiles `rules`. A bad regex, CSS selector or `take` gives [`ParseError::Rule`] naming
    /// the rule (index and `url` pattern) and the field.
    pub fn new(rules: &[ExtractRule]) -> Result<Extractor, ParseError> {
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile_rule(i, rule))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Extractor { rules: compiled })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule applies to a page at `url`.
    pub fn matches(&self, url: &Url) -> bool {
        self.rules.iter().any(|r| r.url.is_match(url.as_str()))
    }

    /// The records for a page at `page` already parsed into `html` (the first `<base href>`, if
    /// any, is honoured when resolving URL attributes). [`crate::Parser::extract`] calls this
    /// for you; use it directly only when you parse the HTML yourself.
    pub fn extract(&self, page: &Url, html: &Html) -> Vec<Value> {
        if !self.matches(page) {
            return Vec::new();
        }
        let base = document_base(page, html);
        self.records(page, base.as_ref().unwrap_or(page), html)
    }

    /// One record per rule matching `page`; URL attributes are resolved against `base`.
    pub(crate) fn records(&self, page: &Url, base: &Url, html: &Html) -> Vec<Value> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.url.is_match(page.as_str()))
            .map(|(i, rule)| {
                let mut record = Map::with_capacity(rule.fields.len() + 1);
                record.insert("rule".to_owned(), Value::from(i));
                for field in &rule.fields {
                    record.insert(field.name.clone(), field.value(html, base));
                }
                Value::Object(record)
            })
            .collect()
    }
}

impl Field {
    fn value(&self, html: &Html, base: &Url) -> Value {
        let mut values = html
            .select(&self.selector)
            .filter_map(|el| self.take(el, base));
        if self.all {
            Value::Array(values.map(Value::String).collect())
        } else {
            values.next().map_or(Value::Null, Value::String)
        }
    }

    fn take(&self, el: ElementRef<'_>, base: &Url) -> Option<String> {
        match &self.take {
            Take::Text => Some(collapsed_text(el).unwrap_or_default()),
            Take::Html => Some(el.html()),
            Take::InnerHtml => Some(el.inner_html()),
            Take::Attr { name, is_url } => {
                let value = el.value().attr(name)?;
                if *is_url {
                    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
                    if let Ok(url) = base.join(trimmed) {
                        return Some(url.into());
                    }
                }
                Some(value.to_owned())
            }
        }
    }
}

fn compile_rule(index: usize, rule: &ExtractRule) -> Result<Rule, ParseError> {
    let err = |field: Option<&str>, message: String| ParseError::Rule {
        rule: index,
        url: rule.url.clone(),
        field: field.map(str::to_owned),
        message,
    };
    let url = Regex::new(&rule.url).map_err(|e| err(None, format!("bad `url` regex: {e}")))?;
    if rule.fields.is_empty() {
        return Err(err(None, "has no fields".to_owned()));
    }
    let mut fields = Vec::with_capacity(rule.fields.len());
    for (name, f) in &rule.fields {
        if name == "rule" {
            return Err(err(
                Some(name),
                "the field name `rule` is reserved for the rule's index".to_owned(),
            ));
        }
        let selector = Selector::parse(&f.css)
            .map_err(|e| err(Some(name), format!("bad CSS selector {:?}: {e}", f.css)))?;
        let take = Take::parse(&f.take).map_err(|m| err(Some(name), m))?;
        fields.push(Field {
            name: name.clone(),
            selector,
            take,
            all: f.all,
        });
    }
    Ok(Rule { url, fields })
}

/// The first `<base href>` resolved against `page`, if it is http(s) (as in link extraction).
fn document_base(page: &Url, html: &Html) -> Option<Url> {
    let href = html
        .tree
        .root()
        .descendants()
        .find_map(|node| match node.value() {
            Node::Element(el) if el.name() == "base" => el.attr("href"),
            _ => None,
        })?;
    page.join(href.trim_matches(|c: char| c.is_ascii_whitespace()))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

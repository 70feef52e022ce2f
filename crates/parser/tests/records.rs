//! Data extraction through the public API: TOML rules, records, `all`, attribute resolution,
//! non-matching URLs, and rule errors that name the rule and field.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use trawl_parser::{ExtractRule, Extractor, FieldRule, ParseError, Parser, ParserConfig};
use url::Url;

/// The example config the lead ships as `config/extract-shop.toml`.
const SHOP_TOML: &str = r#"
[[extract]]
url = "^https://shop\\.example/product/"      # regex on the page URL
fields.name  = { css = "h1.title", take = "text" }
fields.price = { css = ".price", take = "text" }
fields.image = { css = "img.main", take = "attr:src", all = true }
"#;

#[derive(Deserialize)]
struct ConfigFile {
    extract: Vec<ExtractRule>,
}

fn shop_rules() -> Vec<ExtractRule> {
    toml::from_str::<ConfigFile>(SHOP_TOML).unwrap().extract
}

const PRODUCT: &str = r#"<!doctype html><html><head><title>Mug</title>
<base href="https://cdn.shop.example/assets/"></head><body>
<h1 class="title">  Blue
   enamel <em>mug</em> </h1>
<p class="price">€ 12.50</p><p class="price">€ 99</p>
<img class="main" src="mug-front.jpg"><img class="main" src=" /abs/mug-back.jpg ">
<img class="main"><img class="thumb" src="t.jpg">
<img class="main" src="data:image/png;base64,AAAA">
<a href="/product/2">next</a>
</body></html>"#;

fn field(css: &str, take: &str, all: bool) -> FieldRule {
    FieldRule {
        css: css.into(),
        take: take.into(),
        all,
    }
}

fn rule(url: &str, fields: &[(&str, FieldRule)]) -> ExtractRule {
    ExtractRule {
        url: url.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

#[test]
fn toml_rules_parse() {
    let rules = shop_rules();
    assert_eq!(
        rules,
        [rule(
            "^https://shop\\.example/product/",
            &[
                ("name", field("h1.title", "text", false)),
                ("price", field(".price", "text", false)),
                ("image", field("img.main", "attr:src", true)),
            ]
        )]
    );
    // `take` defaults to text, `all` to false; unknown keys are rejected.
    let c: ConfigFile =
        toml::from_str("[[extract]]\nurl = \"x\"\nfields.a = { css = \"p\" }\n").unwrap();
    assert_eq!(c.extract[0].fields["a"], field("p", "text", false));
    assert!(toml::from_str::<ConfigFile>(
        "[[extract]]\nurl = \"x\"\nfields.a = { css = \"p\", attr = \"href\" }\n"
    )
    .is_err());
    assert!(toml::from_str::<ConfigFile>("[[extract]]\nurl = \"x\"\nfield = {}\n").is_err());
}

#[test]
fn records_from_the_shop_config() {
    let parser = Parser::with_extractor(
        ParserConfig::default(),
        Extractor::new(&shop_rules()).unwrap(),
    );
    let page = Url::parse("https://shop.example/product/42?c=1").unwrap();
    let parsed = parser.extract(&page, PRODUCT.as_bytes(), Some("text/html"), None);
    assert_eq!(
        parsed.records,
        [json!({
            "rule": 0,
            "name": "Blue enamel mug",
            "price": "€ 12.50",
            "image": [
                "https://cdn.shop.example/assets/mug-front.jpg",
                "https://cdn.shop.example/abs/mug-back.jpg",
                "data:image/png;base64,AAAA",
            ],
        })]
    );
    // The same DOM pass still yields links and the title.
    assert_eq!(parsed.title.as_deref(), Some("Mug"));
    assert_eq!(
        parsed.links[0].url.as_str(),
        "https://cdn.shop.example/product/2"
    );
}

#[test]
fn non_matching_url_gives_no_record() {
    let parser = Parser::with_extractor(
        ParserConfig::default(),
        Extractor::new(&shop_rules()).unwrap(),
    );
    for url in [
        "https://shop.example/category/mugs",
        "https://other.example/product/1",
        "http://shop.example/product/1",
    ] {
        let page = Url::parse(url).unwrap();
        let parsed = parser.extract(&page, PRODUCT.as_bytes(), None, None);
        assert!(parsed.records.is_empty(), "{url}");
        assert!(!parsed.links.is_empty(), "{url}");
    }
    // And no extractor at all: no records.
    let plain = Parser::new(ParserConfig::default());
    let page = Url::parse("https://shop.example/product/1").unwrap();
    assert!(plain
        .extract(&page, PRODUCT.as_bytes(), None, None)
        .records
        .is_empty());
}

#[test]
fn every_take_kind_nulls_and_several_matching_rules() {
    let rules = [
        rule(
            "/product/",
            &[
                ("title", field("h1", "text", false)),
                ("outer", field("p.price", "html", false)),
                ("inner", field("h1", "inner_html", false)),
                ("prices", field(".price", "text", true)),
                ("missing", field(".nope", "text", false)),
                ("none", field(".nope", "attr:href", true)),
                ("alt", field("img", "attr:ALT", false)),
                ("link", field("a", "attr:href", false)),
                ("cls", field("img", "attr:class", true)),
            ],
        ),
        rule("^https://shop", &[("h", field("h1 em", "text", false))]),
        rule("^https://never/", &[("h", field("h1", "text", false))]),
    ];
    let x = Extractor::new(&rules).unwrap();
    assert_eq!(x.len(), 3);
    let page = Url::parse("https://shop.example/product/1").unwrap();
    let parser = Parser::with_extractor(ParserConfig::default(), x.clone());
    let parsed = parser.extract(&page, PRODUCT.as_bytes(), None, None);
    assert_eq!(
        parsed.records,
        [
            json!({
                "rule": 0,
                "title": "Blue enamel mug",
                "outer": "<p class=\"price\">€ 12.50</p>",
                "inner": "  Blue\n   enamel <em>mug</em> ",
                "prices": ["€ 12.50", "€ 99"],
                "missing": null,
                "none": [],
                "alt": null,
                "link": "https://cdn.shop.example/product/2",
                "cls": ["main", "main", "main", "thumb", "main"],
            }),
            json!({"rule": 1, "h": "mug"}),
        ]
    );
    // The standalone API on a DOM parsed by the caller gives the same records.
    let html = scraper::Html::parse_document(PRODUCT);
    assert_eq!(x.extract(&page, &html), parsed.records);
}

#[test]
fn bad_rules_name_the_rule_and_field() {
    let good = rule("^https://a/", &[("a", field("p", "text", false))]);
    let cases: Vec<(ExtractRule, Option<&str>, &str)> = vec![
        (
            rule("^https://shop/", &[("price", field("p[", "text", false))]),
            Some("price"),
            "CSS selector",
        ),
        (
            rule(
                "^https://shop/",
                &[("price", field("p", "attribute", false))],
            ),
            Some("price"),
            "take",
        ),
        (
            rule("^https://shop/", &[("img", field("img", "attr:", false))]),
            Some("img"),
            "attribute name",
        ),
        (
            rule("^https://shop/(", &[("a", field("p", "text", false))]),
            None,
            "regex",
        ),
        (
            rule("^https://shop/", &[("rule", field("p", "text", false))]),
            Some("rule"),
            "reserved",
        ),
        (
            ExtractRule {
                url: "^https://shop/".into(),
                fields: BTreeMap::new(),
            },
            None,
            "no fields",
        ),
    ];
    for (bad, want_field, want_msg) in cases {
        let e = Extractor::new(&[good.clone(), bad.clone()]).unwrap_err();
        let ParseError::Rule {
            rule: index,
            ref url,
            ref field,
            ref message,
        } = e
        else {
            panic!("unexpected error {e:?}");
        };
        assert_eq!(index, 1, "{e}");
        assert_eq!(url, &bad.url);
        assert_eq!(field.as_deref(), want_field, "{e}");
        assert!(message.contains(want_msg), "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("#1") && shown.contains(&format!("{:?}", bad.url)),
            "{shown}"
        );
        if let Some(f) = want_field {
            assert!(shown.contains(&format!("field `{f}`")), "{shown}");
        }
    }
}

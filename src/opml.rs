//! OPML subscription lists: `feeds import` and `feeds export`, the format every feed reader
//! speaks.

use anyhow::{Result, bail};
use quick_xml::events::Event;

/// One subscription read from an OPML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    pub url: String,
    pub name: Option<String>,
}

/// Every outline with an `xmlUrl`, at any depth (folders are flattened).
pub fn parse(text: &str) -> Result<Vec<Outline>> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut saw_opml = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case("opml") {
                    saw_opml = true;
                }
                if !name.as_ref().eq_ignore_ascii_case("outline") {
                    continue;
                }
                let mut url = None;
                let mut title = None;
                let mut text_attr = None;
                for attr in e.attributes().flatten() {
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default();
                    match attr.key.local_name().as_ref() {
                        "xmlUrl" | "xmlurl" => url = Some(value),
                        "title" => title = Some(value),
                        "text" => text_attr = Some(value),
                        _ => {}
                    }
                }
                if let Some(url) = url.filter(|u| !u.is_empty()) {
                    out.push(Outline { url, name: title.or(text_attr).filter(|n| !n.is_empty()) });
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => bail!("malformed OPML at byte {}: {e}", reader.error_position()),
        }
    }
    if !saw_opml {
        bail!("not an OPML file (no <opml> element)");
    }
    Ok(out)
}

/// An OPML 2.0 document listing `feeds` as (url, name).
pub fn render(feeds: &[(String, Option<String>)]) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>stancewatch feeds</title></head>\n  <body>\n",
    );
    for (url, name) in feeds {
        let label = esc(name.as_deref().unwrap_or(url));
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{label}\" title=\"{label}\" xmlUrl=\"{}\"/>\n",
            esc(url)
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_nested_folders() {
        let feeds = vec![
            ("https://example.org/a.xml?x=1&y=2".to_string(), Some("A & B".to_string())),
            ("https://example.org/b.xml".to_string(), None),
        ];
        let parsed = parse(&render(&feeds)).unwrap();
        assert_eq!(parsed[0], Outline { url: feeds[0].0.clone(), name: Some("A & B".into()) });
        assert_eq!(parsed[1].url, feeds[1].0);

        let nested = r#"<opml version="1.0"><body><outline text="AI">
            <outline text="One" xmlUrl="https://one.example/feed"/>
            <outline text="Folder only"/></outline></body></opml>"#;
        assert_eq!(
            parse(nested).unwrap(),
            vec![Outline { url: "https://one.example/feed".into(), name: Some("One".into()) }]
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("<html></html>").is_err());
        assert!(parse("<opml><body><outline xmlUrl=\"x\"></body></opml>").is_err());
    }
}

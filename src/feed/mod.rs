//! Feed bytes → normalised stories. feed-rs types never leave this module.
//!
//! Everything downstream sees [`ParsedFeed`] and [`NewStory`]: plain-text title and summary, a
//! resolved absolute URL, a published date that is always set (and flagged when the feed gave
//! none), and an identity that stays the same every time the entry is seen (see [`identity`]).

pub mod encoding;
pub mod identity;
pub mod text;

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::dedup::{canonical_url, outlet_of};
pub use identity::KeyKind;

/// Longest plain-text summary kept per story (bytes).
pub const MAX_SUMMARY: usize = 4_000;
/// Longest plain-text content kept per story (bytes).
pub const MAX_CONTENT: usize = 64 * 1024;
/// Longest title kept (bytes).
pub const MAX_TITLE: usize = 500;

/// A feed as the rest of the program sees it.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The feed's own `<ttl>`: how long it asks readers to wait between polls.
    pub ttl: Option<Duration>,
    pub stories: Vec<NewStory>,
}

/// One entry of a feed, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStory {
    /// Identity inside its feed; see [`identity::assign_keys`].
    pub entry_key: String,
    pub entry_key_kind: KeyKind,
    pub guid: Option<String>,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    /// The publishing outlet: registrable domain of the story's link, else of the feed.
    pub outlet: String,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    /// True when the feed gave no usable date and `published_at` is the fetch time.
    pub published_estimated: bool,
    pub entry_updated_at: Option<DateTime<Utc>>,
    /// Hash of the visible text: a change means the entry was updated.
    pub content_hash: String,
    /// What the story says about stance, once the classify stage has read it.
    pub classification: Option<crate::stance::Classification>,
    /// The dedup signature, computed beside classification so the writer does not have to.
    pub signature: Option<crate::dedup::Signature>,
}

impl NewStory {
    /// A story with only a title and a date, the rest empty: for tests, benchmarks and imports
    /// that fill in what they have.
    pub fn new(title: &str, published_at: DateTime<Utc>) -> NewStory {
        NewStory {
            entry_key: String::new(),
            entry_key_kind: KeyKind::Hash,
            guid: None,
            url: None,
            canonical_url: None,
            outlet: String::new(),
            title: title.to_string(),
            summary: String::new(),
            content: String::new(),
            author: None,
            published_at,
            published_estimated: false,
            entry_updated_at: None,
            content_hash: identity::hash_text(&[title]),
            classification: None,
            signature: None,
        }
    }
}

/// Why a body is not a feed. Grouped by [`ParseError::kind`] in reports.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the response body is empty")]
    Empty,
    #[error("not a feed: no RSS channel, Atom feed or JSON Feed found (is the URL a web page rather than its feed?)")]
    NotAFeed,
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("malformed JSON feed: {0}")]
    Json(String),
    #[error("unreadable feed: {0}")]
    Other(String),
}

impl ParseError {
    pub fn kind(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty body",
            ParseError::NotAFeed => "not a feed",
            ParseError::Xml(_) => "malformed XML",
            ParseError::Json(_) => "malformed JSON feed",
            ParseError::Other(_) => "unreadable feed",
        }
    }
}

/// Parse a feed body. `base_url` resolves relative links; `fetched_at` stands in for missing or
/// impossible dates. Never panics on any input.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
    fetched_at: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let utf8 = encoding::to_utf8(body, content_type);
    let body = assume_rss2_when_unversioned(&utf8);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base_url))
        // Leave missing ids empty: identity is decided here, from GUID, link or content.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = match read_feed(&parser, &body) {
        Ok(result) => result,
        // feed-rs 3 panics on a person field whose e-mail address touches a multi-byte character
        // ("编辑：editor@example.cn"). Read the feed again with the `@` of those fields made
        // full-width: the address stays as text, the rest of the feed is read as usual.
        Err(_) => read_feed(&parser, &person_addresses_as_text(&body))
            .map_err(|panic| ParseError::Other(format!("the feed parser failed on this feed: {panic}")))?,
    }
    .map_err(convert_error)?;

    let base = url::Url::parse(base_url).ok();
    let mut stories: Vec<NewStory> =
        feed.entries.iter().map(|e| normalise_entry(e, base.as_ref(), fetched_at)).collect();
    identity::assign_keys(&mut stories);
    Ok(ParsedFeed {
        title: feed.title.map(|t| text::html_to_line(&t.content)).filter(|t| !t.is_empty()),
        ttl: feed.ttl.filter(|m| *m > 0).map(|m| Duration::from_secs(u64::from(m) * 60)),
        stories,
    })
}

/// feed-rs's parse, with a panic in it caught and returned as its message.
fn read_feed(
    parser: &feed_rs::parser::Parser,
    body: &[u8],
) -> Result<feed_rs::parser::ParseFeedResult<feed_rs::model::Feed>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body))).map_err(|panic| {
        let message =
            panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
        message.unwrap_or("a panic").to_string()
    })
}

/// The body with every `@` inside the elements feed-rs reads as a person ("name e-mail") made
/// full-width (U+FF20), so no e-mail address is found in them.
fn person_addresses_as_text(body: &[u8]) -> Vec<u8> {
    const PERSONS: [&[u8]; 5] = [b"author", b"creator", b"managingEditor", b"webMaster", b"name"];
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut closing: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < body.len() {
        match closing.as_deref() {
            Some(tag) if body[i..].starts_with(tag) => closing = None,
            Some(_) if body[i] == b'@' => {
                out.extend_from_slice("\u{FF20}".as_bytes());
                i += 1;
                continue;
            }
            Some(_) => {}
            None if body[i] == b'<' => {
                let name_end = body[i + 1..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/' | b'<'))
                    .map_or(body.len(), |p| i + 1 + p);
                let name = &body[i + 1..name_end];
                let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
                if PERSONS.contains(&local) {
                    // Not `<author/>` (the tag's end is looked for up to the next `<` only).
                    let tag_end = body[name_end..].iter().position(|b| matches!(b, b'>' | b'<'));
                    let empty = tag_end.is_some_and(|end| end > 0 && body[name_end + end - 1] == b'/');
                    if !empty {
                        closing = Some([b"</", name].concat());
                    }
                }
            }
            None => {}
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

fn convert_error(e: feed_rs::parser::ParseFeedError) -> ParseError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => ParseError::NotAFeed,
        ParseFeedError::ParseError(kind) => ParseError::Other(kind.to_string()),
        ParseFeedError::IoError(e) => ParseError::Other(e.to_string()),
        ParseFeedError::JsonSerde(e) => ParseError::Json(e.to_string()),
        ParseFeedError::JsonUnsupportedVersion(v) => ParseError::Json(format!("unsupported JSON Feed version {v}")),
        ParseFeedError::XmlReader(e) => ParseError::Xml(e.to_string()),
    }
}

fn normalise_entry(entry: &feed_rs::model::Entry, base: Option<&url::Url>, fetched_at: DateTime<Utc>) -> NewStory {
    let url = entry_link(entry, base);
    let summary_html = entry.summary.as_ref().map(|t| t.content.as_str()).unwrap_or("");
    let content_html = entry.content.as_ref().and_then(|c| c.body.as_deref()).unwrap_or("");
    let content = text::truncate(&text::html_to_text(content_html), MAX_CONTENT).to_string();
    let mut summary = text::truncate(&text::html_to_text(summary_html), MAX_SUMMARY).to_string();
    if summary.is_empty() && !content.is_empty() {
        summary = text::truncate(&content, 600).to_string();
    }
    let mut title = entry.title.as_ref().map(|t| text::html_to_line(&t.content)).unwrap_or_default();
    if title.is_empty() {
        let first_line = summary.lines().next().unwrap_or("");
        title = text::truncate(first_line, 120).to_string();
    }
    if title.is_empty() {
        title = "(untitled)".to_string();
    }
    let title = text::truncate(&title, MAX_TITLE).to_string();

    let (published_at, published_estimated) = match entry.published.or(entry.updated) {
        Some(d) if plausible_date(d, fetched_at) => (d, false),
        _ => (fetched_at, true),
    };
    let guid = Some(entry.id.trim()).filter(|g| !g.is_empty()).map(str::to_string);
    let content_hash = identity::hash_text(&[&title, &summary, &content]);
    // The canonical form unwraps AMP caches, so it also names the real outlet.
    let canonical = url.as_deref().and_then(canonical_url);
    NewStory {
        entry_key: String::new(),
        entry_key_kind: KeyKind::Hash,
        guid,
        outlet: canonical
            .as_deref()
            .or(url.as_deref())
            .or(base.map(url::Url::as_str))
            .and_then(outlet_of)
            .unwrap_or_default(),
        canonical_url: canonical,
        url,
        title,
        summary,
        content,
        author: entry.authors.first().and_then(|a| a.name.as_deref()).map(text::html_to_line).filter(|a| !a.is_empty()),
        published_at,
        published_estimated,
        entry_updated_at: entry.updated,
        content_hash,
        classification: None,
        signature: None,
    }
}

/// The entry's web page: the first `alternate` (or untyped) http(s) link, resolved against the
/// feed's address when relative.
fn entry_link(entry: &feed_rs::model::Entry, base: Option<&url::Url>) -> Option<String> {
    let candidates =
        entry.links.iter().filter(|l| matches!(l.rel.as_deref(), None | Some("alternate"))).chain(entry.links.iter());
    for link in candidates {
        let href = link.href.trim();
        if href.is_empty() {
            continue;
        }
        let resolved = match url::Url::parse(href) {
            Ok(u) => Some(u),
            Err(url::ParseError::RelativeUrlWithoutBase) => base.and_then(|b| b.join(href).ok()),
            Err(_) => None,
        };
        if let Some(u) = resolved.filter(|u| matches!(u.scheme(), "http" | "https")) {
            return Some(u.to_string());
        }
    }
    None
}

/// Dates before the web feed era or more than a day ahead of the fetch are feed bugs.
fn plausible_date(d: DateTime<Utc>, fetched_at: DateTime<Utc>) -> bool {
    let earliest = Utc.with_ymd_and_hms(1995, 1, 1, 0, 0, 0).single().unwrap_or(d);
    d >= earliest && d <= fetched_at + chrono::Duration::days(1)
}

/// feed-rs recognises `<rss version="2.0">` (and 0.91 / 0.92) only; feeds in the wild also
/// write `<rss>` with no version, or 0.93, 0.94, 2.01. Those are RSS 2.0 in all but name.
fn assume_rss2_when_unversioned(body: &[u8]) -> Cow<'_, [u8]> {
    let Some(root) = root_element_start(body) else { return Cow::Borrowed(body) };
    let tag = &body[root..];
    let name_end = tag.iter().position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/').unwrap_or(tag.len());
    if !tag[1..name_end].eq_ignore_ascii_case(b"rss") {
        return Cow::Borrowed(body);
    }
    let tag_end = tag.iter().position(|b| *b == b'>').unwrap_or(tag.len());
    let Some(at) = find(&tag[name_end..tag_end], b"version").map(|at| name_end + at) else {
        let mut out = body[..root + name_end].to_vec();
        out.extend_from_slice(b" version=\"2.0\"");
        out.extend_from_slice(&body[root + name_end..]);
        return Cow::Owned(out);
    };
    // The quoted value after `version =`.
    let Some(open) = tag[at..tag_end].iter().position(|b| *b == b'"' || *b == b'\'').map(|p| at + p + 1) else {
        return Cow::Borrowed(body);
    };
    let quote = tag[open - 1];
    let Some(close) = tag[open..tag_end].iter().position(|b| *b == quote).map(|p| open + p) else {
        return Cow::Borrowed(body);
    };
    match &tag[open..close] {
        b"2.0" | b"0.91" | b"0.92" | b"" => Cow::Borrowed(body),
        _ => {
            let mut out = body[..root + open].to_vec();
            out.extend_from_slice(b"2.0");
            out.extend_from_slice(&body[root + close..]);
            Cow::Owned(out)
        }
    }
}

/// Offset of the root element's `<`, past the declaration, comments, PIs and a DOCTYPE.
fn root_element_start(body: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < body.len() {
        let rest = &body[i..];
        if rest[0].is_ascii_whitespace() {
            i += 1;
        } else if rest.starts_with(b"<!--") {
            i += find(rest, b"-->")? + 3;
        } else if rest.starts_with(b"<?") {
            i += find(rest, b"?>")? + 2;
        } else if rest.starts_with(b"<!") {
            // A DOCTYPE, possibly with an internal subset in brackets.
            let close = match (find(rest, b"["), find(rest, b">")) {
                (Some(open), Some(gt)) if open < gt => find(rest, b"]>")? + 2,
                (_, Some(gt)) => gt + 1,
                _ => return None,
            };
            i += close;
        } else if rest[0] == b'<' {
            return Some(i);
        } else {
            return None;
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Example &amp; Co</title><ttl>90</ttl>
      <item><title>Lab releases &lt;b&gt;open&lt;/b&gt; weights</title><link>/news/1?utm_source=rss</link>
        <guid>g1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
        <description>&lt;p&gt;The weights are &lt;i&gt;out&lt;/i&gt;.&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description></item>
      <item><title>No date here</title><link>https://example.org/news/2</link></item>
    </channel></rss>"#;

    #[test]
    fn rss_entries_are_normalised() {
        let f = parse(RSS.as_bytes(), None, "https://example.org/feed.xml", now()).unwrap();
        assert_eq!(f.title.as_deref(), Some("Example & Co"));
        assert_eq!(f.ttl, Some(Duration::from_secs(90 * 60)));
        let s = &f.stories[0];
        assert_eq!(s.title, "Lab releases open weights");
        assert_eq!(s.summary, "The weights are out.");
        assert_eq!(s.url.as_deref(), Some("https://example.org/news/1?utm_source=rss"));
        assert_eq!(s.canonical_url.as_deref(), Some("https://example.org/news/1"));
        assert_eq!((s.entry_key.as_str(), s.entry_key_kind), ("g1", KeyKind::Guid));
        assert!(!s.published_estimated);
        let undated = &f.stories[1];
        assert!(undated.published_estimated);
        assert_eq!(undated.published_at, now());
        assert_eq!(undated.entry_key_kind, KeyKind::Link);
    }

    #[test]
    fn atom_and_json_feed() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
          <entry><id>urn:a:1</id><title type="html">One &amp;amp; two</title>
          <link rel="alternate" href="https://example.org/a/1"/><updated>2026-11-20T00:00:00Z</updated>
          <content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"#;
        let f = parse(atom.as_bytes(), None, "https://example.org/atom", now()).unwrap();
        assert_eq!(f.stories[0].title, "One & two");
        assert_eq!(f.stories[0].summary, "Body");
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"j1","url":"https://example.org/j/1","title":"Json item","content_text":"Plain",
             "date_published":"2026-11-01T08:00:00Z"}]}"#;
        let f = parse(json.as_bytes(), Some("application/feed+json"), "https://example.org/j", now()).unwrap();
        assert_eq!(f.stories[0].entry_key, "j1");
        assert_eq!(f.stories[0].summary, "Plain");
    }

    #[test]
    fn person_address_next_to_a_multibyte_character() {
        // feed-rs 3 slices such a field inside the character and panics; the feed is read anyway.
        let rss = "<rss version=\"2.0\"><channel><title>T</title><webMaster>编辑：editor@example.cn</webMaster>
          <item><title>One</title><author>e@example.cn（编辑）</author><link>https://example.cn/@x/1</link></item>
          <item><title>Two</title><dc:creator xmlns:dc=\"http://purl.org/dc/elements/1.1/\">x@y.cn®</dc:creator></item>
          </channel></rss>";
        let f = parse(rss.as_bytes(), None, "https://example.cn/feed", now()).unwrap();
        assert_eq!(f.stories.len(), 2);
        assert_eq!(f.stories[0].url.as_deref(), Some("https://example.cn/@x/1"));
        assert_eq!(f.stories[0].author.as_deref(), Some("e\u{FF20}example.cn（编辑）"));
        let truncated = b"<rss><channel><webMaster>h@t.co\xFF";
        assert!(parse(truncated, None, "https://example.cn/feed", now()).is_err());
        assert_eq!(
            person_addresses_as_text(b"<author/>a@b<dc:author x='1'>c@d</dc:author>e@f"),
            "<author/>a@b<dc:author x='1'>c\u{FF20}d</dc:author>e@f".as_bytes()
        );
    }

    #[test]
    fn not_a_feed_is_a_named_error() {
        let e = parse(b"<html><body>hi</body></html>", None, "https://x.org/", now()).unwrap_err();
        assert_eq!(e.kind(), "not a feed");
        assert!(matches!(parse(b"  ", None, "https://x.org/", now()), Err(ParseError::Empty)));
    }

    #[test]
    fn future_and_ancient_dates_fall_back_to_fetch_time() {
        let rss = r#"<rss version="2.0"><channel><title>t</title>
          <item><guid>a</guid><title>future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>
          <item><guid>b</guid><title>epoch</title><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>
        </channel></rss>"#;
        let f = parse(rss.as_bytes(), None, "https://x.org/", now()).unwrap();
        assert!(f.stories.iter().all(|s| s.published_estimated && s.published_at == now()));
    }

    #[test]
    fn unversioned_rss_is_read_as_rss2() {
        let rss = "<?xml version=\"1.0\"?><!-- c --><rss><channel><title>t</title><item><guid>1</guid><title>x</title></item></channel></rss>";
        assert_eq!(parse(rss.as_bytes(), None, "https://x.org/", now()).unwrap().stories.len(), 1);
        let rss = "<rss version=\"0.94\"><channel><item><guid>1</guid><title>x</title></item></channel></rss>";
        assert_eq!(parse(rss.as_bytes(), None, "https://x.org/", now()).unwrap().stories.len(), 1);
    }

    #[test]
    fn charset_from_http_header_when_xml_declares_none() {
        let mut body = b"<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>caf".to_vec();
        body.push(0xE9); // é in windows-1252
        body.extend_from_slice(b"</title></item></channel></rss>");
        let f = parse(&body, Some("application/rss+xml; charset=windows-1252"), "https://x.org/", now()).unwrap();
        assert_eq!(f.stories[0].title, "café");
    }
}

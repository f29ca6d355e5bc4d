//! Bringing every feed body to UTF-8 before the XML parser sees it.
//!
//! Feeds arrive in UTF-16 with and without a byte-order mark, in legacy encodings declared in the
//! XML prolog or only in the HTTP header, with bogus encoding names, and as "UTF-8" with stray
//! Latin-1 bytes. The parser is given one thing only: valid UTF-8 with a prolog that says so.
//! Precedence: byte-order mark, then the XML declaration, then the HTTP charset, then UTF-8.
//! Malformed byte sequences become U+FFFD rather than failing the whole feed.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// The body as UTF-8 bytes with an honest XML declaration.
pub fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    let (encoding, bom_len) = detect(body, content_type);
    let body = &body[bom_len..];
    let text: Cow<'a, str> =
        if encoding == UTF_8 { String::from_utf8_lossy(body) } else { encoding.decode_without_bom_handling(body).0 };
    // Nothing to rewrite in the common case: UTF-8 without a BOM, declaring UTF-8 or nothing.
    let declared = declared_encoding(text.as_bytes());
    let needs_new_declaration = declared.is_some_and(|label| !label.eq_ignore_ascii_case("utf-8"));
    match text {
        Cow::Borrowed(t) if !needs_new_declaration => Cow::Borrowed(t.as_bytes()),
        text if !needs_new_declaration => Cow::Owned(text.into_owned().into_bytes()),
        text => Cow::Owned(replace_declaration(&text).into_bytes()),
    }
}

/// Which encoding to decode with, and how many BOM bytes to skip.
fn detect(body: &[u8], content_type: Option<&str>) -> (&'static Encoding, usize) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(body) {
        return (encoding, bom_len);
    }
    // UTF-16 without a BOM still starts with "<" (or "<?xml") as 16-bit units.
    if body.starts_with(&[0, b'<']) {
        return (UTF_16BE, 0);
    }
    if body.starts_with(&[b'<', 0]) {
        return (UTF_16LE, 0);
    }
    let from_declaration = declared_encoding(body).and_then(|label| Encoding::for_label(label.as_bytes()));
    let from_header = content_type.and_then(charset_of).and_then(|label| Encoding::for_label(label.as_bytes()));
    match from_declaration.or(from_header) {
        // A declaration of UTF-16 in a body that is evidently 8-bit (we read the declaration as
        // ASCII) is wrong; the bytes are ASCII-compatible.
        Some(e) if e == UTF_16BE || e == UTF_16LE => (UTF_8, 0),
        Some(e) => (e.output_encoding(), 0),
        None => (UTF_8, 0),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration (ASCII-compatible text).
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(512)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

fn replace_declaration(text: &str) -> String {
    let trimmed = text.trim_start();
    match trimmed.find("?>") {
        Some(end) if trimmed.starts_with("<?xml") => {
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}", &trimmed[end + 2..])
        }
        _ => text.to_string(),
    }
}

/// The `charset` parameter of a Content-Type header.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').trim().to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8(body: &[u8], ct: Option<&str>) -> String {
        String::from_utf8(to_utf8(body, ct).into_owned()).unwrap()
    }

    #[test]
    fn plain_utf8_is_borrowed() {
        let body = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>";
        assert!(matches!(to_utf8(body, None), Cow::Borrowed(_)));
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>é</rss>";
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let want = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss>é</rss>";
        assert_eq!(utf8(&[&[0xFE, 0xFF][..], &be].concat(), None), want);
        assert_eq!(utf8(&[&[0xFF, 0xFE][..], &le].concat(), None), want);
        assert_eq!(utf8(&be, None), want);
        assert_eq!(utf8(&le, None), want);
    }

    #[test]
    fn declaration_wins_over_header_and_is_rewritten() {
        let mut body = b"<?xml version='1.0' encoding='iso-8859-1'?><t>caf".to_vec();
        body.push(0xE9);
        body.extend_from_slice(b"</t>");
        assert_eq!(
            utf8(&body, Some("text/xml; charset=utf-8")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>café</t>"
        );
    }

    #[test]
    fn header_charset_when_no_declaration() {
        let body = [b"<t>".as_slice(), &[0xC0, 0xC1], b"</t>"].concat();
        assert_eq!(utf8(&body, Some("application/xml; charset=\"koi8-r\"")), "<t>юа</t>");
    }

    #[test]
    fn bogus_names_and_bad_bytes_do_not_fail() {
        let body = [b"<?xml version=\"1.0\" encoding=\"bogus\"?><t>a".as_slice(), &[0xFF], b"</t>"].concat();
        let out = utf8(&body, None);
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{out}");
        assert!(out.contains("a\u{FFFD}"), "{out}");
    }
}

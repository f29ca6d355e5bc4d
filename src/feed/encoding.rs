//! Bringing every feed body to UTF-8 before the XML parser sees it.
//!
//! Feeds arrive in UTF-16 with and without a byte-order mark, in legacy encodings declared in the
//! XML prolog or only in the HTTP header, with bogus encoding names, and as "UTF-8" with stray
//! Latin-1 bytes. The parser is given one thing only: valid UTF-8 with a prolog that says so.
//! Precedence: byte-order mark, then the XML declaration, then the HTTP charset, then UTF-8.
//! Malformed byte sequences become U+FFFD rather than failing the whole feed.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use quick_xml::events::BytesStart;

/// The body as UTF-8 bytes with an honest XML declaration.
pub fn to_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    let (encoding, bom_len) = detect(body, content_type);
    let body = &body[bom_len..];
    let text: Cow<'a, str> =
        if encoding == UTF_8 { String::from_utf8_lossy(body) } else { encoding.decode_without_bom_handling(body).0 };
    // XML has no NUL character. Left in, NULs can make the text look like UTF-16 to the XML
    // reader's own sniffing (`<\0?\0` at the start), which then switches decoders and panics.
    let text = if text.contains('\0') { Cow::Owned(text.replace('\0', "")) } else { text };
    // Nothing to rewrite in the common case: UTF-8 without a BOM, declaring UTF-8 or nothing.
    let declared = declared_encoding(text.as_bytes());
    let needs_new_declaration = declared.is_some_and(|label| !label.eq_ignore_ascii_case("utf-8"));
    let text = if needs_new_declaration { Cow::Owned(replace_declaration(&text)) } else { text };
    // The XML reader switches its decoder at every declaration it meets, not only a leading one,
    // and panics when that comes after its first 64 bytes: no declaration may name another
    // encoding once the text is UTF-8.
    let text = match foreign_declarations_to_utf8(&text) {
        Some(fixed) => Cow::Owned(fixed),
        None => text,
    };
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
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

/// `text` with every `<?xml ...?>` declaration that names an encoding other than UTF-8 (wherever
/// it stands: the parser reads a misplaced one too) replaced by a UTF-8 one; `None` if there is
/// none.
fn foreign_declarations_to_utf8(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (at, _) in text.match_indices("<?xml") {
        // A declaration is `<?xml` and XML whitespace (`<?xml-stylesheet` is not one).
        if at < copied || !matches!(text.as_bytes().get(at + 5), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            continue;
        }
        // Unclosed: the parser reports it as malformed.
        let Some(len) = text[at..].find("?>").map(|end| end + 2) else { break };
        // Read the way the parser reads it: the first `encoding` attribute, if a known label.
        let content = &text[at + 2..at + len - 2];
        let declaration = quick_xml::events::BytesDecl::from_start(BytesStart::from_content(content, 3));
        let encoding = declaration.encoding().and_then(Result::ok).and_then(|e| Encoding::for_label(e.as_bytes()));
        if encoding.is_none_or(|e| e == UTF_8) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..at]);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        copied = at + len;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
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
    fn misplaced_declarations_say_utf8() {
        // After text (the parser has left its first bytes behind), and after a long comment.
        let body = b"a=\xFF\xFF<?xml n=\"0\" encoding=\"iso-8859-1\"?><rss/>";
        assert_eq!(utf8(body, None), "a=\u{FFFD}\u{FFFD}<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>");
        let body =
            format!("<!--{}--><?xml version='1.0' encoding='koi8-r'?><?xml-stylesheet href='s'?><t/>", "x".repeat(99));
        let out = utf8(body.as_bytes(), None);
        assert!(out.ends_with("--><?xml version=\"1.0\" encoding=\"UTF-8\"?><?xml-stylesheet href='s'?><t/>"), "{out}");
        // A declaration naming UTF-8, or none, is left alone.
        let body = b"<t/><?xml version='1.0' encoding='utf8'?><?xml version='1.0'?>";
        assert!(matches!(to_utf8(body, None), Cow::Borrowed(_)));
    }

    #[test]
    fn nul_characters_are_dropped() {
        // UTF-16 behind a UTF-8 byte-order mark: read as UTF-8, it must not look like UTF-16.
        let le: Vec<u8> = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><t/>"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let body = [&[0xEF, 0xBB, 0xBF][..], &le].concat();
        assert_eq!(utf8(&body, None), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t/>");
    }

    #[test]
    fn bogus_names_and_bad_bytes_do_not_fail() {
        let body = [b"<?xml version=\"1.0\" encoding=\"bogus\"?><t>a".as_slice(), &[0xFF], b"</t>"].concat();
        let out = utf8(&body, None);
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{out}");
        assert!(out.contains("a\u{FFFD}"), "{out}");
    }
}

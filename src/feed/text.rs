//! HTML (or plain text that may contain markup) to clean plain text.
//!
//! Feed titles and summaries arrive as HTML fragments of every quality: escaped twice, with
//! scripts, comments, unclosed tags. Stories are stored and classified as plain text, so this is
//! a forgiving single pass: tags are dropped, the contents of non-text elements (script, style,
//! ...) are dropped with them, block elements become line breaks, entities are decoded and
//! white space is folded. A `<` that does not start a tag is kept as text ("a < b").

/// Elements whose content is never text a reader sees.
const HIDDEN_ELEMENTS: &[&str] =
    &["script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head", "title"];

/// Elements that end a line of text.
const BLOCK_ELEMENTS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
    "dl",
    "td",
    "th",
];

/// Plain text of an HTML fragment, paragraphs separated by `\n`, spaces folded inside lines.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut hidden: Option<String> = None; // the element whose content is being skipped
    while i < bytes.len() {
        let rest = &html[i..];
        if bytes[i] == b'<' {
            if let Some(end) = comment_or_declaration_end(rest) {
                i += end;
                continue;
            }
            if let Some((tag, closing, len)) = parse_tag(rest) {
                i += len;
                match &hidden {
                    Some(h) => {
                        if closing && tag == *h {
                            hidden = None;
                        }
                    }
                    None => {
                        if !closing && HIDDEN_ELEMENTS.contains(&tag.as_str()) && !rest[..len].ends_with("/>") {
                            hidden = Some(tag);
                        } else if BLOCK_ELEMENTS.contains(&tag.as_str()) {
                            raw.push('\n');
                        }
                        // Inline tags vanish: "<b>Ll</b>ama" must stay one word.
                    }
                }
                continue;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if hidden.is_none() {
            // In HTML a raw line break is only white space; block elements make lines.
            raw.push(if ch == '\n' || ch == '\r' { ' ' } else { ch });
        }
        i += ch.len_utf8();
    }
    let decoded = html_escape::decode_html_entities(&raw);
    fold_whitespace(&decoded)
}

/// One line of text (titles): like [`html_to_text`] with line breaks folded too.
pub fn html_to_line(html: &str) -> String {
    html_to_text(html).replace('\n', " ")
}

/// Cut text to at most `max` bytes on a character boundary, preferring a word boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind(char::is_whitespace) {
        Some(space) if space > max / 2 => text[..space].trim_end(),
        _ => &text[..end],
    }
}

fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let mut first = true;
        for word in line.split(|c: char| c.is_whitespace() || c == '\u{a0}').filter(|w| !w.is_empty()) {
            if first && !out.is_empty() {
                out.push('\n');
            }
            if !first {
                out.push(' ');
            }
            out.push_str(word);
            first = false;
        }
    }
    out
}

/// Length of `<!-- ... -->`, `<![CDATA[...]]>` markers, `<!DOCTYPE ...>` or `<?...?>` at the start.
fn comment_or_declaration_end(s: &str) -> Option<usize> {
    if let Some(body) = s.strip_prefix("<!--") {
        return Some(body.find("-->").map_or(s.len(), |e| 4 + e + 3));
    }
    if s.starts_with("<![CDATA[") {
        return Some(9); // keep the CDATA content as text; the closing marker is dropped below
    }
    if s.starts_with("]]>") {
        return Some(3);
    }
    if s.starts_with("<!") || s.starts_with("<?") {
        return Some(s.find('>').map_or(s.len(), |e| e + 1));
    }
    None
}

/// Recognises `<name ...>` or `</name>`; returns the lowercased name, whether it closes, and the
/// length consumed. Anything else (`a < b`, `<3`) is not a tag.
fn parse_tag(s: &str) -> Option<(String, bool, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let closing = b.get(1) == Some(&b'/');
    if closing {
        i = 2;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
        i += 1;
    }
    if i == start || !b[start].is_ascii_alphabetic() {
        return None;
    }
    let name = s[start..i].to_ascii_lowercase();
    // The tag runs to the next '>' outside quotes.
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'"' | b'\'') => quote = Some(b[i]),
            (Some(q), c) if c == q => quote = None,
            (None, b'>') => return Some((name, closing, i + 1)),
            _ => {}
        }
        i += 1;
    }
    // Unterminated tag: drop the rest rather than show markup.
    Some((name, closing, b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_decodes_entities() {
        assert_eq!(html_to_text("<p>Meta &amp; <b>Llama</b></p>"), "Meta & Llama");
        assert_eq!(html_to_text("caf&eacute; &#8220;open&#8221;"), "café “open”");
    }

    #[test]
    fn drops_scripts_styles_and_comments() {
        let html = "before<script>alert('x<p>')</script><style>p{}</style><!-- hidden -->after";
        assert_eq!(html_to_text(html), "beforeafter");
        assert_eq!(html_to_text("<img src=x onerror=\"alert(1)\">text"), "text");
    }

    #[test]
    fn keeps_lone_angle_brackets() {
        assert_eq!(html_to_text("a < b and 3 <4"), "a < b and 3 <4");
    }

    #[test]
    fn blocks_become_lines_and_spaces_fold() {
        assert_eq!(html_to_text("<p>one\n  two</p><p>three</p>"), "one two\nthree");
        assert_eq!(html_to_line("<p>one</p><p>two</p>"), "one two");
        assert_eq!(html_to_text("  \n "), "");
    }

    #[test]
    fn unterminated_markup_is_dropped() {
        assert_eq!(html_to_text("text <a href=\"x"), "text");
        assert_eq!(html_to_text("x<!-- never closed"), "x");
    }

    #[test]
    fn quoted_gt_inside_attribute() {
        assert_eq!(html_to_text("<a title=\"a>b\">link</a>"), "link");
    }

    #[test]
    fn truncates_on_boundaries() {
        assert_eq!(truncate("héllo world again", 9), "héllo");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 3), "é");
    }
}

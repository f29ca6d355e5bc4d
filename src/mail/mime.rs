//! A multipart/alternative message (plain text and HTML) written as it is composed.
//!
//! The bytes are those lettre's builder makes of the same two strings — lettre's headers, its
//! choice of transfer encoding (7bit, quoted-printable or base64), LF → CRLF, its quoted-printable
//! and base64 — but neither part, nor the whole message, is ever held in memory: a digest of
//! thousands of stories is composed again for each pass instead (one to choose the encodings and
//! measure, one per part to write).

use std::fmt;
use std::io;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use crate::store::MessageBytes;

/// Text and HTML, written afresh each time they are asked for (the same each time).
pub trait Alternatives {
    fn write_parts(&self, text: &mut dyn fmt::Write, html: &mut dyn fmt::Write);
}

/// Quoted-printable's longest line, as lettre writes it.
const QP_LINE: usize = 76;
/// Bytes base64 encodes per 76-column line.
const B64_CHUNK: usize = 57;

/// A whole message, ready to be measured and written.
pub struct Message<'a> {
    /// The message's and the multipart's headers, and the blank line after them.
    head: Vec<u8>,
    boundary: String,
    /// Each part's headers and blank line, with its encoding and encoded length.
    parts: [(Vec<u8>, ContentTransferEncoding, u64); 2],
    body: &'a dyn Alternatives,
}

impl<'a> Message<'a> {
    pub fn new(
        from: &Mailbox,
        to: &Mailbox,
        subject: &str,
        message_id: &str,
        now: DateTime<Utc>,
        body: &'a dyn Alternatives,
    ) -> Result<Message<'a>> {
        let (mut text, mut html) = (Survey::default(), Survey::default());
        body.write_parts(&mut text, &mut html);
        let part = |kind: ContentType, survey: Survey| {
            let (encoding, len) = survey.choice();
            let head = SinglePart::builder().header(kind).body(Body::dangerous_pre_encoded(Vec::new(), encoding));
            (head.headers().to_string().into_bytes(), encoding, len)
        };
        let parts = [part(ContentType::TEXT_PLAIN, text), part(ContentType::TEXT_HTML, html)];
        let multipart = MultiPart::alternative().build();
        let boundary = multipart.boundary();
        let mut head = multipart.headers().to_string();
        let message = lettre::Message::builder()
            .from(from.clone())
            .to(to.clone())
            .subject(subject)
            .message_id(Some(message_id.to_string()))
            .date(now.into())
            .multipart(multipart)
            .with_context(|| format!("cannot build the mail to {to}"))?;
        head.insert_str(0, &message.headers().to_string());
        head.push_str("\r\n");
        Ok(Message { head: head.into_bytes(), boundary, parts, body })
    }
}

impl MessageBytes for Message<'_> {
    fn size(&self) -> u64 {
        let delimiters = (self.parts.len() as u64 + 1) * (self.boundary.len() as u64 + 4) + 2;
        let parts: u64 = self.parts.iter().map(|(head, _, len)| head.len() as u64 + 2 + len + 2).sum();
        self.head.len() as u64 + delimiters + parts
    }

    /// Headers, then each part as lettre formats a multipart.
    fn write_to(&self, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(&self.head)?;
        for (i, (head, encoding, _)) in self.parts.iter().enumerate() {
            write!(out, "--{}\r\n", self.boundary)?;
            out.write_all(head)?;
            out.write_all(b"\r\n")?;
            let mut part = Encoder::new(*encoding, &mut *out);
            let mut skip = Skip;
            if i == 0 {
                self.body.write_parts(&mut part, &mut skip);
            } else {
                self.body.write_parts(&mut skip, &mut part);
            }
            part.finish()?;
            out.write_all(b"\r\n")?;
        }
        write!(out, "--{}--\r\n", self.boundary)
    }
}

/// A part not written this pass: not even formatted.
struct Skip;

impl fmt::Write for Skip {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }

    fn write_fmt(&mut self, _: fmt::Arguments<'_>) -> fmt::Result {
        Ok(())
    }
}

/// What lettre's `Body::new` looks at to choose a part's encoding (email-encoding's `choose`
/// for a server without SMTPUTF8), and each encoding's length.
struct Survey {
    len: usize,
    ascii: bool,
    /// Bytes quoted-printable must escape.
    escapes: usize,
    /// Where the last `\n` was (0 before any), and whether a line ran to 76 bytes or more.
    last_lf: usize,
    too_long: bool,
    /// `\n`s that become `\r\n`.
    bare_lf: usize,
    prev: u8,
    /// The part as quoted-printable, only counted.
    qp: Encoder<'static>,
}

impl Default for Survey {
    fn default() -> Survey {
        Survey {
            len: 0,
            ascii: true,
            escapes: 0,
            last_lf: 0,
            too_long: false,
            bare_lf: 0,
            prev: 0,
            qp: Encoder::counting(ContentTransferEncoding::QuotedPrintable),
        }
    }
}

impl fmt::Write for Survey {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, b) in s.bytes().enumerate() {
            if b == b'\n' {
                let at = self.len + i;
                self.too_long |= at - self.last_lf >= QP_LINE;
                self.last_lf = at;
                self.bare_lf += usize::from(self.prev != b'\r');
            }
            self.escapes += usize::from(!matches!(b, b'\t' | b' '..=b'~'));
            self.prev = b;
        }
        self.len += s.len();
        self.ascii &= s.is_ascii();
        self.qp.write_str(s)
    }
}

impl Survey {
    /// The encoding lettre chooses for this part, and the part's encoded length.
    fn choice(mut self) -> (ContentTransferEncoding, u64) {
        let _ = self.qp.finish(); // only counted: nothing to fail
        let too_long = self.too_long || self.len - self.last_lf >= QP_LINE;
        let crlf = (self.len + self.bare_lf) as u64;
        if self.ascii && !too_long {
            (ContentTransferEncoding::SevenBit, crlf)
        } else if self.escapes <= self.len / 3 {
            (ContentTransferEncoding::QuotedPrintable, self.qp.written)
        } else {
            let chunks = crlf.div_ceil(B64_CHUNK as u64);
            (ContentTransferEncoding::Base64, crlf.div_ceil(3) * 4 + 2 * chunks.saturating_sub(1))
        }
    }
}

/// One part's text → CRLF line ends → its transfer encoding → `out` (or only counted).
struct Encoder<'w> {
    out: Option<&'w mut dyn io::Write>,
    encoding: ContentTransferEncoding,
    /// The byte before, to tell a bare `\n` from a `\r\n`.
    prev: u8,
    /// Bytes encoded so far.
    written: u64,
    /// Quoted-printable: the output line not yet ended; base64: the input not yet encoded.
    pending: Vec<u8>,
    qp: QpState,
    error: Option<io::Error>,
}

/// quoted_printable 0.5's `_encode` (text mode, 76 columns) as a state machine.
#[derive(Default)]
struct QpState {
    was_cr: bool,
    /// Where in the pending line a soft break goes if the line is full (before the last thing
    /// appended).
    backup: usize,
    /// Bytes left in a run copied unencoded.
    run_left: usize,
}

impl<'w> Encoder<'w> {
    fn new(encoding: ContentTransferEncoding, out: &'w mut dyn io::Write) -> Encoder<'w> {
        Encoder { out: Some(out), ..Encoder::counting(encoding) }
    }

    fn counting(encoding: ContentTransferEncoding) -> Encoder<'w> {
        Encoder { out: None, encoding, prev: 0, written: 0, pending: Vec::new(), qp: QpState::default(), error: None }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.written += bytes.len() as u64;
        if let (Some(out), None) = (self.out.as_mut(), &self.error)
            && let Err(e) = out.write_all(bytes)
        {
            self.error = Some(e);
        }
    }

    /// Bytes of the part, CRLF line ends already made.
    fn bytes(&mut self, mut bytes: &[u8]) {
        match self.encoding {
            ContentTransferEncoding::QuotedPrintable => {
                while let Some((&b, rest)) = bytes.split_first() {
                    // Most of a line is copied as it is: whole runs at once.
                    let run = bytes.iter().take(self.qp.run_left).take_while(|b| !qp_escaped(**b)).count();
                    if run > 0 {
                        self.pending.extend_from_slice(&bytes[..run]);
                        self.qp.run_left -= run;
                        self.qp.backup = self.pending.len();
                        bytes = &bytes[run..];
                    } else {
                        self.qp_byte(b);
                        bytes = rest;
                    }
                }
            }
            ContentTransferEncoding::Base64 => {
                for &b in bytes {
                    if self.pending.len() == B64_CHUNK {
                        self.base64_chunk();
                    }
                    self.pending.push(b);
                }
            }
            _ => self.emit(bytes),
        }
    }

    fn base64_chunk(&mut self) {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut line = Vec::with_capacity(QP_LINE + 2);
        if self.written > 0 {
            line.extend_from_slice(b"\r\n");
        }
        for group in self.pending.chunks(3) {
            let n = group.iter().enumerate().fold(0u32, |n, (i, b)| n | ((*b as u32) << (16 - 8 * i)));
            for i in 0..4 {
                let digit = if i <= group.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] } else { b'=' };
                line.push(digit);
            }
        }
        self.pending.clear();
        self.emit(&line);
    }

    /// One byte that does not continue a run.
    fn qp_byte(&mut self, b: u8) {
        self.qp.run_left = 0;
        if self.qp.was_cr {
            self.qp.was_cr = false;
            if b == b'\n' {
                self.qp_trailing_space();
                self.pending.extend_from_slice(b"\r\n");
                self.qp_line_end();
                return;
            }
            self.qp_append(b"=0D");
        }
        if b == b'\r' {
            self.qp.was_cr = true;
        } else if QP_LINE - self.pending.len() >= 3 && !qp_escaped(b) {
            // A run of bytes copied as they are, up to two columns before the end of the line.
            self.qp.run_left = QP_LINE - self.pending.len() - 3;
            self.pending.push(b);
            self.qp.backup = self.pending.len();
        } else if qp_escaped(b) {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            self.qp_append(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            self.qp_append(&[b]);
        }
    }

    fn qp_append(&mut self, bytes: &[u8]) {
        if self.pending.len() + bytes.len() > QP_LINE {
            if self.pending.len() == QP_LINE {
                // No room for the `=`: the soft break goes before what was appended last.
                let rest = self.pending.split_off(self.qp.backup);
                self.pending.extend_from_slice(b"=\r\n");
                self.qp_line_end();
                self.pending = rest;
            } else {
                self.pending.extend_from_slice(b"=\r\n");
                self.qp_line_end();
            }
        }
        self.pending.extend_from_slice(bytes);
        self.qp.backup = self.pending.len() - bytes.len();
    }

    /// A space or tab may not end a line: encoded instead.
    fn qp_trailing_space(&mut self) {
        match self.pending.last() {
            Some(b' ') => {
                self.pending.pop();
                self.qp_append(b"=20");
            }
            Some(b'\t') => {
                self.pending.pop();
                self.qp_append(b"=09");
            }
            _ => {}
        }
    }

    fn qp_line_end(&mut self) {
        let line = std::mem::take(&mut self.pending);
        self.emit(&line);
        self.pending = line;
        self.pending.clear();
    }

    /// The part's last bytes; any write error met on the way.
    fn finish(&mut self) -> io::Result<()> {
        match self.encoding {
            ContentTransferEncoding::QuotedPrintable => {
                if self.qp.was_cr {
                    self.qp_append(b"=0D");
                } else {
                    self.qp_trailing_space();
                }
                self.qp_line_end();
            }
            ContentTransferEncoding::Base64 if !self.pending.is_empty() => self.base64_chunk(),
            _ => {}
        }
        self.error.take().map_or(Ok(()), Err)
    }
}

/// Quoted-printable writes this byte as `=XX`.
fn qp_escaped(b: u8) -> bool {
    !matches!(b, b'\t' | b' '..=b'~') || b == b'='
}

impl fmt::Write for Encoder<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while let Some(lf) = rest.iter().position(|b| *b == b'\n') {
            let before = if lf == 0 { self.prev } else { rest[lf - 1] };
            self.bytes(&rest[..lf]);
            self.bytes(if before == b'\r' { b"\n" } else { b"\r\n" });
            rest = &rest[lf + 1..];
            self.prev = b'\n';
        }
        self.bytes(rest);
        if let Some(&last) = rest.last() {
            self.prev = last;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Strings(String, String);

    impl Alternatives for Strings {
        fn write_parts(&self, text: &mut dyn fmt::Write, html: &mut dyn fmt::Write) {
            // In pieces, as composing writes them.
            let pieces = |s: &str, out: &mut dyn fmt::Write| {
                for piece in s.split_inclusive(['\n', ' ', '=']) {
                    out.write_str(piece).unwrap();
                }
            };
            pieces(&self.0, text);
            pieces(&self.1, html);
        }
    }

    /// The boundary, Date and Message-ID aside, the bytes lettre's builder makes.
    fn assert_as_lettre(text: &str, html: &str) {
        let from: Mailbox = "sw <sw@example.org>".parse().unwrap();
        let to: Mailbox = "ana@example.org".parse().unwrap();
        let now = Utc::now();
        let parts = Strings(text.into(), html.into());
        let message = Message::new(&from, &to, "Änderung: a subject", "<id@example.org>", now, &parts).unwrap();
        let mut ours = Vec::new();
        message.write_to(&mut ours).unwrap();
        let theirs = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject("Änderung: a subject")
            .message_id(Some("<id@example.org>".into()))
            .date(now.into())
            .multipart(
                MultiPart::alternative()
                    .boundary(&message.boundary)
                    .singlepart(SinglePart::plain(text.to_string()))
                    .singlepart(SinglePart::html(html.to_string())),
            )
            .unwrap()
            .formatted();
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        assert_eq!(ours.len() as u64, message.size(), "measured length of {text:?} / {html:?}");
    }

    #[test]
    fn messages_are_the_bytes_lettre_makes() {
        assert_as_lettre("", "");
        assert_as_lettre("short ascii\nlines\n", "<p>x</p>\n");
        let long_line = "word ".repeat(40);
        assert_as_lettre(&format!("{long_line}\n{long_line} \n"), &format!("<p>{long_line}</p>"));
        // Escapes at every column, trailing spaces and tabs, bare and paired CRs, `=`.
        for n in 60..80 {
            let pad = "x".repeat(n);
            assert_as_lettre(
                &format!("{pad}é{pad}= \n{pad}\t\n{pad}\r\n\r{pad}\r"),
                &format!("{pad}→ · —{pad}=={pad} "),
            );
        }
        // Mostly non-ASCII: base64, at and around whole 57-byte lines.
        for n in [1, 18, 19, 20, 38, 57, 58, 100] {
            assert_as_lettre(&"日本".repeat(n), &format!("<p>{}</p>\n", "語".repeat(n)));
        }
        // Lines just under, at and over 76 columns decide between 7bit and quoted-printable.
        for n in 73..79 {
            let line = "y".repeat(n);
            assert_as_lettre(&format!("{line}\n{line}"), &format!("a\n{line}\n"));
        }
    }
}

//! Composing a digest: changes first, then each organisation with its new story clusters (one
//! line each, "also covered by"), possible shifts, and feed health — as plain text and as HTML
//! that needs no remote content. Every piece of feed text is escaped (the stored text is already
//! plain; nothing of a feed's HTML reaches a mail), links are http(s) only, and one-line fields
//! lose control characters so nothing can reach a header.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::mime;

use anyhow::Result;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

use crate::stance::Profile;
use crate::store::{ChangeRow, PendingCluster};

/// Longest summary shown under a story (bytes, cut at a character boundary).
pub const SUMMARY_CHARS: usize = 240;

/// A feed that needs attention, for the health section.
pub struct FeedProblem {
    pub name: String,
    /// Failing (for more than a day) or gone.
    pub health: crate::store::FeedHealth,
    pub error: Option<String>,
}

/// An organisation's stance per month, for the strip shown beside its change.
pub struct Strip {
    pub entity: String,
    pub months: Vec<crate::history::MonthRow>,
}

/// Months a strip shows.
const STRIP_MONTHS: usize = 24;

pub struct DigestInput<'a> {
    pub clusters: &'a [&'a PendingCluster],
    pub strips: &'a [Strip],
    /// Older backfilled clusters stored but not listed.
    pub backfilled: usize,
    pub changes: &'a [ChangeRow],
    pub feeds: &'a [FeedProblem],
    pub profile: &'a Profile,
}

pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One line of text for a header or a list item: control characters become spaces.
pub fn one_line(text: &str) -> String {
    Line(text).to_string()
}

/// [`one_line`], written where it goes instead of built first (a digest has thousands).
struct Line<'a>(&'a str);

impl Line<'_> {
    /// Its words: runs of characters that are neither white space nor control characters.
    fn words(&self) -> impl Iterator<Item = &str> {
        self.0.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.words().next().is_none()
    }
}

impl std::fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, word) in self.words().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

/// One line of text, HTML-escaped.
struct Esc<'a>(&'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, word) in Line(self.0).words().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            f.write_str(&html_escape::encode_text(word))?;
        }
        Ok(())
    }
}

/// A link target mail clients may follow: http(s) only.
fn safe_url(url: Option<&str>) -> Option<&str> {
    let starts = |u: &str, scheme: &str| u.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme));
    url.map(str::trim).filter(|u| (starts(u, "https://") || starts(u, "http://")) && !u.chars().any(char::is_control))
}

fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

fn attr(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(text)
}

fn entity_name(profile: &Profile, key: &str) -> String {
    profile.entity(key).map_or_else(|| key.to_string(), |e| e.name.clone())
}

impl DigestInput<'_> {
    /// The digest's subject line.
    pub fn subject(&self) -> String {
        let n = self.clusters.len();
        match self.changes.iter().rfind(|c| c.level == "confirmed") {
            Some(c) => one_line(&format!(
                "stancewatch: {} moved {} → {}; {n} new {}",
                entity_name(self.profile, &c.entity),
                c.from,
                c.to,
                if n == 1 { "story" } else { "stories" }
            )),
            None if n == 0 && self.backfilled > 0 => {
                format!("stancewatch: {} older stories about AI openness stored from new feeds", self.backfilled)
            }
            None => {
                format!("stancewatch digest: {n} new {} about AI openness", if n == 1 { "story" } else { "stories" })
            }
        }
    }
}

pub fn compose(input: &DigestInput) -> Composed {
    let (mut text, mut html) = (String::new(), String::new());
    write_digest(input, &mut text, &mut html);
    Composed { subject: input.subject(), text, html }
}

impl mime::Alternatives for DigestInput<'_> {
    fn write_parts(&self, text: &mut dyn Write, html: &mut dyn Write) {
        write_digest(self, text, html);
    }
}

/// The digest's text and HTML, written as they are composed.
fn write_digest(input: &DigestInput, text: &mut dyn Write, html: &mut dyn Write) {
    let subject = input.subject();
    let n = input.clusters.len();
    let confirmed: Vec<&ChangeRow> = input.changes.iter().filter(|c| c.level == "confirmed").collect();
    let possible: Vec<&ChangeRow> = input.changes.iter().filter(|c| c.level == "possible").collect();

    // Clusters by organisation, in the profile's order; one cluster under one organisation.
    let mut by_entity: BTreeMap<usize, Vec<&PendingCluster>> = BTreeMap::new();
    for c in input.clusters {
        let rank = c
            .entity
            .as_deref()
            .and_then(|k| input.profile.entities.iter().position(|e| e.key == k))
            .unwrap_or(usize::MAX);
        by_entity.entry(rank).or_default().push(c);
    }

    let _ = html.write_str(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>stancewatch digest</title></head>\
         <body style=\"font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;max-width:720px\">",
    );
    let _ = writeln!(text, "{subject}\n");
    let _ = write!(html, "<h1 style=\"font-size:18px\">{}</h1>", esc(&subject));

    let change_line = |c: &ChangeRow| -> String {
        format!(
            "{}: {} → {} ({}, confidence {:.2}) since {}",
            entity_name(input.profile, &c.entity),
            c.from,
            c.to,
            c.level,
            c.confidence,
            c.at
        )
    };
    if !input.strips.is_empty() {
        let _ = writeln!(text, "STANCE BY MONTH (last {STRIP_MONTHS}; O open, C closed, M mixed)\n");
        let _ = write!(html, "<table style=\"border-collapse:collapse;margin:8px 0\" role=\"presentation\">");
        for s in input.strips {
            let months = &s.months[s.months.len().saturating_sub(STRIP_MONTHS)..];
            let name = entity_name(input.profile, &s.entity);
            let letters: String = months.iter().map(|m| strip_letter(m.stance)).collect();
            let range = match (months.first(), months.last()) {
                (Some(a), Some(b)) => format!("{} .. {}", a.month, b.month),
                _ => String::new(),
            };
            let _ = writeln!(text, "  {name:<12} {letters}  ({range})");
            let _ = write!(html, "<tr><td style=\"padding-right:8px;font-size:13px\">{}</td>", esc(&name));
            for m in months {
                let _ = write!(
                    html,
                    "<td title=\"{} {}\" style=\"width:12px;height:14px;border:1px solid #fff;background:{}\"></td>",
                    attr(&m.month),
                    m.stance.as_str(),
                    strip_colour(m.stance)
                );
            }
            let _ = write!(html, "<td style=\"padding-left:8px;font-size:11px;color:#666\">{}</td></tr>", esc(&range));
        }
        let _ = html.write_str(
            "</table><p style=\"font-size:11px;color:#666\">green open · red closed · amber mixed · grey no stance</p>",
        );
        let _ = writeln!(text);
    }
    for (title, list) in [("Stance changes", &confirmed), ("Possible shifts", &possible)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(text, "{}\n", title.to_uppercase());
        let _ = write!(html, "<h2 style=\"font-size:16px\">{title}</h2><ul>");
        for c in list.iter() {
            let _ = writeln!(text, "  {}", change_line(c));
            let _ = write!(html, "<li><b>{}</b><ul>", esc(&change_line(c)));
            for e in &c.evidence {
                let _ = writeln!(
                    text,
                    "    - {} ({}) {}",
                    one_line(&e.title),
                    e.source.as_deref().unwrap_or(""),
                    e.url.as_deref().unwrap_or("")
                );
                let _ = write!(
                    html,
                    "<li>{} <span style=\"color:#666\">{}</span></li>",
                    link(&e.title, e.url.as_deref()),
                    esc(e.source.as_deref().unwrap_or(""))
                );
            }
            let _ = write!(html, "</ul></li>");
        }
        let _ = writeln!(text);
        let _ = html.write_str("</ul>");
    }

    if n > 0 {
        let _ = writeln!(text, "NEW STORIES BY ORGANISATION\n");
        let _ = write!(html, "<h2 style=\"font-size:16px\">New stories by organisation</h2>");
    }
    for (rank, clusters) in &by_entity {
        let name = input.profile.entities.get(*rank).map_or("Other", |e| e.name.as_str());
        let _ = writeln!(text, "{name}");
        let _ = write!(html, "<h3 style=\"font-size:15px;margin-bottom:4px\">{}</h3><ul>", esc(name));
        for c in clusters {
            // Which reader decided shows where the language-model judge did.
            let stance = c
                .stance
                .filter(|s| *s != crate::stance::Stance::Neutral)
                .map(|s| if c.judged { format!("[{}, judge] ", s.as_str()) } else { format!("[{}] ", s.as_str()) })
                .unwrap_or_default();
            let others: Vec<&str> = c.outlets.iter().map(String::as_str).filter(|o| *o != c.outlet).collect();
            let also =
                if others.is_empty() { String::new() } else { format!(" — also covered by {}", others.join(", ")) };
            let summary = Line(crate::feed::text::truncate(&c.summary, SUMMARY_CHARS));
            let _ = writeln!(text, "  - {stance}{} ({}){also}", Line(&c.title), c.outlet);
            if !summary.is_empty() {
                let _ = writeln!(text, "    {summary}");
            }
            if let Some(u) = safe_url(c.url.as_deref()) {
                let _ = writeln!(text, "    {u}");
            }
            let _ = write!(
                html,
                "<li>{}{} <span style=\"color:#666\">{}{}</span><br><span style=\"color:#444\">{}</span></li>",
                if stance.is_empty() { String::new() } else { format!("{} ", esc(&stance)) },
                link(&c.title, c.url.as_deref()),
                esc(&c.outlet),
                esc(&also),
                esc(summary.0)
            );
        }
        let _ = writeln!(text);
        let _ = html.write_str("</ul>");
    }

    if !input.feeds.is_empty() {
        let _ = writeln!(text, "FEED HEALTH\n");
        let _ = write!(html, "<h2 style=\"font-size:16px\">Feed health</h2><ul>");
        for f in input.feeds {
            let what =
                if f.health == crate::store::FeedHealth::Gone { "gone (410)" } else { "failing for more than a day" };
            let error = f.error.as_deref().map(|e| format!(": {}", one_line(e))).unwrap_or_default();
            let _ = writeln!(text, "  - {} — {what}{error}", one_line(&f.name));
            let _ = write!(html, "<li>{} — {}{}</li>", esc(&f.name), what, esc(&error));
        }
        let _ = writeln!(text);
        let _ = html.write_str("</ul>");
    }
    if input.backfilled > 0 {
        let note = format!(
            "{} older stories from first polls and imports were stored in the history and are not listed here \
             (see `stancewatch stories`).",
            input.backfilled
        );
        let _ = writeln!(text, "{note}");
        let _ = write!(html, "<p style=\"color:#666\">{}</p>", esc(&note));
    }
    let _ = html.write_str("</body></html>\n");
}

/// An alert for one confirmed change: what changed, since when, how sure, and the evidence.
pub fn compose_alert(c: &ChangeRow, profile: &Profile) -> Composed {
    let name = entity_name(profile, &c.entity);
    let subject = one_line(&format!("stancewatch alert: {name} moved from {} to {}", c.from, c.to));
    let summary = format!(
        "{name}'s stance on AI openness changed from {} to {} on {} (confidence {:.2}), by {} stories.",
        c.from,
        c.to,
        c.at,
        c.confidence,
        c.evidence.len()
    );
    let mut text = format!("{subject}\n\n{summary}\n\nEvidence:\n");
    let mut html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>stancewatch alert</title></head>\
         <body style=\"font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;max-width:720px\">\
         <h1 style=\"font-size:18px\">{}</h1><p>{}</p><h2 style=\"font-size:16px\">Evidence</h2><ul>",
        esc(&subject),
        esc(&summary)
    );
    for e in &c.evidence {
        let source = e.source.as_deref().unwrap_or("");
        let _ = writeln!(text, "  - {} ({source}, {})", one_line(&e.title), e.published.get(..10).unwrap_or(""));
        if let Some(u) = safe_url(e.url.as_deref()) {
            let _ = writeln!(text, "    {u}");
        }
        let _ = write!(
            html,
            "<li>{} <span style=\"color:#666\">{}, {}</span></li>",
            link(&e.title, e.url.as_deref()),
            esc(source),
            esc(e.published.get(..10).unwrap_or(""))
        );
    }
    html.push_str("</ul></body></html>\n");
    Composed { subject, text, html }
}

fn strip_letter(stance: crate::stance::Stance) -> char {
    match stance {
        crate::stance::Stance::Open => 'O',
        crate::stance::Stance::Closed => 'C',
        crate::stance::Stance::Mixed => 'M',
        crate::stance::Stance::Neutral => '.',
    }
}

fn strip_colour(stance: crate::stance::Stance) -> &'static str {
    match stance {
        crate::stance::Stance::Open => "#2e7d32",
        crate::stance::Stance::Closed => "#c62828",
        crate::stance::Stance::Mixed => "#f9a825",
        crate::stance::Stance::Neutral => "#dddddd",
    }
}

/// A story's title, linked when its URL is one to follow.
fn link<'a>(title: &'a str, url: Option<&'a str>) -> Link<'a> {
    Link { title, url }
}

struct Link<'a> {
    title: &'a str,
    url: Option<&'a str>,
}

impl std::fmt::Display for Link<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match safe_url(self.url) {
            Some(u) => write!(f, "<a href=\"{}\">{}</a>", attr(u), esc(self.title)),
            None => esc(self.title).fmt(f),
        }
    }
}

/// A Message-ID fixed by the database it comes from (`instance`: a token drawn once per
/// database), what the message is (`what`: a digest period, a change event) and who it is for:
/// a resent message is recognisably the same one, and a rebuilt database or a second
/// installation never reuses an ID for other content (mail services drop repeated IDs).
pub fn message_id(instance: &str, what: &str, recipient: &str, from: &Mailbox) -> String {
    let hex = crate::fingerprint::sha256_hex(&format!("{instance}\n{what}\n{recipient}"), 12);
    format!("<{hex}.{instance}@{}>", from.email.domain())
}

impl mime::Alternatives for Composed {
    fn write_parts(&self, text: &mut dyn Write, html: &mut dyn Write) {
        let _ = text.write_str(&self.text);
        let _ = html.write_str(&self.html);
    }
}

/// The whole message as sent: multipart/alternative, plain text and HTML, written when asked
/// (a digest is composed as it is written, never held whole).
pub fn build_message<'a>(
    from: &Mailbox,
    to: &Mailbox,
    message_id: &str,
    subject: &str,
    body: &'a dyn mime::Alternatives,
    now: DateTime<Utc>,
) -> Result<mime::Message<'a>> {
    mime::Message::new(from, to, &one_line(subject), message_id, now, body)
}

/// A digest ready to queue: its period key, what it lists and what it only counts.
pub struct Prepared<'a> {
    pub period: String,
    pub listed: Vec<&'a PendingCluster>,
    pub counted: Vec<&'a PendingCluster>,
    strips: &'a [Strip],
    changes: &'a [ChangeRow],
    feeds: &'a [FeedProblem],
    profile: &'a Profile,
}

impl Prepared<'_> {
    /// What the digest says, to compose.
    pub fn input(&self) -> DigestInput<'_> {
        DigestInput {
            clusters: &self.listed,
            strips: self.strips,
            backfilled: self.counted.len(),
            changes: self.changes,
            feeds: self.feeds,
            profile: self.profile,
        }
    }
}

/// Choose what the next digest covers. Without `since`: every cluster no digest
/// has covered, except backfilled ones older than one digest period (those are counted, stored
/// as covered, and not listed — the history has them). With `since`: clusters first published
/// since then. None when there is nothing to say.
#[allow(clippy::too_many_arguments)]
pub fn prepare<'a>(
    pending: &'a [PendingCluster],
    strips: &'a [Strip],
    changes: &'a [ChangeRow],
    feeds: &'a [FeedProblem],
    profile: &'a Profile,
    since: Option<DateTime<Utc>>,
    period_length: chrono::Duration,
    period: String,
    now: DateTime<Utc>,
) -> Option<Prepared<'a>> {
    let published = |c: &PendingCluster| crate::store::parse_time(&c.published).unwrap_or(now);
    let (mut listed, mut counted) = (Vec::new(), Vec::new());
    for c in pending {
        match since {
            Some(s) if published(c) >= s => listed.push(c),
            Some(_) => {}
            None if !c.backfill || published(c) >= now - period_length => listed.push(c),
            None => counted.push(c),
        }
    }
    // Older backfilled clusters alone still make a (short) digest: it records them as covered,
    // so each relevant cluster is accounted for in exactly one digest, and tells the reader the
    // new feeds work.
    if listed.is_empty() && changes.is_empty() && counted.is_empty() {
        return None;
    }
    Some(Prepared { period, listed, counted, strips, changes, feeds, profile })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(title: &str, url: &str) -> PendingCluster {
        PendingCluster {
            cluster: 1,
            title: title.into(),
            summary: "a summary".into(),
            url: Some(url.into()),
            outlet: "news.example".into(),
            published: "2026-11-20T10:00:00Z".into(),
            outlets: vec!["news.example".into()],
            entity: Some("meta".into()),
            stance: Some(crate::stance::Stance::Open),
            judged: false,
            backfill: false,
            stories: vec![1],
        }
    }

    #[test]
    fn older_backfilled_stories_alone_make_a_short_digest_that_covers_them() {
        let profile = Profile::builtin();
        let now = crate::store::parse_time("2026-11-27T10:00:00Z").unwrap();
        let old = [PendingCluster { backfill: true, ..cluster("Meta releases Llama", "https://news.example/a") }];
        let day = chrono::Duration::days(1);
        let prepared = prepare(&old, &[], &[], &[], &profile, None, day, "p".into(), now).expect("a digest");
        assert!(prepared.listed.is_empty());
        assert_eq!(prepared.counted.len(), 1, "the cluster is recorded as covered");
        let subject = prepared.input().subject();
        assert!(subject.contains("1 older stories"), "{subject}");
        assert!(prepare(&[], &[], &[], &[], &profile, None, day, "p".into(), now).is_none(), "nothing: no digest");
    }

    #[test]
    fn a_stance_the_judge_decided_says_so() {
        let profile = Profile::builtin();
        let judged = PendingCluster { judged: true, ..cluster("Meta releases Llama", "https://news.example/a") };
        let built_in = PendingCluster { cluster: 2, ..cluster("Meta ships Llama", "https://news.example/b") };
        let composed = compose(&DigestInput {
            clusters: &[&judged, &built_in],
            strips: &[],
            backfilled: 0,
            changes: &[],
            feeds: &[],
            profile: &profile,
        });
        assert!(composed.text.contains("- [open, judge] Meta releases Llama"), "{}", composed.text);
        assert!(composed.text.contains("- [open] Meta ships Llama"), "{}", composed.text);
    }

    #[test]
    fn titles_cannot_inject_headers_and_long_subjects_are_encoded() {
        use crate::store::MessageBytes;
        let profile = Profile::builtin();
        let evil =
            cluster("Meta releases Llama\r\nBcc: victim@example.org\r\n\r\n<script>x</script>", "javascript:alert(1)");
        let composed = compose(&DigestInput {
            clusters: &[&evil],
            strips: &[],
            backfilled: 0,
            changes: &[],
            feeds: &[],
            profile: &profile,
        });
        assert!(!composed.html.contains("javascript:") && !composed.html.contains("<script"));
        let from: Mailbox = "sw <sw@example.org>".parse().unwrap();
        let to: Mailbox = "ana@example.org".parse().unwrap();
        let long = Composed {
            subject: format!("Änderung\r\nBcc: x@example.org {}", "sehr lange Betreffzeile ".repeat(12)),
            ..composed
        };
        let mut bytes = Vec::new();
        build_message(&from, &to, "<id@example.org>", &long.subject, &long, Utc::now())
            .unwrap()
            .write_to(&mut bytes)
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(!headers.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{headers}");
        let subject_lines: Vec<&str> = headers
            .lines()
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
            .collect();
        assert!(subject_lines.len() > 1, "a long subject is folded: {headers}");
        assert!(subject_lines.iter().all(|l| l.len() <= 998 && l.is_ascii()), "encoded (RFC 2047): {subject_lines:?}");
        assert!(subject_lines[0].contains("=?utf-8?"), "{subject_lines:?}");
    }

    #[test]
    fn a_digest_is_written_as_lettre_builds_its_composed_text() {
        use crate::store::MessageBytes;
        let profile = Profile::builtin();
        let clusters: Vec<PendingCluster> = (0..40)
            .map(|i| PendingCluster {
                outlets: vec!["news.example".into(), format!("other{i}.example")],
                summary: format!("Résumé {i} — {}", "long words and = signs ".repeat(i % 7)),
                entity: ["meta", "openai", "nobody"][i % 3].to_string().into(),
                ..cluster(&format!("Story {i} <b>&</b> ünïcode"), &format!("https://news.example/{i}"))
            })
            .collect();
        let listed: Vec<&PendingCluster> = clusters.iter().collect();
        let input =
            DigestInput { clusters: &listed, strips: &[], backfilled: 3, changes: &[], feeds: &[], profile: &profile };
        let composed = compose(&input);
        let from: Mailbox = "sw <sw@example.org>".parse().unwrap();
        let to: Mailbox = "ana@example.org".parse().unwrap();
        let now = Utc::now();
        let (mut streamed, mut built) = (Vec::new(), Vec::new());
        build_message(&from, &to, "<id@example.org>", &input.subject(), &input, now)
            .unwrap()
            .write_to(&mut streamed)
            .unwrap();
        build_message(&from, &to, "<id@example.org>", &composed.subject, &composed, now)
            .unwrap()
            .write_to(&mut built)
            .unwrap();
        // Each message has a boundary of its own.
        let boundary = |m: &[u8]| {
            let text = String::from_utf8_lossy(m).into_owned();
            let at = text.find("boundary=\"").unwrap() + 10;
            text[at..at + 40].to_string()
        };
        let (a, b) = (boundary(&streamed), boundary(&built));
        assert_eq!(
            String::from_utf8(streamed).unwrap().replace(&a, "B"),
            String::from_utf8(built).unwrap().replace(&b, "B")
        );
    }

    #[test]
    fn message_ids_are_fixed_by_what_and_whom() {
        let from: Mailbox = "sw <sw@example.org>".parse().unwrap();
        let id = |instance, what, to| message_id(instance, what, to, &from);
        assert_eq!(id("1f", "daily:2026-11-27", "a@x.org"), id("1f", "daily:2026-11-27", "a@x.org"));
        assert_ne!(id("1f", "daily:2026-11-27", "a@x.org"), id("1f", "daily:2026-11-27", "b@x.org"));
        assert_ne!(id("1f", "daily:2026-11-27", "a@x.org"), id("1f", "daily:2026-11-28", "a@x.org"));
        // Another database (rebuilt, or a second installation) never reuses the ID.
        assert_ne!(id("1f", "daily:2026-11-27", "a@x.org"), id("2e", "daily:2026-11-27", "a@x.org"));
        assert!(id("1f", "daily:2026-11-27", "a@x.org").ends_with(".1f@example.org>"));
    }
}

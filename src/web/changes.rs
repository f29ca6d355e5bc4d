//! `/changes`: every stored change event with its evidence, filtered by a GET form; and the
//! same events as Atom (`/changes.atom`, `/org/{entity}/changes.atom`).
//!
//! Atom ids are `tag:` URIs built from the database's instance token and the event's
//! reconciliation key (`entity|from|to|day`), so a feed reader sees the same entry across
//! requests, restarts and recomputations, and a `possible` change later confirmed is updated
//! in place rather than repeated.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use maud::{Markup, html};

use super::{Params, Shared, Site, xml};
use crate::store::{ChangeRow, ChangeStamp};

/// At most this many entries in an Atom feed (the most recently updated).
const ATOM_ENTRIES: usize = 100;
/// A feed's `updated` when it has no entries: fixed, so an empty feed never looks new.
const EPOCH: &str = "1970-01-01T00:00:00Z";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/changes", get(changes_page))
        .route("/changes.atom", get(all_atom))
        .route("/org/{entity}/changes.atom", get(org_atom))
}

/// The page's filters, as given.
struct Filters {
    level: Option<&'static str>,
    entity: Option<String>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
}

impl Filters {
    /// The filters of the query string; the error (for a 400) names the field.
    fn parse(site: &Site, params: &Params) -> Result<Filters, String> {
        let level = match params.get("level") {
            None => None,
            Some("confirmed") => Some("confirmed"),
            Some("possible") => Some("possible"),
            Some(other) => {
                return Err(format!("level: `{other}` is not a level; use confirmed or possible"));
            }
        };
        let filters = Filters {
            level,
            entity: params.entity(&site.profile, "entity")?,
            since: params.day("since")?,
            until: params.day("until")?,
        };
        if let (Some(since), Some(until)) = (filters.since, filters.until)
            && until < since
        {
            return Err(format!("until: {until} is before since ({since})"));
        }
        Ok(filters)
    }

    /// Whether `row` passes the filters the store does not apply (level, until).
    fn admits(&self, row: &ChangeRow) -> bool {
        self.level.is_none_or(|l| row.level == l)
            && self.until.is_none_or(|u| row.at.as_str() <= u.to_string().as_str())
    }
}

async fn changes_page(State(site): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let filters = match Filters::parse(&site, &Params::parse(raw.as_deref())) {
        Ok(f) => f,
        Err(what) => return super::bad_request(&what),
    };
    let (entity, since) = (filters.entity.clone(), filters.since);
    let read = super::read(&site, move |store| {
        let rows = store.changes(entity.as_deref(), since)?;
        let evidence: Vec<i64> = rows.iter().flat_map(|c| c.evidence.iter().map(|e| e.story)).collect();
        Ok((rows, store.clusters_of(&evidence)?))
    });
    let (rows, clusters) = match read.await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let rows: Vec<ChangeRow> = rows.into_iter().filter(|r| filters.admits(r)).collect();
    let body = html! {
        (filter_form(&site, &filters))
        p {
            @if rows.is_empty() { "No change event matches." }
            @else if rows.len() == 1 { "1 change event, oldest first." }
            @else { (rows.len()) " change events, oldest first." }
            " Also as " a href="/changes.atom" { "Atom" } "."
        }
        @for row in &rows { (change_article(&site, row, &clusters)) }
    };
    super::page("Stance changes", body)
}

fn filter_form(site: &Site, f: &Filters) -> Markup {
    let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    html! {
        form.filters method="get" action="/changes" aria-label="filter the changes" {
            label {
                "Level"
                select name="level" {
                    option value="" selected[f.level.is_none()] { "any" }
                    @for level in ["confirmed", "possible"] {
                        option value=(level) selected[f.level == Some(level)] { (level) }
                    }
                }
            }
            label {
                "Organisation"
                select name="entity" {
                    option value="" selected[f.entity.is_none()] { "any" }
                    @for e in &site.profile.entities {
                        option value=(e.key) selected[f.entity.as_deref() == Some(e.key.as_str())] { (e.name) }
                    }
                }
            }
            label { "Since" input type="date" name="since" value=(day(f.since)); }
            label { "Until" input type="date" name="until" value=(day(f.until)); }
            button type="submit" { "Filter" }
        }
    }
}

/// One change event and its evidence stories.
fn change_article(site: &Site, row: &ChangeRow, clusters: &HashMap<i64, i64>) -> Markup {
    html! {
        article.change id={"change-" (row.id)} {
            h2 {
                a href={"/org/" (segment(&row.entity))} { (super::entity_name(&site.profile, &row.entity)) }
                ": " (super::stance_badge(&row.from)) " → " (super::stance_badge(&row.to))
            }
            p {
                "On " time datetime=(row.at) { (row.at) }
                " · " span class={"level-" (row.level)} { (row.level) }
                " · confidence " (format!("{:.2}", row.confidence))
                " · " small { "detected " (row.detected_at) }
            }
            (evidence_list(row, Some(clusters)))
        }
    }
}

/// The evidence stories, linked out; with `clusters`, also to their cluster's page here.
fn evidence_list(row: &ChangeRow, clusters: Option<&HashMap<i64, i64>>) -> Markup {
    html! {
        @if row.evidence.is_empty() {
            p.muted { "No evidence story is stored any longer." }
        } @else {
            ul.evidence aria-label="evidence" {
                @for e in &row.evidence {
                    li {
                        (super::outbound(e.url.as_deref(), &e.title))
                        @if let Some(outlet) = &e.source { " — " (outlet) }
                        ", " time datetime=(e.published) { (e.published.get(..10).unwrap_or(&e.published)) }
                        @if let Some(cluster) = clusters.and_then(|c| c.get(&e.story)) {
                            " · " a href={"/stories/" (cluster)} { "the story here" }
                        }
                    }
                }
            }
        }
    }
}

/// A path segment: everything but unreserved characters percent-encoded.
pub(super) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

async fn all_atom(State(site): State<Shared>, headers: HeaderMap) -> Response {
    atom(site, None, &headers).await
}

async fn org_atom(State(site): State<Shared>, Path(entity): Path<String>, headers: HeaderMap) -> Response {
    if site.profile.entity(&entity).is_none() {
        return super::not_found(&format!("No organisation `{entity}` in the profile."));
    }
    atom(site, Some(entity), &headers).await
}

/// What an Atom feed is built from, read in one go.
struct AtomRead {
    instance: String,
    rows: Vec<ChangeRow>,
    stamps: HashMap<i64, ChangeStamp>,
}

async fn atom(site: Shared, entity: Option<String>, headers: &HeaderMap) -> Response {
    let wanted = entity.clone();
    let read = super::read(&site, move |store| {
        Ok(AtomRead {
            instance: store.instance_token()?,
            rows: store.changes(wanted.as_deref(), None)?,
            stamps: store.change_stamps()?,
        })
    })
    .await;
    let read = match read {
        Ok(read) => read,
        Err(response) => return response,
    };
    let base = base_url(headers);
    let body = atom_document(&site, entity.as_deref(), &read, &base);
    ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], body).into_response()
}

/// `http://host` from the request's Host header when it is a plain host[:port] (honouring a
/// proxy's `X-Forwarded-Proto: https`); otherwise empty, and links stay relative.
fn base_url(headers: &HeaderMap) -> String {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return String::new() };
    let plain = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !plain {
        return String::new();
    }
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The Atom document (RFC 4287): the most recently updated events first.
fn atom_document(site: &Site, entity: Option<&str>, read: &AtomRead, base: &str) -> String {
    let tag = |what: &str| format!("tag:stancewatch,2026:{}/{what}", segment(&read.instance));
    let mut entries: Vec<(&ChangeRow, &ChangeStamp)> =
        read.rows.iter().filter_map(|r| read.stamps.get(&r.id).map(|s| (r, s))).collect();
    entries.sort_by(|a, b| b.1.updated.cmp(&a.1.updated).then(b.0.at.cmp(&a.0.at)).then(a.1.key.cmp(&b.1.key)));
    entries.truncate(ATOM_ENTRIES);
    let updated = entries.iter().map(|(_, s)| s.updated.as_str()).max().unwrap_or(EPOCH);
    let (title, page, this, id) = match entity {
        Some(e) => (
            format!("{}: stance changes", super::entity_name(&site.profile, e)),
            format!("{base}/org/{}", segment(e)),
            format!("{base}/org/{}/changes.atom", segment(e)),
            tag(&format!("org/{}/changes", segment(e))),
        ),
        None => {
            ("Stance changes".to_string(), format!("{base}/changes"), format!("{base}/changes.atom"), tag("changes"))
        }
    };
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(out, "  <id>{}</id>", xml(&id));
    let _ = writeln!(out, "  <title>{}</title>", xml(&title));
    let _ = writeln!(out, "  <updated>{}</updated>", xml(updated));
    let _ = writeln!(out, "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>", xml(&page));
    let _ = writeln!(out, "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>", xml(&this));
    out.push_str("  <author><name>stancewatch</name></author>\n");
    out.push_str("  <generator>stancewatch</generator>\n");
    for (row, stamp) in entries {
        let name = super::entity_name(&site.profile, &row.entity);
        let link = format!("{base}/changes?entity={}#change-{}", segment(&row.entity), row.id);
        let content = html! {
            p {
                (name) ": " (row.from) " → " (row.to) " on " (row.at) " (" (row.level) ", confidence "
                (format!("{:.2}", row.confidence)) ")"
            }
            (evidence_list(row, None))
        };
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <id>{}</id>", xml(&tag(&format!("change/{}", segment(&stamp.key)))));
        let _ =
            writeln!(out, "    <title>{}</title>", xml(&format!("{name}: {} → {} ({})", row.from, row.to, row.level)));
        let _ = writeln!(out, "    <published>{}</published>", xml(&row.detected_at));
        let _ = writeln!(out, "    <updated>{}</updated>", xml(&stamp.updated));
        let _ = writeln!(out, "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>", xml(&link));
        let _ = writeln!(out, "    <category term=\"{}\"/>", xml(&row.entity));
        let _ = writeln!(out, "    <content type=\"html\">{}</content>", xml(&content.into_string()));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_keeps_only_unreserved_characters() {
        assert_eq!(segment("meta"), "meta");
        assert_eq!(segment("a|b c/é"), "a%7Cb%20c%2F%C3%A9");
    }

    #[test]
    fn links_are_absolute_only_for_a_plain_host() {
        let mut headers = HeaderMap::new();
        assert_eq!(base_url(&headers), "");
        headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(base_url(&headers), "http://127.0.0.1:8080");
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(&headers), "https://127.0.0.1:8080");
        headers.insert(header::HOST, "evil\"/><x".parse().unwrap());
        assert_eq!(base_url(&headers), "");
    }
}

//! The web view: the history as server-rendered pages (`/`, `/org/{entity}`, `/changes`,
//! `/stories`, `/feeds`), Atom feeds of change events, and JSON under `/api/` in the CLI's
//! `--format json` shapes. Served by `stancewatch serve` and, with `[http] listen`, by `run`
//! (one server beside `/healthz` and `/metrics`, see [`crate::http`]).
//!
//! Read-only: every read goes through the endpoint's [`Reader`] (one read-only connection on a
//! thread of its own). Pages are maud templates, which escape every string they are given, so
//! feed text is shown as text; links leave only for http(s) addresses, with
//! `rel="noopener noreferrer nofollow"`. No scripts, no remote resources: the one stylesheet is
//! served from here, and `Content-Security-Policy: default-src 'self'` says so to the browser.

mod api;
mod changes;
mod feeds;
mod home;
mod org;
mod stories;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use maud::{DOCTYPE, Markup, html};

use crate::history::HistoryReport;
use crate::http::reader::{ReadError, Reader};
use crate::stance::{Profile, Stance};
use crate::store::Store;
use crate::timeline::ChangeSettings;

/// What every page handler has: the reader and the settings the CLI would use.
pub struct Site {
    pub reader: Reader,
    pub profile: Profile,
    pub changes: ChangeSettings,
    /// Histories computed for earlier pages, kept while the database's history is unchanged.
    pub histories: HistoryCache,
}

impl Site {
    pub fn new(reader: Reader, profile: Profile, changes: ChangeSettings) -> Site {
        Site { reader, profile, changes, histories: HistoryCache::default() }
    }

    /// `entity`'s history as `stancewatch history` computes it, from the cache while neither
    /// the stored stories nor the change events have moved (and the day is the same). Runs on
    /// the reader thread.
    pub fn history(&self, store: &Store, entity: &str) -> anyhow::Result<Arc<HistoryReport>> {
        let today = chrono::Utc::now().date_naive();
        let generation = (store.history_generation()?, today);
        let mut cache = self.histories.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.generation.as_ref() != Some(&generation) {
            cache.reports.clear();
            cache.generation = Some(generation);
        }
        if let Some(report) = cache.reports.get(entity) {
            return Ok(report.clone());
        }
        let report = Arc::new(crate::history::history(store, &self.profile, &self.changes, entity, today)?);
        cache.reports.insert(entity.to_string(), report.clone());
        Ok(report)
    }
}

/// Computed histories and the database generation (and day) they belong to.
#[derive(Default)]
pub struct HistoryCache(std::sync::Mutex<CachedHistories>);

#[derive(Default)]
pub struct CachedHistories {
    generation: Option<(String, chrono::NaiveDate)>,
    reports: std::collections::HashMap<String, Arc<HistoryReport>>,
}

/// The shared state of the pages' handlers.
pub type Shared = Arc<Site>;

/// The longest a page waits for its read (a history whose saved summary is out of date — no
/// writer has refreshed it since — is computed from every reading: seconds at a million stories).
pub const PAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Every page, feed and API route of the web view. The organisations' histories are read at
/// once in the background, so the first visitor does not wait for them.
pub fn routes(site: Site) -> Router {
    let site = Arc::new(site);
    let warm = site.clone();
    tokio::spawn(async move {
        // One read each: pages asked for meanwhile wait behind one history, not all of them.
        for e in &warm.profile.entities {
            let (shared, key) = (warm.clone(), e.key.clone());
            let _ = warm.reader.read(move |store| shared.history(store, &key).map(drop)).await;
        }
    });
    Router::new()
        .route("/style.css", get(stylesheet))
        .merge(home::routes())
        .merge(org::routes())
        .merge(changes::routes())
        .merge(stories::routes())
        .merge(feeds::routes())
        .merge(api::routes())
        .with_state(site)
}

/// The headers every answer carries where the web view is served (a layer over the whole
/// server, its 404s included): no scripts or resources from elsewhere, no framing, no guessing
/// of types, no referrer to the outlets a reader follows.
pub async fn secure(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A page: the layout around `body`, with `title` in the tab and the heading.
pub fn page(title: &str, body: Markup) -> Response {
    render(StatusCode::OK, title, body)
}

fn render(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · stancewatch" }
                link rel="stylesheet" href="/style.css";
                link rel="alternate" type="application/atom+xml" title="stance changes" href="/changes.atom";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="main" {
                        a.brand href="/" { "stancewatch" }
                        a href="/changes" { "Changes" }
                        a href="/stories" { "Stories" }
                        a href="/feeds" { "Feeds" }
                        a href="/changes.atom" { "Atom" }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

/// 404 with a page that says what was not found.
pub fn not_found(what: &str) -> Response {
    render(StatusCode::NOT_FOUND, "Not found", html! { p { (what) } p { a href="/" { "Back to the overview" } } })
}

/// A read that did not answer, as a page: 503 when busy (try again), 500 when the database
/// failed.
pub fn read_failed(e: ReadError) -> Response {
    let (status, say) = failure(e);
    render(status, "The history cannot be read", html! { p { (say) } })
}

/// The status and the words for a read that did not answer. The cause (paths, SQL) goes to
/// the log, not to whoever asked.
fn failure(e: ReadError) -> (StatusCode, &'static str) {
    if e == ReadError::Busy {
        return (StatusCode::SERVICE_UNAVAILABLE, "The history is busy; try again in a moment.");
    }
    tracing::warn!(error = %e, "a page could not read the database");
    (StatusCode::INTERNAL_SERVER_ERROR, "The history could not be read; the server's log says why.")
}

/// An API error: `{"error": "..."}` with its status, JSON like the answers it replaces.
pub fn api_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// [`read`] for the API: a read that did not answer is a JSON error.
pub async fn read_json<T, F>(site: &Site, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
{
    site.reader.read(read).await.map_err(|e| {
        let (status, say) = failure(e);
        api_error(status, say)
    })
}

/// Run `read` on the reader; its error, if any, as a page.
pub async fn read<T, F>(site: &Site, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
{
    site.reader.read(read).await.map_err(read_failed)
}

/// A link out of the site: http(s) only (anything else is shown as text), never passing on
/// the page or its referrer.
pub fn outbound(url: Option<&str>, text: &str) -> Markup {
    match url.filter(|u| is_http(u)) {
        Some(url) => html! { a href=(url) rel="noopener noreferrer nofollow" { (text) } },
        None => html! { (text) },
    }
}

fn is_http(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// A stance as a letter and a word, so it never rests on colour alone.
pub fn stance_badge(stance: &str) -> Markup {
    let letter = match stance {
        "open" => "O",
        "closed" => "C",
        "mixed" => "M",
        "neutral" => "N",
        _ => "?",
    };
    // The word is what a screen reader says; the letter repeats it for the eye.
    html! { span class={"stance stance-" (stance)} { abbr title=(stance) aria-hidden="true" { (letter) } " " (stance) } }
}

/// The entity's display name, or the key if the profile does not know it.
pub fn entity_name<'a>(profile: &'a Profile, key: &'a str) -> &'a str {
    profile.entities.iter().find(|e| e.key == key).map_or(key, |e| e.name.as_str())
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        include_str!("style.css"),
    )
        .into_response()
}

/// A query string's fields, decoded; the last value of a repeated field wins and fields a page
/// does not know are ignored. Every reader of a field returns an error that begins with the
/// field's name and says what it takes (a 400 for pages, `{"error": ...}` for the API).
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        Params(url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// The field's value, trimmed; an empty field is no filter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// `name` as an entity of the profile.
    pub fn entity(&self, profile: &Profile, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(key) if profile.entity(key).is_some() => Ok(Some(key.to_string())),
            Some(key) => {
                let keys: Vec<&str> = profile.entities.iter().map(|e| e.key.as_str()).collect();
                Err(format!("{name}: unknown entity `{key}`; the profile has {}", keys.join(", ")))
            }
        }
    }

    /// `name` as a `YYYY-MM-DD` day.
    pub fn day(&self, name: &str) -> Result<Option<NaiveDate>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("{name}: `{text}` is not a date; use YYYY-MM-DD")),
        }
    }

    /// `name` as a day (midnight UTC) or an RFC 3339 time, as the CLI's `--since` takes it.
    pub fn time(&self, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
        self.get(name).map(crate::dates::parse_date).transpose().map_err(|e| format!("{name}: {e}"))
    }

    /// `name` as a stance.
    pub fn stance(&self, name: &str) -> Result<Option<Stance>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => {
                Stance::parse(text).map(Some).ok_or_else(|| format!("{name}: one of open, closed, mixed, neutral"))
            }
        }
    }

    /// A checkbox: present ("on", "1", "true", "yes") or not (absent, "0", "off", "false", "no").
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            Some("on" | "1" | "true" | "yes") => Ok(true),
            None | Some("0" | "off" | "false" | "no") => Ok(false),
            Some(other) => Err(format!("{name}: 1 (yes) or 0 (no), not `{other}`")),
        }
    }

    /// `name` as a whole number in `range`; `what` says what it counts (for the error).
    pub fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<usize>,
        what: &str,
    ) -> Result<Option<usize>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(format!("{name}: {what} from {} to {}, not `{text}`", range.start(), range.end())),
            },
        }
    }
}

/// 400 for a query string the page cannot use, saying which field and what it takes.
pub fn bad_request(what: &str) -> Response {
    render(StatusCode::BAD_REQUEST, "Bad request", html! { p { (what) } })
}

/// Text for XML character data and quoted attributes (the Atom feeds, the SVG timeline):
/// markup characters escaped, and characters XML 1.0 forbids (most control characters)
/// dropped, so no stored title can break the document.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// JSON in the CLI's shapes.
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_string_pretty(value) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write JSON: {e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml("<script>a & b</script> ]]> \"'\u{1}\u{FFFF}x"),
            "&lt;script&gt;a &amp; b&lt;/script&gt; ]]&gt; &quot;&apos;x"
        );
    }
}

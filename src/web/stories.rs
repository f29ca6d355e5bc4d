//! `/stories`: the stored stories, one row per story cluster, searched (full text) and filtered
//! by organisation, stance, dates and relevance, 50 to a page; `/stories/{cluster}`: every
//! article of one cluster with what was read in it; `/api/stories`: the same rows as
//! `stancewatch stories --format json` prints them.
//!
//! Query strings are parsed here, not by an extractor, so a bad value is a 400 page that names
//! its field.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{Params, Shared};
use crate::stance::{Profile, Stance};
use crate::store::{ClusterStance, StoryFilter, StoryRow};

/// The deepest page (and, in stories, offset) served: deeper pages are read by skipping every
/// row before them, so they are bounded like any other read.
const MAX_PAGE: usize = 10_000;

/// Story clusters on one page.
const PAGE: usize = 50;
/// Rows `/api/stories` returns without `limit`, and the most it returns with one: every read
/// waits its turn on the one reader thread, so no request may hold it for a whole archive.
const API_DEFAULT_LIMIT: usize = 100;
const API_MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<Shared> {
    Router::new().route("/stories", get(list)).route("/stories/{cluster}", get(cluster)).route("/api/stories", get(api))
}

/// The filters of the page and the API, as typed (to fill the form again) and as parsed.
#[derive(Default)]
struct Query {
    q: String,
    entity: String,
    stance: Option<Stance>,
    since_text: String,
    until_text: String,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    relevant: bool,
    page: usize,
    limit: Option<usize>,
    offset: usize,
    all: bool,
}

impl Query {
    /// Parse `raw`; a bad value is an error naming its field (the handlers answer it with 400).
    fn parse(raw: Option<&str>, profile: &Profile) -> Result<Query, String> {
        let params = Params::parse(raw);
        let text = |name: &str| params.get(name).unwrap_or_default().to_string();
        let q = Query {
            q: text("q"),
            entity: params.entity(profile, "entity")?.unwrap_or_default(),
            stance: params.stance("stance")?,
            since_text: text("since"),
            until_text: text("until"),
            since: params.time("since")?,
            until: params.time("until")?,
            relevant: params.flag("relevant")?,
            all: params.flag("all")?,
            page: params.number("page", 1..=MAX_PAGE, "a page number (page=2 is the second 50 stories)")?.unwrap_or(1),
            limit: params.number("limit", 0..=API_MAX_LIMIT, "a number of stories (page on with offset)")?,
            offset: params.number("offset", 0..=MAX_PAGE * PAGE, "a number of stories to skip")?.unwrap_or(0),
        };
        if q.stance.is_some() && q.entity.is_empty() {
            return Err("stance: needs an organisation (entity): whose stance?".into());
        }
        Ok(q)
    }

    fn filter(&self) -> StoryFilter {
        StoryFilter {
            since: self.since,
            until: self.until,
            search: (!self.q.is_empty()).then(|| self.q.clone()),
            limit: self.limit,
            offset: self.offset,
            all: self.all,
            entity: (!self.entity.is_empty()).then(|| self.entity.clone()),
            stance: self.stance,
            relevant: self.relevant,
        }
    }

    /// `/stories?…` with these filters on page `page`.
    fn link(&self, page: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("q", self.q.as_str()),
            ("entity", &self.entity),
            ("stance", self.stance.map_or("", Stance::as_str)),
            ("since", &self.since_text),
            ("until", &self.until_text),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        if self.relevant {
            query.append_pair("relevant", "1");
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() { "/stories".into() } else { format!("/stories?{query}") }
    }
}

async fn list(State(site): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let query = match Query::parse(raw.as_deref(), &site.profile) {
        Ok(query) => query,
        Err(why) => return super::bad_request(&why),
    };
    let mut filter = query.filter();
    filter.all = false;
    filter.offset = (query.page - 1).saturating_mul(PAGE);
    // One more than a page: whether there is a next one.
    filter.limit = Some(PAGE + 1);
    let read = super::read(&site, move |store| {
        let rows = store.stories(&filter)?;
        let stances = rows.iter().map(|r| store.cluster_stances(r.cluster)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok((rows, stances))
    })
    .await;
    let (mut rows, mut stances) = match read {
        Ok(read) => read,
        Err(response) => return response,
    };
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    stances.truncate(PAGE);
    let title = if query.q.is_empty() { "Stories".to_string() } else { format!("Stories matching “{}”", query.q) };
    super::page(&title, list_body(&site.profile, &query, &rows, &stances, more))
}

fn list_body(
    profile: &Profile,
    query: &Query,
    rows: &[StoryRow],
    stances: &[Vec<ClusterStance>],
    more: bool,
) -> Markup {
    html! {
        (form(profile, query))
        @if rows.is_empty() {
            p { @if query.page > 1 { "No more stories match these filters." } @else { "No stories match these filters." } }
        } @else {
            p.muted { "Story clusters " (query.offset_of_page() + 1) "–" (query.offset_of_page() + rows.len())
                ", newest first; one row per story, however many outlets carried it." }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Story" } th scope="col" { "Outlets" } th scope="col" { "Organisations read" } } }
                    tbody {
                        @for (row, read) in rows.iter().zip(stances) {
                            tr {
                                td { time datetime=(day(&row.published)) { (day(&row.published)) } }
                                td {
                                    a href={"/stories/" (row.cluster)} { (row.title) }
                                    @if row.articles > 1 { br; small { (row.articles) " articles" } }
                                }
                                td { (row.sources.join(", ")) }
                                td { (cluster_stances(profile, read)) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="pages" {
            @if query.page > 1 { a href=(query.link(query.page - 1)) rel="prev" { "← Newer" } }
            @if more { a href=(query.link(query.page + 1)) rel="next" { "Older →" } }
        }
    }
}

impl Query {
    fn offset_of_page(&self) -> usize {
        (self.page - 1).saturating_mul(PAGE)
    }
}

/// The search form: GET, so a search is a link that can be kept and shared.
fn form(profile: &Profile, query: &Query) -> Markup {
    let stance = query.stance.map_or("", Stance::as_str);
    html! {
        form.filters method="get" action="/stories" role="search" {
            label { "Words" input type="search" name="q" value=(query.q); }
            label { "Organisation"
                select name="entity" {
                    option value="" { "any" }
                    @for e in &profile.entities {
                        option value=(e.key) selected[e.key == query.entity] { (e.name) }
                    }
                }
            }
            label { "Stance (of that organisation)"
                select name="stance" {
                    option value="" { "any" }
                    @for s in ["open", "closed", "mixed", "neutral"] {
                        option value=(s) selected[s == stance] { (s) }
                    }
                }
            }
            label { "Published from" input type="date" name="since" value=(query.since_text); }
            label { "Published before" input type="date" name="until" value=(query.until_text); }
            label { span { input type="checkbox" name="relevant" value="1" checked[query.relevant]; " About AI openness only" } }
            button type="submit" { "Show" }
        }
    }
}

/// Each organisation with the stances the cluster's articles read (and how many, when several).
fn cluster_stances(profile: &Profile, read: &[ClusterStance]) -> Markup {
    let mut by_entity: BTreeMap<&str, Vec<&ClusterStance>> = BTreeMap::new();
    for r in read {
        by_entity.entry(&r.entity).or_default().push(r);
    }
    html! {
        @for (entity, stances) in &by_entity {
            div {
                a href={"/org/" (entity)} { (super::entity_name(profile, entity)) } ": "
                @for s in stances {
                    (super::stance_badge(s.stance.as_str()))
                    @if stances.len() > 1 { small { " ×" (s.articles) } }
                    " "
                }
            }
        }
    }
}

/// The day of an RFC 3339 time.
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

async fn cluster(State(site): State<Shared>, Path(cluster): Path<String>) -> Response {
    let Ok(id) = cluster.parse::<i64>() else {
        return super::not_found("No such story: a story's address is /stories/ and its number.");
    };
    // Any of a cluster's stories leads to it: a link made before two clusters merged (or to an
    // evidence story) still arrives.
    let read = super::read(&site, move |store| {
        let rows = store.cluster_stories(id)?;
        let moved = if rows.is_empty() { store.clusters_of(&[id])?.get(&id).copied() } else { None };
        Ok((rows, moved))
    });
    let rows = match read.await {
        Ok((_, Some(cluster))) if cluster != id => {
            return axum::response::Redirect::permanent(&format!("/stories/{cluster}")).into_response();
        }
        Ok((rows, _)) => rows,
        Err(response) => return response,
    };
    let Some(first) = rows.first() else {
        return super::not_found(&format!("No story {id} is stored."));
    };
    let title = first.title.clone();
    super::page(&title, cluster_body(&site.profile, &rows))
}

fn cluster_body(profile: &Profile, rows: &[StoryRow]) -> Markup {
    // Per organisation, what each article read, in article order.
    let mut readings: BTreeMap<&str, Vec<(&StoryRow, &crate::store::StoryEntity)>> = BTreeMap::new();
    for row in rows {
        for e in &row.entities {
            readings.entry(&e.entity).or_default().push((row, e));
        }
    }
    html! {
        p.muted { (rows.len()) @if rows.len() == 1 { " article" } @else { " articles" } " · "
            (rows[0].sources.join(", ")) " · " a href="/stories" { "all stories" } }
        h2 { "What was read" }
        @if readings.is_empty() {
            p { "No organisation was read in these articles." }
        }
        @for (entity, list) in &readings {
            h3 { a href={"/org/" (entity)} { (super::entity_name(profile, entity)) } }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Article" } th scope="col" { "Stance" } th scope="col" { "Certainty" } th scope="col" { "Evidence" } } }
                    tbody {
                        @for (row, e) in list {
                            tr {
                                td { (row.source) br; small { (day(&row.published)) } }
                                td { (super::stance_badge(e.stance.as_str())) }
                                td { (e.certainty.as_str()) }
                                td { @if e.evidence.is_empty() { span.muted { "—" } } @else { q { (e.evidence) } } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Articles" }
        @for row in rows {
            article {
                h3 { (super::outbound(row.url.as_deref(), &row.title)) }
                p.muted {
                    (row.source) " · feed " (row.feed) " · "
                    time datetime=(row.published) { (day(&row.published)) }
                    @if row.published_estimated { " (date estimated)" }
                    @match row.relevant { Some(false) => { " · not about AI openness" } _ => {} }
                }
                @if !row.summary.is_empty() { p { (row.summary) } }
            }
        }
    }
}

/// `/api/stories`: `stancewatch stories --format json`'s rows for the same filters.
async fn api(State(site): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let query = match Query::parse(raw.as_deref(), &site.profile) {
        Ok(query) => query,
        Err(why) => return super::api_error(StatusCode::BAD_REQUEST, &why),
    };
    let mut filter = query.filter();
    filter.limit = Some(filter.limit.unwrap_or(API_DEFAULT_LIMIT));
    match super::read_json(&site, move |store| store.stories(&filter)).await {
        Ok(rows) => super::json(&rows),
        Err(response) => response,
    }
}

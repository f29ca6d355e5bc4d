//! `/`: every organisation at a glance — current stance, since when, the last change and a
//! 24-month strip — then the latest changes, the newest relevant story clusters and the feeds'
//! health.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use maud::{Markup, html};

use super::Shared;
use crate::history::{HistoryReport, MonthRow};
use crate::store::{ChangeRow, StoryFilter, StoryRow};

/// Months in an organisation's strip.
const STRIP_MONTHS: usize = 24;
/// Changes and story clusters listed on the overview.
const LATEST: usize = 10;

pub fn routes() -> Router<Shared> {
    Router::new().route("/", get(home))
}

struct Overview {
    organisations: Vec<std::sync::Arc<HistoryReport>>,
    changes: Vec<ChangeRow>,
    stories: Vec<StoryRow>,
    status: crate::status::Status,
}

async fn home(State(site): State<Shared>) -> Response {
    let shared = site.clone();
    let overview = super::read(&site, move |store| {
        let organisations = shared
            .profile
            .entities
            .iter()
            .map(|e| shared.history(store, &e.key))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut changes = store.changes(None, None)?;
        changes.sort_by(|a, b| b.at.cmp(&a.at).then(b.detected_at.cmp(&a.detected_at)));
        changes.truncate(LATEST);
        let stories = store.stories(&StoryFilter { relevant: true, limit: Some(LATEST), ..StoryFilter::default() })?;
        let status = crate::status::gather(store, Utc::now())?;
        Ok(Overview { organisations, changes, stories, status })
    })
    .await;
    match overview {
        Ok(o) => super::page("Stances", render(&site, &o)),
        Err(page) => page,
    }
}

fn render(site: &super::Site, o: &Overview) -> Markup {
    html! {
        p.muted { "Each organisation's stance on releasing its AI models openly, as the stored news shows it." }
        h2 { "Organisations" }
        div.table-wrap {
            table {
                thead { tr {
                    th scope="col" { "Organisation" }
                    th scope="col" { "Stance" }
                    th scope="col" { "Since" }
                    th scope="col" { "Last change" }
                    th scope="col" class="hide-narrow" { "Last " (STRIP_MONTHS) " months" }
                } }
                tbody {
                    @for r in &o.organisations {
                        tr {
                            th scope="row" { a href={"/org/" (r.entity)} { (super::entity_name(&site.profile, &r.entity)) } }
                            td { (super::stance_badge(r.stance.as_str())) }
                            td { (r.since.as_deref().unwrap_or("—")) }
                            td { (last_change(r.changes.last())) }
                            td class="hide-narrow" { (strip(&r.months)) }
                        }
                    }
                }
            }
        }
        (legend())
        h2 { "Latest changes" }
        @if o.changes.is_empty() {
            p { "No change detected yet." }
        } @else {
            ul {
                @for c in &o.changes {
                    li {
                        a href={"/org/" (c.entity)} { (super::entity_name(&site.profile, &c.entity)) } ": "
                        (super::stance_badge(&c.from)) " → " (super::stance_badge(&c.to))
                        " on " (c.at) " (" span class={"level-" (c.level)} { (c.level) } ", confidence " (format!("{:.2}", c.confidence)) ")"
                    }
                }
            }
            p { a href="/changes" { "Every change" } }
        }
        h2 { "Newest relevant stories" }
        @if o.stories.is_empty() {
            p { "No relevant story stored yet." }
        } @else {
            ul {
                @for s in &o.stories {
                    li {
                        (s.published.get(..10).unwrap_or(&s.published)) " — "
                        a href={"/stories/" (s.cluster)} { (s.title) }
                        small { " " (s.sources.join(", ")) }
                    }
                }
            }
            p { a href="/stories?relevant=1" { "Every relevant story" } }
        }
        h2 { "Feeds" }
        p {
            (o.status.feeds.total) " feeds: " (o.status.feeds.ok) " fine, " (o.status.feeds.backing_off) " backing off, "
            (o.status.feeds.failing) " failing, " (o.status.feeds.gone) " gone."
            @if let Some(at) = &o.status.last_poll { " Last poll " (at) "." }
        }
        @if !o.status.problem_feeds.is_empty() {
            ul {
                @for f in &o.status.problem_feeds {
                    li { a href="/feeds" { (f.name.as_deref().unwrap_or(&f.url)) } " — " (f.health.as_str()) }
                }
            }
        }
    }
}

fn last_change(c: Option<&ChangeRow>) -> Markup {
    match c {
        None => html! { "—" },
        Some(c) => html! {
            (c.from) " → " (c.to) ", " (c.at) " "
            small { "(" span class={"level-" (c.level)} { (c.level) } ", " (format!("{:.2}", c.confidence)) ")" }
        },
    }
}

/// One letter per month (O, C, M, or · before any stance), the stance in force at the month's
/// end; the title says the month and its evidence. Letters carry the meaning; colour repeats it.
fn strip(months: &[MonthRow]) -> Markup {
    let shown = &months[months.len().saturating_sub(STRIP_MONTHS)..];
    html! {
        span.strip role="img" aria-label=(strip_label(shown)) {
            @for m in shown {
                @let (letter, class) = month_letter(m);
                span class=(class) title={(m.month) ": " (m.stance.as_str()) " (open " (m.open) ", closed " (m.closed) ", mixed " (m.mixed) ")"} { (letter) }
            }
        }
    }
}

fn month_letter(m: &MonthRow) -> (&'static str, &'static str) {
    match m.stance.as_str() {
        "open" => ("O", "open"),
        "closed" => ("C", "closed"),
        "mixed" => ("M", "mixed"),
        _ => ("·", "none"),
    }
}

fn strip_label(months: &[MonthRow]) -> String {
    match (months.first(), months.last()) {
        (Some(first), Some(last)) => {
            let letters: String = months.iter().map(|m| month_letter(m).0).collect();
            format!("stance by month from {} to {}: {letters}", first.month, last.month)
        }
        _ => "no history yet".to_string(),
    }
}

fn legend() -> Markup {
    html! {
        p.legend { "Strip: one letter per month, the stance in force at its end — O open, C closed, M mixed, · none yet." }
    }
}

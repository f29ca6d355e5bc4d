//! `/feeds`: the subscriptions with their health, last poll, last success and errors — the
//! table `stancewatch status` summarises. Each row is `id="feed-{id}"`, so the overview can
//! link straight to a problem feed.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use maud::html;

use super::Shared;
use crate::status::FeedCounts;
use crate::store::{FeedHealth, FeedRow};

pub fn routes() -> Router<Shared> {
    Router::new().route("/feeds", get(feeds_page))
}

async fn feeds_page(State(site): State<Shared>) -> Response {
    let now = Utc::now();
    let read = super::read(&site, move |store| {
        let status = crate::status::counts(store, now)?;
        Ok((status.last_poll, status.feeds, store.feeds()?))
    })
    .await;
    let (last_poll, counts, feeds) = match read {
        Ok(read) => read,
        Err(response) => return response,
    };
    let rows: Vec<(FeedRow, FeedHealth)> = feeds
        .into_iter()
        .map(|f| {
            let health = f.health(now);
            (f, health)
        })
        .collect();
    let problems: Vec<&(FeedRow, FeedHealth)> = rows.iter().filter(|(_, h)| h.is_problem()).collect();
    let body = html! {
        p {
            (summary(&counts)) ". Last poll: "
            @match &last_poll { Some(t) => time datetime=(t) { (t) }, None => "never" } "."
        }
        @if !problems.is_empty() {
            h2 { "Needing attention" }
            ul {
                @for (f, h) in &problems {
                    li { a href={"#feed-" (f.id)} { (f.display_name()) } " — " (h.label()) }
                }
            }
        }
        @if rows.is_empty() {
            p { "No feed is subscribed." }
        } @else {
            h2 { "All feeds" }
            div.table-wrap {
                table {
                    thead {
                        tr {
                            th scope="col" { "Feed" }
                            th scope="col" { "Health" }
                            th scope="col" { "Last poll" }
                            th scope="col" { "Last success" }
                            th scope="col" { "Failures" }
                            th scope="col" { "Error" }
                            th scope="col" .hide-narrow { "Next poll" }
                        }
                    }
                    tbody {
                        @for (f, health) in &rows {
                            tr id={"feed-" (f.id)} {
                                td {
                                    (f.display_name()) br;
                                    small { (super::outbound(Some(&f.url), &f.url)) }
                                }
                                td class={"health-" (health.as_str())} { (health.label()) }
                                td { (f.last_polled_at.as_deref().unwrap_or("never")) }
                                td { (f.last_success_at.as_deref().unwrap_or("never")) }
                                td {
                                    (f.consecutive_failures)
                                    @if let Some(since) = &f.failing_since { br; small { "since " (since) } }
                                }
                                td {
                                    @if let Some(kind) = &f.error_kind { (kind) }
                                    @if let (Some(_), Some(_)) = (&f.error_kind, &f.last_error) { ": " }
                                    @if let Some(error) = &f.last_error { (error) }
                                    @if let Some(status) = f.last_status { br; small { "HTTP " (status) } }
                                }
                                td .hide-narrow { (f.next_poll_at.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    };
    super::page("Feeds", body)
}

/// The counts as `status` words them.
fn summary(c: &FeedCounts) -> String {
    format!(
        "{} polled: {} ok, {} new, {} backing off, {} failing for more than a day, {} gone",
        c.total - c.removed,
        c.ok,
        c.new,
        c.backing_off,
        c.failing,
        c.gone
    )
}

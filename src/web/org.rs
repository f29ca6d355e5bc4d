//! `/org/{entity}`: one organisation's whole history — the timeline as an inline SVG (months
//! across, stance regimes as bands, the month's open / closed / mixed evidence as bars, change
//! points marked by level), each change with its evidence stories, then the organisation's story
//! clusters, newest first, paged and filterable by stance.

use std::fmt::Write;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, PreEscaped, html};

use super::{Shared, xml};
use crate::history::{HistoryReport, MonthRow};
use crate::store::{ChangeRow, StoryFilter, StoryRow};

/// Story clusters per page.
const PER_PAGE: usize = 50;
/// The deepest page served (each page skips the rows before it).
const MAX_PAGE: usize = 10_000;

pub fn routes() -> Router<Shared> {
    Router::new().route("/org/{entity}", get(organisation))
}

struct OrgPage {
    report: std::sync::Arc<HistoryReport>,
    /// The cluster of each evidence story, for links to its page.
    clusters: std::collections::HashMap<i64, i64>,
    stories: Vec<StoryRow>,
    more: bool,
}

async fn organisation(State(site): State<Shared>, Path(entity): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let params = super::Params::parse(raw.as_deref());
    if site.profile.entity(&entity).is_none() {
        return super::not_found(&format!("No organisation \"{entity}\" in the profile."));
    }
    let (stance, page) = match (params.stance("stance"), params.number("page", 1..=MAX_PAGE, "a page number")) {
        (Ok(stance), Ok(page)) => (stance, page.unwrap_or(1)),
        (Err(what), _) | (_, Err(what)) => return super::bad_request(&what),
    };
    let shared = site.clone();
    let key = entity.clone();
    let read = super::read(&site, move |store| {
        let report = shared.history(store, &key)?;
        let evidence: Vec<i64> = report.changes.iter().flat_map(|c| c.evidence.iter().map(|e| e.story)).collect();
        let clusters = store.clusters_of(&evidence)?;
        // One more than the page holds tells whether a next page exists.
        let filter = StoryFilter {
            entity: Some(key),
            stance,
            limit: Some(PER_PAGE + 1),
            offset: (page - 1) * PER_PAGE,
            ..StoryFilter::default()
        };
        let mut stories = store.stories(&filter)?;
        let more = stories.len() > PER_PAGE;
        stories.truncate(PER_PAGE);
        Ok(OrgPage { report, clusters, stories, more })
    })
    .await;
    match read {
        Ok(p) => {
            let name = super::entity_name(&site.profile, &entity).to_string();
            super::page(&name, render(&site, &p, stance.map(|s| s.as_str()), page))
        }
        Err(page) => page,
    }
}

fn render(site: &super::Site, p: &OrgPage, stance: Option<&str>, page: usize) -> Markup {
    let r = &p.report;
    let name = super::entity_name(&site.profile, &r.entity);
    html! {
        p {
            "Stance now: " (super::stance_badge(r.stance.as_str()))
            @if let Some(since) = &r.since { " since " (since) }
            @if let Some(prior) = &r.prior { " · the profile's prior: " (prior.stance.as_str()) " from " (prior.since) }
            " · " a href={"/org/" (r.entity) "/changes.atom"} { "Atom feed of its changes" }
        }
        h2 { "Timeline" }
        div.timeline-wrap { (timeline_svg(name, &r.months, &r.changes)) }
        (legend())
        h2 { "Changes" }
        @if r.changes.is_empty() {
            p { "No change detected." }
        }
        @for c in r.changes.iter().rev() {
            section id={"change-" (c.id)} {
                h3 {
                    (super::stance_badge(&c.from)) " → " (super::stance_badge(&c.to)) " on " (c.at)
                }
                p.muted { span class={"level-" (c.level)} { (c.level) } ", confidence " (format!("{:.2}", c.confidence)) ", detected " (c.detected_at) }
                @if !c.evidence.is_empty() {
                    ul {
                        @for e in &c.evidence {
                            li.evidence {
                                (e.published.get(..10).unwrap_or(&e.published)) " — "
                                @match p.clusters.get(&e.story) {
                                    Some(cluster) => a href={"/stories/" (cluster)} { (e.title) },
                                    None => (e.title),
                                }
                                @if let Some(source) = &e.source { " " small { (source) } }
                                " " (super::outbound(e.url.as_deref(), "article ↗"))
                            }
                        }
                    }
                }
            }
        }
        h2 { "Stories about " (name) }
        form.filters method="get" action={"/org/" (r.entity)} {
            label { "Stance"
                select name="stance" {
                    option value="" selected[stance.is_none()] { "any" }
                    @for s in ["open", "closed", "mixed", "neutral"] {
                        option value=(s) selected[stance == Some(s)] { (s) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if p.stories.is_empty() {
            p { "No story on this page." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Story" } th scope="col" { "Stance read" } th scope="col" class="hide-narrow" { "Outlets" } } }
                    tbody {
                        @for s in &p.stories {
                            tr {
                                td { (s.published.get(..10).unwrap_or(&s.published)) }
                                td { a href={"/stories/" (s.cluster)} { (s.title) } }
                                td {
                                    @for e in s.entities.iter().filter(|e| e.entity == r.entity) {
                                        (super::stance_badge(e.stance.as_str()))
                                    }
                                }
                                td class="hide-narrow" { (s.sources.join(", ")) }
                            }
                        }
                    }
                }
            }
        }
        @if page > 1 || p.more {
            nav.pager aria-label="pages" {
                @if page > 1 { a href=(page_link(&r.entity, stance, page - 1)) rel="prev" { "← Newer" } }
                @if p.more { a href=(page_link(&r.entity, stance, page + 1)) rel="next" { "Older →" } }
            }
        }
    }
}

fn page_link(entity: &str, stance: Option<&str>, page: usize) -> String {
    match stance {
        Some(s) => format!("/org/{entity}?stance={s}&page={page}"),
        None => format!("/org/{entity}?page={page}"),
    }
}

fn legend() -> Markup {
    html! {
        p.legend {
            "Bands: the stance in force — open (green, ruled), closed (red, hatched), mixed (yellow, dotted), none yet (plain grey). "
            "Bars: the month's evidence clusters — open above the line, closed below, mixed as a dot row. "
            "Vertical lines: changes — solid and labelled for confirmed, dashed for possible."
        }
    }
}

// Geometry of the timeline, in SVG user units (the image scales to the page's width).
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 12.0;
const BAND_TOP: f64 = 28.0;
const BAND_HEIGHT: f64 = 36.0;
const AXIS: f64 = 160.0;
const BAR_SPAN: f64 = 70.0;

/// The timeline as inline SVG: it needs no script and no request of its own, and its text says
/// what the picture shows (title, description, and a title on every mark).
pub fn timeline_svg(name: &str, months: &[MonthRow], changes: &[ChangeRow]) -> Markup {
    let mut svg = String::new();
    let n = months.len().max(1);
    let step = (WIDTH - LEFT - RIGHT) / n as f64;
    let x_of = |i: usize| LEFT + i as f64 * step;
    let most = months.iter().map(|m| m.open.max(m.closed).max(m.mixed)).max().unwrap_or(0).max(1) as f64;
    let scale = BAR_SPAN / most;
    let confirmed = changes.iter().filter(|c| c.level == "confirmed").count();
    let _ = write!(
        svg,
        r##"<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">"##
    );
    let description = match (months.first(), months.last()) {
        (Some(a), Some(b)) => format!(
            "Months {} to {}; {} change(s), {confirmed} confirmed: {}",
            a.month,
            b.month,
            changes.len(),
            changes
                .iter()
                .map(|c| format!("{} {} to {} on {}", c.level, c.from, c.to, c.at))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => "No evidence yet.".to_string(),
    };
    let _ = write!(
        svg,
        r##"<title id="tl-title">{} stance timeline</title><desc id="tl-desc">{}</desc>"##,
        xml(name),
        xml(&description)
    );
    svg.push_str(concat!(
        r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">"##,
        r##"<rect width="6" height="6" fill="#f6d6d3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b3261e" stroke-width="2"/></pattern>"##,
        r##"<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#f3e7b8"/>"##,
        r##"<circle cx="3" cy="3" r="1.3" fill="#8a6d00"/></pattern>"##,
        r##"<pattern id="rule" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#d8f0dd"/>"##,
        r##"<line x1="0" y1="7" x2="8" y2="7" stroke="#1a7f37" stroke-width="1"/></pattern></defs>"##
    ));
    // Regimes: one band per run of months in the same stance.
    let mut start = 0;
    for i in 1..=months.len() {
        if i == months.len() || months[i].stance != months[start].stance {
            let m = &months[start];
            let fill = match m.stance.as_str() {
                "open" => "url(#rule)",
                "closed" => "url(#hatch)",
                "mixed" => "url(#dots)",
                _ => "#e6e6e6",
            };
            let last = &months[i - 1].month;
            let _ = write!(
                svg,
                r##"<rect class="band band-{s}" x="{x:.1}" y="{BAND_TOP}" width="{w:.1}" height="{BAND_HEIGHT}" fill="{fill}"><title>{s} from {a} to {b}</title></rect>"##,
                s = m.stance.as_str(),
                x = x_of(start),
                w = step * (i - start) as f64,
                a = m.month,
                b = last
            );
            if step * (i - start) as f64 > 24.0 {
                let letter = match m.stance.as_str() {
                    "open" => "O",
                    "closed" => "C",
                    "mixed" => "M",
                    _ => "·",
                };
                let _ = write!(
                    svg,
                    r##"<text x="{x:.1}" y="{y:.1}" font-size="13" font-weight="700" aria-hidden="true">{letter}</text>"##,
                    x = x_of(start) + 4.0,
                    y = BAND_TOP + 22.0
                );
            }
            start = i;
        }
    }
    // Evidence per month: open up from the axis, closed down, mixed as dots on the axis.
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{AXIS}" x2="{x2}" y2="{AXIS}" stroke="#777" stroke-width="1"/>"##,
        x2 = WIDTH - RIGHT
    );
    for (i, m) in months.iter().enumerate() {
        let x = x_of(i) + step * 0.15;
        let w = (step * 0.7).max(1.0);
        if m.open > 0 {
            let h = m.open as f64 * scale;
            let _ = write!(
                svg,
                r##"<rect class="bar-open" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#1a7f37"><title>{mo}: {n} open</title></rect>"##,
                y = AXIS - h,
                mo = m.month,
                n = m.open
            );
        }
        if m.closed > 0 {
            let h = m.closed as f64 * scale;
            let _ = write!(
                svg,
                r##"<rect class="bar-closed" x="{x:.1}" y="{AXIS}" width="{w:.1}" height="{h:.1}" fill="url(#hatch)" stroke="#b3261e"><title>{mo}: {n} closed</title></rect>"##,
                mo = m.month,
                n = m.closed
            );
        }
        if m.mixed > 0 {
            let _ = write!(
                svg,
                r##"<circle class="dot-mixed" cx="{cx:.1}" cy="{AXIS}" r="3" fill="#8a6d00"><title>{mo}: {n} mixed</title></circle>"##,
                cx = x + w / 2.0,
                mo = m.month,
                n = m.mixed
            );
        }
        // Years on the axis.
        if m.month.ends_with("-01") || i == 0 {
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{y}" font-size="11" fill="#444">{year}</text>"##,
                x = x_of(i),
                y = HEIGHT - 8.0,
                year = &m.month[..4.min(m.month.len())]
            );
        }
    }
    // Change points at their month (and day within it).
    for c in changes {
        let Some(x) = change_x(months, &c.at, step, LEFT) else { continue };
        let confirmed = c.level == "confirmed";
        let dash = if confirmed { "" } else { r#" stroke-dasharray="5 4""# };
        let label = format!("{} change {} → {} on {} (confidence {:.2})", c.level, c.from, c.to, c.at, c.confidence);
        let _ = write!(
            svg,
            r##"<a href="#change-{id}"><g class="change change-{level}"><title>{t}</title><line x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{y2}" stroke="#111" stroke-width="{sw}"{dash}/>"##,
            id = c.id,
            level = xml(&c.level),
            t = xml(&label),
            y1 = BAND_TOP - 10.0,
            y2 = AXIS + BAR_SPAN,
            sw = if confirmed { 2.5 } else { 1.5 },
        );
        let _ = write!(
            svg,
            r##"<text x="{tx:.1}" y="{ty}" font-size="12" font-weight="{fw}">{from}→{to}</text></g></a>"##,
            tx = (x + 3.0).min(WIDTH - 70.0),
            ty = BAND_TOP - 12.0,
            fw = if confirmed { 700 } else { 400 },
            from = xml(&c.from),
            to = xml(&c.to),
        );
    }
    svg.push_str("</svg>");
    // Every value above went through `xml` or is a number or a month from the database's own
    // `YYYY-MM` format; the markup is built here because maud does not know SVG's attributes.
    html! { (PreEscaped(svg)) }
}

/// Where a change dated `at` (YYYY-MM-DD) falls on the month axis.
fn change_x(months: &[MonthRow], at: &str, step: f64, left: f64) -> Option<f64> {
    let month = at.get(..7)?;
    let i = months.iter().position(|m| m.month == month)?;
    let day: f64 = at.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1.0);
    Some(left + (i as f64 + (day - 1.0) / 31.0) * step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::Stance;

    fn month(m: &str, stance: Stance, open: usize, closed: usize) -> MonthRow {
        MonthRow { month: m.into(), stance, open, closed, mixed: 0 }
    }

    #[test]
    fn the_svg_shows_regimes_evidence_and_the_change_and_escapes_names() {
        let months = vec![
            month("2025-11", Stance::Open, 2, 0),
            month("2025-12", Stance::Open, 1, 0),
            month("2026-01", Stance::Closed, 0, 3),
        ];
        let change = ChangeRow {
            id: 7,
            entity: "meta".into(),
            from: "open".into(),
            to: "closed".into(),
            level: "confirmed".into(),
            at: "2026-01-10".into(),
            detected_at: "2026-01-20".into(),
            confidence: 0.97,
            evidence: Vec::new(),
        };
        let svg = timeline_svg("<Meta & co>", &months, &[change]).into_string();
        assert!(svg.contains("&lt;Meta &amp; co&gt; stance timeline"), "{svg}");
        assert!(!svg.contains("<Meta"));
        assert_eq!(svg.matches("class=\"band ").count(), 2, "one band per regime");
        assert_eq!(svg.matches("class=\"bar-open\"").count(), 2);
        assert_eq!(svg.matches("class=\"bar-closed\"").count(), 1);
        assert!(svg.contains("confirmed change open → closed on 2026-01-10"));
        assert!(svg.contains("href=\"#change-7\""));
    }
}

//! `/api/stances`, `/api/changes` and `/api/history/{entity}`: JSON in exactly the shapes of
//! `stancewatch stances`, `changes` and `history ENTITY` with `--format json` — the same rows,
//! built by the same library calls, serialised by the same derives.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::Params;
use super::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/stances", get(stances))
        .route("/api/changes", get(changes))
        .route("/api/history/{entity}", get(history))
}

/// `stances --format json`: every entity's stance now.
async fn stances(State(site): State<Shared>) -> Response {
    let shared = site.clone();
    match super::read_json(&site, move |store| crate::history::stances(store, &shared.profile, &shared.changes, None))
        .await
    {
        Ok(rows) => super::json(&rows),
        Err(response) => response,
    }
}

/// `changes --format json` with the CLI's filters: `entity` (a profile entity) and `since`
/// (`YYYY-MM-DD` or RFC 3339, read as its day, as `--since` is).
async fn changes(State(site): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let (entity, since) = match (params.entity(&site.profile, "entity"), params.time("since")) {
        (Ok(entity), Ok(since)) => (entity, since.map(|d| d.date_naive())),
        (Err(what), _) | (_, Err(what)) => return super::api_error(StatusCode::BAD_REQUEST, &what),
    };
    match super::read_json(&site, move |store| store.changes(entity.as_deref(), since)).await {
        Ok(rows) => super::json(&rows),
        Err(response) => response,
    }
}

/// `history ENTITY --format json` (404 for an entity the profile does not have).
async fn history(State(site): State<Shared>, Path(entity): Path<String>) -> Response {
    if site.profile.entity(&entity).is_none() {
        return super::api_error(StatusCode::NOT_FOUND, &format!("no organisation `{entity}` in the profile"));
    }
    let shared = site.clone();
    match super::read_json(&site, move |store| shared.history(store, &entity)).await {
        Ok(report) => super::json(&*report),
        Err(response) => response,
    }
}

//! `/`: every organisation at a glance (to be filled in).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use maud::html;

use super::Shared;

pub fn routes() -> Router<Shared> {
    Router::new().route("/", get(home))
}

async fn home(State(_site): State<Shared>) -> Response {
    super::page("Stances", html! { p { "…" } })
}

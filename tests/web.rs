//! The web view over HTTP: `stancewatch serve` on 127.0.0.1 over an imported database.

mod common;

use common::web::Site;

#[test]
fn pages_carry_the_security_headers_and_unknown_paths_are_404() {
    let site = Site::synthetic();
    let home = site.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(home.header("content-security-policy").is_some_and(|c| c.starts_with("default-src 'self'")));
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    let css = site.get("/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(site.get("/no/such/page").status, 404);
    assert_eq!(common::web::request(site.port, "POST", "/").status, 405);
}

#[test]
fn the_overview_and_an_organisation_page_show_the_meta_change_with_its_evidence() {
    let site = Site::synthetic();
    let home = site.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("href=\"/org/meta\""), "{}", home.body);
    assert!(home.body.contains("class=\"strip\""), "a month strip per organisation");
    assert!(home.body.contains("Newest relevant stories"));
    assert!(!home.body.contains("bicycle"), "irrelevant stories are not listed as relevant");

    let meta = site.get("/org/meta");
    assert_eq!(meta.status, 200, "{}", meta.body);
    let svg = &meta.body[meta.body.find("<svg").expect("an inline SVG timeline")..];
    assert!(svg.contains("class=\"band band-open\"") && svg.contains("class=\"band band-closed\""), "{svg}");
    assert!(svg.contains("change open → closed on 2026-"), "the change is marked: {svg}");
    assert!(meta.body.contains("id=\"change-"), "each change has its own section");
    assert!(meta.body.contains("rel=\"noopener noreferrer nofollow\""), "evidence links leave safely");
    assert!(meta.body.contains("keeps its new frontier model"), "Meta's stories are listed");

    let closed_only = site.get("/org/meta?stance=closed");
    assert!(closed_only.body.contains("keeps its new frontier model"));
    assert!(!closed_only.body[closed_only.body.find("Stories about").unwrap()..].contains("releases the weights"));
    assert_eq!(site.get("/org/nobody").status, 404);
    assert_eq!(site.get("/org/meta?stance=purple").status, 400);
    assert_eq!(site.get("/org/meta?page=0").status, 400);
}

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

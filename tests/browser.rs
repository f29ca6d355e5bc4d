//! The web view in a real browser: Debian's Chromium driven over WebDriver (chromedriver) from
//! Rust. Ignored by default because it needs `chromium` and `chromium-driver` (`.ci/run`
//! installs them and runs this). Screenshots of the overview and Meta's page, desktop and 390 px
//! wide, are written to `target/screenshots/` to be looked at.
//!
//!     cargo test --test browser -- --ignored --nocapture

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::web::Site;
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port of 127.0.0.1; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER} ({e}): install chromium and chromium-driver"));
    // chromedriver keeps connections open, so listening is the signal (the session waits on it).
    common::daemon::wait_for("chromedriver to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Driver { child, port, _profile: tempfile::tempdir().unwrap() }
}

async fn browser(driver: &Driver) -> Client {
    let profile = driver._profile.path().display().to_string();
    // No network but loopback: Chromium's own background traffic is switched off.
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &format!("--user-data-dir={profile}"),
        "--window-size=1280,1000",
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": CHROMIUM, "args": args }));
    ClientBuilder::rustls()
        .expect("a TLS setup for the WebDriver client")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// At a phone's width the page itself does not scroll sideways (a wide table or the timeline
/// scrolls in its own box).
async fn assert_fits(client: &Client, what: &str) {
    let widths = client
        .execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];", vec![])
        .await
        .unwrap();
    let (scroll, client_width) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
    assert!(scroll <= client_width + 1.0, "{what} is {scroll} px wide in a {client_width} px window");
}

async fn width(client: &Client, width: u32, height: u32) {
    client.set_window_size(width, height).await.unwrap();
}

#[test]
#[ignore = "needs chromium and chromium-driver; .ci/run installs them and runs it"]
fn a_reader_follows_meta_to_its_change_and_evidence_and_searches() {
    let site = Site::synthetic();
    let base = format!("http://127.0.0.1:{}", site.port);
    let driver = start_driver();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let c = browser(&driver).await;
        c.goto(&format!("{base}/")).await.unwrap();
        assert_eq!(c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap(), "Stances");
        shot(&c, "overview-desktop").await;
        width(&c, 390, 1000).await;
        shot(&c, "overview-390").await;
        assert_fits(&c, "the overview").await;
        width(&c, 1280, 1000).await;

        // The overview links to Meta's page.
        c.find(Locator::Css("a[href='/org/meta']")).await.unwrap().click().await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/org/meta"));
        assert_eq!(c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap(), "Meta");

        // The SVG timeline shows the open → closed change, as a confirmed mark.
        let svg = c.find(Locator::Css("svg.timeline")).await.unwrap();
        let size = svg.rectangle().await.unwrap();
        assert!(size.2 > 300.0 && size.3 > 60.0, "the timeline is drawn at a readable size: {size:?}");
        let mark = c.find(Locator::Css("svg.timeline g.change-confirmed")).await.unwrap();
        let label = mark.find(Locator::Css("text")).await.unwrap().text().await.unwrap();
        assert_eq!(label, "open→closed");
        shot(&c, "org-meta-desktop").await;
        width(&c, 390, 1400).await;
        shot(&c, "org-meta-390").await;
        assert_fits(&c, "Meta's page").await;
        width(&c, 1280, 1000).await;

        // Following the mark leads to the change, and its evidence to the story.
        mark.find(Locator::Css("text")).await.unwrap().click().await.unwrap();
        let fragment = c.current_url().await.unwrap().fragment().unwrap_or_default().to_string();
        assert!(fragment.starts_with("change-"), "{fragment}");
        let evidence = c.find(Locator::Css(&format!("#{fragment} li.evidence a[href^='/stories/']"))).await.unwrap();
        let title = evidence.text().await.unwrap();
        evidence.click().await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/stories/"));
        let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(body.contains(&title), "the cluster page lists the evidence story {title:?}:\n{body}");

        // A search for a word of the closed-era headlines.
        c.goto(&format!("{base}/stories")).await.unwrap();
        let q = c.find(Locator::Css("input[name='q']")).await.unwrap();
        q.send_keys("frontier").await.unwrap();
        q.send_keys("\u{E007}").await.unwrap(); // Enter
        for _ in 0..100 {
            if c.current_url().await.unwrap().query().is_some_and(|q| q.contains("q=frontier")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(c.current_url().await.unwrap().query().is_some_and(|q| q.contains("q=frontier")), "the form was sent");
        let results = c.find(Locator::Css("main table")).await.unwrap().text().await.unwrap();
        assert!(results.contains("keeps its new frontier model"), "{results}");
        assert!(!results.contains("bicycle"), "{results}");
        c.close().await.unwrap();
    });
}

//! Cross-outlet deduplication end to end: feeds on a local HTTP server, `poll`, and what
//! `stories` shows.

mod common;

use std::collections::BTreeSet;

use common::http::{Route, TestServer};
use common::sandbox::Sandbox;

struct Item<'a> {
    guid: &'a str,
    title: &'a str,
    link: &'a str,
    summary: &'a str,
    published: &'a str,
}

fn feed(items: &[Item]) -> String {
    let mut out = String::from("<rss version=\"2.0\"><channel><title>t</title>");
    for i in items {
        out.push_str(&format!(
            "<item><guid>{}</guid><title>{}</title><link>{}</link><description>{}</description><pubDate>{}</pubDate></item>",
            i.guid,
            i.title,
            i.link.replace('&', "&amp;"),
            i.summary,
            i.published
        ));
    }
    out.push_str("</channel></rss>");
    out
}

const ANNOUNCEMENT: &str =
    "The company said the weights of its largest model can be downloaded by anyone who accepts the licence.";

/// Five feeds: the same news from four outlets (plain, tracking parameters, AMP, a rewrite),
/// an aggregator repeating the first outlet's article under an AMP/tracking URL, and an
/// unrelated story about the same company in the same week.
fn serve(server: &TestServer) -> Vec<String> {
    server.set(
        "/first.xml",
        Route::ok(feed(&[Item {
            guid: "first-1",
            title: "Meta releases Llama 5 with open weights",
            link: "https://www.first.example/2026/11/meta-llama-5",
            summary: ANNOUNCEMENT,
            published: "Mon, 02 Nov 2026 09:00:00 GMT",
        }])),
    );
    server.set(
        "/second.xml",
        Route::ok(feed(&[Item {
            guid: "second-1",
            title: "Meta releases Llama 5 with open weights",
            link: "https://second.example/news/meta-llama-5?utm_source=rss&utm_medium=feed&utm_campaign=ai",
            summary: ANNOUNCEMENT,
            published: "Mon, 02 Nov 2026 11:30:00 GMT",
        }])),
    );
    server.set(
        "/third.xml",
        Route::ok(feed(&[Item {
            guid: "third-1",
            title: "Meta Releases Llama 5 With Open Weights - Third Example",
            link: "https://amp.third.example/tech/meta-llama-5.amp?amp=1",
            summary: "Llama 5 is out.",
            published: "Mon, 02 Nov 2026 13:00:00 GMT",
        }])),
    );
    server.set(
        "/fourth.xml",
        Route::ok(feed(&[
            Item {
                guid: "fourth-1",
                title: "Meta launches Llama 5, its most capable open model yet",
                link: "https://fourth.example/ai/meta-launches-llama-5",
                summary: "Researchers can fine-tune the new model, Meta said on Monday.",
                published: "Tue, 03 Nov 2026 08:00:00 GMT",
            },
            Item {
                guid: "fourth-2",
                title: "Meta restricts Llama 5 licence for its largest rivals",
                link: "https://fourth.example/ai/meta-llama-licence",
                summary: "Companies with more than 700 million users need a separate licence, the terms say.",
                published: "Wed, 04 Nov 2026 08:00:00 GMT",
            },
        ])),
    );
    server.set(
        "/aggregator.xml",
        Route::ok(feed(&[Item {
            guid: "agg-77",
            title: "Llama 5 is here",
            link: "https://first-example.cdn.ampproject.org/c/s/www.first.example/2026/11/meta-llama-5/amp?fbclid=abc",
            summary: "Via first.example.",
            published: "Mon, 02 Nov 2026 10:00:00 GMT",
        }])),
    );
    ["/first.xml", "/second.xml", "/third.xml", "/fourth.xml", "/aggregator.xml"]
        .iter()
        .map(|p| server.url(p))
        .collect()
}

#[test]
fn one_story_from_four_outlets_is_one_cluster_with_four_outlets() {
    let server = TestServer::start();
    let sb = Sandbox::with_feeds(&serve(&server), "timeout = \"2s\"");
    let out = sb.ok(&["poll"]);
    assert!(out.contains("6 new stories"), "{out}");

    let clusters: serde_json::Value = serde_json::from_str(&sb.ok(&["stories", "--format", "json"])).unwrap();
    let clusters = clusters.as_array().unwrap();
    assert_eq!(clusters.len(), 2, "the release and the licence story: {clusters:#?}");
    let release = clusters.iter().find(|c| c["title"].as_str().unwrap().contains("releases")).unwrap();
    assert_eq!(
        release["sources"],
        serde_json::json!(["first.example", "fourth.example", "second.example", "third.example"]),
        "{release:#}"
    );
    assert_eq!(release["articles"], 5);
    let licence = clusters.iter().find(|c| c["title"].as_str().unwrap().contains("licence")).unwrap();
    assert_eq!(licence["articles"], 1);

    let table = sb.ok(&["stories"]);
    assert!(table.contains("also covered by 3 outlets"), "{table}");

    // The SQL view lists the clusters with their outlets.
    let (articles, outlets): (i64, i64) = sb
        .db()
        .query_row("SELECT articles, outlet_count FROM story_clusters ORDER BY articles DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((articles, outlets), (5, 4));
}

/// The partition of stories (by entry GUID) into clusters.
fn partition(sb: &Sandbox) -> BTreeSet<BTreeSet<String>> {
    let db = sb.db();
    let mut stmt = db.prepare("SELECT cluster_id, entry_key FROM stories ORDER BY cluster_id").unwrap();
    let rows: Vec<(i64, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    let mut groups: std::collections::BTreeMap<i64, BTreeSet<String>> = Default::default();
    for (cluster, key) in rows {
        groups.entry(cluster).or_default().insert(key);
    }
    groups.into_values().collect()
}

#[test]
fn any_ingestion_order_gives_the_same_clusters() {
    let server = TestServer::start();
    let urls = serve(&server);

    let together = Sandbox::with_feeds(&urls, "timeout = \"2s\"");
    together.ok(&["poll"]);
    let expected = partition(&together);

    // One feed per poll, in reverse order: late and backfilled stories arrive after others.
    let one_by_one = Sandbox::new("[poll]\ntimeout = \"2s\"\n");
    for url in urls.iter().rev() {
        one_by_one.ok(&["feeds", "add", url]);
        one_by_one.ok(&["poll"]);
    }
    assert_eq!(partition(&one_by_one), expected);

    // And starting from the rewrite, then the aggregator, then the rest.
    let shuffled = Sandbox::new("[poll]\ntimeout = \"2s\"\n");
    for i in [3, 4, 1, 0, 2] {
        shuffled.ok(&["feeds", "add", &urls[i]]);
        shuffled.ok(&["poll"]);
    }
    assert_eq!(partition(&shuffled), expected);
}

/// Imported stories go through the same ingest stage as polled ones: `[dedup] tracking_params`
/// applies to them too, so an imported copy under a tracking URL is the polled article's cluster.
#[test]
fn an_imported_copy_with_a_configured_tracking_parameter_joins_the_polled_article() {
    let server = TestServer::start();
    server.set(
        "/f.xml",
        Route::ok(feed(&[Item {
            guid: "a-1",
            title: "Mistral publishes the weights of its new model",
            link: "https://outlet.example/2026/11/mistral-weights",
            summary: ANNOUNCEMENT,
            published: "Mon, 02 Nov 2026 09:00:00 GMT",
        }])),
    );
    let sb =
        Sandbox::with_feeds(&[server.url("/f.xml")], "timeout = \"2s\"\n\n[dedup]\ntracking_params = [\"campaign\"]");
    sb.ok(&["poll"]);
    let items = sb.path().join("archive.jsonl");
    std::fs::write(
        &items,
        "{\"id\":\"x\",\"title\":\"Mistral model weights now downloadable\",\"url\":\"https://outlet.example/2026/11/mistral-weights?campaign=newsletter\",\"published\":\"2026-11-02\"}\n",
    )
    .unwrap();
    sb.ok(&["import", items.to_str().unwrap()]);
    assert_eq!(sb.count("SELECT count(*) FROM stories"), 2);
    assert_eq!(sb.count("SELECT count(DISTINCT canonical_url) FROM stories"), 1, "the parameter is removed");
    assert_eq!(sb.count("SELECT count(DISTINCT cluster_id) FROM stories"), 1, "one cluster");
}

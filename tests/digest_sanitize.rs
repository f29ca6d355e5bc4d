//! Every file of feedparser's sanitiser suite (`../shared/feeds/feedparser/wellformed/sanitize/`,
//! hostile HTML: scripts, event handlers, `javascript:` links, remote images) goes through the
//! feed parser and digest composition; the digest's HTML must contain none of them. Skipped,
//! saying so, when `../shared` is absent.

use chrono::Utc;
use stancewatch::mail::digest::{DigestInput, compose};
use stancewatch::stance::Profile;
use stancewatch::store::PendingCluster;

/// Problems in one HTML document: tags that run or fetch things, event handlers, and links
/// that are not http(s).
fn hostile(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else { break };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end..];
        let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        if ["script", "iframe", "object", "embed", "form", "img", "style", "link", "svg", "math", "base", "input"]
            .contains(&name)
        {
            found.push(format!("<{tag}>"));
        }
        for attr in tag.split_whitespace().skip(1) {
            if attr.starts_with("on") {
                found.push(format!("event handler in <{tag}>"));
            }
            if let Some(v) = attr.strip_prefix("href=") {
                let v = v.trim_matches('"');
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    found.push(format!("link {v}"));
                }
            }
            if attr.starts_with("src=") || attr.starts_with("style=\"background") {
                found.push(format!("remote content in <{tag}>"));
            }
        }
    }
    found
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    for bad in ["<script>x</script>", "<p onclick=\"x\">", "<a href=\"javascript:x\">", "<img src=\"http://x/y.png\">"]
    {
        assert!(!hostile(bad).is_empty(), "{bad}");
    }
    assert!(hostile("<p><a href=\"https://example.org/a\">ok</a></p>").is_empty());
}

#[test]
fn hostile_feed_html_never_reaches_a_digest() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/feeds/feedparser/wellformed/sanitize");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: {dir} not found (the shared feed corpus lives beside the project)");
        return;
    };
    let profile = Profile::builtin();
    let (mut files, mut stories) = (0, 0);
    for entry in entries {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let Ok(feed) = stancewatch::feed::parse(&bytes, None, "http://127.0.0.1/feed.xml", Utc::now()) else {
            continue;
        };
        files += 1;
        let clusters: Vec<PendingCluster> = feed
            .stories
            .iter()
            .enumerate()
            .map(|(i, s)| PendingCluster {
                cluster: i as i64,
                title: s.title.clone(),
                summary: format!("{} {}", s.summary, s.content),
                url: s.url.clone(),
                outlet: s.outlet.clone(),
                published: s.published_at.to_rfc3339(),
                outlets: vec![s.outlet.clone(), "other.example".into()],
                entity: Some("meta".into()),
                stance: Some(stancewatch::stance::Stance::Open),
                judged: false,
                backfill: false,
                stories: vec![i as i64],
            })
            .collect();
        stories += clusters.len();
        let refs: Vec<&PendingCluster> = clusters.iter().collect();
        let digest = compose(&DigestInput {
            clusters: &refs,
            strips: &[],
            backfilled: 0,
            changes: &[],
            feeds: &[],
            profile: &profile,
        });
        let problems = hostile(&digest.html);
        assert!(problems.is_empty(), "{}: {problems:?}\n{}", path.display(), digest.html);
        assert!(!digest.text.contains('\r') && !digest.subject.contains('\n'));
    }
    eprintln!("sanitiser suite: {files} files, {stories} stories composed into digests, no hostile HTML");
    assert!(files > 700, "the suite has ~745 files; parsed {files}");
}

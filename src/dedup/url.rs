//! Canonical URLs: one key for every address of the same article.
//!
//! Outlets and aggregators hand out the same page under many addresses: with tracking
//! parameters, through AMP caches, on `www.` and `m.` hosts, over http and https. The canonical
//! form removes all of that and nothing else — a parameter that selects content (`?id=`, `?p=`)
//! stays, so two different articles never share a key.

/// Query parameters that only track the reader (matched case-insensitively; `utm_*` by prefix).
pub const DEFAULT_TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "_ga",
    "_gl",
    "mc_cid",
    "mc_eid",
    "ref",
    "ref_src",
    "ref_url",
    "cmpid",
    "cmp",
    "mkt_tok",
    "_hsenc",
    "_hsmi",
    "oly_enc_id",
    "oly_anon_id",
    "vero_id",
    "wt_mc",
    "at_medium",
    "at_campaign",
    "ocid",
    "guccounter",
    "sr_share",
    "smid",
    "ito",
    "s_cid",
];

/// The canonical form of `url` with the default tracking list, or `None` if it is not an
/// absolute http(s) URL.
pub fn canonical_url(url: &str) -> Option<String> {
    canonical_url_with(url, &[])
}

/// The canonical form, also removing `extra_tracking` parameters (from the config).
pub fn canonical_url_with(url: &str, extra_tracking: &[String]) -> Option<String> {
    let mut u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    if let Some(unwrapped) = unwrap_amp_cache(&u) {
        u = unwrapped;
    }
    let host = u.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let host = ["www.", "m.", "amp.", "mobile."]
        .iter()
        .find_map(|p| host.strip_prefix(p).filter(|rest| rest.contains('.')))
        .unwrap_or(&host)
        .to_string();

    let mut path = u.path().to_string();
    for suffix in ["/amp/", "/amp"] {
        if path.len() > suffix.len() && path.ends_with(suffix) {
            path.truncate(path.len() - suffix.len());
        }
    }
    if let Some(stem) = path.strip_suffix(".amp.html") {
        path = format!("{stem}.html");
    } else if let Some(stem) = path.strip_suffix(".amp") {
        path = stem.to_string();
    }
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    if path == "/" {
        path.clear();
    }

    let mut params: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, v)| !is_tracking(k, extra_tracking) && !is_amp_flag(k, v))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();

    let mut out = format!("https://{host}");
    if let Some(port) = u.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(&path);
    if !params.is_empty() {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
        out.push('?');
        out.push_str(&query);
    }
    Some(out)
}

fn is_tracking(key: &str, extra: &[String]) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("utm_")
        || DEFAULT_TRACKING_PARAMS.contains(&k.as_str())
        || extra.iter().any(|e| e.eq_ignore_ascii_case(&k))
}

fn is_amp_flag(key: &str, value: &str) -> bool {
    (key == "amp" && matches!(value, "" | "1" | "true"))
        || (key.eq_ignore_ascii_case("outputType") && value.eq_ignore_ascii_case("amp"))
}

/// The registrable domain of a URL's host ("www.bbc.co.uk" → "bbc.co.uk"), by the Public Suffix
/// List: the outlet behind an address. IP addresses and unknown suffixes give the host itself.
pub fn outlet_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    let host = u.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    if u.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
        return Some(host);
    }
    let domain = psl::domain_str(&host).unwrap_or(&host);
    Some(domain.to_string())
}

/// `https://example-com.cdn.ampproject.org/c/s/example.com/path` → `https://example.com/path`.
fn unwrap_amp_cache(u: &url::Url) -> Option<url::Url> {
    let host = u.host_str()?;
    if !host.ends_with(".cdn.ampproject.org") && host != "cdn.ampproject.org" {
        return None;
    }
    let path = u.path();
    let rest =
        path.strip_prefix("/c/s/").map(|r| ("https", r)).or_else(|| path.strip_prefix("/v/s/").map(|r| ("https", r)));
    let (scheme, rest) = rest.or_else(|| path.strip_prefix("/c/").map(|r| ("http", r)))?;
    let mut target = format!("{scheme}://{rest}");
    if let Some(q) = u.query() {
        target.push('?');
        target.push_str(q);
    }
    url::Url::parse(&target).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(u: &str) -> String {
        canonical_url(u).unwrap()
    }

    #[test]
    fn host_is_lowercased_and_prefixes_dropped() {
        assert_eq!(c("https://WWW.Example.COM/a"), "https://example.com/a");
        assert_eq!(c("https://m.example.com/a"), "https://example.com/a");
        assert_eq!(c("https://amp.example.com/a"), "https://example.com/a");
        assert_eq!(c("http://example.com/a"), "https://example.com/a");
        // A host that is only the prefix plus a TLD keeps it.
        assert_eq!(c("https://m.com/a"), "https://m.com/a");
    }

    #[test]
    fn fragment_and_trailing_slash_go() {
        assert_eq!(c("https://example.com/a/b/#comments"), "https://example.com/a/b");
        assert_eq!(c("https://example.com/"), "https://example.com");
    }

    #[test]
    fn tracking_parameters_go_and_query_is_sorted() {
        assert_eq!(
            c(
                "https://example.com/a?utm_source=rss&utm_medium=feed&b=2&fbclid=x&a=1&gclid=y&msclkid=z&_ga=1&_gl=2&mc_cid=3&mc_eid=4&ref=hn&cmpid=5"
            ),
            "https://example.com/a?a=1&b=2"
        );
        assert_eq!(c("https://example.com/a?UTM_Source=x"), "https://example.com/a");
        let extra = vec!["src".to_string()];
        assert_eq!(
            canonical_url_with("https://example.com/a?src=tw&id=3", &extra).unwrap(),
            "https://example.com/a?id=3"
        );
    }

    #[test]
    fn amp_forms_are_unwrapped() {
        assert_eq!(c("https://example.com/story/amp"), "https://example.com/story");
        assert_eq!(c("https://example.com/story/amp/"), "https://example.com/story");
        assert_eq!(c("https://example.com/story.amp"), "https://example.com/story");
        assert_eq!(c("https://example.com/story.amp.html"), "https://example.com/story.html");
        assert_eq!(c("https://example.com/story?amp=1"), "https://example.com/story");
        assert_eq!(c("https://example.com/story?amp"), "https://example.com/story");
        assert_eq!(c("https://example.com/story?outputType=amp"), "https://example.com/story");
        assert_eq!(
            c("https://example-com.cdn.ampproject.org/c/s/www.example.com/story/amp"),
            "https://example.com/story"
        );
    }

    #[test]
    fn different_articles_do_not_merge() {
        assert_ne!(c("https://example.com/a"), c("https://example.com/b"));
        assert_ne!(c("https://example.com/article?id=1"), c("https://example.com/article?id=2"));
        assert_ne!(c("https://example.com/?p=100"), c("https://example.com/?p=101"));
        assert_ne!(c("https://example.com/a"), c("https://example.org/a"));
        assert_ne!(c("https://example.com/amplifier"), c("https://example.com"));
        assert_ne!(c("https://example.com/a?amp=2"), c("https://example.com/a"));
        assert_ne!(c("https://news.example.com/a"), c("https://example.com/a"));
    }

    #[test]
    fn outlets_are_registrable_domains() {
        assert_eq!(outlet_of("https://www.bbc.co.uk/news/x").as_deref(), Some("bbc.co.uk"));
        assert_eq!(outlet_of("https://feeds.arstechnica.com/a").as_deref(), Some("arstechnica.com"));
        assert_eq!(outlet_of("http://127.0.0.1:8080/f.xml").as_deref(), Some("127.0.0.1"));
        assert_eq!(outlet_of("nonsense"), None);
    }

    #[test]
    fn not_http_is_none() {
        assert_eq!(canonical_url("mailto:a@b.c"), None);
        assert_eq!(canonical_url("not a url"), None);
    }
}

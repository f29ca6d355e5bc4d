//! Reading the scheduling hints servers send: Retry-After, Cache-Control, Expires.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};

/// `Retry-After` as a delay from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How long the response stays fresh: `Cache-Control: max-age` (or `s-maxage`), else
/// `Expires` minus `Date` (or now).
pub fn cache_lifetime(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(cc) = headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()) {
        let max_age = cc.split(',').find_map(|directive| {
            let (k, v) = directive.trim().split_once('=')?;
            matches!(k.trim().to_ascii_lowercase().as_str(), "max-age" | "s-maxage")
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        });
        if let Some(secs) = max_age {
            return Some(Duration::from_secs(secs));
        }
    }
    let expires = headers.get(header::EXPIRES)?.to_str().ok()?;
    let expires = httpdate::parse_http_date(expires.trim()).ok()?;
    let date = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or(now);
    expires.duration_since(date).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(&headers(&[("retry-after", "120")]), now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3600));
        assert_eq!(retry_after(&headers(&[("retry-after", &later)]), now), Some(Duration::from_secs(3600)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(retry_after(&headers(&[("retry-after", &past)]), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn cache_lifetime_from_max_age_or_expires() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "public, max-age=3600")]), now),
            Some(Duration::from_secs(3600))
        );
        let date = httpdate::fmt_http_date(now);
        let exp = httpdate::fmt_http_date(now + Duration::from_secs(7200));
        assert_eq!(
            cache_lifetime(&headers(&[("expires", &exp), ("date", &date)]), now),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(cache_lifetime(&headers(&[("cache-control", "no-cache")]), now), None);
        assert_eq!(cache_lifetime(&headers(&[("expires", "0")]), now), None);
    }
}

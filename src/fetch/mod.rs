//! HTTP polling: the only module that speaks HTTP.
//!
//! One [`Fetcher`] per process. It sends conditional requests (ETag / Last-Modified), accepts
//! gzip and brotli, caps the body (after decompression, so a small gzip bomb is still capped),
//! follows redirects itself so it can tell a permanent move (every hop 301/308) from a
//! temporary one, and limits concurrency globally and per host. Failures come back as
//! [`FetchError`] values a scheduler can branch on (gone, rate limited, ...), never as panics.

pub(crate) mod headers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use headers::{cache_lifetime, retry_after};

use crate::config::PollSettings;

const MAX_REDIRECTS: usize = 10;
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, \
                      application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

/// A response worth parsing, or a 304.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    /// `None` on 304 Not Modified.
    pub body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// How long the server says the response stays fresh (Cache-Control max-age / Expires).
    pub fresh_for: Option<Duration>,
    /// The address the body came from (after redirects).
    pub final_url: String,
    /// Set when every redirect hop was permanent (301/308): the feed's new address.
    pub moved_to: Option<String>,
}

/// Why a fetch gave no feed. `kind()` is a stable word stored with the feed and used in reports.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// 410: the feed is gone for good (after following any redirects).
    #[error("410 Gone: the publisher removed the feed; find its new address")]
    Gone { moved_to: Option<String> },
    /// 429 or 503, with the server's Retry-After when it gave one.
    #[error("HTTP {status} {}: {}", reason(*.status), retry_hint(.retry_after))]
    RateLimited { status: u16, retry_after: Option<Duration> },
    /// Any other non-success status.
    #[error("HTTP {status} {}", reason(*.status))]
    Status { status: u16 },
    #[error("timed out after {} (raise [poll] timeout if the server is just slow)", humantime::format_duration(*.after))]
    Timeout { after: Duration },
    #[error("response larger than the {limit} byte limit (raise [poll] max_body if the feed is really that big)")]
    TooLarge { limit: u64 },
    /// The connection failed or broke (refused, reset, DNS, TLS, truncated body).
    #[error("connection failed: {message}")]
    Connect { message: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect to an unusable address {location:?}")]
    BadRedirect { location: String },
}

impl FetchError {
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Gone { .. } => "gone",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Status { .. } => "http",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Connect { .. } => "connect",
            FetchError::TooManyRedirects | FetchError::BadRedirect { .. } => "redirect",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Gone { .. } => Some(410),
            FetchError::RateLimited { status, .. } | FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// "asked to retry in 2m" (the server's Retry-After, to the second), else "backing off".
fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("asked to retry in {}", humantime::format_duration(Duration::from_secs(d.as_secs()))),
        None => "backing off".into(),
    }
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")
}

/// Validators from the last successful fetch.
#[derive(Debug, Default, Clone)]
pub struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    pub fn new(settings: &PollSettings) -> anyhow::Result<Fetcher> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(settings.per_host)
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        Ok(Fetcher {
            client,
            timeout: settings.timeout,
            max_body: settings.max_body,
            global: Arc::new(Semaphore::new(settings.concurrency)),
            per_host: settings.per_host,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// Fetch a feed, conditionally when validators are given.
    pub async fn fetch(&self, url: &str, validators: &Validators<'_>) -> Result<Fetched, FetchError> {
        let mut current = url::Url::parse(url).map_err(|_| FetchError::BadRedirect { location: url.to_string() })?;
        let mut all_permanent = true;
        for _ in 0..=MAX_REDIRECTS {
            // Host first, then a global slot: a request waiting for a busy host must not hold
            // a slot other hosts could use.
            let _host = self.host_permit(&current).await?;
            let _global = self.global.clone().acquire_owned().await.map_err(|_| closed())?;
            let mut request = self.client.get(current.clone()).header(header::ACCEPT, ACCEPT);
            // Validators belong to the feed's stored URL; they are sent along redirects too,
            // since the body behind them is the same document.
            if let Some(etag) = validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, lm);
            }
            let response = request.send().await.map_err(|e| self.convert(e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::BadRedirect { location: String::new() })?
                    .to_string();
                let next = current
                    .join(&location)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or(FetchError::BadRedirect { location })?;
                all_permanent &= matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT);
                current = next;
                continue;
            }
            let moved_to = (all_permanent && current.as_str() != url).then(|| current.to_string());
            return self.finish(response, current.to_string(), moved_to).await;
        }
        Err(FetchError::TooManyRedirects)
    }

    async fn finish(
        &self,
        mut response: reqwest::Response,
        final_url: String,
        moved_to: Option<String>,
    ) -> Result<Fetched, FetchError> {
        let status = response.status();
        let headers = response.headers().clone();
        let now = std::time::SystemTime::now();
        match status.as_u16() {
            410 => return Err(FetchError::Gone { moved_to }),
            429 | 503 => {
                return Err(FetchError::RateLimited {
                    status: status.as_u16(),
                    retry_after: retry_after(&headers, now),
                });
            }
            304 => {
                return Ok(Fetched {
                    status: 304,
                    body: None,
                    content_type: None,
                    etag: header_text(&headers, header::ETAG),
                    last_modified: header_text(&headers, header::LAST_MODIFIED),
                    fresh_for: cache_lifetime(&headers, now),
                    final_url,
                    moved_to,
                });
            }
            s if !(200..300).contains(&s) => return Err(FetchError::Status { status: s }),
            _ => {}
        }
        // Refuse early when the server announces a body over the cap (only meaningful when the
        // body is not compressed; a compressed body is capped as it decompresses below).
        if headers.get(header::CONTENT_ENCODING).is_none()
            && response.content_length().is_some_and(|n| n > self.max_body)
        {
            return Err(FetchError::TooLarge { limit: self.max_body });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.convert(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(FetchError::TooLarge { limit: self.max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status: status.as_u16(),
            body: Some(body),
            content_type: header_text(&headers, header::CONTENT_TYPE),
            etag: header_text(&headers, header::ETAG),
            last_modified: header_text(&headers, header::LAST_MODIFIED),
            fresh_for: cache_lifetime(&headers, now),
            final_url,
            moved_to,
        })
    }

    async fn host_permit(&self, url: &url::Url) -> Result<OwnedSemaphorePermit, FetchError> {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts.entry(host).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
        };
        semaphore.acquire_owned().await.map_err(|_| closed())
    }

    fn convert(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout { after: self.timeout };
        }
        // The innermost cause is the useful part ("connection refused", "unexpected EOF").
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = s.to_string();
            source = s.source();
        }
        FetchError::Connect { message }
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn closed() -> FetchError {
    FetchError::Connect { message: "shutting down".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_failed_and_what_to_do() {
        let said = |e: FetchError| e.to_string();
        assert_eq!(
            said(FetchError::RateLimited { status: 429, retry_after: Some(Duration::from_millis(120_500)) }),
            "HTTP 429 Too Many Requests: asked to retry in 2m"
        );
        assert_eq!(
            said(FetchError::RateLimited { status: 503, retry_after: None }),
            "HTTP 503 Service Unavailable: backing off"
        );
        assert_eq!(said(FetchError::Status { status: 404 }), "HTTP 404 Not Found");
        assert_eq!(
            said(FetchError::Timeout { after: Duration::from_secs(20) }),
            "timed out after 20s (raise [poll] timeout if the server is just slow)"
        );
        assert_eq!(
            said(FetchError::TooLarge { limit: 1024 }),
            "response larger than the 1024 byte limit (raise [poll] max_body if the feed is really that big)"
        );
        assert_eq!(said(FetchError::TooManyRedirects), "more than 10 redirects");
        assert_eq!(said(FetchError::BadRedirect { location: "x:y".into() }), "redirect to an unusable address \"x:y\"");
    }
}

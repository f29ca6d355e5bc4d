//! When to poll a feed next: pure arithmetic over its last result.
//!
//! After a success, the feed's interval — lengthened (never shortened) by its own `<ttl>` or the
//! server's Cache-Control / Expires, up to `max_interval` — plus a little jitter so feeds added
//! together drift apart. After a failure, exponential backoff from the interval with "equal
//! jitter", capped at `max_backoff` so a failing feed is retried at least that often and never
//! stops for good; a Retry-After from the server is obeyed instead. The same doubling spaces
//! the outbox's retries of a message the mail server turned away for now.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Jitter after success: up to 10% of the interval, at most 5 minutes.
const MAX_SUCCESS_JITTER: Duration = Duration::from_secs(300);
/// Never poll a feed more often than this, whatever a header says.
const MIN_DELAY: Duration = Duration::from_secs(60);

/// The interval a feed runs on: its own override or the default, lengthened by the hint.
pub fn effective_interval(interval: Duration, hint: Option<Duration>, max_interval: Duration) -> Duration {
    let hinted = hint.map(|h| h.min(max_interval)).unwrap_or(Duration::ZERO);
    interval.max(hinted)
}

/// Next poll after a success (200 or 304). `unit` is a random number in [0, 1).
pub fn after_success(now: DateTime<Utc>, interval: Duration, unit: f64) -> DateTime<Utc> {
    let jitter = interval.div_f64(10.0).min(MAX_SUCCESS_JITTER).mul_f64(unit.clamp(0.0, 1.0));
    now + to_chrono(interval + jitter)
}

/// The backoff delay after `failures` consecutive failures (1 for the first), before jitter.
pub fn backoff(interval: Duration, failures: u32, max_backoff: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    interval.saturating_mul(1u32 << doublings).min(max_backoff)
}

/// Next poll after a failure. `retry_after` (429/503) is obeyed, capped at `max_backoff`.
pub fn after_failure(
    now: DateTime<Utc>,
    interval: Duration,
    failures: u32,
    retry_after: Option<Duration>,
    max_backoff: Duration,
    unit: f64,
) -> DateTime<Utc> {
    let delay = match retry_after {
        Some(asked) => asked.clamp(MIN_DELAY, max_backoff.max(MIN_DELAY)),
        None => {
            // Equal jitter: half fixed, half random, so retries of many feeds spread out.
            let full = backoff(interval, failures, max_backoff);
            (full / 2 + (full / 2).mul_f64(unit.clamp(0.0, 1.0))).max(MIN_DELAY)
        }
    };
    now + to_chrono(delay)
}

/// A wait as a chrono duration (a year for one too long to represent).
pub fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn hints_lengthen_but_never_shorten_and_are_capped() {
        let day = Duration::from_secs(86_400);
        assert_eq!(effective_interval(30 * MIN, None, day), 30 * MIN);
        assert_eq!(effective_interval(30 * MIN, Some(5 * MIN), day), 30 * MIN);
        assert_eq!(effective_interval(30 * MIN, Some(120 * MIN), day), 120 * MIN);
        assert_eq!(effective_interval(30 * MIN, Some(30 * day), day), day);
    }

    #[test]
    fn success_jitter_is_small_and_positive() {
        let now = Utc::now();
        let earliest = after_success(now, 30 * MIN, 0.0);
        let latest = after_success(now, 30 * MIN, 0.999);
        assert_eq!(earliest - now, chrono::Duration::minutes(30));
        assert!(latest - now <= chrono::Duration::minutes(33));
        // Long intervals jitter at most 5 minutes.
        assert!(after_success(now, 24 * 60 * MIN, 0.999) - now <= chrono::Duration::minutes(24 * 60 + 5));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_stops() {
        let cap = Duration::from_secs(86_400);
        assert_eq!(backoff(30 * MIN, 1, cap), 30 * MIN);
        assert_eq!(backoff(30 * MIN, 2, cap), 60 * MIN);
        assert_eq!(backoff(30 * MIN, 4, cap), 240 * MIN);
        assert_eq!(backoff(30 * MIN, 10, cap), cap);
        assert_eq!(backoff(30 * MIN, u32::MAX, cap), cap);
        let now = Utc::now();
        let next = after_failure(now, 30 * MIN, 1000, None, cap, 0.99);
        assert!(next - now <= chrono::Duration::days(1));
        assert!(next - now >= chrono::Duration::hours(12));
    }

    #[test]
    fn retry_after_is_obeyed_within_bounds() {
        let cap = Duration::from_secs(86_400);
        let now = Utc::now();
        assert_eq!(after_failure(now, 30 * MIN, 1, Some(120 * MIN), cap, 0.5) - now, chrono::Duration::minutes(120));
        assert_eq!(
            after_failure(now, 30 * MIN, 1, Some(Duration::from_secs(1)), cap, 0.5) - now,
            chrono::Duration::minutes(1)
        );
        assert_eq!(after_failure(now, 30 * MIN, 1, Some(cap * 7), cap, 0.5) - now, chrono::Duration::days(1));
    }
}

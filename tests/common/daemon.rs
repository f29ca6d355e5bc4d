//! Driving the real binary as a running process: waiting for what it does, stopping it as a
//! service manager would, and asking its HTTP endpoint.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

/// Wait until `done`, checking every 50 ms; fails the test after `timeout`, naming `what`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then the exit code and everything the process wrote to stderr (if piped).
pub fn stop(mut child: Child) -> (Option<i32>, String) {
    // SAFETY: kill(2) on our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
}

/// One HTTP request to the daemon's endpoint on 127.0.0.1:`port`: (status code, body).
pub fn request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    super::web::try_request(port, method, path, Duration::from_secs(10)).map(|a| (a.status, a.body))
}

/// The value of a Prometheus sample line `name{labels} value` (or `name value`).
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

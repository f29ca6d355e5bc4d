//! The web view under test: a database built by `import` (synthetic news written here, or the
//! labelled corpus from `../shared`), `stancewatch serve` on a free port of 127.0.0.1, and
//! requests to it with their status, headers and body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::sandbox::Sandbox;

/// A running `stancewatch serve` over a sandbox's database; stopped when dropped.
pub struct Site {
    pub sandbox: Sandbox,
    pub port: u16,
    child: Option<Child>,
}

/// One answer: status code, headers (names lowercased), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Site {
    /// Serve the sandbox's database (which must exist).
    pub fn serve(sandbox: Sandbox) -> Site {
        let (port, child) = start(&sandbox);
        Site { sandbox, port, child: Some(child) }
    }

    /// Stop the server and serve the same database again (on a new port), as after a restart.
    pub fn restart(&mut self) {
        if let Some(child) = self.child.take() {
            super::daemon::stop(child);
        }
        let (port, child) = start(&self.sandbox);
        self.port = port;
        self.child = Some(child);
    }

    /// A database of synthetic news (see [`synthetic_news`]) imported, then served.
    pub fn synthetic() -> Site {
        let sandbox = Sandbox::new("");
        let items = sandbox.path().join("news.jsonl");
        std::fs::write(&items, synthetic_news()).unwrap();
        sandbox.ok(&["import", items.to_str().unwrap(), "--source", "wire"]);
        Site::serve(sandbox)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Answer {
        request(self.port, "GET", path)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let (_, stderr) = super::daemon::stop(child);
            if std::thread::panicking() {
                eprintln!("stancewatch serve said:\n{stderr}");
            }
        }
    }
}

/// `stancewatch serve` over the sandbox's database on a free port, once it answers.
fn start(sandbox: &Sandbox) -> (u16, Child) {
    let port = free_port();
    let child = sandbox
        .command()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    super::daemon::wait_for("the web view to answer", Duration::from_secs(20), || {
        super::daemon::request(port, "GET", "/healthz").is_some()
    });
    (port, child)
}

/// One request over a fresh connection.
pub fn request(port: u16, method: &str, path: &str) -> Answer {
    try_request(port, method, path, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no answer to {method} {path} on port {port}"))
}

/// One request over a fresh connection, waiting at most `timeout` for the answer; None when
/// nothing listens or no well-formed answer came.
pub fn try_request(port: u16, method: &str, path: &str, timeout: Duration) -> Option<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok())?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Answer { status, headers, body: body.to_string() })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Two years of invented wire news as import JSON Lines: Meta releasing open weights through
/// 2025 and then keeping its next models closed (reported by several outlets, so the change is
/// confirmed), OpenAI staying closed, and unrelated stories. Links are on distinct outlets.
pub fn synthetic_news() -> String {
    let mut lines = Vec::new();
    let outlets = ["wire-one.example", "wire-two.example", "wire-three.example", "wire-four.example"];
    let mut add = |n: usize, date: String, title: String, summary: String| {
        let outlet = outlets[n % outlets.len()];
        lines.push(
            serde_json::json!({
                "id": format!("s{n}"),
                "title": title,
                "summary": summary,
                "url": format!("https://{outlet}/story/{n}"),
                "published": date,
            })
            .to_string(),
        );
    };
    let mut n = 0;
    for month in 1..=12 {
        for week in [3, 17] {
            n += 1;
            add(
                n,
                format!("2025-{month:02}-{week:02}"),
                format!("Meta releases the weights of Llama model number {n} for anyone to download"),
                format!("Meta published the open weights of its model {n} under a permissive licence."),
            );
        }
    }
    for month in 1..=10 {
        for week in [5, 12, 19, 26] {
            n += 1;
            add(
                n,
                format!("2026-{month:02}-{week:02}"),
                format!("Meta keeps its new frontier model {n} closed, offering it only through its API"),
                format!("Meta will not release the weights of model {n}; access is limited to its paid API."),
            );
        }
    }
    for month in 1..=12 {
        n += 1;
        add(
            n,
            format!("2025-{month:02}-09"),
            format!("OpenAI keeps model {n} proprietary and offers it only through its API"),
            format!("OpenAI declined to publish the weights of model {n}."),
        );
        n += 1;
        add(
            n,
            format!("2025-{month:02}-21"),
            format!("City council approves new bicycle lanes downtown, plan {n}"),
            "The council voted to extend cycling routes across the centre.".to_string(),
        );
    }
    lines.join("\n") + "\n"
}

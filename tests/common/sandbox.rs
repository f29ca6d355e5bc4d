//! A temporary folder with a config and a database, and the real binary to run against them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Sandbox {
    /// A sandbox whose config has `extra` appended after a `[storage]` section pointing at
    /// the sandbox's database. Mail goes to files inside the sandbox.
    pub fn new(extra: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("sw.db");
        let config = dir.path().join("stancewatch.toml");
        let outbox = dir.path().join("outbox");
        let text = format!(
            "[storage]\ndatabase = {db:?}\n\n[email]\ntransport = \"file\"\noutbox_dir = {outbox:?}\n\n{extra}\n",
            db = db.display().to_string(),
            outbox = outbox.display().to_string(),
        );
        std::fs::write(&config, text).expect("write config");
        Sandbox { dir, config, db }
    }

    /// A sandbox whose config is a `[storage]` section and `extra` (which brings its own `[email]`).
    pub fn new_raw(extra: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("sw.db");
        let config = dir.path().join("stancewatch.toml");
        let text = format!("[storage]\ndatabase = {:?}\n\n{extra}\n", db.display().to_string());
        std::fs::write(&config, text).expect("write config");
        Sandbox { dir, config, db }
    }

    /// A sandbox polling `urls` with test-friendly poll settings (short timeout, small body cap).
    pub fn with_feeds(urls: &[String], poll: &str) -> Sandbox {
        let mut extra = format!("[poll]\n{poll}\n\n");
        for url in urls {
            extra.push_str(&format!("[[feed]]\nurl = {url:?}\n"));
        }
        Sandbox::new(&extra)
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stancewatch"));
        cmd.arg("--config").arg(&self.config).current_dir(self.dir.path()).env_remove("STANCEWATCH_CONFIG");
        cmd
    }

    /// Run the binary with `args`; returns its output (any exit code).
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run stancewatch")
    }

    /// Run and require exit code 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stancewatch {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// `stancewatch import` of `titles` as the source `name`: each its own address, no summary,
    /// a day apart from 2026-10-01.
    pub fn import_titles(&self, name: &str, titles: &[&str]) {
        let lines: Vec<String> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                serde_json::json!({"title": t, "summary": "", "url": format!("https://{name}{i}.example/story"),
                                   "published": format!("2026-10-{:02}", i + 1)})
                .to_string()
            })
            .collect();
        let file = self.path().join(format!("{name}.jsonl"));
        std::fs::write(&file, lines.join("\n")).expect("write the items");
        self.ok(&["import", file.to_str().expect("a UTF-8 path")]);
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("open db")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An RSS 2.0 feed of `(guid, title)` items, newest first, one hour apart from 2026-11-01.
pub fn rss(items: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title>\n",
    );
    for (i, (guid, title)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://news.example/{guid}?utm_source=rss</link>\
             <pubDate>Sun, 01 Nov 2026 {:02}:00:00 GMT</pubDate><description>&lt;p&gt;About {title}.&lt;/p&gt;</description></item>\n",
            23 - (i % 24)
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// `n` items with guids `{prefix}-0 .. {prefix}-{n-1}`.
pub fn items(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("{prefix}-{i}"), format!("Story {i} from {prefix}"))).collect()
}

pub fn rss_of(items: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = items.iter().map(|(g, t)| (g.as_str(), t.as_str())).collect();
    rss(&refs)
}

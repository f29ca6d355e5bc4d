//! SIGKILL at random moments: during polls (fetching, classifying, storing), during the bulk
//! re-read of every stored story after a profile change, and during sending (the daemon's mail
//! step, `digest --send`, `outbox retry`). After every kill the database passes its integrity
//! check; in the end every served story is stored exactly once, every stored message reached
//! the mail server, each kill caused at most one resend (with the same Message-ID), and every
//! relevant story cluster is in exactly one digest.
//!
//! Feeds and the mail server run in this process (tests/common). The news they serve grows
//! between rounds. `KILL_SEED=N` replays a run (the seed is printed with `--nocapture`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::http::{Route, TestServer};
use common::sandbox::Sandbox;
use common::smtp::{Received, SmtpServer};

const OUTLETS: usize = 8;
const TO: [&str; 3] = ["ana@example.org", "ben@example.org", "cleo@example.org"];
/// Kills that must land (the process was still running) before the test ends.
const MIN_KILLS: usize = 50;
/// A bound on rounds, so a machine where nothing can be killed fails instead of hanging.
const MAX_ROUNDS: usize = 200;
/// Reports per organisation at most, four days apart: one organisation's reports are never
/// related stories (those must be published within 72 h), so clusters are the same-title
/// copies of one report and never merge later.
const SLOTS: usize = 18;
const DAY: i64 = 86_400;

/// Organisations and the stance of their reports; `Some(slot)`: from that slot on, the other
/// stance (a change the daemon should detect and alert).
const ORGS: [(&str, bool, Option<usize>); 10] = [
    ("Meta", true, Some(SLOTS - 7)),
    ("OpenAI", false, Some(SLOTS - 6)),
    ("Anthropic", false, None),
    ("DeepSeek", true, None),
    ("Mistral AI", true, None),
    ("Nvidia", true, None),
    ("Microsoft", false, None),
    ("Alibaba", true, None),
    ("Cohere", false, None),
    ("Amazon", false, None),
];
const OPEN: [&str; 2] = [
    "{org} releases open-weight {product} {topic} AI model on Hugging Face",
    "{org} open-sources its {product} {topic} AI model under the Apache 2.0 licence",
];
const CLOSED: [&str; 2] = [
    "{org} keeps its {product} {topic} AI model closed, available only through its API",
    "{org} will not release the weights of its {product} {topic} AI model",
];
const TOPICS: [&str; 10] =
    ["coding", "vision", "speech", "translation", "reasoning", "robotics", "medical", "math", "chemistry", "weather"];
const SYLLABLES: [&str; 16] =
    ["zor", "vex", "quil", "lon", "bran", "tel", "mor", "vane", "tes", "sal", "cor", "pel", "lar", "fen", "rin", "dax"];
const TOWNS: [&str; 8] =
    ["Harbourton", "Millbrook", "Eastvale", "Redcliff", "Lakemoor", "Stonebridge", "Ashford Green", "Kilnworth"];
const LOCAL: [&str; 10] = [
    "council approves new bike lanes near the station",
    "library extends its weekend opening hours",
    "bakery wins the regional bread award again",
    "football club signs a goalkeeper from the coast",
    "primary school opens a rooftop vegetable garden",
    "museum restores a historic steam engine",
    "market hall reopens after roof repairs",
    "ferry timetable changes for the winter months",
    "choir raises funds for a new church organ",
    "residents clean up the river banks on Saturday",
];

struct Item {
    guid: String,
    title: String,
    published: DateTime<Utc>,
    summary: String,
}

/// The news the feed server publishes, outlet by outlet; it only grows (an entry that left a
/// feed before it was polled would be lost by design, not by a kill).
struct World {
    rng: fastrand::Rng,
    now: DateTime<Utc>,
    feeds: Vec<Vec<Item>>,
    versions: Vec<usize>,
    dirty: Vec<bool>,
    /// Each relevant report: its title, when it was published, the outlets covering it.
    events: Vec<(String, DateTime<Utc>, Vec<usize>)>,
    plain: usize,
}

impl World {
    fn new(seed: u64) -> World {
        World {
            rng: fastrand::Rng::with_seed(seed),
            now: Utc::now(),
            feeds: (0..OUTLETS).map(|_| Vec::new()).collect(),
            versions: vec![0; OUTLETS],
            dirty: vec![true; OUTLETS],
            events: Vec::new(),
            plain: 0,
        }
    }

    fn push(&mut self, outlet: usize, item: Item) {
        self.feeds[outlet].push(item);
        self.dirty[outlet] = true;
    }

    fn event_item(&self, e: usize, outlet: usize) -> Item {
        let (title, at, _) = &self.events[e];
        Item {
            guid: format!("o{outlet}-e{e}"),
            title: title.clone(),
            published: *at + chrono::Duration::minutes(7 * outlet as i64),
            summary: format!("{title}. Reported by outlet {outlet}."),
        }
    }

    /// A new relevant report, covered by one to three outlets under the same title; false once
    /// every slot is used.
    fn add_event(&mut self) -> bool {
        let e = self.events.len();
        let (org, slot) = (e % ORGS.len(), e / ORGS.len());
        if slot >= SLOTS {
            return false;
        }
        let (name, open, turn) = ORGS[org];
        let open = if turn.is_some_and(|t| slot >= t) { !open } else { open };
        let template = if open { OPEN[self.rng.usize(..2)] } else { CLOSED[self.rng.usize(..2)] };
        let product = format!(
            "{}{}-{e}",
            capitalise(SYLLABLES[self.rng.usize(..SYLLABLES.len())]),
            SYLLABLES[self.rng.usize(..SYLLABLES.len())]
        );
        let title = template.replace("{org}", name).replace("{product}", &product).replace("{topic}", TOPICS[e % 10]);
        let at = self.now - chrono::Duration::seconds(4 * DAY * (SLOTS - slot) as i64)
            + chrono::Duration::hours(3 * org as i64);
        let mut outlets: Vec<usize> = Vec::new();
        let copies = 1 + self.rng.usize(..3);
        while outlets.len() < copies {
            let o = self.rng.usize(..OUTLETS);
            if !outlets.contains(&o) {
                outlets.push(o);
            }
        }
        self.events.push((title, at, outlets.clone()));
        for o in outlets {
            let item = self.event_item(e, o);
            self.push(o, item);
        }
        true
    }

    /// One more outlet picks up an earlier report: a late member of a cluster that may have
    /// been mailed already.
    fn cover_again(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let e = self.rng.usize(..self.events.len());
        let o = self.rng.usize(..OUTLETS);
        if !self.events[e].2.contains(&o) {
            self.events[e].2.push(o);
            let item = self.event_item(e, o);
            self.push(o, item);
        }
    }

    /// `n` ordinary local stories (not about AI), some in two outlets; recent unless `old`.
    fn add_plain(&mut self, n: usize, old: bool) {
        for _ in 0..n {
            let p = self.plain;
            self.plain += 1;
            let title =
                format!("{} {} ({})", TOWNS[self.rng.usize(..TOWNS.len())], LOCAL[self.rng.usize(..LOCAL.len())], p);
            let age = if old { self.rng.i64(DAY..60 * DAY) } else { self.rng.i64(60..6 * 3600) };
            let published = self.now - chrono::Duration::seconds(age);
            let first = self.rng.usize(..OUTLETS);
            let mut outlets = vec![first];
            if self.rng.u8(..4) == 0 {
                outlets.push((first + 1 + self.rng.usize(..OUTLETS - 1)) % OUTLETS);
            }
            for o in outlets {
                let summary = format!("Local news from outlet {o}: {title}.");
                self.push(o, Item { guid: format!("o{o}-p{p}"), title: title.clone(), published, summary });
            }
        }
    }

    /// An ordinary story's text changes (an update of the same entry, not a new story).
    fn update_plain(&mut self) {
        let o = self.rng.usize(..OUTLETS);
        let n = self.feeds[o].len();
        if n == 0 {
            return;
        }
        let item = &mut self.feeds[o][self.rng.usize(..n)];
        if item.guid.contains("-p") {
            item.summary.push_str(" Updated with comments from residents.");
            self.dirty[o] = true;
        }
    }

    /// Serve every outlet that changed, under a new ETag (unchanged outlets answer 304).
    fn publish(&mut self, server: &TestServer) {
        for o in 0..OUTLETS {
            if !self.dirty[o] {
                continue;
            }
            self.dirty[o] = false;
            self.versions[o] += 1;
            let mut rss = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Outlet {o}</title>\n"
            );
            for it in self.feeds[o].iter().rev() {
                let _ = writeln!(
                    rss,
                    "<item><guid>{g}</guid><title>{t}</title><link>https://outlet{o}.example/news/{g}</link>\
                     <pubDate>{d}</pubDate><description>{s}</description></item>",
                    g = it.guid,
                    t = it.title,
                    d = it.published.to_rfc2822(),
                    s = it.summary,
                );
            }
            rss.push_str("</channel></rss>\n");
            // A little latency per request, so a poll lasts long enough to be killed mid-way.
            let route = Route::ok(rss)
                .etag(&format!("\"o{o}v{}\"", self.versions[o]))
                .delay(Duration::from_millis(50 + 25 * o as u64));
            server.set(&format!("/outlet{o}.xml"), route);
        }
    }

    /// (feed path, guid) of every entry served.
    fn served(&self, server: &TestServer) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (o, items) in self.feeds.iter().enumerate() {
            for it in items {
                out.insert((server.url(&format!("/outlet{o}.xml")), it.guid.clone()));
            }
        }
        out
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Phase {
    /// `poll --all`: fetch, parse, classify, cluster, store.
    Poll,
    /// `poll --all` or `run` right after the profile changed: every stored story is read again.
    Reread,
    /// `run`: poll, classify, timelines, alerts, the period's digest, sending.
    Run,
    /// `digest --send`: compose, store, send.
    Digest,
    /// `outbox retry`: send what a kill left pending.
    Retry,
}

/// The config: every outlet, mail over SMTP to the test server, a digest period of a minute,
/// alerts on, the profile copy.
fn config(server: &TestServer, smtp_port: u16) -> String {
    let mut text = String::from("[poll]\ntimeout = \"5s\"\nper_host = 4\n\n");
    for o in 0..OUTLETS {
        let _ = writeln!(text, "[[feed]]\nurl = {:?}\nname = \"Outlet {o}\"\n", server.url(&format!("/outlet{o}.xml")));
    }
    let to: Vec<String> = TO.iter().map(|t| format!("{t:?}")).collect();
    let _ = write!(
        text,
        "[email]\nfrom = \"stancewatch <sw@example.org>\"\nto = [{}]\ntransport = \"smtp\"\n\n\
         [email.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\ntimeout = \"10s\"\n\n\
         [digest]\nevery = \"1m\"\n\n[alerts]\nchanges = true\n\n[profile]\npath = \"profile.toml\"\n",
        to.join(", ")
    );
    text
}

/// The shipped profile with one extra cue that matches none of the stories: a different
/// profile (every stored story is read again on the next start) that reads them the same way.
fn profile(revision: usize) -> String {
    let text = include_str!("../config/profiles/ai-openness.toml");
    assert!(text.contains("\n[stance.open]\n"), "the profile has a [stance.open] table");
    if revision == 0 {
        return text.to_string();
    }
    text.replacen("\n[stance.open]\n", &format!("\n[stance.open]\n\"kill test cue {revision}\" = 0.5\n"), 1)
}

fn message_id(m: &Received) -> String {
    m.data
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l["message-id:".len()..].trim().to_string())
        .unwrap_or_else(|| panic!("a message without Message-ID: {}", m.data))
}

/// Whether the database exists with its tables (a kill can stop the first migration).
fn set_up(sb: &Sandbox) -> bool {
    sb.db.exists() && sb.count("SELECT count(*) FROM sqlite_master WHERE name = 'outbox'") > 0
}

/// Poll cycles completed so far.
fn polls(sb: &Sandbox) -> i64 {
    if set_up(sb) { sb.count("SELECT count(*) FROM poll_runs") } else { 0 }
}

/// What must hold after every kill.
fn check_after_kill(sb: &Sandbox, smtp: &SmtpServer, round: usize, what: &str) {
    if !sb.db.exists() {
        return; // killed before it created the database: nothing was written
    }
    let check = sb.run(&["db", "check"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && out.contains("integrity: ok"),
        "round {round} ({what}): db check failed\n{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    if !set_up(sb) {
        return; // stopped during its first migration: not set up yet
    }
    assert_eq!(
        sb.count("SELECT count(*) FROM (SELECT 1 FROM stories GROUP BY feed_id, entry_key HAVING count(*) > 1)"),
        0,
        "round {round} ({what}): a story stored twice"
    );
    // A message is marked sent only after the server took it.
    let received: BTreeSet<String> = smtp.received().iter().map(message_id).collect();
    let db = sb.db();
    let sent: Vec<String> = db
        .prepare("SELECT message_id FROM outbox WHERE status = 'sent'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for id in &sent {
        assert!(received.contains(id), "round {round} ({what}): {id} is marked sent but the server never got it");
    }
    // A digest is stored with all its messages, or not at all.
    assert_eq!(
        sb.count(&format!(
            "SELECT count(*) FROM digests d WHERE (SELECT count(*) FROM outbox o WHERE o.digest_id = d.id) != {}",
            TO.len()
        )),
        0,
        "round {round} ({what}): a digest without its messages"
    );
    assert_eq!(clusters_in_digests(sb, "> 1"), 0, "round {round} ({what}): a story cluster in two digests");
}

/// Copies the mail server took beyond the first of each message, plus messages it took that the
/// outbox does not know were taken (still pending: they will be sent again). A kill while the
/// server holds a message adds one; nothing else may add any.
fn exposure(sb: &Sandbox, smtp: &SmtpServer) -> usize {
    let received: Vec<String> = smtp.received().iter().map(message_id).collect();
    let distinct: BTreeSet<&String> = received.iter().collect();
    if !set_up(sb) {
        return received.len() - distinct.len();
    }
    let pending: Vec<String> = sb
        .db()
        // A claim left by a killed sender (`sending`) is sent again like a pending message.
        .prepare("SELECT message_id FROM outbox WHERE status IN ('pending', 'sending')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    received.len() - distinct.len() + pending.iter().filter(|id| distinct.contains(id)).count()
}

/// Story clusters with a relevant story whose stories are covered by `cond` digests.
fn clusters_in_digests(sb: &Sandbox, cond: &str) -> i64 {
    sb.count(&format!(
        "SELECT count(*) FROM (
             SELECT s.cluster_id FROM stories s LEFT JOIN digest_stories ds ON ds.story_id = s.id
             WHERE s.cluster_id IN (SELECT cluster_id FROM stories WHERE relevant = 1)
             GROUP BY s.cluster_id HAVING count(DISTINCT ds.digest_id) {cond})"
    ))
}

/// How long each step has been seen to take (ms), so kills spread over the whole of it — and
/// now and then it completes — on fast and slow machines alike, as the store grows.
struct Timing(BTreeMap<Phase, f64>);

impl Timing {
    fn new() -> Timing {
        Timing(BTreeMap::from([
            (Phase::Poll, 1500.0),
            (Phase::Reread, 800.0),
            (Phase::Digest, 500.0),
            (Phase::Retry, 500.0),
        ]))
    }

    /// A random moment from the start to `over` times the expected end of `phase` (plus `extra` ms).
    fn wait(&self, phase: Phase, extra: f64, over: f64, rng: &mut fastrand::Rng) -> Duration {
        let expected = self.0[&phase] + extra;
        Duration::from_millis((expected * (0.03 + (over - 0.03) * rng.f64())) as u64 + 10)
    }

    /// The step ended after `done`, or was still going after `waited`.
    fn observed(&mut self, phase: Phase, done: Option<Duration>, waited: Duration) {
        let est = self.0.get_mut(&phase).unwrap();
        match done {
            Some(t) => *est = 0.6 * *est + 0.4 * t.as_millis() as f64,
            None => *est = est.max(waited.as_millis() as f64),
        }
    }
}

#[test]
fn fifty_sigkills_during_poll_classification_and_sending_lose_and_double_nothing() {
    let started = Instant::now();
    let seed = std::env::var("KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("kill test seed {seed} (KILL_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let server = TestServer::start();
    let smtp = SmtpServer::start();
    let mut world = World::new(seed);
    // What is already there at the first poll: older reports and local news (the backfill).
    for _ in 0..5 * ORGS.len() {
        world.add_event();
    }
    world.add_plain(150, true);
    world.publish(&server);

    let sb = Sandbox::new_raw(&config(&server, smtp.port));
    let profile_path = sb.path().join("profile.toml");
    std::fs::write(&profile_path, profile(0)).unwrap();

    // Phases in turn; sends are a retry when a kill left mail pending, else a digest.
    const CYCLE: [Phase; 10] = [
        Phase::Poll,
        Phase::Digest,
        Phase::Run,
        Phase::Reread,
        Phase::Digest,
        Phase::Run,
        Phase::Poll,
        Phase::Digest,
        Phase::Reread,
        Phase::Run,
    ];
    let mut rounds: BTreeMap<Phase, usize> = BTreeMap::new();
    let mut landed: BTreeMap<Phase, usize> = BTreeMap::new();
    let mut timing = Timing::new();
    // Messages taken twice or taken without the outbox knowing (see `exposure`).
    let (mut exposed, mut mid_send) = (0usize, 0usize);
    let (mut kills, mut sending_kills, mut revision, mut in_reread) = (0usize, 0usize, 0usize, 0usize);
    // Poll rounds in a row that completed no poll cycle, and polls left to finish because of that.
    let (mut stalled, mut calm) = (0usize, 0usize);
    let mut round = 0;
    while kills < MIN_KILLS && round < MAX_ROUNDS {
        let mut phase = CYCLE[round % CYCLE.len()];
        let database_ready = set_up(&sb);
        if phase == Phase::Digest
            && database_ready
            && sb.count("SELECT count(*) FROM outbox WHERE status = 'pending'") > 0
        {
            phase = Phase::Retry;
        }
        if matches!(phase, Phase::Poll | Phase::Run | Phase::Reread) {
            // News between rounds: new reports (same title in several outlets), a late copy of an
            // earlier one, local stories, sometimes a burst, sometimes an updated entry.
            for _ in 0..3 + rng.usize(..3) {
                world.add_event();
            }
            if rng.bool() {
                world.cover_again();
            }
            world.add_plain(3 + rng.usize(..6), false);
            if round % 8 == 7 {
                world.add_plain(60, false);
            }
            if rng.u8(..3) == 0 {
                world.update_plain();
            }
            world.publish(&server);
        }
        if phase == Phase::Reread {
            revision += 1;
            std::fs::write(&profile_path, profile(revision)).unwrap();
        }
        // Slow replies now and then, so kills land while the server holds a message.
        let hold = [0, 100, 300, 600][rng.usize(..4)];
        smtp.hold_replies(Duration::from_millis(hold));
        let args: &[&str] = match phase {
            Phase::Poll => &["poll", "--all"],
            Phase::Reread if revision % 2 == 1 => &["poll", "--all"],
            Phase::Reread | Phase::Run => &["run"],
            Phase::Digest => &["digest", "--send"],
            Phase::Retry => &["outbox", "retry"],
        };
        if args[0] == "run" && database_ready {
            // As if the feeds' interval had passed: the daemon polls them at once.
            sb.db().execute("UPDATE feeds SET next_poll_at = NULL", []).unwrap();
        }
        // The daemon does what a poll does, then mails (a message per recipient, each held `hold`).
        let extra = if phase == Phase::Run { 300.0 + TO.len() as f64 * hold as f64 } else { 0.0 };
        // Past the expected end now and then, so steps also complete; the daemon never does, so
        // its kills stay within its poll and mail step.
        let mut wait = match phase {
            Phase::Run => timing.wait(Phase::Poll, extra, 1.15, &mut rng),
            _ => timing.wait(phase, extra, 1.5, &mut rng),
        };
        let polls_done = polls(&sb);
        if phase == Phase::Poll && stalled >= 4 {
            // No poll has completed for a while (a slow machine): let this one finish, so the
            // later rounds have stored news to classify, mail and kill.
            wait = Duration::from_secs(120);
            calm += 1;
        }
        let reading = || -> Option<String> {
            sb.db().query_row("SELECT value FROM store_settings WHERE key = 'stance_reading'", [], |r| r.get(0)).ok()
        };
        let old_reading = if phase == Phase::Reread { reading() } else { None };

        let t0 = Instant::now();
        let mut child = sb.command().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let (mut exited, mut reread_at) = (None, None);
        loop {
            let t = t0.elapsed();
            if child.try_wait().unwrap().is_some() {
                exited = Some(t);
                break;
            }
            if phase == Phase::Reread && reread_at.is_none() && reading() != old_reading {
                reread_at = Some(t);
            }
            if t >= wait {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if exited.is_none() {
            child.kill().unwrap(); // SIGKILL
        }
        let status = child.wait().unwrap();
        *rounds.entry(phase).or_default() += 1;
        // Landed: the process was still running and died of the signal.
        if status.signal() == Some(9) {
            kills += 1;
            *landed.entry(phase).or_default() += 1;
            if matches!(args[0], "run" | "digest" | "outbox") {
                sending_kills += 1;
            }
            if phase == Phase::Reread && reading() == old_reading {
                in_reread += 1; // the re-read had not finished: it starts over on the next start
            }
        }
        if matches!(phase, Phase::Poll | Phase::Run | Phase::Reread) {
            stalled = if polls(&sb) > polls_done { 0 } else { stalled + 1 };
        }
        let done = if phase == Phase::Reread { reread_at.or(exited) } else { exited };
        if phase != Phase::Run {
            timing.observed(phase, done, wait);
        }
        let what = format!("{phase:?} {args:?} killed after {} ms", wait.as_millis());
        check_after_kill(&sb, &smtp, round, &what);
        let now_exposed = exposure(&sb, &smtp);
        let allowed = usize::from(status.signal() == Some(9) && matches!(args[0], "run" | "digest" | "outbox"));
        assert!(
            now_exposed <= exposed + allowed,
            "round {round} ({what}): {} more messages taken twice or taken unknowingly; at most {allowed}",
            now_exposed - exposed
        );
        mid_send += now_exposed - exposed;
        exposed = now_exposed;
        round += 1;
    }
    let kill_time = started.elapsed();

    // Then calm: the last news, one clean poll, the digest and whatever mail is left.
    smtp.hold_replies(Duration::ZERO);
    let title = "IBM releases open-weight Granite Kestrel coding AI model on Hugging Face";
    world.events.push((title.into(), Utc::now() - chrono::Duration::hours(1), vec![0, 3]));
    for o in [0, 3] {
        let item = world.event_item(world.events.len() - 1, o);
        world.push(o, item);
    }
    world.publish(&server);
    sb.ok(&["poll", "--all"]);
    sb.ok(&["digest", "--send"]);
    sb.ok(&["outbox", "retry"]);
    check_after_kill(&sb, &smtp, round, "after the clean finish");
    assert_eq!(exposure(&sb, &smtp), exposed, "the clean finish resent each message the kills left unconfirmed once");

    // Every served story stored exactly once.
    let served = world.served(&server);
    let db = sb.db();
    let stored: Vec<(String, String)> = db
        .prepare("SELECT f.url, s.guid FROM stories s JOIN feeds f ON f.id = s.feed_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let stored_set: BTreeSet<(String, String)> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "a story stored twice");
    let lost: Vec<_> = served.difference(&stored_set).collect();
    assert!(lost.is_empty(), "{} stories lost: {lost:?}", lost.len());
    assert_eq!(stored.len(), served.len(), "stories stored that were never served");

    // Every story read, and read as written (the reports relevant, local news not); each report's
    // copies in one cluster of their own, whatever the kills interrupted.
    let readings: Vec<(String, Option<bool>, i64)> = db
        .prepare("SELECT guid, relevant, cluster_id FROM stories")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let misread: Vec<_> =
        readings.iter().filter(|(guid, relevant, _)| *relevant != Some(guid.contains("-e"))).collect();
    assert!(misread.is_empty(), "{} stories unread or misread: {:?}", misread.len(), &misread[..misread.len().min(10)]);
    let mut clusters: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (guid, _, cluster) in &readings {
        let report = guid.split_once("-e").map_or("local", |(_, e)| e);
        clusters.entry(report).or_default().insert(*cluster);
    }
    let local = clusters.remove("local").unwrap_or_default();
    let split: Vec<_> = clusters.iter().filter(|(_, c)| c.len() != 1).collect();
    assert!(split.is_empty(), "reports split over several clusters: {split:?}");
    let report_clusters: BTreeSet<i64> = clusters.values().flatten().copied().collect();
    assert_eq!(report_clusters.len(), clusters.len(), "two reports in one cluster");
    assert!(report_clusters.is_disjoint(&local), "a report clustered with local news");

    // Every message sent; each received at least once, each copy beyond the first caused by a kill.
    let outbox: Vec<(String, String, String, String)> = db
        .prepare("SELECT message_id, recipient, status, kind FROM outbox")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let not_sent: Vec<_> = outbox.iter().filter(|m| m.2 != "sent").collect();
    assert!(not_sent.is_empty(), "messages not sent: {not_sent:?}");
    let mut copies: HashMap<String, usize> = HashMap::new();
    let received = smtp.received();
    for m in &received {
        let id = message_id(m);
        let row = outbox.iter().find(|o| o.0 == id).unwrap_or_else(|| panic!("{id} received but not in the outbox"));
        assert_eq!(m.to, std::slice::from_ref(&row.1), "{id} went to its own recipient only");
        *copies.entry(id).or_default() += 1;
    }
    for (id, ..) in &outbox {
        assert!(copies.contains_key(id), "{id} is marked sent but was never received");
    }
    let resends: usize = copies.values().map(|n| n - 1).sum();
    let most = copies.values().copied().max().unwrap_or(0);
    assert!(
        resends <= mid_send && mid_send <= sending_kills,
        "{resends} resends for {mid_send} kills while the server held a message ({sending_kills} kills of \
         sending processes): more than one resend per kill"
    );
    assert!(most <= 1 + sending_kills, "one message received {most} times");
    let resent_ids = copies.values().filter(|&&n| n > 1).count();

    // Every relevant story cluster in exactly one digest.
    let none = clusters_in_digests(&sb, "= 0");
    let several = clusters_in_digests(&sb, "> 1");
    assert_eq!((none, several), (0, 0), "relevant story clusters in no digest / in several digests");

    let relevant_clusters = sb.count("SELECT count(DISTINCT cluster_id) FROM stories WHERE relevant = 1");
    assert!(relevant_clusters >= 50, "the news had relevant stories ({relevant_clusters} clusters)");
    let digests = sb.count("SELECT count(*) FROM digests");
    let scheduled = sb.count("SELECT count(*) FROM digests WHERE period NOT LIKE 'manual:%'");
    let alerts = outbox.iter().filter(|m| m.3 == "alert").count();
    let confirmed = sb.count("SELECT count(*) FROM change_events WHERE level = 'confirmed' AND withdrawn_at IS NULL");
    let phases: Vec<String> =
        rounds.iter().map(|(p, n)| format!("{p:?} {}/{n}", landed.get(p).copied().unwrap_or(0))).collect();
    eprintln!(
        "kills landed / rounds: {} (total {kills} in {round} rounds, {sending_kills} of sending processes; \
         profile changed {revision} times, {in_reread} kills before its re-read was done; \
         {calm} polls left to finish after rounds that completed none)",
        phases.join(", ")
    );
    eprintln!(
        "stories: {} served, {} stored once each, {} relevant in {relevant_clusters} clusters, {} clusters in all",
        served.len(),
        stored.len(),
        sb.count("SELECT count(*) FROM stories WHERE relevant = 1"),
        sb.count("SELECT count(DISTINCT cluster_id) FROM stories"),
    );
    eprintln!(
        "messages: {} in the outbox ({digests} digests, {scheduled} of them by the daemon's schedule; \
         {alerts} alert messages for {confirmed} confirmed changes), {} received, {resends} resends of {resent_ids} messages \
         ({mid_send} kills while the server held a message)",
        outbox.len(),
        received.len(),
    );
    let seen: Vec<String> = timing.0.iter().map(|(p, ms)| format!("{p:?} {:.0} ms", ms)).collect();
    eprintln!("steps took about: {}", seen.join(", "));
    eprintln!("time: {:.1} s killing, {:.1} s in all", kill_time.as_secs_f64(), started.elapsed().as_secs_f64());
    assert!(kills >= MIN_KILLS, "only {kills} of {round} rounds killed a running process");
}

//! A small SMTP server on 127.0.0.1 for tests: records every message it accepts and can be told
//! to refuse a recipient or to fail the next DATA commands with a given code.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Config for polling `feed_url` and mailing `to` over SMTP on 127.0.0.1:`port`.
pub fn smtp_config(feed_url: &str, to: &[&str], port: u16, timeout: &str) -> String {
    let to: Vec<String> = to.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "[poll]\ntimeout = \"2s\"\n\n[[feed]]\nurl = {feed_url:?}\n\n[email]\nfrom = \"stancewatch <sw@example.org>\"\n\
         to = [{}]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
         security = \"none\"\ntimeout = \"{timeout}\"\n",
        to.join(", ")
    )
}

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    /// Recipients refused at RCPT with this reply.
    refuse: Vec<(String, String)>,
    /// Replies for the next DATA commands, in order (then 250).
    data_replies: Vec<String>,
    /// How long to wait, after taking a message, before saying so.
    hold: std::time::Duration,
    /// Connections accepted.
    connections: usize,
    /// AUTH commands as received (their base64 credentials included).
    auth: Vec<String>,
    /// Answer AUTH with 535 (bad credentials).
    reject_auth: bool,
}

pub struct SmtpServer {
    pub port: u16,
    script: Arc<Mutex<Script>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(0)
    }

    /// Listen on `port` (0: any free port).
    pub fn start_on(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP test server");
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (script.clone(), stop.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        s.lock().unwrap().connections += 1;
                        let s = s.clone();
                        std::thread::spawn(move || {
                            let _ = session(stream, &s);
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        SmtpServer { port, script, stop }
    }

    /// A port nothing listens on (for "server down").
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    pub fn connections(&self) -> usize {
        self.script.lock().unwrap().connections
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    pub fn refuse(&self, recipient: &str, reply: &str) {
        self.script.lock().unwrap().refuse.push((recipient.to_string(), reply.to_string()));
    }

    /// Record each message at once but answer only after `hold` (a client killed meanwhile
    /// never learns the message was taken).
    pub fn hold_replies(&self, hold: std::time::Duration) {
        self.script.lock().unwrap().hold = hold;
    }

    /// AUTH lines the clients sent, credentials and all.
    pub fn auth_attempts(&self) -> Vec<String> {
        self.script.lock().unwrap().auth.clone()
    }

    pub fn reject_auth(&self) {
        self.script.lock().unwrap().reject_auth = true;
    }

    pub fn fail_data(&self, replies: &[&str]) {
        self.script.lock().unwrap().data_replies = replies.iter().map(|r| r.to_string()).collect();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn session(stream: TcpStream, script: &Mutex<Script>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 test.local ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-test.local\r\n250-AUTH PLAIN\r\n250 8BITMIME".into()
        } else if upper.starts_with("AUTH") {
            let mut s = script.lock().unwrap();
            s.auth.push(line.trim_end().to_string());
            if s.reject_auth { "535 5.7.8 Authentication credentials invalid".into() } else { "235 2.7.0 OK".into() }
        } else if upper.starts_with("HELO") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
            if upper.starts_with("RSET") {
                (from, to) = (String::new(), Vec::new());
            }
            "250 OK".into()
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&line);
            "250 OK".into()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = address(&line);
            let refused =
                script.lock().unwrap().refuse.iter().find(|(r, _)| *r == rcpt).map(|(_, reply)| reply.clone());
            match refused {
                Some(reply) => reply,
                None => {
                    to.push(rcpt);
                    "250 OK".into()
                }
            }
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let (reply, hold) = {
                let mut s = script.lock().unwrap();
                if s.data_replies.is_empty() {
                    s.received.push(Received { from: from.clone(), to: to.clone(), data });
                    ("250 2.0.0 queued as test".to_string(), s.hold)
                } else {
                    (s.data_replies.remove(0), s.hold)
                }
            };
            // A transaction ends with its DATA: the next MAIL FROM starts a new envelope.
            (from, to) = (String::new(), Vec::new());
            std::thread::sleep(hold);
            reply
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            "502 not implemented".into()
        };
        out.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].trim().to_string()
}

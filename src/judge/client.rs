//! One request to an OpenAI-compatible `/chat/completions` endpoint (Ollama, llama.cpp's server,
//! vLLM, a hosted API): the prompt's messages, the answer's JSON schema as `response_format`
//! where the endpoint takes it, and what came back or why nothing usable did.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header;
use serde_json::{Value, json};

use super::JudgeSettings;

/// The longest answer body read (a judgement is a few hundred bytes).
const MAX_ANSWER: usize = 256 * 1024;

pub struct Client {
    http: reqwest::Client,
    url: String,
    model: String,
    /// Never printed: `Debug` is not derived, errors name the endpoint only.
    api_key: Option<String>,
    /// How the schema is sent: [`JSON_SCHEMA`], else [`JSON_OBJECT`] (llama.cpp's server and
    /// others take the schema this way), else not at all. Lowered each time the endpoint
    /// refuses the form; the answer is validated the same way whatever the endpoint did.
    structured: AtomicU8,
}

/// `response_format: {"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM, Ollama).
const JSON_SCHEMA: u8 = 2;
/// `response_format: {"type": "json_object", "schema": {...}}`.
const JSON_OBJECT: u8 = 1;
const NO_FORMAT: u8 = 0;

/// Why a request gave no answer to validate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("the judge did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the judge at {0}")]
    Unreachable(String),
    #[error("the judge is rate limited (HTTP 429){}", .0.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited(Option<Duration>),
    #[error("the judge answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("the judge's reply is not a chat completion: {0}")]
    Malformed(String),
}

impl CallError {
    /// The `outcome` label of `stancewatch_judge_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::Unreachable(_) => "unreachable",
            CallError::RateLimited(_) => "rate_limited",
            CallError::Status(..) => "error",
            CallError::Malformed(_) => "invalid",
        }
    }
}

impl Client {
    pub fn new(settings: &JudgeSettings, api_key: Option<String>) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("stancewatch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            url: format!("{}/chat/completions", settings.endpoint.trim_end_matches('/')),
            model: settings.model.clone(),
            api_key,
            structured: AtomicU8::new(JSON_SCHEMA),
        })
    }

    /// Ask once; the message content of the first choice.
    pub async fn complete(&self, messages: &Value, schema: &Value, timeout: Duration) -> Result<String, CallError> {
        let mut format = self.structured.load(Ordering::Relaxed);
        loop {
            match self.send(messages, schema, format, timeout).await {
                // An endpoint that does not take this form of `response_format` says so (400,
                // 422, or a 500 from a validation layer), naming it.
                Err(CallError::Status(400 | 422 | 500, body))
                    if format > NO_FORMAT && body.to_lowercase().contains("response_format") =>
                {
                    format -= 1;
                    self.structured.store(format, Ordering::Relaxed);
                    tracing::info!(endpoint = %self.url, format, "the judge's endpoint refuses this response_format; trying the next form");
                }
                other => return other,
            }
        }
    }

    async fn send(&self, messages: &Value, schema: &Value, format: u8, timeout: Duration) -> Result<String, CallError> {
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": 1024,
        });
        match format {
            JSON_SCHEMA => {
                body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "judgement", "strict": true, "schema": schema}})
            }
            JSON_OBJECT => body["response_format"] = json!({"type": "json_object", "schema": schema}),
            _ => {}
        }
        let mut request = self
            .http
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| self.transport(e, timeout))?;
        let status = response.status();
        let retry_after = crate::fetch::headers::retry_after(response.headers(), SystemTime::now());
        let bytes = read_limited(response).await.map_err(|e| self.transport(e, timeout))?;
        if status.as_u16() == 429 {
            return Err(CallError::RateLimited(retry_after));
        }
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(CallError::Status(status.as_u16(), text));
        }
        let reply: Value = serde_json::from_slice(&bytes).map_err(|e| CallError::Malformed(e.to_string()))?;
        reply["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CallError::Malformed("no choices[0].message.content".into()))
    }

    fn transport(&self, e: reqwest::Error, timeout: Duration) -> CallError {
        if e.is_timeout() { CallError::Timeout(timeout) } else { CallError::Unreachable(self.url.clone()) }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_ANSWER {
            out.truncate(MAX_ANSWER);
            break;
        }
    }
    Ok(out)
}

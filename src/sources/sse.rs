//! An LLM's streaming chat completion as a source (`--input sse+https://HOST/v1/chat/completions
//! --request FILE`): the request body from FILE is POSTed once, and the OpenAI-compatible
//! response (Server-Sent Events: `data:` lines of `chat.completion.chunk` JSON, then
//! `data: [DONE]`) becomes three channels, named after the source (`--name`, default
//! [`DEFAULT_NAME`]):
//!
//! - `<name>.tokens` (text): each `choices[0].delta.content` as one token, as the model sent it;
//! - `<name>.token_gap_ms` (scalar, ms): the time between a token's arrival and the previous
//!   token's (the first token has none);
//! - `<name>.finish` (event): the finish reason (`stop`, `length`, ...) with the tokens counted.
//!
//! The repetition detector then runs on the tokens and the pattern search on the gaps, as on
//! any text or scalar channel.
//!
//! Header values (`--header 'Authorization: Bearer $KEY'`) take `$VAR` and `${VAR}` from the
//! environment, so keys stay out of shell history; a value is never printed (errors name the
//! header and the variable only).
//!
//! Errors: a status other than 200 fails the source with the status and the start of the body
//! ([`ERROR_BODY_BYTES`]); a `data:` line that is not JSON is counted as a bad message and
//! listed, and the stream goes on; a response that ends without `[DONE]` (cut mid-event or
//! between events) keeps every token received and fails the source saying where it was cut.
//!
//! Memory: the parser keeps counters only; the one event being received is bounded by
//! [`MAX_EVENT_BYTES`] (a longer one fails the source), so a hostile or broken server cannot
//! grow it without end.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::input::ReportThrottle;

use crate::model::{
    Catalog, ChannelId, ChannelInfo, ChannelKind, FieldNames, FieldValue, Fields, InputReport,
    LinkState, MAX_LISTED_PROBLEMS, Record, SourceEvent, Value,
};

/// The source's name when `--name` is not given: the channels are `llm.tokens`, ...
pub const DEFAULT_NAME: &str = "llm";

/// Bytes of an error response's body quoted in the error.
pub const ERROR_BODY_BYTES: usize = 300;

/// Largest event (its `data:` lines together): OpenAI chunks are a few hundred bytes; 1 MiB
/// leaves room for any real chunk (tool calls, logprobs) and bounds what a server can make us
/// hold.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// How long connecting may take (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest silence between two reads of the response: a model that thinks for minutes
/// before its first token still streams within this; a dead connection is noticed.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Channel ids in the catalog.
const TOKENS: ChannelId = 0;
const GAPS: ChannelId = 1;
const FINISH: ChannelId = 2;

/// Whether `input` names an SSE endpoint (`sse+http://` or `sse+https://`).
pub fn is_sse_url(input: &str) -> bool {
    input.starts_with("sse+http://") || input.starts_with("sse+https://")
}

/// One `--header NAME: VALUE`, its value still with its `$VAR`s.
#[derive(Clone)]
pub struct HeaderTemplate {
    pub name: String,
    template: String,
}

/// Never shows the value: it may hold a key.
impl std::fmt::Debug for HeaderTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: <hidden>", self.name)
    }
}

impl std::str::FromStr for HeaderTemplate {
    type Err = String;

    /// `Name: value`; the name must be a header name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(
                "--header: expected NAME: VALUE (such as 'Authorization: Bearer $KEY')".to_owned(),
            );
        };
        let name = name.trim();
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("--header {name:?}: not a valid header name"));
        }
        Ok(Self {
            name: name.to_owned(),
            template: value.trim().to_owned(),
        })
    }
}

impl HeaderTemplate {
    /// The value with each `$VAR` and `${VAR}` replaced by the variable from `env`; a missing
    /// one is an error naming it (and the header), never the value. A `$` not followed by a
    /// name stays as it is.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::with_capacity(self.template.len());
        let mut rest = self.template.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (var, next) = if let Some(braced) = after.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (&braced[..end], &braced[end + 1..]),
                    None => {
                        return Err(format!(
                            "--header {}: `${{` without its closing `}}`",
                            self.name
                        ));
                    }
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
                continue;
            }
            match env(var) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(format!(
                        "--header {}: environment variable {var} is not set",
                        self.name
                    ));
                }
            }
            rest = next;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// What an `sse+https://...` input asks for.
#[derive(Debug, Clone)]
pub struct SseOptions {
    /// `sse+http://...` or `sse+https://...`, as given.
    pub url: String,
    /// The JSON file POSTed as the request body.
    pub request: PathBuf,
    pub headers: Vec<HeaderTemplate>,
    /// The channels' prefix; default [`DEFAULT_NAME`].
    pub name: Option<String>,
    /// Print each of the first problems on stderr as it happens (headless commands).
    pub echo_problems: bool,
}

impl SseOptions {
    pub fn new(url: impl Into<String>, request: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            request: request.into(),
            headers: Vec::new(),
            name: None,
            echo_problems: false,
        }
    }

    /// The HTTP(S) URL without its `sse+`.
    pub fn http_url(&self) -> &str {
        self.url.strip_prefix("sse+").unwrap_or(&self.url)
    }

    /// How the source is shown: the URL without its query (which may hold a key).
    pub fn label(&self) -> String {
        self.url
            .split(['?', '#'])
            .next()
            .unwrap_or(&self.url)
            .to_owned()
    }

    pub fn source_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned())
    }
}

/// Why the source cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("{0}")]
    Options(String),
    /// The I/O error is in the message, not a source: it would be printed twice.
    #[error("cannot read --request {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("--request {path}: {reason}")]
    Body { path: PathBuf, reason: String },
}

/// An SSE source with its request read and its headers resolved, ready to
/// [`run`](SseSource::run).
pub struct SseSource {
    opts: SseOptions,
    body: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

impl SseSource {
    /// Checks the URL, reads the request body (a JSON object; `"stream": true` is added when
    /// missing) and resolves the headers from the environment, so that each mistake is an
    /// error before anything is sent.
    pub fn new(opts: SseOptions) -> Result<Self, SseError> {
        Self::with_env(opts, |var| std::env::var(var).ok())
    }

    /// As [`new`](Self::new), with the variables from `env`.
    pub fn with_env(
        opts: SseOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SseError> {
        if !is_sse_url(&opts.url) {
            return Err(SseError::Options(format!(
                "{}: an SSE endpoint is sse+https://HOST/PATH or sse+http://HOST/PATH",
                opts.label()
            )));
        }
        if let Err(e) = reqwest::Url::parse(opts.http_url()) {
            return Err(SseError::Options(format!("{}: {e}", opts.label())));
        }
        if opts.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(SseError::Options("--name must not be empty".to_owned()));
        }
        let text = std::fs::read(&opts.request).map_err(|error| SseError::Read {
            path: opts.request.clone(),
            error,
        })?;
        let body_error = |reason: String| SseError::Body {
            path: opts.request.clone(),
            reason,
        };
        let mut request: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| body_error(format!("not JSON: {e}")))?;
        let Some(object) = request.as_object_mut() else {
            return Err(body_error(
                "not a JSON object (a chat completion request: {\"model\": ..., \"messages\": [...]})"
                    .to_owned(),
            ));
        };
        match object.get("stream") {
            None => {
                object.insert("stream".to_owned(), serde_json::Value::Bool(true));
            }
            Some(serde_json::Value::Bool(true)) => {}
            Some(other) => {
                return Err(body_error(format!(
                    "\"stream\" is {other}: a token stream needs \"stream\": true (or no \"stream\")"
                )));
            }
        }
        let body = serde_json::to_vec(&request).map_err(|e| body_error(e.to_string()))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for header in &opts.headers {
            let value = header.resolve(&env).map_err(SseError::Options)?;
            let name =
                reqwest::header::HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                    SseError::Options(format!(
                        "--header {:?}: not a valid header name",
                        header.name
                    ))
                })?;
            let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                SseError::Options(format!(
                    "--header {}: the value (after $VAR substitution) has characters a header cannot carry",
                    header.name
                ))
            })?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        Ok(Self {
            opts,
            body,
            headers,
        })
    }

    pub fn options(&self) -> &SseOptions {
        &self.opts
    }

    /// The channels, known before the first byte.
    pub fn catalog(&self) -> Catalog {
        chat_catalog(&self.opts.source_name(), &self.opts.label())
    }

    /// POSTs the request and sends the response's records to `events` until the stream ends
    /// (the link `Ended`), fails (`Failed`, with every token received so far sent before), or
    /// the consumer goes away.
    pub async fn run(self, events: mpsc::Sender<SourceEvent>) {
        let mut reading = Reading::new(&self.opts);
        let end = self.run_inner(&events, &mut reading).await;
        let link = match end {
            Ok(None) => return,
            Ok(Some(reason)) => LinkState::Ended { reason },
            Err(reason) => LinkState::Failed { reason },
        };
        if !reading.flush(&events, true).await {
            return;
        }
        let _ = events.send(SourceEvent::Link(link)).await;
    }

    /// `Ok(Some(reason))`: the stream ended with `[DONE]`; `Ok(None)`: the consumer went away;
    /// `Err(reason)`: the request or the stream failed.
    async fn run_inner(
        &self,
        events: &mpsc::Sender<SourceEvent>,
        reading: &mut Reading,
    ) -> Result<Option<String>, String> {
        let label = self.opts.label();
        if events
            .send(SourceEvent::Link(LinkState::Connecting))
            .await
            .is_err()
            || events
                .send(SourceEvent::Catalog(self.catalog()))
                .await
                .is_err()
        {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            // A POST is not followed to another place: a redirect is reported as its status.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot make the HTTP client: {e}"))?;
        let start = Instant::now();
        let response = client
            .post(self.opts.http_url())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .body(self.body.clone())
            .send()
            .await
            // Without the URL: reqwest's message would repeat it with its query.
            .map_err(|e| format!("cannot reach {label}: {}", request_error(&e)))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let body = error_body(response).await;
            return Err(format!("HTTP {status} from {label}: {body}"));
        }
        if events
            .send(SourceEvent::Link(LinkState::Connected {
                remote: label.clone(),
            }))
            .await
            .is_err()
        {
            return Ok(None);
        }
        let framing = Arc::new(FramingGuard::default());
        let guard = framing.clone();
        let bytes = response.bytes_stream().map(move |chunk| match chunk {
            Ok(bytes) => guard.take(&bytes).map(|()| bytes),
            Err(e) => Err(request_error(&e)),
        });
        let mut stream = bytes.eventsource();
        let mut report_tick = tokio::time::interval(super::input::REPORT_INTERVAL);
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = report_tick.tick() => {
                    if !reading.flush(events, false).await {
                        return Ok(None);
                    }
                    continue;
                }
            };
            let arrival_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            match item {
                Some(Ok(event)) => {
                    if reading
                        .chat
                        .event(&event.data, arrival_ns, &mut reading.out)
                        == ChatStep::Done
                    {
                        reading.note_problems();
                        return Ok(Some(format!("end of stream: {}", reading.chat.summary())));
                    }
                    reading.note_problems();
                }
                Some(Err(EventStreamError::Transport(reason))) => {
                    return Err(format!(
                        "the response from {label} was cut after {}: {reason}",
                        reading.chat.summary()
                    ));
                }
                Some(Err(e)) => {
                    // Not UTF-8, or not SSE: the stream cannot be read on from here.
                    return Err(format!(
                        "the response from {label} is not an event stream after {}: {e}",
                        reading.chat.summary()
                    ));
                }
                None => {
                    let pending = framing.pending.load(Ordering::Relaxed);
                    let place = if pending > 0 {
                        format!("in the middle of an event ({pending} bytes of it unused)")
                    } else {
                        "between events".to_owned()
                    };
                    return Err(format!(
                        "the response from {label} was cut {place}, before [DONE], after {}",
                        reading.chat.summary()
                    ));
                }
            }
            // Whatever else is waiting is parsed before the records are handed on.
            if !reading.out.is_empty() && !reading.flush(events, false).await {
                return Ok(None);
            }
        }
    }
}

/// A request error's chain without its URL (the query may hold a key).
fn request_error(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_body() || error.is_decode() {
        "error reading the body".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of an error response's body, on one line.
async fn error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if body.is_empty() {
        return "(no body)".to_owned();
    }
    let cut = body.len() > ERROR_BODY_BYTES;
    body.truncate(ERROR_BODY_BYTES);
    let text = String::from_utf8_lossy(&body);
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cut {
        line.push_str(" ...");
    }
    line
}

/// Watches the raw bytes for event boundaries (a blank line): how many bytes the event being
/// received has so far, refused past [`MAX_EVENT_BYTES`].
#[derive(Default)]
struct FramingGuard {
    /// Bytes since the last blank line, line breaks of a line of its own not counted.
    pending: AtomicUsize,
    /// The last byte was a line feed (so a second one ends the event).
    after_newline: std::sync::atomic::AtomicBool,
}

impl FramingGuard {
    fn take(&self, bytes: &[u8]) -> Result<(), String> {
        let mut pending = self.pending.load(Ordering::Relaxed);
        let mut after_newline = self.after_newline.load(Ordering::Relaxed);
        for &b in bytes {
            match b {
                b'\n' if after_newline => pending = 0,
                b'\n' => after_newline = true,
                b'\r' => {}
                _ => {
                    after_newline = false;
                    pending += 1;
                }
            }
        }
        self.pending.store(pending, Ordering::Relaxed);
        self.after_newline.store(after_newline, Ordering::Relaxed);
        if pending > MAX_EVENT_BYTES {
            return Err(format!(
                "an event longer than {MAX_EVENT_BYTES} bytes (no blank line ends it)"
            ));
        }
        Ok(())
    }
}

/// The channels of a chat stream named `name` (source description `label`).
pub fn chat_catalog(name: &str, label: &str) -> Catalog {
    Catalog {
        source: format!("{name} ({label})"),
        channels: vec![
            ChannelInfo {
                id: TOKENS,
                name: format!("{name}.tokens"),
                kind: ChannelKind::Text,
                unit: None,
                period_s: None,
            },
            ChannelInfo {
                id: GAPS,
                name: format!("{name}.token_gap_ms"),
                kind: ChannelKind::Scalar,
                unit: Some("ms".to_owned()),
                period_s: None,
            },
            ChannelInfo {
                id: FINISH,
                name: format!("{name}.finish"),
                kind: ChannelKind::Event {
                    fields: vec!["reason".to_owned(), "tokens".to_owned()],
                },
                unit: None,
                period_s: None,
            },
        ],
    }
}

/// What one event meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStep {
    /// Go on reading.
    More,
    /// `data: [DONE]`: the stream is complete.
    Done,
}

/// What a chat stream has brought so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatStats {
    /// Events with data.
    pub events: u64,
    /// Tokens (non-empty `delta.content`s).
    pub tokens: u64,
    /// Events whose data was not JSON, or an error object.
    pub bad_messages: u64,
    /// The last finish reason.
    pub finish_reason: Option<String>,
}

/// One bad event: `event 7: data is not JSON: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatProblem {
    /// The event's number, counting from 1.
    pub event: u64,
    pub reason: String,
}

impl std::fmt::Display for ChatProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event {}: {}", self.event, self.reason)
    }
}

/// Bytes of a bad `data:` line quoted in its problem.
const QUOTED_DATA_CHARS: usize = 60;

/// Turns the `data` of each event of an OpenAI-compatible chat stream into records of the
/// [`chat_catalog`] channels. Holds counters and the last token's time only.
#[derive(Debug)]
pub struct ChatStream {
    pub stats: ChatStats,
    /// The problems since they were last taken (at most [`MAX_LISTED_PROBLEMS`] kept; the
    /// rest are counted in `stats`).
    pub problems: Vec<ChatProblem>,
    last_token_ns: Option<u64>,
    seq: [u64; 3],
    finish_names: FieldNames,
    finish_slots: Vec<usize>,
}

impl Default for ChatStream {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatStream {
    pub fn new() -> Self {
        let (finish_names, finish_slots) = FieldNames::from_unsorted(&["reason", "tokens"]);
        Self {
            stats: ChatStats::default(),
            problems: Vec::new(),
            last_token_ns: None,
            seq: [0; 3],
            finish_names,
            finish_slots,
        }
    }

    /// One event's `data`, arrived at `arrival_ns` (since the request): its token, gap and
    /// finish reason records go to `out`.
    pub fn event(&mut self, data: &str, arrival_ns: u64, out: &mut Vec<Record>) -> ChatStep {
        let data = data.trim();
        if data.is_empty() {
            return ChatStep::More;
        }
        if data == "[DONE]" {
            return ChatStep::Done;
        }
        self.stats.events += 1;
        let chunk: ChatChunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                let reason = if data.starts_with('{') {
                    format!("data is not a chat chunk: {e}: {}", quote(data))
                } else {
                    format!("data is not JSON: {}", quote(data))
                };
                self.bad(reason);
                return ChatStep::More;
            }
        };
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| error.to_string(), str::to_owned);
            self.bad(format!("the server sent an error: {}", quote(&message)));
            return ChatStep::More;
        }
        // `choices` is empty in the usage chunk some servers send last.
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return ChatStep::More;
        };
        if let Some(content) = choice.delta.and_then(|d| d.content)
            && !content.is_empty()
        {
            if let Some(last) = self.last_token_ns {
                let gap_ms = arrival_ns.saturating_sub(last) as f64 / 1e6;
                self.push(out, GAPS, arrival_ns, Value::Scalar(gap_ms));
            }
            self.last_token_ns = Some(arrival_ns);
            self.stats.tokens += 1;
            self.push(out, TOKENS, arrival_ns, Value::Token(content));
        }
        if let Some(reason) = choice.finish_reason {
            let mut fields = Fields::with_names(self.finish_names.clone());
            fields.set(self.finish_slots[0], FieldValue::Text(reason.clone()));
            fields.set(
                self.finish_slots[1],
                FieldValue::Number(self.stats.tokens as f64),
            );
            self.stats.finish_reason = Some(reason);
            self.push(out, FINISH, arrival_ns, Value::Fields(fields));
        }
        ChatStep::More
    }

    /// `12 tokens, finish reason stop` (or `no finish reason`), and the bad messages.
    pub fn summary(&self) -> String {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut text = plural(self.stats.tokens, "token");
        match &self.stats.finish_reason {
            Some(reason) => text.push_str(&format!(", finish reason {reason}")),
            None => text.push_str(", no finish reason"),
        }
        if self.stats.bad_messages > 0 {
            text.push_str(&format!(
                ", {}",
                plural(self.stats.bad_messages, "bad message")
            ));
        }
        text
    }

    fn bad(&mut self, reason: String) {
        self.stats.bad_messages += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(ChatProblem {
                event: self.stats.events,
                reason,
            });
        }
    }

    fn push(&mut self, out: &mut Vec<Record>, channel: ChannelId, t_ns: u64, value: Value) {
        let seq = &mut self.seq[channel as usize];
        out.push(Record {
            channel,
            seq: *seq,
            t_ns,
            value,
        });
        *seq += 1;
    }
}

/// The start of `text`, quoted, on one line.
fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(QUOTED_DATA_CHARS).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    format!("{short:?}")
}

/// The part of a `chat.completion.chunk` that is read; everything else is ignored.
#[derive(serde::Deserialize)]
struct ChatChunk {
    #[serde(default)]
    choices: Vec<ChatChoice>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct ChatChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<ChatDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(serde::Deserialize)]
struct ChatDelta {
    #[serde(default)]
    content: Option<String>,
}

/// The state of reading: the parser, what waits to be handed on, the report.
struct Reading {
    chat: ChatStream,
    out: Vec<Record>,
    report: InputReport,
    throttle: ReportThrottle,
    echo_problems: bool,
    label: String,
}

impl Reading {
    fn new(opts: &SseOptions) -> Self {
        Self {
            chat: ChatStream::new(),
            out: Vec::new(),
            report: InputReport::default(),
            throttle: ReportThrottle::new(Instant::now()),
            echo_problems: opts.echo_problems,
            label: opts.label(),
        }
    }

    /// Moves the parser's new problems into the report.
    fn note_problems(&mut self) {
        for problem in self.chat.problems.drain(..) {
            let text = problem.to_string();
            if self.report.first.len() < MAX_LISTED_PROBLEMS {
                if self.echo_problems {
                    elog!("midstream-tui: {}: {text}", self.label);
                }
                self.report.first.push(text.clone());
            }
            self.report.latest = Some(text);
        }
        if self.report.bad_messages != self.chat.stats.bad_messages {
            self.report.bad_messages = self.chat.stats.bad_messages;
            self.throttle.changed();
        }
    }

    /// Hands on the records, and the report when it changed (at most every
    /// [`REPORT_INTERVAL`](super::input::REPORT_INTERVAL) unless `last`).
    async fn flush(&mut self, events: &mpsc::Sender<SourceEvent>, last: bool) -> bool {
        if !self.out.is_empty()
            && events
                .send(SourceEvent::Records(std::mem::take(&mut self.out)))
                .await
                .is_err()
        {
            return false;
        }
        self.report.lines = self.chat.stats.events;
        if self.throttle.due(last, Instant::now()) {
            return events
                .send(SourceEvent::Input(self.report.clone()))
                .await
                .is_ok();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "KEY" => Some("sk-test-123".to_owned()),
            "ORG" => Some("org-9".to_owned()),
            _ => None,
        }
    }

    fn header(text: &str) -> HeaderTemplate {
        text.parse().unwrap()
    }

    #[test]
    fn header_values_take_variables_from_the_environment() {
        assert_eq!(
            header("Authorization: Bearer $KEY").resolve(env),
            Ok("Bearer sk-test-123".to_owned())
        );
        assert_eq!(
            header("X-Org: ${ORG}-a$ORG.b").resolve(env),
            Ok("org-9-aorg-9.b".to_owned())
        );
        assert_eq!(
            header("X-Cost: $5 or $").resolve(env),
            Ok("$5 or $".to_owned())
        );
        let missing = header("Authorization: Bearer $OPENAI_API_KEY").resolve(env);
        assert_eq!(
            missing,
            Err(
                "--header Authorization: environment variable OPENAI_API_KEY is not set".to_owned()
            )
        );
        assert!(header("X: ${KEY").resolve(env).is_err());
        assert!("no colon".parse::<HeaderTemplate>().is_err());
        assert!("bad name: x".parse::<HeaderTemplate>().is_err());
        // The value never shows in a debug print.
        let debug = format!("{:?}", header("Authorization: Bearer sk-secret"));
        assert!(!debug.contains("sk-secret"), "{debug}");
    }

    #[test]
    fn chunks_become_tokens_gaps_and_the_finish_reason() {
        let mut chat = ChatStream::new();
        let mut out = Vec::new();
        let role = r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        let token = |t: &str| {
            format!(
                r#"{{"id":"c","choices":[{{"index":0,"delta":{{"content":{t:?}}},"logprobs":null,"finish_reason":null}}]}}"#
            )
        };
        let end = r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        let usage = r#"{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#;
        assert_eq!(chat.event(role, 100, &mut out), ChatStep::More);
        assert_eq!(
            chat.event(&token("Hello"), 1_000_000, &mut out),
            ChatStep::More
        );
        assert_eq!(chat.event("not json", 1_500_000, &mut out), ChatStep::More);
        assert_eq!(
            chat.event(&token(" world"), 4_000_000, &mut out),
            ChatStep::More
        );
        assert_eq!(chat.event(end, 4_100_000, &mut out), ChatStep::More);
        assert_eq!(chat.event(usage, 4_200_000, &mut out), ChatStep::More);
        assert_eq!(chat.event("[DONE]", 4_300_000, &mut out), ChatStep::Done);
        let tokens: Vec<_> = out.iter().filter(|r| r.channel == TOKENS).collect();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].value, Value::Token(" world".to_owned()));
        assert_eq!(tokens[1].seq, 1);
        let gaps: Vec<_> = out.iter().filter(|r| r.channel == GAPS).collect();
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].value, Value::Scalar(3.0));
        let finish: Vec<_> = out.iter().filter(|r| r.channel == FINISH).collect();
        let Value::Fields(fields) = &finish[0].value else {
            panic!("{finish:?}");
        };
        assert_eq!(
            fields.get("reason"),
            Some(&FieldValue::Text("stop".to_owned()))
        );
        assert_eq!(fields.get("tokens"), Some(&FieldValue::Number(2.0)));
        assert_eq!(chat.stats.bad_messages, 1);
        assert_eq!(
            chat.problems[0].to_string(),
            "event 3: data is not JSON: \"not json\""
        );
        assert_eq!(
            chat.summary(),
            "2 tokens, finish reason stop, 1 bad message"
        );
    }

    #[test]
    fn the_framing_guard_sees_where_an_event_was_cut_and_bounds_it() {
        let guard = FramingGuard::default();
        guard.take(b"data: {\"a\":1}\r\n\r\ndata: {\"b\"").unwrap();
        assert_eq!(guard.pending.load(Ordering::Relaxed), 10);
        guard.take(b":2}\n").unwrap();
        guard.take(b"\n").unwrap();
        assert_eq!(guard.pending.load(Ordering::Relaxed), 0);
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(guard.take(&big).is_err());
    }
}

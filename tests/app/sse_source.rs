//! An LLM's streaming chat completion as a source, against a real HTTP server on loopback
//! (`common::sse`) that streams recorded OpenAI-style responses (`tests/fixtures/sources/
//! chat_*.sse`): tokens, the time between them and the finish reason; the `Authorization`
//! header built from the environment; a response cut mid-event; a malformed `data:` line; a
//! refused key; the repetition detector and the pattern search on the channels; and the real
//! binary's `record --input sse+http://...`, `serve --input sse+http://...` → `record`, and
//! `open sse+http://...` in a pseudo-terminal. Only the loopback server is ever asked.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use midstream::model::{Catalog, FieldValue, InputReport, LinkState, Record, SourceEvent, Value};
use midstream::pipeline::AnalysisConfig;
use midstream::pipeline::library::builtin_patterns;
use midstream::session::{Session, SessionOptions, SessionSource};
use midstream::sources::sse::{SseError, SseOptions, SseSource};
use portable_pty::CommandBuilder;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::common::binary::{self, BIN};
use crate::common::fixtures;
use crate::common::pty::Pty;
use crate::common::sse::{Answer, SseServer};

/// Generous: the machine is shared, and nothing here waits for this long when it works.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The key the servers want, and the variable the tests give it in.
const KEY: &str = "sk-test-4f9a27c1e0";
const KEY_VAR: &str = "MIDSTREAM_TEST_LLM_KEY";

/// What the source has sent so far.
#[derive(Default)]
struct Seen {
    catalog: Catalog,
    records: Vec<Record>,
    report: Option<InputReport>,
    links: Vec<LinkState>,
}

impl Seen {
    fn of(&self, name: &str) -> Vec<&Record> {
        let Some(id) = self
            .catalog
            .channels
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.id)
        else {
            return Vec::new();
        };
        self.records.iter().filter(|r| r.channel == id).collect()
    }

    fn tokens(&self) -> Vec<String> {
        self.of("llm.tokens")
            .iter()
            .filter_map(|r| match &r.value {
                Value::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The final link state, once there is one.
    fn end(&self) -> Option<&LinkState> {
        self.links
            .last()
            .filter(|l| matches!(l, LinkState::Ended { .. } | LinkState::Failed { .. }))
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn request_file() -> PathBuf {
    fixtures::path("sources/chat_request.json")
}

fn options(server: &SseServer) -> SseOptions {
    let mut opts = SseOptions::new(server.url(), request_file());
    opts.headers = vec![
        format!("Authorization: Bearer ${{{KEY_VAR}}}")
            .parse()
            .unwrap(),
        "X-Client: midstream-test".parse().unwrap(),
    ];
    opts
}

/// The environment the tests give the source: the key and nothing else.
fn env(var: &str) -> Option<String> {
    (var == KEY_VAR).then(|| KEY.to_owned())
}

/// Runs the source on `rt`, collecting what it sends, until its link ends.
fn stream(rt: &Runtime, opts: SseOptions) -> Seen {
    let source = SseSource::with_env(opts, env).expect("valid options");
    let (tx, mut rx) = mpsc::channel(1024);
    rt.spawn(source.run(tx));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    rt.spawn(async move {
        while let Some(event) = rx.recv().await {
            let mut seen = sink.lock().unwrap();
            match event {
                SourceEvent::Catalog(catalog) => seen.catalog = catalog,
                SourceEvent::Records(records) => seen.records.extend(records),
                SourceEvent::Input(report) => seen.report = Some(report),
                SourceEvent::Link(link) => seen.links.push(link),
                _ => {}
            }
        }
    });
    let start = Instant::now();
    while seen.lock().unwrap().end().is_none() {
        assert!(
            start.elapsed() < TIMEOUT,
            "the stream never ended: {:?}",
            seen.lock().unwrap().links
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::mem::take(&mut *seen.lock().unwrap())
}

/// The tokens of a fixture as the test reads them itself: each `data:` line that is a JSON
/// chunk with a non-empty `choices[0].delta.content`.
fn fixture_tokens(name: &str) -> Vec<String> {
    fixtures::text(&format!("sources/{name}"))
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn a_chat_stream_becomes_tokens_gaps_and_the_finish_reason() {
    let pace = Duration::from_millis(4);
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", pace).requiring(&format!("Bearer {KEY}")),
    );
    let rt = runtime();
    let seen = stream(&rt, options(&server));

    let names: Vec<&str> = seen.catalog.names().collect();
    assert_eq!(names, ["llm.tokens", "llm.token_gap_ms", "llm.finish"]);
    let expected = fixture_tokens("chat_stream.sse");
    assert_eq!(expected.len(), 109, "the fixture's own count");
    assert_eq!(seen.tokens(), expected);
    assert_eq!(
        seen.end(),
        Some(&LinkState::Ended {
            reason: "end of stream: 109 tokens, finish reason length".to_owned()
        })
    );

    // Each gap is the time between its token and the one before, in ms.
    let tokens = seen.of("llm.tokens");
    let gaps: Vec<f64> = seen
        .of("llm.token_gap_ms")
        .iter()
        .filter_map(|r| r.value.as_f64())
        .collect();
    assert_eq!(gaps.len(), tokens.len() - 1);
    for (i, gap) in gaps.iter().enumerate() {
        let between = (tokens[i + 1].t_ns - tokens[i].t_ns) as f64 / 1e6;
        assert!((gap - between).abs() < 1e-9, "gap {i}: {gap} vs {between}");
    }
    // The server paused `pace` after each of the 108 events between the first token and the
    // last: the gaps add up to at least that, however late the first token was read.
    let total_ms: f64 = gaps.iter().sum();
    let paced_ms = 108.0 * pace.as_secs_f64() * 1e3;
    assert!(total_ms >= paced_ms * 0.9, "{total_ms} ms < {paced_ms} ms");

    let finish = seen.of("llm.finish");
    assert_eq!(finish.len(), 1);
    let Value::Fields(fields) = &finish[0].value else {
        panic!("{finish:?}");
    };
    assert_eq!(
        fields.get("reason"),
        Some(&FieldValue::Text("length".into()))
    );
    assert_eq!(fields.get("tokens"), Some(&FieldValue::Number(109.0)));

    // One request, to the loopback server, with the key from the environment.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("x-client"), Some("midstream-test"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&fixtures::text("sources/chat_request.json")).unwrap();
    assert_eq!(sent, file, "the request file's body, as it is");
}

#[test]
fn a_response_cut_mid_event_keeps_its_tokens_and_says_where() {
    let server = SseServer::start(Answer::fixture(
        "chat_stream_cut.sse",
        Duration::from_millis(1),
    ));
    let rt = runtime();
    let seen = stream(&rt, options(&server));
    let expected = fixture_tokens("chat_stream_cut.sse");
    assert_eq!(expected.len(), 24);
    assert_eq!(seen.tokens(), expected, "every token before the cut");
    assert_eq!(seen.of("llm.token_gap_ms").len(), 23);
    assert!(seen.of("llm.finish").is_empty());
    let Some(LinkState::Failed { reason }) = seen.end() else {
        panic!("{:?}", seen.links);
    };
    assert!(
        reason.contains("was cut in the middle of an event")
            && reason.contains("before [DONE], after 24 tokens, no finish reason"),
        "{reason}"
    );
}

#[test]
fn a_malformed_data_line_is_counted_and_the_stream_goes_on() {
    let server = SseServer::start(Answer::fixture(
        "chat_stream_malformed.sse",
        Duration::from_millis(1),
    ));
    let rt = runtime();
    let seen = stream(&rt, options(&server));
    let expected = fixture_tokens("chat_stream_malformed.sse");
    assert_eq!(expected.len(), 15);
    assert_eq!(
        seen.tokens(),
        expected,
        "the tokens before and after the bad lines"
    );
    assert_eq!(
        seen.end(),
        Some(&LinkState::Ended {
            reason: "end of stream: 15 tokens, finish reason stop, 2 bad messages".to_owned()
        })
    );
    let report = seen.report.as_ref().expect("a report of the bad lines");
    assert_eq!(report.bad_messages, 2);
    assert_eq!(report.first.len(), 2, "{report:?}");
    assert!(
        report.first[0].starts_with("event 7: data is not JSON: \"<html><head><title>502"),
        "{report:?}"
    );
    assert!(
        report.first[1].starts_with("event 10: data is not a chat chunk: EOF while parsing"),
        "{report:?}"
    );
    assert_eq!(
        report.summary(),
        format!("2 bad messages (latest: {})", report.first[1])
    );
}

#[test]
fn a_refused_key_is_an_http_error_with_the_body_and_never_the_key() {
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", Duration::ZERO).requiring("Bearer another-key"),
    );
    let rt = runtime();
    let seen = stream(&rt, options(&server));
    let Some(LinkState::Failed { reason }) = seen.end() else {
        panic!("{:?}", seen.links);
    };
    assert!(
        reason.starts_with(&format!("HTTP 401 Unauthorized from {}: {{ \"error\": {{ \"message\": \"Incorrect API key provided", server.url())),
        "{reason}"
    );
    assert!(!reason.contains(KEY), "the key is never shown: {reason}");
    assert!(seen.records.is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn options_are_checked_before_anything_is_sent() {
    let server = SseServer::start(Answer::fixture("chat_stream.sse", Duration::ZERO));
    let error = |opts: SseOptions| match SseSource::with_env(opts, |_| None) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    // A variable that is not set is named, with its header.
    let missing = error(options(&server));
    assert_eq!(
        missing,
        format!("--header Authorization: environment variable {KEY_VAR} is not set")
    );
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, "{\"model\": \"m\", \"stream\": false}").unwrap();
    let e = error(SseOptions::new(server.url(), &body));
    assert!(e.contains("\"stream\" is false"), "{e}");
    std::fs::write(&body, "model: m").unwrap();
    let e = error(SseOptions::new(server.url(), &body));
    assert!(
        e.starts_with(&format!("--request {}: not JSON", body.display())),
        "{e}"
    );
    let e = error(SseOptions::new(server.url(), dir.path().join("none.json")));
    assert!(e.starts_with("cannot read --request"), "{e}");
    let e = error(SseOptions::new("sse+ftp://x/y", &body));
    assert!(e.contains("sse+https://HOST/PATH"), "{e}");
    // A body without "stream" gets it.
    std::fs::write(&body, "{\"model\": \"m\", \"messages\": []}").unwrap();
    assert!(SseSource::with_env(SseOptions::new(server.url(), &body), |_| None).is_ok());
    assert!(matches!(
        SseSource::with_env(SseOptions::new(server.url(), dir.path()), |_| None),
        Err(SseError::Read { .. })
    ));
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn the_repetition_detector_and_the_pattern_search_run_on_the_stream() {
    // Fast tokens, then a model that slows down (from event 30 on): a step up in the time
    // between tokens, which the built-in `step-up` pattern describes. (A search reports a
    // match once a pattern's length of samples has followed it, so the step comes early.)
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", Duration::from_millis(3))
            .requiring(&format!("Bearer {KEY}"))
            .slowing(30, Duration::from_millis(45)),
    );
    let rt = runtime();
    let source = SseSource::with_env(options(&server), env).unwrap();
    let mut session_opts = SessionOptions::new("llm");
    session_opts.analysis = Some(AnalysisConfig {
        patterns: builtin_patterns(),
        ..AnalysisConfig::default()
    });
    let _guard = rt.enter();
    let session = Session::start(SessionSource::Sse(source), session_opts).unwrap();
    let start = Instant::now();
    let snapshot = loop {
        let snapshot = session.snapshots.borrow().clone();
        let ended = matches!(snapshot.source.link, LinkState::Ended { .. });
        let found = !snapshot.analysis.repetitions.is_empty()
            && snapshot
                .analysis
                .matches
                .iter()
                .any(|m| m.channel_name == "llm.token_gap_ms" && m.pattern == "step-up");
        if ended && found {
            break snapshot;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "link {:?}, repetitions {:?}, matches {:?}",
            snapshot.source.link,
            snapshot.analysis.repetitions,
            snapshot.analysis.matches
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // The loop is "I will check the heap logs again and", 8 tokens, from token 37 on.
    let loops = &snapshot.analysis.repetitions;
    assert!(
        loops.iter().all(|r| r.channel_name == "llm.tokens"),
        "{loops:?}"
    );
    assert!(loops.iter().all(|r| r.lag % 8 == 0), "{loops:?}");
    assert!(loops.iter().all(|r| r.at_token > 37), "{loops:?}");
    assert!(loops[0].tokens.iter().any(|t| t == " heap"), "{loops:?}");
    let step = snapshot
        .analysis
        .matches
        .iter()
        .find(|m| m.channel_name == "llm.token_gap_ms" && m.pattern == "step-up")
        .unwrap();
    // The step is at gap 29 (the pause after event 30, token 30's chunk, is the 30th gap);
    // the match's window holds it.
    let window = step.start_sample..step.start_sample + step.len as u64;
    assert!(window.contains(&29), "{step:?}");
}

/// Runs the binary in `dir` with the key in the environment.
fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    binary::finish(
        binary::command(dir)
            .current_dir(dir)
            .env(KEY_VAR, KEY)
            .args(args),
    )
}

/// `replay --headless` of `trace`: channel name → (records, gaps).
fn replayed(trace: &std::path::Path, dir: &std::path::Path) -> Vec<(String, u64, u64)> {
    let (ok, report, stderr) = binary::replay_headless(dir, &[], trace);
    assert!(ok, "{stderr}");
    report
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("recovery:"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[0].to_owned(),
                w[2].parse().unwrap(),
                w[3].parse().unwrap(),
            )
        })
        .collect()
}

fn header_flag() -> String {
    format!("Authorization: Bearer ${KEY_VAR}")
}

#[test]
fn record_input_sse_writes_the_stream_and_names_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let request = request_file();
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", Duration::from_millis(1))
            .requiring(&format!("Bearer {KEY}")),
    );
    let (ok, stdout, stderr) = run(
        d,
        &[
            "record",
            "--input",
            &server.url(),
            "--request",
            request.to_str().unwrap(),
            "--header",
            &header_flag(),
            "-o",
            "llm.mtr",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("recorded 218 records to llm.mtr"),
        "{stdout}"
    );
    assert_eq!(
        replayed(&d.join("llm.mtr"), d),
        [
            ("llm.tokens".to_owned(), 109, 0),
            ("llm.token_gap_ms".to_owned(), 108, 0),
            ("llm.finish".to_owned(), 1, 0)
        ]
    );

    // A cut response: what came is recorded, and the cut is said.
    let cut = SseServer::start(Answer::fixture("chat_stream_cut.sse", Duration::ZERO));
    let (ok, stdout, stderr) = run(
        d,
        &[
            "record",
            "--input",
            &cut.url(),
            "--request",
            request.to_str().unwrap(),
            "--name",
            "gpt",
            "-o",
            "cut.mtr",
        ],
    );
    assert!(
        stdout.starts_with("recorded 47 records to cut.mtr"),
        "{ok} {stdout} {stderr}"
    );
    assert!(
        stderr.contains("was cut in the middle of an event"),
        "{stderr}"
    );
    let rows = replayed(&d.join("cut.mtr"), d);
    assert_eq!(rows[0], ("gpt.tokens".to_owned(), 24, 0));

    // Without the variable: an error naming it, and nothing sent.
    let (ok, _, stderr) =
        binary::finish(binary::command(d).current_dir(d).env_remove(KEY_VAR).args([
            "record",
            "--input",
            &server.url(),
            "--request",
            request.to_str().unwrap(),
            "--header",
            &header_flag(),
            "-o",
            "none.mtr",
        ]));
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "--header Authorization: environment variable {KEY_VAR} is not set"
        )),
        "{stderr}"
    );
    // --request is needed, and is for sse inputs only.
    let (ok, _, stderr) = run(d, &["record", "--input", &server.url(), "-o", "x.mtr"]);
    assert!(!ok && stderr.contains("needs --request FILE"), "{stderr}");
    let (ok, _, stderr) = run(
        d,
        &[
            "record",
            "--input",
            "x.csv",
            "--request",
            "r.json",
            "-o",
            "x.mtr",
        ],
    );
    assert!(
        !ok && stderr.contains("--request and --header are for an LLM's token stream"),
        "{stderr}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "only the first run sent a request"
    );
}

#[test]
fn serve_input_sse_publishes_the_tokens_over_quic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", Duration::from_millis(1))
            .requiring(&format!("Bearer {KEY}")),
    );
    let request = request_file();
    let served = binary::serve_with_env(
        d,
        "127.0.0.1:0",
        &[
            "--input",
            &server.url(),
            "--request",
            request.to_str().unwrap(),
            "--header",
            &header_flag(),
        ],
        &[(KEY_VAR, KEY)],
    );
    assert!(
        server.requests().is_empty(),
        "the request waits for the first client"
    );
    let (ok, _, stderr) = run(
        d,
        &[
            "record",
            &served.addr,
            "--pin",
            &served.pin,
            "--duration",
            "8",
            "-o",
            "served.mtr",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        replayed(&d.join("served.mtr"), d),
        [
            ("llm.tokens".to_owned(), 109, 0),
            ("llm.token_gap_ms".to_owned(), 108, 0),
            ("llm.finish".to_owned(), 1, 0)
        ]
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn open_sse_shows_the_stream_its_loop_and_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = SseServer::start(
        Answer::fixture("chat_stream.sse", Duration::from_millis(2))
            .requiring(&format!("Bearer {KEY}")),
    );
    let mut command = CommandBuilder::new(BIN);
    command.env("HOME", dir.path());
    command.env("XDG_CONFIG_HOME", dir.path());
    command.env_remove("MIDSTREAM_CONFIG");
    command.env(KEY_VAR, KEY);
    command.cwd(dir.path());
    let request = request_file();
    command.args([
        "open",
        &server.url(),
        "--request",
        request.to_str().unwrap(),
        "--header",
        &header_flag(),
    ]);
    let mut pty = Pty::spawn(command, 48, 160);
    let screen = pty.wait_for("the end of the stream", TIMEOUT, |s| {
        s.contains("end of stream: 109 tokens, finish reason length")
    });
    for name in ["llm.tokens", "llm.token_gap_ms", "llm.finish"] {
        assert!(screen.contains(name), "{name}:\n{screen}");
    }
    let screen = pty.wait_for("the loop in the Patterns pane", TIMEOUT, |s| {
        s.contains("loop") && s.contains("heap")
    });
    assert!(screen.contains("llm.tokens"), "{screen}");
    pty.send(b"q");
    assert_eq!(pty.wait_exit("q", Duration::from_secs(10)).exit_code(), 0);
}

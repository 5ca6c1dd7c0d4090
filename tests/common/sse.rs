//! A real HTTP server on a free loopback port that answers every POST with a recorded
//! Server-Sent Events response (`tests/fixtures/sources/chat_*.sse`), written event by event
//! with a pause between them, as a language model's API streams its tokens. It checks the
//! `Authorization` header it gets (a wrong one is answered 401 with OpenAI's error body) and
//! keeps every request, so that tests see what was sent and that only this server was asked.
//!
//! Plain `std::net` and a thread per connection: HTTP/1.1 with `Connection: close`, the body
//! written until the connection closes, so a fixture that ends mid-event is a response cut there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::fixtures;

/// One request as the server got it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The response body (an SSE stream).
    pub body: Vec<u8>,
    /// Pause after each event (each blank line).
    pub pace: Duration,
    /// The `Authorization` value to require; another (or none) gets a 401.
    pub authorization: Option<String>,
    /// From this event on (counting from 0), this pause instead of `pace`: a model that
    /// slows down, a step in the time between tokens.
    pub slow_from: Option<(usize, Duration)>,
}

impl Answer {
    /// The fixture `tests/fixtures/sources/NAME`, paced by `pace`.
    pub fn fixture(name: &str, pace: Duration) -> Self {
        Self {
            body: std::fs::read(fixtures::path(&format!("sources/{name}")))
                .unwrap_or_else(|e| panic!("fixture {name}: {e}")),
            pace,
            authorization: None,
            slow_from: None,
        }
    }

    pub fn slowing(mut self, from_event: usize, pace: Duration) -> Self {
        self.slow_from = Some((from_event, pace));
        self
    }

    pub fn requiring(mut self, authorization: &str) -> Self {
        self.authorization = Some(authorization.to_owned());
        self
    }
}

/// The running server; stopped when dropped.
pub struct SseServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SseServer {
    pub fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let answer = answer.clone();
                    let requests = requests.clone();
                    std::thread::spawn(move || serve(stream, &answer, &requests));
                }
            })
        };
        Self {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `sse+http://127.0.0.1:PORT/v1/chat/completions`.
    pub fn url(&self) -> String {
        format!("sse+http://{}/v1/chat/completions", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for SseServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, answer: &Answer, requests: &Mutex<Vec<SeenRequest>>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let authorized = answer
        .authorization
        .as_deref()
        .is_none_or(|want| request.header("authorization") == Some(want));
    let wants_post = request.method == "POST";
    requests.lock().unwrap().push(request);
    let mut out = stream;
    if !wants_post {
        let _ = out.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
        return;
    }
    if !authorized {
        let body = std::fs::read(fixtures::path("sources/chat_error_401.json")).unwrap();
        let head = format!(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body);
        return;
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut rest = answer.body.as_slice();
    let mut event = 0;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(rest.len(), |at| at + 2);
        if out.write_all(&rest[..end]).is_err() || out.flush().is_err() {
            return;
        }
        rest = &rest[end..];
        let pace = match answer.slow_from {
            Some((from, slow)) if event >= from => slow,
            _ => answer.pace,
        };
        std::thread::sleep(pace);
        event += 1;
    }
    let _ = out.shutdown(Shutdown::Both);
}

fn read_request(stream: &TcpStream) -> Option<SeenRequest> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(SeenRequest {
        method,
        path,
        headers,
        body,
    })
}

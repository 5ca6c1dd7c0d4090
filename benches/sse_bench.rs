//! LLM token stream parsing throughput, tokens/s: the recorded OpenAI-style response
//! `tests/fixtures/sources/chat_stream.sse` (109 tokens, about 270 bytes an event) repeated to
//! 100 responses' worth, cut into 1,400-byte chunks as TCP would deliver them, and parsed as
//! the SSE source does: eventsource-stream's framing, then [`ChatStream`] (serde_json) into
//! token, gap and finish records (`sse/eventsource_chat`). In the same run, the baseline: the
//! same bytes split at line breaks by hand and the `data:` lines given to the same
//! [`ChatStream`] (`sse/lines_chat`), so the ratio is the cost of the SSE framing crate.
//! No network: the loopback server's cost is not the parser's.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;

/// The binary's allocator (see `Cargo.toml`), so the bench measures what the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use eventsource_stream::Eventsource;
use midstream::sources::sse::{ChatStep, ChatStream};

const RESPONSES: usize = 100;
const CHUNK_BYTES: usize = 1400;

fn body() -> (Vec<u8>, u64) {
    let one = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sources/chat_stream.sse"
    ))
    .expect("the fixture");
    let one = String::from_utf8(one).expect("UTF-8");
    // Without the [DONE] of each response but the last: one long stream.
    let without_done = one.replace("data: [DONE]\n\n", "");
    let mut body = without_done.repeat(RESPONSES);
    body.push_str("data: [DONE]\n\n");
    (body.into_bytes(), 109 * RESPONSES as u64)
}

fn sse_bench(c: &mut Criterion) {
    let (body, tokens) = body();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Elements(tokens));
    group.bench_function("eventsource_chat", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let chunks = body
                    .chunks(CHUNK_BYTES)
                    .map(|c| Ok::<_, std::convert::Infallible>(c.to_vec()));
                let mut events = futures_util::stream::iter(chunks).eventsource();
                let mut chat = ChatStream::new();
                let mut out = Vec::with_capacity(4096);
                let mut t_ns = 0;
                while let Some(Ok(event)) = events.next().await {
                    t_ns += 1000;
                    if chat.event(&event.data, t_ns, &mut out) == ChatStep::Done {
                        break;
                    }
                    if out.len() >= 4096 {
                        out.clear();
                    }
                }
                assert_eq!(chat.stats.tokens, tokens);
            })
        })
    });
    group.bench_function("lines_chat", |b| {
        b.iter(|| {
            let text = std::str::from_utf8(&body).expect("UTF-8");
            let mut chat = ChatStream::new();
            let mut out = Vec::with_capacity(4096);
            let mut t_ns = 0;
            for line in text.lines() {
                let Some(data) = line.strip_prefix("data: ") else {
                    continue;
                };
                t_ns += 1000;
                if chat.event(data, t_ns, &mut out) == ChatStep::Done {
                    break;
                }
                if out.len() >= 4096 {
                    out.clear();
                }
            }
            assert_eq!(chat.stats.tokens, tokens);
        })
    });
    group.finish();
}

criterion_group!(benches, sse_bench);
criterion_main!(benches);

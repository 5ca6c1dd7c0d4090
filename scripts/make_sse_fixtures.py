#!/usr/bin/env python3
"""Writes the LLM token-stream fixtures of tests/fixtures/sources/ (chat_*.sse, chat_*.json).

Each .sse file is a streaming chat completion response body exactly as OpenAI's
/v1/chat/completions sends it with "stream": true and stream_options.include_usage: one
`data: {chat.completion.chunk}` event per token (the first with the assistant role and empty
content, the last with an empty delta and the finish reason), a usage chunk with no choices,
then `data: [DONE]`. The wire format follows OpenAI's API reference ("The chat completion chunk
object"); the texts are written here, not captured from the live API.

- chat_stream.sse: an answer that gets stuck repeating a phrase (the loop the repetition
  detector should flag) until the token limit: finish reason "length".
- chat_stream_cut.sse: the same response cut in the middle of an event (the connection closed).
- chat_stream_malformed.sse: a short answer with one `data:` line that is not JSON (a proxy's
  HTML error page line) and a truncated copy of one chunk (cut mid-JSON), plus an SSE comment line (as
  OpenRouter sends to keep the connection open); finish reason "stop".
- chat_error_401.json: the body of OpenAI's answer to a wrong key.

Run: python3 scripts/make_sse_fixtures.py (from the repository's root).
"""
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "sources")
ID = "chatcmpl-AaZ8k3fQ1xXy7LmN0pRsT2uVwZ9b"
CREATED = 1733486400
MODEL = "gpt-4o-mini-2024-07-18"
FINGERPRINT = "fp_0aa8d3e20b"


def chunk(delta, finish=None, choices=True, usage=None):
    body = {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        ]
        if choices
        else [],
    }
    if usage is not None:
        body["usage"] = usage
    return "data: " + json.dumps(body, separators=(",", ":")) + "\n\n"


def stream(tokens, finish, prompt_tokens=38):
    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": t}) for t in tokens]
    events.append(chunk({}, finish))
    events.append(
        chunk(
            None,
            choices=False,
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens),
                "total_tokens": prompt_tokens + len(tokens),
            },
        )
    )
    events.append("data: [DONE]\n\n")
    return events


ANSWER = (
    "The| latency| spike| at| 14|:|02| lines| up| with| the| garbage| collector|'s| full|"
    " pauses|.| To| confirm|,| compare| the| pause| log| with| the| request| traces|,| then|"
    " look| at| the| heap| size|.|\n\n|"
).split("|")[:-1]
LOOP = "I| will| check| the| heap| logs| again| and".split("|")
LOOP_REPEATS = 9
LOOPING = ANSWER + LOOP * LOOP_REPEATS

SHORT = "Yes|,| the| queue| drained| after| the| restart|.| Throughput| is| back| to| normal|.".split("|")


def write(name, text):
    with open(os.path.join(OUT, name), "w", newline="") as f:
        f.write(text)


def main():
    # The usage chunk has no `delta`; json.dumps of None gives "delta":null, which the API
    # never sends: drop it.
    looping = [e.replace('"delta":null,', "") for e in stream(LOOPING, "length")]
    write("chat_stream.sse", "".join(looping))

    # Cut: the first 24 token events, then half of the next one.
    cut = looping[: 1 + 24]
    half = looping[1 + 24]
    cut.append(half[: len(half) // 2])
    write("chat_stream_cut.sse", "".join(cut))

    short = [e.replace('"delta":null,', "") for e in stream(SHORT, "stop", prompt_tokens=21)]
    bad_html = "data: <html><head><title>502 Bad Gateway</title></head></html>\n\n"
    truncated = short[8][: short[8].index('"content"') + 14] + "\n\n"
    malformed = short[:6] + [": OPENROUTER PROCESSING\n\n", bad_html] + short[6:8] + [truncated] + short[8:]
    write("chat_stream_malformed.sse", "".join(malformed))

    write(
        "chat_error_401.json",
        json.dumps(
            {
                "error": {
                    "message": "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
            indent=4,
        )
        + "\n",
    )
    write(
        "chat_request.json",
        json.dumps(
            {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "You are an SRE assistant."},
                    {"role": "user", "content": "Why did p99 latency spike at 14:02?"},
                ],
                "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": 110,
            },
            indent=2,
        )
        + "\n",
    )
    print(
        f"chat_stream.sse: {len(LOOPING)} tokens ({len(ANSWER)} + {LOOP_REPEATS} x {len(LOOP)} loop); "
        f"chat_stream_malformed.sse: {len(SHORT)} tokens and 2 bad data lines (one a truncated copy of a chunk)"
    )


if __name__ == "__main__":
    main()

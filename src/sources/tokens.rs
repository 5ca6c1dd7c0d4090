//! A text channel of word tokens, like a language model's output stream, that now and then gets
//! stuck repeating its last few tokens (the failure a repetition detector should flag).
//!
//! Normal output is sentences of [`SENTENCE_MIN_WORDS`]..=[`SENTENCE_MAX_WORDS`] words drawn from
//! a fixed vocabulary with Zipf-like frequencies, each ended by a `"."` token. With probability
//! [`LOOP_START_PROBABILITY`] per token the stream enters a loop: it repeats its last
//! `span` tokens `repeats` more times, then resumes normal output.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Words of normal output, most frequent first.
pub const VOCABULARY: [&str; 96] = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "at",
    "which",
    "an",
    "but",
    "not",
    "stream",
    "signal",
    "model",
    "data",
    "time",
    "value",
    "state",
    "system",
    "window",
    "error",
    "latency",
    "queue",
    "token",
    "result",
    "point",
    "series",
    "pattern",
    "phase",
    "orbit",
    "attractor",
    "sample",
    "rate",
    "channel",
    "source",
    "trace",
    "record",
    "event",
    "monitor",
    "formula",
    "distance",
    "match",
    "delay",
    "dimension",
    "exponent",
    "noise",
    "periodic",
    "chaotic",
    "stable",
    "fast",
    "slow",
    "high",
    "low",
    "new",
    "old",
    "first",
    "last",
    "next",
    "each",
    "every",
    "some",
    "many",
    "more",
    "less",
    "after",
    "before",
    "until",
    "while",
    "then",
    "again",
    "still",
    "never",
    "always",
    "often",
    "rises",
    "falls",
    "holds",
    "breaks",
    "drifts",
    "repeats",
    "returns",
    "grows",
];
/// Sentence length range, in words (the `"."` token comes on top).
pub const SENTENCE_MIN_WORDS: u32 = 4;
pub const SENTENCE_MAX_WORDS: u32 = 14;
/// Probability per token that a repetition loop starts (one every ~400 tokens).
pub const LOOP_START_PROBABILITY: f64 = 0.0025;
/// Range of the repeated span, in tokens.
pub const LOOP_MIN_SPAN: usize = 2;
pub const LOOP_MAX_SPAN: usize = 6;
/// Range of extra repetitions of the span.
pub const LOOP_MIN_REPEATS: usize = 3;
pub const LOOP_MAX_REPEATS: usize = 8;
/// The token that ends a sentence.
pub const SENTENCE_END: &str = ".";

/// The token generator's state.
#[derive(Debug, Clone)]
pub struct TokenStream {
    rng: ChaCha8Rng,
    /// The last [`LOOP_MAX_SPAN`] tokens emitted, oldest first.
    recent: Vec<&'static str>,
    words_left_in_sentence: u32,
    /// While looping: the repeated span and how many tokens of the loop remain.
    looping: Option<(Vec<&'static str>, usize)>,
    /// Position in the looped span of the next token.
    loop_pos: usize,
}

impl TokenStream {
    pub fn new(rng: ChaCha8Rng) -> Self {
        let mut stream = Self {
            rng,
            recent: Vec::with_capacity(LOOP_MAX_SPAN + 1),
            words_left_in_sentence: 0,
            looping: None,
            loop_pos: 0,
        };
        stream.words_left_in_sentence = stream.sentence_length();
        stream
    }

    /// Whether the stream is currently repeating itself.
    pub fn in_loop(&self) -> bool {
        self.looping.is_some()
    }

    /// The next token.
    pub fn next_token(&mut self) -> &'static str {
        if self.looping.is_none()
            && self.recent.len() >= LOOP_MIN_SPAN
            && self.rng.random_bool(LOOP_START_PROBABILITY)
        {
            let span = self
                .rng
                .random_range(LOOP_MIN_SPAN..=LOOP_MAX_SPAN)
                .min(self.recent.len());
            let repeats = self.rng.random_range(LOOP_MIN_REPEATS..=LOOP_MAX_REPEATS);
            let body = self.recent[self.recent.len() - span..].to_vec();
            self.looping = Some((body, span * repeats));
            self.loop_pos = 0;
        }
        let token = match &mut self.looping {
            Some((body, remaining)) => {
                let token = body[self.loop_pos % body.len()];
                self.loop_pos += 1;
                *remaining -= 1;
                if *remaining == 0 {
                    self.looping = None;
                }
                token
            }
            None => self.fresh_token(),
        };
        if self.recent.len() == LOOP_MAX_SPAN {
            self.recent.remove(0);
        }
        self.recent.push(token);
        token
    }

    fn fresh_token(&mut self) -> &'static str {
        if self.words_left_in_sentence == 0 {
            self.words_left_in_sentence = self.sentence_length();
            return SENTENCE_END;
        }
        self.words_left_in_sentence -= 1;
        // Squaring a uniform deviate favours the front of the list: word i has probability
        // ≈ (√((i+1)/N) − √(i/N)), a Zipf-like decay.
        let u: f64 = self.rng.random();
        let index = ((u * u) * VOCABULARY.len() as f64) as usize;
        VOCABULARY[index.min(VOCABULARY.len() - 1)]
    }

    fn sentence_length(&mut self) -> u32 {
        self.rng
            .random_range(SENTENCE_MIN_WORDS..=SENTENCE_MAX_WORDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_loop_repeats_the_tokens_just_before_it() {
        let mut stream = TokenStream::new(ChaCha8Rng::seed_from_u64(3));
        let mut history: Vec<&str> = Vec::new();
        let mut checked = 0;
        for _ in 0..50_000 {
            let was_looping = stream.in_loop();
            let token = stream.next_token();
            history.push(token);
            if !was_looping && stream.in_loop() {
                // The first loop token equals a token among the last LOOP_MAX_SPAN before it.
                let n = history.len();
                let window = &history[n.saturating_sub(LOOP_MAX_SPAN + 1)..n - 1];
                assert!(window.contains(&token));
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} loops in 50 000 tokens");
    }
}

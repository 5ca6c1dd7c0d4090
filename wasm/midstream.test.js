// The WebAssembly module through its JavaScript API, on the fixtures the Rust tests use
// (tests/fixtures/, made by scripts/make_*_fixtures.py with dtaidistance, rapidfuzz, nolds,
// flloat and stumpy). Run with `node --test wasm/` after building the module:
//   cargo build -p midstream-wasm --target wasm32-unknown-unknown --profile wasm-release
// The module is looked for where `load()` looks by default: MIDSTREAM_WASM, else under
// CARGO_TARGET_DIR, else under target/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { BUILD_COMMAND, MidstreamError, defaultWasmUrl, load } from './midstream.js';

// A missing module fails the whole file, with the message of `load`: where it looked and the
// command that builds it.
const midstream = await load();

const fixture = (relative) => readFileSync(new URL(`../tests/fixtures/${relative}`, import.meta.url), 'utf8');
const json = (relative) => JSON.parse(fixture(relative));
const jsonLines = (relative) => fixture(relative).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const series = (relative) => fixture(relative).split('\n').filter((l) => l.trim()).map(Number);

/** tests/engines/temporal_fixtures.rs: both sides add the same costs in the same order. */
const DTW_RTOL = 1e-12;
/** tests/engines/meta_fixtures.rs: agreement with the brute-force profile's distances ... */
const BRUTE_RTOL = 1e-9;
/** ... or, for close pairs, with the correlation behind them. */
const BRUTE_CORRELATION_ATOL = 1e-12;

function assertClose(got, want, rtol, context) {
  assert.ok(Math.abs(got - want) <= rtol * Math.max(Math.abs(want), 1), `${context}: got ${got}, want ${want}`);
}

/** `got` within `rtol` of `want`, or their squares within 2m·atol (as meta_fixtures.rs). */
function profileClose(got, want, m) {
  return Math.abs(got - want) <= BRUTE_RTOL * want || Math.abs(got * got - want * want) <= 2 * m * BRUTE_CORRELATION_ATOL;
}

test('DTW agrees with dtaidistance and the plain program (temporal/dtw.json)', () => {
  let checked = 0;
  for (const { a, b, results } of json('temporal/dtw.json').cases) {
    for (const result of results) {
      for (const [key, squared] of [['dtw', false], ['dtw_sq', true]]) {
        const context = `${key} n=${a.length} m=${b.length} window=${result.window}`;
        assertClose(midstream.dtw(a, b, { squared, window: result.window }), result[key], DTW_RTOL, context);
        assertClose(midstream.dtw(b, a, { squared, window: result.window }), result[key], DTW_RTOL, context);
        checked += 1;
      }
    }
  }
  assert.ok(checked > 600, `only ${checked} DTW values checked`);
});

test('edit distance and LCS agree with rapidfuzz (temporal/text.json)', () => {
  const cases = json('temporal/text.json').cases;
  assert.ok(cases.length > 200);
  for (const { a, b, levenshtein, lcs } of cases) {
    assert.equal(midstream.editDistance(a, b), levenshtein, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(midstream.editDistance(b, a), levenshtein);
    assert.equal(midstream.lcsLength(a, b), lcs, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('every attractor fixture gets its class, exponent and dimension (attractor/references.json)', () => {
  const entries = Object.entries(json('attractor/references.json').series);
  assert.ok(entries.length >= 7);
  for (const [name, entry] of entries) {
    const result = midstream.analyze(series(`attractor/${name}`), { dt: entry.dt });
    assert.equal(result.n, 5000, name);
    assert.equal(result.class, entry.expected_class, name);
    assert.equal(typeof result.elapsed_ms, 'number');
    if (entry.published_lyapunov !== undefined) {
      // tests/engines/attractor_fixtures.rs: the goals, 15% for Rössler, 10% for the others.
      const goal = name.startsWith('rossler') ? 0.15 : 0.10;
      const lambda = result.lyapunov.value;
      assert.ok(Math.abs(lambda / entry.published_lyapunov - 1) <= goal, `${name}: λ ${lambda} vs ${entry.published_lyapunov}`);
      assert.equal(result.lyapunov.unit, entry.dt === null ? 'per sample' : 'per time unit');
    }
    if (entry.published_d2 !== undefined) {
      const tolerance = name.startsWith('lorenz') ? 0.15 : 0.10;
      const d2 = result.correlation_dimension.value;
      assert.ok(Math.abs(d2 - entry.published_d2) <= tolerance, `${name}: D2 ${d2} vs ${entry.published_d2}`);
    }
  }
});

test('formula verdicts agree with flloat and the textbook (ltl/random_pairs.jsonl)', () => {
  const rows = jsonLines('ltl/random_pairs.jsonl');
  assert.ok(rows.length >= 1000);
  for (const row of rows) {
    const result = midstream.check(row.formula, row.trace);
    assert.equal(result.verdict, row.verdict, `${row.formula} on ${JSON.stringify(row.trace)}`);
    assert.equal(result.verdict, row.prefix_verdicts.at(-1));
    assert.equal(result.steps, row.trace.length);
  }
});

test("online statuses agree with flloat's automaton (ltl/online_status.jsonl)", () => {
  const rows = jsonLines('ltl/online_status.jsonl');
  assert.ok(rows.length >= 250);
  for (const row of rows) {
    // As JSON lines, the form `check` reads from a file.
    const result = midstream.check(row.formula, row.trace.map((s) => JSON.stringify(s)).join('\n'));
    const last = row.steps.at(-1);
    assert.equal(result.status, last.status, row.formula);
    assert.equal(result.verdict, last.holds_if_ended, row.formula);
    assert.equal(result.decided_at, row.decided_at ?? null, row.formula);
  }
});

test('motifs and discords match the reference rule (meta/references.json)', () => {
  const cases = json('meta/references.json').cases;
  assert.ok(cases.length >= 16);
  for (const c of cases) {
    const name = `${c.file} m=${c.window}`;
    const values = series(`meta/${c.file}`);
    assert.equal(values.length, c.n, name);
    const found = midstream.motifs(values, { window: c.window, top: c.top });
    assert.equal(found.exclusion, c.exclusion, name);
    // With ties, which tied pair comes first is free: then only the best distance is fixed.
    const compared = c.motifs_unambiguous ? c.motifs.length : 1;
    if (c.motifs_unambiguous) assert.equal(found.motifs.length, c.motifs.length, name);
    for (let k = 0; k < compared; k += 1) {
      const [got, want] = [found.motifs[k], c.motifs[k]];
      assert.ok(profileClose(got.distance, want.distance, c.window), `${name}: motif ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      if (c.motifs_unambiguous) assert.deepEqual([got.a, got.b], [want.a, want.b], name);
    }
    assert.equal(found.discords.length, c.discords.length, name);
    found.discords.forEach((got, k) => {
      const want = c.discords[k];
      assert.ok(profileClose(got.distance, want.distance, c.window), `${name}: discord ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      if (c.discords_unambiguous) assert.equal(got.index, want.index, name);
    });
  }
});

test("the engines' errors are thrown as MidstreamError", () => {
  assert.throws(() => midstream.dtw([], [1]), { name: 'MidstreamError', message: /first series is empty/ });
  assert.throws(() => midstream.analyze([1, 2, 3]), MidstreamError);
  assert.throws(() => midstream.check('G(', [{ p: true }]), { message: /^bad formula/ });
  assert.throws(() => midstream.check('G p', []), { message: /trace is empty/ });
  assert.throws(() => midstream.motifs([1, 2, 3, 4], { window: 3 }), { message: /too large/ });
  assert.throws(() => midstream.motifs([1, 2, 3], { window: 2.5 }), RangeError);
});

test('explain adds the compiled monitor', () => {
  const result = midstream.check('G(error -> F recovery)', [{ error: true }, { recovery: true }], { explain: true });
  assert.equal(result.verdict, true);
  assert.equal(typeof result.explain, 'string');
});

test('a missing module is an error that says how to build it', async () => {
  assert.ok(defaultWasmUrl().pathname.endsWith('wasm-release/midstream_wasm.wasm'));
  await assert.rejects(load(new URL('file:///nonexistent/midstream_wasm.wasm')), (error) => error.message.includes(BUILD_COMMAND));
});

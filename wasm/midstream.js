// Midstream's engines in WebAssembly, wrapped in a JavaScript API.
//
// The module is built with
//   cargo build -p midstream-wasm --target wasm32-unknown-unknown --profile wasm-release
// and needs no generated glue: it exports plain functions over its own memory (see
// wasm/src/lib.rs for the protocol). Every result is the JSON the matching command prints with
// `--json`, with `elapsed_ms` measured here.
//
//   import { load } from './midstream.js';
//   const midstream = await load();           // Node: the file cargo builds; or pass bytes/URL
//   midstream.dtw([1, 2, 3], [1, 3]);         // 1
//   midstream.analyze(series, { dt: 0.01 });  // { class: 'chaotic', lyapunov: {...}, ... }
//   midstream.check('G(error -> F recovery)', [{ error: false }, { recovery: true }]);
//   midstream.motifs(series, { window: 50, top: 3 });

/** Node's `node:url` when running in Node (for file paths), else null (a browser). */
const nodeUrl = globalThis.process?.versions?.node ? await import('node:url') : null;

/** Where cargo puts the module, relative to a target directory. */
export const WASM_ARTIFACT = 'wasm32-unknown-unknown/wasm-release/midstream_wasm.wasm';

/** The command that builds it. */
export const BUILD_COMMAND =
  'cargo build -p midstream-wasm --target wasm32-unknown-unknown --profile wasm-release';

/**
 * The module's default location: `MIDSTREAM_WASM`, else the artifact under
 * `CARGO_TARGET_DIR`, else under the workspace's `target/` (beside this file's folder).
 */
export function defaultWasmUrl() {
  const env = globalThis.process?.env ?? {};
  if (nodeUrl && env.MIDSTREAM_WASM) return nodeUrl.pathToFileURL(env.MIDSTREAM_WASM);
  if (nodeUrl && env.CARGO_TARGET_DIR) {
    return nodeUrl.pathToFileURL(`${env.CARGO_TARGET_DIR}/${WASM_ARTIFACT}`);
  }
  return new URL(`../target/${WASM_ARTIFACT}`, import.meta.url);
}

/** A URL as given, a file path in Node, or a path relative to the page in a browser. */
function toUrl(source) {
  if (source instanceof URL) return source;
  const text = String(source);
  if (/^[a-z][a-z0-9+.-]+:/i.test(text)) return new URL(text);
  if (nodeUrl) return nodeUrl.pathToFileURL(text);
  return new URL(text, globalThis.location?.href ?? import.meta.url);
}

/**
 * Loads the module and returns the API. `source` is the module's bytes (an ArrayBuffer or a
 * typed array), a compiled `WebAssembly.Module`, or a URL or file path to fetch or read; by
 * default {@link defaultWasmUrl}. A missing file is an error that says how to build it.
 */
export async function load(source = defaultWasmUrl()) {
  let module;
  if (source instanceof WebAssembly.Module) {
    module = source;
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    module = await WebAssembly.compile(source);
  } else {
    module = await WebAssembly.compile(await readModule(source));
  }
  const instance = await WebAssembly.instantiate(module, {});
  return new Midstream(instance.exports);
}

async function readModule(source) {
  const url = toUrl(source);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(url);
    } catch (error) {
      if (error.code === 'ENOENT') {
        const path = nodeUrl ? nodeUrl.fileURLToPath(url) : url.pathname;
        throw new Error(`${path}: no WebAssembly module there; build it with \`${BUILD_COMMAND}\``);
      }
      throw error;
    }
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.arrayBuffer();
}

/** An error the engines reported (bad input, a formula that does not parse, ...). */
export class MidstreamError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MidstreamError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Bytes of a response's length prefix (a little-endian u32). */
const LENGTH_PREFIX = 4;

/** The engines, over one instance of the module. */
export class Midstream {
  #exports;

  constructor(exports) {
    this.#exports = exports;
  }

  /**
   * DTW distance between two series: Σ|aᵢ − bⱼ| along the best warping path, or with
   * `squared` the square root of the least Σ(aᵢ − bⱼ)². `window` is the Sakoe–Chiba
   * half-width (widened to the length difference); none by default.
   */
  dtw(a, b, { squared = false, window = null } = {}) {
    const w = window === null || window === undefined ? -1 : checkCount('window', window);
    return this.#call((x, y) => this.#exports.midstream_dtw(x.ptr, x.len, y.ptr, y.len, squared ? 1 : 0, w),
      [numbers(a), numbers(b)]).value;
  }

  /** Levenshtein distance between two strings, Unicode scalar value by value. */
  editDistance(a, b) {
    return this.#edit(a, b, 0);
  }

  /** Length of the longest common subsequence of two strings. */
  lcsLength(a, b) {
    return this.#edit(a, b, 1);
  }

  #edit(a, b, lcs) {
    return this.#call((x, y) => this.#exports.midstream_edit(x.ptr, x.len, y.ptr, y.len, lcs),
      [text(a), text(b)]).value;
  }

  /**
   * The attractor analysis of a series: embedding, largest Lyapunov exponent, correlation
   * dimension and class (`analyze --json`). `dt` is the sample period (the exponent is then
   * per time unit); `dim` and `delay` fix the embedding.
   */
  analyze(series, { dt = null, dim = null, delay = null } = {}) {
    return this.#timed(() => this.#call((s) => this.#exports.midstream_analyze(
      s.ptr, s.len, dt === null || dt === undefined ? NaN : dt,
      dim === null || dim === undefined ? 0 : checkCount('dim', dim, 1),
      delay === null || delay === undefined ? 0 : checkCount('delay', delay, 1)),
    [numbers(series)]));
  }

  /**
   * The LTLf verdict of `formula` on a trace (`check --json` for one formula): an array of
   * states (plain objects) or JSON-lines text. With `explain` the result holds the compiled
   * monitor too.
   */
  check(formula, trace, { explain = false } = {}) {
    const lines = typeof trace === 'string' ? trace : trace.map((state) => JSON.stringify(state)).join('\n');
    return this.#timed(() => this.#call((f, t) => this.#exports.midstream_check(f.ptr, f.len, t.ptr, t.len, explain ? 1 : 0),
      [text(formula), text(lines)]));
  }

  /**
   * The `top` closest pairs of windows of `window` samples (motifs) and the `top` windows
   * farthest from any other (discords), from the exact matrix profile (`motifs --json`).
   */
  motifs(series, { window, top = 3 }) {
    const m = checkCount('window', window, 1);
    const k = checkCount('top', top, 1);
    return this.#timed(() => this.#call((s) => this.#exports.midstream_motifs(s.ptr, s.len, m, k),
      [numbers(series)]));
  }

  #timed(run) {
    const started = performance.now();
    const result = run();
    result.elapsed_ms = performance.now() - started;
    return result;
  }

  /** Copies the inputs into the module, calls `fn`, reads and frees the response. */
  #call(fn, inputs) {
    const buffers = [];
    try {
      for (const input of inputs) buffers.push(this.#write(input));
      const response = fn(...buffers);
      if (response === 0) throw new MidstreamError('the WebAssembly module ran out of memory');
      try {
        const view = new DataView(this.#exports.memory.buffer);
        const len = view.getUint32(response, true);
        const json = decoder.decode(new Uint8Array(this.#exports.memory.buffer, response + LENGTH_PREFIX, len));
        const result = JSON.parse(json);
        if (Object.hasOwn(result, 'error')) throw new MidstreamError(result.error);
        return result;
      } finally {
        this.#exports.midstream_result_free(response);
      }
    } finally {
      for (const buffer of buffers) this.#exports.midstream_free(buffer.ptr, buffer.bytes);
    }
  }

  /** Writes one input (bytes or f64s) into a buffer of the module. */
  #write({ bytes, count }) {
    const ptr = this.#exports.midstream_alloc(bytes.byteLength);
    if (ptr === 0) throw new MidstreamError('the WebAssembly module ran out of memory');
    // Read `memory.buffer` after the allocation: growing the memory replaces the buffer.
    new Uint8Array(this.#exports.memory.buffer, ptr, bytes.byteLength)
      .set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { ptr, len: count, bytes: bytes.byteLength };
  }
}

function numbers(values) {
  const array = values instanceof Float64Array ? values : Float64Array.from(values);
  return { bytes: array, count: array.length };
}

function text(value) {
  if (typeof value !== 'string') throw new TypeError(`expected a string, got ${typeof value}`);
  const bytes = encoder.encode(value);
  return { bytes, count: bytes.byteLength };
}

function checkCount(name, value, min = 0) {
  if (!Number.isInteger(value) || value < min || value > 0x7fffffff) {
    throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  }
  return value;
}

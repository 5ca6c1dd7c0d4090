//! Command-line definitions of every subcommand (the contract in DESIGN.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::headless::analyzer::DEFAULT_BACKFILL_LIMIT;

/// Live stream analysis in the terminal. With no subcommand, starts an embedded demo source on
/// 127.0.0.1 and attaches the dashboard to it over QUIC.
#[derive(Debug, Parser)]
#[command(name = "midstream-tui", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub demo: DemoArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a file or a pipe (JSON lines, CSV, columns of numbers) in the dashboard.
    Open(OpenArgs),
    /// Run a QUIC stream source: built-in generators, or a file or pipe (--input).
    Serve(ServeArgs),
    /// Attach the dashboard to a running source.
    Attach(AttachArgs),
    /// Record a source to a trace file without a screen.
    Record(RecordArgs),
    /// Run the engines without a screen on a NATS server's subjects, sharing the channels
    /// with the other analyzers of the group, and publish the results per channel.
    Analyzer(AnalyzerArgs),
    /// Replay a trace file in the dashboard, or headless.
    Replay(ReplayArgs),
    /// Distance or similarity between two series or texts: prints one number.
    Compare(CompareArgs),
    /// Attractor analysis of a series: embedding, Lyapunov exponent, correlation dimension, class.
    Analyze(AnalyzeArgs),
    /// Check LTLf formulas against a JSON-lines trace: prints true or false.
    Check(CheckArgs),
    /// Motif discovery with the matrix profile: the closest pairs of windows and the discords.
    Motifs(MotifsArgs),
    /// Run the built-in benchmark suites on this machine, against the speed budgets.
    Bench(BenchArgs),
}

/// What the engines look for on live channels.
#[derive(Debug, Args, Clone, Default)]
pub struct AnalysisArgs {
    /// LTLf formula to monitor on every event channel that has its fields; repeatable.
    #[arg(long = "formula", value_name = "F")]
    pub formulas: Vec<String>,
    /// Reference pattern file (one number per line) to search for, besides the built-in ones;
    /// repeatable.
    #[arg(long = "pattern", value_name = "FILE")]
    pub patterns: Vec<PathBuf>,
    /// After a verdict, a live monitor restarts on the next record (default) or stops.
    #[arg(long, value_name = "ACTION")]
    pub on_verdict: Option<OnVerdictArg>,
    /// Steps ahead over which each monitor's chance of a violation is predicted (default 10).
    #[arg(long, value_name = "K")]
    pub predict: Option<usize>,
    /// Early warning in the LTL pane when that chance reaches P, between 0 and 1 (default 0.5).
    #[arg(long, value_name = "P")]
    pub warn_at: Option<f64>,
    /// Configuration file (TOML: formulas, patterns, capture length); default:
    /// config.toml in the user's config directory, when it exists.
    #[arg(long, value_name = "FILE", env = "MIDSTREAM_CONFIG")]
    pub config: Option<PathBuf>,
}

/// What a dashboard on a live source takes besides its source (the demo, `attach`, `open`).
#[derive(Debug, Args, Clone)]
pub struct ScreenArgs {
    /// Record what arrives to this trace file (`r` toggles recording to it).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Maximum frames per second.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// Options of the no-argument demo run.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Generators of the embedded demo source.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lorenz,rossler,henon,logistic,sine,noise,events,tokens"
    )]
    pub generator: Vec<String>,
    /// Records per second per generator.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seed of the generators' random parts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub screen: ScreenArgs,
}

/// How a file or a pipe of text is read (`open`, `serve --input`, `record --input`).
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Line format: jsonl (one object per line), csv (with a header), columns (numbers
    /// separated by spaces or tabs, optional first line of names). Default: from the file's
    /// extension, else from the first line.
    #[arg(long, value_name = "FORMAT", value_parser = ["jsonl", "csv", "columns"])]
    pub format: Option<String>,
    /// Keep reading a growing file, as `tail -F` does (across truncation and rotation).
    #[arg(long)]
    pub follow: bool,
    /// Field (or column) holding each record's time: seconds, or RFC 3339. Default: the time
    /// a line arrives.
    #[arg(long, value_name = "FIELD")]
    pub time: Option<String>,
    /// String field (or column) whose words become a text channel.
    #[arg(long, value_name = "FIELD")]
    pub text: Option<String>,
    /// The source's name (its event channel's). Default: the file's stem, or stdin.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// An LLM's streaming chat completion as the input (`--input sse+https://HOST/v1/chat/completions`).
#[derive(Debug, Args, Clone, Default)]
pub struct SseArgs {
    /// With an sse+https:// (or sse+http://) input: the JSON request body to POST (an
    /// OpenAI-compatible chat completion request; "stream": true is added when missing).
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// With an sse+https:// input: a request header, 'NAME: VALUE'; $VAR and ${VAR} in the
    /// value are taken from the environment (so keys stay out of shell history). Repeatable.
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct OpenArgs {
    /// File to read, `-` for stdin (the keyboard is then read from the terminal), or an LLM's
    /// streaming chat completion: sse+https://HOST/v1/chat/completions with --request.
    #[arg(required_unless_present = "input_url", conflicts_with = "input_url")]
    pub path: Option<PathBuf>,
    /// The same as the path, as `serve --input` takes it.
    #[arg(long = "input", value_name = "PATH", id = "input_url")]
    pub input_url: Option<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub sse: SseArgs,
    /// Lines per second. Default: a file as fast as the analysis takes it, a pipe as it comes.
    #[arg(long, value_name = "HZ")]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub screen: ScreenArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4433")]
    pub listen: SocketAddr,
    /// Generators, comma-separated: lorenz, rossler, henon, logistic, sine, noise, events, tokens.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lorenz,events,tokens",
        conflicts_with = "input"
    )]
    pub generator: Vec<String>,
    /// Serve this file, or `-` for stdin, or an LLM's streaming chat completion
    /// (sse+https://HOST/v1/chat/completions with --request), instead of generators. Reading
    /// starts when the first client subscribes, so that it gets every record.
    #[arg(long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub sse: SseArgs,
    /// Records per second per generator (default 200), or lines per second of --input
    /// (default: as fast as the client takes them).
    #[arg(long, value_name = "HZ")]
    pub rate: Option<f64>,
    /// Seed of the generators' random parts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// PEM certificate chain (with --key); without it a self-signed certificate is generated.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key (with --cert).
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Shared token that clients must present.
    #[arg(long)]
    pub token: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What clients may make `serve` do. A client opens one stream (the control stream; QUIC
/// stream credit allows no second) and sends two messages, Hello and Subscribe; it publishes
/// nothing, so there is no records/s limit. A client that exceeds a limit is closed with a
/// reason naming it.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Connections at once, counting those that have not yet sent their Hello. When full, a new
    /// connection takes the place of the oldest one that has not yet subscribed, or is refused
    /// with "server busy".
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_clients: usize,
    /// Connections at once from one IP address (as --max-clients, among that address's).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_clients_per_address: usize,
    /// Channels one client may subscribe to (1 to 4096); each is one stream the server opens
    /// and writes for it. A client itself can open one stream, the control stream, and
    /// publishes no records.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_channels: usize,
    /// Largest message a client may send, in bytes (2048 to 1048576): its Hello (with the
    /// token) or its Subscribe (about 5 bytes per channel).
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub max_frame_bytes: usize,
}

/// How the client decides to trust the server's certificate.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub struct TrustArgs {
    /// Trust only a certificate with this SHA-256 fingerprint (as `serve` prints it).
    #[arg(long)]
    pub pin: Option<String>,
    /// Trust certificates signed by this PEM CA file.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Trust the first certificate seen for this address, and only it afterwards.
    #[arg(long)]
    pub tofu: bool,
    /// Do not verify the server at all (warned about on screen the whole time).
    #[arg(long)]
    pub insecure: bool,
}

/// A NATS server's subjects as the source (`attach nats://HOST:PORT`, `record nats://...`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "NATS (nats:// and tls:// addresses)")]
pub struct NatsArgs {
    /// Subject to subscribe to; wildcards allowed (`sensors.*`, `sensors.>`); repeatable.
    /// With --stream: the stream's subjects to show (default: all of them).
    #[arg(long = "subject", value_name = "SUBJECT")]
    pub subjects: Vec<String>,
    /// Read this JetStream stream through a durable consumer instead of core NATS.
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// With --stream: where a new consumer starts: new, all, an RFC 3339 time, or a duration
    /// ago (90s, 15m, 1h, 2d).
    #[arg(
        long,
        value_name = "new|all|TIME",
        default_value = "new",
        requires = "stream"
    )]
    pub from: String,
    /// With --stream: the durable consumer's name; a later run with the same name resumes
    /// where this one stopped (default: a name of this run's own).
    #[arg(long, value_name = "NAME", requires = "stream")]
    pub durable: Option<String>,
    /// NATS credentials file (user JWT and nkey seed).
    #[arg(long, value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// File holding an nkey seed.
    #[arg(long, value_name = "FILE")]
    pub nkey: Option<PathBuf>,
    /// User name (with --password).
    #[arg(long, env = "NATS_USER", value_name = "USER")]
    pub user: Option<String>,
    /// Password (with --user); prefer the environment variable to keep it out of the
    /// process list and shell history.
    #[arg(
        long,
        env = "NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct AttachArgs {
    /// Address of the source: a QUIC source (127.0.0.1:4433), or a NATS server
    /// (nats://HOST:PORT, tls://HOST:PORT) with --subject or --stream.
    pub addr: String,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Shared token to present in Hello.
    #[arg(long)]
    pub token: Option<String>,
    /// With a NATS server: show the analyzers' results published on PREFIX.> in the Fleet
    /// pane (with or without --subject).
    #[arg(long, value_name = "PREFIX")]
    pub results: Option<String>,
    #[command(flatten)]
    pub screen: ScreenArgs,
}

/// `analyzer nats://HOST:PORT --subject 'in.>' --results PREFIX [--group NAME]`.
#[derive(Debug, Args, Clone)]
pub struct AnalyzerArgs {
    /// The NATS server: nats://HOST:PORT or tls://HOST:PORT (several, comma-separated).
    pub addr: String,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Publish each channel's results as JSON on PREFIX.<channel>, at most once a second.
    #[arg(long, value_name = "PREFIX")]
    pub results: String,
    /// Analyzers of one group share the channels, each channel on one of them at a time.
    #[arg(long, value_name = "NAME", default_value = "midstream")]
    pub group: String,
    /// This analyzer's id in results and leases (default: HOSTNAME-PID).
    #[arg(long, value_name = "ID")]
    pub name: Option<String>,
    /// Copies of the group's stream and lease bucket in a JetStream cluster.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub replicas: usize,
    /// For tls://: trust certificates signed by this PEM CA file (as `attach`'s --ca).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Most messages a hand-over reads back from the stream; past it, the channel goes on from
    /// the live position and the claim's line names the messages skipped.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BACKFILL_LIMIT)]
    pub backfill_limit: u64,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RecordArgs {
    /// Address of the source: a QUIC source, or a NATS server (nats://HOST:PORT,
    /// tls://HOST:PORT) with --subject or --stream.
    #[arg(required_unless_present = "input", conflicts_with = "input")]
    pub addr: Option<String>,
    /// Record this file, or `-` for stdin, or an LLM's streaming chat completion
    /// (sse+https://... with --request), instead of a source; ends at the end of the input.
    #[arg(long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub input_args: InputArgs,
    #[command(flatten)]
    pub sse: SseArgs,
    /// With --input: lines per second (default: as fast as they can be written).
    #[arg(long, value_name = "HZ", requires = "input")]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Shared token to present in Hello.
    #[arg(long)]
    pub token: Option<String>,
    /// Trace file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long)]
    pub duration: Option<f64>,
}

#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// Trace file to replay.
    pub file: PathBuf,
    /// Replay speed: 1 = recorded timing, 0 = as fast as possible (default: 1 on screen, 0 headless).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Print per-channel replay statistics instead of drawing.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: also print the scheduler's per-class percentiles.
    #[arg(long, requires = "headless")]
    pub stats: bool,
    /// With --headless: print every pattern match, not only the latest 64.
    #[arg(long, requires = "headless")]
    pub all_matches: bool,
    /// Maximum frames per second.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// What an LTL monitor does after a verdict (`--on-verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnVerdictArg {
    /// The verdict is final.
    Stop,
    /// The monitor starts again on the next record.
    Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    /// Minimum over warping paths of the sum of |a_i - b_j|.
    Dtw,
    /// Square root of the minimum sum of (a_i - b_j)^2.
    DtwSq,
    /// Length of the longest common subsequence of the two texts.
    Lcs,
    /// Levenshtein distance between the two texts.
    Edit,
}

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    #[arg(long, value_enum)]
    pub metric: Metric,
    /// Sakoe-Chiba band half-width for DTW (widened to the length difference).
    #[arg(long)]
    pub window: Option<usize>,
    /// Read this column (CSV header name, JSON field, or cN of columns) of both A and B,
    /// instead of one number per line (dtw and dtw-sq).
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    /// One JSON object on one line.
    #[arg(long)]
    pub json: bool,
    /// First input (`-` for stdin).
    pub a: PathBuf,
    /// Second input (`-` for stdin).
    pub b: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct AnalyzeArgs {
    /// Sample period: exponents are then per time unit instead of per sample.
    #[arg(long)]
    pub dt: Option<f64>,
    /// Embedding dimension (default: chosen automatically).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Embedding delay in samples (default: chosen automatically).
    #[arg(long)]
    pub delay: Option<usize>,
    /// Read this column (CSV header name, JSON field, or cN of columns) instead of one number
    /// per line.
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Series, one number per line (`-` for stdin).
    pub file: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// LTLf formula; repeat to check several in one pass.
    #[arg(long = "formula", required = true)]
    pub formulas: Vec<String>,
    #[arg(long)]
    pub json: bool,
    /// Print the compiled monitor.
    #[arg(long)]
    pub explain: bool,
    /// After a verdict: stop (the verdict is final) or restart the monitor on the next record,
    /// counting every violation and satisfaction (JSON: `violations`, `satisfactions`).
    #[arg(long, value_name = "ACTION")]
    pub on_verdict: Option<OnVerdictArg>,
    /// Predict, after each step, the probability of a violation within the next K steps
    /// (JSON: `predictions`).
    #[arg(long, value_name = "K")]
    pub predict: Option<usize>,
    /// Trace: one JSON object per line (`-` for stdin).
    pub trace: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct MotifsArgs {
    /// Window (subsequence) length in samples, at least 3.
    #[arg(long, value_name = "M")]
    pub window: usize,
    /// How many motif pairs, and how many discords, to print.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub top: usize,
    /// Read this column (CSV header name, JSON field, or cN of columns) instead of one number
    /// per line.
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Series, one number per line (`-` for stdin).
    pub file: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Only the benchmarks that have a budget, with short measurements (under 2 minutes).
    #[arg(long)]
    pub quick: bool,
    /// A suite to run (repeatable): temporal, attractor, ltl, scheduler, meta, pipeline, quic,
    /// trace, render. Default: all.
    #[arg(long = "suite", value_name = "NAME")]
    pub suites: Vec<String>,
    /// Print one JSON object with every result on stdout, and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Keep this run's results as the baseline NAME.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare with the baseline NAME: the change of each median and whether it is beyond noise.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Exit non-zero, naming them, when benchmarks are over budget or slower than the baseline
    /// beyond the noise margin.
    #[arg(long)]
    pub check: bool,
    /// With --check: fail only beyond FACTOR times a budget.
    #[arg(
        long,
        value_name = "FACTOR",
        default_value_t = 1.0,
        conflicts_with = "ci"
    )]
    pub margin: f64,
    /// With --check: the margin for a shared CI machine, `ci_margin` of the budgets file.
    #[arg(long)]
    pub ci: bool,
    /// Budgets file (TOML, as assets/budgets.toml) instead of the built-in budgets.
    #[arg(long, value_name = "FILE")]
    pub budgets: Option<PathBuf>,
    /// Write charts (one SVG and one PNG per suite) and a Markdown summary into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where results and baselines are kept. Default: bench/ in the user's data directory.
    #[arg(long, value_name = "DIR", env = "MIDSTREAM_BENCH_DIR")]
    pub results_dir: Option<PathBuf>,
    /// Run at the lowest CPU priority (the Benchmarks pane's background run).
    #[arg(long, hide = true)]
    pub idle: bool,
    /// Warm-up and measurement time per benchmark in milliseconds (for tests).
    #[arg(long, hide = true, value_name = "MS")]
    pub measure_ms: Option<u64>,
}

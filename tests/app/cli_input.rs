//! Bring your own stream, through the real binary: files and pipes of JSON lines, CSV and
//! columns into traces (`record --input`), over QUIC (`serve --input` → `record`), on screen
//! (`open` in a pseudo-terminal), followed as they grow, and as columns of the headless
//! commands. Every record is accounted for; bad input is skipped, counted and named.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;

use crate::common::binary::{self, BIN};
use crate::common::pty::Pty;

/// Runs the binary in `dir`, which is also its config home (no user configuration).
fn run(args: &[&str], dir: &Path) -> Output {
    binary::command(dir)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run midstream-tui")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `replay --headless` of `trace`: channel name → (records, gaps).
fn replayed(trace: &Path, dir: &Path) -> Vec<(String, u64, u64)> {
    let (ok, report, stderr) = binary::replay_headless(dir, &[], trace);
    assert!(ok, "{stderr}");
    assert!(report.contains("recovery: clean end"), "{report}");
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

fn records_of(rows: &[(String, u64, u64)], name: &str) -> u64 {
    rows.iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no channel {name} in {rows:?}"))
        .1
}

#[test]
fn jsonl_is_recorded_with_every_record_and_bad_lines_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut jsonl = String::new();
    for i in 0..500 {
        if i == 100 {
            jsonl.push_str("{\"v\": oops}\n");
        }
        if i == 200 {
            jsonl.push_str("{\"v\":\"text\",\"w\":1}\n");
        }
        jsonl.push_str(&format!(
            "{{\"v\":{},\"cpu\":{{\"user\":{}}},\"ok\":true{}}}\n",
            (i as f64 * 0.1).sin(),
            i,
            if i >= 250 { ",\"late\":1" } else { "" }
        ));
    }
    std::fs::write(dir.path().join("app.jsonl"), &jsonl).unwrap();
    let out = run(
        &["record", "--input", "app.jsonl", "-o", "app.mtr"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // 501 events (500 objects and the one whose v is a string), 500 v, 500 cpu.user, 1 w,
    // 250 late.
    assert!(stdout.starts_with("recorded 1752 records"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 101: not a JSON object"), "{stderr}");
    assert!(
        stderr.contains("line 202: field \"v\" is a string here but was a number"),
        "{stderr}"
    );
    let rows = replayed(&dir.path().join("app.mtr"), dir.path());
    assert_eq!(records_of(&rows, "app"), 501);
    assert_eq!(records_of(&rows, "v"), 500);
    assert_eq!(records_of(&rows, "cpu.user"), 500);
    assert_eq!(records_of(&rows, "late"), 250, "a field that appears later");
    assert!(rows.iter().all(|(_, _, gaps)| *gaps == 0), "{rows:?}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("noheader.csv"), "1,2\n3,4\n").unwrap();
    let out = run(&["record", "--input", "noheader.csv", "-o", "x.mtr"], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("noheader.csv: line 1: this CSV has no header"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(d.join("empty.csv"), "").unwrap();
    let out = run(&["record", "--input", "empty.csv", "-o", "y.mtr"], d);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("empty"), "{}", text(&out.stderr));
    let out = run(&["open", "missing.csv"], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot open missing.csv"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(d.join("series.csv"), "t,x\n0,1\n1,2\n2,zz\n").unwrap();
    let out = run(&["analyze", "--column", "x", "series.csv"], d);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        "midstream-tui: series.csv:4: column \"x\": not a number: \"zz\""
    );
    let out = run(
        &["motifs", "--window", "3", "--column", "y", "series.csv"],
        d,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no numeric column \"y\"; the csv input has: t, x"),
        "{}",
        text(&out.stderr)
    );
}

/// Drops the key of a JSON object that depends on the run (the elapsed time).
fn without_timing(json: &str) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    if let Some(map) = value.as_object_mut() {
        map.remove("elapsed_ms");
    }
    value
}

#[test]
fn a_column_gives_what_the_same_numbers_give_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attractor/henon_x.txt");
    let values: Vec<String> = std::fs::read_to_string(fixture)
        .unwrap()
        .lines()
        .take(2000)
        .map(str::to_owned)
        .collect();
    std::fs::write(d.join("one.txt"), values.join("\n")).unwrap();
    let mut csv = String::from("i,\"henon x\",note\n");
    let mut jsonl = String::new();
    for (i, v) in values.iter().enumerate() {
        csv.push_str(&format!("{i},{v},\"a, b\"\n"));
        jsonl.push_str(&format!("{{\"i\":{i},\"h\":{{\"x\":{v}}}}}\n"));
    }
    std::fs::write(d.join("two.csv"), csv).unwrap();
    std::fs::write(d.join("two.jsonl"), jsonl).unwrap();

    let plain = run(&["analyze", "--json", "one.txt"], d);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    for (file, column) in [("two.csv", "henon x"), ("two.jsonl", "h.x")] {
        let out = run(&["analyze", "--json", "--column", column, file], d);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            without_timing(&text(&out.stdout)),
            without_timing(&text(&plain.stdout)),
            "{file}"
        );
        let motifs = run(
            &[
                "motifs", "--window", "20", "--json", "--column", column, file,
            ],
            d,
        );
        let plain_motifs = run(&["motifs", "--window", "20", "--json", "one.txt"], d);
        assert_eq!(
            without_timing(&text(&motifs.stdout)),
            without_timing(&text(&plain_motifs.stdout))
        );
    }
    let out = run(
        &[
            "compare", "--metric", "dtw", "--column", "henon x", "two.csv", "two.csv",
        ],
        d,
    );
    assert_eq!(text(&out.stdout).trim(), "0", "{}", text(&out.stderr));
}

#[test]
fn a_csv_of_1000_columns_is_served_over_quic_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let columns = 1000;
    let rows = 100;
    let mut csv = (0..columns)
        .map(|c| format!("c{c}"))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for r in 0..rows {
        let row: Vec<String> = (0..columns)
            .map(|c| format!("{}", r * columns + c))
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    std::fs::write(d.join("wide.csv"), csv).unwrap();
    let served = binary::serve(d, &["--input", "wide.csv"]);
    let out = run(
        &[
            "record",
            &served.addr,
            "--pin",
            &served.pin,
            "--duration",
            "8",
            "-o",
            "wide.mtr",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let channels = replayed(&d.join("wide.mtr"), d);
    assert_eq!(
        channels.len(),
        columns + 1,
        "the columns and the event channel"
    );
    for (name, records, gaps) in &channels {
        assert_eq!((*records, *gaps), (rows as u64, 0), "channel {name}");
    }
}

#[test]
fn a_followed_file_is_read_across_appends_truncation_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("grow.jsonl");
    let write = |path: &PathBuf, from: usize, to: usize, append: bool| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .unwrap();
        for i in from..to {
            writeln!(file, "{{\"n\":{i}}}").unwrap();
        }
    };
    write(&path, 0, 10, false);
    let recorder = Command::new(BIN)
        .args([
            "record",
            "--input",
            "grow.jsonl",
            "--follow",
            "--duration",
            "4",
            "-o",
            "grow.mtr",
        ])
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pause = || std::thread::sleep(Duration::from_millis(700));
    pause();
    write(&path, 10, 20, true); // appended
    pause();
    write(&path, 100, 105, false); // truncated and rewritten, shorter than before
    pause();
    std::fs::rename(&path, d.join("grow.jsonl.1")).unwrap(); // rotated
    write(&path, 200, 212, false);
    let out = recorder.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("recorded 74 records"),
        "{}",
        text(&out.stdout)
    );
    let rows = replayed(&d.join("grow.mtr"), d);
    assert_eq!(records_of(&rows, "n"), 37);
    assert_eq!(records_of(&rows, "grow"), 37);
}

/// `command` run by `sh` in a 40 × 140 terminal, in `dir` (also its config home), with the
/// binary as `$MIDSTREAM`.
fn shell_in_pty(command: &str, dir: &Path) -> Pty {
    let mut cmd = CommandBuilder::new("sh");
    cmd.args(["-c", command]);
    cmd.cwd(dir);
    cmd.env("HOME", dir);
    cmd.env("XDG_CONFIG_HOME", dir);
    cmd.env("MIDSTREAM", BIN);
    Pty::spawn(cmd, 40, 140)
}

/// Quits with `q`; the exit code.
fn quit(pty: &mut Pty) -> u32 {
    pty.send(b"q");
    pty.wait_exit("q", Duration::from_secs(10)).exit_code()
}

#[test]
fn open_shows_a_file_and_stays_open_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("t,wave,state\n");
    for i in 0..2000 {
        csv.push_str(&format!("{i},{},up\n", (i as f64 / 10.0).sin()));
    }
    csv.push_str("2000,nope,down\n");
    std::fs::write(dir.path().join("waves.csv"), csv).unwrap();
    let mut pty = shell_in_pty("\"$MIDSTREAM\" open waves.csv", dir.path());
    let screen = pty.wait_for("the end of the input", Duration::from_secs(30), |s| {
        s.contains("ENDED")
    });
    assert!(screen.contains("end of input: 2002 lines"), "{screen}");
    assert!(screen.contains("1 bad cell"), "{screen}");
    for name in ["waves", "wave", "t"] {
        assert!(
            screen.lines().any(|l| l.contains(&format!(" {name} "))),
            "{name}:\n{screen}"
        );
    }
    assert_eq!(quit(&mut pty), 0);
}

#[test]
fn open_reads_a_pipe_while_the_keys_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut jsonl = String::new();
    for i in 0..300 {
        jsonl.push_str(&format!("{{\"load\":{}}}\n", i % 17));
    }
    std::fs::write(dir.path().join("feed.jsonl"), jsonl).unwrap();
    // The pipe stays open after the lines, as `tail -F` would keep it (blank lines, skipped,
    // until the reader is gone).
    let mut pty = shell_in_pty(
        "(cat feed.jsonl; while sleep 0.2; do echo; done) | \"$MIDSTREAM\" open - --name feed",
        dir.path(),
    );
    pty.wait_for("the piped records", Duration::from_secs(30), |s| {
        s.contains("600 received") && s.contains("reading stdin")
    });
    assert_eq!(
        quit(&mut pty),
        0,
        "q is read from the terminal while stdin is the data"
    );
}

/// Through the library: a file whose time field gives the sample period after a few lines, and
/// whose field a formula needs appears only later. The engines take both when they come.
#[test]
fn the_engines_follow_a_period_and_a_field_that_come_later() {
    use midstream::model::SourceEvent;
    use midstream::pipeline::{AnalysisConfig, Engines, FormulaStatus, Pipeline};
    use midstream::scheduler::{Scheduler, SchedulerConfig};
    use midstream::sources::input::{InputEnd, InputOptions, InputPath, TextInput};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plant.jsonl");
    let mut x = 0.3_f64;
    let mut lines = String::new();
    for i in 0..600 {
        x = 3.9 * x * (1.0 - x);
        let queue = if i >= 300 {
            format!(",\"queue\":{}", i - 300)
        } else {
            String::new()
        };
        lines.push_str(&format!(
            "{{\"ts\":{},\"x\":{x}{queue}}}\n",
            1000.0 + 0.5 * i as f64
        ));
    }
    std::fs::write(&path, lines).unwrap();

    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::with_workers(2)).unwrap());
    let config = AnalysisConfig {
        formulas: vec!["G(queue < 50)".into()],
        patterns: Vec::new(),
        ..AnalysisConfig::default()
    };
    let mut pipeline =
        Pipeline::new("plant").with_engines(Engines::new(scheduler.clone(), config).unwrap());
    let mut opts = InputOptions::new(InputPath::File(path));
    opts.time_field = Some("ts".into());
    let input = TextInput::open(opts).unwrap();
    let end = input.run(&mut |event: SourceEvent| {
        pipeline.handle(event, Instant::now());
        true
    });
    assert_eq!(end, InputEnd::Ended);
    assert!(pipeline.finish_engines(Duration::from_secs(60)));
    let snapshot = pipeline.snapshot(Instant::now());
    let x = snapshot
        .catalog
        .channels
        .iter()
        .find(|c| c.name == "x")
        .unwrap();
    assert_eq!(x.period_s, Some(0.5), "the median step of the time field");
    let chaos = &snapshot.analysis.chaos[&x.id];
    assert_eq!(chaos.lyapunov_unit, "1/s", "{chaos:?}");
    // The reference: λ of the logistic map is the orbit's mean of ln|r (1 − 2x)| (0.4945 per
    // iteration at r = 3.9), so about 0.99 per second at 2 iterations a second.
    let mut y = 0.3_f64;
    let reference = (0..100_000)
        .map(|_| {
            y = 3.9 * y * (1.0 - y);
            (3.9 * (1.0 - 2.0 * y)).abs().ln()
        })
        .sum::<f64>()
        / 100_000.0
        / 0.5;
    let lambda = chaos.lyapunov.unwrap();
    assert!(
        (lambda - reference).abs() < 0.35 * reference,
        "{lambda} vs {reference}"
    );
    let formula = snapshot
        .analysis
        .formulas
        .iter()
        .find(|f| f.formula == "G(queue < 50)")
        .expect("the formula starts once its field appears");
    assert_eq!(formula.status, FormulaStatus::Violated);
    assert_eq!(
        formula.steps, 300,
        "checked from the first record with the field"
    );
    // queue = 50 on the 51st record that has it: the first violation. The dashboard's
    // monitors restart after a verdict, so later records violate it again.
    assert!(formula.restarts);
    assert!(
        matches!(formula.violation_steps.first(), Some(50 | 51)),
        "{:?}",
        formula.violation_steps
    );
    assert!(formula.violations >= 1);
    scheduler.shutdown_now();
}

#[test]
fn a_line_that_is_not_utf8_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"{\"v\":1}\n".to_vec();
    bytes.extend_from_slice(b"{\"v\":\xff}\n");
    bytes.extend_from_slice(b"{\"v\":3}\n");
    std::fs::write(dir.path().join("mixed.jsonl"), bytes).unwrap();
    let out = run(
        &["record", "--input", "mixed.jsonl", "-o", "mixed.mtr"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 2: not valid UTF-8 (byte 6)"),
        "{stderr}"
    );
    assert!(stderr.contains("1 bad line"), "{stderr}");
    assert!(
        text(&out.stdout).starts_with("recorded 4 records"),
        "{}",
        text(&out.stdout)
    );
}

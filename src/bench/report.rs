//! `bench --report DIR`: per suite one chart, as `SUITE.svg` and `SUITE.png`, and a Markdown
//! summary table (`summary.md`).
//!
//! A chart has the suite's medians with their 95% intervals on a logarithmic time axis, each
//! budget marked as a red cross at the time it allows (a rate budget converted with the
//! benchmark's element count); and, when the suite has benchmarks that differ only in a
//! numeric last part (`dtw/full/abs/10` … `/1000`), their scaling curves: time against n, both
//! logarithmic. Text in the PNG is drawn with the DejaVu Sans Mono font built into the binary,
//! so no system font library is needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::outcome::{Measured, RunOutcome};
use super::run::{format_ns, format_rate};

/// DejaVu Sans Mono (its licence in `assets/fonts/LICENSE-DejaVu`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
const FAMILY: &str = "sans-serif";

const WIDTH: u32 = 1280;
/// Height of one benchmark's row in the medians chart.
const ROW_HEIGHT: u32 = 22;
const SCALING_HEIGHT: u32 = 420;
/// How far the medians chart's time axis reaches beyond the slowest result, as a factor: the
/// legend's room (one and a half decades on the log axis).
const LEGEND_ROOM: f64 = 30.0;
/// Fewest points that make a scaling curve.
const MIN_CURVE_POINTS: usize = 3;

/// Registers the built-in font as plotters' `sans-serif`, the family these charts and
/// criterion's own HTML report draw their text with: plotters is built with `ab_glyph`, which
/// knows no system fonts, so without this every chart with text fails.
pub(crate) fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the built-in font does not load".to_owned())
        })
        .clone()
}

/// Writes the charts and the summary of `run` into `dir`.
pub fn write(dir: &Path, run: &RunOutcome) -> Result<(), String> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut by_suite: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in &run.results {
        by_suite.entry(m.suite.as_str()).or_default().push(m);
    }
    for (suite, results) in &by_suite {
        let curves = scaling_curves(results);
        let height = chart_height(results.len(), !curves.is_empty());
        let svg = dir.join(format!("{suite}.svg"));
        {
            let root = SVGBackend::new(&svg, (WIDTH, height)).into_drawing_area();
            draw_suite(&root, suite, results, &curves).map_err(|e| format!("{suite}.svg: {e}"))?;
            root.present()
                .map_err(|e| format!("{}: {e}", svg.display()))?;
        }
        let png = dir.join(format!("{suite}.png"));
        {
            let root = BitMapBackend::new(&png, (WIDTH, height)).into_drawing_area();
            draw_suite(&root, suite, results, &curves).map_err(|e| format!("{suite}.png: {e}"))?;
            root.present()
                .map_err(|e| format!("{}: {e}", png.display()))?;
        }
    }
    let summary = dir.join("summary.md");
    std::fs::write(&summary, summary_markdown(run))
        .map_err(|e| format!("{}: {e}", summary.display()))
}

fn chart_height(rows: usize, with_curves: bool) -> u32 {
    let medians = 110 + ROW_HEIGHT * rows as u32;
    medians + if with_curves { SCALING_HEIGHT } else { 0 }
}

/// A benchmark's budget as a time per iteration, if it has one.
fn budget_ns(m: &Measured) -> Option<f64> {
    let b = m.budget.as_ref()?;
    match (b.max_ns, b.min_per_s) {
        (Some(ns), _) => Some(ns),
        (_, Some(rate)) => m
            .throughput
            .and_then(|t| t.elements)
            .map(|n| n as f64 * 1e9 / rate),
        _ => None,
    }
}

/// Curves of benchmarks that differ only in a numeric last part: (name, [(n, median ns)]).
type Curve = (String, Vec<(f64, f64)>);

fn scaling_curves(results: &[&Measured]) -> Vec<Curve> {
    let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for m in results {
        if let Some((prefix, last)) = m.id.rsplit_once('/')
            && let Ok(n) = last.parse::<f64>()
            && n > 0.0
        {
            curves
                .entry(prefix.to_owned())
                .or_default()
                .push((n, m.median_ns));
        }
    }
    curves
        .into_iter()
        .filter(|(_, points)| points.len() >= MIN_CURVE_POINTS)
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name, points)
        })
        .collect()
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_suite<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    suite: &str,
    results: &[&Measured],
    curves: &[Curve],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let medians_height = 110 + ROW_HEIGHT * results.len() as u32;
    let (top, bottom) = root.split_vertically(medians_height);
    draw_medians(&top, suite, results)?;
    if !curves.is_empty() {
        draw_curves(&bottom, suite, curves)?;
    }
    Ok(())
}

/// The range a logarithmic axis needs for `values`, with a margin on both sides.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        return (1.0, 10.0);
    }
    (low / 2.0, high * 2.0)
}

fn draw_medians<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    suite: &str,
    results: &[&Measured],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let values = results.iter().flat_map(|m| {
        let (low, high) = m
            .interval
            .map(|i| (i.low_ns, i.high_ns))
            .unwrap_or((m.median_ns, m.median_ns));
        [low, high, budget_ns(m).unwrap_or(m.median_ns)]
    });
    let (low, high) = log_range(values);
    // Room on the right of the slowest result for the legend.
    let high = high * LEGEND_ROOM;
    let rows = results.len() as i32;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{suite}: median time per iteration, 95% interval, budget ×"),
            (FAMILY, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(430)
        .build_cartesian_2d((low..high).log_scale(), (0..rows).into_segmented())?;
    chart
        .configure_mesh()
        .y_labels(results.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => results
                .len()
                .checked_sub(1 + *i as usize)
                .and_then(|k| results.get(k))
                .map(|m| {
                    let mark = match m.met {
                        Some(true) => "✓",
                        Some(false) => "✗",
                        None => " ",
                    };
                    format!("{mark} {}", m.id)
                })
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .x_label_formatter(&|ns| format_ns(*ns))
        .x_desc("time per iteration (log)")
        .label_style((FAMILY, 13))
        .draw()?;
    let median_style = ShapeStyle::from(&BLUE).filled();
    // The first result on the top row.
    let row = |i: usize| SegmentValue::CenterOf((results.len() - 1 - i) as i32);
    chart
        .draw_series(results.iter().enumerate().filter_map(|(i, m)| {
            let interval = m.interval?;
            Some(PathElement::new(
                vec![(interval.low_ns, row(i)), (interval.high_ns, row(i))],
                BLUE.stroke_width(2),
            ))
        }))?
        .label("95% interval")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(
            results
                .iter()
                .enumerate()
                .map(|(i, m)| Circle::new((m.median_ns, row(i)), 4, median_style)),
        )?
        .label("median")
        .legend(move |(x, y)| Circle::new((x + 8, y), 4, median_style));
    chart
        .draw_series(results.iter().enumerate().filter_map(|(i, m)| {
            Some(Cross::new((budget_ns(m)?, row(i)), 6, RED.stroke_width(2)))
        }))?
        .label("budget")
        .legend(|(x, y)| Cross::new((x + 8, y), 6, RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 13))
        .draw()?;
    Ok(())
}

fn draw_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    suite: &str,
    curves: &[Curve],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (n_low, n_high) = log_range(curves.iter().flat_map(|(_, p)| p.iter().map(|(n, _)| *n)));
    let (t_low, t_high) = log_range(curves.iter().flat_map(|(_, p)| p.iter().map(|(_, t)| *t)));
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{suite}: scaling, median time against n"),
            (FAMILY, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d((n_low..n_high).log_scale(), (t_low..t_high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("n (log)")
        .y_desc("time (log)")
        .y_label_formatter(&|ns| format_ns(*ns))
        .x_label_formatter(&|n| format!("{n:.0}"))
        .label_style((FAMILY, 13))
        .draw()?;
    for (k, (name, points)) in curves.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 3, ShapeStyle::from(&color).filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 12))
        .draw()?;
    Ok(())
}

/// The Markdown table of every result.
pub fn summary_markdown(run: &RunOutcome) -> String {
    let mut md = String::new();
    let kind = if run.quick { "quick run" } else { "full run" };
    let _ = writeln!(md, "# Benchmarks ({kind})\n");
    if let Some(name) = &run.baseline {
        let _ = writeln!(
            md,
            "Compared with baseline `{name}`; noise margin {:.0}%.\n",
            run.noise_margin * 100.0
        );
    }
    let _ = writeln!(
        md,
        "| | benchmark | median | 95% interval | throughput | budget | vs baseline | vs raw quinn |"
    );
    let _ = writeln!(md, "| --- | --- | ---: | --- | ---: | --- | ---: | ---: |");
    for m in &run.results {
        let mark = match m.met {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "",
        };
        let interval = m
            .interval
            .map(|i| format!("{} – {}", format_ns(i.low_ns), format_ns(i.high_ns)))
            .unwrap_or_default();
        let throughput = m
            .throughput
            .map(|t| {
                let mut parts = Vec::new();
                if let Some(r) = t.per_s {
                    parts.push(format_rate(r, "elem"));
                }
                if let Some(r) = t.bytes_per_s {
                    parts.push(format_rate(r, "B"));
                }
                parts.join(", ")
            })
            .unwrap_or_default();
        let budget = m
            .budget
            .as_ref()
            .map(|b| match (b.max_ns, b.min_per_s) {
                (Some(ns), _) => format!("≤ {}", format_ns(ns)),
                (_, Some(r)) => format!("≥ {}", format_rate(r, "elem")),
                _ => String::new(),
            })
            .unwrap_or_default();
        let baseline = m
            .baseline
            .as_ref()
            .map(|b| {
                let noise = if b.beyond_noise { "" } else { " (noise)" };
                format!("{:+.1}%{noise}", b.change * 100.0)
            })
            .unwrap_or_default();
        let raw = m.vs_raw.map(|r| format!("{r:.2}×")).unwrap_or_default();
        let _ = writeln!(
            md,
            "| {mark} | `{}` | {} | {interval} | {throughput} | {budget} | {baseline} | {raw} |",
            m.id,
            format_ns(m.median_ns)
        );
    }
    if !run.figures.is_empty() {
        let _ = writeln!(md, "\n| figure | value |\n| --- | ---: |");
        for f in &run.figures {
            let _ = writeln!(md, "| `{}` | {:.3} {} |", f.id, f.value, f.unit);
        }
    }
    if let Some(w) = &run.wasm {
        let _ = writeln!(
            md,
            "\nWebAssembly engines: {} bytes ({}).",
            w.bytes,
            w.path.display()
        );
    }
    if !run.failures.is_empty() {
        let _ = writeln!(md, "\n## Failed\n");
        for f in &run.failures {
            let _ = writeln!(md, "- {f}");
        }
    }
    md
}

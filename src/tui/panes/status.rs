//! The status line: mode (LIVE / REPLAY ×speed / FROZEN / REC), the `--insecure` warning, the
//! link, the latest notice (a failed recording, an added pattern), records received and
//! missing, frames per second.
//!
//! It always shows the latest snapshot, also while the panes are frozen, so the user sees that
//! data keeps arriving.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::pipeline::{LinkState, Snapshot};
use crate::tui::app::{App, MESSAGE_TTL, SourceMode};
use crate::tui::format;
use crate::tui::theme::{ModeTag, Theme};

/// The warning shown the whole time when certificates are not verified.
pub const INSECURE_WARNING: &str = " INSECURE: certificate not verified ";

/// Draw the status line of `latest` into `area` (one row).
pub fn render(frame: &mut Frame, area: Rect, app: &App, latest: &Snapshot, theme: &Theme) {
    let help = Span::styled(" ? help ", theme.muted());
    let help_width = help.width() as u16;
    frame.render_widget(line(app, latest, theme), area);
    if area.width > help_width {
        let right = Rect {
            x: area.right() - help_width,
            width: help_width,
            ..area
        };
        // Only when the line leaves room for it.
        if line(app, latest, theme).width() as u16 + 1 < right.x - area.x {
            frame.render_widget(help, right);
        }
    }
}

/// The status line without the help hint, most important first (it is cut on the right).
pub fn line<'a>(app: &App, latest: &'a Snapshot, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    let source = &latest.source;
    let mode = app.mode(latest);
    match mode.source {
        SourceMode::Replay { speed, paused } => {
            let text = if paused {
                format!(" REPLAY {} paused ", format::speed(speed))
            } else {
                format!(" REPLAY {} ", format::speed(speed))
            };
            spans.push(Span::styled(text, theme.tag(ModeTag::Replay)));
        }
        SourceMode::Live => spans.push(Span::styled(" LIVE ", theme.tag(ModeTag::Live))),
        SourceMode::Ended => spans.push(Span::styled(" ENDED ", theme.tag(ModeTag::Replay))),
    }
    if mode.frozen {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(" FROZEN ", theme.tag(ModeTag::Frozen)));
    }
    if mode.recording {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!(" REC {} ", format::count(source.recorded)),
            theme.tag(ModeTag::Recording),
        ));
    }
    if source.insecure {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(INSECURE_WARNING, theme.insecure()));
    }
    spans.push(Span::raw(" "));
    spans.push(link_span(latest, theme));
    if let Some(report) = source.input.as_ref().filter(|r| r.problems() > 0)
        && !matches!(source.link, LinkState::Ended { .. })
    {
        spans.push(Span::styled(" │ ", theme.muted()));
        spans.push(Span::styled(report.summary(), theme.warning()));
    }
    if let Some(notice) = notice_span(app, latest, Instant::now(), theme) {
        spans.push(Span::styled(" │ ", theme.muted()));
        spans.push(notice);
    }

    let separator = || Span::styled(" │ ", theme.muted());
    let missing: u64 = latest.channels.iter().map(|c| c.missing).sum();
    let received: u64 = latest.channels.iter().map(|c| c.received).sum();
    spans.push(separator());
    if missing > 0 {
        spans.push(Span::styled(
            format!("{} missing", format::count(missing)),
            theme.warning(),
        ));
    } else {
        spans.push(Span::raw("0 missing"));
    }
    spans.push(separator());
    spans.push(Span::raw(format!("{} received", format::count(received))));
    spans.push(separator());
    spans.push(Span::raw(format!("{} fps", app.fps())));
    Line::from(spans)
}

/// The newer of the screen's own message and the pipeline's notice: a warning stays until
/// something replaces it, news for [`MESSAGE_TTL`].
fn notice_span(app: &App, latest: &Snapshot, now: Instant, theme: &Theme) -> Option<Span<'static>> {
    let notice = latest
        .source
        .notice
        .as_ref()
        .filter(|n| n.warning || now.saturating_duration_since(n.at) < MESSAGE_TTL);
    match (app.message(now), notice) {
        (Some((text, at)), n) if n.is_none_or(|n| n.at <= at) => {
            Some(Span::styled(text.to_owned(), theme.warning()))
        }
        (_, Some(n)) if n.warning => Some(Span::styled(n.text.clone(), theme.warning())),
        (_, Some(n)) => Some(Span::styled(n.text.clone(), theme.good())),
        (_, None) => None,
    }
}

fn link_span<'a>(latest: &'a Snapshot, theme: &Theme) -> Span<'a> {
    let source = &latest.source;
    match &source.link {
        LinkState::Connecting => Span::raw(if source.label.is_empty() {
            "connecting".to_string()
        } else {
            format!("connecting to {}", source.label)
        }),
        LinkState::Connected { remote } => {
            Span::styled(format!("connected to {remote}"), theme.good())
        }
        LinkState::Stalled { remote, silent_for } => Span::styled(
            format!(
                "STALLED for {:.1} s: no packet from {remote}",
                silent_for.as_secs_f64()
            ),
            theme.warning(),
        ),
        LinkState::Reading { input } => Span::styled(format!("reading {input}"), theme.good()),
        LinkState::Reconnecting {
            reason,
            attempt,
            delay,
        } => Span::styled(
            format!(
                "reconnecting (attempt {attempt}, {reason}) in {}",
                format::duration(*delay)
            ),
            theme.warning(),
        ),
        LinkState::Replay {
            position_ns,
            length_ns,
            ..
        } => Span::raw(format!(
            "{} {} / {}",
            source.label,
            format::clock_ns(*position_ns),
            format::clock_ns(*length_ns)
        )),
        LinkState::Ended { reason } => Span::raw(format!("ended: {reason}")),
        LinkState::Failed { reason } => Span::styled(format!("failed: {reason}"), theme.error()),
    }
}

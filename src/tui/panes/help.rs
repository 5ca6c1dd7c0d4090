//! The help overlay: every key of [`BINDINGS`], by section, in as many columns as the screen
//! needs (one on a large screen, two at the minimum size).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::keymap::{BINDINGS, Section};
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

/// Width of the key column ("q  Ctrl-C", "Shift-Tab").
const KEY_COLUMN: usize = 10;

/// Blank columns between two columns of keys.
const COLUMN_GAP: u16 = 2;

/// The most columns the lines are flowed into when whole sections do not fit.
const MAX_COLUMNS: usize = 3;

/// The lines of each section: its title, then one line per key.
fn sections(theme: &Theme) -> Vec<Vec<Line<'static>>> {
    Section::ALL
        .iter()
        .map(|&section| {
            let mut lines = vec![Line::styled(section.title(), theme.title())];
            lines.extend(
                BINDINGS
                    .iter()
                    .filter(|b| b.section == section)
                    .map(|binding| {
                        Line::from(vec![
                            Span::styled(format!(" {:<KEY_COLUMN$}", binding.label), theme.title()),
                            Span::raw(binding.help),
                        ])
                    }),
            );
            lines
        })
        .collect()
}

/// The overlay's lines in one column, sections separated by a blank line.
pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for section in sections(theme) {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.extend(section);
    }
    lines
}

/// Whole sections packed into columns of at most `max_rows` lines, in order.
fn pack_sections(sections: &[Vec<Line<'static>>], max_rows: usize) -> Vec<Vec<Line<'static>>> {
    let mut columns: Vec<Vec<Line<'static>>> = Vec::new();
    for section in sections {
        match columns.last_mut() {
            Some(column) if column.len() + 1 + section.len() <= max_rows => {
                column.push(Line::raw(""));
                column.extend(section.iter().cloned());
            }
            _ => columns.push(section.clone()),
        }
    }
    columns
}

/// `lines` cut into `n` columns of equal height; no column starts with a blank line.
fn flow_lines(lines: &[Line<'static>], n: usize) -> Vec<Vec<Line<'static>>> {
    let per_column = lines.len().div_ceil(n.max(1));
    lines
        .chunks(per_column.max(1))
        .map(|chunk| {
            let start = chunk.iter().take_while(|l| l.width() == 0).count();
            chunk[start..].to_vec()
        })
        .collect()
}

fn column_widths(columns: &[Vec<Line<'static>>]) -> Vec<u16> {
    columns
        .iter()
        .map(|c| c.iter().map(Line::width).max().unwrap_or(0) as u16)
        .collect()
}

/// Width and height of the overlay for `columns`, borders and margins included.
fn overlay_size(columns: &[Vec<Line<'static>>]) -> (u16, u16) {
    let widths = column_widths(columns);
    let gaps = COLUMN_GAP * (widths.len().max(1) as u16 - 1);
    let height = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    (widths.iter().sum::<u16>() + gaps + 4, height + 2)
}

/// The columns of the overlay for a screen of `area`: whole sections in as few columns as fit,
/// else the lines flowed into two or more columns; if nothing fits, the bottom is cut.
fn arrange(area: Rect, theme: &Theme) -> Vec<Vec<Line<'static>>> {
    let fits = |columns: &[Vec<Line<'static>>]| {
        let (w, h) = overlay_size(columns);
        w <= area.width && h <= area.height
    };
    let sections = sections(theme);
    let max_rows = usize::from(area.height.saturating_sub(2));
    let packed = pack_sections(&sections, max_rows);
    if fits(&packed) {
        return packed;
    }
    let lines = lines(theme);
    // Without the blank lines between sections (the section titles still separate them), when
    // the screen is too small for them: at the minimum size every key must stay visible.
    let dense: Vec<Line<'static>> = lines.iter().filter(|l| l.width() > 0).cloned().collect();
    [&lines, &dense]
        .into_iter()
        .flat_map(|lines| (2..=MAX_COLUMNS).map(|n| flow_lines(lines, n)))
        .find(|columns| fits(columns))
        .unwrap_or_else(|| flow_lines(&dense, 2))
}

/// Draw the help overlay centred in `area`.
pub fn render(frame: &mut Frame, area: Rect, theme: &Theme) {
    let columns = arrange(area, theme);
    let (width, height) = overlay_size(&columns);
    let overlay = centered(area, width, height);
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Line::from(vec![
            Span::styled(" Keys ", theme.title()),
            Span::styled("· ? or Esc closes ", theme.muted()),
        ]));
    let inner = block.inner(overlay).inner(Margin::new(1, 0));
    frame.render_widget(Clear, overlay);
    frame.render_widget(block, overlay);
    let widths = column_widths(&columns);
    let areas = Layout::horizontal(widths.iter().map(|&w| Constraint::Length(w)))
        .spacing(COLUMN_GAP)
        .split(inner);
    for (column, &rect) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(column), rect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_listed() {
        let text: Vec<String> = lines(&Theme::NO_COLOR)
            .iter()
            .map(|l| l.to_string())
            .collect();
        for b in BINDINGS {
            assert!(
                text.iter()
                    .any(|l| l.contains(b.label) && l.contains(b.help)),
                "{} missing",
                b.label
            );
        }
    }

    #[test]
    fn whole_sections_stay_together_when_they_fit() {
        let sections = sections(&Theme::NO_COLOR);
        let tall = pack_sections(&sections, 100);
        assert_eq!(tall.len(), 1);
        assert_eq!(tall[0].len(), lines(&Theme::NO_COLOR).len());
        let biggest = sections.iter().map(Vec::len).max().unwrap_or(0);
        let narrow = pack_sections(&sections, biggest);
        assert_eq!(narrow.len(), sections.len());
    }

    #[test]
    fn flowed_columns_do_not_start_with_a_blank_line() {
        let lines = lines(&Theme::NO_COLOR);
        for n in 1..=MAX_COLUMNS {
            let cols = flow_lines(&lines, n);
            assert_eq!(cols.len(), n);
            for c in &cols {
                assert!(c.first().is_some_and(|l| l.width() > 0));
            }
            let kept: usize = cols.iter().map(Vec::len).sum();
            assert!(kept >= lines.len() - n, "only blank lines are dropped");
        }
    }
}

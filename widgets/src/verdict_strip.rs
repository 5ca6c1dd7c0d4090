//! A strip of recent verdicts, one cell per step, newest at the right edge:
//! `✓` true, `✗` false, `·` undecided (the symbols stay distinguishable without colour).
//!
//! ```text
//! ✓✓✓··✗✓✓✓
//! ```
//!
//! The verdicts come as a double-ended iterator (oldest first), so a `VecDeque` of history is
//! drawn without copying: only the newest `width` verdicts are visited.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::{Modifier, Style};
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    True,
    False,
    Undecided,
}

impl From<Option<bool>> for Verdict {
    fn from(v: Option<bool>) -> Self {
        match v {
            Some(true) => Verdict::True,
            Some(false) => Verdict::False,
            None => Verdict::Undecided,
        }
    }
}

impl From<bool> for Verdict {
    fn from(v: bool) -> Self {
        if v { Verdict::True } else { Verdict::False }
    }
}

/// The symbol and style of each kind of verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictLook {
    pub true_symbol: char,
    pub false_symbol: char,
    pub undecided_symbol: char,
    pub true_style: Style,
    pub false_style: Style,
    pub undecided_style: Style,
}

impl Default for VerdictLook {
    fn default() -> Self {
        Self {
            true_symbol: '✓',
            false_symbol: '✗',
            undecided_symbol: '·',
            true_style: Style::new(),
            false_style: Style::new().add_modifier(Modifier::BOLD),
            undecided_style: Style::new().add_modifier(Modifier::DIM),
        }
    }
}

impl VerdictLook {
    fn of(&self, v: Verdict) -> (char, Style) {
        match v {
            Verdict::True => (self.true_symbol, self.true_style),
            Verdict::False => (self.false_symbol, self.false_style),
            Verdict::Undecided => (self.undecided_symbol, self.undecided_style),
        }
    }
}

/// A one-row strip of the most recent verdicts, newest at the right.
#[derive(Debug, Clone)]
pub struct VerdictStrip<'a, I> {
    verdicts: I,
    look: VerdictLook,
    block: Option<Block<'a>>,
}

impl<'a, I> VerdictStrip<'a, I>
where
    I: DoubleEndedIterator<Item = Verdict>,
{
    /// A strip of `verdicts`, oldest first.
    pub fn new<V>(verdicts: V) -> Self
    where
        V: IntoIterator<IntoIter = I>,
    {
        Self {
            verdicts: verdicts.into_iter(),
            look: VerdictLook::default(),
            block: None,
        }
    }

    #[must_use]
    pub fn look(mut self, look: VerdictLook) -> Self {
        self.look = look;
        self
    }

    #[must_use]
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }
}

impl<I> Widget for VerdictStrip<'_, I>
where
    I: DoubleEndedIterator<Item = Verdict>,
{
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = match &self.block {
            Some(block) => {
                block.render(area, buf);
                block.inner(area)
            }
            None => area,
        };
        if inner.is_empty() {
            return;
        }
        let y = inner.y;
        let newest_first = self.verdicts.rev().take(usize::from(inner.width));
        for (i, verdict) in newest_first.enumerate() {
            let x = inner.right() - 1 - i as u16;
            let (symbol, style) = self.look.of(verdict);
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_char(symbol).set_style(style);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui_core::style::Color;
    use std::collections::VecDeque;

    fn render<I: DoubleEndedIterator<Item = Verdict>>(
        strip: VerdictStrip<'_, I>,
        width: u16,
        height: u16,
    ) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
        strip.render(buf.area, &mut buf);
        buf
    }

    fn text(buf: &Buffer) -> String {
        buf.content().iter().map(|c| c.symbol()).collect()
    }

    use Verdict::{False as F, True as T, Undecided as U};

    #[test]
    fn newest_verdict_is_at_the_right_edge() {
        let buf = render(VerdictStrip::new([T, U, F]), 6, 1);
        assert_eq!(text(&buf), "   ✓·✗");
    }

    #[test]
    fn only_the_newest_verdicts_that_fit_are_drawn() {
        let history: VecDeque<Verdict> = [F, F, T, T, U, T].into_iter().collect();
        let buf = render(VerdictStrip::new(history.iter().copied()), 4, 1);
        assert_eq!(text(&buf), "✓✓·✓");
    }

    #[test]
    fn conversions() {
        assert_eq!(Verdict::from(Some(true)), T);
        assert_eq!(Verdict::from(Some(false)), F);
        assert_eq!(Verdict::from(None), U);
        assert_eq!(Verdict::from(false), F);
    }

    #[test]
    fn styled_strip_in_a_block() {
        let look = VerdictLook {
            true_style: Style::new().fg(Color::Green),
            false_style: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            undecided_style: Style::new().add_modifier(Modifier::DIM),
            ..VerdictLook::default()
        };
        let verdicts = [U, U, T, T, T, F, F, U, T, T, T, T];
        let strip = VerdictStrip::new(verdicts)
            .look(look)
            .block(Block::bordered().title("G(err -> F ok)"));
        let buf = render(strip, 20, 3);
        assert_eq!(buf[(18, 1)].style().fg, Some(Color::Green));
        assert_eq!(buf[(13, 1)].style().fg, Some(Color::Red));
        insta::assert_snapshot!(format!("{buf:?}"));
    }

    #[test]
    fn empty_history_and_zero_area() {
        let buf = render(VerdictStrip::new(std::iter::empty()), 5, 1);
        assert_eq!(text(&buf), "     ");
        let _ = render(VerdictStrip::new([T]), 0, 0);
    }
}

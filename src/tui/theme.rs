//! Colours and emphasis.
//!
//! Only the terminal's named ANSI colours are used (red, green, blue, magenta, cyan), never RGB,
//! never white or black, and never a background colour: the terminal's palette adapts the named
//! colours to a light or dark background, and the default foreground stays readable on both.
//! Emphasis that must survive without colour (focus, warnings, the newest points) is carried by
//! modifiers (bold, dim, reversed) as well.
//!
//! With colour off (`NO_COLOR`, <https://no-color.org>) every style keeps only its modifiers.
//! The theme is a value handed to the renderer, so tests choose it; only [`Theme::from_env`]
//! reads the environment.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

use midstream_widgets::phase_portrait::AGE_BANDS;

/// The look of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub const COLOR: Theme = Theme { color: true };
    pub const NO_COLOR: Theme = Theme { color: false };

    /// Colour unless the `NO_COLOR` environment variable is set to a non-empty value.
    pub fn from_env() -> Self {
        Self::from_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a given value of `NO_COLOR`: present and non-empty turns colour off.
    pub fn from_no_color(value: Option<&OsStr>) -> Self {
        match value {
            Some(v) if !v.is_empty() => Self::NO_COLOR,
            _ => Self::COLOR,
        }
    }

    pub fn has_color(&self) -> bool {
        self.color
    }

    /// `style` with foreground `fg` when colour is on, else `style` alone.
    fn paint(&self, style: Style, fg: Color) -> Style {
        if self.color { style.fg(fg) } else { style }
    }

    /// A pane's border: the focused pane stands out.
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.paint(Style::new().add_modifier(Modifier::BOLD), Color::Cyan)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn table_header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The focused channel's row: reversed when its pane has the focus, bold otherwise.
    pub fn selected_row(&self, pane_focused: bool) -> Style {
        if pane_focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// Secondary text: notes, separators, axis labels.
    pub fn muted(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Something is off but not broken (gaps, reconnecting).
    pub fn warning(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::BOLD), Color::Magenta)
    }

    /// Something is broken (a failed link).
    pub fn error(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::BOLD), Color::Red)
    }

    pub fn good(&self) -> Style {
        self.paint(Style::new(), Color::Green)
    }

    /// The `--insecure` warning: red, and reversed so it shows without colour too.
    pub fn insecure(&self) -> Style {
        self.paint(
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Red,
        )
    }

    /// A mode tag in the status line (LIVE, REPLAY, FROZEN, REC).
    pub fn tag(&self, tag: ModeTag) -> Style {
        let base = Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        match tag {
            ModeTag::Live => self.paint(base, Color::Green),
            ModeTag::Replay => self.paint(base, Color::Blue),
            ModeTag::Frozen => self.paint(base, Color::Magenta),
            ModeTag::Recording => self.paint(base, Color::Red),
        }
    }

    /// The attractor class tag of the Chaos pane: reversed, so it stands out without colour;
    /// chaotic in magenta, the regular classes in green, noise in the default colour.
    pub fn attractor_class(&self, class: &str) -> Style {
        let base = Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        match class {
            "chaotic" => self.paint(base, Color::Magenta),
            "periodic" | "quasi-periodic" | "fixed-point" | "fixed point" => {
                self.paint(base, Color::Green)
            }
            _ => base,
        }
    }

    /// Something to find at a glance: the newest pattern match on the sparkline.
    pub fn highlight(&self) -> Style {
        self.paint(
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Cyan,
        )
    }

    /// The first window of a motif pair (Motifs pane): bold cyan.
    pub fn motif_a(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::BOLD), Color::Cyan)
    }

    /// The second window of a motif pair: bold magenta; underlined as well, so that without
    /// colour it still reads apart from the first.
    pub fn motif_b(&self) -> Style {
        self.paint(
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            Color::Magenta,
        )
    }

    /// A discord (the window least like any other): bold red.
    pub fn discord(&self) -> Style {
        self.error()
    }

    /// Styles of the phase portrait's age bands, oldest first: old points dim in the default
    /// colour, the newest bold in cyan.
    pub fn portrait_ages(&self) -> [Style; AGE_BANDS] {
        [
            Style::new().add_modifier(Modifier::DIM),
            Style::new(),
            self.paint(Style::new(), Color::Cyan),
            self.paint(Style::new().add_modifier(Modifier::BOLD), Color::Cyan),
        ]
    }
}

/// The kinds of tag the status line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeTag {
    Live,
    Replay,
    Frozen,
    Recording,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_follows_the_convention() {
        assert_eq!(Theme::from_no_color(None), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new(""))), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new("1"))), Theme::NO_COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new("0"))), Theme::NO_COLOR);
    }

    #[test]
    fn without_colour_only_modifiers_remain() {
        let t = Theme::NO_COLOR;
        let styles = [
            t.border(true),
            t.warning(),
            t.error(),
            t.good(),
            t.insecure(),
            t.attractor_class("chaotic"),
            t.attractor_class("periodic"),
            t.highlight(),
            t.motif_a(),
            t.motif_b(),
            t.discord(),
            t.tag(ModeTag::Live),
            t.tag(ModeTag::Recording),
        ]
        .into_iter()
        .chain(t.portrait_ages());
        for s in styles {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
        assert!(t.insecure().add_modifier.contains(Modifier::REVERSED));
        assert_eq!(Theme::COLOR.insecure().fg, Some(Color::Red));
    }
}

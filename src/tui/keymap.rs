//! Keys → [`Action`]s. One table, [`BINDINGS`], drives both the mapping and the help overlay,
//! so the overlay lists every key the screen reacts to.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::control::{REPLAY_SEEK_STEP_NS, ReplayCommand};

/// What a key asks the screen to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Quit,
    ToggleHelp,
    /// Close the help overlay, else collapse an expanded pane.
    Dismiss,
    /// Freeze the screen on the current snapshot, or unfreeze and jump to the latest one.
    ToggleFreeze,
    FocusNext,
    FocusPrevious,
    NextChannel,
    PreviousChannel,
    /// Let the focused pane fill the screen, or put it back.
    ToggleExpand,
    ZoomIn,
    ZoomOut,
    /// The Scheduler pane: switch between wait and run times.
    ToggleLatencyKind,
    ToggleRecording,
    /// Make the focused channel's latest samples (as displayed, so also while frozen) a
    /// reference pattern.
    CapturePattern,
    /// On the Benchmarks pane: start a quick benchmark run in the background.
    RunBenchmarks,
    /// On the Patterns or Learning pane: select the next learnt pattern.
    NextLearnt,
    /// Keep (pin) the selected learnt pattern: never retired, saved like a captured one.
    PinLearnt,
    /// Drop the selected learnt pattern.
    DropLearnt,
    /// Only acted on while replaying a trace.
    Replay(ReplayCommand),
}

/// Groups of keys in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    General,
    View,
    Replay,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::General, Section::View, Section::Replay];

    pub fn title(self) -> &'static str {
        match self {
            Section::General => "General",
            Section::View => "View",
            Section::Replay => "Replay",
        }
    }
}

/// One key with or without Control. Shift is ignored for characters: terminals report `?`, `+`
/// and `C` with or without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Chord {
    Chord { code, ctrl: false }
}

const fn ctrl(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

/// A row of the key table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binding {
    pub chords: &'static [Chord],
    /// How the keys are written in the help overlay.
    pub label: &'static str,
    pub action: Action,
    /// At most [`HELP_TEXT_MAX`] characters, so the overlay fits the smallest screen.
    pub help: &'static str,
    pub section: Section,
}

/// The longest help text: two columns of key and text fit the minimum screen width.
pub const HELP_TEXT_MAX: usize = 16;

/// Every key the screen reacts to.
pub const BINDINGS: &[Binding] = &[
    Binding {
        chords: &[key('?')],
        label: "?",
        action: Action::ToggleHelp,
        help: "this help",
        section: Section::General,
    },
    Binding {
        chords: &[key('q'), ctrl('c')],
        label: "q  Ctrl-C",
        action: Action::Quit,
        help: "quit",
        section: Section::General,
    },
    Binding {
        chords: &[code(KeyCode::Esc)],
        label: "Esc",
        action: Action::Dismiss,
        help: "close / shrink",
        section: Section::General,
    },
    Binding {
        chords: &[key(' ')],
        label: "space",
        action: Action::ToggleFreeze,
        help: "freeze / go live",
        section: Section::General,
    },
    Binding {
        chords: &[key('r')],
        label: "r",
        action: Action::ToggleRecording,
        help: "record on / off",
        section: Section::General,
    },
    Binding {
        chords: &[key('a')],
        label: "a",
        action: Action::CapturePattern,
        help: "add as pattern",
        section: Section::General,
    },
    Binding {
        chords: &[key('l')],
        label: "l",
        action: Action::NextLearnt,
        help: "next learnt",
        section: Section::General,
    },
    Binding {
        chords: &[key('k')],
        label: "k",
        action: Action::PinLearnt,
        help: "keep learnt",
        section: Section::General,
    },
    Binding {
        chords: &[key('d')],
        label: "d",
        action: Action::DropLearnt,
        help: "drop learnt",
        section: Section::General,
    },
    Binding {
        chords: &[key('b')],
        label: "b",
        action: Action::RunBenchmarks,
        help: "run quick bench",
        section: Section::General,
    },
    Binding {
        chords: &[code(KeyCode::Tab)],
        label: "Tab",
        action: Action::FocusNext,
        help: "next pane",
        section: Section::View,
    },
    Binding {
        chords: &[code(KeyCode::BackTab)],
        label: "Shift-Tab",
        action: Action::FocusPrevious,
        help: "previous pane",
        section: Section::View,
    },
    Binding {
        chords: &[key('c')],
        label: "c",
        action: Action::NextChannel,
        help: "next channel",
        section: Section::View,
    },
    Binding {
        chords: &[key('C')],
        label: "C",
        action: Action::PreviousChannel,
        help: "previous channel",
        section: Section::View,
    },
    Binding {
        chords: &[code(KeyCode::Enter)],
        label: "Enter",
        action: Action::ToggleExpand,
        help: "expand / shrink",
        section: Section::View,
    },
    Binding {
        chords: &[key('+'), key('=')],
        label: "+ =",
        action: Action::ZoomIn,
        help: "zoom in (phase)",
        section: Section::View,
    },
    Binding {
        chords: &[key('-')],
        label: "-",
        action: Action::ZoomOut,
        help: "zoom out",
        section: Section::View,
    },
    Binding {
        chords: &[key('w')],
        label: "w",
        action: Action::ToggleLatencyKind,
        help: "wait / run time",
        section: Section::View,
    },
    Binding {
        chords: &[key('p')],
        label: "p",
        action: Action::Replay(ReplayCommand::TogglePause),
        help: "pause / resume",
        section: Section::Replay,
    },
    Binding {
        chords: &[key(']')],
        label: "]",
        action: Action::Replay(ReplayCommand::SpeedUp),
        help: "speed ×2",
        section: Section::Replay,
    },
    Binding {
        chords: &[key('[')],
        label: "[",
        action: Action::Replay(ReplayCommand::SlowDown),
        help: "speed ÷2",
        section: Section::Replay,
    },
    Binding {
        chords: &[key('.')],
        label: ".",
        action: Action::Replay(ReplayCommand::Seek {
            delta_ns: REPLAY_SEEK_STEP_NS,
        }),
        help: "seek +5 s",
        section: Section::Replay,
    },
    Binding {
        chords: &[key(',')],
        label: ",",
        action: Action::Replay(ReplayCommand::Seek {
            delta_ns: -REPLAY_SEEK_STEP_NS,
        }),
        help: "seek −5 s",
        section: Section::Replay,
    },
    Binding {
        chords: &[key('0')],
        label: "0",
        action: Action::Replay(ReplayCommand::Restart),
        help: "restart",
        section: Section::Replay,
    },
];

/// The action bound to a key press, if any. Key releases and keys held with Alt are ignored.
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    if event.kind == KeyEventKind::Release || event.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    // Some terminals report Ctrl-C as an upper-case 'C' with Control and Shift.
    let code = match event.code {
        KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
        other => other,
    };
    let pressed = Chord { code, ctrl };
    BINDINGS
        .iter()
        .find(|b| b.chords.contains(&pressed))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn char_key(c: char) -> Option<Action> {
        action_for(&press(KeyCode::Char(c), KeyModifiers::NONE))
    }

    #[test]
    fn keys_of_the_brief_map_to_their_actions() {
        assert_eq!(char_key('?'), Some(Action::ToggleHelp));
        assert_eq!(char_key('q'), Some(Action::Quit));
        assert_eq!(char_key(' '), Some(Action::ToggleFreeze));
        assert_eq!(char_key('c'), Some(Action::NextChannel));
        assert_eq!(char_key('C'), Some(Action::PreviousChannel));
        assert_eq!(char_key('+'), Some(Action::ZoomIn));
        assert_eq!(char_key('-'), Some(Action::ZoomOut));
        assert_eq!(char_key('r'), Some(Action::ToggleRecording));
        assert_eq!(char_key('w'), Some(Action::ToggleLatencyKind));
        assert_eq!(char_key('a'), Some(Action::CapturePattern));
        assert_eq!(
            char_key('p'),
            Some(Action::Replay(ReplayCommand::TogglePause))
        );
        assert_eq!(char_key(']'), Some(Action::Replay(ReplayCommand::SpeedUp)));
        assert_eq!(char_key('['), Some(Action::Replay(ReplayCommand::SlowDown)));
        assert_eq!(
            char_key('.'),
            Some(Action::Replay(ReplayCommand::Seek {
                delta_ns: 5_000_000_000
            }))
        );
        assert_eq!(
            char_key(','),
            Some(Action::Replay(ReplayCommand::Seek {
                delta_ns: -5_000_000_000
            }))
        );
        assert_eq!(char_key('0'), Some(Action::Replay(ReplayCommand::Restart)));
        let plain = |c| action_for(&press(c, KeyModifiers::NONE));
        assert_eq!(plain(KeyCode::Tab), Some(Action::FocusNext));
        assert_eq!(plain(KeyCode::BackTab), Some(Action::FocusPrevious));
        assert_eq!(plain(KeyCode::Enter), Some(Action::ToggleExpand));
        assert_eq!(plain(KeyCode::Esc), Some(Action::Dismiss));
        assert_eq!(char_key('l'), Some(Action::NextLearnt));
        assert_eq!(char_key('k'), Some(Action::PinLearnt));
        assert_eq!(char_key('d'), Some(Action::DropLearnt));
        assert_eq!(char_key('x'), None);
    }

    #[test]
    fn ctrl_c_quits_but_ctrl_other_letters_do_nothing() {
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(
                KeyCode::Char('C'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT
            )),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn shift_is_ignored_for_characters() {
        assert_eq!(
            action_for(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::ToggleHelp)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('C'), KeyModifiers::SHIFT)),
            Some(Action::PreviousChannel)
        );
    }

    #[test]
    fn releases_and_alt_chords_are_ignored() {
        let release = KeyEvent {
            code: KeyCode::Char('q'),
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        };
        assert_eq!(action_for(&release), None);
        assert_eq!(
            action_for(&press(KeyCode::Char('q'), KeyModifiers::ALT)),
            None
        );
    }

    #[test]
    fn help_texts_are_short_enough_for_the_overlay() {
        for b in BINDINGS {
            assert!(b.help.chars().count() <= HELP_TEXT_MAX, "{:?}", b.help);
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<Chord> = BINDINGS.iter().flat_map(|b| b.chords).copied().collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} is bound twice");
        }
    }
}

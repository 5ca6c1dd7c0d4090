//! Terminal UI: app state, event loop, keymap, theme, layout, one file per pane.

//! Key bindings: the default `keymap.toml` (embedded at build time) merged with the operator's own
//! `keymap.toml` in the config directory, which overrides only the keys it names. Each binding maps
//! a key to an [`Action`] and carries the description that the help overlay and the footer show.
//!
//! File shape (after yazi): one table per layer, `[global]`, `[connect]` … `[summary]`, each with
//! `keys = [ { on = "s", run = "start_run", desc = "Start the migration" }, … ]`. Actions are the
//! snake_case names of [`Action`]; `noop` unbinds a default key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use crate::tui::screens::Screen;

/// The default keymap, shipped in the repository root.
pub const DEFAULT_KEYMAP: &str = include_str!("../../keymap.toml");

/// The file name looked up in the config directory.
pub const USER_KEYMAP_FILE: &str = "keymap.toml";

/// Everything a key can do. Names in `keymap.toml` are the snake_case forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Unbinds a default key.
    Noop,
    Quit,
    Help,
    Filter,
    /// `:` command mode.
    Command,
    /// Drill down, or start editing the selected field.
    Enter,
    /// Go back, close an overlay, stop editing.
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    NextScreen,
    PrevScreen,
    ShowConnect,
    ShowScope,
    ShowPrerequisites,
    ShowMapping,
    ShowRun,
    ShowErrors,
    ShowSummary,
    // Connect
    Reconnect,
    // Scope
    CycleBucket,
    ToggleSegment,
    EditHistory,
    SampleRun,
    // Prerequisites
    CreatePrerequisite,
    // Mapping
    InviteUser,
    FallbackUser,
    ArchiveField,
    AcceptDefaults,
    // Run
    StartRun,
    PauseResume,
    RateUp,
    RateDown,
    CancelRun,
    /// A delta run (also on Summary): what changed in Intercom since the last completed run.
    DeltaRun,
    // Errors
    CyclePhaseFilter,
    CycleTypeFilter,
    CycleClassFilter,
    ClearFilters,
    RetryOne,
    RetryShown,
    SkipRecord,
    JumpToMapping,
    // Summary
    Verify,
    Rollback,
}

/// A table of the keymap: `global` applies everywhere, the others on their screen only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Global,
    Screen(Screen),
}

impl Layer {
    /// The table's name in the keymap file.
    pub fn name(self) -> String {
        match self {
            Layer::Global => "global".to_string(),
            Layer::Screen(screen) => screen.title().to_ascii_lowercase(),
        }
    }
}

/// A key as written in the keymap: `q`, `?`, `R`, `enter`, `esc`, `ctrl-c`, `alt-x`, `f1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl KeySpec {
    /// Parses the `on` text of a binding.
    pub fn parse(text: &str) -> Result<KeySpec, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                other => match other.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => {
                        return Err(format!(
                            "`{text}` is not a key (use a character, enter, esc, tab, space, \
                             up, down, pageup, f1…f12, with optional ctrl- or alt-)"
                        ));
                    }
                },
            },
        };
        Ok(KeySpec { code, ctrl, alt })
    }

    /// Whether a terminal key event is this key. Shift is part of the character (`R`, `?`), so it
    /// is not compared for characters.
    pub fn matches(&self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let code = match key.code {
            // Some terminals report shift-tab as Tab + SHIFT.
            KeyCode::Tab if key.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        code == self.code && ctrl == self.ctrl && alt == self.alt
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// One key of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub key: KeySpec,
    pub action: Action,
    pub desc: String,
}

/// A keymap that cannot be used, with the line to fix.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("keymap {origin}, line {line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("cannot read keymap {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl KeymapError {
    /// The 1-based line of the problem, when the file could be read.
    pub fn line(&self) -> Option<usize> {
        match self {
            KeymapError::Invalid { line, .. } => Some(*line),
            KeymapError::Read { .. } => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    global: Option<LayerFile>,
    connect: Option<LayerFile>,
    scope: Option<LayerFile>,
    prerequisites: Option<LayerFile>,
    mapping: Option<LayerFile>,
    run: Option<LayerFile>,
    errors: Option<LayerFile>,
    summary: Option<LayerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    #[serde(default)]
    keys: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    on: toml::Spanned<String>,
    run: Action,
    #[serde(default)]
    desc: Option<String>,
}

/// All layers' bindings, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    layers: BTreeMap<Layer, Vec<Binding>>,
}

impl Default for Keymap {
    /// The embedded default keymap. It is checked by a test, so a broken default cannot ship.
    fn default() -> Self {
        parse_file(DEFAULT_KEYMAP, "keymap.toml (built in)").unwrap_or_else(|_| Keymap {
            layers: BTreeMap::new(),
        })
    }
}

impl Keymap {
    /// The built-in keymap, or the error that names its faulty line.
    pub fn builtin() -> Result<Keymap, KeymapError> {
        parse_file(DEFAULT_KEYMAP, "keymap.toml (built in)")
    }

    /// The built-in keymap with `keymap.toml` from `config_dir` merged over it, if that file exists.
    pub fn load(config_dir: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap::builtin()?;
        let Some(dir) = config_dir else {
            return Ok(keymap);
        };
        let path = dir.join(USER_KEYMAP_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                keymap.merge_user(&text, &path.display().to_string())?;
                Ok(keymap)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(keymap),
            Err(source) => Err(KeymapError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Merges a user keymap over this one: each user binding replaces the binding of the same key in
    /// the same layer (or is added); every key the user file does not name keeps its default.
    pub fn merge_user(&mut self, text: &str, origin: &str) -> Result<(), KeymapError> {
        let user = parse_file(text, origin)?;
        for (layer, bindings) in user.layers {
            let defaults = self.layers.entry(layer).or_default();
            for mut binding in bindings {
                if binding.desc.is_empty() {
                    binding.desc = defaults
                        .iter()
                        .find(|b| b.action == binding.action)
                        .map(|b| b.desc.clone())
                        .unwrap_or_else(|| format!("{:?}", binding.action));
                }
                match defaults.iter_mut().find(|b| b.key == binding.key) {
                    Some(existing) => *existing = binding,
                    None => defaults.push(binding),
                }
            }
        }
        Ok(())
    }

    /// The action for `key` on `layer`, falling back to the global layer. `noop` counts as unbound.
    pub fn action(&self, layer: Layer, key: &KeyEvent) -> Option<Action> {
        let find = |l: Layer| {
            self.layers
                .get(&l)
                .and_then(|bs| bs.iter().find(|b| b.key.matches(key)))
                .map(|b| b.action)
        };
        let found = if layer == Layer::Global {
            find(Layer::Global)
        } else {
            find(layer).or_else(|| find(Layer::Global))
        };
        found.filter(|a| *a != Action::Noop)
    }

    /// The live bindings of one layer (without unbound keys), in file order.
    pub fn bindings(&self, layer: Layer) -> impl Iterator<Item = &Binding> {
        self.layers
            .get(&layer)
            .into_iter()
            .flatten()
            .filter(|b| b.action != Action::Noop)
    }

    /// The first key bound to `action` on `layer` or globally, for hints like "press s to start".
    pub fn key_for(&self, layer: Layer, action: Action) -> Option<KeySpec> {
        self.bindings(layer)
            .chain(self.bindings(Layer::Global))
            .find(|b| b.action == action)
            .map(|b| b.key)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_file(text: &str, origin: &str) -> Result<Keymap, KeymapError> {
    let invalid = |offset: usize, message: String| KeymapError::Invalid {
        origin: origin.to_string(),
        line: line_of(text, offset),
        message,
    };
    let file: KeymapFile = toml::from_str(text).map_err(|e| {
        invalid(
            e.span().map(|s| s.start).unwrap_or(0),
            e.message().trim().to_string(),
        )
    })?;
    let tables = [
        (Layer::Global, file.global),
        (Layer::Screen(Screen::Connect), file.connect),
        (Layer::Screen(Screen::Scope), file.scope),
        (Layer::Screen(Screen::Prerequisites), file.prerequisites),
        (Layer::Screen(Screen::Mapping), file.mapping),
        (Layer::Screen(Screen::Run), file.run),
        (Layer::Screen(Screen::Errors), file.errors),
        (Layer::Screen(Screen::Summary), file.summary),
    ];
    let mut layers = BTreeMap::new();
    for (layer, table) in tables {
        let Some(table) = table else { continue };
        let mut bindings: Vec<Binding> = Vec::with_capacity(table.keys.len());
        for entry in table.keys {
            let start = entry.on.span().start;
            let key = KeySpec::parse(entry.on.get_ref()).map_err(|m| invalid(start, m))?;
            if bindings.iter().any(|b| b.key == key) {
                return Err(invalid(
                    start,
                    format!("key `{key}` is bound twice in [{}]", layer.name()),
                ));
            }
            bindings.push(Binding {
                key,
                action: entry.run,
                desc: entry.desc.unwrap_or_default(),
            });
        }
        layers.insert(layer, bindings);
    }
    Ok(Keymap { layers })
}

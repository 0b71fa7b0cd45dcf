//! `:` command mode: a line typed at the console (`:run`, `:verify`, `:retry`, `:q`,
//! `:screen errors`…), with completion. Each command names an action a key also performs, so
//! the line is parsed here into what the app then does as if the key had been pressed.

use crate::tui::keymap::Action;
use crate::tui::screens::Screen;

/// Every command: its name, what it does (the completion line and `:help` show it) and the
/// action it performs. `screen` takes a screen's name and has no action of its own.
pub const COMMANDS: &[(&str, &str, Option<Action>)] = &[
    ("run", "start the migration", Some(Action::StartRun)),
    ("verify", "verify against Kustomer", Some(Action::Verify)),
    (
        "delta",
        "start a delta run: what changed in Intercom since the last completed run",
        Some(Action::DeltaRun),
    ),
    (
        "retry",
        "retry the failed records shown on Errors",
        Some(Action::RetryShown),
    ),
    (
        "pause",
        "pause or resume the run",
        Some(Action::PauseResume),
    ),
    (
        "stop",
        "stop the run (it resumes later)",
        Some(Action::CancelRun),
    ),
    (
        "defaults",
        "accept the stated mapping defaults",
        Some(Action::AcceptDefaults),
    ),
    (
        "reconnect",
        "check both connections and prerequisites again",
        Some(Action::Reconnect),
    ),
    ("screen", "show a screen: :screen errors", None),
    ("help", "the keys of this screen", Some(Action::Help)),
    (
        "quit",
        "quit (asks first while a run is active)",
        Some(Action::Quit),
    ),
    ("q", "quit", Some(Action::Quit)),
];

/// What a command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandLine {
    /// Perform `action` on `screen` (the screen whose action it is is shown first).
    Perform {
        action: Action,
        screen: Option<Screen>,
    },
    Show(Screen),
}

/// The screen whose key performs `action`, where that is not a global key.
fn home_of(action: Action) -> Option<Screen> {
    match action {
        Action::StartRun | Action::PauseResume | Action::CancelRun | Action::DeltaRun => {
            Some(Screen::Run)
        }
        Action::Verify => Some(Screen::Summary),
        Action::RetryShown => Some(Screen::Errors),
        Action::AcceptDefaults => Some(Screen::Mapping),
        Action::Reconnect => Some(Screen::Prerequisites),
        _ => None,
    }
}

/// Parses a line (without its `:`); the error says what would have been understood.
pub fn parse(line: &str) -> Result<CommandLine, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Err("type a command: Tab completes".into());
    };
    let argument = words.collect::<Vec<_>>().join(" ");
    let matching = matches(name);
    let (name, _, action) = match matching.as_slice() {
        [one] => *one,
        [] => return Err(format!("no command `{name}`: {}", names(COMMANDS.iter()))),
        many => match many.iter().find(|(n, ..)| *n == name) {
            Some(exact) => *exact,
            None => return Err(format!("`{name}` could be {}", names(many.iter()))),
        },
    };
    match action {
        Some(action) if argument.is_empty() => Ok(CommandLine::Perform {
            action,
            screen: home_of(action),
        }),
        Some(_) => Err(format!("`{name}` takes nothing after it")),
        None => screen_named(&argument).map(CommandLine::Show),
    }
}

fn names<'a>(commands: impl Iterator<Item = &'a (&'a str, &'a str, Option<Action>)>) -> String {
    commands.map(|(n, ..)| *n).collect::<Vec<_>>().join(", ")
}

/// The commands whose name starts with `prefix`.
fn matches(prefix: &str) -> Vec<(&'static str, &'static str, Option<Action>)> {
    COMMANDS
        .iter()
        .filter(|(n, ..)| n.starts_with(&prefix.to_ascii_lowercase()))
        .copied()
        .collect()
}

/// Every screen's name as a command line types it (its title in lower case), in order.
fn screen_names() -> impl Iterator<Item = String> {
    Screen::ALL.iter().map(|s| s.title().to_ascii_lowercase())
}

/// The screen a name (or its number, or the start of its name) stands for.
pub fn screen_named(name: &str) -> Result<Screen, String> {
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(format!(
            "which screen? {}",
            screen_names().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Ok(n) = name.parse::<usize>()
        && let Some(screen) = n.checked_sub(1).and_then(|i| Screen::ALL.get(i))
    {
        return Ok(*screen);
    }
    let found: Vec<Screen> = Screen::ALL
        .iter()
        .copied()
        .filter(|s| s.title().to_ascii_lowercase().starts_with(&name))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!(
            "no screen `{name}`: {}",
            screen_names().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Tab on a line: the line completed as far as it is unambiguous.
pub fn complete(line: &str) -> String {
    let trimmed = line.trim_start();
    match trimmed.split_once(' ') {
        None => {
            let matching = matches(trimmed);
            let names: Vec<&str> = matching.iter().map(|(n, ..)| *n).collect();
            match names.as_slice() {
                [one] if *one == "screen" => "screen ".into(),
                [one] => (*one).into(),
                [] => line.into(),
                many => common_prefix(many).unwrap_or_else(|| line.into()),
            }
        }
        Some((command, rest)) if matches(command).iter().any(|(n, ..)| *n == "screen") => {
            let rest = rest.trim().to_ascii_lowercase();
            let titles: Vec<String> = screen_names().filter(|t| t.starts_with(&rest)).collect();
            let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
            match refs.as_slice() {
                [one] => format!("screen {one}"),
                [] => line.into(),
                many => common_prefix(many)
                    .map(|p| format!("screen {p}"))
                    .unwrap_or_else(|| line.into()),
            }
        }
        Some(_) => line.into(),
    }
}

/// The completions shown under the line while it is typed.
pub fn candidates(line: &str) -> String {
    let trimmed = line.trim_start();
    match trimmed.split_once(' ') {
        None => matches(trimmed)
            .iter()
            .filter(|(n, ..)| *n != "q")
            .map(|(n, d, _)| {
                if trimmed.is_empty() {
                    (*n).to_string()
                } else {
                    format!("{n} — {d}")
                }
            })
            .collect::<Vec<_>>()
            .join(if trimmed.is_empty() { " · " } else { " | " }),
        Some(_) => screen_names().collect::<Vec<_>>().join(" · "),
    }
}

fn common_prefix(words: &[&str]) -> Option<String> {
    let first = words.first()?;
    let len = (0..first.len())
        .take_while(|&i| {
            words
                .iter()
                .all(|w| w.as_bytes().get(i) == first.as_bytes().get(i))
        })
        .count();
    (len > 0).then(|| first[..len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_by_name_or_unique_prefix() {
        assert_eq!(
            parse("run"),
            Ok(CommandLine::Perform {
                action: Action::StartRun,
                screen: Some(Screen::Run)
            })
        );
        assert_eq!(
            parse("ver"),
            Ok(CommandLine::Perform {
                action: Action::Verify,
                screen: Some(Screen::Summary)
            })
        );
        // `q` is a command of its own although `quit` starts with it.
        assert_eq!(
            parse("q"),
            Ok(CommandLine::Perform {
                action: Action::Quit,
                screen: None
            })
        );
        assert_eq!(parse("screen err"), Ok(CommandLine::Show(Screen::Errors)));
        assert_eq!(
            parse("screen 3"),
            Ok(CommandLine::Show(Screen::Prerequisites))
        );
        let ambiguous = parse("re").unwrap_err();
        assert!(
            ambiguous.contains("retry") && ambiguous.contains("reconnect"),
            "{ambiguous}"
        );
        assert!(parse("launch").unwrap_err().contains("no command `launch`"));
        assert!(parse("run now").unwrap_err().contains("takes nothing"));
        assert!(parse("screen nowhere").unwrap_err().contains("no screen"));
    }

    #[test]
    fn tab_completes_as_far_as_the_line_is_unambiguous() {
        assert_eq!(complete("ve"), "verify");
        assert_eq!(complete("re"), "re");
        assert_eq!(complete("ret"), "retry");
        assert_eq!(complete("sc"), "screen ");
        assert_eq!(complete("screen m"), "screen mapping");
        assert_eq!(complete("screen s"), "screen s");
        assert_eq!(complete("screen su"), "screen summary");
        assert_eq!(complete("xyz"), "xyz");
        assert!(candidates("re").contains("retry — retry the failed records"));
        assert!(candidates("screen ").contains("errors"));
    }
}

//! Colours and symbols of the console. Every status carries a symbol (✓ ✗ + ! ⏸ ▶) so that nothing
//! depends on colour alone; with `NO_COLOR` set, styles keep only bold, reverse and underline.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::engine::session::{Bucket, CheckStatus, PhaseStatus, RunState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn new(no_color: bool) -> Theme {
        Theme { color: !no_color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// A line of key hints: each key in the key style, then what it does.
    pub fn hints(&self, hints: &[(&'static str, &'static str)]) -> Line<'static> {
        let spans: Vec<Span<'static>> = hints
            .iter()
            .flat_map(|&(key, does)| [Span::styled(key, self.key()), Span::raw(does)])
            .collect();
        Line::from(spans)
    }
    pub fn border(&self) -> Style {
        self.dim()
    }
    pub fn focus_border(&self) -> Style {
        self.fg(Color::Cyan)
    }
    /// The selected row of a list: reversed without colour, a calm highlight with it.
    pub fn selected(&self) -> Style {
        self.highlight(Color::DarkGray, Color::White, Modifier::REVERSED)
    }
    pub fn tab_active(&self) -> Style {
        self.highlight(
            Color::Cyan,
            Color::Black,
            Modifier::REVERSED | Modifier::BOLD,
        )
    }
    /// Bold `fg` on `bg` with colour; `plain` without.
    fn highlight(&self, bg: Color, fg: Color, plain: Modifier) -> Style {
        if self.color {
            Style::new().bg(bg).fg(fg).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(plain)
        }
    }
    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn check(&self, status: CheckStatus) -> Style {
        match status {
            CheckStatus::Pass | CheckStatus::Created => self.ok(),
            CheckStatus::Fail => self.bad(),
            CheckStatus::Warn => self.warn(),
        }
    }

    pub fn bucket(&self, bucket: Bucket) -> Style {
        match bucket {
            Bucket::Migrate => self.ok(),
            Bucket::Manual => self.warn(),
            Bucket::Archive => self.accent(),
        }
    }

    pub fn phase(&self, status: PhaseStatus) -> Style {
        match status {
            PhaseStatus::Waiting | PhaseStatus::Skipped => self.dim(),
            PhaseStatus::Running => self.accent(),
            PhaseStatus::Paused => self.warn(),
            PhaseStatus::Done => self.ok(),
            PhaseStatus::DoneWithFailures => self.bad(),
        }
    }

    pub fn run_state(&self, state: &RunState) -> Style {
        match state {
            RunState::Idle => self.dim(),
            RunState::Extracting | RunState::Running => self.accent(),
            RunState::Paused | RunState::Cancelling | RunState::Stopped => self.warn(),
            RunState::Finished => self.ok(),
            RunState::Failed(_) => self.bad(),
        }
    }
}

pub fn bucket_symbol(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Migrate => "▶",
        Bucket::Manual => "!",
        Bucket::Archive => "+",
    }
}

pub fn phase_symbol(status: PhaseStatus) -> &'static str {
    match status {
        PhaseStatus::Waiting => "·",
        PhaseStatus::Running => "▶",
        PhaseStatus::Paused => "⏸",
        PhaseStatus::Done => "✓",
        PhaseStatus::DoneWithFailures => "✗",
        PhaseStatus::Skipped => "–",
    }
}

pub fn run_state_label(state: &RunState) -> String {
    match state {
        RunState::Idle => "○ idle".into(),
        RunState::Extracting => "▶ extracting".into(),
        RunState::Running => "▶ running".into(),
        RunState::Paused => "⏸ paused".into(),
        RunState::Cancelling => "⏸ stopping".into(),
        RunState::Finished => "✓ finished".into(),
        RunState::Stopped => "■ stopped".into(),
        RunState::Failed(_) => "✗ failed".into(),
    }
}

//! The console's frame: header (screen tabs, run state, unresolved count), the current screen,
//! the footer key bar and the overlays (help, confirmation, text entry). The key bar and the
//! help are generated from the same list, the screen's keys in its priority order. Every size
//! from 80×24 up lays out without panicking; smaller terminals get a note. Drawing reads the
//! console's state and changes none of it.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::tui::app::{App, Screen};
use crate::tui::keymap::{Action, Binding, Layer};
use crate::tui::overlay::{draw_confirm, draw_editor, draw_help};
use crate::tui::theme::{Theme, run_state_label};

/// Below this the console asks for a larger terminal instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

impl App {
    /// Draws the whole console into `frame`.
    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let note = Paragraph::new(format!(
                "i2k needs at least {MIN_WIDTH}×{MIN_HEIGHT} (now {}×{}).",
                area.width, area.height
            ))
            .wrap(Wrap { trim: true });
            frame.render_widget(note, area);
            return;
        }
        let editor_in_footer = self
            .shared
            .editor
            .as_ref()
            .is_some_and(|e| e.target.is_filter() || e.target.is_inline());
        let footer_height = if self.notice.is_some() || editor_in_footer {
            2
        } else {
            1
        };
        let [header, body, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(1),
            Constraint::Length(footer_height),
        ])
        .areas(area);
        self.draw_header(frame, header);
        self.screens
            .get(self.screen)
            .draw(frame, body, &self.shared);
        self.draw_footer(frame, footer);
        if let Some(editor) = self
            .shared
            .editor
            .as_ref()
            .filter(|e| !e.target.is_filter() && !e.target.is_inline())
        {
            draw_editor(frame, body, self.shared.theme, editor);
        }
        if let Some(scroll) = self.help {
            draw_help(frame, body, self.shared.theme, self.help_lines(), scroll);
        }
        if let Some(confirm) = &self.confirm {
            draw_confirm(frame, body, self.shared.theme, confirm);
        }
    }

    fn draw_header(&self, frame: &mut Frame, area: Rect) {
        let t = self.shared.theme;
        let [top, tabs] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);

        let mut left = vec![Span::styled(" i2k ", t.title())];
        if !self.options.title.is_empty() {
            left.push(Span::styled(format!("· {}", self.options.title), t.dim()));
        }
        frame.render_widget(Paragraph::new(Line::from(left)), top);

        let mut right: Vec<Span> = Vec::new();
        if self.options.read_only {
            right.push(Span::styled("read-only  ", t.warn()));
        }
        let unresolved = self.unresolved();
        if unresolved > 0 {
            right.push(Span::styled(
                format!("! {unresolved} unresolved  "),
                t.warn(),
            ));
        }
        let failures = &self.screens.errors.failures;
        let unknown = failures
            .iter()
            .filter(|f| f.class == crate::vocab::ErrorClass::Unknown)
            .count();
        let failed = failures.len() - unknown;
        if failed > 0 {
            right.push(Span::styled(
                format!("✗ {} failed  ", fmt_count(failed as u64)),
                t.bad(),
            ));
        }
        if unknown > 0 {
            right.push(Span::styled(
                format!("? {} unknown  ", fmt_count(unknown as u64)),
                t.warn(),
            ));
        }
        right.push(Span::styled(
            run_state_label(&self.shared.snapshot.state),
            t.run_state(&self.shared.snapshot.state)
                .add_modifier(Modifier::BOLD),
        ));
        right.push(Span::raw(" "));
        frame.render_widget(
            Paragraph::new(Line::from(right)).alignment(Alignment::Right),
            top,
        );

        let wide = area.width >= 100;
        let mut spans = Vec::new();
        for screen in Screen::ALL {
            let name = if wide {
                screen.title()
            } else {
                screen.short_title()
            };
            let label = format!(" {} {} ", screen.number(), name);
            let style = if screen == self.screen {
                t.tab_active()
            } else {
                t.dim()
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw(" "));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    }

    fn draw_footer(&self, frame: &mut Frame, area: Rect) {
        let t = self.shared.theme;
        let mut rows = area;
        if let Some(notice) = &self.notice {
            let [first, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(" ● ", t.accent()),
                    Span::raw(notice.clone()),
                ])),
                first,
            );
            rows = rest;
        }
        if let Some(editor) = self.shared.editor.as_ref().filter(|e| e.target.is_filter()) {
            let [first, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(rows);
            let [label, input] =
                Layout::horizontal([Constraint::Length(3), Constraint::Min(1)]).areas(first);
            frame.render_widget(Paragraph::new(Span::styled(" / ", t.key())), label);
            frame.render_widget(&editor.area, input);
            rows = rest;
        }
        if let Some(editor) = self.shared.editor.as_ref().filter(|e| e.target.is_inline()) {
            let [first, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(rows);
            let line = match &editor.error {
                Some(error) => Line::from(Span::styled(format!(" ✗ {error}"), t.bad())),
                None => Line::from(vec![
                    Span::styled(" ✎ ", t.accent()),
                    Span::raw(editor.prompt.clone()),
                ]),
            };
            frame.render_widget(Paragraph::new(line), first);
            rows = rest;
        }
        if rows.height == 0 {
            return;
        }
        let line = self.key_bar(rows.width as usize);
        frame.render_widget(Paragraph::new(line), rows);
    }

    /// The screen's key list joined to the keymap: each action the screen offers (in its
    /// priority order) with the keys its layer binds to it, then any other binding of the layer
    /// (a user's addition). Keys with the same action and description share a row.
    fn screen_keys(&self) -> Vec<(Action, String, Vec<String>)> {
        let layer = self.screen.layer();
        let offered = self.screen.keys();
        let in_order = offered
            .iter()
            .flat_map(|&action| {
                self.keymap
                    .bindings(layer)
                    .filter(move |b| b.action == action)
            })
            .chain(
                self.keymap
                    .bindings(layer)
                    .filter(|b| !offered.contains(&b.action)),
            );
        group_bindings(in_order)
    }

    /// The footer: this screen's keys in priority order, then filter, help and quit, as many as
    /// fit (the last three always).
    fn key_bar(&self, width: usize) -> Line<'static> {
        let t = self.shared.theme;
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<Action> = Vec::new();
        let in_editor = self.is_editing();
        if in_editor {
            entries.push(("enter".into(), "save".into()));
            entries.push(("esc".into(), "cancel".into()));
        } else if self.confirm.is_some() {
            entries.push(("y".into(), "yes".into()));
            entries.push(("n".into(), "no".into()));
        } else {
            for (action, desc, keys) in self.screen_keys() {
                if seen.contains(&action) {
                    continue;
                }
                seen.push(action);
                entries.push((keys[0].clone(), short_desc(&desc)));
            }
            for (action, label) in [
                (Action::Filter, "filter"),
                (Action::Help, "help"),
                (Action::Quit, "quit"),
            ] {
                if let Some(key) = self.keymap.key_for(Layer::Global, action) {
                    entries.push((key.to_string(), label.into()));
                }
            }
        }
        let cost = |(k, d): &(String, String)| k.chars().count() + d.chars().count() + 3;
        let tail = if in_editor || self.confirm.is_some() {
            0
        } else {
            3.min(entries.len())
        };
        let tail_cost: usize = entries[entries.len() - tail..].iter().map(cost).sum();
        let mut used = 1 + tail_cost;
        let mut kept: Vec<&(String, String)> = Vec::new();
        for e in &entries[..entries.len() - tail] {
            if used + cost(e) > width {
                break;
            }
            used += cost(e);
            kept.push(e);
        }
        kept.extend(entries[entries.len() - tail..].iter());
        let mut spans = vec![Span::raw(" ")];
        for (key, desc) in kept {
            spans.push(Span::styled(key.clone(), t.key()));
            spans.push(Span::raw(format!(" {desc}  ")));
        }
        Line::from(spans)
    }

    /// Help lists the screen's keys in the key bar's order, then the global ones.
    pub fn help_lines(&self) -> Vec<Line<'static>> {
        let t = self.shared.theme;
        let mut lines = Vec::new();
        let global = group_bindings(self.keymap.bindings(Layer::Global));
        for (heading, rows) in [
            (
                format!("{} screen", self.screen.title()),
                self.screen_keys(),
            ),
            ("Everywhere".to_string(), global),
        ] {
            if rows.is_empty() {
                continue;
            }
            lines.push(Line::from(Span::styled(heading, t.title())));
            for (_, desc, keys) in rows {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<16}", keys.join(" ")), t.key()),
                    Span::raw(desc),
                ]));
            }
            lines.push(Line::from(""));
        }
        lines.push(Line::from(Span::styled(
            "While editing a field, keys type text: enter saves, esc cancels.",
            t.dim(),
        )));
        lines
    }
}

/// Bindings grouped in their order: keys with the same action and description share a row.
fn group_bindings<'a>(
    bindings: impl Iterator<Item = &'a Binding>,
) -> Vec<(Action, String, Vec<String>)> {
    let mut rows: Vec<(Action, String, Vec<String>)> = Vec::new();
    for b in bindings {
        match rows
            .iter_mut()
            .find(|(a, d, _)| *a == b.action && *d == b.desc)
        {
            Some(row) => row.2.push(b.key.to_string()),
            None => rows.push((b.action, b.desc.clone(), vec![b.key.to_string()])),
        }
    }
    rows
}

/// The footer's short form of a description: up to its first colon or parenthesis.
fn short_desc(desc: &str) -> String {
    let cut = desc.find([':', '(']).unwrap_or(desc.len());
    desc[..cut].trim().to_lowercase()
}

/// A `width`×`height` rectangle centred in `area`, clipped to it.
/// Clears `area` for a popup and draws `block` around it; returns the inside.
pub fn draw_popup(frame: &mut Frame, area: Rect, block: Block) -> Rect {
    frame.render_widget(Clear, area);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// `12345` → `12,345`.
pub fn fmt_count(n: u64) -> String {
    crate::vocab::count_text(n)
}

/// `n` as [`fmt_count`] writes it where that fits in `width` columns; otherwise shortened to
/// the most significant figures that fit (`3,111,000` in 6 columns → `3.11M`, in 4 → `3M`), so
/// a narrow column never shows a figure whose leading digits the table cut off.
pub fn fmt_count_fit(n: u64, width: usize) -> String {
    let exact = fmt_count(n);
    if exact.chars().count() <= width {
        return exact;
    }
    for (unit, suffix) in [(1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")] {
        let value = n as f64 / unit;
        // Rounded to a whole number it would read 1000k: the next unit says it.
        if value >= 999.5 {
            continue;
        }
        for decimals in [2, 1, 0] {
            let text = format!("{value:.decimals$}{suffix}");
            // 999.96k at two decimals reads 1000.00k: fewer decimals, or the next unit.
            if text.len() <= width && !text.starts_with("1000") {
                return text;
            }
        }
    }
    exact
}

/// The width a column of counts needs to show every one of them whole: its header's, or its
/// widest figure's as [`fmt_count`] writes it.
pub fn count_width(header: &str, counts: impl IntoIterator<Item = u64>) -> u16 {
    counts
        .into_iter()
        .map(|n| fmt_count(n).chars().count())
        .chain([header.chars().count()])
        .max()
        .unwrap_or(0) as u16
}

/// `3725 s` → `1h 02m 05s`.
pub fn fmt_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A block with the console's border and title styles; focused blocks stand out.
pub fn panel(t: Theme, title: &str, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            t.focus_border()
        } else {
            t.border()
        })
        .title(Span::styled(format!(" {title} "), t.title()))
}

#[cfg(test)]
mod tests {
    use super::fmt_count_fit;

    #[test]
    fn a_count_too_wide_for_its_column_is_shortened_never_cut() {
        assert_eq!(fmt_count_fit(308_216, 7), "308,216");
        assert_eq!(fmt_count_fit(3_111_000, 9), "3,111,000");
        assert_eq!(fmt_count_fit(3_111_000, 7), "3.11M");
        assert_eq!(fmt_count_fit(3_111_000, 4), "3.1M");
        assert_eq!(fmt_count_fit(3_111_000, 2), "3M");
        assert_eq!(fmt_count_fit(308_216, 6), "308.2k");
        assert_eq!(fmt_count_fit(308_216, 5), "308k");
        assert_eq!(fmt_count_fit(999_960, 6), "1.00M");
        assert_eq!(fmt_count_fit(12_345_678_901, 6), "12.35G");
    }
}

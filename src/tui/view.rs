//! The console's frame: header (screen tabs, run state, unresolved count), the current screen,
//! the footer key bar built from the keymap, and the overlays (help, confirmation, text entry,
//! picker). Every size from 80×24 up lays out without panicking; smaller terminals get a note.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::tui::app::{App, EditTarget, Screen};
use crate::tui::keymap::{Action, Binding, Layer};
use crate::tui::screens;
use crate::tui::theme::run_state_label;

/// Below this the console asks for a larger terminal instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

impl App {
    /// Draws the whole console into `frame`.
    pub fn draw(&mut self, frame: &mut Frame) {
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
        let footer_height =
            if self.notice.is_some() || self.is_filter_editing() || self.is_inline_editing() {
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
        match self.screen {
            Screen::Connect => screens::connect(self, frame, body),
            Screen::Scope => screens::scope(self, frame, body),
            Screen::Prerequisites => screens::prerequisites(self, frame, body),
            Screen::Mapping => screens::mapping(self, frame, body),
            Screen::Run => screens::run(self, frame, body),
            Screen::Errors => screens::errors(self, frame, body),
            Screen::Summary => screens::summary(self, frame, body),
        }
        self.draw_footer(frame, footer);
        self.draw_overlays(frame, body);
    }

    fn is_filter_editing(&self) -> bool {
        self.editor
            .as_ref()
            .is_some_and(|e| matches!(e.target, EditTarget::Filter(_)))
    }

    /// URLs and tokens are edited in place on the Connect screen; their prompt and any error show
    /// in the footer instead of a pop-up.
    fn is_inline_editing(&self) -> bool {
        self.editor
            .as_ref()
            .is_some_and(|e| matches!(e.target, EditTarget::Url { .. } | EditTarget::Token { .. }))
    }

    fn draw_header(&self, frame: &mut Frame, area: Rect) {
        let t = self.theme;
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
        if !self.failures.is_empty() {
            right.push(Span::styled(
                format!("✗ {} failed  ", fmt_count(self.failures.len() as u64)),
                t.bad(),
            ));
        }
        right.push(Span::styled(
            run_state_label(&self.snapshot.state),
            t.run_state(&self.snapshot.state)
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
        let t = self.theme;
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
        if let Some(editor) = self.editor.as_ref().filter(|_| self.is_filter_editing()) {
            let [first, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(rows);
            let [label, input] =
                Layout::horizontal([Constraint::Length(3), Constraint::Min(1)]).areas(first);
            frame.render_widget(Paragraph::new(Span::styled(" / ", t.key())), label);
            frame.render_widget(&editor.area, input);
            rows = rest;
        }
        if let Some(editor) = self.editor.as_ref().filter(|_| self.is_inline_editing()) {
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

    /// The footer: this screen's keys first, then help and quit, as many as fit.
    fn key_bar(&self, width: usize) -> Line<'static> {
        let t = self.theme;
        let layer = self.screen.layer();
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut seen_actions: Vec<Action> = Vec::new();
        let in_editor = self.editor.is_some() || self.picker.is_some();
        if in_editor {
            entries.push(("enter".into(), "save".into()));
            entries.push(("esc".into(), "cancel".into()));
        } else if self.confirm.is_some() {
            entries.push(("y".into(), "yes".into()));
            entries.push(("n".into(), "no".into()));
        } else {
            for b in self.keymap.bindings(layer) {
                if seen_actions.contains(&b.action) {
                    continue;
                }
                seen_actions.push(b.action);
                entries.push((b.key.to_string(), short_desc(&b.desc)));
            }
            for action in [Action::Filter, Action::Help, Action::Quit] {
                if let Some(key) = self.keymap.key_for(Layer::Global, action) {
                    let label = match action {
                        Action::Filter => "filter",
                        Action::Help => "help",
                        _ => "quit",
                    };
                    entries.push((key.to_string(), label.into()));
                }
            }
        }
        // The last three (filter, help, quit) matter most: keep them, drop screen keys that do not fit.
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

    fn draw_overlays(&mut self, frame: &mut Frame, body: Rect) {
        let popup = self.editor.is_some() && !self.is_filter_editing() && !self.is_inline_editing();
        if let Some(editor) = self.editor.as_mut().filter(|_| popup) {
            let t = self.theme;
            let width = body.width.saturating_sub(8).clamp(40, 90);
            let height = if editor.error.is_some() { 6 } else { 5 };
            let area = centered(body, width, height);
            let inner = draw_popup(frame, area, screens::panel_static(t, &editor.prompt));
            let [input, error, hint] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(if editor.error.is_some() { 2 } else { 1 }),
                Constraint::Length(1),
            ])
            .areas(inner);
            let input = Rect {
                x: input.x + 1,
                width: input.width.saturating_sub(2),
                ..input
            };
            editor
                .area
                .set_style(Style::new().add_modifier(Modifier::UNDERLINED));
            frame.render_widget(&editor.area, input);
            if let Some(message) = &editor.error {
                frame.render_widget(
                    Paragraph::new(Span::styled(format!("✗ {message}"), t.bad()))
                        .wrap(Wrap { trim: true }),
                    error,
                );
            }
            frame.render_widget(
                Paragraph::new(t.hints(&[(" enter", " save  "), ("esc", " cancel")])),
                hint,
            );
        }
        if self.picker.is_some() {
            screens::picker(self, frame, body);
        }
        if let Some(scroll) = self.help {
            self.draw_help(frame, body, scroll);
        }
        if let Some(confirm) = &self.confirm {
            let t = self.theme;
            let width = body.width.saturating_sub(10).clamp(40, 70);
            let text_width = width.saturating_sub(4).max(1) as usize;
            let lines = confirm.question.chars().count().div_ceil(text_width) as u16 + 1;
            let area = centered(body, width, lines + 4);
            let block = Block::bordered()
                .border_type(BorderType::Double)
                .border_style(t.warn())
                .title(Span::styled(format!(" ! {} ", confirm.title), t.warn()));
            let inner = draw_popup(frame, area, block);
            let text = vec![
                Line::from(confirm.question.clone()),
                Line::from(""),
                t.hints(&[("y", " yes   "), ("n", " no")]),
            ];
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: true }),
                Rect {
                    x: inner.x + 1,
                    width: inner.width.saturating_sub(2),
                    ..inner
                },
            );
        }
    }

    /// Help lists the live bindings of this screen, then the global ones; keys with the same action
    /// and description share a row.
    pub fn help_lines(&self) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut lines = Vec::new();
        for (layer, heading) in [
            (
                self.screen.layer(),
                format!("{} screen", self.screen.title()),
            ),
            (Layer::Global, "Everywhere".to_string()),
        ] {
            let rows = group_bindings(self.keymap.bindings(layer));
            if rows.is_empty() {
                continue;
            }
            lines.push(Line::from(Span::styled(heading, t.title())));
            for (keys, desc) in rows {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {keys:<16}"), t.key()),
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

    fn draw_help(&self, frame: &mut Frame, body: Rect, scroll: u16) {
        let t = self.theme;
        let width = body.width.saturating_sub(6).min(76);
        let lines = self.help_lines();
        let height = (lines.len() as u16 + 2).min(body.height);
        let area = centered(body, width, height);
        frame.render_widget(Clear, area);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(t.focus_border())
            .title(Span::styled(" Help ", t.title()))
            .title_bottom(Line::from(" ↑↓ scroll · ? or esc closes ").alignment(Alignment::Right));
        let max_scroll = (lines.len() as u16).saturating_sub(height.saturating_sub(2));
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .scroll((scroll.min(max_scroll), 0)),
            area,
        );
    }
}

fn group_bindings<'a>(bindings: impl Iterator<Item = &'a Binding>) -> Vec<(String, String)> {
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
    rows.into_iter()
        .map(|(_, desc, keys)| (keys.join(" "), desc))
        .collect()
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
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
pub fn panel(app: &App, title: &str, focused: bool) -> Block<'static> {
    let t = app.theme;
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

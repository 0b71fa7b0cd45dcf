//! What the app draws over a screen: the text editor (in a pop-up, or inline where its screen
//! draws it), the yes / no question before anything that cannot be taken back, and the `?` help.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use tui_textarea::TextArea;

use crate::engine::session::RecordRef;
use crate::tui::list::ListId;
use crate::tui::protocol::Request;
use crate::tui::theme::Theme;
use crate::tui::view::{centered, draw_popup, panel};

/// What a text area being edited will change when the operator presses Enter.
#[derive(Debug, Clone, PartialEq)]
pub enum EditTarget {
    Url {
        side: String,
    },
    Token {
        side: String,
    },
    HistoryMonths,
    /// How many conversations a sample run takes.
    SampleSize,
    FieldRename {
        model: String,
        source_name: String,
    },
    SkipReason {
        records: Vec<RecordRef>,
    },
    Filter(ListId),
    /// A `:` command line.
    Command,
}

impl EditTarget {
    /// URLs and tokens are edited in place on the Connect screen; their prompt and any error
    /// show in the footer instead of a pop-up.
    pub fn is_inline(&self) -> bool {
        matches!(self, EditTarget::Url { .. } | EditTarget::Token { .. })
    }

    pub fn is_filter(&self) -> bool {
        matches!(self, EditTarget::Filter(_))
    }
}

#[derive(Debug)]
pub struct Editor {
    pub target: EditTarget,
    pub area: TextArea<'static>,
    /// Shown above or beside the text area.
    pub prompt: String,
    pub error: Option<String>,
}

impl Editor {
    /// An editor holding `initial`, its cursor at the end; `masked` hides what is typed.
    pub fn new(target: EditTarget, prompt: &str, initial: &str, masked: bool) -> Editor {
        let mut area = TextArea::new(vec![initial.to_string()]);
        area.move_cursor(tui_textarea::CursorMove::End);
        area.set_cursor_line_style(Style::new());
        if masked {
            area.set_mask_char('•');
        }
        if !target.is_filter() {
            area.set_style(Style::new().add_modifier(Modifier::UNDERLINED));
        }
        Editor {
            target,
            area,
            prompt: prompt.to_string(),
            error: None,
        }
    }

    pub fn text(&self) -> String {
        self.area.lines().join("")
    }
}

/// A yes / no question before something that cannot be taken back.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub question: String,
    pub on_yes: Vec<Request>,
    /// What `n` sends (most questions: nothing; `esc` always sends nothing).
    pub on_no: Vec<Request>,
    pub quits: bool,
    /// Flags the console sets when the operator says yes.
    pub accepts_defaults: bool,
}

impl Confirm {
    pub fn new(title: &str, question: String, on_yes: Vec<Request>) -> Confirm {
        Confirm {
            title: title.to_string(),
            question,
            on_yes,
            on_no: Vec::new(),
            quits: false,
            accepts_defaults: false,
        }
    }
}

/// The editor in a pop-up over the body.
pub fn draw_editor(frame: &mut Frame, body: Rect, theme: Theme, editor: &Editor) {
    let t = theme;
    let width = body.width.saturating_sub(8).clamp(40, 90);
    let height = if editor.error.is_some() { 6 } else { 5 };
    let area = centered(body, width, height);
    let block = panel(t, &editor.prompt, true);
    let inner = draw_popup(frame, area, block);
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
    frame.render_widget(&editor.area, input);
    if let Some(message) = &editor.error {
        frame.render_widget(
            Paragraph::new(Span::styled(format!("✗ {message}"), t.bad())).wrap(Wrap { trim: true }),
            error,
        );
    }
    let hints = if editor.target == EditTarget::Command {
        Paragraph::new(Span::styled(
            format!(" {}", crate::tui::command::candidates(&editor.text())),
            t.dim(),
        ))
    } else {
        Paragraph::new(t.hints(&[(" enter", " save  "), ("esc", " cancel")]))
    };
    frame.render_widget(hints, hint);
}

/// The question in a pop-up over the body.
pub fn draw_confirm(frame: &mut Frame, body: Rect, theme: Theme, confirm: &Confirm) {
    let t = theme;
    let width = body.width.saturating_sub(10).clamp(40, 70);
    let text_width = width.saturating_sub(4).max(1) as usize;
    let lines: u16 = confirm
        .question
        .lines()
        .map(|line| wrapped_lines(line, text_width) as u16)
        .sum();
    // The question, a blank line and the y/n line inside a border.
    let area = centered(body, width, lines + 4);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(t.warn())
        .title(Span::styled(format!(" ! {} ", confirm.title), t.warn()));
    let inner = draw_popup(frame, area, block);
    let mut text: Vec<Line> = confirm
        .question
        .lines()
        .map(|line| Line::from(line.to_string()))
        .collect();
    text.push(Line::from(""));
    if confirm.on_no.is_empty() {
        text.push(t.hints(&[("y", " yes   "), ("n", " no")]));
    } else {
        text.push(t.hints(&[("y", " yes   "), ("n", " no   "), ("esc", " cancel")]));
    }
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }),
        Rect {
            x: inner.x + 1,
            width: inner.width.saturating_sub(2),
            ..inner
        },
    );
}

/// The help's `lines` in a pop-up over the body, scrolled by `scroll`.
pub fn draw_help(
    frame: &mut Frame,
    body: Rect,
    theme: Theme,
    lines: Vec<Line<'static>>,
    scroll: u16,
) {
    let t = theme;
    let width = body.width.saturating_sub(6).min(76);
    let height = (lines.len() as u16 + 2).min(body.height);
    let area = centered(body, width, height);
    frame.render_widget(Clear, area);
    let block = panel(t, "Help", true)
        .title_bottom(Line::from(" ↑↓ scroll · ? or esc closes ").alignment(Alignment::Right));
    let max_scroll = (lines.len() as u16).saturating_sub(height.saturating_sub(2));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        area,
    );
}

/// How many lines `text` takes when wrapped at word boundaries to `width` columns, as the
/// pop-ups' paragraphs wrap it (a word longer than the width is cut).
pub fn wrapped_lines(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut lines = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let len = word.chars().count();
        let needed = if used == 0 { len } else { used + 1 + len };
        if needed <= width {
            used = needed;
        } else {
            lines += 1;
            // A word longer than a line fills lines of its own.
            lines += len.saturating_sub(1) / width;
            used = len % width;
            if used == 0 && len > 0 {
                used = width;
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrapped_lines;

    #[test]
    fn wrapping_counts_words_that_do_not_fit_on_the_line() {
        assert_eq!(wrapped_lines("short", 10), 1);
        // "aaaa bbbb" fits 9; "cccc" goes to a second line although 14 chars / 10 = 2 too.
        assert_eq!(wrapped_lines("aaaa bbbb cccc", 10), 2);
        // By characters 3 lines (27/10); by words 4: each word alone.
        assert_eq!(wrapped_lines("aaaaaa bbbbbb cccccc dddddd", 10), 4);
        assert_eq!(wrapped_lines("a 0123456789012345678901", 10), 4);
    }
}

//! One list of the console: its selection, its `/` filter and the rows that pass it, computed
//! when the rows or the filter change (never while drawing), and the virtualised table that
//! draws it (only the rows on screen are built, so a million failures draw as fast as ten).

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::Span;
use ratatui::widgets::{Cell as TableCell, Paragraph, Row, Table};

use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::view::panel;

/// Every list the console shows; each has its own selection and `/` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListId {
    Connect,
    Scope,
    Segments,
    Prerequisites,
    Admins,
    Fields,
    Log,
    Failures,
    Verification,
}

/// Selection, filter and filtered rows of one list.
#[derive(Debug, Default)]
pub struct ListState {
    /// The selected row among the visible ones (kept within them by [`ListState::refresh`]).
    pub selected: usize,
    filter: Option<String>,
    /// Indices of the rows that pass the filters, in order.
    visible: Vec<usize>,
    /// What the last frame showed: its first row and how many rows fit. The only thing drawing
    /// records, so the view scrolls only when the selection leaves it and page keys move a page.
    offset: Cell<usize>,
    page: Cell<usize>,
}

impl ListState {
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// Sets the `/` text (empty clears it) and goes back to the first row; the owner refreshes.
    pub fn set_filter(&mut self, text: String) {
        self.filter = (!text.is_empty()).then_some(text);
        self.selected = 0;
    }

    /// Recomputes the visible rows of `len` rows: those `keep` accepts whose `text` contains the
    /// filter (a filter starting with `!` excludes instead), and keeps the selection on one.
    pub fn refresh(
        &mut self,
        len: usize,
        keep: impl Fn(usize) -> bool,
        text: impl Fn(usize) -> String,
    ) {
        let needle = self.filter.as_deref().map(str::to_lowercase);
        let (negate, needle) = match needle.as_deref() {
            Some(t) if t.starts_with('!') => (true, t[1..].to_string()),
            Some(t) => (false, t.to_string()),
            None => (false, String::new()),
        };
        self.visible = (0..len)
            .filter(|&i| keep(i))
            .filter(|&i| needle.is_empty() || text(i).to_lowercase().contains(&needle) != negate)
            .collect();
        self.clamp();
    }

    /// [`ListState::refresh`] over every one of `rows`, matching the filter against `text`.
    pub fn refresh_rows<T>(&mut self, rows: &[T], text: impl Fn(&T) -> String) {
        self.refresh(rows.len(), |_| true, |i| text(&rows[i]));
    }

    /// Adds row `index` (appended to the data) to the visible rows if it passes, without
    /// filtering every row again.
    pub fn append(&mut self, index: usize, keep: bool, text: impl Fn() -> String) {
        let needle = self.filter.as_deref().map(str::to_lowercase);
        let passes = match needle.as_deref() {
            None => true,
            Some(t) if t.starts_with('!') => !text().to_lowercase().contains(&t[1..]),
            Some(t) => text().to_lowercase().contains(t),
        };
        if keep && passes {
            self.visible.push(index);
        }
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    /// The underlying index of the selected row.
    pub fn selected_index(&self) -> Option<usize> {
        self.visible.get(self.selected).copied()
    }

    /// The selected one of `rows`, the data this list shows.
    pub fn selected_in<'a, T>(&self, rows: &'a [T]) -> Option<&'a T> {
        self.selected_index().and_then(|i| rows.get(i))
    }

    /// The selected one of `rows`, to change.
    pub fn selected_in_mut<'a, T>(&self, rows: &'a mut [T]) -> Option<&'a mut T> {
        self.selected_index().and_then(|i| rows.get_mut(i))
    }

    /// Selects the visible row showing data row `index`, if it is shown.
    pub fn select_row(&mut self, index: usize) {
        if let Some(at) = self.visible.iter().position(|&i| i == index) {
            self.selected = at;
        }
    }

    /// Moves the selection for a navigation action; false for any other action.
    pub fn navigate(&mut self, action: Action) -> bool {
        let last = self.visible.len().saturating_sub(1);
        let page = self.page.get().max(1);
        let current = self.selected.min(last);
        self.selected = match action {
            Action::Up => current.saturating_sub(1),
            Action::Down => (current + 1).min(last),
            Action::PageUp => current.saturating_sub(page),
            Action::PageDown => (current + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return false,
        };
        true
    }

    /// The rows to draw in `height` rows so that the selection stays on screen (the offset of the
    /// last frame is kept while the selection is within it).
    pub fn window(&self, height: usize) -> std::ops::Range<usize> {
        self.page.set(height);
        let len = self.visible.len();
        if len == 0 || height == 0 {
            self.offset.set(0);
            return 0..0;
        }
        let selected = self.selected.min(len - 1);
        let mut offset = self.offset.get();
        if selected < offset {
            offset = selected;
        }
        if selected >= offset + height {
            offset = selected + 1 - height;
        }
        offset = offset.min(len.saturating_sub(height));
        self.offset.set(offset);
        offset..(offset + height).min(len)
    }

    /// The title of the list's block, with its filter when one is set.
    pub fn title(&self, title: &str, total: usize) -> String {
        match &self.filter {
            Some(f) => format!("{title} · /{f} · {} of {total}", self.visible.len()),
            None => format!("{title} · {total}"),
        }
    }
}

/// How a list is drawn as a table: its block's title, focus and columns.
pub struct TableSpec<'a> {
    pub title: &'a str,
    pub focused: bool,
    pub header: Vec<&'a str>,
    pub widths: Vec<Constraint>,
}

impl ListState {
    /// Draws a virtualised table of this list, which shows `rows`, into `area` (with its block);
    /// `build` makes the cells of one row.
    pub fn draw_table<T>(
        &self,
        frame: &mut Frame,
        area: Rect,
        theme: Theme,
        spec: TableSpec,
        rows: &[T],
        build: impl Fn(&T) -> Vec<TableCell<'static>>,
    ) {
        let visible = self.visible();
        let total = rows.len().max(visible.len());
        let block = panel(theme, &self.title(spec.title, total), spec.focused);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let height = inner.height.saturating_sub(1) as usize;
        let range = self.window(height);
        let shown: Vec<Row> = visible[range.clone()]
            .iter()
            .enumerate()
            .map(|(offset, &i)| {
                let row = Row::new(build(&rows[i]));
                if spec.focused && range.start + offset == self.selected {
                    row.style(theme.selected())
                } else {
                    row
                }
            })
            .collect();
        let empty = shown.is_empty();
        let header = Row::new(spec.header).style(theme.header().add_modifier(Modifier::UNDERLINED));
        frame.render_widget(
            Table::new(shown, spec.widths)
                .header(header)
                .column_spacing(1),
            inner,
        );
        if empty && inner.height > 1 {
            let note = if self.filter().is_some() {
                "Nothing matches the filter (esc clears it)."
            } else {
                "Nothing here yet."
            };
            frame.render_widget(
                Paragraph::new(Span::styled(note, theme.dim())),
                Rect {
                    y: inner.y + 1,
                    height: 1,
                    ..inner
                },
            );
        }
    }
}

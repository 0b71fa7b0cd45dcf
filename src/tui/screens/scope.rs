//! 2 Scope: each object type with its count and bucket (migrate, manual, archive), the segments
//! in use, the conversation history window and the disk the migration needs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Wrap};

use crate::engine::session::{
    Bucket, DiskEstimate, ScopeItem, SegmentChoice, describe_disk, human_bytes,
};
use crate::timefmt::unix_to_iso;
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState, TableSpec};
use crate::tui::overlay::{EditTarget, Editor};
use crate::tui::protocol::Request;
use crate::tui::screens::{Component, Effect, Shared, change};
use crate::tui::theme::bucket_symbol;
use crate::tui::view::{count_width, fmt_count, fmt_count_fit, panel};

pub(super) const KEYS: &[Action] = &[
    Action::CycleBucket,
    Action::Enter,
    Action::ToggleSegment,
    Action::EditHistory,
    Action::SampleRun,
];

#[derive(Default)]
pub struct ScopeScreen {
    pub items: Vec<ScopeItem>,
    pub segments: Vec<SegmentChoice>,
    pub history_months: Option<u32>,
    /// The disk estimate and the free space, once the workspace is read.
    pub disk: Option<(DiskEstimate, Option<u64>)>,
    segments_open: bool,
    list: ListState,
    segment_list: ListState,
}

impl ScopeScreen {
    /// The scope as the session last sent it.
    pub fn set(
        &mut self,
        items: Vec<ScopeItem>,
        segments: Vec<SegmentChoice>,
        history_months: Option<u32>,
    ) {
        self.items = items;
        self.segments = segments;
        self.history_months = history_months;
        self.refresh();
    }

    pub fn list(&self, list: ListId) -> &ListState {
        if list == ListId::Segments {
            &self.segment_list
        } else {
            &self.list
        }
    }

    fn cycle_bucket(&mut self) -> Vec<Effect> {
        let Some(item) = self.list.selected_in_mut(&mut self.items) else {
            return Vec::new();
        };
        item.bucket = match item.bucket {
            Bucket::Migrate => Bucket::Manual,
            Bucket::Manual => Bucket::Archive,
            Bucket::Archive => Bucket::Migrate,
        };
        let request = Request::SetBucket {
            object: item.object.clone(),
            bucket: item.bucket,
        };
        self.refresh();
        vec![change(request)]
    }

    fn toggle_segment(&mut self) -> Vec<Effect> {
        let Some(segment) = self.segment_list.selected_in_mut(&mut self.segments) else {
            return Vec::new();
        };
        segment.in_use = !segment.in_use;
        let request = Request::SetSegmentInUse {
            id: segment.id.clone(),
            in_use: segment.in_use,
        };
        self.refresh();
        vec![change(request)]
    }
}

impl Component for ScopeScreen {
    fn handle(&mut self, action: Action, _: &Shared) -> Vec<Effect> {
        match action {
            Action::CycleBucket if self.segments_open => self.toggle_segment(),
            Action::CycleBucket => self.cycle_bucket(),
            Action::ToggleSegment if self.segments_open => self.toggle_segment(),
            Action::ToggleSegment => vec![Effect::Notice(
                "Open the segments with Enter on the segments row.".into(),
            )],
            Action::EditHistory => {
                let current = self
                    .history_months
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                vec![Effect::Edit(Box::new(Editor::new(
                    EditTarget::HistoryMonths,
                    "Conversations updated in the last N months (empty = all)",
                    &current,
                    false,
                )))]
            }
            Action::SampleRun => vec![Effect::Edit(Box::new(Editor::new(
                EditTarget::SampleSize,
                "Sample run: how many conversations (covering every channel, state and part type)",
                "",
                false,
            )))],
            Action::Enter if !self.segments_open => match self.list.selected_in(&self.items) {
                Some(item) if item.object == "segments" => {
                    self.segments_open = true;
                    Vec::new()
                }
                Some(item) => vec![Effect::Notice(format!(
                    "{}: the detail is shown below the list.",
                    item.object
                ))],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn commit(&mut self, target: &EditTarget, text: &str) -> Result<Vec<Effect>, String> {
        if *target == EditTarget::SampleSize {
            return match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(vec![Effect::StartSample(n)]),
                _ => Err("a number of conversations (1, 2, …)".into()),
            };
        }
        if *target != EditTarget::HistoryMonths {
            return Ok(Vec::new());
        }
        let months = if text.is_empty() || text.eq_ignore_ascii_case("all") {
            None
        } else {
            match text.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err("a number of months (1, 2, …) or `all`".into()),
            }
        };
        self.history_months = months;
        Ok(vec![change(Request::SetHistoryMonths(months))])
    }

    fn back(&mut self) -> bool {
        std::mem::replace(&mut self.segments_open, false)
    }

    fn focused(&self) -> Option<ListId> {
        Some(if self.segments_open {
            ListId::Segments
        } else {
            ListId::Scope
        })
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        match list {
            ListId::Scope => Some(&mut self.list),
            ListId::Segments => Some(&mut self.segment_list),
            _ => None,
        }
    }

    fn refresh(&mut self) {
        self.list.refresh_rows(&self.items, |s| {
            format!("{} {} {}", s.object, s.bucket.label(), s.note)
        });
        self.segment_list.refresh_rows(&self.segments, |s| {
            format!("{} {}", s.name, if s.in_use { "in use" } else { "unused" })
        });
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let history = match self.history_months {
            Some(m) => format!("conversations updated in the last {m} months"),
            None => "all conversations".to_string(),
        };
        let mut lines = vec![Line::from(vec![
            Span::styled("History  ", t.dim()),
            Span::raw(history),
            Span::styled("  (h changes)", t.dim()),
        ])];
        if let Some((estimate, free)) = &self.disk {
            let mut text = format!("needs {} more", human_bytes(estimate.needed_bytes));
            if let Some(free) = free {
                text.push_str(&format!(" of {} free", human_bytes(*free)));
            }
            let short = free.is_some_and(|free| free < estimate.needed_bytes);
            lines.push(Line::from(vec![
                Span::styled("Disk     ", t.dim()),
                if short {
                    Span::styled(text, t.bad())
                } else {
                    Span::raw(text)
                },
                Span::styled(format!("  ({})", describe_disk(estimate)), t.dim()),
            ]));
        }
        if self.segments_open {
            let used = self.segments.iter().filter(|s| s.in_use).count();
            lines.push(Line::from(format!(
                "{used} of {} segments in use become saved searches; the unused go to the archive.",
                self.segments.len()
            )));
        } else if let Some(item) = self.list.selected_in(&self.items) {
            let mut text = format!(
                "{}: {} records → {}",
                item.object,
                fmt_count(item.count),
                item.bucket.label()
            );
            if item.not_retrievable > 0 {
                text.push_str(&format!(
                    " · {} not retrievable through the API",
                    fmt_count(item.not_retrievable)
                ));
            }
            if item.object == "segments" {
                text.push_str(" · enter shows each segment");
            }
            lines.push(Line::from(text));
            if !item.note.is_empty() {
                lines.push(Line::from(Span::styled(item.note.clone(), t.dim())));
            }
        }
        // As high as its wrapped lines need (History, Disk, the selected type and its note),
        // within what the list leaves when it shows every row (a fixed height cut the selected
        // type's line off); never under 4.
        let inner = usize::from(area.width.saturating_sub(2));
        let needed: usize = lines
            .iter()
            .map(|l| {
                let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                crate::tui::overlay::wrapped_lines(&text, inner)
            })
            .sum();
        let rows = if self.segments_open {
            self.segments.len()
        } else {
            self.items.len()
        };
        let list_height = rows as u16 + 3;
        let room = area.height.saturating_sub(list_height).max(4);
        let height = (needed as u16 + 2).clamp(4, room);
        let [list_area, detail_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(height)]).areas(area);
        if self.segments_open {
            self.draw_segments(frame, list_area, shared);
        } else {
            let wide = area.width >= 120;
            // Counts as wide as the largest needs: a workspace's biggest type is never cut.
            let count_width = count_width("Count", self.items.iter().map(|i| i.count)).max(10);
            let mut widths = vec![
                Constraint::Length(24),
                Constraint::Length(count_width),
                Constraint::Length(10),
                Constraint::Length(10),
            ];
            let mut header = vec!["Type", "Count", "Bucket", "Not retr."];
            if wide {
                widths.push(Constraint::Min(10));
                header.push("Note");
            }
            let spec = TableSpec {
                title: "Scope",
                focused: true,
                header,
                widths,
            };
            self.list
                .draw_table(frame, list_area, t, spec, &self.items, |item| {
                    let mut cells = vec![
                        Cell::from(item.object.clone()),
                        Cell::from(
                            Line::from(fmt_count_fit(item.count, count_width.into()))
                                .right_aligned(),
                        ),
                        Cell::from(Span::styled(
                            format!("{} {}", bucket_symbol(item.bucket), item.bucket.label()),
                            t.bucket(item.bucket),
                        )),
                        Cell::from(
                            Line::from(if item.not_retrievable > 0 {
                                fmt_count(item.not_retrievable)
                            } else {
                                String::new()
                            })
                            .right_aligned(),
                        ),
                    ];
                    if wide {
                        cells.push(Cell::from(item.note.clone()));
                    }
                    cells
                });
        }
        frame.render_widget(
            Paragraph::new(lines)
                .block(panel(t, "Detail", false))
                .wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}

impl ScopeScreen {
    fn draw_segments(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let spec = TableSpec {
            title: "Segments (esc back)",
            focused: true,
            header: vec!["Segment", "Members", "Updated", "Use"],
            widths: vec![
                Constraint::Min(20),
                Constraint::Length(9),
                Constraint::Length(11),
                Constraint::Length(10),
            ],
        };
        self.segment_list
            .draw_table(frame, area, t, spec, &self.segments, |s| {
                vec![
                    Cell::from(s.name.clone()),
                    Cell::from(Line::from(fmt_count(s.members)).right_aligned()),
                    Cell::from(
                        unix_to_iso(s.updated_at)
                            .chars()
                            .take(10)
                            .collect::<String>(),
                    ),
                    if s.in_use {
                        Cell::from(Span::styled("✓ in use", t.ok()))
                    } else {
                        Cell::from(Span::styled("– unused", t.dim()))
                    },
                ]
            });
    }
}

//! The seven screens. Each draws from the console's state only; long lists are virtualised (only
//! the rows on screen are built), so a run with a million failures draws as fast as one with ten.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};

use crate::engine::model::{
    AdminDecision, CheckStatus, FieldDecision, LogLevel, PhaseId, PhaseStatus, RunState,
};
use crate::timefmt::unix_to_iso;
use crate::tui::app::{
    App, CONNECT_ROWS, ConnectField, EditTarget, ListCursor, ListId, Pane, admin_decision_label,
    field_decision_label,
};
use crate::tui::theme::{bucket_symbol, phase_symbol};
use crate::tui::view::{centered, draw_popup, fmt_count, fmt_duration, panel};

/// The rows of `len` to draw so that the selection stays on screen.
fn window(cursor: &mut ListCursor, len: usize, height: usize) -> std::ops::Range<usize> {
    cursor.page = height;
    if len == 0 || height == 0 {
        cursor.selected = 0;
        cursor.offset = 0;
        return 0..0;
    }
    cursor.selected = cursor.selected.min(len - 1);
    if cursor.selected < cursor.offset {
        cursor.offset = cursor.selected;
    }
    if cursor.selected >= cursor.offset + height {
        cursor.offset = cursor.selected + 1 - height;
    }
    cursor.offset = cursor.offset.min(len.saturating_sub(height));
    cursor.offset..(cursor.offset + height).min(len)
}

/// The title of a list's block, with its filter when one is set.
fn list_title(app: &App, list: ListId, title: &str, shown: usize, total: usize) -> String {
    match app.filter_text(list) {
        Some(f) => format!("{title} · /{f} · {shown} of {total}"),
        None => format!("{title} · {total}"),
    }
}

/// Draws a virtualised table of `list` into `area` (with its block).
#[allow(clippy::too_many_arguments)]
fn table(
    app: &mut App,
    frame: &mut Frame,
    area: Rect,
    list: ListId,
    title: &str,
    focused: bool,
    header: Vec<&str>,
    widths: Vec<Constraint>,
    build: impl Fn(&App, usize) -> Vec<Cell<'static>>,
) {
    let visible = app.visible(list);
    let total = match list {
        ListId::Failures => app.failures.len(),
        _ => visible.len().max(app.list_len(list)),
    };
    let block = panel(
        app,
        &list_title(app, list, title, visible.len(), total),
        focused,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height.saturating_sub(1) as usize;
    let mut cursor = app.cursor(list);
    let range = window(&mut cursor, visible.len(), height);
    app.cursors.insert(list, cursor);
    let t = app.theme;
    let rows: Vec<Row> = visible[range.clone()]
        .iter()
        .enumerate()
        .map(|(offset, &i)| {
            let row = Row::new(build(app, i));
            if focused && range.start + offset == cursor.selected {
                row.style(t.selected())
            } else {
                row
            }
        })
        .collect();
    let empty = rows.is_empty();
    let header = Row::new(header).style(t.header().add_modifier(Modifier::UNDERLINED));
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        inner,
    );
    if empty && inner.height > 1 {
        let note = if app.filter_text(list).is_some() {
            "Nothing matches the filter (esc clears it)."
        } else {
            "Nothing here yet."
        };
        frame.render_widget(
            Paragraph::new(Span::styled(note, t.dim())),
            Rect {
                y: inner.y + 1,
                height: 1,
                ..inner
            },
        );
    }
}

fn status_cell(app: &App, status: CheckStatus, label: &str) -> Cell<'static> {
    Cell::from(Span::styled(
        format!("{} {label}", status.symbol()),
        app.theme.check(status),
    ))
}

// ------------------------------------------------------------------- 1 Connect

pub fn connect(app: &mut App, frame: &mut Frame, area: Rect) {
    let sides = [("intercom", "Intercom"), ("kustomer", "Kustomer")];
    let areas = if area.width >= 120 {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area)
    };
    let selected = app
        .cursor(ListId::Connect)
        .selected
        .min(CONNECT_ROWS.len() - 1);
    let t = app.theme;
    for (n, (side, name)) in sides.iter().enumerate() {
        let info = app.connections.iter().find(|c| c.side == *side);
        let status = info.map(|c| c.status);
        let title = match status {
            Some(s) => format!("{} {name}", s.symbol()),
            None => format!("· {name}"),
        };
        let block = panel(app, &title, true);
        let inner = block.inner(areas[n]);
        frame.render_widget(block, areas[n]);
        let label = |s: &str| Span::styled(format!("{s:<12}"), t.dim());
        let row_style = |field: ConnectField| {
            let index = CONNECT_ROWS
                .iter()
                .position(|(s, f)| s == side && *f == field)
                .unwrap_or(usize::MAX);
            if index == selected {
                t.selected()
            } else {
                Style::new()
            }
        };
        let editing_row = app.editor.as_ref().and_then(|e| match &e.target {
            EditTarget::Url { side: s } if s == side => Some(ConnectField::Url),
            EditTarget::Token { side: s } if s == side => Some(ConnectField::Token),
            _ => None,
        });
        let dash = || "—".to_string();
        let mut lines = vec![
            Line::from(vec![
                label("URL"),
                Span::raw(info.map(|c| c.url.clone()).unwrap_or_else(dash)),
                Span::styled("  ✎", t.dim()),
            ])
            .style(row_style(ConnectField::Url)),
            Line::from(vec![
                label("Token"),
                match info {
                    Some(c) if c.token == "missing" => Span::styled("✗ missing", t.bad()),
                    Some(c) => Span::styled(format!("✓ {}", c.token), t.ok()),
                    None => Span::raw(dash()),
                },
                Span::styled("  ✎", t.dim()),
            ])
            .style(row_style(ConnectField::Token)),
        ];
        let Some(c) = info else {
            lines.push(Line::from(Span::styled(
                "Checking the connection…",
                t.dim(),
            )));
            frame.render_widget(Paragraph::new(lines), inner);
            continue;
        };
        let status_line = match c.status {
            CheckStatus::Pass => Span::styled("✓ connected", t.ok()),
            CheckStatus::Warn => Span::styled("! connected with warnings", t.warn()),
            CheckStatus::Created => Span::styled("+ connected", t.ok()),
            CheckStatus::Fail => Span::styled("✗ not connected", t.bad()),
        };
        let name_label = if *side == "intercom" {
            "Workspace"
        } else {
            "Org"
        };
        lines.push(Line::from(vec![label("Status"), status_line]));
        lines.push(Line::from(vec![
            label(name_label),
            Span::raw(c.name.clone().unwrap_or_else(dash)),
        ]));
        lines.push(Line::from(vec![
            label("Region"),
            Span::raw(c.region.clone().unwrap_or_else(dash)),
            Span::styled("   API ", t.dim()),
            Span::raw(c.api_version.clone().unwrap_or_else(dash)),
        ]));
        let budget = match (c.rate_limit, c.rate_window_secs) {
            (Some(limit), Some(window)) => {
                format!("{} requests / {window} s", fmt_count(limit.into()))
            }
            (Some(limit), None) => fmt_count(limit.into()),
            _ => dash(),
        };
        lines.push(Line::from(vec![label("Rate budget"), Span::raw(budget)]));
        if !c.roles.is_empty() {
            lines.push(Line::from(vec![
                label("Roles"),
                Span::raw(c.roles.join(", ")),
            ]));
        }
        if let Some(detail) = &c.detail {
            lines.push(Line::from(Span::styled(
                format!("{} {detail}", c.status.symbol()),
                t.check(c.status),
            )));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        // The field being edited shows its text area in place.
        if let (Some(field), Some(editor)) = (editing_row, app.editor.as_mut()) {
            let row = if field == ConnectField::Url { 0 } else { 1 };
            let rect = Rect {
                x: inner.x + 12,
                y: inner.y + row,
                width: inner.width.saturating_sub(12),
                height: 1,
            };
            frame.render_widget(Clear, rect);
            editor
                .area
                .set_style(Style::new().add_modifier(Modifier::UNDERLINED));
            frame.render_widget(&editor.area, rect);
        }
    }
}

// ------------------------------------------------------------------- 2 Scope

pub fn scope(app: &mut App, frame: &mut Frame, area: Rect) {
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(4)]).areas(area);
    if app.segments_open {
        segments(app, frame, list_area);
    } else {
        let wide = area.width >= 120;
        let mut widths = vec![
            Constraint::Length(24),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
        ];
        let mut header = vec!["Type", "Count", "Bucket", "Not retr."];
        if wide {
            widths.push(Constraint::Min(10));
            header.push("Note");
        }
        table(
            app,
            frame,
            list_area,
            ListId::Scope,
            "Scope",
            true,
            header,
            widths,
            |app, i| {
                let item = &app.scope[i];
                let mut cells = vec![
                    Cell::from(item.object.clone()),
                    Cell::from(Line::from(fmt_count(item.count)).right_aligned()),
                    Cell::from(Span::styled(
                        format!("{} {}", bucket_symbol(item.bucket), item.bucket.label()),
                        app.theme.bucket(item.bucket),
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
            },
        );
    }
    let t = app.theme;
    let history = match app.history_months {
        Some(m) => format!("conversations updated in the last {m} months"),
        None => "all conversations".to_string(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("History  ", t.dim()),
        Span::raw(history),
        Span::styled("  (h changes)", t.dim()),
    ])];
    if let Some((estimate, free)) = &app.disk {
        let mut text = format!(
            "needs {} more",
            crate::engine::disk::human_bytes(estimate.needed_bytes)
        );
        if let Some(free) = free {
            text.push_str(&format!(
                " of {} free",
                crate::engine::disk::human_bytes(*free)
            ));
        }
        let short = free.is_some_and(|free| free < estimate.needed_bytes);
        lines.push(Line::from(vec![
            Span::styled("Disk     ", t.dim()),
            if short {
                Span::styled(text, t.bad())
            } else {
                Span::raw(text)
            },
            Span::styled(
                format!("  ({})", crate::engine::disk::describe(estimate)),
                t.dim(),
            ),
        ]));
    }
    if app.segments_open {
        let used = app.segments.iter().filter(|s| s.in_use).count();
        lines.push(Line::from(format!(
            "{used} of {} segments in use become saved searches; the unused go to the archive.",
            app.segments.len()
        )));
    } else if let Some(item) = app.selected_index(ListId::Scope).map(|i| &app.scope[i]) {
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
    let block = panel(app, "Detail", false);
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        detail_area,
    );
}

fn segments(app: &mut App, frame: &mut Frame, area: Rect) {
    table(
        app,
        frame,
        area,
        ListId::Segments,
        "Segments (esc back)",
        true,
        vec!["Segment", "Members", "Updated", "Use"],
        vec![
            Constraint::Min(20),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(10),
        ],
        |app, i| {
            let s = &app.segments[i];
            let t = app.theme;
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
        },
    );
}

// ------------------------------------------------------------------- 3 Prerequisites

pub fn prerequisites(app: &mut App, frame: &mut Frame, area: Rect) {
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(area);
    let wide = area.width >= 120;
    table(
        app,
        frame,
        list_area,
        ListId::Prerequisites,
        "Prerequisites",
        true,
        vec!["Status", "Check", "Detail"],
        vec![
            Constraint::Length(10),
            Constraint::Length(if wide { 34 } else { 24 }),
            Constraint::Min(10),
        ],
        |app, i| {
            let p = &app.prerequisites[i];
            let label = match p.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Fail => "fail",
                CheckStatus::Created => "created",
                CheckStatus::Warn => "warn",
            };
            vec![
                status_cell(app, p.status, label),
                Cell::from(p.name.clone()),
                Cell::from(p.detail.clone()),
            ]
        },
    );
    let t = app.theme;
    let mut lines = Vec::new();
    if let Some(p) = app
        .selected_index(ListId::Prerequisites)
        .map(|i| &app.prerequisites[i])
    {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", p.status.symbol()), t.check(p.status)),
            Span::styled(p.name.clone(), t.header()),
            Span::raw(format!(": {}", p.detail)),
        ]));
        match (&p.status, &p.can_create) {
            (CheckStatus::Fail | CheckStatus::Warn, Some(what)) => lines.push(Line::from(vec![
                Span::styled("c", t.key()),
                Span::raw(format!(" creates: {what}")),
            ])),
            (CheckStatus::Fail, None) => lines.push(Line::from(Span::styled(
                "i2k cannot create this: fix it in Kustomer, then r checks again.",
                t.warn(),
            ))),
            _ => {}
        }
    }
    let failing = app
        .prerequisites
        .iter()
        .filter(|p| p.status == CheckStatus::Fail)
        .count();
    let block = panel(
        app,
        &if failing > 0 {
            format!("What to do · ✗ {failing} failing")
        } else {
            "What to do".to_string()
        },
        false,
    );
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        detail_area,
    );
}

// ------------------------------------------------------------------- 4 Mapping

pub fn mapping(app: &mut App, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 140;
    let [admins_area, fields_area] = if wide {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let (admins_unresolved, fields_unresolved) = app.unresolved_each();
    let unresolved_note = |n: usize| {
        if n > 0 {
            format!(" · ! {n} unresolved")
        } else {
            String::new()
        }
    };
    let admin_title = format!("Admins → users{}", unresolved_note(admins_unresolved));
    let field_title = format!("Fields → attributes{}", unresolved_note(fields_unresolved));
    let focus = app.mapping_pane;
    table(
        app,
        frame,
        admins_area,
        ListId::Admins,
        &admin_title,
        focus == Pane::First,
        vec!["", "Admin", "Email", "Kustomer user"],
        vec![
            Constraint::Length(1),
            Constraint::Length(18),
            Constraint::Length(if wide { 26 } else { 24 }),
            Constraint::Min(12),
        ],
        |app, i| {
            let a = &app.admins[i];
            let t = app.theme;
            let (symbol, style) = match a.decision {
                AdminDecision::Unresolved => ("!", t.warn()),
                AdminDecision::Invite => ("+", t.ok()),
                _ => ("✓", t.ok()),
            };
            vec![
                Cell::from(Span::styled(symbol, style)),
                Cell::from(a.name.clone()),
                Cell::from(Span::styled(a.email.clone(), t.dim())),
                Cell::from(Span::styled(admin_decision_label(a), style)),
            ]
        },
    );
    table(
        app,
        frame,
        fields_area,
        ListId::Fields,
        &field_title,
        focus == Pane::Second,
        vec!["", "Field", "Type", "Attribute", "Note"],
        vec![
            Constraint::Length(1),
            Constraint::Length(if wide { 30 } else { 24 }),
            Constraint::Length(8),
            Constraint::Length(if wide { 34 } else { 30 }),
            Constraint::Min(4),
        ],
        |app, i| {
            let f = &app.fields[i];
            let t = app.theme;
            let (symbol, style) = match f.decision {
                FieldDecision::Unresolved => ("!", t.warn()),
                FieldDecision::Archive => ("+", t.accent()),
                FieldDecision::Attribute { .. } => ("✓", t.ok()),
            };
            vec![
                Cell::from(Span::styled(symbol, style)),
                Cell::from(format!("{}.{}", f.model, f.source_name)),
                Cell::from(Span::styled(f.source_type.clone(), t.dim())),
                Cell::from(Span::styled(field_decision_label(f), style)),
                Cell::from(Span::styled(f.note.clone(), t.dim())),
            ]
        },
    );
}

/// The admin → user picker, drawn over the Mapping screen.
pub fn picker(app: &mut App, frame: &mut Frame, body: Rect) {
    let t = app.theme;
    let Some(query) = app.picker.as_ref().map(|p| p.query.lines().join("")) else {
        return;
    };
    let options = app.pick_options(&query);
    let Some(picker) = app.picker.as_mut() else {
        return;
    };
    let width = body.width.saturating_sub(10).clamp(40, 80);
    let height = (options.len() as u16 + 5).clamp(8, body.height);
    let area = centered(body, width, height);
    let block = panel_static(t, &format!("Map {} to", picker.admin_label));
    let inner = draw_popup(frame, area, block);
    let [query_area, list_area, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let [label, input] =
        Layout::horizontal([Constraint::Length(3), Constraint::Min(1)]).areas(query_area);
    frame.render_widget(Paragraph::new(Span::styled(" / ", t.key())), label);
    frame.render_widget(&picker.query, input);
    picker.selected = picker.selected.min(options.len().saturating_sub(1));
    let mut cursor = ListCursor {
        selected: picker.selected,
        ..ListCursor::default()
    };
    let range = window(&mut cursor, options.len(), list_area.height as usize);
    let lines: Vec<Line> = options[range.clone()]
        .iter()
        .enumerate()
        .map(|(n, o)| {
            let line = Line::from(format!(" {}", o.label()));
            if range.start + n == picker.selected {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);
    frame.render_widget(
        Paragraph::new(t.hints(&[
            (" ↑↓", " choose  "),
            ("enter", " map  "),
            ("esc", " cancel"),
        ])),
        hint,
    );
}

pub(crate) fn panel_static(
    t: crate::tui::theme::Theme,
    title: &str,
) -> ratatui::widgets::Block<'static> {
    ratatui::widgets::Block::bordered()
        .border_type(ratatui::widgets::BorderType::Rounded)
        .border_style(t.focus_border())
        .title(Span::styled(format!(" {title} "), t.title()))
}

// ------------------------------------------------------------------- 5 Run

pub fn run(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let wide = area.width >= 120;
    let phases_height = app.snapshot.phases.len() as u16 + 3;
    let [top, middle, log_area] = Layout::vertical([
        Constraint::Length(phases_height),
        Constraint::Length(if area.height >= 40 { 10 } else { 5 }),
        Constraint::Min(3),
    ])
    .areas(area);
    let [phases_area, stats_area] = Layout::horizontal([
        Constraint::Min(40),
        Constraint::Length(if wide { 56 } else { 30 }),
    ])
    .areas(top);

    // Phases
    let bar_width: usize = if wide { 30 } else { 8 };
    let rows: Vec<Row> = app
        .snapshot
        .phases
        .iter()
        .map(|p| {
            let fraction = if p.total > 0 {
                (p.done + p.failed + p.skipped) as f64 / p.total as f64
            } else if p.status == PhaseStatus::Done {
                1.0
            } else {
                0.0
            };
            let style = t.phase(p.status);
            let name = if wide {
                p.phase.label()
            } else {
                short_phase_label(p.phase)
            };
            let mut cells = vec![
                Cell::from(Span::styled(phase_symbol(p.status), style)),
                Cell::from(name),
                Cell::from(
                    Line::from(if wide {
                        format!("{}/{}", fmt_count(p.done), fmt_count(p.total))
                    } else {
                        format!("{}/{}", p.done, p.total)
                    })
                    .right_aligned(),
                ),
                Cell::from(Span::styled(text_bar(fraction, bar_width, wide), style)),
                Cell::from(
                    Line::from(Span::styled(
                        if p.failed > 0 {
                            format!("✗{}", fmt_count(p.failed))
                        } else {
                            String::new()
                        },
                        t.bad(),
                    ))
                    .right_aligned(),
                ),
            ];
            cells.push(Cell::from(
                Line::from(if p.in_flight > 0 {
                    format!("▶{}", p.in_flight)
                } else {
                    String::new()
                })
                .right_aligned(),
            ));
            Row::new(cells)
        })
        .collect();
    let header = if wide {
        Row::new(vec![
            "",
            "Phase",
            "Done/total",
            "Progress",
            "Failed",
            "Flight",
        ])
    } else {
        Row::new(vec!["", "Phase", "Done/all", "", "Fail", "Fly"])
    }
    .style(t.header().add_modifier(Modifier::UNDERLINED));
    let widths = if wide {
        [
            Constraint::Length(1),
            Constraint::Length(18),
            Constraint::Length(15),
            Constraint::Length(bar_width as u16 + 5),
            Constraint::Length(7),
            Constraint::Length(6),
        ]
    } else {
        [
            Constraint::Length(1),
            Constraint::Length(13),
            Constraint::Length(10),
            Constraint::Length(bar_width as u16),
            Constraint::Length(4),
            Constraint::Min(4),
        ]
    };
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(panel(app, "Phases", true)),
        phases_area,
    );

    // Figures
    let s = &app.snapshot;
    let label = |text: &str| Span::styled(format!("{text:<10}"), t.dim());
    let eta = s.eta.map(fmt_duration).unwrap_or_else(|| "—".into());
    let budget_ratio = if s.kustomer.allowed > 0 {
        (s.kustomer.used as f64 / s.kustomer.allowed as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut lines = vec![
        Line::from(vec![
            label("State"),
            Span::styled(
                crate::tui::theme::run_state_label(&s.state),
                t.run_state(&s.state),
            ),
        ]),
        Line::from(vec![label("Elapsed"), Span::raw(fmt_duration(s.elapsed))]),
        Line::from(vec![label("ETA"), Span::raw(eta)]),
        Line::from(vec![
            label("Kustomer"),
            Span::raw(format!(
                "{}/{} per {} s",
                s.kustomer.used, s.kustomer.allowed, s.kustomer.window_secs
            )),
        ]),
        Line::from(vec![
            label("Budget"),
            Span::styled(
                text_bar(budget_ratio, if wide { 30 } else { 11 }, true),
                t.accent(),
            ),
        ]),
        Line::from(vec![
            label("Share"),
            Span::raw(format!(
                "{:.0}% of {}",
                s.rate_share * 100.0,
                fmt_count(s.kustomer.limit.into())
            )),
            Span::styled(" +/-", t.key()),
        ]),
        Line::from(vec![
            label("Intercom"),
            Span::raw(format!(
                "{}/{} per {} s",
                s.intercom.used, s.intercom.allowed, s.intercom.window_secs
            )),
        ]),
    ];
    let throttled = s.kustomer.throttled + s.intercom.throttled;
    if throttled > 0 {
        lines.push(Line::from(vec![
            label("Throttled"),
            Span::styled(format!("! {} × 429", fmt_count(throttled)), t.warn()),
        ]));
    }
    if let RunState::Failed(reason) = &s.state {
        lines.push(Line::from(Span::styled(format!("✗ {reason}"), t.bad())));
    }
    frame.render_widget(
        Paragraph::new(lines).block(panel(app, "Figures", false)),
        stats_area,
    );

    // Throughput and activity
    let [spark_area, activity_area] = Layout::horizontal([
        Constraint::Percentage(if wide { 60 } else { 50 }),
        Constraint::Min(10),
    ])
    .areas(middle);
    let spark_block = panel(
        app,
        &format!(
            "Throughput {:.0} rec/s · {:.1} req/s",
            s.records_per_sec, s.requests_per_sec
        ),
        false,
    );
    let spark_inner = spark_block.inner(spark_area);
    frame.render_widget(spark_block, spark_area);
    let skip = s
        .throughput
        .len()
        .saturating_sub(spark_inner.width as usize);
    frame.render_widget(
        Sparkline::default()
            .data(s.throughput[skip..].iter().copied())
            .style(t.accent()),
        spark_inner,
    );
    let activity = if s.activity.is_empty() {
        match s.state {
            RunState::Idle => "Press s to start the migration.".to_string(),
            _ => "—".to_string(),
        }
    } else {
        s.activity.clone()
    };
    // While a 429 holds the requests, that is what the run is doing first of all.
    let mut now = Vec::new();
    if let Some(note) = s.throttled_note() {
        now.push(Line::from(Span::styled(format!("! {note}"), t.warn())));
    }
    now.push(Line::from(activity));
    frame.render_widget(
        Paragraph::new(now)
            .wrap(Wrap { trim: true })
            .block(panel(app, "Now", false)),
        activity_area,
    );

    // Log tail: the newest lines that pass the filter.
    let visible = app.visible(ListId::Log);
    let block = panel(
        app,
        &list_title(app, ListId::Log, "Log", visible.len(), app.log.len()),
        false,
    );
    let inner = block.inner(log_area);
    frame.render_widget(block, log_area);
    let height = inner.height as usize;
    let start = visible.len().saturating_sub(height);
    let lines: Vec<Line> = visible[start..]
        .iter()
        .filter_map(|&i| app.log.get(i))
        .map(|l| {
            let style = match l.level {
                LogLevel::Info => Style::new(),
                LogLevel::Warn => t.warn(),
                LogLevel::Error => t.bad(),
            };
            Line::from(Span::styled(l.message.clone(), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `████░░░░ 52%` (the percentage only when asked for).
fn text_bar(fraction: f64, width: usize, percent: bool) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * width as f64).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
    if percent {
        format!("{bar} {:>3.0}%", fraction * 100.0)
    } else {
        bar
    }
}

fn short_phase_label(phase: PhaseId) -> &'static str {
    match phase {
        PhaseId::Prerequisites => "Prereqs",
        PhaseId::UsersTeams => "Users & teams",
        PhaseId::Metadata => "Metadata",
        PhaseId::Companies => "Companies",
        PhaseId::Customers => "Customers",
        PhaseId::Kb => "Knowledge",
        PhaseId::Conversations => "Conversations",
        PhaseId::Extras => "Events/extras",
    }
}

// ------------------------------------------------------------------- 6 Errors

pub fn errors(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let [filters_area, rest] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
    let f = app.failure_filter.clone();
    let chip = |key: &str, name: &str, value: Option<String>| {
        vec![
            Span::styled(format!(" {key} "), t.key()),
            Span::styled(format!("{name} "), t.dim()),
            match value {
                Some(v) => Span::styled(v, t.accent().add_modifier(Modifier::BOLD)),
                None => Span::raw("all"),
            },
            Span::raw("  "),
        ]
    };
    let mut spans = Vec::new();
    spans.extend(chip("f", "phase", f.phase.map(|p| p.label().to_string())));
    spans.extend(chip("t", "type", f.object.clone()));
    spans.extend(chip("e", "class", f.class.map(|c| c.as_str().to_string())));
    frame.render_widget(Paragraph::new(Line::from(spans)), filters_area);

    let wide = area.width >= 120;
    let [list_area, detail_area] = if wide {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest)
    } else {
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(rest)
    };
    let list_focused = app.errors_pane == Pane::First;
    table(
        app,
        frame,
        list_area,
        ListId::Failures,
        "Failed records",
        list_focused,
        vec!["Type", "Id", "Class", "Try", "Reason"],
        vec![
            Constraint::Length(13),
            Constraint::Length(12),
            Constraint::Length(11),
            Constraint::Length(3),
            Constraint::Min(10),
        ],
        |app, i| {
            let f = &app.failures[i];
            vec![
                Cell::from(f.record.object.clone()),
                Cell::from(f.record.source_id.clone()),
                Cell::from(Span::styled(
                    format!("✗ {}", f.class.as_str()),
                    app.theme.bad(),
                )),
                Cell::from(Line::from(f.attempts.to_string()).right_aligned()),
                Cell::from(f.message.clone()),
            ]
        },
    );

    let selected = app
        .selected_index(ListId::Failures)
        .and_then(|i| app.failures.get(i));
    let detail = app
        .detail
        .as_ref()
        .filter(|d| selected.is_some_and(|s| s.record == d.summary.record));
    let mut lines: Vec<Line> = Vec::new();
    match (selected, detail) {
        (None, _) => lines.push(Line::from(Span::styled(
            "No failed record selected.",
            t.dim(),
        ))),
        (Some(s), None) => {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} {} ", s.record.object, s.record.source_id),
                    t.header(),
                ),
                Span::styled(format!("✗ {}", s.class.as_str()), t.bad()),
            ]));
            lines.push(Line::from(format!(
                "{} · {} attempts",
                s.phase.label(),
                s.attempts
            )));
            lines.push(Line::from(s.message.clone()));
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                "enter shows the source record, request and response",
                t.dim(),
            )));
        }
        (Some(_), Some(d)) => {
            let s = &d.summary;
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{} {} ", s.record.object, s.record.source_id),
                    t.header(),
                ),
                Span::styled(format!("✗ {}", s.class.as_str()), t.bad()),
                Span::styled(
                    format!("  {} · {} attempts", s.phase.label(), s.attempts),
                    t.dim(),
                ),
            ]));
            lines.push(Line::from(vec![
                Span::styled("Reason   ", t.dim()),
                Span::raw(s.message.clone()),
            ]));
            if let Some(key) = &d.mapping_key {
                lines.push(Line::from(vec![
                    Span::styled("Mapping  ", t.dim()),
                    Span::raw(key.clone()),
                    Span::styled("  m", t.key()),
                    Span::raw(" jumps there"),
                ]));
            }
            for (title, body) in [
                ("Request", &d.request),
                ("Response", &d.response),
                ("Source record", &d.source),
            ] {
                lines.push(Line::from(Span::styled(
                    format!("── {title} "),
                    t.accent().add_modifier(Modifier::BOLD),
                )));
                lines.extend(body.lines().map(|l| Line::from(l.to_string())));
            }
        }
    }
    let focused = app.errors_pane == Pane::Second;
    let block = panel(app, "Detail (tab focuses, ↑↓ scroll)", focused);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0)),
        detail_area,
    );
}

// ------------------------------------------------------------------- 7 Summary

pub fn summary(app: &mut App, frame: &mut Frame, area: Rect) {
    let t = app.theme;
    let wide = area.width >= 140;
    let manual_height = (app.summary.manual.len() as u16 + 2).clamp(3, if wide { 40 } else { 6 });
    let [paths_area, rest] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(4)]).areas(area);
    let [table_area, manual_area] = if wide {
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(rest)
    } else {
        Layout::vertical([Constraint::Min(4), Constraint::Length(manual_height)]).areas(rest)
    };
    let dash = "—".to_string();
    let verdict = if !app.summary.received {
        Span::styled("No run verified yet: press v to verify.", t.dim())
    } else if app.summary.verification.iter().all(|v| v.agrees) {
        Span::styled("✓ every type accounted for", t.ok())
    } else {
        let n = app
            .summary
            .verification
            .iter()
            .filter(|v| !v.agrees)
            .count();
        Span::styled(format!("✗ {n} types do not add up"), t.bad())
    };
    let paths = vec![
        Line::from(vec![
            Span::styled(" Report  ", t.dim()),
            Span::raw(app.summary.report_path.clone().unwrap_or(dash.clone())),
            Span::raw("   "),
            verdict,
        ]),
        Line::from(vec![
            Span::styled(" Archive ", t.dim()),
            Span::raw(app.summary.archive_path.clone().unwrap_or(dash)),
        ]),
    ];
    frame.render_widget(Paragraph::new(paths), paths_area);
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(if wide { 24 } else { 15 }),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let mut header = vec!["", "Type", "Source", "Migr.", "Target"];
    if area.width >= 100 {
        header.extend(["Archived", "Manual", "Skipped", "Failed", "N/R"]);
        widths.extend([Constraint::Length(8); 5]);
    } else {
        header.extend(["Arch.", "Fail"]);
        widths.extend([Constraint::Length(6); 2]);
    }
    let full = area.width >= 100;
    table(
        app,
        frame,
        table_area,
        ListId::Verification,
        "Verification",
        true,
        header,
        widths,
        |app, i| {
            let v = &app.summary.verification[i];
            let t = app.theme;
            let num = |n: u64| Cell::from(Line::from(fmt_count(n)).right_aligned());
            let mut cells = vec![
                if v.agrees {
                    Cell::from(Span::styled("✓", t.ok()))
                } else {
                    Cell::from(Span::styled("✗", t.bad()))
                },
                Cell::from(v.object.clone()),
                num(v.source),
                num(v.migrated),
                Cell::from(
                    Line::from(v.target.map(fmt_count).unwrap_or_else(|| "—".into()))
                        .right_aligned(),
                ),
                num(v.archived),
            ];
            if full {
                cells.extend([num(v.manual), num(v.skipped)]);
            }
            // Records the ledger cannot read are failed too (verify counts them apart).
            let failed = v.failed + v.unreadable;
            cells.push(if failed > 0 {
                Cell::from(Line::from(Span::styled(fmt_count(failed), t.bad())).right_aligned())
            } else {
                num(0)
            });
            if full {
                cells.push(num(v.not_retrievable));
            }
            cells
        },
    );
    let lines: Vec<Line> = if app.summary.manual.is_empty() {
        vec![Line::from(Span::styled(
            "Nothing to rebuild by hand.",
            t.dim(),
        ))]
    } else {
        app.summary
            .manual
            .iter()
            .map(|m| Line::from(vec![Span::styled("☐ ", t.warn()), Span::raw(m.clone())]))
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(panel(
            app,
            "Manual checklist (MANUAL.md)",
            false,
        )),
        manual_area,
    );
}

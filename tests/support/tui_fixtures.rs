//! Realistic console data for the TUI tests: what the glue would send for a small demo workspace
//! half-way through a run, and helpers to press keys and render frames on a `TestBackend`.
#![allow(dead_code)]

use std::time::Duration;

use i2k::engine::model::*;
use i2k::tui::{App, AppOptions, Keymap, Request, Update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn app() -> App {
    App::new(
        Keymap::builtin().unwrap(),
        AppOptions {
            no_color: false,
            read_only: false,
            title: "demo · small".into(),
        },
    )
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ch(c: char) -> KeyEvent {
    let modifiers = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), modifiers)
}

/// Presses each character of `keys` in turn and collects every request.
pub fn press(app: &mut App, keys: &str) -> Vec<Request> {
    keys.chars().flat_map(|c| app.handle_key(ch(c))).collect()
}

pub fn press_key(app: &mut App, code: KeyCode) -> Vec<Request> {
    app.handle_key(key(code))
}

/// The frame as text, one line per row, trailing blanks trimmed.
pub fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    buffer_text(terminal.backend().buffer())
}

pub fn buffer_text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn connections() -> Vec<ConnectionInfo> {
    vec![
        ConnectionInfo {
            side: "intercom".into(),
            url: "http://127.0.0.1:41001".into(),
            status: CheckStatus::Pass,
            name: Some("Acme Support (demo)".into()),
            region: Some("us".into()),
            api_version: Some("2.16".into()),
            rate_limit: Some(1667),
            rate_window_secs: Some(10),
            token: "set (40 chars, …7Q)".into(),
            token_refused: false,
            roles: vec![],
            detail: None,
        },
        ConnectionInfo {
            side: "kustomer".into(),
            url: "http://127.0.0.1:41002".into(),
            status: CheckStatus::Warn,
            name: Some("acme-demo".into()),
            region: Some("us (prod1)".into()),
            api_version: Some("v1".into()),
            rate_limit: Some(1000),
            rate_window_secs: Some(60),
            token: "set (64 chars, …x9)".into(),
            token_refused: false,
            roles: vec!["org.admin".into(), "org.user.customer.write".into()],
            detail: Some("2 workflows are active: pause them for the import.".into()),
        },
    ]
}

pub fn scope() -> Update {
    let item =
        |object: &str, count: u64, bucket: Bucket, not_retrievable: u64, note: &str| ScopeItem {
            object: object.into(),
            count,
            bucket,
            not_retrievable,
            note: note.into(),
        };
    Update::Scope {
        items: vec![
            item(
                "admins",
                12,
                Bucket::Migrate,
                0,
                "matched to Kustomer users by email",
            ),
            item("teams", 4, Bucket::Migrate, 0, ""),
            item("tags", 38, Bucket::Migrate, 0, ""),
            item(
                "segments",
                6,
                Bucket::Migrate,
                0,
                "in use → saved searches; unused → archive",
            ),
            item("companies", 240, Bucket::Migrate, 0, ""),
            item("contacts", 1_830, Bucket::Migrate, 0, "users and leads"),
            item("collections", 9, Bucket::Migrate, 0, ""),
            item(
                "articles",
                64,
                Bucket::Migrate,
                0,
                "with versions and translations",
            ),
            item("conversations", 4_120, Bucket::Migrate, 0, ""),
            item(
                "conversation_parts",
                61_877,
                Bucket::Migrate,
                212,
                "parts beyond 500 per conversation",
            ),
            item(
                "data_events",
                9_400,
                Bucket::Archive,
                1_150,
                "events older than 90 days",
            ),
            item("tickets", 85, Bucket::Migrate, 0, ""),
            item(
                "macros",
                22,
                Bucket::Manual,
                0,
                "rebuilt as shortcuts by hand",
            ),
        ],
        segments: vec![
            SegmentChoice {
                id: "seg_1".into(),
                name: "Paying customers".into(),
                members: 912,
                updated_at: 1_717_200_000,
                in_use: true,
            },
            SegmentChoice {
                id: "seg_2".into(),
                name: "Trial — EU".into(),
                members: 148,
                updated_at: 1_709_251_200,
                in_use: true,
            },
            SegmentChoice {
                id: "seg_3".into(),
                name: "Churned 2022".into(),
                members: 77,
                updated_at: 1_656_633_600,
                in_use: false,
            },
            SegmentChoice {
                id: "seg_4".into(),
                name: "VIP".into(),
                members: 19,
                updated_at: 1_719_792_000,
                in_use: true,
            },
            SegmentChoice {
                id: "seg_5".into(),
                name: "Webinar 2021".into(),
                members: 233,
                updated_at: 1_625_097_600,
                in_use: false,
            },
            SegmentChoice {
                id: "seg_6".into(),
                name: "Old import".into(),
                members: 4,
                updated_at: 1_577_836_800,
                in_use: false,
            },
        ],
        history_months: Some(24),
    }
}

pub fn prerequisites() -> Vec<PrereqCheck> {
    vec![
        PrereqCheck {
            name: "Kustomer key roles".into(),
            status: CheckStatus::Pass,
            detail: "org.admin and write roles present".into(),
            choices: Vec::new(),
            can_create: None,
        },
        PrereqCheck {
            name: "Brand \"Acme\"".into(),
            status: CheckStatus::Created,
            detail: "created for the imported conversations".into(),
            choices: Vec::new(),
            can_create: None,
        },
        PrereqCheck {
            name: "Business schedule".into(),
            status: CheckStatus::Fail,
            detail: "Intercom office hours \"Support EU\" has no schedule".into(),
            choices: Vec::new(),
            can_create: Some("schedule \"Support EU\" (Mon–Fri 09:00–17:00 Europe/Berlin)".into()),
        },
        PrereqCheck {
            name: "Ticket klass".into(),
            status: CheckStatus::Fail,
            detail: "klass \"intercomTicket\" is missing".into(),
            choices: Vec::new(),
            can_create: Some("klass intercomTicket with 6 attributes".into()),
        },
        PrereqCheck {
            name: "Workflows".into(),
            status: CheckStatus::Warn,
            detail: "2 active workflows fire on created records: pause them".into(),
            choices: Vec::new(),
            can_create: None,
        },
    ]
}

pub fn users() -> Vec<UserChoice> {
    vec![
        UserChoice {
            user_id: "u1".into(),
            name: "Ann Lee".into(),
            email: "ann@acme.test".into(),
        },
        UserChoice {
            user_id: "u2".into(),
            name: "Bo Chen".into(),
            email: "bo@acme.test".into(),
        },
        UserChoice {
            user_id: "u3".into(),
            name: "Cy Diaz".into(),
            email: "cy@acme.test".into(),
        },
    ]
}

pub fn admins() -> Vec<AdminMapping> {
    let u = users();
    vec![
        AdminMapping {
            admin_id: "a1".into(),
            name: "Ann Lee".into(),
            email: "ann@acme.test".into(),
            suggestion: Some(u[0].clone()),
            decision: AdminDecision::User {
                user_id: "u1".into(),
                email: "ann@acme.test".into(),
            },
        },
        AdminMapping {
            admin_id: "a2".into(),
            name: "Bo Chen".into(),
            email: "bo@acme.test".into(),
            suggestion: Some(u[1].clone()),
            decision: AdminDecision::Unresolved,
        },
        AdminMapping {
            admin_id: "a3".into(),
            name: "Dee Ray".into(),
            email: "dee@acme.test".into(),
            suggestion: None,
            decision: AdminDecision::Unresolved,
        },
        AdminMapping {
            admin_id: "a4".into(),
            name: "Bot".into(),
            email: "bot@intercom.test".into(),
            suggestion: None,
            decision: AdminDecision::Fallback,
        },
    ]
}

pub fn fields() -> Vec<FieldMapping> {
    let f = |model: &str,
             name: &str,
             ty: &str,
             proposed: Option<&str>,
             decision: FieldDecision,
             note: &str| FieldMapping {
        model: model.into(),
        source_name: name.into(),
        source_type: ty.into(),
        proposed: proposed.map(Into::into),
        decision,
        note: note.into(),
    };
    vec![
        f(
            "contact",
            "plan",
            "string",
            Some("planStr"),
            FieldDecision::Attribute {
                name: "planStr".into(),
            },
            "",
        ),
        f(
            "contact",
            "seats",
            "integer",
            Some("seatsNum"),
            FieldDecision::Unresolved,
            "",
        ),
        f(
            "company",
            "renewal_date",
            "date",
            Some("renewalDateAt"),
            FieldDecision::Unresolved,
            "",
        ),
        f(
            "conversation",
            "priority_reason",
            "string",
            Some("priorityReasonStr"),
            FieldDecision::Attribute {
                name: "priorityReasonStr".into(),
            },
            "",
        ),
        f(
            "contact",
            "legacy_blob",
            "list",
            None,
            FieldDecision::Archive,
            "lists have no attribute type",
        ),
    ]
}

pub fn snapshot() -> Snapshot {
    let mut s = Snapshot {
        state: RunState::Running,
        ..Snapshot::default()
    };
    let figures = [
        (PhaseStatus::Done, 5, 5, 0, 0),
        (PhaseStatus::Done, 16, 16, 0, 0),
        (PhaseStatus::Done, 14, 14, 0, 0),
        (PhaseStatus::DoneWithFailures, 240, 238, 2, 0),
        // Of the 3 not loaded, 1 is of unknown outcome (its answer lost; `failures()`).
        (PhaseStatus::Running, 1_830, 1_204, 2, 100),
        (PhaseStatus::Running, 73, 40, 0, 4),
        (PhaseStatus::Waiting, 4_120, 0, 0, 0),
        (PhaseStatus::Waiting, 9_507, 0, 0, 0),
    ];
    for (p, (status, total, done, failed, in_flight)) in s.phases.iter_mut().zip(figures) {
        p.status = status;
        p.total = total;
        p.done = done;
        p.failed = failed;
        p.in_flight = in_flight;
    }
    let customers = s.phases.iter_mut().find(|p| p.phase == PhaseId::Customers);
    customers.unwrap().unknown = 1;
    s.records_per_sec = 38.0;
    s.requests_per_sec = 12.4;
    s.throughput = (0..60u64).map(|i| 20 + (i * 7) % 31).collect();
    s.kustomer = Budget {
        used: 611,
        allowed: 800,
        limit: 1000,
        window_secs: 60,
        throttled: 3,
        requests: 2_411,
        throttled_until: None,
    };
    s.intercom = Budget {
        used: 140,
        allowed: 1_500,
        limit: 1_667,
        window_secs: 10,
        throttled: 0,
        requests: 5_210,
        throttled_until: None,
    };
    s.rate_share = 0.8;
    s.elapsed = Duration::from_secs(754);
    s.eta = Some(Duration::from_secs(1_930));
    s.activity = "Loading customers: batch 13 of 19 (bulk job 7f3a…)".into();
    s
}

pub fn failures() -> Vec<FailureSummary> {
    let f = |object: &str,
             id: &str,
             phase: PhaseId,
             class: ErrorClass,
             message: &str,
             attempts: u32| FailureSummary {
        record: RecordRef {
            object: object.into(),
            source_id: id.into(),
        },
        phase,
        class,
        message: message.into(),
        attempts,
    };
    vec![
        f(
            "companies",
            "5f1c0a77",
            PhaseId::Companies,
            ErrorClass::Rejected,
            "400 name: must be at most 255 characters",
            1,
        ),
        f(
            "companies",
            "5f1c0b02",
            PhaseId::Companies,
            ErrorClass::Transient,
            "503 after 6 attempts",
            6,
        ),
        f(
            "contacts",
            "64a0c1e9",
            PhaseId::Customers,
            ErrorClass::Rejected,
            "400 emails[0].email: invalid format",
            1,
        ),
        f(
            "contacts",
            "64a0c2aa",
            PhaseId::Customers,
            ErrorClass::Mapping,
            "custom.seatsNum: no decision for contact.seats",
            1,
        ),
        f(
            "contacts",
            "64a0c3b1",
            PhaseId::Customers,
            ErrorClass::Unknown,
            "answer lost; not found by externalId",
            2,
        ),
    ]
}

pub fn failure_detail() -> FailureDetail {
    FailureDetail {
        summary: failures()[3].clone(),
        source: "{\n  \"id\": \"64a0c2aa\",\n  \"email\": \"kim@example.test\",\n  \"custom_attributes\": { \"seats\": 12 }\n}".into(),
        request: "POST /v1/customers/bulk\nAuthorization: Bearer [redacted]\n{\"externalId\":\"64a0c2aa\",\"custom\":{\"seatsNum\":12}}".into(),
        response: "400 Bad Request\n{\"errors\":[{\"title\":\"custom.seatsNum: unknown attribute\"}]}".into(),
        mapping_key: Some("field:contact:seats".into()),
    }
}

pub fn summary() -> Update {
    let v = |object: &str,
             source: u64,
             migrated: u64,
             archived: u64,
             manual: u64,
             failed: u64,
             nr: u64,
             target: Option<u64>| TypeVerification {
        object: object.into(),
        source,
        migrated,
        archived,
        manual,
        skipped: 0,
        failed,
        not_retrievable: nr,
        target,
        agrees: source == migrated + archived + manual + failed + nr,
        incomplete: 0,
        unreadable: 0,
        unknown: 0,
    };
    Update::Summary {
        verification: vec![
            v("admins", 12, 12, 0, 0, 0, 0, Some(12)),
            v("teams", 4, 4, 0, 0, 0, 0, Some(4)),
            v("segments", 6, 3, 3, 0, 0, 0, Some(3)),
            v("companies", 240, 238, 0, 0, 2, 0, Some(238)),
            v("contacts", 1_830, 1_827, 0, 0, 3, 0, Some(1_827)),
            v("articles", 64, 64, 0, 0, 0, 0, Some(64)),
            v("conversations", 4_120, 4_120, 0, 0, 0, 0, Some(4_120)),
            // Loaded, 60 of them with their answer lost: Kustomer has no lookup for events.
            TypeVerification {
                unknown: 60,
                ..v("data_events", 9_400, 8_190, 0, 0, 0, 1_150, None)
            },
            v("macros", 22, 0, 0, 22, 0, 0, None),
        ],
        report_path: Some("~/.local/state/i2k/demo/report.md".into()),
        archive_path: Some("~/.local/state/i2k/demo/archive/".into()),
        manual: vec![
            "Rebuild 22 macros as Kustomer shortcuts (listed in MANUAL.md)".into(),
            "Recreate 3 workflows and 1 series (exported to archive/workflows.jsonl)".into(),
            "Re-apply the Help Center theme (colours and logo)".into(),
        ],
    }
}

/// A console fed with everything a demo run has produced half-way.
pub fn loaded_app() -> App {
    let mut app = app();
    app.apply(Update::Connections(connections()));
    app.apply(scope());
    app.apply(Update::Prerequisites(prerequisites()));
    app.apply(Update::Users(users()));
    app.apply(Update::Admins(admins()));
    app.apply(Update::Fields(fields()));
    app.apply(Update::Snapshot(snapshot()));
    for e in [
        Event::PhaseStarted {
            phase: PhaseId::Prerequisites,
        },
        Event::Log {
            level: LogLevel::Info,
            message: "brand \"Acme\" created".into(),
        },
        Event::PhaseFinished {
            phase: PhaseId::Prerequisites,
            done: 5,
            failed: 0,
            skipped: 0,
        },
        Event::PhaseStarted {
            phase: PhaseId::Companies,
        },
        Event::Log {
            level: LogLevel::Warn,
            message: "429 from Kustomer: waiting 12 s for the window to reset".into(),
        },
        Event::PhaseFinished {
            phase: PhaseId::Companies,
            done: 238,
            failed: 2,
            skipped: 0,
        },
        Event::PhaseStarted {
            phase: PhaseId::Customers,
        },
    ] {
        app.apply(Update::Event(e));
    }
    app.apply(Update::Failures(failures()));
    app
}

//! Decisions against a real ledger in a fresh state directory: `mapping.toml` export and import
//! (round trip, edits honoured, bad entries refused with their place), the phase view
//! (`Decisions::load`) and the operator's single decisions.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use i2k::engine::decisions::{
    self, DecisionError, Decisions, MAPPING_FILE, admin_mappings, decide_admin, decide_field,
    export_toml, field_mappings, import_toml,
};
use i2k::engine::model::{AdminDecision, AdminMapping, Bucket, FieldDecision, FieldMapping};
use i2k::ledger::Ledger;
use serde_json::json;

struct TempState(PathBuf);

impl TempState {
    fn new(name: &str) -> TempState {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TempState(std::env::temp_dir().join(format!(
            "i2k-decisions-{name}-{}-{nanos}",
            std::process::id()
        )))
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.0.join(sub)
    }
}

impl Drop for TempState {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const EDITED: &str = r#"
fallback_user_id = "u-fallback"

[admins."1"]
name = "Ada"
email = "ada@example.com"
decision = "user"
user_id = "u-ada"
user_email = "ada@example.com"

[admins."2"]
name = "Bo"
email = "bo@example.com"
decision = "fallback"

[admins."3"]
name = "Cy"
email = "cy@example.com"
decision = "invite"

[fields.contact."plan name"]
type = "string"
decision = "attribute"
name = "planNameStr"

[fields.conversation."linked thing"]
type = "relationship"
decision = "archive"

[segments."s1"]
in_use = false

[buckets]
macros = "archive"

[prerequisites.brands]
create = true
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn mapping_toml_round_trips_every_kind_of_decision() {
    let tmp = TempState::new("roundtrip");
    let first = Ledger::open(&tmp.dir("a")).unwrap();
    let edited = tmp.dir("edited.toml");
    write(&edited, EDITED);
    let applied = import_toml(&first, &edited).await.unwrap();
    assert_eq!(applied, 9);

    let exported = tmp.dir("a").join(MAPPING_FILE);
    export_toml(&first, &exported).unwrap();
    let mode = std::fs::metadata(&exported).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "mapping.toml holds e-mails: owner only"
    );

    let second = Ledger::open(&tmp.dir("b")).unwrap();
    import_toml(&second, &exported).await.unwrap();
    assert_eq!(
        admin_mappings(&first).await.unwrap(),
        admin_mappings(&second).await.unwrap()
    );
    assert_eq!(
        field_mappings(&first).await.unwrap(),
        field_mappings(&second).await.unwrap()
    );

    let d = Decisions::load(&second).unwrap();
    assert_eq!(d.user_for_admin("1"), Some("u-ada"));
    assert_eq!(d.user_for_admin("2"), Some("u-fallback"));
    // An invitation has no user until the users phase has sent it.
    assert_eq!(d.user_for_admin("3"), None);
    assert_eq!(d.segment_in_use("s1"), Some(false));
    assert_eq!(d.bucket("macros"), Bucket::Archive);
    assert_eq!(d.bucket("contacts"), Bucket::Migrate);
    assert_eq!(
        decisions::prerequisite_allowed(&second, "brands").unwrap(),
        Some(true)
    );
    let contact = d.fields("contact");
    assert_eq!(contact.len(), 1);
    assert_eq!(
        contact[0].decision,
        FieldDecision::Attribute {
            name: "planNameStr".into()
        }
    );
    assert_eq!(d.fields("conversation")[0].decision, FieldDecision::Archive);
}

#[tokio::test]
async fn an_invited_admin_maps_to_the_user_the_users_phase_created() {
    let tmp = TempState::new("invite");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    let file = tmp.dir("m.toml");
    write(&file, EDITED);
    import_toml(&ledger, &file).await.unwrap();
    ledger
        .ensure_pending("admins", vec!["3".into()])
        .await
        .unwrap();
    ledger.mark_done("admins", "3", "u-cy").unwrap();
    ledger.flush().await.unwrap();
    assert_eq!(
        Decisions::load(&ledger).unwrap().user_for_admin("3"),
        Some("u-cy")
    );
}

#[tokio::test]
async fn an_unresolved_entry_never_overrides_a_decision_and_is_commented_on_export() {
    let tmp = TempState::new("unresolved");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    let unresolved = AdminMapping {
        admin_id: "9".into(),
        name: "Nobody".into(),
        email: "nobody@example.com".into(),
        suggestion: None,
        decision: AdminDecision::Unresolved,
    };
    ledger
        .put_decision("admin:9", &serde_json::to_value(&unresolved).unwrap())
        .await
        .unwrap();
    let path = tmp.dir("s").join(MAPPING_FILE);
    export_toml(&ledger, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("# UNRESOLVED: no Kustomer user has nobody@example.com"),
        "{text}"
    );

    decide_admin(&ledger, "9", AdminDecision::Fallback)
        .await
        .unwrap();
    // The stale file still says "unresolved": reading it must not undo the decision.
    assert_eq!(import_toml(&ledger, &path).await.unwrap(), 0);
    let admins = admin_mappings(&ledger).await.unwrap();
    assert_eq!(admins[0].decision, AdminDecision::Fallback);

    // An edit in the file is honoured.
    let edited = text.replace(
        "decision = \"unresolved\"",
        "decision = \"user\"\nuser_id = \"u-9\"",
    );
    std::fs::write(&path, edited).unwrap();
    assert_eq!(import_toml(&ledger, &path).await.unwrap(), 1);
    assert_eq!(
        Decisions::load(&ledger).unwrap().user_for_admin("9"),
        Some("u-9")
    );
}

#[tokio::test]
async fn a_field_named_without_a_type_suffix_is_refused_with_its_place() {
    let tmp = TempState::new("suffix");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    let path = tmp.dir("m.toml");
    write(
        &path,
        "[fields.company.\"seats\"]\ndecision = \"attribute\"\nname = \"seats\"\n",
    );
    let err = import_toml(&ledger, &path).await.unwrap_err();
    assert!(matches!(err, DecisionError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("fields.company.seats"), "{err}");
    assert!(field_mappings(&ledger).await.unwrap().is_empty());

    write(&path, "[admins.\"1\"]\ndecision = \"user\"\n");
    let err = import_toml(&ledger, &path).await.unwrap_err();
    assert!(err.to_string().contains("needs user_id"), "{err}");
}

#[tokio::test]
async fn single_decisions_need_a_known_record_and_a_typed_name() {
    let tmp = TempState::new("single");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    assert!(matches!(
        decide_admin(&ledger, "404", AdminDecision::Invite).await,
        Err(DecisionError::Unknown(_))
    ));
    let file = tmp.dir("m.toml");
    write(&file, EDITED);
    import_toml(&ledger, &file).await.unwrap();
    assert!(matches!(
        decide_field(
            &ledger,
            "contact",
            "plan name",
            FieldDecision::Attribute {
                name: "plan".into()
            }
        )
        .await,
        Err(DecisionError::BadAttributeName(_))
    ));
    decide_field(
        &ledger,
        "contact",
        "plan name",
        FieldDecision::Attribute {
            name: "planTxt".into(),
        },
    )
    .await
    .unwrap();
    let stored = ledger
        .read(|r| r.decision("field:contact:plan name"))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["decision"],
        json!({"decision": "attribute", "name": "planTxt"})
    );
}

#[tokio::test]
async fn a_decision_taken_in_the_console_survives_the_file_read_back_before_a_run() {
    let tmp = TempState::new("console-then-run");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    let proposals = tmp.dir("proposals.toml");
    write(&proposals, EDITED);
    import_toml(&ledger, &proposals).await.unwrap();
    // What the console's preparation leaves behind: the proposals, exported.
    let path = decisions::mapping_path(&ledger);
    assert_eq!(path, tmp.dir("s").join(MAPPING_FILE));
    export_toml(&ledger, &path).unwrap();

    // The operator, in the console: segment s1 is in use after all, the plan field is renamed,
    // macros migrate, admin 3 goes to the fallback user.
    decisions::decide_segment(&ledger, "s1", true)
        .await
        .unwrap();
    decide_field(
        &ledger,
        "contact",
        "plan name",
        FieldDecision::Attribute {
            name: "billingPlanStr".into(),
        },
    )
    .await
    .unwrap();
    decisions::decide_bucket(&ledger, "macros", Bucket::Migrate)
        .await
        .unwrap();
    decide_admin(&ledger, "3", AdminDecision::Fallback)
        .await
        .unwrap();

    // Starting a run reads mapping.toml back (decisions::prepare): nothing may be undone.
    import_toml(&ledger, &path).await.unwrap();
    let d = Decisions::load(&ledger).unwrap();
    assert_eq!(d.segment_in_use("s1"), Some(true));
    assert_eq!(
        d.fields("contact")[0].decision,
        FieldDecision::Attribute {
            name: "billingPlanStr".into()
        }
    );
    assert_eq!(d.bucket("macros"), Bucket::Migrate);
    assert_eq!(d.user_for_admin("3"), Some("u-fallback"));
    // And the file a person reviews says what the run will do.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[segments.\"s1\"]\nin_use = true"), "{text}");
    assert!(text.contains("name = \"billingPlanStr\""), "{text}");
    assert!(text.contains("\"macros\" = \"migrate\""), "{text}");
}

#[tokio::test]
async fn edits_made_to_mapping_toml_while_the_console_is_open_survive_a_console_decision() {
    let tmp = TempState::new("edit-then-console");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    let proposals = tmp.dir("proposals.toml");
    write(&proposals, EDITED);
    import_toml(&ledger, &proposals).await.unwrap();
    let path = decisions::mapping_path(&ledger);
    export_toml(&ledger, &path).unwrap();

    // A person edits the file in an editor…
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("\"macros\" = \"archive\"", "\"macros\" = \"manual\"");
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    // …then decides something else in the console, which rewrites the file.
    decisions::decide_segment(&ledger, "s1", true)
        .await
        .unwrap();

    let d = Decisions::load(&ledger).unwrap();
    assert_eq!(d.bucket("macros"), Bucket::Manual);
    assert_eq!(d.segment_in_use("s1"), Some(true));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"macros\" = \"manual\""), "{text}");
    assert!(text.contains("[segments.\"s1\"]\nin_use = true"), "{text}");
}

/// `mapping.toml` exactly as i2k wrote it before the file was read through serde structs: every
/// comment, every quoted key, a field left unresolved and a name holding both kinds of quote
/// (which TOML's own writer puts in a multi-line string, then as now).
const WRITTEN_BEFORE: &str = r#"# i2k decisions. Edit and run again: i2k reads this file before loading.
# admins: decision = "user" (with user_id), "invite" (Kustomer e-mails an invitation),
#         "fallback" (the API key's own user unless fallback_user_id says otherwise)
# fields: decision = "attribute" (with name, suffix Str/Txt/Num/At/Bool/Url) or "archive"

# the fallback user: 
fallback_user_id = "u-fallback"

# Intercom workflows (and series) to export into the archive beside MANUAL.md
workflow_ids = ["w1", "22"]

[admins."1"]
name = """Ada "the first" O'Neil"""
email = "ada@example.com"
decision = "user"
user_id = "u-ada"
user_email = "ada@example.com"

[admins."3"]
name = "Cy"
email = "cy@example.com"
decision = "invite"

# UNRESOLVED: no Kustomer user has nobody@example.com; choose user, invite or fallback
[admins."9"]
name = "Nobody"
email = "nobody@example.com"
decision = "unresolved"

[fields."contact"."plan name"]
type = "string"
decision = "attribute"
name = "planNameStr"

# UNRESOLVED: a relationship has no Kustomer type
[fields."conversation"."linked thing"]
type = "relationship"
proposed = "linkedThingStr"
decision = "unresolved"

[segments."s1"]
in_use = false

[buckets]
"macros" = "archive"

[prerequisites."brands"]
create = true

"#;

#[tokio::test]
async fn a_mapping_toml_written_before_serde_reads_back_and_exports_byte_for_byte() {
    let tmp = TempState::new("before");
    let ledger = Ledger::open(&tmp.dir("s")).unwrap();
    // What import cannot create (it never stores an unresolved entry) is in the ledger already.
    let nobody = AdminMapping {
        admin_id: "9".into(),
        name: "Nobody".into(),
        email: "nobody@example.com".into(),
        suggestion: None,
        decision: AdminDecision::Unresolved,
    };
    ledger
        .put_decision("admin:9", &serde_json::to_value(&nobody).unwrap())
        .await
        .unwrap();
    let linked = FieldMapping {
        model: "conversation".into(),
        source_name: "linked thing".into(),
        source_type: "relationship".into(),
        proposed: Some("linkedThingStr".into()),
        decision: FieldDecision::Unresolved,
        note: "a relationship has no Kustomer type".into(),
    };
    ledger
        .put_decision(
            "field:conversation:linked thing",
            &serde_json::to_value(&linked).unwrap(),
        )
        .await
        .unwrap();
    let file = tmp.dir("before.toml");
    write(&file, WRITTEN_BEFORE);
    // The fallback, the workflows, two admins, one field, the segment, the bucket, the check.
    assert_eq!(import_toml(&ledger, &file).await.unwrap(), 8);
    assert_eq!(
        decisions::workflow_ids(&ledger).unwrap(),
        vec!["w1".to_string(), "22".to_string()]
    );

    let exported = tmp.dir("s").join(MAPPING_FILE);
    export_toml(&ledger, &exported).unwrap();
    let text = std::fs::read_to_string(&exported).unwrap();
    let without_mark: String = text
        .lines()
        .filter(|l| !l.starts_with(i2k::ledger::MIGRATION_MARK))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without_mark, WRITTEN_BEFORE);
}

#[tokio::test]
async fn the_knowledge_base_choice_round_trips_through_mapping_toml() {
    let tmp = TempState::new("kb-choice");
    let first = Ledger::open(&tmp.dir("a")).unwrap();
    let edited = tmp.dir("edited.toml");
    write(&edited, "knowledge_base_id = \"kb-2\"\n");
    assert_eq!(import_toml(&first, &edited).await.unwrap(), 1);
    assert_eq!(
        decisions::knowledge_base(&first).unwrap(),
        Some(("kb-2".to_string(), String::new()))
    );
    // The same choice again changes nothing; a blank one leaves the choice as it is.
    assert_eq!(import_toml(&first, &edited).await.unwrap(), 0);
    write(&edited, "knowledge_base_id = \"  \"\n");
    assert_eq!(import_toml(&first, &edited).await.unwrap(), 0);

    decisions::choose_knowledge_base(&first, "kb-3", "Outdoors")
        .await
        .unwrap();
    let exported = tmp.dir("a").join(MAPPING_FILE);
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains("knowledge_base_id = \"kb-3\""), "{text}");
    assert!(text.contains("Outdoors"), "{text}");
    let second = Ledger::open(&tmp.dir("b")).unwrap();
    import_toml(&second, &exported).await.unwrap();
    assert_eq!(
        decisions::knowledge_base(&second)
            .unwrap()
            .map(|(id, _)| id),
        Some("kb-3".to_string())
    );
}

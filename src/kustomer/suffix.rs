//! Kustomer infers a custom attribute's type from the suffix of its name (`planStr`, `seatsNum`,
//! `trialEndsAt`…): the suffixes are Kustomer's vocabulary, so they live with its client, below
//! mapping (which assigns them) and `assumptions` (which names their metadata types).

/// The type suffixes i2k assigns automatically. `Id` is deliberately absent: an `…Id` attribute
/// must have metadata with a `target` configured before use, which only a person can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suffix {
    /// Single-line string, ≤ 1,024 chars.
    Str,
    /// Multi-line text.
    Txt,
    Num,
    /// Date-time (ISO-8601).
    At,
    Bool,
    /// URI-formatted string.
    Url,
}

impl Suffix {
    pub const ALL: [Suffix; 6] = [
        Suffix::Str,
        Suffix::Txt,
        Suffix::Num,
        Suffix::At,
        Suffix::Bool,
        Suffix::Url,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::Str => "Str",
            Suffix::Txt => "Txt",
            Suffix::Num => "Num",
            Suffix::At => "At",
            Suffix::Bool => "Bool",
            Suffix::Url => "Url",
        }
    }

    /// The suffix a full attribute name ends with, if it is one of ours.
    pub fn of_name(name: &str) -> Option<Suffix> {
        // `Str`/`Txt`/`Num`/`Url` before `At` is irrelevant (no overlap), but the base must be
        // non-empty and start lower-case, so `At` alone is not a name with a suffix.
        Suffix::ALL.into_iter().find(|s| {
            name.len() > s.as_str().len()
                && name.ends_with(s.as_str())
                && name.starts_with(|c: char| c.is_ascii_lowercase())
        })
    }
}

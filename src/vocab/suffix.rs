//! Kustomer's custom-attribute type suffixes: Kustomer infers a custom attribute's type from the
//! end of its name (`planStr`, `seatsNum`, `trialEndsAt`…). Kustomer's vocabulary, on the ground
//! floor so that the client (which assigns them) and the simulator (which checks them) read one
//! table.

/// A custom attribute's type suffix.
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
    /// A reference to another record: usable only once its metadata names a `target`.
    Id,
}

impl Suffix {
    pub const ALL: [Suffix; 7] = [
        Suffix::Str,
        Suffix::Txt,
        Suffix::Num,
        Suffix::At,
        Suffix::Bool,
        Suffix::Url,
        Suffix::Id,
    ];

    /// The suffix as it ends a name.
    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::Str => "Str",
            Suffix::Txt => "Txt",
            Suffix::Num => "Num",
            Suffix::At => "At",
            Suffix::Bool => "Bool",
            Suffix::Url => "Url",
            Suffix::Id => "Id",
        }
    }

    /// The metadata `type` the suffix stands for (`totalOrdersNum` → number).
    pub fn metadata_type(self) -> &'static str {
        match self {
            Suffix::Str => "string",
            Suffix::Txt => "text",
            Suffix::Num => "number",
            Suffix::At => "date",
            Suffix::Bool => "boolean",
            Suffix::Url => "url",
            Suffix::Id => "id",
        }
    }
}

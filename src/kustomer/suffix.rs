//! The attribute suffixes i2k assigns: Kustomer infers a custom attribute's type from the suffix
//! of its name (`planStr`, `seatsNum`, `trialEndsAt`…); the suffixes themselves are Kustomer's
//! vocabulary ([`Suffix`], on the ground floor beside the simulator that checks them). They
//! live with its client, below mapping (which assigns them) and `assumptions` (which names their
//! metadata types).

pub use crate::vocab::Suffix;

/// The suffix a full attribute name ends with, if it is one i2k assigns. `Id` is deliberately
/// not: an `…Id` attribute must have metadata with a `target` configured before use, which only
/// a person can decide.
pub fn assigned_suffix(name: &str) -> Option<Suffix> {
    // `Str`/`Txt`/`Num`/`Url` before `At` is irrelevant (no overlap), but the base must be
    // non-empty and start lower-case, so `At` alone is not a name with a suffix.
    Suffix::ALL.into_iter().find(|s| {
        *s != Suffix::Id
            && name.len() > s.as_str().len()
            && name.ends_with(s.as_str())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
    })
}

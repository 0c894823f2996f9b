//! Member names as a case-insensitive decoder reads them. Go's `encoding/json` (mcp-go, the Go
//! SDK, any Go struct decode) matches object keys with Unicode simple case folding, last match
//! wins: `Name`, `NAME` and `nAme` are all `name`, `ſ` (U+017F) is `s`, `K` (U+212A, Kelvin) is
//! `k`. Two names are *fold-equal* when such a decoder cannot tell them apart.

use std::borrow::Cow;

/// One character's representative in its simple case-fold orbit: lower case, with the
/// lower-case letters whose orbit holds another lower-case letter mapped onto that one.
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    let l = match (lower.next(), lower.next()) {
        // Only one-to-one mappings are simple folds (`İ` has none).
        (Some(l), None) => l,
        _ => c,
    };
    same_orbit_lower(l).unwrap_or(l)
}

/// Lower-case letters that fold onto another lower-case letter (CaseFolding.txt, simple).
fn same_orbit_lower(c: char) -> Option<char> {
    Some(match c {
        'ſ' => 's',
        'µ' => 'μ',
        '\u{345}' | '\u{1fbe}' => 'ι',
        'ς' => 'σ',
        'ϐ' => 'β',
        'ϑ' => 'θ',
        'ϕ' => 'φ',
        'ϖ' => 'π',
        'ϰ' => 'κ',
        'ϱ' => 'ρ',
        'ϵ' => 'ε',
        'ẛ' => 'ṡ',
        '\u{1c80}' => 'в',
        '\u{1c81}' => 'д',
        '\u{1c82}' => 'о',
        '\u{1c83}' => 'с',
        '\u{1c84}' | '\u{1c85}' => 'т',
        '\u{1c86}' => 'ъ',
        '\u{1c87}' => 'ѣ',
        '\u{1c88}' => 'ꙋ',
        _ => return None,
    })
}

/// Whether a case-insensitive decoder reads `a` and `b` as the same member.
pub fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// `name` folded, for hashing many names (borrowed when already folded).
pub fn folded(name: &str) -> Cow<'_, str> {
    if name.chars().all(|c| fold_char(c) == c) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.chars().map(fold_char).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{fold_eq, folded};

    #[test]
    fn folds_like_a_case_insensitive_decoder() {
        for (a, b) in [
            ("name", "Name"),
            ("name", "NAME"),
            ("path", "pAtH"),
            ("scope", "\u{17f}cope"),
            ("key", "\u{212a}ey"),
            ("σ", "ς"),
            ("straße", "STRAẞE"),
        ] {
            assert!(fold_eq(a, b), "{a} {b}");
            assert_eq!(folded(a), folded(b), "{a} {b}");
        }
        for (a, b) in [
            ("name", "names"),
            ("name", "nаme"),
            ("i", "ı"),
            ("i", "İ"),
            ("path", "path "),
        ] {
            assert!(!fold_eq(a, b), "{a} {b}");
        }
    }
}

//! Display names (of webhooks and API keys): what a person typed, shown back as typed.

use crate::domain::error::DomainError;
use crate::domain::limits::MAX_NAME_LEN;

/// The rule `validate` holds, as the OpenAPI document states it (an ECMA-262 pattern, with
/// `maxLength` beside it): no control characters (Unicode `Cc`, as `char::is_control`) and at
/// least one character that is neither that nor white space (`char::is_whitespace`'s set,
/// spelled out because `\s` means different sets in different regex engines).
pub const NAME_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*\
[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]\
[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// "Not only white space" (what `str::trim` leaves something of), as the OpenAPI document
/// states it: a character outside `char::is_whitespace`'s set (the pattern is not anchored).
pub const NOT_BLANK_PATTERN: &str =
    "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";

/// A name of 1 to `MAX_NAME_LEN` characters as sent (so the documented `maxLength` is the
/// rule), without control characters and not only white space; kept without the white space
/// around it.
pub fn validate(name: &str) -> Result<String, DomainError> {
    let ok = name.chars().count() <= MAX_NAME_LEN
        && !name.chars().any(char::is_control)
        && name.chars().any(|c| !c.is_whitespace());
    if ok {
        Ok(name.trim().to_string())
    } else {
        Err(DomainError::invalid(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_LEN} characters, not only spaces, without control characters"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_trimmed_and_refused_blank_too_long_or_with_control_characters() {
        assert_eq!(validate("  Orders to CRM ").expect("ok"), "Orders to CRM");
        assert_eq!(validate("Ünïcödé ✓").expect("ok"), "Ünïcödé ✓");
        assert_eq!(validate(&"n".repeat(MAX_NAME_LEN)).expect("at the limit").len(), MAX_NAME_LEN);
        let too_long_with_spaces = format!(" {} ", "n".repeat(MAX_NAME_LEN - 1));
        for bad in ["", "   ", "\u{3000}\u{2003}", "a\u{0}b", "tab\there", "a\u{85}", &too_long_with_spaces] {
            assert_eq!(validate(bad).expect_err(bad).code(), "invalid_name", "{bad:?}");
        }
    }

    /// White space above U+00A0 (`char::is_whitespace`), as both patterns spell it.
    const WIDE_WHITE_SPACE: &[(u32, u32)] = &[
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2028),
        (0x2029, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ];

    /// The pattern's two character classes, read as the sets they name.
    fn in_ranges(c: char, ranges: &[(u32, u32)]) -> bool {
        ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&(c as u32)))
    }

    #[test]
    fn the_documented_pattern_names_exactly_the_characters_the_rule_refuses() {
        // The ranges spelled in NAME_PATTERN, checked against the std predicates over every char.
        let control = [(0x00, 0x1F), (0x7F, 0x9F)];
        let blank = [[(0x00, 0x20), (0x7F, 0xA0)].as_slice(), WIDE_WHITE_SPACE].concat();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(in_ranges(c, &control), c.is_control(), "{c:?}");
            assert_eq!(in_ranges(c, &blank), c.is_control() || c.is_whitespace(), "{c:?}");
        }
        for (lo, hi) in control.iter().chain(&blank) {
            let spelled = if lo == hi { format!("\\u{lo:04X}") } else { format!("\\u{lo:04X}-\\u{hi:04X}") };
            assert!(NAME_PATTERN.contains(&spelled), "{spelled} is not in the pattern");
        }
    }

    #[test]
    fn the_not_blank_pattern_excludes_exactly_white_space() {
        let white = [[(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0)].as_slice(), WIDE_WHITE_SPACE].concat();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(in_ranges(c, &white), c.is_whitespace(), "{c:?}");
        }
        assert!(NOT_BLANK_PATTERN.starts_with("[^\\t-\\r "), "tab to carriage return, and space");
        for &(lo, hi) in &white[2..] {
            let spelled = if lo == hi { format!("\\u{lo:04X}") } else { format!("\\u{lo:04X}-\\u{hi:04X}") };
            assert!(NOT_BLANK_PATTERN.contains(&spelled), "{spelled} is not in the pattern");
        }
    }
}

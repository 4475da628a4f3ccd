//! Tenant text in an e-mail: what a tenant chose (a webhook's name, URL, an endpoint's error)
//! reaches a person who did not write it, so it is shown plainly: no control or bidi-override
//! characters (which can reorder what is read), bounded in length, and URLs without the parts
//! that carry messages or credentials (query, fragment, user info).

/// The longest a tenant-chosen value is shown, in characters.
pub const MAX_SHOWN_CHARS: usize = 120;
/// The longest an error (an endpoint's answer) is shown.
pub const MAX_ERROR_CHARS: usize = 300;

/// Characters that change the order or visibility of text: bidi embeddings, overrides and
/// isolates, directional marks, zero-width characters and the BOM.
fn invisible(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` without bidi and zero-width characters, each run of control characters and
/// whitespace one space, at most `max` characters (cut with `…`).
pub fn clean_text(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in s.chars() {
        if invisible(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    if out.chars().count() > max {
        let cut: String = out.chars().take(max.saturating_sub(1)).collect();
        return format!("{}…", cut.trim_end());
    }
    out
}

/// A URL as shown: scheme, host, port and path only.
pub fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            // Only fails for URLs that cannot have them, which then have none to remove.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            clean_text(u.as_str(), MAX_SHOWN_CHARS)
        }
        Err(_) => clean_text(raw.split(['?', '#']).next().unwrap_or_default(), MAX_SHOWN_CHARS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_removed_and_length_bounded() {
        assert_eq!(clean_text("Orders\u{202E}gnp.exe\u{202C}", 50), "Ordersgnp.exe");
        assert_eq!(clean_text("a\r\nBcc: x@y\u{0}\tz", 50), "a Bcc: x@y z");
        assert_eq!(clean_text("\u{200B}\u{2066}pay\u{2069} now ", 50), "pay now");
        let long = "x".repeat(500);
        let shown = clean_text(&long, MAX_SHOWN_CHARS);
        assert_eq!(shown.chars().count(), MAX_SHOWN_CHARS);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn urls_are_shown_without_query_fragment_or_user_info() {
        assert_eq!(
            display_url("https://user:pw@shop.example.com:8443/hook?msg=call+us#now"),
            "https://shop.example.com:8443/hook"
        );
        assert_eq!(display_url("not a url?x=1"), "not a url");
    }
}

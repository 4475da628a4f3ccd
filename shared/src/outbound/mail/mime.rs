//! The raw message SES's `SendRawEmail` takes: the only way through SES v1 to send the
//! unsubscribe headers. `multipart/alternative` with a plain-text and an HTML part, each
//! base64 (any UTF-8, lines within limits); a non-ASCII subject as RFC 2047 encoded words.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::MailContent;

/// Base64 line length (RFC 2045: at most 76).
const LINE: usize = 76;
/// Bytes of subject per encoded word (a word stays within RFC 2047's 75 characters).
const WORD_BYTES: usize = 45;

/// A header value on one line: a CR or LF in it would start a header of its own.
fn one_line(value: &str) -> String {
    value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// The subject as a header value: as is when plain ASCII, else UTF-8 encoded words.
fn subject_header(subject: &str) -> String {
    let subject = one_line(subject);
    if subject.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return subject;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in subject.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", STANDARD.encode(w))).collect::<Vec<_>>().join("\r\n ")
}

fn base64_lines(body: &str) -> String {
    let encoded = STANDARD.encode(body.as_bytes());
    encoded.as_bytes().chunks(LINE).map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\r\n")
}

/// The whole message. `boundary` must not occur in base64 (so any token with a `_` or `=`
/// followed by letters works); `headers` are added as given (ASCII, e.g. `List-Unsubscribe`).
pub fn raw_message(
    from: &str,
    to: &str,
    content: &MailContent,
    headers: &[(String, String)],
    boundary: &str,
) -> String {
    let mut out = String::new();
    out.push_str(&format!("From: {}\r\n", one_line(from)));
    out.push_str(&format!("To: {}\r\n", one_line(to)));
    out.push_str(&format!("Subject: {}\r\n", subject_header(&content.subject)));
    for (name, value) in headers {
        out.push_str(&format!("{}: {}\r\n", one_line(name), one_line(value)));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"));
    for (kind, body) in [("text/plain", &content.text), ("text/html", &content.html)] {
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!("Content-Type: {kind}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
        out.push_str(&base64_lines(body));
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: &str) -> MailContent {
        MailContent { subject: subject.into(), text: "hé\nthere".into(), html: "<p>hé</p>".into() }
    }

    #[test]
    fn a_message_has_both_parts_and_the_extra_headers() {
        let headers = vec![("List-Unsubscribe".to_string(), "<https://h.example/u?token=t>".to_string())];
        let raw = raw_message("a@h.example", "ops@example.com", &content("Alert"), &headers, "=_b1");
        assert!(raw.starts_with("From: a@h.example\r\nTo: ops@example.com\r\nSubject: Alert\r\n"));
        assert!(raw.contains("List-Unsubscribe: <https://h.example/u?token=t>\r\n"));
        assert!(raw.contains("Content-Type: multipart/alternative; boundary=\"=_b1\""));
        assert!(raw.contains(&STANDARD.encode("hé\nthere")) && raw.contains(&STANDARD.encode("<p>hé</p>")));
        assert!(raw.ends_with("--=_b1--\r\n"));
    }

    #[test]
    fn header_values_cannot_add_headers_and_non_ascii_subjects_are_encoded() {
        let raw = raw_message("a@h.example", "x@y.example\r\nBcc: z@z.example", &content("Hi\r\nBcc: z"), &[], "=_b");
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        let subject = subject_header(&"Ünïcödé ".repeat(10));
        assert!(subject.starts_with("=?UTF-8?B?"));
        assert!(subject.split("\r\n ").all(|w| w.len() <= 75), "{subject}");
    }
}

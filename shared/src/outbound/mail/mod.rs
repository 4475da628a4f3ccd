//! The e-mails Hookline sends, built without I/O: the failure alert (tenant text cleaned and
//! bounded, with a one-click unsubscribe), the opt-in confirmation (fixed text only), and the
//! raw MIME message SES sends.

pub mod alert;
pub mod clean;
pub mod mime;

/// An e-mail's content: subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct MailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// RFC 8058 one-click unsubscribe: the header pair every alert carries.
pub const LIST_UNSUBSCRIBE: &str = "List-Unsubscribe";
pub const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe-Post";
pub const ONE_CLICK: &str = "List-Unsubscribe=One-Click";
/// The public pages the links open (served by the api function; no API key needed).
pub const CONFIRM_PATH: &str = "/alerts/confirm";
pub const UNSUBSCRIBE_PATH: &str = "/alerts/unsubscribe";

/// The link for a token: `{base}{path}?token=…` (tokens are URL-safe base64).
pub fn link(base: &str, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", base.trim_end_matches('/'))
}

/// The headers that make an alert unsubscribable in one click.
pub fn unsubscribe_headers(unsubscribe_url: &str) -> Vec<(String, String)> {
    vec![
        (LIST_UNSUBSCRIBE.to_string(), format!("<{unsubscribe_url}>")),
        (LIST_UNSUBSCRIBE_POST.to_string(), ONE_CLICK.to_string()),
    ]
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The confirmation e-mail: the deployment's product name, what was asked, the link. No text
/// a tenant chose, so it cannot carry a tenant's message to a stranger.
pub fn confirmation(product: &str, confirm_url: &str, valid_days: u64) -> MailContent {
    let subject = format!("{product}: confirm failure alerts to this address");
    let asked = format!(
        "Someone using {product} asked to send e-mail alerts about failing webhook deliveries to this address. \
         Nothing will be sent to it unless you confirm."
    );
    let ignore = "If you did not expect this, ignore this e-mail: you will get no other.";
    let text = format!("{asked}\n\nTo confirm, open this link within {valid_days} days:\n{confirm_url}\n\n{ignore}\n");
    let html = format!(
        "<html><body><p>{}</p><p><a href=\"{}\">Confirm failure alerts</a> (valid {valid_days} days)</p><p>{}</p></body></html>",
        escape(&asked),
        escape(confirm_url),
        escape(ignore)
    );
    MailContent { subject, text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_is_fixed_text_with_the_link() {
        let url = link("https://hooks.example.com/", CONFIRM_PATH, "hrc_abc");
        assert_eq!(url, "https://hooks.example.com/alerts/confirm?token=hrc_abc");
        let mail = confirmation("Shopline", &url, 7);
        assert_eq!(mail.subject, "Shopline: confirm failure alerts to this address");
        assert!(mail.text.contains(&url) && mail.html.contains(&url));
        assert!(mail.text.contains("within 7 days"));
    }

    #[test]
    fn one_click_unsubscribe_headers_follow_rfc_8058() {
        let h = unsubscribe_headers("https://h.example/alerts/unsubscribe?token=hru_x");
        assert_eq!(h[0], ("List-Unsubscribe".into(), "<https://h.example/alerts/unsubscribe?token=hru_x>".into()));
        assert_eq!(h[1], ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()));
    }
}

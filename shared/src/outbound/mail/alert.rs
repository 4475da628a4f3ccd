//! The failure alert e-mail for one recipient: the webhook's pending failure summary, the
//! tenant's text cleaned (see `clean`), never a secret, and the recipient's own unsubscribe link.

use super::clean::{MAX_ERROR_CHARS, MAX_SHOWN_CHARS, clean_text, display_url};
use super::{MailContent, escape};
use crate::domain::webhook::Webhook;

/// The alert for `w`'s pending summary, sent by `product`, unsubscribed from at `unsubscribe_url`.
pub fn compose(w: &Webhook, product: &str, unsubscribe_url: &str) -> MailContent {
    let name = clean_text(&w.name, MAX_SHOWN_CHARS);
    let subject = format!("[{product}] Webhook \"{name}\" of tenant {} is failing", w.tenant_id);
    let shown = |s: &str| clean_text(s, MAX_SHOWN_CHARS);
    let mut facts: Vec<(&str, String)> = vec![
        ("Webhook", format!("{name} ({})", w.id)),
        ("Tenant", w.tenant_id.clone()),
        ("URL", display_url(&w.url)),
        ("Topics", shown(&w.topics.join(", "))),
        ("Failed deliveries since the last alert", w.pending_count.to_string()),
        ("First failure", w.pending_first_at.clone().unwrap_or_default()),
        ("Last failure", w.pending_last_at.clone().unwrap_or_default()),
        ("Last error", clean_text(w.pending_last_error.as_deref().unwrap_or_default(), MAX_ERROR_CHARS)),
        ("Consecutive failed deliveries", w.consecutive_failures.to_string()),
        ("Some failed delivery ids", w.pending_delivery_ids.join(", ")),
    ];
    if !w.enabled {
        facts.push((
            "Disabled",
            format!(
                "at {} ({})",
                w.disabled_at.as_deref().unwrap_or("an earlier time"),
                shown(w.disabled_reason.as_deref().unwrap_or("disabled"))
            ),
        ));
    }
    let next = if w.enabled {
        "Hookline retried each of these deliveries and gave up. Check that the endpoint is up and answers 2xx; \
         the delivery log shows each attempt's status and answer."
    } else {
        "The webhook is disabled: no events are sent to it. Fix the endpoint, then enable it again with \
         PATCH /v1/tenants/{tenant}/webhooks/{id} {\"enabled\": true}."
    };
    let why = format!("You get this e-mail because this address confirmed failure alerts from {product}.");
    let text = format!(
        "Deliveries to your webhook keep failing.\n\n{}\n\nWhat to do next: {next}\n\n-- \n{why}\nUnsubscribe: {unsubscribe_url}\n",
        facts.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
    );
    let rows: String = facts
        .iter()
        .map(|(k, v)| format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>", escape(k), escape(v)))
        .collect();
    let html = format!(
        "<html><body><p>Deliveries to your webhook keep failing.</p><table>{rows}</table><p><b>What to do next:</b> {}</p>\
         <hr><p>{} <a href=\"{}\">Unsubscribe</a></p></body></html>",
        escape(next),
        escape(&why),
        escape(unsubscribe_url)
    );
    MailContent { subject, text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNSUBSCRIBE: &str = "https://h.example/alerts/unsubscribe?token=hru_t";

    fn webhook(enabled: bool) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": "wh_1", "tenant_id": "acme", "name": "Orders <prod>", "url": "https://example.com/hook",
            "topics": ["order_create"], "enabled": enabled, "secret": "whsec_c2VjcmV0LXNob3VsZC1uZXZlci1zaG93",
            "alert_emails": ["ops@example.com"], "pending_count": 3, "consecutive_failures": 7,
            "pending_first_at": "2026-11-22T10:00:00Z", "pending_last_at": "2026-11-22T10:30:00Z",
            "pending_last_error": "HTTP 503", "pending_delivery_ids": ["dlv_a", "dlv_b"],
            "disabled_reason": "10 consecutive deliveries failed", "disabled_at": "2026-11-22T10:30:01Z",
            "created_at": "", "updated_at": ""
        }))
        .expect("webhook")
    }

    #[test]
    fn the_email_names_the_webhook_and_tenant_and_tells_the_facts() {
        let e = compose(&webhook(true), "Hookline", UNSUBSCRIBE);
        assert_eq!(e.subject, "[Hookline] Webhook \"Orders <prod>\" of tenant acme is failing");
        for fact in ["https://example.com/hook", "order_create", "HTTP 503", "dlv_a, dlv_b", "2026-11-22T10:00:00Z"] {
            assert!(e.text.contains(fact), "text has {fact}");
            assert!(e.html.contains(fact), "html has {fact}");
        }
        assert!(e.text.contains("Failed deliveries since the last alert: 3"));
        assert!(e.html.contains("Orders &lt;prod&gt;"), "HTML is escaped");
        assert!(!e.text.contains("Disabled"));
        assert!(!e.text.contains("c2VjcmV0") && !e.html.contains("c2VjcmV0"), "no secret");
    }

    #[test]
    fn every_alert_links_to_its_unsubscribe_page() {
        let e = compose(&webhook(true), "Shopline", UNSUBSCRIBE);
        assert!(e.text.contains(&format!("Unsubscribe: {UNSUBSCRIBE}")));
        assert!(e.html.contains(&format!("<a href=\"{UNSUBSCRIBE}\">Unsubscribe</a>")));
        assert!(e.subject.starts_with("[Shopline]"));
    }

    #[test]
    fn tenant_text_is_cleaned_bounded_and_urls_lose_their_query() {
        let mut w = webhook(true);
        w.name = format!("Win\u{202E}gnp.exe\r\nBcc: victim@example.com {}", "x".repeat(300));
        w.url = "https://u:p@evil.example/pay?msg=Call+now+555#claim".into();
        w.pending_last_error = Some(format!("HTTP 500: {}", "y".repeat(1000)));
        let e = compose(&w, "Hookline", UNSUBSCRIBE);
        for part in [&e.subject, &e.text, &e.html] {
            assert!(!part.contains('\u{202E}') && !part.contains("\r\nBcc"), "{part}");
            assert!(!part.contains("msg=") && !part.contains("claim") && !part.contains("u:p@"), "{part}");
        }
        assert!(e.text.contains("URL: https://evil.example/pay\n"));
        assert!(e.subject.chars().count() < 200, "the name is bounded: {}", e.subject);
        assert!(!e.text.contains(&"y".repeat(400)), "the error is bounded");
    }

    #[test]
    fn a_disabled_webhook_says_when_and_how_to_enable_it() {
        let e = compose(&webhook(false), "Hookline", UNSUBSCRIBE);
        assert!(e.text.contains("Disabled: at 2026-11-22T10:30:01Z (10 consecutive deliveries failed)"));
        assert!(e.text.contains("\"enabled\": true"));
    }
}

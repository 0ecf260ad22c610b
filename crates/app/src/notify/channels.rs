//! Outbound notification channels (E3): e-mail over SMTP and SMS through the hospital's SMS
//! gateway. A channel sends one [`Outgoing`] message to one address and says what happened: a
//! [`Receipt`] (accepted; delivered already or confirmed later) or a [`ChannelError`] that tells
//! the caller whether trying again later can help. In-app notifications need no channel: they are
//! rows the user reads. Recording each delivery (sent, delivered, failed) and scheduling retries is
//! the caller's work; channels never retry on their own.

use std::borrow::Cow;
use std::time::Duration;

// The rustls crate reqwest links, as async-nats (already a dependency of app) re-exports it.
use async_nats::rustls;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::{Value, json};

/// One message to one address on one channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Our delivery id (idempotency key for gateways; appears in SMS receipts and as Message-ID local part for e-mail).
    pub delivery_id: String,
    /// E-mail address or phone number (E.164 like +8613800000000, or Chinese 11-digit mobile).
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Absolute link to open the notification (may be None).
    pub link: Option<String>,
}

/// What the channel did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id, if any (SMS gateway message id; SMTP queue id from the server's 250
    /// reply when it names one, else None).
    pub external_id: Option<String>,
    /// True when the provider confirmed final delivery already (an SMTP server accepting the
    /// message counts as delivered for e-mail: we have no later signal); false when a later
    /// receipt will say (SMS).
    pub delivered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth retrying later (connection refused, timeout, 4xx SMTP, 429/5xx gateway).
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never work (bad address, 5xx SMTP permanent rejection, 4xx gateway other than 429),
    /// or the channel is misconfigured (from [`SmtpChannel::new`] / [`SmsChannel::new`]).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl ChannelError {
    /// Whether a later attempt may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }
}

#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// `email` or `sms`.
    fn name(&self) -> &'static str;
    async fn send(&self, msg: &Outgoing) -> Result<Receipt, ChannelError>;
}

/// Seconds a send may take when the configuration does not say.
const DEFAULT_TIMEOUT_SECS: u64 = 30;

fn timeout(secs: Option<u64>) -> Duration {
    Duration::from_secs(secs.filter(|&s| s > 0).unwrap_or(DEFAULT_TIMEOUT_SECS))
}

/// An error and its sources, as one line (reqwest's and lettre's own texts leave the cause out).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

// ---------------------------------------------------------------------------------------------
// E-mail

/// The `[notify.smtp]` section: where e-mail goes out.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `none` (plain, local relays and tests), `starttls`, `tls`
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// From header, e.g. `医桥 Yiqiao <noreply@hospital.example>`
    pub from: String,
    pub timeout_secs: Option<u64>,
}

/// E-mail over SMTP (lettre on rustls with ring; `starttls` and `tls` check the server's
/// certificate against the Mozilla roots). Each send opens its own connection. The message is
/// `text/plain; charset=utf-8` with a UTF-8 subject, the link on its own line after the body, a
/// `Message-ID: <delivery_id@from-domain>` and a `Date`. An accepted message counts as delivered;
/// a 5xx reply is [`ChannelError::Permanent`], a 4xx reply or a network failure
/// [`ChannelError::Temporary`].
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of the From address: Message-IDs are `<delivery_id@domain>`.
    domain: String,
}

impl std::fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpChannel").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl SmtpChannel {
    pub fn new(cfg: &SmtpConfig) -> Result<Self, ChannelError> {
        let bad = |what: String| ChannelError::Permanent(format!("[smtp] {what}"));
        let host = cfg.host.trim();
        if host.is_empty() {
            return Err(bad("host is empty".into()));
        }
        let from: Mailbox =
            cfg.from.trim().parse().map_err(|e| bad(format!("from {:?} is not an e-mail address: {e}", cfg.from)))?;
        let domain = from.email.domain().to_owned();
        let builder = match cfg.security.trim().to_ascii_lowercase().as_str() {
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| bad(format!("STARTTLS to {host}: {}", chain(&e))))?,
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| bad(format!("TLS to {host}: {}", chain(&e))))?,
            other => return Err(bad(format!("security must be none, starttls or tls, not {other:?}"))),
        };
        // EHLO with the sender's domain rather than lettre's default `localhost`, which relays
        // that insist on a fully qualified name refuse.
        let mut builder = builder
            .port(cfg.port)
            .timeout(Some(timeout(cfg.timeout_secs)))
            .hello_name(ClientId::Domain(domain.clone()));
        if let Some(user) = cfg.username.as_deref().filter(|u| !u.is_empty()) {
            builder = builder.credentials(Credentials::new(user.to_owned(), cfg.password.clone().unwrap_or_default()));
        }
        Ok(Self { transport: builder.build(), from, domain })
    }

    /// The message as it goes on the wire (the recipient already checked).
    fn message(&self, msg: &Outgoing, to: Mailbox) -> Result<Message, ChannelError> {
        let mut text = msg.body.trim_end().to_owned();
        if let Some(link) = msg.link.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(link);
        }
        text.push('\n');
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.trim())
            .message_id(Some(format!("<{}@{}>", message_id_local_part(&msg.delivery_id), self.domain)))
            .date_now()
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| ChannelError::Permanent(format!("cannot build the e-mail: {e}")))
    }
}

/// The delivery id as the local part of a Message-ID (a dot-atom): characters outside
/// `[A-Za-z0-9._-]` become `_` (our ids are UUIDs, which pass unchanged).
fn message_id_local_part(delivery_id: &str) -> String {
    let s: String = delivery_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    let s = s.trim_matches('.').replace("..", "._");
    if s.is_empty() { "delivery".to_owned() } else { s }
}

/// The queue id in a server's reply to DATA: Postfix `250 2.0.0 Ok: queued as 4Bxyz`, Exim
/// `250 OK id=1abc-000123-AB`; None when the server names none.
fn queue_id(resp: &Response) -> Option<String> {
    let text = resp.message().collect::<Vec<_>>().join(" ");
    let after = |marker: &str| {
        let lower = text.to_ascii_lowercase();
        let at = lower.find(marker)? + marker.len();
        let id: String = text[at..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
            .collect();
        let id = id.trim_end_matches('.').to_owned();
        (!id.is_empty()).then_some(id)
    };
    after("queued as").or_else(|| after("id="))
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> ChannelError {
    let text = chain(e);
    if e.is_permanent() { ChannelError::Permanent(text) } else { ChannelError::Temporary(text) }
}

#[async_trait::async_trait]
impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "email"
    }

    async fn send(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        // The address is not repeated in the error: the delivery row has it.
        let to: Mailbox =
            msg.to.trim().parse().map_err(|e| ChannelError::Permanent(format!("invalid e-mail address: {e}")))?;
        let email = self.message(msg, to)?;
        match self.transport.send(email).await {
            Ok(resp) => Ok(Receipt { external_id: queue_id(&resp), delivered: true }),
            Err(e) => {
                let err = smtp_error(&e);
                tracing::debug!(delivery = %msg.delivery_id, error = %err, "e-mail not sent");
                Err(err)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SMS

/// The `[notify.sms]` section: the SMS gateway.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SmsConfig {
    /// Gateway endpoint, e.g. `https://sms.hospital.example/v1/messages`
    pub url: String,
    /// Bearer token for the gateway
    pub token: String,
    /// Sender name / signature shown to recipients, e.g. `【医桥】`
    pub sender: String,
    pub timeout_secs: Option<u64>,
}

/// The longest SMS text we hand to the gateway, in characters.
pub const SMS_MAX_CHARS: usize = 300;

/// SMS through the hospital's SMS gateway, over HTTPS (or plain HTTP for a gateway on the same
/// host). The gateway contract:
///
/// **Send.** `POST <url>` with `Authorization: Bearer <token>` and
/// `Content-Type: application/json`:
///
/// ```json
/// {"id": "<delivery id>", "to": "+8613800000000", "sender": "【医桥】", "text": "【医桥】<subject>: <body> <link>"}
/// ```
///
/// - `to` is an E.164 number (`+` and 8–15 digits) or a Chinese mobile number (`1[3-9]` and 9
///   more digits); spaces and dashes are removed before sending. Anything else is refused here
///   (Permanent) without calling the gateway.
/// - `text` is at most [`SMS_MAX_CHARS`] (300) characters: the body (and, if still too long, the
///   subject) is shortened with `…`; the link is never cut. Without a link the text ends after
///   the body; without a body it is `<sender><subject> <link>`.
/// - The gateway is idempotent by `id`: a request with an id it has seen must not send the SMS
///   again, and answers as it did the first time (the same `message_id`). We retry with the
///   same id after timeouts and Temporary errors.
///
/// **Answer.** A 2xx with `{"message_id": "<gateway id>"}` means accepted:
/// `Receipt { external_id: Some(message_id), delivered: false }` (a 2xx without a readable
/// message_id is accepted too, with `external_id: None`). `429` or `5xx`: Temporary (try again
/// later). Any other status (`400` bad request, `401`/`403` bad token, …; redirects are not
/// followed): Permanent. No answer (connection refused, timeout): Temporary.
///
/// **Delivery receipt.** Once the operator reports, the gateway `POST`s to our receipt route
/// (`POST /api/v1/notify/sms-receipts`, with `Authorization: Bearer <[sms] receipt_token>`):
///
/// ```json
/// {"id": "<delivery id>", "message_id": "<gateway id>", "status": "delivered" | "failed", "error": "<why, when failed>"}
/// ```
///
/// which [`parse_sms_receipt`] reads (other statuses are not final and are ignored). The gateway
/// should retry that POST until it gets a 2xx.
pub struct SmsChannel {
    client: reqwest::Client,
    url: reqwest::Url,
    token: String,
    sender: String,
}

impl std::fmt::Debug for SmsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsChannel")
            .field("url", &self.url.as_str())
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl SmsChannel {
    pub fn new(cfg: &SmsConfig) -> Result<Self, ChannelError> {
        let bad = |what: String| ChannelError::Permanent(format!("[sms] {what}"));
        let url = reqwest::Url::parse(cfg.url.trim()).map_err(|e| bad(format!("url {:?}: {e}", cfg.url)))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
                let local = host.eq_ignore_ascii_case("localhost")
                    || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
                if !local {
                    tracing::warn!(url = %url, "[sms] url is plain http: the gateway token travels unencrypted");
                }
            }
            other => return Err(bad(format!("url must be http or https, not {other}"))),
        }
        if cfg.token.trim().is_empty() {
            return Err(bad("token is empty".into()));
        }
        // reqwest is built without a default TLS crypto provider (`rustls-no-provider`): install
        // rustls' ring provider for the process, as the S3 blob store does, unless one is
        // installed already. reqwest then checks gateway certificates with the platform verifier
        // (the system's trust store, so a hospital CA installed there works).
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout(cfg.timeout_secs))
            .connect_timeout(timeout(cfg.timeout_secs).min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("yiqiao/", env!("CARGO_PKG_VERSION")));
        if url.scheme() == "http" {
            // No TLS will be spoken (redirects are not followed): don't load the system's roots,
            // so a plain-http gateway also works on a host without a CA bundle.
            builder = builder.tls_certs_only(std::iter::empty::<reqwest::Certificate>());
        }
        let client = builder.build().map_err(|e| bad(format!("HTTP client: {}", chain(&e))))?;
        Ok(Self { client, url, token: cfg.token.trim().to_owned(), sender: cfg.sender.trim().to_owned() })
    }
}

/// `+` and 8–15 digits (E.164, no leading 0), or a Chinese mobile number `1[3-9]\d{9}`; spaces and
/// dashes are dropped. None when it is neither.
fn normalize_phone(to: &str) -> Option<String> {
    let s: String = to.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let ok = if let Some(digits) = s.strip_prefix('+') {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    } else {
        let b = s.as_bytes();
        b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
    };
    ok.then_some(s)
}

/// At most `max` characters of `s`, ending in `…` when shortened.
fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        Cow::Borrowed(s)
    } else if max == 0 {
        Cow::Borrowed("")
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.truncate(t.trim_end().len());
        t.push('…');
        Cow::Owned(t)
    }
}

/// `<sender><subject>: <body> <link>` in at most [`SMS_MAX_CHARS`] characters (unless the sender
/// and link alone are longer): the body is shortened first, then the subject; the link never.
fn sms_text(sender: &str, subject: &str, body: &str, link: Option<&str>) -> String {
    let n = |s: &str| s.chars().count();
    let subject = subject.trim();
    let body = body.trim();
    let tail = link.map(str::trim).filter(|l| !l.is_empty()).map(|l| format!(" {l}")).unwrap_or_default();
    let fixed = n(sender) + n(&tail);
    let subject = truncate_chars(subject, SMS_MAX_CHARS.saturating_sub(fixed));
    let mut text = format!("{sender}{subject}");
    let body_room = SMS_MAX_CHARS.saturating_sub(fixed + n(&subject) + 2);
    if !body.is_empty() && body_room > 0 {
        text.push_str(": ");
        text.push_str(&truncate_chars(body, body_room));
    }
    text.push_str(&tail);
    text
}

/// The first characters of a gateway's error answer, for the delivery record.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let short: String = text.chars().take(200).collect();
    if short.len() < text.len() { format!("{short}…") } else { short }
}

#[async_trait::async_trait]
impl Channel for SmsChannel {
    fn name(&self) -> &'static str {
        "sms"
    }

    async fn send(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        let Some(to) = normalize_phone(&msg.to) else {
            return Err(ChannelError::Permanent("invalid phone number (E.164 or a Chinese mobile number)".into()));
        };
        let payload = json!({
            "id": msg.delivery_id,
            "to": to,
            "sender": self.sender,
            "text": sms_text(&self.sender, &msg.subject, &msg.body, msg.link.as_deref()),
        });
        let resp = self
            .client
            .post(self.url.clone())
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|e| {
                let text = format!("SMS gateway: {}", chain(&e));
                if e.is_builder() { ChannelError::Permanent(text) } else { ChannelError::Temporary(text) }
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| ChannelError::Temporary(format!("SMS gateway: {}", chain(&e))))?;
        if status.is_success() {
            let external_id = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message_id").and_then(Value::as_str).map(str::to_owned))
                .filter(|id| !id.is_empty());
            if external_id.is_none() {
                tracing::warn!(delivery = %msg.delivery_id, %status, "SMS gateway accepted without a message_id");
            }
            return Ok(Receipt { external_id, delivered: false });
        }
        let text = format!("SMS gateway answered {status}: {}", snippet(&body));
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(ChannelError::Temporary(text))
        } else {
            Err(ChannelError::Permanent(text))
        }
    }
}

/// Parses an SMS gateway delivery receipt body (what the gateway POSTs back to us) into
/// (delivery id, delivered?): `{"id", "message_id", "status": "delivered"|"failed", "error"?}`.
/// None when it is not a final receipt (no id, or another status).
pub fn parse_sms_receipt(body: &Value) -> Option<(String, bool)> {
    let id = body.get("id")?.as_str()?.trim();
    if id.is_empty() {
        return None;
    }
    let delivered = match body.get("status")?.as_str()?.trim().to_ascii_lowercase().as_str() {
        "delivered" => true,
        "failed" => false,
        _ => return None,
    };
    Some((id.to_owned(), delivered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_parse() {
        assert_eq!(
            parse_sms_receipt(&json!({"id": "d-1", "message_id": "m-1", "status": "delivered"})),
            Some(("d-1".into(), true))
        );
        assert_eq!(
            parse_sms_receipt(
                &json!({"id": "d-2", "message_id": "m-2", "status": "failed", "error": "unknown subscriber"})
            ),
            Some(("d-2".into(), false))
        );
        assert_eq!(parse_sms_receipt(&json!({"id": "d-3", "status": "DELIVERED"})), Some(("d-3".into(), true)));
        // Not final, or not a receipt.
        assert_eq!(parse_sms_receipt(&json!({"id": "d-4", "status": "queued"})), None);
        assert_eq!(parse_sms_receipt(&json!({"id": "d-5"})), None);
        assert_eq!(parse_sms_receipt(&json!({"status": "delivered"})), None);
        assert_eq!(parse_sms_receipt(&json!({"id": "", "status": "delivered"})), None);
        assert_eq!(parse_sms_receipt(&json!({"id": 7, "status": "delivered"})), None);
        assert_eq!(parse_sms_receipt(&json!({"id": "d-6", "status": true})), None);
        assert_eq!(parse_sms_receipt(&json!(["d-7", "delivered"])), None);
        assert_eq!(parse_sms_receipt(&Value::Null), None);
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(normalize_phone("+8613800000000").as_deref(), Some("+8613800000000"));
        assert_eq!(normalize_phone("13800000000").as_deref(), Some("13800000000"));
        assert_eq!(normalize_phone(" +86 138-0000-0000 ").as_deref(), Some("+8613800000000"));
        assert_eq!(normalize_phone("+14155550100").as_deref(), Some("+14155550100"));
        for bad in [
            "",
            "+",
            "+1234567",
            "+1234567890123456",
            "+0861380000000",
            "12800000000",
            "1380000000",
            "138000000000",
            "1380000000x",
            "+86138000000a0",
            "patient@example.org",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn sms_text_fits_and_keeps_the_link() {
        let link = "https://yiqiao.example/n/0190e5d2-7c1e-7b3a-9f00-3c2d1e0f4a5b";
        assert_eq!(
            sms_text("【医桥】", "用药提醒", "请按时服用降压药。", Some(link)),
            format!("【医桥】用药提醒: 请按时服用降压药。 {link}")
        );
        assert_eq!(sms_text("【医桥】", "用药提醒", "请按时服药", None), "【医桥】用药提醒: 请按时服药");
        assert_eq!(sms_text("【医桥】", "复诊", "", Some(link)), format!("【医桥】复诊 {link}"));

        let long = "血压".repeat(400);
        let text = sms_text("【医桥】", "监测提醒", &long, Some(link));
        assert_eq!(text.chars().count(), SMS_MAX_CHARS);
        assert!(text.starts_with("【医桥】监测提醒: 血压"), "{text}");
        assert!(text.ends_with(&format!("… {link}")), "{text}");

        // A subject too long for the message is cut too; the link still whole.
        let text = sms_text("【医桥】", &"长".repeat(400), "正文", Some(link));
        assert_eq!(text.chars().count(), SMS_MAX_CHARS);
        assert!(text.ends_with(&format!("… {link}")), "{text}");
        assert!(!text.contains("正文"));

        // Exactly at the limit: nothing is cut.
        let body = "x".repeat(SMS_MAX_CHARS - "【医桥】提醒: ".chars().count());
        assert_eq!(sms_text("【医桥】", "提醒", &body, None).chars().count(), SMS_MAX_CHARS);
        assert!(!sms_text("【医桥】", "提醒", &body, None).contains('…'));
    }

    #[test]
    fn message_ids_and_queue_ids() {
        assert_eq!(
            message_id_local_part("0190e5d2-7c1e-7b3a-9f00-3c2d1e0f4a5b"),
            "0190e5d2-7c1e-7b3a-9f00-3c2d1e0f4a5b"
        );
        assert_eq!(message_id_local_part("a b@c>"), "a_b_c_");
        assert_eq!(message_id_local_part(""), "delivery");
        let reply = |line: &str| {
            Response::new(
                lettre::transport::smtp::response::Code::new(
                    lettre::transport::smtp::response::Severity::PositiveCompletion,
                    lettre::transport::smtp::response::Category::MailSystem,
                    lettre::transport::smtp::response::Detail::Zero,
                ),
                vec![line.to_owned()],
            )
        };
        assert_eq!(queue_id(&reply("2.0.0 Ok: queued as 4BxYz12Q")).as_deref(), Some("4BxYz12Q"));
        assert_eq!(queue_id(&reply("OK id=1abc2D-000123-AB")).as_deref(), Some("1abc2D-000123-AB"));
        assert_eq!(queue_id(&reply("OK")), None);
    }

    fn smtp(security: &str, from: &str) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            security: security.into(),
            username: None,
            password: None,
            from: from.into(),
            timeout_secs: None,
        }
    }

    #[tokio::test]
    async fn channels_check_their_configuration() {
        for security in ["none", "starttls", "tls", "STARTTLS"] {
            assert!(SmtpChannel::new(&smtp(security, "医桥 Yiqiao <noreply@hospital.example>")).is_ok(), "{security}");
        }
        assert!(matches!(SmtpChannel::new(&smtp("ssl", "noreply@hospital.example")), Err(ChannelError::Permanent(_))));
        assert!(matches!(SmtpChannel::new(&smtp("none", "not an address")), Err(ChannelError::Permanent(_))));

        let sms = |url: &str, token: &str| SmsConfig {
            url: url.into(),
            token: token.into(),
            sender: "【医桥】".into(),
            timeout_secs: Some(5),
        };
        // Building an https client must find a TLS crypto provider (reqwest has none of its own)
        // and not panic; it loads the system's CA roots, so a host without any fails cleanly.
        match SmsChannel::new(&sms("https://sms.hospital.example/v1/messages", "t")) {
            Ok(_) => {}
            Err(ChannelError::Permanent(e)) => assert!(e.contains("CA certificates"), "{e}"),
            Err(e) => panic!("{e}"),
        }
        assert!(SmsChannel::new(&sms("http://127.0.0.1:9/v1/messages", "t")).is_ok());
        assert!(matches!(SmsChannel::new(&sms("ftp://sms.example/", "t")), Err(ChannelError::Permanent(_))));
        assert!(matches!(SmsChannel::new(&sms("not a url", "t")), Err(ChannelError::Permanent(_))));
        assert!(matches!(SmsChannel::new(&sms("https://sms.example/", " ")), Err(ChannelError::Permanent(_))));
    }

    #[tokio::test]
    async fn sms_refuses_bad_numbers_without_calling_the_gateway() {
        // Port 9 (discard) on loopback: were it called, the error would be Temporary.
        let ch = SmsChannel::new(&SmsConfig {
            url: "http://127.0.0.1:9/v1/messages".into(),
            token: "t".into(),
            sender: "【医桥】".into(),
            timeout_secs: Some(2),
        })
        .unwrap();
        let msg = Outgoing {
            delivery_id: "d-1".into(),
            to: "12345".into(),
            subject: "s".into(),
            body: "b".into(),
            link: None,
        };
        assert!(matches!(ch.send(&msg).await, Err(ChannelError::Permanent(_))));
    }
}

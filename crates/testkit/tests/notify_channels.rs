//! Outbound notification channels (E3) against real processes: e-mail through an SMTP server
//! (`tests/support/smtp_sink.py`, aiosmtpd) and SMS through a gateway speaking our contract
//! (`tests/support/fake_sms_gateway.py`), over plain HTTP and over HTTPS with a private CA. Each
//! test starts its own server on a free port and stops it when done. Without python3 the tests
//! are skipped; without aiosmtpd the e-mail tests fail (scripts/test installs it).

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]
#![allow(clippy::expect_used, reason = "a test: a failed step should stop it with its message")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::notify::channels::{
    Channel, ChannelError, Outgoing, Receipt, SmsChannel, SmsConfig, SmtpChannel, SmtpConfig, parse_sms_receipt,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const FROM: &str = "医桥 Yiqiao <noreply@hospital.example>";
const SENDER: &str = "【医桥】";
const TOKEN: &str = "gateway-test-token";
/// What the gateway presents with its receipts (`[sms] receipt_token`).
const RECEIPT_TOKEN: &str = "receipt-test-token";
const LINK: &str = "https://yiqiao.hospital.example/notifications/0190e5d2-7c1e-7b3a-9f00-3c2d1e0f4a5b";

fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/support").join(script)
}

/// False (after saying why) when python3 is not installed: the caller skips its test.
fn have_python() -> bool {
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            eprintln!("SKIPPED: python3 is not installed; the notification channel tests need it");
            false
        }
    }
}

fn require_aiosmtpd() {
    let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 lacks aiosmtpd, which the e-mail channel tests need: \
         python3 -m pip install aiosmtpd (scripts/test installs it)"
    );
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process for one test, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Runs `python3 <script> --port P <args>` and waits (at most 10 s) until P accepts connections.
    async fn start(script: &str, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new("python3")
            .arg(support(script))
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let mut server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("{script} exited ({status}) before listening:\n{}", server.stderr());
            }
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            assert!(Instant::now() < deadline, "{script} not listening on {port} after 10 s:\n{}", server.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

fn outgoing(id: &str, to: &str, subject: &str, body: &str) -> Outgoing {
    Outgoing {
        delivery_id: id.to_owned(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        link: Some(LINK.to_owned()),
    }
}

fn delivery_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

// ---------------------------------------------------------------------------------------------
// E-mail

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: "none".into(),
        username: None,
        password: None,
        from: FROM.into(),
        timeout_secs: Some(5),
    }
}

/// The sink, and the directory it writes the messages it receives to.
async fn smtp_sink() -> (Server, tempfile::TempDir) {
    require_aiosmtpd();
    let out = tempfile::tempdir().unwrap();
    let server = Server::start("smtp_sink.py", &["--out", out.path().to_str().unwrap()]).await;
    (server, out)
}

/// The messages the sink has written, decoded by Python's e-mail parser, in arrival order.
fn received(out: &Path) -> Vec<Value> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
            Some((n, path))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn email_reaches_the_smtp_server_intact() {
    if !have_python() {
        return;
    }
    let (sink, mail) = smtp_sink().await;
    let out = mail.path();
    let channel = SmtpChannel::new(&smtp_config(sink.port)).unwrap();
    assert_eq!(channel.name(), "email");
    let id = delivery_id();
    let subject = "用药提醒：今晚 21:00 服用氨氯地平 5mg";
    let body = "王女士您好：\n请于今晚 21:00 服用氨氯地平片 5mg（1 片）。\n如有头晕、心悸，请及时联系您的医生。";
    let receipt = channel.send(&outgoing(&id, "patient@example.org", subject, body)).await.unwrap();
    assert!(receipt.delivered, "an accepted e-mail counts as delivered");

    let got = received(out);
    assert_eq!(got.len(), 1, "{got:?}\n{}", sink.stderr());
    let m = &got[0];
    // The queue id from the server's `250 … queued as <id>` reply.
    assert_eq!(receipt.external_id.as_deref(), m["queue_id"].as_str());
    assert_eq!(m["rcpt_tos"], serde_json::json!(["patient@example.org"]));
    assert_eq!(m["mail_from"], "noreply@hospital.example");
    assert_eq!(m["to"], "patient@example.org");
    assert_eq!(m["from"], FROM, "display name decodes back");
    assert_eq!(m["subject"], subject, "subject decodes back");
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    // Body, then the link on its own line.
    assert_eq!(m["body"].as_str().unwrap(), format!("{body}\n\n{LINK}\n"), "body decodes back");
    assert!(m["body"].as_str().unwrap().lines().any(|l| l == LINK));
    let message_id = m["message_id"].as_str().unwrap();
    assert_eq!(message_id, format!("<{id}@hospital.example>"));
    let date = chrono::DateTime::parse_from_rfc3339(m["date_iso"].as_str().expect("a Date header")).unwrap();
    assert!((chrono::Utc::now() - date.to_utc()).num_seconds().abs() < 300, "Date is now: {date}");

    // The headers went out as 7-bit ASCII (RFC 2047 encoded words), as every relay accepts.
    let raw = std::fs::read(out.join("1.eml")).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(raw[..end].is_ascii(), "{}", String::from_utf8_lossy(&raw[..end]));
}

#[tokio::test]
async fn email_fails_temporarily_when_the_server_is_down_and_permanently_for_bad_addresses() {
    // No server needed: nothing listens on the port.
    let channel = SmtpChannel::new(&smtp_config(free_port())).unwrap();
    let msg = outgoing(&delivery_id(), "patient@example.org", "提醒", "正文");
    match channel.send(&msg).await {
        Err(ChannelError::Temporary(e)) => assert!(e.to_lowercase().contains("connection"), "{e}"),
        other => panic!("expected Temporary, got {other:?}"),
    }
    // A bad address is refused before connecting (a connection attempt would be Temporary).
    for bad in ["not-an-address", "patient@", "@example.org", "two@@example.org", ""] {
        let msg = outgoing(&delivery_id(), bad, "提醒", "正文");
        assert!(matches!(channel.send(&msg).await, Err(ChannelError::Permanent(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn email_rejections_follow_the_smtp_reply_code() {
    if !have_python() {
        return;
    }
    let (sink, mail) = smtp_sink().await;
    let out = mail.path();
    let channel = SmtpChannel::new(&smtp_config(sink.port)).unwrap();
    match channel.send(&outgoing(&delivery_id(), "reject@example.org", "提醒", "正文")).await {
        Err(ChannelError::Permanent(e)) => assert!(e.contains("550"), "{e}"),
        other => panic!("expected Permanent for a 550, got {other:?}"),
    }
    match channel.send(&outgoing(&delivery_id(), "later@example.org", "提醒", "正文")).await {
        Err(ChannelError::Temporary(e)) => assert!(e.contains("451"), "{e}"),
        other => panic!("expected Temporary for a 451, got {other:?}"),
    }
    assert!(received(out).is_empty());
    // The channel (a connection per message) still sends afterwards.
    let r = channel.send(&outgoing(&delivery_id(), "patient@example.org", "提醒", "正文")).await.unwrap();
    assert!(r.delivered);
    assert_eq!(received(out).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// SMS

fn sms_channel(url: &str, token: &str) -> SmsChannel {
    SmsChannel::new(&SmsConfig { url: url.into(), token: token.into(), sender: SENDER.into(), timeout_secs: Some(5) })
        .unwrap()
}

/// `GET <path>` on a plain-HTTP server on 127.0.0.1, as JSON.
async fn get_json(port: u16, path: &str) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

/// A one-route receipt endpoint standing in for the server's: each POSTed body arrives on the
/// channel, after its bearer token is checked; answers 204.
async fn receipt_endpoint() -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/notify/sms-receipts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length, authorized) = loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "receipt request cut short");
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        let authorized = head.lines().any(|l| l == format!("authorization: bearer {RECEIPT_TOKEN}"));
                        break (end + 4, length, authorized);
                    }
                };
                while buf.len() < head_end + length {
                    let n = s.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "receipt body cut short");
                    buf.extend_from_slice(&chunk[..n]);
                }
                assert!(authorized, "the receipt came without our token");
                let body: Value = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
                s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tx.send(body);
            });
        }
    });
    (url, rx)
}

async fn next_receipt(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a receipt within 10 s").unwrap()
}

#[tokio::test]
async fn sms_reaches_the_gateway_once_and_receipts_come_back() {
    if !have_python() {
        return;
    }
    let (receipts_url, mut receipts) = receipt_endpoint().await;
    let gw = Server::start(
        "fake_sms_gateway.py",
        &["--token", TOKEN, "--receipts-to", &receipts_url, "--receipts-token", RECEIPT_TOKEN],
    )
    .await;
    let channel = sms_channel(&format!("http://127.0.0.1:{}/v1/messages", gw.port), TOKEN);
    assert_eq!(channel.name(), "sms");

    let id = delivery_id();
    let msg = outgoing(&id, "+86 138-0013-8000", "复诊提醒", "您预约的心内科复诊在明天上午 9:30，请携带既往检查报告。");
    let first = channel.send(&msg).await.unwrap();
    let external = first.external_id.clone().expect("the gateway's message id");
    assert!(!first.delivered, "an SMS is delivered when its receipt says so");
    // A retry with the same delivery id (say, after a timeout) is not sent again.
    let again = channel.send(&msg).await.unwrap();
    assert_eq!(again, Receipt { external_id: Some(external.clone()), delivered: false });

    let sent = get_json(gw.port, "/messages").await;
    let sent = sent.as_array().unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let m = &sent[0];
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["attempts"], 2);
    assert_eq!(m["message_id"], external.as_str());
    assert_eq!(m["to"], "+8613800138000", "spaces and dashes dropped");
    assert_eq!(m["sender"], SENDER);
    let text = m["text"].as_str().unwrap();
    assert_eq!(text, format!("{SENDER}复诊提醒: 您预约的心内科复诊在明天上午 9:30，请携带既往检查报告。 {LINK}"));

    // The gateway's delivery receipt, as our receipt route will get it.
    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(receipt["message_id"], external.as_str());
    assert_eq!(parse_sms_receipt(&receipt), Some((id.clone(), true)));

    // A long message is shortened to 300 characters, the link kept whole (the gateway refuses
    // longer texts); a Chinese 11-digit mobile number is accepted as it is.
    let long_id = format!("undeliverable-{}", delivery_id());
    let long = outgoing(&long_id, "13912345678", "血压监测提醒", &"请每天早晚各测量一次血压并记录。".repeat(30));
    channel.send(&long).await.unwrap();
    let sent = get_json(gw.port, "/messages").await;
    let m = sent.as_array().unwrap().iter().find(|m| m["id"] == long_id.as_str()).unwrap().clone();
    let text = m["text"].as_str().unwrap();
    assert!(text.chars().count() <= 300, "{} characters", text.chars().count());
    assert!(text.starts_with(&format!("{SENDER}血压监测提醒: 请每天")), "{text}");
    assert!(text.ends_with(&format!("… {LINK}")), "{text}");
    assert_eq!(m["to"], "13912345678");
    // This one the operator could not deliver.
    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(receipt["error"], "unknown subscriber");
    assert_eq!(parse_sms_receipt(&receipt), Some((long_id, false)));
}

#[tokio::test]
async fn sms_failures_are_temporary_or_permanent_as_the_gateway_says() {
    if !have_python() {
        return;
    }
    let gw = Server::start("fake_sms_gateway.py", &["--token", TOKEN]).await;
    let url = format!("http://127.0.0.1:{}/v1/messages", gw.port);
    let channel = sms_channel(&url, TOKEN);
    let phone = "+8613800000000";

    // 503 once, then accepted on the retry.
    let flaky = outgoing(&format!("flaky-{}", delivery_id()), phone, "提醒", "正文");
    match channel.send(&flaky).await {
        Err(ChannelError::Temporary(e)) => assert!(e.contains("503"), "{e}"),
        other => panic!("expected Temporary for a 503, got {other:?}"),
    }
    assert!(channel.send(&flaky).await.unwrap().external_id.is_some());

    // 429: rate limited, try later.
    match channel.send(&outgoing(&format!("busy-{}", delivery_id()), phone, "提醒", "正文")).await {
        Err(ChannelError::Temporary(e)) => assert!(e.contains("429"), "{e}"),
        other => panic!("expected Temporary for a 429, got {other:?}"),
    }

    // A wrong token: 401, which no retry fixes.
    match sms_channel(&url, "wrong-token").send(&outgoing(&delivery_id(), phone, "提醒", "正文")).await {
        Err(ChannelError::Permanent(e)) => assert!(e.contains("401"), "{e}"),
        other => panic!("expected Permanent for a 401, got {other:?}"),
    }

    // Not a phone number: refused before the gateway sees it.
    for bad in ["12345", "+86 138 0000 000a", "patient@example.org", "02012345678", ""] {
        let msg = outgoing(&delivery_id(), bad, "提醒", "正文");
        assert!(matches!(channel.send(&msg).await, Err(ChannelError::Permanent(_))), "{bad:?}");
    }

    let sent = get_json(gw.port, "/messages").await;
    let sent = sent.as_array().unwrap();
    assert_eq!(sent.len(), 1, "only the flaky message went out: {sent:?}");
    assert_eq!(sent[0]["id"], flaky.delivery_id.as_str());
    assert_eq!(sent[0]["attempts"], 2);

    // The gateway gone: Temporary, whether a kept-alive connection breaks or a new one is refused.
    drop(gw);
    for channel in [channel, sms_channel(&url, TOKEN)] {
        match channel.send(&outgoing(&delivery_id(), phone, "提醒", "正文")).await {
            Err(ChannelError::Temporary(_)) => {}
            other => panic!("expected Temporary with the gateway down, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SMS over HTTPS

/// A private CA and a certificate for 127.0.0.1 it signed, made with the openssl command; None
/// (after saying why) without openssl.
fn private_ca(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    // Arguments split at spaces (none contains one).
    let openssl = |args: &str| {
        let args: Vec<&str> = args.split_whitespace().collect();
        match Command::new("openssl").args(&args).current_dir(dir).output() {
            Ok(out) if out.status.success() => Some(()),
            Ok(out) => panic!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)),
            Err(_) => None,
        }
    };
    let key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if openssl(&format!(
        "req -x509 {key} -keyout ca.key -out ca.pem -days 2 -subj /CN=Yiqiao-Test-CA \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
    ))
    .is_none()
    {
        eprintln!("SKIPPED (https part): the openssl command is not installed");
        return None;
    }
    openssl(&format!("req {key} -keyout gw.key -out gw.csr -subj /CN=127.0.0.1"))?;
    std::fs::write(
        dir.join("gw.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl("x509 -req -in gw.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out gw.pem -days 2 -extfile gw.ext")?;
    Some((dir.join("ca.pem"), dir.join("gw.pem"), dir.join("gw.key")))
}

/// Env var naming the HTTPS gateway for [`sms_over_https_with_the_ca_trusted`].
const HTTPS_URL_VAR: &str = "YIQIAO_TEST_SMS_HTTPS_URL";

#[tokio::test]
async fn sms_gateway_over_https_checks_the_certificate() {
    if !have_python() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = private_ca(certs.path()) else { return };
    let gw = Server::start(
        "fake_sms_gateway.py",
        &["--token", TOKEN, "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    )
    .await;
    let url = format!("https://127.0.0.1:{}/v1/messages", gw.port);

    // Our CA is not in the system's trust store: the handshake fails, and nothing is sent.
    // (Without system roots at all the channel cannot be built: also a refusal.)
    let config = SmsConfig { url: url.clone(), token: TOKEN.into(), sender: SENDER.into(), timeout_secs: Some(5) };
    match SmsChannel::new(&config) {
        Ok(channel) => match channel.send(&outgoing(&delivery_id(), "+8613800000000", "提醒", "正文")).await {
            Err(ChannelError::Temporary(e)) => assert!(e.to_lowercase().contains("certificate"), "{e}"),
            other => panic!("expected a certificate error, got {other:?}"),
        },
        Err(e) => eprintln!("no system CA roots here: {e}"),
    }

    // With the CA trusted (SSL_CERT_FILE, read by the platform verifier), it goes through. The
    // trust store is read from the environment, which a test cannot change for its own process:
    // this test binary runs the half that sends in a child process.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["sms_over_https_with_the_ca_trusted", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR")
        .env(HTTPS_URL_VAR, &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.stderr()
    );
}

#[tokio::test]
#[ignore = "run by sms_gateway_over_https_checks_the_certificate, in a child process trusting its CA"]
async fn sms_over_https_with_the_ca_trusted() {
    let Ok(url) = std::env::var(HTTPS_URL_VAR) else {
        eprintln!("{HTTPS_URL_VAR} is not set: nothing to do");
        return;
    };
    let channel = sms_channel(&url, TOKEN);
    let id = delivery_id();
    let msg = outgoing(&id, "+8613800000000", "检查结果", "您的检查结果已出，请登录查看。");
    let receipt = channel.send(&msg).await.unwrap();
    assert!(receipt.external_id.is_some());
    // And the retry is recognised over HTTPS too.
    assert_eq!(channel.send(&msg).await.unwrap(), receipt);
}

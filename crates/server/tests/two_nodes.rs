//! Two `yiqiao serve` processes share one PostgreSQL database and fan realtime events out through
//! NATS (A1 at scale, issue 3): messages sent through one node reach a WebSocket held by the other,
//! all of them, in order. Runs when `YIQIAO_TEST_POSTGRES` and `YIQIAO_TEST_NATS` are set (as
//! `scripts/test` does); without them there is nothing to test against and it says so.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

const PASSWORD: &str = "Yiqiao-demo-2026";
const MESSAGES: usize = 30;

/// A server process, killed when dropped.
struct Node {
    child: Child,
    addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `YIQIAO_TEST_S3` = `s3://bucket|endpoint|access_key_id|secret_access_key` (scripts/test sets it).
fn s3_env(prefix: &str) -> Vec<(String, String)> {
    let Ok(v) = std::env::var("YIQIAO_TEST_S3") else { return Vec::new() };
    let p: Vec<&str> = v.split('|').collect();
    vec![
        ("YIQIAO_BLOB__URL".into(), format!("{}/{prefix}", p[0])),
        ("YIQIAO_BLOB__ENDPOINT".into(), p[1].into()),
        ("YIQIAO_BLOB__ACCESS_KEY_ID".into(), p[2].into()),
        ("YIQIAO_BLOB__SECRET_ACCESS_KEY".into(), p[3].into()),
        ("YIQIAO_BLOB__ALLOW_HTTP".into(), "true".into()),
    ]
}

async fn start_node(db: &str, data_dir: &std::path::Path, nats: &str, subject: &str) -> Node {
    let addr = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(data_dir.join(format!("node-{}.log", addr.replace(':', "-")))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_yiqiao"))
        .args(["serve", "--demo", "--listen", &addr, "--database", db, "--data-dir"])
        .arg(data_dir)
        .env("YIQIAO_BUS__NATS", nats)
        .env("YIQIAO_BUS__SUBJECT", subject)
        .envs(s3_env(subject))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let node = Node { child, addr };
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        if let Ok((200, _)) = http(&node.addr, "GET", "/healthz", None, None).await {
            return node;
        }
        assert!(Instant::now() < deadline, "node {} did not become healthy", node.addr);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the JSON body.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> std::io::Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let (status, raw) = request(addr, method, path, "application/json", body.as_bytes(), token).await?;
    Ok((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
}

/// One HTTP/1.1 request with any body; returns the status and the raw body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    token: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).await?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, raw[split..].to_vec()))
}

async fn call(addr: &str, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Value {
    let (status, v) = http(addr, method, path, body.as_ref(), token).await.unwrap();
    assert!((200..300).contains(&status), "{method} {path} on {addr}: {status} {v}");
    v
}

async fn login(addr: &str, login: &str, totp: Option<String>) -> String {
    let v = call(
        addr,
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": login, "password": PASSWORD, "totp": totp})),
        None,
    )
    .await;
    v["token"].as_str().unwrap_or_else(|| panic!("no token in {v}")).to_owned()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn socket(addr: &str, token: &str) -> Socket {
    let mut req = format!("ws://{addr}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The `message` events for `consultation` that arrive on `ws`, until `n` of them or a timeout.
async fn messages(ws: &mut Socket, consultation: &str, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < n {
        let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, ws.next()).await else { break };
        if let tungstenite::Message::Text(t) = frame {
            let ev: Value = serde_json::from_str(&t).unwrap();
            if ev["type"] == "message" && ev["message"]["consultation_id"] == consultation {
                got.push(ev["message"].clone());
            }
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_through_one_node_reaches_a_socket_on_the_other_in_order() {
    let (Ok(pg), Ok(nats)) = (std::env::var("YIQIAO_TEST_POSTGRES"), std::env::var("YIQIAO_TEST_NATS")) else {
        eprintln!("skipped: set YIQIAO_TEST_POSTGRES and YIQIAO_TEST_NATS (scripts/test does)");
        return;
    };
    let db = testkit::fresh_pg_database(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    // A subject of its own, so parallel runs on one NATS server do not see each other.
    let subject = format!("yiqiao.test.{}", uuid::Uuid::new_v4().simple());
    // The first node migrates, creates the key ring and seeds; the second shares all three.
    let a = start_node(&db, dir.path(), &nats, &subject).await;
    let b = start_node(&db, dir.path(), &nats, &subject).await;

    let patient = login(&a.addr, "patient", None).await;
    let secret = totp_rs::Secret::try_from_base32(app::account::DEMO_TOTP_SECRET).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let totp = app::account::totp_for_secret(secret.as_bytes(), "x").generate(now).to_string();
    let doctor = login(&b.addr, "doctor", Some(totp)).await;
    let me = call(&b.addr, "GET", "/api/v1/me", None, Some(&doctor)).await;
    let doctor_id = me["user_id"].as_str().unwrap_or_else(|| panic!("no id in {me}")).to_owned();

    // The doctor's socket is on node B, the patient's on node A.
    let mut doctor_ws = socket(&b.addr, &doctor).await;
    let mut patient_ws = socket(&a.addr, &patient).await;
    let c = call(
        &a.addr,
        "POST",
        "/api/v1/consultations",
        Some(json!({"doctor": doctor_id, "complaint": "血压控制复诊 follow-up", "priority": false, "prior_diagnosis": "I10 高血压"})),
        Some(&patient),
    )
    .await;
    let cid = c["id"].as_str().unwrap().to_owned();

    for i in 0..MESSAGES {
        let path = format!("/api/v1/consultations/{cid}/messages");
        call(
            &a.addr,
            "POST",
            &path,
            Some(json!({"client_id": format!("c-{i}"), "text": format!("第{i}条 message {i}")})),
            Some(&patient),
        )
        .await;
    }
    let got = messages(&mut doctor_ws, &cid, MESSAGES).await;
    let texts: Vec<String> = got.iter().map(|m| m["text"].as_str().unwrap_or_default().to_owned()).collect();
    let want: Vec<String> = (0..MESSAGES).map(|i| format!("第{i}条 message {i}")).collect();
    assert_eq!(texts, want, "every message, in order, across nodes");
    let seqs: Vec<i64> = got.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap-free sequence: {seqs:?}");

    // And back: the doctor answers over the socket on B; the patient's socket on A receives it.
    doctor_ws
        .send(tungstenite::Message::Text(
            json!({"type": "send", "consultation_id": cid, "client_id": "d-1", "text": "收到，请继续监测血压"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let back = messages(&mut patient_ws, &cid, MESSAGES + 1).await;
    assert_eq!(back.last().and_then(|m| m["text"].as_str()), Some("收到，请继续监测血压"), "reply crosses back");

    // With S3 configured (scripts/test), both nodes share the attachments: a photo uploaded through
    // node A is served by node B, and the bucket holds only ciphertext.
    if std::env::var("YIQIAO_TEST_S3").is_ok() {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(64, 48, image::Rgb([200, 40, 40]))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let boundary = "two-nodes-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nphoto-1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rash.png\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(png.get_ref());
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let (status, raw) =
            request(&a.addr, "POST", &format!("/api/v1/consultations/{cid}/attachments"), &ct, &body, Some(&patient))
                .await
                .unwrap();
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        assert_eq!(status, 201, "upload through A: {v}");
        let att = v["attachment"]["id"].as_str().unwrap().to_owned();
        let (status, bytes) =
            request(&b.addr, "GET", &format!("/api/v1/attachments/{att}"), "text/plain", b"", Some(&doctor))
                .await
                .unwrap();
        assert_eq!(status, 200);
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48), "node B serves the photo node A stored");
        let local = std::fs::read_dir(dir.path().join("blobs")).map_or(0, Iterator::count);
        assert_eq!(local, 0, "attachments went to S3, not the shared data directory");
    }
    drop((a, b));
}

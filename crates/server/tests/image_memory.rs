//! Peak memory of a real `yiqiao serve` under parallel photo uploads (issue 11 item 3): the probe's
//! six 12000×12000 PNGs in parallel took the server to 2.6 GiB. Six of them now are refused from
//! their headers, and six photos just under the pixel budget are decoded two at a time. The figures
//! (VmRSS at rest, VmHWM after each round, from /proc) are printed for docs/BENCHMARKS.md; set
//! `YIQIAO_BIN` to measure another build of the binary. SQLite in a temp dir: nothing else needed.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::{
    io::Write as _,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PASSWORD: &str = "Yiqiao-demo-2026";
const MIB: u64 = 1024 * 1024;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `VmRSS` or `VmHWM` of the server process, in bytes.
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
        line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).unwrap() * 1024
    }
}

async fn start(data_dir: &std::path::Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let bin = std::env::var("YIQIAO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_yiqiao").to_owned());
    let child = Command::new(bin)
        .args(["serve", "--demo", "--listen", &addr, "--data-dir"])
        .arg(data_dir)
        .env("YIQIAO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_mins(2);
    while request(&server.addr, "GET", "/healthz", "text/plain", b"", None).await.map(|r| r.0).ok() != Some(200) {
        assert!(Instant::now() < deadline, "the server did not become healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body.
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
    let status = String::from_utf8_lossy(&raw[..split]).split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, raw[split..].to_vec()))
}

async fn call(addr: &str, method: &str, path: &str, body: &Value, token: Option<&str>) -> Value {
    let (status, raw) =
        request(addr, method, path, "application/json", body.to_string().as_bytes(), token).await.unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
    v
}

/// A one-colour PNG of `w`×`h` (RGB or RGBA), streamed row by row.
fn png(w: u32, h: u32, color: png::ColorType) -> Vec<u8> {
    let channels = if color == png::ColorType::Rgba { 4 } else { 3 };
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![90u8; usize::try_from(w).unwrap() * channels];
    for _ in 0..h {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

/// Uploads `photo` six times at once; the statuses and error codes.
async fn six_at_once(
    server: &Server,
    consultation: &str,
    token: &str,
    photo: &[u8],
    round: &str,
) -> Vec<(u16, String)> {
    let uploads = (0..6).map(|i| {
        let boundary = "mem-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n{round}-{i}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(photo);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let (addr, path) = (server.addr.clone(), format!("/api/v1/consultations/{consultation}/attachments"));
        let token = token.to_owned();
        tokio::spawn(async move {
            let ct = format!("multipart/form-data; boundary={boundary}");
            let (status, raw) = request(&addr, "POST", &path, &ct, &body, Some(&token)).await.unwrap();
            let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            (status, v["error"]["code"].as_str().unwrap_or_default().to_owned())
        })
    });
    let mut out = Vec::new();
    for u in uploads.collect::<Vec<_>>() {
        out.push(u.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_parallel_photo_uploads_keep_the_server_memory_bounded() {
    let bomb = png(12_000, 12_000, png::ColorType::Rgb);
    let near_budget = png(6_000, 6_000, png::ColorType::Rgba);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let patient =
        call(&server.addr, "POST", "/api/v1/auth/login", &json!({"login": "patient", "password": PASSWORD}), None)
            .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let secret = totp_rs::Secret::try_from_base32(app::account::DEMO_TOTP_SECRET).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let totp = app::account::totp_for_secret(secret.as_bytes(), "x").generate(now).to_string();
    let login = json!({"login": "doctor", "password": PASSWORD, "totp": totp});
    let doctor =
        call(&server.addr, "POST", "/api/v1/auth/login", &login, None).await["token"].as_str().unwrap().to_owned();
    let doctor_id = call(&server.addr, "GET", "/api/v1/me", &Value::Null, Some(&doctor)).await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = json!({"doctor": doctor_id, "complaint": "皮疹，附照片 rash"});
    let consultation = call(&server.addr, "POST", "/api/v1/consultations", &c, Some(&patient)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let at_rest = server.memory("VmRSS");

    let bombs = six_at_once(&server, &consultation, &patient, &bomb, "bomb").await;
    let after_bombs = server.memory("VmHWM");
    let photos = six_at_once(&server, &consultation, &patient, &near_budget, "photo").await;
    let after_photos = server.memory("VmHWM");
    println!(
        "image_memory: png 12000x12000 {} KiB, 6000x6000 RGBA {} KiB; VmRSS at rest {} MiB; \
         VmHWM after six 144 MP uploads {} MiB, after six 36 MP uploads {} MiB",
        bomb.len() / 1024,
        near_budget.len() / 1024,
        at_rest / MIB,
        after_bombs / MIB,
        after_photos / MIB
    );
    assert!(bombs.iter().all(|(s, c)| (*s, c.as_str()) == (422, "image_too_large")), "{bombs:?}");
    assert!(photos.iter().all(|(s, _)| *s == 201), "{photos:?}");
    assert!(after_bombs < at_rest + 64 * MIB, "refused uploads grew the peak by {} MiB", (after_bombs - at_rest) / MIB);
    // Two slots of at most 144 MiB decoded pixels each, plus the decoder's working memory.
    assert!(after_photos < at_rest + 700 * MIB, "the peak grew by {} MiB", (after_photos - at_rest) / MIB);
}

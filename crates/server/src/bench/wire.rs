//! The benchmark's own HTTP/1.1 client over a keep-alive `TcpStream`: one request in flight,
//! bodies framed by Content-Length, loopback only.

use super::{
    AsyncReadExt, AsyncWriteExt, CONNECT_TIMEOUT, Context, MAX_BODY_BYTES, MAX_HEAD_BYTES, SocketAddr, TcpStream, bail,
};

pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) buf: Vec<u8>,
}

pub(super) struct Response {
    pub(super) status: u16,
    /// The server will close the connection after this response.
    pub(super) close: bool,
    /// Empty unless asked for.
    pub(super) body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) content_length: usize,
    pub(super) close: bool,
}

impl Conn {
    pub(super) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await.context("connect timed out")??;
        stream.set_nodelay(true)?;
        Ok(Self { stream, buf: Vec::with_capacity(8 * 1024) })
    }

    pub(super) async fn exchange(&mut self, request: &[u8], keep_body: bool) -> anyhow::Result<Response> {
        self.stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                bail!("response head over {MAX_HEAD_BYTES} bytes");
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[..head_end])?;
        let body_start = head_end + 4;
        let total = body_start + head.content_length;
        while self.buf.len() < total {
            self.fill().await?;
        }
        let body = if keep_body { self.buf[body_start..total].to_vec() } else { Vec::new() };
        self.buf.drain(..total);
        Ok(Response { status: head.status, close: head.close, body })
    }

    pub(super) async fn fill(&mut self) -> anyhow::Result<()> {
        self.buf.reserve(8 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("server closed the connection");
        }
        Ok(())
    }
}

/// Parses a status line and headers (without the blank line that ends them).
pub(super) fn parse_head(head: &[u8]) -> anyhow::Result<Head> {
    let text = std::str::from_utf8(head).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x status line: {status_line:?}");
    }
    let status: u16 =
        parts.next().unwrap_or_default().parse().with_context(|| format!("bad status line {status_line:?}"))?;
    if (100..200).contains(&status) {
        bail!("interim response {status} is not supported");
    }
    let mut close = version == "HTTP/1.0";
    let mut content_length: Option<usize> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { bail!("malformed header line {line:?}") };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value.parse().with_context(|| format!("bad Content-Length {value:?}"))?;
            if content_length.is_some_and(|c| c != n) {
                bail!("conflicting Content-Length headers");
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("Transfer-Encoding {value:?} is not supported by the bench client");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    let content_length = match content_length {
        Some(n) => n,
        None if status == 204 || status == 304 => 0,
        None => bail!("HTTP {status} answer without Content-Length"),
    };
    if content_length > MAX_BODY_BYTES {
        bail!("response body of {content_length} bytes exceeds {MAX_BODY_BYTES}");
    }
    Ok(Head { status, content_length, close })
}

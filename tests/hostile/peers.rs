//! Hostile peers at the byte level. [`HostileReceiver`] is a real TCP server on 127.0.0.1
//! that reads each request like a receiver would and then answers with raw bytes no
//! well-behaved server writes: NUL bytes or invalid UTF-8 in the body, a 1 MiB header line,
//! a NUL inside a header, a body trickled one byte a second, a connection reset mid-body.
//! [`raw_request`] is a client that sends bytes awc refuses to send (NUL in a header or in
//! the request line).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the hostile receiver answers every request.
#[derive(Debug, Clone)]
pub enum Misbehaviour {
    /// `200 OK` with exactly these body bytes, plus these raw header lines.
    Answer {
        body: Vec<u8>,
        headers: Vec<Vec<u8>>,
    },
    /// `200 OK` whose head carries one header line of 1 MiB.
    HugeHeader,
    /// `200 OK` with a header value holding a NUL byte.
    NulInHeader,
    /// `200 OK`, `content-length: 100000`, then one body byte a second until the client
    /// gives up.
    Trickle,
    /// `200 OK`, `content-length: 1000`, the bytes `partial`, then a TCP reset (`SO_LINGER`
    /// 0) instead of the rest.
    ResetMidBody,
    /// Holds the first request of each message (by `webhook-id`) open without a word until
    /// the client goes away; answers any later one `200 OK`.
    HangFirst,
}

/// One request as the hostile receiver read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub webhook_id: String,
    pub attempt: String,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct HostileReceiver {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HostileReceiver {
    /// Listens on 127.0.0.1:0 and answers every connection with `kind`.
    pub async fn start(kind: Misbehaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        actix_web::rt::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kind, log) = (kind.clone(), log.clone());
                actix_web::rt::spawn(serve(stream, kind, log));
            }
        });
        Self { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn serve(mut stream: TcpStream, kind: Misbehaviour, log: Arc<Mutex<Vec<Seen>>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let first = {
        let mut log = log.lock().expect("lock");
        let first = !log.iter().any(|s| s.webhook_id == request.webhook_id);
        log.push(request);
        first
    };
    if matches!(kind, Misbehaviour::HangFirst) && first {
        let _ = stream.read(&mut [0u8; 1]).await;
        return;
    }
    let _ = answer(&mut stream, &kind).await;
}

/// Reads one request: the head up to the blank line, then `content-length` bytes of body.
async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        webhook_id: header("webhook-id").unwrap_or_default(),
        attempt: header("x-courier-attempt").unwrap_or_default(),
        body: buf[head_end..head_end + length].to_vec(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn answer(stream: &mut TcpStream, kind: &Misbehaviour) -> std::io::Result<()> {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\n";
    match kind {
        Misbehaviour::HangFirst => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
                .await?;
            stream.shutdown().await
        }
        Misbehaviour::Answer { body, headers } => {
            let mut out = OK.to_vec();
            for h in headers {
                out.extend_from_slice(h);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
            stream.write_all(&out).await?;
            stream.shutdown().await
        }
        Misbehaviour::HugeHeader => {
            let mut out = OK.to_vec();
            out.extend_from_slice(b"x-huge: ");
            out.extend(std::iter::repeat_n(b'a', 1 << 20));
            out.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
            // The client may stop reading and close long before the end: that is its right.
            stream.write_all(&out).await
        }
        Misbehaviour::NulInHeader => {
            let mut out = OK.to_vec();
            out.extend_from_slice(b"x-bad: a\0b\r\ncontent-length: 2\r\n\r\nok");
            stream.write_all(&out).await?;
            stream.shutdown().await
        }
        Misbehaviour::Trickle => {
            let mut out = OK.to_vec();
            out.extend_from_slice(b"content-length: 100000\r\n\r\n");
            stream.write_all(&out).await?;
            for _ in 0..100_000 {
                stream.write_all(b"x").await?;
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Misbehaviour::ResetMidBody => {
            let mut out = OK.to_vec();
            out.extend_from_slice(b"content-length: 1000\r\n\r\npartial");
            stream.write_all(&out).await?;
            stream.flush().await?;
            // Give the client time to read what was sent, then reset instead of the rest.
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
            stream.set_zero_linger()?;
            Ok(())
        }
    }
}

/// Sends `request` as raw bytes to 127.0.0.1:`port` and returns the status code of the
/// answer (0 when the server closed without answering) and the answer's body bytes.
pub async fn raw_request(port: u16, request: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    stream.write_all(request).await.expect("request written");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    let _ = read.await;
    let status = answer
        .split(|b| *b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = find(&answer, b"\r\n\r\n").map_or_else(Vec::new, |i| answer[i + 4..].to_vec());
    (status, body)
}

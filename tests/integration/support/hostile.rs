//! A hostile stand-in: a small hand-written HTTP/1.1 server on 127.0.0.1 that
//! records every request (head and body, as raw bytes) and answers what the
//! test scripts, or never answers at all. Used to play a token endpoint that
//! redirects and echoes, a query that loops or hands out a foreign locator,
//! a proxy, or the host a leaked token would go to.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request line and headers, as text.
    pub head: String,
    pub body: Vec<u8>,
}

impl Seen {
    /// `GET /path?x HTTP/1.1` -> `/path?x`
    pub fn target(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }
}

/// What to do with a request: answer these bytes (then close), or hang.
pub enum Reply {
    Bytes(Vec<u8>),
    Hang,
}

/// A `HTTP/1.1 <status>` answer with a JSON (or any) body, `Connection: close`.
pub fn http(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    Reply::Bytes(out.into_bytes())
}

pub struct Hostile {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl Hostile {
    /// Starts a server whose answers come from `reply(request, own base URL)`.
    pub async fn start(reply: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(reply);
        let (seen2, conns2) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                conns2.fetch_add(1, Ordering::SeqCst);
                let (seen, reply, base) = (seen2.clone(), reply.clone(), base.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    seen.lock().unwrap().push(req.clone());
                    match reply(&req, &base) {
                        Reply::Bytes(b) => {
                            let _ = sock.write_all(&b).await;
                            let _ = sock.shutdown().await;
                        }
                        Reply::Hang => {
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        Hostile {
            addr,
            seen,
            connections,
        }
    }

    /// A server that answers every request `200 {}` and only counts.
    pub async fn sink() -> Hostile {
        Hostile::start(|_, _| http(200, &[], "{}")).await
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Every byte received, heads and bodies, lossily as text.
    pub fn received_text(&self) -> String {
        self.requests()
            .iter()
            .map(|s| format!("{}\r\n\r\n{}", s.head, String::from_utf8_lossy(&s.body)))
            .collect()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen { head, body })
}

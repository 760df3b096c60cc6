//! A stalling TCP proxy on 127.0.0.1 in front of the emulator: it forwards
//! bytes both ways, and holds (never forwards, never closes) every request
//! whose request line the test's rule picks, given the request lines seen
//! before it. Used to keep a lost answer's check hanging the way a wedged
//! org or network would, with nothing in the emulator changed.
//!
//! The emulator must hand out the proxy's URL (`OrgConfig::public_url`), so
//! the proxy binds first ([`StallProxy::bind`]), then forwards
//! ([`StallProxy::forward_to`]) once the emulator runs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Given a request line (`GET /services/data/v62.0/query?q=... HTTP/1.1`)
/// and every request line seen before it: hold it?
pub type Rule = dyn Fn(&str, &[String]) -> bool + Send + Sync;

pub struct StallProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    listener: Option<TcpListener>,
    /// Request lines, in arrival order.
    pub seen: Arc<Mutex<Vec<String>>>,
    held: Arc<AtomicUsize>,
}

impl StallProxy {
    pub async fn bind() -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        StallProxy {
            url,
            listener: Some(listener),
            seen: Arc::default(),
            held: Arc::default(),
        }
    }

    /// Requests held so far.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Starts forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub fn forward_to(&mut self, upstream: &str, rule: Box<Rule>) {
        let listener = self.listener.take().expect("forward_to once");
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let rule: Arc<Rule> = Arc::from(rule);
        let (seen, held) = (self.seen.clone(), self.held.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(pipe(
                    client,
                    server,
                    rule.clone(),
                    seen.clone(),
                    held.clone(),
                ));
            }
        });
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    rule: Arc<Rule>,
    seen: Arc<Mutex<Vec<String>>>,
    held: Arc<AtomicUsize>,
) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A chunk that opens with a method opens a request (reqwest does not pipeline).
        let text = String::from_utf8_lossy(&buf[..n]);
        let line = text.lines().next().unwrap_or("");
        if ["GET ", "POST ", "PATCH ", "PUT ", "DELETE "]
            .iter()
            .any(|m| line.starts_with(m))
        {
            let line = line.to_owned();
            let hold = {
                let mut seen = seen.lock().unwrap();
                let hold = rule(&line, &seen);
                seen.push(line);
                hold
            };
            if hold {
                held.fetch_add(1, Ordering::SeqCst);
                // Neither forwarded nor closed: the caller waits for its timeout.
                std::future::pending::<()>().await;
            }
        }
        if to_server.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to_server.shutdown().await;
    let _ = down.await;
}

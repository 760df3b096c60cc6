//! A hostile LDAP server on 127.0.0.1, BER written by hand: it accepts any
//! bind, and answers every search with the same entry and a paged-results
//! cookie that never runs out, so its pages never end.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// RFC 2696 simple paged results.
const PAGED_RESULTS_OID: &[u8] = b"1.2.840.113556.1.4.319";

pub struct EndlessPages {
    pub addr: SocketAddr,
    searches: Arc<AtomicUsize>,
}

impl EndlessPages {
    pub async fn start() -> EndlessPages {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let searches = Arc::new(AtomicUsize::new(0));
        let counter = searches.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, counter.clone()));
            }
        });
        EndlessPages { addr, searches }
    }

    pub fn url(&self) -> String {
        format!("ldap://{}", self.addr)
    }

    /// Search requests received (one per page asked).
    pub fn searches(&self) -> usize {
        self.searches.load(Ordering::SeqCst)
    }
}

async fn serve(mut sock: TcpStream, searches: Arc<AtomicUsize>) {
    while let Some(message) = read_message(&mut sock).await {
        // LDAPMessage content: messageID INTEGER, then the operation's tag.
        let (id, rest) = integer(&message);
        let answer = match rest.first() {
            Some(0x60) => message_of(&id, &tlv(0x61, &ldap_result())), // bind -> success
            Some(0x63) => {
                searches.fetch_add(1, Ordering::SeqCst);
                let mut out = message_of(&id, &entry());
                out.extend(done_with_cookie(&id));
                out
            }
            Some(0x42) | None => return, // unbind
            _ => continue,
        };
        if sock.write_all(&answer).await.is_err() {
            return;
        }
    }
}

fn entry() -> Vec<u8> {
    let attr = |name: &str, value: &str| {
        tlv(
            0x30,
            &[
                tlv(0x04, name.as_bytes()),
                tlv(0x31, &tlv(0x04, value.as_bytes())),
            ]
            .concat(),
        )
    };
    let attrs = [
        attr("uid", "loop"),
        attr("mail", "loop@example.com"),
        attr("givenName", "Lou"),
        attr("sn", "Ping"),
    ]
    .concat();
    tlv(
        0x64,
        &[tlv(0x04, b"uid=loop,dc=example,dc=com"), tlv(0x30, &attrs)].concat(),
    )
}

fn ldap_result() -> Vec<u8> {
    [tlv(0x0a, &[0]), tlv(0x04, b""), tlv(0x04, b"")].concat()
}

fn done_with_cookie(id: &[u8]) -> Vec<u8> {
    let value = tlv(
        0x30,
        &[tlv(0x02, &[0]), tlv(0x04, b"more, always")].concat(),
    );
    let control = tlv(
        0x30,
        &[tlv(0x04, PAGED_RESULTS_OID), tlv(0x04, &value)].concat(),
    );
    tlv(
        0x30,
        &[
            tlv(0x02, id),
            tlv(0x65, &ldap_result()),
            tlv(0xa0, &control),
        ]
        .concat(),
    )
}

fn message_of(id: &[u8], op: &[u8]) -> Vec<u8> {
    tlv(0x30, &[tlv(0x02, id), op.to_vec()].concat())
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The INTEGER at the start of `content` (its raw bytes) and what follows.
fn integer(content: &[u8]) -> (Vec<u8>, &[u8]) {
    let len = content[1] as usize;
    (content[2..2 + len].to_vec(), &content[2 + len..])
}

/// One whole LDAPMessage's content (after its SEQUENCE tag and length).
async fn read_message(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 2];
    sock.read_exact(&mut head).await.ok()?;
    let len = if head[1] < 0x80 {
        head[1] as usize
    } else {
        let mut bytes = vec![0u8; (head[1] & 0x7f) as usize];
        sock.read_exact(&mut bytes).await.ok()?;
        bytes.iter().fold(0usize, |n, b| (n << 8) | *b as usize)
    };
    let mut content = vec![0u8; len];
    sock.read_exact(&mut content).await.ok()?;
    Some(content)
}

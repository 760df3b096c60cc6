//! The LDAP source: paged, TLS-verified reads from a directory server (ldap3 on tokio).
//!
//! - [`read_all`]: every entry under `base_dn` matching the job's filter, with
//!   RFC 2696 paged results, asking only for the attributes the job uses.
//! - [`read_only`]: `--only`, one search per address, the address escaped.
//! - [`check`]: the preflight lines for `sfsync check`.
//!
//! A search that ends with anything but `success` (size or time limit,
//! referral, a bad filter) is fatal: ldap3 only reports it in the final result,
//! after the entries stopped, and a truncated read must never pass for a whole
//! directory. Syncing from half a directory is how sync tools create or
//! deactivate the wrong people.

mod connect;
mod filter;
mod record;

use std::collections::HashSet;
use std::hash::BuildHasher as _;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Scope, SearchEntry, SearchOptions};

pub use filter::escape_filter_value;

use crate::job::{LdapSource, Secret};
use crate::source::{SourceError, SourceRecord};
use connect::{Conn, describe_result, plain_error};

/// Reads every entry under `base_dn` matching the filter with paged search.
///
/// Values line up with `attributes` (the job's attribute names, lower-case,
/// matched case-insensitively); each record's origin is the entry's DN.
pub async fn read_all(
    cfg: &LdapSource,
    password: Option<&Secret>,
    attributes: &[String],
) -> Result<Vec<SourceRecord>, SourceError> {
    let mut conn = connect::connect(cfg, password).await?;
    let mut records = Vec::new();
    let read = search(&mut conn, cfg, &cfg.filter, attributes, &mut records).await;
    conn.close().await;
    read?;
    tracing::debug!(url = %cfg.url, base_dn = %cfg.base_dn, records = records.len(), "LDAP read complete.");
    Ok(records)
}

/// `--only`: one search per address, `(&<filter>(<mail_attr>=<escaped address>))`.
///
/// Addresses that match nobody give no record; an entry found by two addresses
/// is returned once.
pub async fn read_only(
    cfg: &LdapSource,
    password: Option<&Secret>,
    attributes: &[String],
    mail_attr: &str,
    mails: &[String],
) -> Result<Vec<SourceRecord>, SourceError> {
    let mut conn = connect::connect(cfg, password).await?;
    let mut records = Vec::new();
    let mut result = Ok(());
    for mail in mails {
        let filter = filter::only_filter(&cfg.filter, mail_attr, mail.trim());
        result = search(&mut conn, cfg, &filter, attributes, &mut records).await;
        if result.is_err() {
            break;
        }
    }
    conn.close().await;
    result?;
    let mut seen = HashSet::new();
    records.retain(|r| seen.insert(r.origin_text("").into_owned()));
    Ok(records)
}

/// Runs one paged subtree search and appends a record per entry.
///
/// Entries are turned into records as they arrive, so the raw messages of a
/// large directory are never held at once.
async fn search(
    conn: &mut Conn,
    cfg: &LdapSource,
    filter: &str,
    attributes: &[String],
    out: &mut Vec<SourceRecord>,
) -> Result<(), SourceError> {
    // An empty attribute list means "all attributes" in LDAP; "1.1" means none.
    let wanted: Vec<String> = if attributes.is_empty() {
        vec!["1.1".to_owned()]
    } else {
        attributes.to_vec()
    };
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(cfg.page_size.max(1))),
    ];
    let before = out.len();
    let mut dns = HashSet::new();
    let fail = |what: String| {
        SourceError::Fatal(format!(
            "LDAP search on {} under {} with filter {filter} {what}",
            cfg.url, cfg.base_dn
        ))
    };
    // The timeout applies to every message of the search, so to each page.
    let mut stream = conn
        .ldap
        .with_timeout(connect::timeout(cfg))
        .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, filter, wanted)
        .await
        .map_err(|e| fail(format!("could not start: {}", plain_error(&e, cfg))))?;
    loop {
        match stream.next().await {
            Ok(Some(entry)) => {
                let entry = SearchEntry::construct(entry);
                if let Err(why) = bounded(&entry, out.len() - before, &mut dns) {
                    let _ = stream.finish().await;
                    return Err(fail(format!("{why}; nothing was used from this read")));
                }
                out.push(record::build(
                    entry.dn,
                    entry.attrs,
                    &entry.bin_attrs,
                    attributes,
                    cfg.multi_value,
                ));
            }
            Ok(None) => break,
            Err(e) => {
                let _ = stream.finish().await;
                return Err(fail(format!(
                    "stopped after {} entries: {}; nothing was used from this partial read",
                    out.len() - before,
                    plain_error(&e, cfg)
                )));
            }
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(fail(format!(
            "ended with {} after {} entries; the read is incomplete, so nothing was used from it",
            describe_result(&result),
            out.len() - before
        )));
    }
    // Continuation references mean part of the subtree lives on another server
    // that sfsync does not chase: the entries we have are not all of them.
    if !result.refs.is_empty() {
        return Err(fail(format!(
            "returned referrals to {} (parts of the subtree held elsewhere); \
             point source.url and source.base_dn at the server that holds all the people",
            result.refs.join(", ")
        )));
    }
    Ok(())
}

/// Entries read by one search at most: ten times a very large company.
pub const MAX_ENTRIES: usize = 10_000_000;
/// The largest attribute value read, in bytes (64 KiB; a person's values are short).
pub const MAX_VALUE_BYTES: usize = 64 << 10;

/// Bounds on what one search may hand us: a DN seen twice means the server's
/// paging loops (it never ends its pages), too many entries or an oversized
/// value means it is not a directory of people.
///
/// DNs are remembered by a 64-bit hash (8 bytes each, not the DN): a million
/// entries cost a few MB, and a false repeat needs a hash collision.
fn bounded(entry: &SearchEntry, read: usize, dns: &mut HashSet<u64>) -> Result<(), String> {
    let dn = crate::printable::escape_controls(&entry.dn);
    if read >= MAX_ENTRIES {
        return Err(format!("sent more than {MAX_ENTRIES} entries"));
    }
    if !dns
        .insert(foldhash::quality::FixedState::with_seed(0x5f5).hash_one(entry.dn.to_lowercase()))
    {
        return Err(format!(
            "sent the entry {dn} twice (its paging does not end)"
        ));
    }
    let text = entry
        .attrs
        .iter()
        .flat_map(|(a, v)| v.iter().map(move |v| (a, v.len())));
    let bin = entry
        .bin_attrs
        .iter()
        .flat_map(|(a, v)| v.iter().map(move |v| (a, v.len())));
    if let Some((attr, len)) = text.chain(bin).find(|(_, len)| *len > MAX_VALUE_BYTES) {
        return Err(format!(
            "sent a value of {len} bytes for {attr} of {dn}, more than {} KiB",
            MAX_VALUE_BYTES >> 10
        ));
    }
    Ok(())
}

/// Preflight for `sfsync check`: one line per check, every check attempted.
///
/// Checks that depend on an earlier one that failed say so instead of running.
pub async fn check(
    cfg: &LdapSource,
    password: Option<&Secret>,
) -> Vec<(String, Result<String, String>)> {
    let mut lines = Vec::new();
    let not_checked = |why: &str| Err(format!("not checked: {why}"));

    // 1. TCP reachability, separate from TLS so a firewall and a bad
    //    certificate read differently.
    let reach = format!("LDAP server {} reachable", cfg.url);
    let reachable = match tcp_probe(cfg).await {
        Ok(addr) => {
            lines.push((reach, Ok(format!("connected to {addr}"))));
            true
        }
        Err(e) => {
            lines.push((reach, Err(e)));
            false
        }
    };

    // 2. TLS handshake (open() verifies the certificate as part of connecting).
    let tls_line = "TLS handshake and certificate".to_owned();
    let mut conn = None;
    if !reachable {
        lines.push((tls_line, not_checked("server not reachable")));
    } else {
        match connect::open(cfg).await {
            Ok(c) => {
                let detail = if cfg.url.starts_with("ldaps://") {
                    "LDAPS, certificate verified".to_owned()
                } else if cfg.starttls {
                    "StartTLS, certificate verified".to_owned()
                } else {
                    "not used (ldap:// without starttls): the bind password crosses the network unencrypted".to_owned()
                };
                lines.push((tls_line, Ok(detail)));
                conn = Some(c);
            }
            Err(e) => lines.push((tls_line, Err(e.to_string()))),
        }
    }

    // 3. Bind.
    let who = cfg.bind_dn.as_deref().unwrap_or("anonymous");
    let bind_line = format!("LDAP bind as {who}");
    let mut bound = false;
    match conn.as_mut() {
        None => lines.push((bind_line, not_checked("no connection"))),
        Some(c) => match connect::bind(c, cfg, password).await {
            Ok(()) => {
                lines.push((bind_line, Ok("accepted".to_owned())));
                bound = true;
            }
            Err(e) => lines.push((bind_line, Err(e.to_string()))),
        },
    }

    // 4. Base DN exists (a base-scope search for the entry itself).
    let base_line = format!("base DN {} exists", cfg.base_dn);
    let mut base_ok = false;
    match conn.as_mut() {
        Some(c) if bound => {
            let res = c
                .ldap
                .with_timeout(connect::timeout(cfg))
                .search(&cfg.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await;
            match res {
                Ok(r) if r.1.rc == 0 && !r.0.is_empty() => {
                    lines.push((base_line, Ok("found".to_owned())));
                    base_ok = true;
                }
                Ok(r) if r.1.rc == 0 || r.1.rc == 32 => lines.push((
                    base_line,
                    Err(format!(
                        "no such entry on {} (or the bind DN may not read it); fix source.base_dn",
                        cfg.url
                    )),
                )),
                Ok(r) => lines.push((base_line, Err(describe_result(&r.1)))),
                Err(e) => lines.push((base_line, Err(plain_error(&e, cfg)))),
            }
        }
        _ => lines.push((base_line, not_checked("no bound connection"))),
    }

    // 5. The filter finds someone: a size-limited search, so a big directory
    //    is not read just to count it.
    let filter_line = format!("filter {} matches at least one entry", cfg.filter);
    match conn.as_mut() {
        Some(c) if base_ok => {
            let res = c
                .ldap
                .with_timeout(connect::timeout(cfg))
                .with_search_options(SearchOptions::new().sizelimit(1))
                .search(&cfg.base_dn, Scope::Subtree, &cfg.filter, vec!["1.1"])
                .await;
            match res {
                // 4 = sizeLimitExceeded: more than the one entry asked for.
                Ok(r) if (r.1.rc == 0 || r.1.rc == 4) && !r.0.is_empty() => {
                    let dn = SearchEntry::construct(r.0.into_iter().next().expect("one entry")).dn;
                    lines.push((filter_line, Ok(format!("e.g. {dn}"))));
                }
                Ok(r) if r.1.rc == 0 => lines.push((
                    filter_line,
                    Err(format!(
                        "no entry under {} matches; check source.filter and source.base_dn",
                        cfg.base_dn
                    )),
                )),
                Ok(r) => lines.push((filter_line, Err(describe_result(&r.1)))),
                Err(e) => lines.push((filter_line, Err(plain_error(&e, cfg)))),
            }
        }
        _ => lines.push((filter_line, not_checked("base DN not confirmed"))),
    }

    if let Some(c) = conn {
        c.close().await;
    }
    lines
}

/// Opens and closes a TCP connection to the URL's host and port.
async fn tcp_probe(cfg: &LdapSource) -> Result<String, String> {
    let url = url::Url::parse(&cfg.url).map_err(|e| format!("bad URL: {e}"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    let port = url
        .port()
        .unwrap_or(if url.scheme() == "ldaps" { 636 } else { 389 });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(connect::timeout(cfg), connect).await {
        Ok(Ok(stream)) => Ok(stream
            .peer_addr()
            .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string())),
        Ok(Err(e)) => Err(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Err(format!(
            "no answer from {host}:{port} within {} s (source.timeout_secs)",
            cfg.timeout_secs
        )),
    }
}

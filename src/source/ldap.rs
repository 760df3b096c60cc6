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
//!
//! Active Directory (SPEC "Active Directory"): continuation references
//! (SearchResultReference, which AD returns for its Configuration and DNS
//! partitions under the domain root) are not followed but counted, logged at
//! debug and handed back in [`LdapRead::references`] for the report. When the
//! root DSE lists the domain-scope control (1.2.840.113556.1.4.1339) every
//! search sends it, so AD does not produce those references at all. A
//! referral *result* (the base DN itself lives elsewhere) stays fatal.

mod connect;
mod filter;
mod record;

use std::collections::HashSet;
use std::hash::BuildHasher as _;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry, SearchOptions};

pub use filter::escape_filter_value;

use crate::job::{LdapSource, Secret};
use crate::source::{SourceError, SourceRecord};
use crate::template::AttrKind;
use connect::{Conn, describe_result, plain_error};

/// LDAP_SERVER_DOMAIN_SCOPE_OID: "do not generate referrals or continuation
/// references to other naming contexts" (MS-ADTS 3.1.1.3.4.1.3).
pub const DOMAIN_SCOPE_OID: &str = "1.2.840.113556.1.4.1339";

/// What a read gave.
#[derive(Debug, Default)]
pub struct LdapRead {
    pub records: Vec<SourceRecord>,
    /// Continuation references the server returned and sfsync did not follow
    /// (URLs as the server wrote them, each once, in the order seen).
    pub references: Vec<String>,
}

/// What to ask for and how to read it: the job's attribute names (lower-case,
/// matched case-insensitively) and, in the same order, how each is read
/// (`&[]`: all text). Records' values line up with `names`.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub names: &'a [String],
    pub kinds: &'a [AttrKind],
}

impl<'a> Wanted<'a> {
    /// Every attribute read as text.
    pub fn text(names: &'a [String]) -> Self {
        Wanted { names, kinds: &[] }
    }
}

/// Reads every entry under `base_dn` matching the filter with paged search.
///
/// Each record's origin is the entry's DN.
pub async fn read_all(
    cfg: &LdapSource,
    password: Option<&Secret>,
    wanted: Wanted<'_>,
) -> Result<LdapRead, SourceError> {
    read_all_showing(cfg, password, wanted, None).await
}

/// [`read_all`], counting the entries and pages read on `progress` (a
/// spinner on a terminal: a big directory takes minutes).
pub async fn read_all_showing(
    cfg: &LdapSource,
    password: Option<&Secret>,
    wanted: Wanted<'_>,
    progress: Option<&crate::progress::ReadProgress>,
) -> Result<LdapRead, SourceError> {
    let mut conn = connect::connect(cfg, password).await?;
    let mut read = LdapRead::default();
    let result = search(&mut conn, cfg, &cfg.filter, wanted, &mut read, progress).await;
    conn.close().await;
    result?;
    tracing::debug!(url = %cfg.url, base_dn = %cfg.base_dn, records = read.records.len(),
        references = read.references.len(), "LDAP read complete.");
    Ok(read)
}

/// `--only`: one search per address, `(&<filter>(<mail_attr>=<escaped address>))`.
///
/// Addresses that match nobody give no record; an entry found by two addresses
/// is returned once.
pub async fn read_only(
    cfg: &LdapSource,
    password: Option<&Secret>,
    wanted: Wanted<'_>,
    mail_attr: &str,
    mails: &[String],
) -> Result<LdapRead, SourceError> {
    let mut conn = connect::connect(cfg, password).await?;
    let mut read = LdapRead::default();
    let mut result = Ok(());
    for mail in mails {
        let filter = filter::only_filter(&cfg.filter, mail_attr, mail.trim());
        result = search(&mut conn, cfg, &filter, wanted, &mut read, None).await;
        if result.is_err() {
            break;
        }
    }
    conn.close().await;
    result?;
    let mut seen = HashSet::new();
    read.records
        .retain(|r| seen.insert(r.origin_text("").into_owned()));
    Ok(read)
}

/// Whether the root DSE lists `oid` in `supportedControl`. A server that will
/// not say (no root DSE for this bind, an error) is taken as not supporting it.
async fn supports_control(conn: &mut Conn, cfg: &LdapSource, oid: &str) -> bool {
    let res = conn
        .ldap
        .with_timeout(connect::timeout(cfg))
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await;
    match res {
        Ok(ldap3::SearchResult(entries, result)) if result.rc == 0 => {
            entries.into_iter().any(|e| {
                SearchEntry::construct(e)
                    .attrs
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("supportedControl"))
                    .any(|(_, v)| v.iter().any(|c| c == oid))
            })
        }
        _ => false,
    }
}

/// The controls every search on this connection sends besides paging: the
/// domain-scope control when the server supports it (asked once per connection).
async fn search_controls(conn: &mut Conn, cfg: &LdapSource) -> Vec<RawControl> {
    if conn.domain_scope.is_none() {
        let yes = supports_control(conn, cfg, DOMAIN_SCOPE_OID).await;
        tracing::debug!(url = %cfg.url, domain_scope = yes, "Read the root DSE's supportedControl.");
        conn.domain_scope = Some(yes);
    }
    if conn.domain_scope == Some(true) {
        vec![RawControl {
            ctype: DOMAIN_SCOPE_OID.to_owned(),
            crit: false,
            val: None,
        }]
    } else {
        Vec::new()
    }
}

/// The fatal message for a referral *result*: the base DN is not on this server.
fn referral_result(cfg: &LdapSource, refs: &[String]) -> String {
    let to = if refs.is_empty() {
        "another server".to_owned()
    } else {
        refs.join(", ")
    };
    format!(
        "was referred to {to}: {url} does not hold {base} itself. Point source.url at a \
         server that holds base_dn; on Active Directory base_dn must name this domain \
         (its root, e.g. DC=corp,DC=com, or an OU under it), and a DC of another domain \
         in the forest, or the global catalog port (ldaps://...:3269), serves that domain",
        url = cfg.url,
        base = cfg.base_dn
    )
}

/// Runs one paged subtree search and appends a record per entry.
///
/// Entries are turned into records as they arrive, so the raw messages of a
/// large directory are never held at once.
async fn search(
    conn: &mut Conn,
    cfg: &LdapSource,
    filter: &str,
    wanted: Wanted<'_>,
    read: &mut LdapRead,
    progress: Option<&crate::progress::ReadProgress>,
) -> Result<(), SourceError> {
    let controls = search_controls(conn, cfg).await;
    let page_size = cfg.page_size.max(1) as u64;
    let out = &mut read.records;
    let attributes = wanted.names;
    // An empty attribute list means "all attributes" in LDAP; "1.1" means none.
    let names: Vec<String> = if attributes.is_empty() {
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
    let mut ldap = conn.ldap.clone();
    if !controls.is_empty() {
        ldap.with_controls(controls);
    }
    let mut stream = ldap
        .with_timeout(connect::timeout(cfg))
        .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, filter, names)
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
                    wanted.kinds,
                    cfg.multi_value,
                ));
                // A page's worth at a time: the spinner shows pages, not entries.
                let n = (out.len() - before) as u64;
                if let Some(p) = progress
                    && n.is_multiple_of(page_size)
                {
                    p.page(page_size, n / page_size);
                }
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
    if result.rc == 10 {
        return Err(fail(referral_result(cfg, &result.refs)));
    }
    if result.rc != 0 {
        return Err(fail(format!(
            "ended with {} after {} entries; the read is incomplete, so nothing was used from it",
            describe_result(&result),
            out.len() - before
        )));
    }
    // Continuation references name other naming contexts (AD: Configuration,
    // DomainDnsZones, ForestDnsZones) or subordinate servers. They are not
    // chased: this server's entries are what the job's url and base_dn name.
    for r in result.refs {
        tracing::debug!(url = %cfg.url, reference = %r, "Skipped a continuation reference.");
        if !read.references.contains(&r) {
            read.references.push(r);
        }
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
///
/// `attributes` are the job's: the one entry the filter finds is read with
/// them, and a template attribute it lacks is a failed line (a typo such as
/// `{titel}` reads nothing from anyone).
pub async fn check(
    cfg: &LdapSource,
    password: Option<&Secret>,
    attributes: &[String],
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
                Ok(r) if r.1.rc == 10 => {
                    lines.push((base_line, Err(referral_result(cfg, &r.1.refs))));
                }
                Ok(r) => lines.push((base_line, Err(describe_result(&r.1)))),
                Err(e) => lines.push((base_line, Err(plain_error(&e, cfg)))),
            }
        }
        _ => lines.push((base_line, not_checked("no bound connection"))),
    }

    // 5. The filter finds someone: a real search with the job's base, filter
    //    and controls (paging, AD's domain scope), one entry long, so
    //    referrals and missing rights show here and not first in `plan`.
    let filter_line = format!("filter {} matches at least one entry", cfg.filter);
    // "1.1": no attributes, when the caller has none to check.
    let wanted = match attributes {
        [] => vec!["1.1".to_owned()],
        some => some.to_vec(),
    };
    match conn.as_mut() {
        Some(c) if base_ok => match one_entry(c, cfg, wanted).await {
            Ok((Some(entry), refs)) => {
                let line = if refs.is_empty() {
                    format!("e.g. {}", entry.dn)
                } else {
                    format!(
                        "e.g. {}; {} continuation reference(s) will be skipped: {}",
                        entry.dn,
                        refs.len(),
                        refs.join(", ")
                    )
                };
                lines.push((filter_line, Ok(line)));
                if !attributes.is_empty() {
                    let res = sample_attributes(c, cfg, &entry, attributes).await;
                    lines.push(("sample attributes".to_owned(), res));
                }
            }
            Ok((None, _)) => lines.push((
                filter_line,
                Err(format!(
                    "no entry under {} matches; check source.filter and source.base_dn",
                    cfg.base_dn
                )),
            )),
            Err(e) => lines.push((filter_line, Err(e))),
        },
        _ => lines.push((filter_line, not_checked("base DN not confirmed"))),
    }

    if let Some(c) = conn {
        c.close().await;
    }
    lines
}

/// One page of one entry, as the read would ask for it: the first entry's DN
/// and the continuation references the server returned with it.
async fn one_entry(
    conn: &mut Conn,
    cfg: &LdapSource,
    wanted: Vec<String>,
) -> Result<(Option<SearchEntry>, Vec<String>), String> {
    let mut controls = search_controls(conn, cfg).await;
    controls.push(
        ldap3::controls::PagedResults {
            size: 1,
            cookie: Vec::new(),
        }
        .into(),
    );
    let res = conn
        .ldap
        .with_timeout(connect::timeout(cfg))
        .with_controls(controls)
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(&cfg.base_dn, Scope::Subtree, &cfg.filter, wanted)
        .await;
    let ldap3::SearchResult(entries, result) = match res {
        Ok(r) => r,
        Err(e) => return Err(plain_error(&e, cfg)),
    };
    let mut refs = result.refs.clone();
    let mut first = None;
    for entry in entries {
        if entry.is_ref() {
            refs.extend(ldap3::parse_refs(entry.0));
        } else if first.is_none() {
            first = Some(SearchEntry::construct(entry));
        }
    }
    match result.rc {
        // 4 = sizeLimitExceeded: more than the one entry asked for.
        0 | 4 => Ok((first, refs)),
        10 => Err(referral_result(cfg, &refs)),
        50 => Err(format!(
            "{}: the bind DN may not search under {}; grant it read access there",
            describe_result(&result),
            cfg.base_dn
        )),
        _ => Err(describe_result(&result)),
    }
}

/// Whether every attribute the mapping reads is seen: on the sample
/// `entry`, or else (an optional attribute such as `department` that this
/// entry lacks) on at least one entry the job's filter matches, asked with a
/// presence filter for one entry. Never seen anywhere is a typo in a
/// template or an attribute the bind DN may not read.
async fn sample_attributes(
    conn: &mut Conn,
    cfg: &LdapSource,
    entry: &SearchEntry,
    attributes: &[String],
) -> Result<String, String> {
    let has = |a: &String| {
        entry
            .attrs
            .keys()
            .chain(entry.bin_attrs.keys())
            .any(|k| k.eq_ignore_ascii_case(a))
    };
    let mut never = Vec::new();
    for a in attributes.iter().filter(|a| !has(a)) {
        let filter = format!("(&{}({a}=*))", cfg.filter);
        let seen = conn
            .ldap
            .with_timeout(connect::timeout(cfg))
            .with_search_options(SearchOptions::new().sizelimit(1))
            .search(&cfg.base_dn, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .is_ok_and(|r| r.0.iter().any(|e| !e.is_ref()));
        if !seen {
            never.push(format!("{{{a}}}"));
        }
    }
    if never.is_empty() {
        Ok(format!(
            "every attribute the mapping reads is seen (e.g. on {})",
            entry.dn
        ))
    } else {
        Err(format!(
            "no entry the filter matches has {} (not {} either): a typo in a template, or an attribute the bind DN may not read",
            never.join(", "),
            entry.dn
        ))
    }
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

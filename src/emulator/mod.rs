//! The local Salesforce emulator: a faithful stand-in, over real HTTP, for
//! the parts of the REST API sfsync uses (reference `salesforce-rest.md`).
//!
//! A library first: [`serve`] takes a bound listener, an [`Org`] and a
//! shutdown future, so tests bind `127.0.0.1:0` in-process ([`start`]); the
//! `sfsync emulator` subcommand and the demo are thin wrappers.
//!
//! # Layout
//! - [`config`]: [`OrgConfig`], seed files (`--users`, `--profiles`, `--foreign-usernames`).
//! - [`org`]: the state ([`Org`]): packed users, indexes, licenses, sessions, cursors.
//! - [`schema`]: User and Profile fields, labels, lengths, picklists.
//! - [`validate`]: record-level create rules (pure); [`wire`]: create bodies, parsed without a `Value` tree.
//! - [`access`]: PermissionSet, PermissionSetGroup, Group, UserRole (seeded, `--access`),
//!   PermissionSetAssignment and GroupMember inserts.
//! - [`lifecycle`]: PATCH of User (single and collections), UserLogin freeze, the update,
//!   deactivation and license rules.
//! - [`soql`]: the SOQL subset: parser and evaluator (pure); [`query`] runs and pages it.
//! - [`auth`]: token endpoint decisions for the three flows (pure).
//! - [`faults`]: the seeded fault plan (pure).
//! - [`log`]: request log and counters.
//! - [`routes`]: the HTTP pipeline (axum).
//! - [`ids`]: 15/18-character Ids.

pub mod access;
pub mod auth;
pub mod config;
pub mod faults;
pub mod ids;
pub mod lifecycle;
pub mod log;
pub mod org;
pub mod query;
pub mod routes;
pub mod schema;
pub mod soql;
pub mod validate;
pub mod wire;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tower_service::Service;

pub use access::{AccessSeed, NamedSeed, PermissionSetSeed};
pub use config::{
    CHATTER_FREE_PROFILE_ID, Credentials, OrgConfig, ProfileSeed, STANDARD_USER_PROFILE_ID,
    SYSTEM_ADMIN_PROFILE_ID, SeedUser, UNDEACTIVATABLE_MESSAGE, default_profiles,
};
pub use faults::{FaultKind, FaultPlan};
pub use log::{Counters, RequestKind, RequestRecord};
pub use org::{EmulatedUser, Org};

/// Per-connection switch a handler pulls to close its connection without an
/// answer (dropped connections and lost answers).
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// Serves `org` on `listener` until `shutdown` resolves, then stops accepting
/// and lets open connections finish their current request.
///
/// Uses hyper's connection driver directly (rather than `axum::serve`) so a
/// handler can close its own connection with no response at all: that is how
/// "lost answers" reach the client as a connection error.
pub async fn serve(
    listener: TcpListener,
    org: Arc<Org>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let _ = org.base_url.set(format!("http://{addr}"));
    let router = routes::router(org.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and similar: back off, keep serving.
                    tracing::warn!(error = %e, "Emulator accept failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let conn_kill = ConnKill(kill.clone());
        let router = router.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            let mut r = router.clone();
            async move { r.call(req).await }
        });
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                // Dropping the connection closes the socket with no answer.
                () = kill.notified() => {}
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = kill.notified() => {}
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// An emulator running on the current tokio runtime (tests, demo, benchmarks).
#[derive(Debug)]
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`: the instance URL and the token endpoint host.
    pub base_url: String,
    pub org: Arc<Org>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl RunningEmulator {
    /// Stops accepting connections and waits for the server loop to end.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Binds 127.0.0.1:0 and serves a new org built from `cfg` on the current runtime.
pub async fn start(cfg: OrgConfig) -> io::Result<RunningEmulator> {
    start_org(Arc::new(Org::new(cfg))).await
}

/// Like [`start`], for an org built (or shared) by the caller.
pub async fn start_org(org: Arc<Org>) -> io::Result<RunningEmulator> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, org.clone(), async move {
        let _ = rx.await;
    }));
    Ok(RunningEmulator {
        base_url,
        org,
        stop: Some(tx),
        task: Some(task),
    })
}

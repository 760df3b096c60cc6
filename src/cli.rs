//! Command line: clap derive types. The doc comments are the `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keep Salesforce users in step with a company directory (LDAP or CSV).
///
/// sfsync reads people from LDAP or a CSV export, reads the org's existing
/// users by SOQL, works out the difference and creates the missing users in
/// batches of up to 200 per API call. Start with `sfsync demo`.
#[derive(Debug, Parser)]
#[command(name = "sfsync", version, about, long_about = None)]
pub struct Cli {
    /// Log line format: `text` for people, `json` for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Quieter: only warnings and errors (-q), or only errors (-qq).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// More detail: debug (-v) or trace (-vv). Secrets are redacted at every level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the emulator's many flags make one variant large, which costs nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: read the source and Salesforce and report what `sync` would do. Writes nothing to Salesforce.
    Plan(PlanArgs),
    /// Create the missing users in Salesforce and report every outcome.
    Sync(SyncArgs),
    /// Preflight: job file, secrets, LDAP bind, Salesforce token, profiles, required fields, API budget.
    Check(CheckArgs),
    /// Run the local Salesforce emulator (for tests, rehearsals and the demo) and print its base URL.
    Emulator(EmulatorArgs),
    /// Zero-setup tour: start the emulator in-process from samples/, sync jobs/demo.toml, print the report.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Summary and the records that need attention, for a terminal.
    Table,
    /// The reference form: every field of every reported user.
    Json,
    /// One row per user with the same fields as JSON.
    Csv,
    /// One self-contained page to open in a browser.
    Html,
    /// Markdown summary for a ticket or chat.
    Md,
}

/// Options shared by `plan` and `sync`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Job file (TOML). Relative paths inside it are resolved against its folder.
    #[arg(long, value_name = "FILE")]
    pub job: PathBuf,

    /// Write the report to this file (atomically). The format follows the extension unless --format is given.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Report format. Default: from --report's extension, else `table` on stdout.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,

    /// Also list users whose outcome is `unchanged`.
    #[arg(long)]
    pub report_all: bool,

    /// Only these people (repeatable): provision on demand. LDAP searches by mail within the job's filter.
    #[arg(long, value_name = "EMAIL")]
    pub only: Vec<String>,

    /// Write the run's figures in the Prometheus text format (for node_exporter's textfile collector).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Point this run at another org (e.g. the emulator): replaces both `instance_url` and `login_url` of the job.
    #[arg(long, value_name = "URL")]
    pub instance_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Do not write anything: the same as `sfsync plan`.
    #[arg(long)]
    pub dry_run: bool,

    /// Override the job's `limits.max_creates` for this run (e.g. an initial migration).
    #[arg(long, value_name = "N")]
    pub max_creates: Option<u64>,

    /// Also write Data Loader style `success.csv` and `error.csv` into this folder.
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Job file (TOML) to check.
    #[arg(long, value_name = "FILE")]
    pub job: PathBuf,

    /// Check against another org (e.g. the emulator): replaces both `instance_url` and `login_url` of the job.
    #[arg(long, value_name = "URL")]
    pub instance_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (the default is the one `jobs/demo.toml` names); port 0 picks a free
    /// port. The base URL is printed on stdout.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8484")]
    pub listen: SocketAddr,

    /// Seed the org from a CSV export of users (Username, Email, FirstName, LastName, Alias,
    /// IsActive, FederationIdentifier, ProfileId, optional Id; any other User field may be a column).
    #[arg(long, value_name = "CSV")]
    pub users: Option<PathBuf>,

    /// Usernames taken in other Salesforce orgs, one per line: creating them answers DUPLICATE_USERNAME.
    #[arg(long, value_name = "FILE")]
    pub foreign_usernames: Option<PathBuf>,

    /// Profiles as a CSV of Id,Name with an optional Licenses column (default: Chatter Free User
    /// 00e90000001aV2o, Standard User and System Administrator).
    #[arg(long, value_name = "CSV")]
    pub profiles: Option<PathBuf>,

    /// Added latency per API request, in milliseconds (with up to 20% jitter).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,

    /// Fraction (0..1) of API requests that meet a fault: 503, 429 with Retry-After,
    /// a dropped connection, or per-record UNABLE_TO_LOCK_ROW.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Fraction (0..1) of write calls (creates and PATCHes) whose answer is lost: committed, then
    /// the connection is closed.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub lost_answer_rate: f64,

    /// Seed for latency jitter and faults, so a run can be replayed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Daily API request allowance; past it calls answer 403 REQUEST_LIMIT_EXCEEDED.
    #[arg(long, value_name = "N", default_value_t = 15_000)]
    pub daily_api_limit: u64,

    /// Tokens expire after this many API calls (INVALID_SESSION_ID); 0 = never.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub token_ttl: u64,

    /// On shutdown, write the final org's users to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// Make the token endpoint and the SOAP login strict: a TOML file with the keys client_id,
    /// client_secret, username, password (each optional; an absent key accepts any non-empty
    /// value). A file, not flags, so the secrets never show in `ps`.
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Verify JWT bearer assertions (RS256) against this PEM public key.
    #[arg(long, value_name = "FILE")]
    pub jwt_public_key: Option<PathBuf>,

    /// Also accept this JWT `aud` (repeatable). Always accepted: the emulator's own base URL,
    /// https://login.salesforce.com and https://test.salesforce.com.
    #[arg(long, value_name = "URL")]
    pub jwt_audience: Vec<String>,

    /// Active users each license allows, counted per profile's license on create and on
    /// reactivation (past it: LICENSE_LIMIT_EXCEEDED "License Limit Exceeded"). Deactivating a
    /// user frees one. A `Licenses` column in --profiles overrides it per profile. Default: unlimited.
    #[arg(long = "license-limit", visible_alias = "licenses", value_name = "N")]
    pub licenses: Option<u64>,

    /// Behave as the sandbox NAME: Organization.IsSandbox is true and the org's name says
    /// which sandbox. Usernames in --users are kept as given (a copied user's `.NAME` suffix
    /// included); DUPLICATE_USERNAME behaves as without it.
    #[arg(long, value_name = "NAME")]
    pub sandbox: Option<String>,

    /// Usernames, one per line, whose deactivation is refused the way Salesforce refuses the
    /// Default Workflow User or a default lead owner: 400 FIELD_INTEGRITY_EXCEPTION
    /// "You cannot deactivate the Default Workflow User".
    #[arg(long, value_name = "FILE")]
    pub undeactivatable: Option<PathBuf>,

    /// Seed permission sets, permission set groups, public groups and roles from a TOML file
    /// (`[[permission_set]] name, label, license`, `[[permission_set_group]] developer_name`,
    /// `[[group]] developer_name`, `[[role]] developer_name`; see samples/salesforce-access.toml).
    #[arg(long, value_name = "FILE")]
    pub access: Option<PathBuf>,

    /// Tokens also expire this many seconds after they were issued (INVALID_SESSION_ID).
    #[arg(long, value_name = "N")]
    pub token_ttl_secs: Option<u64>,

    /// At most this many API requests in flight; more answer 403 REQUEST_LIMIT_EXCEEDED
    /// (ConcurrentPerOrgLongTxn). 0 = no cap.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_in_flight: usize,

    /// Which faults --fault-rate draws from, comma-separated: 503, 429, drop, lock, lost.
    /// Default: 503,429,drop,lock.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub faults: Vec<String>,

    /// The Retry-After header (seconds) on injected 429 answers.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retry_after_secs: u64,

    /// Refuse the client-credentials flow as login.salesforce.com does
    /// ("request not supported on this domain"), to rehearse a wrong login URL.
    #[arg(long)]
    pub client_credentials_on_generic_host: bool,

    /// Serve HTTPS with a CA and certificate made at start (for localhost, 127.0.0.1, ::1 and the
    /// --public-url host). The CA is written to --tls-ca-file; its path is printed on the second
    /// stdout line, below the URL: point a client at it (REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls: bool,

    /// Where --tls writes its CA certificate (PEM). Default: sfsync-emulator-ca-PORT.pem in the
    /// temporary directory.
    #[arg(long, value_name = "PEM", requires = "tls")]
    pub tls_ca_file: Option<PathBuf>,

    /// Serve HTTPS with this certificate chain (PEM, server certificate first).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The base URL handed out in instance_url, serverUrl, nextRecordsUrl and identity URLs
    /// (behind a proxy or in a container). Default: the scheme and the listening address.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// Answer /_emulator/* (request log, counters, the users) without a token: for local scripts
    /// only, since the users may be a copy of a real org's staff list.
    #[arg(long)]
    pub admin_open: bool,
}

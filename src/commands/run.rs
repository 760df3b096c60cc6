//! The pipeline shared by `plan` and `sync`: read the source and the org,
//! normalize, plan, (for `sync`) guard and execute, then report.
//!
//! This is the one place where the pure core meets I/O for a run.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio::sync::watch;

use crate::cli::{ReportFormat, RunArgs};
use crate::error::{Error, exit};
use crate::execute::{self, ExecuteOptions, StopReason};
use crate::job::{DefaultValue, Job, LeaverAction, SourceConfig};
use crate::normalize::{self, Candidate, Invalid, Normalized, Normalizer, Scratch};
use crate::plan::{self, Decision, Operation, Plan};
use crate::report::{self, Outcome, Report, ReportContext, ReportUser, RunFacts, metrics};
use crate::salesforce::retry::CallVerdict;
use crate::salesforce::{Client, ClientOptions, Credentials};
use crate::salesforce::{FieldTable, SfUser};
use crate::source::{self, SourceRecord};
use crate::state::{self, JobState, RunLock};

/// Everything a run needs besides the job file.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub dry_run: bool,
    pub report: Option<PathBuf>,
    pub format: Option<ReportFormat>,
    pub report_all: bool,
    pub only: Vec<String>,
    pub metrics_file: Option<PathBuf>,
    pub max_creates: Option<u64>,
    pub results_dir: Option<PathBuf>,
    /// Print the table on stdout even when a report file is written (the demo).
    pub print_table: bool,
    /// More report files, written from the same rows after `report` (the
    /// demo's HTML page): the rows borrow the run's data, so every rendering
    /// happens inside the run.
    pub extra_reports: Vec<(PathBuf, ReportFormat)>,
}

impl RunRequest {
    pub fn from_args(args: &RunArgs, dry_run: bool) -> Self {
        RunRequest {
            dry_run,
            report: args.report.clone(),
            format: args.format,
            report_all: args.report_all,
            only: args.only.clone(),
            metrics_file: args.metrics_file.clone(),
            ..RunRequest::default()
        }
    }
}

/// What a finished (or stopped) run hands back to its command.
#[derive(Debug)]
pub struct RunResult {
    /// Job, times, summary and context; no rows (they borrowed the run's
    /// data and were rendered before it ended: see
    /// [`RunRequest::extra_reports`]).
    pub report: Report<'static>,
    pub exit_code: u8,
}

/// Runs a job to the end: the exit code comes from the report, a safety stop
/// or a fatal error. A fatal error after planning still writes the report.
pub async fn run(
    job: &Job,
    req: &RunRequest,
    cancel: watch::Receiver<u8>,
) -> Result<RunResult, Error> {
    // Every output path is checked before anything is contacted or written:
    // a report that cannot be written must not be found after the creates.
    check_outputs(req)?;
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let result = run_inner(job, req, cancel, started).await;
    let (report, code) = match &result {
        Ok(r) => (Some(&r.report), r.exit_code),
        Err(e) => (None, e.exit_code()),
    };
    if let Some(path) = &req.metrics_file {
        let previous = state::load_state(&job.safety.state_dir, &job.name);
        let m = metrics::RunMetrics {
            exit_code: code,
            duration_seconds: clock.elapsed().as_secs_f64(),
            last_success_unix: previous.last_success_unix,
        };
        let text = metrics::render(report, &job.name, m);
        report::write::atomic(path, |w| w.write_all(text.as_bytes())).map_err(|e| {
            Error::Fatal(format!(
                "cannot write the metrics file {}: {e}",
                path.display()
            ))
        })?;
    }
    result
}

async fn run_inner(
    job: &Job,
    req: &RunRequest,
    cancel: watch::Receiver<u8>,
    started: time::OffsetDateTime,
) -> Result<RunResult, Error> {
    // Writes need the lock; a dry run may overlap anything.
    let _lock = if req.dry_run {
        None
    } else {
        Some(RunLock::acquire(&job.safety.state_dir, &job.name)?)
    };

    // Read: the source, then the org.
    let credentials = Credentials::resolve(&job.salesforce.auth)?;
    let login_username = credentials.login_username().map(str::to_owned);
    let ldap_password = match &job.source {
        SourceConfig::Ldap(l) => l.bind_password.as_ref().map(|s| s.resolve()).transpose()?,
        SourceConfig::Csv(_) => None,
    };

    // A directory is read page by page (minutes for a big one): count them.
    // A CSV file takes a second or two: the time is enough.
    let spinner = match &job.source {
        SourceConfig::Ldap(_) if req.only.is_empty() => {
            crate::progress::ReadProgress::start("Reading the directory")
        }
        _ => crate::progress::ReadProgress::waiting("Reading the source"),
    };
    // Reads honour SIGTERM/SIGINT too: a hung directory or org must not keep
    // the lock (the lock is released when this returns).
    let mut reading = cancel.clone();
    let (records, source_references) = unless_interrupted(
        &mut reading,
        "reading the source",
        read_source(job, &req.only, ldap_password.as_ref(), &spinner),
    )
    .await?;
    drop(spinner);
    tracing::debug!(records = records.len(), "Read the source.");
    let client = unless_interrupted(
        &mut reading,
        "logging in to Salesforce",
        connect(job, credentials),
    )
    .await?;
    if req.dry_run {
        let fields = check_fields_with_org(job, &client);
        unless_interrupted(&mut reading, "checking the job's fields", fields).await?;
    }
    // `[access]` names, resolved before anything is planned or written.
    let access_ids = match &job.access {
        Some(a) => Some(
            unless_interrupted(
                &mut reading,
                "resolving [access] names",
                resolve_access(job, a, &client),
            )
            .await?,
        ),
        None => None,
    };
    let org = unless_interrupted(
        &mut reading,
        "reading the org",
        read_org(job, req, &client, login_username.as_deref()),
    )
    .await?;

    // Plan.
    let normalizer = Normalizer::new(job, org.profile_id.as_deref());
    let (candidates, invalid) = normalize_all(&normalizer, &records);
    let salesforce_users = org.existing.len() as u64;
    let previous_state = state::load_state(&job.safety.state_dir, &job.name);
    let (mut plan, usernames) = make_plan(
        job,
        &normalizer,
        &records,
        &candidates,
        &invalid,
        org,
        Known {
            access_ids,
            refused: &previous_state.refused_usernames,
        },
    );
    if job.access.is_some() {
        let held = unless_interrupted(
            &mut reading,
            "reading what matched users already hold",
            read_held_access(&client, &plan),
        )
        .await?;
        plan::access::add_operations(&mut plan, &held);
    }
    let by_record = index_candidates(records.len(), &candidates);
    let invalid_by_record = index_invalid(records.len(), &invalid);

    // Guard, on the plan, in `plan` and `sync` alike.
    let guard = guard(job, req, records.len() as u64, &plan);

    // Execute.
    let mut stopped: Option<String> = None;
    let mut code: Option<u8> = None;
    let mut attempted: Vec<usize> = Vec::new();
    let mut learnt = Learnt::default();
    if let Err(why) = guard {
        if !req.dry_run {
            mark_operations(&mut plan, Outcome::NotAttempted, &why);
        }
        stopped = Some(why);
        code = Some(exit::SAFETY_LIMIT);
    } else if !req.dry_run && !plan.operations.is_empty() {
        let run = Writes {
            client: &client,
            job,
            normalizer: &normalizer,
            records: &records,
            candidates: &candidates,
            by_record: &by_record,
            usernames: &usernames,
        };
        attempted = plan
            .operations_in(0)
            .filter_map(|o| match o {
                Operation::Create { record } => Some(*record),
                _ => None,
            })
            .collect();
        if let Some(reason) = run.execute(&mut plan, cancel, &mut learnt).await {
            code = Some(match reason {
                StopReason::DailyLimit | StopReason::ApiReserve { .. } => exit::SAFETY_LIMIT,
                StopReason::Interrupted | StopReason::Fatal(_) => exit::FATAL,
            });
            stopped = Some(reason.to_string());
        }
    }

    // Report.
    let usage = client.last_usage();
    let facts = RunFacts {
        job: job.name.clone(),
        dry_run: req.dry_run,
        started_at: report::timestamp(started),
        finished_at: report::timestamp(time::OffsetDateTime::now_utc()),
        salesforce_users,
        api_calls: client.api_calls(),
        lifecycle: job.update.is_some() || job.leavers.is_some(),
        access: job.access.is_some(),
        context: ReportContext {
            source: describe_source(job),
            salesforce: client.instance_url(),
            api_remaining: usage.map(|u| u.max.saturating_sub(u.used)),
            api_max: usage.map(|u| u.max),
            stopped: stopped.clone(),
            source_references,
            sandbox: job.salesforce.sandbox.clone(),
            licence_stops: learnt
                .exhausted
                .iter()
                .map(|(profile, message)| {
                    format!("profile {profile} has no licence left (Salesforce: {message}); the rest of its creates were not attempted")
                })
                .collect(),
        },
    };
    let csv_name = match &job.source {
        SourceConfig::Csv(c) => c.display.as_str(),
        SourceConfig::Ldap(_) => "",
    };
    let changes: std::collections::HashMap<usize, &[plan::Change]> = plan
        .operations
        .iter()
        .filter_map(|o| match o {
            Operation::Update { record, changes } | Operation::Reactivate { record, changes }
                if !changes.is_empty() =>
            {
                Some((*record, &changes[..]))
            }
            _ => None,
        })
        .collect();
    let only_attr = username_attribute(job);
    let missing = not_found(&req.only, &records, only_attr);
    let attr = only_attr.map_or("mail", |a| job.attributes[a].as_str());
    for address in &missing {
        tracing::warn!(%address, "No source record has this --only address.");
    }
    // Made again by each renderer as it writes them, never all held (a
    // million-person run's rows were a second copy of the run).
    let rows = {
        let (plan, changes, learnt, usernames) = (&plan, &changes, &learnt, &usernames);
        let (records, candidates, invalid) = (&records, &candidates, &invalid);
        let (by_record, invalid_by_record, normalizer) =
            (&by_record, &invalid_by_record, &normalizer);
        let (missing, attr) = (&missing, attr);
        move || {
            let rows = plan.decisions.iter().enumerate().map(move |(i, d)| {
            let who = match (by_record[i], invalid_by_record[i]) {
                (Some(ci), _) => (
                    Some(candidates[ci].username()),
                    Some(candidates[ci].email()),
                ),
                (None, Some(bi)) => (
                    invalid[bi].username.as_deref(),
                    invalid[bi].email.as_deref(),
                ),
                (None, None) => (None, None),
            };
            let mut r = row(d, &records[i], csv_name, who);
            // A create under a fallback username: the username used, and those refused.
            if let Some(tried) = learnt.username_tried(i, usernames, d) {
                r.username_tried = Some(tried.into_iter().map(Cow::Borrowed).collect());
            }
            if let Some(sent) = learnt.sent_as(i, usernames) {
                r.username = Some(Cow::Borrowed(sent));
            }
            if let Some(c) = changes.get(&i) {
                let c = report::Changes(Cow::Borrowed(*c));
                if r.message.is_none() {
                    r.message = Some(Cow::Owned(c.text()));
                }
                r.changes = Some(c);
            }
            if job.access.is_some() {
                r.access = plan.access.listed(i, d.outcome, req.dry_run);
                r.access_failed = plan.access.failed(i);
                if let Some(plan::access::Manager::Unknown(name)) =
                    plan.access.person(i).map(|p| &p.manager)
                    && matches!(d.outcome, Outcome::Create | Outcome::Created)
                {
                    let note = format!(
                        "no manager linked: no user {name} in the org or in this run (access.manager)"
                    );
                    r.message = Some(Cow::Owned(match r.message.take() {
                        Some(m) => format!("{m}; {note}"),
                        None => note,
                    }));
                }
            }
            // A dry run shows what a create would send, not only who.
            if let Some(ci) = by_record[i]
                && req.dry_run
                && d.outcome == Outcome::Create
            {
                let mut values: serde_json::Map<String, serde_json::Value> = normalizer
                    .fields(&candidates[ci], &records[i])
                    .map(|(name, v)| (name.to_owned(), v.into()))
                    .collect();
                // A create planned under a fallback sends that username.
                if let Some(chosen) = usernames.by_record.get(&i) {
                    values.insert("Username".into(), chosen.send.to_string().into());
                }
                r.values = serde_json::value::to_raw_value(&values)
                    .ok()
                    .map(report::Values);
            }
            r
        });
            rows.chain(plan.leavers.iter().map(leaver_row))
                .chain(missing.iter().map(move |&address| ReportUser {
                    outcome: Outcome::NotFound,
                    username: Some(Cow::Borrowed(address)),
                    email: None,
                    source: Cow::Borrowed("--only"),
                    salesforce_id: None,
                    error_code: None,
                    message: Some(Cow::Owned(format!(
                        "no source record has {attr} = {address}"
                    ))),
                    previous_email: None,
                    values: None,
                    changes: None,
                    access: None,
                    access_failed: false,
                    username_tried: None,
                }))
        }
    };
    let report = report::build_made(facts, rows, req.report_all);
    let exit_code = code.unwrap_or_else(|| report.exit_code());

    write_report(&report, req)?;
    if let Some(dir) = &req.results_dir {
        write_results(
            dir,
            &records,
            &plan,
            &attempted,
            &candidates,
            &by_record,
            &normalizer,
        )?;
    }
    let succeeded =
        !req.dry_run && req.only.is_empty() && matches!(exit_code, exit::OK | exit::NEEDS_PERSON);
    // What this run learnt about usernames is kept whatever the exit code.
    let refused = learnt.refused(&plan);
    if succeeded || !refused.is_empty() {
        let mut state: JobState = previous_state;
        if succeeded {
            state.last_source_records = Some(records.len() as u64);
            state.last_success_unix = Some(time::OffsetDateTime::now_utc().unix_timestamp());
        }
        state.refused_usernames.extend(refused);
        if let Err(e) = state::save_state(&job.safety.state_dir, &job.name, &state) {
            tracing::warn!(error = %e, "Could not save the job's state file.");
        }
    }
    log_summary(&report, exit_code);
    Ok(RunResult {
        report: report.without_users(),
        exit_code,
    })
}

/// A Salesforce error met while reading: the daily limit and the API
/// reserve are limits (exit 4), anything else is fatal (exit 1).
fn sf_error(e: crate::salesforce::SfError) -> Error {
    if matches!(e, crate::salesforce::SfError::ReserveReached { .. }) {
        return read_error(e);
    }
    match crate::salesforce::retry::classify_call(&e) {
        CallVerdict::Stop(StopReason::DailyLimit | StopReason::ApiReserve { .. }) => {
            Error::SafetyLimit(e.to_string())
        }
        _ => Error::Fatal(e.to_string()),
    }
}

async fn connect(job: &Job, credentials: Credentials) -> Result<Client, Error> {
    let limits = &job.limits;
    let client = Client::connect(
        &job.salesforce,
        credentials,
        ClientOptions {
            requests_per_second: limits.requests_per_second,
            concurrency: limits.concurrency,
            max_retries: limits.max_retries,
            timeout: std::time::Duration::from_secs(120),
            api_reserve: Some(limits.api_reserve),
        },
    )
    .await
    .map_err(|e| Error::Fatal(e.to_string()))?;
    // One budget gate in front of every call from here on, reads included.
    client.set_api_reserve(limits.api_reserve);
    Ok(client)
}

/// What the run reads from the org before planning.
struct Org {
    profile_id: Option<String>,
    /// Every user, with the match keys (and a mapped nickname) in `keys`.
    existing: Vec<SfUser>,
    /// The `[update] fields` of each user in `existing`, by position.
    fields: FieldTable,
    /// Active users inside `[leavers] scope`; `None`: no leaver pass (no
    /// `[leavers]`, or a `--only` run, which never acts on leavers).
    in_scope: Option<InScope>,
    api_user_id: Option<String>,
}

/// The org users a leaver pass considers.
enum InScope {
    /// No `[leavers] scope`: every active user (taken from the full read).
    AllActive,
    /// The active users the scope's own query returned.
    Queried(Vec<SfUser>),
}

/// The User query's key fields ([`SfUser::keys`]): the match keys, then
/// a mapped `CommunityNickname`.
fn user_query_fields(job: &Job) -> Vec<String> {
    let mut fields = job.match_keys.clone();
    // A mapped nickname is checked against the org's (SPEC "Collisions and sandboxes").
    if let Some(i) = job.field_index("CommunityNickname")
        && !fields
            .iter()
            .any(|f| f.eq_ignore_ascii_case("CommunityNickname"))
    {
        fields.push(job.fields[i].name.clone());
    }
    fields
}

async fn read_org(
    job: &Job,
    req: &RunRequest,
    client: &Client,
    login_username: Option<&str>,
) -> Result<Org, Error> {
    let profile_id = resolve_profile(job, client).await?;
    let (existing, fields) = client
        .query_users_with(
            &user_query_fields(job),
            job.update.as_ref().map_or(&[][..], |u| &u.fields[..]),
        )
        .await
        .map_err(sf_error)?;
    tracing::debug!(users = existing.len(), "Read the org's users.");
    let (in_scope, api_user_id) = match &job.leavers {
        Some(l) if req.only.is_empty() => {
            let in_scope = match &l.scope {
                Some(scope) => {
                    InScope::Queried(client.query_scope(scope, false).await.map_err(sf_error)?)
                }
                // Taken from `existing` once the planner is done with it, not
                // copied here: a million-user org would be held twice.
                None => InScope::AllActive,
            };
            let api = client
                .find_api_user_id(login_username)
                .await
                .map_err(sf_error)?;
            // No Id and no username to look up: the API user cannot be told
            // apart, so it could be deactivated. (A username the org does not
            // hold is no user to protect.)
            if api.is_none() && login_username.is_none() && l.action != LeaverAction::Report {
                return Err(Error::Fatal(
                    "cannot tell which user the API user is (the token answer had no identity URL and the flow has no username), so leavers cannot be acted on safely".into(),
                ));
            }
            (Some(in_scope), api)
        }
        _ => (None, None),
    };
    Ok(Org {
        profile_id,
        existing,
        fields,
        in_scope,
        api_user_id,
    })
}

/// What the planner is told besides the source and the org.
struct Known<'s> {
    /// `[access]` names resolved to Ids (`None` without `[access]`).
    access_ids: Option<plan::access::Resolved>,
    /// Usernames earlier runs learnt are held in another org.
    refused: &'s std::collections::BTreeSet<String>,
}

/// The pure planner and its lifecycle passes; the org's users are freed here
/// (before the update pass, which reads only their field values).
fn make_plan(
    job: &Job,
    normalizer: &Normalizer<'_>,
    records: &[SourceRecord],
    candidates: &[Candidate],
    invalid: &[Invalid],
    org: Org,
    known: Known<'_>,
) -> (Plan, plan::collide::UsernamePlan) {
    let Known {
        access_ids,
        refused,
    } = known;
    let opts = plan::PlanOptions {
        reactivate: job.leavers.as_ref().is_some_and(|l| l.reactivate),
    };
    let mut plan = plan::plan_with(
        records.len(),
        candidates,
        invalid,
        &org.existing,
        &job.match_keys,
        opts,
    );
    let usernames = collide(job, normalizer, records, candidates, refused)
        .map(|(others, rules)| {
            plan::collide::resolve(
                &mut plan,
                candidates,
                &org.existing,
                &job.match_keys,
                &others,
                &rules,
                opts,
            )
        })
        .unwrap_or_default();
    if let (Some(cfg), Some(resolved)) = (&job.access, access_ids) {
        plan::access::decide(
            &mut plan,
            plan::access::Inputs {
                config: cfg,
                resolved,
                candidates,
                existing: &org.existing,
                value: |r: usize, a: usize| records[r].value(a),
                manager: |r: usize| {
                    cfg.manager
                        .as_ref()?
                        .render(|a| records[r].value(a))
                        .map(|m| m.trim().to_lowercase())
                        .filter(|m| !m.is_empty())
                },
                sandbox: job.salesforce.sandbox.as_deref(),
            },
        );
    }
    if let (Some(l), Some(in_scope)) = (&job.leavers, &org.in_scope) {
        let scope = match in_scope {
            InScope::Queried(users) => plan::lifecycle::Scope::Listed(users),
            InScope::AllActive => plan::lifecycle::Scope::AllActive,
        };
        plan::lifecycle::add_leavers(
            &mut plan,
            &org.existing,
            scope,
            plan::lifecycle::LeaverSpec {
                action: l.action,
                protect: &l.protect,
                api_user_id: org.api_user_id.as_deref(),
            },
        );
    }
    // The updates need only the org's field values: its users go first,
    // and the changes take the memory they held.
    let Org {
        existing,
        in_scope,
        fields,
        ..
    } = org;
    drop((existing, in_scope));
    if let Some(u) = &job.update {
        let field_index: Vec<Option<usize>> = u.fields.iter().map(|f| job.field_index(f)).collect();
        plan::lifecycle::add_updates(
            &mut plan,
            &fields,
            plan::lifecycle::UpdateSpec {
                fields: &u.fields,
                clear_empty: u.clear_empty,
            },
            |r, j, out| {
                if let Some(i) = field_index[j] {
                    normalizer.push_value(i, &records[r], out);
                }
            },
        );
    }
    (plan, usernames)
}

/// The candidate-username pass's inputs (SPEC "Collisions and sandboxes"),
/// or `None` when the job has nothing for it to do (the common case: the
/// core plan is then final).
fn collide(
    job: &Job,
    normalizer: &Normalizer<'_>,
    records: &[SourceRecord],
    candidates: &[Candidate],
    refused: &std::collections::BTreeSet<String>,
) -> Option<(Vec<plan::collide::OtherUsernames>, plan::collide::Rules)> {
    let nicknames = nickname_slot(job).map(|slot| plan::collide::Nicknames {
        slot,
        source: candidates
            .iter()
            .map(|c| {
                let i = job.field_index("CommunityNickname")?;
                normalizer.value(i, &records[c.record]).map(Into::into)
            })
            .collect(),
    });
    let rules = plan::collide::Rules {
        sandbox: job.salesforce.sandbox.is_some(),
        refused: refused.iter().cloned().collect(),
        nicknames,
    };
    let others: Vec<plan::collide::OtherUsernames> =
        if job.collisions.is_some() || job.salesforce.sandbox.is_some() {
            candidates
                .iter()
                .map(|c| normalizer.other_usernames(c, &records[c.record]))
                .collect()
        } else {
            Vec::new()
        };
    rules.active(&others).then_some((others, rules))
}

/// Where `CommunityNickname` is among the fields the User query reads, when
/// the mapping sets it (then the plan checks it; otherwise it is not read).
fn nickname_slot(job: &Job) -> Option<usize> {
    job.field_index("CommunityNickname")?;
    user_query_fields(job)
        .iter()
        .position(|f| f.eq_ignore_ascii_case("CommunityNickname"))
}

/// Every guard on the plan (safety::check_plan): a dry run names the stop
/// a real run would hit.
fn guard(job: &Job, req: &RunRequest, source_records: u64, plan: &Plan) -> Result<(), String> {
    let previous = state::load_state(&job.safety.state_dir, &job.name);
    let acting = job
        .leavers
        .as_ref()
        .filter(|l| l.action != LeaverAction::Report && req.only.is_empty());
    crate::safety::check_plan(&crate::safety::PlanFacts {
        source_records,
        previous_source_records: previous.last_source_records,
        min_source_fraction: job.safety.min_source_fraction,
        only: !req.only.is_empty(),
        creates: plan.count(Outcome::Create),
        max_creates: req.max_creates.unwrap_or(job.limits.max_creates),
        updates: plan.count(Outcome::Update),
        max_updates: job.update.as_ref().map(|u| u.max_updates),
        leaver_writes: plan.count(Outcome::Deactivate) + plan.count(Outcome::Freeze),
        in_scope: plan.in_scope,
        leaver_limits: acting.map(|l| (l.max_deactivations, l.max_deactivation_fraction)),
    })
}

/// What the executor phase needs from the run.
struct Writes<'r> {
    client: &'r Client,
    job: &'r Job,
    normalizer: &'r Normalizer<'r>,
    records: &'r [SourceRecord],
    candidates: &'r [Candidate],
    by_record: &'r [Option<usize>],
    /// Creates with a choice of usernames (fallbacks, refusals remembered).
    usernames: &'r plan::collide::UsernamePlan,
}

/// What the writes taught the run, for the report and the state file.
#[derive(Debug, Default)]
struct Learnt {
    /// Per source record: usernames refused as held in another org this run,
    /// in order, and the username last sent (creates under fallbacks).
    tried: std::collections::HashMap<usize, (Vec<String>, Option<String>)>,
    /// Profiles whose licences ran out, with Salesforce's message.
    exhausted: Vec<(String, String)>,
}

impl Learnt {
    /// `username_tried` of record `r`: refused by earlier runs, then by this
    /// one, and the last username sent when it was refused too (`collision`).
    fn username_tried<'a>(
        &'a self,
        r: usize,
        usernames: &'a plan::collide::UsernamePlan,
        d: &Decision,
    ) -> Option<Vec<&'a str>> {
        let mut out: Vec<&str> = usernames
            .by_record
            .get(&r)
            .map(|c| c.tried.iter().map(|t| &**t).collect())
            .unwrap_or_default();
        if let Some(refused) = usernames.refused.get(&r) {
            out.extend(refused.iter().map(|t| &**t));
        }
        if let Some((tried, _)) = self.tried.get(&r) {
            out.extend(tried.iter().map(String::as_str));
        }
        if d.outcome == Outcome::Collision && d.error_code.as_deref() == Some("DUPLICATE_USERNAME")
        {
            let last = self
                .sent_as(r, usernames)
                .or_else(|| usernames.by_record.get(&r).map(|c| &*c.send));
            out.extend(last);
        }
        (!out.is_empty()).then_some(out)
    }

    /// The username record `r`'s create was last sent under, when it is not
    /// the mapped one.
    fn sent_as<'a>(
        &'a self,
        r: usize,
        usernames: &'a plan::collide::UsernamePlan,
    ) -> Option<&'a str> {
        self.tried
            .get(&r)
            .and_then(|(_, s)| s.as_deref())
            .or_else(|| usernames.by_record.get(&r).map(|c| &*c.send))
    }

    /// Usernames this run saw refused as held in another org (lower case).
    fn refused(&self, plan: &Plan) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (&r, (tried, last)) in &self.tried {
            out.extend(tried.iter().cloned());
            let d = &plan.decisions[r];
            if d.outcome == Outcome::Collision
                && d.error_code.as_deref() == Some("DUPLICATE_USERNAME")
            {
                out.extend(last.clone());
            }
        }
        out
    }
}

impl Writes<'_> {
    /// Runs the plan's operations phase by phase in SPEC's order (creates,
    /// updates, reactivations, leavers), each through the one runner. A stop
    /// leaves every later operation `not_attempted`.
    async fn execute(
        &self,
        plan: &mut Plan,
        cancel: watch::Receiver<u8>,
        learnt: &mut Learnt,
    ) -> Option<StopReason> {
        let opts = ExecuteOptions {
            batch_size: self.job.limits.batch_size,
            api_reserve: self.job.limits.api_reserve,
            match_keys: self.job.match_keys.clone(),
        };
        for phase in 0..=Operation::LAST_PHASE {
            let ops: Vec<usize> = (0..plan.operations.len())
                .filter(|&i| plan.operations[i].phase() == phase)
                .collect();
            if ops.is_empty() {
                continue;
            }
            let kind = kind_of(&plan.operations[ops[0]]);
            let items = match self.items(plan, &ops, kind).await {
                Ok(items) => items,
                Err(reason) => {
                    mark_from(plan, phase, &reason.to_string());
                    return Some(reason);
                }
            };
            // A create's fallback usernames, tried in later batches.
            let alternatives: Vec<Vec<String>> = items
                .iter()
                .map(|item| match plan.operations[item.key] {
                    Operation::Create { record } => self
                        .usernames
                        .by_record
                        .get(&record)
                        .map(|c| c.next.iter().map(|n| n.to_string()).collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                })
                .collect();
            let outcome = execute::run_with(
                self.client,
                kind,
                items,
                alternatives,
                &opts,
                cancel.clone(),
            )
            .await;
            learnt.exhausted.extend(outcome.exhausted.iter().cloned());
            for mut r in outcome.results {
                if plan.operations[r.key].is_access() {
                    apply_access_result(plan, r);
                    continue;
                }
                if let Operation::Create { record } = plan.operations[r.key] {
                    self.remember(record, &mut r, learnt);
                }
                apply_result(plan, r);
            }
            if let Some(reason) = outcome.stopped {
                mark_from(plan, phase + 1, &reason.to_string());
                return Some(reason);
            }
        }
        None
    }

    /// Keeps what a create learnt about its usernames, and says it in the
    /// result's message: the username used and the ones taken, or that none
    /// was left.
    fn remember(&self, record: usize, r: &mut execute::CreateResult, learnt: &mut Learnt) {
        let first = match self.usernames.by_record.get(&record) {
            Some(c) => Some(c.send.to_string()),
            None => self.by_record[record].map(|ci| self.candidates[ci].username().to_owned()),
        };
        let earlier: Vec<String> = self
            .usernames
            .by_record
            .get(&record)
            .map(|c| c.tried.iter().map(|t| t.to_string()).collect())
            .unwrap_or_default();
        let sent = r.sent_as.clone().or(first.clone());
        let mut taken: Vec<String> = earlier;
        taken.extend(r.tried.iter().cloned());
        match r.outcome {
            Outcome::Created if !taken.is_empty() => {
                r.message = Some(format!(
                    "created as {}; {} taken in another Salesforce org",
                    sent.as_deref().unwrap_or_default(),
                    taken.join(", ")
                ));
            }
            Outcome::Collision if r.error_code.as_deref() == Some("DUPLICATE_USERNAME") => {
                if let Some(s) = &sent {
                    taken.push(s.clone());
                }
                if taken.len() > 1 {
                    r.message = Some(format!(
                        "usernames {} taken in other Salesforce orgs; no fallback username left",
                        taken.join(", ")
                    ));
                }
                // Fallbacks the plan skipped (held in this org, shared): why none was tried.
                if let Some(note) = self
                    .usernames
                    .by_record
                    .get(&record)
                    .and_then(|c| c.note.as_deref())
                {
                    let said = r.message.take().unwrap_or_default();
                    r.message = Some(if said.is_empty() {
                        format!("fallback usernames skipped: {note}")
                    } else {
                        format!("{said}; fallback usernames skipped: {note}")
                    });
                }
            }
            _ => {}
        }
        if !r.tried.is_empty() || r.sent_as.is_some() || r.outcome == Outcome::Collision {
            learnt.tried.insert(
                record,
                (std::mem::take(&mut r.tried), r.sent_as.clone().or(first)),
            );
        }
    }

    /// A changed field's value as sent: `null` to clear, booleans of boolean
    /// fields as JSON booleans, everything else as text.
    fn wire_value(&self, c: &plan::Change) -> serde_json::Value {
        use serde_json::Value;
        let bool_field = self.job.field_index(&c.field).is_some_and(|i| {
            matches!(
                self.job.fields[i].default,
                Some(crate::job::DefaultValue::Bool(_))
            )
        });
        match c.to.as_deref() {
            None => Value::Null,
            Some(t) if bool_field && (t == "true" || t == "false") => Value::Bool(t == "true"),
            Some(t) => Value::String(t.to_owned()),
        }
    }

    /// The records to send for one phase's operations (`key`: the operation's index).
    async fn items(
        &self,
        plan: &mut Plan,
        ops: &[usize],
        kind: execute::Kind,
    ) -> Result<Vec<execute::WriteItem>, StopReason> {
        use serde_json::Value;
        let id_of = |plan: &Plan, op: &Operation| -> String {
            match op {
                Operation::Create { .. } => String::new(),
                Operation::Update { record, .. } | Operation::Reactivate { record, .. } => plan
                    .decisions[*record]
                    .salesforce_id
                    .as_deref()
                    .unwrap_or_default()
                    .to_owned(),
                Operation::Deactivate { leaver } | Operation::Freeze { leaver } => {
                    plan.leavers[*leaver].user.id.to_string()
                }
                Operation::LinkManager { record, .. }
                | Operation::AssignPermissionSet { record, .. }
                | Operation::AddToGroup { record, .. } => {
                    access_user_id(plan, *record).unwrap_or_default().to_owned()
                }
            }
        };
        // A freeze PATCHes the user's UserLogin record: find each one's Id first.
        let mut logins: std::collections::HashMap<String, String> = Default::default();
        if kind == execute::Kind::Freeze {
            let ids: Vec<String> = ops
                .iter()
                .map(|&k| id_of(plan, &plan.operations[k]))
                .collect();
            let found = self
                .client
                .read_by_ids("UserLogin", "UserId", &[], &ids)
                .await
                .map_err(|e| match crate::salesforce::retry::classify_call(&e) {
                    CallVerdict::Stop(
                        r @ (StopReason::DailyLimit | StopReason::ApiReserve { .. }),
                    ) => r,
                    _ => StopReason::Fatal(format!(
                        "could not read the leavers' UserLogin records: {e}"
                    )),
                })?;
            for r in found {
                if let (Some(Value::String(user)), Some(Value::String(id))) =
                    (r.get("UserId"), r.get("Id"))
                {
                    logins.insert(user.get(..15).unwrap_or(user).to_owned(), id.clone());
                }
            }
        }
        let mut items = Vec::with_capacity(ops.len());
        for &key in ops {
            let op = plan.operations[key].clone();
            let id = id_of(plan, &op);
            let item = match &op {
                Operation::Create { record } => {
                    let c = &self.candidates
                        [self.by_record[*record].expect("a create has a candidate")];
                    // The first username to send: the mapped one unless the plan skipped it.
                    let username = self
                        .usernames
                        .by_record
                        .get(record)
                        .map_or(c.username(), |chosen| &*chosen.send);
                    let fields = self.normalizer.fields(c, &self.records[*record]).map(
                        |(name, v)| match name {
                            "Username" => (name, normalize::Sent::Text(Cow::Borrowed(username))),
                            _ => (name, v),
                        },
                    );
                    let extra = plan.access.create_fields(*record);
                    execute::WriteItem {
                        key,
                        check: username.to_owned(),
                        profile_id: extra
                            .profile_id
                            .map(str::to_owned)
                            .or_else(|| self.normalizer.profile_id(&self.records[*record])),
                        record: execute::user_record(create_fields(self.job, fields, extra)),
                    }
                }
                Operation::LinkManager { manager, .. } => {
                    let manager_id = access_user_id(plan, *manager).map(str::to_owned);
                    let (true, Some(manager_id)) = (!id.is_empty(), manager_id) else {
                        // The person or the manager was not created: nothing to link.
                        skip_access(plan, &op, id.is_empty());
                        continue;
                    };
                    execute::WriteItem {
                        key,
                        check: id.clone(),
                        profile_id: None,
                        record: execute::user_record([
                            ("Id", Value::String(id.clone())),
                            ("ManagerId", Value::String(manager_id)),
                        ]),
                    }
                }
                Operation::AssignPermissionSet { target, .. }
                | Operation::AddToGroup { target, .. } => {
                    if id.is_empty() {
                        skip_access(plan, &op, true);
                        continue;
                    }
                    let t = &plan.access.resolved.targets[*target as usize];
                    let target_id = Value::String(t.id.clone());
                    let user = Value::String(id.clone());
                    let record = match t.kind {
                        plan::access::GrantKind::PermissionSet => execute::sobject_record(
                            "PermissionSetAssignment",
                            [("AssigneeId", user), ("PermissionSetId", target_id)],
                        ),
                        plan::access::GrantKind::PermissionSetGroup => execute::sobject_record(
                            "PermissionSetAssignment",
                            [("AssigneeId", user), ("PermissionSetGroupId", target_id)],
                        ),
                        plan::access::GrantKind::Group => execute::sobject_record(
                            "GroupMember",
                            [("GroupId", target_id), ("UserOrGroupId", user)],
                        ),
                    };
                    execute::WriteItem {
                        key,
                        check: id.clone(),
                        profile_id: None,
                        record,
                    }
                }
                Operation::Update { changes, .. } | Operation::Reactivate { changes, .. } => {
                    let active = matches!(op, Operation::Reactivate { .. })
                        .then(|| ("IsActive", Value::Bool(true)));
                    let fields = std::iter::once(("Id", Value::String(id.clone())))
                        .chain(active)
                        .chain(changes.iter().map(|c| (&*c.field, self.wire_value(c))));
                    let profile_id = match &op {
                        Operation::Reactivate { record, .. } => {
                            self.normalizer.profile_id(&self.records[*record])
                        }
                        _ => None,
                    };
                    execute::WriteItem {
                        key,
                        check: id.clone(),
                        profile_id,
                        record: execute::user_record(fields),
                    }
                }
                Operation::Deactivate { .. } => execute::WriteItem {
                    key,
                    check: id.clone(),
                    profile_id: None,
                    record: execute::user_record([
                        ("Id", Value::String(id.clone())),
                        ("IsActive", Value::Bool(false)),
                    ]),
                },
                Operation::Freeze { leaver } => {
                    let Some(login) = logins.get(id.get(..15).unwrap_or(&id)) else {
                        let d = &mut plan.leavers[*leaver].decision;
                        d.outcome = Outcome::Failed;
                        d.error_code = Some("NO_USER_LOGIN".into());
                        d.message = Some("Salesforce has no UserLogin record for this user, so it cannot be frozen".into());
                        continue;
                    };
                    execute::WriteItem {
                        key,
                        check: login.clone(),
                        profile_id: None,
                        record: execute::sobject_record(
                            "UserLogin",
                            [
                                ("Id", Value::String(login.clone())),
                                ("IsFrozen", Value::Bool(true)),
                            ],
                        ),
                    }
                }
            };
            items.push(item);
        }
        Ok(items)
    }
}

fn kind_of(op: &Operation) -> execute::Kind {
    match op {
        Operation::Create { .. } => execute::Kind::Create,
        Operation::Update { .. } => execute::Kind::Update,
        Operation::Reactivate { .. } => execute::Kind::Reactivate,
        Operation::Deactivate { .. } => execute::Kind::Deactivate,
        Operation::Freeze { .. } => execute::Kind::Freeze,
        Operation::LinkManager { .. } => execute::Kind::LinkManager,
        Operation::AssignPermissionSet { .. } => execute::Kind::AssignPermissionSet,
        Operation::AddToGroup { .. } => execute::Kind::AddToGroup,
    }
}

/// A create record's fields: the job's, with `[access]`'s profile, role and
/// manager (replacing a mapped value of the same field, else added).
fn create_fields<'a>(
    job: &Job,
    fields: impl Iterator<Item = (&'a str, crate::normalize::Sent<'a>)>,
    extra: plan::access::CreateFields<'a>,
) -> impl Iterator<Item = (&'a str, crate::normalize::Sent<'a>)> {
    use crate::normalize::Sent;
    let text = |v: &'a str| Sent::Text(Cow::Borrowed(v));
    let ours = [
        ("ProfileId", extra.profile_id),
        ("UserRoleId", extra.role_id),
        ("ManagerId", extra.manager_id),
    ];
    let added: Vec<(&'a str, Sent<'a>)> = ours
        .iter()
        .filter(|(name, v)| v.is_some() && job.field_index(name).is_none())
        .map(|(name, v)| (*name, text(v.expect("filtered"))))
        .collect();
    fields
        .map(
            move |(name, v)| match ours.iter().find(|(n, _)| *n == name) {
                Some((_, Some(id))) => (name, text(id)),
                _ => (name, v),
            },
        )
        .chain(added)
}

/// The Salesforce Id of the user a source record's access acts on, when
/// that user exists now (created by this run, or matched and not refused).
fn access_user_id(plan: &Plan, record: usize) -> Option<&str> {
    let d = &plan.decisions[record];
    let ok = matches!(
        d.outcome,
        Outcome::Created
            | Outcome::Unchanged
            | Outcome::EmailChangeSkipped
            | Outcome::Update
            | Outcome::Updated
            | Outcome::Reactivate
            | Outcome::Reactivated
    );
    d.salesforce_id.as_deref().filter(|id| ok && !id.is_empty())
}

/// An access write that cannot be sent: its person was not created (nothing
/// to say: the person's outcome says why), or a manager created in this run
/// was not (said on the person).
fn skip_access(plan: &mut Plan, op: &Operation, person_missing: bool) {
    match *op {
        Operation::AssignPermissionSet { record, target }
        | Operation::AddToGroup { record, target } => {
            plan.access
                .set_fate(record, target, plan::access::Fate::Skipped);
        }
        Operation::LinkManager { record, manager } if !person_missing => {
            let who = plan.decisions[manager].outcome;
            let d = &mut plan.decisions[record];
            d.message = Some(
                format!(
                    "no manager linked: the manager's record was not created ({})",
                    who.as_str()
                )
                .into(),
            );
        }
        _ => {}
    }
}

/// An access write's result: the person keeps their outcome; a refusal puts
/// Salesforce's code and message on the person and counts as `access_failed`.
fn apply_access_result(plan: &mut Plan, r: execute::CreateResult) {
    let op = plan.operations[r.key].clone();
    let (record, what) = match op {
        Operation::AssignPermissionSet { record, target }
        | Operation::AddToGroup { record, target } => {
            let t = &plan.access.resolved.targets[target as usize];
            let what = format!("{}:{}", t.kind.prefix(), t.name);
            let fate = match r.outcome {
                Outcome::Created => plan::access::Fate::Granted,
                Outcome::NotAttempted => plan::access::Fate::Planned,
                _ => plan::access::Fate::Failed,
            };
            plan.access.set_fate(record, target, fate);
            (record, what)
        }
        Operation::LinkManager { record, .. } => (record, "the manager link".to_owned()),
        _ => return,
    };
    if matches!(r.outcome, Outcome::Created | Outcome::NotAttempted) {
        return;
    }
    plan.access.mark_failed(record);
    let d = &mut plan.decisions[record];
    let said = r.message.unwrap_or_default();
    let line = format!("access not granted: {what}: {said}");
    d.error_code = r.error_code.map(Into::into).or(d.error_code.take());
    d.message = Some(match d.message.take() {
        Some(before) => format!("{before}; {line}").into(),
        None => line.into(),
    });
}

/// The decision an operation acts for.
fn decision_mut(plan: &mut Plan, op: usize) -> &mut Decision {
    match plan.operations[op] {
        Operation::Create { record }
        | Operation::Update { record, .. }
        | Operation::Reactivate { record, .. }
        | Operation::LinkManager { record, .. }
        | Operation::AssignPermissionSet { record, .. }
        | Operation::AddToGroup { record, .. } => &mut plan.decisions[record],
        Operation::Deactivate { leaver } | Operation::Freeze { leaver } => {
            &mut plan.leavers[leaver].decision
        }
    }
}

fn apply_result(plan: &mut Plan, r: execute::CreateResult) {
    let create = matches!(plan.operations[r.key], Operation::Create { .. });
    let d = decision_mut(plan, r.key);
    d.outcome = r.outcome;
    // Only a create learns its Id from the answer; the others act on a known user.
    if create {
        d.salesforce_id = r.salesforce_id.map(Into::into);
    }
    d.error_code = r.error_code.map(Into::into);
    if r.message.is_some() || create {
        d.message = r.message.map(Into::into);
    }
}

/// Marks every operation of `phase` and later as `outcome` (a stop before them).
fn mark_from(plan: &mut Plan, phase: u8, why: &str) {
    for op in 0..plan.operations.len() {
        // An access write not reached leaves its person as they are.
        if plan.operations[op].phase() >= phase && !plan.operations[op].is_access() {
            let d = decision_mut(plan, op);
            d.outcome = Outcome::NotAttempted;
            d.message = Some(why.into());
        }
    }
}

fn mark_operations(plan: &mut Plan, outcome: Outcome, why: &str) {
    for op in 0..plan.operations.len() {
        if plan.operations[op].is_access() {
            continue;
        }
        let d = decision_mut(plan, op);
        d.outcome = outcome;
        d.message = Some(why.into());
    }
}

/// A leaver's report line: the org's username, e-mail and Id; no source.
fn leaver_row(l: &plan::Leaver) -> ReportUser<'_> {
    let d = &l.decision;
    ReportUser {
        outcome: d.outcome,
        username: Some(Cow::Borrowed(&*l.user.username)),
        email: l.user.email.as_deref().map(Cow::Borrowed),
        source: Cow::Borrowed(""),
        salesforce_id: Some(Cow::Borrowed(&*l.user.id)),
        error_code: d.error_code.as_deref().map(Cow::Borrowed),
        message: Some(Cow::Borrowed(l.message())),
        previous_email: None,
        values: None,
        changes: None,
        access: None,
        access_failed: false,
        username_tried: None,
    }
}

/// The records, and the LDAP continuation references skipped (for the report).
async fn read_source(
    job: &Job,
    only: &[String],
    ldap_password: Option<&crate::job::Secret>,
    progress: &crate::progress::ReadProgress,
) -> Result<(Vec<SourceRecord>, Vec<String>), Error> {
    let only_attr = username_attribute(job);
    match &job.source {
        SourceConfig::Csv(cfg) => {
            let (cfg, attrs, only) = (cfg.clone(), job.attributes.clone(), only.to_vec());
            let needed: Vec<Option<String>> = job
                .required_attributes()
                .into_iter()
                .map(|f| f.map(str::to_owned))
                .collect();
            tokio::task::spawn_blocking(move || {
                let needed: Vec<Option<&str>> = needed.iter().map(Option::as_deref).collect();
                source::csv::read_checked(&cfg, &attrs, &needed, &only, only_attr)
            })
            .await
            .map_err(|e| Error::Fatal(format!("the CSV reader failed: {e}")))?
            .map(|records| (records, Vec::new()))
            .map_err(Error::from)
        }
        SourceConfig::Ldap(cfg) => {
            let wanted = source::ldap::Wanted {
                names: &job.attributes,
                kinds: &job.attribute_kinds,
            };
            let result = if only.is_empty() {
                source::ldap::read_all_showing(cfg, ldap_password, wanted, Some(progress)).await
            } else {
                let attr = only_attr.map_or("mail", |i| job.attributes[i].as_str());
                source::ldap::read_only(cfg, ldap_password, wanted, attr, only).await
            };
            result
                .map(|read| (read.records, read.references))
                .map_err(Error::from)
        }
    }
}

/// The `--only` addresses (trimmed, first spelling kept, each once) that no
/// record's `attr` value equals, ignoring case.
fn not_found<'a>(
    only: &'a [String],
    records: &[SourceRecord],
    attr: Option<usize>,
) -> Vec<&'a str> {
    let Some(attr) = attr.filter(|_| !only.is_empty()) else {
        return Vec::new();
    };
    let present: std::collections::HashSet<String> = records
        .iter()
        .filter_map(|r| r.value(attr))
        .map(str::to_lowercase)
        .collect();
    let mut seen = std::collections::HashSet::new();
    only.iter()
        .map(|m| m.trim())
        .filter(|m| {
            let m = m.to_lowercase();
            !present.contains(&m) && seen.insert(m)
        })
        .collect()
}

/// Asks the org's describe (one call) whether every field the job sends
/// exists and can be set on create; a refused one is a job error (exit 2),
/// found before anything is written.
pub(crate) async fn check_fields_with_org(job: &Job, client: &Client) -> Result<(), Error> {
    let described = client.describe_user_fields().await.map_err(read_error)?;
    let keys = job.field_keys();
    let refused = crate::salesforce::user_fields::refused_by_org(
        keys.iter().map(|(k, n)| (k.as_str(), *n)),
        &described,
    );
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "job file {}: the org refuses {} of its fields (sobjects/User/describe); nothing was written:\n  - {}",
        job.path.display(),
        refused.len(),
        refused.join("\n  - ")
    )))
}

/// `--report`, the extra reports, `--metrics-file` and `--results-dir`,
/// checked writable (exit 2 naming the flag and path when not).
fn check_outputs(req: &RunRequest) -> Result<(), Error> {
    use report::write::{check_file_target, check_folder_target};
    let files = req
        .report
        .iter()
        .map(|p| ("--report", p))
        .chain(req.extra_reports.iter().map(|(p, _)| ("report", p)))
        .chain(req.metrics_file.iter().map(|p| ("--metrics-file", p)));
    for (flag, path) in files {
        check_file_target(path).map_err(|why| {
            Error::Usage(format!(
                "{flag} {}: {why}; nothing was contacted or written",
                path.display()
            ))
        })?;
    }
    if let Some(dir) = &req.results_dir {
        check_folder_target(dir).map_err(|why| {
            Error::Usage(format!(
                "--results-dir {}: {why}; nothing was contacted or written",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// Runs `work` unless the run is interrupted first (SIGINT/SIGTERM), which
/// ends it at once as a fatal error naming what was being done.
async fn unless_interrupted<T>(
    cancel: &mut watch::Receiver<u8>,
    what: &str,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let interrupted = async {
        if cancel.wait_for(|n| *n > 0).await.is_err() {
            // No one can interrupt any more: never fire.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = work => result,
        () = interrupted => Err(Error::Fatal(format!(
            "interrupted while {what}; nothing was written"
        ))),
    }
}

/// A failed Salesforce read: the API reserve reached is a safety stop (exit
/// 4), anything else fatal (exit 1).
fn read_error(e: crate::salesforce::SfError) -> Error {
    match e {
        crate::salesforce::SfError::ReserveReached { .. } => Error::SafetyLimit(e.to_string()),
        e => Error::Fatal(e.to_string()),
    }
}

/// The source attribute behind `Username` (`mail` in `{mail|lower}`): what `--only` filters on.
pub fn username_attribute(job: &Job) -> Option<usize> {
    let i = job.field_index("Username")?;
    job.fields[i].template.as_ref()?.attributes().next()
}

/// `[access]` names to Ids (one query per kind); an unknown name is a job
/// error (exit 2), found before anything is written.
async fn resolve_access(
    job: &Job,
    cfg: &crate::job::access::AccessConfig,
    client: &Client,
) -> Result<plan::access::Resolved, Error> {
    use super::access::ResolveError;
    match super::access::resolve(cfg, client).await {
        Ok(r) => Ok(r),
        Err(ResolveError::Salesforce(e)) => Err(sf_error(e)),
        Err(ResolveError::Unknown(problems)) => Err(Error::Usage(format!(
            "job file {}: {} name{} in [access] the org does not have; nothing was written:\n  - {}",
            job.path.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  - ")
        ))),
    }
}

/// What the matched users the plan grants to already hold (one query per kind).
async fn read_held_access(
    client: &Client,
    plan: &Plan,
) -> Result<std::collections::HashSet<(String, String)>, Error> {
    let users = plan::access::matched_users_to_read(plan);
    super::access::read_held(client, &plan.access.resolved.targets, &users)
        .await
        .map_err(sf_error)
}

async fn resolve_profile(job: &Job, client: &Client) -> Result<Option<String>, Error> {
    let Some(name) = job.fields.iter().find_map(|f| match &f.default {
        Some(DefaultValue::ProfileName(n)) => Some(n.clone()),
        _ => None,
    }) else {
        return Ok(None);
    };
    let ids = client
        .profile_ids_by_name(std::slice::from_ref(&name))
        .await
        .map_err(sf_error)?;
    match ids.get(&name) {
        Some(id) => Ok(Some(id.clone())),
        None => Err(Error::Fatal(format!(
            "the org has no profile named \"{name}\" (defaults.Profile in {}); check the name in Setup > Profiles",
            job.path.display()
        ))),
    }
}

/// Normalizes every record, in record order. Big sources are cut into one
/// slice per core and normalized on scoped threads (normalizing is pure; a
/// million records take about a second on one core, see BENCHMARKS.md).
pub fn normalize_all(
    n: &Normalizer<'_>,
    records: &[SourceRecord],
) -> (Vec<Candidate>, Vec<Invalid>) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    normalize_on(n, records, cores)
}

/// [`normalize_all`] on at most `cores` threads (tests choose, so the
/// threaded path runs whatever machine they run on).
pub(crate) fn normalize_on(
    n: &Normalizer<'_>,
    records: &[SourceRecord],
    cores: usize,
) -> (Vec<Candidate>, Vec<Invalid>) {
    /// Below this, a thread costs more than it saves.
    const PER_THREAD: usize = 20_000;
    let threads = cores.min(records.len().div_ceil(PER_THREAD)).max(1);
    let chunk = records.len().div_ceil(threads).max(1);
    let slice = |start: usize, part: &[SourceRecord]| {
        let mut candidates = Vec::with_capacity(part.len());
        let mut invalid = Vec::new();
        let mut scratch = Scratch::default();
        for (i, r) in part.iter().enumerate() {
            match n.normalize_with(&mut scratch, start + i, r) {
                Normalized::Candidate(c) => candidates.push(c),
                Normalized::Invalid(bad) => invalid.push(bad),
            }
        }
        (candidates, invalid)
    };
    if threads == 1 {
        return slice(0, records);
    }
    let parts: Vec<(Vec<Candidate>, Vec<Invalid>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .enumerate()
            .map(|(k, part)| scope.spawn(move || slice(k * chunk, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut candidates = Vec::with_capacity(records.len());
    let mut invalid = Vec::new();
    for (c, bad) in parts {
        candidates.extend(c);
        invalid.extend(bad);
    }
    (candidates, invalid)
}

fn index_candidates(records: usize, candidates: &[Candidate]) -> Vec<Option<usize>> {
    let mut by_record = vec![None; records];
    for (ci, c) in candidates.iter().enumerate() {
        by_record[c.record] = Some(ci);
    }
    by_record
}

fn index_invalid(records: usize, invalid: &[Invalid]) -> Vec<Option<usize>> {
    let mut by_record = vec![None; records];
    for (bi, b) in invalid.iter().enumerate() {
        by_record[b.record] = Some(bi);
    }
    by_record
}

/// One report line: the decision, where the record came from, and who it
/// is. It borrows all of them; only a CSV record's `FILE:LINE` and a message
/// joined with the record's note are made anew.
fn row<'a>(
    d: &'a Decision,
    record: &'a SourceRecord,
    csv_name: &str,
    (username, email): (Option<&'a str>, Option<&'a str>),
) -> ReportUser<'a> {
    let message = match (d.message.as_deref(), record.note.as_deref()) {
        (Some(m), Some(note)) => Some(Cow::Owned(format!("{m} ({note})"))),
        (m, note) => m.or(note).map(Cow::Borrowed),
    };
    ReportUser {
        outcome: d.outcome,
        username: username.map(Cow::Borrowed),
        email: email.map(Cow::Borrowed),
        source: record.origin_text(csv_name),
        salesforce_id: d.salesforce_id.as_deref().map(Cow::Borrowed),
        error_code: d.error_code.as_deref().map(Cow::Borrowed),
        message,
        previous_email: d.previous_email.as_deref().map(Cow::Borrowed),
        values: None,
        changes: None,
        access: None,
        access_failed: false,
        username_tried: None,
    }
}

fn describe_source(job: &Job) -> String {
    match &job.source {
        SourceConfig::Csv(c) => format!("csv {}", c.path.display()),
        SourceConfig::Ldap(l) => format!("ldap {} {} {}", l.url, l.base_dn, l.filter),
    }
}

/// The format for a report file: `--format`, else the file's extension, else JSON.
pub fn format_for(path: Option<&Path>, format: Option<ReportFormat>) -> ReportFormat {
    if let Some(f) = format {
        return f;
    }
    let ext = path
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match (path, ext.as_deref()) {
        (None, _) => ReportFormat::Table,
        (_, Some("csv")) => ReportFormat::Csv,
        (_, Some("html" | "htm")) => ReportFormat::Html,
        (_, Some("md" | "markdown")) => ReportFormat::Md,
        (_, Some("txt")) => ReportFormat::Table,
        _ => ReportFormat::Json,
    }
}

pub fn render(
    report: &Report<'_>,
    format: ReportFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        ReportFormat::Table => out.write_all(report::table::render(report).as_bytes()),
        ReportFormat::Json => report::json::render(report, out),
        ReportFormat::Csv => report::csv::render(report, out),
        ReportFormat::Html => report::html::render(report, &mut { out }),
        ReportFormat::Md => out.write_all(report::md::render(report).as_bytes()),
    }
}

fn write_report(report: &Report<'_>, req: &RunRequest) -> Result<(), Error> {
    let format = format_for(req.report.as_deref(), req.format);
    match &req.report {
        Some(path) => {
            write_report_file(report, path, format)?;
            if req.print_table {
                print_stdout(report, ReportFormat::Table)?;
            }
        }
        None => print_stdout(report, format)?,
    }
    for (path, format) in &req.extra_reports {
        write_report_file(report, path, *format)?;
    }
    Ok(())
}

fn write_report_file(report: &Report<'_>, path: &Path, format: ReportFormat) -> Result<(), Error> {
    report::write::atomic(path, |w| render(report, format, w))
        .map_err(|e| Error::Fatal(format!("cannot write the report {}: {e}", path.display())))?;
    tracing::debug!(path = %path.display(), "Wrote the report.");
    Ok(())
}

fn print_stdout(report: &Report<'_>, format: ReportFormat) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match render(report, format, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`sfsync plan ... | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Fatal(format!("cannot write to stdout: {e}"))),
    }
}

/// Data Loader style `success.csv` / `error.csv` for the records this run sent.
fn write_results(
    dir: &Path,
    records: &[SourceRecord],
    plan: &Plan,
    attempted: &[usize],
    candidates: &[Candidate],
    by_record: &[Option<usize>],
    normalizer: &Normalizer<'_>,
) -> Result<(), Error> {
    let fields: Vec<Vec<(String, serde_json::Value)>> = attempted
        .iter()
        .map(|&r| {
            let c = &candidates[by_record[r].expect("attempted records are candidates")];
            normalizer
                .fields(c, &records[r])
                .map(|(name, v)| (name.to_owned(), v.into()))
                .collect()
        })
        .collect();
    let attempted_records: Vec<report::results::AttemptedRecord<'_>> = attempted
        .iter()
        .zip(&fields)
        .filter(|(r, _)| plan.decisions[**r].outcome != Outcome::NotAttempted)
        .map(|(&r, fields)| {
            let d = &plan.decisions[r];
            report::results::AttemptedRecord {
                fields,
                outcome: d.outcome,
                salesforce_id: d.salesforce_id.as_deref(),
                error_code: d.error_code.as_deref(),
                message: d.message.as_deref(),
                error_fields: &[],
            }
        })
        .collect();
    report::results::write(dir, &attempted_records).map_err(|e| {
        Error::Fatal(format!(
            "cannot write the result files in {}: {e}",
            dir.display()
        ))
    })
}

fn log_summary(report: &Report<'_>, code: u8) {
    let s = &report.summary;
    let what = if report.dry_run { "Planned" } else { "Synced" };
    let line = format!(
        "{what} job {}: {} source records, {} to create, {} created, {} unchanged, {} need a person, {} API calls.",
        report.job,
        s.source_records,
        s.create,
        s.created,
        s.unchanged,
        s.needs_person(),
        s.api_calls
    );
    match code {
        exit::OK => tracing::info!(exit_code = code, "{line}"),
        exit::NEEDS_PERSON => tracing::warn!(exit_code = code, "{line}"),
        _ => tracing::error!(
            exit_code = code,
            stopped = report.context.stopped.as_deref().unwrap_or(""),
            "{line}"
        ),
    }
}

//! Planner benchmark (issue 7, target 1): 1,000,000 source candidates against
//! 1,000,000 existing users, half of the candidates matching, in <= 1.0 s.
//!
//! Inputs are generated here at bench time from the demo job's mapping
//! (`jobs/demo.toml`); nothing big is committed. Before timing, the bench
//! prints how many bytes each candidate and each Salesforce user holds
//! (resident-memory growth while building them, and their payload).
//!
//! `cargo bench --bench planner` measures at full size;
//! `SFSYNC_BENCH_SMOKE=1 cargo bench --bench planner -- --test` runs it once
//! on 1,000 records (CI).

use std::time::Duration;

#[path = "support/common.rs"]
mod common;
use common::{GIVEN, SURNAMES, ascii, demo_job, median_of, rss, smoke};

use criterion::{Criterion, Throughput};
use sfsync::commands::run::normalize_all;
use sfsync::job::Job;
use sfsync::normalize::{Candidate, Normalizer};

use sfsync::job::LeaverAction;
use sfsync::plan::{PlanOptions, lifecycle, plan, plan_with};
use sfsync::report::Outcome;
use sfsync::salesforce::{FieldTable, SfUser};
use sfsync::source::{RecordBuilder, SourceRecord};

const TITLES: [&str; 4] = [
    "Account Executive",
    "Software Engineer",
    "VP Sales",
    "Support Specialist",
];

/// Person `i` as the directory has them; the values line up with `job.attributes`.
fn person(job: &Job, i: usize) -> SourceRecord {
    let given = GIVEN[i % GIVEN.len()];
    let sn = SURNAMES[(i / GIVEN.len()) % SURNAMES.len()];
    let value = |attr: &str| -> Option<Box<str>> {
        Some(match attr {
            "uid" => format!("{}{}{i}", &given[..1], sn).to_lowercase().into(),
            "givenname" => given.into(),
            "sn" => sn.into(),
            "mail" => format!("{}.{}.{i}@Example.com", ascii(given), ascii(sn)).into(),
            "employeenumber" => (100_000 + i).to_string().into(),
            "title" => TITLES[i % TITLES.len()].into(),
            _ => return None,
        })
    };
    let mut record = RecordBuilder::default();
    record.start("");
    for a in &job.attributes {
        record.push(value(a).as_deref());
    }
    record.finish(i as u32 + 2, None, None)
}

/// The org: `n` users. User `j < n/2` is source person `2j` (so half the
/// candidates match), mostly unchanged; a few carry an old e-mail or are
/// inactive, and a few hold the username of a new person under another
/// FederationIdentifier. Users `j >= n/2` are not in the source.
fn org(candidates: &[Candidate], n: usize) -> Vec<SfUser> {
    (0..n)
        .map(|j| {
            let id: Box<str> = format!("005{j:012}AAA").into();
            if j < n / 2 {
                let c = &candidates[2 * j];
                // FederationIdentifier is the job's first match key.
                let fed = c.key(0).map(Box::from);
                let mut email: Box<str> = c.email().into();
                let mut username: Box<str> = c.username().into();
                let mut active = true;
                match j % 100 {
                    1 => email = format!("old.{email}").into(),
                    2 => active = false,
                    3 => {
                        // Holds new person 2j+1's username as someone else.
                        username = candidates[2 * j + 1].username().into();
                        email = username.clone();
                        return SfUser {
                            id,
                            keys: Box::new([
                                Some(format!("other{j}").into()),
                                Some(username.clone()),
                            ]),
                            username,
                            email: Some(email),
                            is_active: true,
                        };
                    }
                    _ => {}
                }
                if j % 100 == 4 {
                    username = format!("renamed.{username}").into();
                }
                SfUser {
                    id,
                    keys: Box::new([fed, Some(username.clone())]),
                    username,
                    email: Some(email),
                    is_active: active,
                }
            } else {
                let username: Box<str> = format!("former.{j}@example.com").into();
                SfUser {
                    id,
                    keys: Box::new([Some(format!("former{j}").into()), Some(username.clone())]),
                    username: username.clone(),
                    email: Some(username),
                    is_active: j % 3 != 0,
                }
            }
        })
        .collect()
}

fn text_bytes(v: &[Option<Box<str>>]) -> usize {
    v.iter().flatten().map(|s| s.len()).sum()
}

fn bench(c: &mut Criterion) {
    let n = if smoke() { 1_000 } else { 1_000_000 };
    let job = demo_job();
    assert_eq!(job.match_keys, ["FederationIdentifier", "Username"]);
    let normalizer = Normalizer::new(&job, Some("00e90000001aV2oAAE"));

    let records: Vec<SourceRecord> = (0..n).map(|i| person(&job, i)).collect();
    let before = rss();
    let (candidates, invalid) = normalize_all(&normalizer, &records);
    let after_candidates = rss();
    assert!(invalid.is_empty(), "{:?}", invalid.first());
    let existing = org(&candidates, n);
    let after_org = rss();

    let payload_c: usize = candidates.iter().map(Candidate::payload_bytes).sum();
    let payload_u: usize = existing
        .iter()
        .map(|u| {
            size_of::<SfUser>()
                + u.id.len()
                + u.username.len()
                + u.email.as_deref().map_or(0, str::len)
                + size_of_val(&*u.keys)
                + text_bytes(&u.keys)
        })
        .sum();
    eprintln!(
        "memory: candidate {} B resident ({} B payload), Salesforce user {} B resident ({} B payload), over {n} each",
        (after_candidates.saturating_sub(before)) / n as u64,
        payload_c / n,
        (after_org.saturating_sub(after_candidates)) / n as u64,
        payload_u / n,
    );

    let p = plan(n, &candidates, &invalid, &existing, &job.match_keys);
    let count = |o: Outcome| p.decisions.iter().filter(|d| d.outcome == o).count();
    let creates = count(Outcome::Create);
    eprintln!(
        "plan: {} create, {} unchanged, {} email change, {} inactive, {} collision",
        creates,
        count(Outcome::Unchanged),
        count(Outcome::EmailChangeSkipped),
        count(Outcome::Inactive),
        count(Outcome::Collision),
    );
    // Half the candidates match: every odd person is new (or blocked by a holder).
    assert_eq!(creates + count(Outcome::Collision), n / 2 + n / 200);

    let runs = if smoke() { 1 } else { 5 };
    let (plain, _) = median_of(&format!("plan {n} x {n}"), runs, || {
        plan(n, &candidates, &invalid, &existing, &job.match_keys)
    });

    // Issue 15: the same plan with `[update]` of 8 fields and leavers on
    // (action = report, the whole org in scope), measured in the same run.
    let fields: Vec<String> = [
        "FirstName",
        "LastName",
        "Alias",
        "EmployeeNumber",
        "Title",
        "TimeZoneSidKey",
        "LocaleSidKey",
        "LanguageLocaleKey",
    ]
    .map(String::from)
    .to_vec();
    let index: Vec<Option<usize>> = fields.iter().map(|f| job.field_index(f)).collect();
    assert!(index.iter().all(Option::is_some));
    // The org's values of those fields, read with the users (a column by
    // user position, as `sfsync` reads them).
    let mut org_fields = FieldTable::new(fields.len());
    for j in 0..n {
        org_fields.push(index.iter().enumerate().map(|(k, i)| {
            if j >= n / 2 {
                return None;
            }
            // One mover in fifty has a new title.
            if k == 4 && j % 50 == 5 {
                return Some("Old title".to_owned());
            }
            normalizer.value(i.unwrap(), &records[2 * j])
        }));
    }
    eprintln!(
        "memory: the org's 8 update fields {} B per user (payload)",
        org_fields.payload_bytes() / n
    );
    let lifecycle = || {
        let mut p = plan_with(
            n,
            &candidates,
            &invalid,
            &existing,
            &job.match_keys,
            PlanOptions { reactivate: true },
        );
        lifecycle::add_updates(
            &mut p,
            &org_fields,
            lifecycle::UpdateSpec {
                fields: &fields,
                clear_empty: false,
            },
            |r, k, out| {
                if let Some(i) = index[k] {
                    normalizer.push_value(i, &records[r], out);
                }
            },
        );
        lifecycle::add_leavers(
            &mut p,
            &existing,
            lifecycle::Scope::AllActive,
            lifecycle::LeaverSpec {
                action: LeaverAction::Report,
                protect: &[],
                api_user_id: None,
            },
        );
        p
    };
    let p = lifecycle();
    let updates = p
        .decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Update)
        .count();
    eprintln!(
        "lifecycle plan: {} update, {} reactivate, {} leaver",
        updates,
        p.count(Outcome::Reactivate),
        p.leavers.len()
    );
    assert!(updates > 0 && !p.leavers.is_empty());
    drop(p);
    let (with_lifecycle, _) = median_of(
        &format!("plan {n} x {n} with [update] of 8 fields and leavers"),
        runs,
        lifecycle,
    );
    eprintln!(
        "lifecycle / plain: {:.2}x (target <= 1.5x)",
        with_lifecycle / plain
    );

    let mut group = c.benchmark_group("planner");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if smoke() { 1 } else { 15 }));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("plan {n} candidates x {n} users"), |b| {
        b.iter_with_large_drop(|| plan(n, &candidates, &invalid, &existing, &job.match_keys))
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}

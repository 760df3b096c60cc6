//! Integration tests: the reports people read (HTML, Markdown, Data Loader files).
//!
//! The HTML page is snapshot-tested as text and then opened in a real browser
//! (Debian's chromium, headless): its DOM after the page's script ran must show
//! the counts, keep hostile values as text, and cope with 100,000 rows.
//! Without chromium these tests fail and say how to install it: a browser test
//! that silently skips proves nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sfsync::report::results::{self, AttemptedRecord};
use sfsync::report::{Outcome, Report, ReportContext, ReportUser, Summary, html, md};

// ---------------------------------------------------------------- sample data

fn user(outcome: Outcome, username: &str, source: &str) -> ReportUser<'static> {
    ReportUser {
        outcome,
        username: Some(username.to_owned().into()),
        email: Some(username.to_owned().into()),
        source: source.to_owned().into(),
        salesforce_id: None,
        error_code: None,
        message: None,
        previous_email: None,
        values: None,
        changes: None,
        access: None,
        access_failed: false,
        username_tried: None,
    }
}

fn dn(uid: &str) -> String {
    format!("uid={uid},ou=people,dc=example,dc=com")
}

/// A dry run over a directory of 140 people, with one or more of every
/// outcome a person has to act on.
fn sample_users() -> Vec<ReportUser<'static>> {
    let mut users = vec![
        ReportUser {
            error_code: Some("DUPLICATE_USERNAME".into()),
            message: Some(
                "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations."
                    .into(),
            ),
            ..user(Outcome::Collision, "grace.hopper@example.com", &dn("ghopper"))
        },
        ReportUser {
            salesforce_id: Some("005Hs00000A1b2cIAB".into()),
            message: Some(
                "held in this org by 005Hs00000A1b2cIAB, matched to FederationIdentifier ahopper".into(),
            ),
            ..user(Outcome::Collision, "a.hopper@example.com", &dn("ahopper2"))
        },
        ReportUser {
            username: None,
            email: None,
            error_code: Some("REQUIRED_FIELD_MISSING".into()),
            message: Some("Username: required, but mail is empty and no default is set".into()),
            ..user(Outcome::Invalid, "", &dn("jdoe"))
        },
        ReportUser {
            error_code: Some("INVALID_EMAIL_ADDRESS".into()),
            message: Some("Email: \"linus at example.com\" is not a valid address".into()),
            email: Some("linus at example.com".into()),
            ..user(Outcome::Invalid, "linus@example.com", &dn("ltorvalds"))
        },
        ReportUser {
            message: Some("3 records map to this username".into()),
            ..user(Outcome::DuplicateInSource, "j.smith@example.com", &dn("jsmith"))
        },
        ReportUser {
            message: Some("2 records map to this username".into()),
            ..user(Outcome::DuplicateInSource, "m.jones@example.com", &dn("mjones"))
        },
        ReportUser {
            message: Some("3 records map to this username".into()),
            ..user(Outcome::DuplicateInSource, "J.Smith@example.com", &dn("jsmith2"))
        },
        ReportUser {
            message: Some("2 records map to this username".into()),
            ..user(Outcome::DuplicateInSource, "m.jones@example.com", &dn("mjones-old"))
        },
        ReportUser {
            message: Some("3 records map to this username".into()),
            ..user(Outcome::DuplicateInSource, "j.smith@example.com", &dn("john.smith"))
        },
        ReportUser {
            error_code: Some("STRING_TOO_LONG".into()),
            message: Some("Alias: data value too large: katherin (max length=8)".into()),
            ..user(Outcome::Failed, "katherine.johnson@example.com", &dn("kjohnson"))
        },
        ReportUser {
            previous_email: Some("barbara.liskov@oldcorp.example".into()),
            salesforce_id: Some("005Hs00000B7xYzIAJ".into()),
            ..user(Outcome::EmailChangeSkipped, "barbara.liskov@example.com", &dn("bliskov"))
        },
        ReportUser {
            salesforce_id: Some("005Hs00000C3dEfIAA".into()),
            ..user(Outcome::Inactive, "dennis.ritchie@example.com", &dn("dritchie"))
        },
    ];
    for name in [
        "ada.lovelace",
        "alan.turing",
        "edsger.dijkstra",
        "frances.allen",
        "ken.thompson",
    ] {
        let uid = name.replace('.', "");
        users.push(user(
            Outcome::Create,
            &format!("{name}@example.com"),
            &dn(&uid),
        ));
    }
    users
}

fn report_of(users: Vec<ReportUser<'static>>, unchanged: u64) -> Report<'static> {
    let mut summary = Summary::default();
    for u in &users {
        summary.add(u.outcome);
    }
    summary.unchanged = unchanged;
    summary.source_records = users.len() as u64 + unchanged;
    summary.salesforce_users = 131;
    summary.api_calls = 4;
    Report {
        report_version: 1,
        job: "nightly".into(),
        dry_run: true,
        started_at: "2026-11-28T02:00:00Z".into(),
        finished_at: "2026-11-28T02:00:41Z".into(),
        summary,
        users: users.into(),
        context: ReportContext {
            source: "ldap ldaps://ldap.example.com ou=people,dc=example,dc=com".into(),
            salesforce: "https://example.my.salesforce.com".into(),
            api_remaining: Some(14_873),
            api_max: Some(15_000),
            stopped: None,
            ..ReportContext::default()
        },
        list_all: false,
    }
}

fn sample_report() -> Report<'static> {
    report_of(sample_users(), 123)
}

/// Values that would run as code if any renderer let them through as markup.
const SCRIPT_IN_DATA: &str = "</script><script>document.title='pwned'</script><!--";
const IMG_IN_NAME: &str = "<img src=x onerror=\"document.title='pwned'\">@example.com";

fn hostile_report() -> Report<'static> {
    let mut users = sample_users();
    users.push(ReportUser {
        error_code: Some("UNKNOWN_EXCEPTION".into()),
        message: Some(SCRIPT_IN_DATA.into()),
        ..user(Outcome::Failed, IMG_IN_NAME, "people.csv:7")
    });
    users.push(ReportUser {
        message: Some("<script>document.title='pwned'</script>".into()),
        ..user(Outcome::Invalid, "mallory@example.com", "<!--people.csv:8")
    });
    report_of(users, 123)
}

fn render_html(report: &Report<'_>) -> String {
    let mut out = Vec::new();
    html::render(report, &mut out).expect("rendering to memory cannot fail");
    String::from_utf8(out).expect("the page is UTF-8")
}

// ---------------------------------------------------------------- pure checks

#[test]
fn html_report_snapshot() {
    // Given a realistic dry run, when rendered, then the page is as reviewed.
    insta::assert_snapshot!(render_html(&sample_report()));
}

#[test]
fn html_report_fetches_nothing() {
    let page = render_html(&hostile_report());
    for forbidden in ["src=", "<link", "url(", "@import", "<iframe", "<object"] {
        // The hostile value is data, escaped: it appears only as `src=x` inside escaped text.
        let outside_data = page.replace("&lt;img src=x", "");
        let outside_data = outside_data.replace("\\u003cimg src=x", "");
        assert!(
            !outside_data.contains(forbidden),
            "page contains {forbidden}"
        );
    }
    for (at, _) in page.match_indices("href=\"") {
        assert!(
            page[at + 6..].starts_with('#'),
            "a link leaves the page: {}",
            &page[at..at + 40]
        );
    }
}

#[test]
fn html_report_escapes_every_value() {
    let page = render_html(&hostile_report());
    // Exactly our two script elements: the JSON data and the code.
    assert_eq!(page.matches("<script").count(), 2, "{page}");
    assert!(!page.contains("<img"));
    assert!(page.contains(
        "&lt;/script&gt;&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;!--"
    ));
    assert!(page.contains(
        "&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;@example.com"
    ));
    // Inside the JSON block no value can close the element or open a comment.
    let data = &page[page.find("id=\"sfsync-data\">").unwrap()..];
    let data = &data[..data.find("</script>").unwrap()];
    assert!(!data[1..].contains('<'), "raw < inside the data block");
}

#[test]
fn html_report_puts_needs_a_person_first_and_groups_duplicates() {
    let page = render_html(&sample_report());
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let order = [
        "id=\"section-collision\"",
        "id=\"section-invalid\"",
        "id=\"section-duplicate_in_source\"",
        "id=\"section-failed\"",
        "id=\"section-email_change_skipped\"",
        "id=\"section-create\"",
        "id=\"section-inactive\"",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{} should come before {}",
            pair[0],
            pair[1]
        );
    }
    // The unchanged users were not listed: no empty section, a note instead.
    assert!(!page.contains("id=\"section-unchanged\""));
    assert!(page.contains("(not listed; <code>--report-all</code> lists them)"));

    // Duplicates: each group's members are adjacent, case-insensitively.
    let section = &page[at("id=\"section-duplicate_in_source\"")..at("id=\"section-failed\"")];
    let names: Vec<String> = section
        .split("<tr")
        .skip(2) // text before the first row, then the header row
        .map(|row| {
            row.split("<td>")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    assert_eq!(
        names,
        [
            "j.smith@example.com",
            "j.smith@example.com",
            "j.smith@example.com",
            "m.jones@example.com",
            "m.jones@example.com"
        ]
    );
    assert_eq!(section.matches("class=\"group-start\"").count(), 1);
    // Another-org collisions carry the hint; the in-org one does not.
    let collisions = &page[at("id=\"section-collision\"")..at("id=\"section-invalid\"")];
    assert_eq!(
        collisions
            .matches("choose a different username.</span>")
            .count(),
        1
    );
}

#[test]
fn markdown_report_snapshot() {
    insta::assert_snapshot!(md::render(&hostile_report()));
}

#[test]
fn result_files_snapshot() {
    // Given what a real run sent and what Salesforce answered.
    let ada = vec![
        (
            "Username".to_owned(),
            serde_json::json!("ada.lovelace@example.com"),
        ),
        ("LastName".to_owned(), serde_json::json!("Lovelace")),
        (
            "UserPermissionsMarketingUser".to_owned(),
            serde_json::json!(false),
        ),
    ];
    let grace = vec![
        (
            "Username".to_owned(),
            serde_json::json!("grace.hopper@example.com"),
        ),
        (
            "LastName".to_owned(),
            serde_json::json!("Hopper, \"Amazing\""),
        ),
        (
            "UserPermissionsMarketingUser".to_owned(),
            serde_json::json!(false),
        ),
    ];
    let username = vec!["Username".to_owned()];
    let records = [
        AttemptedRecord {
            fields: &ada,
            outcome: Outcome::Created,
            salesforce_id: Some("005Hs00000D9aBcIAF"),
            error_code: None,
            message: None,
            error_fields: &[],
        },
        AttemptedRecord {
            fields: &grace,
            outcome: Outcome::Collision,
            salesforce_id: None,
            error_code: Some("DUPLICATE_USERNAME"),
            message: Some(
                "Duplicate Username.<br>The username already exists in this or another Salesforce organization.",
            ),
            error_fields: &username,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    // When written, then both files read as Data Loader's do.
    results::write(dir.path(), &records).unwrap();
    let success = std::fs::read_to_string(dir.path().join(results::SUCCESS_FILE)).unwrap();
    let error = std::fs::read_to_string(dir.path().join(results::ERROR_FILE)).unwrap();
    insta::assert_snapshot!(format!("--- success.csv\n{success}--- error.csv\n{error}"));
}

// ---------------------------------------------------------------- in a browser

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser: `SFSYNC_CHROMIUM` or Debian's package.
fn chromium() -> PathBuf {
    let path =
        std::env::var_os("SFSYNC_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        path.exists(),
        "chromium not found at {}: run `.ci/install-chromium` (CI installs it) to run the HTML report's browser tests",
        path.display()
    );
    path
}

/// Runs headless chromium on `url` with `extra` arguments and returns its stdout.
/// The watchdog only stops a hung browser; no test asserts on time.
fn run_chromium(url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-extensions",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish with {url}; stderr:\n{}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap().expect("chromium's output is UTF-8");
    let stderr = err.join().unwrap();
    assert!(
        status.success(),
        "chromium failed ({status}) on {url}:\n{stderr}"
    );
    stdout
}

fn write_page(dir: &Path, report: &Report<'_>) -> PathBuf {
    let path = dir.join("report.html");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    html::render(report, &mut file).unwrap();
    drop(file);
    path
}

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

#[test]
fn browser_shows_counts_and_keeps_hostile_values_as_text() {
    // Given the sample report with script-shaped values in it.
    let dir = tempfile::tempdir().unwrap();
    let report = hostile_report();
    let page = write_page(dir.path(), &report);

    // When chromium loads it and its script has run.
    let dom = run_chromium(&file_url(&page), &["--dump-dom"]);

    // Then every count shows (`not_found` only in `--only` runs that missed
    // someone, lifecycle outcomes only when they happened), the tables were
    // drawn by the script...
    for outcome in Outcome::ALL {
        if outcome.is_optional_in_summaries() && report.summary.count(outcome) == 0 {
            assert!(!dom.contains(&format!("id=\"count-{}\"", outcome.as_str())));
            continue;
        }
        let cell = format!(
            "id=\"count-{}\">{}<",
            outcome.as_str(),
            report.summary.count(outcome)
        );
        assert!(dom.contains(&cell), "{cell} missing from the page");
    }
    assert!(
        dom.contains(&format!(
            "<strong>{}</strong> records need a person",
            report.summary.needs_person()
        )),
        "{dom}"
    );
    assert_eq!(
        dom.matches("data-rendered=\"script\"").count(),
        7,
        "every listed section is scripted"
    );
    assert!(dom.contains("Rows 1–5 of 5"), "duplicates status missing");
    assert!(dom.contains("<dd id=\"fact-api-left\">14,873 of 15,000</dd>"));
    // ...and the hostile values are text: the title is untouched and no element came from data.
    assert!(
        dom.contains("<title>sfsync dry run: nightly</title>"),
        "title changed:\n{dom}"
    );
    assert!(!dom.contains("pwned</title>"));
    assert!(
        !dom.contains("<img"),
        "an <img> element was created from data"
    );
    assert_eq!(
        dom.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert!(
        dom.contains(
            "<td>&lt;/script&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;!--</td>"
        ),
        "{dom}"
    );
    assert!(
        dom.contains("<td>&lt;img src=x onerror=\"document.title='pwned'\"&gt;@example.com</td>")
    );
    assert!(dom.contains("<td>&lt;!--people.csv:8</td>"));
}

#[test]
fn browser_screenshot_of_the_sample_report() {
    let dir = tempfile::tempdir().unwrap();
    let page = write_page(dir.path(), &sample_report());
    let shot = dir.path().join("report.png");
    run_chromium(
        &file_url(&page),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1280, 1600));
    // A blank page compresses to a few KB; the report's text and chart do not.
    assert!(
        png.len() > 30_000,
        "screenshot looks empty ({} bytes)",
        png.len()
    );
    // `SFSYNC_UPDATE_SCREENSHOT=1` refreshes the README's picture: the top of
    // the same page, shorter so the committed PNG stays small.
    if std::env::var_os("SFSYNC_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        run_chromium(
            &file_url(&page),
            &[
                &format!("--screenshot={}", docs.display()),
                "--window-size=1280,1000",
                "--hide-scrollbars",
            ],
        );
    }
}

#[test]
fn browser_opens_and_filters_100_000_rows() {
    // Given a migration-sized report: 100,000 people to create, three collisions.
    const ROWS: usize = 100_000;
    let mut users: Vec<ReportUser<'static>> = (0..ROWS)
        .map(|i| {
            user(
                Outcome::Create,
                &format!("person{i:06}@example.com"),
                &format!("uid=person{i:06},ou=people,dc=example,dc=com"),
            )
        })
        .collect();
    for i in 0..3 {
        users.push(ReportUser {
            error_code: Some("DUPLICATE_USERNAME".into()),
            message: Some("Duplicate Username.".into()),
            ..user(
                Outcome::Collision,
                &format!("taken{i}@example.com"),
                &format!("people.csv:{i}"),
            )
        });
    }
    let report = report_of(users, 0);
    let dir = tempfile::tempdir().unwrap();
    let page = write_page(dir.path(), &report);

    // The file stays a few MB (`-- --nocapture` prints the figure).
    let size = std::fs::metadata(&page).unwrap().len();
    eprintln!("HTML report of {ROWS} rows: {size} bytes");
    assert!(size < 8_000_000, "100,000 rows took {size} bytes");
    // Without scripts a reader still gets the first rows as plain HTML and a note.
    let text = std::fs::read_to_string(&page).unwrap();
    let create = &text[text.find("id=\"section-create\"").unwrap()..];
    let create = &create[..create.find("</section>").unwrap()];
    assert_eq!(create.matches("<tr>").count(), html::FALLBACK_ROWS + 1);
    assert!(create.contains("Showing the first 100 of 100,000 rows."));

    // When opened with a filter for the very last person.
    let dom = run_chromium(
        &format!("{}#q=person099999%40", file_url(&page)),
        &["--dump-dom"],
    );

    // Then the script parsed every row and the filter found exactly that one.
    assert!(dom.contains("id=\"count-create\">100,000<"));
    assert!(
        dom.contains("Rows 1–1 of 1 matching (filtered from 100,000)"),
        "filter status missing"
    );
    assert!(dom.contains("<td>person099999@example.com</td>"));
    assert!(
        !dom.contains("<td>person000000@example.com</td>"),
        "the filter did not apply"
    );
    assert!(
        dom.contains("No matching rows (of 3)"),
        "collisions not filtered"
    );

    // When opened sorted by username, descending, on page 2.
    let dom = run_chromium(
        &format!("{}#sort=-username&page=2", file_url(&page)),
        &["--dump-dom"],
    );

    // Then page 2 starts 100 rows below the last person.
    assert!(
        dom.contains("Rows 101–200 of 100,000"),
        "paging status missing"
    );
    let body = &dom[dom.find("id=\"section-create\"").unwrap()..];
    let first = body
        .split("<td>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_eq!(first, "person099899@example.com");
    assert!(body.contains("aria-sort=\"descending\""));
}

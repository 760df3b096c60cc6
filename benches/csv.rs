//! CSV benchmark (issue 7, target 6): >= 1,000,000 rows/s read from a file,
//! parsed and normalized into candidates.
//!
//! The file is generated at bench time in a temporary folder with the columns
//! of `samples/people.csv` and the demo job's mapping (`jobs/demo.toml`);
//! nothing big is committed. Three measurements: reading alone
//! (`source::csv::read`), normalizing alone (`normalize_all`), and both, the
//! path `sfsync plan` takes. Before timing, the bench prints the bytes each
//! source record holds.
//!
//! `cargo bench --bench csv` measures 1,000,000 rows;
//! `SFSYNC_BENCH_SMOKE=1 cargo bench --bench csv -- --test` runs once on 1,000 (CI).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

#[path = "support/common.rs"]
mod common;
use common::{GIVEN, SURNAMES, ascii, demo_job, median_of, rss, smoke};

use criterion::{Criterion, Throughput};
use sfsync::commands::run::normalize_all;
use sfsync::job::CsvSource;
use sfsync::normalize::Normalizer;
use sfsync::source::SourceRecord;

const TITLES: [&str; 5] = [
    "Account Executive",
    "Software Engineer",
    "VP Sales",
    "Support Specialist",
    "\"Head, Customer Success\"",
];

/// A people export like `samples/people.csv`, `n` rows; returns the file size.
fn write_csv(path: &Path, n: usize) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "uid,givenName,sn,mail,employeeNumber,title,departmentNumber"
    )
    .unwrap();
    for i in 0..n {
        let given = GIVEN[i % GIVEN.len()];
        let sn = SURNAMES[(i / GIVEN.len()) % SURNAMES.len()];
        let initial = &given[..1];
        writeln!(
            out,
            "{}{}{i},{given},{sn},{}.{}.{i}@Example.com,{},{},{}",
            initial.to_lowercase(),
            sn.to_lowercase(),
            ascii(given),
            ascii(sn),
            100_000 + i,
            TITLES[i % TITLES.len()],
            100 + (i % 37) * 10,
        )
        .unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn bench(c: &mut Criterion) {
    let n = if smoke() { 1_000 } else { 1_000_000 };
    let job = demo_job();
    let normalizer = Normalizer::new(&job, Some("00e90000001aV2oAAE"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = CsvSource {
        path: dir.path().join("people.csv"),
        display: "people.csv".into(),
        delimiter: b',',
        encoding: None,
    };
    let size = write_csv(&cfg.path, n);
    let read = || sfsync::source::csv::read(&cfg, &job.attributes, &[], None).unwrap();

    let before = rss();
    let records = read();
    let after = rss();
    assert_eq!(records.len(), n);
    let payload: usize = records.iter().map(SourceRecord::payload_bytes).sum();
    eprintln!(
        "file: {n} rows, {size} bytes; memory: source record {} B resident ({} B payload)",
        after.saturating_sub(before) / n as u64,
        payload / n,
    );
    let (candidates, invalid) = normalize_all(&normalizer, &records);
    assert_eq!((candidates.len(), invalid.len()), (n, 0));
    assert_eq!(candidates[0].username(), "michael.johnson.0@example.com");
    // Normalized on several threads, still in record order.
    assert!(candidates.iter().enumerate().all(|(i, c)| c.record == i));
    drop((candidates, invalid));

    let runs = if smoke() { 1 } else { 5 };
    median_of(&format!("read {n} rows"), runs, read);
    median_of(&format!("normalize {n} rows"), runs, || {
        normalize_all(&normalizer, &records)
    });
    median_of(&format!("read and normalize {n} rows"), runs, || {
        let records = read();
        let normalized = normalize_all(&normalizer, &records);
        (records, normalized)
    });

    let mut group = c.benchmark_group("csv");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if smoke() { 1 } else { 15 }));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("read {n} rows"), |b| b.iter_with_large_drop(read));
    group.bench_function(format!("normalize {n} rows"), |b| {
        b.iter_with_large_drop(|| normalize_all(&normalizer, &records))
    });
    group.bench_function(format!("read and normalize {n} rows"), |b| {
        b.iter_with_large_drop(|| {
            let records = read();
            let normalized = normalize_all(&normalizer, &records);
            (records, normalized)
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}

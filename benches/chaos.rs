//! Issue 16's chaos schedules in any number: the same schedules and checks
//! as `tests/integration/chaos.rs` (one module, `support/chaos.rs`), with a
//! bigger population (20-400 people) and the totals printed at the end.
//!
//!   cargo bench --bench chaos -- --schedules 1000            # the note's figure
//!   cargo bench --bench chaos -- --schedules 50 --seed 7 --parallel 4
//!   SFSYNC_BENCH_SMOKE=1 cargo bench --bench chaos -- --test # CI smoke: 2 schedules
//!
//! Exits 1 when any schedule found a problem (each printed with the seed
//! that replays it: `SFSYNC_CHAOS_SEED=<seed> cargo test --test integration chaos`
//! replays it with the test's population bounds; `--seed <seed> --schedules 1`
//! here with these).

#[path = "../tests/integration/support/chaos.rs"]
mod chaos;

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1)?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} {v}: expected a number")),
    )
}

fn main() {
    let smoke =
        std::env::var_os("SFSYNC_BENCH_SMOKE").is_some() || std::env::args().any(|a| a == "--test");
    let count = arg("--schedules").unwrap_or(if smoke { 2 } else { 100 });
    let seed = arg("--seed").unwrap_or(1);
    let parallel = arg("--parallel").unwrap_or(4) as usize;
    let (min, max) = if smoke { (20, 40) } else { (20, 400) };
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_sfsync"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let (totals, failures) = rt.block_on(chaos::run_many(seed, count, parallel, min, max, bin));
    println!(
        "chaos: {count} schedules from seed {seed}, {min}-{max} people, {parallel} at a time, in {:.0?}",
        started.elapsed()
    );
    println!("chaos totals: {totals}");
    if !failures.is_empty() || totals.problems() > 0 {
        eprintln!("{} schedule(s) failed", failures.len());
        std::process::exit(1);
    }
}

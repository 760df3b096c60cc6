//! The seeded fault plan: which API request meets which fault, and how much
//! latency it gets.
//!
//! Every decision is a pure function of the seed and the request's position
//! among API requests (arrival order), hashed with SplitMix64. So a run is
//! replayed exactly by the same seed and the same request sequence, without
//! any shared RNG state to contend on.

use std::time::Duration;

use serde::Serialize;

/// A fault the emulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FaultKind {
    /// 503 `SERVER_UNAVAILABLE` "Server too busy"; nothing processed.
    ServerUnavailable,
    /// 429 with `Retry-After`; nothing processed.
    TooManyRequests,
    /// The connection is closed before the request is processed; nothing committed.
    Dropped,
    /// Some records of a collection create or update fail with `UNABLE_TO_LOCK_ROW`
    /// (200 OK); a single create or PATCH answers 500 `UNABLE_TO_LOCK_ROW`.
    LockRow,
    /// The writes (creates or updates) are committed, then the connection is closed with no answer.
    LostAnswer,
}

impl FaultKind {
    /// Name used on the command line (`--faults`).
    pub fn cli_name(self) -> &'static str {
        match self {
            FaultKind::ServerUnavailable => "503",
            FaultKind::TooManyRequests => "429",
            FaultKind::Dropped => "drop",
            FaultKind::LockRow => "lock",
            FaultKind::LostAnswer => "lost",
        }
    }

    pub fn from_cli_name(s: &str) -> Option<FaultKind> {
        [
            FaultKind::ServerUnavailable,
            FaultKind::TooManyRequests,
            FaultKind::Dropped,
            FaultKind::LockRow,
            FaultKind::LostAnswer,
        ]
        .into_iter()
        .find(|k| k.cli_name() == s)
    }
}

/// The knobs, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    /// Base latency added to every API request.
    pub latency: Duration,
    /// Fraction of API requests that meet one of `kinds`.
    pub fault_rate: f64,
    /// The kinds `fault_rate` draws from (uniformly). `LostAnswer` here behaves
    /// like `lost_answer_rate` but shares the fault budget.
    pub kinds: Vec<FaultKind>,
    /// Fraction of create calls whose answer is lost after committing.
    pub lost_answer_rate: f64,
    /// `Retry-After` seconds on 429.
    pub retry_after_secs: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            seed: 1,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            kinds: vec![
                FaultKind::ServerUnavailable,
                FaultKind::TooManyRequests,
                FaultKind::Dropped,
                FaultKind::LockRow,
            ],
            lost_answer_rate: 0.0,
            retry_after_secs: 1,
        }
    }
}

/// What happens to one API request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub latency: Duration,
    pub fault: Option<FaultKind>,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) for (seed, request, stream).
fn unit(seed: u64, n: u64, stream: u64) -> f64 {
    let h = splitmix64(seed ^ splitmix64(n.wrapping_mul(8).wrapping_add(stream)));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultPlan {
    /// The decision for the `n`-th API request. `is_create` says whether the
    /// request is a write (a create or a PATCH: the only kinds that can lose
    /// their answer or meet lock errors).
    pub fn decide(&self, n: u64, is_create: bool) -> Decision {
        let latency = if self.latency.is_zero() {
            Duration::ZERO
        } else {
            // Up to ±20% jitter around the configured latency.
            let jitter = (unit(self.seed, n, 0) * 0.4) - 0.2;
            self.latency.mul_f64(1.0 + jitter)
        };
        let applicable: Vec<FaultKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| is_create || !matches!(k, FaultKind::LockRow | FaultKind::LostAnswer))
            .collect();
        let mut fault = None;
        if !applicable.is_empty() && unit(self.seed, n, 1) < self.fault_rate {
            let i = (unit(self.seed, n, 2) * applicable.len() as f64) as usize;
            fault = Some(applicable[i.min(applicable.len() - 1)]);
        }
        if fault.is_none() && is_create && unit(self.seed, n, 3) < self.lost_answer_rate {
            fault = Some(FaultKind::LostAnswer);
        }
        Decision { latency, fault }
    }

    /// Whether record `i` of the `n`-th request is one of the locked rows.
    /// At least the first record is locked so the fault is always visible.
    pub fn record_locked(&self, n: u64, i: usize) -> bool {
        i == 0 || unit(self.seed, n, 4 + i as u64) < 0.3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions_other_seed_other_decisions() {
        let plan = FaultPlan {
            fault_rate: 0.3,
            lost_answer_rate: 0.1,
            latency: Duration::from_millis(10),
            ..FaultPlan::default()
        };
        let a: Vec<_> = (0..500).map(|n| plan.decide(n, n % 2 == 0)).collect();
        let b: Vec<_> = (0..500).map(|n| plan.decide(n, n % 2 == 0)).collect();
        assert_eq!(a, b);
        let other = FaultPlan {
            seed: 2,
            ..plan.clone()
        };
        let c: Vec<_> = (0..500).map(|n| other.decide(n, n % 2 == 0)).collect();
        assert_ne!(a, c);
        let faults = a.iter().filter(|d| d.fault.is_some()).count();
        assert!(
            (100..250).contains(&faults),
            "{faults} faults in 500 at rate 0.3 (+0.1 lost on half)"
        );
        assert!(a.iter().all(
            |d| d.latency >= Duration::from_millis(8) && d.latency <= Duration::from_millis(12)
        ));
    }

    #[test]
    fn non_creates_never_meet_create_only_faults() {
        let plan = FaultPlan {
            fault_rate: 1.0,
            lost_answer_rate: 1.0,
            kinds: vec![FaultKind::LockRow],
            ..FaultPlan::default()
        };
        assert!((0..100).all(|n| plan.decide(n, false).fault.is_none()));
        assert!((0..100).all(|n| plan.decide(n, true).fault == Some(FaultKind::LockRow)));
    }

    #[test]
    fn zero_rates_inject_nothing() {
        let plan = FaultPlan::default();
        assert!((0..1000).all(|n| plan.decide(n, true)
            == Decision {
                latency: Duration::ZERO,
                fault: None
            }));
    }
}

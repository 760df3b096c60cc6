//! Pacing for every HTTP call to Salesforce: one governor limiter (at most R
//! calls per second) and one semaphore (at most `concurrency` in flight).
//!
//! The limiter allows a burst of one: a bucket that starts full with R tokens
//! would let R calls out at once and then R more within the same second, which
//! breaks "at most R per second" in the very first window. With burst 1 the
//! calls are spaced 1/R apart, so any 1-second window holds at most R (+1 at
//! its closed edges). The permit is taken first and the rate token second, so
//! calls waiting for a slot cannot bank tokens and then leave together.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shared by every clone of a client: token, query and create calls alike.
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
    /// The current in-flight cap (the semaphore's size, after any lowering).
    concurrency: AtomicUsize,
}

/// One admitted call: hold it until the answer has been read in full.
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// The quota behind `requests_per_second`: one call every 1/R seconds, no burst.
pub fn quota(requests_per_second: f64) -> Quota {
    // Job validation keeps R positive; the floor guards a zero or NaN from elsewhere.
    let rps = if requests_per_second.is_finite() && requests_per_second > 0.0 {
        requests_per_second
    } else {
        0.001
    };
    let period = Duration::from_secs_f64(1.0 / rps).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(NonZeroU32::MIN)
}

impl Pacer {
    pub fn new(requests_per_second: f64, concurrency: usize) -> Pacer {
        let concurrency = concurrency.max(1);
        Pacer {
            limiter: RateLimiter::direct(quota(requests_per_second)),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency: AtomicUsize::new(concurrency),
        }
    }

    /// Waits for a free slot, then for the rate limiter.
    pub async fn admit(&self) -> Admission {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the pacer's semaphore is never closed");
        self.limiter.until_ready().await;
        Admission { _permit: permit }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency.load(Ordering::SeqCst)
    }

    /// Takes one slot away for good (Salesforce said too many long requests run
    /// at once). Never below one. Returns the new cap.
    pub fn lower_concurrency(&self) -> usize {
        let lowered = self
            .concurrency
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c > 1).then(|| c - 1)
            });
        match lowered {
            Ok(previous) => {
                // The slot may be in use right now; retire it as soon as it is free.
                let slots = Arc::clone(&self.slots);
                if slots.forget_permits(1) == 0 {
                    tokio::spawn(async move {
                        if let Ok(p) = slots.acquire_owned().await {
                            p.forget();
                        }
                    });
                }
                previous - 1
            }
            Err(current) => current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_has_no_burst() {
        let q = quota(5.0);
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_millis(200));
        assert_eq!(quota(0.0).burst_size().get(), 1);
    }

    #[test]
    fn a_fresh_limiter_lets_exactly_one_call_through_at_once() {
        let limiter = RateLimiter::direct(quota(50.0));
        assert!(limiter.check().is_ok());
        // A full bucket of 50 would let these through: that is the first-window bug.
        assert!(limiter.check().is_err());
    }

    #[tokio::test]
    async fn lowering_concurrency_stops_at_one() {
        let p = Pacer::new(1000.0, 3);
        assert_eq!(p.lower_concurrency(), 2);
        assert_eq!(p.lower_concurrency(), 1);
        assert_eq!(p.lower_concurrency(), 1);
        let _a = p.admit().await;
        assert_eq!(p.slots.available_permits(), 0);
    }
}

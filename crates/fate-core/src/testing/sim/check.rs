//! Running one test body over many seeds, and naming the seed that fails.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::world::Sim;

/// The environment variable that makes [`check`] and [`first_failure`] run one seed only:
/// the one a failure report named.
pub const SEED_VAR: &str = "FATE_SIM_SEED";

/// A seed whose run failed, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The seed to replay with `Sim::new(seed)`.
    pub seed: u64,
    /// The error or panic message of the run.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {} failed: {}", self.seed, self.message)?;
        // A `SimError` already says how to replay.
        if !self.message.contains(SEED_VAR) {
            write!(
                f,
                "\nreplay it with `Sim::new({})`, or run the test again with {SEED_VAR}={}",
                self.seed, self.seed
            )?;
        }
        Ok(())
    }
}

/// Runs `body` on a fresh [`Sim`] for each seed, and panics with the first failure's seed
/// and how to replay it. A failure is an `Err` from `body` or a panic in it (an assertion).
/// With [`SEED_VAR`] set, only that seed runs.
///
/// # Panics
///
/// On the first seed that fails, with its [`Failure`] as the message.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::sim::{self, SimError};
///
/// sim::check(0..20, |sim| -> Result<(), SimError> {
///     sim.host("a", || {});
///     let t = sim.block_on("a", async {
///         fate::sleep(Duration::from_secs(1)).await;
///         fate::reactor().seconds()
///     })?;
///     assert_eq!(t, 1.0);
///     Ok(())
/// });
/// ```
pub fn check<E: fmt::Display>(
    seeds: impl IntoIterator<Item = u64>,
    body: impl Fn(&Sim) -> Result<(), E>,
) {
    if let Some(failure) = first_failure(seeds, body) {
        panic!("sim::check: {failure}");
    }
}

/// Runs `body` on a fresh [`Sim`] for each seed, in order, and returns the first failure
/// (an `Err` or a panic), or `None` if every seed passed. With [`SEED_VAR`] set, only that
/// seed runs.
///
/// # Examples
///
/// ```
/// use fate::testing::sim;
///
/// let failure = sim::first_failure(0..10, |sim| {
///     if sim.seed() == 3 { Err("three") } else { Ok(()) }
/// });
/// assert_eq!(failure.unwrap().seed, 3);
/// ```
pub fn first_failure<E: fmt::Display>(
    seeds: impl IntoIterator<Item = u64>,
    body: impl Fn(&Sim) -> Result<(), E>,
) -> Option<Failure> {
    let only = std::env::var(SEED_VAR)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let seeds: Box<dyn Iterator<Item = u64>> = match only {
        Some(seed) => Box::new(std::iter::once(seed)),
        None => Box::new(seeds.into_iter()),
    };
    for seed in seeds {
        let sim = Sim::new(seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&sim)));
        let message = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(payload) => crate::reactor::panic_message(&*payload),
        };
        return Some(Failure { seed, message });
    }
    None
}

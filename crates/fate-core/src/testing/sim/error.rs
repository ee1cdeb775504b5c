//! What a failed simulation reports: the seed to replay it with, when it failed, why, and
//! what happened just before.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A simulation that went wrong: a host panicked, or nothing was left to run before the
/// awaited task finished. Its `Display` names the seed and how to replay the run.
///
/// # Examples
///
/// ```
/// use fate::testing::sim::Sim;
///
/// let sim = Sim::new(99);
/// sim.host("a", || {});
/// let err = sim.block_on("a", std::future::pending::<()>()).unwrap_err();
/// assert_eq!(err.seed(), 99);
/// assert!(err.to_string().contains("FATE_SIM_SEED=99"));
/// ```
#[derive(Clone)]
pub struct SimError {
    seed: u64,
    at: Duration,
    message: String,
    recent: Vec<String>,
}

impl SimError {
    pub(crate) fn new(seed: u64, at: Duration, message: String, recent: Vec<String>) -> SimError {
        SimError {
            seed,
            at,
            message,
            recent,
        }
    }

    /// The seed of the failed run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual time of the failure.
    pub fn at(&self) -> Duration {
        self.at
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation failed at {:.6}s with seed {}: {}\n\
             replay it with `Sim::new({})`, or FATE_SIM_SEED={} for `sim::check`",
            self.at.as_secs_f64(),
            self.seed,
            self.message,
            self.seed,
            self.seed
        )?;
        if !self.recent.is_empty() {
            write!(f, "\nlast events:")?;
            for event in &self.recent {
                write!(f, "\n  {event}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Error for SimError {}

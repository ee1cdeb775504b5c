//! `--threads N` for the servers: one reactor on this thread, or a pool of N reactors that
//! share the listening port.

use fate::pool::{Pool, PoolHandle};

/// How many reactors serve.
#[derive(clap::Args, Debug)]
pub(crate) struct Threads {
    /// Threads to serve on, each with its own reactor; they share the listening port
    /// (SO_REUSEPORT) and the kernel spreads connections between them. 0: one per core.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
}

/// Stops the whole server, from inside it: the reactor, or every reactor of the pool.
#[derive(Clone)]
pub(crate) enum Stop {
    Reactor,
    Pool(PoolHandle),
}

impl Stop {
    pub(crate) fn stop(&self) {
        match self {
            Stop::Reactor => {
                fate::reactor().stop();
            }
            Stop::Pool(pool) => pool.stop(),
        }
    }
}

/// Whether this thread's reactor is the first (or only) one: the one that says where the
/// server listens, so the line is printed once.
pub(crate) fn is_first() -> bool {
    fate::pool::current_worker().unwrap_or(0) == 0
}

impl Threads {
    /// Runs `setup` on this thread's reactor, or on each reactor of a pool, until SIGINT or
    /// SIGTERM (or `Stop::stop`) stops them all gracefully.
    pub(crate) fn run(&self, setup: impl Fn(Stop) + Send + Sync + 'static) -> Result<(), String> {
        if self.threads == 1 {
            return fate::run(move || setup(Stop::Reactor)).map_err(|e| e.to_string());
        }
        let threads = match self.threads {
            0 => fate::pool::available_threads(),
            n => n,
        };
        Pool::new()
            .threads(threads)
            .run(move |worker| setup(Stop::Pool(worker.pool().clone())))
            .map_err(|e| e.to_string())
    }
}

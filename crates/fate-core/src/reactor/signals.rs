//! SIGINT and SIGTERM as reactor events: the first asks for a graceful stop, the second exits.

use std::io;

use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::Reactor;

/// The registered signal watch; dropping it stops watching.
pub(crate) struct SignalWatch {
    signals: Signals,
    /// How many signals arrived so far.
    seen: u32,
}

impl SignalWatch {
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<SignalWatch> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        registry.register(&mut signals, token, Interest::READABLE)?;
        Ok(SignalWatch { signals, seen: 0 })
    }
}

impl Reactor {
    /// Handles pending signals: the first calls `stop`, the second exits at once.
    pub(super) fn on_signals(&self) {
        let arrived: Vec<i32> = match self.inner.signals.borrow_mut().as_mut() {
            Some(watch) => {
                let arrived: Vec<i32> = watch.signals.pending().collect();
                watch.seen += arrived.len() as u32;
                if watch.seen >= 2 {
                    let code = 128 + arrived.last().copied().unwrap_or(SIGINT);
                    eprintln!("fate: second signal, exiting now");
                    std::process::exit(code);
                }
                arrived
            }
            None => return,
        };
        if let Some(signal) = arrived.first() {
            tracing::info!(target: "fate::reactor", "signal {signal} received, stopping");
            // Already stopping: the shutdown in progress will end the loop.
            self.stop();
        }
    }
}

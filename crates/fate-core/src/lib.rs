//! Fate's reactor: one event loop per thread that runs timers, callbacks, tasks, I/O and
//! child processes, without locks and without `Send`.
//!
//! - [`mod@reactor`]: the loop, its life cycle (run, stop, crash, triggers), the one thread-safe
//!   door (`call_from_thread`), and the panic boundary.
//! - [`time`]: `call_later` and `DelayedCall`, `sleep`, `timeout`, `LoopingCall`, on a timing
//!   wheel with O(1) insert and cancel.
//! - [`task`]: `!Send` futures as tasks on the reactor.
//! - [`net`] (feature `net`): TCP, UDP, Unix and TLS as protocols, transports and factories,
//!   or as async streams; endpoints from strings. [`protocols`]: line, length-prefixed and
//!   netstring framing.
//! - [`process`] (feature `process`): child processes with `ProcessProtocol`s, pidfd exit
//!   watching and no zombies; `get_process_output`.
//! - [`stdio`] (feature `net`): `StandardIO`, the process's stdin and stdout as a transport.
//! - [`pool`]: one reactor per thread for servers that use every core: shared listening
//!   ports, messages between loops, one place that stops them all.
//! - [`threads`]: `defer_to_thread` and a `getaddrinfo` resolver on a bounded thread pool.
//! - `testing` (feature `testing`): a virtual `Clock` so that time-based code is tested
//!   without sleeping, and `testing::sim`, whole programs on simulated hosts, network and
//!   time, replayable from a seed.
//!
//! # Features
//!
//! - `net` (default): TCP, UDP and Unix sockets with protocols and transports.
//! - `process` (default): child processes.
//! - `testing`: the virtual clock, in-memory transports and the simulator for tests.

mod entry;
#[cfg(feature = "net")]
pub mod net;
pub mod pool;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "net")]
pub mod protocols;
pub mod reactor;
#[cfg(feature = "net")]
pub mod stdio;
mod sys;
pub mod task;
pub mod threads;
pub mod time;

#[cfg(feature = "testing")]
pub mod testing;

/// Deferreds (the `fate-deferred` crate), which the reactor fires and runs futures for.
pub use fate_deferred as deferred;

pub use entry::{
    block_on, call_later, call_soon, react, reactor, run, run_until_idle, sleep, sleep_until,
    spawn, spawn_local, timeout,
};
pub use pool::run_threads;
pub use threads::defer_to_thread;

//! What the reactor does when a callback, protocol method or task panics.

use std::any::Any;

/// How many panics Fate's boundaries (the reactor's, and those of Deferred handlers, spawned
/// futures and cross-worker calls) have caught on this thread so far. The loop watchdog does
/// not report a run that panicked: the panic is reported already, and the report (a
/// backtrace, with `RUST_BACKTRACE` set) is what took the time.
pub(crate) fn caught() -> u64 {
    fate_deferred::caught_panics()
}

/// What happens when user code panics inside the reactor.
///
/// The reactor runs every callback, I/O handler and task step behind a panic boundary. With
/// the default, [`PanicPolicy::Log`], a panic is reported (or turned into a `Failure` where a
/// Deferred waits for the result) and the loop goes on with the next event. The report is a
/// `tracing` error event (target `fate::reactor`) when the program installed a subscriber, and
/// a line on stderr otherwise — naming what panicked (a callback, a timed call, a task, an I/O
/// handler, a process protocol method, the main function) and the panic's message.
/// [`PanicPolicy::Stop`] reports it and stops the reactor gracefully (shutdown triggers run),
/// after which `run` returns [`ReactorError::Panicked`](super::ReactorError::Panicked): what a
/// pool worker that should be restarted, or a server that should exit with an error, wants.
/// [`PanicPolicy::Abort`] logs it and aborts the process, for programs that prefer to die
/// rather than run on with state a panic may have left half-updated.
///
/// # Examples
///
/// ```
/// use fate::reactor::{PanicPolicy, Reactor};
///
/// let reactor = Reactor::builder().panic_policy(PanicPolicy::Log).build().unwrap();
/// reactor.call_soon(|| panic!("a bad callback"));
/// reactor.call_soon(|| println!("the loop went on"));
/// reactor.run_until_idle().unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PanicPolicy {
    /// Log the panic and keep running (the default).
    #[default]
    Log,
    /// Log the panic, then stop the reactor gracefully; `run` returns
    /// [`ReactorError::Panicked`](super::ReactorError::Panicked) with the first such panic's
    /// message.
    ///
    /// ```
    /// use fate::reactor::{PanicPolicy, Reactor, ReactorError};
    ///
    /// let reactor = Reactor::builder().panic_policy(PanicPolicy::Stop).build().unwrap();
    /// reactor.call_soon(|| panic!("a bad callback"));
    /// let ended = reactor.run();
    /// assert!(matches!(ended, Err(ReactorError::Panicked(m)) if m == "a bad callback"));
    /// ```
    Stop,
    /// Log the panic, then abort the process.
    Abort,
}

impl PanicPolicy {
    /// Runs `f` behind the panic boundary; `what` names the kind of code in the log line.
    #[inline]
    pub(crate) fn guard(self, what: &'static str, f: impl FnOnce()) {
        if let Err(payload) = fate_deferred::catch_panic(f) {
            self.report(what, &*payload);
        }
    }

    /// Reports a caught panic according to the policy.
    pub(crate) fn report(self, what: &'static str, payload: &(dyn Any + Send)) {
        let message = panic_message(payload);
        super::report::error(format_args!("a {what} panicked: {message}"));
        match self {
            PanicPolicy::Log => {}
            PanicPolicy::Stop => {
                if let Some(reactor) = super::try_current() {
                    reactor.inner.panicked.borrow_mut().get_or_insert(message);
                    // Harmless if it is already stopping.
                    reactor.stop();
                }
            }
            PanicPolicy::Abort => {
                eprintln!("fate: a {what} panicked ({message}); aborting as the panic policy says");
                std::process::abort();
            }
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder for other payloads.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

//! `ReconnectingClientFactory`: reconnect with exponential back-off and jitter (Twisted's
//! `protocols.policies.ReconnectingClientFactory`).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::net::{Address, ClientFactory, CloseReason, ConnectError, Connector, Protocol};
use crate::time::{DelayedCall, Timeline};

/// The retry policy and its state.
struct State {
    initial_delay: f64,
    factor: f64,
    max_delay: f64,
    jitter: f64,
    max_retries: Option<u32>,
    delay: f64,
    retries: u32,
    continue_trying: bool,
    pending: Option<DelayedCall>,
    connector: Option<Connector>,
    /// xorshift64* state for the jitter.
    rng: u64,
    clock: Option<Timeline>,
}

/// Wraps a [`ClientFactory`] and reconnects whenever a connection fails or is lost, waiting
/// longer each time: the delay starts at `initial_delay` (1 s) and is multiplied by `factor`
/// (e) before each retry — so the first retry waits about 2.718 s, then 7.389, 20.09 ... —
/// up to `max_delay` (3600 s), with normal noise of σ = delay × `jitter` (0.1196).
/// A connection whose protocol was built resets the delay. Cheap to clone: keep a clone to
/// call [`stop_trying`](ReconnectingClientFactory::stop_trying).
///
/// # Examples
///
/// The delays, on a virtual clock, with jitter off:
///
/// ```
/// use fate::net::{self, Address, ClientFactory, Protocol, ReconnectingClientFactory};
/// use fate::testing::Clock;
///
/// struct Never;
/// impl ClientFactory for Never {
///     fn build_protocol(&mut self, _: &Address) -> Option<Box<dyn Protocol>> {
///         None
///     }
/// }
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let clock = Clock::new();
/// let factory = ReconnectingClientFactory::new(Never).jitter(0.0).clock(&clock);
/// let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
/// net::connect_tcp("127.0.0.1", free.port(), factory.clone());
/// reactor.run_until_idle().unwrap(); // refused; a retry is scheduled on the clock
/// assert_eq!(factory.retries(), 1);
/// assert!((factory.delay().as_secs_f64() - std::f64::consts::E).abs() < 1e-9);
/// factory.stop_trying();
/// assert!(clock.pending_calls().is_empty());
/// ```
pub struct ReconnectingClientFactory<F> {
    inner: Rc<RefCell<F>>,
    state: Rc<RefCell<State>>,
}

impl<F> Clone for ReconnectingClientFactory<F> {
    fn clone(&self) -> Self {
        ReconnectingClientFactory {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

impl<F: ClientFactory> ReconnectingClientFactory<F> {
    /// Wraps `inner` with Twisted's defaults.
    pub fn new(inner: F) -> Self {
        ReconnectingClientFactory {
            inner: Rc::new(RefCell::new(inner)),
            state: Rc::new(RefCell::new(State {
                initial_delay: 1.0,
                factor: std::f64::consts::E,
                max_delay: 3600.0,
                jitter: 0.119_626_565_582,
                max_retries: None,
                delay: 1.0,
                retries: 0,
                continue_trying: true,
                pending: None,
                connector: None,
                rng: 0x9E37_79B9_7F4A_7C15,
                clock: None,
            })),
        }
    }

    /// The first delay (before the factor applies).
    pub fn initial_delay(self, d: Duration) -> Self {
        {
            let mut s = self.state.borrow_mut();
            s.initial_delay = d.as_secs_f64();
            s.delay = s.initial_delay;
        }
        self
    }

    /// The growth factor per retry.
    pub fn factor(self, factor: f64) -> Self {
        self.state.borrow_mut().factor = factor;
        self
    }

    /// The longest delay.
    pub fn max_delay(self, d: Duration) -> Self {
        self.state.borrow_mut().max_delay = d.as_secs_f64();
        self
    }

    /// The relative standard deviation of the noise added to each delay (0 for none).
    pub fn jitter(self, jitter: f64) -> Self {
        self.state.borrow_mut().jitter = jitter;
        self
    }

    /// Gives up after this many retries in a row.
    pub fn max_retries(self, n: u32) -> Self {
        self.state.borrow_mut().max_retries = Some(n);
        self
    }

    /// Seeds the jitter's random numbers (for reproducible tests).
    pub fn seed(self, seed: u64) -> Self {
        self.state.borrow_mut().rng = seed | 1;
        self
    }

    /// Schedules retries on `clock` (a test's virtual clock) instead of the reactor's.
    pub fn clock(self, clock: &impl AsRef<Timeline>) -> Self {
        self.state.borrow_mut().clock = Some(clock.as_ref().clone());
        self
    }

    /// Stops reconnecting and cancels a scheduled retry (Twisted's `stopTrying`). A connection
    /// attempt in progress is stopped too.
    pub fn stop_trying(&self) {
        let (pending, connector) = {
            let mut s = self.state.borrow_mut();
            s.continue_trying = false;
            (s.pending.take(), s.connector.take())
        };
        if let Some(p) = pending {
            let _ = p.cancel();
        }
        if let Some(c) = connector {
            c.stop_connecting();
        }
    }

    /// Back to the initial delay and zero retries (Twisted's `resetDelay`).
    pub fn reset_delay(&self) {
        let mut s = self.state.borrow_mut();
        s.delay = s.initial_delay;
        s.retries = 0;
    }

    /// The current delay (the last one waited, or the initial one).
    pub fn delay(&self) -> Duration {
        Duration::from_secs_f64(self.state.borrow().delay)
    }

    /// Retries since the last reset.
    pub fn retries(&self) -> u32 {
        self.state.borrow().retries
    }

    /// The wrapped factory.
    pub fn inner(&self) -> std::cell::Ref<'_, F> {
        self.inner.borrow()
    }

    /// Schedules `connector.connect()` after the next delay (Twisted's `retry`).
    fn retry(&self, connector: &Connector) {
        let mut s = self.state.borrow_mut();
        if !s.continue_trying {
            // Forget the connector: it holds this factory, which holds us.
            s.connector = None;
            return;
        }
        s.retries += 1;
        if s.max_retries.is_some_and(|m| s.retries > m) {
            tracing::info!(
                target: "fate::net",
                "abandoning {} after {} retries",
                connector.destination(),
                s.retries - 1
            );
            s.connector = None;
            return;
        }
        s.connector = Some(connector.clone());
        s.delay = (s.delay * s.factor).min(s.max_delay);
        if s.jitter > 0.0 {
            let noise = normal(&mut s.rng) * s.delay * s.jitter;
            s.delay = (s.delay + noise).max(0.0);
        }
        let delay = Duration::from_secs_f64(s.delay);
        let c = connector.clone();
        let me = self.clone();
        let run = move || {
            me.state.borrow_mut().pending = None;
            c.connect();
        };
        let call = match &s.clock {
            Some(clock) => clock.call_later(delay, run),
            None => crate::reactor::current().call_later(delay, run),
        };
        s.pending = Some(call);
    }
}

/// A standard normal sample (Box–Muller over xorshift64*).
fn normal(rng: &mut u64) -> f64 {
    let mut uniform = || {
        *rng ^= *rng >> 12;
        *rng ^= *rng << 25;
        *rng ^= *rng >> 27;
        let x = rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(), uniform());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl<F: ClientFactory> ClientFactory for ReconnectingClientFactory<F> {
    fn build_protocol(&mut self, addr: &Address) -> Option<Box<dyn Protocol>> {
        let p = self.inner.borrow_mut().build_protocol(addr);
        if p.is_some() {
            self.reset_delay();
        }
        p
    }

    fn started_connecting(&mut self, connector: &Connector) {
        self.state.borrow_mut().connector = Some(connector.clone());
        self.inner.borrow_mut().started_connecting(connector);
    }

    fn client_connection_failed(&mut self, connector: &Connector, reason: &ConnectError) {
        self.inner
            .borrow_mut()
            .client_connection_failed(connector, reason);
        self.retry(connector);
    }

    fn client_connection_lost(&mut self, connector: &Connector, reason: &CloseReason) {
        self.inner
            .borrow_mut()
            .client_connection_lost(connector, reason);
        self.retry(connector);
    }
}

impl<F> fmt::Debug for ReconnectingClientFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("ReconnectingClientFactory")
            .field("delay", &s.delay)
            .field("retries", &s.retries)
            .field("continue_trying", &s.continue_trying)
            .finish()
    }
}

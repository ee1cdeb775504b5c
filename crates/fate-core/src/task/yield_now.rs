//! Giving other tasks and callbacks a turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets everything already on the ready queue run before this task continues.
///
/// Costs no syscall: the task goes to the back of the ready queue. I/O is polled once the turn
/// budget is spent, so a loop that yields does not starve sockets either.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let order = Rc::new(Cell::new(0));
/// let seen = order.clone();
/// reactor.block_on(async move {
///     fate::reactor::current().call_soon(move || seen.set(1));
///     fate::task::yield_now().await;
///     assert_eq!(order.get(), 1);
/// }).unwrap();
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

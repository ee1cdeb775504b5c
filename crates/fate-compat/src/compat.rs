//! `Compat`: a future that is not `Send` but calls into tokio, polled on the reactor's thread.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::runtime::Handle;

pin_project! {
    /// Polls a future on the reactor's thread inside this reactor's tokio runtime context, so
    /// that the tokio calls it makes (`tokio::time::sleep`, `tokio::spawn`, a reqwest or sqlx
    /// call) find a runtime, while the future itself may hold `Rc`s, Deferreds and other
    /// `!Send` state.
    ///
    /// This is what smol users do with the `async-compat` crate, and it is that crate's
    /// adapter inside, entered into *this reactor's* runtime rather than the global one
    /// `async-compat` would start on its own. Timers and I/O the future registers are driven
    /// by the runtime's worker thread, which wakes the reactor's task through its
    /// cross-thread queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use fate::compat::Compat;
    ///
    /// let n = fate::block_on(async {
    ///     Compat::new(async {
    ///         let local = Rc::new(21); // not Send: `fate::compat::spawn` would refuse this future
    ///         tokio::time::sleep(Duration::from_millis(2)).await;
    ///         *local * 2
    ///     })
    ///     .await
    /// })
    /// .unwrap();
    /// assert_eq!(n, 42);
    /// ```
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the inner future inside the runtime's context too (tokio resources
    /// deregister from their runtime when dropped).
    ///
    /// # Panics
    ///
    /// `new` panics if this thread has no reactor or its runtime cannot start.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Compat<F> {
        #[pin]
        inner: Option<async_compat::Compat<F>>,
        handle: Handle,
    }

    impl<F> PinnedDrop for Compat<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _context = this.handle.enter();
            this.inner.set(None);
        }
    }
}

impl<F> Compat<F> {
    /// Wraps `future`, starting this reactor's tokio runtime if needed.
    #[track_caller]
    pub fn new(future: F) -> Compat<F> {
        Compat {
            inner: Some(async_compat::Compat::new(future)),
            handle: crate::handle(),
        }
    }
}

impl<F: Future> Future for Compat<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _context = this.handle.enter();
        this.inner
            .as_pin_mut()
            .expect("a Compat's future is only taken when it is dropped")
            .poll(cx)
    }
}

impl<F> std::fmt::Debug for Compat<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compat").finish_non_exhaustive()
    }
}

//! `ProcessProtocol`: what a child process's events are delivered to.

use super::{ExitStatus, ProcessTransport};

/// Receives the events of one child process, on the reactor's thread.
///
/// Every method has an empty default; implement the ones you need.
///
/// # Ordering
///
/// 1. [`connection_made`](ProcessProtocol::connection_made), once, right after the spawn;
/// 2. [`out_received`](ProcessProtocol::out_received) /
///    [`err_received`](ProcessProtocol::err_received) (through
///    [`child_data_received`](ProcessProtocol::child_data_received)) as output arrives, in the
///    order each pipe delivered it;
/// 3. `in_connection_lost`, `out_connection_lost`, `err_connection_lost` (through
///    [`child_connection_lost`](ProcessProtocol::child_connection_lost)), once per pipe when it
///    closes, at any point relative to 4;
/// 4. [`process_exited`](ProcessProtocol::process_exited) when the child has exited and was
///    reaped;
/// 5. [`process_ended`](ProcessProtocol::process_ended), always last, once the child has
///    exited *and* every pipe is closed.
///
/// Methods are never re-entered: a transport call made inside one (say
/// [`ProcessTransport::close_stdin`]) delivers its event after the current method returns.
///
/// # Panics
///
/// A panic in a method is caught and reported by the reactor's panic policy; the transport
/// then closes every pipe to the child (like Twisted's `loseConnection`), the child is still
/// reaped, and the remaining lifecycle methods still run.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use fate::process::{self, ExitStatus, ProcessProtocol, ProcessTransport};
///
/// struct Collect(Rc<RefCell<(Vec<u8>, Option<ExitStatus>)>>);
///
/// impl ProcessProtocol for Collect {
///     fn connection_made(&mut self, transport: &ProcessTransport) {
///         transport.write(b"hello\n");
///         transport.close_stdin();
///     }
///     fn out_received(&mut self, data: &[u8]) {
///         self.0.borrow_mut().0.extend_from_slice(data);
///     }
///     fn process_ended(&mut self, status: ExitStatus) {
///         self.0.borrow_mut().1 = Some(status);
///     }
/// }
///
/// let seen = Rc::new(RefCell::new((Vec::new(), None)));
/// let out = seen.clone();
/// fate::run_until_idle(move || {
///     process::spawn_process(Collect(out), "cat", Vec::<String>::new(), None, None).unwrap();
/// })
/// .unwrap();
/// assert_eq!(*seen.borrow(), (b"hello\n".to_vec(), Some(ExitStatus::Exited(0))));
/// ```
pub trait ProcessProtocol: 'static {
    /// The child was started; keep `transport` (a cheap, weak handle) to write to it or
    /// signal it later.
    fn connection_made(&mut self, transport: &ProcessTransport) {
        let _ = transport;
    }

    /// Data the child wrote to the pipe at child fd `fd`. The default sends fd 1 to
    /// [`out_received`](ProcessProtocol::out_received) and fd 2 to
    /// [`err_received`](ProcessProtocol::err_received), and drops other fds' data.
    fn child_data_received(&mut self, fd: i32, data: &[u8]) {
        match fd {
            1 => self.out_received(data),
            2 => self.err_received(data),
            _ => {}
        }
    }

    /// Data the child wrote to its stdout.
    fn out_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// Data the child wrote to its stderr.
    fn err_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The pipe at child fd `fd` closed (EOF, error, or closed by us). The default sends fds
    /// 0, 1 and 2 to the `in`/`out`/`err_connection_lost` methods.
    fn child_connection_lost(&mut self, fd: i32) {
        match fd {
            0 => self.in_connection_lost(),
            1 => self.out_connection_lost(),
            2 => self.err_connection_lost(),
            _ => {}
        }
    }

    /// The child's stdin is closed: [`ProcessTransport::close_stdin`] finished flushing, the
    /// child closed its end or exited.
    fn in_connection_lost(&mut self) {}

    /// The child's stdout reached end of file (or was closed by us).
    fn out_connection_lost(&mut self) {}

    /// The child's stderr reached end of file (or was closed by us).
    fn err_connection_lost(&mut self) {}

    /// The stdin buffer grew past the high-water mark (64 KiB): stop writing until
    /// [`resume_producing`](ProcessProtocol::resume_producing). Data written meanwhile is
    /// still buffered, never lost; this is Twisted's push-producer flow control.
    fn pause_producing(&mut self) {}

    /// The stdin buffer drained after a [`pause_producing`](ProcessProtocol::pause_producing):
    /// write more.
    fn resume_producing(&mut self) {}

    /// The child exited and was reaped; its pipes may still hold output.
    fn process_exited(&mut self, status: ExitStatus) {
        let _ = status;
    }

    /// The child exited and all its pipes are closed. Always the last call.
    fn process_ended(&mut self, status: ExitStatus) {
        let _ = status;
    }
}

/// A protocol that ignores everything the child does (its output is read and dropped).
///
/// # Examples
///
/// ```
/// use fate::process::{self, DiscardOutput};
///
/// fate::run_until_idle(|| {
///     process::Command::new("true").spawn(DiscardOutput).unwrap();
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardOutput;

impl ProcessProtocol for DiscardOutput {}

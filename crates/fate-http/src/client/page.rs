//! `get_page` and `download_page`: a whole page as a Deferred, Twisted's old favourites.

use std::cell::RefCell;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;
use fate_deferred::{Deferred, Failure};

use crate::client::Agent;
use crate::error::{Error, Kind};

thread_local! {
    /// The agent behind the free functions: one pool per reactor, like treq's global
    /// pool; kept with the id of the reactor it belongs to, since its connections die with
    /// that reactor (and belong to it: the hosts of a simulation share a thread).
    static SHARED: RefCell<Option<(u64, Agent)>> = const { RefCell::new(None) };
}

/// This thread's shared agent for the running reactor.
fn shared() -> Agent {
    let reactor = fate_core::reactor::current().id();
    SHARED.with(|shared| {
        let mut shared = shared.borrow_mut();
        match &*shared {
            Some((of, agent)) if *of == reactor => agent.clone(),
            _ => {
                let agent = Agent::new();
                *shared = Some((reactor, agent.clone()));
                agent
            }
        }
    })
}

/// Downloads `url` with this thread's shared [`Agent`]; see [`Agent::get_page`].
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```no_run
/// fate::run(|| {
///     fate::http::client::get_page("http://127.0.0.1:8080/").add_both(|page| {
///         match page {
///             Ok(bytes) => println!("{} bytes", bytes.len()),
///             Err(failure) => eprintln!("failed: {failure}"),
///         }
///         fate::reactor().stop();
///     });
/// })
/// .unwrap();
/// ```
pub fn get_page(url: &str) -> Deferred<Bytes> {
    shared().get_page(url)
}

/// Downloads `url` into the file at `path` with this thread's shared [`Agent`]; see
/// [`Agent::download_page`].
pub fn download_page(url: &str, path: impl AsRef<Path>) -> Deferred<u64> {
    shared().download_page(url, path)
}

impl Agent {
    /// GETs `url` and fires with the whole body: the page is read a chunk at a time as it
    /// arrives, while the reactor goes on with other work.
    ///
    /// # Errors
    ///
    /// The Deferred fails with an [`Error`] (check it with `failure.downcast_ref`); a
    /// non-2xx status is an error (`is_status`), as with Twisted's `getPage`.
    ///
    /// # Cancellation
    ///
    /// `cancel()` drops the request and closes its connection; the Deferred fails with
    /// `Cancelled`.
    pub fn get_page(&self, url: &str) -> Deferred<Bytes> {
        let agent = self.clone();
        let url = url.to_string();
        spawn_deferred(async move {
            let response = agent.get(&url).await?.error_for_status()?;
            response.bytes().await
        })
    }

    /// GETs `url` into the file at `path` (created or truncated), a chunk at a time; fires
    /// with the number of bytes written. On failure the partial file is removed.
    ///
    /// # Errors
    ///
    /// As [`get_page`](Agent::get_page), and `is_file` errors for the local file.
    ///
    /// # Cancellation
    ///
    /// As [`get_page`](Agent::get_page); the partial file is removed.
    pub fn download_page(&self, url: &str, path: impl AsRef<Path>) -> Deferred<u64> {
        let agent = self.clone();
        let url = url.to_string();
        let path = path.as_ref().to_path_buf();
        spawn_deferred(async move {
            let mut partial = Partial::create(path)?;
            let mut response = agent.get(&url).await?.error_for_status()?;
            let mut written = 0;
            while let Some(chunk) = response.chunk().await? {
                partial
                    .file
                    .write_all(&chunk)
                    .map_err(|e| Error::with(Kind::File, e).for_url(&url))?;
                written += chunk.len() as u64;
            }
            partial.keep();
            Ok(written)
        })
    }
}

/// A file being downloaded: removed when dropped unless kept.
struct Partial {
    file: File,
    path: Option<PathBuf>,
}

impl Partial {
    fn create(path: PathBuf) -> Result<Partial, Error> {
        let file = File::create(&path)
            .map_err(|e| Error::with(Kind::File, format!("{}: {e}", path.display())))?;
        Ok(Partial {
            file,
            path: Some(path),
        })
    }

    fn keep(&mut self) {
        self.path = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs `fut` as a reactor task and fires a Deferred with its result; cancelling the
/// Deferred drops the future (closing whatever connection it held).
pub(crate) fn spawn_deferred<T: 'static>(
    fut: impl Future<Output = Result<T, Error>> + 'static,
) -> Deferred<T> {
    let task: Rc<RefCell<Option<fate_core::task::JoinHandle<()>>>> = Rc::default();
    let cancel_task = task.clone();
    let (d, fire) = Deferred::with_canceller(move |_fire| {
        if let Some(mut handle) = cancel_task.borrow_mut().take() {
            drop(handle.abort());
        }
    });
    let handle = fate_core::spawn_local(async move {
        let outcome = fut.await.map_err(Failure::new);
        let _ = fire.try_fire(outcome);
    });
    *task.borrow_mut() = Some(handle);
    d
}

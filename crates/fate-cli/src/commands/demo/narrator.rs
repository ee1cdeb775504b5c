//! The demo's voice: timestamped lines, the pace at which the story runs, and the seed that
//! decides its random turns.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Duration;

/// Tells the demo's story: each line carries the seconds since the current reactor started,
/// and every duration in a scenario goes through [`Narrator::secs`] so `--fast` can shorten it.
///
/// Cheap to clone (scenarios move clones into their callbacks); `!Send`, like everything on
/// a reactor.
#[derive(Clone)]
pub(crate) struct Narrator {
    inner: Rc<Inner>,
}

struct Inner {
    /// Multiplies every scenario duration: 1.0 normally, 0.1 with `--fast`.
    scale: f64,
    /// Whether lines go to stdout (the command) or only to `transcript` (tests).
    echo: bool,
    /// Seeds every random choice of the scenarios, so `--seed N` repeats a run.
    seed: u64,
    /// Every line said so far, without the trailing newline.
    transcript: RefCell<Vec<String>>,
}

impl Narrator {
    /// A narrator that prints to stdout, running scenarios at `scale` times their pace.
    pub(crate) fn stdout(scale: f64, seed: u64) -> Narrator {
        Narrator::new(scale, seed, true)
    }

    /// A narrator that only records what it would say, for tests.
    #[cfg(test)]
    pub(crate) fn recording(scale: f64, seed: u64) -> Narrator {
        Narrator::new(scale, seed, false)
    }

    fn new(scale: f64, seed: u64, echo: bool) -> Narrator {
        Narrator {
            inner: Rc::new(Inner {
                scale,
                echo,
                seed,
                transcript: RefCell::new(Vec::new()),
            }),
        }
    }

    /// The seed of this run's random choices.
    pub(crate) fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// `seconds` of story time, at the demo's pace.
    pub(crate) fn secs(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds * self.inner.scale)
    }

    /// Says what happens now, stamped with the seconds since this thread's reactor started.
    pub(crate) fn say(&self, what: &str) {
        match fate::reactor::try_current() {
            Some(reactor) => self.line(&format!("  [{:6.2} s] {what}", reactor.seconds())),
            None => self.line(&format!("  {what}")),
        }
    }

    /// Says a line as it is.
    ///
    /// If stdout has gone away (`fate demo | head`), the demo ends quietly with status 0, as
    /// command-line tools do, instead of panicking in the middle of a reactor callback.
    pub(crate) fn line(&self, text: &str) {
        if self.inner.echo {
            if let Err(e) = writeln!(io::stdout(), "{text}") {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
            }
        }
        self.inner.transcript.borrow_mut().push(text.to_owned());
    }

    /// Opens scenario `n` of `of`.
    pub(crate) fn heading(&self, n: usize, of: usize, title: &str, summary: &str) {
        let heading = format!("{n}/{of}. {title}");
        self.line("");
        self.line(&heading);
        self.line(&"=".repeat(heading.chars().count()));
        self.line(summary);
    }

    /// Everything said so far.
    #[cfg(test)]
    pub(crate) fn transcript(&self) -> Vec<String> {
        self.inner.transcript.borrow().clone()
    }

    /// The index of the first line said so far that contains `needle`.
    ///
    /// # Panics
    ///
    /// If no line does, showing the whole transcript.
    #[cfg(test)]
    pub(crate) fn line_of(&self, needle: &str) -> usize {
        let transcript = self.inner.transcript.borrow();
        transcript
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in {transcript:#?}"))
    }
}

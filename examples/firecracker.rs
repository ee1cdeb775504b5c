//! The article's first program, on Fate's reactor: the MadHatter lights a FireCracker's fuse
//! and hands it on; when the fuse burns out, it explodes in whoever holds it.
//!
//! The article builds a tiny event manager, "Fate", with one kind of event: a `Fuse` that burns
//! for a while and then calls its handler. Here a `Fuse` is a thin layer over the reactor's
//! `call_later`, and Fate's run loop is `fate::run_until_idle`, which ends by itself once the
//! last fuse has burnt out. Nothing sleeps: while the fuse burns, the reactor is free to run
//! the hand-overs, which is the whole point of the article.
//!
//! Run with: `cargo run --example firecracker` (add `-- --fast` for a tenfold shorter fuse).

use std::cell::RefCell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

/// A fuse burns for `length`, then calls its handler: the article's one kind of event.
struct Fuse {
    length: Duration,
    handler: Option<Box<dyn FnOnce()>>,
}

impl Fuse {
    fn new(length: Duration) -> Fuse {
        Fuse {
            length,
            handler: None,
        }
    }

    /// What happens when the fuse has burnt out.
    fn set_handler(&mut self, handler: impl FnOnce() + 'static) {
        self.handler = Some(Box::new(handler));
    }

    /// Lights the fuse: the reactor calls the handler once `length` has passed. Returns at
    /// once; the burning happens while the reactor runs other things.
    fn light(self) {
        let handler = self.handler.unwrap_or_else(|| Box::new(|| ()));
        let _burning = fate::call_later(self.length, handler);
    }
}

/// A firecracker with an owner; its fuse is lit at most once.
struct FireCracker {
    owner: RefCell<&'static str>,
    fuse: RefCell<Option<Fuse>>,
}

impl FireCracker {
    fn new(owner: &'static str, fuse: Duration) -> Rc<FireCracker> {
        Rc::new(FireCracker {
            owner: RefCell::new(owner),
            fuse: RefCell::new(Some(Fuse::new(fuse))),
        })
    }

    fn hand_to(&self, new_owner: &'static str) {
        let old = self.owner.replace(new_owner);
        say(&format!("{old} hands the firecracker to {new_owner}"));
    }

    fn explode(&self) {
        let owner = *self.owner.borrow();
        say(&format!(
            "BOOM! The firecracker exploded in the unlucky hands of {owner}"
        ));
    }

    /// Lights the fuse, so that the firecracker explodes when it burns out.
    fn light_fuse(self: &Rc<Self>) {
        let Some(mut fuse) = self.fuse.borrow_mut().take() else {
            return say("the fuse is already burning");
        };
        say(&format!(
            "{} lights the fuse ({:.1} s)",
            self.owner.borrow(),
            fuse.length.as_secs_f64()
        ));
        let cracker = self.clone();
        fuse.set_handler(move || cracker.explode());
        fuse.light();
    }
}

/// The madman of the story: lights a firecracker and hands it on before it goes off.
struct MadHatter;

impl MadHatter {
    /// Lights a new firecracker, then gets rid of it after `hold`.
    fn play_trick(&self, victim: &'static str, fuse: Duration, hold: Duration) {
        let cracker = FireCracker::new("the MadHatter", fuse);
        cracker.light_fuse();
        say(&format!(
            "the MadHatter grins and walks up to {victim} with the lit firecracker"
        ));
        fate::call_later(hold, move || {
            cracker.hand_to(victim);
            say(&format!("{victim} stares at the hissing fuse"));
        });
    }
}

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let scale = if std::env::args().any(|a| a == "--fast") {
        0.1
    } else {
        1.0
    };
    let secs = move |s: f64| Duration::from_secs_f64(s * scale);
    fate::run_until_idle(move || {
        MadHatter.play_trick("Alice", secs(3.0), secs(1.0));
    })?;
    println!("Fate has nothing left to do: the program ends.");
    Ok(())
}

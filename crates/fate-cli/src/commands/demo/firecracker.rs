//! Scenario: the article's Fate program. The MadHatter lights a FireCracker's fuse and hands it
//! to Alice while it burns; when the fuse burns out, it explodes in whoever holds it.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use super::Narrator;

/// A fuse burns for `length`, then calls its handler: the article's one kind of event, here a
/// `call_later` on the reactor.
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

    fn set_handler(&mut self, handler: impl FnOnce() + 'static) {
        self.handler = Some(Box::new(handler));
    }

    /// Returns at once; the reactor calls the handler when the fuse has burnt out.
    fn light(self) {
        if let Some(handler) = self.handler {
            let _burning = fate::call_later(self.length, handler);
        }
    }
}

/// A firecracker, its current owner, and who held it when it went off.
struct FireCracker {
    owner: RefCell<&'static str>,
    exploded_in: Cell<Option<&'static str>>,
    say: Narrator,
}

impl FireCracker {
    fn hand_to(&self, new_owner: &'static str) {
        let old = self.owner.replace(new_owner);
        self.say
            .say(&format!("{old} hands the firecracker to {new_owner}"));
    }

    fn explode(&self) {
        let owner = *self.owner.borrow();
        self.exploded_in.set(Some(owner));
        self.say.say(&format!(
            "BOOM! The firecracker exploded in the unlucky hands of {owner}"
        ));
    }

    fn light_fuse(self: &Rc<Self>, length: Duration) {
        self.say.say(&format!(
            "{} lights the fuse ({:.2} s)",
            self.owner.borrow(),
            length.as_secs_f64()
        ));
        let mut fuse = Fuse::new(length);
        let cracker = self.clone();
        fuse.set_handler(move || cracker.explode());
        fuse.light();
    }
}

/// Runs the scenario; fails if the firecracker did not explode in Alice's hands.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let cracker = Rc::new(FireCracker {
        owner: RefCell::new("the MadHatter"),
        exploded_in: Cell::new(None),
        say: say.clone(),
    });
    let (fuse, hold) = (say.secs(3.0), say.secs(1.0));
    let mad_hatter = cracker.clone();
    fate::run_until_idle(move || {
        mad_hatter.light_fuse(fuse);
        mad_hatter
            .say
            .say("the MadHatter walks up to Alice, grinning");
        let _handing = fate::call_later(hold, move || {
            mad_hatter.hand_to("Alice");
            mad_hatter.say.say("Alice stares at the hissing fuse");
        });
    })?;
    match cracker.exploded_in.get() {
        Some("Alice") => Ok(()),
        Some(other) => Err(format!("the firecracker exploded in {other}'s hands").into()),
        None => Err("the fuse never burnt out".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_firecracker_is_handed_over_then_explodes_in_alices_hands() {
        let say = Narrator::recording(0.01, 0);
        run(&say).unwrap();
        let events: Vec<String> = say
            .transcript()
            .iter()
            .map(|l| l.split("] ").nth(1).unwrap_or(l).to_owned())
            .collect();
        assert_eq!(
            events,
            [
                "the MadHatter lights the fuse (0.03 s)",
                "the MadHatter walks up to Alice, grinning",
                "the MadHatter hands the firecracker to Alice",
                "Alice stares at the hissing fuse",
                "BOOM! The firecracker exploded in the unlucky hands of Alice",
            ]
        );
    }
}

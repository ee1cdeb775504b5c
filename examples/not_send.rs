//! One thread, no locks: callbacks and tasks share state through a plain `Rc<RefCell<_>>`.
//!
//! Everything on a Fate reactor runs on the reactor's thread, one piece at a time, so nothing
//! needs to be `Send` and nothing needs a lock. Here a tea party's guest book is an
//! `Rc<RefCell<Vec<String>>>` written by timed callbacks (`call_later`), by `call_soon`, and by
//! two tasks that hold an `Rc` across `.await` — which a work-stealing runtime's `spawn` would
//! refuse to compile. No `Arc`, no `Mutex`, no atomics.
//!
//! Run with: `cargo run --example not_send`

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

/// The party's shared state: `!Send`, and that is fine.
#[derive(Default)]
struct TeaParty {
    guest_book: RefCell<Vec<String>>,
    cups_poured: Cell<u32>,
}

impl TeaParty {
    fn sign(&self, who: &str, what: &str) {
        let line = format!("[{:4.2} s] {who}: {what}", fate::reactor().seconds());
        println!("{line}");
        self.guest_book.borrow_mut().push(line);
    }

    fn pour(&self) -> u32 {
        self.cups_poured.set(self.cups_poured.get() + 1);
        self.cups_poured.get()
    }
}

/// A guest as a task: it keeps its `Rc` across every `.await`.
async fn guest(party: Rc<TeaParty>, name: &'static str, every: Duration, cups: u32) -> u32 {
    party.sign(name, "arrives");
    for _ in 0..cups {
        fate::sleep(every).await;
        let n = party.pour();
        party.sign(name, &format!("pours cup number {n}"));
    }
    cups
}

fn main() -> Result<(), Box<dyn Error>> {
    let party = Rc::new(TeaParty::default());
    let drunk = fate::block_on({
        let party = party.clone();
        async move {
            // Callbacks capture the same `Rc` as the tasks.
            fate::call_later(Duration::from_millis(250), {
                let party = party.clone();
                move || party.sign("the Dormouse", "wakes up and yawns")
            });
            fate::call_soon({
                let party = party.clone();
                move || party.sign("the MadHatter", "it's always six o'clock: tea time")
            });
            let hare = fate::spawn_local(guest(
                party.clone(),
                "the March Hare",
                Duration::from_millis(100),
                3,
            ));
            let alice =
                fate::spawn_local(guest(party.clone(), "Alice", Duration::from_millis(150), 2));
            let hare = hare.await?;
            let alice = alice.await?;
            Ok::<u32, fate::task::JoinError>(hare + alice)
        }
    })??;
    assert_eq!(drunk, party.cups_poured.get());
    println!(
        "{} cups poured, {} lines in the guest book, and not one lock taken.",
        party.cups_poured.get(),
        party.guest_book.borrow().len()
    );
    Ok(())
}

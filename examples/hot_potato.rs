//! Hot potato: lit firecrackers burn on their fuses while you type whom to pass each one to —
//! the article's "handling user input while doing background work".
//!
//! You are the Hatter and start with three lit firecrackers. Type `alice` or `bob` (or `a`,
//! `b`) and Enter to pass on the lowest-numbered one you hold; they hand it back, or on, after
//! a while. Whoever holds a firecracker when its fuse burns out gets burnt. The fuses are
//! timers and your keyboard is `StandardIO`, on one thread: nothing waits for you, and you
//! never wait for a fuse. It works with a pipe as stdin too: `printf 'a\nb\n' | cargo run
//! --example hot_potato -- --fast` plays two moves, then lets the fuses burn out.
//!
//! Run with: `cargo run --example hot_potato` (`-- --fast` for tenfold shorter fuses,
//! `-- --seed N` for the same fuses again).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate::net::{CloseReason, HalfClose, Transport};
use fate::protocols::{LineHandler, LineReceiver, Lines};
use fate::stdio::StandardIO;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PLAYERS: [&str; 3] = ["the Hatter", "Alice", "Bob"];

/// The table: who holds each firecracker (`None` once it went off), and the dice.
struct Game {
    out: Transport,
    holder: Vec<Option<usize>>,
    burnt: Vec<u32>,
    rng: SmallRng,
    scale: f64,
}

type Shared = Rc<RefCell<Game>>;

impl Game {
    fn say(&self, line: &str) {
        self.out.write(format!("{line}\n").as_bytes());
    }

    /// `from` hands firecracker `id` to `to`; a computer player hands it on after a while.
    fn pass(game: &Shared, id: usize, from: usize, to: usize) {
        let mut g = game.borrow_mut();
        g.holder[id] = Some(to);
        g.say(&format!(
            "{} passes firecracker #{id} to {}.",
            PLAYERS[from], PLAYERS[to]
        ));
        if to != 0 {
            let delay = g.rng.random_range(1.0..3.0) * g.scale;
            let next = if g.rng.random_bool(0.7) { 0 } else { 3 - to };
            let game = game.clone();
            fate::call_later(Duration::from_secs_f64(delay), move || {
                if game.borrow().holder[id] == Some(to) {
                    Game::pass(&game, id, to, next);
                }
            });
        }
    }

    /// The fuse of `id` burnt out: it explodes in whoever holds it.
    fn explode(game: &Shared, id: usize) {
        let mut g = game.borrow_mut();
        let Some(who) = g.holder[id].take() else {
            return;
        };
        g.burnt[who] += 1;
        g.say(&format!(
            "BOOM! Firecracker #{id} explodes in {}'s hands!",
            PLAYERS[who]
        ));
        if g.holder.iter().all(Option::is_none) {
            let score: Vec<String> = (0..3)
                .map(|p| format!("{} {}", PLAYERS[p], g.burnt[p]))
                .collect();
            g.say(&format!("All gone. Burns: {}.", score.join(", ")));
            g.out.lose_connection();
        }
    }
}

/// Your keyboard: each line names whom to pass your lowest-numbered firecracker to.
struct Keyboard {
    game: Rc<RefCell<Option<Shared>>>,
}

impl LineHandler for Keyboard {
    fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
        let Some(game) = self.game.borrow().clone() else {
            return;
        };
        let to = match String::from_utf8_lossy(line).trim().to_lowercase().as_str() {
            "a" | "alice" => 1,
            "b" | "bob" => 2,
            "" => return,
            other => {
                game.borrow()
                    .say(&format!("Nobody here is called {other:?}: alice or bob?"));
                return;
            }
        };
        let mine = game.borrow().holder.iter().position(|h| *h == Some(0));
        match mine {
            Some(id) => Game::pass(&game, id, 0, to),
            None => game.borrow().say("Your hands are empty."),
        }
    }

    /// End of input is not the end of the game: stdout stays open for the fuses.
    fn read_connection_lost(&mut self, _: &mut Lines) -> HalfClose {
        if let Some(game) = self.game.borrow().as_ref() {
            game.borrow()
                .say("(no more input: you hold on to what you have)");
        }
        HalfClose::KeepOpen
    }

    fn connection_lost(&mut self, _: &mut Lines, _: CloseReason) {
        fate::reactor().stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = if args.iter().any(|a| a == "--fast") {
        0.1
    } else {
        1.0
    };
    let seed = match args.iter().position(|a| a == "--seed") {
        Some(i) => args.get(i + 1).ok_or("--seed needs a number")?.parse()?,
        None => std::process::id() as u64,
    };
    fate::run(move || {
        let slot = Rc::new(RefCell::new(None));
        let keyboard = LineReceiver::new(Keyboard { game: slot.clone() });
        let stdio = StandardIO::new(keyboard).expect("stdin and stdout as a transport");
        let mut rng = SmallRng::seed_from_u64(seed);
        let fuses: Vec<f64> = (0..3).map(|_| rng.random_range(4.0..9.0) * scale).collect();
        let game = Rc::new(RefCell::new(Game {
            out: stdio.transport().clone(),
            holder: vec![Some(0); 3],
            burnt: vec![0; 3],
            rng,
            scale,
        }));
        game.borrow().say(&format!(
            "Seed {seed}. You hold three lit firecrackers. Type alice or bob to pass one on!"
        ));
        for (id, fuse) in fuses.into_iter().enumerate() {
            let g = game.clone();
            fate::call_later(Duration::from_secs_f64(fuse), move || Game::explode(&g, id));
        }
        *slot.borrow_mut() = Some(game);
    })?;
    Ok(())
}

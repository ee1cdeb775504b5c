//! Faults, by hand, on a schedule ([`Sim::at`]) or drawn from the seed
//! ([`Sim::random_faults`]): cut and repair links, hold and release them, crash and restart
//! hosts.

use std::time::Duration;

use super::world::Sim;

/// Faults for [`Sim::random_faults`] to draw from the seed: how often links are cut and
/// hosts crash, and for how long.
///
/// Each kind of fault is off until given a mean interval. Intervals and durations are drawn
/// uniformly between none and twice their mean.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::sim::RandomFaults;
///
/// let faults = RandomFaults::new(Duration::from_secs(60))
///     .partitions(Duration::from_secs(10), Duration::from_secs(3))
///     .crashes(Duration::from_secs(20), Duration::from_secs(2));
/// # drop(faults);
/// ```
#[derive(Clone, Debug)]
pub struct RandomFaults {
    until: Duration,
    partitions: Option<(Duration, Duration)>,
    crashes: Option<(Duration, Duration)>,
}

impl RandomFaults {
    /// No faults yet, over the next `until` of virtual time.
    pub fn new(until: Duration) -> RandomFaults {
        RandomFaults {
            until,
            partitions: None,
            crashes: None,
        }
    }

    /// A partition between two hosts about every `every`, repaired after about `lasting`.
    pub fn partitions(mut self, every: Duration, lasting: Duration) -> RandomFaults {
        self.partitions = Some((every, lasting));
        self
    }

    /// A host crash about every `every`, restarted after about `down`.
    pub fn crashes(mut self, every: Duration, down: Duration) -> RandomFaults {
        self.crashes = Some((every, down));
        self
    }
}

impl Sim {
    /// Cuts the link between `a` and `b`: nothing crosses it until [`repair`](Sim::repair).
    /// TCP packets wait and cross after the repair (TCP retransmits), so connections stay
    /// open but hear nothing; a connect gets no answer and times out.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// sim.host("b", || {});
    /// sim.partition("a", "b");
    /// sim.repair("a", "b");
    /// ```
    pub fn partition(&self, a: &str, b: &str) {
        self.fault("partition", a, b, true, false);
    }

    /// Ends a [`partition`](Sim::partition) of the link between `a` and `b`; what waited
    /// crosses now, after the link's latency, in order.
    pub fn repair(&self, a: &str, b: &str) {
        self.fault("repair", a, b, false, false);
    }

    /// Holds every packet between `a` and `b` until [`release`](Sim::release): a link that
    /// stalls, then delivers everything at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// sim.host("b", || {});
    /// sim.hold("a", "b");
    /// sim.release("a", "b");
    /// ```
    pub fn hold(&self, a: &str, b: &str) {
        self.fault("hold", a, b, false, true);
    }

    /// Ends a [`hold`](Sim::hold): the held packets cross now, in order.
    pub fn release(&self, a: &str, b: &str) {
        self.fault("release", a, b, false, false);
    }

    fn fault(&self, what: &str, a: &str, b: &str, partitioned: bool, held: bool) {
        let (ia, ib) = (self.host_id(a), self.host_id(b));
        self.record(what, &[ia as u64, ib as u64], || format!("{a} {b}"));
        self.net().borrow_mut().set_fault(ia, ib, partitioned, held);
    }

    /// Crashes host `name`: its timers, tasks and connections vanish without running, its
    /// listeners close, and every peer connected to it receives a reset. Packets sent to it
    /// while it is down are lost. Crashing a host that is down does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("db", || println!("db boots"));
    /// sim.crash("db");
    /// assert!(!sim.is_up("db"));
    /// sim.restart("db"); // prints "db boots" again
    /// assert!(sim.is_up("db"));
    /// ```
    pub fn crash(&self, name: &str) {
        let id = self.host_id(name);
        if !self.is_up(name) {
            return;
        }
        self.record("crash", &[id as u64], || name.to_string());
        self.net().borrow_mut().crash(id);
        self.hosts().borrow_mut()[id].halt();
    }

    /// Boots host `name` again with a new reactor, running its boot program, after a
    /// [`crash`](Sim::crash). Restarting a host that is up crashes it first.
    pub fn restart(&self, name: &str) {
        self.crash(name);
        let id = self.host_id(name);
        self.record("restart", &[id as u64], || name.to_string());
        self.net().borrow_mut().hosts[id].up = true;
        let (now, attachment) = (self.instant(), self.attachment(id));
        self.hosts().borrow_mut()[id].boot(now, attachment);
    }

    /// Schedules faults drawn from the seed among the hosts there are now: partitions
    /// between random pairs and crashes of random hosts, each undone after its drawn
    /// duration. The draws happen now, so the schedule depends only on the seed and on when
    /// this is called. Returns how many faults were scheduled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fate::testing::sim::{RandomFaults, Sim};
    ///
    /// let sim = Sim::new(5);
    /// for name in ["a", "b", "c"] {
    ///     sim.host(name, || {});
    /// }
    /// let faults = RandomFaults::new(Duration::from_secs(60))
    ///     .partitions(Duration::from_secs(10), Duration::from_secs(3));
    /// let n = sim.random_faults(&faults);
    /// assert!(n > 0);
    /// sim.run_until_idle().unwrap();
    /// ```
    pub fn random_faults(&self, faults: &RandomFaults) -> usize {
        let names: Vec<String> = self
            .hosts()
            .borrow()
            .iter()
            .map(|h| h.name.clone())
            .collect();
        if names.is_empty() {
            return 0;
        }
        let mut scheduled = 0;
        let draw = |mean: Duration| -> Duration {
            let ns = mean.as_nanos() as u64;
            Duration::from_nanos(self.net().borrow_mut().rng.below(2 * ns + 1))
        };
        if let Some((every, lasting)) = faults.partitions.filter(|_| names.len() > 1) {
            let mut at = Duration::ZERO;
            loop {
                at += draw(every).max(Duration::from_millis(1));
                if at >= faults.until {
                    break;
                }
                let a = self.net().borrow_mut().rng.below(names.len() as u64) as usize;
                let other = self.net().borrow_mut().rng.below(names.len() as u64 - 1) as usize;
                let b = if other >= a { other + 1 } else { other };
                let (a, b) = (names[a].clone(), names[b].clone());
                let (a2, b2) = (a.clone(), b.clone());
                self.at(at, move |sim| sim.partition(&a, &b));
                self.at(at + draw(lasting), move |sim| sim.repair(&a2, &b2));
                scheduled += 1;
            }
        }
        if let Some((every, down)) = faults.crashes {
            let mut at = Duration::ZERO;
            loop {
                at += draw(every).max(Duration::from_millis(1));
                if at >= faults.until {
                    break;
                }
                let i = self.net().borrow_mut().rng.below(names.len() as u64) as usize;
                let (name, name2) = (names[i].clone(), names[i].clone());
                self.at(at, move |sim| sim.crash(&name));
                self.at(at + draw(down), move |sim| {
                    if !sim.is_up(&name2) {
                        sim.restart(&name2);
                    }
                });
                scheduled += 1;
            }
        }
        scheduled
    }

    /// Whether host `name` is up (not crashed).
    pub fn is_up(&self, name: &str) -> bool {
        let id = self.host_id(name);
        self.hosts().borrow()[id].reactor().is_some()
    }
}
